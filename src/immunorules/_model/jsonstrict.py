"""Strict JSON: what every reader of JSON input (the command line, the CDS Hooks service, FHIR
records) accepts, so that one text means the same everywhere.

Refused: an object with a key twice (``json`` would silently keep the last value, while other
readers keep the first), ``NaN`` and ``Infinity`` (not JSON), nesting too deep for the parser, and
optionally a ``\\uD800``-style escape of half a surrogate pair (no Unicode text, and no UTF-8
file or log line, can hold one). This module only parses text; it never reads files or decides
what a value means.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .._errors import shown

__all__ = ["NestedTooDeeply", "StrictJSONError", "loads"]

#: An escaped surrogate code unit: the only way JSON text can make a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class StrictJSONError(ValueError):
    """Valid JSON syntax that strict JSON refuses; the message names what (a short, safe
    rendering of a duplicated key, never the value)."""


class NestedTooDeeply(StrictJSONError):
    """JSON nested deeper than the parser can follow."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) < len(pairs):  # rare: only then look for the key, in Python
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJSONError(f"the key {shown(key)} appears twice")
            seen.add(key)
    return data


def _no_constants(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a JSON value")


def _lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads(text: str | bytes | bytearray, *, lone_surrogates: bool = True) -> Any:
    """``text`` (a string, or UTF-8 bytes) as strict JSON.

    ``json.JSONDecodeError`` for text that is not JSON; :class:`StrictJSONError` (a
    ``ValueError``) for a key that appears twice in one object, ``NaN`` or ``Infinity``, nesting
    too deep to read, or, with ``lone_surrogates=False``, a string holding half a surrogate pair;
    ``UnicodeDecodeError`` (a ``ValueError``) for bytes that are not UTF-8.
    """
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RecursionError:
        raise NestedTooDeeply("it is nested too deeply") from None
    if not lone_surrogates:
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
        if _SURROGATE_ESCAPE.search(raw) and _lone_surrogate(data):
            raise StrictJSONError("a string holds half a surrogate pair (not Unicode text)")
    return data
