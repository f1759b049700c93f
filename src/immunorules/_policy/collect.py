"""The collect policy, written once: from the rules that fired to the lines of a result.

A DMN-style collect policy, independent of rule order: suggestions merge per category (the best
tier, the union of drug classes); avoid beats flag beats suggest (a category avoid removes the
category, class avoids remove classes, and the category too when every suggestion of it named
classes and all are avoided; a flag makes the tier ``flagged``); advisories are a union;
opposite directions among what remains are a conflict, resolved when one side is all flagged.
A profile is covered when a decisive rule fired.

:func:`collect` is the policy; everything else here reads its :class:`Plan` (the audit's
projection and conflict sides, why-not's tier of one category) or prepares its input. Nothing
here depends on a profile's values, and nothing here builds a result: that is evaluation's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Final, NamedTuple

from .._model.result import Advisory, Avoidance, Conflict, Suggestion
from .._model.rules import Rule, SuggestEffect
from .._model.schema import Schema, bundled_schema

__all__ = [
    "OPPOSITE",
    "Absorption",
    "ClassKeys",
    "EffectKey",
    "Effects",
    "Entry",
    "Line",
    "LineKeys",
    "Plan",
    "Projection",
    "Side",
    "Source",
    "SuggestionLine",
    "Tables",
    "absorption",
    "category_tier",
    "collect",
    "direction_of",
    "effect_directions",
    "effect_sources",
    "effects_of",
    "is_decisive",
    "line_directions",
    "line_keys",
    "outcome",
    "part_effects",
    "plan",
    "projection_of",
    "suggestion_directions",
    "tables",
    "unresolved_sides",
]

#: The two directions that conflict, in the order a conflict names them.
OPPOSITE: Final = ("suppress", "stimulate")

Entry = tuple[tuple[str, ...], str | None]
"""One suggestion of a category: the drug classes it names and its goal (or None)."""
SuggestionLine = tuple[str, str, tuple[str, ...], str | None, bool]
"""A suggestion without reasons: category, tier, classes, direction, flagged."""
Projection = tuple[tuple[SuggestionLine, ...], frozenset[tuple[str, str | None]], frozenset[str]]
"""A result without its reasons: its suggestions, avoided (category, class) pairs, advisories."""
Side = tuple[tuple[str, str], ...]
"""The (category, rule id) pairs behind one direction of a conflict."""


# -- directions -----------------------------------------------------------------------------------


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


def effect_directions(suggest: SuggestEffect, schema: Schema | None = None) -> frozenset[str]:
    """The directions one suggestion counts with: its goal when it states one, else its
    classes' (or its category's default)."""
    return _entry_directions(suggest.category, suggest.subcategories, suggest.goal, schema)


def _entry_directions(
    category: str, named: Iterable[str], goal: str | None, schema: Schema | None
) -> frozenset[str]:
    """The directions a suggestion of ``category`` naming the classes ``named`` with ``goal``
    counts with (what :func:`effect_directions` says of one)."""
    if goal is not None:
        return frozenset({goal})
    return suggestion_directions(category, named, schema)


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


def direction_of(directions: frozenset[str]) -> str | None:
    """A line's ``direction`` field: its one direction, ``"mixed"``, or None."""
    if not directions:
        return None
    if len(directions) == 1:
        return next(iter(directions))
    return "mixed"


# -- the policy's input: each rule's effects, and the schema's orders ----------------------------


class Effects(NamedTuple):
    """A rule's effects as plain tuples, read once per rule."""

    rule: Rule
    # category, tier, drug classes, goal
    suggest: tuple[tuple[str, str, tuple[str, ...], str | None], ...]
    flag: tuple[str, ...]
    avoid: tuple[tuple[str, str | None], ...]  # category, subcategory
    advise: tuple[str, ...]
    decisive: bool


def effects_of(rule: Rule, schema: Schema | None = None) -> Effects:
    """What :func:`collect` reads of a rule."""
    then = rule.then
    return Effects(
        rule,
        tuple((s.category, s.tier, s.subcategories, s.goal) for s in then.suggest),
        then.flag,
        tuple((a.category, a.subcategory) for a in then.avoid),
        then.advise,
        is_decisive(rule, schema),
    )


