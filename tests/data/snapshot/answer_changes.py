"""Count how the answers to the snapshot's profiles change between two versions of the library
and its bundled knowledge base, part by part, with the most common reasons.

Written for issue 19 (knowledge base v3, "unknown is not no"), to summarise the change in answers
before the frozen snapshot is regenerated. It only reads: it never writes the snapshot.

Usage (from the repository root; ``--old`` is a git revision whose ``src/`` and ``rules/`` give
the old answers, default ``main``)::

    python tests/data/snapshot/answer_changes.py --old main

The profiles are those of the current snapshot file (its native-engine lines). The v2 snapshot
states every field, so they are compared twice: as written (every fact stated: what changes is
the rules' text), and with each value equal to its v2 default left out, as a caller who relied on
the defaults sends them (v2 fills the default in, v3 reads the fact as not stated).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["main", "summary"]

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parents[2]
_SNAPSHOT = _HERE / "bundled_results.jsonl.gz"
#: The v2 defaults of the fields that default to not stated since v3.
_V2_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(
        (
            "pregnant", "heart_failure", "latent_tuberculosis", "hepatitis_b",
            "demyelinating_disease", "autoimmune_disease_history", "malignancy_history",
            "cardiovascular_risk", "targetable_driver_alteration",
        ),
        False,
    ),
    "infection_status": "none",
    "transplant_status": "none",
    "prior_therapy_classes": [],
    "prior_lines_of_therapy": 0,
}  # fmt: skip
_PARTS = ("suggestions/tiers", "classes", "avoided", "flags", "advisories", "covered", "conflicts")


def _profiles(*, sparse: bool = False) -> list[dict[str, Any]]:
    """The snapshot's distinct profiles; ``sparse``: without the values equal to a v2 default."""
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    with gzip.open(_SNAPSHOT, "rt", encoding="utf-8") as handle:
        for raw in handle:
            line = json.loads(raw)
            key = json.dumps(line["profile"], sort_keys=True)
            if line["engine"] == "native" and key not in seen:
                seen.add(key)
                found.append(line["profile"])
    if sparse:
        found = [
            {k: v for k, v in data.items() if k not in _V2_DEFAULTS or v != _V2_DEFAULTS[k]}
            for data in found
        ]
    return found


def summary(result: Any) -> dict[str, Any]:
    """The parts of a result that are compared, as JSON-friendly sorted lists."""
    return {
        "suggestions/tiers": sorted(
            [s.category, s.tier] for s in result.suggestions if s.tier != "flagged"
        ),
        "classes": sorted([s.category, sub] for s in result.suggestions for sub in s.subcategories),
        "avoided": sorted([a.category, a.subcategory or ""] for a in result.avoided),
        "flags": sorted(s.category for s in result.suggestions if s.tier == "flagged"),
        "advisories": sorted(a.key for a in result.advisories),
        "covered": result.covered,
        "conflicts": sorted(sorted(c.categories) for c in result.conflicts),
        "fired": list(result.fired_rules),
    }


def _dump(*, sparse: bool) -> None:
    """Print one summary per snapshot profile, evaluated by the importable library."""
    import immunorules as ir

    kb = ir.load_rules(engine="native")
    for data in _profiles(sparse=sparse):
        try:
            line: dict[str, Any] = summary(kb.evaluate(data))
        except ir.ProfileError as error:
            line = {"invalid": str(error)}
        print(json.dumps(line, sort_keys=True))


def _summaries(src: Path, *, sparse: bool) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, __file__, "--dump", *(["--sparse"] if sparse else [])]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def _old_tree(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(_ROOT), "archive", revision, "src", "rules"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def _classify(profile: dict[str, Any], typical: dict[str, str]) -> str:
    condition = profile.get("condition")
    given = profile.get("immune_activity")
    if condition is not None and given is not None and given != typical.get(condition):
        return "immune_activity contradicts the condition (now answered by the condition)"
    if any(name not in profile for name in _V2_DEFAULTS):
        return "leaves a fact not stated"
    return "every fact stated (rule text changed)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="main", help="git revision of the old answers")
    parser.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sparse", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    if args.dump:
        _dump(sparse=args.sparse)
        return
    sys.path.insert(0, str(_ROOT / "src"))
    from immunorules._model.schema import bundled_schema

    typical: dict[str, str] = {
        c.id: str(c.immune_activity) for c in bundled_schema().vocabulary.conditions
    }
    with tempfile.TemporaryDirectory() as tmp:
        old_src = _old_tree(args.old, Path(tmp))
        for sparse in (False, True):
            old = _summaries(old_src, sparse=sparse)
            new = _summaries(_ROOT / "src", sparse=sparse)
            title = (
                "with the values equal to a v2 default left out (v3: not stated)"
                if sparse
                else "as written (every fact stated)"
            )
            _report(f"Snapshot profiles {title}", _profiles(sparse=sparse), old, new, typical, args)


def _report(
    title: str,
    profiles: list[dict[str, Any]],
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    typical: dict[str, str],
    args: argparse.Namespace,
) -> None:
    changed = collections.Counter[str]()
    any_changed = 0
    fired = collections.Counter[str]()
    advisories = collections.Counter[str]()
    causes = collections.Counter[str]()
    for profile, before, after in zip(profiles, old, new, strict=True):
        if "invalid" in before or "invalid" in after:
            changed["(invalid in one version)"] += 1
            continue
        parts = [part for part in _PARTS if before[part] != after[part]]
        changed.update(parts)
        if not parts:
            continue
        any_changed += 1
        causes[_classify(profile, typical)] += 1
        fired.update(f"+{r}" for r in set(after["fired"]) - set(before["fired"]))
        fired.update(f"-{r}" for r in set(before["fired"]) - set(after["fired"]))
        advisories.update(f"+{k}" for k in set(after["advisories"]) - set(before["advisories"]))
        advisories.update(f"-{k}" for k in set(before["advisories"]) - set(after["advisories"]))
    total = len(profiles)
    print(f"## {title}: {total} (old answers: {args.old}; new: this checkout)\n")
    print("| part | profiles changed | share |\n|---|---:|---:|")
    for part in (*_PARTS, "(invalid in one version)"):
        if part in changed or part in _PARTS:
            print(f"| {part} | {changed[part]} | {changed[part] / total:.1%} |")
    print(f"| any part | {any_changed} | {any_changed / total:.1%} |\n")
    for heading, counter in (
        ("Why (profiles)", causes),
        ("Rules firing (+) or no longer firing (-), in changed profiles", fired),
        ("Advisories added (+) or removed (-), in changed profiles", advisories),
    ):
        print(f"{heading}:")
        for key, count in counter.most_common(args.top):
            print(f"  {count:6d}  {key}")
        print()


if __name__ == "__main__":
    main()
