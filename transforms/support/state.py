"""The `--state DIR` folder, all of it: its life cycle, and reading, checking and writing every
state table (dedup articles/stories/story_terms, feed state, seen entries, seen files).
The tables' schemas are in newsbeam.schemas (dedup_state.py, feeds.py, inputs_state.py).

Life cycle: `open_state()` checks the folder once, before the pipeline is built (the marker
`state.json` and every table file), and returns a `StateContext`, the one value the stateful
stages get; `commit_state()` swaps the run's new state in after the run has succeeded.
Anything unusable raises `StateError`: the run stops before it starts, nothing is changed.

The one rule for reading a table file: it must be Parquet, carry `STATE_VERSION_KEY` equal
to `STATE_VERSION` in its schema metadata, and have every column of the table's schema with
the same type, except columns listed as added (`StateTable.added`: added after the version
was first written), which may be missing and are then read as nulls. Columns the schema does
not know are ignored (a newer NewsBeam's added ones). Any other change to a table needs a
new `STATE_VERSION` (schemas/state.py). Every file written under version 2 carries the stamp
(the dedup and the feed readers before this module both required it), so every version-2
folder still reads.

Integrity: the marker records every table file's size and sha256 at commit, and a run
checks them before reading anything (see "Integrity" below). Commit: `prepare_state`
makes the staging folder complete, and `commit` swaps it in with the run's output, all or
nothing across a crash (a journal beside the state; `recover_commits` completes it,
`recover_leftovers` rolls back anything not journaled).

Writing: `WriteStateTable` writes every table in its schema, stamped with the state version
(zstd), into the staging folder: part files for the dedup tables (one per bundle,
support/bundle_files.py), one file per table for the feed tables. A component folder this
run did not write (no feeds in this run, say) is carried over unchanged at commit. (Feed
health, once kept here one file per run, is the dataset's feed_health table.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import logging
import os
import posixpath
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from newsbeam.schemas import (
    STATE_FOLDER_VERSION,
    STATE_FOLDER_VERSIONS_READ,
    STATE_MARKER,
    STATE_VERSION,
    STATE_VERSION_KEY,
)
from newsbeam.schemas.dedup_state import (
    DEDUP_ARTICLE_ADDED,
    DEDUP_ARTICLE_SCHEMA,
    DEDUP_STORY_SCHEMA,
    DEDUP_STORY_TERMS_SCHEMA,
)
from newsbeam.schemas.feeds import (
    FEED_STATE_ADDED,
    FEED_STATE_SCHEMA,
    SEEN_ENTRY_ADDED,
    SEEN_ENTRY_SCHEMA,
)
from newsbeam.schemas.inputs_state import SEEN_FILE_SCHEMA, SEEN_FILES_PATH
from newsbeam.transforms.support import files
from newsbeam.transforms.support.bundle_files import WriteBundleFiles, keep_listed
from newsbeam.transforms.support.failures import counter
from newsbeam.transforms.support.whole import CallWithAll

log = logging.getLogger("newsbeam")


class StateError(Exception):
    """The state folder cannot be used; nothing was run and nothing was changed."""


# --- The tables ----------------------------------------------------------------------------

PARTS, FILE = "parts", "file"


@dataclasses.dataclass(frozen=True)
class StateTable:
    """One table of a state version. `path` (under the version's folder) is a folder of part
    files, one per bundle (PARTS) or one file (FILE). `sort_by`: row order of FILE tables
    (deterministic). Feed health, once kept here, is the dataset's feed_health table."""

    name: str
    schema: pa.Schema
    path: str
    layout: str
    added: frozenset[str] = frozenset()
    sort_by: tuple[str, ...] = ()
    # List columns a row first seen before the retention cut-off is kept without (the row
    # stays, thin); none: such a row is dropped. Dedup keeps its forgotten articles' ids,
    # text hashes and URLs: an exact or same-URL copy of one is then its duplicate, not a
    # second article with its article_id (docs/state.md#retention).
    forget: tuple[str, ...] = ()

    @property
    def component(self) -> str:
        """The top folder under DIR holding the table."""
        return self.path.split("/", 1)[0]


DEDUP_ARTICLES = StateTable(
    "dedup/articles",
    DEDUP_ARTICLE_SCHEMA,
    "dedup/articles",
    PARTS,
    DEDUP_ARTICLE_ADDED,
    forget=("signature", "shingles", "facts"),
)
DEDUP_STORIES = StateTable("dedup/stories", DEDUP_STORY_SCHEMA, "dedup/stories", PARTS)
STORY_TERMS = StateTable("dedup/story_terms", DEDUP_STORY_TERMS_SCHEMA, "dedup/story_terms", PARTS)
FEED_STATE = StateTable(
    "feed_state/feeds",
    FEED_STATE_SCHEMA,
    "feed_state/feeds.parquet",
    FILE,
    FEED_STATE_ADDED,
    ("feed_url",),
)
SEEN_ENTRIES = StateTable(
    "feed_state/seen_entries",
    SEEN_ENTRY_SCHEMA,
    "feed_state/seen_entries.parquet",
    FILE,
    SEEN_ENTRY_ADDED,
    ("feed_url", "entry_id"),
)
SEEN_FILES = StateTable(
    "inputs/seen_files", SEEN_FILE_SCHEMA, SEEN_FILES_PATH, FILE, frozenset(), ("path",)
)
TABLES: tuple[StateTable, ...] = (
    DEDUP_ARTICLES,
    DEDUP_STORIES,
    STORY_TERMS,
    FEED_STATE,
    SEEN_ENTRIES,
    SEEN_FILES,
)


def stamped(schema: pa.Schema) -> pa.Schema:
    """`schema` with the state-version stamp in its metadata (what every file carries)."""
    return schema.with_metadata(
        {**(schema.metadata or {}), STATE_VERSION_KEY: STATE_VERSION.encode()}
    )


# --- Checking ------------------------------------------------------------------------------


def table_files(state_dir: str, table: StateTable) -> list[str]:
    """The files of `table` in the folder `state_dir` (sorted; none when it has none)."""
    location = f"{state_dir.rstrip('/')}/{table.path}"
    if table.layout == FILE:
        return [location] if files.exists(location) else []
    return sorted(
        path
        for path in files.list_files(location)
        if path.endswith(".parquet") and "/" not in files.relative(location, path)
    )


def _open(path: str) -> Any:
    return files.open_read(path)


def check_file(path: str, table: StateTable) -> pa.Schema:
    """The file's schema; StateError unless it follows the rule of the module docstring."""
    try:
        with _open(path) as handle:
            schema = pq.read_schema(handle)
    except Exception as error:  # OSError, ArrowInvalid, ...: not a Parquet file we can read
        raise StateError(
            f"state file {path} is unreadable ({error}); it is left as it is: restore it or "
            "point --state at a new folder"
        ) from None
    version = (schema.metadata or {}).get(STATE_VERSION_KEY)
    if version != STATE_VERSION.encode():
        found = version.decode(errors="replace") if version else "none"
        raise StateError(
            f"state file {path} has state version {found}, this NewsBeam reads "
            f"{STATE_VERSION}; it is left as it is: point --state at a new folder"
        )
    for field in table.schema:
        if field.name not in schema.names:
            if field.name in table.added:
                continue
            raise StateError(
                f"state file {path} lacks column {field.name} of the {table.name} table"
            )
        found_type = schema.field(field.name).type
        if not found_type.equals(field.type):
            raise StateError(
                f"state file {path}: column {field.name} is {found_type}, the {table.name} "
                f"table has {field.type}"
            )
    return schema


def check_tables(state_dir: str | None) -> dict[str, tuple[str, ...]]:
    """Every table's checked files (table name -> files); raises StateError."""
    files: dict[str, tuple[str, ...]] = {}
    for table in TABLES:
        found = table_files(state_dir, table) if state_dir else []
        for path in found:
            check_file(path, table)
        files[table.name] = tuple(found)
    return files


# --- Integrity: the record of every table file, in the marker -------------------------------
# At commit the marker gets `files`: every table file's path under the folder, its size and
# its sha256. A run verifies them before reading anything: a file missing, changed (one
# flipped byte), or added to a table folder makes the state unusable (StateError, exit 2,
# nothing touched). Everything goes through support/files.py (sizes, and open to
# hash), so the same check works on object stores. A marker written before this record
# existed has no `files`: it is accepted once, unverified (with a warning), and the next
# commit writes the record; STATE_VERSION is unchanged because the tables themselves did
# not change and older NewsBeams ignore the extra marker key.

_HASH_CHUNK = 1 << 20


def file_digest(path: str) -> str:
    """The sha256 of a file, read through support/files.py in 1 MiB pieces."""
    digest = hashlib.sha256()
    with _open(path) as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _size(path: str) -> int:
    return files.file_size(path)


def file_record(state_dir: str) -> dict[str, dict[str, Any]]:
    """Every table file under `state_dir` (relative path -> size and sha256)."""
    root = state_dir.rstrip("/")
    record = {}
    for table in TABLES:
        for path in table_files(root, table):
            relative = path[len(root) + 1 :]
            record[relative] = {"size": _size(path), "sha256": file_digest(path)}
    return dict(sorted(record.items()))


def integrity_problems(state_dir: str, recorded: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What differs between the folder's table files and the marker's record (empty: none)."""
    root = state_dir.rstrip("/")
    problems = []
    for relative, expected in sorted(recorded.items()):
        path = f"{root}/{relative}"
        if not files.exists(path):
            problems.append(f"{relative} is missing")
        elif _size(path) != expected.get("size"):
            problems.append(f"{relative} has {_size(path)} bytes, {expected.get('size')} recorded")
        elif file_digest(path) != expected.get("sha256"):
            problems.append(f"{relative} has changed (its sha256 differs from the record)")
    for table in TABLES:
        for path in table_files(root, table):
            if path[len(root) + 1 :] not in recorded:
                problems.append(f"{path[len(root) + 1 :]} is not in the record")
    return problems


def verify_state(state_dir: str, marker: Mapping[str, Any]) -> bool:
    """StateError when the table files differ from the marker's record; False when the
    marker has no record (written before it existed: accepted once), True when verified."""
    recorded = marker.get("files")
    if recorded is None:
        return False
    if not isinstance(recorded, dict):
        raise StateError(f"--state {state_dir}: {STATE_MARKER} has an unreadable file record")
    problems = integrity_problems(state_dir, recorded)
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        shown = "; ".join(problems[:5]) + more
        raise StateError(
            f"--state {state_dir} is damaged: {shown}. It is left as it is: restore it from "
            "a backup or point --state at a new folder"
        )
    return True


# --- The context the stages get --------------------------------------------------------------


# How long a forgotten article's thin dedup row (its ids, text hash and URL) stays, by
# default: an exact or same-URL copy within it is still its duplicate. Bounded, or the
# thin rows of a nightly state grow without end (each process holds them in memory).
KEEP_IDS_DAYS = 365.0


@dataclasses.dataclass(frozen=True)
class StateRetention:
    """When this run started (the `first_seen_at` of the state rows it adds), how many
    days earlier rows are kept whole (0: forever) and how many a forgotten article's thin
    row stays (`keep_ids_days`; 0: forever; never less than `keep_days`)."""

    run_at: dt.datetime
    keep_days: float = 0
    keep_ids_days: float = KEEP_IDS_DAYS

    @property
    def keep_since(self) -> dt.datetime | None:
        """Rows first seen before this are pruned (None: none is)."""
        if self.keep_days <= 0:
            return None
        return self.run_at - dt.timedelta(days=self.keep_days)

    @property
    def forget_since(self) -> dt.datetime | None:
        """Thin rows first seen before this are dropped too (None: none is)."""
        if self.keep_days <= 0 or self.keep_ids_days <= 0:
            return None
        return self.run_at - dt.timedelta(days=max(self.keep_days, self.keep_ids_days))


def within_retention(row: dict[str, Any], keep_since: dt.datetime | None) -> bool:
    """Whether an earlier run's state row is kept: no window, or first seen at or after
    `keep_since`."""
    return keep_since is None or row["first_seen_at"] >= keep_since


@dataclasses.dataclass(frozen=True)
class StateContext:
    """What a run's stateful stages know of the state, checked once: the earlier state
    (`state_dir`, None: none), where the new state goes (`state_out_dir`, None: no --state),
    the run's start and retention, and the checked files of every table."""

    state_dir: str | None = None
    state_out_dir: str | None = None
    run_at: dt.datetime = dataclasses.field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc)
    )
    keep_days: float = 0
    keep_ids_days: float = KEEP_IDS_DAYS
    # (table name, its checked files), for every table; a tuple of pairs pickles everywhere.
    checked: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The run's id where it keeps state ("" without --state: a run that stands alone, its
    # tables the same whatever its id; a stream): the copies' ids name it, so a source a
    # later run reads again as a copy of the same article is a row of its own
    # (dedup.py `with_own_id`).
    run_id: str = ""
    # This run's own start, where it differs from `run_at` (a rerun measured from its first
    # attempt's): what the clock says now, for a file being written now.
    started_at: dt.datetime | None = None

    @property
    def clock(self) -> dt.datetime:
        """This run's own start (`run_at` but in a rerun)."""
        return self.started_at or self.run_at

    @property
    def writes(self) -> bool:
        """Whether this run keeps state (--state given)."""
        return self.state_out_dir is not None

    @property
    def retention(self) -> StateRetention:
        return StateRetention(self.run_at, self.keep_days, self.keep_ids_days)

    @property
    def keep_since(self) -> dt.datetime | None:
        return self.retention.keep_since

    @property
    def forget_since(self) -> dt.datetime | None:
        return self.retention.forget_since

    def files(self, table: StateTable) -> tuple[str, ...]:
        """The earlier state's files of `table` (checked when the context was made)."""
        return dict(self.checked).get(table.name, ())


