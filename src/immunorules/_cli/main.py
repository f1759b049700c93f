"""The ``immunorules`` command line (SPEC §9).

    immunorules evaluate PROFILE.json [--rules DIR] [--format text|json|markdown]
    immunorules explain PROFILE.json --category CATEGORY [--rules DIR] [--format ...]
    immunorules audit [--rules DIR] [--format text|json|markdown]
    immunorules validate DIR [DIR ...]

Exit codes: 0 success; 1 the audit found errors, or validate found problems in the rule files;
2 bad input (a missing or unreadable file, invalid JSON, an invalid profile, rules that do not
load, an unknown category) or a usage error. Bad input is reported in one paragraph on stderr,
never with a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from .._errors import EngineError, ProfileError, RuleFileError
from .._model.result import NOT_FOR_CLINICAL_USE

if TYPE_CHECKING:
    from .._evaluate.knowledge_base import KnowledgeBase
    from .._model.profile import ConditionProfile

__all__ = ["main"]

PROG = "immunorules"
FORMATS = ("text", "json", "markdown")
_JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")

_EXAMPLE_PROFILE = (
    '{"immune_activity": "underactive", "condition": "melanoma", '
    '"transplant_status": "solid_organ_recipient"}'
)

DESCRIPTION = f"""\
Rule-based immunomodulation decision support at the level of therapy categories and drug classes.

