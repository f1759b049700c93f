"""Hypothesis strategies over the valid profile space of a knowledge base."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from hypothesis import assume
from hypothesis import strategies as st

from .._model.matching import Scalar
from .._model.profile import ConditionProfile
from .._model.schema import Schema, bundled_schema
from .._model.space import FlatSpace

if TYPE_CHECKING:
    from .._api.knowledge_base import KnowledgeBase

__all__ = ["profiles"]

Pin = Scalar | tuple[str, ...] | Collection[Scalar | tuple[str, ...]] | st.SearchStrategy[Any]


def profiles(kb: KnowledgeBase | None = None, /, **pinned: Pin) -> st.SearchStrategy[Any]:
    """Valid profiles of ``kb`` (the bundled vocabulary when None) over its whole valid space:
    every field, every value (``None`` included), only valid ``disease_area``/``condition``
    pairs, and any subset of a set field's members.

    Pin a field with a keyword: a value (``condition="melanoma"``, or ``pregnant=None`` for not
    stated), several values
    (``severity=["moderate", "severe"]``, e.g. a finding's ``region``:
    ``profiles(kb, **finding.region)``) or a strategy (``prior_lines_of_therapy=st.integers(1,
    3)``). ``disease_area`` and ``condition`` are always drawn consistently. An unknown field, a
    value outside a field's domain or a pin that no valid profile satisfies raises
    ``ValueError``.
    """
    schema = bundled_schema() if kb is None else kb.schema
    flat = FlatSpace(schema, ()) if kb is None else kb.space
    known = [*schema.fields, *flat.groups]
    unknown = sorted(set(pinned) - set(known))
    if unknown:
        raise ValueError(f"unknown profile fields {unknown}; fields: {', '.join(schema.fields)}")
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name in schema.fields:
        if name in ("disease_area", "condition"):
            continue
        if name in schema.set_fields:
            fields[name] = _set_field(flat, name, pinned)
        elif name in pinned:
            fields[name] = _field(schema, name, pinned[name])
        else:
            fields[name] = st.sampled_from(schema.domains[name])
    pairs = _pairs(schema, pinned.get("disease_area"), pinned.get("condition"))
    model = schema.profile_model
    return st.builds(_build, st.just(model), pairs, st.fixed_dictionaries(fields))


def _build(
    model: type[ConditionProfile], pair: tuple[str, str | None], values: dict[str, Any]
) -> ConditionProfile:
    area, condition = pair
    return model(disease_area=area, condition=condition, **values)


def _set_field(flat: FlatSpace, name: str, pinned: dict[str, Pin]) -> st.SearchStrategy[Any]:
    """A set field's value: each group of members the rules name as pinned (or any subset),
    and any of the members no rule names."""
    members = flat.schema.set_fields[name]
    if name in pinned:
        pin = pinned[name]
        if isinstance(pin, st.SearchStrategy):
            return pin
        choices = [tuple(v) if isinstance(v, list | tuple) else v for v in _as_list(pin)]
        return st.sampled_from(choices)
    grouped = {m for key, (field, group) in flat.groups.items() if field == name for m in group}
    # not stated: drawn when the set field may be not stated (and no pin excludes it)
    unstated = flat.schema.fields[name].nullable and not any(
        field == name for field, _ in flat.groups.values()
    )
    parts: list[st.SearchStrategy[Any]] = [
        st.sets(st.sampled_from([m for m in members if m not in grouped]))
        if len(grouped) < len(members)
        else st.just(set())
    ]
    for key, (field, _) in flat.groups.items():
        if field != name:
            continue
        domain = flat.domains[key]
        values = _checked(key, pinned[key], domain) if key in pinned else list(domain)
        if None in values:  # the set may be not stated
            unstated = True
        values = [v for v in values if v is not None]
        if not values:  # pinned to not stated
            return st.none()
        parts.append(st.sampled_from(values).map(lambda v: {m for m in str(v).split("+") if m}))
    stated = st.tuples(*parts).map(
        lambda chosen: tuple(m for m in members if any(m in part for part in chosen))
    )
    return st.one_of(st.none(), stated) if unstated else stated


def _as_list(pin: Pin) -> list[Any]:
    return list(pin) if isinstance(pin, Collection) and not isinstance(pin, str) else [pin]


def _checked(name: str, pin: Pin, domain: tuple[Scalar, ...]) -> list[Scalar]:
    values = _as_list(pin)
    bad = [
        v
        for v in values
        if v not in domain
        or (v is not None and domain and isinstance(v, bool) != isinstance(domain[-1], bool))
    ]
    if bad or not values:
        raise ValueError(f"{name} cannot be pinned to {values!r}: its values are {list(domain)}")
    return values


def _values(schema: Schema, name: str, pin: Pin) -> list[Scalar] | None:
    """The pinned values, checked, or None when the pin is a strategy."""
    if isinstance(pin, st.SearchStrategy):
        return None
    return _checked(name, pin, schema.domains[name])


def _field(schema: Schema, name: str, pin: Pin) -> st.SearchStrategy[Any]:
    values = _values(schema, name, pin)
    if values is None:
        return pin  # type: ignore[return-value]
    return st.sampled_from(values)


def _pairs(
    schema: Schema, area: Pin | None, condition: Pin | None
) -> st.SearchStrategy[tuple[str, str | None]]:
    all_pairs = tuple(
        [(a, None) for a in schema.disease_areas]
        + [(a, c) for c, a in schema.condition_area.items()]
    )
    areas = None if area is None else _values(schema, "disease_area", area)
    conditions = None if condition is None else _values(schema, "condition", condition)
    if (area is not None and areas is None) or (condition is not None and conditions is None):
        area_strategy = _field(schema, "disease_area", area) if area is not None else None
        condition_strategy = (
            _field(schema, "condition", condition) if condition is not None else None
        )
        return _drawn_pairs(schema, all_pairs, area_strategy, condition_strategy)
    chosen = [
        pair
        for pair in all_pairs
        if (areas is None or pair[0] in areas) and (conditions is None or pair[1] in conditions)
    ]
    if not chosen:
        raise ValueError(
            f"no valid profile has disease_area in {areas} and condition in {conditions}"
        )
    return st.sampled_from(chosen)


def _drawn_pairs(
    schema: Schema,
    all_pairs: tuple[tuple[str, str | None], ...],
    area: st.SearchStrategy[Any] | None,
    condition: st.SearchStrategy[Any] | None,
) -> st.SearchStrategy[tuple[str, str | None]]:
    """Pairs when a pin is a strategy: drawn from it, kept when valid."""

    @st.composite
    def draw_pair(draw: st.DrawFn) -> tuple[str, str | None]:
        picked: str | None = None if area is None else draw(area)
        if condition is None:
            return draw(st.sampled_from([pair for pair in all_pairs if pair[0] == picked]))
        chosen: str | None = draw(condition)
        if chosen is None:
            return (picked or draw(st.sampled_from(schema.disease_areas)), None)
        owner = schema.condition_area
        assume(picked is None or owner[chosen] == picked)
        return (owner[chosen], chosen)

    return draw_pair()
