"""``immunorules export --format dmn|jdm|xlsx OUT [--rules DIR]``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import immunorules as ir
from immunorules._cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "own_vocabulary" / "rules"


def test_export_dmn_and_jdm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dmn = tmp_path / "kb.dmn"
    assert main(["export", "--format", "dmn", str(dmn), "--rules", str(EXAMPLE)]) == 0
    assert dmn.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "https://www.omg.org/spec/DMN/20191111/MODEL/" in dmn.read_text()
    jdm = tmp_path / "kb.json"
    assert main(["export", "--format", "jdm", str(jdm), "--rules", str(EXAMPLE)]) == 0
    graph = json.loads(jdm.read_text())
    assert graph["contentType"] == "application/vnd.gorules.decision"
    assert "wrote jdm" in capsys.readouterr().err


def test_export_xlsx_writes_a_workbook_that_loads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kb.xlsx"
    code = main(["export", "--format", "xlsx", str(out), "--rules", str(EXAMPLE)])
    assert code == 0 and "wrote xlsx" in capsys.readouterr().err
    assert ir.load_rules(out).fingerprint == ir.load_rules(EXAMPLE).fingerprint


def test_export_refuses_bad_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--format", "dmn", str(tmp_path / "missing" / "kb.dmn")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", "--format", "dmn", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    rule_file = sorted(EXAMPLE.glob("*.yaml"))[0]
    copy = tmp_path / "rules"
    copy.mkdir()
    (copy / rule_file.name).write_text(rule_file.read_text())
    target = copy / rule_file.name
    assert main(["export", "--format", "jdm", str(target), "--rules", str(copy)]) == 2
    assert "rule file" in capsys.readouterr().err
    assert target.read_text() == rule_file.read_text()


def test_export_needs_a_known_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--format", "csv", "out.csv"]) == 2
    assert "invalid choice: 'csv'" in capsys.readouterr().err
