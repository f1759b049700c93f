"""``immunorules schema``: the JSON Schema of the knowledge base's profiles, or with
``--rule-files`` of its rule files (for editors such as yaml-language-server).

It only prints the schema; it never validates anything against it.
"""

from __future__ import annotations

import argparse
import json

from .. import knowledge
from ..context import Context
from ..options import FORMATTER, PROG, add_rules

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``schema``."""
    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of a profile (or of a rule file)",
        description="The JSON Schema of the knowledge base's profiles, or with --rule-files of "
        "its rule files (for editors such as yaml-language-server).",
        epilog=f"examples:\n  {PROG} schema > profile.schema.json\n  {PROG} schema --rules "
        "my_rules/ --rule-files > rules.schema.json",
        formatter_class=FORMATTER,
    )
    add_rules(schema)
    schema.add_argument(
        "--rule-files", action="store_true", help="the schema of rule files instead of profiles"
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Print the schema; 0."""
    from ..._render.schemas import profile_json_schema, rule_file_json_schema

    kb = knowledge.load(args)
    make = rule_file_json_schema if args.rule_files else profile_json_schema
    ctx.out.write(json.dumps(make(kb.schema), indent=2) + "\n")
    return 0
