"""The command line (SPEC §9): commands, formats, exit codes, and bad input without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import immunorules as ir
from immunorules._cli.main import main

from .conftest import EVIDENCE, rule

NOTICE = "NOT FOR CLINICAL USE"
TRANSPLANT_MELANOMA = {
    "immune_activity": "underactive",
    "condition": "melanoma",
    "transplant_status": "solid_organ_recipient",
}
SRC = Path(__file__).resolve().parents[1] / "src"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "profiles"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """Run the CLI in-process from ``tmp_path``; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)

    def call(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return call


class _Stdin:
    def __init__(self, text: str) -> None:
        self._text = text

    def read(self) -> str:
        return self._text


def write_json(path: Path, data: object) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def write_rules(folder: Path, rules: list[dict[str, object]]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.yaml").write_text(yaml.safe_dump({"evidence": EVIDENCE, "rules": rules}))
    return str(folder)


def assert_one_paragraph(err: str) -> None:
    assert err.startswith("immunorules: error: "), err
    assert "Traceback" not in err
    assert "\n\n" not in err.strip(), "the message must be one paragraph"


@pytest.fixture
def profile(tmp_path: Path) -> str:
    return write_json(tmp_path / "profile.json", TRANSPLANT_MELANOMA)


# -- evaluate --------------------------------------------------------------------------------


def test_evaluate_text_markdown_and_json(run: Run, profile: str) -> None:
    code, out, err = run("evaluate", profile, "--engine", "native")
    assert (code, err) == (0, "")
    assert out.startswith("Research prototype - NOT FOR CLINICAL USE.")
    assert "Immunostimulants (stimulate): FLAGGED" in out and "CONFLICT" in out

    code, out, _ = run("evaluate", profile, "--format", "markdown", "--engine", "native")
    assert code == 0 and out.startswith("> **Research prototype - NOT FOR CLINICAL USE.")

    code, out, _ = run("evaluate", profile, "--format", "json", "--engine", "native")
    data = json.loads(out)
    assert code == 0 and data["notice"] == ir.NOT_FOR_CLINICAL_USE
    assert data == ir.load_rules(engine="native").evaluate(TRANSPLANT_MELANOMA).model_dump(
        mode="json"
    )


def test_evaluate_reads_stdin(run: Run) -> None:
    code, out, _ = run("evaluate", "-", "--format", "json", stdin=json.dumps(TRANSPLANT_MELANOMA))
    assert code == 0
    assert json.loads(out)["profile"]["condition"] == "melanoma"


def test_evaluate_json_lines(run: Run, tmp_path: Path) -> None:
    profiles = [TRANSPLANT_MELANOMA, {"immune_activity": "overactive", "condition": "psoriasis"}]
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text("\n".join(json.dumps(p) for p in profiles) + "\n\n")
    code, out, _ = run("evaluate", str(cohort), "--format", "json", "--engine", "native")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert [json.loads(line)["profile"]["condition"] for line in lines] == [
        "melanoma",
        "psoriasis",
    ]
    code, out, _ = run("evaluate", str(cohort), "--engine", "native")
    assert code == 0 and out.count(NOTICE) == 2
    assert "Profile 1 (" in out and "cohort.jsonl line 1)" in out
    assert "Profile 2 (" in out and "cohort.jsonl line 2)" in out
    # Several JSON objects on stdin are read as JSON Lines too.
    stdin = "\n".join(json.dumps(p) for p in profiles)
    code, out, _ = run("evaluate", "-", "--format", "markdown", stdin=stdin)
    assert code == 0 and "## Profile 2 (<stdin> line 2)" in out and out.count(NOTICE) == 2


def test_every_example_profile_evaluates(run: Run) -> None:
    files = sorted(EXAMPLES.glob("*.json"))
    assert len(files) >= 7
    for path in files:
        code, out, err = run("evaluate", str(path), "--format", "json", "--engine", "native")
        assert (code, err) == (0, ""), path
        assert json.loads(out)["covered"], f"{path.name} is not covered by the bundled rules"
    code, out, _ = run("evaluate", str(EXAMPLES / "cohort.jsonl"), "--format", "json")
    assert code == 0 and len(out.splitlines()) == len(files)


# -- explain ----------------------------------------------------------------------------------


def test_explain_why_and_why_not(run: Run, profile: str) -> None:
    code, out, _ = run("explain", profile, "--category", "immunostimulants", "--engine", "native")
    assert code == 0 and NOTICE in out
    assert "Why (not) Immunostimulants?" in out
    assert "transplant_status: solid_organ_recipient -> none" not in out  # not modifiable
    code, out, _ = run(
        "explain", profile, "--category", "immunostimulants", "--engine", "native", "--all-fields"
    )
    assert "transplant_status: solid_organ_recipient -> none" in out
    code, out, _ = run(
        "explain", profile, "--category", "immunostimulants", "--field", "transplant_status"
    )
    assert code == 0 and "transplant_status: solid_organ_recipient -> none" in out
    code, out, _ = run(
        "explain", profile, "--category", "cellular_therapies", "--format", "json", "--fixed",
        "condition", "--max-changes", "2",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["category"] == "cellular_therapies"
    assert data["fixed"] == ["condition"] and data["max_changes"] == 2
    assert all(c["field"] != "condition" for cs in data["changes"] for c in cs["changes"])
    code, out, _ = run(
        "explain", profile, "--category", "immunosuppressants", "--format", "markdown"
    )
    assert code == 0 and "### Why (not) Immunosuppressants?" in out and NOTICE in out


# -- audit and validate --------------------------------------------------------------------------


def test_audit_exit_codes(run: Run, tmp_path: Path) -> None:
    code, out, _ = run("audit", "--engine", "native")
    assert code == 0 and NOTICE in out
    code, out, _ = run("audit", "--format", "json")
    assert code == 0 and json.loads(out)["ok"] is True
    bad = rule(
        "NO-EVIDENCE", {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]}
    )
    bad["evidence"] = []
    folder = write_rules(tmp_path / "bad_kb", [bad])
    code, out, err = run("audit", "--rules", folder, "--format", "json")
    assert code == 1 and err == ""
    report = json.loads(out)
    assert report["ok"] is False
    assert "missing_evidence" in {f["kind"] for f in report["findings"]}
    code, out, _ = run("audit", "--rules", folder, "--format", "markdown")
    assert code == 1 and "errors found" in out and NOTICE in out


def test_validate_lists_every_problem(run: Run, tmp_path: Path) -> None:
    good = write_rules(tmp_path / "good", [rule("GOOD", {"advise": ["hbv_screen"]})])
    code, out, _ = run("validate", good)
    assert code == 0 and out.startswith("OK: 1 rules (1 active)")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.yaml").write_text("rules:\n  - id: bad id\n    title: x\n")
    (bad / "b.yaml").write_text("rules: [\n")
    code, out, err = run("validate", str(bad))
    assert code == 1 and err == ""
    with pytest.raises(ir.RuleFileError) as caught:
        ir.load_rules(bad)
    assert len(caught.value.problems) >= 3
    for problem in caught.value.problems:
        assert str(problem) in out
    code, out, _ = run("validate", str(ir.BUNDLED_RULES))
    assert code == 0 and out.startswith("OK:")


# -- bad input ------------------------------------------------------------------------------------


def _bad_profiles(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Each kind of bad profile input: name -> (path, a phrase the message must contain)."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "invalid.json").write_text('{"immune_activity": "overactive",')
    (tmp_path / "array.json").write_text("[1, 2]")
    (tmp_path / "string.json").write_text('"melanoma"')
    (tmp_path / "empty.json").write_text("  \n")
    (tmp_path / "latin1.json").write_bytes(b'{"immune_activity": "\xe9"}')
    (tmp_path / "dupes.json").write_text('{"pregnant": true, "pregnant": false}')
    (tmp_path / "nan.json").write_text('{"prior_lines_of_therapy": NaN}')
    write_json(
        tmp_path / "profile_errors.json",
        {"immune_activity": "sideways", "condition": "melanom", "prior_lines_of_therapy": "1"},
    )
    return {
        "missing file": ("nope.json", "does not exist"),
        "directory": ("folder", "is a directory"),
        "invalid JSON": ("invalid.json", "is not valid JSON"),
        "JSON array": ("array.json", "JSON array, not an object"),
        "JSON string": ("string.json", "not a JSON object"),
        "empty file": ("empty.json", "is empty"),
        "not UTF-8": ("latin1.json", "not UTF-8"),
        "duplicate key": ("dupes.json", "appears twice"),
        "NaN": ("nan.json", "NaN is not a JSON value"),
        "invalid profile": ("profile_errors.json", "did you mean 'melanoma'"),
    }


@pytest.mark.parametrize("command", ["evaluate", "explain"])
def test_bad_profiles_exit_2_with_one_paragraph(run: Run, tmp_path: Path, command: str) -> None:
    extra = ["--category", "immunostimulants"] if command == "explain" else []
    for name, (path, phrase) in _bad_profiles(tmp_path).items():
        code, out, err = run(command, path, *extra)
        assert (code, out) == (2, ""), name
        assert_one_paragraph(err)
        assert phrase in err, (name, err)


def test_invalid_profile_lists_every_problem(run: Run, tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "p.json",
        {"immune_activity": "sideways", "condition": "melanom", "prior_lines_of_therapy": "1"},
    )
    code, _, err = run("evaluate", path)
    assert code == 2
    assert_one_paragraph(err)
    for path_name in ("immune_activity:", "condition:", "prior_lines_of_therapy:"):
        assert path_name in err


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "PROFILE"],
        ["explain", "PROFILE", "--category", "immunosuppressants"],
        ["audit"],
    ],
)
def test_bad_rules_exit_2(run: Run, tmp_path: Path, profile: str, argv: list[str]) -> None:
    bad = tmp_path / "bad_rules"
    bad.mkdir()
    (bad / "a.yaml").write_text("rules:\n  - id: RA-1\n    title: t\n    when: {severity: sever}\n")
    argv = [profile if a == "PROFILE" else a for a in argv]
    code, out, err = run(*argv, "--rules", str(bad))
    assert (code, out) == (2, "")
    assert_one_paragraph(err)
    assert "the rule files could not be loaded" in err and "did you mean 'severe'" in err
    code, out, err = run(*argv, "--rules", str(tmp_path / "absent"))
    assert (code, out) == (2, "")
    assert_one_paragraph(err)
    assert "does not exist" in err