def make_context(
    state_dir: str | None,
    state_out_dir: str | None,
    run_at: dt.datetime,
    keep_days: float = 0,
    run_id: str = "",
    keep_ids_days: float = KEEP_IDS_DAYS,
    started_at: dt.datetime | None = None,
) -> StateContext:
    """Check every table file of `state_dir` (the marker is checked by check_state_dir) and
    return the context; StateError if a file is unusable."""
    checked = check_tables(state_dir)
    return StateContext(
        state_dir=state_dir,
        state_out_dir=state_out_dir,
        run_at=run_at,
        keep_days=keep_days,
        keep_ids_days=keep_ids_days,
        checked=tuple(sorted(checked.items())),
        run_id=run_id,
        started_at=started_at if started_at != run_at else None,
    )


# --- Reading -------------------------------------------------------------------------------


def _in_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with `schema`'s columns, in order: added ones it lacks all null, others dropped."""
    for field in schema:
        if field.name not in table.schema.names:
            table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
    return table.select(schema.names)


def read_arrow(path: str, table: StateTable) -> pa.Table:
    """One checked file of `table`, whole, as an Arrow table in the table's columns."""
    with _open(path) as handle:
        return _in_schema(pq.read_table(handle), table.schema)


def read_rows(path: str, table: StateTable) -> Iterator[dict[str, Any]]:
    """The rows of one checked file of `table`, as dicts in the table's columns."""
    with _open(path) as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=4096):
            yield from _in_schema(pa.Table.from_batches([batch]), table.schema).to_pylist()


