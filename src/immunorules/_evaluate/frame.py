"""Tables in, tables out: :func:`evaluate_frame` over pandas, pyarrow and polars tables.

One output row per input row, in order: the id columns passed through unchanged, then
``covered``, ``conflict``, one ``tier_<category>`` column per category, ``avoided``,
``advisories``, ``fired_rules``, ``unstated``, ``depends_on`` and ``error``. Columns are read
here and evaluated by :mod:`.columns`, which never builds a profile or a result per row; this
module only adapts each library's columns and builds the output columns from the distinct
answers. pandas, pyarrow, polars and numpy are imported when a table of theirs arrives, never
before.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Final

from .._errors import ProfileError, ProfileProblem
from .._model.profile import did_you_mean
from .._model.schema import Schema
from .answers import TIERS, Answers, answer
from .columns import MISSING, Column, NumericColumn, ObjectColumn, clean, evaluate_columns

if TYPE_CHECKING:
    from .protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["TIERS", "evaluate_arrow", "evaluate_frame", "evaluate_records", "frame_columns"]

#: The list columns, in order.
_LISTS: Final = ("avoided", "advisories", "fired_rules", "unstated", "depends_on")
#: Rows evaluated together: bounds the memory of the intermediate arrays, not the output.
CHUNK: Final = 1 << 20


def frame_columns(schema: Schema) -> tuple[str, ...]:
    """The columns :func:`evaluate_frame` adds after the id columns, in order."""
    return (
        "covered",
        "conflict",
        *(f"tier_{category}" for category in schema.categories),
        "avoided",
        "advisories",
        "fired_rules",
        "unstated",
        "depends_on",
        "error",
    )


def evaluate_frame(table: Any, kb: KnowledgeBase, *, id_columns: Any = None) -> Any:
    """Evaluate every row of ``table`` with ``kb`` into a table of the same kind: see
    :func:`immunorules.evaluate_frame`, which fills in the bundled knowledge base (this layer
    never loads it)."""
    module = type(table).__module__.split(".")[0]
    if module == "pandas" and type(table).__name__ == "DataFrame":
        return _pandas_frame(kb, table, id_columns)
    if module == "pyarrow" and type(table).__name__ in ("Table", "RecordBatch"):
        return evaluate_arrow(kb, table, id_columns)
    if module == "polars" and type(table).__name__ == "DataFrame":
        return _polars_frame(kb, table, id_columns)
    if module == "polars" and type(table).__name__ == "LazyFrame":
        raise TypeError("evaluate_frame takes a polars DataFrame: collect() the LazyFrame first")
    raise TypeError(
        "evaluate_frame takes a pandas DataFrame, a pyarrow Table or RecordBatch, or a polars "
        f"DataFrame, not {type(table).__name__}"
    )


# -- columns: which are profile fields, which are passed through ---------------------------------


def _split(schema: Schema, names: Sequence[Any], id_columns: Any) -> tuple[list[str], list[Any]]:
    """The profile-field columns and the id columns of a table with these column names."""
    duplicated = sorted({str(name) for name in names if list(names).count(name) > 1})
    if duplicated:
        raise ProfileError(ProfileProblem(name, "duplicate column") for name in duplicated)
    fields = schema.fields
    profile = [name for name in names if isinstance(name, str) and name in fields]
    if id_columns is None:
        ids = [name for name in names if name not in profile]
        for name in ids:
            hint = did_you_mean(name, list(fields))
            if hint:
                warnings.warn(
                    f"column {name!r} is not a profile field, so it is passed through as an id "
                    f"column{hint} (give id_columns to make unknown columns an error)",
                    UserWarning,
                    stacklevel=4,
                )
    else:
        ids = [id_columns] if isinstance(id_columns, str) else list(id_columns)
        absent = [name for name in ids if name not in names]
        if absent:
            raise ValueError(f"id columns not in the table: {', '.join(map(repr, absent))}")
        unknown = [name for name in names if name not in profile and name not in ids]
        if unknown:
            raise ProfileError(
                ProfileProblem(
                    str(name),
                    f"unknown column (not a profile field){did_you_mean(name, list(fields))}; "
                    "name it in id_columns to pass it through",
                )
                for name in unknown
            )
    clash = [name for name in ids if name in frame_columns(schema)]
    if clash:
        raise ValueError(
            f"id columns {', '.join(map(repr, clash))} have the names of result columns; "
            "rename them"
        )
    return profile, ids


def _evaluate_chunks(kb: KnowledgeBase, rows: int, read: Any) -> list[Answers]:
    """Evaluate ``rows`` rows a chunk at a time (``read(start, stop)`` gives a chunk's
    columns): the answers of each chunk, in order (one, empty, when there is no row)."""
    found = []
    for start in range(0, max(rows, 1), CHUNK):
        stop = min(rows, start + CHUNK)
        found.append(answer(kb, evaluate_columns(kb, read(start, stop), stop - start)))
    return found


def _errors(answers: Answers, rows: int) -> Any:
    import numpy as np

    cells = np.full(rows, None, dtype=object)
    for row, message in answers.errors.items():
        cells[row] = message
    return cells


# -- pandas ----------------------------------------------------------------------------------------


def _pandas_frame(kb: KnowledgeBase, frame: Any, id_columns: Any) -> Any:
    import numpy as np
    import pandas as pd

    profile, ids = _split(kb.schema, list(frame.columns), id_columns)
    series = [frame[name] for name in profile]
    fields = kb.schema.fields
    # A column of pandas' string dtype holds text: Dask (and pandas' future string inference)
    # turns an object column of booleans with gaps into "True" / "False" / <NA>. Such a column
    # of a boolean or integer field is read like CSV text.
    texts = {
        name
        for name, column in zip(profile, series, strict=True)
        if isinstance(column.dtype, pd.StringDtype) and fields[name].type in ("boolean", "integer")
    }

    def read(start: int, stop: int) -> dict[str, Column]:
        columns = {}
        for name, column in zip(profile, series, strict=True):
            found = _pandas_column(pd, np, column.iloc[start:stop])
            if name in texts and isinstance(found, _Factorized):
                found = _from_text(found, fields[name].type)
            columns[name] = found
        return columns

    chunks = _evaluate_chunks(kb, len(frame), read)

    def joined(pick: Any) -> Any:
        return np.concatenate([pick(chunk) for chunk in chunks])

    data: dict[str, Any] = {name: frame[name].array for name in ids}
    invalid = ~joined(lambda chunk: chunk.valid)
    data["covered"] = pd.arrays.BooleanArray(joined(lambda chunk: chunk.covered), invalid)
    data["conflict"] = pd.arrays.BooleanArray(joined(lambda chunk: chunk.conflict), invalid)
    for i, category in enumerate(kb.schema.categories):
        codes = joined(lambda chunk, i=i: chunk.tiers[i])
        data[f"tier_{category}"] = pd.Categorical.from_codes(codes, categories=TIERS)
    for name in _LISTS:
        data[name] = joined(lambda chunk, name=name: getattr(chunk, name).tuples())
    data["error"] = pd.array(joined(lambda chunk: _errors(chunk, len(chunk.valid))), "string")
    return pd.DataFrame(data, index=frame.index, columns=[*ids, *frame_columns(kb.schema)])


def _pandas_column(pd: Any, np: Any, series: Any) -> Column:
    """A pandas column as evaluation reads it."""
    dtype = series.dtype
    if isinstance(dtype, pd.SparseDtype):  # a sparse column reads as its dense values
        series = series.sparse.to_dense()
        dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64)
        return _Factorized(codes, [clean(v) for v in series.cat.categories.tolist()])
    kind = getattr(dtype, "kind", "O")
    if isinstance(dtype, np.dtype):
        if kind in "biuf":
            return NumericColumn(series.to_numpy(), None)
        if kind == "O":
            return _object_column(pd, series.to_numpy())
    elif kind in "biuf" and not isinstance(dtype, pd.ArrowDtype):  # nullable extension dtypes
        missing = series.isna().to_numpy()
        filler: Any = {"b": False, "f": np.nan}.get(kind, 0)
        values = series.to_numpy(dtype=dtype.numpy_dtype, na_value=filler)
        return NumericColumn(values, missing if missing.any() else None)
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except (TypeError, NotImplementedError):  # unhashable cells: lists (Arrow's among them)
        return ObjectColumn(series.to_numpy(dtype=object))
    return _Factorized(np.asarray(codes, dtype=np.int64), [clean(v) for v in list(uniques)])


_PLAIN: Final = frozenset({str, type(None)})


def _object_column(pd: Any, values: Any) -> Column:
    """An object array: hashed by pandas when no two cells can be equal in Python but apart in
    validation (``True`` and ``1``), else factorized exactly in Python."""
    import numpy as np

    types = set(map(type, values))
    booleans = {t for t in types if t is bool or t is np.bool_}
    numbers = {t for t in types - booleans if issubclass(t, int | float | np.number)}
    if types - _PLAIN - booleans - numbers or (booleans and numbers):
        return ObjectColumn(values)
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # pragma: no cover - every type here is hashable
        return ObjectColumn(values)
    return _Factorized(np.asarray(codes, dtype=np.int64), [clean(v) for v in list(uniques)])


class _Factorized:
    """A column already factorized: each row's position in ``uniques`` (-1: not given)."""

    def __init__(self, inverse: Any, uniques: list[Any]) -> None:
        self.inverse = inverse
        self.uniques = uniques

    def factorize(self) -> tuple[Any, list[Any]]:
        return self.inverse, self.uniques

    def numeric(self) -> None:
        return None

    def value(self, row: int) -> Any:
        code = int(self.inverse[row])
        return MISSING if code < 0 else self.uniques[code]


