"""The command line under hostile or broken input, closed pipes and interrupts: exit codes hold,
messages stay one paragraph (or one line per bad JSON line), and nothing raw reaches a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import immunorules as ir
from immunorules._cli.main import main

from .conftest import EVIDENCE, rule

SRC = Path(__file__).resolve().parents[1] / "src"
PSORIASIS = {"immune_activity": "overactive", "condition": "psoriasis"}
BAD_RULE = "  - id: bad id\n    title: t\n    then: {advise: [hbv_screen]}\n    because: b\n"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """Run the CLI in-process from ``tmp_path``; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def _process(*argv: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "immunorules", *argv], env=ENV, **kwargs
    )


def _one_paragraph(err: str) -> None:
    assert err.startswith("immunorules: error: "), err
    assert "Traceback" not in err and "internal error" not in err
    assert "\n\n" not in err.strip()


# -- rule files that are too deep or too long (validate) ---------------------------------------


def test_validate_reports_a_deep_file_and_still_lists_the_other_files(
    run: Run, tmp_path: Path
) -> None:
    (tmp_path / "a_deep.yaml").write_text(
        "rules:\n  - id: X-1\n    title: t\n    when: " + "[" * 500 + "]" * 500 + "\n"
    )
    (tmp_path / "b_other.yaml").write_text("rules:\n" + BAD_RULE)
    code, out, err = run("validate", str(tmp_path))
    assert (code, err) == (1, "")
    assert "a_deep.yaml:4 $.rules[0].when[0]" in out and "nested too deeply" in out
    assert "b_other.yaml:2" in out and "not a valid rule id" in out


