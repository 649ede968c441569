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
    start of every file name; `max_rows`: rows per file at most."""

    def __init__(
        self,
        targets: Mapping[str, tuple[str, pa.Schema]],
        prefix: str,
        max_rows: int = MAX_ROWS_PER_FILE,
    ) -> None:
        self._targets = dict(targets)
        self._prefix = prefix
        self._max_rows = max_rows
        self._buffers: dict[str, list[dict[str, Any]]] = {}

    def start_bundle(self) -> None:
        self._buffers = {}

    def process(self, element: tuple[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
        target, row = element
        buffer = self._buffers.setdefault(target, [])
        buffer.append(row)
        if len(buffer) >= self._max_rows:
            yield self._write(target)

    def finish_bundle(self) -> Iterator[Any]:
        for target in sorted(self._buffers):
            if self._buffers[target]:
                yield GlobalWindows.windowed_value(self._write(target))
        self._buffers = {}

    def _write(self, target: str) -> dict[str, Any]:
        rows, self._buffers[target] = self._buffers[target], []
        folder, schema = self._targets[target]
        return {
            "target": target,
            "name": write_rows(folder, self._prefix, rows, schema),
            "rows": len(rows),
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
