"""Hypothesis strategies over the valid profile space (SPEC §2)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from .._model.matching import Scalar
from .._model.profile import FIELD_DOMAINS, MAX_PRIOR_LINES, PROFILE_FIELDS, ConditionProfile
from .._model.vocabulary import CONDITION_AREA, DISEASE_AREAS

__all__ = ["profiles"]

_PAIRS: tuple[tuple[str, str | None], ...] = tuple(
    [(area, None) for area in DISEASE_AREAS]
    + [(area, condition) for condition, area in CONDITION_AREA.items()]
)

Pin = Scalar | Collection[Scalar] | st.SearchStrategy[Any]


def profiles(**pinned: Pin) -> st.SearchStrategy[ConditionProfile]:
    """Valid :class:`ConditionProfile` objects over the whole valid space: every field, every
    value (``None`` included), only valid ``disease_area``/``condition`` pairs.

    Pin a field with a keyword: a value (``condition="melanoma"``), several values
    (``severity=["moderate", "severe"]``, e.g. a finding's ``region``:
    ``profiles(**finding.region)``) or a strategy (``prior_lines_of_therapy=st.integers(1, 3)``).
    ``disease_area`` and ``condition`` are always drawn consistently. An unknown field, a value
    outside a field's domain or a pin that no valid profile satisfies raises ``ValueError``.
    """
    unknown = sorted(set(pinned) - set(PROFILE_FIELDS))
    if unknown:
        raise ValueError(f"unknown profile fields {unknown}; fields: {', '.join(PROFILE_FIELDS)}")
    fields: dict[str, st.SearchStrategy[Any]] = {
        name: _field(name, pinned[name]) if name in pinned else _default(name)
        for name in PROFILE_FIELDS
        if name not in ("disease_area", "condition")
    }
    pairs = _pairs(pinned.get("disease_area"), pinned.get("condition"))
    return st.builds(_build, pairs, st.fixed_dictionaries(fields))


def _build(pair: tuple[str, str | None], values: dict[str, Any]) -> ConditionProfile:
    area, condition = pair
    return ConditionProfile(disease_area=area, condition=condition, **values)


def _default(name: str) -> st.SearchStrategy[Any]:
    if name == "prior_lines_of_therapy":
        return st.integers(0, MAX_PRIOR_LINES)
    return st.sampled_from(FIELD_DOMAINS[name])


def _values(name: str, pin: Pin) -> list[Scalar] | None:
    """The pinned values, checked, or None when the pin is a strategy."""
    if isinstance(pin, st.SearchStrategy):
        return None
    values = list(pin) if isinstance(pin, Collection) and not isinstance(pin, str) else [pin]
    domain = FIELD_DOMAINS[name]
    bad = [
        v for v in values if v not in domain or isinstance(v, bool) != isinstance(domain[-1], bool)
    ]
    if bad or not values:
        raise ValueError(f"{name} cannot be pinned to {values!r}: its values are {list(domain)}")
    return values


def _field(name: str, pin: Pin) -> st.SearchStrategy[Any]:
    values = _values(name, pin)
    if values is None:
        return pin  # type: ignore[return-value]
    return st.sampled_from(values)


def _pairs(area: Pin | None, condition: Pin | None) -> st.SearchStrategy[tuple[str, str | None]]:
    areas = None if area is None else _values("disease_area", area)
    conditions = None if condition is None else _values("condition", condition)
    if (area is not None and areas is None) or (condition is not None and conditions is None):
        area_strategy = _field("disease_area", area) if area is not None else None
        condition_strategy = _field("condition", condition) if condition is not None else None
        return _drawn_pairs(area_strategy, condition_strategy)
    chosen = [
        pair
        for pair in _PAIRS
        if (areas is None or pair[0] in areas) and (conditions is None or pair[1] in conditions)
    ]
    if not chosen:
        raise ValueError(
            f"no valid profile has disease_area in {areas} and condition in {conditions}"
        )
    return st.sampled_from(chosen)


def _drawn_pairs(
    area: st.SearchStrategy[Any] | None, condition: st.SearchStrategy[Any] | None
) -> st.SearchStrategy[tuple[str, str | None]]:
    """Pairs when a pin is a strategy: drawn from it, kept when valid."""

    @st.composite
    def draw_pair(draw: st.DrawFn) -> tuple[str, str | None]:
        picked: str | None = None if area is None else draw(area)
        if condition is None:
            return draw(st.sampled_from([pair for pair in _PAIRS if pair[0] == picked]))
        chosen: str | None = draw(condition)
        if chosen is None:
            return (picked or draw(st.sampled_from(DISEASE_AREAS)), None)
        assume(picked is None or CONDITION_AREA[chosen] == picked)
        return (CONDITION_AREA[chosen], chosen)

    return draw_pair()
