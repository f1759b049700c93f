"""Golden-case coverage: ``ir.coverage(kb)`` (untested rules, unobserved effects, shares), its
renderings, ``immunorules coverage``, the audit's ``untested_rule`` warnings and the pytest
plugin's summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules._analysis.coverage import rule_effects
from immunorules._api.knowledge_base import KnowledgeBase
from immunorules._cli.main import main
from immunorules._load.loader import LoadedRules
from immunorules._model.profile import ConditionProfile
from immunorules._model.rules import Effects, Expectation, GoldenCase, Rule, SuggestEffect
from immunorules._model.schema import bundled_schema
from immunorules._model.space import FlatSpace

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small_rules"
SCHEMA = bundled_schema()
pytest_plugins = ["pytester"]
RULES = """\
evidence:
  E1: {citation: "A source", url: "https://example.org/source"}
rules:
  - id: PSO-BIOLOGIC
    title: Biologic for severe psoriasis
    when: {condition: psoriasis, severity: severe}
    then:
      suggest: [{category: biologic_therapies, tier: first_line}]
      advise: [hbv_screen, latent_tb_screen_and_treat]
    because: An example.
    evidence: [E1]
    tests:
      - profile: {immune_activity: overactive, condition: psoriasis, severity: severe}
        expect: {suggest: [biologic_therapies], advise: [hbv_screen]}
  - id: PSO-MILD
    title: Topicals first
    when: {condition: psoriasis, severity: mild}
    then:
      suggest: [{category: immunosuppressants, tier: first_line}]
    because: An example.
    evidence: [E1]
