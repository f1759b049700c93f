"""Reading a cohort CSV whatever the size of its cells: the header row (Python's csv module,
whose cells are limited to 131,072 characters by default) and the rows as Arrow record batches
of text columns (pyarrow's reader, whose blocks are 4 MB by default and cannot hold a row that
straddles several of them).

A row larger than the block is read again with a block four times larger (up to
:data:`MAX_BLOCK`), from the row where the last block stopped, so one huge cell makes one row
(invalid when it is in a profile field), never a failed file. Memory then grows with that row.
This module never evaluates a row, and raises :class:`~.context.CliError` only for a header it
cannot read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .context import CliError

__all__ = ["FIRST_BLOCK", "MAX_BLOCK", "blocks", "empty", "header"]

#: The block size the reader starts with (bytes).
FIRST_BLOCK = 1 << 22
#: The largest block tried (bytes): a row over it fails the file.
MAX_BLOCK = 1 << 30


def header(source: Path) -> list[str] | None:
    """The column names of a CSV file (``None`` when it is empty), any cell size up to
    :data:`MAX_BLOCK`."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, MAX_BLOCK))
    try:
        with source.open(encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle), None)
    except csv.Error as exc:
        raise CliError(f"the header row of {str(source)!r} cannot be read: {exc}.") from None
    finally:
        csv.field_size_limit(limit)


def _open(source: Path, names: list[str], block_size: int, skip: int) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=block_size, skip_rows_after_names=skip),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
        ),
    )


def blocks(source: Path, names: list[str]) -> Iterator[Any]:
    """The rows of ``source`` (whose header is ``names``) as record batches of text columns
    (empty cells null), a block at a time."""
    import pyarrow as pa

    block_size, done = FIRST_BLOCK, 0
    while True:
        try:
            for block in _open(source, names, block_size, done):
                yield block
                done += block.num_rows
            return
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc) or block_size >= MAX_BLOCK:
                raise
            block_size = min(block_size * 4, MAX_BLOCK)


def empty(names: list[str]) -> Any:
    """A record batch of no row with these text columns."""
    import pyarrow as pa

    return pa.RecordBatch.from_pylist([], schema=pa.schema([(n, pa.string()) for n in names]))
