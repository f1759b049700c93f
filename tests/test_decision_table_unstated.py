"""The decision table says when a condition matches a field that is not stated: ``not stated``
alone, ``... or not stated`` beside stated values, and never ``null``; a negative condition
(which does not match not stated) reads without it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml

import immunorules as ir

from .conftest import EVIDENCE

VOCABULARY = {
    "fields": [
        {"id": "score", "type": "integer", "min": 0, "max": 5},
        {"id": "smoker", "type": "boolean"},
        {"id": "flags", "type": "set", "values": ["a", "b", "c"]},
    ]
}


def _rule(rule_id: str, when: dict[str, object]) -> dict[str, object]:
    return {"id": rule_id, "title": rule_id, "because": "Test.", "evidence": ["E1"],
            "when": when, "then": {"advise": ["hbv_screen"]}}  # fmt: skip


RULES = [
    _rule("DT-ONE", {"smoker": None, "score": {"max": 1, "or_not_stated": True},
                     "severity": ["severe", None]}),
    _rule("DT-TWO", {"smoker": [True, None], "score": None,
                     "flags": {"includes": ["a"], "or_not_stated": True}}),
    _rule("DT-THREE", {"flags": None, "severity": {"not": ["mild"], "or_not_stated": True},
                       "score": {"min": 2}}),
    _rule("DT-FOUR", {"severity": {"not": ["mild"]}, "smoker": False,
                      "transplant_status": {"not": ["solid_organ_recipient"]}}),
]  # fmt: skip


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> ir.DecisionTable:
    folder: Path = tmp_path_factory.mktemp("dt")
    data = {"vocabulary": VOCABULARY, "evidence": EVIDENCE, "rules": RULES}
    (folder / "own.yaml").write_text(yaml.safe_dump(data))
    return ir.load_rules(folder, engine="native").decision_table()


def test_conditions_say_not_stated(table: ir.DecisionTable) -> None:
    assert table.row("DT-ONE").conditions == {
        "severity": "severe or not stated",
        "score": "<= 1 or not stated",
        "smoker": "not stated",
    }
    assert table.row("DT-TWO").conditions == {
        "score": "not stated",
        "smoker": "true or not stated",
        "flags": "includes a or not stated",
    }
    assert table.row("DT-THREE").conditions == {
        "severity": "not mild or not stated",
        "score": ">= 2",
        "flags": "not stated",
    }
    # negative conditions do not match not stated, and say nothing of it
    four = table.row("DT-FOUR").conditions
    assert four["smoker"] == "false"
    assert four["severity"] == "moderate, severe"
    assert "null" not in four["transplant_status"]


def test_every_rendering_reads_it(table: ir.DecisionTable) -> None:
    when = table.row("DT-ONE").record()["when"]
    assert "smoker not stated" in when
    assert "severity = severe or not stated" in when
    assert "score <= 1 or not stated" in when
    assert table.row("DT-TWO").record()["when"].endswith("flags includes a or not stated")
    markdown = table.to_markdown()
    assert "| severe or not stated |" in markdown and "null" not in markdown
    rows = {row["rule_id"]: row for row in csv.DictReader(io.StringIO(table.to_csv()))}
    assert rows["DT-THREE"]["flags"] == "not stated"
    assert rows["DT-TWO"]["smoker"] == "true or not stated"
    page = table.to_html()
    assert "&lt;= 1 or not stated" in page and ">null<" not in page
