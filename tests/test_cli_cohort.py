"""``immunorules cohort``: Parquet, CSV and JSON Lines in and out, streamed in batches; invalid
rows reported by row number and kept; exit codes 0, 1 and 2; FHIR Bulk Data input."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import immunorules as ir
from immunorules._cli.main import main

from .conftest import require

pa = require("pyarrow")
pq = require("pyarrow.parquet")
pacsv = require("pyarrow.csv")

ROOT = Path(__file__).resolve().parents[1]
GCA_RULES = ROOT / "examples" / "own_vocabulary" / "rules"
FHIR_EXPORT = ROOT.parent / "shared" / "data" / "fhir" / "smart-bulk-10-patients-ndjson"
RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}
ROWS: list[dict[str, Any]] = [
    {"patient_id": "p1", **RA, "prior_lines_of_therapy": 1},
    {"patient_id": "p2", **RA, "severity": "sever"},
    {"patient_id": "p3", "immune_activity": "underactive", "condition": "melanoma",
     "transplant_status": "solid_organ_recipient"},
    {"patient_id": "p4", "immune_activity": "balanced", "disease_area": "allergic",
     "latent_tuberculosis": True},
    {"patient_id": "p5", **RA, "prior_lines_of_therapy": 30},
]  # fmt: skip
INVALID = {"p2", "p5"}

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    monkeypatch.chdir(tmp_path)

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(["cohort", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules()


def _table(rows: list[dict[str, Any]]) -> Any:
    names = list(dict.fromkeys(key for row in rows for key in row))
    return pa.table({name: [row.get(name) for row in rows] for name in names})


def write(path: Path, rows: list[dict[str, Any]]) -> str:
    if path.suffix == ".parquet":
        pq.write_table(_table(rows), path)
    elif path.suffix == ".csv":
        pacsv.write_csv(_table(rows), path)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def read(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows
    if path.suffix == ".csv":
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
        rows = table.to_pylist()
        for row in rows:
            for name in ("avoided", "advisories", "fired_rules"):
                text = row[name]
                row[name] = None if text is None else [p for p in str(text).split("|") if p]
        return rows
    return [json.loads(line) for line in path.read_text().splitlines()]


def expected(kb: ir.KnowledgeBase, row: dict[str, Any]) -> tuple[Any, Any]:
    data = {k: v for k, v in row.items() if k != "patient_id"}
    try:
        return list(kb.evaluate(data).fired_rules), None
    except ir.ProfileError as exc:
        return None, str(exc)


FORMATS = [".parquet", ".csv", ".jsonl"]


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_every_format_in_and_out(
    run: Run, kb: ir.KnowledgeBase, tmp_path: Path, source: str, target: str
) -> None:
    cohort = write(tmp_path / f"in{source}", ROWS)
    code, out, err = run(cohort, f"out{target}", "--batch-size", "2")
    assert code == 1 and out == ""
    label = "line" if source == ".jsonl" else "row"
    assert f"{label} 2: invalid condition profile (1 problem): severity: 'sever'" in err
    assert f"{label} 5: invalid condition profile (1 problem): prior_lines_of_therapy: 30" in err
    assert "2 invalid rows" in err and "Traceback" not in err
    found = read(tmp_path / f"out{target}")
    assert [row["patient_id"] for row in found] == [row["patient_id"] for row in ROWS]
    for row, answer in zip(ROWS, found, strict=True):
        fired, error = expected(kb, row)
        assert (answer["fired_rules"], answer["error"]) == (fired, error), row["patient_id"]
        assert (answer["covered"] is None) == (row["patient_id"] in INVALID)
    assert not list(tmp_path.glob(".*partial"))


def test_all_valid_exits_0_and_says_nothing(run: Run, tmp_path: Path) -> None:
    valid = [row for row in ROWS if row["patient_id"] not in INVALID]
    code, _, err = run(write(tmp_path / "in.parquet", valid), "out.parquet")
    assert (code, err) == (0, "")
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names[:3] == ["patient_id", "covered", "conflict"]
    assert table.column("error").null_count == len(valid)


def test_csv_text_is_read_by_field_type(run: Run, tmp_path: Path) -> None:
    lines = [
        "pid,immune_activity,condition,age,visual_symptoms,prior_therapy_classes",
        "a,overactive,giant_cell_arteritis,80,TRUE,il6_pathway_inhibitors",
        "b,overactive,giant_cell_arteritis,80.0,false,",
        "c,overactive,giant_cell_arteritis,eighty,false,",
        "d,overactive,giant_cell_arteritis,,yes,tnf_inhibitors|il6_pathway_inhibitors",
    ]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    code, _, err = run("in.csv", "out.jsonl", "--rules", str(GCA_RULES))
    assert code == 1
    found = read(tmp_path / "out.jsonl")
    gca = ir.load_rules(GCA_RULES)
    base = {"immune_activity": "overactive", "condition": "giant_cell_arteritis"}
    first = gca.evaluate(
        {
            **base,
            "age": 80,
            "visual_symptoms": True,
            "prior_therapy_classes": ["il6_pathway_inhibitors"],
        }
    )
    assert found[0]["fired_rules"] == list(first.fired_rules)
    assert found[1]["fired_rules"] == list(gca.evaluate({**base, "age": 80}).fired_rules)
    assert "age: expected an integer, got str 'eighty'" in found[2]["error"]
    assert "visual_symptoms: expected a boolean" in found[3]["error"]
    assert "row 3:" in err and "row 4:" in err


def test_json_lines_keep_line_numbers_and_bad_lines_are_invalid_rows(
    run: Run, tmp_path: Path
) -> None:
    text = "\n".join(
        [json.dumps(ROWS[0]), "", "{not json", json.dumps([1, 2]), json.dumps(ROWS[2])]
    )
    (tmp_path / "in.jsonl").write_text(text + "\n")
    code, _, err = run("in.jsonl", "out.jsonl")
    assert code == 1
    assert "line 3: not valid JSON" in err
    assert "line 4: invalid condition profile (1 problem): $: a profile must be a mapping" in err
    found = read(tmp_path / "out.jsonl")
    assert [row["patient_id"] for row in found] == ["p1", None, None, "p3"]
    assert found[0]["error"] is None and found[3]["error"] is None


def test_id_columns_by_name(run: Run, tmp_path: Path) -> None:
    rows = [{**row, "site": "north"} for row in ROWS[:1]]
    cohort = write(tmp_path / "in.parquet", rows)
    code, _, _ = run(cohort, "out.parquet", "--id-column", "site", "--id-column", "patient_id")
    assert code == 0
    assert pq.read_table(tmp_path / "out.parquet").column_names[:2] == ["site", "patient_id"]
    code, _, err = run(cohort, "out2.parquet", "--id-column", "patient_id")
    assert code == 2
    assert "site: unknown column (not a profile field)" in err
    assert not (tmp_path / "out2.parquet").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.parquet", "out.parquet"], "'missing.parquet' does not exist"),
        (["in.parquet", "out.xlsx"], "OUT 'out.xlsx' has an extension"),
        (["in.txt", "out.csv"], "IN 'in.txt' has an extension"),
        ([".", "out.csv"], "is a folder"),
        (["in.parquet", "nowhere/out.csv"], "the folder of OUT, 'nowhere', does not exist"),
        (["broken.parquet", "out.csv"], "not a readable Parquet file"),
        (["empty.csv", "out.csv"], "is empty"),
        (["in.parquet", "out.csv", "--batch-size", "0"], "--batch-size must be 1 or more"),
        (["in.parquet", "out.csv", "--id-column", "nope"], "id columns not in the table: 'nope'"),
    ],
)
def test_bad_input_exits_2_with_one_paragraph(
    run: Run, tmp_path: Path, argv: list[str], message: str
) -> None:
    write(tmp_path / "in.parquet", ROWS)
    (tmp_path / "in.txt").write_text("x")
    (tmp_path / "broken.parquet").write_text("not parquet")
    (tmp_path / "empty.csv").write_text("")
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert message in err, err
    assert err.startswith("immunorules: error: ") and err.count("\n") == 1
    assert not (tmp_path / "out.csv").exists()


def test_fhir_needs_a_folder(run: Run, tmp_path: Path) -> None:
    write(tmp_path / "in.parquet", ROWS)
    code, _, err = run("--fhir", "in.parquet", "out.csv")
    assert code == 2 and "needs IN to be a FHIR Bulk Data export folder" in err


def test_fhir_without_the_fhir_module_exits_2(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "immunorules.fhir", None)  # as if it were not installed
    code, _, err = run("--fhir", str(tmp_path), "out.csv")
    assert code == 2
    assert "--fhir needs the FHIR input module (immunorules.fhir)" in err


def test_fhir_profiles_are_evaluated_per_patient(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kb: ir.KnowledgeBase
) -> None:
    """The command's side of the contract, with a stand-in for profiles_from_bulk."""
    seen: list[Any] = []

    def profiles_from_bulk(folder: Path, *, kb: ir.KnowledgeBase) -> Iterator[tuple[str, Any]]:
        seen.append((Path(folder), kb))
        for number, data in enumerate([RA, {**RA, "prior_lines_of_therapy": 2}], 1):
            profile = kb.parse(data)
            yield (
                f"patient-{number}",
                types.SimpleNamespace(
                    profile=profile, warnings=["two treatable conditions"], unknown=["severity"]
                ),
            )
        empty = types.SimpleNamespace(profile=None, warnings=["no treatable problem"], unknown=[])
        yield "patient-3", empty

    stand_in = types.ModuleType("immunorules.fhir")
    stand_in.profiles_from_bulk = profiles_from_bulk  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "immunorules.fhir", stand_in)
    (tmp_path / "export").mkdir()
    code, _, err = run("--fhir", "export", "out.jsonl")
    assert code == 1
    assert "patient patient-3: the FHIR record gives no profile: no treatable problem" in err
    assert seen[0][0] == Path("export") and seen[0][1].fingerprint == kb.fingerprint
    found = read(tmp_path / "out.jsonl")
    assert [row["patient_id"] for row in found] == ["patient-1", "patient-2", "patient-3"]
    assert found[2]["fired_rules"] is None and found[2]["error"].startswith("the FHIR record")
    assert found[0]["fhir_warnings"] == ["two treatable conditions"]
    assert found[0]["fhir_unknown"] == ["severity"]
    assert found[1]["fired_rules"] == list(
        kb.evaluate({**RA, "prior_lines_of_therapy": 2}).fired_rules
    )


