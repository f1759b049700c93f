"""immunorules: rule-based immunomodulation decision support at the level of therapy categories.

Research prototype - NOT FOR CLINICAL USE. It names no drugs or doses.

The public names are imported on first use (``ir.load_rules`` imports the loader, the models and
pydantic; ``ir.evaluate_frame`` imports numpy and pandas or pyarrow when it runs), so
``import immunorules`` itself stays cheap: a command-line call or a worker process pays only for
what it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

from ._errors import EngineError, ImmunorulesError, ProfileError, RuleFileError

if TYPE_CHECKING:
    from ._analysis.audit import audit
    from ._analysis.audit_report import AuditReport, Finding
    from ._analysis.decision_table import DecisionRow, DecisionTable
    from ._analysis.whynot import WhyNot
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

#: Where each lazily imported public name lives.
_LAZY: dict[str, str] = {
    "audit": "_analysis.audit",
    "AuditReport": "_analysis.audit_report",
    "Finding": "_analysis.audit_report",
    "DecisionRow": "_analysis.decision_table",
    "DecisionTable": "_analysis.decision_table",
    "WhyNot": "_analysis.whynot",
    "KnowledgeBase": "_evaluate.knowledge_base",
    "__version__": "_evaluate.knowledge_base",
    "load_rules": "_evaluate.knowledge_base",
    "BUNDLED_RULES": "_load.loader",
    "ConditionProfile": "_model.profile",
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
        "_model.result",
    ),
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (and register the renderers with the models)."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'immunorules' has no attribute {name!r}")
    importlib.import_module("._render", __name__)  # models render through it: load it first
    value = getattr(importlib.import_module(f".{where}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


@cache
def _bundled() -> KnowledgeBase:
    load: Any = __getattr__("load_rules")  # registers the renderers too
    kb: KnowledgeBase = load()
    return kb


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


def evaluate_frame(
    table: Any, kb: KnowledgeBase | None = None, *, id_columns: str | Sequence[str] | None = None
) -> Any:
    """Evaluate every row of a table (a pandas DataFrame, a pyarrow Table or RecordBatch, or a
    polars DataFrame; one profile per row) into a table of the same kind, one row per input row,
    in order: the id columns unchanged (by default every column that is not a profile field),
    ``covered``, ``conflict``, one ``tier_<category>`` column per category, ``avoided``,
    ``advisories``, ``fired_rules`` (lists of ids) and ``error`` (null, or the
    :class:`ProfileError` message of an invalid row). ``kb`` defaults to the bundled knowledge
    base. Columnar: the profile columns are encoded once, the batch matched at once and each
    distinct set of fired rules resolved once; the answers are those of ``evaluate`` row by
    row."""
    from ._evaluate.frame import evaluate_frame as evaluate_table

    return evaluate_table(table, _bundled() if kb is None else kb, id_columns=id_columns)