def test_validate_lists_fifty_problems_of_a_file_then_counts_the_rest(
    run: Run, tmp_path: Path
) -> None:
    (tmp_path / "a_many.yaml").write_text("rules:\n" + BAD_RULE * 1000)
    (tmp_path / "b_one.yaml").write_text("rules:\n" + BAD_RULE)
    code, out, _ = run("validate", str(tmp_path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "INVALID: the rule files have problems (1,001 problems):"
    assert sum("a_many.yaml:" in line for line in lines) == 50
    assert sum("b_one.yaml:" in line for line in lines) == 1
    assert lines[-1] == "  ... and 950 more problems in a_many.yaml"


def test_long_values_are_shortened_in_messages(run: Run, tmp_path: Path) -> None:
    key = "k" * 1_000_000
    (tmp_path / "dupes.json").write_text(f'{{"{key}": 1, "{key}": 2}}')
    code, out, err = run("evaluate", "dupes.json")
    assert (code, out) == (2, "")
    _one_paragraph(err)
    assert "appears twice" in err and len(err) < 500
    code, _, err = run("evaluate", "x" * 10_000 + ".json")  # also too long for the file system
    assert code == 2 and "does not exist" in err and len(err) < 500
    code, _, err = run("validate", "y" * 10_000)
    assert code == 2 and "does not exist" in err and len(err) < 500


# -- a reader that goes away -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["validate", "BAD"], 1),
        (["audit", "--rules", "GAPPY", "--engine", "native"], 1),
        (["evaluate", "MISSING.json"], 2),
        (["validate", "GOOD"], 0),
    ],
)
def test_exit_code_holds_when_stdout_is_closed(
    tmp_path: Path, argv: list[str], expected: int
) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.yaml").write_text("rules:\n" + BAD_RULE * 2000)  # > a pipe buffer
    gappy = Path(__file__).parent / "data" / "audit" / "gap_positive.yaml"
    places = {
        "BAD": str(tmp_path / "bad"),
        "GAPPY": str(gappy),
        "MISSING.json": str(tmp_path / "missing.json"),
        "GOOD": str(ir.BUNDLED_RULES),
    }
    process = _process(
        *[places.get(a, a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before anything is written (`| head -c 0`)
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == expected
    assert "Traceback" not in err and "Exception ignored" not in err
    assert "BrokenPipe" not in err


# -- profiles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_deeply_nested_json_profile_is_invalid_input(run: Run, tmp_path: Path, depth: int) -> None:
    (tmp_path / "deep.json").write_text('{"condition": ' + "[" * depth + "]" * depth + "}")
    code, out, err = run("evaluate", "deep.json")
    assert (code, out) == (2, "")
    _one_paragraph(err)
    assert "nested too deeply" in err


def _cohort(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "cohort.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n")
    return str(path)


def test_json_lines_keep_every_good_row_and_report_bad_lines(run: Run, tmp_path: Path) -> None:
    good = json.dumps(PSORIASIS)
    cohort = _cohort(tmp_path, good, "{oops", good, '"a string"', good)
    code, out, err = run("evaluate", cohort, "--format", "json", "--engine", "native")
    assert code == 1
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == 3
    assert all(r["profile"]["condition"] == "psoriasis" for r in results)
    errors = err.splitlines()
    assert (
        errors[0].startswith("immunorules: error: ")
        and "cohort.jsonl line 2 is not valid" in errors[0]
    )
    assert "cohort.jsonl line 4 holds a string, not a JSON object" in errors[1]
    assert "2 of 5 lines of " in errors[2] and "are not valid profiles" in errors[2]
    code, out, err = run("evaluate", cohort, "--engine", "native")
    assert code == 1
    assert "Profile 1 (" in out and "cohort.jsonl line 3)" in out and "cohort.jsonl line 5)" in out
    assert "line 2)" not in out


def test_json_lines_split_at_newline_only(run: Run, tmp_path: Path) -> None:
    # U+2028 inside a JSON string is a character, not a line break (str.splitlines breaks there)
    odd = json.dumps({**PSORIASIS, "condition": "psori\u2028asis"}, ensure_ascii=False)
    assert "\u2028" in odd
    cohort = _cohort(tmp_path, odd, json.dumps(PSORIASIS))
    code, out, err = run("evaluate", cohort, "--format", "json", "--engine", "native")
    assert code == 1
    assert len(out.splitlines()) == 1
    (first, summary) = err.splitlines()
    assert "cohort.jsonl line 1 is not a valid condition profile" in first
    assert "1 of 2 lines" in summary
    code, out, _ = run("evaluate", cohort, "--engine", "native")
    assert "cohort.jsonl line 2)" in out  # numbering is not shifted


def test_a_bad_utf8_line_is_one_bad_line(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "cohort.jsonl"
    good = json.dumps(PSORIASIS).encode()
    path.write_bytes(good + b'\n{"condition": "\xe9"}\n' + good + b"\r\n")
    code, out, err = run("evaluate", str(path), "--format", "json", "--engine", "native")
    assert code == 1 and len(out.splitlines()) == 2
    assert "line 2 is not UTF-8 text" in err


def test_json_lines_answers_are_written_as_they_are_made(tmp_path: Path) -> None:
    """Each answer comes out while standard input is still open: nothing waits for the end."""
    process = _process(
        "evaluate",
        "-",
        "--format",
        "json",
        "--engine",
        "native",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    line = (json.dumps(PSORIASIS) + "\n").encode()
    process.stdin.write(line * 2)
    process.stdin.flush()
    answers: list[bytes] = []
    reader = threading.Thread(
        target=lambda: answers.extend(process.stdout.readline() for _ in range(2)),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    reader.join(timeout=60)
    answered, still_open = len(answers), process.poll() is None
    process.stdin.close()
    process.wait(timeout=120)
    assert answered == 2 and still_open, "answers must not wait for the end of the input"
    assert json.loads(answers[1])["profile"]["condition"] == "psoriasis"
    assert process.returncode == 0


# -- text from rule files reaches the terminal escaped ------------------------------------------


def _control_rules(folder: Path) -> str:
    evil = rule("CTL-1", {"advise": ["hbv_screen"]}, {"condition": "psoriasis"})
    evil["title"] = "Evil \x1b[31mred\x1b[0m \x07bell \x9b31m \u202eright-to-left\rover"
    evil["because"] = "Because \x1b[2J cleared"
    folder.mkdir()
    (folder / "r.yaml").write_text(yaml.safe_dump({"evidence": EVIDENCE, "rules": [evil]}))
    return str(folder)


def _raw_controls(text: str) -> list[str]:
    return [
        c
        for c in text
        if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F or c == "\u202e"
    ]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_control_characters_are_escaped_in_text_output(run: Run, tmp_path: Path, fmt: str) -> None:
    rules = _control_rules(tmp_path / "ctl")
    (tmp_path / "p.json").write_text(json.dumps(PSORIASIS))
    code, out, err = run("evaluate", "p.json", "--rules", rules, "--format", fmt)
    assert (code, err) == (0, "")
    assert "Evil" in out and _raw_controls(out) == []
    assert "\\x1b" in out and "\\x07" in out and "\\x9b" in out and "\\u202e" in out
    code, out, _ = run("explain", "p.json", "--rules", rules, "--category", "immunosuppressants")
    assert code == 0 and _raw_controls(out) == []


def test_control_characters_are_json_escapes_in_json_output(run: Run, tmp_path: Path) -> None:
    rules = _control_rules(tmp_path / "ctl")
    (tmp_path / "p.json").write_text(json.dumps(PSORIASIS))
    code, out, _ = run("evaluate", "p.json", "--rules", rules, "--format", "json")
    assert code == 0 and _raw_controls(out) == []
    (reason,) = json.loads(out)["advisories"][0]["reasons"]
    assert reason["title"] == "Evil \x1b[31mred\x1b[0m \x07bell \x9b31m \u202eright-to-left\rover"


def test_control_characters_in_rule_problems_are_escaped(run: Run, tmp_path: Path) -> None:
    (tmp_path / "r\x1b[31m.yaml").write_text('rules:\n  - id: X-1\n    "ti\\etle\\a": t\n')
    code, out, _ = run("validate", str(tmp_path))
    assert code == 1 and _raw_controls(out) == []
    assert "r\\x1b[31m.yaml:3" in out


# -- interrupts --------------------------------------------------------------------------------

_INTERRUPTED_IMPORT = """
import sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "pydantic":  # the package's first heavy import
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupt())
from immunorules._cli.main import main  # what the installed `immunorules` script runs
sys.exit(main(["validate", "."]))
"""


def test_ctrl_c_while_the_package_loads_exits_130_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_IMPORT],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert done.returncode == 130
    assert done.stderr == "immunorules: interrupted.\n"
    assert done.stdout == ""


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = (
        "import sys, immunorules, immunorules._cli.main as m\n"
        "heavy = {'pydantic', 'yaml', 'durable'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
        "print(immunorules.ConditionProfile.__name__, 'evaluate' in dir(immunorules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=True
    )
    assert done.stdout.splitlines() == ["[]", "ConditionProfile True"]


# -- engines -----------------------------------------------------------------------------------


def test_engine_error_names_the_cli_option(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from immunorules._engines import durable

    (tmp_path / "p.json").write_text(json.dumps(PSORIASIS))
    monkeypatch.setattr(durable, "_IMPORT_ERROR", ImportError("No module named 'durable'"))
    code, out, err = run("evaluate", "p.json", "--engine", "durable")
    assert (code, out) == (2, "")
    _one_paragraph(err)
    assert "use --engine native" in err and "engine='native'" not in err
    monkeypatch.setattr(durable, "durable_available", lambda: True)  # the matcher's own check
    code, _, err = run("audit", "--engine", "durable")
    assert code == 2 and "use --engine native" in err and "engine=" not in err
