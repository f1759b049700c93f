"""``immunorules validate DIR [DIR ...]``: load and check rule files without evaluating anything;
exit 1 listing every problem (``file:line [rule] path: message``).

It never builds a knowledge base or an engine: loading the files is the whole check.
"""

from __future__ import annotations

import argparse

from ..._errors import RuleFileError
from ..context import Context
from ..knowledge import check_paths, rule_problems
from ..options import FORMATTER, PROG

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``validate``."""
    validate = sub.add_parser(
        "validate",
        help="load rule files only; exit 1 listing every problem",
        description="Load and check rule files without evaluating anything. Lists every "
        "problem (file:line [rule] path: message) and exits 1 if there is any.",
        epilog=f"example:\n  {PROG} validate my_rules/",
        formatter_class=FORMATTER,
    )
    validate.add_argument("paths", nargs="+", metavar="DIR", help="rule files or folders")


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Validate; 0 when the files load, 1 listing their problems."""
    from ..._load.loader import load_rule_files, unstated_warnings

    check_paths(args.paths)
    try:
        loaded = load_rule_files(args.paths)
    except RuleFileError as exc:
        ctx.out.write(rule_problems(exc, "INVALID: the rule files have problems") + "\n")
        return 1
    active = sum(1 for rule in loaded.rules if rule.active)
    cases = sum(len(rule.tests) for rule in loaded.rules)
    ctx.out.write(
        f"OK: {len(loaded.rules)} rules ({active} active), {len(loaded.evidence)} evidence "
        f"entries and {cases} golden cases in {len(loaded.files)} files.\n"
    )
    for warning in unstated_warnings(loaded):
        ctx.out.write(f"warning: {warning}\n")
    return 0
