"""immunorules.spark on a real local SparkSession (local[2]); skipped only without Java."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import immunorules as ir

from .cohort_rows import cohort
from .conftest import require

# PySpark's own pandas check, which mapInArrow runs even though no pandas is involved here.
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")

require("pyspark")
pa = require("pyarrow")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java, and no java is on this machine", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402 - after the skips

from immunorules.spark import evaluate  # noqa: E402


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers run this interpreter
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("immunorules-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "500")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _rows(table: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return sorted(rows, key=lambda row: str(row["patient_id"]))


@pytest.mark.parametrize("engine", ["native", "durable"])
def test_the_same_rows_as_evaluate_frame(spark: Any, engine: str) -> None:
    kb = ir.load_rules(engine=engine)  # type: ignore[arg-type]
    columns = cohort(2_000)
    sdf = spark.createDataFrame(pa.table(columns)).repartition(3)
    found = evaluate(sdf, kb)
    expected = kb.evaluate_frame(pa.table(columns))
    assert found.columns == expected.column_names
    got = _rows(found.toArrow())
    want = _rows(expected)
    assert len(got) == len(want) == 2_000
    assert sum(row["error"] is not None for row in want) > 50
    assert got == want


def test_id_columns_are_checked_before_running(spark: Any) -> None:
    sdf = spark.createDataFrame(pa.table({**cohort(10), "site": ["north"] * 10}))
    with pytest.raises(ir.ProfileError, match="site"):
        evaluate(sdf, id_columns="patient_id")
    found = evaluate(sdf)  # the bundled rules; site and patient_id passed through
    assert found.columns[:2] == ["patient_id", "site"]
    assert found.count() == 10