# -- pyarrow ---------------------------------------------------------------------------------------


def evaluate_arrow(kb: KnowledgeBase, table: Any, id_columns: Any, *, text: bool = False) -> Any:
    """:func:`evaluate_frame` for a pyarrow Table or RecordBatch. With ``text`` (CSV input), a
    string cell of an integer, boolean or set field is read as one: ``"3"`` (or ``"3.0"``),
    ``"true"`` / ``"false"`` (or ``1``/``0``, ``1.0``/``0.0``), members separated by ``|``;
    and a profile field's ``NaN``, ``NA``, ``N/A``, ``<NA>`` or ``null`` cell is not stated,
    like an empty one."""
    import pyarrow as pa

    profile, ids = _split(kb.schema, table.column_names, id_columns)
    fields = kb.schema.fields

    def read(start: int, stop: int) -> dict[str, Column]:
        part = table.slice(start, stop - start)
        columns = {}
        for name in profile:
            column = _arrow_column(pa, part.column(name))
            if text and isinstance(column, _Factorized):
                column = _from_text(column, fields[name].type)
            columns[name] = column
        return columns

    chunks = _evaluate_chunks(kb, table.num_rows, read)
    names = [*ids, *frame_columns(kb.schema)]
    built = [_arrow_answers(pa, chunk) for chunk in chunks]
    answers = [pa.chunked_array([part[i] for part in built]) for i in range(len(built[0]))]
    if isinstance(table, pa.RecordBatch):
        arrays = [table.column(name) for name in ids]
        arrays += [column.combine_chunks() for column in answers]
        return pa.RecordBatch.from_arrays(arrays, names=names)
    return pa.Table.from_arrays([table.column(name) for name in ids] + answers, names=names)


