"""The audit (SPEC §8): each finding kind on a rule set with exactly that defect, and a near miss
without it; regions, examples and the report's API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import immunorules as ir
from immunorules._analysis.space import size

from .audit_support import FIXTURES, assert_example_shows, load_fixture
from .bundled import CONDITIONS, DISEASE_AREAS, FULL, JOINT_VALUES
from .conftest import MakeKB, rule

SPACE = size(FULL)
PAIRS = len(CONDITIONS) + len(DISEASE_AREAS)  # valid (disease_area, condition) pairs

# fixture stem, the one finding kind its positive version has, the rule ids it names
DEFECTS = [
    ("gap", "gap", ()),
    ("gap_threshold", "gap", ()),
    ("conflict", "unresolved_conflict", ("MEL-AUTOIMMUNE-STEROIDS", "MEL-CPI")),
    ("dead", "dead_rule", ("RA-IN-ONCOLOGY",)),
    ("golden", "golden_case_failed", ("RA-DMARD",)),
    ("evidence", "missing_evidence", ("SCID-HSCT",)),
    ("redundant", "redundant_rule", ("RA-SEVERE", "RA-BROAD")),
    ("identical", "redundant_rule", ("ASTHMA-T2", "ASTHMA-T2-COPY")),
    ("masked", "masked_rule", ("PSO-TNF", "PSO-NO-TNF")),
    ("masked_flag", "masked_rule", ("PREG-FLAG-JAK",)),
]
SEVERITY = {"gap": "error", "unresolved_conflict": "error", "dead_rule": "error"}
SEVERITY |= {"golden_case_failed": "error", "missing_evidence": "error"}
SEVERITY |= {"redundant_rule": "warning", "masked_rule": "warning"}


def _not_info(report: ir.AuditReport) -> list[ir.Finding]:
    """The findings but info and untested rules (the fixtures show one defect each, and have
    no golden cases)."""
    return [
        finding
        for finding in report.findings
        if finding.severity != "info" and finding.kind != "untested_rule"
    ]


@pytest.mark.parametrize(("stem", "kind", "rule_ids"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_positive_rule_set_has_exactly_that_defect(
    stem: str, kind: str, rule_ids: tuple[str, ...]
) -> None:
    kb = load_fixture(f"{stem}_positive")
    report = ir.audit(kb)
    (finding,) = _not_info(report)
    assert finding.kind == kind
    assert finding.severity == SEVERITY[kind]
    assert finding.rule_ids == rule_ids
    assert report.ok is (SEVERITY[kind] != "error")
    assert_example_shows(kb, finding)


@pytest.mark.parametrize("stem", sorted({d[0] for d in DEFECTS} | {"unused"}))
def test_near_miss_rule_set_is_clean(stem: str) -> None:
    report = ir.audit(load_fixture(f"{stem}_negative"))
    assert _not_info(report) == []
    assert report.ok


def test_every_fixture_has_a_positive_and_a_negative_version() -> None:
    stems = {path.stem.rsplit("_", 1)[0] for path in FIXTURES.glob("*.yaml")}
    for stem in stems:
        assert (FIXTURES / f"{stem}_positive.yaml").is_file()
        assert (FIXTURES / f"{stem}_negative.yaml").is_file()
    assert stems == {d[0] for d in DEFECTS} | {"unused"}


def test_gap_region_is_the_uncovered_area_exactly() -> None:
    (gap,) = ir.audit(load_fixture("gap_positive")).filter(kind="gap")
    assert gap.region == {"disease_area": ["allergic"]}
    # (allergic, none) and (allergic, severe_asthma) of the PAIRS valid area/condition pairs
    assert gap.region_size == SPACE * 2 // PAIRS
    assert gap.example_profile is not None
    assert gap.example_profile.disease_area == "allergic"
    assert "disease_area = allergic" in gap.message


def test_gap_between_integer_thresholds() -> None:
    (gap,) = ir.audit(load_fixture("gap_threshold_positive")).filter(kind="gap")
    assert gap.region == {"prior_lines_of_therapy": [1]}
    assert gap.region_size == SPACE // 22  # 0..20 or not stated
    assert gap.example_profile is not None
    assert gap.example_profile.prior_lines_of_therapy == 1


def test_gap_that_is_not_one_box_is_reported_as_exact_pieces(make_kb: MakeKB) -> None:
    only: dict[str, object] = {"disease_area": "oncology", "condition": None}
    kb = make_kb([rule("ONC-UNSTATED", {"advise": ["multidisciplinary_review"]}, only)])
    gaps = ir.audit(kb).filter(kind="gap")
    assert [gap.region for gap in gaps] == [
        {"condition": list(CONDITIONS)},
        {
            "disease_area": [
                "autoimmune",
                "hematologic_malignancy",
                "infectious",
                "transplant",
                "immunodeficiency",
                "allergic",
            ],
            "condition": [None],
        },
    ]
    assert sum(gap.region_size or 0 for gap in gaps) == SPACE - SPACE // PAIRS
    for gap in gaps:
        assert_example_shows(kb, gap)


def test_conflict_names_both_sides_and_its_region() -> None:
    kb = load_fixture("conflict_positive")
    (conflict,) = ir.audit(kb).filter(kind="unresolved_conflict")
    assert conflict.region == {"condition": ["melanoma"], "autoimmune_disease_history": [True]}
    assert "immunosuppressants (from MEL-AUTOIMMUNE-STEROIDS)" in conflict.message
    assert "immunostimulants (from MEL-CPI)" in conflict.message


def test_a_conflict_resolved_by_a_flag_is_not_reported() -> None:
    kb = load_fixture("conflict_negative")
    example = {"immune_activity": "underactive", "condition": "melanoma"}
    result = kb.evaluate({**example, "autoimmune_disease_history": True})
    assert result.conflicts and result.conflicts[0].resolved  # the near miss is a real conflict
    assert ir.audit(kb).filter(kind="unresolved_conflict") == ()


def test_dead_rule_message_says_why() -> None:
    (dead,) = ir.audit(load_fixture("dead_positive")).filter(kind="dead_rule")
    assert "rheumatoid_arthritis is autoimmune" in dead.message
    assert dead.example_profile is None


def test_golden_case_failure_explains_the_expectation() -> None:
    (failed,) = ir.audit(load_fixture("golden_positive")).filter(kind="golden_case_failed")
    assert "RA-DMARD[1]" in failed.message
    assert "expected biologic_therapies to be suggested" in failed.message


def test_masked_rule_message_says_what_overrides_it() -> None:
    (masked,) = ir.audit(load_fixture("masked_positive")).filter(kind="masked_rule")
    assert "PSO-TNF never changes a result" in masked.message
    assert "all avoided by PSO-NO-TNF" in masked.message


def test_a_suggestion_always_avoided_by_a_category_avoid_is_masked(make_kb: MakeKB) -> None:
    ra: dict[str, object] = {"condition": "rheumatoid_arthritis"}
    kb = make_kb(
        [
            rule("ALL-REFER", {"advise": ["multidisciplinary_review"]}),
            rule(
                "RA-CPI", {"suggest": [{"category": "immunostimulants", "tier": "first_line"}]}, ra
            ),
            rule("RA-NO-STIM", {"avoid": [{"category": "immunostimulants"}]}, ra),
        ]
    )
    (masked,) = ir.audit(kb).filter(kind="masked_rule")
    assert masked.rule_ids == ("RA-CPI", "RA-NO-STIM")
    assert "immunostimulants is avoided by RA-NO-STIM" in masked.message
    assert_example_shows(kb, masked)


@pytest.mark.parametrize(
    ("wide_tier", "narrow_tier", "redundant"),
    [("first_line", "escalation", True), ("escalation", "first_line", False)],
)
def test_redundancy_needs_the_same_or_a_better_tier(
    make_kb: MakeKB, wide_tier: str, narrow_tier: str, redundant: bool
) -> None:
    kb = make_kb(
        [
            rule("WIDE", {"suggest": [{"category": "immunosuppressants", "tier": wide_tier}]}),
            rule(
                "NARROW",
                {"suggest": [{"category": "immunosuppressants", "tier": narrow_tier}]},
                {"pregnant": True},
            ),
        ]
    )
    found = ir.audit(kb).filter(kind="redundant_rule")
    assert [f.rule_ids for f in found] == ([("NARROW", "WIDE")] if redundant else [])


def test_a_whole_category_suggestion_is_not_covered_by_one_naming_classes(
    make_kb: MakeKB,
) -> None:
    named = {
        "category": "immunosuppressants",
        "tier": "first_line",
        "subcategories": ["corticosteroids"],
    }
    kb = make_kb(
        [
            rule("NAMED", {"suggest": [named]}),
            rule(
                "WHOLE",
                {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]},
                {"pregnant": True},
            ),
        ]
    )
    assert ir.audit(kb).filter(kind="redundant_rule") == ()


def test_inactive_rules_are_not_audited(make_kb: MakeKB) -> None:
    dead_when: dict[str, object] = {"disease_area": "oncology", "condition": "psoriasis"}
    draft = {**rule("DRAFT-DEAD", {"advise": ["pml_risk"]}, dead_when), "status": "draft"}
    draft["evidence"] = []
    kb = make_kb([rule("ALL-REFER", {"advise": ["multidisciplinary_review"]}), draft])
    report = ir.audit(kb)
    assert report.ok
    assert report.filter(rule_id="DRAFT-DEAD") == ()
    assert report.active_rules == 1


def test_a_knowledge_base_without_rules_is_one_gap_over_everything(tmp_path: Path) -> None:
    (tmp_path / "evidence.yaml").write_text("evidence:\n  E1: {citation: A source}\n")
    kb = ir.load_rules(tmp_path, engine="native")
    (gap,) = ir.audit(kb).errors
    assert gap.kind == "gap"
    assert gap.region == {}
    assert gap.region_size == SPACE
    assert "every profile" in gap.to_text()
    assert_example_shows(kb, gap)


def test_unused_vocabulary_positive_and_negative() -> None:
    positive = ir.audit(load_fixture("unused_positive")).filter(kind="unused_vocabulary")
    negative = ir.audit(load_fixture("unused_negative")).filter(kind="unused_vocabulary")
    assert "advisory:pml_risk" in {f.subject for f in positive}
    assert "advisory:pml_risk" not in {f.subject for f in negative}
    assert all(f.severity == "info" and f.rule_ids == () for f in positive)


# -- the report -----------------------------------------------------------------------------


def test_report_filters_counts_and_ok() -> None:
    report = ir.audit(load_fixture("conflict_positive"))
    assert not report.ok
    assert report.counts()["error"] == 1
    assert report.errors == report.filter(severity="error")
    assert report.filter(kind=["gap", "unresolved_conflict"]) == report.errors
    assert report.filter(severity="warning") == report.warnings
    assert report.warnings == report.filter(kind="untested_rule")  # it has no golden case
    assert len(report.infos) == report.counts()["info"] > 0
    assert report.filter(rule_id="MEL-CPI", severity="error") == report.errors
    with pytest.raises(ValueError, match="unknown finding kind"):
        report.filter(kind="gaps")
    with pytest.raises(ValueError, match="unknown finding severity"):
        report.filter(severity="fatal")


def test_report_renders_as_text_json_and_markdown() -> None:
    report = ir.audit(load_fixture("gap_positive"))
    text = report.to_text()
    assert text.startswith("immunorules audit of gap_positive unversioned (fingerprint ")
    assert "FAILED: 1 error, " in text and report.summary() in text
    assert "[error] gap:" in text and "example: immune_activity=overactive" in text
    assert ir.NOT_FOR_CLINICAL_USE in text
    assert str(report) == text
    data = json.loads(report.to_json())
    assert data["ok"] is False
    assert data["profiles"] == SPACE
    assert data["findings"][0]["kind"] == "gap"
    assert data["findings"][0]["example_profile"]["disease_area"] == "allergic"
    assert report.model_dump()["ok"] is False
    markdown = report.to_markdown()
    assert markdown == report._repr_markdown_()
    assert "| **error** | `gap` |" in markdown and "Example: " in markdown
    assert ir.NOT_FOR_CLINICAL_USE in markdown
    assert report._repr_html_() == report.to_html()
    assert "gap" in report.to_html() and "<pre>" not in report.to_html()


def test_kb_audit_is_ir_audit() -> None:
    kb = load_fixture("redundant_positive")
    with pytest.warns(DeprecationWarning, match=r"use immunorules\.audit\(kb\)"):
        deprecated = kb.audit()  # the second spelling: an alias that warns
    assert deprecated == ir.audit(kb)


def test_readme_audit_section_examples_run() -> None:
    """The doctest examples of the README's Audit section (on the bundled rules)."""
    import doctest

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("\n## Audit\n", 1)[1].split("\n## ", 1)[0]
    parser = doctest.DocTestParser()
    test = parser.get_doctest(section, {}, "README.md#audit", "README.md", 0)
    assert test.examples
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0


