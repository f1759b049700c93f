"""The commands that print a report (``audit``, ``coverage``, ``diff``) print it one way, in the
format asked for, and ``coverage --fail-under PERCENT`` turns the share of tested rules into an
exit code."""

from __future__ import annotations

import importlib
import inspect
import io
import json
from pathlib import Path

import pytest

import immunorules as ir
from immunorules._cli.context import Context, Output
from immunorules._cli.main import main
from immunorules._cli.reports import REPORT_FORMATS, write_report

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small_rules"  # 2 of its 5 active rules are tested: 40%
REPORTING = ("audit", "coverage", "diff")


class _Fake:
    """A report that says which of its renderings was asked for."""

    def explain(self) -> str:
        return "as text"

    def to_markdown(self) -> str:
        return "as markdown"

    def to_html(self) -> str:
        return "<p>as html</p>"

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps({"as": "json"}, indent=indent)


def _context() -> tuple[Context, io.StringIO]:
    out = io.StringIO()
    ctx = Context(
        out=Output(out), err=Output(io.StringIO()), stdin=io.StringIO(), interactive=False
    )
    return ctx, out


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("text", "as text\n"),
        ("markdown", "as markdown\n"),
        ("html", "<p>as html</p>\n"),
        ("json", '{\n  "as": "json"\n}\n'),
    ],
)
def test_write_report_writes_the_rendering_asked_for(fmt: str, expected: str) -> None:
    ctx, out = _context()
    write_report(ctx, _Fake(), fmt)
    assert out.getvalue() == expected
    assert fmt in REPORT_FORMATS


@pytest.mark.parametrize("name", REPORTING)
def test_the_report_commands_print_through_the_shared_helper(name: str) -> None:
    module = importlib.import_module(f"immunorules._cli.commands.{name}")
    source = inspect.getsource(module.run)
    assert "write_report(ctx, " in source
    assert "args.format ==" not in source and ".to_json()" not in source


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_coverage_prints_what_the_report_renders(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = ir.coverage(ir.load_rules(SMALL, engine="native"))
    rendered = {
        "text": report.explain,
        "json": report.to_json,
        "markdown": report.to_markdown,
        "html": report.to_html,
    }[fmt]()
    code, out, _ = _run(
        capsys, "coverage", "--rules", str(SMALL), "--engine", "native", "--format", fmt
    )
    assert code == 0
    assert out == rendered + "\n"


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_audit_prints_what_the_report_renders(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = ir.audit(ir.load_rules(SMALL, engine="native"))
    rendered = {
        "text": report.explain,
        "json": report.to_json,
        "markdown": report.to_markdown,
    }[fmt]()
    code, out, _ = _run(
        capsys, "audit", "--rules", str(SMALL), "--engine", "native", "--format", fmt
    )
    assert code == (0 if report.ok else 1)
    assert out == rendered + "\n"


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_diff_prints_what_the_report_renders(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    found = ir.diff(ir.load_rules(SMALL, engine="native"), ir.load_rules(SMALL, engine="native"))
    rendered = {
        "text": found.to_text,
        "json": found.to_json,
        "markdown": found.to_markdown,
        "html": found.to_html,
    }[fmt]()
    code, out, _ = _run(capsys, "diff", str(SMALL), str(SMALL), "--format", fmt)
    assert code == 0
    assert out == rendered + "\n"


@pytest.mark.parametrize(
    ("threshold", "code"),
    [("0", 0), ("40", 0), ("39.99", 0), ("40%", 0), ("40.01", 1), ("80", 1), ("100", 1)],
)
def test_coverage_fail_under_compares_the_share_of_tested_rules(
    threshold: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    got, out, err = _run(
        capsys, "coverage", "--rules", str(SMALL), "--engine", "native", "--fail-under", threshold
    )
    assert got == code, err
    assert "2 of 5 active rules fired by 3 golden cases (40%)" in out  # printed either way
    if code:
        assert "coverage failed: 2 of 5 active rules fired by a golden case (40%)" in err
        assert f"--fail-under {threshold.rstrip('%')}%" in err
    else:
        assert err == ""


def test_coverage_without_fail_under_exits_0_whatever_the_share(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(capsys, "coverage", "--rules", str(SMALL))[0] == 0


def test_the_bundled_rules_pass_fail_under_100(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "coverage", "--engine", "native", "--fail-under", "100")
    assert code == 0, err


@pytest.mark.parametrize("bad", ["abc", "-1", "100.5", "nan", "1/0", ""])
def test_coverage_fail_under_refuses_what_is_not_a_percentage(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "coverage", "--rules", str(SMALL), "--fail-under", bad)
    assert code == 2
    assert "--fail-under" in err and "is not a number from 0 to 100" in err
    assert out == ""