def read_table(state: StateContext, table: StateTable) -> list[dict[str, Any]]:
    """All rows of `table` in the earlier state (for a DoFn's setup(): small tables only)."""
    return [row for path in state.files(table) for row in read_rows(path, table)]


def _retained(
    row: dict[str, Any], keep_since: dt.datetime | None, pruned_counter: str | None
) -> Iterator[dict[str, Any]]:
    if within_retention(row, keep_since):
        yield row
    elif pruned_counter:
        counter(pruned_counter).inc()


class ReadStateTable(beam.PTransform):
    """PBegin -> PCollection[dict]: the rows of one table of the earlier state.

    With `prune`, rows first seen before the retention cut-off are dropped, and counted as
    `pruned_counter` when one is named (name it on one read per table)."""

    def __init__(
        self,
        state: StateContext,
        table: StateTable,
        prune: bool = False,
        pruned_counter: str | None = None,
    ) -> None:
        super().__init__()
        self._files = list(state.files(table))
        self._table = table
        self._keep_since = state.keep_since if prune else None
        self._pruned_counter = pruned_counter

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[dict[str, Any]]:
        rows = (
            pbegin
            | "Files" >> beam.Create(self._files)
            | "Reshuffle" >> beam.Reshuffle()
            | "Rows" >> beam.FlatMap(read_rows, self._table)
        )
        if self._keep_since is None:
            return rows
        return rows | "Retained" >> beam.FlatMap(_retained, self._keep_since, self._pruned_counter)


# --- Writing -------------------------------------------------------------------------------


def file_name(table: StateTable) -> str:
    """The path under the state version of the file a run writes for a FILE table."""
    return table.path


def write_file(path: str, rows: Iterable[dict[str, Any]], table: StateTable) -> None:
    """One Parquet file of `table` (its schema, stamped), rows in `table.sort_by` order."""
    ordered = sorted(rows, key=lambda row: tuple(row[key] for key in table.sort_by))
    arrow = pa.Table.from_pylist(ordered, schema=stamped(table.schema))
    files.write_parquet(path, arrow, compression="zstd")


def _write_if(rows: list[dict[str, Any]], write: bool, path: str, table: StateTable) -> None:
    if write:
        write_file(path, rows, table)


def carried_name(source: str, kept: int, rows: int) -> str:
    """The name of an earlier file in the new version: its own when kept whole (a process
    that indexed it by name and size, support/state_index.py, knows it), else one of its own
    for the rows kept."""
    base = source.rsplit("/", 1)[-1]
    if kept == rows:
        return base
    stem = base[: -len(".parquet")] if base.endswith(".parquet") else base
    return f"{stem}-kept{kept}.parquet"


