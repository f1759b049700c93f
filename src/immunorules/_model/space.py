"""The flat profile space of a knowledge base: what the engines match and the audit partitions.

Scalar fields are flat already. A set field becomes one flat field per group of its members
that the rules name together: a member named only in ``includes`` is a group of its own, the
members of one ``includes_any`` or of one ``excludes`` are joined into one group (with any group
they share a member with), and a set field that may be not stated is one group of every member
the rules name (so "not stated" is one value of one flat field, never a mix). A group's value is
one class of the subsets of its members that no rule tells apart, written as its smallest
member subset (``"a+b"``, ``""`` for none; ``None`` when the set is not stated). The classes are
found from the distinct member sets the rules test, never by listing every subset, so a group of
hundreds of members costs what its distinct tests cost (a group of a few members keeps every
subset apart). Every rule stays one AND of per-field
allowed value sets, the engines compare plain strings, and the audit reasons over finite
dimensions, exactly. Members no rule names are not in the flat space at all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .matching import RuleMatcher, Scalar
from .profile import ConditionProfile
from .rules import Rule, SetCondition, describe_condition, show_value
from .schema import Schema

__all__ = ["FlatSpace"]

#: A group of at most this many members has one value per subset of them (64 at most).
_EVERY_SUBSET = 6


@dataclass(frozen=True, slots=True)
class _Group:
    """One flat field of a set field: its members, the member sets the rules test on it (for
    meeting the profile's set, for being all in it), and the value of each reachable
    signature ``(sets met, sets not all in)``."""

    field: str
    members: tuple[str, ...]
    meets: dict[str, int]  # member -> bits of the ``meet`` sets holding it
    contains: tuple[frozenset[str], ...]
    values: dict[tuple[int, int], str]

    def value(self, present: Collection[str] | None) -> Scalar:
        if present is None:
            return None
        met = 0
        meets = self.meets
        for member in present:
            met |= meets.get(member, 0)
        missing = 0
        if self.contains:
            held = frozenset(present)
            for index, part in enumerate(self.contains):
                if not part <= held:
                    missing |= 1 << index
        return self.values[(met, missing)]


class FlatSpace:
    """The flat fields, their domains and the flat form of profiles and rules."""

    def __init__(self, schema: Schema, rules: Iterable[Rule]) -> None:
        self.schema = schema
        found_groups: dict[str, list[set[str]]] = {}
        meets: dict[str, set[frozenset[str]]] = {}
        contains: dict[str, set[frozenset[str]]] = {}
        for rule in rules:
            for name, test in rule.sets.items():
                found = found_groups.setdefault(name, [])
                for member in sorted(test.includes | test.excludes):
                    _join(found, {member})
                for any_of in filter(None, test.includes_any):
                    _join(found, set(any_of))
                meets.setdefault(name, set()).update(filter(None, test.includes_any))
                if test.excludes:
                    meets[name].add(test.excludes)
                if test.includes:
                    contains.setdefault(name, set()).add(test.includes)
        #: flat field -> (set field, its members in vocabulary order)
        self.groups: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._groups: dict[str, _Group] = {}
        self.domains: dict[str, tuple[Scalar, ...]] = dict(schema.domains)
        for name, found in found_groups.items():
            order = schema.set_fields[name]
            position = {member: index for index, member in enumerate(order)}
            nullable = schema.fields[name].nullable
            if nullable:  # one group: "not stated" is one value of one flat field
                found = [set().union(*found)]
            for group in sorted(found, key=lambda g: min((position[m] for m in g), default=-1)):
                members = tuple(sorted(group, key=position.__getitem__))
                key = f"{name}[{'|'.join(members)}]"
                compiled = _compile_group(
                    name,
                    members,
                    [part & group for part in meets.get(name, ()) if part & group],
                    [part & group for part in contains.get(name, ()) if part & group],
                    position,
                )
                self.groups[key] = (name, members)
                self._groups[key] = compiled
                self.domains[key] = (*((None,) if nullable else ()), *compiled.values.values())
        self._by_field: dict[str, list[tuple[str, _Group]]] = {}
        for key, compiled in self._groups.items():
            self._by_field.setdefault(compiled.field, []).append((key, compiled))

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
            for key, group in parts:
                fact[key] = group.value(present)
        return fact

    def group_value(self, key: str, present: Collection[str] | None) -> Scalar:
        """The value of flat field ``key`` (a group of a set field) for the set field's value
        ``present`` (``None``: not stated)."""
        return self._groups[key].value(present)

    def unflatten(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Profile field values from flat ones (set fields: the union of their groups)."""
        values = {name: value for name, value in flat.items() if name not in self.groups}
        for key, (name, members) in self.groups.items():
            if key in flat:
                if flat[key] is None:
                    values[name] = None
                    continue
                chosen = [m for m in str(flat[key]).split("+") if m]
                kept = [m for m in values.get(name) or () if m not in members]
                values[name] = (*kept, *chosen)
        return values

    # -- rules -------------------------------------------------------------------------------

    def when(self, rule: Rule) -> dict[str, frozenset[Scalar]]:
        """The rule's conditions over the flat fields."""
        flat = dict(rule.when)
        for name, test in rule.sets.items():
            for key, group in self._by_field.get(name, ()):
                if not test.members & group.meets.keys() and not test.or_not_stated:
                    continue
                flat[key] = frozenset(
                    value
                    for value in self.domains[key]
                    if (
                        test.or_not_stated
                        if value is None
                        else _group_holds(
                            test, group.members, frozenset(str(value).split("+")) - {""}
                        )
                    )
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
            unstated = " (or not stated)" if None in subsets else ""
            subsets = [v for v in subsets if v is not None]
            if not subsets:
                return f"{name} = null"
            if len(members) == 1:
                (member,) = members
                verb = "includes" if subsets == [member] else "excludes"
                return f"{name} {verb} {member}{unstated}"
            shown = ["{" + ", ".join(str(v).split("+")) + "}" if v else "{}" for v in subsets]
            return f"{name} & {{{', '.join(members)}}} in [{'; '.join(shown)}]{unstated}"
        domain = self.domains[field]
        integer = self.schema.fields[field].type == "integer"
        return describe_condition(field, allowed, domain, integer=integer)

    def show(self, field: str, value: Scalar) -> str:
        if field in self.groups and value is not None:
            return "{" + ", ".join(m for m in str(value).split("+") if m) + "}"
        return show_value(value)


def _join(groups: list[set[str]], new: set[str]) -> None:
    """Add ``new`` to ``groups``, merging every group it shares a member with."""
    merged = set(new)
    for group in [g for g in groups if g & new]:
        merged |= group
        groups.remove(group)
    groups.append(merged)


def _compile_group(
    field: str,
    members: tuple[str, ...],
    meets: list[frozenset[str]],
    contains: list[frozenset[str]],
    position: Mapping[str, int],
) -> _Group:
    """A group's value classes. A rule sees of a subset of the members only which tested sets
    it meets (``includes_any``, ``excludes``) and which it holds entirely (``includes``): its
    signature. Members in the same tested sets are interchangeable (an *atom*); the reachable
    signatures are grown one atom at a time (none, some or all of its members in), each keeping
    the smallest subset (then the earliest members) that reaches it as its value, so the work
    grows with the atoms times the signatures, never with the subsets. A small group (at most
    :data:`_EVERY_SUBSET` members) keeps every subset apart, as a region reads more plainly when
    it names the members."""
    if len(members) <= _EVERY_SUBSET:
        meets = [*meets, *(frozenset({member}) for member in members)]

    def order(part: frozenset[str]) -> list[int]:
        return sorted(position[m] for m in part)

    meet_sets = sorted(set(meets), key=order)
    contain_sets = tuple(sorted(set(contains), key=order))
    meet_bits = {
        member: sum(1 << i for i, part in enumerate(meet_sets) if member in part)
        for member in members
    }
    atoms: dict[tuple[int, int], list[int]] = {}
    for member in members:
        contain_bits = sum(1 << i for i, part in enumerate(contain_sets) if member in part)
        atoms.setdefault((meet_bits[member], contain_bits), []).append(position[member])
    reached: dict[tuple[int, int], tuple[int, ...]] = {(0, 0): ()}
    for (met, held_by), atom in atoms.items():
        grown: dict[tuple[int, int], tuple[int, ...]] = {}
        for (old_met, missing), subset in reached.items():
            choices = [((old_met, missing | held_by), subset)]  # none of the atom
            if len(atom) > 1:  # some, not all
                choices.append(((old_met | met, missing | held_by), (*subset, atom[0])))
            choices.append(((old_met | met, missing), (*subset, *atom)))  # all of it
            for signature, chosen in choices:
                chosen = tuple(sorted(chosen))
                known = grown.get(signature)
                if known is None or (len(chosen), chosen) < (len(known), known):
                    grown[signature] = chosen
        reached = grown
    by_position = {position[m]: m for m in members}
    values = {
        signature: "+".join(by_position[index] for index in subset)
        for signature, subset in sorted(reached.items(), key=lambda item: (len(item[1]), item[1]))
    }
    return _Group(field, members, meet_bits, contain_sets, values)


def _group_holds(test: SetCondition, members: tuple[str, ...], present: frozenset[str]) -> bool:
    """Whether ``test``'s parts on ``members`` hold when exactly ``present`` of them are in."""
    inside = set(members)
    if not (test.includes & inside) <= present:
        return False
    if test.excludes & present:
        return False
    # an empty group: the condition is ``null`` (matches only a set that is not stated)
    return all(group & present for group in test.includes_any if group & inside or not group)
