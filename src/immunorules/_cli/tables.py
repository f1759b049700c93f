"""Cohort tables in and out, a batch at a time: Parquet, CSV and JSON Lines readers (and a FHIR
Bulk Data export), each yielding answer batches (evaluated column by column) with the row labels
that messages use; writers by format; the progress bar.

Memory depends on the batch size, not on the cohort. A file that cannot be read is a
:class:`~.context.CliError`; an invalid row is never an error here (its answer row carries it).
This module never decides exit codes or prints messages itself, but for the ``warn`` callback.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from . import csv_blocks
from .context import CliError
from .inputs import loads

__all__ = [
    "FORMATS",
    "Batches",
    "csv_batches",
    "evaluation",
    "fhir_batches",
    "format_of",
    "jsonl_batches",
    "non_null",
    "parquet_batches",
    "parquet_rows",
    "progress",
    "writer",
]

#: The table formats, by extension.
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
           ".ndjson": "jsonl"}  # fmt: skip

#: (answer batch, the label of a row of that batch, e.g. ``row 12`` or ``line 3``) pairs.
Batches = Iterator[tuple[Any, Callable[[int], str]]]


def format_of(path: Path, which: str) -> str:
    """The table format of ``path`` by its extension (``which`` is IN or OUT, for messages)."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        known = ", ".join(sorted(FORMATS))
        raise CliError(
            f"{which} {str(path)!r} has an extension the cohort command does not know "
            f"({path.suffix or 'none'}); use one of {known}."
        )
    return found


def non_null(column: Any) -> list[int]:
    """The row numbers where an Arrow column is not null."""
    import numpy as np

    return [int(i) for i in np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))]


def evaluation(read_format: str) -> Callable[..., Any]:
    """The function that evaluates batches read in ``read_format`` (whether it takes an
    ``assume=`` policy decides whether ``--assume`` can be used)."""
    from .._evaluate import frame

    return frame.evaluate_arrow if read_format in ("parquet", "csv") else frame.evaluate_records


def _assume(assume: Any) -> dict[str, Any]:
    """The keyword that passes an ``assume=`` policy on (none without one)."""
    return {} if assume is None else {"assume": assume}


# -- readers ---------------------------------------------------------------------------------------


def parquet_rows(source: Path) -> int | None:
    """The number of rows of a Parquet file (``None`` when its metadata cannot be read)."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(source).metadata.num_rows)
    except Exception:  # the reader reports it properly
        return None


def parquet_batches(
    kb: Any, source: Path, ids: list[str] | None, batch_size: int, assume: Any = None
) -> Batches:
    """The answers of a Parquet file, a batch of rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .._evaluate.frame import evaluate_arrow

    try:
        reader = pq.ParquetFile(source)
    except (pa.ArrowException, OSError) as exc:
        raise CliError(f"{str(source)!r} is not a readable Parquet file: {exc}.") from None
    start = 0
    for batch in reader.iter_batches(batch_size=batch_size):
        yield evaluate_arrow(kb, batch, ids, **_assume(assume)), _rows_from(start)
        start += batch.num_rows


def _rows_from(start: int) -> Callable[[int], str]:
    return lambda row: f"row {start + row + 1}"


def csv_batches(
    kb: Any, source: Path, ids: list[str] | None, batch_size: int, assume: Any = None
) -> Batches:
    """The answers of a CSV file (every cell read as text; an empty cell, or ``NaN``, ``NA``
    or ``null`` in a profile field's column, is not stated)."""
    from .._evaluate.frame import evaluate_arrow

    header = csv_blocks.header(source)  # any cell size: see csv_blocks
    if not header:
        raise CliError(f"{str(source)!r} is empty; a cohort CSV starts with a header row.")
    start = 0
    for block in csv_blocks.blocks(source, header):
        for offset in range(0, block.num_rows, batch_size):
            batch = block.slice(offset, batch_size)
            yield evaluate_arrow(kb, batch, ids, text=True, **_assume(assume)), _rows_from(start)
            start += batch.num_rows
    if start == 0:  # a header and no row
        empty = csv_blocks.empty(header)
        yield evaluate_arrow(kb, empty, ids, text=True, **_assume(assume)), _rows_from(start)


def jsonl_batches(
    kb: Any,
    source: Path,
    ids: list[str] | None,
    batch_size: int,
    assume: Any = None,
    *,
    warn: Callable[[str], None],
) -> Batches:
    """The answers of a JSON Lines file; a key that is neither a field nor an id column of the
    first batch is left out, with a ``warn``-ing."""
    from .._evaluate.frame import evaluate_records

    fields = kb.schema.fields
    inferred = ids is None
    left_out: set[str] = set()
    records: list[Any] = []
    lines: list[int] = []
    refused: dict[int, str] = {}
    with source.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:  # a line that is not UTF-8 is an invalid row, like one that is not JSON
                text = raw.decode()
                records.append(loads(text.removeprefix("\ufeff") if number == 1 else text))
            except UnicodeDecodeError as exc:
                refused[len(records)] = f"not valid UTF-8 text (byte {exc.start + 1})"
                records.append(None)
            except ValueError as exc:  # JSONDecodeError included
                refused[len(records)] = f"not valid JSON: {exc}"
                records.append(None)
            lines.append(number)
            if len(records) >= batch_size:
                ids, left_out = _batch_ids(records, lines, fields, ids, inferred, left_out, warn)
                answers = evaluate_records(kb, records, ids, refused, left_out, **_assume(assume))
                yield answers, _lines(lines)
                records, lines, refused = [], [], {}
    if records or not lines:
        ids, left_out = _batch_ids(records, lines, fields, ids, inferred, left_out, warn)
        answers = evaluate_records(kb, records, ids, refused, left_out, **_assume(assume))
        yield answers, _lines(lines)


