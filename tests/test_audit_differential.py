"""Differential test of the audit: on random small rule sets over a few fields, the exact audit
agrees with brute-force enumeration of the reduced profile space (gaps, unresolved conflicts,
dead, redundant and masked rules), and every example it gives shows what it claims.

The random rules test only ``disease_area``/``condition``, ``severity``,
``prior_lines_of_therapy`` and ``pregnant`` (each possibly not stated), so every other field is
irrelevant: each profile of the reduced space stands for ``FACTOR`` profiles of the full space.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules._analysis.audit import _ConflictJudge, _Effects
from immunorules._analysis.audit_semantics import (
    conflict_sides,
    projection,
    unresolved_conflict,
)
from immunorules._analysis.space import ProfileSpace, size
from immunorules._api.knowledge_base import KnowledgeBase
from immunorules._evaluate.resolve import resolve
from immunorules._load.loader import LoadedRules
from immunorules._model.matching import Scalar
from immunorules._model.rules import AvoidEffect, Effects, Evidence, Rule, SuggestEffect
from immunorules._model.space import FlatSpace
from immunorules._policy import outcome

from .audit_support import assert_example_shows, in_region
from .bundled import CONDITION_AREA, DISEASE_AREAS, FULL, SCHEMA

SEVERITIES: tuple[str | None, ...] = (None, "mild", "moderate", "severe")
PAIRS = [(area, None) for area in DISEASE_AREAS] + [(a, c) for c, a in CONDITION_AREA.items()]
REDUCED = [
    ir.ConditionProfile(
        immune_activity="balanced",
        disease_area=area,
        condition=condition,
        severity=severity,
        prior_lines_of_therapy=lines,
        pregnant=pregnant,
    )
    for (area, condition), severity, lines, pregnant in itertools.product(
        PAIRS, SEVERITIES, (None, *range(21)), (None, False, True)
    )
]
FACTOR = size(FULL) // len(REDUCED)
EVIDENCE = {"E": Evidence(key="E", citation="Differential test")}

# -- random rules -------------------------------------------------------------------------------

SUGGESTIONS = [
    SuggestEffect(category="immunosuppressants", tier="first_line"),
    SuggestEffect(
        category="immunosuppressants", tier="escalation", subcategories=("corticosteroids",)
    ),
    SuggestEffect(
        category="immunosuppressants",
        tier="first_line",
        subcategories=("corticosteroids", "jak_inhibitors"),
    ),
    SuggestEffect(category="immunostimulants", tier="escalation"),
    SuggestEffect(
        category="immunostimulants", tier="first_line", subcategories=("checkpoint_inhibitors",)
    ),
    SuggestEffect(
        category="biologic_therapies", tier="first_line", subcategories=("tnf_inhibitors",)
    ),
    SuggestEffect(category="biologic_therapies", tier="escalation"),
    # goals override the classes' directions (an anti-CD20 antibody against a tumour, a
    # checkpoint inhibitor read as suppressing, a classless suggestion with a goal)
    SuggestEffect(
        category="biologic_therapies",
        tier="first_line",
        subcategories=("anti_cd20_antibodies",),
        goal="cytotoxic",
    ),
    SuggestEffect(
        category="immunostimulants",
        tier="escalation",
        subcategories=("checkpoint_inhibitors",),
        goal="suppress",
    ),
    SuggestEffect(category="biologic_therapies", tier="escalation", goal="stimulate"),
    SuggestEffect(
        category="immunosuppressants",
        tier="first_line",
        subcategories=("corticosteroids",),
        goal="cytotoxic",
    ),
]
AVOIDS = [
    AvoidEffect(category="immunostimulants"),
    AvoidEffect(category="immunosuppressants", subcategory="corticosteroids"),
    AvoidEffect(category="biologic_therapies", subcategory="tnf_inhibitors"),
]
FLAGS = ["immunosuppressants", "immunostimulants"]
ADVICE = ["multidisciplinary_review", "pml_risk"]


def _subset(items: Sequence[object], max_size: int = 2) -> st.SearchStrategy[list[object]]:
    return st.lists(st.sampled_from(items), max_size=max_size, unique=True)


@st.composite
def whens(draw: st.DrawFn) -> dict[str, frozenset[Scalar]]:
    when: dict[str, frozenset[Scalar]] = {}
    if draw(st.booleans()):
        conditions = [None, "melanoma", "rheumatoid_arthritis", "psoriasis"]
        when["condition"] = frozenset(draw(st.lists(st.sampled_from(conditions), min_size=1)))
    if draw(st.booleans()):
        areas = ["oncology", "autoimmune", "allergic"]
        when["disease_area"] = frozenset(draw(st.lists(st.sampled_from(areas), min_size=1)))
    if draw(st.booleans()):
        when["severity"] = frozenset(draw(st.lists(st.sampled_from(SEVERITIES), min_size=1)))
    if draw(st.booleans()):
        low = draw(st.integers(0, 3))
        high = draw(st.sampled_from([low, low + 1, 3, 20]))
        unstated: set[Scalar] = {None} if draw(st.booleans()) else set()  # or_not_stated
        when["prior_lines_of_therapy"] = frozenset({*range(low, max(low, high) + 1), *unstated})
    if draw(st.booleans()):
        when["pregnant"] = frozenset({draw(st.sampled_from([True, False, None]))})
    return when


@st.composite
def effects(draw: st.DrawFn) -> Effects:
    found = Effects(
        suggest=tuple(draw(_subset(SUGGESTIONS))),
        flag=tuple(draw(_subset(FLAGS, 1))),
        avoid=tuple(draw(_subset(AVOIDS, 1))),
        advise=tuple(draw(_subset(ADVICE, 1))),
    )
    if not (found.suggest or found.flag or found.avoid or found.advise):
        return Effects(suggest=(draw(st.sampled_from(SUGGESTIONS)),))
    return found


@st.composite
def knowledge_bases(draw: st.DrawFn) -> KnowledgeBase:
    rules: list[Rule] = []
    for index in range(draw(st.integers(1, 5))):
        if rules and draw(st.integers(0, 5)) == 0:  # sometimes a copy, or a narrower copy
            base = draw(st.sampled_from(rules))
            when = dict(base.when)
            if draw(st.booleans()):
                when["pregnant"] = frozenset({True})
            then = base.then
        else:
            when, then = draw(whens()), draw(effects())
        rules.append(
            Rule(
                id=f"R{index}",
                title=f"R{index}",
                when=when,
                then=then,
                because="x",
                evidence=("E",),
            )
        )
    loaded = LoadedRules(tuple(rules), EVIDENCE, (), SCHEMA, FlatSpace(SCHEMA, rules))
    return KnowledgeBase(loaded, engine="native", bundled=False)


# -- brute force --------------------------------------------------------------------------------


class BruteForce:
    """Every question of the audit answered by evaluating each profile of the reduced space."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.rules = kb.active_rules
        self.fired = [frozenset(r.id for r in self.rules if r.holds(p)) for p in REDUCED]
        self._results: dict[frozenset[str], ir.Result] = {}

    def result(self, index: int, without: str | None = None) -> ir.Result:
        fired = self.fired[index] - {without}
        if fired not in self._results:
            rules = [r for r in self.rules if r.id in fired]
            self._results[fired] = resolve(REDUCED[index], rules, self.kb.info)
        return self._results[fired]

    def fires(self, rule_id: str) -> set[int]:
        return {i for i, fired in enumerate(self.fired) if rule_id in fired}

    def uncovered(self) -> set[int]:
        return {i for i in range(len(REDUCED)) if not self.result(i).covered}

    def unresolved(self) -> set[int]:
        return {
            i for i in range(len(REDUCED)) if any(not c.resolved for c in self.result(i).conflicts)
        }

    def dead(self) -> set[str]:
        return {r.id for r in self.rules if not self.fires(r.id)}

    def redundant(self) -> set[str]:
        live = [r for r in self.rules if r.id not in self.dead()]
        return {
            narrow.id
            for narrow in live
            for wide in live
            if wide.id != narrow.id
            and self.fires(narrow.id) <= self.fires(wide.id)
            and _has_effects_of(wide.then, narrow.then)
        }

    def masked(self) -> set[str]:
        skip = self.dead() | self.redundant()
        return {
            r.id
            for r in self.rules
            if r.id not in skip
            and all(
                projection(self.result(i)) == projection(self.result(i, without=r.id))
                for i in self.fires(r.id)
            )
        }


