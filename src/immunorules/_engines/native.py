"""The native engine: pure-Python matching over per-field bitsets.

For every field and every value, a bitmask has bit ``i`` set when rule ``i`` accepts that value;
the rules that hold for a fact are the AND of one mask per field. Always available, and the
oracle the durable engine is tested against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._model.matching import Fact, RuleMatcher, Scalar

__all__ = ["NativeMatcher", "value_masks"]


def value_masks(
    rules: Sequence[RuleMatcher], domains: Mapping[str, Sequence[Scalar]]
) -> dict[str, dict[Scalar, int]]:
    """Per field that some rule tells values apart on, per value of its domain, the bits of the
    rules (bit ``i``: ``rules[i]``) that accept the value. The one table of the native engine,
    shared with whatever needs to know which rules a value lets through."""
    everything = (1 << len(rules)) - 1
    masks: dict[str, dict[Scalar, int]] = {}
    tested: dict[str, list[tuple[int, frozenset[Scalar]]]] = {}
    for bit, rule in enumerate(rules):
        for name, allowed in rule.tests:
            tested.setdefault(name, []).append((bit, allowed))
    for name, tests in tested.items():
        domain = domains[name]
        per_value = dict.fromkeys(domain, everything)
        for bit, allowed in tests:
            for value in domain:
                if value not in allowed:
                    per_value[value] &= ~(1 << bit)
        if any(mask != everything for mask in per_value.values()):
            masks[name] = per_value
    return masks


class NativeMatcher:
    """Matches facts against rules with one dict lookup and one AND per field."""

    name = "native"

    def __init__(
        self, rules: Sequence[RuleMatcher], domains: Mapping[str, Sequence[Scalar]]
    ) -> None:
        self._rules = tuple(rules)
        self._domains = {name: tuple(values) for name, values in domains.items()}
        self._ids = tuple(rule.rule_id for rule in rules)
        self._masks = tuple(value_masks(self._rules, self._domains).items())
        self._everything = (1 << len(rules)) - 1

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The rules' ids, in the order of their bits (rule ``i`` is bit ``1 << i``)."""
        return self._ids

    def __reduce__(self) -> tuple[type[NativeMatcher], tuple[Any, ...]]:
        return (NativeMatcher, (self._rules, self._domains))

    def match(self, fact: Fact) -> frozenset[str]:
        bits = self._everything
        for name, per_value in self._masks:
            bits &= per_value[fact[name]]
            if not bits:
                return frozenset()
        ids = self._ids
        found = []
        while bits:
            low = bits & -bits
            found.append(ids[low.bit_length() - 1])
            bits ^= low
        return frozenset(found)
