"""WriteTables: the run's tables -> Parquet files in the run's staging folder, laid out as
they will sit in the dataset: `<table>/<partition>/<file>.parquet`, with the explicit Arrow
schemas of `newsbeam.schemas` (zstd). pipeline/dataset.py names them
`<prefix>-SSSSS-of-NNNNN.parquet` and moves them into ROOT when the run commits.

One writer for every table (support/bundle_files.py), not one Beam file sink per table:
rows are tagged with their table and written one file per table per bundle; the last step
writes `_written.json`, the list of the files of committed bundles, which the commit reads
instead of listing the folder (a retried bundle's orphan files are not in it; the commit
deletes them with the staging folder). The run's own commit (staging folder, manifest)
gives what a sink's temporary files and finalise gave. An empty table still gets one file
with its schema, unless the caller says the dataset has files of that table already
(`empty_files`: a follow-mode batch after the process's first one).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from newsbeam.schemas import DATASET_SCHEMAS, FEED_HEALTH_TABLE, WRITTEN, to_row
from newsbeam.transforms.support import files
from newsbeam.transforms.support.bundle_files import (
    WriteBundleFiles,
    missing_targets,
    write_rows,
)
from newsbeam.transforms.support.redact import redact_url_params
from newsbeam.transforms.support.whole import CallWithAll


def _health_row(health: Any) -> dict[str, Any]:
    return dict(health._asdict())


def row_of(table: str) -> Callable[[Any], dict[str, Any]]:
    """The record -> Parquet row conversion of `table`."""
    return _health_row if table == FEED_HEALTH_TABLE else to_row


# The columns that hold URLs, or messages naming them, per table: where a key in a query
# (`?api_key=`, a signed URL's signature, a session id) is redacted as the row is written.
# Texts, titles and payloads are what the input said, kept as they came.
URL_COLUMNS: dict[str, tuple[str, ...]] = {
    "articles": ("source", "url", "canonical_url", "duplicate_sources", "feed_url", "entry_id"),
    "duplicates": ("source", "url"),
    "rejected": ("source", "detail"),
    FEED_HEALTH_TABLE: ("feed_url", "moved_to", "error"),
}


def without_url_secrets(
    table: str, row: dict[str, Any], extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`row` of `table` with secret query parameters redacted in its URL columns
    (support/redact.py: the documented names and `extra`, `--redact_url_params`). The
    row's ids were made from the URLs as given: ids and dedup by URL do not change."""
    for name in URL_COLUMNS.get(table, ()):
        value = row.get(name)
        if isinstance(value, str):
            row[name] = redact_url_params(value, extra)
        elif isinstance(value, list):
            row[name] = [redact_url_params(v, extra) if isinstance(v, str) else v for v in value]
    if table == "articles" and row.get("removed"):
        # A page fetched but not used is said in `removed` ("page http://...: HTTP 404",
        # reason page_<why>); the other removals are the input's own text, kept.
        row["removed"] = [
            {**item, "text": redact_url_params(item["text"], extra)}
            if str(item.get("reason") or "").startswith("page_") and item.get("text")
            else item
            for item in row["removed"]
        ]
    return row


def written_row(table: str, extra: tuple[str, ...] = ()) -> Callable[[Any], dict[str, Any]]:
    """The record -> row conversion of `table` as written into the dataset (`row_of`, then
    `without_url_secrets`)."""
    convert = row_of(table)
    return lambda record: without_url_secrets(table, convert(record), extra)


def written_record(entries: list[dict[str, Any]], partition: str, prefix: str) -> dict[str, Any]:
    """The content of `_written.json`: every file written (path relative to the staging
    folder, rows), sorted by table and path."""
    listed = [
        {
            "table": entry["target"],
            "path": f"{entry['target']}/{partition}/{entry['name']}",
            "rows": entry["rows"],
        }
        for entry in entries
    ]
    return {"prefix": prefix, "files": sorted(listed, key=lambda e: (e["table"], e["path"]))}


