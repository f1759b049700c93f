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
Everything is kept in bounded caches, keyed by ints where it can (per field and the rules
holding on the others; per category and its rules that fire, whose lines come from the collect
policy on that category's own effects; per category and its lines before and after, what
changes there), so the first profiles of a fresh knowledge base share what later ones need.
:class:`ColumnarDepends` answers the same question for a whole batch of rows with numpy.
Nothing is sampled, and nothing here builds a result or decides a line itself: that is the
collect policy's.
"""

from __future__ import annotations

import itertools
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
#: The numbers of :class:`Wanted` stay below this (they are part of an int key).
_MAX_NUMBER: Final = 2**32

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


_Piece = tuple[
    tuple[str, ...], tuple[tuple[tuple[int, int], str, str], ...], tuple[str, ...], tuple[str, ...]
]
"""What changes in one category: its phrases (the suggestion line's), each avoidance that
changes (the rank of its class or category, that id, its phrase), the ids whose avoidance the
phrases already say, and the category and class ids affected. Plain tuples of strings and
ints, like the other cached values here: the garbage collector stops tracking them."""

#: A category that does not change.
_SAME: Final[_Piece] = ((), (), (), ())

_Change = tuple[tuple[str, ...], tuple[str, ...]]
"""What stating a field as one group of values would change: short phrases (e.g.
"antifolate csDMARDs avoided") and the category and class ids affected."""

_Lines = tuple[tuple[str, tuple[str, ...], Any] | None, tuple[tuple[str, str | None], ...]]
"""A category's suggestion line (tier, classes, direction; None when it has none) and its
avoided (category, class) pairs, sorted."""

_NO_LINES: Final[_Lines] = (None, ())
_NO_ENTRY: Final[tuple[int, _Lines]] = (0, _NO_LINES)


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _pair_order(pair: tuple[str, str | None]) -> tuple[str, str]:
    return (pair[0], pair[1] or "")


class _Part(NamedTuple):
    """A part of a result: a category (its suggestion line and avoids) or an advisory, and
    the rules that touch it. A part's lines depend on its own rules only."""

    kind: str  # "category" or "advisory"
    name: str
    mask: int
    number: int  # its place among the parts


_Touched = tuple[tuple[tuple[int, int, _Part], ...], tuple[tuple[int, str], ...], int]
"""The parts a difference touches: its categories (mask, number, part; in category order),
its advisories (mask, key) and the rules of them all."""


class _Flat(NamedTuple):
    """A flat field the rules tell values apart on: its masks per value, and the profile field
    it reads (itself, or the set field of its group)."""

    name: str
    field: str
    group: bool
    masks: dict[Any, int]
    values: tuple[Any, ...]  # its stated values, in domain order
    testing: int  # the rules that tell its values apart
    parts: tuple[_Part, ...]  # the parts a rule testing it touches, categories first


_Step = tuple[int, _Flat, int, int, "BoundedCache[int, int]", Callable[[Any], Any]]
"""A wanted field: its flat position, itself, the AND of the masks for None of the other
wanted fields, that AND with the rules testing it, its cache of relevant rules, and the
lookup of its dependencies."""


class Wanted(NamedTuple):
    """The fields not stated that some rule tests (flat positions, in field order), each with
    the AND of the masks for None of the others (:data:`_Step`), whether the condition is one
    of them, and the rules of every part of a result a rule testing one of them may change
    (no other rule can make a difference to their dependencies)."""

    fields: tuple[int, ...]
    steps: tuple[_Step, ...]
    condition: bool
    scope: int
    code: int  # its own number (below 2**32), shifted past the area codes: in whole keys


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
        # per (flat field, area or None): its stated values by mask
        self._value_classes: dict[
            tuple[int, str | None], tuple[tuple[int, tuple[Any, ...]], ...]
        ] = {}
        self._condition = -1  # the flat position of ``condition``, if it may be not stated
        self._everything = (1 << len(self.rules)) - 1
        self._width = len(self.rules)
        self._parts_count = self._flats_count = self._areas_count = self._area_bits = 1
        self._key_shift = 33
        self._area_codes: dict[str, int] = {}
        # per tuple of fields not stated: what their dependencies need
        self._wanted: BoundedCache[tuple[str, ...], Wanted] = BoundedCache(MAX_CACHED)
        # whole answers by (the fields not stated, the rules the stated ones allow, the area)
        self._numbers = itertools.count()  # of each Wanted
        self._wholes: BoundedCache[int, tuple[Dependency, ...]] = BoundedCache(MAX_CACHED)
        # per flat field: the rules of the parts its live rules touch, by those rules
        self._relevant: list[BoundedCache[int, int]] = []
        self._groups: list[tuple[int, _Flat]] = []
        # per flat field: (): no dependency, else the one dependency, by the rules holding on
        # the other fields (narrowed to the parts it may change) and, for a condition, the area
        self._dependencies: list[BoundedCache[Any, tuple[Dependency, ...]]] = []
        # a dependency by its field and its ways of changing (phrases, values, ids)
        self._assembled: BoundedCache[tuple[Any, ...], tuple[Dependency]] = BoundedCache(MAX_CACHED)
        # a set field's group mask by (flat field, the set)
        self._group_masks: BoundedCache[tuple[int, Any], int] = BoundedCache(MAX_CACHED)
        # the parts the rules of a difference touch, by (flat field, difference)
        self._touched: BoundedCache[int, _Touched] = BoundedCache(MAX_CACHED)
        # what a difference changes, by (flat field, the rules of its parts that fire, it)
        self._changes: BoundedCache[int, _Change | tuple[()]] = BoundedCache(MAX_CACHED)
        self._labels: dict[str, str] = {}  # category and class names by id
        self._condition_names: dict[str, str] = {}  # by id
        # ``if <field> is <values>`` by (field, values)
        self._whens: BoundedCache[tuple[str, tuple[Any, ...]], str] = BoundedCache(MAX_CACHED)
        # a category's line and avoids by (category, the rules touching it that fire)
        self._categories: BoundedCache[int, tuple[int, _Lines]] = BoundedCache(MAX_CACHED)
        self._counter = itertools.count(1)  # numbers of lines and pieces, never reused
        self._line_numbers: dict[_Lines, int] = {}
        # what changes in a category by (category, its rules that fire before, after)
        self._pieces: BoundedCache[tuple[int, int, int], tuple[int, _Piece]] = BoundedCache(
            MAX_CACHED
        )
        # a change by its pieces' numbers and the advisories that appear
        self._composed: BoundedCache[tuple[Any, ...], _Change] = BoundedCache(MAX_CACHED)
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
            # in the order changes are told (:meth:`_order`): categories, then advisories
            touched = tuple(
                sorted((part for part in parts if part.mask & testing), key=self._order)
            )
            flats.append(_Flat(name, field, group, masks, values, testing, touched))
        # Cache keys are ints (no tuple for the garbage collector to count): a rule set
        # shifted by the rules' width, or times the count of fields, parts or areas, plus
        # the field, part or area.
        self._parts_count = len(parts)
        self._flats_count = len(tables)
        areas = [str(area) for area in space.domains.get("disease_area", ()) if area is not None]
        self._area_codes = {area: code for code, area in enumerate(areas, start=1)}
        self._areas_count = len(areas) + 1
        self._area_bits = self._areas_count.bit_length()
        self._key_shift = 32 + self._area_bits
        self._relevant = [BoundedCache(MAX_CACHED) for _ in flats]
        self._dependencies = [BoundedCache(MAX_CACHED) for _ in flats]
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
        return [
            _Part(kind, name, mask, number)
            for number, ((kind, name), mask) in enumerate(touching.items())
        ]

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
            steps: list[_Step] = []
            scope = 0
            for k, index in enumerate(fields):
                flat = flats[index]
                others = before & after[k + 1]
                testing = others & flat.testing
                for part in flat.parts:
                    if part.mask & testing:
                        scope |= part.mask
                cache = self._dependencies[index]
                steps.append((index, flat, others, testing, self._relevant[index], cache.get))
                before &= flat.masks[None]
            number = next(self._numbers)
            if number >= _MAX_NUMBER:  # never in practice: start the numbers again
                self._wanted.clear()
                self._wholes.clear()
                self._numbers = itertools.count(1)
                number = 0
            code = number << self._area_bits
            found = Wanted(fields, tuple(steps), self._condition in fields, scope, code)
            self._wanted.put(unstated, found)
        return found

    def answer(self, wanted: Wanted, rest: int, area: str | None) -> tuple[Dependency, ...]:
        """The dependencies on the ``wanted`` fields (not stated) when ``rest`` are the rules
        every stated field allows; ``area``: the disease area, when the condition is wanted.
        The fields not stated hold their masks for None: with ``rest`` (and, for a condition,
        the area) they decide every dependency, so profiles alike share them."""
        rest &= wanted.scope
        key = (rest << self._key_shift) | wanted.code
        if area is not None:
            key |= self._area_codes.get(area, 0)
        whole = self._wholes.get(key)
        if whole is None:
            whole = self._depends_on(wanted, rest, area)
            self._wholes.put(key, whole)
        return whole

    def _depends_on(self, wanted: Wanted, rest: int, area: str | None) -> tuple[Dependency, ...]:
        found: list[Dependency] = []
        condition = self._condition
        for i, flat, others_unstated, testing, relevant_of, known_get in wanted.steps:
            live = rest & testing
            if not live:  # no rule testing it holds on every other field
                continue
            others = rest & others_unstated
            field_area = area if i == condition else None
            if field_area is not None:  # only the conditions of its area may be stated
                others &= self._reach(i, field_area)
                live = others & flat.testing
                if not live:
                    continue
            relevant = relevant_of.get(live)  # only the parts those rules touch can change
            if relevant is None:
                relevant = 0
                for part in flat.parts:
                    if part.mask & live:
                        relevant |= part.mask
                relevant_of.put(live, relevant)
            others &= relevant
            key = (
                others
                if field_area is None
                else others * self._areas_count + self._area_codes.get(field_area, 0)
            )
            known = known_get(key)
            if known is None:  # kept per field by the rules held on the others (and area)
                known = self._dependency(i, others, field_area)
                self._dependencies[i].put(key, known)
            if known:
                found.extend(known)
        return tuple(found)  # in the order of ``unstated``

    def _classes(self, index: int, area: str | None) -> tuple[tuple[int, tuple[Any, ...]], ...]:
        """Flat field ``index``'s stated values (a condition's: those of ``area``) by their
        mask, in the order of each mask's first value: values with one mask fire the same
        rules, whatever the other fields."""
        key = (index, area)
        found = self._value_classes.get(key)
        if found is None:
            flat = self.flats()[index]
            candidates = flat.values
            if area is not None:
                areas = self.schema.condition_area
                candidates = tuple(value for value in candidates if areas.get(value) == area)
            by_mask: dict[int, list[Any]] = {}
            for value in candidates:
                by_mask.setdefault(flat.masks[value], []).append(value)
            found = tuple((mask, tuple(values)) for mask, values in by_mask.items())
            self._value_classes[key] = found
        return found

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

    def _dependency(self, index: int, others: int, area: str | None) -> tuple[Dependency, ...]:
        """The dependencies on flat field ``index`` (not stated; empty: none, else one, made
        once per distinct way of changing) when ``others`` are the rules that hold on every
        other field (of those that share a part of a result with a rule testing it: no other
        part can change); ``area`` restricts a condition to its disease area."""
        flat = self.flats()[index]
        masks = flat.masks
        base = others & masks[None]
        by_fired: dict[int, list[Any]] = {}
        for mask, values in self._classes(index, area):
            fired = others & mask
            if fired != base:
                by_fired.setdefault(fired, []).extend(values)
        if not by_fired:
            return ()
        changes: dict[tuple[str, ...], tuple[list[Any], tuple[str, ...]]] = {}
        for fired, group in by_fired.items():
            change = self._change_of(index, flat, base, fired ^ base)
            if change is None:
                continue
            phrases, ids = change
            known = changes.get(phrases)
            if known is None:
                changes[phrases] = (list(group), ids)
            else:
                known[0].extend(group)
        if not changes:
            return ()
        # the same ways of changing make the same dependency (many profiles share them)
        signature = (
            index,
            tuple((parts, tuple(group), ids) for parts, (group, ids) in changes.items()),
        )
        same = self._assembled.get(signature)
        if same is None:
            same = (self._assemble(flat, changes),)
            self._assembled.put(signature, same)
        return same

    def _assemble(
        self, flat: _Flat, changes: dict[tuple[str, ...], tuple[list[Any], tuple[str, ...]]]
    ) -> Dependency:
        """The dependency on ``flat`` from its ways of changing (phrases: values, ids)."""
        if flat.group:  # a set field: the smallest member sets of each way it changes
            for group, _ in changes.values():
                group[:] = _smallest(group)
        rank = {value: n for n, value in enumerate(flat.values)}
        changing = sorted((v for group, _ in changes.values() for v in group), key=rank.__getitem__)
        affects: set[str] = set()
        for _, ids in changes.values():
            affects.update(ids)
        pieces = []
        for phrases, (group, _) in sorted(
            changes.items(), key=lambda item: min(rank[v] for v in item[1][0])
        ):
            group.sort(key=rank.__getitem__)
            when_key = (flat.name, tuple(group))
            when = self._whens.get(when_key)
            if when is None:
                when = self._when(flat, group)
                self._whens.put(when_key, when)
            pieces.append(f"{when}: {', '.join(phrases)}")
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
        touched_key = diff * self._flats_count + index
        found = self._touched.get(touched_key)
        if found is None:
            in_categories: list[tuple[int, int, _Part]] = []
            in_advisories: list[tuple[int, str]] = []
            within = 0
            for part in flat.parts:  # already in :meth:`_order`
                mask = part.mask
                if mask & diff:
                    within |= mask
                    if part.kind == "category":
                        in_categories.append((mask, part.number, part))
                    else:
                        in_advisories.append((mask, part.name))
            found = (tuple(in_categories), tuple(in_advisories), within)
            self._touched.put(touched_key, found)
        categories, advisories, within = found
        key = ((base & within) << self._width | diff) * self._flats_count + index
        known = self._changes.get(key)
        if known is None:
            known = self._change(categories, advisories, base, base ^ diff) or ()
            self._changes.put(key, known)
        return known or None

    def _order(self, part: _Part) -> tuple[int, int, str]:
        """Categories first, in the schema's order, then advisories (by key)."""
        if part.kind == "category":
            return (0, self.schema.category_order.get(part.name, -1), part.name)
        return (1, 0, part.name)

    # -- answers -----------------------------------------------------------------------------

    def _change(
        self,
        categories: Sequence[tuple[int, int, _Part]],
        advisories: Sequence[tuple[int, str]],
        before: int,
        after: int,
    ) -> _Change | None:
        """What changes in the category parts (mask, number, part; in category order) and
        advisories (mask, key) when ``after`` fire instead of ``before``; None when nothing
        does (an advisory that only disappears is no change). Put together from each
        category's own change (:meth:`_piece`, kept by the category's lines before and
        after, which many different rule sets share): its phrases in category order, then
        the avoidances not said yet (by the rank of their class or category), then the
        advisories that appear (by key); kept by those pieces and advisories."""
        pieces_get = self._pieces.get
        entries_get = self._categories.get
        count = self._parts_count
        found: list[tuple[int, _Piece]] = []
        for mask, number, part in categories:
            bits = before & mask
            # :meth:`_entry`, its kept entries looked up here
            old_id, old = (
                (entries_get(bits * count + number) or self._entry(part, bits))
                if bits
                else _NO_ENTRY
            )
            bits = after & mask
            new_id, new = (
                (entries_get(bits * count + number) or self._entry(part, bits))
                if bits
                else _NO_ENTRY
            )
            if old_id == new_id:  # the same lines
                continue
            key = (number, old_id, new_id)
            entry = pieces_get(key)
            if entry is None:
                entry = (next(self._counter), self._piece(part, old, new))
                self._pieces.put(key, entry)
            if entry[1] is not _SAME:
                found.append(entry)
        added = tuple([key for mask, key in advisories if after & mask and not before & mask])
        if not (found or added):
            return None
        composed_key = (tuple([piece_number for piece_number, _ in found]), added)
        change = self._composed.get(composed_key)
        if change is None:
            change = self._compose([piece for _, piece in found], added)
            self._composed.put(composed_key, change)
        return change

    def _compose(self, found: Sequence[_Piece], added: Sequence[str]) -> _Change:
        """The change made of category pieces (in category order) and advisories that
        appear."""
        phrases = [phrase for piece in found for phrase in piece[0]]
        if found:
            shown = {target for piece in found for target in piece[2]}
            avoided = sorted((entry for piece in found for entry in piece[1]), key=_first)
            phrases.extend(text for _, target, text in avoided if target not in shown)
        phrases.extend(f"advisory {key}" for key in sorted(added))
        affects = sorted({target for piece in found for target in piece[3]})
        return tuple(phrases), tuple(affects)

    def _entry(self, part: _Part, bits: int) -> tuple[int, _Lines]:
        """A category's lines (:meth:`_category`) when the rules of ``bits`` touching it
        fire, with a number that equal lines share (0: no lines), kept per part and bits.
        Numbers are never reused, so caches keyed by them stay right when the table of
        numbers starts again."""
        if not bits:
            return _NO_ENTRY
        key = bits * self._parts_count + part.number
        known = self._categories.get(key)
        if known is None:
            lines = self._category(part.name, bits)
            numbers = self._line_numbers
            number = numbers.get(lines)
            if number is None:
                if len(numbers) >= MAX_CACHED:
                    numbers = self._line_numbers = {}
                number = numbers[lines] = next(self._counter)
            known = (number, lines)
            self._categories.put(key, known)
        return known

    def _lines(self, part: _Part, bits: int) -> _Lines:
        """:meth:`_category`, kept per category part and its rules that fire."""
        return self._entry(part, bits)[1]

    def _piece(self, part: _Part, before: _Lines, after: _Lines) -> _Piece:
        """What changes in one category when its lines are ``after`` instead of ``before``:
        :data:`_SAME` when nothing does."""
        category = part.name
        old, old_sorted = before
        new, new_sorted = after
        if old == new and old_sorted == new_sorted:
            return _SAME
        old_pairs, new_pairs = frozenset(old_sorted), frozenset(new_sorted)
        phrases: list[str] = []
        affects: set[str] = set()
        shown: set[str] = set()
        now_avoided = new_pairs - old_pairs
        if old != new and category in self.schema.category_order:
            affects.add(category)
            name = self._label(category)
            if new is None:
                if (category, None) in new_pairs:
                    phrases.append(f"{name} avoided")
                    shown.add(category)
                else:
                    phrases.append(f"{name} not suggested")
            elif old is None:
                phrases.append(f"{name} suggested ({_TIER_WORDS[new[0]]})")
            else:
                if old[0] != new[0]:
                    phrases.append(f"{name} {_TIER_WORDS[new[0]]}")
                gone = [sub for sub in old[1] if sub not in new[1]]
                came = [sub for sub in new[1] if sub not in old[1]]
                if gone:
                    avoided = [s for s in gone if (category, s) in now_avoided]
                    if avoided:
                        phrases.append(f"{self._names(avoided)} avoided")
                        shown.update(avoided)
                    rest = [s for s in gone if s not in avoided]
                    if rest:
                        phrases.append(f"{self._names(rest)} dropped")
                if came:
                    phrases.append(f"{self._names(came)} added")
        changed: list[tuple[tuple[int, int], str, str]] = []
        for category_id, sub in new_pairs ^ old_pairs:
            target = sub or category_id
            affects.add(target)
            name = self._names([target])
            text = f"{name} avoided" if (category_id, sub) in new_pairs else f"{name} not avoided"
            changed.append((self._rank(target), target, text))
        changed.sort(key=_first)
        return tuple(phrases), tuple(changed), tuple(shown), tuple(affects)

    def _category(self, category: str, bits: int) -> _Lines:
        """A category's suggestion line and avoided pairs (:data:`_Lines`), when the rules of
        ``bits`` (all those touching it that fire) fire."""
        steps = self.part_plan("category", category, bits, keep=False)
        line = None
        for found in steps.suggestions:  # only the category's own lines
            fields = dict(found.fields)
            line = (fields["tier"], fields["subcategories"], fields["direction"])
        pairs = {
            (fields["category"], fields["subcategory"])
            for fields in (dict(found.fields) for found in steps.avoided)
        }
        return line, tuple(sorted(pairs, key=_pair_order))

    def part_plan(self, kind: str, name: str, bits: int, *, keep: bool = True) -> Plan:
        """What the collect policy makes of one part of a result (``kind`` ``"category"`` or
        ``"advisory"``, its ``name``) when the rules of ``bits`` (those touching it that
        fire) fire: the plan of their effects on that part alone, whose lines' reason
        positions count the rules of ``bits`` in id order. Kept (unless not ``keep``) per
        part and rules, for the results built from the same rules."""
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
            if keep:
                self._part_plans.put(key, found)
        return found

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
            names = [self._condition_name(str(value)) for value in values]
            return f"if {label} is {_few(names, ' or ')}"
        return f"if {label} is {_few([str(value) for value in values], ' or ')}"

    def _condition_name(self, condition: str) -> str:
        names = self._condition_names
        found = names.get(condition)
        if found is None:
            found = names[condition] = self.schema.condition(condition).name
        return found

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
    rows where a rule testing the field holds on all the others are looked at further: a
    category's lines before and after stating it, once per distinct set of its rules that fire
    (through :class:`Depends`' kept lines), so a batch costs a few array operations per field
    plus one kept lookup per distinct case."""

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
            known = depends._lines(part, value)
            found.append(ids.setdefault((part.name, known), len(ids)))
        return np.asarray(found, dtype=np.int64)[inverse]


def _nonzero(words: Any) -> Any:
    """For each row of a (rows, words) uint64 array, whether any bit is set."""
    found = words[:, 0].copy()
    for w in range(1, words.shape[1]):
        found |= words[:, w]
    return found != 0
