"""durable_rules' own limits, kept out of reach: rule sets that crashed the engine, or failed in it.

Each rule set here once broke ``DurableMatcher``: heap corruption or a segfault at the first
evaluation (value lists that compiled to ``$or``), error 303 (the alpha walk's stack), errors 106,
107 and 108 at build time (rules per ruleset, ``$or`` branches and rules per node). Checks that
could crash the interpreter run in a subprocess (:func:`run_python`), so a crash fails the test.
The property tests compare random rule sets, large ones in subprocesses, with the oracle.
"""

from __future__ import annotations

import random
import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunorules._engines import durable as _durable
from immunorules._engines.durable import DurableMatcher, durable_available
from immunorules._errors import EngineError
from immunorules._model.matching import Fact, RuleMatcher, Scalar

from .test_durable_traps import run_python

pytestmark = pytest.mark.skipif(not durable_available(), reason="durable_rules does not import")

#: Shared by the subprocesses: a rule from keyword tests, the oracle, and a check that prints
#: "ok" (or the first mismatch) for a matcher over facts.
PRELUDE = """
import itertools, random, sys
from immunorules._engines.durable import DurableMatcher
from immunorules._errors import EngineError
from immunorules._model.matching import RuleMatcher

def rule(rule_id, **tests):
    return RuleMatcher(rule_id, tuple(sorted((k, frozenset(v)) for k, v in tests.items())))

def check(rules, facts):
    matcher = DurableMatcher(rules)
    for fact in facts:
        expected = frozenset(r.rule_id for r in rules if r.holds(fact))
        got = matcher.match(fact)
        if got != expected:
            print("mismatch", fact, sorted(got ^ expected)[:5])
            return matcher
    print("ok", len(getattr(matcher, "_rulesets", ())))
    return matcher

CONDITIONS = ["rheumatoid_arthritis", "psoriasis", "crohns_disease", "melanoma",
              "multiple_sclerosis", "ulcerative_colitis", "septic_shock", "severe_asthma", None]
SEVERITIES = ["mild", "moderate", "severe", None]
FACTS = [{"condition": c, "severity": s, "unrelated": 1}
         for c in CONDITIONS + ["unknown"] for s in SEVERITIES]
"""