def part_effects(effects: Effects, kind: str, name: str) -> Effects:
    """``effects`` without those on other parts of a result than the category or advisory
    ``name`` (``kind``: ``"category"`` or ``"advisory"``). The policy's lines of one part
    depend on these alone: a drug class belongs to one category, and an advisory is a union,
    so :func:`collect` of them gives that part's lines as the whole set's."""
    if kind == "category":
        return effects._replace(
            suggest=tuple(s for s in effects.suggest if s[0] == name),
            flag=tuple(c for c in effects.flag if c == name),
            avoid=tuple(a for a in effects.avoid if a[0] == name),
            advise=(),
        )
    return effects._replace(
        suggest=(), flag=(), avoid=(), advise=tuple(k for k in effects.advise if k == name)
    )


class Tables(NamedTuple):
    """A schema's orders and line fields, as plain dicts (read by every :func:`collect`)."""

    schema: Schema
    category_order: dict[str, int]
    subcategory_order: dict[str, int]
    avoid_lines: dict[tuple[str, str | None], tuple[tuple[int, int], tuple[tuple[str, Any], ...]]]
    advisory_lines: dict[str, tuple[tuple[bool, str], tuple[tuple[str, Any], ...]]]


@cache
def tables(schema: Schema) -> Tables:
    """The :class:`Tables` of a schema (made once per schema)."""
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
    return Tables(schema, categories, subcategories, avoid_lines, advisory_lines)


# -- the policy -----------------------------------------------------------------------------------


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
    directions: tuple[frozenset[str], ...]  # of each suggestion line (before "mixed")


def plan(fired: Iterable[Rule], schema: Schema | None = None) -> Plan:
    """Apply the collect policy to the rules that fired (in any order)."""
    schema = schema or bundled_schema()
    effects = sorted((effects_of(rule, schema) for rule in fired), key=_by_rule_id)
    return collect(effects, tables(schema))


def collect(fired: Sequence[Effects], tables: Tables) -> Plan:
    """The collect policy, for the effects of the fired rules sorted by rule id."""
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
                continue  # avoid beats suggest
            remaining = tuple(
                sorted(subs[category] - avoided_subs, key=tables.subcategory_order.__getitem__)
            )
            if all_named[category] and not remaining:
                continue  # every class it names is avoided
            flagged = category in flaggers  # flag beats suggest
            found = line_directions(category, remaining, entries[category], tables.schema)
            directions.append(found)
            suggestions.append(
                Line(
                    Suggestion,
                    (
                        ("category", category),
                        ("tier", "flagged" if flagged else tiers[category]),
                        ("subcategories", remaining),
                        ("direction", direction_of(found)),
                        ("requires_specialist_review", flagged),
                    ),
                    tuple(suggesters[category]),
                    tuple(flaggers.get(category, ())),
                )
            )
    rules = tuple(effects.rule for effects in fired)
    avoid_lines, advisory_lines = tables.avoid_lines, tables.advisory_lines
    return Plan(
        rules=rules,
        suggestions=tuple(suggestions),
        avoided=tuple(
            Line(Avoidance, avoid_lines[pair][1], tuple(positions))
            for pair, positions in sorted(
                avoiders.items(), key=lambda item: avoid_lines[item[0]][0]
            )
        ),
        advisories=tuple(
            Line(Advisory, advisory_lines[key][1], tuple(positions))
            for key, positions in sorted(
                advisers.items(), key=lambda item: advisory_lines[item[0]][0]
            )
        ),
        conflicts=_conflicts(suggestions, directions, rules, tables) if suggestions else (),
        covered=covered,
        fired_rules=tuple(rule.id for rule in rules),
        directions=tuple(directions),
    )


def _conflicts(
    suggestions: Sequence[Line],
    directions: Sequence[frozenset[str]],
    rules: Sequence[Rule],
    tables: Tables,
) -> tuple[Conflict, ...]:
    sides: dict[str, list[dict[str, Any]]] = {direction: [] for direction in OPPOSITE}
    for line, found in zip(suggestions, directions, strict=True):
        if not (found & _OPPOSED):
            continue
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
    # Every field given and of its type by construction: no validation needed.
    return (
        Conflict.model_construct(
            categories=categories,
            directions=OPPOSITE,
            message=message,
            resolved=resolved,
            rule_ids=tuple(rule_ids),
        ),
    )


_OPPOSED: Final = frozenset(OPPOSITE)


def _by_rule_id(effects: Effects) -> str:
    return effects.rule.id


# -- readings of a plan ---------------------------------------------------------------------------


