"""Reading what the commands are given: profile sources (a file or ``-`` for standard input), one
JSON profile or JSON Lines (one profile per line, read one line at a time), a FHIR record's text,
and strict JSON (no duplicate keys, no NaN or Infinity, no nesting too deep to read).

Every problem with the input is a :class:`~.context.CliError` in one paragraph. This module reads
and checks input; it never loads a knowledge base, evaluates or writes output.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from .._errors import ProfileError, shown
from .context import CliError
from .knowledge import exists
from .options import EXAMPLE_PROFILE

if TYPE_CHECKING:
    from .._model.profile import ConditionProfile
    from .knowledge import KnowledgeBase

__all__ = [
    "JSON_LINES_SUFFIXES",
    "Bad",
    "Item",
    "checked",
    "fhir_source",
    "loads",
    "opened",
    "profiles",
]

#: A file with one of these extensions is JSON Lines, whatever its first line holds.
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
#: A value read from a profile source: (its label, e.g. ``cohort.jsonl line 3``, and its JSON
#: value or a :class:`Bad`).
Item = tuple[str, Any]


# -- strict JSON -----------------------------------------------------------------------------


def loads(text: str) -> Any:
    """``text`` as strict JSON (:func:`immunorules._model.jsonstrict.loads`);
    ``json.JSONDecodeError`` or ``ValueError`` when it is not."""
    from .._model import jsonstrict  # not at import: the model layer loads pydantic

    try:
        return jsonstrict.loads(text)
    except jsonstrict.NestedTooDeeply:
        raise ValueError(
            "it is nested too deeply (a profile is one flat JSON object of field values)"
        ) from None


# -- sources ---------------------------------------------------------------------------------


@contextlib.contextmanager
def opened(source: str, stdin: TextIO) -> Iterator[tuple[str, IO[bytes]]]:
    """(display name, binary stream) of a profile source: a file, or ``-`` for ``stdin``
    (which is left open)."""
    if source == "-":
        buffer = getattr(stdin, "buffer", None)
        if buffer is None:  # a text-only stream standing in for stdin
            yield "<stdin>", io.BytesIO(stdin.read().encode("utf-8", "surrogateescape"))
        else:
            yield "<stdin>", buffer
        return
    path = Path(source)
    if not exists(path):
        raise CliError(f"the profile file {shown(source, 200)} does not exist.")
    if path.is_dir():
        raise CliError(
            f"{shown(source, 200)} is a directory; give a JSON profile file (or - for stdin)."
        )
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise CliError(f"cannot read {shown(source, 200)}: {exc.strerror or exc}.") from None
    with stream:
        yield source, stream


def fhir_source(source: str, stdin: TextIO) -> Any:
    """What :func:`immunorules.fhir.profile_from_fhir` reads: the path, or the text of
    ``stdin`` for ``-``."""
    return stdin.read() if source == "-" else source


# -- profiles --------------------------------------------------------------------------------


class Bad:
    """A JSON line that is not a profile, and why."""

    def __init__(self, message: str) -> None:
        self.message = message


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def _decoded(raw: bytes, number: int) -> str:
    text = raw.decode("utf-8")
    return text.removeprefix("\ufeff") if number == 1 else text


def _json_lines(name: str, numbered: Iterable[tuple[int, bytes | str]]) -> Iterator[Item]:
    """Each non-blank line as (label, its JSON value or a :class:`Bad`), read one at a time.

    Lines end at ``\\n`` only (``\\r\\n`` too): U+2028 and other Unicode line breaks are
    characters, as JSON allows them inside strings."""
    for number, raw in numbered:
        label = f"{name} line {number}"
        try:
            line = raw if isinstance(raw, str) else _decoded(raw, number)
        except UnicodeDecodeError as exc:
            yield label, Bad(f"{label} is not UTF-8 text ({exc.reason}).")
            continue
        if not line.strip():
            continue
        try:
            yield label, loads(line)
        except json.JSONDecodeError as exc:
            yield (
                label,
                Bad(
                    f"{label} is not valid JSON: {exc.msg} at column {exc.colno}. In JSON Lines "
                    "each line holds one complete JSON object."
                ),
            )
        except ValueError as exc:
            yield label, Bad(f"{label} is not valid profile JSON: {exc}.")


def _whole(name: str, raw: bytes) -> tuple[bool, Iterator[Item]]:
    """A source read whole: one JSON value, or several (read as JSON Lines)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{name} is not UTF-8 text ({exc.reason}); is it a JSON file?") from None
    try:
        data = loads(text)
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


def profiles(name: str, stream: IO[bytes]) -> tuple[bool, Iterator[Item]]:
    """Whether the source is JSON Lines, and its values as (label, JSON value or :class:`Bad`).

    A ``.jsonl``/``.ndjson`` file is JSON Lines. Otherwise one JSON value (which may span
    lines) is one profile, and several values, one per line, are JSON Lines. JSON Lines are
    read and answered one line at a time, never held whole."""
    numbered = enumerate(stream, 1)  # binary lines: split at b"\n" only
    if name.endswith(JSON_LINES_SUFFIXES):
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
        first = loads(_decoded(raw, number))
    except ValueError:  # also UnicodeDecodeError: not one JSON value on one line
        return _whole(name, b"".join([*skipped, raw, *(rest for _, rest in numbered)]))
    for later, more in numbered:
        if more.strip():  # a second value: JSON Lines
            values = _json_lines(name, chain([(later, more)], numbered))
            return True, chain([(f"{name} line {number}", first)], values)
    return False, iter([(name, first)])


def checked(label: str, data: Any, kb: KnowledgeBase) -> ConditionProfile:
    """The profile in ``data``; :class:`CliError` (one paragraph, every problem) if it is not
    one (``data`` may be a :class:`Bad` line)."""
    if isinstance(data, Bad):
        raise CliError(data.message)
    if not isinstance(data, dict):
        raise CliError(
            f"{label} holds {_kind(data)}, not a JSON object; a profile is an object such "
            f"as {EXAMPLE_PROFILE}."
        )
    try:
        return kb.parse(data)
    except ProfileError as exc:
        listed = "; ".join(str(problem) for problem in exc.problems)
        raise CliError(f"{label} is not a valid condition profile: {listed}.") from None
