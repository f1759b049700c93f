"""The ``immunorules`` command line.

    immunorules evaluate PROFILE.json [--rules DIR] [--format text|json|markdown]
    immunorules explain PROFILE.json --category CATEGORY [--rules DIR] [--format ...]
    immunorules audit [--rules DIR] [--format text|json|markdown]
    immunorules validate DIR [DIR ...]
    immunorules vocabulary [--rules DIR] [--format text|json|markdown]
    immunorules schema [--rules DIR] [--rule-files]
    immunorules serve [--rules DIR] [--host H] [--port N] [--issuer ISS=JWKS] [--audience URL] ...

Exit codes: 0 success; 1 the audit found errors, validate found problems in the rule files, or
some lines of a JSON Lines input were not valid profiles (each is reported on stderr by line
number; every other line is answered); 2 bad input (a missing or unreadable file, invalid JSON, an
invalid profile, rules that do not load, an unknown category) or a usage error; 130 interrupted.
Bad input is reported in one paragraph on stderr, never with a traceback. The exit code holds when
the reader of the output goes away (``| head``): the rest of the output is dropped quietly.

Text and Markdown output never carries terminal control characters from rule files or profiles:
they are shown escaped (``\\x1b``); JSON output carries them as JSON escapes.

Only the standard library is imported until :func:`main` runs, so that an interrupt (Ctrl-C)
while the rest loads is reported in one line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, TextIO

from .._errors import EngineError, ProfileError, RuleFileError, listed_problems, shown
from .jsonin import loads as _loads

if TYPE_CHECKING:
    from .._evaluate.knowledge_base import KnowledgeBase
    from .._model.profile import ConditionProfile

__all__ = ["main"]

PROG = "immunorules"
FORMATS = ("text", "json", "markdown")
_JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
#: How many bad lines of a JSON Lines input are reported one by one (the rest are counted).
SHOWN_BAD_LINES = 100
#: The longest line of a message on stderr (or of a problem listed by validate).
_MAX_MESSAGE_LINE = 1000

_EXAMPLE_PROFILE = (
    '{"immune_activity": "underactive", "condition": "melanoma", '
    '"transplant_status": "solid_organ_recipient"}'
)

EPILOG = f"""\
examples:
  {PROG} evaluate examples/profiles/rheumatoid_arthritis.json
  echo '{_EXAMPLE_PROFILE}' | {PROG} evaluate - --format markdown
  {PROG} evaluate examples/profiles/cohort.jsonl --format json     (JSON Lines: one per line)
  {PROG} explain examples/profiles/transplant_recipient_melanoma.json --category immunostimulants
  {PROG} audit --rules my_rules/
  {PROG} validate my_rules/

A profile is a JSON object with the fields of immunorules.ConditionProfile, e.g.
  {_EXAMPLE_PROFILE}

