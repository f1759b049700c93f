"""Strict JSON for the command line: no duplicate keys, no NaN or Infinity, and a value nested too
deeply to read is a ``ValueError`` (bad input), never a ``RecursionError``."""

from __future__ import annotations

import json
from typing import Any

from .._errors import shown

__all__ = ["loads"]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"the key {shown(key)} appears twice")
        data[key] = value
    return data


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def loads(text: str) -> Any:
    """``text`` as strict JSON; ``json.JSONDecodeError`` or ``ValueError`` when it is not."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError(
            "it is nested too deeply (a profile is one flat JSON object of field values)"
        ) from None