def _batch_ids(
    records: list[Any],
    lines: list[int],
    fields: Any,
    ids: list[str] | None,
    inferred: bool,
    left_out: set[str],
    warn: Callable[[str], None],
) -> tuple[list[str], set[str]]:
    """The id columns (given, or the other keys of the first batch) and the keys left out: a
    key of a later batch that is neither, reported once (Parquet and CSV outputs keep the
    columns of their first batch)."""
    if ids is None:
        return _record_ids(records, fields), left_out
    if inferred:
        for key in _record_ids(records, fields):
            if key not in ids and key not in left_out:
                left_out = {*left_out, key}
                line = next(
                    lines[i] for i, r in enumerate(records) if isinstance(r, dict) and key in r
                )
                warn(
                    f"warning: the key {key!r} (first at line {line}) is not a profile field and "
                    "not one of the id columns found in the first batch; it is left out (name it "
                    "with --id-column to keep it)."
                )
    return ids, left_out


def _record_ids(records: list[Any], fields: Any) -> list[str]:
    found: dict[str, None] = {}
    for record in records:
        if isinstance(record, dict):
            found.update((key, None) for key in record if key not in fields)
    return list(found)


def _lines(numbers: list[int]) -> Callable[[int], str]:
    return lambda row: f"line {numbers[row]}"


def fhir_batches(
    kb: Any, source: Path, batch_size: int, profiles_from_bulk: Any, assume: Any = None
) -> Batches:
    """The answers of a FHIR Bulk Data export, one row per patient (``patient_id``,
    ``fhir_unknown`` and ``fhir_warnings`` passed through)."""
    from .._errors import ImmunorulesError
    from .._evaluate.frame import evaluate_records

    ids = ["patient_id", "fhir_unknown", "fhir_warnings"]
    records: list[dict[str, Any]] = []
    refused: dict[int, str] = {}
    try:
        for patient_id, found in profiles_from_bulk(source, kb=kb):
            warnings = [str(item) for item in found.warnings]
            record: dict[str, Any] = {
                "patient_id": str(patient_id),
                "fhir_unknown": [str(item) for item in found.unknown],
                "fhir_warnings": warnings,
            }
            if found.profile is None:  # no problem the knowledge base treats: the warnings say
                refused[len(records)] = "the FHIR record gives no profile: " + (
                    "; ".join(warnings) or "no condition or disease area this knowledge base knows"
                )
            else:
                record.update(
                    (name, list(value) if isinstance(value, tuple) else value)
                    for name, value in found.profile.__dict__.items()
                )
            records.append(record)
            if len(records) >= batch_size:
                answers = evaluate_records(kb, records, ids, refused, **_assume(assume))
                yield answers, _patients(records)
                records, refused = [], {}
    except ImmunorulesError as exc:
        raise CliError(f"the FHIR export {str(source)!r} could not be read: {exc}") from None
    yield evaluate_records(kb, records, ids, refused, **_assume(assume)), _patients(records)


def _patients(records: list[dict[str, Any]]) -> Callable[[int], str]:
    return lambda row: f"patient {records[row]['patient_id']}"


# -- writers ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def writer(kind: str, path: Path) -> Iterator[Callable[[Any], None]]:
    """A function writing answer batches to ``path`` in format ``kind``, closed at the end."""
    import pyarrow as pa

    if kind == "parquet":
        import pyarrow.parquet as pq

        parquet: list[Any] = []  # the writer and the schema of the first batch

        def write_parquet(batch: Any) -> None:
            if not parquet:
                parquet.extend((pq.ParquetWriter(path, batch.schema), batch.schema))
            parquet[0].write_batch(_cast(batch, parquet[1]))

        try:
            yield write_parquet
        finally:
            if parquet:
                parquet[0].close()
    elif kind == "csv":
        import pyarrow.csv as pacsv

        writers: list[Any] = []  # the writer and the schema of the first batch

        def write_csv(batch: Any) -> None:
            batch = _flat_lists(pa, batch)
            if not writers:
                writers.extend((pacsv.CSVWriter(path, batch.schema), batch.schema))
            writers[0].write_batch(_cast(batch, writers[1]))

        try:
            yield write_csv
        finally:
            if writers:
                writers[0].close()
    else:
        with path.open("w", encoding="utf-8") as handle:

            def write_jsonl(batch: Any) -> None:
                for row in batch.to_pylist():
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")

            yield write_jsonl


def _cast(batch: Any, schema: Any) -> Any:
    """The batch in the schema of the first one written (an id column all null in one batch
    is of Arrow's null type there)."""
    if batch.schema.equals(schema):
        return batch
    import pyarrow as pa

    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise CliError(
            f"the id columns change type within the cohort ({exc}); give every row the same "
            "kind of value in each, or pass them through as text."
        ) from None


def _flat_lists(pa: Any, batch: Any) -> Any:
    """List columns as text, members separated by '|' (CSV has no lists)."""
    import pyarrow.compute as pc

    arrays, names = [], []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            column = pc.binary_join(column.cast(pa.list_(pa.string())), "|")
        arrays.append(column)
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


# -- progress --------------------------------------------------------------------------------------


def progress(total: int | None, *, stream: TextIO, interactive: bool) -> Callable[..., None]:
    """A progress bar on ``stream`` when it is a terminal (tqdm), nothing elsewhere; call it
    with the rows done, and ``close=True`` at the end."""
    if not interactive:
        return lambda rows, close=False: None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with the cohort extra
        return lambda rows, close=False: None
    bar = tqdm(total=total, unit=" rows", unit_scale=True, file=stream, leave=False)

    def update(rows: int, close: bool = False) -> None:
        if close:
            bar.close()
        elif rows:
            bar.update(rows)

    return update