def _has_effects_of(wide: Effects, narrow: Effects) -> bool:
    """SPEC §8: same categories at the same or a better tier with a superset of drug classes
    (a suggestion naming none means the whole category), and a superset of flags, avoids and
    advisories."""
    rank = {"escalation": 0, "first_line": 1}

    def covers(w: SuggestEffect, n: SuggestEffect) -> bool:
        classes = (
            set(n.subcategories) <= set(w.subcategories) if n.subcategories else not w.subcategories
        )
        same_goal = w.goal == n.goal
        return w.category == n.category and rank[w.tier] >= rank[n.tier] and classes and same_goal

    return (
        all(any(covers(w, n) for w in wide.suggest) for n in narrow.suggest)
        and set(narrow.flag) <= set(wide.flag)
        and set(narrow.avoid) <= set(wide.avoid)
        and set(narrow.advise) <= set(wide.advise)
    )


def _inside(finding: ir.Finding) -> set[int]:
    """The reduced profiles in the union of the finding's regions (which must not overlap)."""
    inside = set()
    for index, profile in enumerate(REDUCED):
        hits = sum(in_region(profile, region) for region in finding.regions)
        assert hits <= 1, "the regions of one finding must not overlap"
        if hits:
            inside.add(index)
    return inside


def _covered_by_regions(findings: Sequence[ir.Finding]) -> set[int]:
    inside: set[int] = set()
    for finding in findings:
        assert finding.region == finding.regions[0]
        mine = _inside(finding)
        assert not inside & mine, "findings of one kind must not overlap"
        inside |= mine
    return inside


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(knowledge_bases())
def test_audit_agrees_with_brute_force(kb: KnowledgeBase) -> None:
    report = ir.audit(kb)
    brute = BruteForce(kb)

    gaps = report.filter(kind="gap")
    uncovered = brute.uncovered()
    assert _covered_by_regions(gaps) == uncovered
    assert sum(g.region_size or 0 for g in gaps) == len(uncovered) * FACTOR

    # one conflict finding per cause (a rule on one side): a profile where several rules
    # conflict may be in more than one finding
    conflicts = report.filter(kind="unresolved_conflict")
    unresolved = brute.unresolved()
    assert set().union(*(_inside(c) for c in conflicts)) == unresolved

    assert {f.rule_ids[0] for f in report.filter(kind="dead_rule")} == brute.dead()
    found_redundant: set[str] = set()
    for finding in report.filter(kind="redundant_rule"):
        identical = finding.message.startswith("Identical")
        found_redundant.update(finding.rule_ids if identical else finding.rule_ids[:1])
    assert found_redundant == brute.redundant()
    assert {f.rule_ids[0] for f in report.filter(kind="masked_rule")} == brute.masked()
    cases = [case.profile for rule in kb.active_rules for case in rule.tests]
    fired = {rule_id for profile in cases for rule_id in kb.evaluate(profile).fired_rules}
    untested = {rule.id for rule in kb.active_rules} - fired
    assert {f.rule_ids[0] for f in report.filter(kind="untested_rule")} == untested

    for finding in report.findings:
        assert_example_shows(kb, finding)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(knowledge_bases())
