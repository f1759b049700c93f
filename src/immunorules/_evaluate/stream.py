"""Streaming evaluation: results for any number of profiles in bounded memory.

:meth:`KnowledgeBase.iter_evaluate` reads its input a batch at a time, evaluates the batch with
``evaluate_many`` (so repeated profiles within a batch are evaluated once) and yields its results
before it reads the next batch. Nothing is kept across batches but the knowledge base's own
bounded caches: memory depends on the batch size, never on how many profiles pass through.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

from .._errors import ProfileError, ProfileProblem
from .._model.profile import ConditionProfile
from .assume import Assume, assumptions

if TYPE_CHECKING:
    from .._model.result import Result
    from .protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["iter_evaluate"]


def iter_evaluate(
    kb: KnowledgeBase,
    profiles: Iterable[ConditionProfile | Mapping[str, Any]],
    *,
    batch_size: int = 10_000,
    errors: Literal["raise", "collect"] = "raise",
    depends_on: bool = True,
    assume: Assume = None,
) -> Iterator[Result | ProfileError]:
    """See :meth:`KnowledgeBase.iter_evaluate`."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', not {errors!r}")
    if isinstance(profiles, Mapping | ConditionProfile):
        raise TypeError("iter_evaluate takes an iterable of profiles; use evaluate for one")
    assumptions(kb.schema, assume)  # a bad policy fails now, not at the first batch
    options = {"depends_on": depends_on, "assume": assume}
    return _stream(kb, iter(profiles), batch_size, errors == "raise", options)


def _stream(
    kb: KnowledgeBase,
    items: Iterator[Any],
    batch_size: int,
    stop: bool,
    options: dict[str, Any],
) -> Iterator[Result | ProfileError]:
    start = 0
    while True:
        batch = list(islice(items, batch_size))
        if not batch:
            return
        outcomes = kb.evaluate_many(batch, errors="collect", **options)
        del batch
        for offset, outcome in enumerate(outcomes):
            if stop and isinstance(outcome, ProfileError):
                raise ProfileError(
                    ProfileProblem(
                        f"[{start + offset}]" + ("" if p.path == "$" else f".{p.path}"), p.message
                    )
                    for p in outcome.problems
                )
            yield outcome
        start += len(outcomes)
