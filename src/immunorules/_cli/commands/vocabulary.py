"""``immunorules vocabulary``: the knowledge base's vocabulary (profile fields and their values,
conditions, drug classes, advisories) for people (text, Markdown) and tools (JSON).

It only prints what the knowledge base says; it never changes a vocabulary.
"""

from __future__ import annotations

import argparse

from .. import knowledge
from ..context import Context
from ..options import FORMATTER, PROG, add_format, add_rules

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vocabulary``."""
    vocabulary = sub.add_parser(
        "vocabulary",
        help="list the profile fields and their values, conditions, drug classes and advisories",
        description="The vocabulary of the knowledge base: the bundled one plus the "
        "'vocabulary:' sections of the rule files loaded.",
        epilog=f"examples:\n  {PROG} vocabulary\n  {PROG} vocabulary --rules my_rules/ "
        "--format json",
        formatter_class=FORMATTER,
    )
    add_rules(vocabulary)
    add_format(vocabulary)


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Print the vocabulary; 0."""
    from ..._render.schemas import vocabulary_json, vocabulary_text

    kb = knowledge.load(args)
    if args.format == "json":
        ctx.out.write(vocabulary_json(kb.schema) + "\n")
    else:
        ctx.out.write(vocabulary_text(kb.schema, markdown=args.format == "markdown") + "\n")
    return 0
