"""The example rule set's audit test file (the shape of the README's "A rule audit test file").

It runs as part of the project's test suite (``testpaths`` in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings

import immunorules as ir
from immunorules.testing import assert_audit_clean, assert_golden_cases_pass, profiles

KB = ir.load_rules(Path(__file__).parent / "rules")


def test_rules_audit_clean() -> None:
    assert_audit_clean(KB, fail_on="warning")  # no gaps in scope, conflicts, dead or masked rules
    assert_golden_cases_pass(KB)


@settings(deadline=None, max_examples=200)
@given(profiles(KB, condition="giant_cell_arteritis"))
def test_every_giant_cell_arteritis_profile_is_covered(profile: ir.ConditionProfile) -> None:
    result = KB.evaluate(profile)
    assert result.covered
    assert result.tier("immunosuppressants") in ("first_line", "escalation")


@settings(deadline=None, max_examples=100)
@given(profiles(KB, condition="giant_cell_arteritis", prior_therapy_classes=[()]))
def test_untreated_patients_get_the_il6_pathway_inhibitor(profile: ir.ConditionProfile) -> None:
    suggestion = KB.evaluate(profile).suggestion("biologic_therapies")
    assert suggestion is not None and suggestion.subcategories == ("il6_pathway_inhibitors",)
