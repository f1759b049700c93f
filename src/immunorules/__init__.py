"""immunorules: rule-based immunomodulation decision support at the level of therapy categories.

Research prototype - NOT FOR CLINICAL USE. It names no drugs or doses.

This module only re-exports, lazily, the public names of the layers below it (the front door,
``immunorules._api``, and the models); no module of the package imports it.
"""

from __future__ import annotations

from importlib import import_module

from . import _registry

# Not typing.TYPE_CHECKING: importing typing would cost the command line's start (see _cli._start).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._analysis.audit_report import AuditReport, Finding
    from ._analysis.coverage import Coverage, UnobservedEffect
    from ._analysis.decision_table import DecisionRow, DecisionTable
    from ._analysis.diff import DiffRegion, RuleSetDiff
    from ._analysis.whynot import WhyNot
    from ._api.functions import audit, coverage, diff, evaluate, evaluate_frame, evaluate_many
    from ._api.knowledge_base import KnowledgeBase, __version__, load_rules
    from ._errors import EngineError, ImmunorulesError, ProfileError, RuleFileError
    from ._load.loader import BUNDLED_RULES
    from ._model.profile import ConditionProfile
    from ._model.result import (
        NOT_FOR_CLINICAL_USE,
        Advisory,
        Avoidance,
        Citation,
        Conflict,
        Dependency,
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
    "Coverage",
    "DecisionRow",
    "DecisionTable",
    "Dependency",
    "DiffRegion",
    "EngineError",
    "Finding",
    "ImmunorulesError",
    "KnowledgeBase",
    "KnowledgeBaseInfo",
    "ProfileError",
    "Reason",
    "Result",
    "RuleFileError",
    "RuleSetDiff",
    "Suggestion",
    "UnobservedEffect",
    "WhyNot",
    "__version__",
    "audit",
    "coverage",
    "diff",
    "evaluate",
    "evaluate_frame",
    "evaluate_many",
    "load_rules",
]


#: The module of each public name. Names are imported on first use, so that ``import
#: immunorules`` loads nothing heavy: the command line starts by importing this package, and an
#: interrupt (Ctrl-C) while the rest loads must reach its handler, not print a traceback.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("audit", "coverage", "diff", "evaluate", "evaluate_frame", "evaluate_many"),
        "._api.functions",
    ),
    "AuditReport": "._analysis.audit_report",
    "Coverage": "._analysis.coverage",
    "UnobservedEffect": "._analysis.coverage",
    "Finding": "._analysis.audit_report",
    "DecisionRow": "._analysis.decision_table",
    "DecisionTable": "._analysis.decision_table",
    "DiffRegion": "._analysis.diff",
    "RuleSetDiff": "._analysis.diff",
    "WhyNot": "._analysis.whynot",
    "EngineError": "._errors",
    "ImmunorulesError": "._errors",
    "ProfileError": "._errors",
    "RuleFileError": "._errors",
    "KnowledgeBase": "._api.knowledge_base",
    "__version__": "._api.knowledge_base",
    "load_rules": "._api.knowledge_base",
    "BUNDLED_RULES": "._load.loader",
    "ConditionProfile": "._model.profile",
    **dict.fromkeys(
        (
            "NOT_FOR_CLINICAL_USE",
            "Advisory",
            "Avoidance",
            "Citation",
            "Conflict",
            "Dependency",
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
        value = getattr(import_module(module, __name__), name)
        globals()[name] = value
        return value


#: The first model rendered (a result, an answer, a report, a knowledge base; whether it came
#: through a public name or was built from its module directly) loads the front door, which
#: registers the renderers: the models never import the render layer.
_registry.set_loader(lambda: import_module("._api", __name__))


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
