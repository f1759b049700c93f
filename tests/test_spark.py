"""immunorules.spark on a real local SparkSession (local[2]); skipped only without Java."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
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

ROOT = Path(__file__).resolve().parents[1]


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


_WORKER_CHECK = """
import sys
import pyarrow as pa
from pyspark.sql import SparkSession
from immunorules.spark import evaluate

session = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.driver.memory", "512m")
    .getOrCreate()
)
session.sparkContext.setLogLevel("OFF")
sdf = session.createDataFrame(pa.table({"immune_activity": ["overactive"]}))
print(evaluate(sdf).count())
session.stop()
"""


def test_local_workers_run_the_calling_interpreter(tmp_path: Path) -> None:
    """In local mode with no PYSPARK_PYTHON, the workers run this interpreter, not whatever
    ``python3`` the PATH finds first (here one that does not work at all), so Spark works from
    a virtual environment that is not activated."""
    fake = tmp_path / "bin" / "python3"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'the wrong python3' >&2\nexit 3\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_")}
    env["PATH"] = f"{fake.parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", _WORKER_CHECK],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "1"
