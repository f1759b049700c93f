"""The one-pass per-row path (``Resolver.evaluate``) gives the very results of the resolver's
path from the engine's fired rules (``Resolver.resolve``): equal, with the same fields set, the
same JSON and the same pickle; and models made without validation equal ``model_construct``'s."""

from __future__ import annotations

import pickle
from typing import Any

from hypothesis import HealthCheck, given, settings

import immunorules as ir
from immunorules._evaluate.making import Maker
from immunorules._evaluate.resolve import Resolver
from immunorules._model.result import Dependency, Result

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


def _same(one: Result, other: Result) -> None:
    assert one == other
    assert one.model_fields_set == other.model_fields_set
    assert one.model_dump_json() == other.model_dump_json()
    assert list(one.__dict__) == list(other.__dict__)
    assert pickle.loads(pickle.dumps(one)) == other


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
