"""Markdown fragments for callers that compose their own Markdown around a result: the CDS Hooks
cards of ``immunorules.service``.

This is the render layer's whole surface for them: escaping (``md``, ``code``), the notice line,
one reason on one line, a result's evidence by key and the link check. Every name a fragment
shows comes from the :class:`Labels` the caller passes, made once from the result's schema
(``Labels.for_subject(result)``), so a custom vocabulary reads with its own names. It formats
through the Markdown writer and must never keep state between calls or decide anything clinical.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._model.result import Citation, Reason
from . import markdown
from .build import evidence_for, reason_item, safe_url
from .labels import Labels
from .markdown import code, md, notice

__all__ = ["Labels", "code", "evidence_for", "md", "notice", "reason_line", "safe_url"]


def reason_line(labels: Labels, reason: Reason, evidence: Mapping[str, Citation]) -> str:
    """A reason as one line of Markdown (rule, title, because-text, matched values), its
    evidence linked from ``evidence`` (see :func:`evidence_for`)."""
    return markdown.reason(reason_item(reason, evidence, labels))