def run_checks(code: str) -> list[str]:
    """Run ``PRELUDE`` + ``code`` in a fresh interpreter; its stdout lines (it must exit 0)."""
    done = run_python(PRELUDE + textwrap.dedent(code))
    assert done.returncode == 0, (done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    return done.stdout.split("\n")[:-1]


def oks(lines: list[str]) -> list[bool]:
    return [line.startswith("ok ") for line in lines]


# Heap corruption at the first evaluation ------------------------------------------------------


def test_non_contiguous_value_lists_after_another_value() -> None:
    """One rule on psoriasis, then 65 on [crohns_disease, rheumatoid_arthritis]: was SIGSEGV."""
    lines = run_checks(
        """
        rules = [rule("PSO", condition=["psoriasis"])]
        rules += [rule(f"L{i}", condition=["crohns_disease", "rheumatoid_arthritis"])
                  for i in range(65)]
        first = DurableMatcher(rules).match({"condition": "crohns_disease", "severity": None})
        print(len(first))
        check(rules, FACTS)
        """
    )
    assert lines[0] == "65"
    assert oks(lines[1:]) == [True]


def test_bundled_rules_with_value_lists() -> None:
    """The bundled rules plus 60 rules on a non-contiguous list: was error 303, or a crash."""
    lines = run_checks(
        """
        import immunorules
        kb = immunorules.load_rules(engine="native")
        FIELD_DOMAINS = kb.space.domains
        bundled = [kb.space.matcher(r) for r in kb.active_rules]
        extra = [rule(f"L{i}", condition=["crohns_disease", "rheumatoid_arthritis"])
                 for i in range(60)]
        rng = random.Random(3)
        facts = [{name: rng.choice(domain) for name, domain in FIELD_DOMAINS.items()}
                 for _ in range(1500)]
        for fact in facts[::3]:
            fact["condition"] = "crohns_disease"
        check(bundled + extra, facts)
        """
    )
    assert oks(lines) == [True]


# Error 303, then a segfault at delete_state --------------------------------------------------


def test_many_overlapping_value_lists() -> None:
    """120 rules, each crohns_disease and 1-5 other conditions, some with a severity list."""
    lines = run_checks(
        """
        from immunorules._model.schema import bundled_schema
        conditions = list(bundled_schema().domains["condition"])
        others = [c for c in conditions if c != "crohns_disease"]
        facts = [{"condition": c, "severity": s} for c in conditions for s in SEVERITIES]
        for seed in range(3):
            rng = random.Random(seed)
            rules = []
            for i in range(120):
                tests = {"condition": ["crohns_disease", *rng.sample(others, rng.randint(1, 5))]}
                if rng.random() < 0.5:
                    tests["severity"] = rng.sample(SEVERITIES, rng.randint(1, 3))
                rules.append(rule(f"R{i}", **tests))
            for fact in facts[4 * conditions.index("crohns_disease") :][:4]:
                DurableMatcher(rules).match(fact)  # the first fact of a fresh matcher
            check(rules, facts)
        """
    )
    assert oks(lines) == [True] * 3


# Raw errors 106, 107 and 108 at build time ---------------------------------------------------


def test_many_rules_with_the_same_conditions() -> None:
    """257 rules on psoriasis (108), 257 without tests, 150 identical value lists (107)."""
    lines = run_checks(
        """
        check([rule(f"P{i}", condition=["psoriasis"]) for i in range(257)], FACTS)
        check([rule(f"E{i}") for i in range(257)], FACTS)
        check([rule(f"L{i}", condition=["crohns_disease", "rheumatoid_arthritis"])
               for i in range(150)], FACTS)
        same = [rule("ONE", condition=["psoriasis"], severity=["mild", None])] * 300
        check(same + [rule("ONE", condition=["melanoma"])] * 300, FACTS)
        """
    )
    assert oks(lines) == [True] * 4


def test_thousands_of_small_rules() -> None:
    """5,000 and 10,000 distinct small rules: error 106 (4,096 rules per ruleset) and others."""
    lines = run_checks(
        """
        for count in (5_000, 10_000):
            rng = random.Random(count)
            rules = [
                rule(f"R{i}", condition=[CONDITIONS[i % 9]], lines=[i % 21],
                     severity=rng.sample(SEVERITIES, rng.randint(1, 3)))
                for i in range(count)
            ]
            facts = [{"condition": rng.choice(CONDITIONS), "lines": rng.randrange(22),
                      "severity": rng.choice(SEVERITIES)} for _ in range(60)]
            check(rules, facts)
        """
    )
    assert oks(lines) == [True] * 2


def test_twenty_thousand_rules() -> None:
    """20,000 distinct rules over five fields build, and match as the oracle does."""
    lines = run_checks(
        """
        rng = random.Random(20_000)
        domains = {
            "condition": [f"c{i}" for i in range(30)],
            "lines": list(range(21)),
            "flag": [True, False, None],
            "severity": SEVERITIES,
            "prior_therapy_classes[tnf_inhibitors]": [True, False],
        }
        rules = []
        for i in range(20_000):
            names = rng.sample(sorted(domains), rng.randint(1, 3))
            tests = {n: rng.sample(domains[n], rng.randint(1, len(domains[n]) // 2 + 1))
                     for n in names}
            rules.append(RuleMatcher(f"R{i}", tuple(sorted((n, frozenset(v))
                                                          for n, v in tests.items()))))
        facts = [{n: rng.choice(d) for n, d in domains.items()} for _ in range(40)]
        matcher = check(rules, facts)
        print(len(matcher._rule_ids))
        """
    )
    assert oks(lines[:1]) == [True]
    assert int(lines[1]) > 12_000  # distinct groups: the rules were not deduplicated away


# Every durable failure is an EngineError ------------------------------------------------------


def test_a_rule_too_wide_for_a_durable_fact_says_why() -> None:
    """A durable fact holds at most 254 properties: a rule may test 240 fields, not 241."""
    wide = RuleMatcher("WIDE", tuple((f"f{i:03d}", frozenset({True})) for i in range(241)))
    fact = {f"f{i:03d}": True for i in range(241)}
    narrow = RuleMatcher("NARROW", wide.tests[:240])
    assert DurableMatcher([narrow]).match(fact) == {"NARROW"}
    with pytest.raises(EngineError, match=r"'WIDE': it has 241 tests.*at most 254 properties"):
        DurableMatcher([narrow, wide])


def test_durable_errors_while_building_are_engine_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """With its rule limit lifted, 4,200 distinct rules make durable fail (error 106)."""
    engine = pytest.importorskip("durable_rules_engine")
    rules = [RuleMatcher(f"R{i}", (("a", frozenset({i // 60})), ("b", frozenset({i % 60}))))
             for i in range(4_200)]  # fmt: skip
    created: list[int] = []
    deleted: list[int] = []
    failing: list[str] = []  # an error to raise after the first ruleset

    def create(name: str, definition: str) -> int:
        if created and failing:
            raise engine.error(failing[0])
        handle: int = engine.create_ruleset(name, definition)
        created.append(handle)
        return handle

    def delete(handle: int) -> None:
        deleted.append(handle)
        engine.delete_ruleset(handle)

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return {"create_ruleset": create, "delete_ruleset": delete}.get(
                name, getattr(engine, name)
            )

    monkeypatch.setattr(_durable, "durable_rules_engine", Spy())
    # Every rule in the ruleset asserted for every fact: no ruleset for a gate, no split.
    monkeypatch.setattr(_durable, "_RULESET_COST", 10**9)
    monkeypatch.setattr(_durable, "_MAX_COPIES", 0)
    monkeypatch.setattr(_durable, "_MAX_RULES", 3_000)  # two rulesets; the second fails
    monkeypatch.setattr(_durable, "_MAX_CHILDREN", 100)
    with monkeypatch.context() as patch:
        patch.setattr(_durable, "_MAX_RULES", 5_000)  # one ruleset, too many rules for durable
        with pytest.raises(EngineError, match=r"error code: 106 \(too many rules") as caught:
            DurableMatcher(rules)
        assert isinstance(caught.value.__cause__, engine.error)
        assert created == deleted == []  # nothing was created, so nothing is left behind
    failing.append("Could not create ruleset, error code: 101")
    with pytest.raises(EngineError, match=r"ruleset 2 of 2.*error code: 101 \(out of memory\)"):
        DurableMatcher(rules)
    assert len(created) == 1
    assert deleted == created  # the ruleset that was built is deleted again


def test_durable_errors_while_evaluating_are_engine_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failed assert leaves its session (deleting it has crashed) and retires the matcher."""
    engine = pytest.importorskip("durable_rules_engine")
    rules = [RuleMatcher("RA", (("condition", frozenset({"ra"})),))]
    matcher = DurableMatcher(rules)
    deleted: list[str] = []

    class Spy:
        def __getattr__(self, name: str) -> Any:
            if name == "assert_fact":

                def fail(handle: int, payload: str) -> Any:
                    raise engine.error("Could not assert fact, error code: 303")

                return fail
            if name == "delete_state":
                return lambda handle, sid: deleted.append(sid)
            return getattr(engine, name)

    with monkeypatch.context() as patch:
        patch.setattr(_durable, "durable_rules_engine", Spy())
        with pytest.raises(EngineError, match=r"error code: 303 \(the alpha walk overflowed"):
            matcher.match({"condition": "ra"})
    assert deleted == []
    with pytest.raises(EngineError, match="no longer used"):
        matcher.match({"condition": "ra"})
    assert DurableMatcher(rules).match({"condition": "ra"}) == {"RA"}


# durable's limits, as the module docstring states them ---------------------------------------


def test_durable_limits_are_as_documented() -> None:
    """Raw durable_rules, without DurableMatcher: one step past each limit fails."""
    lines = run_checks(
        """
        import json
        import durable_rules_engine as engine

        def build(rules):
            definition = {"s": {"all": [{"m": {"$and": [{"profile": 1}]}}]}}
            for name, tests in rules.items():
                definition[name] = {"all": [{"m": {"$and": [{"profile": 1}, *tests]}}]}
            return engine.create_ruleset(f"limits{len(rules)}", json.dumps(definition))

        def run(handle, fact):
            try:
                code, state = engine.assert_fact(handle, json.dumps({"sid": "1", "profile": 1,
                                                                     **fact}))
            except engine.error as error:
                return str(error)[-3:]
            if code:
                return f"code {code}"
            count = 0
            message = engine.start_action_for_state(handle, state)
            while message:
                count += 1
                message = engine.complete_and_start_action(handle, state)
            engine.delete_state(handle, "1")
            return count

        for width in (64, 65):  # one fact matches `width` children of one node
            handle = build({f"r{i}": [{f"a{i}": 1}] for i in range(width)})
            print(width, run(handle, {f"a{i}": 1 for i in range(width)}))
        for count in (251, 252):  # properties of one fact, besides sid, id and profile
            handle = build({"r": [{f"p{count - 1}": 1}]})
            print(count, run(handle, {f"p{i}": 1 for i in range(count)}))
        for count in (4_095, 4_096):  # rules besides the sentinel
            try:
                build({f"r{i}": [{"u": i // 64}, {"v": i % 64}] for i in range(count)})
                print(count, "built")
            except engine.error as error:
                print(count, str(error)[-3:])
        """
    )
    assert lines == ["64 65", "65 303", "251 2", "252 302", "4095 built", "4096 106"]


# Property tests: random rule sets against the oracle ------------------------------------------

#: Field names durable would misread, were they used as they are; values of every scalar type.
FIELDS: dict[str, tuple[Scalar, ...]] = {
    "condition": ("ra", "psoriasis", "crohns", "melanoma", "", "None", None),
    "prior_therapy_classes[tnf_inhibitors]": (True, False, None),
    "lines": (0, 1, 2, 3, 5, 8, 13, 21, True, False),
    'odd "name"': ("1", 1, "true", True, None, "$or", "a\\b"),
    "sid": ("x", "y", "z", None),
    "a0": (0, 1, 2, "0", "1"),
}
UNNAMED: tuple[Scalar, ...] = ("unnamed", -1, 10**6, "ünïcode", "\ud800")


def oracle(rules: list[RuleMatcher], fact: Fact) -> frozenset[str]:
    return frozenset(rule.rule_id for rule in rules if rule.holds(fact))


@st.composite
def rule_matchers(draw: st.DrawFn) -> RuleMatcher:
    names = draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=4))
    tests = tuple(
        (name, frozenset(draw(st.sets(st.sampled_from(FIELDS[name]), max_size=5))))
        for name in sorted(names)
    )
    return RuleMatcher(draw(st.sampled_from([f"R-{i}" for i in range(12)])), tests)


@st.composite
def facts(draw: st.DrawFn) -> dict[str, Scalar]:
    fact = {
        name: draw(st.sampled_from(domain) | st.sampled_from(UNNAMED))
        for name, domain in FIELDS.items()
    }
    fact["not tested"] = draw(st.sampled_from(UNNAMED))
    return fact


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(rule_matchers(), max_size=40).flatmap(
        lambda rules: st.just(rules) | st.permutations(rules + rules[:5])  # duplicates
    ),
    probes=st.lists(facts(), min_size=1, max_size=8),
    limits=st.sampled_from([None, (1, 4, 1, 6), (2, 6, 2, 8), (3, 2, 3, 10)]),
)
def test_random_rule_sets_match_the_oracle(
    rules: list[RuleMatcher],
    probes: list[Fact],
    limits: tuple[int, int, int, int] | None,
) -> None:
    """Small rule sets; some with tiny limits, so that they pack into many rulesets."""
    with pytest.MonkeyPatch.context() as patch:
        if limits is not None:
            for name, value in zip(
                ("_MAX_STACK", "_MAX_CHILDREN", "_MAX_RULES", "_MAX_ATTRIBUTES"),
                (limits[0] + 1, limits[1], limits[2] + 2, limits[3] + 4),
                strict=True,
            ):
                patch.setattr(_durable, name, value)
        matcher = DurableMatcher(rules)
    for fact in probes:
        assert matcher.match(fact) == oracle(rules, fact)


def test_packs_stay_under_every_limit() -> None:
    rng = random.Random(11)
    rules = [
        RuleMatcher(
            f"R{i}",
            tuple(
                (name, frozenset(rng.sample(FIELDS[name], rng.randint(1, len(FIELDS[name])))))
                for name in sorted(rng.sample(sorted(FIELDS), rng.randint(1, 4)))
            ),
        )
        for i in range(3_000)
    ]
    compiled = _durable._Compiled(rules)
    packs = _durable._pack(compiled)
    assert sum(len(pack.groups) for pack in packs) == len(compiled.keys)

    def nodes(node: Any) -> Any:
        yield node
        for child in node.children.values():
            yield from nodes(child)

    for pack in packs:
        assert len(pack.groups) + 1 <= _durable._MAX_RULES
        assert pack.width <= _durable._MAX_ATTRIBUTES
        assert pack.root.stack <= _durable._MAX_STACK
        assert all(len(node.children) <= _durable._MAX_CHILDREN for node in nodes(pack.root))


@pytest.mark.parametrize(("count", "seed"), [(600, 1), (2_500, 2), (6_000, 3)])
def test_large_random_rule_sets_match_the_oracle(count: int, seed: int) -> None:
    """Thousands of random rules (duplicates, repeated ids, empty tests), in a subprocess."""
    lines = run_checks(
        f"""
        FIELDS = {FIELDS!r}
        UNNAMED = {UNNAMED!r}
        rng = random.Random({seed})
        names = sorted(FIELDS)
        rules = []
        for i in range({count}):
            tests = []
            for name in sorted(rng.sample(names, rng.choice([0, 1, 1, 2, 2, 3, 4]))):
                size = rng.choice([0, 1, 1, 2, 3, len(FIELDS[name]) - 1, len(FIELDS[name])])
                tests.append((name, frozenset(rng.sample(FIELDS[name], size))))
            rules.append(RuleMatcher(f"R{{rng.randrange({count} // 2)}}", tuple(tests)))
            if rng.random() < 0.05:
                rules.append(rules[rng.randrange(len(rules))])
        facts = [{{n: rng.choice(FIELDS[n] + UNNAMED) for n in names}} for _ in range(150)]
        check(rules, facts)
        """
    )
    assert oks(lines) == [True]
