"""What every command gets and how every command fails: :class:`Context` (where to write, whether
standard error is a terminal, standard input), :class:`Output` (the one way a command writes) and
:class:`CliError` (bad input, with its exit code).

Output never carries terminal control characters from rule files or profiles: text shows them
escaped (``\\x1b``), JSON as JSON escapes (``\\u001b``). A reader that goes away (``| head``) ends
the output quietly, so that the exit code still tells what the command found; output that cannot
be written (a full disk) ends the command with ``cannot write output: ...`` and exit code 2.

This module imports only the standard library, and never loads a knowledge base or reads input.
"""

from __future__ import annotations

import io
import os
import re
import sys
from dataclasses import dataclass
from typing import TextIO

__all__ = [
    "MAX_MESSAGE_LINE",
    "PROG",
    "CliError",
    "Context",
    "Output",
    "clip",
    "json_terminal_safe",
    "terminal_safe",
]

#: The program's name, as messages and help show it.
PROG = "immunorules"
#: The longest line of a message on stderr (or of a problem listed by validate).
MAX_MESSAGE_LINE = 1000

# C0 controls but tab and newline, DEL, C1 controls, and the invisible characters that reorder or
# break lines on a terminal (bidirectional overrides and isolates, line and paragraph separators).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


class CliError(Exception):
    """Bad input (a missing or unreadable file, invalid JSON, an invalid profile, rules that do
    not load, a wrong option value): reported as one paragraph on standard error, never with a
    traceback, and the command exits with :attr:`code` (2 unless said otherwise)."""

    def __init__(self, message: str, *, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


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


def clip(text: str, limit: int = MAX_MESSAGE_LINE) -> str:
    """Each line of ``text`` at most ``limit`` characters."""
    return "\n".join(
        line if len(line) <= limit else f"{line[:limit]}... ({len(line):,} characters)"
        for line in text.split("\n")
    )


class Output:
    """Where a command writes: control characters escaped, and a reader that went away (a
    closed pipe, ``| head``) ends the output quietly instead of the command, so that the exit
    code still tells what the command found."""

    def __init__(
        self, stream: TextIO, *, json_format: bool = False, diagnostics: bool = False
    ) -> None:
        self.stream = stream
        self.clean = json_terminal_safe if json_format else terminal_safe
        self.gone = False
        # Standard error: when it cannot be written there is nowhere to say so, and the exit
        # code still tells what happened.
        self.diagnostics = diagnostics

    def write(self, text: str) -> None:
        """Write ``text`` (made terminal-safe); nothing once the reader has gone.

        Raises :class:`CliError` (``cannot write output: ...``) when the output cannot be
        written: a full disk, a file size limit, an I/O error."""
        if self.gone:
            return
        try:
            self.stream.write(self.clean(text))
        except BrokenPipeError:
            self.reader_gone()
        except OSError as exc:
            self._cannot_write(exc)

    def flush(self) -> None:
        """Flush the stream; nothing once the reader has gone (raises :class:`CliError` as
        :meth:`write` does)."""
        if self.gone:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            self.reader_gone()
        except OSError as exc:
            self._cannot_write(exc)

    def _cannot_write(self, exc: OSError) -> None:
        """The output cannot be written: drop the rest of it, and (but on standard error)
        end the command saying why."""
        self.reader_gone()
        if self.diagnostics:
            return
        reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
        raise CliError(f"cannot write output: {reason}.") from None

    def reader_gone(self) -> None:
        """Drop the rest of the output: the reader went away (or it cannot be written)."""
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


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a command runs with: its output, standard error, standard input, and whether
    standard error is a terminal (progress is shown only there)."""

    out: Output
    err: Output
    stdin: TextIO
    interactive: bool

    @classmethod
    def from_sys(cls, *, json_format: bool = False) -> Context:
        """The process's standard streams, as they are now (tests may have replaced them)."""
        try:
            interactive = sys.stderr.isatty()
        except (AttributeError, ValueError):  # a closed or stand-in stream
            interactive = False
        return cls(
            out=Output(sys.stdout, json_format=json_format),
            err=Output(sys.stderr, diagnostics=True),
            stdin=sys.stdin,
            interactive=interactive,
        )

    def report(self, message: str) -> None:
        """One message on standard error, ``immunorules: error: ...``, clipped and
        terminal-safe."""
        self.err.write(f"{PROG}: error: {clip(message)}\n")

    def note(self, message: str) -> None:
        """One line on standard error, ``immunorules: ...`` (a warning or an invalid row)."""
        self.err.write(f"{PROG}: {message}\n")
