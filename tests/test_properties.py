"""Properties of evaluation on the bundled knowledge base and on random rule additions."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import immunorules as ir

from .bundled import CATEGORIES, FIELD_DOMAINS, SUBCATEGORIES
from .strategies import profiles

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


@SETTINGS
@given(profile=profiles())
def test_evaluation_is_deterministic(kb: ir.KnowledgeBase, profile: ir.ConditionProfile) -> None:
    first = kb.evaluate(profile)
    assert kb.evaluate(profile) == first
    assert kb.evaluate(profile.model_dump()) == first


@SETTINGS
@given(profile=profiles())
def test_every_reason_cites_an_active_rule_that_holds(
    kb: ir.KnowledgeBase, profile: ir.ConditionProfile
) -> None:
    result = kb.evaluate(profile)
    reasons = [
        *(r for s in result.suggestions for r in (*s.reasons, *s.flag_reasons)),
        *(r for a in result.avoided for r in a.reasons),
        *(r for a in result.advisories for r in a.reasons),
    ]
    for reason in reasons:
        rule = kb.rule(reason.rule_id)
        assert rule.active and rule.holds(profile)
        assert reason.matched == {name: getattr(profile, name) for name in rule.when}
        assert reason.rule_id in result.fired_rules
    assert result.fired_rules == tuple(sorted(r.id for r in kb.active_rules if r.holds(profile)))


def _split_shuffled(kb: ir.KnowledgeBase, folder: Path, seed: int) -> None:
    """Write the knowledge base's rule files again with rules shuffled across new files."""
    rules: list[object] = []
    evidence: dict[str, object] = {}
    for name in kb.files:
        data = yaml.safe_load(Path(name).read_text(encoding="utf-8"))
        rules.extend(data.get("rules", []))
        evidence.update(data.get("evidence", {}))
    random.Random(seed).shuffle(rules)
    cut = len(rules) // 2
    (folder / "b.yaml").write_text(yaml.safe_dump({"rules": rules[:cut]}))
    (folder / "a.yaml").write_text(yaml.safe_dump({"rules": rules[cut:], "evidence": evidence}))


@pytest.fixture(scope="module")
def shuffled_kb(kb: ir.KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> ir.KnowledgeBase:
    folder = tmp_path_factory.mktemp("shuffled")
    _split_shuffled(kb, folder, seed=7)
    return ir.load_rules(folder, engine="native")


def test_shuffled_copy_has_the_same_fingerprint(
    kb: ir.KnowledgeBase, shuffled_kb: ir.KnowledgeBase
) -> None:
    assert shuffled_kb.fingerprint == kb.fingerprint


@SETTINGS
@given(profile=profiles())
def test_results_do_not_depend_on_rule_file_order(
    kb: ir.KnowledgeBase, shuffled_kb: ir.KnowledgeBase, profile: ir.ConditionProfile
) -> None:
    ours, theirs = kb.evaluate(profile), shuffled_kb.evaluate(profile)
    assert ours.model_dump(exclude={"knowledge_base"}) == theirs.model_dump(
        exclude={"knowledge_base"}
    )


@st.composite
def avoid_rules(draw: st.DrawFn) -> dict[str, object]:
    """A random avoid rule: a few random conditions, a category or drug-class avoid."""
    fields = draw(st.lists(st.sampled_from(sorted(FIELD_DOMAINS)), max_size=3, unique=True))
    when: dict[str, object] = {}
    for name in fields:
        values = [
            v for v in FIELD_DOMAINS[name] if v is not None or name in ("condition", "severity")
        ]
        when[name] = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True))
    target = draw(
        st.sampled_from(
            [{"category": c} for c in CATEGORIES] + [{"subcategory": s} for s in SUBCATEGORIES]
        )
    )
    return {
        "id": "ZZ-ADDED-AVOID",
        "title": "Added avoid",
        "when": when,
        "then": {"avoid": [target]},
        "because": "Added by a property test.",
        "evidence": [],
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(extra=avoid_rules(), profile_list=st.lists(profiles(), min_size=5, max_size=5))
def test_adding_an_avoid_rule_never_adds_a_suggestion(
    kb: ir.KnowledgeBase,
    tmp_path_factory: pytest.TempPathFactory,
    extra: dict[str, object],
    profile_list: list[ir.ConditionProfile],
) -> None:
    folder = tmp_path_factory.mktemp("avoid")
    (folder / "extra.yaml").write_text(yaml.safe_dump({"rules": [extra]}))
    bigger = ir.load_rules([ir.BUNDLED_RULES, folder], engine="native")
    for profile in profile_list:
        before = {s.category: s for s in kb.evaluate(profile).suggestions}
        after = {s.category: s for s in bigger.evaluate(profile).suggestions}
        assert set(after) <= set(before)
        for category, suggestion in after.items():
            assert set(suggestion.subcategories) <= set(before[category].subcategories)
            assert suggestion.tier == before[category].tier
