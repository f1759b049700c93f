"""Resolution: from the rules that fired to a :class:`Result`, by the collect policy.

A DMN-style collect policy, independent of rule order: suggestions merge per category (best
tier, union of drug classes); avoid beats flag beats suggest; advisories are a union; opposite
directions among what remains are reported as a conflict.

Resolution runs in two steps. :func:`plan` applies the policy to the fired rules alone: which
lines the result holds and which rules are behind each (nothing in it depends on the profile's
values). Building the result then gives each fired rule a :class:`Reason` quoting the profile's
values and puts those reasons on the lines. :func:`resolve` does both; a knowledge base's
:class:`Resolver` gives the very same results but keeps plans, reasons and lines in bounded
caches, since many profiles share them.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from operator import itemgetter
from typing import Any, Final, NamedTuple, TypeVar

from pydantic import BaseModel

from .._model.profile import ConditionProfile
from .._model.result import (
    Advisory,
    Avoidance,
    Citation,
    Conflict,
    KnowledgeBaseInfo,
    ReadOnlyDict,
    Reason,
    Result,
    Suggestion,
)
from .._model.rules import Evidence, Rule, SuggestEffect
from .._model.schema import Schema, bundled_schema

__all__ = [
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

_OPPOSITE = ("suppress", "stimulate")

_Model = TypeVar("_Model", bound=BaseModel)
_set = object.__setattr__


@cache
def _layout(cls: type[BaseModel]) -> tuple[dict[str, Any], frozenset[str]]:
    """Every field of ``cls`` in order with its default (None if required), the required."""
    fields = cls.model_fields
    required = frozenset(name for name, field in fields.items() if field.is_required())
    defaults = {name: None if name in required else f.default for name, f in fields.items()}
    return defaults, required


def _new(cls: type[_Model], /, **values: Any) -> _Model:
    """``cls(**values)`` without validation, for the values resolution builds itself.

    Equal to the validated model field by field, with the same set of explicitly-set fields;
    a missing required field is a ``KeyError``. Validation would be most of the cost of a
    result, and these values are of the declared types by construction.
    """
    defaults, required = _layout(cls)
    if not values.keys() >= required:
        raise KeyError(f"{cls.__name__} needs {', '.join(sorted(required - values.keys()))}")
    fields = defaults.copy()  # in field order: updating keeps it
    fields.update(values)
    return _bare(cls, fields, set(values))


def _bare(cls: type[_Model], fields: dict[str, Any], given: set[str]) -> _Model:
    """An instance of ``cls`` holding ``fields`` (all of them, in field order) as they are."""
    new = object.__new__(cls)
    _set(new, "__dict__", fields)
    _set(new, "__pydantic_fields_set__", given)
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_private__", None)
    return new


def is_decisive(rule: Rule, schema: Schema | None = None) -> bool:
    """Whether a rule covers the profiles it fires on: it suggests, avoids a whole category, or
    refers."""
    effects = rule.then
    referrals = (schema or bundled_schema()).referrals
    return bool(
        effects.suggest
        or any(avoid.subcategory is None for avoid in effects.avoid)
        or referrals.intersection(effects.advise)
    )


def suggestion_directions(
    category: str, subcategories: Iterable[str], schema: Schema | None = None
) -> frozenset[str]:
    """The directions a suggestion counts with: its classes', or its category's default."""
    schema = schema or bundled_schema()
    subs = tuple(subcategories)
    if subs:
        return frozenset(schema.sub_direction[sub] for sub in subs)
    default = schema.category_direction[category]
    return frozenset() if default is None else frozenset({default})


Entry = tuple[tuple[str, ...], str | None]
"""One suggestion of a category: the drug classes it names and its goal (or None)."""


def effect_directions(suggest: SuggestEffect, schema: Schema | None = None) -> frozenset[str]:
    """The directions one suggestion counts with: its goal when it states one, else its
    classes' (or its category's default)."""
    if suggest.goal is not None:
        return frozenset({suggest.goal})
    return suggestion_directions(suggest.category, suggest.subcategories, schema)


def line_directions(
    category: str,
    remaining: Iterable[str],
    entries: Sequence[Entry],
    schema: Schema | None = None,
) -> frozenset[str]:
    """The directions of a merged suggestion line: ``remaining`` are its drug classes left
    after the avoids, ``entries`` the (classes, goal) of every suggestion merged into it.

    A class counts with the goal of each suggestion that names it, else with its own
    direction; a line with no class left counts with the goals of its suggestions that name
    no class, else with the category's default. Without goals this is
    :func:`suggestion_directions`.
    """
    left = tuple(remaining)
    if not any(goal for _, goal in entries):
        return suggestion_directions(category, left, schema)
    schema = schema or bundled_schema()
    if left:
        kept = set(left)
        return frozenset(
            goal or schema.sub_direction[sub]
            for named, goal in entries
            for sub in named
            if sub in kept
        )
    default = schema.category_direction[category]
    return frozenset(
        direction
        for named, goal in entries
        if not named
        for direction in (goal or default,)
        if direction is not None
    )


# -- step 1: the plan (the fired rules alone) ---------------------------------------------------


class Line(NamedTuple):
    """One line of a result without its reasons.

    ``fields`` are the line's own fields; ``reasons`` (and, for a suggestion, ``flag_reasons``)
    are positions in :attr:`Plan.rules` of the rules whose reasons it carries.
    """

    model: type[Suggestion] | type[Avoidance] | type[Advisory]
    fields: tuple[tuple[str, Any], ...]
    reasons: tuple[int, ...]
    flag_reasons: tuple[int, ...] | None = None


class Plan(NamedTuple):
    """What the collect policy makes of a set of fired rules, before any profile values."""

    rules: tuple[Rule, ...]  # the fired rules, sorted by id
    suggestions: tuple[Line, ...]
    avoided: tuple[Line, ...]
    advisories: tuple[Line, ...]
    conflicts: tuple[Conflict, ...]
    covered: bool
    fired_rules: tuple[str, ...]


class _Effects(NamedTuple):
    """A rule's effects as plain tuples, read once per rule."""

    rule: Rule
    # category, tier, drug classes, goal
    suggest: tuple[tuple[str, str, tuple[str, ...], str | None], ...]
    flag: tuple[str, ...]
    avoid: tuple[tuple[str, str | None], ...]  # category, subcategory
    advise: tuple[str, ...]
    decisive: bool


