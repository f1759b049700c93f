"""What the audit compares: results without their reasons, rules' effects, conflict sides.

``unresolved_conflict`` decides resolution's conflict from the fired rules alone, without
building a :class:`Result` (the audit asks it for tens of thousands of cells on large rule
sets); the tests hold it to :func:`resolve` on random rule sets.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._model.result import Result
from .._model.rules import Rule, SuggestEffect
from .._model.schema import Schema
from .._policy import (
    OPPOSITE,
    Entry,
    Plan,
    Projection,
    Side,
    line_directions,
    plan,
    unresolved_sides,
)

__all__ = [
    "OPPOSITE",
    "Key",
    "Side",
    "category_sides",
    "conflict_sides",
    "fates",
    "has_effects_of",
    "keys",
    "part",
    "projection",
    "side_text",
    "touches",
    "unresolved_conflict",
]

_TIER_RANK = {"escalation": 1, "first_line": 2}
Key = tuple[str, str]
"""A part of a result: ``("category", name)`` or ``("advisory", key)`` (see :func:`part`)."""


def touches(rule: Rule) -> tuple[set[str], set[str]]:
    """The categories and advisories a rule's effects can change in a result."""
    categories = {s.category for s in rule.then.suggest} | set(rule.then.flag)
    categories |= {a.category for a in rule.then.avoid}
    return categories, set(rule.then.advise)


def keys(rule: Rule) -> set[Key]:
    """:func:`touches` as keys for :func:`part`."""
    categories, advisories = touches(rule)
    return {("category", c) for c in categories} | {("advisory", a) for a in advisories}


def projection(result: Result) -> Projection:
    """A result without its reasons (nor its conflicts, which follow from its suggestions):
    what a rule changes when it changes anything."""
    return (
        tuple(
            (s.category, s.tier, s.subcategories, s.direction, s.requires_specialist_review)
            for s in result.suggestions
        ),
        frozenset((a.category, a.subcategory) for a in result.avoided),
        frozenset(a.key for a in result.advisories),
    )


def part(projected: Projection, key: Key) -> object:
    """What a projection says about one category (its suggestion and avoidances) or one
    advisory (given or not): ``key`` is ``("category", name)`` or ``("advisory", key)``."""
    kind, name = key
    suggestions, avoided, advice = projected
    if kind == "advisory":
        return name in advice
    return [s for s in suggestions if s[0] == name], {a for a in avoided if a[0] == name}


def conflict_sides(result: Result, rules: Iterable[Rule] = ()) -> tuple[Side, Side]:
    """The unflagged (category, rule id) pairs on the suppress and the stimulate side.

    ``rules`` are the rules that fired (their suggestions' goals decide the directions; a
    result alone does not carry them); without them each class counts with its own direction.
    """
    by_id = {rule.id: rule for rule in rules}
    schema = type(result.profile).schema_of()
    sides: dict[str, set[tuple[str, str]]] = {direction: set() for direction in OPPOSITE}
    for suggestion in result.suggestions:
        if suggestion.tier == "flagged":
            continue
        subs = suggestion.subcategories
        entries: list[Entry] = [
            (suggest.subcategories, suggest.goal)
            for reason in suggestion.reasons
            if reason.rule_id in by_id
            for suggest in by_id[reason.rule_id].then.suggest
            if suggest.category == suggestion.category
        ]
        for direction in line_directions(suggestion.category, subs, entries, schema):
            if direction in sides:
                for reason in suggestion.reasons:
                    sides[direction].add((suggestion.category, reason.rule_id))
    return tuple(sorted(sides["suppress"])), tuple(sorted(sides["stimulate"]))


def side_text(side: Side) -> str:
    by_category: dict[str, list[str]] = {}
    for category, rule_id in side:
        by_category.setdefault(category, []).append(rule_id)
    return " and ".join(
        f"{category} (from {', '.join(ids)})" for category, ids in by_category.items()
    )


