"""immunorules: rule-based immunomodulation decision support at the level of therapy categories.

Research prototype - NOT FOR CLINICAL USE. It names no drugs or doses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, Literal, overload

from . import _render  # noqa: F401 - registers the renderers with the models
from ._analysis.audit import audit
from ._analysis.audit_report import AuditReport, Finding
from ._analysis.decision_table import DecisionRow, DecisionTable
from ._analysis.whynot import WhyNot
from ._errors import EngineError, ImmunorulesError, ProfileError, RuleFileError
from ._evaluate.frame import evaluate_frame
from ._evaluate.knowledge_base import KnowledgeBase, __version__, load_rules
from ._load.loader import BUNDLED_RULES
from ._model.profile import ConditionProfile
from ._model.result import (
    NOT_FOR_CLINICAL_USE,
    Advisory,
    Avoidance,
    Citation,
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
    "AuditReport",
    "Avoidance",
    "Citation",
    "ConditionProfile",
    "Conflict",
    "DecisionRow",
    "DecisionTable",
    "EngineError",
    "Finding",
    "ImmunorulesError",
    "KnowledgeBase",
    "KnowledgeBaseInfo",
    "ProfileError",
    "Reason",
    "Result",
    "RuleFileError",
    "Suggestion",
    "WhyNot",
    "__version__",
    "audit",
    "evaluate",
    "evaluate_frame",
    "evaluate_many",
    "load_rules",
]


@cache
def _bundled() -> KnowledgeBase:
    return load_rules()


def evaluate(profile: ConditionProfile | Mapping[str, Any]) -> Result:
    """Evaluate one profile with the bundled knowledge base (loaded once)."""
    return _bundled().evaluate(profile)


@overload
def evaluate_many(
    profiles: Iterable[ConditionProfile | Mapping[str, Any]],
    *,
    workers: int = 1,
    errors: Literal["raise"] = "raise",
) -> list[Result]: ...


@overload
def evaluate_many(
    profiles: Iterable[ConditionProfile | Mapping[str, Any]],
    *,
    workers: int = 1,
    errors: Literal["collect"],
) -> list[Result | ProfileError]: ...


def evaluate_many(
    profiles: Iterable[ConditionProfile | Mapping[str, Any]],
    *,
    workers: int = 1,
    errors: Literal["raise", "collect"] = "raise",
) -> list[Result] | list[Result | ProfileError]:
    """Evaluate many profiles with the bundled knowledge base: see
    :meth:`KnowledgeBase.evaluate_many`."""
    return _bundled().evaluate_many(profiles, workers=workers, errors=errors)
