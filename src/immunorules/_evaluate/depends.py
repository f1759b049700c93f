"""What an answer depends on: the fields a profile leaves not stated whose stated value would
change the answer, computed exactly from the rules and cheaply enough for every ``evaluate``.

For every flat field (a scalar field, or a group of a set field's members) and every value of
its domain, a bitmask has bit ``i`` set when rule ``i`` (the active rules in id order) accepts
the value: the native engine's tables, built here from the same rules. The durable engine may
be the one that matches; these tables give the very rules it fires (the oracle tests hold the
two engines identical), so the dependencies are those of the rules, whichever engine runs.

For a field ``f`` left not stated (one field at a time, every other field as given), the rules
that fire when it is stated as ``v`` are the AND of the other fields' masks with ``f``'s mask
for ``v``. Values with the same fired rules are grouped; a group changes the answer when, in a
part of the result that a rule testing ``f`` touches (a category: its suggestion's tier, drug
classes and direction, its flags and avoids; or an advisory), the collect policy's lines
differ, or an advisory appears. An advisory that only disappears existed because ``f`` is not
stated (a screening or confirmation advisory) and is no change. A field none of whose testing
rules holds on the other fields is no dependency at once.

A :class:`~immunorules.Dependency` lists the ``values`` that change the answer in domain order;
for a set field, the smallest member sets (tuples) of each way it changes (``()``: stating
"none" changes it), e.g. ``(("tnf_inhibitors",), ("anti_tnf_antibodies",))``. ``effect`` says
what changes in words (vocabulary names, at most :data:`EFFECT_LENGTH` characters) and
``affects`` the category and class ids whose tier, class list or avoidance would change.
Everything is kept in bounded caches (per field and the rules holding on the others, per
category and its rules that fire). :class:`ColumnarDepends` answers the same question for a
whole batch of rows with numpy. Nothing is sampled, and nothing here builds a result or decides
a line itself: that is the collect policy's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, NamedTuple

from .._engines.native import value_masks
from .._model.cache import BoundedCache
from .._model.profile import ConditionProfile
from .._model.result import Dependency, Value
from .._model.rules import Rule
from .._model.schema import Schema
from .._model.space import FlatSpace
from .._policy import Effects, Plan, collect, effects_of, part_effects, tables
from .making import made

__all__ = [
    "EFFECT_LENGTH",
    "ColumnarDepends",
    "Depends",
    "Wanted",
    "notes",
    "profile_warnings",
]

#: The longest ``effect`` text; a longer one is cut with an ellipsis.
EFFECT_LENGTH: Final = 120
#: The bound of each cache (per knowledge base).
MAX_CACHED: Final = 16384

_TIER_WORDS: Final = {"first_line": "first line", "escalation": "escalation", "flagged": "flagged"}


def _find_warnings() -> Callable[[ConditionProfile], tuple[str, ...]]:
    """The model's ``profile_warnings(profile)``, where the model defines one; else none."""
    from .._model import profile as profile_module
    from .._model import schema as schema_module

    for module in (schema_module, profile_module):
        found = getattr(module, "profile_warnings", None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    return _no_warnings


def _no_warnings(profile: ConditionProfile) -> tuple[str, ...]:
    return ()


#: What is kept but looks wrong in a profile (e.g. an immune activity that contradicts the
#: condition's), as the model says.
profile_warnings: Final = _find_warnings()


class _Summary(NamedTuple):
    """A plan without reasons: each suggested category's (tier, classes, direction), the
    avoided (category, class) pairs, the advisory keys."""

    suggested: dict[str, tuple[str, tuple[str, ...], Any]]
    avoided: frozenset[tuple[str, str | None]]
    advisories: frozenset[str]


class _Change(NamedTuple):
    """What stating a field as one group of values would change."""

    parts: tuple[str, ...]  # short phrases, e.g. "antifolate csDMARDs avoided"
    affects: frozenset[str]  # category and class ids


class _Part(NamedTuple):
    """A part of a result: a category (its suggestion line and avoids) or an advisory, and
    the rules that touch it. A part's lines depend on its own rules only."""

    kind: str  # "category" or "advisory"
    name: str
    mask: int


class _Flat(NamedTuple):
    """A flat field the rules tell values apart on: its masks per value, and the profile field
    it reads (itself, or the set field of its group)."""

    name: str
    field: str
    group: bool
    masks: dict[Any, int]
    values: tuple[Any, ...]  # its stated values, in domain order
    testing: int  # the rules that tell its values apart
    parts: tuple[_Part, ...]  # the parts of a result a rule testing it touches


class Wanted(NamedTuple):
    """The fields not stated that some rule tests (flat positions, in field order), each with
    the AND of the masks for None of the others, and whether the condition is one of them."""

    fields: tuple[int, ...]
    steps: tuple[tuple[int, _Flat, int, int], ...]  # (flat, it, others' masks, and testing)
    condition: bool


class Depends:
    """The dependencies of one knowledge base's answers (its active rules, its flat space).

    The tables are built on first use (a few milliseconds); every call after is a handful of
    integer ANDs and cache lookups per field not stated. Safe to share between threads.
    """

    def __init__(self, schema: Schema, space: FlatSpace, rules: Iterable[Rule]) -> None:
        self.schema = schema
        self.space = space
        self.rules: tuple[Rule, ...] = tuple(sorted(rules, key=lambda rule: rule.id))
        self._lock = threading.Lock()
        self._flats: tuple[_Flat, ...] | None = None
        self._position: dict[str, int] = {}
        self._scalars: list[tuple[int, str, dict[Any, int]]] = []
        self._reaches: dict[tuple[int, str], int] = {}
        self._condition = -1  # the flat position of ``condition``, if it may be not stated
        self._everything = (1 << len(self.rules)) - 1
        # per tuple of fields not stated: what their dependencies need
        self._wanted: BoundedCache[tuple[str, ...], Wanted] = BoundedCache(MAX_CACHED)
        # whole answers by (the fields not stated, the rules the stated ones allow, the area)
        self._wholes: BoundedCache[tuple[Any, ...], tuple[Dependency, ...]] = BoundedCache(
            MAX_CACHED
        )
        # the rules of the parts touched by a field's live rules, by (field, live rules)
        self._relevant: BoundedCache[tuple[int, int], int] = BoundedCache(MAX_CACHED)
        self._groups: list[tuple[int, _Flat]] = []
        # (): no dependency, else the one dependency
        self._dependencies: BoundedCache[tuple[Any, ...], tuple[Dependency, ...]] = BoundedCache(
            MAX_CACHED
        )
        # a set field's group mask by (flat field, the set)
        self._group_masks: BoundedCache[tuple[int, Any], int] = BoundedCache(MAX_CACHED)
        # the parts the rules of a difference touch, by (flat field, difference)
        self._touched: BoundedCache[tuple[int, int], tuple[tuple[_Part, ...], int]] = BoundedCache(
            MAX_CACHED
        )
        # what a difference changes, by (flat field, the rules of its parts that fire, it)
        self._changes: BoundedCache[tuple[int, int, int], tuple[_Change | None]] = BoundedCache(
            MAX_CACHED
        )
        self._labels: dict[str, str] = {}  # category and class names by id
        # a category's line and avoids by (category, the rules touching it that fire)
        self._categories: BoundedCache[tuple[str, int], Any] = BoundedCache(MAX_CACHED)
        # the policy's plan of one part of a result by (kind, name, its rules that fire),
        # shared with result building (the same rules, the same bits)
        self._part_plans: BoundedCache[tuple[str, str, int], Plan] = BoundedCache(MAX_CACHED)
        self._effects: list[Effects] | None = None  # each rule's effects, read on first use
        self._part_effects: dict[tuple[int, str, str], Effects] = {}

    # -- tables ------------------------------------------------------------------------------

    def flats(self) -> tuple[_Flat, ...]:
        """The flat fields some rule tells values apart on, with their masks."""
        flats = self._flats
        if flats is None:
            with self._lock:
                flats = self._flats
                if flats is None:
                    flats = self._flats = self._build()
        return flats

    def _build(self) -> tuple[_Flat, ...]:
        space = self.space
        everything = (1 << len(self.rules)) - 1
        # the native engine's own tables, for the same rules in the same order
        tables = value_masks([space.matcher(rule) for rule in self.rules], space.domains)
        parts = self._parts()
        flats = []
        for name, masks in tables.items():
            domain = space.domains[name]
            group = name in space.groups
            field = space.groups[name][0] if group else name
            values = tuple(value for value in domain if value is not None)
            testing = everything
            for mask in masks.values():
                testing &= mask
            testing ^= everything  # the rules that tell its values apart
            touched = tuple(part for part in parts if part.mask & testing)
            flats.append(_Flat(name, field, group, masks, values, testing, touched))
        for index, flat in enumerate(flats):
            if None in flat.masks:  # may be not stated: found by its profile field
                self._position.setdefault(flat.field, index)
                if flat.name == "condition":
                    self._condition = index
            if flat.group:
                self._groups.append((index, flat))
            else:
                self._scalars.append((index, flat.name, flat.masks))
        return tuple(flats)

    def _parts(self) -> list[_Part]:
        """The rules touching each part of a result: a category (its suggestion, flags and
        avoids) or an advisory. A part's lines depend on its own rules only, so stating a
        field changes only the parts its rules touch."""
        touching: dict[tuple[str, str], int] = {}
        for bit, rule in enumerate(self.rules):
            then = rule.then
            names = {("category", s.category) for s in then.suggest}
            names |= {("category", c) for c in then.flag}
            names |= {("category", a.category) for a in then.avoid}
            names |= {("advisory", key) for key in then.advise}
            for name in names:
                touching[name] = touching.get(name, 0) | 1 << bit
        return [_Part(kind, name, mask) for (kind, name), mask in touching.items()]

    # -- one profile -------------------------------------------------------------------------

    def depends_on(
        self, profile: ConditionProfile, unstated: Sequence[str]
    ) -> tuple[Dependency, ...]:
        """The dependencies of ``profile``'s answer on its ``unstated`` fields, in field order."""
        wanted = self.wanted(tuple(unstated))
        if not wanted.fields:
            return ()
        values = profile.__dict__
        group_value = self.space.group_value
        known_groups = self._group_masks
        wanted_set = set(wanted.fields)
        rest = (1 << len(self.rules)) - 1  # the AND of the masks of the stated flat fields
        for index, name, table in self._scalars:
            if index not in wanted_set:
                rest &= table[values[name]]
        for index, flat in self._groups:
            if index in wanted_set:
                continue
            present = values[flat.field]
            cached = known_groups.get((index, present))
            if cached is None:
                cached = flat.masks[group_value(flat.name, present)]
                known_groups.put((index, present), cached)
            rest &= cached
        return self.answer(wanted, rest, values["disease_area"] if wanted.condition else None)

    def wanted(self, unstated: tuple[str, ...]) -> Wanted:
        """What the dependencies on the fields ``unstated`` (in field order) need besides the
        masks of the stated fields: kept per tuple of names."""
        found = self._wanted.get(unstated)
        if found is None:
            flats = self.flats()
            position = self._position
            fields = tuple(position[name] for name in unstated if name in position)
            # the k-th wanted field sees the masks for None of every other wanted field
            count = len(fields)
            after = [self._everything] * (count + 1)
            for k in range(count - 1, -1, -1):
                after[k] = after[k + 1] & flats[fields[k]].masks[None]
            before = self._everything
            steps = []
            for k, index in enumerate(fields):
                others = before & after[k + 1]
                steps.append((index, flats[index], others, others & flats[index].testing))
                before &= flats[index].masks[None]
            found = Wanted(fields, tuple(steps), self._condition in fields)
            self._wanted.put(unstated, found)
        return found

    def answer(self, wanted: Wanted, rest: int, area: str | None) -> tuple[Dependency, ...]:
        """The dependencies on the ``wanted`` fields (not stated) when ``rest`` are the rules
        every stated field allows; ``area``: the disease area, when the condition is wanted.
        The fields not stated hold their masks for None: with ``rest`` (and, for a condition,
        the area) they decide every dependency, so profiles alike share them."""
        key = (wanted.fields, rest, area)
        whole = self._wholes.get(key)
        if whole is None:
            whole = self._depends_on(wanted, rest, area)
            self._wholes.put(key, whole)
        return whole

    def _depends_on(self, wanted: Wanted, rest: int, area: str | None) -> tuple[Dependency, ...]:
        found: list[Dependency] = []
        get = self._dependencies.get
        relevant_get = self._relevant.get
        condition = self._condition
        for i, flat, others_unstated, testing in wanted.steps:
            if not rest & testing:  # no rule testing it holds on every other field
                continue
            others = rest & others_unstated
            field_area = area if i == condition else None
            if field_area is not None:  # only the conditions of its area may be stated
                others &= self._reach(i, field_area)
            live = others & flat.testing
            if not live:
                continue
            relevant = relevant_get((i, live))  # only the parts those rules touch can change
            if relevant is None:
                relevant = 0
                for part in flat.parts:
                    if part.mask & live:
                        relevant |= part.mask
                self._relevant.put((i, live), relevant)
            others &= relevant
            known = get((i, others, field_area))
            if known is None:
                known = self.cached(i, others, field_area)
            found.extend(known)
        return tuple(found)  # in the order of ``unstated``

    def _reach(self, index: int, area: str) -> int:
        """The rules that may fire for flat field ``index`` (the condition) not stated or
        stated as a condition of ``area``: no other rule can make a difference there."""
        key = (index, area)
        found = self._reaches.get(key)
        if found is None:
            flat = self.flats()[index]
            areas = self.schema.condition_area
            found = flat.masks[None]
            for value in flat.values:
                if areas.get(value) == area:
                    found |= flat.masks[value]
            self._reaches[key] = found
        return found

    def cached(self, index: int, others: int, area: str | None) -> tuple[Dependency, ...]:
        """:meth:`dependency` as a tuple (empty: none), kept in the cache by its arguments
        (``others`` already narrowed to the parts the field's live rules touch)."""
        key = (index, others, area)
        known = self._dependencies.get(key)
        if known is None:
            made = self.dependency(index, others, area)
            known = () if made is None else (made,)
            self._dependencies.put(key, known)
        return known

    def dependency(self, index: int, others: int, area: str | None = None) -> Dependency | None:
        """The dependency on flat field ``index`` (not stated) when ``others`` are the rules
        that hold on every other field (of those that share a part of a result with a rule
        testing it: no other part can change); ``area`` restricts a condition to its disease
        area."""
        flat = self.flats()[index]
        masks = flat.masks
        base = others & masks[None]
        by_fired: dict[int, list[Any]] = {}
        candidates = flat.values
        if area is not None:
            areas = self.schema.condition_area
            candidates = tuple(value for value in candidates if areas.get(value) == area)
        for value in candidates:
            fired = others & masks[value]
            if fired != base:
                by_fired.setdefault(fired, []).append(value)
        if not by_fired:
            return None
        changes: dict[tuple[str, ...], tuple[list[Any], frozenset[str]]] = {}
        for fired, group in by_fired.items():
            change = self._change_of(index, flat, base, fired ^ base)
            if change is None:
                continue
            known = changes.get(change.parts)
            if known is None:
                changes[change.parts] = (list(group), change.affects)
            else:
                known[0].extend(group)
        if not changes:
            return None
        if flat.group:  # a set field: the smallest member sets of each way it changes
            for group, _ in changes.values():
                group[:] = _smallest(group)
        rank = {value: n for n, value in enumerate(flat.values)}
        changing = sorted((v for group, _ in changes.values() for v in group), key=rank.__getitem__)
        affects: set[str] = set()
        for _, ids in changes.values():
            affects |= ids
        pieces = []
        for phrases, (group, _) in sorted(
            changes.items(), key=lambda item: min(rank[v] for v in item[1][0])
        ):
            group.sort(key=rank.__getitem__)
            pieces.append(f"{self._when(flat, group)}: {', '.join(phrases)}")
        return made(
            Dependency,
            {
                "field": flat.field,
                "values": tuple(_stated(flat, value) for value in changing),
                "effect": _joined(pieces),
                "affects": self._ordered(affects),
            },
        )

    def _change_of(self, index: int, flat: _Flat, base: int, diff: int) -> _Change | None:
        """What stating flat field ``index`` changes when ``base`` fire with it not stated and
        ``base ^ diff`` with it stated: only the parts the rules of ``diff`` touch can change,
        so it is kept by those parts' rules that fire (many profiles share them)."""
        touched_key = (index, diff)
        found = self._touched.get(touched_key)
        if found is None:
            touched = tuple(part for part in flat.parts if part.mask & diff)
            within = 0
            for part in touched:
                within |= part.mask
            found = (touched, within)
            self._touched.put(touched_key, found)
        touched, within = found
        key = (index, base & within, diff)
        known = self._changes.get(key)
        if known is None:
            fired = base ^ diff
            change = self._change(self._partial(base, touched), self._partial(fired, touched))
            known = (change,)
            self._changes.put(key, known)
        return known[0]

    # -- answers -----------------------------------------------------------------------------

    def _partial(self, fired: int, parts: Sequence[_Part]) -> _Summary:
        """The answer's ``parts`` when ``fired`` fire."""
        suggested: dict[str, tuple[str, tuple[str, ...], Any]] = {}
        avoided: frozenset[tuple[str, str | None]] = frozenset()
        advisories = set()
        for part in parts:
            bits = fired & part.mask
            if part.kind == "advisory":
                if bits:
                    advisories.add(part.name)
                continue
            if not bits:
                continue
            key = (part.name, bits)
            known = self._categories.get(key)
            if known is None:
                known = self._category(part.name, bits)
                self._categories.put(key, known)
            line, pairs = known
            if line is not None:
                suggested[part.name] = line
            avoided |= pairs
        return _Summary(suggested, avoided, frozenset(advisories))

    def _category(
        self, category: str, bits: int
    ) -> tuple[tuple[str, tuple[str, ...], Any] | None, frozenset[tuple[str, str | None]]]:
        """A category's suggestion line (tier, classes, direction; None when it has none) and
        avoided (category, class) pairs, when the rules of ``bits`` (all those touching it
        that fire) fire."""
        steps = self.part_plan("category", category, bits)
        line = None
        for found in steps.suggestions:  # only the category's own lines
            fields = dict(found.fields)
            line = (fields["tier"], fields["subcategories"], fields["direction"])
        pairs = frozenset(
            (fields["category"], fields["subcategory"])
            for fields in (dict(found.fields) for found in steps.avoided)
        )
        return line, pairs

    def part_plan(self, kind: str, name: str, bits: int) -> Plan:
        """What the collect policy makes of one part of a result (``kind`` ``"category"`` or
        ``"advisory"``, its ``name``) when the rules of ``bits`` (those touching it that
        fire) fire: the plan of their effects on that part alone, whose lines' reason
        positions count the rules of ``bits`` in id order. Kept per part and rules, for
        these dependencies and for the results built from the same rules."""
        key = (kind, name, bits)
        found = self._part_plans.get(key)
        if found is None:
            effects = self._effects
            if effects is None:
                effects = self._effects = [effects_of(rule, self.schema) for rule in self.rules]
            restricted = self._part_effects
            chosen = []
            rest = bits
            while rest:
                low = rest & -rest
                index = low.bit_length() - 1
                mine = restricted.get((index, kind, name))
                if mine is None:
                    mine = restricted[(index, kind, name)] = part_effects(
                        effects[index], kind, name
                    )
                chosen.append(mine)
                rest ^= low
            found = collect(chosen, tables(self.schema))
            self._part_plans.put(key, found)
        return found

    def _change(self, before: _Summary, after: _Summary) -> _Change | None:
        """What changes from ``before`` to ``after``; None when nothing does (an advisory that
        only disappears is no change)."""
        added = after.advisories - before.advisories
        if before.suggested == after.suggested and before.avoided == after.avoided and not added:
            return None
        parts: list[str] = []
        affects: set[str] = set()
        now_avoided = after.avoided - before.avoided
        shown_avoided: set[str] = set()
        categories = self.schema.categories
        for category in categories:
            old, new = before.suggested.get(category), after.suggested.get(category)
            if old == new:
                continue
            affects.add(category)
            name = self._label(category)
            if new is None:
                if (category, None) in after.avoided:
                    parts.append(f"{name} avoided")
                    shown_avoided.add(category)
                else:
                    parts.append(f"{name} not suggested")
                continue
            if old is None:
                parts.append(f"{name} suggested ({_TIER_WORDS[new[0]]})")
                continue
            if old[0] != new[0]:
                parts.append(f"{name} {_TIER_WORDS[new[0]]}")
            gone = [sub for sub in old[1] if sub not in new[1]]
            came = [sub for sub in new[1] if sub not in old[1]]
            if gone:
                avoided = [s for s in gone if (category, s) in now_avoided]
                if avoided:
                    parts.append(f"{self._names(avoided)} avoided")
                    shown_avoided.update(avoided)
                rest = [s for s in gone if s not in avoided]
                if rest:
                    parts.append(f"{self._names(rest)} dropped")
            if came:
                parts.append(f"{self._names(came)} added")
        for category, sub in sorted(
            after.avoided ^ before.avoided, key=lambda pair: self._rank(pair[1] or pair[0])
        ):
            target = sub or category
            affects.add(target)
            if target in shown_avoided:
                continue
            name = self._names([target])
            parts.append(
                f"{name} avoided" if (category, sub) in after.avoided else f"{name} not avoided"
            )
        for key in sorted(added):
            parts.append(f"advisory {key}")
        return _Change(tuple(parts), frozenset(affects))

    def _rank(self, name: str) -> tuple[int, int]:
        schema = self.schema
        if name in schema.category_order:
            return (0, schema.category_order[name])
        return (1, schema.subcategory_order.get(name, 0))

    def _ordered(self, ids: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(ids, key=self._rank))

    def _label(self, name: str) -> str:
        """A category's or class's name."""
        labels = self._labels
        if not labels:
            vocabulary = self.schema.vocabulary
            labels.update({s.id: s.name for s in vocabulary.subcategories})
            labels.update({c.id: c.name for c in vocabulary.categories})
        return labels[name]

    def _names(self, ids: Sequence[str]) -> str:
        if len(ids) > 2:
            return f"{len(ids)} classes"
        names = [self._label(i) for i in ids]
        return " and ".join(names) if len(names) <= 2 else f"{', '.join(names[:-1])}, {names[-1]}"

    def _when(self, flat: _Flat, values: Sequence[Any]) -> str:
        """``if <field> is <values>``, shortly."""
        label = flat.field.replace("_", " ")
        schema = self.schema
        definition = schema.fields[flat.field]
        if flat.group:
            sets = [[m for m in str(value).split("+") if m] for value in values]
            named = [
                " and ".join(self._member(flat.field, m) for m in members)
                for members in sets
                if members
            ]
            shown = [f"if {label} is none"] if [] in sets else []
            if named:
                others = f" or {len(named) - 1} others" if len(named) > 2 else ""
                listed = named[0] + others if others else " or ".join(named)
                shown.append(f"if {label} includes {listed}")
            return " or ".join(shown)
        if definition.type == "boolean":
            if list(values) == [True]:
                return f"if {label}"
            if list(values) == [False]:
                return f"if not {label}"
            return f"if {label} is stated"
        if definition.type == "integer":
            return f"if {label} is {_ranges(values, definition.max)}"
        if flat.field == "condition":
            names = [schema.condition(str(value)).name for value in values]
            return f"if {label} is {_few(names, ' or ')}"
        return f"if {label} is {_few([str(value) for value in values], ' or ')}"

    def _member(self, field: str, member: str) -> str:
        if self.schema.fields[field].of == "subcategories":
            return self.schema.vocabulary.subcategory(member).name
        return member


def _stated(flat: _Flat, value: Any) -> Value:
    """A flat value as the profile field's stated value (a set field's: its member tuple)."""
    if flat.group:
        return tuple(member for member in str(value).split("+") if member)
    return value  # type: ignore[no-any-return]


def _smallest(values: Sequence[Any]) -> list[Any]:
    """The group values (``"a+b"``) none of the others is a proper subset of."""
    sets = [frozenset(m for m in str(value).split("+") if m) for value in values]
    return [
        value
        for value, members in zip(values, sets, strict=True)
        if not any(other < members for other in sets)
    ]


def _few(items: Sequence[str], joiner: str) -> str:
    if len(items) <= 3:
        return joiner.join(items)
    return f"{joiner.join(items[:2])}{joiner}{len(items) - 2} more"


def _ranges(values: Sequence[Any], top: int | None) -> str:
    """Integers as runs: ``0``, ``2-4``, ``5 or more``."""
    runs: list[list[int]] = []
    for value in sorted(int(v) for v in values):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    shown = []
    for low, high in runs:
        if high == top and high > low:
            shown.append(f"{low} or more")
        elif low == high:
            shown.append(str(low))
        else:
            shown.append(f"{low}-{high}")
    return _few(shown, " or ")


def _joined(pieces: Sequence[str]) -> str:
    """The pieces joined by ``; `` within :data:`EFFECT_LENGTH` (the rest counted)."""
    text = pieces[0]
    for n, piece in enumerate(pieces[1:], start=1):
        more = f"; +{len(pieces) - n} more"
        if len(text) + 2 + len(piece) + (len(more) if n < len(pieces) - 1 else 0) > EFFECT_LENGTH:
            return _cut(text, len(more)) + more
        text = f"{text}; {piece}"
    return _cut(text)


def _cut(text: str, room: int = 0) -> str:
    limit = EFFECT_LENGTH - room
    if len(text) <= limit:
        return text
    head = text[: limit - 5]
    if ", " in head:  # end at a whole item, never inside a name
        head = head.rsplit(", ", 1)[0]
    return head.rstrip(" ,;:") + ", ..."


def notes(
    depends: Depends | None, profile: ConditionProfile, depends_on: bool = True
) -> tuple[tuple[str, ...], tuple[Dependency, ...], tuple[str, ...]]:
    """A result's ``unstated``, ``depends_on`` (empty without ``depends`` or when not asked
    for) and ``warnings``."""
    values = profile.__dict__
    unstated = tuple([name for name, value in values.items() if value is None])
    found: tuple[Dependency, ...] = ()
    if unstated and depends_on and depends is not None:
        found = depends.depends_on(profile, unstated)
    return unstated, found, profile_warnings(profile)


# -- a whole batch at once ---------------------------------------------------------------------


class ColumnarDepends:
    """:class:`Depends` over a batch of rows coded for the columnar matcher (the same rules in
    the same order): for each field that may be not stated, the rows whose answer depends on
    it, with numpy over whole columns. The rules that hold on every field but one come from
    the matcher's tables of fields looked up together, each also kept without that field; only
    rows where a rule testing the field holds on all the others are looked at further, once
    per distinct (field, rules held) through :meth:`Depends.cached`, so a batch costs a few
    array operations per field plus one cached lookup per distinct case."""

    def __init__(self, depends: Depends, matcher: Any) -> None:
        import numpy as np

        self.depends = depends
        self.matcher = matcher
        words = matcher.words
        flats = depends.flats()

        def as_words(bits: int) -> Any:
            return np.array(
                [(bits >> (64 * w)) & (2**64 - 1) for w in range(words)], dtype=np.uint64
            )

        self.as_words = as_words
        group_of = {name: g for g, (names, _, _) in enumerate(matcher.groups) for name in names}
        #: per flat field that may be not stated: (flat index, its name, the code of None in
        #: its domain, its group, the group's table without it, testing words, part words)
        self.fields: list[tuple[int, str, int, int, Any, Any, list[tuple[_Part, Any]]]] = []
        for name, index in depends._position.items():
            flat = flats[index]
            if flat.name not in group_of:  # pragma: no cover - the same rules tell them apart
                continue
            g = group_of[flat.name]
            names, _, _ = matcher.groups[g]
            table = None
            for other in names:
                part = matcher.tables[other]
                if other == flat.name:
                    part = np.tile(matcher.everything, (len(part), 1))
                table = (part if table is None else (table[:, None, :] & part[None, :, :])).reshape(
                    -1, words
                )
            none = depends.space.domains[flat.name].index(None)
            parts = [(part, as_words(part.mask)) for part in flat.parts]
            self.fields.append((index, name, none, g, table, as_words(flat.testing), parts))
        self._line_ids: dict[Any, int] = {}  # a category's (line, avoids) -> a small int

    def rows(self, codes: Any, rows: int, valid: Any) -> dict[str, Any]:
        """For each field that may be not stated, a bool per row: the row's answer depends on
        it (never for an invalid row, whose ``valid`` is False)."""
        import numpy as np

        matcher = self.matcher
        out: dict[str, Any] = {}
        if not self.fields or not rows:
            return out
        looked: list[Any] = []
        indexes: list[Any] = []
        for names, sizes, table in matcher.groups:
            position = np.asarray(codes[names[0]], dtype=np.int64)
            for name, size in zip(names[1:], sizes[1:], strict=True):
                position = position * size + codes[name]
            position = np.where(valid, position, 0)
            indexes.append(position)
            looked.append(np.take(table, position, axis=0))
        count = len(looked)
        before = [np.tile(matcher.everything, (rows, 1))]
        for g in range(count):
            before.append(before[-1] & looked[g])
        after = [np.tile(matcher.everything, (rows, 1))] * (count + 1)
        for g in range(count - 1, -1, -1):
            after[g] = after[g + 1] & looked[g]
        depends = self.depends
        for index, name, none, g, without, testing, parts in self.fields:
            flat_codes = codes[depends.flats()[index].name]
            unstated = valid & (flat_codes == none)
            if not unstated.any():
                continue
            others = before[g] & after[g + 1] & np.take(without, indexes[g], axis=0)
            rows_live = np.flatnonzero(unstated & _nonzero(others & testing))
            if not len(rows_live):
                continue
            out[name] = self._changing(index, others[rows_live], rows_live, rows, parts, codes)
        return out

    def _changing(
        self,
        index: int,
        others: Any,
        rows_live: Any,
        rows: int,
        parts: list[tuple[_Part, Any]],
        codes: Any,
    ) -> Any:
        """A bool per row: stating flat field ``index`` as some value changes the answer of
        the row (``others``: the rules holding on every other field, for ``rows_live``)."""
        import numpy as np

        depends = self.depends
        flat = depends.flats()[index]
        base = others & self.as_words(flat.masks[None])
        hit = np.zeros(len(rows_live), dtype=bool)
        # the stated values, by their mask (and, for a condition, its disease area)
        classes: dict[tuple[int, Any], None] = {}
        areas = depends.schema.condition_area if flat.name == "condition" else None
        for value in flat.values:
            if flat.masks[value] != flat.masks[None]:
                classes[(flat.masks[value], None if areas is None else areas[value])] = None
        area_codes = None
        if areas is not None:
            area_domain = depends.space.domains["disease_area"]
            area_codes = np.asarray(codes["disease_area"])[rows_live]
        for mask, area in classes:
            fired = others & self.as_words(mask)
            if area_codes is not None:  # a condition of another area cannot be stated
                elsewhere = area_codes != area_domain.index(area)
                fired[elsewhere] = base[elsewhere]
            diff = fired ^ base
            differing = np.bitwise_or.reduce(diff, axis=0)  # the rules that differ in any row
            for part, words in parts:
                if not (differing & words).any():
                    continue
                touched = _nonzero(diff & words) & ~hit
                if not touched.any():
                    continue
                before, after = base[touched] & words, fired[touched] & words
                if part.kind == "advisory":  # only an advisory that appears is a change
                    changed = _nonzero(after) & ~_nonzero(before)
                else:
                    changed = self._lines(part, before) != self._lines(part, after)
                hit[np.flatnonzero(touched)[changed]] = True
        column = np.zeros(rows, dtype=bool)
        column[rows_live] = hit
        return column

    def _lines(self, part: _Part, bits: Any) -> Any:
        """For each row of ``bits`` (the rules of a category that fire), a small int standing
        for the category's line and avoids: equal ints, equal lines."""
        import numpy as np

        from .columns import distinct_rows

        distinct, inverse = distinct_rows(bits)
        depends = self.depends
        ids = self._line_ids
        found = []
        for row in distinct.tolist():
            value = 0
            for w, word in enumerate(row):
                value |= int(word) << (64 * w)
            key = (part.name, value)
            known = depends._categories.get(key)
            if known is None:
                known = depends._category(part.name, value) if value else (None, frozenset())
                depends._categories.put(key, known)
            found.append(ids.setdefault((part.name, known), len(ids)))
        return np.asarray(found, dtype=np.int64)[inverse]


def _nonzero(words: Any) -> Any:
    """For each row of a (rows, words) uint64 array, whether any bit is set."""
    found = words[:, 0].copy()
    for w in range(1, words.shape[1]):
        found |= words[:, w]
    return found != 0