def _record_files(
    entries: list[dict[str, Any]],
    staging: str,
    partition: str,
    prefix: str,
    empty_files: Collection[str] | None = None,
) -> str:
    """Write one empty file (its schema) for each table no bundle wrote (of `empty_files`
    only, when given), then the list."""
    wanted = DATASET_SCHEMAS if empty_files is None else empty_files
    for table in missing_targets(entries, [name for name in DATASET_SCHEMAS if name in wanted]):
        folder = files.join(staging, table, partition)
        name = write_rows(folder, prefix, [], DATASET_SCHEMAS[table])
        entries = [*entries, {"target": table, "name": name, "rows": 0}]
    path = files.join(staging, WRITTEN)
    files.write_json(path, written_record(entries, partition, prefix))
    return path


def _in_global_window(table: beam.PCollection, name: str) -> beam.PCollection:
    """`table` in the global window: a user's windowed rows are written all the same (the
    files are written per bundle, in the global window, and listed once at the end), not
    failed on ("Cannot convert GlobalWindow to _IntervalWindowBase")."""
    if isinstance(table.windowing.windowfn, GlobalWindows):
        return table  # a run's tables: no extra step
    return table | f"{name}/Whole" >> beam.WindowInto(GlobalWindows())


class WriteTables(beam.PTransform):
    """dict[table name, PCollection[record]] -> PCollection[str]: one element, the path of
    `_written.json` in `staging`, once every file is written. A table not given is written
    empty, as one without rows.

    `staging`: the run's staging folder (any filesystem `support/files` writes);
    `partition`: the Hive partition folder (`ingest_date=YYYY-MM-DD`); `prefix`: the start
    of every file name (run id and attempt); `url_params`: query parameters redacted in
    the URL columns besides the documented ones (`without_url_secrets`); `empty_files`:
    the tables that get an empty file when they have no row (None: every table; a reader
    of a table's folder needs one file of it, not one per run: follow mode's later batches
    give `()`, else a day of one-minute batches left thousands of empty files per table).
    Tables in windows are written as one (bounded input only: ValueError for an unbounded
    table)."""

    def __init__(
        self,
        staging: str,
        partition: str,
        prefix: str,
        url_params: tuple[str, ...] = (),
        empty_files: Collection[str] | None = None,
    ) -> None:
        super().__init__()
        self._staging = staging.rstrip("/")
        self._partition = partition
        self._prefix = prefix
        self._url_params = url_params
        self._empty_files = None if empty_files is None else tuple(empty_files)

    def expand(self, tables: dict[str, beam.PCollection]) -> beam.PCollection[str]:
        targets = {
            name: (files.join(self._staging, name, self._partition), schema)
            for name, schema in DATASET_SCHEMAS.items()
        }
        unbounded = sorted(name for name, table in tables.items() if not table.is_bounded)
        if unbounded:  # _written.json, written once all is written, would never come
            raise ValueError(
                f"WriteTables writes bounded tables; unbounded: {', '.join(unbounded)}"
                " (a stream's tables are written window by window: newsbeam --streaming)"
            )
        convert = {name: written_row(name, self._url_params) for name in DATASET_SCHEMAS}
        # Each table's files are written in the stage that makes its rows: a Flatten of the
        # tables before one writer was a stage of its own on Beam's local runner (which
        # materialises a Flatten's output: every row encoded, sent and decoded once more).
        written = tuple(
            _in_global_window(tables[name], name)
            | f"{name}/Rows" >> beam.Map(lambda record, name=name: (name, convert[name](record)))
            | f"{name}/Files" >> beam.ParDo(WriteBundleFiles({name: targets[name]}, self._prefix))
            for name in DATASET_SCHEMAS
            if name in tables
        )
        return written | "Record" >> CallWithAll(
            _record_files, self._staging, self._partition, self._prefix, self._empty_files
        )
