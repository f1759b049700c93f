"""The native engine: pure-Python matching over per-field bitsets.

For every field and every value, a bitmask has bit ``i`` set when rule ``i`` accepts that value;
the rules that hold for a fact are the AND of one mask per field. Always available, and the
oracle the durable engine is tested against.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._model.matching import Fact, RuleMatcher, Scalar
from .._model.profile import FIELD_DOMAINS

__all__ = ["NativeMatcher"]


class NativeMatcher:
    """Matches facts against rules with one dict lookup and one AND per field."""

    name = "native"

    def __init__(self, rules: Sequence[RuleMatcher]) -> None:
        self._ids = tuple(rule.rule_id for rule in rules)
        everything = (1 << len(rules)) - 1
        masks: dict[str, dict[Scalar, int]] = {}
        for name, domain in FIELD_DOMAINS.items():
            per_value = dict.fromkeys(domain, everything)
            for bit, rule in enumerate(rules):
                allowed = dict(rule.tests).get(name)
                if allowed is None:
                    continue
                for value in domain:
                    if value not in allowed:
                        per_value[value] &= ~(1 << bit)
            if any(mask != everything for mask in per_value.values()):
                masks[name] = per_value
        self._masks = tuple(masks.items())
        self._everything = everything

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
