"""The render layer.

Text, Markdown, JSON and HTML for results, why-not answers, audits, rule-set diffs and
knowledge bases. Models call into it through the renderer table of ``_registry`` (filled by the
front door, ``_api``, with :func:`register_all`), never by importing it.

- ``labels``: display names from one schema (``Labels.of(schema)``), passed to every helper;
  unknown ids read as themselves.
- ``build``: the one walk of each model into a neutral ``document``.
- ``plain``, ``markdown``, ``html``: the writers of a document (``html`` also holds the CSS and
  the decision-table fragment).
- ``text``: the text, Markdown and JSON entry points the models and the command line call.
- ``fragments``: Markdown pieces (escaping, a reason line) for callers that compose their own
  Markdown, i.e. the service's cards; each takes the ``Labels`` explicitly.
- ``schemas``: the vocabulary and the JSON Schemas of profiles and rule files.
"""

from __future__ import annotations

from .._model.result import register_renderer
from . import coverage, html, text

__all__ = ["register_all"]


def register_all() -> None:
    """Register every renderer with the models."""
    for kind in ("result", "whynot", "kb"):
        register_renderer(kind, "text", getattr(text, f"{kind}_text"))
        register_renderer(kind, "markdown", getattr(text, f"{kind}_markdown"))
        register_renderer(kind, "html", getattr(html, f"{kind}_html"))
    register_renderer("kb", "json", text.kb_json)
    register_renderer("audit", "text", text.audit_text)
    register_renderer("audit", "markdown", text.audit_markdown)
    register_renderer("audit", "html", html.audit_html)
    register_renderer("diff", "text", text.diff_text)
    register_renderer("diff", "markdown", text.diff_markdown)
    register_renderer("diff", "html", html.diff_html)
    register_renderer("decision_table", "html", html.decision_table_html)
    register_renderer("coverage", "text", coverage.coverage_text)
    register_renderer("coverage", "markdown", coverage.coverage_markdown)
    register_renderer("coverage", "html", coverage.coverage_html)
