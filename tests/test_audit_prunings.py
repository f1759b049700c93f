"""The audit's prunings are sound against the collect policy itself.

The conflict search and the masked-rule search cut and narrow branches of the profile space by
bit operations over the rules (:class:`_ConflictJudge` ``settled`` and ``narrow``,
:class:`_Effects` ``sourceless`` and ``absorbed``). Each answers for a branch where the rules
of ``held`` fire on all of it and those of ``pending`` may: so for *every* fired set ``F`` with
``held`` ⊆ ``F`` ⊆ ``held | pending`` its claim must hold of :func:`collect` of ``F``. On random
small rule sets (suggestions with goals, classes of both directions in one category, flags,
avoids of a class and of a whole category, repeated effects; under the bundled schema and one
where a class does not count with its category's default direction) every disjoint
``held``/``pending`` pair and every ``F`` between them is checked, and so is every small set of
single-effect rules, so a pruning that claims too much fails here directly, not only through a
whole audit's findings.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immunorules._analysis.audit import _ConflictJudge, _Effects
from immunorules._analysis.audit_semantics import keys, part
from immunorules._analysis.space import CompiledRule, ProfileSpace
from immunorules._model.rules import AvoidEffect, Effects, Rule, SuggestEffect
from immunorules._model.schema import Schema
from immunorules._model.space import FlatSpace
from immunorules._model.vocabulary import bundled_vocabulary
from immunorules._policy import OPPOSITE, collect, effects_of, projection_of, tables

from .bundled import SCHEMA
from .test_audit_differential import ADVICE, AVOIDS, FLAGS, SUGGESTIONS, _subset

_T = TypeVar("_T")
CATEGORIES = tuple(SCHEMA.categories)
#: Every direction a line can count with here (the audit asks only the opposite two).
DIRECTIONS = (*OPPOSITE, "cytotoxic", "reconstitute")

# besides the differential test's: a category whose classes go both ways, named together and
# apart, its whole-category avoid, flag and goal-less classless suggestion, and avoids of both
# of its classes; a classless suggestion with a goal; JAK inhibitors alone
MORE_SUGGESTIONS = [
    SuggestEffect(
        category="biologic_therapies",
        tier="escalation",
        subcategories=("bispecific_t_cell_engagers",),
    ),
    SuggestEffect(
        category="biologic_therapies",
        tier="first_line",
        subcategories=("tnf_inhibitors", "bispecific_t_cell_engagers"),
    ),
    SuggestEffect(
        category="biologic_therapies",
        tier="escalation",
        subcategories=("bispecific_t_cell_engagers",),
        goal="suppress",
    ),
    SuggestEffect(category="cellular_therapies", tier="first_line", goal="reconstitute"),
    # a class that counts against its category's default under MIXED
    SuggestEffect(
        category="immunosuppressants", tier="escalation", subcategories=("jak_inhibitors",)
    ),
    SuggestEffect(category="cellular_therapies", tier="escalation", subcategories=("car_t_cells",)),
]
MORE_AVOIDS = [
    AvoidEffect(category="biologic_therapies"),
    AvoidEffect(category="biologic_therapies", subcategory="bispecific_t_cell_engagers"),
    AvoidEffect(category="immunostimulants", subcategory="checkpoint_inhibitors"),
    AvoidEffect(category="immunosuppressants"),
]
MORE_FLAGS = ["biologic_therapies", "cellular_therapies"]


def _mixed() -> Schema:
    """The bundled schema with JAK inhibitors stimulating: a category whose default direction
    (suppress) some of its classes do not count with."""
    vocabulary = bundled_vocabulary()
    subcategories = tuple(
        sub.model_copy(update={"direction": "stimulate"}) if sub.id == "jak_inhibitors" else sub
        for sub in vocabulary.subcategories
    )
    return Schema(vocabulary.model_copy(update={"subcategories": subcategories}))


MIXED = _mixed()
SCHEMAS = st.sampled_from([SCHEMA, MIXED])

ALL_SUGGESTIONS = [*SUGGESTIONS, *MORE_SUGGESTIONS]
ALL_AVOIDS = [*AVOIDS, *MORE_AVOIDS]
ALL_FLAGS = [*FLAGS, *MORE_FLAGS]


def _pool(items: Sequence[_T], most: int) -> st.SearchStrategy[list[_T]]:
    """Up to ``most`` of ``items`` (none when there are none)."""
    if not items:
        return st.just([])
    return st.lists(st.sampled_from(items), min_size=1, max_size=most, unique=True)


@st.composite
def effects(
    draw: st.DrawFn,
    suggestions: Sequence[SuggestEffect],
    flags: Sequence[str],
    avoids: Sequence[AvoidEffect],
) -> Effects:
    """A rule's effects, from these: a few suggestions, maybe a flag, avoids, an advisory."""
    found = Effects(
        suggest=tuple(draw(_subset(suggestions))),
        flag=tuple(draw(_subset(flags, 1) if flags else st.just([]))),
        avoid=tuple(draw(_subset(avoids, 2) if avoids else st.just([]))),
        advise=tuple(draw(_subset(ADVICE, 1))),
    )
    if not (found.suggest or found.flag or found.avoid or found.advise):
        return Effects(suggest=(draw(st.sampled_from(suggestions)),))
    return found


