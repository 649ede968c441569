"""The `--state DIR` folder, all of it: its life cycle, and reading, checking and writing every
state table (dedup articles/stories/story_terms, feed state, seen entries, feed health).
The tables' schemas are in newsbeam.schemas (dedup_state.py, feeds.py).

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
(zstd), into the staging folder: through Beam's Parquet sink for the dedup tables (part
files), one file per table for the feed tables. A component folder this run did not write
(no feeds in this run, say) is carried over unchanged at commit, and the earlier runs' files
of a table kept one file per run (feed health) are carried over into the new folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.parquetio import WriteToParquet

from newsbeam.schemas import STATE_MARKER, STATE_VERSION, STATE_VERSION_KEY
from newsbeam.schemas.dedup_state import (
    DEDUP_ARTICLE_SCHEMA,
    DEDUP_STORY_SCHEMA,
    DEDUP_STORY_TERMS_SCHEMA,
)
from newsbeam.schemas.feeds import (
    FEED_HEALTH_ADDED,
    FEED_HEALTH_SCHEMA,
    FEED_STATE_ADDED,
    FEED_STATE_SCHEMA,
    SEEN_ENTRY_ADDED,
    SEEN_ENTRY_SCHEMA,
)
from newsbeam.schemas.inputs_state import SEEN_FILE_SCHEMA, SEEN_FILES_PATH
from newsbeam.transforms.support.failures import counter

log = logging.getLogger("newsbeam")


class StateError(Exception):
    """The state folder cannot be used; nothing was run and nothing was changed."""


# --- The tables ----------------------------------------------------------------------------

PARTS, FILE, RUN_FILES = "parts", "file", "run_files"


@dataclasses.dataclass(frozen=True)
class StateTable:
    """One table of the state folder. `path` (under DIR) is a folder of part files written by
    Beam (PARTS), one file (FILE), or a folder with one file per run, earlier runs' files
    kept (RUN_FILES). `sort_by`: row order of FILE and RUN_FILES tables (deterministic)."""

    name: str
    schema: pa.Schema
    path: str
    layout: str
    added: frozenset[str] = frozenset()
    sort_by: tuple[str, ...] = ()

    @property
    def component(self) -> str:
        """The top folder under DIR holding the table."""
        return self.path.split("/", 1)[0]


DEDUP_ARTICLES = StateTable("dedup/articles", DEDUP_ARTICLE_SCHEMA, "dedup/articles", PARTS)
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
FEED_HEALTH = StateTable(
    "feeds/health", FEED_HEALTH_SCHEMA, "feeds", RUN_FILES, FEED_HEALTH_ADDED, ("feed_url",)
)
TABLES: tuple[StateTable, ...] = (
    DEDUP_ARTICLES,
    DEDUP_STORIES,
    STORY_TERMS,
    FEED_STATE,
    SEEN_ENTRIES,
    FEED_HEALTH,
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
        return [location] if FileSystems.exists(location) else []
    matched = FileSystems.match([f"{location}/*.parquet"])[0].metadata_list
    return sorted(meta.path for meta in matched)


def _open(path: str) -> Any:
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


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
# nothing touched). Everything goes through Beam's FileSystems (match for sizes, open to
# hash), so the same check works on object stores. A marker written before this record
# existed has no `files`: it is accepted once, unverified (with a warning), and the next
# commit writes the record; STATE_VERSION is unchanged because the tables themselves did
# not change and older NewsBeams ignore the extra marker key.

_HASH_CHUNK = 1 << 20


def file_digest(path: str) -> str:
    """The sha256 of a file, read through FileSystems in 1 MiB pieces."""
    digest = hashlib.sha256()
    with _open(path) as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _size(path: str) -> int:
    return int(FileSystems.match([path])[0].metadata_list[0].size_in_bytes)


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
        if not FileSystems.exists(path):
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


def read_marker(state: Path) -> dict[str, Any] | None:
    """The marker of the folder `state` once checked (None: no earlier state); raises
    StateError unless the folder is usable. Only the marker is read here."""
    if not state.exists():
        return None
    if not state.is_dir():
        raise StateError(f"--state {state} exists and is not a folder")
    marker = state / STATE_MARKER
    if not marker.exists():
        if any(state.iterdir()):
            raise StateError(
                f"--state {state} is not empty and holds no {STATE_MARKER}: it does not look "
                "like NewsBeam state, so it will be neither read nor replaced"
            )
        return None
    try:
        content = json.loads(marker.read_text())
        version = content["state_version"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StateError(f"--state {state}: {STATE_MARKER} is unreadable ({error})") from error
    if str(version) != STATE_VERSION:
        raise StateError(
            f"--state {state} holds state version {version}, and this NewsBeam reads version "
            f"{STATE_VERSION}; point --state at a new folder (the old one is left as it is)"
        )
    return dict(content)


def check_state_dir(state: Path) -> bool:
    """Raise StateError unless the folder `state` is usable; True when it holds earlier
    state (its marker names this STATE_VERSION). Only the marker is read here."""
    return read_marker(state) is not None


# --- The context the stages get --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StateRetention:
    """When this run started (the `first_seen_at` of the state rows it adds) and how many
    days earlier rows are kept (0: forever)."""

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
    keep_days: int = 0
    # (table name, its checked files), for every table; a tuple of pairs pickles everywhere.
    checked: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def writes(self) -> bool:
        """Whether this run keeps state (--state given)."""
        return self.state_out_dir is not None

    @property
    def retention(self) -> StateRetention:
        return StateRetention(self.run_at, self.keep_days)

    @property
    def keep_since(self) -> dt.datetime | None:
        return self.retention.keep_since

    def files(self, table: StateTable) -> tuple[str, ...]:
        """The earlier state's files of `table` (checked when the context was made)."""
        return dict(self.checked).get(table.name, ())


