"""How DurableMatcher spreads rules over rulesets (split on a field, or grouped by gate), and
the rulesets a fact is asserted in: every plan against the oracle, and the bundled rules'."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules._engines import durable as _durable
from immunorules._engines.durable import DurableMatcher, durable_available
from immunorules._model.matching import Fact, RuleMatcher

from .test_durable_limits import facts, oracle, rule_matchers
from .test_durable_traps import run_python

pytestmark = pytest.mark.skipif(not durable_available(), reason="durable_rules does not import")

#: Constants that force each plan: one ruleset for every fact; every gate's groups apart; a
#: split on the cheapest field whatever it copies, without or with a refining field (whose
#: rulesets are built at the first fact of each pair of classes, 3 rules in all at most).
PLANS: dict[str, dict[str, Any]] = {
    "one ruleset": {"_RULESET_COST": 10**9, "_MAX_COPIES": 0},
    "gates apart": {"_RULESET_COST": 0, "_MAX_COPIES": 0},
    "split": {"_SPLIT_GAIN": 10**9, "_MAX_COPIES": 10**6, "_MAX_EXTRA": 10**6, "_REFINE_GAIN": 0},
    "split, refined": {
        "_SPLIT_GAIN": 10**9,
        "_MAX_COPIES": 10**6,
        "_MAX_EXTRA": 10**6,
        "_REFINE_GAIN": 10**9,
    },
    "split, refined on a budget": {
        "_SPLIT_GAIN": 10**9,
        "_MAX_COPIES": 10**6,
        "_MAX_EXTRA": 10**6,
        "_REFINE_GAIN": 10**9,
        "_MAX_REFINED": 3,
    },
}


def build(rules: list[RuleMatcher], plan: str, **limits: int) -> DurableMatcher:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**PLANS[plan], **limits}.items():
            patch.setattr(_durable, name, value)
        return DurableMatcher(rules)


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(rule_matchers(), max_size=30),
    probes=st.lists(facts(), min_size=1, max_size=8),
    plan=st.sampled_from(sorted(PLANS)),
    small=st.booleans(),
)
def test_every_plan_matches_the_oracle(
    rules: list[RuleMatcher], probes: list[Fact], plan: str, small: bool
) -> None:
    """``small``: at most 3 rules a ruleset, so that a gate or a class has several."""
    matcher = build(rules, plan, **({"_MAX_RULES": 4} if small else {}))
    for fact in probes:
        assert matcher.match(fact) == oracle(rules, fact)


def test_plans_differ_as_meant() -> None:
    rules = [
        RuleMatcher(f"R{c}{s}", (("condition", frozenset({c})), ("severity", frozenset({s}))))
        for c in "abcdef"
        for s in "xy"
    ] + [RuleMatcher("EVERYONE", ()), RuleMatcher("ANY-X", (("severity", frozenset("x")),))]
    fact = {"condition": "c", "severity": "x"}
    expected = {"Rcx", "EVERYONE", "ANY-X"}
    one, apart, split = (build(rules, plan) for plan in ("one ruleset", "gates apart", "split"))
    assert len(one._rulesets) == 1 and one._asserted == {0}
    # gates: condition (1 in 7) for R.., severity (1 in 3) for ANY-X; the first ruleset has the
    # sentinel of EVERYONE and is asserted for every fact
    assert len(apart._rulesets) == 8 and apart._asserted == {0}
    assert len(apart._payloads(fact)) == 3  # the first, condition c's, severity x's
    assert len(split._rulesets) == 7 and not split._asserted  # one per class of condition
    assert len(split._payloads(fact)) == 1
    assert one.match(fact) == apart.match(fact) == split.match(fact) == expected
    refined = build(rules, "split, refined")
    assert len(refined._rulesets) == 7 and not refined._refinements  # none built yet
    assert refined.match(fact) == expected
    # condition c and severity x: EVERYONE's sentinel, Rcx and ANY-X (not Rcy)
    (ruleset,) = refined._refinements.values()
    assert ruleset is not None and len(ruleset) == 1 and len(refined._handles) == 8
    assert refined.match({"condition": "c", "severity": "y"}) == {"EVERYONE", "Rcy"}
    assert refined.match({"condition": "c", "severity": "x"}) == expected
    assert len(refined._refinements) == 2 and len(refined._handles) == 9


def test_a_refinement_durable_cannot_build_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = [
        RuleMatcher(f"R{c}{s}", (("condition", frozenset({c})), ("severity", frozenset({s}))))
        for c in "abc"
        for s in "xy"
    ]
    matcher = build(rules, "split, refined")
    engine = pytest.importorskip("durable_rules_engine")

    class Spy:
        def __getattr__(self, name: str) -> Any:
            if name == "create_ruleset":
                raise engine.error("Could not create ruleset, error code: 101")
            return getattr(engine, name)

    monkeypatch.setattr(_durable, "durable_rules_engine", Spy())
    fact = {"condition": "a", "severity": "y"}
    assert matcher.match(fact) == matcher.match(fact) == {"Ray"}
    assert matcher._refinements == {(0, 1): None}  # the split's ruleset is used instead
    assert len(matcher._handles) == 3  # conditions a, b and c (no rule allows another)


def test_the_bundled_rules_assert_each_fact_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each fact goes to one small ruleset (the bundled rules split on a field)."""
    native, durable = ir.load_rules(engine="native"), ir.load_rules(engine="durable")
    matcher: Any = durable._matcher
    assert len(matcher._rulesets) > 10
    assert [matcher._fields[p][0] for p in matcher._refine] == ["condition", "disease_area"]
    engine = pytest.importorskip("durable_rules_engine")
    asserted: list[int] = []

    class Spy:
        def __getattr__(self, name: str) -> Any:
            if name == "assert_fact":

                def assert_fact(handle: int, text: str) -> Any:
                    asserted.append(len(json.loads(text)))
                    return engine.assert_fact(handle, text)

                return assert_fact
            return getattr(engine, name)

    monkeypatch.setattr(_durable, "durable_rules_engine", Spy())
    profiles = [
        {"condition": condition, "severity": severity}
        for condition in native.space.domains["condition"]
        if condition is not None
        for severity in ("mild", "severe")
    ]
    for profile in profiles:
        assert durable.match(profile) == native.match(profile)
    assert len(asserted) == len(profiles)


