"""Reading and writing the dedup component of `--state` (`<state>/dedup/`), for the dedup and
stories stages. The tables' schemas are in newsbeam.schemas.dedup_state.

A run checks every file of the previous state when the pipeline is built (before anything
runs): a file that is not Parquet, lacks the state-version stamp, carries another version
or another schema stops the run with `DedupStateError`, and the folder is left as it is.

Retention (`--state_keep_days`): rows of the articles and stories tables carry
`first_seen_at`; `ReadStateTable` drops those first seen before the run's cut-off, and every
read of those tables goes through it (dedup's priors and carry-over, the stories' priors,
which are also what the stories table carries over), so what takes part in a run and what
it writes back never disagree. story_terms has no such column and is never pruned.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.parquetio import WriteToParquet

from newsbeam.schemas import STATE_VERSION, STATE_VERSION_KEY
from newsbeam.schemas.dedup_state import DEDUP_COMPONENT, DEDUP_STATE_TABLES
from newsbeam.transforms.failures import counter


@dataclasses.dataclass(frozen=True)
class StateRetention:
    """When this run started (the `first_seen_at` of the state rows it adds) and how many
    days earlier rows are kept (0: forever). One value per run, made in pipeline/, so the
    dedup and stories stages stamp and prune alike."""

    run_at: dt.datetime
    keep_days: int = 0

    @property
    def keep_since(self) -> dt.datetime | None:
        """Rows first seen before this are pruned (None: none is)."""
        if self.keep_days <= 0:
            return None
        return self.run_at - dt.timedelta(days=self.keep_days)


def within_retention(row: dict[str, Any], keep_since: dt.datetime | None) -> bool:
    """Whether an earlier run's state row is kept: no window, or first seen at or after
    `keep_since`."""
    return keep_since is None or row["first_seen_at"] >= keep_since


class DedupStateError(Exception):
    """The dedup state cannot be read; the run stops and the state is not replaced."""


def state_files(state_dir: str | None, table: str) -> list[str]:
    """The checked Parquet files of one dedup state table (none when there is no state).

    Raises DedupStateError for a file that is unreadable, unstamped, of another state
    version, or of another schema."""
    if not state_dir:
        return []
    folder = Path(state_dir) / DEDUP_COMPONENT / table
    if not folder.is_dir():
        return []
    expected = DEDUP_STATE_TABLES[table]
    files = sorted(str(path) for path in folder.glob("*.parquet"))
    for path in files:
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as error:
            raise DedupStateError(
                f"dedup state file {path} is unreadable ({error}); it is left as it is: "
                "restore it or point --state at a new folder"
            ) from error
        version = (schema.metadata or {}).get(STATE_VERSION_KEY)
        if version is None or version.decode() != STATE_VERSION:
            found = version.decode() if version else "none"
            raise DedupStateError(
                f"dedup state file {path} has state version {found}, this NewsBeam reads "
                f"{STATE_VERSION}; it is left as it is: point --state at a new folder"
            )
        if not schema.remove_metadata().equals(expected.remove_metadata()):
            raise DedupStateError(f"dedup state file {path} does not have the {table} schema")
    return files


def read_rows(path: str) -> Iterator[dict[str, Any]]:
    """The rows of one state file, as dicts, batch by batch."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        yield from batch.to_pylist()


def _retained(
    row: dict[str, Any], keep_since: dt.datetime | None, pruned_counter: str | None
) -> Iterator[dict[str, Any]]:
    if within_retention(row, keep_since):
        yield row
    elif pruned_counter:
        counter(pruned_counter).inc()


class ReadStateTable(beam.PTransform):
    """PBegin -> PCollection[dict]: the rows of one dedup state table (checked files).

    With `keep_since`, rows first seen before it are dropped (pruned), and counted as
    `pruned_counter` when one is named (name it on one read per table: dedup reads its
    articles table twice)."""

    def __init__(
        self,
        files: list[str],
        keep_since: dt.datetime | None = None,
        pruned_counter: str | None = None,
    ) -> None:
        super().__init__()
        self._files = files
        self._keep_since = keep_since
        self._pruned_counter = pruned_counter

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[dict[str, Any]]:
        rows = (
            pbegin
            | "Files" >> beam.Create(self._files)
            | "Reshuffle" >> beam.Reshuffle()
            | "Rows" >> beam.FlatMap(read_rows)
        )
        if self._keep_since is None:
            return rows
        return rows | "Retained" >> beam.FlatMap(_retained, self._keep_since, self._pruned_counter)


class WriteStateTable(beam.PTransform):
    """PCollection[dict] -> Parquet files under `<state_out_dir>/dedup/<table>/`."""

    def __init__(self, state_out_dir: str, table: str) -> None:
        super().__init__()
        self._prefix = f"{state_out_dir.rstrip('/')}/{DEDUP_COMPONENT}/{table}/part"
        self._schema = DEDUP_STATE_TABLES[table]

    def expand(self, rows: beam.PCollection[dict[str, Any]]) -> beam.PCollection[str]:
        return rows | "Parquet" >> WriteToParquet(
            self._prefix,
            schema=self._schema,
            codec="zstd",
            use_compliant_nested_type=True,
            file_name_suffix=".parquet",
        )
