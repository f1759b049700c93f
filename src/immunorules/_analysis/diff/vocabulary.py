"""What one vocabulary adds to or removes from another, for the diff's vocabulary section.

It compares ids and field values only; it must never judge answers (the regions do that).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..._model.matching import Scalar
from ..._model.schema import Schema
from .models import VocabularyDiff

__all__ = ["vocabulary_diff"]


def _added(old: Iterable[str], new: Iterable[str]) -> tuple[str, ...]:
    before = set(old)
    return tuple(name for name in new if name not in before)


def vocabulary_diff(old: Schema, new: Schema) -> VocabularyDiff:
    """The fields, values, disease areas, conditions, categories, drug classes and
    advisories ``new`` adds to or removes from ``old`` (each in its vocabulary's order)."""
    if old is new:
        return VocabularyDiff()
    added: dict[str, tuple[Scalar, ...]] = {}
    removed: dict[str, tuple[Scalar, ...]] = {}
    for name, field in new.fields.items():
        other = old.fields.get(name)
        if other is None or field.of is not None:  # ``of:`` values are listed as such
            continue
        before, after = other.domain, field.domain
        more = tuple(v for v in after if v not in before)
        fewer = tuple(v for v in before if v not in after)
        if more:
            added[name] = more
        if fewer:
            removed[name] = fewer
    return VocabularyDiff(
        fields_added=_added(old.fields, new.fields),
        fields_removed=_added(new.fields, old.fields),
        values_added=added,
        values_removed=removed,
        disease_areas_added=_added(old.disease_areas, new.disease_areas),
        disease_areas_removed=_added(new.disease_areas, old.disease_areas),
        conditions_added=_added(old.conditions, new.conditions),
        conditions_removed=_added(new.conditions, old.conditions),
        categories_added=_added(old.categories, new.categories),
        categories_removed=_added(new.categories, old.categories),
        classes_added=_added(old.subcategories, new.subcategories),
        classes_removed=_added(new.subcategories, old.subcategories),
        advisories_added=_added(old.advisories, new.advisories),
        advisories_removed=_added(new.advisories, old.advisories),
    )
