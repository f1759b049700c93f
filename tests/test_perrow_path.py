"""The one-pass per-row path (``Resolver.evaluate``) gives the very results of the resolver's
path from the engine's fired rules (``Resolver.resolve``): equal, with the same fields set, the
same JSON and the same pickle; and models made without validation equal ``model_construct``'s."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules._evaluate.making import Maker
from immunorules._evaluate.resolve import Resolver
from immunorules._model.result import Dependency, Result
from immunorules.testing import profiles

from .strategies import profile_dicts

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KB = ir.load_rules(engine="native")


def _other_path(kb: ir.KnowledgeBase) -> Resolver:
    """A resolver of the same rules with cold caches, sharing the knowledge base's dependencies."""
    resolver = Resolver(
        {rule.id: rule for rule in kb.active_rules},
        kb.info,
        evidence=kb._loaded.evidence,
        schema=kb.schema,
    )
    resolver.depends = kb._resolver.depends
    return resolver


OTHER = _other_path(KB)


def _same(one: Result, other: Result, *, pickled: bool = True) -> None:
    assert one == other
    assert one.model_fields_set == other.model_fields_set
    assert one.model_dump_json() == other.model_dump_json()
    assert list(one.__dict__) == list(other.__dict__)
    if pickled:
        assert pickle.loads(pickle.dumps(one)) == other
    else:  # a profile model of its own is rebuilt on unpickling (another class, equal values)
        assert pickle.loads(pickle.dumps(one)).model_dump_json() == other.model_dump_json()


@SETTINGS
@given(profile_dicts())
def test_one_pass_gives_the_results_of_the_fired_rules(data: dict[str, Any]) -> None:
    profile = KB.parse(data)
    fired = KB._matcher.match(KB.space.fact(profile))
    for depends_on in (True, False):
        found = KB.evaluate(data, depends_on=depends_on)
        _same(found, OTHER.resolve(profile, fired, depends_on=depends_on))
        # the one pass with the engine's own fired rules (as the durable engine gives them)
        _same(found, OTHER.evaluate(profile, fired, depends_on=depends_on))


@SETTINGS
@given(profile_dicts(), st.data())
def test_another_engines_fired_rules_decide_even_where_the_frame_is_kept(
    data: dict[str, Any], draw: st.DataObject
) -> None:
    """Where another engine fires other rules than the native match (a bug it would have),
    the one pass answers for the rules that engine fired, and the frame kept for the native
    match is left as it was."""
    profile = KB.parse(data)
    fired = KB._matcher.match(KB.space.fact(profile))
    ids = sorted(rule.id for rule in KB.active_rules)
    other = frozenset(draw.draw(st.sets(st.sampled_from(ids), max_size=6))) ^ fired
    OTHER.evaluate(profile, fired)  # the native match's frame kept first
    _same(OTHER.evaluate(profile, other), OTHER.resolve(profile, other))
    _same(OTHER.evaluate(profile, fired), KB.evaluate(data))


def test_models_made_without_validation_equal_model_construct() -> None:
    result = KB.evaluate({"condition": "rheumatoid_arthritis"})
    assert result.depends_on
    for model in (result, result.depends_on[0], result.suggestions[0]):
        values = {name: model.__dict__[name] for name in model.model_fields_set}
        maker = Maker(type(model), values)
        assert maker.fast  # this pydantic takes the quick way
        made = maker.exact(maker.full(values))
        expected = type(model).model_construct(**values)
        assert made == expected == model
        assert made.model_fields_set == expected.model_fields_set
        assert made.model_dump_json() == expected.model_dump_json()
        assert list(made.__dict__) == list(expected.__dict__)


def test_without_the_quick_way_models_are_copies_of_the_first() -> None:
    dependency = KB.evaluate({"condition": "rheumatoid_arthritis"}).depends_on[0]
    values = {name: dependency.__dict__[name] for name in dependency.model_fields_set}
    maker = Maker(Dependency, values)
    maker.fast = False
    made = maker.exact(maker.full(values))
    assert made == dependency
    assert made.model_fields_set == dependency.model_fields_set


EXAMPLE = ir.load_rules(
    Path(__file__).parent.parent / "examples" / "own_vocabulary" / "rules", engine="native"
)
EXAMPLE_OTHER = _other_path(EXAMPLE)


@SETTINGS
@given(profiles(EXAMPLE))
def test_one_pass_on_a_vocabulary_of_its_own(profile: ir.ConditionProfile) -> None:
    """A profile model with fields of its own (read in other chunks than the bundled one's)
    gives the results of the fired rules too, evaluated once and again (every kept entry)."""
    fired = EXAMPLE._matcher.match(EXAMPLE.space.fact(profile))
    for depends_on in (True, False, True):
        found = EXAMPLE.evaluate(profile, depends_on=depends_on)
        _same(found, EXAMPLE_OTHER.resolve(profile, fired, depends_on=depends_on), pickled=False)
        _same(found, EXAMPLE_OTHER.evaluate(profile, fired, depends_on=depends_on), pickled=False)


def test_warnings_follow_the_fields_they_read_whatever_else_is_kept() -> None:
    """Warnings are kept with the first chunk of fields: profiles alike there share them,
    and a profile unlike them gets its own, on a knowledge base that has seen the others."""
    kb = ir.load_rules(engine="native")
    plain = {"condition": "rheumatoid_arthritis", "severity": "moderate"}
    odd = {**plain, "immune_activity": "underactive"}
    for data in (plain, odd, {**odd, "severity": "severe"}, plain, odd):
        result = kb.evaluate(data)
        assert result.warnings == KB.evaluate(data).warnings
        assert bool(result.warnings) == (data.get("immune_activity") == "underactive")
