"""Result building: from the rules that fired for a profile to its :class:`Result`.

What the fired rules decide (which lines, which rules behind each, conflicts, coverage) is the
collect policy's, in :mod:`immunorules._policy`; this module only builds the result: a
:class:`Reason` per fired rule quoting the profile's values, the lines holding those reasons,
the citations. A knowledge base's :class:`Resolver` keeps plans, reasons and lines in bounded
caches (many profiles share them); :func:`resolve` is the same builder without a knowledge
base. It never decides a line itself, and never writes a model's internals: models are made
from values of the declared types by :mod:`.making` (pydantic's own ``model_construct``, or its
pickle protocol where that gives the very same model).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Final, NamedTuple

from pydantic import BaseModel

from .._model.cache import BoundedCache
from .._model.profile import WARNING_FIELDS, ConditionProfile
from .._model.result import (
    NOT_FOR_CLINICAL_USE,
    Citation,
    Dependency,
    KnowledgeBaseInfo,
    ReadOnlyDict,
    Reason,
    Result,
)
from .._model.rules import Evidence, Rule
from .._model.schema import Schema, bundled_schema
from .._policy import (
    OPPOSITE,
    Effects,
    Entry,
    Line,
    Plan,
    collect,
    effect_directions,
    effects_of,
    is_decisive,
    line_directions,
    part_effects,
    plan,
    suggestion_directions,
    tables,
)
from .depends import Depends, Wanted, notes, profile_warnings  # what the answer assumes
from .making import Maker, made

__all__ = [
    "Entry",
    "Plan",
    "Resolver",
    "citations",
    "effect_directions",
    "is_decisive",
    "line_directions",
    "plan",
    "resolve",
    "suggestion_directions",
]


def resolve(
    profile: ConditionProfile,
    fired: Iterable[Rule],
    info: KnowledgeBaseInfo,
    evidence: Mapping[str, Evidence] | None = None,
    schema: Schema | None = None,
) -> Result:
    """Apply the collect policy to the rules that fired for ``profile``; cite from ``evidence``.

    The very builder a knowledge base uses, without its caches."""
    rules = {rule.id: rule for rule in fired}
    resolver = Resolver(
        rules,
        info,
        evidence=evidence,
        schema=schema or type(profile).schema_of(),
        max_plans=1,
        max_reasons=max(1, len(rules)),
        max_lines=max(1, 2 * len(rules)),
    )
    return resolver.resolve(profile, frozenset(rules))


#: The fixed lines of a shape without any (shared: never written, as it has no slot).
_NO_SLOTS: Final[list[Any]] = []
_NOTHING_ASSUMED: Final = ReadOnlyDict()  # issue 19: shared by results without assumptions


def _result_maker(values: dict[str, Any]) -> Maker[Result]:
    """The maker of results, checked to take ``values`` (every field of a result, in field
    order) as they are; a result's defaults (its notice) are not among the fields set."""
    given = {name: value for name, value in values.items() if name in _RESULT_SET}
    maker = Maker(Result, given)
    if maker.order != tuple(values) or maker.full(given) != values:
        raise AssertionError("a result's values must follow its fields")  # pragma: no cover
    return maker


#: The fields of a result that are set (the rest keep their defaults).
_RESULT_SET: Final = frozenset(Result.model_fields) - {"notice"}


def citations(
    rules: Iterable[Rule], evidence: Mapping[str, Evidence | Citation]
) -> tuple[Citation, ...]:
    """The evidence entries the rules cite, by key, so a result carries its full citations."""
    keys = sorted({key for rule in rules for key in rule.evidence if key in evidence})
    return tuple(_citation(evidence[key]) for key in keys)


def _citation(entry: Evidence | Citation) -> Citation:
    """The citation part of an evidence entry (which is a Citation plus where it is defined)."""
    if type(entry) is Citation:
        return entry
    return made(Citation, {name: getattr(entry, name) for name in Citation.model_fields})


#: The default bounds of a resolver's caches (each drops its oldest entries when full).
MAX_PLANS: Final = 16384
MAX_REASONS: Final = 8192
MAX_LINES: Final = 8192
MAX_RESULTS: Final = 16384


_Quote = tuple[str, Callable[[dict[str, Any]], Any], tuple[str, ...]]


class _LineRef(NamedTuple):
    """A line of a cached part: its template id, the line, and the bits of the rules whose
    reasons it carries (in order, the flag reasons after the others)."""

    template: int
    line: Line
    bits: tuple[int, ...]