exit codes: 0 ok; 1 audit errors, invalid rule files (validate) or invalid JSON Lines (each
reported; the other lines are answered); 2 bad input or usage; 130 interrupted."""


def _description() -> str:
    from .._model.result import NOT_FOR_CLINICAL_USE

    return (
        "Rule-based immunomodulation decision support at the level of therapy categories and "
        f"drug classes.\n\n{NOT_FOR_CLINICAL_USE}"
    )


# -- output ----------------------------------------------------------------------------------

# C0 controls but tab and newline, DEL, C1 controls, and the invisible characters that reorder or
# break lines on a terminal (bidirectional overrides and isolates, line and paragraph separators).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def terminal_safe(text: str) -> str:
    """``text`` with control characters (but tab and newline) shown escaped, e.g. ``\\x1b``."""
    return _UNSAFE.sub(_visible, text)


def json_terminal_safe(text: str) -> str:
    """JSON text with control characters written as JSON escapes (``\\u001b``): the same JSON.

    Only valid for JSON whose control characters are all inside strings, as any JSON encoder
    writes it."""
    return _UNSAFE.sub(_json_escape, text)


class Output:
    """Where a command writes: control characters escaped, and a reader that went away (a
    closed pipe, ``| head``) ends the output quietly instead of the command, so that the exit
    code still tells what the command found."""

    def __init__(self, stream: TextIO, *, json_format: bool = False) -> None:
        self.stream = stream
        self.clean = json_terminal_safe if json_format else terminal_safe
        self.gone = False

    def write(self, text: str) -> None:
        if self.gone:
            return
        try:
            self.stream.write(self.clean(text))
        except BrokenPipeError:
            self._reader_gone()

    def flush(self) -> None:
        if self.gone:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._reader_gone()

    def _reader_gone(self) -> None:
        # As the Python docs advise: point the stream at devnull, so that the data still
        # buffered in it is dropped rather than raising again at exit.
        self.gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass  # not a file descriptor (a captured stream): nothing is left to flush there


def _clip(text: str, limit: int = _MAX_MESSAGE_LINE) -> str:
    """Each line of ``text`` at most ``limit`` characters."""
    return "\n".join(
        line if len(line) <= limit else f"{line[:limit]}... ({len(line):,} characters)"
        for line in text.split("\n")
    )


def _report(message: str) -> None:
    """One message on stderr, ``immunorules: error: ...``, clipped and terminal-safe."""
    Output(sys.stderr).write(f"{PROG}: error: {_clip(message)}\n")


class CliError(Exception):
    """Bad input: reported as one paragraph on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors in our one-paragraph form (still exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{PROG}: error: {message}. Run '{self.prog} --help' for examples.\n")


def _parser() -> argparse.ArgumentParser:
    from .._evaluate.knowledge_base import __version__

    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG, description=_description(), epilog=EPILOG, formatter_class=formatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def rules_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--rules",
            metavar="DIR",
            action="append",
            help="a rule file or folder to load instead of the bundled rules (repeatable)",
        )
        sub.add_argument(
            "--engine",
            choices=("auto", "durable", "native"),
            default="auto",
            help="matching engine (default: auto)",
        )

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate one profile (JSON) or many (JSON Lines)",
        description="Evaluate condition profiles: what is suggested, flagged or avoided, and why.",
        epilog=f"""examples:
  {PROG} evaluate examples/profiles/rheumatoid_arthritis.json
  echo '{_EXAMPLE_PROFILE}' | {PROG} evaluate -
  {PROG} evaluate cohort.jsonl --format json    (one JSON result per line)""",
        formatter_class=formatter,
    )
    evaluate.add_argument(
        "profile",
        metavar="PROFILE",
        help="a JSON file with one profile, a JSON Lines file (.jsonl) with one per line, "
        "or - for standard input",
    )
    rules_option(evaluate)
    evaluate.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    from .fhir import add_options as add_fhir_options

    add_fhir_options(evaluate)

    explain = commands.add_parser(
        "explain",
        help="why (or why not) a therapy category is suggested for a profile",
        description="Why a category is or is not suggested: the rules that could suggest it, "
        "which of their conditions failed, what overrode it, and the smallest profile changes "
        "that would make it a first-line or escalation suggestion.",
        epilog=f"""examples:
  {PROG} explain examples/profiles/transplant_recipient_melanoma.json --category immunostimulants
  {PROG} explain profile.json --category cellular_therapies --fixed condition --max-changes 2
  {PROG} explain profile.json --category immunostimulants --all-fields""",
        formatter_class=formatter,
    )
    explain.add_argument("profile", metavar="PROFILE", help="a JSON profile file, or - for stdin")
    explain.add_argument(
        "--category",
        required=True,
        metavar="CATEGORY",
        help="immunosuppressants, immunostimulants, biologic_therapies or cellular_therapies",
    )
    rules_option(explain)
    explain.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    explain.add_argument(
        "--max-changes",
        type=int,
        default=3,
        metavar="N",
        help="search profile changes of up to N fields (default: 3)",
    )
    explain.add_argument(
        "--fixed",
        action="append",
        default=[],
        metavar="FIELD",
        help="a profile field the suggested changes must not touch (repeatable)",
    )
    explain.add_argument(
        "--field",
        action="append",
        default=None,
        metavar="FIELD",
        help="a profile field the suggested changes may touch (repeatable; default: the fields "
        "the vocabulary marks modifiable)",
    )
    explain.add_argument(
        "--all-fields",
        action="store_true",
        help="let the suggested changes touch any field (the condition and histories too)",
    )

    audit = commands.add_parser(
        "audit",
        help="audit a knowledge base over every valid profile; exit 1 on error findings",
        description="Audit the knowledge base exactly over the whole profile space: gaps, "
        "unresolved conflicts, dead, redundant and masked rules, failed golden cases.",
        epilog=f"examples:\n  {PROG} audit\n  {PROG} audit --rules my_rules/ --format json",
        formatter_class=formatter,
    )
    rules_option(audit)
    audit.add_argument("--format", choices=FORMATS, default="text", help="default: text")

    validate = commands.add_parser(
        "validate",
        help="load rule files only; exit 1 listing every problem",
        description="Load and check rule files without evaluating anything. Lists every "
        "problem (file:line [rule] path: message) and exits 1 if there is any.",
        epilog=f"example:\n  {PROG} validate my_rules/",
        formatter_class=formatter,
    )
    validate.add_argument("paths", nargs="+", metavar="DIR", help="rule files or folders")
    from .vocabulary import add_commands

    add_commands(commands, formatter, rules_option, PROG)
    from .serve import add_command as add_serve_command

    add_serve_command(commands, formatter, rules_option, PROG)
    from .cohort import add_commands as add_cohort_command

    add_cohort_command(commands, formatter, rules_option, PROG)
    return parser


