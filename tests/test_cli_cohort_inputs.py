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
