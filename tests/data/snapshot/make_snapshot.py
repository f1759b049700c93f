"""Write the frozen snapshot of the bundled knowledge base's results (run once, before a change
that must not change them; ``tests/test_snapshot.py`` compares against it).

Regenerated for knowledge base v2 (issue 12), whose clinical changes changed results on purpose,
and for knowledge base v3 (issue 19, "unknown is not no"): every field but the condition and the
area may now be drawn as not stated (``None``; for ``immune_activity``: derived from the
condition), the v2 fields and condition are drawn like the others, and the digest covers what the
answer says it assumed (``unstated``, ``depends_on``, ``warnings``, ``assumed``).
``answer_changes.py`` beside this file counts how the answers changed before a regeneration.

Usage (from the repository root, piped through gzip -9 -n):
    python tests/data/snapshot/make_snapshot.py > tests/data/snapshot/bundled_results.jsonl
"""

from __future__ import annotations

import hashlib
import json
import random

import immunorules as ir

__all__ = ["digest", "main", "profiles"]

_BOOLEANS = (
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
FIELDS: dict[str, list[object]] = {
    "immune_activity": [None, "overactive", "underactive", "balanced"],
    "transplant_status": [None, "none", "candidate", "solid_organ_recipient", "hsct_recipient"],
    "severity": [None, "mild", "moderate", "severe"],
    "prior_lines_of_therapy": [None, *range(21)],
    "infection_status": [None, "none", "recent_serious", "active_serious"],
    **{name: [None, False, True] for name in _BOOLEANS},
    "prior_therapy_classes": [
        None,
        [],
        ["tnf_inhibitors"],
        ["anti_tnf_antibodies", "antifolate_dmards"],
        ["immunomodulatory_imide_drugs"],
        ["immunomodulatory_imide_drugs", "anti_cd38_antibodies"],
    ],
    "hbv_serology": [None, "negative", "resolved", "hbsag_positive"],
    "hsct_type": [None, "allogeneic", "autologous"],
    "malignancy_type": [
        None,
        "lymphoproliferative",
        "non_melanoma_skin_cancer",
        "melanoma",
        "solid_tumour",
        "other",
    ],
}
RANDOM_PROFILES = 3000


def digest(result: ir.Result) -> str:
    """A digest of everything in a result but the knowledge base's identity."""
    data = result.model_dump(mode="json", exclude={"knowledge_base"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def profiles(kb: ir.KnowledgeBase) -> list[dict[str, object]]:
    """Every golden case's profile, then seeded random valid profiles (mostly with a
    condition, some with an area only); a field drawn as not stated is left out."""
    found = [case.profile.model_dump(mode="json") for rule in kb.rules for case in rule.tests]
    rng = random.Random(20261207)
    conditions = [c.id for c in kb.conditions]
    areas = sorted({c.disease_area for c in kb.conditions})
    for _ in range(RANDOM_PROFILES):
        data: dict[str, object] = {name: rng.choice(values) for name, values in FIELDS.items()}
        data = {name: value for name, value in data.items() if value is not None}
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
