"""Column types that libraries write and that evaluation must read like their plain values:
polars Categorical and Enum and Arrow dictionaries with unsigned indices (what polars writes to
Parquet), pandas sparse columns, and polars 128-bit integers (narrowed when every value fits,
else a typed error naming the column). Each gives the answers of the same table with plain
columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import immunorules as ir

from .conftest import require

pd = require("pandas")
pa = require("pyarrow")
pl = require("polars")

CONDITIONS = ["rheumatoid_arthritis", "multiple_sclerosis", "psoriasis", "melanoma"]


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def _answers(out: Any) -> list[dict[str, Any]]:
    """The answer columns as plain Python rows, whatever library made them."""
    if isinstance(out, pd.DataFrame):
        rows = out.astype(object).where(out.notna(), None).to_dict("records")
    elif isinstance(out, pa.Table | pa.RecordBatch):
        rows = out.to_pylist()
    else:
        rows = out.to_dicts()
    return [{k: tuple(v) if isinstance(v, list | tuple) else v for k, v in r.items()} for r in rows]


rows = st.lists(
    st.tuples(
        st.sampled_from(CONDITIONS), st.none() | st.integers(0, 3), st.none() | st.booleans()
    ),
    min_size=1,
    max_size=12,
)


def _plain(data: list[tuple[str, int | None, bool | None]]) -> dict[str, list[Any]]:
    return {
        "immune_activity": ["overactive"] * len(data),
        "condition": [c for c, _, _ in data],
        "prior_lines_of_therapy": [n for _, n, _ in data],
        "pregnant": [p for _, _, p in data],
    }


def _polars_categorical(columns: dict[str, list[Any]]) -> Any:
    return pl.DataFrame(columns).with_columns(pl.col("condition").cast(pl.Categorical))


def _polars_enum(columns: dict[str, list[Any]]) -> Any:
    return pl.DataFrame(columns).with_columns(pl.col("condition").cast(pl.Enum(CONDITIONS)))


def _arrow_unsigned(columns: dict[str, list[Any]]) -> Any:
    table = pa.table(columns)
    dictionary = pa.array(columns["condition"]).dictionary_encode()
    unsigned = dictionary.cast(pa.dictionary(pa.uint32(), pa.string()))
    return table.set_column(table.column_names.index("condition"), "condition", unsigned)


def _pandas_sparse(columns: dict[str, list[Any]]) -> Any:
    frame = pd.DataFrame(columns).astype({"prior_lines_of_therapy": "Int64"})
    frame["condition"] = pd.arrays.SparseArray(columns["condition"])
    frame["pregnant"] = pd.arrays.SparseArray(
        pd.array(columns["pregnant"], dtype="boolean"), fill_value=False
    )
    return frame


def _polars_int128(columns: dict[str, list[Any]]) -> Any:
    return pl.DataFrame(columns).with_columns(pl.col("prior_lines_of_therapy").cast(pl.Int128))


MAKERS: dict[str, Callable[[dict[str, list[Any]]], Any]] = {
    "polars Categorical": _polars_categorical,
    "polars Enum": _polars_enum,
    "Arrow dictionary<uint32>": _arrow_unsigned,
    "pandas SparseArray": _pandas_sparse,
    "polars Int128": _polars_int128,
}


@pytest.mark.parametrize("kind", list(MAKERS))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=rows)
def test_library_column_types_read_like_plain_columns(
    kb: ir.KnowledgeBase, kind: str, data: list[tuple[str, int | None, bool | None]]
) -> None:
    columns = _plain(data)
    plain = _answers(kb.evaluate_frame(pa.table(columns)))
    got = _answers(kb.evaluate_frame(MAKERS[kind](columns)))
    assert got == plain
    assert all(row["error"] is None for row in got)


@pytest.mark.parametrize("unsigned", [pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()])
def test_unsigned_dictionary_indices_with_nulls(kb: ir.KnowledgeBase, unsigned: Any) -> None:
    values = pa.array(["rheumatoid_arthritis", None, "psoriasis"]).dictionary_encode()
    table = pa.table(
        {
            "immune_activity": ["overactive"] * 3,
            "condition": values.cast(pa.dictionary(unsigned, pa.string())),
        }
    )
    plain = pa.table({"immune_activity": ["overactive"] * 3, "condition": values.cast(pa.string())})
    assert _answers(kb.evaluate_frame(table)) == _answers(kb.evaluate_frame(plain))


def test_a_128_bit_value_beyond_64_bits_is_a_typed_error_naming_the_column(
    kb: ir.KnowledgeBase,
) -> None:
    frame = pl.DataFrame(
        {"condition": ["rheumatoid_arthritis"] * 2, "prior_lines_of_therapy": [0, 2**70]},
        schema_overrides={"prior_lines_of_therapy": pl.Int128},
    )
    with pytest.raises(ir.ProfileError) as caught:
        kb.evaluate_frame(frame)
    assert [p.path for p in caught.value.problems] == ["prior_lines_of_therapy"]
    assert "64-bit" in str(caught.value)
