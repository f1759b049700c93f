"""Answering each profile a source holds, for the commands that answer profiles (``evaluate``,
``explain``): one JSON profile, or JSON Lines answered line by line as they are read, each answer
written at once. A line that is not a valid profile is reported on standard error by line number
and skipped (exit code 1); the other lines are still answered.

This module drives reading and writing; it never decides what an answer says (the command's
``answer`` does) or how it looks (the command's renderers do).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import knowledge
from .context import CliError, Context
from .inputs import Item, checked, opened, profiles
from .options import EXAMPLE_PROFILE

if TYPE_CHECKING:
    from .._model.profile import ConditionProfile
    from .knowledge import KnowledgeBase

__all__ = ["SHOWN_BAD_LINES", "Renderers", "answer_each"]

#: How many bad lines of a JSON Lines input are reported one by one (the rest are counted).
SHOWN_BAD_LINES = 100


@dataclass(frozen=True, kw_only=True)
class Renderers:
    """How a command's answers look in each format (``json`` takes ``indent=``)."""

    text: Callable[[Any], str]
    markdown: Callable[[Any], str]
    json: Callable[..., str]


def _heading(index: int, label: str, fmt: str) -> str:
    if fmt == "markdown":
        return f"## Profile {index} ({label})\n"
    return f"{'=' * 100}\nProfile {index} ({label})\n{'=' * 100}"


def answer_each(
    args: argparse.Namespace,
    ctx: Context,
    answer: Callable[[KnowledgeBase, ConditionProfile], Any],
    renderers: Renderers,
) -> int:
    """Answer the profile ``args.profile`` names, or each line of JSON Lines as it is read,
    rendered in ``args.format``; returns the exit code."""
    with opened(args.profile, ctx.stdin) as (name, stream):
        json_lines, items = profiles(name, stream)
        render: Callable[[Any], str] = {
            "text": renderers.text,
            "markdown": renderers.markdown,
            "json": lambda a: renderers.json(a, indent=None if json_lines else 2),
        }[args.format]
        if not json_lines:
            ((label, data),) = items
            if isinstance(data, list):
                raise CliError(
                    f"{name} holds a JSON array, not an object. A profile is a JSON object such "
                    f"as {EXAMPLE_PROFILE}; for many profiles use JSON Lines (one object per "
                    "line, e.g. a .jsonl file)."
                )
            kb = knowledge.load(args)
            profile = checked(label, data, kb)
            ctx.out.write(render(answer(kb, profile)) + "\n")
            return 0
        kb = knowledge.load(args)  # before the first line is read: rules that do not load end it
        return _answer_lines(args.format, ctx, name, items, kb, lambda p: render(answer(kb, p)))


def _answer_lines(
    fmt: str,
    ctx: Context,
    name: str,
    items: Iterator[Item],
    kb: KnowledgeBase,
    rendered: Callable[[ConditionProfile], str],
) -> int:
    separator = {"json": "", "text": "\n", "markdown": "\n---\n\n"}[fmt]
    good = bad = 0
    for label, data in items:
        try:
            profile = checked(label, data, kb)
        except CliError as exc:
            bad += 1
            if bad <= SHOWN_BAD_LINES:
                ctx.report(str(exc))
            continue
        good += 1
        text = rendered(profile)
        if fmt != "json":
            text = f"{separator if good > 1 else ''}{_heading(good, label, fmt)}\n{text}"
        ctx.out.write(text + "\n")
        ctx.out.flush()  # each answer as soon as it is made, for a reader down a pipe
        if ctx.out.gone:
            break  # nobody reads the rest
    if not good and not bad:
        raise CliError(f"{name} holds no profile (every line is blank).")
    if bad:
        hidden = bad - SHOWN_BAD_LINES
        more = f" ({hidden:,} not listed above)" if hidden > 0 else ""
        ctx.report(
            f"{bad:,} of {good + bad:,} lines of {name} are not valid profiles{more}; "
            "they have no result in the output."
        )
        return 1
    return 0