def projection_of(steps: Plan) -> Projection:
    """A plan's result without its reasons (nor its conflicts, which follow from its
    suggestions)."""
    suggestions = []
    for line in steps.suggestions:
        fields = dict(line.fields)
        suggestions.append(
            (
                fields["category"],
                fields["tier"],
                fields["subcategories"],
                fields["direction"],
                fields["requires_specialist_review"],
            )
        )
    return (
        tuple(suggestions),
        frozenset(
            (dict(line.fields)["category"], dict(line.fields)["subcategory"])
            for line in steps.avoided
        ),
        frozenset(dict(line.fields)["key"] for line in steps.advisories),
    )


def outcome(rules: Iterable[Rule], schema: Schema | None = None) -> Projection:
    """What the policy makes of these fired rules, without reasons: ``projection`` of the
    result evaluation gives for any profile on which exactly they fire."""
    return projection_of(plan(rules, schema))


def unresolved_sides(steps: Plan) -> tuple[Side, Side] | None:
    """The unflagged (category, rule id) pairs on the suppress and the stimulate side of the
    plan's conflict when it is unresolved, else None."""
    sides: dict[str, set[tuple[str, str]]] = {direction: set() for direction in OPPOSITE}
    rules = steps.rules
    for line, found in zip(steps.suggestions, steps.directions, strict=True):
        fields = dict(line.fields)
        if fields["tier"] == "flagged":
            continue
        category = fields["category"]
        for direction in found:
            if direction in sides:
                sides[direction].update((category, rules[i].id) for i in line.reasons)
    if not (sides["suppress"] and sides["stimulate"]):
        return None
    return tuple(sorted(sides["suppress"])), tuple(sorted(sides["stimulate"]))


def category_tier(fired: Sequence[Effects], category: str, tables: Tables) -> str | None:
    """The tier the policy gives ``category`` where ``fired`` fire (in any order): None when
    none of them suggests it, ``"avoided"`` when it is suggested but avoided (as a category,
    or every class its suggestions name), else the suggestion's tier (``"flagged"``,
    ``"first_line"``, ``"escalation"``)."""
    if not any(s[0] == category for effects in fired for s in effects.suggest):
        return None
    for line in collect(sorted(fired, key=_by_rule_id), tables).suggestions:
        fields = dict(line.fields)
        if fields["category"] == category:
            return str(fields["tier"])
    return "avoided"


# -- absorption: when a rule cannot change a part of the result ---------------------------------

EffectKey = tuple[str, str, str | None]
"""An effect some rule may have, as :func:`absorption` names it: ``("suggest", category, None)``,
``("first_line", category, None)`` (a first-line suggestion), ``("whole", category, None)`` (a
suggestion naming no drug class), ``("name", category, class)``, ``("flag", category, None)``,
``("avoid", category, class or None)``, ``("advise", key, None)``."""


class Absorption(NamedTuple):
    """When the rules that surely fire (``held``) leave a rule no way to change one part of the
    result, whatever else fires: ``held`` has an effect of every group of ``required``, and
    either one of ``sufficient``, or one of every group of ``then`` (``then`` None: never), or
    no rule that may fire has ``unless_alive`` (when it is not None)."""

    required: tuple[frozenset[EffectKey], ...]
    sufficient: frozenset[EffectKey]
    then: tuple[frozenset[EffectKey], ...] | None
    unless_alive: EffectKey | None


def absorption(effects: Effects, part: tuple[str, str], *, goals: bool) -> Absorption:
    """What absorbs ``effects``' contribution to ``part`` (``("category", id)`` or
    ``("advisory", key)``) under the collect policy. ``goals``: whether some suggestion of the
    category, by any rule, states a goal (the line's direction then depends on which
    suggestions merge, so a suggestion there is never absorbed). Sound, not complete."""
    kind, name = part
    if kind == "advisory":  # advisories are a union
        return Absorption((), frozenset({("advise", name, None)}), None, None)
    mine = [s for s in effects.suggest if s[0] == name]
    required: tuple[frozenset[EffectKey], ...] = tuple(
        frozenset({("avoid", category, sub)}) for category, sub in effects.avoid if category == name
    )
    avoided: frozenset[EffectKey] = frozenset(
        {("avoid", name, None)}
    )  # avoid beats flag beats suggest
    flags = name in effects.flag
    if not mine:  # only a flag left: it matters only where the category is suggested
        then = (frozenset({("flag", name, None)}),) if flags else ()
        return Absorption(required, avoided, then, ("suggest", name, None) if flags else None)
    if goals:
        return Absorption(required, avoided, None, None)
    groups: list[frozenset[EffectKey]] = [frozenset({("suggest", name, None)})]
    if flags:
        groups.append(frozenset({("flag", name, None)}))
    if any(tier == "first_line" for _, tier, _, _ in mine):  # the best tier; a flag hides it
        groups.append(frozenset({("first_line", name, None), ("flag", name, None)}))
    groups.extend(frozenset({("name", name, sub)}) for _, _, named, _ in mine for sub in named)
    if not all(named for _, _, named, _ in mine):  # the category stays when all named are avoided
        groups.append(frozenset({("whole", name, None)}))
    return Absorption(required, avoided, tuple(groups), None)


