"""The ``vocabulary`` and ``schema`` commands: what a knowledge base's profiles and rule files
may say, for people (text, Markdown) and for tools (JSON, JSON Schema)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["add_commands"]


class _Out(Protocol):
    def write(self, text: str) -> None: ...


def add_commands(
    commands: Any,
    formatter: type[argparse.HelpFormatter],
    rules_option: Callable[[argparse.ArgumentParser], None],
    prog: str,
) -> None:
    vocabulary = commands.add_parser(
        "vocabulary",
        help="list the profile fields and their values, conditions, drug classes and advisories",
        description="The vocabulary of the knowledge base: the bundled one plus the "
        "'vocabulary:' sections of the rule files loaded.",
        epilog=f"examples:\n  {prog} vocabulary\n  {prog} vocabulary --rules my_rules/ "
        "--format json",
        formatter_class=formatter,
    )
    rules_option(vocabulary)
    vocabulary.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="default: text"
    )
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of a profile (or of a rule file)",
        description="The JSON Schema of the knowledge base's profiles, or with --rule-files of "
        "its rule files (for editors such as yaml-language-server).",
        epilog=f"examples:\n  {prog} schema > profile.schema.json\n  {prog} schema --rules "
        "my_rules/ --rule-files > rules.schema.json",
        formatter_class=formatter,
    )
    rules_option(schema)
    schema.add_argument(
        "--rule-files", action="store_true", help="the schema of rule files instead of profiles"
    )


def cmd_vocabulary(kb: Any, args: argparse.Namespace, out: _Out) -> int:
    from .._render.schemas import vocabulary_json, vocabulary_text

    if args.format == "json":
        out.write(vocabulary_json(kb.schema) + "\n")
    else:
        out.write(vocabulary_text(kb.schema, markdown=args.format == "markdown") + "\n")
    return 0


def cmd_schema(kb: Any, args: argparse.Namespace, out: _Out) -> int:
    from .._render.schemas import profile_json_schema, rule_file_json_schema

    make = rule_file_json_schema if args.rule_files else profile_json_schema
    out.write(json.dumps(make(kb.schema), indent=2) + "\n")
    return 0
