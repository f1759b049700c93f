"""The benchmarks' generators make what their figures say they measure.

``benchmarks/synthetic.py`` makes the profiles of the per-row benchmark and the synthetic rule
sets of the audit benchmarks. Once boolean fields could be not stated (their domains hold
None), it found no boolean field at all: its profiles stated none of the safety flags and its
rule sets could not be made. These tests keep it honest about the vocabulary it draws from.
"""

from __future__ import annotations

import random
from pathlib import Path

import immunorules as ir

from .benchmark_modules import benchmark_module
from .bundled import SCHEMA

BOOLEANS = sorted(name for name, field in SCHEMA.fields.items() if field.type == "boolean")


def test_the_bundled_vocabulary_has_boolean_fields() -> None:
    assert len(BOOLEANS) >= 5


def test_random_profiles_are_valid_and_state_every_boolean_field() -> None:
    synthetic = benchmark_module("synthetic")
    rng = random.Random(3)
    kb = ir.load_rules(engine="native")
    stated_true = dict.fromkeys(BOOLEANS, 0)
    for _ in range(400):
        data = synthetic.random_profile(rng)
        profile = kb.parse(data)
        for name in BOOLEANS:
            assert isinstance(data.get(name), bool), name
            stated_true[name] += getattr(profile, name) is True
    # each flag is sometimes stated true, not only false
    assert all(count > 0 for count in stated_true.values()), stated_true


def test_synthetic_rule_sets_load_and_test_boolean_fields(tmp_path: Path) -> None:
    synthetic = benchmark_module("synthetic")
    folder = synthetic.write_synthetic_rules(tmp_path, count=60, seed=1)
    kb = ir.load_rules(folder, engine="native")
    assert len(kb.active_rules) == 60
    tested = {name for rule in kb.active_rules for name in rule.when}
    assert tested & set(BOOLEANS)
