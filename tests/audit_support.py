"""Helpers for the audit tests: fixture loading and checking what a finding's example shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import immunorules as ir
from immunorules._analysis.audit_semantics import conflict_sides, projection
from immunorules._analysis.golden import expectation_problems
from immunorules._evaluate.resolve import resolve

FIXTURES = Path(__file__).parent / "data" / "audit"


def load_fixture(name: str) -> ir.KnowledgeBase:
    """A rule set from ``tests/data/audit/<name>.yaml`` (native engine)."""
    return ir.load_rules(FIXTURES / f"{name}.yaml", engine="native")


def in_region(profile: ir.ConditionProfile, region: Mapping[str, Sequence[object]]) -> bool:
    return all(getattr(profile, name) in values for name, values in region.items())


def assert_example_shows(kb: ir.KnowledgeBase, finding: ir.Finding) -> None:
    """Re-evaluate the finding's example with ``kb.evaluate``; it must show the finding."""
    example = finding.example_profile
    if finding.kind in (
        "dead_rule",
        "missing_evidence",
        "untested_rule",
        "unused_effect",
        "unused_vocabulary",
    ):
        assert example is None
        return
    assert example is not None, finding
    if finding.region is not None:
        assert in_region(example, finding.region), (example, finding.region)
    result = kb.evaluate(example)
    fired = set(result.fired_rules)
    if finding.kind == "gap":
        assert not result.covered
    elif finding.kind == "unresolved_conflict":
        assert any(not conflict.resolved for conflict in result.conflicts), result.explain()
        # the cause (the first rule) is on one side, and every rule on the other is named
        cause, named = finding.rule_ids[0], set(finding.rule_ids)
        assert cause in fired
        suppressing, stimulating = conflict_sides(result, kb.match(example))
        down, up = {r for _, r in suppressing}, {r for _, r in stimulating}
        assert down and up
        assert (cause in down and up <= named) or (cause in up and down <= named)
    elif finding.kind == "masked_rule":
        masked = finding.rule_ids[0]
        assert masked in fired
        without = [rule for rule in kb.match(example) if rule.id != masked]
        assert projection(resolve(example, without, kb.info)) == projection(result)
    elif finding.kind == "redundant_rule":
        assert set(finding.rule_ids) <= fired
    elif finding.kind == "golden_case_failed":
        (rule_id,) = finding.rule_ids
        cases = [case for case in kb.rule(rule_id).tests if case.profile == example]
        assert cases
        assert any(expectation_problems(result, case.expect) for case in cases)
    else:  # pragma: no cover - every kind is handled above
        raise AssertionError(finding.kind)
