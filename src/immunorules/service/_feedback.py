"""The feedback endpoint's records: what the user did with each card, appended to a JSON Lines
file, one line per feedback item.

A line holds ids and codes only: the service, the card's uuid, the outcome and its time, the ids
of accepted suggestions, the override reason's coding, the issuer of the caller's token, and the
time received. An override's free-text ``userComment`` may hold anything, patient data included,
so it is never written: the line says only whether there was one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._hooks import RequestProblem

__all__ = ["FeedbackLog", "feedback_lines"]

_OUTCOMES = ("accepted", "overridden")
#: The most feedback items one request may carry.
MAX_ITEMS = 1000


def _bad(message: str) -> RequestProblem:
    return RequestProblem(400, "bad_feedback", message)


def _text(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def feedback_lines(service: str, body: Any, issuer: str | None) -> list[dict[str, Any]]:
    """One record per feedback item of a request; :class:`RequestProblem` (400) for a request
    that is not ``{"feedback": [...]}`` with a ``card``, an ``outcome`` and an
    ``outcomeTimestamp`` in every item."""
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list):
        raise _bad("the body must be an object with a 'feedback' array")
    items = body["feedback"]
    if not items:
        raise _bad("'feedback' is empty")
    if len(items) > MAX_ITEMS:
        raise _bad(f"more than {MAX_ITEMS} feedback items")
    received = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    lines = []
    for number, item in enumerate(items):
        where = f"feedback[{number}]"
        if not isinstance(item, dict):
            raise _bad(f"{where} must be an object")
        card, outcome, when = item.get("card"), item.get("outcome"), item.get("outcomeTimestamp")
        if not isinstance(card, str) or not card:
            raise _bad(f"{where}.card is required (the card's uuid)")
        if outcome not in _OUTCOMES:
            raise _bad(f"{where}.outcome must be 'accepted' or 'overridden'")
        if not isinstance(when, str):
            raise _bad(f"{where}.outcomeTimestamp is required (an ISO 8601 time)")
        accepted = item.get("acceptedSuggestions", [])
        if not isinstance(accepted, list) or not all(
            isinstance(s, dict) and isinstance(s.get("id"), str) for s in accepted
        ):
            raise _bad(f"{where}.acceptedSuggestions must be an array of objects with an 'id'")
        line: dict[str, Any] = {
            "received": received,
            "service": service,
            "issuer": issuer,
            "card": card[:200],
            "outcome": outcome,
            "outcomeTimestamp": when[:64],
        }
        if accepted:
            line["acceptedSuggestions"] = [s["id"][:200] for s in accepted]
        reason = item.get("overrideReason")
        if isinstance(reason, dict):
            coding = reason.get("reason")
            if isinstance(coding, dict):
                line["overrideReason"] = {
                    key: _text(coding.get(key))
                    for key in ("system", "code", "display")
                    if isinstance(coding.get(key), str)
                }
            line["userCommentGiven"] = isinstance(reason.get("userComment"), str)
        lines.append(line)
    return lines


#: Characters ``str.splitlines`` (and many log tools) take for line ends that JSON leaves raw.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_ESCAPES = str.maketrans(_LINE_BREAKS)


def _line(record: dict[str, Any]) -> str:
    """``record`` as one JSON line: every line break inside a string escaped."""
    return json.dumps(record, ensure_ascii=False).translate(_ESCAPES) + "\n"


class FeedbackLog:
    """An append-only JSON Lines file (created with its folder when first written).

    The records of one request are written with one ``os.write``; when that fails or writes
    only part (a full disk), the file is cut back to where it was, so it never holds a partial
    line, and the ``OSError`` is raised."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, lines: list[dict[str, Any]]) -> None:
        data = "".join(_line(line) for line in lines).encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                start = os.fstat(fd).st_size
                try:
                    written = os.write(fd, data)
                    if written != len(data):
                        raise OSError(errno.ENOSPC, f"only {written} of {len(data)} bytes written")
                    os.fsync(fd)
                except OSError:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, start)
                    raise
            finally:
                os.close(fd)