{NOT_FOR_CLINICAL_USE}"""

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

exit codes: 0 ok; 1 audit errors or invalid rule files (validate); 2 bad input or usage."""


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
    parser = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=formatter)
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

    explain = commands.add_parser(
        "explain",
        help="why (or why not) a therapy category is suggested for a profile",
        description="Why a category is or is not suggested: the rules that could suggest it, "
        "which of their conditions failed, what overrode it, and the smallest profile changes "
        "that would make it a first-line or escalation suggestion.",
        epilog=f"""examples:
  {PROG} explain examples/profiles/transplant_recipient_melanoma.json --category immunostimulants
  {PROG} explain profile.json --category cellular_therapies --fixed condition --max-changes 2""",
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
    return parser


# -- input -----------------------------------------------------------------------------------


def _read(source: str) -> tuple[str, str]:
    """(display name, text) of a profile source: a file, or ``-`` for standard input."""
    if source == "-":
        try:
            return "<stdin>", sys.stdin.read()
        except UnicodeDecodeError as exc:
            raise CliError(f"standard input is not UTF-8 text ({exc.reason}).") from None
    path = Path(source)
    if not path.exists():
        raise CliError(f"the profile file {source!r} does not exist.")
    if path.is_dir():
        raise CliError(f"{source!r} is a directory; give a JSON profile file (or - for stdin).")
    try:
        return source, path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{source!r} is not UTF-8 text ({exc.reason}); is it a JSON file?") from None
    except OSError as exc:
        raise CliError(f"cannot read {source!r}: {exc.strerror or exc}.") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"the key {key!r} appears twice")
        data[key] = value
    return data


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def _profiles(name: str, text: str) -> tuple[list[tuple[str, Any]], bool]:
    """The profiles in a source as (label, data), and whether it was JSON Lines."""
    if not text.strip():
        raise CliError(
            f"{name} is empty; expected a JSON object (one profile) or JSON Lines (one profile "
            "per line)."
        )
    lines_format = name.endswith(_JSON_LINES_SUFFIXES)
    if not lines_format:
        try:
            data = _loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":
                raise CliError(
                    f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
                ) from None
            lines_format = True  # several JSON values: read it as JSON Lines
        except ValueError as exc:
            raise CliError(f"{name} is not valid profile JSON: {exc}.") from None
        else:
            if isinstance(data, list):
                raise CliError(
                    f"{name} holds a JSON array, not an object. A profile is a JSON object such "
                    f"as {_EXAMPLE_PROFILE}; for many profiles use JSON Lines (one object per "
                    "line, e.g. a .jsonl file)."
                )
            return [(name, data)], False
    found: list[tuple[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        label = f"{name} line {number}"
        try:
            found.append((label, _loads(line)))
        except json.JSONDecodeError as exc:
            raise CliError(
                f"{label} is not valid JSON: {exc.msg} at column {exc.colno}. In JSON Lines "
                "each line holds one complete JSON object."
            ) from None
        except ValueError as exc:
            raise CliError(f"{label} is not valid profile JSON: {exc}.") from None
    if not found:  # pragma: no cover - text.strip() was not empty
        raise CliError(f"{name} holds no profile.")
    return found, True


def _checked(items: list[tuple[str, Any]]) -> list[Any]:
    """Validate every profile; one error listing every problem of every invalid one."""
    from .._model.profile import parse_profile

    checked, problems = [], []
    for label, data in items:
        if not isinstance(data, dict):
            problems.append(
                f"{label} holds {_kind(data)}, not a JSON object; a profile is an object such "
                f"as {_EXAMPLE_PROFILE}"
            )
            continue
        try:
            checked.append(parse_profile(data))
        except ProfileError as exc:
            listed = "; ".join(str(problem) for problem in exc.problems)
            problems.append(f"{label} is not a valid condition profile: {listed}")
    if problems:
        raise CliError(". ".join(problems) + ".")
    return checked


def _load(args: argparse.Namespace) -> Any:
    from .._evaluate.knowledge_base import load_rules

    paths = args.rules
    if paths:
        for item in paths:
            if not Path(item).exists():
                raise CliError(f"the rules path {item!r} does not exist.")
    try:
        kb = load_rules(paths if paths else None, engine=args.engine)
    except RuleFileError as exc:
        raise CliError(_rule_problems(exc, "the rule files could not be loaded")) from None
    except EngineError as exc:
        raise CliError(f"{exc}.") from None
    return kb


def _rule_problems(exc: RuleFileError, head: str) -> str:
    count = len(exc.problems)
    noun = "problem" if count == 1 else "problems"
    listed = "\n".join(f"  {problem}" for problem in exc.problems)
    return f"{head} ({count} {noun}):\n{listed}"


# -- commands --------------------------------------------------------------------------------


def _heading(index: int, total: int, label: str, fmt: str) -> str:
    if fmt == "markdown":
        return f"## Profile {index} of {total} ({label})\n"
    return f"{'=' * 100}\nProfile {index} of {total} ({label})\n{'=' * 100}"


def _emit_many(
    out: TextIO,
    labels: list[str],
    rendered: list[str],
    json_lines: bool,
    fmt: str,
) -> None:
    if not json_lines:
        out.write(rendered[0] + "\n")
        return
    if fmt == "json":
        for text in rendered:
            out.write(text + "\n")
        return
    separator = "\n\n---\n\n" if fmt == "markdown" else "\n\n"
    blocks = [
        f"{_heading(i, len(rendered), label, fmt)}\n{text}"
        for i, (label, text) in enumerate(zip(labels, rendered, strict=True), 1)
    ]
    out.write(separator.join(blocks) + "\n")


def _answer_each(
    args: argparse.Namespace,
    out: TextIO,
    answer: Callable[[KnowledgeBase, ConditionProfile], Any],
    renderers: tuple[Callable[[Any], str], Callable[[Any], str], Callable[..., str]],
) -> int:
    """Read the profile file (one object or JSON Lines), answer each profile, print them all."""
    name, text = _read(args.profile)
    items, json_lines = _profiles(name, text)
    profiles = _checked(items)
    kb = _load(args)
    answers = [answer(kb, profile) for profile in profiles]
    as_text, as_markdown, as_json = renderers
    render: Callable[[Any], str] = {
        "text": as_text,
        "markdown": as_markdown,
        "json": lambda a: as_json(a, indent=None if json_lines else 2),
    }[args.format]
    _emit_many(
        out, [label for label, _ in items], [render(a) for a in answers], json_lines, args.format
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace, out: TextIO) -> int:
    from .._render.text import result_json, result_markdown, result_text

    return _answer_each(
        args,
        out,
        lambda kb, profile: kb.evaluate(profile),
        (result_text, result_markdown, result_json),
    )


def _cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
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
            return kb.why_not(profile, category, max_changes=args.max_changes, fixed=args.fixed)
        except ValueError as exc:  # an unknown --fixed field
            raise CliError(f"{exc}.") from None

    return _answer_each(args, out, why_not, (whynot_text, whynot_markdown, whynot_json))


def _cmd_audit(args: argparse.Namespace, out: TextIO) -> int:
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


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    from .._load.loader import load_rule_files

    for item in args.paths:
        if not Path(item).exists():
            raise CliError(f"the rules path {item!r} does not exist.")
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
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "evaluate": _cmd_evaluate,
    "explain": _cmd_explain,
    "audit": _cmd_audit,
    "validate": _cmd_validate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 findings, 2 bad input)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return _COMMANDS[args.command](args, sys.stdout)
    except CliError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    except ProfileError as exc:  # pragma: no cover - profiles are checked before use
        sys.stderr.write(f"{PROG}: error: {exc}.\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted.\n")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, without a second error on exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("IMMUNORULES_DEBUG"):
            raise
        sys.stderr.write(
            f"{PROG}: internal error: {type(exc).__name__}: {exc}. This is a bug in immunorules, "
            "not a problem with your input; run again with IMMUNORULES_DEBUG=1 to see the "
            "traceback, and please report it.\n"
        )
        return 2
