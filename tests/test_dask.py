"""immunorules.dask on a real dask.distributed LocalCluster with two worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import immunorules as ir

from .cohort_rows import cohort
from .conftest import require

pd = require("pandas")
dd = require("dask.dataframe")
distributed = require("distributed")

from immunorules.dask import evaluate  # noqa: E402 - after the skips


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as connected:
        yield connected


@pytest.mark.parametrize("engine", ["native", "durable"])
def test_the_same_rows_as_evaluate_frame(client: Any, engine: str) -> None:
    kb = ir.load_rules(engine=engine)  # type: ignore[arg-type]
    frame = pd.DataFrame(cohort(3_000))
    ddf = dd.from_pandas(frame, npartitions=6)
    lazy: Any = evaluate(ddf, kb)
    assert list(lazy.columns) == list(kb.evaluate_frame(frame.head(0)).columns)
    found = lazy.compute()
    workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2  # two worker processes did the work
    expected = kb.evaluate_frame(ddf.compute())  # the frame as Dask holds it (its dtypes)
    assert expected["error"].notna().sum() > 50  # invalid rows are in there
    assert expected["fired_rules"].tolist() == kb.evaluate_frame(frame)["fired_rules"].tolist()
    pd.testing.assert_frame_equal(found, expected)


def test_id_columns_and_the_bundled_default(client: Any) -> None:
    frame = pd.DataFrame(cohort(200)).assign(site="north")
    with pytest.raises(ir.ProfileError, match="site"):  # checked before anything runs
        evaluate(dd.from_pandas(frame, npartitions=2), id_columns=["patient_id"])
    ddf = dd.from_pandas(frame.drop(columns="site"), npartitions=2)
    lazy: Any = evaluate(ddf)
    pd.testing.assert_frame_equal(lazy.compute(), ir.evaluate_frame(ddf.compute()))
