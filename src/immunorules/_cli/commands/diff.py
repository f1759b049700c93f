"""``immunorules diff OLD NEW``: the exact semantic diff of two rule sets; exit 0 when nothing
changed, 1 when some answer or the vocabulary did, 2 on bad input.

OLD and NEW are rule folders or files, or git revisions of one (``HEAD~1:rules``,
``origin/main:rules``), read with ``git`` into a temporary folder that is removed afterwards.
It only loads the two sides, runs the diff and prints it; it never judges a change itself.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from .. import knowledge
from ..context import Context
from ..options import FORMATTER, PROG
from ..reports import write_report
from ..revisions import checkout

__all__ = ["register", "run"]

_FORMATS = ("text", "markdown", "html", "json")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``diff``."""
    parser = sub.add_parser(
        "diff",
        help="compare two rule sets over every valid profile; exit 1 when answers change",
        description="The exact semantic diff of two rule sets: the regions of the profile "
        "space where any part of the answer differs (tiers, drug classes, avoidances, flags, "
        "advisories, conflicts, coverage), with their size, an example and the rules behind "
        "them, and what the vocabulary adds or removes. OLD and NEW are rule folders or files, "
        "or git revisions such as HEAD~1:rules. Exit 0 when nothing changed, 1 when something "
        "did, 2 on bad input.",
        epilog=(
            f"examples:\n  {PROG} diff HEAD~1:rules rules\n"
            f"  {PROG} diff origin/main:rules rules --format markdown > diff.md\n"
            f"  {PROG} diff old_rules/ new_rules/ --format json"
        ),
        formatter_class=FORMATTER,
    )
    parser.add_argument(
        "old", metavar="OLD", help="the rule set before: a folder, a file or REV:PATH"
    )
    parser.add_argument(
        "new", metavar="NEW", help="the rule set after: a folder, a file or REV:PATH"
    )
    parser.add_argument("--format", choices=_FORMATS, default="text", help="default: text")


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Diff; 0 when nothing changed, 1 when something did."""
    from ..._api.functions import diff

    with tempfile.TemporaryDirectory(prefix="immunorules-diff-") as scratch:
        old = _load(args.old, Path(scratch) / "old")
        new = _load(args.new, Path(scratch) / "new")
        found = diff(old, new)
    write_report(ctx, found, args.format)
    return 1 if found.changed else 0


def _load(side: str, scratch: Path) -> knowledge.KnowledgeBase:
    """The knowledge base of a folder or file, or of a git revision's copy of one."""
    path = Path(side)
    if not knowledge.exists(path) and ":" in side and not _drive(side):
        path = checkout(side, scratch)
    namespace = argparse.Namespace(rules=[str(path)], engine="native")  # the diff never matches
    return knowledge.load(namespace)


def _drive(side: str) -> bool:
    """Whether ``side`` starts like a Windows path (``C:\\rules``) rather than ``REV:PATH``."""
    return len(side) > 2 and side[1] == ":" and side[0].isalpha() and side[2] in "\\/"
