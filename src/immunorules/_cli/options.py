"""The options and help text several commands share: ``--rules``/``--engine``, ``--format``, the
help layout and the example profile.

This module imports only the standard library; it declares options and never reads them.
"""

from __future__ import annotations

import argparse

from .context import PROG

__all__ = ["EXAMPLE_PROFILE", "FORMATS", "FORMATTER", "PROG", "add_format", "add_rules"]

#: The output formats of the commands that print answers.
FORMATS = ("text", "json", "markdown")
#: How every command lays out its help: the epilog's examples as written.
FORMATTER = argparse.RawDescriptionHelpFormatter
#: A profile, as the help and the messages about bad profiles show one.
EXAMPLE_PROFILE = (
    '{"immune_activity": "underactive", "condition": "melanoma", '
    '"transplant_status": "solid_organ_recipient"}'
)


def add_rules(parser: argparse.ArgumentParser) -> None:
    """``--rules DIR`` (repeatable) and ``--engine``: the knowledge base a command loads."""
    parser.add_argument(
        "--rules",
        metavar="DIR",
        action="append",
        help="a rule file or folder to load instead of the bundled rules (repeatable)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "durable", "native"),
        default="auto",
        help="matching engine (default: auto)",
    )


def add_format(parser: argparse.ArgumentParser) -> None:
    """``--format text|json|markdown`` (default text)."""
    parser.add_argument("--format", choices=FORMATS, default="text", help="default: text")