def test_grouped_findings_agree_with_brute_force(kb: KnowledgeBase) -> None:
    """One conflict finding per cause: a rule (the first of its ``rule_ids``) on one side of
    unresolved conflicts, about exactly the profiles where brute force finds it on that side of
    one, naming after it every other rule on the other side there; its regions' union, its
    size and an example inside it. Together they hold every conflicting profile. A masked or
    redundant rule's finding is about exactly the profiles where the rule fires."""
    report = ir.audit(kb)
    brute = BruteForce(kb)
    sides_at: dict[int, tuple[set[str], set[str]]] = {}
    for index in brute.unresolved():
        result = brute.result(index)
        fired = [rule for rule in kb.active_rules if rule.id in brute.fired[index]]
        suppressing, stimulating = conflict_sides(result, fired)
        sides_at[index] = ({r for _, r in suppressing}, {r for _, r in stimulating})

    conflicts = report.filter(kind="unresolved_conflict")
    causes: set[str] = set()
    for finding in conflicts:
        inside = _inside(finding)
        assert finding.region_size == len(inside) * FACTOR
        assert finding.example_profile is not None
        assert in_region(finding.example_profile, finding.regions[0])
        cause, *others = finding.rule_ids
        assert cause not in causes, "one finding per cause"
        causes.add(cause)
        assert others == sorted(others)
        agrees = []
        for side in (0, 1):  # the cause on the suppress side, or on the stimulate side
            where = {index for index, sides in sides_at.items() if cause in sides[side]}
            against: set[str] = set().union(*(sides_at[index][1 - side] for index in where))
            agrees.append(where == inside and against - {cause} == set(others))
        assert any(agrees), (finding.rule_ids, finding.message)
    assert set().union(*(_inside(c) for c in conflicts)) == set(sides_at)

    for finding in report.filter(kind=["masked_rule", "redundant_rule"]):
        inside = _inside(finding)
        assert inside == brute.fires(finding.rule_ids[0])
        assert finding.region_size == len(inside) * FACTOR


