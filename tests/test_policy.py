"""One collect policy for every path: evaluation (cached and not), the audit, why-not's tier;
and the one bounded cache, under threads."""

from __future__ import annotations

import random
import threading
from functools import partial
from typing import Any

from hypothesis import HealthCheck, given, settings

import immunorules as ir
from immunorules._analysis.audit_semantics import (
    conflict_sides,
    projection,
    unresolved_conflict,
)
from immunorules._evaluate.resolve import Resolver, resolve
from immunorules._model.cache import BoundedCache
from immunorules._policy import category_tier, effects_of, outcome, plan, tables

from .strategies import profiles

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KB = ir.load_rules(engine="native")
#: A resolver whose caches hold one entry each: every call evicts, so it takes every path.
TINY = Resolver(
    {rule.id: rule for rule in KB.active_rules},
    KB.info,
    evidence=KB._loaded.evidence,
    schema=KB.schema,
    max_plans=1,
    max_reasons=1,
    max_lines=1,
)


def _ids(reasons: Any) -> list[str]:
    return [reason.rule_id for reason in reasons]


@SETTINGS
@given(profile=profiles())
def test_every_path_gives_what_the_policy_decides(profile: ir.ConditionProfile) -> None:
    fired = KB.match(profile)
    result = KB.evaluate(profile, depends_on=False)  # the builders below see the fired rules only
    # the cached path, the uncached builder and a resolver evicting all the time agree
    assert resolve(profile, fired, KB.info, KB._loaded.evidence, KB.schema) == result
    assert TINY.resolve(profile, frozenset(rule.id for rule in fired)) == result
    # ... and all say what the policy's plan says, line by line
    steps = plan(fired, KB.schema)
    lines = (*result.suggestions, *result.avoided, *result.advisories)
    planned = (*steps.suggestions, *steps.avoided, *steps.advisories)
    assert len(lines) == len(planned)
    for built, line in zip(lines, planned, strict=True):
        assert type(built) is line.model
        for name, value in line.fields:
            assert getattr(built, name) == value
        assert _ids(built.reasons) == [steps.rules[i].id for i in line.reasons]
        if line.flag_reasons is not None:
            assert isinstance(built, ir.Suggestion)
            assert _ids(built.flag_reasons) == [steps.rules[i].id for i in line.flag_reasons]
    assert result.conflicts == steps.conflicts
    assert result.covered == steps.covered
    assert result.fired_rules == steps.fired_rules
    # the audit's readings
    assert outcome(fired, KB.schema) == projection(result)
    unresolved = any(not conflict.resolved for conflict in result.conflicts)
    sides = unresolved_conflict(fired, KB.schema)
    assert (sides is not None) == unresolved
    if sides is not None:
        assert sides == conflict_sides(result, fired)
    # why-not's tier of each category
    effects = [effects_of(rule, KB.schema) for rule in fired]
    for category in KB.schema.categories:
        shown = result.suggestion(category)
        suggested = any(s.category == category for rule in fired for s in rule.then.suggest)
        expected = shown.tier if shown else ("avoided" if suggested else None)
        assert category_tier(effects, category, tables(KB.schema)) == expected


def test_the_cache_stays_bounded_and_raises_nothing_under_threads() -> None:
    cache: BoundedCache[int, int] = BoundedCache(3)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(seed: int) -> None:
        try:
            start.wait()
            for i in range(20_000):
                key = (i * 7 + seed) % 11
                found = cache.get(key)
                assert found is None or found == key * 2
                if i % 3 == 0:
                    cache.put(key, key * 2)
                elif i % 97 == 0:
                    cache.clear()
                else:
                    assert cache.get_or_put(key, partial(int.__mul__, key, 2)) == key * 2
                assert len(cache) <= 3 + 4  # at most one put in flight per thread
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 3


def test_a_resolver_with_tiny_caches_shared_by_threads_gives_the_same_results() -> None:
    rng = random.Random(5)
    space = KB.space
    schema = KB.schema
    checked = []
    for _ in range(300):
        values = {
            name: rng.choice([v for v in domain if v is not None] or [None])
            for name, domain in schema.domains.items()
            if name not in ("condition", "disease_area")
        }
        condition = rng.choice(schema.conditions)
        try:
            checked.append(KB.parse({**values, "condition": condition}))
        except ir.ProfileError:
            continue
    fired = [KB._matcher.match(space.fact(profile)) for profile in checked]
    expected = [KB.evaluate(profile) for profile in checked]
    tiny = Resolver(
        {rule.id: rule for rule in KB.active_rules},
        KB.info,
        evidence=KB._loaded.evidence,
        schema=schema,
        max_plans=2,
        max_reasons=3,
        max_lines=2,
    )
    tiny.depends = KB._resolver.depends  # what the answers depend on, as the knowledge base's
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(offset: int) -> None:
        try:
            start.wait()
            for round_ in range(3):
                for i in range(len(checked)):
                    j = (i + offset * 37 + round_) % len(checked)
                    assert tiny.resolve(checked[j], fired[j]) == expected[j]
                    if i % 50 == offset:
                        tiny.clear()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
