"""Shared fixtures: building small knowledge bases from inline rule text."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import yaml

import immunorules as ir

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