# -- input -----------------------------------------------------------------------------------


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system
        return False


def _source(source: str) -> tuple[str, IO[bytes]]:
    """(display name, binary stream) of a profile source: a file, or ``-`` for standard input."""
    if source == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # a text-only stream standing in for stdin
            return "<stdin>", io.BytesIO(sys.stdin.read().encode("utf-8", "surrogateescape"))
        return "<stdin>", buffer
    path = Path(source)
    if not _exists(path):
        raise CliError(f"the profile file {shown(source, 200)} does not exist.")
    if path.is_dir():
        raise CliError(
            f"{shown(source, 200)} is a directory; give a JSON profile file (or - for stdin)."
        )
    try:
        return source, path.open("rb")
    except OSError as exc:
        raise CliError(f"cannot read {shown(source, 200)}: {exc.strerror or exc}.") from None


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


class _Bad:
    """A JSON line that is not a profile, and why."""

    def __init__(self, message: str) -> None:
        self.message = message


def _decoded(raw: bytes, number: int) -> str:
    text = raw.decode("utf-8")
    return text.removeprefix("\ufeff") if number == 1 else text


def _json_lines(
    name: str, numbered: Iterable[tuple[int, bytes | str]]
) -> Iterator[tuple[str, Any]]:
    """Each non-blank line as (label, its JSON value or a :class:`_Bad`), read one at a time.

    Lines end at ``\n`` only (``\r\n`` too): U+2028 and other Unicode line breaks are characters,
    as JSON allows them inside strings."""
    for number, raw in numbered:
        label = f"{name} line {number}"
        try:
            line = raw if isinstance(raw, str) else _decoded(raw, number)
        except UnicodeDecodeError as exc:
            yield label, _Bad(f"{label} is not UTF-8 text ({exc.reason}).")
            continue
        if not line.strip():
            continue
        try:
            yield label, _loads(line)
        except json.JSONDecodeError as exc:
            yield (
                label,
                _Bad(
                    f"{label} is not valid JSON: {exc.msg} at column {exc.colno}. In JSON Lines "
                    "each line holds one complete JSON object."
                ),
            )
        except ValueError as exc:
            yield label, _Bad(f"{label} is not valid profile JSON: {exc}.")


