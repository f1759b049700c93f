"""From verified search results to the change sets a reader sees.

Verified change sets that change the same fields with the same outcome and differ in one field
only are merged (prior_lines_of_therapy 1, 2-3 and 4-20 become one set listing every value that
works); each set is then described field by field (a set field with its whole value before and
after, a condition change with the disease area it implies) and the sets are put in a
deterministic order. This module must never search or evaluate: it only reshapes what
verification confirmed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

from ..._model.profile import ConditionProfile
from .index import Slots
from .models import ChangeSet, ProfileChange
from .search import Option
from .verify import Outcome, Verified

__all__ = ["change_sets"]


class _Group(NamedTuple):
    """Verified change sets merged: per slot changed, the value classes that work."""

    per_slot: list[list[Option]]
    outcome: Outcome


def change_sets(
    space: Slots, profile: ConditionProfile, verified: Sequence[Verified]
) -> tuple[ChangeSet, ...]:
    """The merged, described and ordered change sets of ``verified``."""
    profiles = {found.chosen: found.profile for found in verified}
    merged = sorted(_merge(verified), key=lambda group: _sort_key(space, group.per_slot))
    found = []
    for group in merged:
        representative = tuple(options[0] for options in group.per_slot)
        found.append(
            ChangeSet(
                changes=_changes(space, profile, group.per_slot),
                size=len(group.per_slot),
                tier=group.outcome.tier,
                rule_ids=group.outcome.rule_ids,
                profile=profiles[representative],
            )
        )
    return tuple(found)


def _merge(found: Sequence[Verified]) -> list[_Group]:
    """Merge change sets that change the same fields with the same outcome and differ in the
    value of one field only (e.g. prior_lines_of_therapy 1, 2-3 and 4-20 become one set)."""
    groups = [_Group([[option] for option in each.chosen], each.outcome) for each in found]
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(groups)), 2):
            (a, out_a), (b, out_b) = groups[i], groups[j]
            if out_a != out_b or [o[0].slot for o in a] != [o[0].slot for o in b]:
                continue
            differ = [k for k in range(len(a)) if a[k] != b[k]]
            if len(differ) != 1:
                continue
            k = differ[0]
            a[k] = sorted([*a[k], *b[k]], key=lambda option: option.order)
            del groups[j]
            merged = True
            break
    return groups


def _sort_key(space: Slots, group: Sequence[Sequence[Option]]) -> tuple[Any, ...]:
    """Fewest fields first; among equals, those that keep the condition; then field order of
    the profile model, then value order in each field's domain."""
    return (
        len(group),
        any(options[0].slot == "condition" for options in group),
        [(space.slots.index(options[0].slot), options[0].order) for options in group],
    )


def _changes(
    space: Slots, profile: ConditionProfile, group: Sequence[Sequence[Option]]
) -> tuple[ProfileChange, ...]:
    """The field changes of a merged change set: one entry per slot, each with its classes."""
    changes: list[ProfileChange] = []
    for options in group:
        if options[0].slot in space.flat.groups:
            changes.append(_set_change(space, profile, options))
        elif options[0].slot != "condition":
            changes.append(_value_change(space, profile, options))
        else:
            changes.extend(_condition_changes(space, profile, options))
    return tuple(changes)


def _members(options: Sequence[Option]) -> list[Any]:
    return [member for option in options for member in option.members]


def _set_change(
    space: Slots, profile: ConditionProfile, options: Sequence[Option]
) -> ProfileChange:
    """A change of one member of a set field: the set's whole value before and after."""
    first = options[0]
    members = _members(options)
    name = space.field_of(first.slot)
    fact = space.flat.fact(profile)

    def as_set(value: Any) -> tuple[str, ...] | None:
        changed = space.flat.unflatten({**fact, first.slot: value})
        return None if changed[name] is None else tuple(changed[name])  # None: not stated

    return ProfileChange(
        field=name,
        before=getattr(profile, name),
        after=as_set(first.value),
        alternatives=tuple(as_set(v) for v in space.values(first.slot) if v in members),
    )


def _value_change(
    space: Slots, profile: ConditionProfile, options: Sequence[Option]
) -> ProfileChange:
    first = options[0]
    members = _members(options)
    return ProfileChange(
        field=first.slot,
        before=space.value(space.flat.fact(profile), first.slot),
        after=first.value,
        alternatives=tuple(v for v in space.values(first.slot) if v in members),
    )


def _condition_changes(
    space: Slots, profile: ConditionProfile, options: Sequence[Option]
) -> list[ProfileChange]:
    """A change of the condition slot: the condition, the disease area, or both (the area then
    marked as implied by the condition)."""
    members = _members(options)
    ordered = [pair for pair in space.condition_values if pair in members]
    area, condition = options[0].value
    changes = []
    if condition != profile.condition:
        changes.append(
            ProfileChange(
                field="condition",
                before=profile.condition,
                after=condition,
                alternatives=tuple(dict.fromkeys(c for _, c in ordered)),
            )
        )
    if area != profile.disease_area:
        changes.append(
            ProfileChange(
                field="disease_area",
                before=profile.disease_area,
                after=area,
                alternatives=tuple(dict.fromkeys(a for a, _ in ordered)),
                implied=condition is not None,
            )
        )
    return changes
