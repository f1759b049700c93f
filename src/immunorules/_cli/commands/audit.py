"""``immunorules audit``: the knowledge base audited exactly over the whole profile space; exit 0
when it is ok, 1 on error findings. A long audit shows progress when standard error is a
terminal.

It only runs the audit and prints its report; it never judges findings itself.
"""

from __future__ import annotations

import argparse

from .. import knowledge
from ..context import Context
from ..options import FORMATTER, PROG, add_format, add_rules
from ..reports import write_report

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``audit``."""
    audit = sub.add_parser(
        "audit",
        help="audit a knowledge base over every valid profile; exit 1 on error findings",
        description="Audit the knowledge base exactly over the whole profile space: gaps, "
        "unresolved conflicts, dead, redundant and masked rules, failed golden cases.",
        epilog=f"examples:\n  {PROG} audit\n  {PROG} audit --rules my_rules/ --format json",
        formatter_class=FORMATTER,
    )
    add_rules(audit)
    add_format(audit)


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Audit; 0 when the report is ok, 1 on error findings."""
    from ..._analysis import audit as _audit

    kb = knowledge.load(args)
    progress = _audit.terminal_progress(ctx.err.stream) if ctx.interactive else None
    report = _audit.audit(kb, progress=progress)
    write_report(ctx, report, args.format)
    return 0 if report.ok else 1
