"""The semantic diff of two rule sets: exact regions of the profile space where the answer
differs, their before and after, and what the vocabulary adds or removes.

- ``models``: the frozen results (:class:`RuleSetDiff`, :class:`DiffRegion`, ...).
- ``shared``: the profile space both rule sets define, and each side's rules restricted to it.
- ``regions``: the partition and comparison (by the one collect policy).
- ``vocabulary``: the vocabulary section.

It never loads a knowledge base (the front door hands both in) and never renders.
"""

from __future__ import annotations

from .models import (
    DiffAnswer,
    DiffRegion,
    DiffRuleIds,
    RuleSetDiff,
    SuggestionAnswer,
    VocabularyDiff,
)
from .regions import diff

__all__ = [
    "DiffAnswer",
    "DiffRegion",
    "DiffRuleIds",
    "RuleSetDiff",
    "SuggestionAnswer",
    "VocabularyDiff",
    "diff",
]
