"""immunorules: rule-based immunomodulation decision support at the level of therapy categories.

Research prototype - NOT FOR CLINICAL USE. It names no drugs or doses.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from ._errors import EngineError, ImmunorulesError, ProfileError, RuleFileError
from ._knowledge_base import KnowledgeBase, __version__, load_rules
from ._loader import BUNDLED_RULES
from ._profile import ConditionProfile
from ._result import (
    NOT_FOR_CLINICAL_USE,
    Advisory,
    Avoidance,
    Conflict,
    KnowledgeBaseInfo,
    Reason,
    Result,
    Suggestion,
)

__all__ = [
    "BUNDLED_RULES",
    "NOT_FOR_CLINICAL_USE",
    "Advisory",
    "Avoidance",
    "ConditionProfile",
    "Conflict",
    "EngineError",
    "ImmunorulesError",
    "KnowledgeBase",
    "KnowledgeBaseInfo",
    "ProfileError",
    "Reason",
    "Result",
    "RuleFileError",
    "Suggestion",
    "__version__",
    "evaluate",
    "load_rules",
]


@cache
def _bundled() -> KnowledgeBase:
    return load_rules()


def evaluate(profile: ConditionProfile | Mapping[str, Any]) -> Result:
    """Evaluate one profile with the bundled knowledge base (loaded once)."""
    return _bundled().evaluate(profile)
