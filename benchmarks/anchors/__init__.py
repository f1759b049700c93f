"""Anchor engines for benchmarks/run.py: the same rules compiled for other rule engines.

Each module has ``build(rules) -> Anchor``, raising :class:`Unavailable` when its engine does not
import here. An anchor matches a plain fact (profile field -> value) and returns the ids of the
rules that hold, so its answers can be checked against the native engine's, rule id by rule id.
Anchor engines are benchmark-only dependencies (the ``bench`` extra), never runtime ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Scalar = str | bool | int | None
Fact = Mapping[str, Scalar]

__all__ = ["Anchor", "Fact", "Scalar", "Unavailable", "contiguous"]


class Unavailable(Exception):
    """The anchor's engine cannot run here (not installed, or does not import)."""


@dataclass
class Anchor:
    """A compiled rule set in another engine: ``match(fact)`` gives the ids of the rules that
    hold for ``fact``."""

    name: str
    match: Callable[[Fact], frozenset[str]]
    note: str = ""
    close: Callable[[], None] | None = field(default=None)


def contiguous(values: frozenset[Scalar]) -> tuple[int, int] | None:
    """``(low, high)`` when ``values`` are all the integers from low to high, else None."""
    numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    if not numbers or len(numbers) != len(values):
        return None
    low, high = min(numbers), max(numbers)
    return (low, high) if len(numbers) == high - low + 1 else None
