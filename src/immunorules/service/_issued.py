"""The cards this service process has answered with, remembered for their feedback: which
service gave each card, the override reasons and suggestions it offered, and the knowledge base
(name, version, fingerprint) behind it.

A bounded, thread-safe memory (the oldest cards are forgotten first; nothing survives a restart
and each process has its own). It holds ids and codes only, never a card's text or patient data.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["IssuedCard", "IssuedCards"]


@dataclass(frozen=True)
class IssuedCard:
    """What a card offered: its service, its override reasons as (system, code) pairs, its
    suggestions' uuids, and the knowledge base behind it."""

    service: str
    override_reasons: frozenset[tuple[str, str]]
    suggestions: frozenset[str]
    knowledge_base: Mapping[str, str]


class IssuedCards:
    """The last ``size`` cards answered with, by uuid."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._cards: OrderedDict[str, IssuedCard] = OrderedDict()
        self._lock = threading.Lock()

    def add(
        self, service: str, cards: Iterable[Mapping[str, Any]], knowledge_base: Mapping[str, str]
    ) -> None:
        """Remember ``cards`` as answered by ``service``."""
        if self.size <= 0:
            return
        found = []
        for card in cards:
            reasons = frozenset(
                (str(r.get("system")), str(r.get("code"))) for r in card.get("overrideReasons", ())
            )
            suggestions = frozenset(str(s["uuid"]) for s in card.get("suggestions", ()))
            found.append(
                (str(card["uuid"]), IssuedCard(service, reasons, suggestions, knowledge_base))
            )
        with self._lock:
            for key, issued in found:
                self._cards[key] = issued
                self._cards.move_to_end(key)
            while len(self._cards) > self.size:
                self._cards.popitem(last=False)

    def get(self, card: str) -> IssuedCard | None:
        """What card ``card`` (a uuid) offered, when this process still remembers it."""
        with self._lock:
            return self._cards.get(card)
