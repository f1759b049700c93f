"""The commands that print a report (``audit``, ``coverage``, ``diff``) print it one way, in the
format asked for, and ``coverage --fail-under PERCENT`` turns the share of tested rules into an
exit code."""

from __future__ import annotations

import importlib
import inspect
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import immunorules as ir
from immunorules._cli.context import Context, Output
from immunorules._cli.main import main
from immunorules._cli.reports import REPORT_FORMATS, Report, write_report

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


def _small() -> ir.KnowledgeBase:
    return ir.load_rules(SMALL, engine="native")


#: Per command: its arguments, and the report it prints (as the API makes it).
_COMMANDS: dict[str, tuple[tuple[str, ...], Callable[[], Report]]] = {
    "audit": (("--rules", str(SMALL), "--engine", "native"), lambda: ir.audit(_small())),
    "coverage": (("--rules", str(SMALL), "--engine", "native"), lambda: ir.coverage(_small())),
    "diff": ((str(SMALL), str(SMALL)), lambda: ir.diff(_small(), _small())),
}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        (name, fmt)
        for name in REPORTING
        for fmt in REPORT_FORMATS
        if (name, fmt) != ("audit", "html")
    ],
)
def test_each_command_prints_what_its_report_renders(
    name: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments, make = _COMMANDS[name]
    report = make()
    rendered = {
        "text": report.explain,
        "json": report.to_json,
        "markdown": report.to_markdown,
        "html": report.to_html,
    }[fmt]()
    code, out, _ = _run(capsys, name, *arguments, "--format", fmt)
    assert code == (
        0 if getattr(report, "ok", True) and not getattr(report, "changed", False) else 1
    )
    assert out == rendered + "\n"


def test_the_audit_has_no_html_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "audit", "--rules", str(SMALL), "--format", "html")[0] == 2  # as before


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
