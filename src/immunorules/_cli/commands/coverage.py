"""``immunorules coverage``: which rules the knowledge base's golden cases fire and which of
their effects the cases check; exit 0 (bad input 2).

It only runs the coverage and prints it; it never judges a golden case itself.
"""

from __future__ import annotations

import argparse

from .. import knowledge
from ..context import Context
from ..options import FORMATS, FORMATTER, PROG, add_rules

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``coverage``."""
    coverage = sub.add_parser(
        "coverage",
        help="which rules the golden cases fire, and which effects they check",
        description="Run every golden case of the knowledge base's active rules: the rules no "
        "golden case fires (untested), the effects of fired rules no golden case firing them "
        "checks (unobserved), and the shares of both.",
        epilog=f"examples:\n  {PROG} coverage\n  {PROG} coverage --rules my_rules/ --format "
        "markdown",
        formatter_class=FORMATTER,
    )
    add_rules(coverage)
    coverage.add_argument(
        "--format", choices=(*FORMATS, "html"), default="text", help="default: text"
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Print the coverage; 0."""
    from ..._analysis.coverage import coverage

    report = coverage(knowledge.load(args))
    if args.format == "json":
        ctx.out.write(report.to_json() + "\n")
    elif args.format == "markdown":
        ctx.out.write(report.to_markdown() + "\n")
    elif args.format == "html":
        ctx.out.write(report.to_html() + "\n")
    else:
        ctx.out.write(report.explain() + "\n")
    return 0
