"""What the render layer needs of a knowledge base, as a Protocol.

The knowledge base is the front door (``immunorules._api``), above the render layer: renderers
type their argument with :class:`KnowledgeBaseWithTable` instead of importing it. This module
only describes; it must never import the front door or hold behaviour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .._evaluate.protocol import KnowledgeBaseLike

if TYPE_CHECKING:
    from .decision_table import DecisionTable

__all__ = ["KnowledgeBaseWithTable"]


class KnowledgeBaseWithTable(KnowledgeBaseLike, Protocol):
    """A knowledge base that also tabulates its rules (see :meth:`KnowledgeBase.decision_table`)."""

    def decision_table(self, *, include_inactive: bool = False) -> DecisionTable: ...
