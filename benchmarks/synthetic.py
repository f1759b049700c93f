"""Synthetic rule sets and profiles for benchmarks (and for tests that need a rule set of a size).

Deterministic for a given seed: a rule set shaped like the bundled one (per-condition rules on
severity, prior lines and infection status, plus cross-cutting safety rules), written as YAML.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from immunorules._model.schema import bundled_schema
from immunorules._model.vocabulary import bundled_vocabulary as vocabulary

_SCHEMA = bundled_schema()
FIELD_DOMAINS = _SCHEMA.domains  # the bundled vocabulary's, which these rule sets use
MAX_PRIOR_LINES = 20
CONDITION_AREA = _SCHEMA.condition_area

__all__ = ["random_profile", "random_profiles", "synthetic_rules", "write_synthetic_rules"]

# the boolean fields (their domains hold None too: not stated)
_BOOLS = tuple(name for name, field in _SCHEMA.fields.items() if field.type == "boolean")


def synthetic_rules(count: int = 80, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` rule mappings (as a rule file holds them), all valid against the vocabulary."""
    rng = random.Random(seed)
    vocab = vocabulary()
    conditions = [c.id for c in vocab.conditions]
    cautions = [a.key for a in vocab.advisories if a.kind == "caution"]
    referrals = [a.key for a in vocab.advisories if a.kind == "referral"]
    subs_of: dict[str, list[str]] = {c.id: [] for c in vocab.categories}
    for sub in vocab.subcategories:
        subs_of[sub.category].append(sub.id)
    categories = list(subs_of)
    rules: list[dict[str, Any]] = []
    for index in range(count):
        when: dict[str, Any] = {}
        kind = index % 5
        if kind in (0, 1, 2):  # disease-directed: condition plus modifiers
            when["condition"] = conditions[index % len(conditions)]
            if rng.random() < 0.5:
                when["severity"] = rng.sample(["mild", "moderate", "severe"], rng.randint(1, 2))
            if rng.random() < 0.5:
                low = rng.randint(0, 3)
                when["prior_lines_of_therapy"] = {"min": low, "max": low + rng.randint(0, 4)}
            if rng.random() < 0.4:
                when["infection_status"] = {"not": ["active_serious"]}
        elif kind == 3:  # area-level
            area = rng.choice(sorted(set(CONDITION_AREA.values())))
            when["disease_area"] = area
            when["immune_activity"] = rng.choice(["overactive", "underactive", "balanced"])
            if rng.random() < 0.5:
                when["transplant_status"] = {"not": ["hsct_recipient"]}
        else:  # cross-cutting safety
            when[rng.choice(_BOOLS)] = True
            if rng.random() < 0.5:
                when["immune_activity"] = "overactive"
        then: dict[str, Any] = {}
        roll = rng.random()
        if roll < 0.65:
            category = rng.choice(categories)
            subs = rng.sample(subs_of[category], rng.randint(0, min(3, len(subs_of[category]))))
            suggest: dict[str, Any] = {
                "category": category,
                "tier": rng.choice(["first_line", "escalation"]),
            }
            if subs:
                suggest["subcategories"] = subs
            then["suggest"] = [suggest]
        if roll >= 0.55 and rng.random() < 0.5:
            then["flag"] = [rng.choice(categories)]
        if roll >= 0.6 and rng.random() < 0.6:
            category = rng.choice(categories)
            if rng.random() < 0.5:
                then["avoid"] = [{"category": category}]
            else:
                then["avoid"] = [{"subcategory": rng.choice(subs_of[category])}]
        advise = rng.sample(cautions, rng.randint(0, 2))
        if rng.random() < 0.1:
            advise.append(rng.choice(referrals))
        if advise or not then:
            then["advise"] = advise or [rng.choice(cautions)]
        rules.append(
            {
                "id": f"SYN-{index:04d}",
                "title": f"Synthetic rule {index}",
                "when": when,
                "then": then,
                "because": f"Synthetic rule {index} for benchmarks.",
                "evidence": ["SYNTHETIC"],
            }
        )
    return rules


def write_synthetic_rules(folder: Path | str, count: int = 80, seed: int = 0) -> Path:
    """Write a synthetic rule set as one rule file in ``folder``; return the folder."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    document = {
        "evidence": {"SYNTHETIC": {"citation": "Synthetic rules for benchmarks, not clinical."}},
        "rules": synthetic_rules(count, seed),
    }
    (target / "synthetic.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def random_profile(rng: random.Random) -> dict[str, Any]:
    """One valid profile as a plain dict (about one in ten without a condition)."""
    vocab = vocabulary()
    profile: dict[str, Any] = {}
    if rng.random() < 0.1:
        profile["disease_area"] = rng.choice([a.id for a in vocab.disease_areas])
        profile["immune_activity"] = rng.choice(["overactive", "underactive", "balanced"])
    else:
        condition = rng.choice(vocab.conditions)
        profile["condition"] = condition.id
        profile["immune_activity"] = condition.immune_activity
    profile["severity"] = rng.choice([None, "mild", "moderate", "severe"])
    profile["prior_lines_of_therapy"] = rng.choice(
        [0, 0, 1, 1, 2, 3, rng.randint(0, MAX_PRIOR_LINES)]
    )
    profile["transplant_status"] = rng.choice(FIELD_DOMAINS["transplant_status"])
    profile["infection_status"] = rng.choice(FIELD_DOMAINS["infection_status"])
    for name in _BOOLS:
        profile[name] = rng.random() < 0.15
    return profile


def random_profiles(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` random valid profiles (distinct ones are likely but not guaranteed)."""
    rng = random.Random(seed)
    return [random_profile(rng) for _ in range(count)]
