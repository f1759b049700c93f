"""The feedback endpoint's records: what the user did with each card, appended to a JSON Lines
file, one line per feedback item.

A line holds ids and codes only: the service, the card's uuid, the outcome and its time, the ids
of accepted suggestions, the override reason's coding, the issuer of the caller's token, the
knowledge base behind the card (name, version, fingerprint), and the time received. An
override's free-text ``userComment`` may hold anything, patient data included, so it is never
written: the line says only whether there was one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._cards import OVERRIDE_REASONS, OVERRIDE_SYSTEM
from ._hooks import RequestProblem
from ._issued import IssuedCards

__all__ = ["FeedbackLog", "feedback_lines"]

_OUTCOMES = ("accepted", "overridden")
_OUR_CODES = frozenset(key for key, _ in OVERRIDE_REASONS)
#: The most feedback items one request may carry.
MAX_ITEMS = 1000


def _bad(message: str) -> RequestProblem:
    return RequestProblem(400, "bad_feedback", message)


def _text(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _coding(value: Any, where: str) -> dict[str, str]:
    """An override reason's Coding: ``code`` required, ``system`` and ``display`` optional."""
    if not isinstance(value, dict) or not isinstance(value.get("code"), str):
        raise _bad(f"{where} must be a Coding with a 'code'")
    for key in ("system", "display"):
        if key in value and not isinstance(value[key], str):
            raise _bad(f"{where}.{key} must be a string")
    return {
        key: text
        for key in ("system", "code", "display")
        if (text := _text(value.get(key))) is not None
    }


def _item(
    service: str,
    item: Any,
    where: str,
    issued: IssuedCards | None,
    knowledge_base: Mapping[str, str],
) -> dict[str, Any]:
    """The log line of one feedback item, checked against the spec's invariants and, when the
    card is remembered, against what it offered."""
    if not isinstance(item, dict):
        raise _bad(f"{where} must be an object")
    card, outcome, when = item.get("card"), item.get("outcome"), item.get("outcomeTimestamp")
    if not isinstance(card, str) or not card:
        raise _bad(f"{where}.card is required (the card's uuid)")
    if outcome not in _OUTCOMES:
        raise _bad(f"{where}.outcome must be 'accepted' or 'overridden'")
    if not isinstance(when, str):
        raise _bad(f"{where}.outcomeTimestamp is required (an ISO 8601 time)")
    accepted = item.get("acceptedSuggestions")
    if accepted is not None and (
        not isinstance(accepted, list)
        or not all(isinstance(s, dict) and isinstance(s.get("id"), str) for s in accepted)
    ):
        raise _bad(f"{where}.acceptedSuggestions must be an array of objects with an 'id'")
    reason = item.get("overrideReason")
    if outcome == "accepted":
        if not accepted:
            raise _bad(f"{where}: an accepted outcome needs acceptedSuggestions")
        if reason is not None:
            raise _bad(f"{where}: overrideReason goes only with the outcome 'overridden'")
    elif accepted:
        raise _bad(f"{where}: acceptedSuggestions go only with the outcome 'accepted'")
    offered = issued.get(card) if issued is not None else None
    if offered is not None and offered.service != service:
        raise _bad(f"{where}.card was given by another service ({offered.service})")
    line: dict[str, Any] = {
        "received": "",
        "service": service,
        "issuer": None,
        "card": card[:200],
        "cardKnown": offered is not None,
        "outcome": outcome,
        "outcomeTimestamp": when[:64],
        "knowledgeBase": dict(offered.knowledge_base if offered else knowledge_base),
    }
    if accepted:
        ids = [s["id"] for s in accepted]
        if offered is not None:
            unknown = [i for i in ids if i not in offered.suggestions]
            if unknown:
                raise _bad(f"{where}.acceptedSuggestions names a suggestion the card did not offer")
        line["acceptedSuggestions"] = [i[:200] for i in ids]
    if reason is not None:
        if not isinstance(reason, dict):
            raise _bad(f"{where}.overrideReason must be an object")
        comment = reason.get("userComment")
        if comment is not None and not isinstance(comment, str):
            raise _bad(f"{where}.overrideReason.userComment must be a string")
        if reason.get("reason") is not None:
            coding = _coding(reason["reason"], f"{where}.overrideReason.reason")
            ours = coding.get("system") == OVERRIDE_SYSTEM
            pair = (coding.get("system", ""), coding["code"])
            if ours and (
                (offered is not None and pair not in offered.override_reasons)
                or coding["code"] not in _OUR_CODES
            ):
                raise _bad(f"{where}.overrideReason.reason is not one the card offered")
            line["overrideReason"] = coding
            # A client may add reasons of its own (the spec allows it): recorded as such.
            line["overrideReasonOffered"] = ours
        line["userCommentGiven"] = isinstance(comment, str)
    return line


def feedback_lines(
    service: str,
    body: Any,
    issuer: str | None,
    *,
    issued: IssuedCards | None = None,
    knowledge_base: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One record per feedback item of a request; :class:`RequestProblem` (400) for a request
    that is not ``{"feedback": [...]}`` with a ``card``, an ``outcome`` and an
    ``outcomeTimestamp`` in every item, or that breaks the spec's rules: ``acceptedSuggestions``
    only (and always) with the outcome ``accepted``, ``overrideReason`` only with
    ``overridden``; and, for a card this process remembers (``issued``), a suggestion or an
    override reason of this service's code system that the card did not offer, or a card of
    another service. A reason of another code system is the client's own (the spec lets clients
    add reasons) and is recorded as not offered. Each record carries the knowledge base behind
    the card (``knowledge_base`` when the card is not remembered)."""
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
        line = _item(service, item, f"feedback[{number}]", issued, knowledge_base or {})
        line["received"] = received
        line["issuer"] = issuer
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