def _effects(rule: Rule, schema: Schema) -> _Effects:
    then = rule.then
    return _Effects(
        rule,
        tuple((s.category, s.tier, s.subcategories, s.goal) for s in then.suggest),
        then.flag,
        tuple((a.category, a.subcategory) for a in then.avoid),
        then.advise,
        is_decisive(rule, schema),
    )


class _Tables(NamedTuple):
    """A schema's orders and line fields, as plain dicts (read on every plan)."""

    schema: Schema
    category_order: dict[str, int]
    subcategory_order: dict[str, int]
    avoid_lines: dict[tuple[str, str | None], tuple[tuple[int, int], tuple[tuple[str, Any], ...]]]
    advisory_lines: dict[str, tuple[tuple[bool, str], tuple[tuple[str, Any], ...]]]


@cache
def _tables(schema: Schema) -> _Tables:
    categories = schema.category_order
    subcategories = schema.subcategory_order
    avoid_lines: dict[tuple[str, str | None], Any] = {
        **{
            (category, None): (
                (categories[category], -1),
                (("category", category), ("subcategory", None)),
            )
            for category in schema.categories
        },
        **{
            (sub.category, sub.id): (
                (categories[sub.category], subcategories[sub.id]),
                (("category", sub.category), ("subcategory", sub.id)),
            )
            for sub in schema.vocabulary.subcategories
        },
    }
    advisory_lines: dict[str, Any] = {
        advisory.key: (
            (advisory.kind != "referral", advisory.key),
            (("key", advisory.key), ("kind", advisory.kind), ("message", advisory.message)),
        )
        for advisory in schema.vocabulary.advisories
    }
    return _Tables(schema, categories, subcategories, avoid_lines, advisory_lines)


