"""The words a rendering uses for a knowledge base's ids: display names of fields, values,
conditions, disease areas, categories, drug classes, advisories, tiers and statuses.

A :class:`Labels` is made from one schema (``Labels.of(schema)``) and passed explicitly to every
renderer helper, so a custom vocabulary renders with its own names wherever it is used. It never
raises on an id its vocabulary lacks (a result read back from another knowledge base, a hand-made
finding): an unknown id is shown as the id itself. It must never decide anything clinical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._model.profile import ConditionProfile
from .._model.rules import show_value
from .._model.schema import Schema, bundled_schema

if TYPE_CHECKING:
    from .._analysis.whynot import ProfileChange

__all__ = ["STATUS_LABEL", "TIER_LABEL", "Labels", "schema_of"]

#: How a suggestion tier reads.
TIER_LABEL = {"first_line": "first line", "escalation": "escalation", "flagged": "FLAGGED"}
#: How a why-not status reads.
STATUS_LABEL = {
    "suggested": "SUGGESTED",
    "flagged": "FLAGGED",
    "avoided": "AVOIDED",
    "absent": "NOT SUGGESTED",
}
#: The profile fields every vocabulary has, shown first in a profile's details.
_CORE_FIELDS = ("immune_activity", "condition", "disease_area")


def schema_of(subject: object) -> Schema:
    """The schema a knowledge base, result, why-not answer or profile belongs to (the bundled
    schema when the subject names none)."""
    found = getattr(subject, "schema", None)
    if isinstance(found, Schema):
        return found
    profile = (
        subject if isinstance(subject, ConditionProfile) else getattr(subject, "profile", None)
    )
    if isinstance(profile, ConditionProfile):
        return type(profile).schema_of()
    return bundled_schema()


@dataclass(frozen=True)
class Labels:
    """Display names for one schema's ids; unknown ids read as themselves."""

    schema: Schema

    @classmethod
    def of(cls, schema: Schema) -> Labels:
        """The labels of ``schema``."""
        return cls(schema)

    @classmethod
    def for_subject(cls, subject: object) -> Labels:
        """The labels of the schema a knowledge base, result, why-not answer or profile has."""
        return cls(schema_of(subject))

    # -- vocabulary names --------------------------------------------------------------------

    def field(self, field_id: str) -> str:
        """A profile field as renderings name it (its id: rules are written with it)."""
        return field_id

    def field_type(self, field_id: str) -> str | None:
        """``integer``, ``boolean``, ``enum`` or ``set``; None for a field the schema lacks."""
        definition = self.schema.fields.get(field_id)
        return definition.type if definition is not None else None

    def value(self, field_id: str, value: object) -> str:
        """A field's value as rules write it (null, true/false, numbers, ids, [members])."""
        return show_value(value)

    def area(self, area_id: str) -> str:
        try:
            return self.schema.vocabulary.disease_area(area_id).name
        except KeyError:
            return area_id

    def condition(self, condition_id: str) -> str:
        try:
            return self.schema.condition(condition_id).name
        except KeyError:
            return condition_id

    def category(self, category_id: str) -> str:
        try:
            return self.schema.category(category_id).name
        except KeyError:
            return category_id

    def subcategory(self, subcategory_id: str) -> str:
        try:
            return self.schema.subcategory(subcategory_id).name
        except KeyError:
            return subcategory_id

    def atc(self, subcategory_id: str) -> tuple[str, ...]:
        """The ATC codes of a drug class (none for an unknown class)."""
        try:
            return tuple(code.code for code in self.schema.subcategory(subcategory_id).atc)
        except KeyError:
            return ()

    def class_label(self, subcategory_id: str) -> str:
        """``Name (ATC L04AB)`` or ``Name (no ATC code)``."""
        codes = self.atc(subcategory_id)
        name = self.subcategory(subcategory_id)
        return f"{name} (ATC {', '.join(codes)})" if codes else f"{name} (no ATC code)"

    def advisory(self, key: str) -> str:
        """An advisory's message (its key when the vocabulary lacks it)."""
        try:
            return self.schema.advisory(key).message
        except KeyError:
            return key

    def target(self, target_id: str) -> str:
        """A category's or a drug class's name (what a dependency ``affects``)."""
        if target_id in self.schema.categories:
            return self.category(target_id)
        return self.subcategory(target_id)

    def field_description(self, field_id: str) -> str | None:
        """What a profile field means, as its vocabulary describes it (None: no description)."""
        definition = self.schema.fields.get(field_id)
        return definition.description if definition is not None else None

    def tier(self, tier: str) -> str:
        return TIER_LABEL.get(tier, tier)

    def status(self, status: str) -> str:
        return STATUS_LABEL.get(status, status.upper())

    def area_order(self) -> tuple[str, ...]:
        """Disease areas in vocabulary order, then the decision table's mixed groups."""
        return (*self.schema.disease_areas, "several areas", "any area")

    # -- profiles and changes ----------------------------------------------------------------

    def profile_title(self, profile: ConditionProfile) -> str:
        """``Melanoma (solid tumour oncology)``, or ``Area (no specific condition)``."""
        area = self.area(profile.disease_area)
        if profile.condition is None:
            return f"{area} (no specific condition)"
        return f"{self.condition(profile.condition)} ({area.lower()})"

    def profile_details(self, profile: ConditionProfile) -> list[str]:
        """The profile's values that differ from their defaults, as ``field=value`` items."""
        items = [f"{self.field('immune_activity')}={profile.immune_activity}"]
        if profile.condition is not None:
            items.append(f"{self.field('condition')}={profile.condition}")
        else:
            items.append(f"{self.field('disease_area')}={profile.disease_area}")
        for name, definition in type(profile).model_fields.items():
            if name in _CORE_FIELDS:
                continue
            value = getattr(profile, name)
            if value != definition.default:
                items.append(f"{self.field(name)}={self.value(name, value)}")
        return items

    def values_text(self, values: Sequence[Any], field_id: str) -> str:
        """A short reading of some values of a field: a range for three or more consecutive
        integers of an integer field, a list capped at six otherwise."""
        numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
        if self.field_type(field_id) == "integer" and values and len(numbers) == len(values):
            ordered = sorted(numbers)
            if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
                return f"{ordered[0]}-{ordered[-1]}"
        shown = [self.value(field_id, v) for v in values]
        if len(shown) > 6:
            return ", ".join(shown[:5]) + f", ... ({len(shown)} values)"
        return ", ".join(shown)

    def alternatives(self, change: ProfileChange) -> tuple[str, str] | None:
        """How the other values that work for a change read: ``("any of", "1-20")`` for an
        integer field (the whole range, the chosen value in it), ``("or", "a, b")`` otherwise;
        None when no other value works."""
        others = [v for v in change.alternatives if v != change.after]
        if not others:
            return None
        if self.field_type(change.field) == "integer":
            return "any of", self._stated_text(change.alternatives, change.field)
        return "or", self._stated_text(others, change.field)

    def _stated_text(self, values: Sequence[Any], field_id: str) -> str:
        """:meth:`values_text` of the stated values, then ``not stated`` when None is one."""
        text = self.values_text([v for v in values if v is not None], field_id)
        if None in values:
            return f"{text} or not stated" if text else "not stated"
        return text
