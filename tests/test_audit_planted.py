"""The audit at scale: defects planted in a generated rule set of about 1,000 rules (a gap in one
corner, two rules in an unflagged conflict, a dead rule, a masked rule) are each found, with
the right region and an example profile that shows the defect when evaluated; and a capped
report still counts every finding.

The rule set is ``benchmarks/ruleset_gen.py``'s, made clean around the plants: the rules that
could cover the gap's corner are left out (and four rules cover everything else, so the corner
is the only gap), and so are the rules that can fire on the condition the other plants use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import immunorules as ir
from immunorules._analysis.space import intersect, is_empty, size
from immunorules._evaluate.resolve import is_decisive

from .audit_support import assert_example_shows
from .benchmark_modules import benchmark_module
from .bundled import FULL, JOINT_VALUES, compile_rule
from .conftest import EVIDENCE, rule

SPACE = size(FULL)
PLANTED_CONDITION = "chronic_granulomatous_disease"  # every generated rule that can fire on it goes
GAP_REGION: dict[str, list[Any]] = {
    "condition": ["severe_asthma"],
    "prior_lines_of_therapy": list(range(7, 21)),
    "infection_status": ["recent_serious"],
    "pregnant": [True],
}
REFER = {"advise": ["multidisciplinary_review"]}
# Outside the gap's corner, every profile is covered by one of these.
AROUND_THE_GAP = [
    # ``not`` matches a condition that is not stated only when it says so
    rule(
        "PLANTED-COVER-CONDITION",
        REFER,
        {"condition": {"not": ["severe_asthma"], "or_not_stated": True}},
    ),
    # (v3: these fields may be not stated, which the corner leaves out too)
    rule(
        "PLANTED-COVER-LINES", REFER, {"prior_lines_of_therapy": {"max": 6, "or_not_stated": True}}
    ),
    rule(
        "PLANTED-COVER-INFECTION",
        REFER,
        {"infection_status": {"not": ["recent_serious"], "or_not_stated": True}},
    ),
    rule("PLANTED-COVER-PREGNANT", REFER, {"pregnant": [False, None]}),
]
ONE = {"condition": PLANTED_CONDITION}
PLANTS = [
    rule(
        "PLANTED-STEROIDS",
        {
            "suggest": [
                {
                    "category": "immunosuppressants",
                    "tier": "first_line",
                    "subcategories": ["corticosteroids"],
                }
            ]
        },
        {**ONE, "severity": "severe"},
    ),
    rule(
        "PLANTED-CPI",
        {
            "suggest": [
                {
                    "category": "immunostimulants",
                    "tier": "escalation",
                    "subcategories": ["checkpoint_inhibitors"],
                }
            ]
        },
        {**ONE, "prior_lines_of_therapy": {"min": 2}},
    ),
    rule(
        "PLANTED-TNF",
        {
            "suggest": [
                {
                    "category": "biologic_therapies",
                    "tier": "first_line",
                    "subcategories": ["tnf_inhibitors"],
                }
            ]
        },
        {**ONE, "severity": "mild"},
    ),
    rule("PLANTED-NO-TNF", {"avoid": [{"subcategory": "tnf_inhibitors"}]}, ONE),
    rule("PLANTED-DEAD", REFER, {"disease_area": "autoimmune", "condition": "melanoma"}),
]


def _box(when: dict[str, Any], tmp: Path) -> tuple[int, ...]:
    """The box of a `when` as rule files write it (loaded through a one-rule file)."""
    folder = tmp / "box"
    folder.mkdir(exist_ok=True)
    document = {"evidence": EVIDENCE, "rules": [rule("BOX", REFER, when)]}
    (folder / "rules.yaml").write_text(yaml.safe_dump(document))
    (loaded,) = ir.load_rules(folder, engine="native").rules
    box = compile_rule(loaded).box
    assert box is not None
    return box


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> ir.KnowledgeBase:
    tmp = tmp_path_factory.mktemp("planted")
    generated = benchmark_module("ruleset_gen").generate_rules(1100, seed=7)
    for item in generated:
        item.pop("file")
        item["evidence"] = ["E1"]
    (tmp / "generated").mkdir()
    (tmp / "generated" / "rules.yaml").write_text(
        yaml.safe_dump({"evidence": EVIDENCE, "rules": generated})
    )
    corner = _box(GAP_REGION, tmp)
    reserved = _box(ONE, tmp)
    keep = []
    for loaded in ir.load_rules(tmp / "generated", engine="native").rules:
        box = compile_rule(loaded).box
        if box is None:
            continue
        if is_decisive(loaded) and not is_empty(intersect(box, corner)):
            continue  # it would cover part of the gap
        if not is_empty(intersect(box, reserved)):
            continue  # it could fire beside the other plants
        keep.append(loaded.id)
    rules = [item for item in generated if item["id"] in set(keep)]
    rules += AROUND_THE_GAP + PLANTS
    (tmp / "kb").mkdir()
    (tmp / "kb" / "rules.yaml").write_text(yaml.safe_dump({"evidence": EVIDENCE, "rules": rules}))
    return ir.load_rules(tmp / "kb", engine="native")


@pytest.fixture(scope="module")
def report(planted: ir.KnowledgeBase) -> ir.AuditReport:
    return ir.audit(planted, max_findings=None)


def test_the_planted_rule_set_is_large(planted: ir.KnowledgeBase) -> None:
    assert len(planted.active_rules) >= 900


def test_the_gap_in_one_corner_is_the_only_gap(
    planted: ir.KnowledgeBase, report: ir.AuditReport
) -> None:
    (gap,) = report.filter(kind="gap")
    assert gap.region == GAP_REGION
    # 14 of 22 line counts (0..20 or not stated), 1 of 4 infection and 1 of 3 pregnancy values
    assert gap.region_size == SPACE // len(JOINT_VALUES) * 14 // 22 // 4 // 3
    assert "not in []" not in gap.message
    assert_example_shows(planted, gap)


def test_the_unflagged_conflict_is_found_with_its_region(
    planted: ir.KnowledgeBase, report: ir.AuditReport
) -> None:
    (conflict,) = report.filter(kind="unresolved_conflict", rule_id="PLANTED-STEROIDS")
    assert conflict.rule_ids == ("PLANTED-CPI", "PLANTED-STEROIDS")
    assert conflict.region == {
        "condition": [PLANTED_CONDITION],
        "severity": ["severe"],
        "prior_lines_of_therapy": list(range(2, 21)),
    }
    assert conflict.region_size == SPACE // len(JOINT_VALUES) // 4 * 19 // 22  # of 22 values
    assert "immunosuppressants (from PLANTED-STEROIDS)" in conflict.message
    assert_example_shows(planted, conflict)


def test_the_dead_rule_is_found(report: ir.AuditReport) -> None:
    (dead,) = report.filter(kind="dead_rule", rule_id="PLANTED-DEAD")
    assert "melanoma is oncology" in dead.message
    assert dead.example_profile is None


def test_the_masked_rule_is_found_with_its_region(
    planted: ir.KnowledgeBase, report: ir.AuditReport
) -> None:
    (masked,) = report.filter(kind="masked_rule", rule_id="PLANTED-TNF")
    assert masked.rule_ids == ("PLANTED-TNF", "PLANTED-NO-TNF")
    assert masked.region == {"condition": [PLANTED_CONDITION], "severity": ["mild"]}
    assert masked.region_size == SPACE // len(JOINT_VALUES) // 4
    assert_example_shows(planted, masked)
    assert report.filter(kind="masked_rule", rule_id="PLANTED-NO-TNF") == (masked,)


def test_every_example_shows_its_finding(planted: ir.KnowledgeBase, report: ir.AuditReport) -> None:
    for finding in report.findings:
        assert_example_shows(planted, finding)


def test_a_capped_report_counts_every_finding(
    planted: ir.KnowledgeBase, report: ir.AuditReport
) -> None:
    capped = ir.audit(planted, max_findings=2)
    assert capped.totals == report.totals
    assert capped.counts() == report.counts()
    assert capped.truncated and not report.truncated
    for kind, total in report.totals.items():
        shown = capped.filter(kind=kind)
        assert len(shown) == min(total, 2)
        assert capped.total(kind) == total
        largest = sorted((f.region_size or 0 for f in report.filter(kind=kind)), reverse=True)
        assert sorted((f.region_size or 0 for f in shown), reverse=True) == largest[:2]
    assert "findings, 2 listed (max_findings=2" in capped.to_text()