def make_context(
    state_dir: str | None,
    state_out_dir: str | None,
    run_at: dt.datetime,
    keep_days: int = 0,
) -> StateContext:
    """Check every table file of `state_dir` (the marker is checked by check_state_dir) and
    return the context; StateError if a file is unusable."""
    checked = check_tables(state_dir)
    return StateContext(
        state_dir=state_dir,
        state_out_dir=state_out_dir,
        run_at=run_at,
        keep_days=keep_days,
        checked=tuple(sorted(checked.items())),
    )


# --- Reading -------------------------------------------------------------------------------


def _in_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with `schema`'s columns, in order: added ones it lacks all null, others dropped."""
    for field in schema:
        if field.name not in table.schema.names:
            table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
    return table.select(schema.names)


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


def file_name(table: StateTable, run_at: dt.datetime) -> str:
    """The path under the state folder of the file a run writes for a FILE or RUN_FILES table."""
    if table.layout == FILE:
        return table.path
    stamp = run_at.strftime("%Y%m%dT%H%M%S%fZ")  # names sort in run order
    return f"{table.path}/health-{stamp}.parquet"


def write_file(path: str, rows: Iterable[dict[str, Any]], table: StateTable) -> None:
    """One Parquet file of `table` (its schema, stamped), rows in `table.sort_by` order."""
    ordered = sorted(rows, key=lambda row: tuple(row[key] for key in table.sort_by))
    arrow = pa.Table.from_pylist(ordered, schema=stamped(table.schema))
    parent = path.rsplit("/", 1)[0]
    if not FileSystems.exists(parent):
        FileSystems.mkdirs(parent)
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        pq.write_table(arrow, handle, compression="zstd")


def _write_if(rows: list[dict[str, Any]], write: bool, path: str, table: StateTable) -> None:
    if write:
        write_file(path, rows, table)


class WriteStateTable(beam.PTransform):
    """PCollection[dict] -> the table in the new state (`state.state_out_dir`).

    PARTS tables go through Beam's Parquet sink (sharded part files, never all in memory);
    FILE and RUN_FILES tables are small and become one file. `only_if` (a one-element
    PCollection[bool], FILE and RUN_FILES tables only): write nothing when it is False, so
    the component is carried over as it was."""

    def __init__(
        self,
        state: StateContext,
        table: StateTable,
        only_if: beam.PCollection[bool] | None = None,
    ) -> None:
        super().__init__()
        if state.state_out_dir is None:
            raise ValueError("WriteStateTable needs a state_out_dir (a run with --state)")
        if only_if is not None and table.layout == PARTS:
            raise ValueError("only_if applies to single-file tables")
        self._out = state.state_out_dir.rstrip("/")
        self._run_at = state.run_at
        self._table = table
        self._only_if = only_if

    def expand(self, rows: beam.PCollection[dict[str, Any]]) -> Any:
        table = self._table
        if table.layout == PARTS:
            return rows | "Parquet" >> WriteToParquet(
                f"{self._out}/{table.path}/part",
                schema=stamped(table.schema),
                codec="zstd",
                use_compliant_nested_type=True,
                file_name_suffix=".parquet",
            )
        path = f"{self._out}/{file_name(table, self._run_at)}"
        whole = rows | "Whole" >> beam.combiners.ToList()
        if self._only_if is None:
            return whole | "File" >> beam.Map(_write_if, True, path, table)
        return whole | "File" >> beam.Map(
            _write_if, beam.pvalue.AsSingleton(self._only_if), path, table
        )


