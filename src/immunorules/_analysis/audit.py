"""The audit: an exact analysis of a knowledge base over every valid profile.

Each rule's ``when`` is a box in the profile space (``space``), and every rule is one bit of the
bitsets of a :class:`BoxIndex`, so "which rules meet (or contain) this box" is a few
big-integer operations. Each question partitions only the part of the space where its answer
can differ, by only the rules that can affect it, and judges each distinct set of fired rules
once, by the same resolution semantics as evaluation:

* gaps: the cells of the decisive rules where none fires (a covered branch is cut at once);
* unresolved conflicts: a rule is on a direction's side wherever it fires and suggests a
  category whose suggestion line (unflagged) has that direction, and a line depends only on the
  rules touching its category. Rules that can conflict (one can be on each side, and their
  boxes meet) form groups; in each group the rules of its rarer side are the *causes*, and
  every conflicting profile has one of them on its side. Each cause's box is searched once,
  partitioned by the rules touching the lines it can be on that side of and those that can take
  the other direction there: rules that can no longer change a line on a branch are dropped
  (e.g. once the line is flagged, or once a class of a direction is suggested and nothing alive
  avoids it, further suggestions of that direction), a branch is cut where the cause's lines
  are all flagged or removed or where a direction has no source left, and a branch where both
  sides are settled (a line of each there, unflagged, whatever else fires) is taken whole;
  the rules on the other side are those of its lines that fire somewhere in the region;
* redundant rules: the rules whose box contains a rule's box (one bitset query per rule);
* masked rules: first the one profile of the rule's box where the fewest other rules fire;
  then per category or advisory the rule touches, its box partitioned by the overlapping
  rules touching it, stopping at the first cell where the rule changes the result, and
  cutting every branch where the rules already fired absorb all its effects whatever else
  fires (e.g. another rule avoids the category).

Nothing is sampled and nothing is enumerated profile by profile. A finding is about one cause
(a rule on one side of conflicts, a masked or a redundant rule): the cells of a cause are
merged into its region as the partition yields them (:class:`_Union`), so neither time nor
memory follows the number of cells. Findings are built lazily: at most ``max_findings`` per kind
(the largest first), with the full count per kind kept in ``AuditReport.totals``. A new kind of
finding is one more method of :class:`_Analysis` returning :class:`_Lazy` findings, listed in
:func:`audit`. The audit must never sample, nor change what evaluation answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from .._model.matching import Scalar
from .._model.rules import Rule, SuggestEffect
from .._model.schema import Schema
from .._policy import (
    EffectKey,
    absorption,
    collect,
    effect_directions,
    effect_sources,
    effects_of,
    is_decisive,
    line_keys,
    part_effects,
    plan,
    projection_of,
    tables,
)
from .._policy import Effects as PolicyEffects
from .audit_report import KINDS, SEVERITY_OF, AuditReport, Finding, FindingKind
from .audit_semantics import (
    OPPOSITE,
    Key,
    Side,
    category_sides,
    fates,
    has_effects_of,
    keys,
    part,
    side_text,
    touches,
)
from .golden import golden_cases
from .space import (
    BitPrune,
    Box,
    BoxIndex,
    CompiledRule,
    ProfileSpace,
    bits,
    merge_boxes,
    size,
)

if TYPE_CHECKING:
    from .._evaluate.protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["DEFAULT_MAX_FINDINGS", "Progress", "audit", "terminal_progress"]

_K = TypeVar("_K")
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``, called as the audit goes: at the start (``done == 0``) and
end (``done == total``) of each stage and about ten times a second in between (``gaps`` and
``conflicts`` count profiles, ``conflicts`` as the share of the causes it has searched;
``redundant rules`` and ``masked rules`` count rules); last of all
``progress("done", 1, 1)``."""


def terminal_progress(stream: TextIO) -> Progress:
    """A :data:`Progress` that shows the stage and its count on one line of ``stream`` (a
    terminal), rewritten in place and cleared when the audit is done."""
    width = 0

    def show(stage: str, done: int, total: int) -> None:
        nonlocal width
        percent = done * 100 // total if total else 100
        text = f"audit: {stage} {done:,}/{total:,} ({percent}%)"
        stream.write("\r" + text.ljust(width))
        width = len(text)
        if stage == "done":
            stream.write("\r" + " " * width + "\r")
        stream.flush()

    return show


def notebook_progress() -> Progress | None:
    """A :data:`Progress` that shows the stage and its count in a notebook cell, updated in
    place (None outside a running IPython kernel)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return None
    start = {"text/plain": "audit: starting", "text/html": "<code>audit: starting</code>"}
    handle = display(start, raw=True, display_id=True)  # type: ignore[no-untyped-call]
    if handle is None:  # pragma: no cover - display ids are always given in a kernel
        return None

    def show(stage: str, done: int, total: int) -> None:
        percent = done * 100 // total if total else 100
        text = "audit: done" if stage == "done" else f"audit: {stage} {done:,}/{total:,}"
        bar = f'<progress value="{percent}" max="100"></progress>' if stage != "done" else ""
        shown = f"{text} ({percent}%)"
        handle.update({"text/plain": shown, "text/html": f"{bar} <code>{shown}</code>"}, raw=True)

    return show


def _automatic_progress() -> Progress | None:
    """``progress=True``: a notebook display in a kernel, else a line on a terminal's stderr."""
    import sys

    found = notebook_progress()
    if found is None and sys.stderr.isatty():
        found = terminal_progress(sys.stderr)
    return found


#: The most findings of one kind an audit report lists by default (the largest regions first).
DEFAULT_MAX_FINDINGS = 500