def test_bundled_knowledge_base_audits_ok_and_its_examples_hold() -> None:
    kb = ir.load_rules(engine="native")
    report = ir.audit(kb)
    for finding in report.findings:
        assert_example_shows(kb, finding)
    assert report.ok, report.to_text()


def test_findings_come_errors_first_then_warnings_then_info(make_kb: MakeKB) -> None:
    psoriasis: dict[str, object] = {"condition": "psoriasis"}
    tnf = {
        "category": "biologic_therapies",
        "tier": "first_line",
        "subcategories": ["tnf_inhibitors"],
    }
    kb = make_kb(
        [
            rule("PSO-TNF", {"suggest": [tnf]}, psoriasis),
            rule("PSO-NO-TNF", {"avoid": [{"subcategory": "tnf_inhibitors"}]}, psoriasis),
        ]
    )
    report = ir.audit(kb)
    severities = [finding.severity for finding in report.findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert {"error", "warning", "info"} == set(severities)  # gaps, the masked rule, vocabulary
    assert all(f.kind == "gap" for f in report.errors)


def test_audit_without_arguments_audits_the_bundled_rules() -> None:
    report = ir.audit()
    assert report.knowledge_base.name == "immunorules-bundled"
    assert report.active_rules == len(ir.load_rules(engine="native").active_rules)


def test_a_gap_over_every_area_reads_as_words(make_kb: MakeKB) -> None:
    any_condition: dict[str, object] = {"condition": {"not": [None]}}
    kb = make_kb([rule("ANY-CONDITION", {"advise": ["multidisciplinary_review"]}, any_condition)])
    (gap,) = ir.audit(kb).filter(kind="gap")
    assert gap.region == {"condition": [None]}
    assert gap.region_size == SPACE * len(DISEASE_AREAS) // len(JOINT_VALUES)  # no condition
    assert gap.message.endswith(": condition = null.")
    assert "[]" not in gap.to_text()
    assert_example_shows(kb, gap)


def test_progress_is_reported_only_when_asked() -> None:
    kb = load_fixture("conflict_positive")
    calls: list[tuple[str, int, int]] = []
    report = ir.audit(kb, progress=lambda *call: calls.append(call))
    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == ["gaps", "conflicts", "redundant rules", "masked rules", "done"]
    assert calls[-1] == ("done", 1, 1)
    assert all(0 <= done <= total for _, done, total in calls)
    assert report == ir.audit(kb)


def test_terminal_progress_rewrites_one_line_and_clears_it() -> None:
    import io

    from immunorules._analysis.audit import terminal_progress

    stream = io.StringIO()
    ir.audit(load_fixture("gap_positive"), progress=terminal_progress(stream))
    text = stream.getvalue()
    assert f"\raudit: gaps 0/{SPACE:,} (0%)" in text and "\raudit: masked rules" in text
    assert f"\raudit: conflicts {SPACE:,}/{SPACE:,} (100%)" in text
    assert "\n" not in text
    assert text.endswith("\r") and text.rsplit("\r", 2)[1].strip() == ""


@pytest.mark.parametrize("bad", [0, -1, True, "3", 2.5])
def test_max_findings_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="max_findings"):
        ir.audit(load_fixture("gap_positive"), max_findings=bad)  # type: ignore[arg-type]


