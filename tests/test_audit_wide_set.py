"""The audit on a set field whose rules name many members together: its dimension has more values
than the conflict search's weighing can count a single undecided rule over (the search once chose
a dimension already decided there and raised ``ValueError``)."""

from __future__ import annotations

from pathlib import Path

import immunorules as ir

FOLDER = Path(__file__).parent / "data" / "audit_wide_set"


def test_a_conflict_behind_a_wide_set_condition_is_found_whole() -> None:
    kb = ir.load_rules(FOLDER, engine="native")
    report = ir.audit(kb)
    conflicts = report.filter(kind=["unresolved_conflict"])
    assert len(conflicts) == 1
    (finding,) = conflicts
    # the suppress side is the cause (one rule on each side: ties go to suppress)
    assert finding.rule_ids == ("MEL-STEROIDS", "MEL-CPI-AFTER")
    # melanoma profiles with any of the six classes among the prior therapies: the size the
    # pair-by-pair search (commit b80eb57) gave
    assert finding.region_size == 38_184_163_395_840
    example = kb.parse(finding.example_profile)
    assert example.condition == "melanoma"
    fired = set(kb.evaluate(example).fired_rules)
    assert {"MEL-STEROIDS", "MEL-CPI-AFTER"} <= fired
