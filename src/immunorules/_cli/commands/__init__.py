"""The commands, one module each. Every command module has exactly two public functions:
``register(sub)``, which adds its subcommand(s) to the parser, and ``run(args, ctx)``, which
runs it and returns the exit code. :data:`COMMANDS` lists them in the order ``--help`` shows.

Command modules import only the standard library and this package's light modules at import
time; the library itself is imported when a command runs.
"""

from __future__ import annotations

import argparse
from typing import Protocol

from ..context import Context
from . import (
    audit,
    cohort,
    coverage,
    diff,
    evaluate,
    explain,
    export,
    schema,
    serve,
    validate,
    vocabulary,
)

__all__ = ["COMMANDS", "Command"]


class Command(Protocol):
    """The shape of a command module."""

    def register(self, sub: argparse._SubParsersAction[argparse.ArgumentParser], /) -> None: ...

    def run(self, args: argparse.Namespace, ctx: Context, /) -> int: ...


#: Every command module, in the order the help lists them.
COMMANDS: tuple[Command, ...] = (
    evaluate,
    explain,
    audit,
    coverage,
    diff,
    validate,
    vocabulary,
    schema,
    serve,
    cohort,
    export,
)
