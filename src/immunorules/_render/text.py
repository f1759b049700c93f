"""Plain text, Markdown and JSON renderings of results, why-not answers, knowledge bases and
audit reports: the entry points the models and the command line call.

Each one makes the labels of its subject's schema, builds the subject's neutral document once
(``_render.build``) and hands it to a writer (``_render.plain`` or ``_render.markdown``). Every
rendering carries the not-for-clinical-use notice; this module must never format anything itself.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from .._model.result import NOT_FOR_CLINICAL_USE, Citation, Reason, Result
from . import markdown, plain
from .build import (
    SHOWN_CHANGE_SETS,
    audit_document,
    decision_rows,
    evidence_for,
    kb_counts,
    kb_document,
    reason_item,
    result_document,
    safe_url,
    whynot_document,
)
from .labels import STATUS_LABEL, TIER_LABEL, Labels, schema_of
from .markdown import code, md

if TYPE_CHECKING:
    from .._analysis.audit_report import AuditReport
    from .._analysis.protocol import KnowledgeBaseWithTable as KnowledgeBase
    from .._analysis.whynot import WhyNot

__all__ = [
    "SHOWN_CHANGE_SETS",
    "STATUS_LABEL",
    "TIER_LABEL",
    "audit_markdown",
    "audit_text",
    "category_name",
    "class_label",
    "code",
    "decision_rows",
    "evidence_for",
    "in_schema",
    "kb_json",
    "kb_markdown",
    "kb_text",
    "md",
    "md_notice",
    "md_reason",
    "result_json",
    "result_markdown",
    "result_text",
    "safe_url",
    "subcategory_name",
    "whynot_json",
    "whynot_markdown",
    "whynot_text",
]


# -- results ----------------------------------------------------------------------------------


def result_text(result: Result) -> str:
    """A readable plain-text explanation of a result: the answer first, then the reasons."""
    return plain.write(result_document(result, Labels.for_subject(result)))


def result_markdown(result: Result) -> str:
    """The explanation as Markdown (for notebooks and the CLI)."""
    return markdown.write(result_document(result, Labels.for_subject(result)))


def result_json(result: Result, *, indent: int | None = 2) -> str:
    return result.model_dump_json(indent=indent)


# -- why-not answers --------------------------------------------------------------------------


def whynot_text(answer: WhyNot) -> str:
    """A why-not answer as plain text: the answer, what would change it, then the rules."""
    return plain.write(whynot_document(answer, Labels.for_subject(answer)))


def whynot_markdown(answer: WhyNot) -> str:
    return markdown.write(whynot_document(answer, Labels.for_subject(answer)))


def whynot_json(answer: WhyNot, *, indent: int | None = 2) -> str:
    return answer.model_dump_json(indent=indent)


# -- knowledge bases --------------------------------------------------------------------------


def kb_text(kb: KnowledgeBase) -> str:
    return plain.write(kb_document(kb, Labels.for_subject(kb)))


def kb_markdown(kb: KnowledgeBase) -> str:
    return markdown.write(kb_document(kb, Labels.for_subject(kb)))


def kb_json(kb: KnowledgeBase, *, indent: int | None = 2) -> str:
    data = {
        "notice": NOT_FOR_CLINICAL_USE,
        "name": kb.name,
        "version": kb.version,
        "fingerprint": kb.fingerprint,
        "engine": kb.engine,
        "counts": kb_counts(kb),
        "categories": list(schema_of(kb).categories),
        "decision_table": decision_rows(kb),
    }
    return json.dumps(data, indent=indent)


# -- audit reports ----------------------------------------------------------------------------


def audit_text(report: AuditReport) -> str:
    """The report as plain text: errors, then warnings, then info (unused vocabulary in brief),
    the notice last."""
    return plain.write(audit_document(report, Labels.for_subject(report)))


def audit_markdown(report: AuditReport) -> str:
    return markdown.write(audit_document(report, Labels.for_subject(report)))


# -- helpers of the CDS Hooks cards (immunorules.service) ------------------------------------
#
# The cards name categories and classes inside functions decorated with ``in_schema``. These
# helpers read the labels ``in_schema`` sets for the call and fall back to the bundled labels
# outside one; like every label they never raise on an unknown id. New code should take a
# ``Labels`` explicitly instead.

_LABELS: ContextVar[Labels | None] = ContextVar("immunorules_render_labels", default=None)
_Rendered = TypeVar("_Rendered", bound=Callable[..., Any])


def _labels() -> Labels:
    return _LABELS.get() or Labels.for_subject(None)


def in_schema(render: _Rendered) -> _Rendered:
    """Run ``render`` with the labels of its first argument's schema."""

    @functools.wraps(render)
    def wrapper(subject: object, *args: Any, **kwargs: Any) -> Any:
        token = _LABELS.set(Labels.for_subject(subject))
        try:
            return render(subject, *args, **kwargs)
        finally:
            _LABELS.reset(token)

    return wrapper  # type: ignore[return-value]


def category_name(category: str) -> str:
    return _labels().category(category)


def subcategory_name(subcategory: str) -> str:
    return _labels().subcategory(subcategory)


def class_label(subcategory: str) -> str:
    """``Name (ATC L04AB)`` or ``Name (no ATC code)``."""
    return _labels().class_label(subcategory)


def md_notice(notice: str = NOT_FOR_CLINICAL_USE) -> str:
    return markdown.notice(notice)


def md_reason(reason: Reason, evidence: Mapping[str, Citation]) -> str:
    """A reason as one line of Markdown, its evidence linked from ``evidence``."""
    return markdown.reason(reason_item(reason, evidence, _labels()))