def _within(column: pa.ChunkedArray, keep_since: dt.datetime | None) -> pa.ChunkedArray | None:
    """The mask of `first_seen_at` values within the retention (None: every row is)."""
    if keep_since is None:
        return None
    import pyarrow.compute as pc  # state files only: a run without --state never loads it

    return pc.greater_equal(column, pa.scalar(keep_since, column.type))


def _write_part(path: str, arrow: pa.Table, table: StateTable) -> None:
    files.write_parquet(
        path, arrow.cast(stamped(table.schema)), compression="zstd", use_compliant_nested_type=True
    )


def retain(
    arrow: pa.Table,
    table: StateTable,
    keep_since: dt.datetime | None,
    forget_since: dt.datetime | None = None,
) -> tuple[pa.Table, int]:
    """An earlier file's rows as the new version keeps them, and how many this cut-off
    prunes: rows first seen before `keep_since` dropped, or, for a table that `forget`s,
    kept with those columns emptied (rows already thin are not pruned again) until
    `forget_since`, then dropped too."""
    import pyarrow.compute as pc  # state files only: a run without --state never loads it

    mask = _within(arrow.column("first_seen_at"), keep_since) if arrow.num_rows else None
    if mask is None:
        return arrow, 0
    if not table.forget:
        kept = arrow.filter(mask)
        return kept, arrow.num_rows - kept.num_rows
    dropped = 0
    remembered = _within(arrow.column("first_seen_at"), forget_since)
    if remembered is not None:
        before = arrow.num_rows
        arrow = arrow.filter(remembered)
        dropped = before - arrow.num_rows
        mask = _within(arrow.column("first_seen_at"), keep_since)
        assert mask is not None
    # A column added later (dedup's `facts`) is null in older files: not full, and no null
    # makes the row's other columns unknown.
    full = [
        pc.greater(pc.list_value_length(arrow.column(name)), 0).fill_null(False)
        for name in table.forget
    ]
    held = functools.reduce(pc.or_, full)
    forgotten = pc.and_(pc.invert(mask), held)
    count = int(pc.sum(forgotten).as_py() or 0)
    for name in table.forget if count else ():
        column = arrow.column(name)
        emptied = pc.if_else(forgotten, pa.scalar([], type=column.type), column)
        index = arrow.schema.get_field_index(name)
        arrow = arrow.set_column(index, arrow.schema.field(index), emptied)
    return arrow, count + dropped


def carry_file(
    path: str,
    folder: str,
    table: StateTable,
    keep_since: dt.datetime | None,
    forget_since: dt.datetime | None = None,
) -> dict[str, Any]:
    """One file of the earlier state's part table into the new version's `folder`, without
    a row passing through Python: copied whole when every row is within the retention, its
    retained rows written when some are not (retain), nothing when none is. Returns the
    entry WriteBundleFiles gives a file it wrote ("name" None: nothing written) and
    "pruned"."""
    import pyarrow.compute as pc  # state files only: a run without --state never loads it

    with _open(path) as handle:
        seen = pq.read_table(handle, columns=["first_seen_at"]).column("first_seen_at")
    rows = len(seen)
    mask = _within(seen, keep_since) if rows else None
    within = rows if mask is None else int(pc.sum(mask).as_py() or 0)
    if within < rows and table.forget:
        arrow, pruned = retain(read_arrow(path, table), table, keep_since, forget_since)
        entry: dict[str, Any] = {"target": table.name, "name": None, "rows": arrow.num_rows}
        entry["pruned"] = pruned
        if not pruned:  # its forgotten rows were thin already: the file as it was
            entry["name"] = carried_name(path, rows, rows)
            files.copy_files([(path, files.join(folder, entry["name"]))])
            return entry
        if not arrow.num_rows:  # every row's thin row outlived --state_keep_ids_days
            return entry
        entry["name"] = carried_name(path, arrow.num_rows, rows).removesuffix(".parquet")
        entry["name"] += f"-forgot{pruned}.parquet"
        _write_part(files.join(folder, entry["name"]), arrow, table)
        return entry
    kept = within
    entry = {"target": table.name, "name": None, "rows": kept}
    entry["pruned"] = rows - kept
    if not kept:
        return entry
    name = entry["name"] = carried_name(path, kept, rows)
    if kept == rows:
        files.copy_files([(path, files.join(folder, name))])
        return entry
    _write_part(files.join(folder, name), read_arrow(path, table).filter(mask), table)
    return entry


# Each run adds files of its own to the dedup and stories tables (a follow-mode batch of a
# few articles, a file each), and carried files keep their names: left alone, a long-lived
# state would hold thousands of tiny files, each copied and loaded at every run. Once there
# are more than MAX_SMALL_FILES files under SMALL_FILE_BYTES, the carry-over merges them
# into one (a new name: loaded again once); files that grew past the size stay as they are.
SMALL_FILE_BYTES = 4 << 20
MAX_SMALL_FILES = 16


def carry_plan(sizes: Mapping[str, int]) -> list[tuple[str, ...]]:
    """Earlier files (path -> bytes) -> the groups carried over: each file on its own, but
    every small file in one group once there are more than MAX_SMALL_FILES of them."""
    small = sorted(path for path, size in sizes.items() if size < SMALL_FILE_BYTES)
    if len(small) <= MAX_SMALL_FILES:
        return [(path,) for path in sorted(sizes)]
    return [(path,) for path in sorted(set(sizes) - set(small))] + [tuple(small)]


def merged_name(paths: Sequence[str]) -> str:
    """The name of the file that earlier files are merged into (the same for the same files)."""
    digest = hashlib.sha1("\n".join(path.rsplit("/", 1)[-1] for path in paths).encode())
    return f"merged-{digest.hexdigest()[:16]}.parquet"