def _arrow_answers(pa: Any, answers: Answers) -> list[Any]:
    invalid = ~answers.valid
    tiers = pa.array(TIERS)
    out = [
        pa.array(answers.covered, mask=invalid),
        pa.array(answers.conflict, mask=invalid),
        *(
            pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), tiers).cast(pa.string())
            for codes in answers.tiers
        ),
    ]
    for name in _LISTS:
        lists = getattr(answers, name)
        # Each list holds codes into the dictionary of names (list<dictionary<int32, string>>):
        # no name is copied per row, and Parquet stores them dictionary-encoded anyway.
        offsets, codes = lists.per_row()
        dictionary = pa.array(lists.dictionary, pa.string())
        values = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), dictionary)
        out.append(
            pa.ListArray.from_arrays(
                pa.array(offsets, pa.int32()), values, mask=pa.array(lists.index < 0)
            )
        )
    if answers.errors:
        out.append(pa.array(_errors(answers, len(invalid)), pa.string()))
    else:
        out.append(pa.nulls(len(invalid), pa.string()))
    return out


def _arrow_column(pa: Any, column: Any) -> Column:
    """A pyarrow column (Array or ChunkedArray) as evaluation reads it."""
    import numpy as np
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = array.type
    if pa.types.is_null(kind):
        return _Factorized(np.full(len(array), -1, dtype=np.int64), [])
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
        missing = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else None
        filler = False if pa.types.is_boolean(kind) else 0
        values = array.fill_null(filler).to_numpy(zero_copy_only=False)
        return NumericColumn(values, missing)
    if pa.types.is_string_view(kind):
        array = array.cast(pa.large_string())
    if not pa.types.is_dictionary(array.type):
        try:
            array = pc.dictionary_encode(array)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):  # lists, structs, ...
            return ObjectColumn(array.to_pylist())
    # the indices may be unsigned (polars' Categorical and Enum are dictionary<uint32>): widen
    # them before -1 marks a null
    indices = array.indices.cast(pa.int64())
    inverse = indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return _Factorized(inverse, [clean(v) for v in array.dictionary.to_pylist()])


_INTEGER_TEXT: Final = re.compile(r"[+-]?[0-9]+(\.0*)?")
_BOOLEAN_TEXT: Final = {"true": True, "false": False, "1": True, "0": False, "1.0": True,
                        "0.0": False}  # fmt: skip
#: Text cells that mean not stated (beside an empty cell); never ``none``, a vocabulary value.
_NULL_TEXT: Final = frozenset({"nan", "na", "n/a", "<na>", "null"})


