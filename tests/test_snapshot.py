"""The bundled knowledge base gives exactly the results of its frozen snapshot (every golden
case's profile and 3,000 seeded random profiles, on both engines, written by
``data/snapshot/make_snapshot.py``) which holds a digest of every result. First frozen before the
vocabulary became data of the knowledge base; regenerated on purpose for knowledge base v2
(issue 12), whose clinical changes changed results, and for knowledge base v3 (issue 19, facts
not stated; ``data/snapshot/answer_changes.py`` counted the change first). Regenerate it only
for a change that is meant to change results, and say so in the commit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

import immunorules as ir

from .data.snapshot.make_snapshot import digest

SNAPSHOT = Path(__file__).parent / "data" / "snapshot"


def _lines() -> list[dict[str, Any]]:
    with gzip.open(SNAPSHOT / "bundled_results.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.mark.parametrize("engine", ["native", "durable"])
def test_bundled_results_are_unchanged(engine: str) -> None:
    lines = [line for line in _lines() if line["engine"] == engine]
    assert len(lines) > 3000
    kb = ir.load_rules(engine=engine)  # type: ignore[arg-type]
    changed = [
        line["profile"] for line in lines if digest(kb.evaluate(line["profile"])) != line["digest"]
    ]
    assert changed == [], f"{len(changed)} results changed, e.g. {changed[:2]}"
