"""Tools for testing your own rule sets: Hypothesis strategies, assertions, golden cases.

Research prototype - NOT FOR CLINICAL USE. Needs ``hypothesis`` for :func:`profiles`
(``pip install "immunorules[testing]"``). Golden cases also run as pytest items with
``pytest --immunorules-rules my_rules/`` (the plugin is installed with the package).

A rule audit test file::

    import immunorules as ir
    from hypothesis import given, settings
    from immunorules.testing import assert_audit_clean, assert_golden_cases_pass, profiles

    KB = ir.load_rules("my_rules/")

    def test_rules_audit_clean():
        assert_audit_clean(KB, fail_on="warning")
        assert_golden_cases_pass(KB)

    @settings(deadline=None)
    @given(profiles(condition="rheumatoid_arthritis"))
    def test_every_ra_profile_is_covered(profile):
        assert KB.evaluate(profile).covered

A rule change held to the profiles it claims to change (exact, over every profile)::

    from immunorules.testing import assert_changes_within

    def test_the_ra_change_stays_in_ra():
        assert_changes_within("rules_before/", "my_rules/", {"condition": "rheumatoid_arthritis"})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._analysis.golden import GoldenCaseRef, expectation_problems, golden_cases
from ._assertions import (
    assert_audit_clean,
    assert_avoids,
    assert_covered,
    assert_golden_cases_pass,
    assert_not_suggested,
    assert_suggests,
)
from ._diff import assert_changes_within

if TYPE_CHECKING:
    from ._strategies import profiles

__all__ = [
    "GoldenCaseRef",
    "assert_audit_clean",
    "assert_avoids",
    "assert_changes_within",
    "assert_covered",
    "assert_golden_cases_pass",
    "assert_not_suggested",
    "assert_suggests",
    "expectation_problems",
    "golden_cases",
    "profiles",
]


def __getattr__(name: str) -> Any:
    if name == "profiles":  # imported on first use: only this needs hypothesis
        try:
            from ._strategies import profiles
        except ImportError as exc:  # pragma: no cover - hypothesis is a test dependency
            raise ImportError(
                "immunorules.testing.profiles needs hypothesis: pip install hypothesis"
            ) from exc
        return profiles
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
