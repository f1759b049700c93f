"""Generated rule sets shaped like real ones, of any size, for the audit's scale benchmarks
and tests.

    python benchmarks/ruleset_gen.py OUT_DIR --rules 1000 [--seed 0] [--against 0.03]

Unlike ``synthetic.py`` (random effects, conflicts everywhere), these follow the bundled rules'
shape, per disease area:

* **condition rules** (most of them): one condition (sometimes two of one area) and 1-4 more
  tests among severity (any-of lists), ``prior_lines_of_therapy`` thresholds (``{min: n}``,
  ``{max: n}`` or both), ``{not: [...]}`` on infection or transplant status, a risk flag and
  immune activity; they suggest the condition's usual direction (suppression for overactive
  conditions, stimulation or cellular therapy for underactive ones), first line before any
  prior line and escalation after, with cautions;
* **safety rules**: a risk flag (and a scope: an area, a condition list or immune activity) that
  avoids a drug class or a whole category, or flags a category, with advisories;
* **referrals**: many prior lines, or a severe condition, refer for review;
* **area fallbacks**: a referral for each area, each leaving out one small corner on purpose,
  so the rule set has **gaps**; and a few **conflicts** on purpose: a suppressive suggestion
  for an oncology patient with an autoimmune history, mostly flagged, sometimes not.

``against`` (``--against 0.03``) makes that share of the condition rules' suggestions go against
the condition's direction (a stimulating class for an overactive condition, a suppressing one
otherwise), unflagged: where such a rule meets one of the usual direction, their effects
conflict, as a careless edit to a large rule set would make them. ``against=0`` (the default)
draws nothing more, so it gives the same rules as before the option existed.

The same ``count`` and ``seed`` give the same rules. Everything is valid against the bundled
vocabulary, and the folder :func:`write_rules` writes loads with ``immunorules.load_rules``.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from immunorules._model.vocabulary import bundled_vocabulary as vocabulary

__all__ = ["generate_rules", "write_rules"]

_RISK_FLAGS = (
    "latent_tuberculosis",
    "hepatitis_b",
    "pregnant",
    "heart_failure",
    "demyelinating_disease",
    "malignancy_history",
    "cardiovascular_risk",
)
_SEVERITIES: tuple[str | None, ...] = ("mild", "moderate", "severe", None)


class _Vocab:
    def __init__(self) -> None:
        vocab = vocabulary()
        self.areas = [area.id for area in vocab.disease_areas]
        self.conditions = {c.id: c for c in vocab.conditions}
        self.by_area = {
            area: [c.id for c in vocab.conditions if c.disease_area == area] for area in self.areas
        }
        self.subs = {
            category.id: [s.id for s in vocab.subcategories if s.category == category.id]
            for category in vocab.categories
        }
        self.direction = {s.id: s.direction for s in vocab.subcategories}
        self.cautions = [a.key for a in vocab.advisories if a.kind == "caution"]
        self.referrals = [a.key for a in vocab.advisories if a.kind == "referral"]

    def classes(self, category: str, direction: str) -> list[str]:
        return [s for s in self.subs[category] if self.direction[s] == direction]


def _lines(rng: random.Random) -> tuple[dict[str, int], str]:
    """A prior-lines test and the tier it suggests: first line before any prior line."""
    roll = rng.random()
    if roll < 0.35:
        return {"max": 0}, "first_line"
    if roll < 0.7:
        return {"min": rng.choice((1, 1, 2, 3))}, "escalation"
    low = rng.randint(1, 3)
    return {"min": low, "max": low + rng.randint(0, 3)}, "escalation"


def _suggestion(rng: random.Random, vocab: _Vocab, overactive: bool, tier: str) -> dict[str, Any]:
    if overactive:
        category = rng.choice(("immunosuppressants", "biologic_therapies", "biologic_therapies"))
        pool = vocab.classes(category, "suppress")
    else:
        category = rng.choice(("immunostimulants", "immunostimulants", "cellular_therapies"))
        pool = vocab.classes(category, "stimulate")
    suggest: dict[str, Any] = {"category": category, "tier": tier}
    if category != "immunosuppressants" or rng.random() < 0.6:
        suggest["subcategories"] = rng.sample(pool, rng.randint(1, min(3, len(pool))))
    return suggest


def _condition_rule(
    rng: random.Random, vocab: _Vocab, condition: str, against: float = 0.0
) -> dict[str, Any]:
    info = vocab.conditions[condition]
    overactive = info.immune_activity == "overactive"
    when: dict[str, Any] = {"condition": condition}
    if rng.random() < 0.1:  # a second condition of the same area
        others = [
            c
            for c in vocab.by_area[info.disease_area]
            if c != condition and vocab.conditions[c].immune_activity == info.immune_activity
        ]
        if others:
            when["condition"] = [condition, rng.choice(others)]
    tier = "first_line"
    extra = rng.sample(
        ("severity", "lines", "lines", "infection", "transplant", "flag", "activity"),
        rng.randint(1, 4),
    )
    for test in extra:
        if test == "severity":
            when["severity"] = rng.sample(_SEVERITIES[:3], rng.randint(1, 2))
        elif test == "lines":
            when["prior_lines_of_therapy"], tier = _lines(rng)
        elif test == "infection":
            when["infection_status"] = {"not": ["active_serious"]}
        elif test == "transplant":
            when["transplant_status"] = rng.choice(
                ({"not": ["solid_organ_recipient"]}, {"not": ["hsct_recipient"]}, ["none"])
            )
        elif test == "flag":
            when[rng.choice(_RISK_FLAGS)] = False
        else:
            when["immune_activity"] = info.immune_activity
    if against and rng.random() < against:  # drawn only when asked: same rules without it
        overactive = not overactive
    then: dict[str, Any] = {"suggest": [_suggestion(rng, vocab, overactive, tier)]}
    if rng.random() < 0.7:
        then["advise"] = rng.sample(vocab.cautions, rng.randint(1, 2))
    return {"when": when, "then": then}


def _safety_rule(rng: random.Random, vocab: _Vocab) -> dict[str, Any]:
    flag = rng.choice(_RISK_FLAGS)
    when: dict[str, Any] = {flag: True}
    scope = rng.random()
    if scope < 0.4:
        when["disease_area"] = rng.choice(vocab.areas)
    elif scope < 0.75:
        area = rng.choice([a for a in vocab.areas if len(vocab.by_area[a]) > 1])
        when["condition"] = rng.sample(vocab.by_area[area], 2)
    elif scope < 0.9:
        when["immune_activity"] = rng.choice(("overactive", "underactive"))
    if rng.random() < 0.3:
        when["severity"] = {"not": [None]} if rng.random() < 0.5 else ["severe"]
    then: dict[str, Any] = {}
    roll = rng.random()
    category = rng.choice(list(vocab.subs))
    if roll < 0.55:
        then["avoid"] = [{"subcategory": s} for s in rng.sample(vocab.subs[category], 1)]
    elif roll < 0.7:
        then["avoid"] = [{"category": category}]
    else:
        then["flag"] = [category]
    then["advise"] = rng.sample(vocab.cautions, rng.randint(1, 2))
    return {"when": when, "then": then}


def _referral_rule(rng: random.Random, vocab: _Vocab) -> dict[str, Any]:
    area = rng.choice(vocab.areas)
    when: dict[str, Any] = {"disease_area": area}
    if rng.random() < 0.5:
        when["prior_lines_of_therapy"] = {"min": rng.randint(3, 6)}
    else:
        when["severity"] = "severe"
        when["condition"] = rng.choice(vocab.by_area[area])
    if rng.random() < 0.4:
        when["transplant_status"] = {"not": ["none"]}
    return {"when": when, "then": {"advise": [rng.choice(vocab.referrals)]}}


def _fallbacks(rng: random.Random, vocab: _Vocab) -> list[dict[str, Any]]:
    """A referral per area and immune activity, each leaving out one small corner: gaps."""
    rules = []
    for area in vocab.areas:
        for activity in ("overactive", "underactive", "balanced"):
            when: dict[str, Any] = {"disease_area": area, "immune_activity": activity}
            corner = rng.random()
            if corner < 0.3:
                when["infection_status"] = {"not": ["recent_serious"]}
            elif corner < 0.5:
                when["prior_lines_of_therapy"] = {"max": rng.randint(6, 12)}
            elif corner < 0.6:
                when["transplant_status"] = {"not": ["candidate"]}
            rules.append({"when": when, "then": {"advise": ["multidisciplinary_review"]}})
    return rules


def _conflict_rules(rng: random.Random, vocab: _Vocab, count: int) -> list[dict[str, Any]]:
    """Steroids for an oncology patient with an autoimmune history: a suppressive suggestion
    beside the stimulating ones; flagged (resolved) but for one in four."""
    rules = []
    oncology = vocab.by_area["oncology"] + vocab.by_area["hematologic_malignancy"]
    for _ in range(count):
        when: dict[str, Any] = {
            "condition": rng.choice(oncology),
            "autoimmune_disease_history": True,
            "severity": rng.sample(_SEVERITIES[:3], rng.randint(1, 2)),
        }
        then: dict[str, Any] = {
            "suggest": [
                {
                    "category": "immunosuppressants",
                    "tier": "escalation",
                    "subcategories": ["corticosteroids"],
                }
            ],
            "advise": ["autoimmune_flare_risk"],
        }
        if rng.random() < 0.75:
            then["flag"] = ["immunostimulants"]
        rules.append({"when": when, "then": then})
    return rules


def generate_rules(
    count: int = 1000, seed: int = 0, *, against: float = 0.0
) -> list[dict[str, Any]]:
    """``count`` rule mappings (as rule files hold them), each with a ``file`` key naming the
    file :func:`write_rules` puts it in (its disease area, or ``safety``); ``against`` is the
    share of condition rules whose suggestion goes against the condition's direction."""
    if not 0.0 <= against <= 1.0:
        raise ValueError(f"against must be a share between 0 and 1, not {against!r}")
    rng = random.Random(seed)
    vocab = _Vocab()
    shaped: list[tuple[str, dict[str, Any]]] = []
    shaped += [("fallbacks", rule) for rule in _fallbacks(rng, vocab)]
    shaped += [("conflicts", rule) for rule in _conflict_rules(rng, vocab, max(1, count // 100))]
    conditions = list(vocab.conditions)
    index = 0
    while len(shaped) < count:
        roll = rng.random()
        if roll < 0.68:
            condition = conditions[index % len(conditions)]
            index += 1
            area = vocab.conditions[condition].disease_area
            shaped.append((area, _condition_rule(rng, vocab, condition, against)))
        elif roll < 0.92:
            shaped.append(("safety", _safety_rule(rng, vocab)))
        else:
            shaped.append(("referrals", _referral_rule(rng, vocab)))
    rules = []
    for number, (file, body) in enumerate(shaped[:count]):
        rules.append(
            {
                "id": f"GEN-{file.upper().replace('_', '-')}-{number:05d}",
                "title": f"Generated {file} rule {number}",
                **body,
                "because": f"Generated rule {number} for the audit's scale benchmarks.",
                "evidence": ["GENERATED"],
                "file": file,
            }
        )
    return rules


def write_rules(
    folder: Path | str, count: int = 1000, seed: int = 0, *, against: float = 0.0
) -> Path:
    """Write a generated rule set into ``folder``, one file per group; return the folder."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[dict[str, Any]]] = {}
    for rule in generate_rules(count, seed, against=against):
        files.setdefault(rule.pop("file"), []).append(rule)
    evidence = {"GENERATED": {"citation": "Generated rules for benchmarks, not clinical."}}
    (target / "evidence.yaml").write_text(yaml.safe_dump({"evidence": evidence}))
    for name, rules in files.items():
        (target / f"{name}.yaml").write_text(yaml.safe_dump({"rules": rules}, sort_keys=False))
    return target


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--against",
        type=float,
        default=0.0,
        help="share of condition rules suggesting against the condition's direction (0.03: 3%%)",
    )
    args = parser.parse_args(argv)
    write_rules(args.folder, args.rules, args.seed, against=args.against)
    print(f"wrote {args.rules} rules to {args.folder}")


if __name__ == "__main__":
    main()
