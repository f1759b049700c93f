"""The semantic diff: where, over every profile both rule sets can answer, the answer differs.

Both rule sets' rules become boxes of one profile space (``_analysis.space``); a rule that is
the same on both sides (same id, conditions and effects) is one box, every other rule a box of
its side. The space is partitioned (:meth:`BoxIndex.cells`) into cells on which every rule fires
everywhere or nowhere, cutting every branch no changed rule meets (there both sides fire the
same rules, so they answer alike). On each cell the collect policy (``_policy``) answers for
each side from the rules it fires, once per distinct set of fired rules, and the answers are
compared without their reasons: tiers, drug classes, directions, avoidances (flags are tiers),
advisories, the conflict state and coverage. Cells with the same change, by the same rules,
are merged into maximal regions, as the audit merges its findings.

What the answer *depends on* (``Result.depends_on``) and the fields it leaves not stated are
not compared: they are read from the answers of the neighbouring profiles (the same profile
with a field stated), and every one of those that changes is a changed profile of its own.

Nothing is sampled and nothing is enumerated profile by profile. This module must never
evaluate a profile with a knowledge base's engine: the tests hold it to that, profile by
profile, on small spaces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..._model.rules import Rule
from ..._model.schema import Schema
from ..._model.space import FlatSpace
from ..._policy import Effects, Plan, collect, effects_of, is_decisive, plan, tables
from ..audit_semantics import keys
from ..space import Box, BoxIndex, ProfileSpace, bits, merge_boxes, size
from .models import DiffAnswer, DiffRegion, DiffRuleIds, RuleSetDiff, SuggestionAnswer
from .shared import shared_space
from .vocabulary import vocabulary_diff

if TYPE_CHECKING:
    from ..._evaluate.protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["Answer", "answer_of", "diff", "rule_changes"]

_Line = tuple[str, tuple[str, ...], str | None]  # tier, drug classes, direction
Answer = tuple[
    tuple[tuple[str, _Line], ...],  # category -> its suggestion
    frozenset[str],  # what is avoided: drug classes, and categories avoided as a whole
    frozenset[str],  # advisories given
    str,  # conflict state
    bool,  # covered
]
"""An answer without its reasons, as the diff compares it."""


def answer_of(rules: Sequence[Rule], schema: Schema) -> Answer:
    """What the collect policy answers where exactly ``rules`` fire, without reasons."""
    return _answer(plan(rules, schema))


def _answer(steps: Plan) -> Answer:
    suggestions = []
    for line in steps.suggestions:
        fields = dict(line.fields)
        suggestions.append(
            (
                fields["category"],
                (fields["tier"], tuple(fields["subcategories"]), fields["direction"]),
            )
        )
    avoided = frozenset(
        dict(line.fields)["subcategory"] or dict(line.fields)["category"] for line in steps.avoided
    )
    conflict = "none"
    if steps.conflicts:
        conflict = "resolved" if steps.conflicts[0].resolved else "unresolved"
    return (
        tuple(suggestions),
        avoided,
        frozenset(dict(line.fields)["key"] for line in steps.advisories),
        conflict,
        steps.covered,
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    """One box of the partition: a rule of the old side, the new side, or both alike."""

    box: Box
    old: Rule | None
    new: Rule | None


def _same(a: Rule, b: Rule) -> bool:
    """Whether two rules with one id decide the same (conditions, effects and status)."""
    return a.when == b.when and a.sets == b.sets and a.then == b.then


def rule_changes(
    old: Sequence[Rule], new: Sequence[Rule]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The ids of rules added, removed and edited (any change but its place in a file)."""
    before = {rule.id: rule for rule in old}
    after = {rule.id: rule for rule in new}
    edited = tuple(
        sorted(
            rule_id
            for rule_id in before.keys() & after.keys()
            if _content(before[rule_id]) != _content(after[rule_id])
        )
    )
    return (
        tuple(sorted(after.keys() - before.keys())),
        tuple(sorted(before.keys() - after.keys())),
        edited,
    )


