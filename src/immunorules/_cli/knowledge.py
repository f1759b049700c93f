"""The knowledge base a command works with: loaded from ``--rules``/``--engine`` (the bundled
rules by default), with rules that do not load or an engine that cannot run turned into one
:class:`~.context.CliError` paragraph.

This is the command line's only import of the knowledge-base front door (``load_rules``,
``KnowledgeBase``, the version), so that where they live is said in one place. It imports the
library only when a command runs, never at import time.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import EngineError, RuleFileError, listed_problems, shown
from .context import CliError, clip

if TYPE_CHECKING:
    from .._api.knowledge_base import KnowledgeBase as KnowledgeBase

__all__ = ["check_paths", "exists", "load", "reload", "rule_problems", "version"]

_ENGINE_ARGUMENT = re.compile(r"\bengine=(['\"])(\w+)\1")


def version() -> str:
    """The library's version."""
    from .._api.knowledge_base import __version__

    return str(__version__)


def exists(path: Path) -> bool:
    """Whether ``path`` exists (``False`` for a name the file system cannot even hold)."""
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system
        return False


def check_paths(paths: list[str]) -> None:
    """:class:`CliError` for the first rules path that does not exist."""
    for item in paths:
        if not exists(Path(item)):
            raise CliError(f"the rules path {shown(item, 200)} does not exist.")


def load(args: argparse.Namespace) -> KnowledgeBase:
    """The knowledge base of ``args.rules`` (the bundled one when none) with ``args.engine``."""
    from .._api.knowledge_base import load_rules

    paths = args.rules
    if paths:
        check_paths(paths)
    try:
        return load_rules(paths if paths else None, engine=args.engine)
    except RuleFileError as exc:
        raise CliError(rule_problems(exc, "the rule files could not be loaded")) from None
    except EngineError as exc:
        # The library's wording names its argument (engine='native'); here it is an option.
        message = _ENGINE_ARGUMENT.sub(r"--engine \2", str(exc))
        raise CliError(f"{message}.") from None


def reload(args: argparse.Namespace) -> KnowledgeBase:
    """The knowledge base of ``args`` loaded again, raising the library's own errors
    (:class:`RuleFileError` listing every problem) for the caller to log."""
    from .._api.knowledge_base import load_rules

    return load_rules(args.rules if args.rules else None, engine=args.engine)


def rule_problems(exc: RuleFileError, head: str) -> str:
    """``head`` and the number of problems, then each problem on its own (clipped) line."""
    count = len(exc.problems)
    noun = "problem" if count == 1 else "problems"
    listed = "\n".join(clip(line) for line in listed_problems(exc.problems))
    return f"{head} ({count:,} {noun}):\n{listed}"