def test_refinements_built_by_eight_threads_at_once_match_the_oracle() -> None:
    """A fresh matcher of the bundled rules, eight threads, a thread switch every microsecond:
    the refined rulesets are built while other threads evaluate (in a subprocess)."""
    done = run_python(
        """
        import itertools, sys, threading
        import immunorules as ir
        from immunorules._engines.durable import DurableMatcher

        kb = ir.load_rules(engine="native")
        rules = [kb.space.matcher(rule) for rule in kb.active_rules]
        matcher = DurableMatcher(rules)
        assert matcher._refine is not None and not matcher._refinements
        facts = [
            kb.space.fact(kb.parse({"condition": c, "severity": s, "pregnant": p}))
            for c, s, p in itertools.product(
                [c for c in kb.space.domains["condition"] if c is not None],
                ("mild", "severe"),
                (True, False, None),
            )
        ]
        failures = []

        def work(offset):
            try:
                for fact in facts[offset::8] + facts[::-1]:
                    expected = {r.rule_id for r in rules if r.holds(fact)}
                    if matcher.match(fact) != expected:
                        failures.append(fact)
            except BaseException as error:
                failures.append(repr(error))

        sys.setswitchinterval(1e-6)
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        built = [r for r in matcher._refinements.values() if r is not None]
        print(len(failures), failures[:2], len(built) > 10)
        """
    )
    assert (done.returncode, done.stdout.strip()) == (0, "0 [] True"), done.stderr
