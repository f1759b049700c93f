"""The ``immunorules`` command line: builds the parser from the command modules
(:mod:`.commands`), runs the command asked for, and maps its failures to exit codes.

    immunorules evaluate PROFILE.json [--rules DIR] [--format text|json|markdown]
    immunorules explain PROFILE.json --category CATEGORY [--rules DIR] [--format ...]
    immunorules audit [--rules DIR] [--format text|json|markdown]
    immunorules coverage [--rules DIR] [--format text|json|markdown|html] [--fail-under PERCENT]
    immunorules diff OLD NEW [--format text|markdown|html|json]
    immunorules validate DIR [DIR ...]
    immunorules vocabulary [--rules DIR] [--format text|json|markdown]
    immunorules schema [--rules DIR] [--rule-files]
    immunorules serve [--rules DIR] [--reload] [--host H] [--port N] [--issuer ISS=JWKS] ...
    immunorules cohort IN OUT [--rules DIR] [--id-column COL] [--fhir]

Exit codes: 0 success; 1 the audit found errors, the diff found a change, the coverage is under
``--fail-under``, validate found problems in the rule files, or some lines of a JSON Lines input
(rows of a cohort) were not valid profiles (each is reported on stderr; every other one is
answered); 2 bad input (a missing or unreadable
file, invalid JSON, an invalid profile, rules that do not load, an unknown category, a git revision
that cannot be read), output that cannot be written (a full disk) or a usage error; 130
interrupted.
Bad input is reported in one paragraph on stderr, never with a traceback. The exit code holds when
the reader of the output goes away (``| head``): the rest of the output is dropped quietly.

Text and Markdown output never carries terminal control characters from rule files or profiles:
they are shown escaped (``\\x1b``); JSON output carries them as JSON escapes.

The console script starts in :mod:`._start`, which handles an interrupt (Ctrl-C) before this
module and the rest load; this module imports only the standard library until :func:`main` runs,
and :func:`main` reports an interrupt in one line. This module holds no command of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, cast

from .._errors import ProfileError
from .commands import COMMANDS, Command
from .context import PROG, CliError, Context, clip
from .knowledge import version
from .options import EXAMPLE_PROFILE, FORMATTER

__all__ = ["build_parser", "main"]

EPILOG = f"""\
examples:
  {PROG} evaluate examples/profiles/rheumatoid_arthritis.json
  echo '{EXAMPLE_PROFILE}' | {PROG} evaluate - --format markdown
  {PROG} evaluate examples/profiles/cohort.jsonl --format json     (JSON Lines: one per line)
  {PROG} explain examples/profiles/transplant_recipient_melanoma.json --category immunostimulants
  {PROG} audit --rules my_rules/
  {PROG} coverage --rules my_rules/
  {PROG} validate my_rules/

A profile is a JSON object with the fields of immunorules.ConditionProfile, e.g.
  {EXAMPLE_PROFILE}

exit codes: 0 ok; 1 audit errors, a diff that changes something, invalid rule files (validate)
or invalid JSON Lines (each reported; the other lines are answered); 2 bad input or usage; 130
interrupted."""


def _description() -> str:
    from .._model.result import NOT_FOR_CLINICAL_USE

    return (
        "Rule-based immunomodulation decision support at the level of therapy categories and "
        f"drug classes.\n\n{NOT_FOR_CLINICAL_USE}"
    )


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors in our one-paragraph form (still exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{PROG}: error: {message}. Run '{self.prog} --help' for examples.\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The parser, and the command module that registered each subcommand name."""
    parser = _Parser(
        prog=PROG, description=_description(), epilog=EPILOG, formatter_class=FORMATTER
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    # Each subcommand's parser is a _Parser; commands see it as the ArgumentParser it is.
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser),
    )
    sub.required = True
    owners: dict[str, Command] = {}
    for command in COMMANDS:
        before = set(sub.choices)
        command.register(sub)
        owners.update(dict.fromkeys(set(sub.choices) - before, command))
    return parser, owners


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 findings, 2 bad input, 130
    interrupted)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # also while the package loads: one line, no traceback
        with contextlib.suppress(OSError):
            sys.stderr.write(f"{PROG}: interrupted.\n")
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser, owners = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    ctx = Context.from_sys(json_format=getattr(args, "format", "text") == "json")
    try:
        code = owners[args.command].run(args, ctx)
    except CliError as exc:
        ctx.report(str(exc))
        code = exc.code
    except ProfileError as exc:  # pragma: no cover - profiles are checked before use
        ctx.report(f"{exc}.")
        code = 2
    except BrokenPipeError:  # pragma: no cover - Output handles it; a stray write elsewhere
        ctx.out.reader_gone()
        code = 2
    except Exception as exc:
        if os.environ.get("IMMUNORULES_DEBUG"):
            raise
        ctx.err.write(
            f"{PROG}: internal error: {type(exc).__name__}: {clip(str(exc), 500)}. This is a bug "
            "in immunorules, not a problem with your input; run again with IMMUNORULES_DEBUG=1 "
            "to see the traceback, and please report it.\n"
        )
        code = 2
    try:
        ctx.out.flush()
    except CliError as exc:  # the output cannot be written: a full disk, a file size limit
        ctx.report(str(exc))
        code = exc.code
    return code
