"""Result building: from the rules that fired for a profile to its :class:`Result`.

What the fired rules decide (which lines, which rules behind each, conflicts, coverage) is the
collect policy's, in :mod:`immunorules._policy`; this module only builds the result: a
:class:`Reason` per fired rule quoting the profile's values, the lines holding those reasons,
the citations. A knowledge base's :class:`Resolver` keeps plans, reasons and lines in bounded
caches (many profiles share them); :func:`resolve` is the same builder without a knowledge
base. It never decides a line itself, and never writes a model's internals: models are made
with pydantic's ``model_construct`` from values of the declared types.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Final, NamedTuple

from pydantic import BaseModel

from .._model.cache import BoundedCache
from .._model.profile import ConditionProfile
from .._model.result import Citation, KnowledgeBaseInfo, ReadOnlyDict, Reason, Result
from .._model.rules import Evidence, Rule
from .._model.schema import Schema, bundled_schema
from .._policy import (
    Entry,
    Line,
    Plan,
    collect,
    effect_directions,
    effects_of,
    is_decisive,
    line_directions,
    plan,
    suggestion_directions,
    tables,
)

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
    return Citation.model_construct(
        **{name: getattr(entry, name) for name in Citation.model_fields}
    )


#: The default bounds of a resolver's caches (each drops its oldest entries when full).
MAX_PLANS: Final = 16384
MAX_REASONS: Final = 8192
MAX_LINES: Final = 8192


_Quote = tuple[str, Callable[[dict[str, Any]], Any], tuple[str, ...]]


class _LineRef(NamedTuple):
    """A line of a cached plan: its template id and line, its reasons' positions and a getter
    of their reason ids."""

    template: int
    line: Line
    positions: tuple[int, ...]
    pick: Callable[[list[int]], Any]


class _Cached(NamedTuple):
    """A plan in the compact form the cached path keeps: entries shared between plans."""

    # Per fired rule: its id, a getter of the profile values its reason quotes, their fields.
    rules: tuple[_Quote, ...]
    lines: tuple[_LineRef, ...]
    first_avoided: int
    first_advisory: int
    conflicts: tuple[Any, ...]
    covered: bool
    fired_rules: tuple[str, ...]
    citations: tuple[Citation, ...]


def _getter(keys: Sequence[Any]) -> Callable[[Any], Any]:
    """``itemgetter(*keys)``, which also takes no keys (always ``()``)."""
    return itemgetter(*keys) if keys else _nothing


def _nothing(_: object) -> tuple[()]:
    return ()


class Resolver:
    """Results for one knowledge base, with caches.

    Plans are kept per set of fired rules (in a compact form whose parts are shared between
    plans); reasons per rule and quoted profile values; lines per line template and reasons.
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
        self._effects = {rule_id: effects_of(rule, self._schema) for rule_id, rule in rules.items()}
        self._quotes: dict[str, _Quote] = {}
        for rule_id, rule in rules.items():
            fields = rule.fields
            self._quotes[rule_id] = (rule_id, _getter(fields), fields)
        self._info = info
        # One Citation per key, shared by every result that cites it.
        self._citations = {key: _citation(entry) for key, entry in (evidence or {}).items()}
        self._plans: BoundedCache[frozenset[str], _Cached] = BoundedCache(max_plans)
        self._reasons: BoundedCache[tuple[str, Any], tuple[Reason, int]] = BoundedCache(
            max_reasons
        )
        self._lines: BoundedCache[tuple[int, Any], BaseModel] = BoundedCache(max_lines)
        # Line templates (a line's own fields and reason counts) by id. Ids are never reused,
        # so a full table is simply replaced: cached lines of older ids stay right.
        self._templates: dict[tuple[Any, ...], int] = {}
        self._ids = itertools.count()
        self._max_templates = max_lines

    def clear(self) -> None:
        """Empty every cache."""
        self._plans.clear()
        self._reasons.clear()
        self._lines.clear()
        self._templates = {}

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
        for ref in cached.lines:
            line_key = (ref.template, ref.pick(ids))
            built = line_get(line_key)
            if built is None:
                built = self._line(line_key, ref, reasons)
            lines.append(built)
        first_avoided, first_advisory = cached.first_avoided, cached.first_advisory
        return Result.model_construct(
            profile=profile,
            suggestions=tuple(lines[:first_avoided]),
            avoided=tuple(lines[first_avoided:first_advisory]),
            advisories=tuple(lines[first_advisory:]),
            conflicts=cached.conflicts,
            covered=cached.covered,
            fired_rules=cached.fired_rules,
            knowledge_base=self._info,
            citations=cached.citations,
        )

    def _reason(self, key: tuple[str, Any], fields: tuple[str, ...]) -> tuple[Reason, int]:
        rule_id, quoted = key
        rule = self._effects[rule_id].rule
        if len(fields) == 1:
            quoted = (quoted,)
        reason = Reason.model_construct(
            rule_id=rule_id,
            title=rule.title,
            because=rule.because,
            evidence=rule.evidence,
            matched=ReadOnlyDict(zip(fields, quoted, strict=True)),
        )
        entry = (reason, next(self._ids))
        self._reasons.put(key, entry)
        return entry

    def _line(self, key: tuple[int, Any], ref: _LineRef, reasons: Sequence[Reason]) -> BaseModel:
        line = ref.line
        values = dict(line.fields)
        values["reasons"] = tuple([reasons[index] for index in line.reasons])
        if line.flag_reasons is not None:
            values["flag_reasons"] = tuple([reasons[index] for index in line.flag_reasons])
        built: BaseModel = line.model.model_construct(**values)
        self._lines.put(key, built)
        return built

    def _plan(self, fired: frozenset[str]) -> _Cached:
        effects = self._effects
        steps = collect(
            sorted((effects[rule_id] for rule_id in fired), key=_by_rule_id), self._tables
        )
        templates = self._templates
        if len(templates) >= self._max_templates:
            templates = self._templates = {}  # rare: templates are few
        lines = []
        for line in (*steps.suggestions, *steps.avoided, *steps.advisories):
            # A line is its own fields plus its reasons, which the reason ids in the line's
            # cache key pin down (in order, the flag reasons after the others).
            flags = line.flag_reasons
            identity = (line.fields, len(line.reasons), None if flags is None else len(flags))
            template = templates.get(identity)
            if template is None:
                template = templates[identity] = next(self._ids)
            positions = line.reasons + (flags or ())
            lines.append(_LineRef(template, line, positions, _getter(positions)))
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
        self._plans.put(fired, cached)
        return cached


def _by_rule_id(effects: Any) -> str:
    return str(effects.rule.id)