def test_a_report_within_its_cap_is_not_truncated() -> None:
    report = ir.audit(load_fixture("gap_positive"))
    assert not report.truncated
    assert report.totals["gap"] == report.total("gap") == 1
    assert report.max_findings == 500
    data = json.loads(report.to_json())
    assert data["truncated"] is False and data["totals"]["gap"] == 1
    with pytest.raises(ValueError, match="unknown finding kind"):
        report.total("gaps")


def test_an_uncapped_report_lists_every_finding() -> None:
    kb = load_fixture("gap_positive")
    capped = ir.audit(kb, max_findings=1)
    uncapped = ir.audit(kb, max_findings=None)
    assert uncapped.max_findings is None and not uncapped.truncated
    assert uncapped.totals == capped.totals
    for kind, total in uncapped.totals.items():
        assert len([f for f in uncapped.findings if f.kind == kind]) == total
    assert capped.truncated and len(uncapped.findings) > len(capped.findings)


# -- unused_effect: an avoid or a flag that never meets a suggestion ------------------------------

RA_WHEN = {"condition": "rheumatoid_arthritis"}
TNF = {"category": "biologic_therapies", "subcategories": ["tnf_inhibitors"], "tier": "first_line"}


def test_unused_effect_positive(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("SUGGEST", {"suggest": [TNF]}, RA_WHEN),
            rule("NEVER", {"avoid": [{"subcategory": "jak_inhibitors"}],
                           "flag": ["immunostimulants"]}, RA_WHEN),
            rule("NEVER-TOO", {"avoid": [{"subcategory": "jak_inhibitors"}],
                               "advise": ["hbv_screen"]}, {"condition": "psoriasis"}),
        ]
    )  # fmt: skip
    found = ir.audit(kb).filter(kind="unused_effect")
    assert sorted((f.subject, f.rule_ids) for f in found) == [
        ("avoid:jak_inhibitors", ("NEVER", "NEVER-TOO")),
        ("flag:immunostimulants", ("NEVER",)),
    ]
    assert all(f.severity == "info" for f in found)
    avoid = next(f for f in found if f.subject == "avoid:jak_inhibitors")
    assert "jak_inhibitors" in avoid.message and "no live rule suggests" in avoid.message


def test_unused_effect_negative(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("SUGGEST", {"suggest": [TNF, {"category": "immunosuppressants",
                                               "tier": "first_line"}]}, RA_WHEN),
            # a finer class of a suggested class, a class of a category suggested as a whole, a
            # flag on a suggested category, a category-level avoid (decisive by itself)
            rule("MEETS", {"avoid": [{"subcategory": "tnf_receptor_fusion_proteins"},
                                     {"subcategory": "jak_inhibitors"},
                                     {"category": "immunostimulants"}],
                           "flag": ["biologic_therapies"]}, RA_WHEN),
        ]
    )  # fmt: skip
    assert ir.audit(kb).filter(kind="unused_effect") == ()


def test_the_bundled_safety_avoids_are_not_unused_effects() -> None:
    report = ir.audit(ir.load_rules())
    assert report.filter(kind="unused_effect") == ()
    assert report.totals["unused_effect"] == 0


def test_every_finding_kind_is_in_the_docs_table() -> None:
    from immunorules._analysis.audit_report import KINDS, SEVERITY_OF

    page = (Path(__file__).resolve().parents[1] / "docs" / "audit.md").read_text()
    for kind in KINDS:
        assert f"| `{kind}` | {SEVERITY_OF[kind]} |" in page, kind
