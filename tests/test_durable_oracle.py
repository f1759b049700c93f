"""DurableMatcher against the oracle, ``RuleMatcher.holds``, on random rules and facts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunorules._engines.durable import DurableMatcher, durable_available
from immunorules._model.matching import Fact, RuleMatcher, Scalar

from .bundled import FIELD_DOMAINS

pytestmark = pytest.mark.skipif(not durable_available(), reason="durable_rules does not import")

#: The bundled fields plus fields that may be not stated (None) as a v3 vocabulary has them: a
#: boolean, an integer and the flat field of a set field (None: the set is not stated).
DOMAINS: dict[str, tuple[Scalar, ...]] = {
    **FIELD_DOMAINS,
    "maybe": (None, False, True),
    "count": (None, 0, 1, 2),
    "tried[a|b]": (None, "", "a", "b", "a+b"),
}

#: Values outside every domain, chosen to trip a careless encoding: look-alikes of None, True
#: and 1, an empty string, JSON and regex metacharacters, non-ASCII and control characters.
ODD_VALUES: tuple[Scalar, ...] = (
    "None", "null", "", "1", "0", "true", "false", 1, 0, -1, 21, 10**6, True, False, None,
    'a"b', "a\\b", "$or", "sid", "ünïcode", "tab\there", "nul\x00byte", "line\nbreak", "\ud800",
)  # fmt: skip


def oracle(rules: list[RuleMatcher], fact: Fact) -> frozenset[str]:
    return frozenset(rule.rule_id for rule in rules if rule.holds(fact))


def values(name: str) -> st.SearchStrategy[Scalar]:
    """Mostly a value of the field's domain, sometimes an odd one."""
    return st.sampled_from(DOMAINS[name]) | st.sampled_from(ODD_VALUES) | st.text(max_size=3)


@st.composite
def rule_matchers(draw: st.DrawFn) -> RuleMatcher:
    fields = draw(st.sets(st.sampled_from(sorted(DOMAINS)), max_size=4))
    tests = tuple(
        (name, frozenset(draw(st.sets(values(name), max_size=6))))
        if draw(st.integers(0, 9))
        else (name, frozenset(draw(st.sets(st.sampled_from(DOMAINS[name]), min_size=1))))
        for name in sorted(fields)
    )
    return RuleMatcher(draw(st.sampled_from(["R-A", "R-B", "R-C", "R-D", "R-E", "R-F"])), tests)


@st.composite
def facts(draw: st.DrawFn) -> dict[str, Scalar]:
    fact = {name: draw(st.sampled_from(domain)) for name, domain in DOMAINS.items()}
    for name in draw(st.sets(st.sampled_from(sorted(DOMAINS)), max_size=3)):
        fact[name] = draw(values(name))
    return fact


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(rule_matchers(), max_size=8), probes=st.lists(facts(), min_size=1, max_size=6)
)
def test_durable_matches_the_oracle(rules: list[RuleMatcher], probes: list[Fact]) -> None:
    matcher = DurableMatcher(rules)
    for fact in probes:
        assert matcher.match(fact) == oracle(rules, fact)


def _rule(rule_id: str, **tests: Any) -> RuleMatcher:
    return RuleMatcher(rule_id, tuple(sorted((name, frozenset(v)) for name, v in tests.items())))


RULES = [
    _rule("NULL", condition={None}),
    _rule("NOT-NULL", condition={"ra", "psoriasis", "melanoma"}),
    _rule("TEXT-NONE", condition={"None"}),
    _rule("TRUE", hepatitis_b={True}),
    _rule("ONE", prior_lines_of_therapy={1}),
    _rule("TEXT-ONE", prior_lines_of_therapy={"1"}),
    _rule("RANGE", prior_lines_of_therapy=set(range(1, 21))),
    _rule("GAPS", prior_lines_of_therapy={0, 2, 3, 4, 9, 20}),
    _rule("EMPTY-SET", severity=set()),
    _rule("ODD", severity={'a"b', "nul\x00byte", "\ud800", ""}),
    _rule("EVERYTHING"),
    _rule("UNSTATED", maybe={None}),
    _rule("NO-OR-UNSTATED", maybe={False, None}),
    _rule("STATED-NO", maybe={False}),
    _rule("ZERO", count={0}),
    _rule("SET-UNSTATED", **{"tried[a|b]": {None}}),
    _rule("SET-EMPTY", **{"tried[a|b]": {""}}),
]


@pytest.mark.parametrize(
    "fact",
    [
        {"condition": None, "hepatitis_b": False, "prior_lines_of_therapy": 0, "severity": None},
        {"condition": "None", "hepatitis_b": True, "prior_lines_of_therapy": 1, "severity": ""},
        {"condition": "ra", "hepatitis_b": 1, "prior_lines_of_therapy": True, "severity": 'a"b'},
        {
            "condition": "",
            "hepatitis_b": "True",
            "prior_lines_of_therapy": "1",
            "severity": "\ud800",
        },
        {"condition": "melanoma", "hepatitis_b": 0, "prior_lines_of_therapy": 21, "severity": "n"},
        {"condition": 0, "hepatitis_b": None, "prior_lines_of_therapy": 2.5, "severity": "nul"},
        {"condition": "ra", "hepatitis_b": True, "prior_lines_of_therapy": 9.0, "severity": "mild"},
        {"maybe": None, "count": None, "tried[a|b]": None, "condition": None},
        {"maybe": False, "count": 0, "tried[a|b]": "", "condition": None},
        {"maybe": 0, "count": False, "tried[a|b]": "None", "condition": None},
        {"maybe": "null", "count": "0", "tried[a|b]": "null", "condition": None},
    ],
)
def test_encoding_corner_cases(fact: Fact) -> None:
    tested = {name for rule in RULES for name, _ in rule.tests}
    fact = {**dict.fromkeys(tested, None), **fact}  # every field a rule tests has a value
    assert DurableMatcher(RULES).match(fact) == oracle(RULES, fact)


def test_many_rules_with_large_value_sets() -> None:
    names = sorted(FIELD_DOMAINS)
    rules = [
        RuleMatcher(
            f"R-{index}",
            tuple(
                (name, frozenset(FIELD_DOMAINS[name][index % 3 :: 1 + index % 4]))
                for name in names[index % 5 : index % 5 + 4]
            ),
        )
        for index in range(300)
    ]
    matcher = DurableMatcher(rules)
    for index in range(40):
        fact = {name: domain[index % len(domain)] for name, domain in FIELD_DOMAINS.items()}
        assert matcher.match(fact) == oracle(rules, fact)
