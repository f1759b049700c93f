"""iter_evaluate: results streamed in input order, in memory bounded by the batch size."""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

import immunorules as ir

from .bundled import CONDITION_AREA, FIELD_DOMAINS

RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def distinct_profiles(count: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` different profiles, made as they are read."""
    names = [n for n in FIELD_DOMAINS if n not in ("disease_area", "condition")]
    domains = [FIELD_DOMAINS[n] for n in names]
    conditions = list(CONDITION_AREA)
    combos = itertools.product(conditions, *domains)
    for _ in range(seed):
        next(combos)
    for combo in itertools.islice(combos, count):
        yield {"condition": combo[0], **dict(zip(names, combo[1:], strict=True))}


def test_results_equal_evaluate_in_order(kb: ir.KnowledgeBase) -> None:
    rows = [*distinct_profiles(50), RA, RA]
    streamed = list(kb.iter_evaluate(iter(rows), batch_size=7))
    assert streamed == [kb.evaluate(row) for row in rows]


def test_input_is_read_a_batch_at_a_time(kb: ir.KnowledgeBase) -> None:
    pulled = 0

    def source() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for row in distinct_profiles(10_000):
            pulled += 1
            yield row

    stream = kb.iter_evaluate(source(), batch_size=100)
    first = next(stream)
    assert first == kb.evaluate(next(distinct_profiles(1)))
    assert pulled == 100
    for _ in range(150):
        next(stream)
    assert pulled == 200


def test_errors_raise_at_their_global_index_or_are_collected(kb: ir.KnowledgeBase) -> None:
    rows = [RA] * 5 + [{**RA, "severity": "sever"}] + [RA]
    stream = kb.iter_evaluate(rows, batch_size=2)
    seen = [next(stream) for _ in range(5)]
    with pytest.raises(ir.ProfileError, match=r"\[5\]\.severity"):
        next(stream)
    assert seen == [kb.evaluate(RA)] * 5
    collected = list(kb.iter_evaluate(rows, batch_size=2, errors="collect"))
    assert isinstance(collected[5], ir.ProfileError) and collected[5].path == "severity"
    assert collected[6] == kb.evaluate(RA)


def test_arguments_are_checked(kb: ir.KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        kb.iter_evaluate([RA], batch_size=0)
    with pytest.raises(ValueError, match="errors"):
        kb.iter_evaluate([RA], errors="ignore")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="iterable of profiles"):
        kb.iter_evaluate(RA)  # type: ignore[arg-type]


def _peak(kb: ir.KnowledgeBase, count: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        for _ in kb.iter_evaluate(distinct_profiles(count, seed=1), batch_size=500):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_profiles() -> None:
    local = ir.load_rules(engine="native")
    local._results.maxsize = 1000  # fill the bounded caches quickly
    _peak(local, 3_000)  # warm: caches full
    few, many = _peak(local, 3_000), _peak(local, 24_000)
    # Eight times the profiles: the peak stays that of one batch and the bounded caches.
    assert many < few * 1.5, (few, many)