# --- Life cycle ----------------------------------------------------------------------------


def open_state(
    state: Path | None, run_at: dt.datetime, keep_days: int = 0
) -> tuple[StateContext, Path | None]:
    """Check `state` (marker, the integrity record and every table file) and make its
    staging folder; returns the context and the staging folder (None without --state).
    StateError if unusable; nothing is created then."""
    if state is None:
        return StateContext(run_at=run_at, keep_days=keep_days, checked=()), None
    marker = read_marker(state)
    if marker is not None and not verify_state(str(state), marker):
        log.warning(
            "--state %s has no file record (written by an older NewsBeam): read unverified "
            "this once; this run's commit records its files",
            state,
        )
    has_state = marker is not None
    context = make_context(str(state) if has_state else None, None, run_at, keep_days)
    staging = staging_dir_for(state)
    return dataclasses.replace(context, state_out_dir=str(staging)), staging


def staging_dir_for(state: Path) -> Path:
    """A fresh folder beside `state` for the run's new state."""
    staging = beside(state, "tmp")
    staging.mkdir(parents=True)
    return staging


# --- Folders beside a target: staging (.tmp), retired (.old), commit journal (.commit) ------
# Their names carry the process id of the run that made them, so a later run can tell the
# leftovers of a killed run (SIGKILL, power loss) from a run still going on.

# The lock of a folder (pipeline/lock.py): `.NAME.newsbeam.lock`, and while one is written
# or taken over `.NAME.newsbeam.lock.<token>` / `.NAME.newsbeam.lock.stale-<hex>`.
RUN_LOCK_NAME = re.compile(r"^\..+\.newsbeam\.lock(?:\..+)?$")
RUN_FOLDER_NAME = re.compile(
    r"^\.(?P<name>.+)\.newsbeam-(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.(?P<kind>tmp|old|commit|part)$"
)

# Fault injection for the crash tests: a run whose environment names a step in this variable
# exits at once (os._exit(137), as a SIGKILL would) when it reaches that step of the commit.
CRASH_ENV = "NEWSBEAM_CRASH_AT"