# -- what decides a line, and what can give it a direction: for the audit's prunings ------------


def _excluding(category: str) -> frozenset[EffectKey]:
    """The effects that flag a category's line or remove it (avoid beats flag beats suggest):
    with either, no suggestion of it counts on an unflagged line."""
    return frozenset({("flag", category, None), ("avoid", category, None)})


class ClassKeys(NamedTuple):
    """One drug class of a category's line, as the effects that decide it: suggestions naming
    it (``naming``), avoids of it (``avoiding``), and the direction it counts with when no
    suggestion of the category states a goal."""

    subcategory: str
    naming: EffectKey
    avoiding: EffectKey
    direction: str


class LineKeys(NamedTuple):
    """What decides one category's suggestion line under the collect policy, as effects.

    ``excluding``: a rule with one flags the line or removes it; ``suggesting``: without one
    there is no line; ``whole``: suggestions naming no class (with one the line stays when
    every named class is avoided, and counts with the category's default, or the goal, when
    no class is left); ``classes``: per drug class, what names and avoids it and its direction;
    ``uniform``: the category's default direction when every class of ``classes`` counts with
    it (a suggestion naming no class then gives the line that one direction whatever else
    merges), else None; ``goals``: whether some suggestion of the category states a goal (a
    class then counts with the goal of each suggestion naming it: ``direction`` and
    ``uniform`` do not hold there)."""

    category: str
    goals: bool
    excluding: frozenset[EffectKey]
    suggesting: frozenset[EffectKey]
    whole: frozenset[EffectKey]
    classes: tuple[ClassKeys, ...]
    uniform: str | None


def line_keys(
    category: str, classes: Iterable[str], *, goals: bool, schema: Schema | None = None
) -> LineKeys:
    """The :class:`LineKeys` of ``category``'s line, over the drug classes ``classes`` (those
    some rule names or avoids there: the others decide nothing), sorted by id. ``goals``:
    whether some suggestion of the category, by any rule, states a goal."""
    schema = schema or bundled_schema()
    found = tuple(
        ClassKeys(sub, ("name", category, sub), ("avoid", category, sub), direction)
        for sub in sorted(set(classes))
        for (direction,) in (suggestion_directions(category, (sub,), schema),)
    )
    default = schema.category_direction[category]
    uniform = default is not None and all(entry.direction == default for entry in found)
    return LineKeys(
        category,
        goals,
        _excluding(category),
        frozenset({("suggest", category, None)}),
        frozenset({("whole", category, None)}),
        found,
        default if uniform else None,
    )


class Source(NamedTuple):
    """One way a suggestion can give its category's line ``direction`` unflagged: by the drug
    class ``subcategory`` it names (None: by naming none), unless a rule that fires has an
    effect of ``shut`` (a flag or an avoid of the category, or an avoid of the class)."""

    direction: str
    subcategory: str | None
    shut: frozenset[EffectKey]


def effect_sources(suggest: SuggestEffect, schema: Schema | None = None) -> tuple[Source, ...]:
    """The :class:`Source` s of one suggestion: each class it names with the direction that
    class counts with in it (its goal, else the class's own), or, naming none, each direction
    it counts with (its goal, else the category's default), as :func:`line_directions` merges
    them. A line of the category counts with a direction unflagged only through a source of
    a suggestion that fired, none of whose ``shut`` fired."""
    category, named, goal = suggest.category, suggest.subcategories, suggest.goal
    excluding = _excluding(category)
    if not named:
        return tuple(
            Source(direction, None, excluding)
            for direction in sorted(_entry_directions(category, (), goal, schema))
        )
    return tuple(
        Source(direction, sub, excluding | {("avoid", category, sub)})
        for sub in named
        for direction in sorted(_entry_directions(category, (sub,), goal, schema))
    )
