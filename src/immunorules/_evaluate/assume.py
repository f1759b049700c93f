"""``assume=``: a policy for the fields a profile leaves not stated, applied in one call.

``assume={"pregnant": False}`` fills the named fields when (and only when) the profile leaves
them not stated; ``assume="v2"`` fills every field whose default is not stated with the reading
earlier versions gave it (a boolean false, an enum ``"none"`` where it has that value, a set
empty, an integer 0 or its minimum), derived from the field types so a rule set's own
vocabulary gets it too. The policy is checked against the schema (an unknown field or a value
outside a field's domain is a :class:`ProfileError`); the values filled in are reported in
``Result.assumed``. It never changes a stated value and never evaluates anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from .._errors import ProfileError, ProfileProblem, shown
from .._model.cache import BoundedCache
from .._model.profile import ConditionProfile, did_you_mean
from .._model.result import Value
from .._model.schema import Schema
from .._model.vocabulary import FieldDef

__all__ = ["Assume", "assumptions", "fill", "v2_reading"]

Assume = Mapping[str, Any] | Literal["v2"] | None

_V2: BoundedCache[int, tuple[Schema, dict[str, Value]]] = BoundedCache(64)


def v2_reading(schema: Schema) -> dict[str, Value]:
    """The v2 reading of every field whose default is not stated: booleans false, enums
    ``"none"`` (where that is one of their values), sets empty, integers 0 (or their minimum
    when 0 is outside their range). Fields with no such reading (e.g. ``severity``) are left
    out."""
    known = _V2.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    reading: dict[str, Value] = {}
    for name, field in schema.fields.items():
        if field.required or schema.defaults[name] is not None or not field.nullable:
            continue
        value = _v2_value(field)
        if value is not None:
            reading[name] = value
    _V2.put(id(schema), (schema, reading))
    return reading


def _v2_value(field: FieldDef) -> Value:
    if field.type == "boolean":
        return False
    if field.type == "set":
        return ()
    if field.type == "integer":
        low = field.min if field.min is not None else 0
        high = field.max if field.max is not None else 0
        return 0 if low <= 0 <= high else low
    if "none" in field.values:
        return "none"
    return None


def assumptions(schema: Schema, assume: Assume) -> dict[str, Value]:
    """The checked values of an ``assume=`` policy (set fields as member tuples in vocabulary
    order); raises :class:`ProfileError` (a ``ValueError``) for an unknown field or a value a
    field cannot hold."""
    if assume is None:
        return {}
    if isinstance(assume, str):
        if assume != "v2":
            raise ValueError(f"assume must be a mapping of field values or 'v2', not {assume!r}")
        return v2_reading(schema)
    if not isinstance(assume, Mapping):
        raise TypeError(
            f"assume must be a mapping of field values or 'v2', not {type(assume).__name__}"
        )
    problems: list[ProfileProblem] = []
    checked: dict[str, Value] = {}
    for name, value in assume.items():
        path = f"assume.{name}"
        field = schema.fields.get(name) if isinstance(name, str) else None
        if field is None:
            hint = did_you_mean(name, list(schema.fields))
            problems.append(ProfileProblem(path, f"unknown field{hint}"))
            continue
        message, normal = _check(schema, name, field, value)
        if message:
            problems.append(ProfileProblem(path, message))
        else:
            checked[name] = normal
    if problems:
        raise ProfileError(problems)
    return checked


def _check(schema: Schema, name: str, field: FieldDef, value: Any) -> tuple[str, Value]:
    """An error message (empty when fine) and the value as the profile holds it."""
    if value is None:
        return "an assumption must be a stated value, not None", None
    if field.type == "set":
        members = schema.set_fields[name]
        if not isinstance(value, list | tuple | set | frozenset):
            return f"expected a list of members, got {shown(value)}", None
        unknown = [m for m in value if not isinstance(m, str) or m not in members]
        if unknown:
            hint = did_you_mean(unknown[0], list(members))
            return f"{shown(unknown[0])} is not a member{hint}", None
        return "", tuple(member for member in members if member in value)
    if field.type == "boolean":
        if type(value) is not bool:
            return f"expected a boolean (true or false), got {shown(value)}", None
        return "", value
    if field.type == "integer":
        if type(value) is not int:
            return f"expected an integer, got {shown(value)}", None
        if value not in schema.domains[name]:
            return f"{value} is outside {field.min}..{field.max}", None
        return "", value
    domain = [v for v in schema.domains[name] if v is not None]
    if type(value) is not str or value not in domain:
        hint = did_you_mean(value, [str(v) for v in domain])
        return f"{shown(value)} is not one of {', '.join(map(repr, domain))}{hint}", None
    return "", value


def fill(
    schema: Schema, profile: ConditionProfile, checked: Mapping[str, Value]
) -> tuple[ConditionProfile, dict[str, Value]]:
    """``profile`` with the fields of ``checked`` it leaves not stated filled in, and those
    values (empty, and the very profile, when it states them all)."""
    values = profile.__dict__
    filled: dict[str, Value] = {
        name: value
        for name, value in checked.items()
        if name in values and values[name] is None and value is not None
    }
    if not filled:
        return profile, {}
    if "condition" in filled or "disease_area" in filled:  # the pair is checked by validation
        given = {name: values[name] for name in profile.model_fields_set}
        given["disease_area"] = values["disease_area"]
        return schema.parse({**given, **filled}), filled
    made: ConditionProfile = profile.model_copy(update=filled)
    return made, filled
