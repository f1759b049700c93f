"""Plain text, Markdown and JSON renderings of results, why-not answers, knowledge bases and
audit reports: the entry points the models and the command line call.

Each one makes the labels of its subject's schema, builds the subject's neutral document once
(``_render.build``) and hands it to a writer (``_render.plain`` or ``_render.markdown``). Every
rendering carries the not-for-clinical-use notice; this module must never format anything itself.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .._model.result import NOT_FOR_CLINICAL_USE, Result
from . import markdown, plain
from .build import (
    SHOWN_CHANGE_SETS,
    audit_document,
    decision_rows,
    diff_document,
    kb_counts,
    kb_document,
    result_document,
    whynot_document,
)
from .labels import Labels, schema_of

if TYPE_CHECKING:
    from .._analysis.audit_report import AuditReport
    from .._analysis.diff import RuleSetDiff
    from .._analysis.protocol import KnowledgeBaseWithTable as KnowledgeBase
    from .._analysis.whynot import WhyNot

__all__ = [
    "SHOWN_CHANGE_SETS",
    "audit_markdown",
    "audit_text",
    "decision_rows",
    "diff_json",
    "diff_markdown",
    "diff_text",
    "kb_json",
    "kb_markdown",
    "kb_text",
    "result_json",
    "result_markdown",
    "result_text",
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
        "description": kb.info.description,
        "effective": None if kb.info.effective is None else kb.info.effective.isoformat(),
        "authors": list(kb.info.authors),
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


# -- rule-set diffs ---------------------------------------------------------------------------


def diff_text(found: RuleSetDiff) -> str:
    """A diff as plain text: the verdict, the vocabulary and rule changes, each region (its
    before, after, rules and an example), the notice last."""
    return plain.write(diff_document(found))


def diff_markdown(found: RuleSetDiff) -> str:
    """A diff as Markdown, for a pull-request comment: the verdict, then a table of regions."""
    return markdown.write(diff_document(found))


def diff_json(found: RuleSetDiff, *, indent: int | None = 2) -> str:
    return found.model_dump_json(indent=indent)