def test_unknown_category_and_field(run: Run, profile: str) -> None:
    code, _, err = run("explain", profile, "--category", "immunostimulant")
    assert code == 2
    assert_one_paragraph(err)
    assert "did you mean 'immunostimulants'" in err
    code, _, err = run("explain", profile, "--category", "car_t_cells")
    assert code == 2 and "drug class of 'cellular_therapies'" in err
    code, _, err = run("explain", profile, "--category", "immunostimulants", "--fixed", "sex")
    assert code == 2 and "not a profile field" in err
    code, _, err = run("explain", profile, "--category", "immunostimulants", "--max-changes", "-1")
    assert code == 2 and "--max-changes" in err


def test_validate_missing_path_is_bad_input(run: Run, tmp_path: Path) -> None:
    code, out, err = run("validate", str(tmp_path / "absent"))
    assert (code, out) == (2, "")
    assert_one_paragraph(err)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["evaluate"],
        ["evaluate", "p.json", "--format", "yaml"],
        ["explain", "p.json"],
        ["audit", "--format", "html"],
        ["validate"],
        ["explain", "p.json", "--category", "x", "--max-changes", "many"],
    ],
)
def test_usage_errors_exit_2(run: Run, argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    assert "immunorules: error:" in err and "Traceback" not in err
    assert "--help" in err


def test_help_shows_examples(run: Run) -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "examples:" in out and "immunorules evaluate" in out and NOTICE in out
    assert '"immune_activity": "underactive"' in out
    for command in ("evaluate", "explain", "audit", "validate"):
        code, out, _ = run(command, "--help")
        assert code == 0 and "example" in out, command
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("immunorules ")


def test_python_dash_m_runs_as_a_real_process(tmp_path: Path) -> None:
    """The module entry point, in a real process: exit codes and no traceback."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    failed = subprocess.run(
        [sys.executable, "-m", "immunorules", "evaluate", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert failed.returncode == 2 and failed.stdout == ""
    assert "Traceback" not in failed.stderr and "is not valid JSON" in failed.stderr
    good = subprocess.run(
        [sys.executable, "-m", "immunorules", "evaluate", "-", "--engine", "native"],
        input=json.dumps(TRANSPLANT_MELANOMA),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert good.returncode == 0 and NOTICE in good.stdout and good.stderr == ""