class _Part(NamedTuple):
    """What the policy makes of the fired rules that touch one category (its suggestion and
    avoid lines) or one advisory key (its line)."""

    suggestions: tuple[_LineRef, ...]
    avoided: tuple[_LineRef, ...]
    advisories: tuple[_LineRef, ...]
    opposed: frozenset[str]  # the opposite directions its suggestion counts with
    bits: tuple[int, ...]  # the rules it was made for, in id order
    number: int  # the part's number (the order of parts in a result)
    touched: int  # the bits of its rules
    quote: Callable[[dict[str, Any]], Any]  # the values its rules' reasons quote
    code: int  # its own number, never reused: with the quoted values, the key of its lines
    fields: int  # the fields its rules' reasons quote (bit ``i``: the ``i``-th field)


_Fired = tuple[int, int, str, Callable[[dict[str, Any]], Any], tuple[str, ...]]
"""A rule as a result quotes it: its bit, index, id, quote getter and quoted fields."""


class _Shape(NamedTuple):
    """What the result for a set of fired rules is, but for the profile's values: the getter of
    every value its reasons quote that no fired rule pins down, each fired rule (bit, index,
    id, quote getter, fields), its parts, and its fields that depend on nothing else."""

    quote: Callable[[dict[str, Any]], Any]
    rules: tuple[_Fired, ...]
    parts: tuple[_Part, ...]
    fired_rules: tuple[str, ...]
    covered: bool
    conflicts: tuple[Any, ...]
    citations: tuple[Citation, ...]
    code: int  # its own number, never reused: with the quoted values, the key of its lines
    # per part, one after the other: its code, the getter of the values it quotes, whether it
    # is an advisory's, itself, and its slot in ``fixed`` or -1 (one flat tuple: one object
    # for the garbage collector to track)
    lookups: tuple[Any, ...]
    # the lines of each part whose quoted values the fired rules all pin down, once made
    # (the same for every profile these rules fire for)
    fixed: list[_Built | None]


class _Scan(NamedTuple):
    """The tables :meth:`Resolver.evaluate` reads a profile with: per field the rules each
    stated value allows (None for a set field, read through its groups), the chunks of fields
    looked up together (each with the masks of the values it has met; the first chunk, which
    holds every field the warnings read, with the warnings too), the bits, the fields, the
    dependencies and the flat fields of each field."""

    tables: tuple[dict[Any, int] | None, ...]  # None: a set field
    # the first chunk: the getter of its values and its kept masks and warnings
    first: Callable[[Any], Any]
    first_kept: BoundedCache[tuple[Any, ...], tuple[int, tuple[str, ...]]]
    # the other fields together: the getter of their values and their kept masks (the AND
    # of their chunks' masks)
    rest: Callable[[Any], Any]
    rest_kept: BoundedCache[Any, int]
    # per other chunk: the lookup of its kept masks, the getter of its values, its first field
    chunks: tuple[tuple[Callable[[tuple[Any, ...]], int | None], Callable[[Any], Any], int], ...]
    kept: tuple[BoundedCache[tuple[Any, ...], int], ...]  # each other chunk's kept masks
    everything: int  # every rule, and above them every field
    rules: int  # every rule
    shift: int  # the bit of the first field
    fields: tuple[str, ...]
    depends: Depends
    flats: dict[str, list[Any]]


class _Unstated(NamedTuple):
    """Per set of fields not stated: their names, the AND of their masks for None, and what
    their dependencies need."""

    unstated: tuple[str, ...]
    none_mask: int
    wanted: Wanted


_Frame = list[Any]
"""What the AND of a profile's chunk masks decides, in one list (one object for the garbage
collector): the fields not stated (:class:`_Unstated`), the shape of the rules that fire, the
rules the stated fields allow, and the dependency answer once known (None until then): when
the condition is not one of the fields it needs, itself; else a pair of the disease area and it
(the last area asked)."""

#: Fields read together (one lookup per chunk of this many fields, in field order).
_CHUNK: Final = 4
#: The most value combinations of one chunk whose masks are kept.
MAX_CHUNK_VALUES: Final = 16384
#: The most value combinations of the fields after the first chunk whose masks are kept
#: together: few, as that shortcut only pays where those fields repeat (most are often not
#: stated); where they do not, each profile would hold an entry of its own.
MAX_REST_VALUES: Final = 1024

_Built = tuple[tuple[BaseModel, ...], tuple[BaseModel, ...], tuple[BaseModel, ...]]


def _getter(keys: Sequence[Any]) -> Callable[[Any], Any]:
    """``itemgetter(*keys)``, which also takes no keys (always ``()``)."""
    return itemgetter(*keys) if keys else _nothing


def _nothing(_: object) -> tuple[()]:
    return ()


