"""Parquet files written per bundle: the writer of the run's tables (transforms/write.py) and
of the state's part tables (support/state.py), in place of Beam's file sinks.

A Beam file sink (WriteToParquet) adds ~7 stages per table (initialise, write, pair, group,
pre-finalise, finalise) and writes every file twice (a temporary file, then a rename: a
copy on an object store); each stage is paid on every run, however small. Here rows arrive
keyed by their target (a folder and a schema); `WriteBundleFiles` buffers them per target
within a bundle and writes one file per target per bundle (more when a bundle is large)
under a name no other bundle uses, then emits an entry (target, path, rows) per file. The
entries that reach the next step are those of committed bundles only: whatever lists them
(`_written.json`, `keep_listed`) names exactly the output, and a retried bundle's orphan
files are left out.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.transforms.window import GlobalWindows

from newsbeam.transforms.support import files

# Rows buffered per target before a file is written: memory follows the bundle, capped (a
# large bundle writes several files).
MAX_ROWS_PER_FILE = 5000
CODEC = "zstd"
# A row group holds about this many bytes at most (docs/stages.md: "row groups of up to 64
# MB"): Spark, Trino and DuckDB split a file's work by row group and decode one whole at a
# time. pyarrow's own bound is rows only (1Mi), so 5,000 long articles (40 KB of text
# each) were one 200 MB row group.
ROW_GROUP_BYTES = 64 * 2**20
# Rows held as dicts before they are made Arrow columns (RowBuffer): a file's rows wait as
# Arrow batches, not as dicts (a 5,000-row file of articles: ~21 MB of dicts, 5 MB of Arrow).
BATCH_ROWS = 256


def unique_name(prefix: str, rows: list[dict[str, Any]]) -> str:
    """A file name no other bundle (nor a retry of this one) uses: the prefix, a digest of
    the first row (files then sort in content order when bundles are deterministic) and a
    random part."""
    first = json.dumps(rows[0], sort_keys=True, default=str) if rows else ""
    digest = hashlib.sha1(first.encode()).hexdigest()[:12]
    return f"{prefix}-{digest}-{secrets.token_hex(6)}.parquet"


def write_rows(folder: str, prefix: str, rows: list[dict[str, Any]], schema: pa.Schema) -> str:
    """One Parquet file of `rows` (explicit schema, metadata included) in `folder`; its
    name."""
    return write_table(folder, prefix, pa.Table.from_pylist(rows, schema=schema))


class RowBuffer:
    """A file's rows of one schema, gathered one at a time: every `batch_rows` rows become one
    Arrow record batch and their dicts are let go, so a bundle holds its rows as columns.
    `table()` is the table `pa.Table.from_pylist` makes of all the rows at once, in one chunk
    (the same file bytes `write_table` writes of it). Review 94: at 20,000 JSON lines the
    articles' bundle held 5,000 row dicts (~21 MB) and then made them a table at once (+26 MB
    of RSS for a 5 MB table) in the stage after the stories step, on some runs the run's
    peak; held as batches, +8 and +8-10 MB."""

    def __init__(self, schema: pa.Schema, batch_rows: int = BATCH_ROWS) -> None:
        self._schema = schema
        self._batch_rows = max(1, batch_rows)
        self._batches: list[pa.RecordBatch] = []
        self._rows: list[dict[str, Any]] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def held_rows(self) -> int:
        """The rows still held as dicts (fewer than `batch_rows`)."""
        return len(self._rows)

    def append(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self._count += 1
        if len(self._rows) >= self._batch_rows:
            self._batches.append(pa.RecordBatch.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def table(self) -> pa.Table:
        """All the rows as one table of one chunk (empty: the schema, no rows)."""
        batches = self._batches
        if self._rows or not batches:  # no rows: one empty chunk, as from_pylist makes
            batches = [*batches, pa.RecordBatch.from_pylist(self._rows, schema=self._schema)]
        return pa.Table.from_batches(batches, schema=self._schema).combine_chunks()


def write_columns(
    folder: str, prefix: str, columns: Mapping[str, list[Any]], schema: pa.Schema
) -> str:
    """`write_rows` for a table already in columns (one file, whatever its size: a DoFn
    that makes a whole table at once writes it without making a dict of every row)."""
    return write_table(folder, prefix, pa.table(dict(columns), schema=schema))


def row_group_rows(table: pa.Table, limit: int = ROW_GROUP_BYTES) -> int:
    """Rows per row group for `table`: as many as fit in `limit` bytes at its mean row size
    (Arrow's in-memory size, about the uncompressed column data), at least 1; the whole
    table when it fits."""
    if table.nbytes <= limit:
        return max(1, table.num_rows)
    return max(1, table.num_rows * limit // table.nbytes)


def write_table(folder: str, prefix: str, table: pa.Table) -> str:
    """One Parquet file of `table` in `folder`, named by `unique_name`; its name.
    `use_compliant_nested_type`: lists as the Parquet spec names them (as Beam's sink
    wrote them); row groups of `row_group_rows`."""
    name = unique_name(prefix, table.slice(0, 1).to_pylist())
    files.write_parquet(
        files.join(folder, name),
        table,
        compression=CODEC,
        use_compliant_nested_type=True,
        row_group_size=row_group_rows(table),
    )
    return name


class WriteBundleFiles(beam.DoFn):
    """(target, row dict) -> Parquet files, one per target per bundle; emits for each
    {"target", "name", "rows"}. `targets`: target -> (folder, schema); `prefix`: the
    start of every file name; `max_rows`: rows per file at most. A file's rows wait as Arrow
    batches (RowBuffer), not as dicts."""

    def __init__(
        self,
        targets: Mapping[str, tuple[str, pa.Schema]],
        prefix: str,
        max_rows: int = MAX_ROWS_PER_FILE,
    ) -> None:
        self._targets = dict(targets)
        self._prefix = prefix
        self._max_rows = max_rows
        self._buffers: dict[str, RowBuffer] = {}

    def start_bundle(self) -> None:
        self._buffers = {}

    def process(self, element: tuple[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
        target, row = element
        buffer = self._buffers.get(target)
        if buffer is None:
            buffer = self._buffers[target] = RowBuffer(self._targets[target][1])
        buffer.append(row)
        if len(buffer) >= self._max_rows:
            yield self._write(target)

    def finish_bundle(self) -> Iterator[Any]:
        for target in sorted(self._buffers):
            if len(self._buffers[target]):
                yield GlobalWindows.windowed_value(self._write(target))
        self._buffers = {}

    def _write(self, target: str) -> dict[str, Any]:
        folder, schema = self._targets[target]
        buffer, self._buffers[target] = self._buffers[target], RowBuffer(schema)
        table = buffer.table()
        del buffer  # its batches: the table is one chunk of its own
        return {
            "target": target,
            "name": write_table(folder, self._prefix, table),
            "rows": table.num_rows,
        }


def missing_targets(entries: Iterable[Mapping[str, Any]], targets: Iterable[str]) -> list[str]:
    """The targets no entry names (each still gets one empty file with its schema)."""
    have = {entry["target"] for entry in entries}
    return [target for target in targets if target not in have]


def keep_listed(entries: list[dict[str, Any]], folder: str, schema: pa.Schema, prefix: str) -> int:
    """Finish a folder of part files written by `WriteBundleFiles`: one empty file (its
    schema) when no bundle wrote one, and every file directly in `folder` that no entry
    names deleted (a retried bundle's orphans). Returns the number of files kept."""
    names = {entry["name"] for entry in entries}
    if not names:
        names.add(write_rows(folder, prefix, [], schema))
    orphans = [
        path
        for path in files.list_files(folder)
        if "/" not in files.relative(folder, path)
        and files.relative(folder, path) not in names
        and path.endswith(".parquet")
    ]
    files.delete_files(orphans)
    return len(names)