def audit(
    kb: KnowledgeBase,
    *,
    max_findings: int | None = DEFAULT_MAX_FINDINGS,
    progress: Progress | bool | None = None,
    scope: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> AuditReport:
    """Audit ``kb`` over the whole profile space: see :func:`immunorules.audit`, which fills in
    the bundled knowledge base (this layer never loads it)."""
    if max_findings is not None and (
        not isinstance(max_findings, int) or isinstance(max_findings, bool) or max_findings < 1
    ):
        raise ValueError(f"max_findings must be a positive integer or None, not {max_findings!r}")
    if progress is True:
        progress = _automatic_progress()
    elif progress is False:
        progress = None
    regions = kb.scope if scope is None else _scope_rules(kb, scope)
    analysis = _Analysis(kb, ProfileSpace(kb.space), progress, regions)
    found = [
        *analysis.dead_rules(),
        *analysis.missing_evidence(),
        *analysis.golden_cases(),
        *analysis.gaps(),
        *analysis.conflicts(),
    ]
    redundant, redundant_ids = analysis.redundant_rules()
    found += redundant
    found += analysis.masked_rules(skip=redundant_ids)
    found += analysis.unused_effects()
    found += analysis.unused_vocabulary()
    found += _untested_rules(kb)
    by_kind: dict[str, list[_Lazy]] = {}
    for lazy in found:
        by_kind.setdefault(lazy.kind, []).append(lazy)
    totals = {kind: len(by_kind.get(kind, ())) for kind in KINDS}
    findings: list[Finding] = []
    for items in by_kind.values():
        if max_findings is not None and len(items) > max_findings:
            items = sorted(items, key=lambda lazy: -lazy.size)[:max_findings]
        findings += [lazy.build() for lazy in items]
    order = {kind: index for index, kind in enumerate(SEVERITY_OF)}
    findings.sort(key=lambda f: (order[f.kind], f.rule_ids, f.subject or "", f.message))
    if progress is not None:
        progress("done", 1, 1)
    return AuditReport(
        findings=tuple(findings),
        knowledge_base=kb.info,
        active_rules=len(kb.active_rules),
        profiles=size(analysis.full),
        totals=totals,
        max_findings=max_findings,
    )


def _untested_rules(kb: KnowledgeBase) -> list[_Lazy]:
    """An ``untested_rule`` warning for each active rule that no golden case fires."""
    from .coverage import coverage

    untested = coverage(kb).untested_rules
    return [
        _now(
            "untested_rule",
            f"no golden case fires {rule_id} ({_located(kb.rule(rule_id))}): add a case in its "
            "'tests' whose profile it matches, with what the result must say.",
            rule_ids=(rule_id,),
        )
        for rule_id in untested
    ]


def _scope_rules(
    kb: KnowledgeBase, scope: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> tuple[Rule, ...]:
    from .._load.loader import parse_scope

    found: tuple[Rule, ...] = parse_scope(kb.schema, scope)
    return found


@dataclass(frozen=True, slots=True)
class _Lazy:
    """A finding not built yet: building every one of tens of thousands costs more than finding
    them, and a report lists at most ``max_findings`` of a kind."""

    kind: FindingKind
    size: int  # the profiles it is about (0: none), to keep the largest
    build: Callable[[], Finding]


def _finding(kind: FindingKind, message: str, **extra: object) -> Finding:
    return Finding.model_validate(
        {"kind": kind, "severity": SEVERITY_OF[kind], "message": message, **extra}
    )


def _now(kind: FindingKind, message: str, profiles: int = 0, **extra: object) -> _Lazy:
    """A finding about ``profiles`` profiles; an ``extra`` value that is a ``partial`` is
    called when the finding is built."""

    def build() -> Finding:
        fields = {name: v() if isinstance(v, partial) else v for name, v in extra.items()}
        return _finding(kind, message, **fields)

    return _Lazy(kind, profiles, build)


def _plural(rule_ids: Sequence[str]) -> str:
    """``R1`` / ``R1 and R2`` / ``R1, R2 and R3``, for a message's subject."""
    names = sorted(set(rule_ids))
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _located(rule: Rule) -> str:
    return rule.file if rule.line is None else f"{rule.file}:{rule.line}"


class _Union:
    """The disjoint boxes of one cause's profiles, merged as they come: the boxes kept grow with
    the merged region, not with the cells the partition yields (merging again only once the
    list has doubled since the last merge keeps the work per cell constant on average)."""

    __slots__ = ("_boxes", "_merged", "size")

    def __init__(self) -> None:
        self._boxes: list[Box] = []
        self._merged = 0
        self.size = 0  # how many profiles

    def add(self, box: Box) -> None:
        """Add a box disjoint from every box added before. A partition yields neighbouring
        cells one after the other: a box that differs from the last one kept in one dimension
        only is merged with it at once (and the result with the one before, and so on)."""
        self.size += size(box)
        boxes = self._boxes
        while boxes:
            last = boxes[-1]
            differ = -1
            for d, mask in enumerate(last):
                if mask != box[d]:
                    if differ >= 0:
                        differ = -2
                        break
                    differ = d
            if differ < 0:
                break
            boxes.pop()
            box = (*box[:differ], box[differ] | last[differ], *box[differ + 1 :])
        boxes.append(box)
        self._merged = min(self._merged, len(boxes) - 1)
        if len(self._boxes) >= 2 * self._merged + 64:
            self._boxes = merge_boxes(self._boxes)
            self._merged = len(self._boxes)

    def merged(self) -> list[Box]:
        """The union as disjoint boxes merged where they can be, the largest first."""
        if len(self._boxes) != self._merged:
            self._boxes = merge_boxes(self._boxes)
            self._merged = len(self._boxes)
        return self._boxes


#: The most regions a finding's ``region_text`` spells out (``regions`` holds them all).
_SHOWN_REGIONS = 4


def _union_text(space: ProfileSpace, regions: Sequence[Mapping[str, list[Scalar]]]) -> str:
    """Disjoint regions in words: what they all share, then each one's own part, e.g.
    ``condition = melanoma; and (severity = mild) or (severity = severe; pregnant = false)``;
    at most :data:`_SHOWN_REGIONS` of them spelled out, the largest first."""
    if len(regions) == 1:
        return space.describe_region(dict(regions[0]))
    first = regions[0]
    shared = {
        name: values
        for name, values in first.items()
        if all(region.get(name) == values for region in regions[1:])
    }
    own = [
        space.describe_region({k: v for k, v in region.items() if k not in shared})
        for region in regions[:_SHOWN_REGIONS]
    ]
    alternatives = " or ".join(f"({text})" for text in own)
    rest = len(regions) - len(own)
    if rest:
        alternatives += f" or {rest:,} more region{'s' if rest != 1 else ''}"
    if not shared:
        return alternatives
    return f"{space.describe_region(dict(shared))}; and {alternatives}"


class _ConflictJudge:
    """Unresolved conflicts decided line by line: a category's suggestion line (whether it is
    there, flagged, and its directions) depends only on the rules touching the category, so
    each line is planned (by the collect policy) once per distinct set of those rules, far
    fewer than the distinct sets of fired rules. :meth:`sides` is the same answer as
    :func:`unresolved_conflict` of all the fired rules (the tests hold it to that).

    A rule is on a direction's side wherever it fires and suggests a category whose line
    (unflagged) has that direction: every rule suggesting the category is among the line's
    reasons. So the partition for conflicts needs only the lines' directions, and
    :meth:`narrow` drops the rules that can no longer change any line on a branch."""

    def __init__(
        self,
        live: Sequence[CompiledRule],
        effects: _Effects,
        categories: Iterable[str],
        schema: Schema,
    ) -> None:
        self._effects = [effects_of(compiled.rule, schema) for compiled in live]
        self._tables = tables(schema)
        self.categories = sorted(categories)
        self._touching = [effects.touching.get(("category", c), 0) for c in self.categories]
        self.suggesting = [effects.suggests.get(c, 0) for c in self.categories]
        self._memo: list[dict[int, tuple[Side, Side]]] = [{} for _ in self.categories]
        built = [self._line(effects, c) for c in self.categories]
        self._lines = [line for line, _ in built]
        # per line: the direction every class counts with (None: not one), and the bit of
        # each direction among its classes' (as :meth:`_line` numbers them)
        self._kinds = [kind for _, kind in built]

    @staticmethod
    def _line(
        effects: _Effects, category: str
    ) -> tuple[
        tuple[bool, int, int, int, list[tuple[int, int, int]], bool],
        tuple[str | None, dict[str, int]],
    ]:
        """What :meth:`narrow` needs of one category, the policy's :func:`line_keys` over
        bitsets: whether a goal is stated in it, the rules that remove or flag its line, those
        suggesting it, those suggesting it naming no class, per drug class the rules naming
        it, those avoiding it and its direction (a bit), and whether every class counts with
        the category's direction; and what :meth:`settled` needs besides: that direction (if
        so) and the bit of each direction."""
        found = line_keys(
            category,
            effects.classes(category),
            goals=category in effects.goal_categories,
            schema=effects.schema,
        )
        mask = effects.mask
        directions = sorted({entry.direction for entry in found.classes})
        bit_of = {direction: 1 << k for k, direction in enumerate(directions)}
        per_class = [
            (mask((entry.naming,)), mask((entry.avoiding,)), bit_of[entry.direction])
            for entry in found.classes
        ]
        line = (
            found.goals,
            mask(found.excluding),
            mask(found.suggesting),
            mask(found.whole),
            per_class,
            found.uniform is not None,
        )
        return line, (found.uniform, bit_of)

    def excluders(self, numbers: int) -> list[int]:
        """For each of these lines, the rules that flag it or remove its category."""
        return [self._lines[number][1] for number in bits(numbers)]

    def _sides(self, number: int, key: int) -> tuple[Side, Side]:
        """The sides of line ``number`` when the rules of ``key`` (all touching it) fire."""
        memo = self._memo[number]
        found = memo.get(key)
        if found is None:
            if len(memo) > 20_000:  # bounds the memory (keys are bitsets of every rule)
                memo.clear()
            fired = sorted((self._effects[i] for i in bits(key)), key=_rule_id)
            found = memo[key] = category_sides(
                collect(fired, self._tables), self.categories[number]
            )
        return found

    def sides(self, held: int) -> tuple[Side, Side] | None:
        """:func:`unresolved_conflict` of the rules in ``held``."""
        suppressing: set[tuple[str, str]] = set()
        stimulating: set[tuple[str, str]] = set()
        for number, touching in enumerate(self._touching):
            key = held & touching
            if key:
                found = self._sides(number, key)
                suppressing.update(found[0])
                stimulating.update(found[1])
        if not (suppressing and stimulating):
            return None
        return tuple(sorted(suppressing)), tuple(sorted(stimulating))

    def lines(self, held: int) -> tuple[list[int], list[int]]:
        """The lines (positions in :attr:`categories`) that the rules in ``held`` leave
        unflagged with the suppress, and with the stimulate, direction."""
        down: list[int] = []
        up: list[int] = []
        for number, touching in enumerate(self._touching):
            key = held & touching
            if key:
                found = self._sides(number, key)
                if found[0]:
                    down.append(number)
                if found[1]:
                    up.append(number)
        return down, up

    def settled(self, held: int, pending: int, numbers: int, direction: str) -> int:
        """The lines of ``numbers`` that, on all of a branch where the rules in ``held`` fire
        (and those in ``pending`` may), are there, unflagged, with ``direction``: no alive rule
        flags or removes the line, and a rule in ``held`` suggests a class of that direction no
        alive rule avoids (or, where every class counts with the category's direction, the
        category naming no class). Sound, not complete (never a line where a goal is stated)."""
        found = 0
        alive = held | pending
        for n in bits(numbers):
            goals, excluding, _, whole, per_class, _ = self._lines[n]
            if goals or alive & excluding:
                continue
            default, bit_of = self._kinds[n]
            if default == direction and held & whole:
                found |= 1 << n
                continue
            wanted = bit_of.get(direction, 0)
            for naming, avoiding, bit in per_class:
                if bit == wanted and held & naming and not alive & avoiding:
                    found |= 1 << n
                    break
        return found

    def narrow(self, held: int, pending: int) -> int:
        """The pending rules that can still change a line's directions where the rules in
        ``held`` fire (a :data:`BitNarrow`); the others change nothing whatever else fires.

        Once a line is flagged or its category avoided, or nothing alive suggests it, nothing
        changes it. A direction is *certain* when a class of it is suggested by a rule in
        ``held`` and avoided by no alive rule, or when a rule in ``held`` suggests a category
        whose classes all count with its default direction naming none: the line is then there
        (unless flagged or removed) with that direction, so suggesting or avoiding another
        class of that direction, or suggesting the category naming no class, changes nothing;
        nor does
        suggesting a class already suggested, avoiding one already avoided, or avoiding one
        that nothing alive suggests (the policy merges suggestions and avoids as sets). In a
        category where a suggestion states a goal every rule is kept."""
        kept = 0
        alive = held | pending
        for touching, (goals, excluding, suggesting, whole, classes, uniform) in zip(
            self._touching, self._lines, strict=True
        ):
            mine = pending & touching
            if not mine:
                continue
            if goals:
                kept |= mine
                continue
            if held & excluding or not alive & suggesting:
                continue  # the line is flagged or removed, or there is none, for good
            kept |= mine & excluding
            # a class that no alive rule names changes nothing (an avoid of it neither)
            named = [entry for entry in classes if alive & entry[0]]
            certain = 0
            if uniform and held & whole:
                certain = -1  # the line is there, with the category's direction
            else:
                for naming, avoiding, direction in named:
                    if held & naming and not alive & avoiding:
                        certain |= direction
            if not certain and not held & whole:
                kept |= mine & whole
            for naming, avoiding, direction in named:
                if certain & direction or held & avoiding:
                    continue
                if mine & naming and not held & naming:
                    kept |= mine & naming
                if mine & avoiding:
                    kept |= mine & avoiding
        return kept


def _cause_prune(
    excluding: list[int], same: BitPrune, other: BitPrune, held: int, pending: int
) -> bool:
    """A branch where a cause cannot be on its side of an unresolved conflict: the lines it
    suggests are all flagged or removed (``excluding``: the rules flagging or removing each),
    or its direction (``same``) or the other one (``other``) has no source left."""
    for rules in excluding:
        if not held & rules:
            break
    else:
        return True
    return same(held, pending) or other(held, pending)


def _rule_id(effects: PolicyEffects) -> str:
    return effects.rule.id


_Source = tuple[str, str, str | None]
"""A source of a direction: (direction, category, the drug class or None), as
:func:`effect_sources` gives them."""


class _Effects:
    """Bitsets (over an index's rules) of the rules with each effect, for masked rules."""

    def __init__(self, rules: Sequence[CompiledRule], schema: Schema) -> None:
        self.schema = schema
        self.rules = [compiled.rule for compiled in rules]
        #: Categories some suggestion states a goal for (its direction then depends on which
        #: suggestions merge, so suggestions there are never taken as absorbed).
        self.goal_categories = {
            s.category for rule in self.rules for s in rule.then.suggest if s.goal is not None
        }
        self.suggests: dict[str, int] = {}
        self.first_line: dict[str, int] = {}
        self.whole: dict[str, int] = {}  # suggest the category without naming drug classes
        self.names: dict[tuple[str, str], int] = {}
        self.flags: dict[str, int] = {}
        self.avoids: dict[tuple[str, str | None], int] = {}
        self.advises: dict[str, int] = {}
        self.touching: dict[Key, int] = {}
        self._sources: tuple[dict[_Source, int], dict[_Source, int]] | None = None
        self._sourceless: dict[tuple[frozenset[str], str], BitPrune] = {}
        self._by_kind = {
            "suggest": self.suggests,
            "first_line": self.first_line,
            "whole": self.whole,
            "flag": self.flags,
            "advise": self.advises,
        }
        for i, compiled in enumerate(rules):
            bit = 1 << i
            then = compiled.rule.then
            for suggest in then.suggest:
                category = suggest.category
                self._add(self.suggests, category, bit)
                if suggest.tier == "first_line":
                    self._add(self.first_line, category, bit)
                if not suggest.subcategories:
                    self._add(self.whole, category, bit)
                for sub in suggest.subcategories:
                    self._add(self.names, (category, sub), bit)
            for category in then.flag:
                self._add(self.flags, category, bit)
            for avoid in then.avoid:
                self._add(self.avoids, (avoid.category, avoid.subcategory), bit)
            for key in then.advise:
                self._add(self.advises, key, bit)
            for touched in keys(compiled.rule):
                self._add(self.touching, touched, bit)

    @staticmethod
    def _add(table: dict[_K, int], key: _K, bit: int) -> None:
        table[key] = table.get(key, 0) | bit

    def absorbed(self, rule: Rule, key: Key) -> BitPrune:
        """``absorbed(held, pending)``: whether the rules that fire on all of a branch
        (``held``, never ``rule`` itself) leave ``rule`` no way to change ``key``'s part of the
        result anywhere in it, whatever else fires there (the policy's :func:`absorption`, over
        bitsets). Sound, not complete: the cells of a branch it does not cut are judged one by
        one."""
        found = absorption(effects_of(rule, self.schema), key, goals=key[1] in self.goal_categories)
        required = [self.mask(group) for group in found.required]
        sufficient = self.mask(found.sufficient)
        then = None if found.then is None else [self.mask(group) for group in found.then]
        unless = None if found.unless_alive is None else self.mask((found.unless_alive,))

        def absorbed(held: int, pending: int) -> bool:
            if not all(held & mask for mask in required):
                return False
            if held & sufficient:
                return True
            if then is not None and all(held & mask for mask in then):
                return True
            return unless is not None and not (held | pending) & unless

        return absorbed

    def mask(self, effects: Iterable[EffectKey]) -> int:
        """The rules with any of these effects (the policy's :data:`EffectKey` s)."""
        mask = 0
        for kind, name, sub in effects:
            if kind == "name" and sub is not None:
                mask |= self.names.get((name, sub), 0)
            elif kind == "avoid":
                mask |= self.avoids.get((name, sub), 0)
            else:
                mask |= self._by_kind[kind].get(name, 0)
        return mask

    def classes(self, category: str) -> set[str]:
        """The drug classes of ``category`` some rule names or avoids."""
        found = {sub for c, sub in self.names if c == category}
        found.update(sub for c, sub in self.avoids if c == category and sub is not None)
        return found

    def sources(self, categories: Iterable[str]) -> dict[_Source, int]:
        """``(direction, category, class or None) -> rules``: the suggestions of ``categories``
        that can give their line that direction (the policy's :func:`effect_sources`)."""
        wanted = set(categories)
        return {key: rules for key, rules in self._all_sources()[0].items() if key[1] in wanted}

    def _all_sources(self) -> tuple[dict[_Source, int], dict[_Source, int]]:
        """Per ``(direction, category, class or None)``: the rules whose suggestion is that
        source, and the rules that shut it (made once)."""
        if self._sources is None:
            found: dict[_Source, int] = {}
            shut: dict[_Source, int] = {}
            known: dict[SuggestEffect, list[_Source]] = {}
            for bit_index, rule in enumerate(self.rules):
                bit = 1 << bit_index
                for suggest in rule.then.suggest:
                    if suggest not in known:  # rule sets repeat the same few suggestions
                        known[suggest] = []
                        for source in effect_sources(suggest, self.schema):
                            key = (source.direction, suggest.category, source.subcategory)
                            known[suggest].append(key)
                            if key not in shut:
                                shut[key] = self.mask(source.shut)
                    for key in known[suggest]:
                        self._add(found, key, bit)
            self._sources = found, shut
        return self._sources

    def sourceless(self, categories: Iterable[str], direction: str) -> BitPrune:
        """``sourceless(held, pending)``: whether no line of ``categories`` can take
        ``direction`` unflagged anywhere in a branch, whatever else fires there: every
        :func:`effect_sources` of that direction is shut by the rules that fire on all of the
        branch (``held``), or none of its suggestions fires there."""
        wanted = frozenset(categories)
        known = self._sourceless.get((wanted, direction))
        if known is not None:
            return known
        shutting = self._all_sources()[1]
        sources: list[tuple[int, int]] = [
            (suggesters, shutting[key])
            for key, suggesters in self.sources(wanted).items()
            if key[0] == direction
        ]

        # the sources most rules give first: one of them is the likeliest to be alive
        sources.sort(key=lambda source: -source[0].bit_count())
        anyone = 0
        for suggesters, _ in sources:
            anyone |= suggesters

        def sourceless(held: int, pending: int) -> bool:
            alive = held | pending
            if not alive & anyone:
                return True
            for rules, shut in sources:
                if alive & rules and not held & shut:
                    break
            else:
                return True
            return False

        self._sourceless[(wanted, direction)] = sourceless
        return sourceless


#: How the conflict search weighs a dimension's values against the boxes that test it
#: (:meth:`BoxIndex.branches`' ``weigh``): on generated rule sets, 4 gives the fewest branches.
_WEIGH = 4


class _Analysis:
    def __init__(
        self,
        kb: KnowledgeBase,
        space: ProfileSpace,
        progress: Progress | None,
        scope: Sequence[Rule] = (),
    ) -> None:
        self.kb = kb
        self.schema = kb.schema
        self.space = space
        self.full = full = space.full
        self.compiled = [space.compile_rule(rule) for rule in kb.active_rules]
        self.live = [c for c in self.compiled if c.box is not None]
        self.index = BoxIndex([self._box(c) for c in self.live], full)
        self.effects = _Effects(self.live, kb.schema)
        self.scope = [box for region in scope if (box := space.compile_rule(region).box)]
        self._progress = progress
        self._last = 0.0

    def _box(self, compiled: CompiledRule) -> Box:
        assert compiled.box is not None
        return compiled.box

    def _select(self, keep: Callable[[Rule], bool]) -> int:
        return sum(1 << i for i, compiled in enumerate(self.live) if keep(compiled.rule))

    def _rules(self, held: int) -> list[Rule]:
        return [self.live[i].rule for i in bits(held)]

    def _tell(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if done in (0, total) or now - self._last >= 0.1:
            self._last = now
            self._progress(stage, done, total)

    def _tracker(self, stage: str) -> Callable[[Box], None] | None:
        """For a partition of the whole space: tells the progress how many profiles it is
        done with (None when no one asks for progress)."""
        if self._progress is None:
            return None
        total = size(self.full)
        done = 0
        self._tell(stage, 0, total)

        def finished(box: Box) -> None:
            nonlocal done
            done += size(box)
            self._tell(stage, done, total)

        return finished

    def _regional(
        self, kind: FindingKind, boxes: Iterable[Box], message: str, **extra: object
    ) -> list[_Lazy]:
        merged = [piece for box in merge_boxes(boxes) for piece in self.space.pieces(box)]
        return [
            _Lazy(
                kind,
                size(piece),
                partial(self._region_finding, kind, piece, number, len(merged), message, extra),
            )
            for number, piece in enumerate(merged, start=1)
        ]

    def _region_finding(
        self,
        kind: FindingKind,
        piece: Box,
        number: int,
        total: int,
        message: str,
        extra: dict[str, object],
    ) -> Finding:
        region = self.space.regions(piece)[0]
        count = size(piece)
        where = f" (region {number} of {total})" if total > 1 else ""
        described = self.space.describe_region(region)
        text = message.format(
            count=f"{count:,} valid profile{'s' if count != 1 else ''}",
            region=described,
            where=where,
        )
        return _finding(
            kind,
            text,
            region=region,
            regions=(region,),
            region_text=described,
            region_size=count,
            example_profile=self.space.example_profile(piece),
            **extra,
        )

    def _grouped(self, kind: FindingKind, union: _Union, message: str, **extra: object) -> _Lazy:
        """One finding about every profile of ``union`` (one cause); ``message`` as for
        :meth:`_regional`, ``{where}`` saying how many regions there are."""
        return _Lazy(kind, union.size, partial(self._group_finding, kind, union, message, extra))

    def _group_finding(
        self, kind: FindingKind, union: _Union, message: str, extra: dict[str, object]
    ) -> Finding:
        pieces, regions, described = self._union_regions(union)
        count = union.size
        text = message.format(
            count=f"{count:,} valid profile{'s' if count != 1 else ''}",
            region=described,
            where=f" in {len(regions):,} regions" if len(regions) > 1 else "",
        )
        return _finding(
            kind,
            text,
            region=regions[0],
            regions=regions,
            region_text=described,
            region_size=count,
            example_profile=self.space.example_profile(pieces[0]),
            **extra,
        )

    def _union_regions(
        self, union: _Union
    ) -> tuple[list[Box], tuple[dict[str, list[Scalar]], ...], str]:
        """The union's disjoint pieces (the largest first), each as a region, and the whole
        union in words."""
        pieces = [piece for box in union.merged() for piece in self.space.pieces(box)]
        pieces.sort(key=size, reverse=True)  # stable: merged boxes come largest first
        regions = tuple(self.space.regions(piece)[0] for piece in pieces)
        return pieces, regions, _union_text(self.space, regions)

    # -- rules on their own -----------------------------------------------------------------

    def dead_rules(self) -> list[_Lazy]:
        """Rules no valid profile fires: only ``disease_area`` and ``condition`` constrain each
        other, so it is always a condition outside the areas the rule asks for."""
        found = []
        for compiled in self.compiled:
            if compiled.box is None:
                rule = compiled.rule
                tests = [
                    self.space.flat.describe(name, rule.when[name])
                    for name in ("disease_area", "condition")
                    if name in rule.when
                ]
                owners = sorted(
                    f"{c} is {self.schema.condition_area[c]}"
                    for c in rule.when.get("condition", ())
                    if isinstance(c, str)
                )
                because = f" ({'; '.join(owners)})" if owners else ""
                found.append(
                    _now(
                        "dead_rule",
                        f"{rule.id} can never fire: no valid profile has {' and '.join(tests)}"
                        f"{because}. Fix its `when` ({_located(rule)}).",
                        rule_ids=(rule.id,),
                    )
                )
        return found

    def missing_evidence(self) -> list[_Lazy]:
        return [
            _now(
                "missing_evidence",
                f"{rule.id} cites no evidence: list the keys of its sources under `evidence:` "
                f"({_located(rule)}).",
                rule_ids=(rule.id,),
            )
            for rule in self.kb.active_rules
            if not rule.evidence
        ]

    def golden_cases(self) -> list[_Lazy]:
        found = []
        for ref in golden_cases(self.kb):
            problems = ref.problems(self.kb)
            if problems:
                found.append(
                    _now(
                        "golden_case_failed",
                        f"golden case {ref.id} ({ref.location}) fails: "
                        + "; ".join(problems)
                        + ".",
                        rule_ids=(ref.rule.id,),
                        example_profile=ref.case.profile,
                    )
                )
        return found

    # -- the profile space ------------------------------------------------------------------

    def gaps(self) -> list[_Lazy]:
        decisive = self._select(lambda rule: is_decisive(rule, self.schema))
        if not self.scope:
            uncovered = [
                box
                for box, _ in self.index.cells(
                    self.full,
                    decisive,
                    prune=lambda held, _: held != 0,
                    finished=self._tracker("gaps"),
                )
            ]
        else:  # only inside the scope: partition each scope region less the ones before it
            uncovered = []
            scopes = BoxIndex(self.scope, self.full)
            for number, region in enumerate(self.scope):
                earlier = (1 << number) - 1
                for piece, held in scopes.cells(region, earlier):
                    if held:
                        continue  # an earlier region already holds these profiles
                    uncovered += [
                        box
                        for box, _ in self.index.cells(
                            piece, decisive, prune=lambda held, _: held != 0
                        )
                    ]
        return self._regional(
            "gap",
            uncovered,
            "No decisive rule (a suggestion, a category-level avoid or a referral) covers "
            "{count}{where}: {region}.",
        )

    def conflicts(self) -> list[_Lazy]:
        """One finding per *cause*: a rule on one side of unresolved conflicts, with every rule
        on the other side there, about exactly the profiles where it is on its side of one.

        Rules that can conflict (one can be on the suppress side, the other on the stimulate
        side, and their boxes meet) form connected groups; in each group the direction fewer of
        its rules can take is its rarer side, and each rule of the rarer side is a cause, its
        box searched once. Every conflicting profile has a rule on each side, so it is in the
        finding of one (or more) of its group's causes: together the findings hold every
        conflicting profile, and nothing else."""
        directional: set[str] = set()
        for compiled in self.live:
            for suggest in compiled.rule.then.suggest:
                if effect_directions(suggest, self.schema).intersection(OPPOSITE):
                    directional.add(suggest.category)
        relevant = self._select(lambda rule: bool(touches(rule)[0] & directional))
        judge = _ConflictJudge(self.live, self.effects, directional, self.schema)
        number_of = {category: n for n, category in enumerate(judge.categories)}
        # per direction and line: the rules whose suggestion can give the line that direction
        towards = {direction: [0] * len(judge.categories) for direction in OPPOSITE}
        for (direction, category, _), suggesters in self.effects.sources(directional).items():
            if direction in towards:
                towards[direction][number_of[category]] |= suggesters
        # a rule can be on a direction's side only on a line it suggests, where a suggestion
        # that can give the line that direction meets its box
        able = dict.fromkeys(OPPOSITE, 0)
        for i, compiled in enumerate(self.live):
            box = self._box(compiled)
            for category in {s.category for s in compiled.rule.then.suggest} & directional:
                for direction in OPPOSITE:
                    sources = towards[direction][number_of[category]]
                    if sources and self.index.meeting(box, sources):
                        able[direction] |= 1 << i
        causes = self._causes(able)
        # the rules that flag or avoid: once they are decided on a branch, most suggestions
        # can no longer change a line there, so a settled branch, partitioned further only to
        # name the rules on the other side, is split by them first
        ruling = relevant & ~self._select(lambda rule: bool(rule.then.suggest))
        touching = [self.effects.touching.get(("category", c), 0) for c in judge.categories]
        found: list[_Lazy] = []
        profiles = size(self.full)  # progress: the causes searched, as a share of the space
        self._tell("conflicts", 0, profiles)
        for done, (i, direction) in enumerate(causes):
            self._tell("conflicts", profiles * done // len(causes), profiles)
            cause = self._cause(i, direction, judge, towards, touching, relevant, ruling)
            if cause is not None:
                found.append(cause)
        self._tell("conflicts", profiles, profiles)
        return found

    def _causes(self, able: dict[str, int]) -> list[tuple[int, str]]:
        """The rules searched as causes, each with its side: those of the rarer side of each
        connected group of rules that can conflict (``able``: the rules that can be on each
        direction's side)."""
        down_able, up_able = able["suppress"], able["stimulate"]
        unseen = down_able | up_able
        causes: list[tuple[int, str]] = []
        while unseen:
            group = 0
            frontier = unseen & -unseen
            while frontier:
                group |= frontier
                unseen &= ~frontier
                reached = 0
                for i in bits(frontier):
                    wanted = (up_able if down_able >> i & 1 else 0) | (
                        down_able if up_able >> i & 1 else 0
                    )
                    reached |= self.index.meeting(self._box(self.live[i]), wanted & ~group)
                frontier = reached & unseen
            downs, ups = (group & down_able).bit_count(), (group & up_able).bit_count()
            rarer = "suppress" if downs <= ups else "stimulate"
            causes += [(i, rarer) for i in bits(group & able[rarer])]
        return causes

    def _cause(
        self,
        i: int,
        direction: str,
        judge: _ConflictJudge,
        towards: Mapping[str, Sequence[int]],
        touching: Sequence[int],
        relevant: int,
        ruling: int,
    ) -> _Lazy | None:
        """Rule ``i``'s conflict finding as a cause on ``direction``'s side (None: it is in
        no unresolved conflict there). Its box is partitioned by the rules touching the lines
        it can be on that side of and those that can take the other direction there; a branch
        is cut where its lines are all flagged or removed, or where either direction has no
        source left; on each cell where it is on its side and the other side is not empty,
        every rule of the other side's lines that fires somewhere in the cell is on it
        there (a cell decides its lines)."""
        bit = 1 << i
        compiled = self.live[i]
        box = self._box(compiled)
        other = OPPOSITE[1] if direction == OPPOSITE[0] else OPPOSITE[0]
        mine = theirs = 0
        for n, suggesters in enumerate(judge.suggesting):
            if suggesters & bit and self.index.meeting(box, towards[direction][n]):
                mine |= 1 << n
            if towards[other][n] and self.index.meeting(box, towards[other][n]):
                theirs |= 1 << n
        if not (mine and theirs):
            return None
        among = 0
        for n in bits(mine | theirs):
            among |= touching[n]
        prune = partial(
            _cause_prune,
            judge.excluders(mine),
            self.effects.sourceless([judge.categories[n] for n in bits(mine)], direction),
            self.effects.sourceless([judge.categories[n] for n in bits(theirs)], other),
        )
        union = _Union()
        own = 0  # the lines on which the cause is on its side somewhere in its region
        named = [0] * len(judge.categories)  # per line: the rules on the other side there
        among &= relevant
        suggesting = judge.suggesting
        settled = judge.settled

        def name(cell: Box, opposed: Iterable[int]) -> None:
            """The rules on the other side somewhere in a cell of the region, where the lines
            ``opposed`` are there with the other direction: every rule suggesting one that
            fires somewhere in the cell."""
            for n in opposed:
                fresh = suggesting[n] & ~named[n]
                if fresh:
                    named[n] |= self.index.meeting(cell, fresh)

        def judged(cell: Box, held: int) -> None:
            """A cell (its lines decided by ``held``): in the region if the cause is on its
            side there and the other side is not empty."""
            nonlocal own
            down, up = judge.lines(held)
            same, opposed = (down, up) if direction == OPPOSITE[0] else (up, down)
            if not opposed:
                return
            on_side = 0
            for n in same:
                if suggesting[n] & bit:
                    on_side |= 1 << n
            if on_side:
                union.add(cell)
                own |= on_side
                name(cell, opposed)

        def settle(held: int, pending: int) -> bool:
            """A branch all in the region: a line of the cause's is settled on its side, and
            one of the other side's on the other."""
            return bool(settled(held, pending, mine, direction)) and bool(
                settled(held, pending, theirs, other)
            )

        unknown = 0  # the lines a settled branch still leaves to learn about

        def learnt(held: int, pending: int) -> bool:
            """Nothing left to learn about the lines of ``unknown`` (a :data:`BitPrune`)."""
            if mine & unknown & ~own:
                return False
            return not any(suggesting[n] & ~named[n] for n in bits(unknown & theirs))

        for cell, held, pending in self.index.branches(
            box, among, prune=prune, narrow=judge.narrow, settle=settle, weigh=_WEIGH
        ):
            if not pending:
                judged(cell, held)
                continue
            union.add(cell)
            own |= settled(held, pending, mine, direction)
            done = settled(held, pending, theirs, other)
            name(cell, bits(done))
            # the lines still to learn about in this branch: the cause's own not known to be
            # on its side yet, and those of the other side with rules not named yet that fire
            # in it; the branch partitioned by their rules, until nothing is left to learn
            unknown = mine & ~own
            for n in bits(theirs & ~done):
                if self.index.meeting(cell, suggesting[n] & ~named[n]):
                    unknown |= 1 << n
            if not unknown:
                continue
            rules = 0
            for n in bits(unknown):
                rules |= touching[n]

            for piece, inside in self.index.cells(
                cell,
                rules & relevant,
                prune=learnt,
                narrow=judge.narrow,
                first=ruling,
                weigh=_WEIGH,
            ):
                down, up = judge.lines(inside)
                same, opposed = (down, up) if direction == OPPOSITE[0] else (up, down)
                for n in same:
                    if suggesting[n] & bit:
                        own |= 1 << n
                name(piece, [n for n in opposed if unknown >> n & 1])
        if not union.size:
            return None
        rule_id = compiled.id
        mine_side = tuple(sorted((judge.categories[n], rule_id) for n in bits(own)))
        their_side = tuple(
            sorted(
                (judge.categories[n], self.live[j].id)
                for n, rules in enumerate(named)
                for j in bits(rules)
            )
        )
        others = sorted({j for _, j in their_side} - {rule_id})
        suppressing, stimulating = (
            (mine_side, their_side) if direction == OPPOSITE[0] else (their_side, mine_side)
        )
        return self._grouped(
            "unresolved_conflict",
            union,
            f"{side_text(suppressing)} would suppress the immune system while "
            f"{side_text(stimulating)} would stimulate it, both at first_line or escalation "
            "(neither flagged), on {count}{where}: {region}. Flag or avoid one side there, or "
            "narrow the rules.",
            rule_ids=(rule_id, *others),
        )

    # -- rules against each other ------------------------------------------------------------

    def redundant_rules(self) -> tuple[list[_Lazy], set[str]]:
        """Redundant rules, and the ids of every rule that another one covers."""
        covered_by: dict[str, list[str]] = {}
        for i, compiled in enumerate(self.live):
            self._tell("redundant rules", i, len(self.live))
            containing = self.index.containing(self._box(compiled)) & ~(1 << i)
            covered_by[compiled.id] = [  # the index holds their boxes' containment
                self.live[j].id
                for j in bits(containing)
                if has_effects_of(self.live[j].rule, compiled.rule)
            ]
        self._tell("redundant rules", len(self.live), len(self.live))
        found: list[_Lazy] = []
        grouped: set[str] = set()
        for compiled in self.live:
            same = [o for o in covered_by[compiled.id] if compiled.id in covered_by[o]]
            if same and compiled.id not in grouped:
                group = sorted({compiled.id, *same})
                grouped.update(group)
                found.append(
                    _Lazy(
                        "redundant_rule",
                        size(self._box(compiled)),
                        partial(
                            self._rule_finding,
                            "redundant_rule",
                            f"Identical rules: {', '.join(group)} have the same conditions and "
                            "effects; keep one.",
                            compiled,
                            tuple(group),
                        ),
                    )
                )
        for compiled in self.live:
            wider = [o for o in covered_by[compiled.id] if compiled.id not in covered_by[o]]
            if wider:
                names = ", ".join(wider)
                found.append(
                    _Lazy(
                        "redundant_rule",
                        size(self._box(compiled)),
                        partial(
                            self._rule_finding,
                            "redundant_rule",
                            f"{compiled.id} is redundant: {names} "
                            f"{'fires' if len(wider) == 1 else 'each fire'} on every profile where "
                            "it fires and already has all its effects. Remove it, or make it "
                            "differ.",
                            compiled,
                            (compiled.id, *wider),
                        ),
                    )
                )
        return found, {rule_id for rule_id, wider in covered_by.items() if wider}

    def masked_rules(self, *, skip: set[str]) -> list[_Lazy]:
        """Rules that change nothing where they fire. A rule changes a result only in the
        categories and advisories it touches, each decided by the rules touching it, so each
        of those is checked on its own, cell by cell, with and without the rule; the first
        cell where it matters ends the search (the profile of its box where the fewest other
        rules fire is tried before any partition, and the cells where the fewest fire come
        first), and a branch where the rules fired already absorb it is not split. A category's
        part is the collect policy's, of the rules' effects on that category alone."""
        effects = self.effects
        parts: dict[tuple[Key, int], object] = {}
        policy = tables(self.schema)
        whole = [effects_of(compiled.rule, self.schema) for compiled in self.live]
        partial_effects: dict[tuple[int, str], PolicyEffects] = {}

        def effects_on(i: int, category: str) -> PolicyEffects:
            """Rule ``i``'s effects on ``category`` alone (all that its part depends on)."""
            found = partial_effects.get((i, category))
            if found is None:
                found = partial_effects[(i, category)] = part_effects(
                    whole[i], "category", category
                )
            return found

        def part_of(key: Key, held: int) -> object:
            """:func:`part` of what the rules in ``held`` make of ``key``, or what equals for
            two sets of rules exactly when it does: an advisory is given when one of them gives
            it; a category's lines are the policy's, from their effects on it alone (in any
            order: a projection has no reasons)."""
            kind, name = key
            if kind == "advisory":
                return bool(held & effects.advises.get(name, 0))
            found = parts.get((key, held))
            if found is None:
                if len(parts) > 200_000:  # bounds the memory; the rules' cells rarely repeat
                    parts.clear()
                steps = collect([effects_on(i, name) for i in bits(held)], policy)
                found = parts[(key, held)] = part(projection_of(steps), key)
            return found

        def matters(compiled: CompiledRule, bit: int, key: Key, among: int) -> bool:
            absorbed = effects.absorbed(compiled.rule, key)
            for _, held in self.index.cells(self._box(compiled), among, prune=absorbed):
                if part_of(key, held | bit) != part_of(key, held):
                    return True
            return False

        found = []
        for i, compiled in enumerate(self.live):
            self._tell("masked rules", i, len(self.live))
            if compiled.id in skip:
                continue
            bit = 1 << i
            overlapping = self.index.meeting(self._box(compiled)) & ~bit
            among = {key: overlapping & effects.touching[key] for key in keys(compiled.rule)}
            ordered = sorted(among, key=lambda key: (among[key].bit_count(), key))
            # first the profile of its box where the fewest others fire: most rules matter
            # there, and one profile is cheaper than a partition
            point = self.index.sparsest(self._box(compiled), overlapping)
            if any(
                part_of(key, point & among[key] | bit) != part_of(key, point & among[key])
                for key in ordered
            ):
                continue
            if any(matters(compiled, bit, key, among[key]) for key in ordered):
                continue
            touching = 0
            for others in among.values():
                touching |= others
            found.append(
                _Lazy(
                    "masked_rule",
                    size(self._box(compiled)),
                    partial(self._masked_finding, compiled, touching),
                )
            )
        self._tell("masked rules", len(self.live), len(self.live))
        return found

    def _masked_finding(self, compiled: CompiledRule, touching: int) -> Finding:
        box = self._box(compiled)
        pieces, regions, described = self._union_regions(self._union_of(box))
        example = self.space.example_profile(pieces[0])
        # the rules that fire on the example: those whose box holds its one profile
        fired = self.index.containing(self.space.example_point(pieces[0]))
        steps = plan(self._rules(fired), self.schema)
        others = {self.live[i].id for i in bits(touching & fired)}
        return _finding(
            "masked_rule",
            f"{compiled.id} never changes a result: on each of the {size(box):,} valid "
            "profiles where it fires, other rules override or repeat all its effects. "
            f"In the example, {fates(compiled.rule, steps)}.",
            rule_ids=(compiled.id, *sorted(others)),
            example_profile=example,
            region=regions[0],
            regions=regions,
            region_text=described,
            region_size=size(box),
        )

    def _rule_finding(
        self, kind: FindingKind, message: str, compiled: CompiledRule, rule_ids: tuple[str, ...]
    ) -> Finding:
        """A finding about every profile where ``compiled`` fires."""
        pieces, regions, described = self._union_regions(self._union_of(self._box(compiled)))
        return _finding(
            kind,
            message,
            rule_ids=rule_ids,
            example_profile=self.space.example_profile(pieces[0]),
            region=regions[0],
            regions=regions,
            region_text=described,
            region_size=size(self._box(compiled)),
        )

    @staticmethod
    def _union_of(box: Box) -> _Union:
        union = _Union()
        union.add(box)
        return union

    def unused_effects(self) -> list[_Lazy]:
        """Avoids of a drug class and flags of a category that no live rule's suggestion can
        meet: they never change a suggestion (the avoid is still listed in results)."""
        # each distinct suggestion once: rule sets repeat the same few many times
        suggestions = list(
            dict.fromkeys(s for compiled in self.live for s in compiled.rule.then.suggest)
        )
        flagged = {s.category for s in suggestions}
        avoids: dict[str, list[str]] = {}
        flags: dict[str, list[str]] = {}
        suggested: dict[str, bool] = {}
        for compiled in self.live:
            then = compiled.rule.then
            for avoid in then.avoid:
                sub = avoid.subcategory
                if sub is None:
                    continue
                if sub not in suggested:
                    suggested[sub] = self._suggested(sub, suggestions)
                if not suggested[sub]:
                    avoids.setdefault(sub, []).append(compiled.id)
            for category in then.flag:
                if category not in flagged:
                    flags.setdefault(category, []).append(compiled.id)
        found = [
            _now(
                "unused_effect",
                f"{_plural(rules)} avoid the drug class {name!r}, which no live rule suggests "
                "(neither it, a class it belongs to or a finer one, nor its whole category "
                f"{self.schema.sub_category[name]!r}): the avoid never removes a suggestion.",
                rule_ids=tuple(sorted(set(rules))),
                subject=f"avoid:{name}",
            )
            for name, rules in avoids.items()
        ]
        found += [
            _now(
                "unused_effect",
                f"{_plural(rules)} flag the category {name!r}, which no live rule suggests: the "
                "flag never meets a suggestion.",
                rule_ids=tuple(sorted(set(rules))),
                subject=f"flag:{name}",
            )
            for name, rules in flags.items()
        ]
        return found

    def _suggested(self, subcategory: str, suggestions: Sequence[SuggestEffect]) -> bool:
        """Whether some suggestion can meet an avoid of ``subcategory``: its category as a
        whole, or the class itself, a class it belongs to or a finer one."""
        category = self.schema.sub_category[subcategory]
        covers = self.schema.covers
        return any(
            s.category == category
            and (
                not s.subcategories
                or any(covers(n, subcategory) or covers(subcategory, n) for n in s.subcategories)
            )
            for s in suggestions
        )

    def unused_vocabulary(self) -> list[_Lazy]:
        named: dict[str, set[str]] = {"category": set(), "subcategory": set(), "advisory": set()}
        for compiled in self.live:
            then = compiled.rule.then
            for suggest in then.suggest:
                named["category"].add(suggest.category)
                named["subcategory"].update(suggest.subcategories)
            named["category"].update(then.flag)
            for avoid in then.avoid:
                if avoid.subcategory is None:
                    named["category"].add(avoid.category)
                else:
                    named["subcategory"].add(avoid.subcategory)
            named["advisory"].update(then.advise)
        return [
            _now(
                "unused_vocabulary",
                f"{group} {name!r} is named by no live rule's effects.",
                subject=f"{group}:{name}",
            )
            for group, names in (
                ("category", self.schema.categories),
                ("subcategory", self.schema.subcategories),
                ("advisory", self.schema.advisories),
            )
            for name in names
            if name not in named[group]
        ]
