"""The search for the smallest profile changes that make a category a suggestion.

The search is exact, not a sample. The values of each slot fall into classes that the relevant
rules cannot tell apart (:func:`options`); one value per class is tried. A field not stated is
one more value: stating it (from not stated to a value) is a change like any other, while
making a stated field not stated is never proposed. Change sets are tried by
size (one slot, then two, ...) up to ``max_changes`` slots, and only minimal ones are kept (no
proper subset of a kept set works). Each try asks the :class:`~.index.Index` for the tier, never
the knowledge base: what the search proposes must be verified by evaluation afterwards. When no
change set within the size limit works, :func:`reachable` says whether any change could.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..._model.profile import ConditionProfile
from .index import Index, Slots
from .models import SuggestedTier

__all__ = ["EXHAUSTIVE_LIMIT", "Option", "changed_fact", "options", "reachable", "search"]

#: Above this many combinations, the exhaustive reachability check is not attempted.
EXHAUSTIVE_LIMIT = 500_000
_SUGGESTED = ("first_line", "escalation")


@dataclass(frozen=True, slots=True)
class Option:
    """A class of values of one slot that the relevant rules cannot tell apart."""

    slot: str
    value: Any  # the representative tried
    members: tuple[Any, ...]  # every value of the class, in domain order
    order: int  # position of the class (its first member) in the slot's domain
    accepts: int  # the relevant rules that accept its values (an Index bitset)


def options(slot: str, index: Index, current: Any) -> list[Option]:
    """The classes of ``slot``'s values other than the current value's class."""
    if slot not in index.tested:
        return []
    space = index.space
    accepts = index.accepts[slot]
    domain = space.values(slot)
    classes: dict[int, list[Any]] = {}
    for value in domain:
        classes.setdefault(accepts[value], []).append(value)
    integer = slot in space.schema.fields and space.schema.fields[slot].type == "integer"
    found = []
    for signature, members in classes.items():
        if signature == accepts[current]:
            continue
        if slot != "condition" and None in members:
            # a fact is stated, never un-stated: not stated is no change to propose (a field
            # not stated may be stated, as any other value of its own class)
            members = [member for member in members if member is not None]
            if not members:
                continue
        if integer and isinstance(current, int):  # the smallest change: the nearest number
            value = min(members, key=lambda n: (abs(n - current), n) if n is not None else (0, 0))
        else:
            value = members[0]
        order = domain.index(members[0])
        found.append(Option(slot, value, tuple(members), order, signature))
    return sorted(found, key=lambda option: option.order)


def changed_fact(
    space: Slots, profile: ConditionProfile, chosen: Sequence[Option]
) -> dict[str, Any]:
    """The flat fact of ``profile`` with the values of ``chosen`` put in."""
    fact = dict(space.flat.fact(profile))
    for option in chosen:
        if option.slot == "condition":
            fact["disease_area"], fact["condition"] = option.value
        else:
            fact[option.slot] = option.value
    return fact


def _per_slot(profile: ConditionProfile, index: Index, fixed: frozenset[str]) -> list[list[Option]]:
    space = index.space
    fact = space.flat.fact(profile)
    return [
        found
        for slot in space.slots
        if space.field_of(slot) not in fixed
        and (found := options(slot, index, space.value(fact, slot)))
    ]


def search(
    profile: ConditionProfile, index: Index, max_changes: int, fixed: frozenset[str]
) -> Iterator[tuple[tuple[Option, ...], SuggestedTier]]:
    """Minimal working change sets, by size, then slot order, then value order, each with the
    tier the index promises for the changed profile."""
    per_slot = _per_slot(profile, index, fixed)
    base = index.base(profile)
    found: set[frozenset[tuple[str, Any]]] = set()
    for size in range(1, min(max_changes, len(per_slot)) + 1):
        for slots in itertools.combinations(per_slot, size):
            for chosen in itertools.product(*slots):
                items = [(option.slot, option.value) for option in chosen]
                if any(
                    frozenset(smaller) in found
                    for fewer in range(1, size)
                    for smaller in itertools.combinations(items, fewer)
                ):
                    continue  # not minimal: a smaller change set already works
                tier = index.tier(index.fired(base, chosen))
                if tier in _SUGGESTED:
                    found.add(frozenset(items))
                    yield chosen, cast(SuggestedTier, tier)


def reachable(profile: ConditionProfile, index: Index, fixed: frozenset[str]) -> bool | None:
    """Whether any valid profile makes the category a suggestion (None: too many to check)."""
    per_slot = _per_slot(profile, index, fixed)
    total = 1
    for found in per_slot:
        total *= len(found) + 1
        if total > EXHAUSTIVE_LIMIT:
            return None
    base = index.base(profile)
    keep: list[Option | None] = [None]
    for chosen in itertools.product(*([*keep, *found] for found in per_slot)):
        picked = [option for option in chosen if option is not None]
        if index.tier(index.fired(base, picked)) in _SUGGESTED:
            return True
    return False