def _content(rule: Rule) -> dict[str, Any]:
    """A rule without where it is written (its file, its line and its golden cases' lines)."""
    data = rule.model_dump(exclude={"file", "line"})
    data["tests"] = [{k: v for k, v in case.items() if k != "line"} for case in data["tests"]]
    return data


def diff(
    old: KnowledgeBase,
    new: KnowledgeBase,
    *,
    within: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> RuleSetDiff:
    """The exact semantic diff of two knowledge bases: see :func:`immunorules.diff`.

    ``within`` (a region in ``when`` syntax, or a list of regions, over the shared profiles)
    keeps only the regions of change outside it: what :func:`assert_changes_within` reports.
    """
    shared = shared_space(old.schema, new.schema)
    schema = shared.schema
    old_rules = shared.restrict(old.active_rules, "old")
    new_rules = shared.restrict(new.active_rules, "new")
    scope: tuple[Rule, ...] = ()
    if within is not None:
        from ..._load.loader import parse_scope

        scope = parse_scope(schema, within)
    space = ProfileSpace(FlatSpace(schema, [*old_rules, *new_rules, *scope]))
    entries = _entries(space, old_rules, new_rules)
    index = BoxIndex([entry.box for entry in entries] + _boxes(space, scope), space.full)
    old_mask = new_mask = changed = 0
    for i, entry in enumerate(entries):
        bit = 1 << i
        if entry.old is not None:
            old_mask |= bit
        if entry.new is not None:
            new_mask |= bit
        if entry.old is None or entry.new is None:
            changed |= bit
    relevant = _relevant(entries, changed, old.schema, new.schema)
    inside_mask = index.every & ~((1 << len(entries)) - 1)
    sides = {
        "old": ([_effects(entry.old, old.schema) for entry in entries], tables(old.schema)),
        "new": ([_effects(entry.new, new.schema) for entry in entries], tables(new.schema)),
    }
    answers: dict[tuple[str, int], Answer] = {}

    def answer(side: str, held: int) -> Answer:
        found = answers.get((side, held))
        if found is None:
            effects, table = sides[side]
            fired = [e for i in bits(held) if (e := effects[i]) is not None]
            found = answers[(side, held)] = _answer(collect(fired, table))
        return found

    groups: dict[tuple[Any, ...], list[Box]] = {}
    changed_profiles = 0
    keys_of: dict[tuple[int, int], tuple[Any, ...] | None] = {}
    for box, held in index.cells(
        space.full,
        relevant | inside_mask,
        prune=lambda held, pending: not (held | pending) & changed,
    ):
        if not held & changed:
            continue
        if within is not None and held & inside_mask:
            continue
        pair = (held & old_mask, held & new_mask)
        if pair not in keys_of:
            keys_of[pair] = _change(
                answer("old", pair[0]),
                answer("new", pair[1]),
                [entries[i].old for i in bits(pair[0])],
                [entries[i].new for i in bits(pair[1])],
                old.schema,
                new.schema,
            )
        key = keys_of[pair]
        if key is None:
            continue
        changed_profiles += size(box)
        groups.setdefault(key, []).append(box)
    regions = [
        _region(space, piece, key)
        for key, boxes in groups.items()
        for merged in merge_boxes(boxes)
        for piece in space.pieces(merged)
    ]
    regions.sort(key=lambda r: (-r.region_size, r.region_text, r.describe()))
    added, removed, edited = rule_changes(old.rules, new.rules)
    return RuleSetDiff(
        old=old.info,
        new=new.info,
        profiles=size(space.full),
        changed_profiles=changed_profiles,
        regions=tuple(regions),
        vocabulary=vocabulary_diff(old.schema, new.schema),
        rules_added=added,
        rules_removed=removed,
        rules_edited=edited,
        shared_space=shared.note,
    )


def _boxes(space: ProfileSpace, rules: Sequence[Rule]) -> list[Box]:
    return [box for rule in rules if (box := space.compile_rule(rule).box) is not None]


def _entries(space: ProfileSpace, old: Sequence[Rule], new: Sequence[Rule]) -> list[_Entry]:
    """One entry per rule alike on both sides, one per other rule of each side (rules no
    profile fires are left out)."""
    after = {rule.id: rule for rule in new}
    entries: list[_Entry] = []
    paired: set[str] = set()
    for rule in old:
        box = space.compile_rule(rule).box
        twin = after.get(rule.id)
        if twin is not None and _same(rule, twin):
            paired.add(rule.id)
            if box is not None:
                entries.append(_Entry(box, rule, twin))
        elif box is not None:
            entries.append(_Entry(box, rule, None))
    for rule in new:
        if rule.id not in paired:
            box = space.compile_rule(rule).box
            if box is not None:
                entries.append(_Entry(box, None, rule))
    # by rule id: the fired rules of a side, read in bit order, are then in the order the
    # collect policy takes them (an id is at most once on a side)
    return sorted(entries, key=lambda entry: _id(entry))


def _id(entry: _Entry) -> str:
    rule = entry.old if entry.old is not None else entry.new
    assert rule is not None
    return rule.id


def _effects(rule: Rule | None, schema: Schema) -> Effects | None:
    return None if rule is None else effects_of(rule, schema)


def _parts(rule: Rule) -> dict[tuple[str, str], tuple[Any, ...]]:
    """A rule's effects on each category and advisory it touches."""
    then = rule.then
    found: dict[tuple[str, str], tuple[Any, ...]] = {}
    for key in keys(rule):
        kind, name = key
        if kind == "advisory":
            found[key] = (True,)
        else:
            found[key] = (
                tuple(s for s in then.suggest if s.category == name),
                name in then.flag,
                tuple(a for a in then.avoid if a.category == name),
            )
    return found


def _relevant(entries: Sequence[_Entry], changed: int, old: Schema, new: Schema) -> int:
    """The entries whose firing can matter to a change: the changed rules, the rules touching
    a category or advisory a change touches, every rule touching a category when a change
    touches one (the conflict state reads them all), and every decisive rule when a change
    can make a profile covered or not. A rule edited only in its effects counts only with the
    categories and advisories whose effects differ, and with coverage only when it becomes
    decisive or stops being so."""
    touched: set[tuple[str, str]] = set()
    coverage = False
    by_id: dict[str, list[_Entry]] = {}
    for i, entry in enumerate(entries):
        if changed >> i & 1:
            by_id.setdefault(_id(entry), []).append(entry)
    for group in by_id.values():
        pair = [e for e in group if e.old is not None] + [e for e in group if e.new is not None]
        if len(group) == 2 and pair[0].box == pair[1].box:  # the same conditions, other effects
            before, after = pair[0].old, pair[1].new
            assert before is not None and after is not None
            one, two = _parts(before), _parts(after)
            touched |= {key for key in one.keys() | two.keys() if one.get(key) != two.get(key)}
            coverage = coverage or is_decisive(before, old) != is_decisive(after, new)
            continue
        for entry in group:
            for rule, schema in ((entry.old, old), (entry.new, new)):
                if rule is not None:
                    touched |= keys(rule)
                    coverage = coverage or is_decisive(rule, schema)
    categories = any(kind == "category" for kind, _ in touched)
    mask = changed
    for i, entry in enumerate(entries):
        for rule, schema in ((entry.old, old), (entry.new, new)):
            if rule is None:
                continue
            mine = keys(rule)
            if (
                mine & touched
                or (categories and any(kind == "category" for kind, _ in mine))
                or (coverage and is_decisive(rule, schema))
            ):
                mask |= 1 << i
    return mask


def _change(
    before: Answer,
    after: Answer,
    old_fired: Sequence[Rule | None],
    new_fired: Sequence[Rule | None],
    old_schema: Schema,
    new_schema: Schema,
) -> tuple[Any, ...] | None:
    """The change from ``before`` to ``after`` with the rules behind it on each side (a
    hashable key), or None when the answers are alike."""
    if before == after:
        return None
    old_lines, new_lines = dict(before[0]), dict(after[0])

    def rank(category: str) -> tuple[int, str]:
        """A category's place in the vocabularies (the same whichever side is old)."""
        places = [
            s.category_order[category]
            for s in (old_schema, new_schema)
            if category in s.category_order
        ]
        return min(places, default=len(old_schema.categories)), category

    lines = tuple(
        sorted(
            (
                name
                for name in {*old_lines, *new_lines}
                if old_lines.get(name) != new_lines.get(name)
            ),
            key=rank,
        )
    )
    category_of: dict[str, str] = {**old_schema.sub_category, **new_schema.sub_category}

    def place(name: str) -> tuple[tuple[int, str], bool, str]:
        """Categories in vocabulary order, each before its drug classes."""
        return rank(category_of.get(name, name)), name in category_of, name

    avoided = tuple(sorted(before[1] ^ after[1], key=place))
    advisories = tuple(sorted(before[2] ^ after[2]))
    conflict = before[3] != after[3]
    covered = before[4] != after[4]
    # the classes suggested on one side only: an avoid of one of them may be why
    classes = {
        sub
        for name in lines
        for sub in set((old_lines.get(name) or ("", (), None))[1])
        ^ set((new_lines.get(name) or ("", (), None))[1])
    }
    directional = {
        name for answer in (before, after) for name, line in answer[0] if line[2] is not None
    }

    def matters(rule: Rule, schema: Schema) -> bool:
        then = rule.then
        named = {s.category for s in then.suggest} | set(then.flag)
        whole = {a.category for a in then.avoid if a.subcategory is None}
        return bool(
            (named | whole) & set(lines)
            or {a.subcategory for a in then.avoid} & classes
            or {a.subcategory or a.category for a in then.avoid} & set(avoided)
            or set(then.advise) & set(advisories)
            or (conflict and named & directional)
            or (covered and is_decisive(rule, schema))
        )

    def responsible(fired: Sequence[Rule | None], schema: Schema) -> tuple[str, ...]:
        return tuple(sorted(r.id for r in fired if r is not None and matters(r, schema)))

    def side(answer: Answer) -> tuple[Any, ...]:
        own_lines = dict(answer[0])
        return (
            tuple((name, own_lines.get(name)) for name in lines),
            tuple((name, name in answer[1]) for name in avoided),
            tuple((key, key in answer[2]) for key in advisories),
            answer[3] if conflict else None,
            answer[4] if covered else None,
        )

    return (
        side(before),
        side(after),
        responsible(old_fired, old_schema),
        responsible(new_fired, new_schema),
    )


def _answer_model(part: tuple[Any, ...]) -> DiffAnswer:
    lines, avoided, advisories, conflict, covered = part
    return DiffAnswer(
        suggestions={
            name: None
            if line is None
            else SuggestionAnswer(tier=line[0], subcategories=line[1], direction=line[2])
            for name, line in lines
        },
        avoided=dict(avoided),
        advisories=dict(advisories),
        conflict=conflict,
        covered=covered,
    )


def _region(space: ProfileSpace, piece: Box, key: tuple[Any, ...]) -> DiffRegion:
    before, after, old_ids, new_ids = key
    region = space.regions(piece)[0]
    return DiffRegion(
        region=region,
        region_text=space.describe_region(region),
        region_size=size(piece),
        example_profile=space.example_profile(piece),
        before=_answer_model(before),
        after=_answer_model(after),
        rule_ids=DiffRuleIds(before=old_ids, after=new_ids),
    )
