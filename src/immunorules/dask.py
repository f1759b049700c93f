"""Dask: evaluate a Dask DataFrame partition by partition, with the same columns as
:func:`immunorules.evaluate_frame`.

An integration module: it imports the core, and nothing in the core imports it (nor Dask). The
knowledge base travels to the workers by pickle, which carries its rules and is rebuilt once per
worker process, so any number of tasks may carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dask.base import normalize_token

from ._api.knowledge_base import KnowledgeBase
from ._evaluate.frame import evaluate_frame

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["evaluate"]


def evaluate(
    ddf: dd.DataFrame,
    kb: KnowledgeBase | None = None,
    *,
    id_columns: str | Sequence[str] | None = None,
) -> dd.DataFrame:
    """Evaluate every row of ``ddf`` (one profile per row) with ``kb`` (the bundled knowledge
    base by default), lazily, one partition at a time: a Dask DataFrame with the columns of
    :func:`immunorules.evaluate_frame`, its partitions and index those of ``ddf``."""
    if kb is None:
        from ._api.functions import bundled

        kb = bundled()
    meta = evaluate_frame(ddf._meta, kb, id_columns=id_columns)  # checks the columns now
    frame: Any = ddf  # Dask's own annotations leave map_partitions untyped
    found: dd.DataFrame = frame.map_partitions(_partition, kb, id_columns, meta=meta)
    return found


def _partition(frame: Any, kb: KnowledgeBase, id_columns: Any) -> Any:
    return evaluate_frame(frame, kb, id_columns=id_columns)


def _token(kb: KnowledgeBase) -> tuple[str, str, str]:
    """Dask names tasks by their arguments: a knowledge base is its rules and engine."""
    return ("immunorules.KnowledgeBase", kb.fingerprint, kb.engine)


_register: Any = normalize_token.register
_register(KnowledgeBase)(_token)
