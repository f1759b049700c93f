"""The flat profile space of a knowledge base: what the engines match and the audit partitions.

Scalar fields are flat already. A set field becomes one flat field per group of its members
that the rules name together: a member named only in ``includes``/``excludes`` is a group of its
own, and the members of one ``includes_any`` are joined into one group (with any group they
share a member with). A group's value is the members of it that the profile's set holds, written
as one string (``"a+b"``, ``""`` for none), so every rule stays one AND of per-field allowed
value sets, the engines compare plain strings, and the audit reasons over finite dimensions,
exactly. Members no rule names are not in the flat space at all (no rule can tell them apart).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from .matching import RuleMatcher, Scalar
from .profile import ConditionProfile
from .rules import Rule, SetCondition, describe_condition, show_value
from .schema import Schema

__all__ = ["FlatSpace"]


class FlatSpace:
    """The flat fields, their domains and the flat form of profiles and rules."""

    def __init__(self, schema: Schema, rules: Iterable[Rule]) -> None:
        self.schema = schema
        groups: dict[str, list[set[str]]] = {}
        for rule in rules:
            for name, test in rule.sets.items():
                found = groups.setdefault(name, [])
                for member in sorted(test.includes | test.excludes):
                    _join(found, {member})
                for any_of in test.includes_any:
                    _join(found, set(any_of))
        #: flat field -> (set field, its members in vocabulary order)
        self.groups: dict[str, tuple[str, tuple[str, ...]]] = {}
        for name, found in groups.items():
            order = schema.set_fields[name]
            for group in sorted(found, key=lambda g: min(order.index(m) for m in g)):
                members = tuple(m for m in order if m in group)
                self.groups[f"{name}[{'|'.join(members)}]"] = (name, members)
        self.domains: dict[str, tuple[Scalar, ...]] = dict(schema.domains)
        for key, (_, members) in self.groups.items():
            self.domains[key] = tuple(
                "+".join(subset)
                for size in range(len(members) + 1)
                for subset in itertools.combinations(members, size)
            )
        self._by_field: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for key, (name, members) in self.groups.items():
            self._by_field.setdefault(name, []).append((key, members))

    @property
    def has_sets(self) -> bool:
        return bool(self.groups)

    # -- profiles ----------------------------------------------------------------------------

    def fact(self, profile: ConditionProfile) -> dict[str, Any]:
        """The profile as flat field -> value."""
        values = profile.__dict__
        if not self.groups:
            return values
        fact = dict(values)
        for name, parts in self._by_field.items():
            present = values[name]
            for key, members in parts:
                fact[key] = "+".join(m for m in members if m in present)
        return fact

    def unflatten(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Profile field values from flat ones (set fields: the union of their groups)."""
        values = {name: value for name, value in flat.items() if name not in self.groups}
        for key, (name, members) in self.groups.items():
            if key in flat:
                chosen = [m for m in str(flat[key]).split("+") if m]
                kept = [m for m in values.get(name, ()) if m not in members]
                values[name] = (*kept, *chosen)
        return values

    # -- rules -------------------------------------------------------------------------------

    def when(self, rule: Rule) -> dict[str, frozenset[Scalar]]:
        """The rule's conditions over the flat fields."""
        flat = dict(rule.when)
        for name, test in rule.sets.items():
            for key, members in self._by_field.get(name, ()):
                if not test.members & set(members):
                    continue
                flat[key] = frozenset(
                    value
                    for value in self.domains[key]
                    if _group_holds(test, members, frozenset(str(value).split("+")) - {""})
                )
        return flat

    def matcher(self, rule: Rule) -> RuleMatcher:
        """The engine-neutral form of the rule."""
        return RuleMatcher(rule.id, tuple(sorted(self.when(rule).items())))

    def describe(self, field: str, allowed: frozenset[Scalar]) -> str:
        """A short human reading of one flat condition."""
        if field in self.groups:
            name, members = self.groups[field]
            subsets = [v for v in self.domains[field] if v in allowed]
            if len(members) == 1:
                (member,) = members
                verb = "includes" if subsets == [member] else "excludes"
                return f"{name} {verb} {member}"
            shown = ["{" + ", ".join(str(v).split("+")) + "}" if v else "{}" for v in subsets]
            return f"{name} & {{{', '.join(members)}}} in [{'; '.join(shown)}]"
        domain = self.domains[field]
        integer = self.schema.fields[field].type == "integer"
        return describe_condition(field, allowed, domain, integer=integer)

    def show(self, field: str, value: Scalar) -> str:
        if field in self.groups:
            return "{" + ", ".join(m for m in str(value).split("+") if m) + "}"
        return show_value(value)


def _join(groups: list[set[str]], new: set[str]) -> None:
    """Add ``new`` to ``groups``, merging every group it shares a member with."""
    merged = set(new)
    for group in [g for g in groups if g & new]:
        merged |= group
        groups.remove(group)
    groups.append(merged)


def _group_holds(test: SetCondition, members: tuple[str, ...], present: frozenset[str]) -> bool:
    """Whether ``test``'s parts on ``members`` hold when exactly ``present`` of them are in."""
    inside = set(members)
    if not (test.includes & inside) <= present:
        return False
    if test.excludes & present:
        return False
    return all(group & present for group in test.includes_any if group & inside)
