"""The decision-table view of a knowledge base (kb.decision_table()) and the rule catalogue."""

from __future__ import annotations

import csv
import io
import runpy
import sys
from pathlib import Path

import pytest

import immunorules as ir

ROOT = Path(__file__).resolve().parents[1]
RULES = Path(__file__).parent / "data" / "decision_table"


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(RULES, engine="native")


def test_one_row_per_active_rule_with_conditions_per_field(kb: ir.KnowledgeBase) -> None:
    table = kb.decision_table()
    assert isinstance(table, ir.DecisionTable)
    assert [row.rule_id for row in table] == ["RA-ESCALATE-BIOLOGIC", "RA-FIRST"]
    assert len(table) == 2 and table[1].rule_id == "RA-FIRST"
    row = table.row("RA-ESCALATE-BIOLOGIC")
    assert row.conditions == {
        "condition": "rheumatoid_arthritis",
        "transplant_status": "not solid_organ_recipient or not stated",
        "prior_lines_of_therapy": ">= 1",
        "infection_status": "none",
        "heart_failure": "false",
    }
    assert row.suggest == (
        "biologic_therapies (escalation: tnf_inhibitors, interleukin_inhibitors)",
    )
    assert row.avoid == ("jak_inhibitors", "immunostimulants (all)")  # as written
    assert row.advise == ("latent_tb_screen_and_treat", "hbv_screen")
    assert row.evidence == ("ACR2021",)
    assert row.area == "autoimmune"
    assert table.row("RA-FIRST").conditions["prior_lines_of_therapy"] == "0"
    with pytest.raises(KeyError):
        table.row("NOPE")


def test_inactive_rules_on_request(kb: ir.KnowledgeBase) -> None:
    table = kb.decision_table(include_inactive=True)
    assert [row.status for row in table] == ["draft", "active", "active"]
    assert table.row("RA-DRAFT-JAK").conditions["severity"] == "moderate, severe"
    assert "| status |" in table.to_markdown()
    assert "| status |" not in kb.decision_table().to_markdown()


def test_markdown_has_a_column_per_tested_field_and_escapes_pipes(kb: ir.KnowledgeBase) -> None:
    text = kb.decision_table().to_markdown()
    header, rule, *rows = text.splitlines()
    assert header == (
        "| rule | title | condition | transplant_status | prior_lines_of_therapy | "
        "infection_status | heart_failure | suggest | flag | avoid | advise | evidence |"
    )
    assert rule == "|" + "---|" * 12
    first = rows[0]
    assert "Add a biologic \\| when" in first
    assert "| not solid_organ_recipient or not stated | >= 1 | none | false |" in first
    assert "jak_inhibitors<br>immunostimulants (all)" in first
    assert "| rheumatoid_arthritis | - | 0 | - | - |" in rows[1]


def test_csv_round_trips(kb: ir.KnowledgeBase) -> None:
    rows = list(csv.DictReader(io.StringIO(kb.decision_table().to_csv())))
    assert [row["rule_id"] for row in rows] == ["RA-ESCALATE-BIOLOGIC", "RA-FIRST"]
    first = rows[0]
    assert first["title"] == "Add a biologic | when methotrexate has not reached target"
    assert first["prior_lines_of_therapy"] == ">= 1"
    assert first["advise"] == "latent_tb_screen_and_treat; hbv_screen"
    assert first["file"].endswith("ra.yaml") and int(first["line"]) > 1
    assert rows[1]["infection_status"] == ""  # any value


def test_flat_records_for_renderers(kb: ir.KnowledgeBase) -> None:
    record = kb.decision_table().to_records()[0]
    assert record["rule"] == "RA-ESCALATE-BIOLOGIC"
    assert record["when"] == (
        "condition = rheumatoid_arthritis; "
        "transplant_status not solid_organ_recipient or not stated; "
        "prior_lines_of_therapy >= 1; infection_status = none; heart_failure = false"
    )
    assert kb.decision_table()[0]["suggest"] == record["suggest"]
    assert kb.decision_table()[1].model_dump()["rule_id"] == "RA-FIRST"


def test_by_file_and_notebook_repr(kb: ir.KnowledgeBase) -> None:
    table = kb.decision_table()
    (only,) = table.by_file().values()
    assert [row.rule_id for row in only] == ["RA-FIRST", "RA-ESCALATE-BIOLOGIC"]  # file order
    assert table._repr_markdown_() == table.to_markdown()


def test_rule_catalogue_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "catalogue.md"
    argv = ["make_rule_catalogue.py", "--rules", str(RULES), "--output", str(output)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(ROOT / "docs" / "make_rule_catalogue.py"), run_name="__main__")
    text = output.read_text()
    assert text.startswith("# Rule catalogue")
    assert ir.NOT_FOR_CLINICAL_USE in text
    assert "## ra.yaml" in text and "`RA-FIRST`" in text
    assert "**ACR2021**: Fraenkel" in text