@st.composite
def rule_sets(draw: st.DrawFn) -> list[Rule]:
    """Up to six rules firing everywhere (the prunings read effects only), sometimes with the
    effects of an earlier one again. Their effects come from a few drawn for the whole set,
    on one or two categories, so that they meet: the same class suggested and avoided, a
    category flagged and suggested, suggestions merging."""
    focus = set(draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2)))
    suggestions = draw(_pool([s for s in ALL_SUGGESTIONS if s.category in focus], 4))
    flags = draw(_pool([f for f in ALL_FLAGS if f in focus], 2))
    avoids = draw(_pool([a for a in ALL_AVOIDS if a.category in focus], 3))
    if not suggestions:
        suggestions = [draw(st.sampled_from(ALL_SUGGESTIONS))]
    rules: list[Rule] = []
    for index in range(draw(st.integers(1, 6))):
        if rules and draw(st.integers(0, 4)) == 0:
            then = draw(st.sampled_from(rules)).then
        else:
            then = draw(effects(suggestions, flags, avoids))
        rules.append(
            Rule(id=f"R{index}", title="x", when={}, then=then, because="x", evidence=("E",))
        )
    return rules


def compiled(rules: Sequence[Rule], schema: Schema) -> list[CompiledRule]:
    space = ProfileSpace(FlatSpace(schema, rules))
    found = [space.compile_rule(rule) for rule in rules]
    assert all(c.box is not None for c in found)
    return found


LineState = dict[str, tuple[bool, frozenset[str]]]
"""Per category with a line: whether it is flagged, and the directions it counts with."""


def lines(rules: Sequence[Rule], fired: int, schema: Schema) -> LineState:
    """What :func:`collect` makes of the rules in ``fired`` (a bitset), line by line."""
    chosen = sorted(
        (effects_of(rules[i], schema) for i in range(len(rules)) if fired >> i & 1),
        key=lambda e: e.rule.id,
    )
    steps = collect(chosen, tables(schema))
    found: LineState = {}
    for line, directions in zip(steps.suggestions, steps.directions, strict=True):
        fields = dict(line.fields)
        found[fields["category"]] = (fields["tier"] == "flagged", directions)
    return found


def branches(count: int) -> Iterator[tuple[int, int]]:
    """Every disjoint (held, pending) pair of bitsets over ``count`` rules."""
    for roles in itertools.product((0, 1, 2), repeat=count):
        held = sum(1 << i for i, role in enumerate(roles) if role == 1)
        pending = sum(1 << i for i, role in enumerate(roles) if role == 2)
        yield held, pending


def between(held: int, pending: int) -> Iterator[int]:
    """Every fired set F with held ⊆ F ⊆ held | pending."""
    chosen = [1 << i for i in range(pending.bit_length()) if pending >> i & 1]
    for picks in itertools.product((False, True), repeat=len(chosen)):
        yield held | sum(bit for bit, pick in zip(chosen, picks, strict=True) if pick)


def unflagged(state: LineState, direction: str) -> set[str]:
    """The categories whose line is there, unflagged, counting with ``direction``."""
    return {c for c, (flagged, found) in state.items() if not flagged and direction in found}


