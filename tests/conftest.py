"""Shared fixtures: building small knowledge bases from inline rule text, and ``require`` for
the optional extras (a skip on a developer's machine, a failure in CI)."""

from __future__ import annotations

import importlib
import itertools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

import pytest
import yaml

import immunorules as ir


def _in_ci() -> bool:
    """True when the ``CI`` environment variable is set to something other than off."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}


def require(module: str, *, reason: str | None = None) -> ModuleType:
    """Import an optional extra's module for a test, or skip the test (or module) without it.

    Use it instead of ``pytest.importorskip``: when the ``CI`` environment variable is set, a
    module that does not import FAILS the test instead, since every extra is installed there
    (``pip install -e ".[dev]"``) and a skip would hide a broken install.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        why = reason or f"needs {module}"
        if _in_ci():
            pytest.fail(
                f"{module} does not import ({error}) and CI is set, where every extra of the dev "
                f"install must import: {why}",
                pytrace=False,
            )
        pytest.skip(f"{why}: {error}", allow_module_level=True)


EVIDENCE = {"E1": {"citation": "A test citation", "url": "https://example.org", "accessed": "2026"}}
MakeKB = Callable[..., ir.KnowledgeBase]
_counter = itertools.count()


def rule(
    rule_id: str, then: Mapping[str, object], when: Mapping[str, object] | None = None
) -> dict[str, object]:
    """A rule mapping with the required keys filled in."""
    return {
        "id": rule_id,
        "title": f"Rule {rule_id}",
        "when": dict(when or {}),
        "then": dict(then),
        "because": f"Because of {rule_id}.",
        "evidence": ["E1"],
    }


@pytest.fixture
def make_kb(tmp_path: Path) -> MakeKB:
    """Write rules to a fresh folder and load them (native engine unless told otherwise)."""

    def make(rules: list[dict[str, object]], *, engine: str = "native") -> ir.KnowledgeBase:
        folder = tmp_path / f"kb{next(_counter)}"
        folder.mkdir()
        (folder / "rules.yaml").write_text(yaml.safe_dump({"evidence": EVIDENCE, "rules": rules}))
        return ir.load_rules(folder, engine=engine)  # type: ignore[arg-type]

    return make
