"""Checks on the paths a command is given, before it reads or writes anything: an output that
is one of its inputs (by another spelling, a symbolic link or a hard link) is refused, since
writing it would replace the input with the answer.

This module imports only the standard library, and never creates, opens or changes a file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .context import CliError

__all__ = ["refuse_output_over_input"]


def refuse_output_over_input(source: Path, target: Path, *, what: str = "the cohort file") -> None:
    """Raise :class:`CliError` (exit 2) when ``target`` is the file ``source`` (also through
    ``..``, a symbolic link on either side or a hard link)."""
    try:
        same = os.path.samefile(source, target)
    except (OSError, ValueError):  # OUT does not exist yet (or cannot be looked at): not IN
        same = False
    if same:
        raise CliError(
            f"OUT {str(target)!r} is {what} itself ({str(source)!r}); the answers would replace "
            "it. Give OUT another file name."
        )
