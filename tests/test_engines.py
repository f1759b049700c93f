"""The durable_rules engine against the native oracle, on random profiles and golden cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

import immunorules as ir
from immunorules._engines.durable import durable_available

from .strategies import profiles

pytestmark = pytest.mark.skipif(not durable_available(), reason="durable_rules does not import")


@pytest.fixture(scope="module")
def durable() -> ir.KnowledgeBase:
    return ir.load_rules(engine="durable")


@pytest.fixture(scope="module")
def native() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def test_auto_picks_durable_where_it_imports() -> None:
    assert ir.load_rules().engine == "durable"
    assert ir.load_rules(engine="native").engine == "native"


def test_unknown_engine_is_rejected() -> None:
    with pytest.raises(ValueError, match="engine must be"):
        ir.load_rules(engine="clips")  # type: ignore[arg-type]


@settings(max_examples=2000, deadline=None)
@given(profile=profiles())
def test_engines_agree_on_random_profiles(
    durable: ir.KnowledgeBase, native: ir.KnowledgeBase, profile: ir.ConditionProfile
) -> None:
    ours, oracle = durable.evaluate(profile), native.evaluate(profile)
    assert ours.fired_rules == oracle.fired_rules
    assert ours.model_dump(exclude={"knowledge_base"}) == oracle.model_dump(
        exclude={"knowledge_base"}
    )
    assert ours.knowledge_base.fingerprint == oracle.knowledge_base.fingerprint


def test_engines_agree_on_every_golden_case(
    durable: ir.KnowledgeBase, native: ir.KnowledgeBase
) -> None:
    cases = [case for rule in native.rules for case in rule.tests]
    assert cases, "the bundled knowledge base has golden cases"
    for case in cases:
        assert durable.evaluate(case.profile) == native.evaluate(case.profile).model_copy(
            update={"knowledge_base": durable.info}
        )
