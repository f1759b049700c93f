"""The collect policy: what a set of fired rules makes of a result, in one place.

Evaluation (result building, the columnar answers), the audit and why-not all ask this package
what the fired rules decide: suggestions merged per category (best tier, union of drug
classes), avoid beats flag beats suggest, directions and conflicts, whether the rules cover the
profile. It reads rules and the schema (``_model``) only; it never builds a profile, quotes a
profile value or renders anything.
"""

from __future__ import annotations

from .collect import (
    OPPOSITE,
    Absorption,
    ClassKeys,
    EffectKey,
    Effects,
    Entry,
    Line,
    LineKeys,
    Plan,
    Projection,
    Side,
    Source,
    SuggestionLine,
    Tables,
    absorption,
    category_tier,
    collect,
    direction_of,
    effect_directions,
    effect_sources,
    effects_of,
    is_decisive,
    line_directions,
    line_keys,
    outcome,
    part_effects,
    plan,
    projection_of,
    suggestion_directions,
    tables,
    unresolved_sides,
)

__all__ = [
    "OPPOSITE",
    "Absorption",
    "ClassKeys",
    "EffectKey",
    "Effects",
    "Entry",
    "Line",
    "LineKeys",
    "Plan",
    "Projection",
    "Side",
    "Source",
    "SuggestionLine",
    "Tables",
    "absorption",
    "category_tier",
    "collect",
    "direction_of",
    "effect_directions",
    "effect_sources",
    "effects_of",
    "is_decisive",
    "line_directions",
    "line_keys",
    "outcome",
    "part_effects",
    "plan",
    "projection_of",
    "suggestion_directions",
    "tables",
    "unresolved_sides",
]