def _whole(name: str, raw: bytes) -> tuple[bool, Iterator[tuple[str, Any]]]:
    """A source read whole: one JSON value, or several (read as JSON Lines)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{name} is not UTF-8 text ({exc.reason}); is it a JSON file?") from None
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise CliError(
                f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        # several JSON values: read it as JSON Lines
        return True, _json_lines(name, enumerate(text.split("\n"), 1))
    except ValueError as exc:
        raise CliError(f"{name} is not valid profile JSON: {exc}.") from None
    return False, iter([(name, data)])


def _profiles(name: str, stream: IO[bytes]) -> tuple[bool, Iterator[tuple[str, Any]]]:
    """Whether the source is JSON Lines, and its values as (label, JSON value or _Bad).

    A ``.jsonl``/``.ndjson`` file is JSON Lines. Otherwise one JSON value (which may span
    lines) is one profile, and several values, one per line, are JSON Lines. JSON Lines are
    read and answered one line at a time, never held whole."""
    numbered = enumerate(stream, 1)  # binary lines: split at b"\n" only
    if name.endswith(_JSON_LINES_SUFFIXES):
        return True, _json_lines(name, numbered)
    skipped: list[bytes] = []
    found: tuple[int, bytes] | None = None
    for item in numbered:
        if item[1].strip():
            found = item
            break
        skipped.append(item[1])
    if found is None:
        raise CliError(
            f"{name} is empty; expected a JSON object (one profile) or JSON Lines (one profile "
            "per line)."
        )
    number, raw = found
    try:
        first = _loads(_decoded(raw, number))
    except ValueError:  # also UnicodeDecodeError: not one JSON value on one line
        return _whole(name, b"".join([*skipped, raw, *(rest for _, rest in numbered)]))
    for later, more in numbered:
        if more.strip():  # a second value: JSON Lines
            values = _json_lines(name, chain([(later, more)], numbered))
            return True, chain([(f"{name} line {number}", first)], values)
    return False, iter([(name, first)])


def _checked(label: str, data: Any, kb: KnowledgeBase) -> ConditionProfile:
    """The profile in ``data``; CliError (one paragraph, every problem) if it is not one."""
    if not isinstance(data, dict):
        raise CliError(
            f"{label} holds {_kind(data)}, not a JSON object; a profile is an object such "
            f"as {_EXAMPLE_PROFILE}."
        )
    try:
        return kb.parse(data)
    except ProfileError as exc:
        listed = "; ".join(str(problem) for problem in exc.problems)
        raise CliError(f"{label} is not a valid condition profile: {listed}.") from None


_ENGINE_ARGUMENT = re.compile(r"\bengine=(['\"])(\w+)\1")


def _load(args: argparse.Namespace) -> Any:
    from .._evaluate.knowledge_base import load_rules

    paths = args.rules
    if paths:
        for item in paths:
            if not _exists(Path(item)):
                raise CliError(f"the rules path {shown(item, 200)} does not exist.")
    try:
        kb = load_rules(paths if paths else None, engine=args.engine)
    except RuleFileError as exc:
        raise CliError(_rule_problems(exc, "the rule files could not be loaded")) from None
    except EngineError as exc:
        # The library's wording names its argument (engine='native'); here it is an option.
        message = _ENGINE_ARGUMENT.sub(r"--engine \2", str(exc))
        raise CliError(f"{message}.") from None
    return kb


def _rule_problems(exc: RuleFileError, head: str) -> str:
    count = len(exc.problems)
    noun = "problem" if count == 1 else "problems"
    listed = "\n".join(_clip(line) for line in listed_problems(exc.problems))
    return f"{head} ({count:,} {noun}):\n{listed}"


# -- commands --------------------------------------------------------------------------------


def _heading(index: int, label: str, fmt: str) -> str:
    if fmt == "markdown":
        return f"## Profile {index} ({label})\n"
    return f"{'=' * 100}\nProfile {index} ({label})\n{'=' * 100}"


def _answer_each(
    args: argparse.Namespace,
    out: Output,
    answer: Callable[[KnowledgeBase, ConditionProfile], Any],
    renderers: tuple[Callable[[Any], str], Callable[[Any], str], Callable[..., str]],
) -> int:
    """Answer the profile, or each line of JSON Lines as it is read, writing each answer at once.

    A JSON Lines line that is not a valid profile is reported on stderr (by line number) and
    skipped; the exit code is then 1."""
    name, stream = _source(args.profile)
    try:
        json_lines, items = _profiles(name, stream)
        as_text, as_markdown, as_json = renderers
        render: Callable[[Any], str] = {
            "text": as_text,
            "markdown": as_markdown,
            "json": lambda a: as_json(a, indent=None if json_lines else 2),
        }[args.format]
        if not json_lines:
            ((label, data),) = items
            if isinstance(data, list):
                raise CliError(
                    f"{name} holds a JSON array, not an object. A profile is a JSON object such "
                    f"as {_EXAMPLE_PROFILE}; for many profiles use JSON Lines (one object per "
                    "line, e.g. a .jsonl file)."
                )
            kb = _load(args)
            profile = _checked(label, data, kb)
            out.write(render(answer(kb, profile)) + "\n")
            return 0
        kb = _load(args)  # before the first line is read: rules that do not load end it all
        return _answer_lines(args, out, name, items, kb, lambda p: render(answer(kb, p)))
    finally:
        if stream is not getattr(sys.stdin, "buffer", None):
            stream.close()


def _answer_lines(
    args: argparse.Namespace,
    out: Output,
    name: str,
    items: Iterator[tuple[str, Any]],
    kb: KnowledgeBase,
    rendered: Callable[[ConditionProfile], str],
) -> int:
    separator = {"json": "", "text": "\n", "markdown": "\n---\n\n"}[args.format]
    good = bad = 0
    for label, data in items:
        try:
            if isinstance(data, _Bad):
                raise CliError(data.message)
            profile = _checked(label, data, kb)
        except CliError as exc:
            bad += 1
            if bad <= SHOWN_BAD_LINES:
                _report(str(exc))
            continue
        good += 1
        text = rendered(profile)
        if args.format != "json":
            text = f"{separator if good > 1 else ''}{_heading(good, label, args.format)}\n{text}"
        out.write(text + "\n")
        out.flush()  # each answer as soon as it is made, for a reader down a pipe
        if out.gone:
            break  # nobody reads the rest
    if not good and not bad:
        raise CliError(f"{name} holds no profile (every line is blank).")
    if bad:
        hidden = bad - SHOWN_BAD_LINES
        more = f" ({hidden:,} not listed above)" if hidden > 0 else ""
        _report(
            f"{bad:,} of {good + bad:,} lines of {name} are not valid profiles{more}; "
            "they have no result in the output."
        )
        return 1
    return 0


def _cmd_evaluate(args: argparse.Namespace, out: Output) -> int:
    from .._render.text import result_json, result_markdown, result_text

    if args.fhir:
        from .fhir import cmd_evaluate_fhir

        return cmd_evaluate_fhir(args, out, _load(args), CliError)

    return _answer_each(
        args,
        out,
        lambda kb, profile: kb.evaluate(profile),
        (result_text, result_markdown, result_json),
    )


def _cmd_explain(args: argparse.Namespace, out: Output) -> int:
    from .._analysis.whynot import check_category
    from .._render.text import whynot_json, whynot_markdown, whynot_text

    try:
        category = check_category(args.category)
    except ValueError as exc:
        raise CliError(f"{exc}.") from None
    if args.max_changes < 0:
        raise CliError(f"--max-changes must be 0 or more, not {args.max_changes}.")

    def why_not(kb: KnowledgeBase, profile: ConditionProfile) -> Any:
        try:
            fields = list(kb.fields) if args.all_fields else args.field
            return kb.why_not(
                profile, category, max_changes=args.max_changes, fixed=args.fixed, fields=fields
            )
        except ValueError as exc:  # an unknown --fixed or --field field
            raise CliError(f"{exc}.") from None

    return _answer_each(args, out, why_not, (whynot_text, whynot_markdown, whynot_json))


def _cmd_audit(args: argparse.Namespace, out: Output) -> int:
    from .._analysis import audit as _audit
    from .._render.text import audit_markdown, audit_text

    kb = _load(args)
    progress = _audit.terminal_progress(sys.stderr) if sys.stderr.isatty() else None
    report = _audit.audit(kb, progress=progress)
    if args.format == "json":
        out.write(report.to_json() + "\n")
    elif args.format == "markdown":
        out.write(audit_markdown(report) + "\n")
    else:
        out.write(audit_text(report) + "\n")
    return 0 if report.ok else 1


def _cmd_validate(args: argparse.Namespace, out: Output) -> int:
    from .._load.loader import load_rule_files, unstated_warnings

    for item in args.paths:
        if not _exists(Path(item)):
            raise CliError(f"the rules path {shown(item, 200)} does not exist.")
    try:
        loaded = load_rule_files(args.paths)
    except RuleFileError as exc:
        out.write(_rule_problems(exc, "INVALID: the rule files have problems") + "\n")
        return 1
    active = sum(1 for rule in loaded.rules if rule.active)
    cases = sum(len(rule.tests) for rule in loaded.rules)
    out.write(
        f"OK: {len(loaded.rules)} rules ({active} active), {len(loaded.evidence)} evidence "
        f"entries and {cases} golden cases in {len(loaded.files)} files.\n"
    )
    for warning in unstated_warnings(loaded):
        out.write(f"warning: {warning}\n")
    return 0


def _cmd_vocabulary(args: argparse.Namespace, out: Output) -> int:
    from .vocabulary import cmd_vocabulary

    return cmd_vocabulary(_load(args), args, out)


def _cmd_schema(args: argparse.Namespace, out: Output) -> int:
    from .vocabulary import cmd_schema

    return cmd_schema(_load(args), args, out)


def _cmd_serve(args: argparse.Namespace, out: Output) -> int:
    from .serve import cmd_serve

    return cmd_serve(_load(args), args, out, CliError)


def _cmd_cohort(args: argparse.Namespace, out: Output) -> int:
    from .cohort import cmd_cohort

    return cmd_cohort(lambda: _load(args), args, out)


_COMMANDS: dict[str, Callable[[argparse.Namespace, Output], int]] = {
    "serve": _cmd_serve,
    "cohort": _cmd_cohort,
    "vocabulary": _cmd_vocabulary,
    "schema": _cmd_schema,
    "evaluate": _cmd_evaluate,
    "explain": _cmd_explain,
    "audit": _cmd_audit,
    "validate": _cmd_validate,
}


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
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    out = Output(sys.stdout, json_format=getattr(args, "format", "text") == "json")
    try:
        code = _COMMANDS[args.command](args, out)
    except CliError as exc:
        _report(str(exc))
        code = 2
    except ProfileError as exc:  # pragma: no cover - profiles are checked before use
        _report(f"{exc}.")
        code = 2
    except BrokenPipeError:  # pragma: no cover - Output handles it; a stray write elsewhere
        out._reader_gone()
        code = 2
    except Exception as exc:
        if os.environ.get("IMMUNORULES_DEBUG"):
            raise
        Output(sys.stderr).write(
            f"{PROG}: internal error: {type(exc).__name__}: {_clip(str(exc), 500)}. This is a bug "
            "in immunorules, not a problem with your input; run again with IMMUNORULES_DEBUG=1 "
            "to see the traceback, and please report it.\n"
        )
        code = 2
    out.flush()
    return code
