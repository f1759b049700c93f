"""The engine-neutral form of a rule's ``when``: one allowed-value set per field.

Every engine (native, durable and the columnar matcher) consumes :class:`RuleMatcher` objects
and returns the ids of the rules whose conditions all hold. Every profile field has a finite
domain (the integer field is bounded), so a condition is always a set of allowed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Fact", "Matcher", "RuleMatcher", "Scalar"]

Scalar = str | bool | int | None
Fact = Mapping[str, Scalar]


@dataclass(frozen=True, slots=True)
class RuleMatcher:
    """A rule reduced to what matching needs: its id and an AND of per-field value sets.

    ``tests`` is sorted by field name; a field absent from ``tests`` accepts any value.
    """

    rule_id: str
    tests: tuple[tuple[str, frozenset[Scalar]], ...]

    def holds(self, fact: Fact) -> bool:
        return all(fact[name] in allowed for name, allowed in self.tests)


class Matcher(Protocol):
    """What an engine offers: the ids of every rule that holds for a fact, each once."""

    name: str

    def match(self, fact: Fact) -> frozenset[str]: ...