def judge_of(rules: Sequence[Rule], schema: Schema) -> tuple[_Effects, _ConflictJudge]:
    live = compiled(rules, schema)
    effects = _Effects(live, schema)
    return effects, _ConflictJudge(live, effects, CATEGORIES, schema)


# -- the checks (each returns how often the pruning claimed something, to show it is used) -------


def check_settled(rules: Sequence[Rule], schema: Schema = SCHEMA) -> int:
    """``settled(held, pending, numbers, d)``: each line it gives is there, unflagged and
    counting with ``d`` in the policy's result of every fired set of the branch."""
    _, judge = judge_of(rules, schema)
    every = (1 << len(judge.categories)) - 1
    state = {fired: lines(rules, fired, schema) for fired in range(1 << len(rules))}
    claims = 0
    for held, pending in branches(len(rules)):
        for direction in DIRECTIONS:
            found = judge.settled(held, pending, every, direction)
            if not found:
                continue
            claims += 1
            settled = {judge.categories[n] for n in range(len(judge.categories)) if found >> n & 1}
            for fired in between(held, pending):
                missing = settled - unflagged(state[fired], direction)
                assert not missing, (held, pending, fired, direction, missing, state[fired])
    return claims


def check_sourceless(rules: Sequence[Rule], schema: Schema = SCHEMA) -> int:
    """``sourceless(categories, d)(held, pending)``: no line of ``categories`` counts with
    ``d`` unflagged in the policy's result of any fired set of the branch."""
    effects, _ = judge_of(rules, schema)
    state = {fired: lines(rules, fired, schema) for fired in range(1 << len(rules))}
    groups = [
        group
        for size in range(1, len(CATEGORIES) + 1)
        for group in itertools.combinations(CATEGORIES, size)
    ]
    prunes = {
        (group, direction): effects.sourceless(group, direction)
        for group in groups
        for direction in DIRECTIONS
    }
    claims = 0
    for held, pending in branches(len(rules)):
        reached: dict[str, set[str]] = {direction: set() for direction in DIRECTIONS}
        for fired in between(held, pending):
            for direction in DIRECTIONS:
                reached[direction] |= unflagged(state[fired], direction)
        for (group, direction), sourceless in prunes.items():
            if sourceless(held, pending):
                claims += 1
                assert not reached[direction] & set(group), (held, pending, group, direction)
    return claims


def check_narrow(rules: Sequence[Rule], schema: Schema = SCHEMA) -> int:
    """``narrow(held, pending)``: leaving out of any fired set of the branch the pending rules
    it did not keep changes no category's unflagged line (whether it is there unflagged, and
    its directions: all that decides a conflict's sides). Not whether a line is there at all:
    a line flagged or removed by a rule of ``held`` is on no side, so narrow drops the rules
    that suggest or avoid it, which may turn a flagged line into none or back."""
    _, judge = judge_of(rules, schema)
    state = {fired: lines(rules, fired, schema) for fired in range(1 << len(rules))}
    claims = 0
    for held, pending in branches(len(rules)):
        dropped = pending & ~judge.narrow(held, pending)
        if not dropped:
            continue
        claims += 1
        for fired in between(held, pending):
            before, after = state[fired], state[fired & ~dropped]
            assert unflagged_lines(after) == unflagged_lines(before), (held, pending, fired)
    return claims


def unflagged_lines(state: LineState) -> dict[str, frozenset[str]]:
    """The unflagged lines and their directions (all that decides a conflict's sides)."""
    return {c: found for c, (flagged, found) in state.items() if not flagged}


def check_absorbed(rules: Sequence[Rule], schema: Schema = SCHEMA) -> int:
    """``absorbed(rule, key)(held, pending)`` (``rule`` in neither): adding the rule to any
    fired set of the branch leaves that part of the policy's result as it was."""
    effects, _ = judge_of(rules, schema)
    projected = {}
    for fired in range(1 << len(rules)):
        chosen = sorted(
            (effects_of(rules[i], schema) for i in range(len(rules)) if fired >> i & 1),
            key=lambda e: e.rule.id,
        )
        projected[fired] = projection_of(collect(chosen, tables(schema)))
    claims = 0
    for i, rule in enumerate(rules):
        bit = 1 << i
        for key in sorted(keys(rule)):
            absorbed = effects.absorbed(rule, key)
            for held, pending in branches(len(rules)):
                if (held | pending) & bit or not absorbed(held, pending):
                    continue
                claims += 1
                for fired in between(held, pending):
                    before, after = projected[fired], projected[fired | bit]
                    assert part(after, key) == part(before, key), (rule.id, key, held, fired)
    return claims


