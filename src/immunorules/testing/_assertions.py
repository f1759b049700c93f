"""Assertions for users' rule tests: each fails with a message that says what the rules did."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._analysis.audit import audit
from .._analysis.audit_report import AuditReport, Severity
from .._analysis.golden import GoldenCaseRef, golden_cases
from .._api.knowledge_base import KnowledgeBase
from .._model.profile import ConditionProfile
from .._model.result import Result

__all__ = [
    "assert_audit_clean",
    "assert_avoids",
    "assert_covered",
    "assert_golden_cases_pass",
    "assert_not_suggested",
    "assert_suggests",
]

ProfileInput = ConditionProfile | Mapping[str, Any]
_RANK = {"info": 0, "warning": 1, "error": 2}


def assert_audit_clean(
    kb: KnowledgeBase | AuditReport,
    *,
    fail_on: Severity = "error",
    ignore: Iterable[str] = (),
) -> AuditReport:
    """Audit ``kb`` (or take a report) and fail when a finding is at least as severe as
    ``fail_on`` ("error", "warning" or "info"), unless its kind or one of its rule ids is in
    ``ignore``. Returns the report."""
    if fail_on not in _RANK:
        raise ValueError(f"fail_on must be 'error', 'warning' or 'info', not {fail_on!r}")
    report = kb if isinstance(kb, AuditReport) else audit(kb)
    skipped = set(ignore)
    failing = [
        finding
        for finding in report.findings
        if _RANK[finding.severity] >= _RANK[fail_on]
        and finding.kind not in skipped
        and not skipped.intersection(finding.rule_ids)
    ]
    if failing:
        shown = "\n\n".join(finding.to_text() for finding in failing)
        raise AssertionError(
            f"the rule audit found {len(failing)} finding(s) at or above {fail_on!r}:\n\n{shown}"
        )
    return report


def assert_golden_cases_pass(kb: KnowledgeBase) -> list[GoldenCaseRef]:
    """Fail listing every golden case (``tests:`` of an active rule) that does not hold.
    Returns the cases checked."""
    cases = list(golden_cases(kb))
    failures = [message for case in cases if (message := case.describe_failure(kb))]
    if failures:
        raise AssertionError(f"{len(failures)} golden case(s) failed:\n" + "\n".join(failures))
    return cases


def _evaluate(kb: KnowledgeBase, profile: ProfileInput) -> Result:
    return kb.evaluate(profile)


def _summary(result: Result) -> str:
    suggested = ", ".join(f"{s.category} ({s.tier})" for s in result.suggestions) or "nothing"
    avoided = ", ".join(a.subcategory or a.category for a in result.avoided) or "nothing"
    fired = ", ".join(result.fired_rules) or "none"
    return f"suggested: {suggested}; avoided: {avoided}; fired rules: {fired}"


def assert_suggests(
    kb: KnowledgeBase, profile: ProfileInput, category: str, *, tier: str | None = None
) -> Result:
    """Fail unless ``category`` is suggested at first_line or escalation (or at exactly
    ``tier``, which may also be "flagged"). Returns the result."""
    result = _evaluate(kb, profile)
    got = result.tier(category)
    ok = got == tier if tier is not None else got in ("first_line", "escalation")
    if not ok:
        wanted = tier or "first_line or escalation"
        raise AssertionError(f"expected {category} at {wanted}, got {got}; {_summary(result)}")
    return result


def assert_not_suggested(kb: KnowledgeBase, profile: ProfileInput, category: str) -> Result:
    """Fail when ``category`` is suggested at first_line or escalation (flagged is allowed)."""
    result = _evaluate(kb, profile)
    if result.tier(category) in ("first_line", "escalation"):
        raise AssertionError(f"expected {category} not to be suggested; {_summary(result)}")
    return result


def assert_avoids(kb: KnowledgeBase, profile: ProfileInput, name: str) -> Result:
    """Fail unless the category or drug class ``name`` is in the result's ``avoided``."""
    result = _evaluate(kb, profile)
    if not any(
        name in (a.category if a.subcategory is None else a.subcategory,) for a in result.avoided
    ):
        raise AssertionError(f"expected {name} to be avoided; {_summary(result)}")
    return result


def assert_covered(kb: KnowledgeBase, profile: ProfileInput) -> Result:
    """Fail when no decisive rule covers the profile (the knowledge base has no guidance)."""
    result = _evaluate(kb, profile)
    if not result.covered:
        raise AssertionError(
            f"the knowledge base has no guidance for this profile; {_summary(result)}"
        )
    return result
