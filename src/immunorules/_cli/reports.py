"""The one way a command prints a report object in the format asked for: plain text, Markdown,
HTML or JSON, written to the command's output with one trailing newline. ``audit``,
``coverage`` and ``diff`` print their reports with it.

It only picks the report's own rendering; it never renders, judges or changes a report, and it
imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .context import Context

__all__ = ["REPORT_FORMATS", "Report", "write_report"]

#: The formats a report renders itself in.
REPORT_FORMATS = ("text", "json", "markdown", "html")


class Report(Protocol):
    """What a report printed by :func:`write_report` offers: its own text, Markdown, HTML and
    JSON renderings (as :class:`~immunorules.AuditReport`, :class:`~immunorules.Coverage` and
    :class:`~immunorules.RuleSetDiff` do)."""

    def explain(self) -> str: ...

    def to_markdown(self) -> str: ...

    def to_html(self) -> str: ...

    def to_json(self, *, indent: int | None = 2) -> str: ...


def write_report(ctx: Context, report: Report, fmt: str) -> None:
    """Write ``report`` rendered as ``fmt`` (one of :data:`REPORT_FORMATS`) to the command's
    output."""
    renderings: dict[str, Callable[[], str]] = {
        "text": report.explain,
        "json": report.to_json,
        "markdown": report.to_markdown,
        "html": report.to_html,
    }
    ctx.out.write(renderings[fmt]() + "\n")
