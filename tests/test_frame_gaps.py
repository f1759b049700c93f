"""Tables with gaps: an empty cell is not stated, for every field type; ``0.0``/``1.0`` are
booleans in a boolean column (pandas reads a boolean column with gaps as floats); integral floats
are integers in an integer column, other floats a row error. pandas, pyarrow, polars and the
cohort command on CSV all read them alike, and give the answers ``evaluate`` gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import immunorules as ir
from immunorules._cli.main import main

from .conftest import EVIDENCE, require

pd = require("pandas")
pa = require("pyarrow")

ROOT = Path(__file__).resolve().parents[1]
COHORT = ROOT / "examples" / "profiles" / "cohort.jsonl"
RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def _fired(out: Any) -> list[list[str] | None]:
    if isinstance(out, pd.DataFrame):
        return [list(v) if v is not None else None for v in out["fired_rules"].tolist()]
    if isinstance(out, pa.Table | pa.RecordBatch):
        return list(out.column("fired_rules").to_pylist())
    return list(out["fired_rules"].to_list())


def _errors(out: Any) -> list[str | None]:
    if isinstance(out, pd.DataFrame):
        return [None if pd.isna(v) else v for v in out["error"].tolist()]
    if isinstance(out, pa.Table | pa.RecordBatch):
        return list(out.column("error").to_pylist())
    return list(out["error"].to_list())


def test_the_notebook_cohort_is_valid_in_every_table_library(kb: ir.KnowledgeBase) -> None:
    # pandas reads its boolean columns with gaps as float64 (1.0 / NaN): all 25 rows are valid
    rows = [json.loads(line) for line in COHORT.read_text().splitlines() if line.strip()]
    want = [list(kb.evaluate(row).fired_rules) for row in rows]
    frame = pd.read_json(COHORT, lines=True)
    assert frame["pregnant"].dtype.kind == "f"
    tables: list[Any] = [frame, pa.Table.from_pandas(frame, preserve_index=False)]
    try:
        import polars as pl
    except ImportError:  # pragma: no cover - polars is optional
        pass
    else:
        tables.append(pl.from_pandas(frame))
    for table in tables:
        out = kb.evaluate_frame(table)
        assert _errors(out) == [None] * len(rows), type(table)
        assert _fired(out) == want, type(table)


def test_float_booleans_and_integers(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame(
        {
            "immune_activity": ["overactive"] * 5,
            "condition": ["rheumatoid_arthritis"] * 5,
            "latent_tuberculosis": [1.0, 0.0, float("nan"), 0.5, 2.0],
            "prior_lines_of_therapy": [2.0, float("nan"), 1.0, 0.0, 1.5],
        }
    )
    out = kb.evaluate_frame(frame)
    errors = _errors(out)
    assert _fired(out)[0] == list(
        kb.evaluate({**RA, "latent_tuberculosis": True, "prior_lines_of_therapy": 2}).fired_rules
    )
    assert _fired(out)[1] == list(kb.evaluate({**RA, "latent_tuberculosis": False}).fired_rules)
    assert _fired(out)[2] == list(kb.evaluate({**RA, "prior_lines_of_therapy": 1}).fired_rules)
    assert errors[:3] == [None, None, None]
    assert errors[3] is not None and "latent_tuberculosis" in errors[3]
    assert "prior_lines_of_therapy" not in errors[3]
    assert errors[4] is not None and "latent_tuberculosis" in errors[4]
    assert "prior_lines_of_therapy" in errors[4]  # 1.5 is not an integer


def test_nullable_dtypes_of_every_library(kb: ir.KnowledgeBase) -> None:
    table = pa.table(
        {
            "immune_activity": ["overactive", "overactive"],
            "condition": ["rheumatoid_arthritis", None],
            "disease_area": [None, "autoimmune"],
            "pregnant": pa.array([None, True], pa.bool_()),
            "severity": pa.array([None, "severe"], pa.string()),
            "prior_lines_of_therapy": pa.array([None, 1.0], pa.float64()),
        }
    )
    want = [
        list(kb.evaluate(RA).fired_rules),
        list(
            kb.evaluate(
                {
                    "immune_activity": "overactive",
                    "disease_area": "autoimmune",
                    "pregnant": True,
                    "severity": "severe",
                    "prior_lines_of_therapy": 1,
                }
            ).fired_rules
        ),
    ]
    assert _fired(kb.evaluate_frame(table)) == want
    assert _fired(kb.evaluate_frame(table.to_pandas())) == want
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    assert _fired(kb.evaluate_frame(frame)) == want
    pl = require("polars")
    assert _fired(kb.evaluate_frame(pl.from_arrow(table))) == want


def _own_kb(folder: Path) -> ir.KnowledgeBase:
    """A vocabulary whose fields may be not stated but default to a stated value."""
    vocabulary = {
        "fields": [
            {"id": "smoker", "type": "boolean", "default": False, "nullable": True},
            {"id": "stage", "type": "enum", "values": ["early", "late"], "default": "early"},
            {"id": "tried", "type": "set", "values": ["a", "b"], "default": [], "nullable": True},
        ]
    }
    rules = [
        {"id": f"OWN-{name.upper()}", "title": name, "when": when, "because": "Test.",
         "evidence": ["E1"],
         "then": {"advise": ["hbv_screen"] if name == "smoker" else ["multidisciplinary_review"]
                  if name == "stage" else ["live_vaccines_contraindicated"]}}
        for name, when in (("smoker", {"smoker": None}), ("stage", {"stage": None}),
                           ("tried", {"tried": None}))
    ]  # fmt: skip
    folder.mkdir()
    data = {"vocabulary": vocabulary, "evidence": EVIDENCE, "rules": rules}
    (folder / "own.yaml").write_text(yaml.safe_dump(data))
    return ir.load_rules(folder, engine="native")


def test_an_empty_cell_is_not_stated_even_where_the_field_has_a_default(tmp_path: Path) -> None:
    kb = _own_kb(tmp_path / "own")
    base = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}
    omitted = kb.evaluate(base)
    assert not {"OWN-SMOKER", "OWN-STAGE", "OWN-TRIED"} & set(omitted.fired_rules)
    frame = pd.DataFrame(
        {
            **{key: [value, value] for key, value in base.items()},
            "smoker": [None, True],
            "stage": [None, "late"],
            "tried": [None, ["a"]],
        }
    )
    fired = _fired(kb.evaluate_frame(frame))
    assert {"OWN-SMOKER", "OWN-STAGE", "OWN-TRIED"} <= set(fired[0] or ())
    assert fired[0] == list(
        kb.evaluate({**base, "smoker": None, "stage": None, "tried": None}).fired_rules
    )
    assert not {"OWN-SMOKER", "OWN-STAGE", "OWN-TRIED"} & set(fired[1] or ())
    # a column the table does not have takes the default, as an omitted field does
    assert _fired(kb.evaluate_frame(pd.DataFrame([base]))) == [list(omitted.fired_rules)]
    # JSON Lines: null is not stated, a key left out takes the default (as in evaluate)
    from immunorules._evaluate.frame import evaluate_records

    records: list[dict[str, Any]] = [
        {**base, "smoker": None, "stage": None, "tried": None},
        base,
        {**base, "tried": []},
    ]
    batch = evaluate_records(kb, records, [])
    assert batch.column("fired_rules").to_pylist() == [
        list(kb.evaluate(record).fired_rules) for record in records
    ]
    assert {"OWN-SMOKER", "OWN-STAGE", "OWN-TRIED"} <= set(batch.column("fired_rules")[0].as_py())
    # the same in a row that validation has to look at (an invalid row is reported exactly)
    bad = pd.DataFrame({**{k: [v] for k, v in base.items()}, "smoker": [None], "stage": ["x"]})
    message = _errors(kb.evaluate_frame(bad))[0]
    with pytest.raises(ir.ProfileError) as raised:
        kb.evaluate({**base, "smoker": None, "stage": "x"})
    assert message == str(raised.value)


def test_the_cohort_command_reads_csv_with_gaps(
    kb: ir.KnowledgeBase,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the CSV pandas writes from the notebook's cohort: 1.0 in boolean columns, empty gaps
    frame = pd.read_json(COHORT, lines=True)
    frame.insert(0, "patient_id", [f"p{i}" for i in range(1, len(frame) + 1)])
    source = tmp_path / "cohort.csv"
    frame.to_csv(source, index=False)
    assert "1.0" in source.read_text()
    # and spelt-out gaps: NaN, NA and null are not stated too
    text = source.read_text().splitlines()
    text.append("p99,overactive,rheumatoid_arthritis,NaN,0,NA,null,,,,,,,,")
    source.write_text("\n".join(text) + "\n")
    monkeypatch.chdir(tmp_path)
    code = main(["cohort", str(source), "answers.jsonl"])
    _, err = capsys.readouterr()
    assert code == 0, err
    answers = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in COHORT.read_text().splitlines() if line.strip()]
    rows.append({**RA, "prior_lines_of_therapy": 0})
    assert [a["error"] for a in answers] == [None] * len(rows)
    assert [a["fired_rules"] for a in answers] == [
        list(kb.evaluate(row).fired_rules) for row in rows
    ]
