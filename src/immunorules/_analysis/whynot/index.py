"""The rules that can change one category's fate, indexed so that a profile is tried in a few
AND operations.

:class:`Slots` is the search space of a knowledge base (its flat fields, with ``condition`` and
``disease_area`` as one slot); :func:`relevant` picks the active rules that suggest, flag or
avoid the category (or one of its drug classes); :class:`Index` turns them into bitsets per value
of each slot and says which tier the category gets where a given set of rules fires. This module
must never evaluate a profile through the knowledge base: what it predicts is checked against
evaluation elsewhere (see ``verify``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..._model.profile import ConditionProfile
from ..._model.rules import Rule
from ..._model.space import FlatSpace
from ..._policy import category_tier, effects_of, tables

if TYPE_CHECKING:
    from .search import Option

__all__ = ["Index", "Relevant", "Slots", "relevant"]


class Slots:
    """The search space of one knowledge base. A "slot" is a flat field as the search sees it:
    every one but disease_area, whose values for the "condition" slot are (disease_area,
    condition) pairs."""

    def __init__(self, flat: FlatSpace) -> None:
        schema = flat.schema
        self.flat = flat
        self.schema = schema
        self.slots: tuple[str, ...] = tuple(name for name in flat.domains if name != "disease_area")
        self.condition_values: tuple[tuple[str, str | None], ...] = (
            *((schema.condition_area[c], c) for c in schema.conditions),
            *((area, None) for area in schema.disease_areas),
        )
        self._whens: dict[str, dict[str, frozenset[Any]]] = {}

    def values(self, slot: str) -> tuple[Any, ...]:
        return self.condition_values if slot == "condition" else self.flat.domains[slot]

    def field_of(self, slot: str) -> str:
        """The profile field a slot belongs to (a set field for its groups)."""
        return self.flat.groups[slot][0] if slot in self.flat.groups else slot

    def pin_of(self, field: str) -> str:
        """What holds a flat field fixed: its profile field (the condition for its area)."""
        return "condition" if field == "disease_area" else self.field_of(field)

    def when(self, rule: Rule) -> dict[str, frozenset[Any]]:
        found = self._whens.get(rule.id)
        if found is None:
            found = self._whens[rule.id] = self.flat.when(rule)
        return found

    def value(self, fact: Mapping[str, Any], slot: str) -> Any:
        if slot == "condition":
            return (fact["disease_area"], fact["condition"])
        return fact[slot]


@dataclass(frozen=True, slots=True)
class Relevant:
    """The rules that can change whether ``category`` is suggested, reduced to predicates."""

    category: str
    suggesters: tuple[Rule, ...]
    flaggers: tuple[Rule, ...]
    category_avoiders: tuple[Rule, ...]
    sub_avoiders: tuple[Rule, ...]
    space: Slots

    @property
    def all(self) -> tuple[Rule, ...]:
        return (*self.suggesters, *self.flaggers, *self.category_avoiders, *self.sub_avoiders)


def relevant(rules: Sequence[Rule], category: str, space: Slots) -> Relevant:
    """The rules among ``rules`` that suggest, flag or avoid ``category`` or one of its classes."""
    owner = space.schema.sub_category
    return Relevant(
        category=category,
        suggesters=tuple(r for r in rules if any(s.category == category for s in r.then.suggest)),
        flaggers=tuple(r for r in rules if category in r.then.flag),
        category_avoiders=tuple(
            r
            for r in rules
            if any(a.category == category and a.subcategory is None for a in r.then.avoid)
        ),
        sub_avoiders=tuple(
            r
            for r in rules
            if any(
                a.subcategory is not None and owner[a.subcategory] == category for a in r.then.avoid
            )
        ),
        space=space,
    )


class Index:
    """The relevant rules as bitsets (rule ``i`` is bit ``i``) per value of each slot, so that
    the rules firing on a profile are one AND per slot and the category's tier follows from
    the few that fire: the search tries many profiles, and this keeps each try independent
    of how many rules the knowledge base has."""

    def __init__(self, relevant: Relevant) -> None:
        space = relevant.space
        self.space = space
        rules = tuple({rule.id: rule for rule in relevant.all}.values())
        whens = [space.when(rule) for rule in rules]
        self.every = (1 << len(rules)) - 1
        self.accepts: dict[str, dict[Any, int]] = {}
        self.tested: set[str] = set()
        for slot in space.slots:
            tested = ("condition", "disease_area") if slot == "condition" else (slot,)
            untested = sum(
                1 << i for i, when in enumerate(whens) if not any(n in when for n in tested)
            )
            if untested != self.every:
                self.tested.add(slot)
            per_value = dict.fromkeys(space.values(slot), untested)
            for i, when in enumerate(whens):
                if untested >> i & 1:
                    continue
                for value in per_value:
                    if _accepts(when, slot, value):
                        per_value[value] |= 1 << i
            self.accepts[slot] = per_value
        # What the rules do, for the collect policy to decide the category's tier from the
        # few that fire (memoised per set of fired rules).
        self.category = relevant.category
        self.effects = [effects_of(rule, space.schema) for rule in rules]
        self.tables = tables(space.schema)
        self.tiers: dict[int, str | None] = {}

    def base(self, profile: ConditionProfile) -> dict[str, int]:
        """Per slot, the rules that accept the profile's value."""
        fact = self.space.flat.fact(profile)
        return {slot: self.accepts[slot][self.space.value(fact, slot)] for slot in self.space.slots}

    def fired(self, base: Mapping[str, int], chosen: Iterable[Option]) -> int:
        """The rules that fire on the profile of ``base`` changed by ``chosen``."""
        changed = {option.slot: option.accepts for option in chosen}
        found = self.every
        for slot, accepted in base.items():
            found &= changed.get(slot, accepted)
        return found

    def tier(self, fired: int) -> str | None:
        """The category's tier where ``fired`` fire, as the collect policy decides it."""
        if fired in self.tiers:
            return self.tiers[fired]
        effects = [self.effects[i] for i in _bits(fired)]
        found = self.tiers[fired] = category_tier(effects, self.category, self.tables)
        return found


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _accepts(when: Mapping[str, frozenset[Any]], slot: str, value: Any) -> bool:
    if slot == "condition":
        area, condition = value
        return area in when.get("disease_area", (area,)) and condition in when.get(
            "condition", (condition,)
        )
    return slot not in when or value in when[slot]