def plan(fired: Iterable[Rule], schema: Schema | None = None) -> Plan:
    """Apply the collect policy to the rules that fired (in any order)."""
    schema = schema or bundled_schema()
    effects = sorted((_effects(rule, schema) for rule in fired), key=_by_rule_id)
    return _plan(effects, _tables(schema))


def _plan(fired: Sequence[_Effects], tables: _Tables) -> Plan:
    """:func:`plan` for the effects of the fired rules, sorted by rule id."""
    tiers: dict[str, str] = {}
    subs: dict[str, set[str]] = {}
    suggesters: dict[str, list[int]] = {}
    all_named: dict[str, bool] = {}
    entries: dict[str, list[Entry]] = {}
    flaggers: dict[str, list[int]] = {}
    avoiders: dict[tuple[str, str | None], list[int]] = {}
    advisers: dict[str, list[int]] = {}
    covered = False
    for position, effects in enumerate(fired):
        covered = covered or effects.decisive
        for category, tier, named, goal in effects.suggest:
            entries.setdefault(category, []).append((named, goal))
            if category in tiers:
                if tiers[category] != "first_line":
                    tiers[category] = tier
                subs[category].update(named)
                if suggesters[category][-1] != position:  # positions only grow
                    suggesters[category].append(position)
                all_named[category] = all_named[category] and bool(named)
            else:
                tiers[category] = tier
                subs[category] = set(named)
                suggesters[category] = [position]
                all_named[category] = bool(named)
        for category in effects.flag:
            flaggers.setdefault(category, []).append(position)
        for pair in effects.avoid:
            avoiders.setdefault(pair, []).append(position)
        for key in effects.advise:
            advisers.setdefault(key, []).append(position)

    suggestions: list[Line] = []
    directions: list[frozenset[str]] = []
    if tiers:
        avoided_subs = {sub for (_, sub) in avoiders if sub is not None}
        for category in sorted(tiers, key=tables.category_order.__getitem__):
            if (category, None) in avoiders:
                continue
            remaining = tuple(
                sorted(subs[category] - avoided_subs, key=tables.subcategory_order.__getitem__)
            )
            if all_named[category] and not remaining:
                continue
            flagged = category in flaggers
            found = line_directions(category, remaining, entries[category], tables.schema)
            directions.append(found)
            suggestions.append(
                Line(
                    Suggestion,
                    (
                        ("category", category),
                        ("tier", "flagged" if flagged else tiers[category]),
                        ("subcategories", remaining),
                        ("direction", _direction(found)),
                        ("requires_specialist_review", flagged),
                    ),
                    tuple(suggesters[category]),
                    tuple(flaggers.get(category, ())),
                )
            )
    rules = tuple(effects.rule for effects in fired)
    return Plan(
        rules=rules,
        suggestions=tuple(suggestions),
        avoided=tuple(
            Line(Avoidance, tables.avoid_lines[pair][1], tuple(positions))
            for pair, positions in sorted(
                avoiders.items(), key=lambda item: tables.avoid_lines[item[0]][0]
            )
        ),
        advisories=tuple(
            Line(Advisory, tables.advisory_lines[key][1], tuple(positions))
            for key, positions in sorted(
                advisers.items(), key=lambda item: tables.advisory_lines[item[0]][0]
            )
        ),
        conflicts=_conflicts(suggestions, directions, rules, tables) if suggestions else (),
        covered=covered,
        fired_rules=tuple(rule.id for rule in rules),
    )


