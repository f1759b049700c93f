"""The columnar matcher answers what the native engine answers, row for row."""

from __future__ import annotations

import random

import pytest

from immunorules._engines.columnar import GROUP, ColumnarMatcher
from immunorules._engines.native import NativeMatcher
from immunorules._model.matching import RuleMatcher, Scalar

from .conftest import require

np = require("numpy")


@pytest.mark.parametrize(("rules", "seed"), [(0, 1), (1, 2), (63, 3), (64, 4), (150, 5)])
def test_the_same_rules_hold_as_in_the_native_engine(rules: int, seed: int) -> None:
    rng = random.Random(seed)
    domains: dict[str, tuple[Scalar, ...]] = {
        **{f"flag{i}": (False, True) for i in range(14)},  # more than one group's worth
        "level": (None, *range(7)),
        "kind": (None, "a", "b", "c"),
        # fields that may be not stated, as a v3 vocabulary has them
        **{f"maybe{i}": (None, False, True) for i in range(3)},
        "tried[x|y]": (None, "", "x", "y", "x+y"),
        "big": tuple(range(GROUP + 5)),  # too large to share a table
    }
    matchers = []
    for number in range(rules):
        tested = rng.sample(sorted(domains), rng.randint(0, 5))
        tests = tuple(
            (name, frozenset(rng.sample(domains[name], rng.randint(1, len(domains[name])))))
            for name in sorted(tested)
        )
        matchers.append(RuleMatcher(f"R{number:03d}", tests))
    columnar = ColumnarMatcher(matchers, domains)
    native = NativeMatcher(matchers, domains)
    rows = 500
    codes = {
        name: np.array([rng.randrange(len(d)) for _ in range(rows)]) for name, d in domains.items()
    }
    bits = columnar.match({name: codes[name] for name in columnar.fields}, rows)
    assert bits.shape == (rows, max(1, -(-rules // 64)))
    for row in range(rows):
        fact: dict[str, Scalar] = {n: domains[n][int(codes[n][row])] for n in domains}
        assert columnar.ids_of(bits[row]) == native.match(fact), row
