"""immunorules.testing: Hypothesis strategies, assertions, and the pytest plugin (pytester)."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules.testing import (
    assert_audit_clean,
    assert_avoids,
    assert_covered,
    assert_golden_cases_pass,
    assert_not_suggested,
    assert_suggests,
    golden_cases,
    profiles,
)

from .audit_support import FIXTURES, load_fixture
from .bundled import CONDITION_AREA

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[1] / "README.md"
RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}

# -- strategies ---------------------------------------------------------------------------------


@settings(deadline=None, max_examples=200)
@given(profiles())
def test_profiles_are_valid_and_consistent(profile: ir.ConditionProfile) -> None:
    assert isinstance(profile, ir.ConditionProfile)
    if profile.condition is not None:
        assert CONDITION_AREA[profile.condition] == profile.disease_area


@pytest.mark.parametrize(
    "wanted",
    [
        lambda p: p.condition is None and p.disease_area == "allergic",
        lambda p: p.condition == "graft_versus_host_disease" and p.severity is None,
        lambda p: p.prior_lines_of_therapy == 20 and p.targetable_driver_alteration,
        lambda p: (
            p.transplant_status == "hsct_recipient" and p.infection_status == "active_serious"
        ),
    ],
)
def test_profiles_reach_every_corner_of_the_space(
    wanted: Callable[[ir.ConditionProfile], bool],
) -> None:
    assert wanted(find(profiles(), wanted))


@settings(deadline=None, max_examples=50)
@given(
    profiles(
        condition="melanoma",
        severity=["moderate", "severe"],
        prior_lines_of_therapy=st.integers(1, 3),
        pregnant=True,
    )
)
def test_profiles_pin_fields_by_value_list_or_strategy(profile: ir.ConditionProfile) -> None:
    assert profile.condition == "melanoma" and profile.disease_area == "oncology"
    assert profile.severity in ("moderate", "severe")
    lines = profile.prior_lines_of_therapy
    assert lines is not None and 1 <= lines <= 3  # int | None: the field may be not stated
    assert profile.pregnant is True


@settings(deadline=None, max_examples=50)
@given(profiles(disease_area="transplant"))
def test_pinning_the_area_draws_its_conditions_or_none(profile: ir.ConditionProfile) -> None:
    assert profile.disease_area == "transplant"
    assert profile.condition is None or CONDITION_AREA[profile.condition] == "transplant"


@settings(deadline=None, max_examples=50)
@given(profiles(disease_area=st.sampled_from(["oncology", "allergic"]), condition=st.none()))
def test_area_and_condition_strategies_are_drawn_consistently(
    profile: ir.ConditionProfile,
) -> None:
    assert profile.disease_area in ("oncology", "allergic")
    assert profile.condition is None


def test_a_findings_region_pins_profiles_inside_it() -> None:
    kb = load_fixture("gap_positive")
    (gap,) = ir.audit(kb).filter(kind="gap")
    assert gap.region is not None

    @settings(deadline=None, max_examples=30)
    @given(profiles(**gap.region))
    def uncovered(profile: ir.ConditionProfile) -> None:
        assert not kb.evaluate(profile).covered

    uncovered()


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ({"sevrity": "mild"}, "unknown profile fields"),
        ({"severity": "sever"}, "severity cannot be pinned"),
        ({"prior_lines_of_therapy": True}, "cannot be pinned"),
        ({"pregnant": 1}, "cannot be pinned"),
        ({"severity": []}, "cannot be pinned"),
        ({"disease_area": "oncology", "condition": "psoriasis"}, "no valid profile"),
    ],
)
def test_invalid_pins_raise_value_error(pins: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        profiles(**pins)  # type: ignore[arg-type]


# -- assertions ---------------------------------------------------------------------------------


def test_assert_audit_clean_passes_a_clean_rule_set_and_returns_the_report() -> None:
    report = assert_audit_clean(load_fixture("gap_negative"))
    assert report.ok


def test_assert_audit_clean_fails_with_the_findings() -> None:
    with pytest.raises(AssertionError, match=r"1 finding\(s\)[\s\S]*\[error\] gap"):
        assert_audit_clean(load_fixture("gap_positive"))


def test_assert_audit_clean_severity_threshold_and_ignore() -> None:
    kb = load_fixture("redundant_positive")
    assert_audit_clean(kb)  # a warning only
    with pytest.raises(AssertionError, match="redundant_rule"):
        assert_audit_clean(kb, fail_on="warning")
    # the fixture has no golden case: each rule is also an untested_rule warning
    assert_audit_clean(kb, fail_on="warning", ignore=["redundant_rule", "untested_rule"])
    assert_audit_clean(ir.audit(kb), fail_on="warning", ignore=["RA-SEVERE", "untested_rule"])
    with pytest.raises(ValueError, match="fail_on"):
        assert_audit_clean(kb, fail_on="fatal")  # type: ignore[arg-type]


def test_assert_golden_cases_pass() -> None:
    cases = assert_golden_cases_pass(load_fixture("golden_negative"))
    assert [case.id for case in cases] == ["RA-DMARD[1]"]
    with pytest.raises(AssertionError, match=r"golden case RA-DMARD\[1\] at .*golden_positive"):
        assert_golden_cases_pass(load_fixture("golden_positive"))


def test_result_assertions() -> None:
    kb = load_fixture("masked_positive")
    psoriasis = {"immune_activity": "overactive", "condition": "psoriasis"}
    assert_avoids(kb, psoriasis, "tnf_inhibitors")
    assert_not_suggested(kb, psoriasis, "biologic_therapies")
    assert_covered(kb, psoriasis)
    with pytest.raises(AssertionError, match=r"expected biologic_therapies at first_line or"):
        assert_suggests(kb, psoriasis, "biologic_therapies")
    with pytest.raises(AssertionError, match="expected immunostimulants to be avoided"):
        assert_avoids(kb, psoriasis, "immunostimulants")
    ra = load_fixture("golden_negative")
    assert_suggests(ra, RA, "immunosuppressants", tier="first_line")
    with pytest.raises(AssertionError, match="not to be suggested"):
        assert_not_suggested(ra, RA, "immunosuppressants")
    with pytest.raises(AssertionError, match="no guidance"):
        assert_covered(
            load_fixture("gap_positive"),
            {"immune_activity": "overactive", "disease_area": "allergic"},
        )


def test_golden_cases_iterates_active_rules_with_readable_ids() -> None:
    refs = list(golden_cases(load_fixture("golden_positive")))
    assert [(ref.id, ref.location.endswith("golden_positive.yaml:18")) for ref in refs] == [
        ("RA-DMARD[1]", True)
    ]


# -- the pytest plugin --------------------------------------------------------------------------


def _plugin_args() -> list[str]:
    installed = any(ep.name == "immunorules" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "immunorules.testing._pytest_plugin"]


@pytest.fixture
def rules_dir(pytester: pytest.Pytester) -> Path:
    folder = pytester.mkdir("my_rules")
    for name, rule_id, suffix in (
        ("golden_positive", "RA-BAD", "P"),
        ("golden_negative", "RA-GOOD", "N"),
    ):
        text = (FIXTURES / f"{name}.yaml").read_text().replace("RA-DMARD", rule_id)
        text = text.replace("REFER-ALL", f"REFER-ALL-{suffix}").replace("TEST2024", f"T{suffix}")
        (folder / f"{name}.yaml").write_text(text)
    return folder


def test_plugin_collects_each_golden_case_as_an_item(
    pytester: pytest.Pytester, rules_dir: Path
) -> None:
    args = ["--immunorules-rules", "my_rules", "--immunorules-engine", "native", "-v"]
    result = pytester.runpytest(*_plugin_args(), *args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "collecting ... collected 2 items",
            "*my_rules/golden_negative.yaml::RA-GOOD[[]1[]] PASSED*",
            "*my_rules/golden_positive.yaml::RA-BAD[[]1[]] FAILED*",
            "*golden case RA-BAD[[]1[]] at my_rules/golden_positive.yaml:18 failed:",
            "*expected biologic_therapies to be suggested (first_line or escalation)*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_plugin_items_can_be_selected_with_k(pytester: pytest.Pytester, rules_dir: Path) -> None:
    args = ["--immunorules-rules", "my_rules", "--immunorules-engine", "native", "-k", "RA-GOOD"]
    result = pytester.runpytest(*_plugin_args(), *args)
    result.assert_outcomes(passed=1, deselected=1)


def test_plugin_reads_the_ini_option_and_runs_the_audit(
    pytester: pytest.Pytester, rules_dir: Path
) -> None:
    (rules_dir / "golden_positive.yaml").unlink()
    pytester.makeini("[pytest]\nimmunorules_rules = my_rules\n")
    result = pytester.runpytest(*_plugin_args(), "--immunorules-audit", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*immunorules-audit PASSED*"])


def test_plugin_audit_item_fails_on_error_findings(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("gappy")
    (folder / "rules.yaml").write_text((FIXTURES / "gap_positive.yaml").read_text())
    args = ["--immunorules-rules", "gappy", "--immunorules-audit", "--immunorules-engine", "native"]
    result = pytester.runpytest(*_plugin_args(), *args)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]error[]] gap: No decisive rule*"])


def test_plugin_reports_rule_files_that_do_not_load(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("broken")
    (folder / "rules.yaml").write_text("rules:\n  - id: bad id\n")
    result = pytester.runpytest(*_plugin_args(), "--immunorules-rules", "broken")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the rule files do not load:*", "*broken/rules.yaml*"])


def test_plugin_is_inactive_without_rule_paths(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    assert True\n")
    result = pytester.runpytest(*_plugin_args())
    result.assert_outcomes(passed=1)


def test_readme_rule_audit_test_file_runs(pytester: pytest.Pytester, rules_dir: Path) -> None:
    """The ten-line rule audit test file of the README works as documented."""
    section = README.read_text().split("### A rule audit test file", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    lines = code.group(1).strip().splitlines()
    assert len([line for line in lines if line.strip()]) <= 12
    (rules_dir / "golden_positive.yaml").unlink()
    pytester.makepyfile(test_rule_audit=code.group(1))
    result = pytester.runpytest(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_plugin_runs_a_rule_set_with_its_own_vocabulary(pytester: pytest.Pytester) -> None:
    """Golden cases and the audit item of the giant cell arteritis example (its own fields,
    condition and drug class, and a scope): every item passes."""
    example = Path(__file__).resolve().parents[1] / "examples" / "own_vocabulary" / "rules"
    result = pytester.runpytest(
        *_plugin_args(),
        "--immunorules-rules",
        str(example),
        "--immunorules-audit",
        "--immunorules-engine",
        "native",
        "-v",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        ["*GCA-RELAPSE-AFTER-IL6[[]1[]] PASSED*", "*immunorules-audit PASSED*"]
    )


def test_ini_rules_do_not_run_when_one_test_is_selected(
    pytester: pytest.Pytester, rules_dir: Path
) -> None:
    """With ``immunorules_rules`` in the ini file, ``pytest test_x.py::test_one`` runs only that
    test, and "collected N items" counts what runs; the whole suite still runs the cases."""
    (rules_dir / "golden_positive.yaml").unlink()
    pytester.makeini("[pytest]\nimmunorules_rules = my_rules\n")
    pytester.makepyfile(test_x="def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    one = pytester.runpytest(*_plugin_args(), "test_x.py::test_one", "-p", "no:cacheprovider")
    one.assert_outcomes(passed=1)
    one.stdout.fnmatch_lines(["collected 1 item"])
    everything = pytester.runpytest(*_plugin_args(), "-p", "no:cacheprovider")
    everything.assert_outcomes(passed=3)
    everything.stdout.fnmatch_lines(["collected 3 items"])
    folder = pytester.runpytest(*_plugin_args(), "my_rules", "-p", "no:cacheprovider")
    folder.assert_outcomes(passed=1)
