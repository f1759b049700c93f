"""The model layer.

Vocabulary and schema, the profile, rules and results. Imports nothing above it.
"""

from . import schema as _schema  # noqa: F401 - binds the bundled schema to ConditionProfile
