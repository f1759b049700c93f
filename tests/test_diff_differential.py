"""Differential test of the semantic diff: on random small rule sets and random edits of them,
``ir.diff`` agrees with brute force over the reduced profile space (every profile, the fired
rules read by ``Rule.holds`` and the answer built by the production resolution): the exact count
of changed profiles, every changed profile in exactly one region, every region's example really
changed as the region says (evaluated by each knowledge base), ``diff(kb, kb)`` empty and
``diff(new, old)`` the mirror of ``diff(old, new)``.

The random rules test only ``disease_area``/``condition``, ``severity``,
``prior_lines_of_therapy`` and ``pregnant``, so each profile of the reduced space stands for
``FACTOR`` profiles of the full space (as in the audit's differential test).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules._analysis.diff import DiffAnswer, RuleSetDiff, diff
from immunorules._api.knowledge_base import KnowledgeBase
from immunorules._evaluate.resolve import resolve
from immunorules._load.loader import LoadedRules
from immunorules._model.rules import Rule
from immunorules._model.space import FlatSpace
from immunorules.testing import assert_changes_within

from .audit_support import in_region
from .bundled import SCHEMA
from .test_audit_differential import EVIDENCE, FACTOR, REDUCED, effects, whens

Projected = tuple[Any, ...]


def _kb(rules: list[Rule]) -> KnowledgeBase:
    loaded = LoadedRules(tuple(rules), EVIDENCE, (), SCHEMA, FlatSpace(SCHEMA, rules))
    return KnowledgeBase(loaded, engine="native", bundled=False)


def _rule(index: int, when: Any, then: Any) -> Rule:
    return Rule(
        id=f"R{index}", title=f"R{index}", when=when, then=then, because="x", evidence=("E",)
    )


@st.composite
def rule_sets(draw: st.DrawFn) -> tuple[KnowledgeBase, KnowledgeBase]:
    """A random rule set and a random edit of it: rules removed, rules whose conditions or
    effects change, rules added."""
    old = [_rule(i, draw(whens()), draw(effects())) for i in range(draw(st.integers(1, 5)))]
    new: list[Rule] = []
    for rule in old:
        action = draw(st.sampled_from(["keep", "keep", "drop", "when", "then"]))
        if action == "keep":
            new.append(rule)
        elif action == "when":
            new.append(rule.model_copy(update={"when": draw(whens())}))
        elif action == "then":
            new.append(rule.model_copy(update={"then": draw(effects())}))
    for index in range(draw(st.integers(0, 2))):
        new.append(_rule(10 + index, draw(whens()), draw(effects())))
    return _kb(old), _kb(new)


def _projected(result: ir.Result) -> Projected:
    conflict = "none"
    if result.conflicts:
        conflict = "resolved" if result.conflicts[0].resolved else "unresolved"
    return (
        {s.category: (s.tier, s.subcategories, s.direction) for s in result.suggestions},
        {(a.category, a.subcategory) for a in result.avoided},
        {a.key for a in result.advisories},
        conflict,
        result.covered,
    )


class _Brute:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._answers: dict[frozenset[str], Projected] = {}

    def answer(self, profile: ir.ConditionProfile) -> Projected:
        fired = frozenset(r.id for r in self.kb.active_rules if r.holds(profile))
        if fired not in self._answers:
            rules = [r for r in self.kb.active_rules if r.id in fired]
            self._answers[fired] = _projected(resolve(profile, rules, self.kb.info))
        return self._answers[fired]


def _shows(result: ir.Result, side: DiffAnswer) -> None:
    """``result`` says what ``side`` says of the parts that changed."""
    suggestions, avoided, advisories, conflict, covered = _projected(result)
    for category, line in side.suggestions.items():
        if line is None:
            assert category not in suggestions
        else:
            assert suggestions[category] == (line.tier, line.subcategories, line.direction)
    own = {sub or cat for cat, sub in avoided}
    for name, avoids in side.avoided.items():
        assert (name in own) == avoids
    for key, gives in side.advisories.items():
        assert (key in advisories) == gives
    if side.conflict is not None:
        assert conflict == side.conflict
    if side.covered is not None:
        assert covered == side.covered


def _check(found: RuleSetDiff, old: KnowledgeBase, new: KnowledgeBase) -> None:
    before, after = _Brute(old), _Brute(new)
    changed = [p for p in REDUCED if before.answer(p) != after.answer(p)]
    assert found.changed_profiles == len(changed) * FACTOR
    assert sum(r.region_size for r in found.regions) == found.changed_profiles
    for profile in changed:
        hits = [r for r in found.regions if in_region(profile, r.region)]
        assert len(hits) == 1, (profile, [r.region for r in hits])
    for region in found.regions:
        example = region.example_profile
        assert in_region(example, region.region)
        old_result = old.evaluate(example.model_dump(), depends_on=False)
        new_result = new.evaluate(example.model_dump(), depends_on=False)
        assert _projected(old_result) != _projected(new_result)
        _shows(old_result, region.before)
        _shows(new_result, region.after)
        assert set(region.rule_ids.before) <= set(old_result.fired_rules)
        assert set(region.rule_ids.after) <= set(new_result.fired_rules)
        assert region.rule_ids.before or region.rule_ids.after


def _mirror(found: RuleSetDiff) -> set[Any]:
    return {
        (
            r.region_text,
            r.region_size,
            r.before.model_dump_json(),
            r.after.model_dump_json(),
            r.rule_ids.before,
            r.rule_ids.after,
        )
        for r in found.regions
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rule_sets())
def test_diff_agrees_with_brute_force(pair: tuple[KnowledgeBase, KnowledgeBase]) -> None:
    old, new = pair
    found = diff(old, new)
    _check(found, old, new)
    assert found.changed == (found.changed_profiles > 0)
    back = diff(new, old)
    assert back.changed_profiles == found.changed_profiles
    assert _mirror(back) == {
        (text, size, after, before, new_ids, old_ids)
        for text, size, before, after, old_ids, new_ids in _mirror(found)
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets())
def test_diff_of_a_rule_set_with_itself_is_empty(pair: tuple[KnowledgeBase, KnowledgeBase]) -> None:
    old, _ = pair
    found = diff(old, old)
    assert not found.changed
    assert found.changed_profiles == 0
    assert found.regions == ()
    assert not (found.rules_added or found.rules_removed or found.rules_edited)


REGIONS: list[tuple[Any, Any]] = [
    ({"condition": "melanoma"}, lambda p: p.condition == "melanoma"),
    ({"severity": ["mild", "moderate"]}, lambda p: p.severity in ("mild", "moderate")),
    (
        {"disease_area": "autoimmune", "pregnant": True},
        lambda p: p.disease_area == "autoimmune" and p.pregnant is True,
    ),
    (
        [{"condition": "melanoma"}, {"prior_lines_of_therapy": {"min": 2}}],
        lambda p: p.condition == "melanoma" or (p.prior_lines_of_therapy or 0) >= 2,
    ),
]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rule_sets(), st.sampled_from(range(len(REGIONS))))
def test_changes_within_a_region_agree_with_brute_force(
    pair: tuple[KnowledgeBase, KnowledgeBase], which: int
) -> None:
    old, new = pair
    region, inside = REGIONS[which]
    before, after = _Brute(old), _Brute(new)
    outside = [p for p in REDUCED if not inside(p) and before.answer(p) != after.answer(p)]
    found = diff(old, new, within=region)
    assert found.changed_profiles == len(outside) * FACTOR
    for profile in outside:
        assert sum(in_region(profile, r.region) for r in found.regions) == 1
    if outside:
        try:
            assert_changes_within(old, new, region)
        except AssertionError as failure:
            assert "outside the allowed region" in str(failure)
        else:  # pragma: no cover - the assertion must fail
            raise AssertionError("assert_changes_within passed with changes outside the region")
    else:
        assert assert_changes_within(old, new, region) == diff(old, new)