@pytest.mark.skipif(
    importlib.util.find_spec("immunorules.fhir") is None,
    reason="immunorules.fhir (FHIR input) is not in this installation yet",
)
@pytest.mark.skipif(not FHIR_EXPORT.is_dir(), reason="the shared FHIR Bulk Data sample is absent")
def test_fhir_bulk_export(run: Run, tmp_path: Path, kb: ir.KnowledgeBase) -> None:
    from immunorules.fhir import profiles_from_bulk

    code, _, err = run("--fhir", str(FHIR_EXPORT), "out.parquet")
    assert code in (0, 1), err
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    expected = list(profiles_from_bulk(FHIR_EXPORT, kb=kb))
    assert [row["patient_id"] for row in rows] == [patient for patient, _ in expected]
    for row, (_, found) in zip(rows, expected, strict=True):
        if found.profile is None:
            assert row["error"].startswith("the FHIR record gives no profile")
        else:
            assert row["fired_rules"] == list(kb.evaluate(found.profile).fired_rules)
    assert code == (1 if any(found.profile is None for _, found in expected) else 0)


def test_a_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    cohort = write(tmp_path / "in.parquet", ROWS * 40)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "immunorules", "cohort", cohort, str(tmp_path / "o.csv")]
    piped = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert piped.returncode == 1 and "rows" not in piped.stderr.replace("invalid rows", "")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    with subprocess.Popen(command, stderr=follower, stdout=subprocess.DEVNULL, env=env) as child:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert child.wait(timeout=120) == 1
    os.close(leader)
    shown = b"".join(chunks).decode(errors="replace")
    assert "0/200 [" in shown and " rows/s]" in shown  # tqdm's bar: "0/200 [00:00<?, ? rows/s]"


def test_a_json_line_that_is_not_utf8_is_an_invalid_row(run: Run, tmp_path: Path) -> None:
    """Issue 23 item 4: one line of invalid UTF-8 failed the whole file (exit 2, no output)."""
    good = [json.dumps(ROWS[0]).encode(), json.dumps(ROWS[2]).encode()]
    (tmp_path / "in.jsonl").write_bytes(
        good[0] + b'\n{"patient_id": "\xff\xfe"}\n' + good[1] + b"\n"
    )
    code, _, err = run("in.jsonl", "out.jsonl")
    assert code == 1, err
    assert "line 2: not valid" in err and "UTF-8" in err
    found = read(tmp_path / "out.jsonl")
    assert [row["patient_id"] for row in found] == ["p1", None, "p3"]
    assert found[0]["error"] is None and found[2]["error"] is None