def _direction(directions: frozenset[str]) -> str | None:
    if not directions:
        return None
    if len(directions) == 1:
        return next(iter(directions))
    return "mixed"


def _conflicts(
    suggestions: Sequence[Line],
    directions: Sequence[frozenset[str]],
    rules: Sequence[Rule],
    tables: _Tables,
) -> tuple[Conflict, ...]:
    sides: dict[str, list[dict[str, Any]]] = {direction: [] for direction in _OPPOSITE}
    for line, found in zip(suggestions, directions, strict=True):
        fields = dict(line.fields)
        fields["rule_ids"] = [rules[index].id for index in line.reasons]
        for direction in found:
            if direction in sides:
                sides[direction].append(fields)
    if not all(sides.values()):
        return ()
    confident = {
        direction: [s for s in side if s["tier"] != "flagged"] for direction, side in sides.items()
    }
    resolved = not all(confident.values())
    involved = {s["category"] for side in sides.values() for s in side}
    categories = tuple(sorted(involved, key=tables.category_order.__getitem__))
    rule_ids = sorted(
        {rule_id for side in sides.values() for s in side for rule_id in s["rule_ids"]}
    )
    names = {
        direction: ", ".join(dict.fromkeys(s["category"] for s in side))
        for direction, side in sides.items()
    }
    message = (
        f"Opposing goals: {names['suppress']} would suppress the immune system while "
        f"{names['stimulate']} would stimulate it. "
        + (
            "One side is flagged for specialist review."
            if resolved
            else "Both sides are suggested without a flag: this needs a specialist decision."
        )
    )
    return (
        _new(
            Conflict,
            categories=categories,
            directions=_OPPOSITE,
            message=message,
            resolved=resolved,
            rule_ids=tuple(rule_ids),
        ),
    )


# -- step 2: the result (the plan and the profile's values) --------------------------------------


def resolve(
    profile: ConditionProfile,
    fired: Iterable[Rule],
    info: KnowledgeBaseInfo,
    evidence: Mapping[str, Evidence] | None = None,
    schema: Schema | None = None,
) -> Result:
    """Apply the collect policy to the rules that fired for ``profile``; cite from ``evidence``."""
    steps = plan(fired, schema or type(profile).schema_of())
    reasons = [_reason(rule, profile) for rule in steps.rules]
    lines = [_line(line, reasons) for line in _lines(steps)]
    return _result(steps, profile, info, lines, citations(steps.rules, evidence or {}))


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
    return _new(Citation, **{name: getattr(entry, name) for name in Citation.model_fields})


def _reason(rule: Rule, profile: ConditionProfile) -> Reason:
    return _new(
        Reason,
        rule_id=rule.id,
        title=rule.title,
        because=rule.because,
        evidence=rule.evidence,
        matched=ReadOnlyDict(rule.matched(profile)),
    )


def _lines(steps: Plan) -> tuple[Line, ...]:
    return steps.suggestions + steps.avoided + steps.advisories


def _line(line: Line, reasons: Sequence[Reason]) -> BaseModel:
    values = dict(line.fields)
    values["reasons"] = tuple([reasons[index] for index in line.reasons])
    if line.flag_reasons is not None:
        values["flag_reasons"] = tuple([reasons[index] for index in line.flag_reasons])
    return _new(line.model, **values)


def _result(
    steps: Plan,
    profile: ConditionProfile,
    info: KnowledgeBaseInfo,
    lines: Sequence[BaseModel],
    cited: tuple[Citation, ...],
) -> Result:
    """The result with ``lines`` built for the plan's lines, in the same order."""
    first_avoided = len(steps.suggestions)
    first_advisory = first_avoided + len(steps.avoided)
    return _new(
        Result,
        profile=profile,
        suggestions=tuple(lines[:first_avoided]),
        avoided=tuple(lines[first_avoided:first_advisory]),
        advisories=tuple(lines[first_advisory:]),
        conflicts=steps.conflicts,
        covered=steps.covered,
        fired_rules=steps.fired_rules,
        knowledge_base=info,
        citations=cited,
    )