def carry_files(
    paths: Sequence[str],
    folder: str,
    table: StateTable,
    keep_since: dt.datetime | None,
    forget_since: dt.datetime | None = None,
) -> dict[str, Any]:
    """A group of carry_plan into the new version: one file as carry_file does, several
    merged into one file of their retained rows (in path order). The same entry."""
    if len(paths) == 1:
        return carry_file(paths[0], folder, table, keep_since, forget_since)
    kept, pruned = [], 0
    for path in paths:
        retained, count = retain(read_arrow(path, table), table, keep_since, forget_since)
        pruned += count
        kept.append(retained)
    merged = pa.concat_tables(kept)
    entry: dict[str, Any] = {"target": table.name, "name": None, "rows": merged.num_rows}
    entry["pruned"] = pruned
    if merged.num_rows:
        entry["name"] = merged_name(paths)
        _write_part(files.join(folder, entry["name"]), merged, table)
    return entry


class _CarryFiles(beam.DoFn):
    """A group of earlier files (carry_plan) -> its entry in the new version (carry_files),
    counting the rows pruned."""

    def __init__(
        self,
        folder: str,
        table: StateTable,
        keep_since: dt.datetime | None,
        pruned_counter: str | None,
        forget_since: dt.datetime | None = None,
    ) -> None:
        self._folder, self._table = folder, table
        self._keep_since, self._pruned_counter = keep_since, pruned_counter
        self._forget_since = forget_since

    def process(self, paths: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        entry = carry_files(paths, self._folder, self._table, self._keep_since, self._forget_since)
        if self._pruned_counter and entry["pruned"]:
            counter(self._pruned_counter).inc(entry["pruned"])
        if entry["name"] is not None:
            yield {key: entry[key] for key in ("target", "name", "rows")}


def part_folder(state_out_dir: str, table: StateTable) -> str:
    """Where a run writes the part files of a PARTS table in its new state version."""
    return f"{state_out_dir.rstrip('/')}/{table.path}"


class WriteStateTable(beam.PTransform):
    """PCollection[dict] -> the table in the new state (`state.state_out_dir`).

    PARTS tables become part files, one per bundle (support/bundle_files.py: never all in
    memory; a retried bundle's orphans deleted); with `prewritten`, the input holds the
    entries of part files a DoFn wrote itself into `part_folder` (bundle_files.write_columns),
    which are listed the same way;
    FILE tables are small and become one file. `only_if` (a one-element
    PCollection[bool], FILE tables only): write nothing when it is False, so
    the component is carried over as it was."""

    def __init__(
        self,
        state: StateContext,
        table: StateTable,
        only_if: beam.PCollection[bool] | None = None,
        carry: bool = False,
        pruned_counter: str | None = None,
        prewritten: bool = False,
    ) -> None:
        super().__init__()
        if state.state_out_dir is None:
            raise ValueError("WriteStateTable needs a state_out_dir (a run with --state)")
        if only_if is not None and table.layout == PARTS:
            raise ValueError("only_if applies to single-file tables")
        if carry and table.layout != PARTS:
            raise ValueError("carry applies to part tables")
        self._out = state.state_out_dir.rstrip("/")
        self._run_at = state.run_at
        self._table = table
        self._only_if = only_if
        earlier = state.files(table) if carry else ()
        self._carried = carry_plan({path: files.file_size(path) for path in earlier})
        if prewritten and (table.layout != PARTS or carry):
            raise ValueError("prewritten applies to part tables, without carry")
        self._keep_since = state.keep_since
        self._forget_since = state.forget_since
        self._pruned_counter = pruned_counter
        self._prewritten = prewritten

    def expand(self, rows: beam.PCollection[dict[str, Any]]) -> Any:
        table = self._table
        if table.layout == PARTS:  # part files, one per bundle (support/bundle_files.py)
            folder, schema = part_folder(self._out, table), stamped(table.schema)
            if self._prewritten:
                written = rows
            else:
                written = (
                    rows
                    | "Keyed" >> beam.Map(lambda row, key=table.name: (key, row))
                    | "Parquet"
                    >> beam.ParDo(WriteBundleFiles({table.name: (folder, schema)}, "part"))
                )
            if self._carried:
                carried = (
                    rows.pipeline
                    | "Earlier" >> beam.Create(self._carried)
                    | "Spread" >> beam.Reshuffle()
                    | "Carry"
                    >> beam.ParDo(
                        _CarryFiles(
                            folder,
                            table,
                            self._keep_since,
                            self._pruned_counter,
                            self._forget_since,
                        )
                    )
                )
                written = (written, carried) | "AllFiles" >> beam.Flatten()
            return written | "Listed" >> CallWithAll(keep_listed, folder, schema, "part")
        path = f"{self._out}/{file_name(table)}"
        write = True if self._only_if is None else beam.pvalue.AsSingleton(self._only_if)
        return rows | "File" >> CallWithAll(_write_if, write, path, table)


# --- Life cycle: versions and the CURRENT pointer -----------------------------------------
# --state ROOT may be a local folder or an object store, so nothing is renamed:
#
#     ROOT/CURRENT.json               which version is the state (and the one before it)
#     ROOT/versions/<run>.<attempt>/  one complete state: state.json and the table files
#
# A run reads the version CURRENT names and writes a complete new version beside it. It
# commits with the output (pipeline/run.py): the output's run manifest, written first,
# names the new version, and CURRENT is then pointed at it (one object written whole).
# A run killed between the two is completed by the next (`recover_state` finds a version
# whose run manifest exists and points CURRENT at it); a version no manifest names is
# deleted. The version before CURRENT is kept, so the latest run can be run again (same
# run id) from the state it started from.

CURRENT = "CURRENT.json"
# What a run killed while it wrote CURRENT.json leaves (files.write_bytes writes beside and
# renames): no sign of a foreign folder, and removed by the next run's recover_state.
CURRENT_LEFT_PARTIAL = re.compile(rf"^{re.escape(CURRENT)}\.partial-\d+$")
VERSIONS = "versions"
STATE_FORMAT = "newsbeam-state"
LEGACY_VERSION = "legacy"


@dataclasses.dataclass(frozen=True)
class OpenedState:
    """A state ROOT opened for one run: the version read (`base`, None: empty state), the
    new version's name and folder, and what CURRENT said when the run started."""

    root: str
    base: str | None
    version: str
    version_dir: str
    run_id: str
    attempt: str
    current: dict[str, Any] | None
    # The start the run's state stages measure from (first_seen_at, the retention cut-offs):
    # this run's, or on a rerun the first attempt's (first_run_at).
    run_at: dt.datetime | None = None


def version_dir(root: str, version: str) -> str:
    return files.join(root, VERSIONS, version)


def read_current(root: str) -> dict[str, Any] | None:
    """CURRENT.json of a state ROOT (None: no state yet); StateError if unusable."""
    path = files.join(root, CURRENT)
    if not files.exists(path):
        return None
    try:
        content = files.read_json(path)
    except (OSError, ValueError) as error:
        raise StateError(f"--state {root}: {CURRENT} is unreadable ({error})") from None
    if not isinstance(content, dict) or content.get("format") != STATE_FORMAT:
        raise StateError(f"--state {root}: {CURRENT} is not a NewsBeam state pointer")
    if str(content.get("state_version")) not in STATE_FOLDER_VERSIONS_READ:
        raise StateError(other_version(f"--state {root}", content.get("state_version")))
    if not isinstance(content.get("version"), str):
        raise StateError(f"--state {root}: {CURRENT} names no version")
    return content


def current_table_files(root: str, table: StateTable) -> tuple[str, ...]:
    """The files of `table` in the version CURRENT names under a state ROOT (none: no
    state yet, or no such table in it), each checked as a run checks it when it opens the
    state (`check_file`): for a look at the state before the run opens it (the passes'
    plan reads the seen-files record). StateError naming the file if one is unusable."""
    current = read_current(root)
    if current is None:
        return ()
    found = table_files(version_dir(root, current["version"]), table)
    for path in found:
        check_file(path, table)
    return tuple(found)


def _marker_of(folder: str) -> dict[str, Any] | None:
    """The state.json of one version folder (None: none); StateError if unusable."""
    path = files.join(folder, STATE_MARKER)
    if not files.exists(path):
        return None
    try:
        content = files.read_json(path)
        version = content["state_version"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StateError(f"--state {folder}: {STATE_MARKER} is unreadable ({error})") from None
    if str(version) not in STATE_FOLDER_VERSIONS_READ:
        raise StateError(other_version(f"--state {folder}", version))
    return dict(content)


def other_version(where: str, version: object) -> str:
    """Why a state folder of `version` is refused, and what to do: a newer NewsBeam's state
    (a downgrade) is not to be dropped for a new folder, as an outdated one may be."""
    read = " and ".join(STATE_FOLDER_VERSIONS_READ)
    said = f"{where} holds state version {version}, and this NewsBeam reads versions {read}"
    try:
        newer = int(str(version)) > int(STATE_FOLDER_VERSION)
    except ValueError:
        newer = False
    if newer:
        return (
            f"{said}: a newer NewsBeam wrote it (it is left as it is); run that one, or this "
            "one on the copy of the state saved before the upgrade (docs/state.md, Upgrading)"
        )
    return f"{said}; point --state at a new folder (the old one is left as it is)"


def _migrate_legacy(root: str) -> bool:
    """A state folder of an older NewsBeam (state.json and components at the top, local
    only) becomes version `legacy` of the versioned layout, in place. True if it did."""
    if not files.is_local(root):
        return False
    top = Path(files.local_path(root))
    if not (top / STATE_MARKER).is_file() or (top / CURRENT).exists():
        return False
    _marker_of(str(top))  # refuse another state version before touching anything
    target = top / VERSIONS / LEGACY_VERSION
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(top.iterdir()):
        if entry.name in (VERSIONS,) or RUN_LOCK_NAME.match(entry.name):
            continue
        entry.rename(target / entry.name)
    _write_current(root, LEGACY_VERSION, None, "", "", "")
    log.info("--state %s: moved into the versioned layout (versions/%s)", root, LEGACY_VERSION)
    return True


def _write_current(
    root: str, version: str, previous: str | None, run_id: str, attempt: str, manifest: str
) -> None:
    files.write_json(
        files.join(root, CURRENT),
        {
            "format": STATE_FORMAT,
            "state_version": STATE_FOLDER_VERSION,
            "version": version,
            "previous": previous,
            "run_id": run_id,
            "attempt": attempt,
            "output_manifest": manifest,
            "published_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        },
    )


def _versions(root: str) -> dict[str, list[str]]:
    """Every version folder under ROOT/versions -> its files."""
    prefix = files.join(root, VERSIONS)
    found: dict[str, list[str]] = {}
    for path in files.list_files(prefix):
        found.setdefault(files.relative(prefix, path).split("/", 1)[0], []).append(path)
    return found


def check_state_root(root: str) -> None:
    """Refuse a --state that holds something other than NewsBeam state (StateError)."""
    if files.is_local(root):
        local = Path(files.local_path(root))
        if local.exists() and not local.is_dir():
            raise StateError(f"--state {root} exists and is not a folder")
    if files.exists(files.join(root, CURRENT)) or files.exists(files.join(root, STATE_MARKER)):
        return
    others = [
        path
        for path in files.list_files(root)
        if not files.relative(root, path).startswith(f"{VERSIONS}/")
        and not RUN_LOCK_NAME.match(files.relative(root, path).split("/", 1)[0])
        and not CURRENT_LEFT_PARTIAL.match(files.relative(root, path))
    ]
    if others:
        raise StateError(
            f"--state {root} is not empty and holds no {CURRENT}: it does not look like "
            "NewsBeam state, so it will be neither read nor replaced"
        )


def keep_private(root: str) -> None:
    """A new local state folder is made readable by its owner only (0700), whatever the
    process's umask: it holds the articles' texts and the URLs as given (keys and all),
    and everything in it is written under it. One that others can read is left as it is
    (a group may share it on purpose) and said: other users of the machine can read it.
    Object stores: their own access rules."""
    if not files.is_local(root):
        return
    local = files.local_path(root)
    if not os.path.exists(local):
        os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
        try:
            os.mkdir(local, 0o700)
        except FileExistsError:  # made meanwhile (by another run): as it is
            return
        os.chmod(local, 0o700)  # mkdir's mode is masked by the umask: exactly 0700
        return
    mode = os.stat(local).st_mode
    if mode & 0o007:
        log.warning(
            "--state %s can be read by every user of this machine (mode %s): it holds the "
            "articles' texts and the URLs as given; chmod 700 it unless that is meant",
            root,
            oct(mode & 0o777),
        )


def awaits_publication(root: str, version: str) -> bool:
    """Whether `version` is a version written from CURRENT's and not yet published: what a
    run killed between its commit and the state's publication leaves, which recover_state
    publishes once that run's manifest is found. A state in that case is not behind its
    dataset, only its CURRENT is, until the next run's recovery. A state whose first
    publication was killed has no CURRENT yet: its version's parent is None."""
    current = read_current(root)
    parent = current["version"] if current else None
    if version == parent:
        return False
    try:
        marker = _marker_of(version_dir(root, version))
    except StateError:
        return False
    return marker is not None and marker.get("parent") == parent


def recover_state(root: str, committed: Callable[[str, str, str], bool]) -> list[str]:
    """Finish or undo what a killed run left in a state ROOT; one log line per action.

    `committed(manifest, run_id, attempt)`: whether that run's output manifest exists and
    names that attempt (the output decides: pipeline/run.py). A version written after
    CURRENT's whose run committed becomes CURRENT (the run died after its commit); every
    other version but CURRENT's and the one before it is deleted."""
    check_state_root(root)
    _migrate_legacy(root)
    current = read_current(root)
    keep = {current["version"], current.get("previous")} if current else set()
    done = []
    for path in files.list_files(root) if files.is_local(root) else []:
        if CURRENT_LEFT_PARTIAL.match(files.relative(root, path)):  # its writer is dead:
            files.delete_files([path])  # this run holds the state's lock
            done.append(f"--state {root}: removed {path}, left by a run killed as it wrote it")
    for name, paths in sorted(_versions(root).items()):
        if name in keep:
            continue
        folder = version_dir(root, name)
        try:
            marker = _marker_of(folder)
        except StateError:
            marker = None
        parent = current["version"] if current else None
        if (
            marker is not None
            and marker.get("parent") == parent
            and committed(
                str(marker.get("output_manifest", "")),
                str(marker.get("run_id", "")),
                str(marker.get("attempt", "")),
            )
        ):
            _write_current(
                root,
                name,
                parent,
                str(marker["run_id"]),
                str(marker["attempt"]),
                str(marker["output_manifest"]),
            )
            current = read_current(root)
            keep = {name, parent}
            done.append(
                f"--state {root}: published version {name} (its run committed, then was killed)"
            )
            continue
        files.delete_files(paths)
        done.append(f"--state {root}: removed version {name}, left by a run that did not commit")
    _prune(root, keep)
    return done


def _prune(root: str, keep: set[str | None]) -> None:
    for name, paths in _versions(root).items():
        if name not in keep:
            files.delete_files(paths)
    files.remove_empty_folders(files.join(root, VERSIONS))


def open_state(
    root: str | Path | None,
    run_at: dt.datetime,
    keep_days: float = 0,
    run_id: str = "",
    attempt: str = "",
    keep_ids_days: float = KEEP_IDS_DAYS,
) -> tuple[StateContext, OpenedState | None]:
    """Check the state ROOT (CURRENT, the version's marker, its integrity record and every
    table file) and name the new version; returns the context and the opened state (None
    without --state). A rerun of the run CURRENT names (same run id) starts from the version
    before it. StateError if unusable; nothing is changed then."""
    if root is None:
        return (
            StateContext(run_at=run_at, keep_days=keep_days, keep_ids_days=keep_ids_days),
            None,
        )
    root = files.normalise(str(root))
    check_state_root(root)
    keep_private(root)
    current = read_current(root)
    started_at = run_at
    base = None
    if current is not None:
        base = current["version"]
        if run_id and current.get("run_id") == run_id:
            base = current.get("previous")
            first = first_run_at(root, current)
            log.info(
                "--state: run %s again, from the state before it (%s), as of its first "
                "attempt's start (%s)",
                run_id,
                f"version {base}" if base else "none: it was the state's first run",
                (first or run_at).isoformat(),
            )
            run_at = first or run_at
    base_dir = version_dir(root, base) if base else None
    marker = _marker_of(base_dir) if base_dir else None
    if base_dir is not None and marker is None:
        raise StateError(f"--state {root}: version {base} has no {STATE_MARKER}; it is damaged")
    if base_dir is not None and marker is not None and not verify_state(base_dir, marker):
        log.warning(
            "--state %s has no file record (written by an older NewsBeam): read unverified "
            "this once; this run's commit records its files",
            root,
        )
    name = f"{run_id}.{attempt}" if run_id else uuid.uuid4().hex[:12]
    out_dir = version_dir(root, name)
    context = make_context(
        base_dir if marker else None, out_dir, run_at, keep_days, run_id, keep_ids_days, started_at
    )
    opened = OpenedState(root, base, name, out_dir, run_id, attempt, current, run_at)
    return context, opened


def _moment(value: object) -> dt.datetime | None:
    """An ISO 8601 moment with its zone (None: not one)."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def first_run_at(root: str, current: Mapping[str, Any]) -> dt.datetime | None:
    """When the run CURRENT names first ran, for a rerun of it: its version's `run_at`
    (itself a rerun's: the first attempt's), else (a version written before it was
    recorded) its output manifest's start. A rerun measures the retention cut-offs from it,
    not from its own start: run a day later, it would forget a day more of earlier
    articles, and near copies the first attempt had as duplicates would be articles."""
    try:
        marker = _marker_of(version_dir(root, str(current["version"])))
    except StateError:
        marker = None
    if marker and (moment := _moment(marker.get("run_at"))):
        return moment
    manifest = str(current.get("output_manifest") or "")
    try:
        content = files.read_json(manifest) if manifest and files.exists(manifest) else None
    except (OSError, ValueError):
        content = None
    if not isinstance(content, dict):
        return None
    return _moment(content.get("started_at"))


def _carry_over(opened: OpenedState) -> None:
    """Tables this run did not write, copied from the version it read (a component of no
    use this run: feeds in a run without feeds)."""
    if opened.base is None:
        return
    base_dir = version_dir(opened.root, opened.base)
    for table in TABLES:
        if not table_files(opened.version_dir, table):
            old = table_files(base_dir, table)
            files.copy_files(
                [
                    (
                        path,
                        files.join(opened.version_dir, *files.relative(base_dir, path).split("/")),
                    )
                    for path in old
                ]
            )


def output_root(manifest: str) -> str:
    """The dataset ROOT a run manifest (ROOT/_runs/<run id>.json) commits into; '' for none."""
    if not manifest:
        return ""
    return files.normalise(posixpath.dirname(posixpath.dirname(manifest.replace(os.sep, "/"))))


def marker_outputs(marker: Mapping[str, Any] | None) -> list[str]:
    """The dataset ROOTs whose runs wrote the articles a version holds (its marker's
    `outputs`; a marker written before them names only its own run's manifest)."""
    if not marker:
        return []
    outputs = marker.get("outputs")
    if isinstance(outputs, list):
        return [str(root) for root in outputs]
    return [root for root in [output_root(str(marker.get("output_manifest") or ""))] if root]


def state_outputs(root: str, current: Mapping[str, Any] | None) -> list[str]:
    """marker_outputs of the version `current` (the state's CURRENT, read by the caller)
    names ([] for an empty state)."""
    if current is None or not current.get("version"):
        return []
    return marker_outputs(_marker_of(version_dir(root, str(current["version"]))))


def prepare_state(opened: OpenedState, summary: Mapping[str, Any], output_manifest: str) -> None:
    """Make the new version complete: carry over what this run did not write, then write
    its marker (the record of every table file, the version it came from, the output
    manifest that commits it, and every ROOT the state's runs committed into: a state taken
    on to another ROOT still holds the first one's articles, which later runs are warned of)."""
    _carry_over(opened)
    base = _marker_of(version_dir(opened.root, opened.base)) if opened.base else None
    outputs = {*marker_outputs(base), output_root(output_manifest)} - {""}
    marker = {
        "state_version": STATE_FOLDER_VERSION,
        "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "components": sorted(
            {table.component for table in TABLES if table_files(opened.version_dir, table)}
        ),
        **summary,
        "parent": opened.base,
        "run_id": opened.run_id,
        "attempt": opened.attempt,
        **({"run_at": opened.run_at.isoformat()} if opened.run_at else {}),
        "output_manifest": output_manifest,
        "outputs": sorted(outputs),
        "files": file_record(opened.version_dir),
    }
    files.write_json(files.join(opened.version_dir, STATE_MARKER), marker)


def publish_state(opened: OpenedState, output_manifest: str) -> None:
    """Point CURRENT at the new version (after the output's manifest is written), then
    drop every version but it and the one it came from."""
    _write_current(
        opened.root, opened.version, opened.base, opened.run_id, opened.attempt, output_manifest
    )
    crash_point("state-published")
    _prune(opened.root, {opened.version, opened.base})


def discard_state(opened: OpenedState) -> None:
    """A run that failed: its new version goes (CURRENT never named it)."""
    files.delete_tree(opened.version_dir)
    files.remove_empty_folders(files.join(opened.root, VERSIONS))


# The lock of a folder (pipeline/lock.py): `.NAME.newsbeam.lock`, and while one is written
# or taken over `.NAME.newsbeam.lock.<token>` / `.NAME.newsbeam.lock.stale-<hex>`.
RUN_LOCK_NAME = re.compile(r"^\..+\.newsbeam\.lock(?:\..+)?$")
# What older NewsBeams left beside an output or state folder (staging, retired, journal):
# never read as input.
RUN_FOLDER_NAME = re.compile(
    r"^\.(?P<name>.+)\.newsbeam-(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.(?P<kind>tmp|old|commit|part)$"
)

# Fault injection for the crash tests: a run whose environment names a step in this variable
# exits at once (os._exit(137), as a SIGKILL would) when it reaches that step of the commit;
# `STEP:SIGNAL` (e.g. `intent-written:SIGTERM`) sends the process that signal there instead,
# a stop landing at an exact step (a harness polling for files can miss a step that lasts
# milliseconds on a loaded host); `STEP:SIGNAL:N` (`manifest-written:SIGKILL:2`) at the
# N-th time the process reaches it (passes and follow mode commit once a pass or batch).
CRASH_ENV = "NEWSBEAM_CRASH_AT"
# What a crash point that fires writes to stderr first (its signal, and when on the wall
# clock): a harness tells a kill that came from one that never did (tests/kill_runs.py).
CRASH_NOTE = "[NEWSBEAM_CRASH_AT: {step} reached, {action} at {at:.3f}]"
# How often this process reached each step CRASH_ENV names: a count, not data (tests only).
_CRASH_STEPS_REACHED: dict[str, int] = {}


def crash_point(step: str) -> None:
    """Die here, as if killed, or take the signal CRASH_ENV names, when it names `step`
    (and this is its N-th time here, N from `STEP:SIGNAL:N`, 1 if not given; tests only)."""
    named, _, rest = os.environ.get(CRASH_ENV, "").partition(":")
    if named != step:
        return
    signal_name, _, nth = rest.partition(":")
    _CRASH_STEPS_REACHED[step] = _CRASH_STEPS_REACHED.get(step, 0) + 1
    if _CRASH_STEPS_REACHED[step] != int(nth or 1):
        return
    action = signal_name or "exit 137"
    note = CRASH_NOTE.format(step=step, action=action, at=time.time())
    os.write(2, f"\n{note}\n".encode())
    if not signal_name:
        os._exit(137)
    os.kill(os.getpid(), signal.Signals[signal_name])