"""


@pytest.fixture(scope="module")
def bundled() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


@pytest.fixture
def mine(tmp_path: Path) -> ir.KnowledgeBase:
    folder = tmp_path / "psoriasis"
    folder.mkdir()
    (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
    (folder / "knowledge-base.yaml").write_text("name: pso\nversion: '0.3'\n")
    return ir.load_rules(folder, engine="native")


def test_the_bundled_golden_cases_fire_every_rule(bundled: ir.KnowledgeBase) -> None:
    report = ir.coverage(bundled)
    assert report.untested_rules == () and report.rule_share == 1.0
    assert report.rules == len(bundled.active_rules)
    assert report.golden_cases == sum(len(rule.tests) for rule in bundled.active_rules)
    assert 0.8 < report.effect_share < 1.0  # some advisories are never checked
    assert report.untested_effects == 0
    assert report.observed_effects + len(report.unobserved_effects) == report.effects
    assert all(item.effect.startswith("advise:") for item in report.unobserved_effects)
    default = ir.coverage()  # the bundled knowledge base (its engine may differ)
    assert default.unobserved_effects == report.unobserved_effects


def test_untested_rules_and_unobserved_effects(mine: ir.KnowledgeBase) -> None:
    report = ir.coverage(mine)
    assert report.untested_rules == ("PSO-MILD",)
    assert [(e.rule_id, e.effect) for e in report.unobserved_effects] == [
        ("PSO-BIOLOGIC", "advise:latent_tb_screen_and_treat")
    ]
    assert (report.rules, report.effects, report.untested_effects) == (2, 4, 1)
    assert report.rule_share == 0.5 and report.observed_effects == 2
    assert report.effect_share == 0.5
    assert isinstance(report, ir.Coverage) and isinstance(
        report.unobserved_effects[0], ir.UnobservedEffect
    )


def test_renderings_carry_name_version_fingerprint_and_notice(mine: ir.KnowledgeBase) -> None:
    report = ir.coverage(mine)
    short = mine.fingerprint[:12]
    text = report.explain()
    assert text.startswith(f"immunorules coverage of pso 0.3 (fingerprint {short}):")
    assert "1 of 2 active rules fired by 1 golden cases (50%)" in text
    assert "Untested rules (1):\n  PSO-MILD" in text
    assert "PSO-BIOLOGIC: advise:latent_tb_screen_and_treat" in text
    markdown = report.to_markdown()
    assert "### Coverage of pso 0.3" in markdown and f"`{short}`" in markdown
    assert "| `PSO-BIOLOGIC` | `advise:latent_tb_screen_and_treat` |" in markdown
    page = report.to_html()
    assert page.startswith('<div class="ir-root ir-coverage">') and "PSO-MILD" in page
    for rendered in (text, markdown, page):
        assert "NOT FOR CLINICAL USE" in rendered
    data = json.loads(report.to_json())
    assert data["knowledge_base"]["name"] == "pso" and data["rule_share"] == 0.5
    assert data["untested_rules"] == ["PSO-MILD"] and data["effect_share"] == 0.5
    assert str(report) == text and report._repr_html_() == page


def test_the_audit_warns_of_each_untested_rule(mine: ir.KnowledgeBase) -> None:
    report = ir.audit(mine)
    (finding,) = report.filter(kind="untested_rule")
    assert finding.severity == "warning" and finding.rule_ids == ("PSO-MILD",)
    assert "no golden case fires PSO-MILD" in finding.message and "rules.yaml:" in finding.message
    assert report.totals["untested_rule"] == 1


def test_a_rule_set_without_golden_cases_no_longer_audits_clean() -> None:
    kb = ir.load_rules(ROOT / "tests" / "data" / "audit" / "gap_negative.yaml", engine="native")
    assert all(not rule.tests for rule in kb.rules)
    report = ir.audit(kb)
    untested = {f.rule_ids[0] for f in report.filter(kind="untested_rule")}
    assert untested == {rule.id for rule in kb.active_rules}
    assert report.ok  # a warning, not an error
    assert ir.coverage(kb).rule_share == 0.0


def test_the_bundled_audit_has_no_untested_rule(bundled: ir.KnowledgeBase) -> None:
    from immunorules._analysis.audit import _untested_rules

    assert _untested_rules(bundled) == []


def test_cli_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["coverage", "--rules", str(SMALL), "--engine", "native"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("immunorules coverage of small_rules unversioned (fingerprint ")
    assert "Untested rules (3):" in out
    for form, check in (
        ("json", lambda text: json.loads(text)["rules"] == 5),
        ("markdown", lambda text: "### Coverage of small\\_rules" in text),
        ("html", lambda text: text.startswith("<div")),
    ):
        assert main(["coverage", "--rules", str(SMALL), "--format", form]) == 0
        assert check(capsys.readouterr().out), form
    assert main(["coverage", "--rules", str(ROOT / "no-such-folder")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_plugin_summary_shows_coverage(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\nimmunorules_rules = {SMALL}\n")
    run = pytester.runpytest("-p", "no:cacheprovider", "--immunorules-engine", "native")
    run.stdout.fnmatch_lines(
        [
            "*- immunorules coverage -*",
            "small_rules unversioned (fingerprint *): 2 of 5 active rules fired by a golden "
            "case (40%), * effects checked (*)",
            "untested rules (3): ONC-ACTIVE-INFECTION, RA-ESCALATE-BIOLOGIC, RA-FIRST",
        ]
    )


# -- against a direct count, on generated rule sets with generated golden cases ----------------

_CATEGORIES = ["biologic_therapies", "immunosuppressants", "immunostimulants"]
_SEVERITIES = ["mild", "moderate", "severe"]


def _profile(severity: str) -> ConditionProfile:
    return ConditionProfile(immune_activity="overactive", condition="psoriasis", severity=severity)


@st.composite
def _rule_sets(draw: st.DrawFn) -> KnowledgeBase:
    rules = []
    for index in range(draw(st.integers(1, 5))):
        severities = draw(st.sets(st.sampled_from(_SEVERITIES), min_size=1))
        suggest = tuple(
            SuggestEffect(category=category, tier="first_line")
            for category in draw(st.sets(st.sampled_from(_CATEGORIES), min_size=1, max_size=2))
        )
        advise = tuple(draw(st.sets(st.sampled_from(["hbv_screen", "pml_risk"]), max_size=1)))
        tests = tuple(
            GoldenCase(
                profile=_profile(draw(st.sampled_from(_SEVERITIES))),
                expect=Expectation(
                    not_=tuple(draw(st.sets(st.sampled_from(_CATEGORIES), max_size=1))),
                    advise=tuple(draw(st.sets(st.sampled_from(["hbv_screen"]), max_size=1))),
                ),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        rules.append(
            Rule(
                id=f"R{index}",
                title=f"R{index}",
                when={"condition": frozenset({"psoriasis"}), "severity": frozenset(severities)},
                then=Effects(suggest=suggest, advise=advise),
                because="x",
                evidence=("E",),
                tests=tests,
            )
        )
    loaded = LoadedRules(tuple(rules), {}, (), SCHEMA, FlatSpace(SCHEMA, rules))
    return KnowledgeBase(loaded, engine="native", bundled=False)


@settings(max_examples=60, deadline=None)
@given(_rule_sets())
def test_coverage_agrees_with_a_direct_count(kb: KnowledgeBase) -> None:
    report = ir.coverage(kb)
    cases = [case for rule in kb.active_rules for case in rule.tests]
    fired_by = [
        {r.id for r in kb.active_rules if r.holds(case.profile)} for case in cases
    ]  # what each case fires, from the conditions alone
    untested = [r.id for r in kb.active_rules if not any(r.id in f for f in fired_by)]
    assert list(report.untested_rules) == untested
    unobserved = []
    for rule in kb.active_rules:
        if rule.id in untested:
            continue
        for name, category in rule_effects(rule, kb.schema):
            checked = any(
                rule.id in fired
                and (
                    category in {*case.expect.suggest, *case.expect.flagged, *case.expect.not_}
                    or name.split(":", 1)[1] in case.expect.advise
                )
                for case, fired in zip(cases, fired_by, strict=True)
            )
            if not checked:
                unobserved.append((rule.id, name))
    assert [(e.rule_id, e.effect) for e in report.unobserved_effects] == unobserved
    effects = sum(len(rule_effects(rule, kb.schema)) for rule in kb.active_rules)
    assert report.effects == effects
    assert report.rule_share == (len(kb.active_rules) - len(untested)) / len(kb.active_rules)
    assert report.effect_share == pytest.approx(
        (effects - len(unobserved) - report.untested_effects) / effects
    )


def test_the_share_of_scope_regions_with_a_golden_case(tmp_path: Path) -> None:
    """A rule set claiming two regions (``scope:``) with golden cases in one of them: half its
    scope is touched, and the report names the region without a case."""
    folder = tmp_path / "scoped"
    folder.mkdir()
    scope = "scope:\n  - {condition: psoriasis}\n  - {condition: rheumatoid_arthritis}\n"
    (folder / "rules.yaml").write_text(RULES + scope)
    report = ir.coverage(ir.load_rules(folder, engine="native"))
    assert report.scope_regions == 2 and report.scope_share == 0.5
    assert report.untouched_scope == ("condition = rheumatoid_arthritis",)
    for text in (report.explain(), report.to_markdown(), report.to_html()):
        assert "1 of 2 scope regions" in text and "rheumatoid" in text
    assert json.loads(report.to_json())["scope_share"] == 0.5


def test_without_a_scope_the_whole_space_is_one_region(bundled: ir.KnowledgeBase) -> None:
    report = ir.coverage(bundled)
    assert (report.scope_regions, report.untouched_scope, report.scope_share) == (1, (), 1.0)
