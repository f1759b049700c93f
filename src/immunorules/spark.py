"""Spark: evaluate a Spark DataFrame with ``mapInArrow``, with the same columns as
:func:`immunorules.evaluate_frame`.

An integration module: it imports the core, and nothing in the core imports it (nor PySpark).
Each Arrow batch Spark hands a Python worker is evaluated column by column, as
``evaluate_frame`` evaluates a pyarrow table. The knowledge base travels to the executors by
pickle, which carries its rules and is rebuilt once per Python worker.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql.types import ArrayType, BooleanType, StringType, StructField, StructType

from ._api.knowledge_base import KnowledgeBase
from ._evaluate.frame import _split, evaluate_arrow

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["evaluate"]

_LISTS = frozenset({"avoided", "advisories", "fired_rules", "unstated", "depends_on"})


def evaluate(
    sdf: DataFrame,
    kb: KnowledgeBase | None = None,
    *,
    id_columns: str | Sequence[str] | None = None,
) -> DataFrame:
    """Evaluate every row of ``sdf`` (one profile per row) with ``kb`` (the bundled knowledge
    base by default), lazily: a Spark DataFrame with the columns of
    :func:`immunorules.evaluate_frame` (lists as arrays of strings, tiers as strings), one row
    per input row."""
    if kb is None:
        from ._api.functions import bundled

        kb = bundled()
    _, ids = _split(kb.schema, sdf.columns, id_columns)  # checks the columns now
    fields = [sdf.schema[name] for name in ids]
    strings = ArrayType(StringType())
    fields += [StructField("covered", BooleanType()), StructField("conflict", BooleanType())]
    fields += [StructField(f"tier_{c}", StringType()) for c in kb.schema.categories]
    fields += [
        StructField(name, strings)
        for name in ("avoided", "advisories", "fired_rules", "unstated", "depends_on")
    ]
    fields.append(StructField("error", StringType()))
    knowledge_base = kb

    def evaluate_batches(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        plain = pa.list_(pa.string())  # Spark's array<string>
        for batch in batches:
            answers = evaluate_arrow(knowledge_base, batch, ids)
            columns = [
                column.cast(plain) if name in _LISTS else column
                for name, column in zip(answers.schema.names, answers.columns, strict=True)
            ]
            yield pa.RecordBatch.from_arrays(columns, names=answers.schema.names)

    return sdf.mapInArrow(evaluate_batches, StructType(fields))