# -- the cached path ------------------------------------------------------------------------------

#: The default bounds of a resolver's caches (each drops its oldest entries when full).
MAX_PLANS: Final = 16384
MAX_REASONS: Final = 8192
MAX_LINES: Final = 8192


_Quote = tuple[str, Callable[[dict[str, Any]], Any], tuple[str, ...]]
_LineRef = tuple[int, tuple[int, ...], Callable[[list[int]], Any]]


class _Cached(NamedTuple):
    """A plan in the compact form the cached path keeps: entries shared between plans."""

    # Per fired rule: its id, a getter of the profile values its reason quotes, their fields.
    rules: tuple[_Quote, ...]
    # Per line: its template id, the positions of its reasons' rules, a getter of their ids.
    lines: tuple[_LineRef, ...]
    first_avoided: int
    first_advisory: int
    conflicts: tuple[Conflict, ...]
    covered: bool
    fired_rules: tuple[str, ...]
    citations: tuple[Citation, ...]


def _getter(keys: Sequence[Any]) -> Callable[[Any], Any]:
    """``itemgetter(*keys)``, which also takes no keys (always ``()``)."""
    return itemgetter(*keys) if keys else _nothing


def _nothing(_: object) -> tuple[()]:
    return ()


_RESULT_TEMPLATE, _ = _layout(Result)
_RESULT_GIVEN: Final = frozenset(name for name in _RESULT_TEMPLATE if name != "notice")


