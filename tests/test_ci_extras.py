"""Optional extras in CI: a test module whose extra does not import skips on a developer's machine
but fails when the ``CI`` environment variable is set, so a broken ``[dev]`` install cannot stay
green by skipping."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import require

TESTS = Path(__file__).resolve().parent
# Modules outside the dev extra, which may skip even in CI: durable_rules does not import on
# Python >= 3.13.
_OUTSIDE_DEV = {"durable_rules_engine"}


def test_require_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such_extra_module"):
        require("no_such_extra_module")


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_require_fails_in_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"no_such_extra_module.*CI"):
        require("no_such_extra_module")


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_require_treats_an_off_ci_as_unset(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        require("no_such_extra_module")


def test_require_returns_the_module() -> None:
    assert require("json").dumps([1]) == "[1]"


def test_no_test_skips_silently_on_a_missing_extra() -> None:
    """Every optional import in the tests goes through ``require``, not ``pytest.importorskip``
    (which would skip even in CI)."""
    offenders = []
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "importorskip"
                and not (
                    node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value in _OUTSIDE_DEV
                )
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