def _from_text(column: _Factorized, field_type: str) -> _Factorized:
    """A column of text cells (CSV) read as the field's type where the text says one."""
    uniques = []
    for value in column.uniques:
        if isinstance(value, str) and value.strip().lower() in _NULL_TEXT:
            value = MISSING
        elif isinstance(value, str):
            if field_type == "integer" and _INTEGER_TEXT.fullmatch(value.strip()):
                value = int(value.strip().split(".")[0])
            elif field_type == "boolean" and value.strip().lower() in _BOOLEAN_TEXT:
                value = _BOOLEAN_TEXT[value.strip().lower()]
            elif field_type == "set":
                value = [member.strip() for member in value.split("|") if member.strip()]
        uniques.append(value)
    return _Factorized(column.inverse, uniques)


# -- records (JSON Lines, FHIR) ------------------------------------------------------------------


def evaluate_records(
    kb: KnowledgeBase,
    records: Sequence[Any],
    id_columns: Sequence[str],
    refused: dict[int, str] | None = None,
    left_out: Collection[str] = (),
) -> Any:
    """A pyarrow RecordBatch like :func:`evaluate_frame`'s for parsed JSON values, one profile
    each: the ``id_columns`` keys are passed through (as Arrow infers them, or as JSON text
    when their values mix types), null is not stated (a key left out takes the field's
    default, as in ``evaluate``), and a value that is not an object or has
    a key that is neither a field nor an id column makes its row invalid, with the message
    ``evaluate`` gives, unless the key is one of ``left_out``. ``refused`` maps rows known to
    be invalid (e.g. not JSON) to their messages."""
    import json

    import pyarrow as pa

    fields = kb.schema.fields
    ids = {*id_columns, *left_out}
    bad = dict(refused or {})
    # a key left out takes the field's default, as in evaluate; a null is not stated
    omitted = {name: _omitted(kb.schema, name) for name in fields}
    cells: dict[str, list[Any]] = {name: [omitted[name]] * len(records) for name in fields}
    for row, record in enumerate(records):
        if row in bad:
            continue
        if not isinstance(record, dict):
            bad[row] = _problem(kb, record)
            continue
        unknown = False
        for key, value in record.items():
            column = cells.get(key)
            if column is not None:
                column[row] = value
            elif key not in ids:
                unknown = True
        if unknown:
            bad[row] = _problem(kb, {k: v for k, v in record.items() if k not in ids})
    columns: dict[str, Column] = {
        name: ObjectColumn(values)
        for name, values in cells.items()
        if any(value is not None for value in values)
    }
    answers = answer(kb, evaluate_columns(kb, columns, len(records), bad))
    arrays = []
    for name in id_columns:
        values = [r.get(name) if isinstance(r, dict) else None for r in records]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            texts = [None if v is None else json.dumps(v, sort_keys=True) for v in values]
            arrays.append(pa.array(texts, pa.string()))
    names = [*id_columns, *frame_columns(kb.schema)]
    return pa.RecordBatch.from_arrays(arrays + _arrow_answers(pa, answers), names=names)


def _omitted(schema: Schema, name: str) -> Any:
    """The cell of a key a record leaves out: the field's default where a null cell would mean
    something else (not stated), else None."""
    definition = schema.fields[name]
    default = schema.defaults.get(name)
    if default is not None and definition.nullable and not definition.required:
        return list(default) if isinstance(default, tuple) else default
    return None


def _problem(kb: KnowledgeBase, data: Any) -> str:
    try:
        kb.parse(data)
    except ProfileError as exc:
        return str(exc)
    return "invalid condition profile"  # pragma: no cover - only invalid data comes here


# -- polars ----------------------------------------------------------------------------------------


def _polars_frame(kb: KnowledgeBase, frame: Any, id_columns: Any) -> Any:
    import polars as pl
    import pyarrow as pa

    profile, ids = _split(kb.schema, frame.columns, id_columns)
    if profile:
        table = frame.select([_polars_readable(pl, frame[name]) for name in profile]).to_arrow()
    else:  # no profile column: a null one keeps the row count (null: not given)
        table = pa.table({next(iter(kb.schema.fields)): pa.nulls(frame.height)})
    answers = pl.from_arrow(evaluate_arrow(kb, table, []))
    return frame.select(ids).hstack(answers) if ids else answers


def _polars_readable(pl: Any, column: Any) -> Any:
    """A polars column as Arrow can carry it: 128-bit integers (which Arrow has no type for)
    become 64-bit ones when every value fits, else the table is refused naming the column (no
    value is narrowed or dropped)."""
    wide = [kind for kind in ("Int128", "UInt128") if hasattr(pl, kind)]
    if column.dtype not in [getattr(pl, kind) for kind in wide]:
        return column
    low, high = column.min(), column.max()
    if low is not None and (low < -(2**63) or high >= 2**63):
        raise ProfileError(
            [
                ProfileProblem(
                    column.name,
                    f"values beyond the 64-bit integer range ({low} to {high}) in this "
                    f"{column.dtype} column: no profile field takes such a value",
                )
            ]
        )
    return column.cast(pl.Int64)