def _pinned(rule: Rule) -> frozenset[str]:
    """The profile fields whose value ``rule`` pins down when it holds (it allows one)."""
    return frozenset(
        name
        for name, allowed in rule.when.items()
        if name in rule.fields and name not in rule.sets and len(allowed) == 1
    )


def _tuple_getter(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A getter of the values of ``keys`` as a tuple (``itemgetter`` of two keys or more)."""
    if len(keys) < 2:
        raise ValueError("a chunk reads at least two fields")  # pragma: no cover
    return itemgetter(*keys)


class Resolver:
    """Results for one knowledge base, with caches.

    What the fired rules decide comes from the collect policy, asked per part of a result: each
    category's lines depend only on the fired rules that suggest, flag or avoid in it, and
    each advisory on those that give it, so the policy's answer is kept per part and per
    fired rules of that part (far fewer combinations than whole sets of fired rules); a
    result's conflict, when its lines point both ways, comes from the policy on the whole set.
    Reasons are kept per rule and quoted profile values, lines per line template and reasons,
    a part's lines per part and the values its reasons quote. Per set of fired rules a shape
    (its parts, ids, citations, conflict, and the getter of the values its reasons quote that
    no fired rule pins down) is kept, and per shape and those values the result's lines.
    :meth:`evaluate` reads a profile in chunks of fields, each chunk's masks kept by its
    values (the first chunk's with the profile's warnings; the other fields' together
    first); their AND is a frame, which decides the fields not stated, the shape and the
    dependency answer (with the last disease area asked, where it matters). A profile like one seen
    before costs a handful of lookups and the result's construction (pydantic's pickle
    protocol). Cached entries are kept to few objects of their own, as the garbage collector
    walks them all again and again while the caches fill.
    Every cache is a :class:`~immunorules._model.cache.BoundedCache` (bounded, the oldest
    entries go first, safe to share between threads), so memory stays flat over any number
    of profiles; results share their (frozen) reasons and lines.
    """

    def __init__(
        self,
        rules: Mapping[str, Rule],
        info: KnowledgeBaseInfo,
        *,
        evidence: Mapping[str, Evidence] | None = None,
        schema: Schema | None = None,
        max_plans: int = MAX_PLANS,
        max_reasons: int = MAX_REASONS,
        max_lines: int = MAX_LINES,
    ) -> None:
        self._schema = schema or bundled_schema()
        self._tables = tables(self._schema)
        ordered = sorted(rules)
        # Rule ``i`` in id order is bit ``1 << i``.
        self._bit = {rule_id: 1 << i for i, rule_id in enumerate(ordered)}
        self._effects = [effects_of(rules[rule_id], self._schema) for rule_id in ordered]
        self._quotes: list[_Quote] = [
            (rule_id, _getter(rules[rule_id].fields), rules[rule_id].fields) for rule_id in ordered
        ]
        self._ids = tuple(ordered)
        # Shared by every shape, so that cached shapes hold few objects of their own.
        self._fired: list[_Fired] = [(1 << i, i, *quote) for i, quote in enumerate(self._quotes)]
        # The fields whose value a rule pins down when it fires (it allows only one): a
        # result's lines depend on them only through the rules that fire.
        self._pins = [_pinned(rules[rule_id]) for rule_id in ordered]
        self._field_bit = {
            name: 1 << i for i, name in enumerate(self._schema.profile_model.model_fields)
        }
        self._pin_bits = [self._field_bits(pins) for pins in self._pins]
        self._info = info
        # One Citation per key, shared by every result that cites it.
        self._citations = {key: _citation(entry) for key, entry in (evidence or {}).items()}
        self._cites = [
            tuple(key for key in rules[rule_id].evidence if key in self._citations)
            for rule_id in ordered
        ]
        self._decisive = sum(1 << i for i, e in enumerate(self._effects) if e.decisive)
        self._parts = self._part_masks()
        # The parts each rule touches, by number.
        self._touches: list[set[int]] = [set() for _ in ordered]
        for number, mask, _, _ in self._parts:
            for i in range(len(ordered)):
                if mask >> i & 1:
                    self._touches[i].add(number)
        self._plans: BoundedCache[int, Plan] = BoundedCache(max_plans)
        self._shapes: BoundedCache[int, _Shape] = BoundedCache(max_plans)
        self._getters: BoundedCache[tuple[str, ...], Callable[[Any], Any]] = BoundedCache(max_plans)
        # A result's lines per fired rules and the values they quote. Few entries, holding
        # few objects: the garbage collector walks every cached object again and again.
        self._results: BoundedCache[tuple[int, Any], _Built] = BoundedCache(
            min(max_plans, MAX_RESULTS)
        )
        self._known: BoundedCache[tuple[int, int], _Part] = BoundedCache(max_plans)
        # A part's built lines by its code (its number and rules) and the values its reasons
        # quote.
        self._part_lines: BoundedCache[tuple[int, Any], _Built] = BoundedCache(max_lines)
        self._reasons: BoundedCache[tuple[str, Any], tuple[Reason, int]] = BoundedCache(max_reasons)
        self._lines: BoundedCache[tuple[int, Any], BaseModel] = BoundedCache(max_lines)
        # Line templates (a line's own fields and reason counts) by id. Ids are never reused,
        # so a full table is simply replaced: cached lines of older ids stay right.
        self._templates: dict[tuple[Any, ...], int] = {}
        self._counter = itertools.count()
        self._max_templates = max_lines
        self.depends: Depends | None = None  # set by the knowledge base (issue 19)
        self._scan: _Scan | None = None  # built on the first evaluate, from ``depends``
        self._shared: tuple[Depends, bool] | None = None  # whether ``depends`` has our rules
        self._result_maker: Maker[Result] | None = None
        self._unstated: BoundedCache[int, _Unstated] = BoundedCache(max_plans)
        # per AND of a profile's chunk masks: what it decides (:meth:`_frame`)
        self._frames: BoundedCache[int, _Frame] = BoundedCache(max_plans)

    def _field_bits(self, names: Iterable[str]) -> int:
        """The bits of profile fields (bit ``i``: the ``i``-th field)."""
        bits = 0
        for name in names:
            bits |= self._field_bit[name]
        return bits

    def _part_masks(self) -> tuple[tuple[int, int, str, str], ...]:
        """Per category (in order), then per advisory key (in order): a part id, the bits of
        the rules that touch it, and what it is (``"category"``/``"advisory"``, its name)."""
        touching: dict[tuple[str, str], int] = {}
        for i, effects in enumerate(self._effects):
            for category, _, _, _ in effects.suggest:
                touching[("category", category)] = touching.get(("category", category), 0) | 1 << i
            for category in effects.flag:
                touching[("category", category)] = touching.get(("category", category), 0) | 1 << i
            for category, _ in effects.avoid:
                touching[("category", category)] = touching.get(("category", category), 0) | 1 << i
            for key in effects.advise:
                touching[("advisory", key)] = touching.get(("advisory", key), 0) | 1 << i
        order = self._tables.category_order
        advisory = self._tables.advisory_lines
        found = sorted(
            touching,
            key=lambda part: (
                (0, order[part[1]], "") if part[0] == "category" else (1, 0, advisory[part[1]][0])
            ),
        )
        return tuple((n, touching[part], *part) for n, part in enumerate(found))

    def clear(self) -> None:
        """Empty every cache."""
        self._plans.clear()
        self._shapes.clear()
        self._getters.clear()
        self._results.clear()
        self._known.clear()
        self._part_lines.clear()
        self._reasons.clear()
        self._lines.clear()
        self._templates = {}
        self._unstated.clear()
        self._frames.clear()
        self._scan = None

    def resolve(
        self,
        profile: ConditionProfile,
        fired: frozenset[str],
        *,
        depends_on: bool = True,
        assumed: Mapping[str, Any] | None = None,
    ) -> Result:
        """The result for ``profile`` given the ids of the rules that fired for it; with
        ``depends_on``, what it depends on among the fields not stated; ``assumed``: the values
        an ``assume=`` policy filled in."""
        bit = self._bit
        bits = 0
        for rule_id in fired:
            bits |= bit[rule_id]
        shape = self._shapes.get(bits)
        if shape is None:
            shape = self._shape(bits)
        values = profile.__dict__
        # The fired rules and the values they quote pin the result down, but for its profile.
        key = (shape.code, shape.quote(values))
        lines = self._results.get(key)
        if lines is None:
            lines = self._lines_for(values, shape)
            self._results.put(key, lines)
        unstated, depending, warned = notes(self.depends, profile, depends_on)  # issue 19
        return self._made(self._fields(profile, shape, lines, unstated, depending, warned, assumed))

    def _made(self, values: dict[str, Any]) -> Result:
        """The result holding ``values`` (as :meth:`_fields` gives them), unvalidated."""
        maker = self._result_maker
        if maker is None:
            maker = self._result_maker = _result_maker(values)
        result: Result = maker.exact(values)
        return result

    def _fields(
        self,
        profile: ConditionProfile,
        shape: _Shape,
        lines: _Built,
        unstated: tuple[str, ...],
        depending: tuple[Dependency, ...],
        warned: tuple[str, ...],
        assumed: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """A result's fields, from its shape, its lines and what the answer assumes (the one
        mapping both :meth:`resolve` and :meth:`evaluate` make results from, every field in
        field order)."""
        return {
            "profile": profile,
            "suggestions": lines[0],
            "avoided": lines[1],
            "advisories": lines[2],
            "conflicts": shape.conflicts,
            "covered": shape.covered,
            "fired_rules": shape.fired_rules,
            "knowledge_base": self._info,
            "citations": shape.citations,
            # issue 19: what the answer assumes
            "unstated": unstated,
            "depends_on": depending,
            "warnings": warned,
            "assumed": ReadOnlyDict(assumed) if assumed else _NOTHING_ASSUMED,
            "notice": NOT_FOR_CLINICAL_USE,
        }

    def evaluate(
        self,
        profile: ConditionProfile,
        fired: frozenset[str] | None = None,
        *,
        depends_on: bool = True,
        assumed: Mapping[str, Any] | None = None,
    ) -> Result:
        """:meth:`resolve` in one pass over the profile: the native engine's tables (those of
        :attr:`depends`) give the rules that fire, unless the engine's own ``fired`` are given,
        and, from the same lookups, the fields not stated and the rules the stated ones allow,
        which is all :attr:`depends` needs. The same result as :meth:`resolve`."""
        scan = self._scan
        if scan is None:
            scan = self._scan = self._make_scan()
        values = profile.__dict__
        # Per chunk of fields, the rules its stated fields allow, and above them a bit per
        # field of the chunk that is stated (and every bit of the other fields'): their AND
        # is the rules every stated field allows, and which fields are stated.
        part = scan.first(values)
        entry = scan.first_kept.get(part)
        if entry is None:
            entry = self._first(part, profile)
        found, warned = entry
        others = scan.rest(values)  # the other fields' values: often seen together
        mask = scan.rest_kept.get(others)
        if mask is None:
            mask = self._rest(values, others)
        found &= mask
        frame = self._frames.get(found)
        if frame is None:
            frame = self._frame(found)
        if fired is not None:
            # another engine's match: the kept frame (the native engine's match, from the same
            # lookups) when its rules are the ones that engine fired, else a frame of them
            bits = 0
            bit_of = self._bit
            for rule_id in fired:
                bits |= bit_of[rule_id]
            if bits != frame[2] & frame[0].none_mask:
                frame = self._frame(found, bits)
        state, shape, _, kept = frame
        key = (shape.code, shape.quote(values))
        lines = self._results.get(key)
        if lines is None:
            lines = self._lines_for(values, shape)
            self._results.put(key, lines)
        depending: tuple[Dependency, ...] = ()
        wanted = state.wanted
        if depends_on and wanted.fields:
            # the frame and, when the condition is not stated, the disease area decide it
            if not wanted.condition:
                depending = self._answer(frame, None) if kept is None else kept
            else:  # kept with its disease area (the last one asked)
                area = values["disease_area"]
                if kept is not None and kept[0] == area:
                    depending = kept[1]
                else:
                    depending = self._answer(frame, area)
        return self._made(
            self._fields(profile, shape, lines, state.unstated, depending, warned, assumed)
        )

    def _frame(self, found: int, fired: int | None = None) -> _Frame:
        """What the AND of a profile's chunk masks (``found``: the rules its stated fields
        allow, and above them which fields are stated) decides: the fields not stated, the
        shape of the rules that fire, the rules the stated fields allow, and (once asked) the
        dependency answer. Kept, unless the rules that fire are given (``fired``: their bits,
        from another engine that fired others than the native engine's match)."""
        assert self._scan is not None
        scan = self._scan
        rest = found & scan.rules
        state = self._unstated.get(stated := found >> scan.shift)
        if state is None:
            state = self._unstated_state(stated)
        bits = rest & state.none_mask if fired is None else fired  # the native engine's match
        shape = self._shapes.get(bits)
        if shape is None:
            shape = self._shape(bits)
        frame: _Frame = [state, shape, rest, None]
        if fired is None:
            self._frames.put(found, frame)
        return frame

    def _answer(self, frame: _Frame, area: str | None) -> tuple[Dependency, ...]:
        """The dependency answer of a frame (``area``: the disease area, when the condition
        is one of the fields it needs), kept in the frame (with its disease area, if any: the
        last one asked)."""
        assert self._scan is not None
        state, _, rest, _ = frame
        found = self._scan.depends.answer(state.wanted, rest, area)
        frame[3] = found if area is None else (area, found)  # one slot: one atomic write
        return found

    def _make_scan(self) -> _Scan:
        depends = self.depends
        if depends is None or tuple(rule.id for rule in depends.rules) != self._ids:
            raise ValueError("evaluate needs the dependencies of the same rules")
        flats = depends.flats()
        everything = (1 << len(self._ids)) - 1
        by_field: dict[str, list[Any]] = {}
        for flat in flats:
            by_field.setdefault(flat.field, []).append(flat)
        fields = tuple(self._schema.profile_model.model_fields)
        tables: list[dict[Any, int] | None] = []
        for name in fields:
            found = by_field.get(name, [])
            if self._schema.fields[name].type == "set":
                tables.append(None)  # its groups' masks, by the value of each group
            elif found:
                (flat,) = found
                tables.append(flat.masks)
            else:  # no rule tells its values apart
                tables.append(dict.fromkeys(depends.space.domains[name], everything))
        shift = len(self._ids)
        # chunks of _CHUNK fields, in field order, the first long enough to hold every field
        # the warnings read; a last one of a single field joins the one before (a chunk's
        # getter gives a tuple of at least two values)
        first = max(_CHUNK, *(fields.index(name) + 1 for name in WARNING_FIELDS))
        starts = [0, *range(first, len(fields), _CHUNK)]
        if len(starts) > 1 and len(fields) - starts[-1] < 2:
            del starts[-1]
        stops = [*starts[1:], len(fields)]
        kept = tuple(BoundedCache[tuple[Any, ...], int](MAX_CHUNK_VALUES) for _ in starts[1:])
        chunks = tuple(
            (cache.get, _tuple_getter(fields[start:stop]), start)
            for cache, start, stop in zip(kept, starts[1:], stops[1:], strict=True)
        )
        return _Scan(
            tuple(tables),
            _tuple_getter(fields[: stops[0]]),
            BoundedCache(MAX_CHUNK_VALUES),
            _getter(fields[stops[0] :]),
            BoundedCache(MAX_REST_VALUES),
            chunks,
            kept,
            everything | ((1 << len(fields)) - 1) << shift,
            everything,
            shift,
            fields,
            depends,
            by_field,
        )

    def _first(self, part: tuple[Any, ...], profile: ConditionProfile) -> tuple[int, Any]:
        """The mask of the first chunk of fields holding the values ``part`` and the warnings
        of a profile holding them (``profile`` is one; kept in that chunk's cache)."""
        assert self._scan is not None
        entry = (self._mask(0, part), profile_warnings(profile))
        self._scan.first_kept.put(part, entry)
        return entry

    def _rest(self, values: dict[str, Any], others: Any) -> int:
        """The AND of the masks of the chunks after the first for a profile's ``values``
        (``others``: the values of their fields, by which it is kept)."""
        assert self._scan is not None
        scan = self._scan
        found = scan.everything
        for chunk_get, read, start in scan.chunks:
            part = read(values)
            mask = chunk_get(part)
            if mask is None:
                mask = self._chunk(start, part)
            found &= mask
        scan.rest_kept.put(others, found)
        return found

    def _chunk(self, start: int, part: tuple[Any, ...]) -> int:
        """The mask of the chunk of fields from the ``start``-th holding the values ``part``
        (kept in that chunk's cache)."""
        assert self._scan is not None
        mask = self._mask(start, part)
        scan = self._scan
        scan.kept[[chunk[2] for chunk in scan.chunks].index(start)].put(part, mask)
        return mask

    def _mask(self, start: int, part: tuple[Any, ...]) -> int:
        """The mask of the chunk of fields from the ``start``-th holding the values ``part``:
        the rules its stated fields allow, and above them the bit of each field, but for
        those of the chunk not stated."""
        assert self._scan is not None
        scan = self._scan
        space = scan.depends.space
        allowed = scan.rules
        stated = scan.everything ^ scan.rules  # every field
        for offset, value in enumerate(part):
            position = start + offset
            table = scan.tables[position]
            if value is None:
                stated ^= 1 << (scan.shift + position)
            elif table is not None:
                allowed &= table[value]
            else:  # a set field: the masks of its groups
                for flat in scan.flats.get(scan.fields[position], ()):
                    allowed &= flat.masks[space.group_value(flat.name, value)]
        return allowed | stated

    def _unstated_state(self, stated: int) -> _Unstated:
        """What the fields not stated (those whose bit in ``stated`` is 0; bit ``i``: the
        ``i``-th field) make of an answer."""
        assert self._scan is not None
        scan = self._scan
        unstated = tuple(
            name for position, name in enumerate(scan.fields) if not stated >> position & 1
        )
        none_mask = (1 << len(self._ids)) - 1
        for name in unstated:
            for flat in scan.flats.get(name, ()):
                none_mask &= flat.masks[None]
        state = _Unstated(unstated, none_mask, scan.depends.wanted(unstated))
        self._unstated.put(stated, state)
        return state

    def _lines_for(self, values: dict[str, Any], shape: _Shape) -> _Built:
        """The lines of a result: per part, by the part and the values its reasons quote."""
        suggestions: list[BaseModel] = []
        avoided: list[BaseModel] = []
        advisories: list[BaseModel] = []
        known_get = self._part_lines.get
        reasons: dict[int, tuple[Reason, int]] = {}  # the reasons made or found so far, by bit
        fixed = shape.fixed
        each = iter(shape.lookups)
        for code, quote, advisory, part, slot in zip(each, each, each, each, each, strict=True):
            found = fixed[slot] if slot >= 0 else None
            if found is not None:
                built = found
            else:
                key = (code, quote(values))
                known = known_get(key)
                if known is None:
                    known = self._part_built(values, part, reasons)
                    self._part_lines.put(key, known)
                if slot >= 0:
                    fixed[slot] = known
                built = known
            if advisory:
                advisories += built[2]
            else:
                suggestions += built[0]
                avoided += built[1]
        return tuple(suggestions), tuple(avoided), tuple(advisories)

    def _part_built(
        self, values: dict[str, Any], part: _Part, reasons: dict[int, tuple[Reason, int]]
    ) -> _Built:
        """The lines of one part for the profile's ``values``: its rules' reasons (in
        ``reasons``, by bit, found or made here), then its lines (each kept by its template
        and its reasons' ids, so that the parts of other fired rules that make the same line
        share it)."""
        reason_get = self._reasons.get
        fired = self._fired
        for low in part.bits:
            entry = reasons.get(low)
            if entry is None:
                _, index, rule_id, quote, fields = fired[low.bit_length() - 1]
                key = (rule_id, quote(values))
                entry = reason_get(key)
                if entry is None:
                    entry = self._reason(key, fields, index)
                reasons[low] = entry
        return (
            self._build(part.suggestions, reasons) if part.suggestions else (),
            self._build(part.avoided, reasons) if part.avoided else (),
            self._build(part.advisories, reasons) if part.advisories else (),
        )

    def _shape(self, bits: int) -> _Shape:
        """What a result for the rules of ``bits`` is, whatever the profile's values."""
        rules = []
        fields: set[str] = set()
        pinned: set[str] = set()
        pinned_bits = 0
        cited: set[str] = set()
        fired = self._fired
        numbers: set[int] = set()
        rest = bits
        while rest:
            low = rest & -rest
            index = low.bit_length() - 1
            rule = fired[index]
            rules.append(rule)
            fields.update(rule[4])
            pinned.update(self._pins[index])
            pinned_bits |= self._pin_bits[index]
            cited.update(self._cites[index])
            numbers.update(self._touches[index])
            rest ^= low
        parts = []
        opposed: set[str] = set()
        known_get = self._known.get
        for number in sorted(numbers):
            _, mask, kind, name = self._parts[number]
            touched = bits & mask
            part = known_get((number, touched))
            if part is None:
                part = self._part(number, touched, kind, name)
            parts.append(part)
            if part.suggestions:
                opposed |= part.opposed
        conflicts: tuple[Any, ...] = ()
        if len(opposed) == 2:  # lines point both ways: the policy decides on the whole set
            whole = self._plans.get(bits)
            if whole is None:
                whole = self._plan(bits)
            conflicts = whole.conflicts
        citations = self._citations
        lookups: list[Any] = []
        slots = 0
        for part in parts:
            slot = -1
            if not part.fields & ~pinned_bits:  # its lines are the same whenever these fire
                slot, slots = slots, slots + 1
            lookups.extend((part.code, part.quote, bool(part.advisories), part, slot))
        # The values a result's lines depend on, but for the rules that fire: those its
        # reasons quote, less those a rule that fires pins down (the same whenever it fires).
        quoted = tuple(sorted(fields - pinned))
        quote = self._getters.get(quoted)
        if quote is None:
            quote = _getter(quoted)
            self._getters.put(quoted, quote)
        shape = _Shape(
            quote,
            tuple(rules),
            tuple(parts),
            tuple(rule[2] for rule in rules),
            bool(bits & self._decisive),
            conflicts,
            tuple([citations[key] for key in sorted(cited)]),
            next(self._counter),
            tuple(lookups),
            [None] * slots if slots else _NO_SLOTS,
        )
        self._shapes.put(bits, shape)
        return shape

    def _build(
        self, refs: tuple[_LineRef, ...], reasons: dict[int, tuple[Reason, int]]
    ) -> tuple[BaseModel, ...]:
        out = []
        line_get = self._lines.get
        for ref in refs:
            key = (ref.template, tuple([reasons[bit][1] for bit in ref.bits]))
            built = line_get(key)
            if built is None:
                built = self._line(key, ref, reasons)
            out.append(built)
        return tuple(out)

    def _reason(
        self, key: tuple[str, Any], fields: tuple[str, ...], index: int
    ) -> tuple[Reason, int]:
        rule_id, quoted = key
        rule = self._effects[index].rule
        if len(fields) == 1:
            quoted = (quoted,)
        reason = made(
            Reason,
            {
                "rule_id": rule_id,
                "title": rule.title,
                "because": rule.because,
                "evidence": rule.evidence,
                "matched": ReadOnlyDict(zip(fields, quoted, strict=True)),
            },
        )
        entry = (reason, next(self._counter))
        self._reasons.put(key, entry)
        return entry

    def _line(
        self, key: tuple[int, Any], ref: _LineRef, reasons: dict[int, tuple[Reason, int]]
    ) -> BaseModel:
        line = ref.line
        values = dict(line.fields)
        split = len(line.reasons)
        values["reasons"] = tuple([reasons[bit][0] for bit in ref.bits[:split]])
        if line.flag_reasons is not None:
            values["flag_reasons"] = tuple([reasons[bit][0] for bit in ref.bits[split:]])
        built: BaseModel = made(line.model, values)
        self._lines.put(key, built)
        return built

    def _shares(self, depends: Depends) -> bool:
        """Whether ``depends`` numbers the same rules as this resolver (checked once)."""
        shared = self._shared
        if shared is None or shared[0] is not depends:
            same = tuple(rule.id for rule in depends.rules) == self._ids
            same = same and depends.schema is self._schema
            shared = self._shared = (depends, same)
        return shared[1]

    def _subset(self, bits: int) -> tuple[list[Effects], list[int]]:
        """The effects of the rules of ``bits`` in id order, and their bits."""
        effects, found = [], []
        while bits:
            low = bits & -bits
            effects.append(self._effects[low.bit_length() - 1])
            found.append(low)
            bits ^= low
        return effects, found

    def _plan(self, bits: int) -> Plan:
        steps = collect(self._subset(bits)[0], self._tables)
        self._plans.put(bits, steps)
        return steps

    def _part(self, number: int, touched: int, kind: str, name: str) -> _Part:
        effects, found = self._subset(touched)
        quoted = tuple(
            sorted({field for low in found for field in self._quotes[low.bit_length() - 1][2]})
        )
        quote = self._getters.get(quoted)
        if quote is None:
            quote = _getter(quoted)
            self._getters.put(quoted, quote)
        # Only the part's own effects: a category's lines depend on nothing else (a drug
        # class belongs to one category), an advisory's on nothing else either. The
        # dependencies of the same rules ask the policy the same question: one plan for both.
        depends = self.depends
        if depends is not None and self._shares(depends):
            steps = depends.part_plan(kind, name, touched)
        else:
            steps = collect([part_effects(each, kind, name) for each in effects], self._tables)
        templates = self._templates
        if len(templates) >= self._max_templates:
            templates = self._templates = {}  # rare: templates are few

        def refs(lines: Iterable[Line]) -> tuple[_LineRef, ...]:
            made = []
            for line in lines:
                # A line is its own fields plus its reasons, which the reason ids in the
                # line's cache key pin down (in order, the flag reasons after the others).
                flags = line.flag_reasons
                identity = (line.fields, len(line.reasons), None if flags is None else len(flags))
                template = templates.get(identity)
                if template is None:
                    template = templates[identity] = next(self._counter)
                positions = line.reasons + (flags or ())
                made.append(_LineRef(template, line, tuple(found[i] for i in positions)))
            return tuple(made)

        def about(line: Line, field: str) -> bool:
            return bool(dict(line.fields)[field] == name)

        if kind == "category":
            mine = [
                (line, directions)
                for line, directions in zip(steps.suggestions, steps.directions, strict=True)
                if about(line, "category")
            ]
            part = _Part(
                refs(line for line, _ in mine),
                refs(line for line in steps.avoided if about(line, "category")),
                (),
                frozenset(d for _, directions in mine for d in directions if d in OPPOSITE),
                tuple(found),
                number,
                touched,
                quote,
                next(self._counter),
                self._field_bits(quoted),
            )
        else:
            part = _Part(
                (),
                (),
                refs(line for line in steps.advisories if about(line, "key")),
                frozenset(),
                tuple(found),
                number,
                touched,
                quote,
                next(self._counter),
                self._field_bits(quoted),
            )
        self._known.put((number, touched), part)
        return part
