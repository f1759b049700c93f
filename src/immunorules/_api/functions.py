"""The module-level functions of ``immunorules``, and the bundled knowledge base behind them.

``evaluate``, ``evaluate_many``, ``evaluate_frame`` and ``audit`` use the bundled knowledge base
unless given another (``diff`` compares two it is given); the bundled one is loaded once per
process, here and nowhere else. The layers below never load it: they are handed a knowledge
base by these functions.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

from .._analysis.audit import DEFAULT_MAX_FINDINGS
from .knowledge_base import KnowledgeBase, load_rules

if TYPE_CHECKING:
    from .._analysis.audit import Progress
    from .._analysis.audit_report import AuditReport
    from .._analysis.coverage import Coverage
    from .._analysis.diff import RuleSetDiff
    from .._errors import ProfileError
    from .._evaluate.assume import Assume
    from .._load.loader import PathInput
    from .._model.profile import ConditionProfile
    from .._model.result import Result

__all__ = ["audit", "bundled", "coverage", "diff", "evaluate", "evaluate_frame", "evaluate_many"]


@cache
def bundled() -> KnowledgeBase:
    """The bundled knowledge base, loaded on first use and then shared by the whole process."""
    return load_rules()


def evaluate(
    profile: ConditionProfile | Mapping[str, Any],
    *,
    depends_on: bool = True,
    assume: Assume = None,
) -> Result:
    """Evaluate one profile with the bundled knowledge base (loaded once): see
    :meth:`KnowledgeBase.evaluate`."""
    return bundled().evaluate(profile, depends_on=depends_on, assume=assume)


@overload
def evaluate_many(
    profiles: Iterable[ConditionProfile | Mapping[str, Any]],
    *,
    workers: int = 1,
    errors: Literal["raise"] = "raise",
    depends_on: bool = True,
    assume: Assume = None,
) -> list[Result]: ...


@overload
def evaluate_many(
    profiles: Iterable[ConditionProfile | Mapping[str, Any]],
    *,
    workers: int = 1,
    errors: Literal["collect"],
    depends_on: bool = True,
    assume: Assume = None,
) -> list[Result | ProfileError]: ...


def evaluate_many(
    profiles: Iterable[ConditionProfile | Mapping[str, Any]],
    *,
    workers: int = 1,
    errors: Literal["raise", "collect"] = "raise",
    depends_on: bool = True,
    assume: Assume = None,
) -> list[Result] | list[Result | ProfileError]:
    """Evaluate many profiles with the bundled knowledge base: see
    :meth:`KnowledgeBase.evaluate_many`."""
    return bundled().evaluate_many(
        profiles, workers=workers, errors=errors, depends_on=depends_on, assume=assume
    )


def evaluate_frame(table: Any, kb: KnowledgeBase | None = None, *, id_columns: Any = None) -> Any:
    """Evaluate every row of a table with the bundled knowledge base: see
    :meth:`KnowledgeBase.evaluate_frame`. Passing ``kb`` is deprecated (it warns): use
    ``kb.evaluate_frame(table)``, the one documented spelling."""
    from .._evaluate.frame import evaluate_frame as evaluate_table

    if kb is not None:
        warnings.warn(
            "immunorules.evaluate_frame(table, kb) is deprecated; use kb.evaluate_frame(table)",
            DeprecationWarning,
            stacklevel=2,
        )
    return evaluate_table(table, bundled() if kb is None else kb, id_columns=id_columns)


def audit(
    kb: KnowledgeBase | None = None,
    *,
    max_findings: int | None = DEFAULT_MAX_FINDINGS,
    progress: Progress | bool | None = None,
    scope: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> AuditReport:
    """Audit a knowledge base (the bundled one by default) over the whole profile space.

    Gaps are looked for only inside the scope: ``scope`` (a region in ``when`` syntax, or a
    list of regions), else the union of the rule files' ``scope:``, else every profile. Every
    other finding is judged over the whole space.

    The report lists at most ``max_findings`` findings of each kind (None: all of them), those
    about the most profiles first; ``report.totals`` and ``report.counts()`` count them all.
    ``progress(stage, done, total)``, if given, is told how the audit is going;
    ``progress=True`` shows it in a notebook cell (in a kernel) or on a terminal's stderr.
    """
    from .._analysis.audit import audit as audit_knowledge_base

    return audit_knowledge_base(
        bundled() if kb is None else kb, max_findings=max_findings, progress=progress, scope=scope
    )


def coverage(kb: KnowledgeBase | None = None) -> Coverage:
    """How much of a knowledge base (the bundled one by default) its golden cases exercise.

    Every golden case of the active rules is run: ``untested_rules`` are the active rules no
    golden case fires; ``unobserved_effects`` the effects of fired rules (a suggestion, flag or
    avoid of a category or drug class, an advisory) that no golden case firing the rule checks
    (its expectation names the category or the advisory); ``rule_share`` and ``effect_share``
    the tested over all. Renders as text, Markdown, HTML (``explain()``, ``to_markdown()``,
    ``to_html()``) and JSON (``to_json()``). The audit reports each untested rule as an
    ``untested_rule`` warning.
    """
    from .._analysis.coverage import coverage as coverage_of

    return coverage_of(bundled() if kb is None else kb)


def diff(
    old: KnowledgeBase | PathInput | Sequence[PathInput],
    new: KnowledgeBase | PathInput | Sequence[PathInput],
) -> RuleSetDiff:
    """The exact semantic diff of two rule sets: where, over every profile both can answer,
    the new rule set's answer differs from the old one's.

    ``old`` and ``new`` are knowledge bases, or rule folders or files (loaded with
    :func:`load_rules`). The report's ``regions`` are the maximal regions where any part of the
    answer differs (tiers and flags, drug classes, directions, avoidances, advisories, the
    conflict state, coverage), each with its ``region_text``, ``region_size``, an
    ``example_profile``, ``before`` and ``after`` (only what changed) and the ``rule_ids``
    behind it on each side; ``changed_profiles`` counts them exactly (nothing is sampled);
    ``vocabulary`` lists fields, values, conditions, categories, drug classes and advisories
    added or removed. Reasons (titles, explanations, evidence) are not compared: a rule edited
    only there is listed in ``rules_edited`` and changes no region. What an answer depends on
    (``Result.depends_on``) is not compared either: it is read from the answers of the same
    profile with a field stated, which are compared themselves.

    Both sides are loaded with the running code. When their vocabularies define different
    profiles, only the profiles both can answer are compared (``shared_space`` says which).
    """
    from .._analysis.diff import diff as diff_rule_sets

    return diff_rule_sets(_knowledge_base(old), _knowledge_base(new))


def _knowledge_base(given: KnowledgeBase | PathInput | Sequence[PathInput]) -> KnowledgeBase:
    """A knowledge base as given, or loaded from rule paths (the native engine: a diff never
    matches profiles, and it loads fastest)."""
    return given if isinstance(given, KnowledgeBase) else load_rules(given, engine="native")
