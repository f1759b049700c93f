"""``immunorules cohort``: inputs that once lost data or failed a whole file: OUT naming the
input itself (by another path, a symbolic link or a hard link), and CSV cells over the CSV
reader's default limits."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from immunorules._cli.main import main

from .conftest import require

require("pyarrow")

RA = "overactive,rheumatoid_arthritis"
CSV = f"patient_id,immune_activity,condition\np1,{RA}\np2,overactive,psoriasis\n"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    monkeypatch.chdir(tmp_path)

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(["cohort", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def _same(tmp_path: Path, how: str) -> str:
    """OUT naming tmp_path/in.csv, ``how``."""
    if how == "same":
        return "in.csv"
    if how == "absolute":
        return str(tmp_path / "in.csv")
    if how == "dotted":
        (tmp_path / "sub").mkdir()
        return "sub/../in.csv"
    if how == "symlink":
        (tmp_path / "link.csv").symlink_to(tmp_path / "in.csv")
        return "link.csv"
    (tmp_path / "hard.csv").hardlink_to(tmp_path / "in.csv")
    return "hard.csv"


@pytest.mark.parametrize("how", ["same", "absolute", "dotted", "symlink", "hardlink"])
def test_out_that_is_the_input_is_refused(run: Run, tmp_path: Path, how: str) -> None:
    (tmp_path / "in.csv").write_text(CSV)
    out = _same(tmp_path, how)
    code, _, err = run("in.csv", out)
    assert code == 2
    assert "is the cohort file itself" in err and "Traceback" not in err
    assert (tmp_path / "in.csv").read_text() == CSV  # untouched
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".partial")]


def test_out_through_a_symlinked_input(run: Run, tmp_path: Path) -> None:
    """IN a symbolic link, OUT the file it points to."""
    (tmp_path / "in.csv").write_text(CSV)
    (tmp_path / "link.csv").symlink_to(tmp_path / "in.csv")
    code, _, err = run("link.csv", "in.csv")
    assert code == 2 and "is the cohort file itself" in err
    assert (tmp_path / "in.csv").read_text() == CSV


def test_another_out_still_works(run: Run, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text(CSV)
    code, _, err = run("in.csv", "in.jsonl")
    assert (code, err) == (0, "")
    rows = [json.loads(line) for line in (tmp_path / "in.jsonl").read_text().splitlines()]
    assert [row["patient_id"] for row in rows] == ["p1", "p2"]


# -- CSV cells over the readers' default limits ---------------------------------------------------


def test_a_header_cell_over_the_csv_module_limit(run: Run, tmp_path: Path) -> None:
    """Python's csv module stops at 131,072 characters a cell by default."""
    long_name = "c" * 200_000
    (tmp_path / "in.csv").write_text(f"patient_id,immune_activity,condition,{long_name}\n"
                                      f"p1,{RA},x\n")  # fmt: skip
    code, _, err = run("in.csv", "out.jsonl")
    assert (code, err) == (0, "")
    (row,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert row["patient_id"] == "p1" and row[long_name] == "x" and row["error"] is None


def _answers(path: Path) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {str(row["patient_id"])[:10]: row for row in rows}


@pytest.mark.parametrize("size", [9_000_000])
def test_a_cell_over_the_block_size_is_one_row(run: Run, tmp_path: Path, size: int) -> None:
    """A cell larger than the CSV reader's block (4 MB) is read, not a failed file: in a profile
    field it makes its row invalid, in an id column it is passed through."""
    big = "y" * size
    lines = ["patient_id,immune_activity,condition"]
    lines += [f"a{i},{RA}" for i in range(3_000)]
    lines += [f"p2,overactive,{big}", f"p3,{RA}", f"{'q' * size},{RA}", f"p4,{RA}"]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    code, _, err = run("in.csv", "out.jsonl")
    assert code == 1 and "row 3001: invalid condition profile" in err
    assert "cannot read" not in err
    found = _answers(tmp_path / "out.jsonl")
    assert len(found) == 3_004
    assert found["p2"]["error"] and found["p3"]["error"] is None
    assert found["q" * 10]["error"] is None and found["p4"]["error"] is None
