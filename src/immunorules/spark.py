"""Spark: evaluate a Spark DataFrame with ``mapInArrow``, with the same columns as
:func:`immunorules.evaluate_frame`.

An integration module: it imports the core, and nothing in the core imports it (nor PySpark).
Each Arrow batch Spark hands a Python worker is evaluated column by column, as
``evaluate_frame`` evaluates a pyarrow table. The knowledge base travels to the executors by
pickle, which carries its rules and is rebuilt once per Python worker.

In local mode (``local``, ``local[n]``) with neither ``PYSPARK_PYTHON`` nor
``spark.pyspark.python`` set, the Python workers run the calling interpreter
(``sys.executable``), so a virtual environment works without being activated; PySpark alone
would start whatever ``python3`` comes first on the PATH. On a cluster nothing is changed: the
driver's interpreter path means nothing on the executors, so set ``PYSPARK_PYTHON`` there. This
module never changes the environment or another function's interpreter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pyspark.sql.types import ArrayType, BooleanType, StringType, StructField, StructType

from ._api.knowledge_base import KnowledgeBase
from ._evaluate.frame import _split, evaluate_arrow

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["evaluate"]

_LISTS = frozenset({"avoided", "advisories", "fired_rules", "unstated", "depends_on"})
_PYSPARK_DEFAULT = "python3"  # the worker PySpark starts when nothing says otherwise


@contextmanager
def _calling_interpreter(sdf: DataFrame) -> Iterator[None]:
    """While the Python function is built, point a local session's workers at ``sys.executable``
    when nothing chose their interpreter (the function keeps the interpreter it was built with)."""
    try:
        context = sdf.sparkSession.sparkContext
        chosen = bool(os.environ.get("PYSPARK_PYTHON")) or context.getConf().contains(
            "spark.pyspark.python"
        )
        local = str(context.master).startswith("local")
    except Exception:  # Spark Connect: no SparkContext here, the server decides
        yield
        return
    previous = context.pythonExec
    if chosen or not local or previous != _PYSPARK_DEFAULT or not sys.executable:
        yield
        return
    context.pythonExec = sys.executable
    try:
        yield
    finally:
        context.pythonExec = previous


def evaluate(
    sdf: DataFrame,
    kb: KnowledgeBase | None = None,
    *,
    id_columns: str | Sequence[str] | None = None,
) -> DataFrame:
    """Evaluate every row of ``sdf`` (one profile per row) with ``kb`` (the bundled knowledge
    base by default), lazily: a Spark DataFrame with the columns of
    :func:`immunorules.evaluate_frame` (lists as arrays of strings, tiers as strings), one row
    per input row.

    In local mode with no ``PYSPARK_PYTHON`` (nor ``spark.pyspark.python``) the Python workers
    run this interpreter; on a cluster, set ``PYSPARK_PYTHON`` to the executors' interpreter."""
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

    with _calling_interpreter(sdf):
        return sdf.mapInArrow(evaluate_batches, StructType(fields))
