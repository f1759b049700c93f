"""immunorules: rule-based immunomodulation decision support at the level of therapy categories.

Research prototype - NOT FOR CLINICAL USE. It names no drugs or doses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
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


#: The module of each public name. Names are imported on first use, so that ``import
#: immunorules`` loads nothing heavy: the command line starts by importing this package, and an
#: interrupt (Ctrl-C) while the rest loads must reach its handler, not print a traceback.
_LAZY: dict[str, str] = {
    "audit": "._analysis.audit",
    "AuditReport": "._analysis.audit_report",
    "Finding": "._analysis.audit_report",
    "DecisionRow": "._analysis.decision_table",
    "DecisionTable": "._analysis.decision_table",
    "WhyNot": "._analysis.whynot",
    "EngineError": "._errors",
    "ImmunorulesError": "._errors",
    "ProfileError": "._errors",
    "RuleFileError": "._errors",
    "evaluate_frame": "._evaluate.frame",
    "KnowledgeBase": "._evaluate.knowledge_base",
    "__version__": "._evaluate.knowledge_base",
    "load_rules": "._evaluate.knowledge_base",
    "BUNDLED_RULES": "._load.loader",
    "ConditionProfile": "._model.profile",
    **dict.fromkeys(
        (
            "NOT_FOR_CLINICAL_USE",
            "Advisory",
            "Avoidance",
            "Citation",
            "Conflict",
            "KnowledgeBaseInfo",
            "Reason",
            "Result",
            "Suggestion",
        ),
        "._model.result",
    ),
}

if not TYPE_CHECKING:  # type checkers see the imports above instead

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import_module("._render", __name__)  # registers the renderers with the models
        value = getattr(import_module(module, __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


@cache
def _bundled() -> KnowledgeBase:
    from ._evaluate.knowledge_base import load_rules

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
