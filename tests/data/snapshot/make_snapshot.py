"""Write the frozen snapshot of the bundled knowledge base's results (run once, before a change
that must not change them; ``tests/test_snapshot.py`` compares against it).

Regenerated for knowledge base v2 (issue 12), whose clinical changes changed results on purpose.
The fields v2 added (``V2_FIELDS``) stay at their defaults in the random profiles and draw nothing
from the random generator, so the random profiles are the same ones as before.

Usage (from the repository root, piped through gzip -9 -n):
    python tests/data/snapshot/make_snapshot.py > tests/data/snapshot/bundled_results.jsonl
"""

from __future__ import annotations

import hashlib
import json
import random

import immunorules as ir

FIELDS: dict[str, list[object]] = {
    "immune_activity": ["overactive", "underactive", "balanced"],
    "transplant_status": ["none", "candidate", "solid_organ_recipient", "hsct_recipient"],
    "severity": [None, "mild", "moderate", "severe"],
    "prior_lines_of_therapy": list(range(21)),
    "infection_status": ["none", "recent_serious", "active_serious"],
    **{
        name: [False, True]
        for name in (
            "latent_tuberculosis",
            "hepatitis_b",
            "pregnant",
            "heart_failure",
            "demyelinating_disease",
            "autoimmune_disease_history",
            "malignancy_history",
            "cardiovascular_risk",
            "targetable_driver_alteration",
        )
    },
}
#: Bundled fields added by knowledge base v2, kept at their defaults ("not stated").
V2_FIELDS: dict[str, object] = {
    "prior_therapy_classes": [],
    "hbv_serology": None,
    "hsct_type": None,
    "malignancy_type": None,
}
#: Conditions added by knowledge base v2: left out of the random draw (their golden cases are in),
#: so the random profiles stay the ones of the v1 snapshot.
V2_CONDITIONS = frozenset({"small_cell_lung_cancer"})
RANDOM_PROFILES = 3000


def digest(result: ir.Result) -> str:
    """A digest of everything in a result but the knowledge base's identity (and, until the
    snapshot is regenerated for the bundled rules' reading of not-stated facts, what the
    answer says it assumed: ``unstated``, ``depends_on``, ``warnings`` and ``assumed``)."""
    data = result.model_dump(
        mode="json", exclude={"knowledge_base", "unstated", "depends_on", "warnings", "assumed"}
    )
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def profiles(kb: ir.KnowledgeBase) -> list[dict[str, object]]:
    """Every golden case's profile, then seeded random valid profiles (mostly with a
    condition, some with an area only)."""
    found = [case.profile.model_dump(mode="json") for rule in kb.rules for case in rule.tests]
    rng = random.Random(20261130)
    conditions = [c.id for c in kb.conditions if c.id not in V2_CONDITIONS]
    areas = sorted({c.disease_area for c in kb.conditions})
    for _ in range(RANDOM_PROFILES):
        data: dict[str, object] = {name: rng.choice(values) for name, values in FIELDS.items()}
        data.update(V2_FIELDS)
        if rng.random() < 0.9:
            data["condition"] = rng.choice(conditions)
        else:
            data["disease_area"] = rng.choice(areas)
        found.append(data)
    return found


def main() -> None:
    for engine in ("native", "durable"):
        kb = ir.load_rules(engine=engine)
        for data in profiles(kb):
            line = {"engine": engine, "profile": data, "digest": digest(kb.evaluate(data))}
            print(json.dumps(line, sort_keys=True))


if __name__ == "__main__":
    main()
