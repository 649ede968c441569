"""WriteTables: the run's tables -> Parquet files in the run's staging folder, laid out as
they will sit in the dataset: `<table>/<partition>/<file>.parquet`, with the explicit Arrow
schemas of `newsbeam.schemas` (zstd). pipeline/dataset.py names them
`<prefix>-SSSSS-of-NNNNN.parquet` and moves them into ROOT when the run commits.

One writer for every table, not one Beam file sink per table: a sink adds ~7 stages
(initialise, write, pair, group, pre-finalise, finalise) and writes each file twice (a
temporary file, then a rename: a copy on an object store), and the run's own commit
(staging folder, manifest) already gives what its finalise gives. Here rows are tagged
with their table; `_WriteFiles` buffers them per table within a bundle and writes one file
per table per bundle (more when a bundle is large) under a unique name, then emits
(table, path, rows) for each file; the emitted records are those of committed bundles only,
so `_written.json` (the list `_record_files` writes last) names exactly the files of the
run's output, and a retried bundle's orphan files are left out (the commit deletes them
with the staging folder). An empty table still gets one file with its schema.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.transforms.window import GlobalWindows

from newsbeam.schemas import DATASET_SCHEMAS, FEED_HEALTH_TABLE, to_row
from newsbeam.transforms.support import files

# The list of the files a run wrote, in its staging folder (read by pipeline/dataset.py).
WRITTEN = "_written.json"
# Rows buffered per table before a bundle's file is written (memory follows the bundle,
# capped: a large bundle writes several files).
MAX_ROWS_PER_FILE = 5000
CODEC = "zstd"


def _health_row(health: Any) -> dict[str, Any]:
    return dict(health._asdict())


def row_of(table: str) -> Callable[[Any], dict[str, Any]]:
    """The record -> Parquet row conversion of `table`."""
    return _health_row if table == FEED_HEALTH_TABLE else to_row


def arrow_table(rows: list[dict[str, Any]], table: str) -> pa.Table:
    """Rows of `table` as an Arrow table of its explicit schema (metadata included)."""
    return pa.Table.from_pylist(rows, schema=DATASET_SCHEMAS[table])


def staged_name(prefix: str, rows: list[dict[str, Any]]) -> str:
    """A file name no other bundle (nor a retry of this one) uses: the prefix, a digest of
    the first row (files then sort in content order when bundles are deterministic) and a
    random part."""
    first = json.dumps(rows[0], sort_keys=True, default=str) if rows else ""
    digest = hashlib.sha1(first.encode()).hexdigest()[:12]
    return f"{prefix}-{digest}-{secrets.token_hex(6)}.parquet"


def write_file(staging: str, partition: str, prefix: str, table: str, rows: list[Any]) -> dict:
    """Write one file of `table` into the staging folder; its entry in `_written.json`."""
    name = staged_name(prefix, rows)
    path = f"{table}/{partition}/{name}"
    files.write_parquet(
        files.join(staging, table, partition, name),
        arrow_table(rows, table),
        compression=CODEC,
        use_compliant_nested_type=True,
    )
    return {"table": table, "path": path, "rows": len(rows)}


class _WriteFiles(beam.DoFn):
    """(table, record) -> files in staging, one per table per bundle; emits their entries."""

    def __init__(self, staging: str, partition: str, prefix: str) -> None:
        self._staging = staging
        self._partition = partition
        self._prefix = prefix
        self._buffers: dict[str, list[dict[str, Any]]] = {}

    def start_bundle(self) -> None:
        self._buffers = {}

    def process(self, element: tuple[str, Any]) -> Iterator[dict[str, Any]]:
        table, record = element
        buffer = self._buffers.setdefault(table, [])
        buffer.append(row_of(table)(record))
        if len(buffer) >= MAX_ROWS_PER_FILE:
            yield self._write(table)

    def finish_bundle(self) -> Iterator[Any]:
        for table in sorted(self._buffers):
            if self._buffers[table]:
                yield GlobalWindows.windowed_value(self._write(table))
        self._buffers = {}

    def _write(self, table: str) -> dict[str, Any]:
        rows, self._buffers[table] = self._buffers[table], []
        return write_file(self._staging, self._partition, self._prefix, table, rows)


def written_record(
    entries: Iterable[dict[str, Any]], empty: Iterable[dict[str, Any]], prefix: str
) -> dict[str, Any]:
    """The content of `_written.json`: every file written, sorted by path."""
    listed = sorted([*entries, *empty], key=lambda entry: (entry["table"], entry["path"]))
    return {"prefix": prefix, "files": listed}


def _record_files(entries: list[dict[str, Any]], staging: str, partition: str, prefix: str) -> str:
    """Write one empty file (its schema) for each table no bundle wrote, then the list."""
    have = {entry["table"] for entry in entries}
    empty = [
        write_file(staging, partition, prefix, name, [])
        for name in DATASET_SCHEMAS
        if name not in have
    ]
    path = files.join(staging, WRITTEN)
    files.write_json(path, written_record(entries, empty, prefix))
    return path


class WriteTables(beam.PTransform):
    """dict[table name, PCollection[record]] -> PCollection[str]: one element, the path of
    `_written.json` in `staging` once every file is written.

    `staging`: the run's staging folder (any filesystem `support/files` writes);
    `partition`: the Hive partition folder (`ingest_date=YYYY-MM-DD`); `prefix`: the start
    of every file name (run id and attempt)."""

    def __init__(self, staging: str, partition: str, prefix: str) -> None:
        super().__init__()
        self._staging = staging.rstrip("/")
        self._partition = partition
        self._prefix = prefix

    def expand(self, tables: dict[str, beam.PCollection]) -> beam.PCollection[str]:
        tagged = [
            tables[name] | f"{name}/Tag" >> beam.Map(lambda record, name=name: (name, record))
            for name in DATASET_SCHEMAS
        ]
        return (
            tagged
            | "Rows" >> beam.Flatten()
            | "Files" >> beam.ParDo(_WriteFiles(self._staging, self._partition, self._prefix))
            | "Written" >> beam.combiners.ToList()
            | "Record" >> beam.Map(_record_files, self._staging, self._partition, self._prefix)
        )