# -- the properties -------------------------------------------------------------------------------

PROPERTY = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(rule_sets(), SCHEMAS)
def test_a_settled_line_is_there_unflagged_with_its_direction(
    rules: list[Rule], schema: Schema
) -> None:
    check_settled(rules, schema)


@PROPERTY
@given(rule_sets(), SCHEMAS)
def test_a_sourceless_direction_is_on_no_unflagged_line(rules: list[Rule], schema: Schema) -> None:
    check_sourceless(rules, schema)


@PROPERTY
@given(rule_sets(), SCHEMAS)
def test_the_rules_narrow_drops_change_no_line(rules: list[Rule], schema: Schema) -> None:
    check_narrow(rules, schema)


@PROPERTY
@given(rule_sets(), SCHEMAS)
def test_an_absorbed_rule_changes_nothing_of_its_part(rules: list[Rule], schema: Schema) -> None:
    check_absorbed(rules, schema)


#: Every single effect of the random rule sets, as a rule's only effect, with its category.
ATOMS = [
    *((s.category, Effects(suggest=(s,))) for s in ALL_SUGGESTIONS),
    *((category, Effects(flag=(category,))) for category in ALL_FLAGS),
    *((a.category, Effects(avoid=(a,))) for a in ALL_AVOIDS),
]


def _small_sets() -> Iterator[list[Effects]]:
    """Every set of one or two single-effect rules, and of three on one category (the random
    sets rarely meet a given few effects)."""
    for size in (1, 2):
        for chosen in itertools.combinations_with_replacement(ATOMS, size):
            yield [then for _, then in chosen]
    for category in CATEGORIES:
        mine = [then for of, then in ATOMS if of == category]
        for triple in itertools.combinations_with_replacement(mine, 3):
            yield list(triple)


@pytest.mark.parametrize("schema", [SCHEMA, MIXED], ids=["bundled", "mixed"])
def test_every_small_set_of_single_effects(schema: Schema) -> None:
    """The same properties on every small set of rules with one effect each."""
    for chosen in _small_sets():
        rules = [
            Rule(id=f"R{i}", title="x", when={}, then=then, because="x", evidence=("E",))
            for i, then in enumerate(chosen)
        ]
        check_settled(rules, schema)
        check_sourceless(rules, schema)
        check_narrow(rules, schema)
        check_absorbed(rules, schema)


# -- and none of them is vacuous ---------------------------------------------------------------


def _rule(index: int, **then: object) -> Rule:
    return Rule(
        id=f"R{index}",
        title="x",
        when={},
        then=Effects.model_validate(then),
        because="x",
        evidence=("E",),
    )


#: A class of each direction in one category and the other category's default; a flag, class
#: and category avoids; a suggestion with a goal.
FIXED = [
    _rule(0, suggest=[MORE_SUGGESTIONS[1]]),
    _rule(1, suggest=[SUGGESTIONS[0]], flag=["immunostimulants"]),
    _rule(2, suggest=[SUGGESTIONS[3], MORE_SUGGESTIONS[0]]),
    _rule(3, avoid=[AVOIDS[2]], flag=["biologic_therapies"]),
    _rule(4, suggest=[SUGGESTIONS[8]], avoid=[MORE_AVOIDS[3]]),
]


def test_each_pruning_claims_something_on_a_fixed_rule_set() -> None:
    """The properties above check what a pruning claims: on this rule set each claims often,
    so none of them holds by never claiming anything."""
    for schema in (SCHEMA, MIXED):
        assert check_settled(FIXED, schema) > 0
        assert check_sourceless(FIXED, schema) > 0
        assert check_narrow(FIXED, schema) > 0
        assert check_absorbed(FIXED, schema) > 0
