"""Batch evaluation: evaluate_many against evaluate, the result cache, worker processes, and the
fast resolution path against plain validated construction."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import immunorules as ir
from immunorules._evaluate.batch import ResultCache
from immunorules._evaluate.resolve import Resolver, resolve

from .bundled import parse_profile
from .conftest import MakeKB, rule
from .strategies import junk_profiles, profile_dicts, profiles

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def outcome(kb: ir.KnowledgeBase, item: object) -> ir.Result | tuple[Any, ...]:
    """What evaluate says about ``item``: a result, or the problems it raises."""
    try:
        return kb.evaluate(item)  # type: ignore[arg-type]
    except ir.ProfileError as exc:
        return exc.problems


def as_outcome(item: ir.Result | ir.ProfileError) -> ir.Result | tuple[Any, ...]:
    return item.problems if isinstance(item, ir.ProfileError) else item


# -- evaluate_many equals evaluate -----------------------------------------------------------


@SETTINGS
@given(
    pool=st.lists(st.one_of(profile_dicts(), profiles(), junk_profiles()), min_size=1, max_size=6),
    picks=st.lists(st.integers(min_value=0, max_value=5), max_size=25),
)
def test_evaluate_many_equals_evaluate_element_by_element(
    kb: ir.KnowledgeBase, pool: list[Any], picks: list[int]
) -> None:
    rows = [pool[pick % len(pool)] for pick in picks]  # duplicates, valid and invalid rows
    collected = kb.evaluate_many(rows, errors="collect")
    assert len(collected) == len(rows)
    assert [as_outcome(item) for item in collected] == [outcome(kb, row) for row in rows]
    # A second pass is served from the cache and says the same.
    again = kb.evaluate_many(rows, errors="collect")
    assert [as_outcome(item) for item in again] == [as_outcome(item) for item in collected]
    first_invalid = next(
        (index for index, item in enumerate(collected) if isinstance(item, ir.ProfileError)),
        None,
    )
    if first_invalid is None:
        assert kb.evaluate_many(rows) == collected
    else:
        with pytest.raises(ir.ProfileError) as raised:
            kb.evaluate_many(rows)
        problems = collected[first_invalid].problems  # type: ignore[union-attr]
        assert [p.path for p in raised.value.problems] == [
            f"[{first_invalid}]" + ("" if p.path == "$" else f".{p.path}") for p in problems
        ]


def test_evaluate_many_keeps_input_order_and_shares_duplicates(kb: ir.KnowledgeBase) -> None:
    other = {**RA, "prior_lines_of_therapy": 1}
    results = kb.evaluate_many(
        [RA, other, RA, ir.ConditionProfile(**RA), dict(reversed(RA.items()))]
    )
    assert [r.profile.prior_lines_of_therapy for r in results] == [None, 1, None, None, None]
    assert results[0] is results[2] is results[3] is results[4]
    assert results[1] == kb.evaluate(other)


def test_one_and_true_are_different_inputs(kb: ir.KnowledgeBase) -> None:
    valid = {**RA, "pregnant": True}
    invalid = {**RA, "pregnant": 1}  # equal to ``valid`` as a Python value, but not a boolean
    results = kb.evaluate_many([valid, invalid, valid, invalid], errors="collect")
    assert isinstance(results[0], ir.Result) and results[0] is results[2]
    assert isinstance(results[1], ir.ProfileError)
    assert isinstance(results[3], ir.ProfileError)
    assert results[1].problems[0].path == "pregnant"
    with pytest.raises(ir.ProfileError, match=r"\[1\]\.pregnant"):
        kb.evaluate_many([valid, invalid])


def test_evaluate_many_takes_any_iterable_and_mappings(kb: ir.KnowledgeBase) -> None:
    class Row(Mapping[str, Any]):
        def __init__(self, data: dict[str, Any]) -> None:
            self._data = data

        def __getitem__(self, key: str) -> Any:
            return self._data[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self._data)

        def __len__(self) -> int:
            return len(self._data)

    rows = (row for row in [Row(RA), RA])
    first, second = kb.evaluate_many(rows)
    assert first == second == kb.evaluate(RA)
    assert kb.evaluate_many([]) == []


def test_evaluate_many_checks_its_arguments(kb: ir.KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="workers"):
        kb.evaluate_many([RA], workers=0)
    with pytest.raises(ValueError, match="errors"):
        kb.evaluate_many([RA], errors="ignore")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="iterable of profiles"):
        kb.evaluate_many(RA)  # type: ignore[arg-type]


def test_module_level_evaluate_many_uses_the_bundled_rules() -> None:
    (result,) = ir.evaluate_many([RA])
    assert result == ir.evaluate(RA)
    assert result.knowledge_base.name == "immunorules-bundled"


# -- the cache ------------------------------------------------------------------------------


def test_cache_never_serves_a_result_across_knowledge_bases(make_kb: MakeKB) -> None:
    suggest: dict[str, object] = {
        "suggest": [{"category": "immunosuppressants", "tier": "first_line"}]
    }
    stimulate: dict[str, object] = {
        "suggest": [{"category": "immunostimulants", "tier": "escalation"}]
    }
    first = make_kb([rule("A-ONE", suggest)])
    second = make_kb([rule("A-ONE", stimulate)])
    assert first.fingerprint != second.fingerprint
    rows: list[ir.ConditionProfile | dict[str, Any]] = [RA, ir.ConditionProfile(**RA)]
    from_first = first.evaluate_many(rows)
    from_second = second.evaluate_many(rows)
    for result in from_first:
        assert result.knowledge_base.fingerprint == first.fingerprint
        assert result == first.evaluate(RA)
        assert result.tier("immunosuppressants") == "first_line"
    for result in from_second:
        assert result.knowledge_base.fingerprint == second.fingerprint
        assert result == second.evaluate(RA)
        assert result.tier("immunostimulants") == "escalation"
    # Another knowledge base with the same rules keeps its own cache.
    same_rules = make_kb([rule("A-ONE", suggest)])
    assert same_rules.fingerprint == first.fingerprint
    assert same_rules.evaluate_many(rows)[0] is not from_first[0]


def test_result_cache_is_bounded() -> None:
    cache = ResultCache(maxsize=3)
    result = ir.evaluate(RA)
    for prior in range(10):
        profile = ir.ConditionProfile(**RA, prior_lines_of_therapy=prior)
        cache.put_profile(profile, result)
        key = (("prior",), (prior,), (int,))
        cache.put_raw(key, result)
    assert len(cache.profiles) == 3 and len(cache.raw) == 3
    assert (("prior",), (9,), (int,)) in cache.raw
    cache.put_raw(((1,), (1,), (int,)), result)  # a non-string key is never cached
    cache.put_raw((("a",), ([1],), (list,)), result)  # nor a non-scalar value
    assert (("prior",), (7,), (int,)) in cache.raw and len(cache.raw) == 3


def test_evaluate_many_memory_is_bounded(kb: ir.KnowledgeBase) -> None:
    local = ir.load_rules(engine="native")
    local._results.maxsize = 50
    rows = [
        {**RA, "prior_lines_of_therapy": n % 21, "severity": s}
        for n in range(21)
        for s in ("mild", "moderate", "severe", None)
    ]
    assert local.evaluate_many(rows) == [kb.evaluate(row) for row in rows]
    assert len(local._results.raw) <= 50 and len(local._results.profiles) <= 50


# -- worker processes -----------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "emscripten", reason="no processes")
def test_workers_give_the_same_results_as_one_process() -> None:
    import random

    from tests.bundled import FIELD_DOMAINS

    rng = random.Random(7)

    rows: list[Any] = []
    for _ in range(300):
        row = {name: rng.choice(domain) for name, domain in FIELD_DOMAINS.items()}
        if row["condition"] is not None and rng.random() < 0.7:
            row["disease_area"] = None  # derive it (invalid when the areas disagree otherwise)
        rows.append(row)
    rows += [*rows[:50], {"immune_activity": "sideways"}]
    engines = ["native"]
    from immunorules._engines.durable import durable_available

    if durable_available():
        engines.append("durable")
    for engine in engines:
        one = ir.load_rules(engine=engine).evaluate_many(rows, errors="collect")  # type: ignore[arg-type]
        two = ir.load_rules(engine=engine).evaluate_many(rows, workers=2, errors="collect")  # type: ignore[arg-type]
        assert [as_outcome(item) for item in two] == [as_outcome(item) for item in one]
        assert any(isinstance(item, ir.Result) for item in one)
        assert all(r.knowledge_base.engine == engine for r in two if isinstance(r, ir.Result))


# -- the fast resolution path ---------------------------------------------------------------


def validated(model: Any) -> Any:
    """``model`` rebuilt through pydantic validation from the fields it was given."""
    if isinstance(model, BaseModel) and not isinstance(model, ir.ConditionProfile):
        given_fields = {name: validated(getattr(model, name)) for name in model.model_fields_set}
        return type(model)(**given_fields)
    if isinstance(model, tuple):
        return tuple(validated(item) for item in model)
    return model


def assert_same(fast: Any, slow: Any, path: str = "result") -> None:
    """Equal, of the same types, with the same fields set and in the same order."""
    assert type(fast) is type(slow), path
    if isinstance(fast, BaseModel):
        assert fast.model_fields_set == slow.model_fields_set, path
        assert list(fast.__dict__) == list(slow.__dict__), path
        for name in fast.__dict__:
            assert_same(fast.__dict__[name], slow.__dict__[name], f"{path}.{name}")
    elif isinstance(fast, tuple | list):
        assert len(fast) == len(slow), path
        for index, (a, b) in enumerate(zip(fast, slow, strict=True)):
            assert_same(a, b, f"{path}[{index}]")
    elif isinstance(fast, dict):
        assert list(fast) == list(slow), path
        for key in fast:
            assert_same(fast[key], slow[key], f"{path}.{key}")
    else:
        assert fast == slow, path


@settings(max_examples=400, deadline=None)
@given(profile=profiles())
def test_fast_resolution_equals_plain_resolution_and_validation(
    kb: ir.KnowledgeBase, profile: ir.ConditionProfile
) -> None:
    fast = kb.evaluate(profile)
    plain = resolve(profile, kb.match(profile), kb.info, kb.evidence)
    # the plain builder is given the fired rules only: what the answer depends on needs them all
    assert plain.depends_on == () and plain.unstated == fast.unstated
    assert_same(fast.model_copy(update={"depends_on": ()}), plain)
    assert_same(fast, validated(fast))
    assert fast.model_dump_json() == validated(fast).model_dump_json()
    assert repr(fast.model_copy(update={"depends_on": ()})) == repr(plain)


def test_resolver_caches_are_bounded(kb: ir.KnowledgeBase) -> None:
    rules = {rule.id: rule for rule in kb.rules}
    small = Resolver(rules, kb.info, max_plans=2, max_reasons=3, max_lines=4)
    for data in [
        {**RA, "prior_lines_of_therapy": lines, "severity": severity, "pregnant": pregnant}
        for lines in range(4)
        for severity in (None, "severe")
        for pregnant in (False, True)
    ]:
        profile = ir.ConditionProfile(**data)
        fired = frozenset(rule.id for rule in kb.match(profile))
        assert_same(small.resolve(profile, fired), resolve(profile, kb.match(profile), kb.info))
        assert len(small._plans) <= 2 and len(small._reasons) <= 3 and len(small._lines) <= 4
    small.clear()
    assert not small._plans and not small._reasons and not small._lines


@settings(max_examples=500, deadline=None)
@given(data=st.one_of(profile_dicts(), junk_profiles()))
def test_fast_profile_parsing_equals_validation(data: Any) -> None:
    try:
        slow = ir.ConditionProfile.model_validate(data)
    except ir.ProfileError as exc:
        with pytest.raises(ir.ProfileError) as raised:
            parse_profile(data)
        assert raised.value.problems == exc.problems
        return
    fast = parse_profile(data)
    assert fast == slow and hash(fast) == hash(slow)
    assert fast.model_fields_set == slow.model_fields_set
    assert list(fast.__dict__.items()) == list(slow.__dict__.items())
    assert [type(v) for v in fast.__dict__.values()] == [type(v) for v in slow.__dict__.values()]
    assert fast.model_dump(exclude_unset=True) == slow.model_dump(exclude_unset=True)