class Resolver:
    """:func:`resolve` for one knowledge base, with caches: the same results, field for field.

    Plans are kept per set of fired rules (in a compact form whose parts are shared between
    plans); reasons per rule and quoted profile values; lines per line template and reasons.
    Every cache is bounded (the oldest entries go first), so memory stays flat over any number
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
        self._tables = _tables(self._schema)
        self._effects = {rule_id: _effects(rule, self._schema) for rule_id, rule in rules.items()}
        self._quotes: dict[str, _Quote] = {}
        for rule_id, rule in rules.items():
            fields = rule.fields
            self._quotes[rule_id] = (rule_id, _getter(fields), fields)
        self._info = info
        # One Citation per key, shared by every result that cites it.
        self._citations = {key: _citation(entry) for key, entry in (evidence or {}).items()}
        # Ordered dicts: dropping the oldest entry of a plain dict leaves a hole that every
        # later ``next(iter(d))`` skips, while ``popitem(last=False)`` is O(1).
        self._plans: OrderedDict[frozenset[str], _Cached] = OrderedDict()
        self._reasons: OrderedDict[tuple[str, Any], tuple[Reason, int]] = OrderedDict()
        self._lines: OrderedDict[tuple[int, Any], BaseModel] = OrderedDict()
        # Line templates (a line's own fields and reason counts) by id, and back; and the
        # (template, positions) references that plans hold, shared.
        self._templates: dict[tuple[Any, ...], int] = {}
        self._specs: dict[int, Line] = {}
        self._refs: dict[tuple[int, tuple[int, ...]], _LineRef] = {}
        self._ids = itertools.count()
        self._max_plans = max_plans
        self._max_reasons = max_reasons
        self._max_lines = max_lines

    def clear(self) -> None:
        """Empty every cache."""
        self._plans.clear()
        self._reasons.clear()
        self._lines.clear()
        self._templates.clear()
        self._specs.clear()
        self._refs.clear()

    def resolve(self, profile: ConditionProfile, fired: frozenset[str]) -> Result:
        """The result for ``profile`` given the ids of the rules that fired for it."""
        cached = self._plans.get(fired)
        if cached is None:
            cached = self._plan(fired)
        values = profile.__dict__
        reasons: list[Reason] = []
        ids: list[int] = []
        reason_get = self._reasons.get
        for rule_id, quote, fields in cached.rules:
            key = (rule_id, quote(values))
            entry = reason_get(key)
            if entry is None:
                entry = self._reason(key, fields)
            reasons.append(entry[0])
            ids.append(entry[1])
        lines: list[BaseModel] = []
        line_get = self._lines.get
        for template, positions, pick in cached.lines:
            line_key = (template, pick(ids))
            built = line_get(line_key)
            if built is None:
                built = self._line(line_key, positions, reasons)
            lines.append(built)
        first_avoided, first_advisory = cached.first_avoided, cached.first_advisory
        data = _RESULT_TEMPLATE.copy()  # in field order: assigning keeps it
        data["profile"] = profile
        data["suggestions"] = tuple(lines[:first_avoided])
        data["avoided"] = tuple(lines[first_avoided:first_advisory])
        data["advisories"] = tuple(lines[first_advisory:])
        data["conflicts"] = cached.conflicts
        data["covered"] = cached.covered
        data["fired_rules"] = cached.fired_rules
        data["knowledge_base"] = self._info
        data["citations"] = cached.citations
        return _bare(Result, data, set(_RESULT_GIVEN))

    def _reason(self, key: tuple[str, Any], fields: tuple[str, ...]) -> tuple[Reason, int]:
        rule_id, quoted = key
        rule = self._effects[rule_id].rule
        if len(fields) == 1:
            quoted = (quoted,)
        reason = _new(
            Reason,
            rule_id=rule_id,
            title=rule.title,
            because=rule.because,
            evidence=rule.evidence,
            matched=ReadOnlyDict(zip(fields, quoted, strict=True)),
        )
        entry = (reason, next(self._ids))
        if len(self._reasons) >= self._max_reasons:
            self._reasons.popitem(last=False)
        self._reasons[key] = entry
        return entry

    def _line(
        self, key: tuple[int, Any], positions: tuple[int, ...], reasons: Sequence[Reason]
    ) -> BaseModel:
        spec = self._specs[key[0]]
        split = len(spec.reasons)
        line = spec._replace(reasons=positions[:split])
        if spec.flag_reasons is not None:
            line = line._replace(flag_reasons=positions[split:])
        built = _line(line, reasons)
        if len(self._lines) >= self._max_lines:
            self._lines.popitem(last=False)
        self._lines[key] = built
        return built

    def _plan(self, fired: frozenset[str]) -> _Cached:
        effects = self._effects
        steps = _plan(
            sorted((effects[rule_id] for rule_id in fired), key=_by_rule_id), self._tables
        )
        if len(self._templates) >= self._max_lines:
            self.clear()  # fresh template ids from here on (rare: templates are few)
        lines = []
        for line in (*steps.suggestions, *steps.avoided, *steps.advisories):
            # A line is its own fields plus its reasons, which the reason ids in the line's
            # cache key pin down (in order, the flag reasons after the others).
            flags = line.flag_reasons
            identity = (line.fields, len(line.reasons), None if flags is None else len(flags))
            template = self._templates.get(identity)
            if template is None:
                template = self._templates[identity] = next(self._ids)
                self._specs[template] = line
            positions = line.reasons + (flags or ())
            ref = self._refs.get((template, positions))
            if ref is None:
                ref = self._refs[(template, positions)] = (template, positions, _getter(positions))
            lines.append(ref)
        cached = _Cached(
            rules=tuple(self._quotes[rule.id] for rule in steps.rules),
            lines=tuple(lines),
            first_avoided=len(steps.suggestions),
            first_advisory=len(steps.suggestions) + len(steps.avoided),
            conflicts=steps.conflicts,
            covered=steps.covered,
            fired_rules=steps.fired_rules,
            citations=citations(steps.rules, self._citations),
        )
        if len(self._plans) >= self._max_plans:
            self._plans.popitem(last=False)
        self._plans[fired] = cached
        return cached


def _by_rule_id(effects: _Effects) -> str:
    return effects.rule.id
