"""The profile space two knowledge bases share, and each one's rules restricted to it.

Two rule folders that add nothing to the bundled vocabulary (or add the same) define the same
profiles: then the shared space is that space and the rules are used as they are. When their
vocabularies define different profiles (a field, a value, a condition only one of them has),
the diff compares the profiles both can answer: the fields both have, each with the values both
allow, and every field only one side has left at that side's default (a rule's condition on it
then either always holds or never does). This module only builds that space; it must never
judge answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..._model.matching import Scalar
from ..._model.rules import Rule, SetCondition
from ..._model.schema import Schema
from ..._model.vocabulary import FieldDef, Vocabulary

__all__ = ["SharedSpace", "profile_signature", "shared_space"]


def profile_signature(schema: Schema) -> tuple[Any, ...]:
    """What defines a schema's profiles: its fields (type, values, range, nullability), its
    disease areas and its conditions with their areas."""
    return (
        tuple(
            (name, f.type, f.values, f.min, f.max, f.nullable) for name, f in schema.fields.items()
        ),
        schema.disease_areas,
        tuple(sorted(schema.condition_area.items())),
    )


class SharedSpace:
    """The shared schema, and a note on what it leaves out (None: both define the same
    profiles)."""

    def __init__(self, schema: Schema, note: str | None, old: Schema, new: Schema) -> None:
        self.schema = schema
        self.note = note
        self._sides = {"old": old, "new": new}

    def restrict(self, rules: Iterable[Rule], side: str) -> list[Rule]:
        """``rules`` of one side (``"old"`` or ``"new"``) as rules over the shared profiles;
        a rule no shared profile fires is left out."""
        if self.note is None:
            return list(rules)
        own = self._sides[side]
        found = []
        for rule in rules:
            restricted = _restrict(rule, own, self.schema)
            if restricted is not None:
                found.append(restricted)
        return found


def shared_space(old: Schema, new: Schema) -> SharedSpace:
    """The profiles ``old`` and ``new`` both define."""
    if old is new or profile_signature(old) == profile_signature(new):
        return SharedSpace(new, None, old, new)
    left_out: list[str] = []
    fields: list[FieldDef] = []
    for name, field in new.fields.items():
        other = old.fields.get(name)
        if other is None or other.type != field.type:
            left_out.append(name)
            continue
        shared = _shared_field(field, other)
        if shared is None:
            left_out.append(name)
        else:
            fields.append(shared)
    left_out += [name for name in old.fields if name not in new.fields]
    areas = [a for a in new.vocabulary.disease_areas if a.id in old.disease_areas]
    conditions = [
        c
        for c in new.vocabulary.conditions
        if old.condition_area.get(c.id) == c.disease_area and c.disease_area in old.disease_areas
    ]
    subcategories = [
        s for s in new.vocabulary.subcategories if old.sub_category.get(s.id) == s.category
    ]
    kept = {s.id for s in subcategories}
    subcategories = [
        s.model_copy(update={"parent": s.parent if s.parent in kept else None})
        for s in subcategories
    ]
    categories = [c for c in new.vocabulary.categories if c.id in old.categories]
    advisories = [a for a in new.vocabulary.advisories if a.key in old.advisories]
    vocabulary = Vocabulary.model_validate(
        {
            "fields": [f.model_dump() for f in fields],
            "disease_areas": [a.model_dump() for a in areas],
            "conditions": [c.model_dump() for c in conditions],
            "categories": [c.model_dump() for c in categories],
            "subcategories": [s.model_dump() for s in subcategories],
            "advisories": [a.model_dump() for a in advisories],
        }
    )
    schema = Schema(vocabulary)
    parts = []
    if left_out:
        parts.append(
            f"the fields only one side has, or with different types, are left at that side's "
            f"default ({', '.join(sorted(left_out))})"
        )
    narrowed = [
        name
        for name in schema.fields
        if schema.fields[name].domain != new.fields[name].domain
        or schema.fields[name].domain != old.fields[name].domain
    ]
    if narrowed:
        parts.append(f"only the values both sides allow ({', '.join(narrowed)})")
    note = (
        "The two vocabularies define different profiles; compared: the profiles both can "
        "answer" + (": " + "; ".join(parts) if parts else "") + "."
    )
    return SharedSpace(schema, note, old, new)


def _shared_field(field: FieldDef, other: FieldDef) -> FieldDef | None:
    """The values both definitions of a field allow, or None when there are none."""
    update: dict[str, Any] = {"nullable": field.nullable and other.nullable}
    if field.type == "integer":
        assert field.min is not None and field.max is not None
        assert other.min is not None and other.max is not None
        low, high = max(field.min, other.min), min(field.max, other.max)
        if low > high:
            return None
        update.update(min=low, max=high)
    elif field.type in ("enum", "set"):
        values = tuple(v for v in field.values if v in other.values)
        if not values and field.type == "enum":
            return None
        update["values"] = values
    default = field.default
    if default is not None and not _allowed(default, update, field):
        default = None
    if default is None and not update["nullable"] and field.type != "set":
        default = _first(field, update)
    update["default"] = default
    return field.model_copy(update=update)


def _allowed(value: object, update: dict[str, Any], field: FieldDef) -> bool:
    if field.type == "integer":
        return isinstance(value, int) and update["min"] <= value <= update["max"]
    if field.type == "enum":
        return value in update["values"]
    if field.type == "set":
        return isinstance(value, tuple) and set(value) <= set(update["values"])
    return True


def _first(field: FieldDef, update: dict[str, Any]) -> Scalar:
    if field.type == "integer":
        return int(update["min"])
    if field.type == "enum":
        return str(update["values"][0])
    return False


def _restrict(rule: Rule, own: Schema, shared: Schema) -> Rule | None:
    """``rule`` over the shared profiles, or None when no shared profile fires it."""
    defaults = own.defaults
    when: dict[str, frozenset[Scalar]] = {}
    for name, allowed in rule.when.items():
        if "[" in name:  # a flat group (never in a loaded rule's own conditions)
            when[name] = allowed
            continue
        if name not in shared.fields:
            if defaults.get(name) in allowed:
                continue  # always holds at the default
            return None
        domain = shared.fields[name].domain
        kept = frozenset(value for value in allowed if value in domain)
        if not kept:
            return None
        when[name] = kept
    sets: dict[str, SetCondition] = {}
    for name, test in rule.sets.items():
        if name not in shared.fields:
            default = defaults.get(name)
            if test.holds(None if default is None else tuple(default)):
                continue
            return None
        members = set(shared.fields[name].values)
        if not test.includes <= members:
            return None
        sets[name] = test.model_copy(
            update={
                "excludes": test.excludes & members,
                "includes_any": tuple(group & members for group in test.includes_any),
            }
        )
    return rule.model_copy(update={"when": when, "sets": sets})