@settings(deadline=None, max_examples=200)
@given(knowledge_bases(), st.data())
def test_fast_conflict_check_agrees_with_resolve(kb: KnowledgeBase, data: st.DataObject) -> None:
    """The audit decides conflicts without building results; on any set of fired rules it
    must say what the production resolve() says."""
    rules = kb.active_rules
    chosen = data.draw(st.sets(st.integers(0, len(rules) - 1)))
    fired = [rules[index] for index in sorted(chosen)]
    result = resolve(REDUCED[0], fired, kb.info)
    unresolved = any(not conflict.resolved for conflict in result.conflicts)
    assert unresolved_conflict(fired) == (conflict_sides(result, fired) if unresolved else None)


@settings(deadline=None, max_examples=200)
@given(knowledge_bases(), st.data())
def test_conflict_judged_category_by_category_agrees(
    kb: KnowledgeBase, data: st.DataObject
) -> None:
    """The audit plans each category's sides on its own, from the rules touching it only; the
    union must be the conflict of all the fired rules."""
    space = ProfileSpace(kb.space)
    live = [compiled for rule in kb.active_rules if (compiled := space.compile_rule(rule)).box]
    effects = _Effects(live, SCHEMA)
    judge = _ConflictJudge(live, effects, SCHEMA.categories, SCHEMA)
    chosen = data.draw(st.sets(st.integers(0, len(live) - 1))) if live else set()
    fired = [live[index].rule for index in sorted(chosen)]
    held = sum(1 << index for index in chosen)
    assert judge.sides(held) == unresolved_conflict(fired)
    assert judge.sides(held) == unresolved_conflict(fired)  # the same again, from the memo


@settings(deadline=None, max_examples=200)
@given(knowledge_bases(), st.data())
def test_fast_outcome_agrees_with_resolve(kb: KnowledgeBase, data: st.DataObject) -> None:
    """The collect policy's result without reasons, computed from the rules alone (what the
    masked-rule check compares, category by category, where a suggestion states a goal), must
    equal the production resolve() without its reasons."""
    rules = kb.active_rules
    chosen = data.draw(st.sets(st.integers(0, len(rules) - 1)))
    fired = [rules[index] for index in sorted(chosen)]
    assert outcome(fired) == projection(resolve(REDUCED[0], fired, kb.info))