def _suggest_covers(wide: SuggestEffect, narrow: SuggestEffect) -> bool:
    if wide.category != narrow.category or _TIER_RANK[wide.tier] < _TIER_RANK[narrow.tier]:
        return False
    if wide.goal != narrow.goal:
        return False
    if not narrow.subcategories:  # the whole category: only another whole-category suggestion
        return not wide.subcategories
    return set(narrow.subcategories) <= set(wide.subcategories)


def has_effects_of(wide: Rule, narrow: Rule) -> bool:
    """Whether ``wide`` has at least the effects of ``narrow`` (wherever they both fire)."""
    big, small = wide.then, narrow.then
    return (
        all(any(_suggest_covers(w, n) for w in big.suggest) for n in small.suggest)
        and set(small.flag) <= set(big.flag)
        and set(small.avoid) <= set(big.avoid)
        and set(small.advise) <= set(big.advise)
    )


def fates(rule: Rule, steps: Plan) -> str:
    """What became of each of the rule's effects where the rules of the plan fired (the rule
    among them): the collect policy's lines, with the rules behind each."""
    ids = [fired.id for fired in steps.rules]

    def by(positions: Iterable[int]) -> str:
        names = sorted({ids[i] for i in positions if ids[i] != rule.id})
        return f"by {', '.join(names)}" if names else "by the rule itself"

    shown = {dict(line.fields)["category"]: line for line in steps.suggestions}
    avoided: dict[tuple[str, str | None], tuple[int, ...]] = {}
    for line in steps.avoided:
        fields = dict(line.fields)
        avoided[(fields["category"], fields["subcategory"])] = line.reasons
    advised = {dict(line.fields)["key"]: line.reasons for line in steps.advisories}
    notes: list[str] = []
    for suggest in rule.then.suggest:
        category = suggest.category
        if (category, None) in avoided:
            notes.append(f"{category} is avoided {by(avoided[(category, None)])}")
        elif category not in shown:
            avoiders = [
                position
                for sub in suggest.subcategories
                if (category, sub) in avoided
                for position in avoided[(category, sub)]
            ]
            notes.append(
                f"the drug classes it suggests for {category} are all avoided {by(avoiders)}"
            )
        else:
            notes.append(f"{category} is suggested {by(shown[category].reasons)} as well")
    for category in rule.then.flag:
        if category not in shown:
            notes.append(f"its flag on {category} has nothing to flag")
        else:
            notes.append(f"{category} is flagged {by(shown[category].flag_reasons or ())} as well")
    for avoid in rule.then.avoid:
        positions = avoided[(avoid.category, avoid.subcategory)]
        notes.append(f"{avoid.subcategory or avoid.category} is avoided {by(positions)} as well")
    for key in rule.then.advise:
        notes.append(f"advisory {key} is given {by(advised[key])} as well")
    return "; ".join(notes)


def category_sides(steps: Plan, category: str) -> tuple[Side, Side]:
    """The (category, rule id) pairs that the plan's suggestion line of ``category`` puts on
    the suppress and the stimulate side (none when it is flagged or absent). A plan's
    unresolved conflict is the union of its lines' sides when both are non-empty; a line
    depends only on the rules touching its category (see :func:`touches`)."""
    sides: dict[str, list[tuple[str, str]]] = {direction: [] for direction in OPPOSITE}
    rules = steps.rules
    for line, found in zip(steps.suggestions, steps.directions, strict=True):
        fields = dict(line.fields)
        if fields["category"] != category or fields["tier"] == "flagged":
            continue
        for direction in found:
            if direction in sides:
                sides[direction] += [(category, rules[i].id) for i in line.reasons]
    return tuple(sorted(set(sides["suppress"]))), tuple(sorted(set(sides["stimulate"])))


def unresolved_conflict(
    rules: Iterable[Rule], schema: Schema | None = None
) -> tuple[Side, Side] | None:
    """The sides of the unresolved conflict among what these fired rules leave suggested, or
    None: the same as :func:`conflict_sides` of ``resolve(...)`` when its conflict is
    unresolved, decided by the collect policy without building a result."""
    return unresolved_sides(plan(rules, schema))
