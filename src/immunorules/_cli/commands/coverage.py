"""``immunorules coverage``: which rules the knowledge base's golden cases fire and which of
their effects the cases check; exit 0, or 1 with ``--fail-under PERCENT`` when the share of
active rules some golden case fires is below it (bad input 2).

It only runs the coverage, prints it and compares one share with the threshold it is given; it
never judges a golden case itself.
"""

from __future__ import annotations

import argparse
import math
from fractions import Fraction

from .. import knowledge
from ..context import Context
from ..options import FORMATTER, PROG, add_rules
from ..reports import REPORT_FORMATS, write_report

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``coverage``."""
    coverage = sub.add_parser(
        "coverage",
        help="which rules the golden cases fire, and which effects they check",
        description="Run every golden case of the knowledge base's active rules: the rules no "
        "golden case fires (untested), the effects of fired rules no golden case firing them "
        "checks (unobserved), and the shares of both. Exit 0; with --fail-under PERCENT, 1 "
        "when the share of active rules some golden case fires is below PERCENT.",
        epilog=f"examples:\n  {PROG} coverage\n  {PROG} coverage --rules my_rules/ --format "
        f"markdown\n  {PROG} coverage --rules my_rules/ --fail-under 80",
        formatter_class=FORMATTER,
    )
    add_rules(coverage)
    coverage.add_argument("--format", choices=REPORT_FORMATS, default="text", help="default: text")
    coverage.add_argument(
        "--fail-under",
        metavar="PERCENT",
        type=_percent,
        default=None,
        help="exit 1 when fewer than PERCENT %% of the active rules are fired by some golden "
        "case (the rule share; 0 to 100)",
    )


def _percent(text: str) -> Fraction:
    """A percentage from 0 to 100 (a trailing ``%`` allowed), read exactly: ``33.4`` is
    334/10, not a float."""
    try:
        value = Fraction(text.strip().removesuffix("%"))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 100") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 100")
    return value


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Print the coverage; 0, or 1 when the rule share is below ``--fail-under``."""
    from ..._analysis.coverage import coverage

    report = coverage(knowledge.load(args))
    write_report(ctx, report, args.format)
    threshold: Fraction | None = args.fail_under
    if threshold is None or not report.rules:
        return 0
    tested = report.rules - len(report.untested_rules)
    if Fraction(tested * 100, report.rules) >= threshold:
        return 0
    ctx.note(
        f"coverage failed: {tested} of {report.rules} active rules fired by a golden case "
        f"({_shown(Fraction(tested * 100, report.rules))}%), under --fail-under "
        f"{_shown(threshold)}%"
    )
    return 1


def _shown(value: Fraction) -> str:
    """A percentage as text, cut (never rounded up) to two decimals: ``33.33``, ``80``."""
    cut = Fraction(math.floor(value * 100), 100)
    return f"{float(cut):.2f}".rstrip("0").rstrip(".")