def crash_point(step: str) -> None:
    """Die here, as if killed, when CRASH_ENV names `step` (tests only)."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(137)


def beside(target: Path, kind: str) -> Path:
    """A new name beside `target` for a staging ("tmp"), retired ("old") folder or journal."""
    return target.parent / f".{target.name}.newsbeam-{os.getpid()}-{uuid.uuid4().hex[:12]}.{kind}"


def _running(pid: str | None) -> bool:
    if pid is None:  # made by a NewsBeam that did not record it: not a run of this one
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or a number we cannot check: leave it
    return True


def leftovers(target: Path) -> list[Path]:
    """Staging and retired folders and journals beside `target` whose run is gone."""
    if not target.parent.is_dir():
        return []
    found = []
    for path in target.parent.iterdir():
        match = RUN_FOLDER_NAME.match(path.name)
        if match and match["name"] == target.name and not _running(match["pid"]):
            found.append(path)
    return sorted(found)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def recover_commits(target: Path) -> list[str]:
    """Complete the commits a killed run journaled beside `target`: its journal is written
    once every staging folder is complete, so every swap it names is carried out (roll
    forward). Call it for every target before `recover_leftovers`, which would remove the
    journaled staging folders. Returns what was done, one line each, for the log."""
    done = []
    for journal in leftovers(target):
        if not journal.name.endswith(".commit"):
            continue
        try:
            swaps = [(Path(a), Path(b)) for a, b in json.loads(journal.read_text())["swaps"]]
        except (OSError, ValueError, KeyError, TypeError):
            swaps = []  # unreadable: never complete, so the roll-back below applies
        for staging, dest in swaps:
            if not staging.is_dir():
                continue  # this swap was done
            retired = None
            if dest.exists():
                retired = beside(dest, "old")
                dest.rename(retired)
            staging.rename(dest)
            if retired is not None:
                shutil.rmtree(retired, ignore_errors=True)
            done.append(f"completed the commit of {dest}, interrupted by a run that was killed")
        journal.unlink(missing_ok=True)
    return done


def recover_leftovers(target: Path) -> list[str]:
    """Finish what a killed run left beside `target` that no journal completes: when it
    died between the two renames of a swap (`target` moved aside, its replacement not yet
    in place), the old folder is put back, so the run is as if it never happened; then every
    leftover is removed. Returns what was done, one line each, for the log."""
    found = [path for path in leftovers(target) if not path.name.endswith(".commit")]
    done = []
    retired = [path for path in found if path.name.endswith(".old")]
    if not target.exists() and retired:
        newest = max(retired, key=lambda path: path.stat().st_mtime)
        newest.rename(target)
        found.remove(newest)
        done.append(f"restored {target} from {newest.name}, left by a run that was killed")
    for path in found:
        _remove(path)
        done.append(f"removed {path}, left by a run that was killed")
    return done


def _carry_run_files(staging: Path, state: Path) -> None:
    """Earlier runs' files of RUN_FILES tables this run added to: copied into the new folder,
    those lacking added columns rewritten complete (one schema per folder)."""
    for table in TABLES:
        if table.layout != RUN_FILES or not (staging / table.path).is_dir():
            continue
        for old in table_files(str(state), table):
            target = staging / table.path / Path(old).name
            if target.exists():
                continue
            if pq.read_schema(old).names == table.schema.names:
                shutil.copy2(old, target)
            else:
                write_file(str(target), read_rows(old, table), table)


def prepare_state(staging: Path, state: Path, summary: Mapping[str, Any]) -> None:
    """Make `staging` the complete new state: carry over what this run did not write, then
    write the marker with the record of every table file (sizes and sha256)."""
    if state.is_dir():
        _carry_run_files(staging, state)
        for component in sorted(state.iterdir()):
            if component.is_dir() and not (staging / component.name).exists():
                shutil.copytree(component, staging / component.name)
    marker = {
        "state_version": STATE_VERSION,
        "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "components": sorted(p.name for p in staging.iterdir() if p.is_dir()),
        **summary,
        "files": file_record(str(staging)),
    }
    (staging / STATE_MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")


def commit_state(staging: Path, state: Path, summary: Mapping[str, Any]) -> None:
    """Carry over what this run did not write, write the marker, swap `staging` into `state`."""
    prepare_state(staging, state, summary)
    swap_into_place(staging, state, "state")


def commit(swaps: Sequence[tuple[Path, Path, str]]) -> None:
    """Put each complete staging folder in place of its target (staging, target, label),
    all of them or, after a crash, none: with more than one swap a journal naming them is
    written (atomically) beside the last target first, and a later run that finds it
    completes the swaps (`recover_commits`); a crash before the journal leaves the
    stagings as leftovers, removed by the next run with every target unchanged."""
    journal = None
    if len(swaps) > 1:
        journal = beside(swaps[-1][1], "commit")
        part = journal.with_suffix(".part")
        with open(part, "w") as handle:
            json.dump({"swaps": [[str(a), str(b)] for a, b, _ in swaps]}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, journal)
        crash_point("journal-written")
    for staging, target, label in swaps:
        swap_into_place(staging, target, label)
    if journal is not None:
        journal.unlink()
        crash_point("journal-removed")


def swap_into_place(staging: Path, target: Path, label: str = "") -> None:
    """Replace `target` by `staging` with two renames; the old folder is deleted last."""
    retired = None
    if target.exists():
        retired = beside(target, "old")
        target.rename(retired)
        crash_point(f"{label}-aside")
    staging.rename(target)
    crash_point(f"{label}-in-place")
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
        crash_point(f"{label}-old-removed")
