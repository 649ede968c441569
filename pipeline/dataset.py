"""The output dataset (`--output ROOT`): one growing warehouse source, on any filesystem.

    ROOT/_newsbeam_dataset.json                      what ROOT is (written by its first run)
    ROOT/articles/ingest_date=2026-12-01/<run id>.<attempt>-00000-of-00001.parquet
    ROOT/duplicates/ingest_date=.../...              the same for every table (TABLES)
    ROOT/rejected/ingest_date=.../...
    ROOT/feed_health/ingest_date=.../...
    ROOT/_runs/<run id>.json                         a run's manifest: written last, it commits
    ROOT/_runs/<run id>.html                         the run's report
    ROOT/_staging/<run id>.<attempt>/                a run in flight, or one that died

Each table is one Hive-partitioned Parquet dataset (DuckDB, Spark, Trino, BigQuery read it
with hive partitioning); every run adds its own files, in the partition of the day it
started (UTC), named by its run id and attempt.

Commit without renames (object stores have none): the pipeline writes into
`_staging/<run>.<attempt>/`; the commit then writes an intent record there, moves the
files into their partitions, and writes the manifest `_runs/<run id>.json`, which lists
them. A run is committed when, and only when, its manifest names its attempt; NewsBeam's
readers read the files manifests list, nothing else. Re-running a run id (the same
scheduled date) writes a new attempt whose manifest replaces the old one, then deletes the
old attempt's files: never duplicated rows. A run that died before its manifest left only
its staging folder (or, killed mid-move, files no manifest names): `recover()`, called by
the next run, deletes them, guided by the intent record.

One writer per ROOT at a time: locally a lock file sees to it (pipeline/lock.py); on an
object store the scheduler must (one active run per ROOT).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from newsbeam.schemas import DATASET_SCHEMAS, WRITTEN
from newsbeam.transforms.support import files

DATASET_MARKER = "_newsbeam_dataset.json"
DATASET_FORMAT = "newsbeam-dataset"
LAYOUT_VERSION = 1
RUNS = "_runs"
STAGING = "_staging"
INTENT = "_commit.json"
PARTITION_KEY = "ingest_date"
# The tables of a dataset, in the order they are written and loaded.
DATASET_TABLES = tuple(DATASET_SCHEMAS)  # articles, duplicates, rejected, feed_health
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")
_ATTEMPT = re.compile(r"^[0-9a-f]{8}$")


class DatasetError(Exception):
    """ROOT is not a NewsBeam dataset, or a manifest in it is unusable."""


def check_run_id(run_id: str) -> str:
    """A run id names files and objects: letters, digits and `_ . + -`, at most 100."""
    if not RUN_ID.match(run_id):
        raise ValueError(
            f"--run_id {run_id!r}: use letters, digits and _ . + - (starting with a letter "
            "or digit), at most 100 characters"
        )
    return run_id


def new_run_id(started: dt.datetime) -> str:
    """The default run id: the start time (UTC, to the microsecond), sortable."""
    return started.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def new_attempt() -> str:
    """A random id for one attempt at a run: reruns of a run id never share file names."""
    return secrets.token_hex(4)


def run_key(run_id: str, attempt: str) -> str:
    return f"{run_id}.{attempt}"


def partition(started: dt.datetime) -> str:
    """The partition folder of a run that started at `started`: its UTC day."""
    return f"{PARTITION_KEY}={started.astimezone(dt.timezone.utc).date().isoformat()}"


def manifest_path(root: str, run_id: str) -> str:
    return files.join(root, RUNS, f"{run_id}.json")


def report_path(root: str, run_id: str) -> str:
    return files.join(root, RUNS, f"{run_id}.html")


def staging_dir(root: str, run_id: str, attempt: str) -> str:
    return files.join(root, STAGING, run_key(run_id, attempt))


def file_prefix(run_id: str, attempt: str) -> str:
    """The start of every data file a run attempt writes (the commit adds -SSSSS-of-NNNNN)."""
    return run_key(run_id, attempt)


# --- What ROOT is ----------------------------------------------------------------------------


def marker_content() -> dict[str, Any]:
    return {"format": DATASET_FORMAT, "layout_version": LAYOUT_VERSION}


def is_dataset(root: str) -> bool:
    """Whether ROOT holds a NewsBeam dataset marker of a layout this NewsBeam reads;
    DatasetError when that cannot be told (the store failed: not "no marker")."""
    return _marker(root) is not None


def _marker(root: str) -> dict[str, Any] | None:
    """ROOT's dataset marker (`is_dataset`), None where there is none of ours."""
    path = files.join(root, DATASET_MARKER)
    try:
        if not files.exists(path):
            return None
    except Exception as error:  # each filesystem has its own errors
        raise DatasetError(f"{root}: cannot be read ({type(error).__name__}: {error})") from None
    try:
        marker = files.read_json(path)
    except Exception:  # gone since, or not JSON: no marker of ours
        return None
    return marker if isinstance(marker, dict) and marker.get("format") == DATASET_FORMAT else None


def check_root(root: str, *, for_writing: bool) -> None:
    """Refuse a ROOT that holds something other than a NewsBeam dataset (DatasetError):
    for writing, an empty or absent ROOT is fine; for reading it must be a dataset."""
    unreadable = files.cannot_list(root) if files.is_local(root) else files.store_problem(root)
    if unreadable:  # not "no marker": the marker may be there, unread
        raise DatasetError(unreadable)
    marker = _marker(root)
    if marker is not None:
        if marker.get("layout_version") != LAYOUT_VERSION:
            raise DatasetError(
                f"{root} is a NewsBeam dataset of layout {marker.get('layout_version')}; "
                f"this NewsBeam reads layout {LAYOUT_VERSION}"
            )
        return
    if _is_run_folder(root):
        raise DatasetError(
            f"{root} is a single-run output folder of an older NewsBeam, not a dataset: give "
            "--output a new ROOT (README: 'From run folders to a dataset')"
        )
    if not for_writing:
        raise DatasetError(f"{root} is not a NewsBeam dataset (no {DATASET_MARKER})")
    if files.is_local(root) and os.path.exists(root) and not os.path.isdir(root):
        raise DatasetError(
            f"--output {root} is a file: ROOT is a folder (new, empty, or a NewsBeam dataset)"
        )
    if files.list_files(root):
        raise DatasetError(
            f"--output {root} is not empty and holds no {DATASET_MARKER}: it does not look "
            "like a NewsBeam dataset, so nothing will be written into it"
        )


def _is_run_folder(root: str) -> bool:
    """Whether ROOT is an older NewsBeam's single-run output (by its manifest's content:
    a schema version and counts; a web app's manifest.json is not one)."""
    try:
        content = files.read_json(files.join(root, "manifest.json"))
    except Exception:
        return False
    return (
        isinstance(content, dict)
        and isinstance(content.get("schema_version"), str)
        and isinstance(content.get("counts"), dict)
        and "inputs" in content["counts"]
    )


def ensure_marker(root: str) -> None:
    """Mark ROOT as a NewsBeam dataset (once)."""
    if not is_dataset(root):
        files.write_json(files.join(root, DATASET_MARKER), marker_content())


def unmark_unused(root: str) -> None:
    """Undo `ensure_marker` for a ROOT that holds nothing else (the first run into it
    failed): the marker goes and, locally, the folder when left empty."""
    marker = files.join(root, DATASET_MARKER)
    if set(files.list_files(root)) - {marker}:
        return
    files.delete_files([marker])
    files.remove_empty_folders(root)


# --- Manifests -------------------------------------------------------------------------------

_COUNTS = ("inputs", "articles", "duplicates", "rejected")


def check_manifest(content: object, where: str) -> dict[str, Any]:
    """A parsed manifest, checked for what readers rely on (DatasetError otherwise)."""
    if not isinstance(content, dict):
        raise DatasetError(f"{where}: not a NewsBeam run manifest (not a JSON object)")
    problems = []
    if not isinstance(content.get("run_id"), str) or not RUN_ID.match(content["run_id"]):
        # Loaders name files, table properties and filters by it: what `valid_run_id` lets
        # a run be called, nothing else (a planted manifest's quotes reached a filter).
        problems.append("no valid run_id")
    if not isinstance(content.get("attempt"), str) or not _ATTEMPT.match(content["attempt"]):
        problems.append("no attempt")
    if not isinstance(content.get("schema_version"), str):
        problems.append("no schema_version")
    counts = content.get("counts")
    if not isinstance(counts, dict) or not all(
        isinstance(counts.get(name), int) and not isinstance(counts.get(name), bool)
        for name in _COUNTS
    ):
        problems.append("no counts")
    tables = content.get("tables")
    if not isinstance(tables, dict) or not all(
        isinstance(tables.get(name), dict) and isinstance(tables[name].get("files"), list)
        for name in DATASET_TABLES
    ):
        problems.append("no file list per table")
    else:
        for name in DATASET_TABLES:
            for entry in tables[name]["files"]:
                if not (
                    isinstance(entry, dict)
                    and isinstance(entry.get("path"), str)
                    and entry["path"].startswith(f"{name}/")
                    and ".." not in entry["path"].split("/")
                    and isinstance(entry.get("rows"), int)
                ):
                    problems.append(f"a bad file entry in {name}")
                    break
    if problems:
        raise DatasetError(f"{where}: not a usable NewsBeam run manifest ({', '.join(problems)})")
    return content


def unread_notes(manifest: Mapping[str, Any]) -> list[str]:
    """What a run listed and left unread, as phrases for its summary, report and loader:
    a run with no inputs (a night whose files an earlier run read) still commits, and says
    why it read nothing rather than only `0 inputs`."""
    counters = manifest.get("counters") or {}
    notes = []
    if skipped := counters.get("read_skipped_unchanged", 0):
        notes.append(f"{skipped} input files read by an earlier run, unchanged since")
    if changing := counters.get("read_deferred_changing_files", 0):
        notes.append(f"{changing} files changing while read (the next run reads them)")
    if deferred := counters.get("read_deferred_unfinished_lines", 0):
        notes.append(
            f"{deferred} JSON-lines files' last line still being written (the next run reads it)"
        )
    if revisits := counters.get("read_warc_skipped_revisit", 0):
        # No row, as a request record has none, but a page fetched again: said, not silent.
        notes.append(
            f"{revisits} WARC revisit records (a page fetched again, unchanged: its first "
            "response is the input; docs/warc.md)"
        )
    return notes


def rejected_over_limit(counts: Mapping[str, Any], limit: float | None) -> float | None:
    """The share of the inputs rejected when it is more than `--fail_on_rejected` (the
    run's exit status 3), else None: the exit status and the run's report say it alike."""
    inputs = int(counts.get("inputs", 0))
    if limit is None or not inputs:
        return None
    share = int(counts.get("rejected", 0)) / inputs
    return share if share > limit else None


def read_manifest(root: str, run_id: str) -> dict[str, Any] | None:
    """The committed manifest of `run_id`, None if it has none; DatasetError if corrupt."""
    path = manifest_path(root, run_id)
    if not files.exists(path):
        return None
    try:
        content = files.read_json(path)
    except ValueError as error:
        raise DatasetError(f"{path}: not valid JSON ({error})") from None
    manifest = check_manifest(content, path)
    if manifest["run_id"] != run_id:  # a run is what its file is named: one manifest a run
        raise DatasetError(
            f"{path}: not a usable NewsBeam run manifest (it names run {manifest['run_id']})"
        )
    return manifest


def run_ids(root: str) -> list[str]:
    """The run ids with a manifest under ROOT/_runs, sorted."""
    found = []
    for path in files.list_files(files.join(root, RUNS)):
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        if name.endswith(".json") and RUN_ID.match(name[: -len(".json")]):
            found.append(name[: -len(".json")])
    return sorted(found)


def committed_runs(root: str, skip: Iterable[tuple[str, str]] = ()) -> list[dict[str, Any]]:
    """Every committed run's manifest, oldest first (by finish time, then run id).
    `skip`: (run id, attempt) pairs already known (a loader's), whose manifests are not
    read again, so the cost follows the new runs. DatasetError on a corrupt manifest."""
    known = set(skip)
    manifests = []
    for run_id in run_ids(root):
        manifest = read_manifest(root, run_id)
        if manifest is None or (manifest["run_id"], manifest["attempt"]) in known:
            continue
        manifests.append(manifest)
    return sorted(manifests, key=lambda m: (str(m.get("finished_at", "")), m["run_id"]))


# How many run ids, the latest by name, a run's report reads to compare the run with the
# ones before it: default ids are start times, so these are the latest runs; reading them
# all would cost a dataset of a year of follow-mode batches thousands of reads a run.
EARLIER_RUN_IDS = 30
# The key of the staged manifest (as_staged's copy, never committed) holding them.
EARLIER_RUNS = "report_earlier_runs"


def earlier_runs(root: str, manifest: Mapping[str, Any], keep: int = 7) -> list[dict[str, Any]]:
    """The figures of the (at most `keep`) committed runs that started before the run of
    `manifest`, oldest first, among the EARLIER_RUN_IDS latest run ids: what its report
    compares it with. Each is its id, start, seconds, counts and counters (no file lists).
    A manifest that cannot be read is left out: a comparison never fails a run."""
    this = str(manifest.get("started_at", ""))
    found = []
    for run_id in [r for r in run_ids(root) if r != manifest.get("run_id")][-EARLIER_RUN_IDS:]:
        try:
            earlier = read_manifest(root, run_id)
        except DatasetError:
            continue
        if earlier is None or not str(earlier.get("started_at", "")) < this:
            continue
        found.append(
            {k: earlier.get(k) for k in ("run_id", "started_at", "seconds")}
            | {
                "counts": earlier.get("counts") or {},
                "counters": earlier.get("counters") or {},
                "options": {
                    "fail_on_rejected": (earlier.get("options") or {}).get("fail_on_rejected")
                },
            }
        )
    return sorted(found, key=lambda m: str(m["started_at"]))[-keep:]


def data_files(root: str, manifest: Mapping[str, Any], table: str) -> list[str]:
    """Full paths of one committed run's files of `table`."""
    return [
        files.join(root, *entry["path"].split("/")) for entry in manifest["tables"][table]["files"]
    ]


def all_paths(manifest: Mapping[str, Any]) -> list[str]:
    """Every data file a manifest lists, relative to ROOT."""
    return [entry["path"] for name in DATASET_TABLES for entry in manifest["tables"][name]["files"]]


# --- Commit and recovery -----------------------------------------------------------------------


def staged_files(root: str, staging: str) -> dict[str, list[tuple[str, str]]]:
    """The data files a run attempt staged, per table: (staged path, final path under
    ROOT). Only the files its list names (`_written.json`, written last by WriteTables):
    a retried bundle's orphan files are left out (the commit deletes them with the staging
    folder). Final names are `<prefix>-SSSSS-of-NNNNN.parquet` per table and partition,
    numbered in the order of the staged paths (deterministic). DatasetError when the
    list is missing or unusable (the pipeline did not finish writing)."""
    where = files.join(staging, WRITTEN)
    try:
        record = files.read_json(where)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{where}: no usable list of the files written ({error})") from None
    return final_names(root, staging, record, where)


def final_names(
    root: str, staging: str, record: Any, where: str = WRITTEN
) -> dict[str, list[tuple[str, str]]]:
    """`staged_files` from the content of `_written.json` (checked: DatasetError)."""
    if not (
        isinstance(record, dict)
        and isinstance(record.get("prefix"), str)
        and isinstance(record.get("files"), list)
    ):
        raise DatasetError(f"{where}: not a list of written files")
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in record["files"]:
        path = entry.get("path") if isinstance(entry, dict) else None
        parts = path.split("/") if isinstance(path, str) else []
        if not (
            len(parts) == 3
            and parts[0] in DATASET_TABLES
            and parts[1].startswith(f"{PARTITION_KEY}=")
            and parts[2].endswith(".parquet")
            and ".." not in parts
        ):
            raise DatasetError(f"{where}: a bad file entry {entry!r}")
        groups.setdefault((parts[0], parts[1]), []).append(parts[2])
    found: dict[str, list[tuple[str, str]]] = {name: [] for name in DATASET_TABLES}
    for (table, folder), names in sorted(groups.items()):
        total = len(names)
        for number, name in enumerate(sorted(names)):
            final = f"{record['prefix']}-{number:05d}-of-{total:05d}.parquet"
            found[table].append(
                (files.join(staging, table, folder, name), files.join(root, table, folder, final))
            )
    return found


def as_staged(
    manifest: Mapping[str, Any],
    root: str,
    staging: str,
    moves: Mapping[str, list[tuple[str, str]]],
) -> dict[str, Any]:
    """A copy of a run's manifest whose file paths are those of its staged files, relative
    to `staging`: what reads the run before its commit (the report) reads through."""
    staged = {
        files.relative(root, final): files.relative(staging, path)
        for pairs in moves.values()
        for path, final in pairs
    }
    copy = dict(manifest)
    copy["tables"] = {
        name: {
            **table,
            "files": [{**entry, "path": staged[entry["path"]]} for entry in table["files"]],
        }
        for name, table in manifest["tables"].items()
    }
    return copy


def commit_run(
    root: str,
    manifest: dict[str, Any],
    moves: Iterable[tuple[str, str]],
    report: str | None = None,
    on_committed: Callable[[], None] | None = None,
) -> None:
    """Commit a staged run attempt: intent record, files into their partitions, the
    report, then the manifest (the commit itself), then the replaced attempt's files go.
    `moves`: (staged path, final path) of every data file the manifest lists; `report`:
    the run's report, a local file; `on_committed`: called once the manifest is written
    (what fails after it fails a committed run: the next run's `recover` finishes it)."""
    from newsbeam.transforms.support.state import crash_point

    run_id, attempt = manifest["run_id"], manifest["attempt"]
    staging = staging_dir(root, run_id, attempt)
    previous = read_manifest(root, run_id)
    replaced = sorted(set(all_paths(previous)) - set(all_paths(manifest))) if previous else []
    ensure_marker(root)
    files.write_json(files.join(staging, INTENT), {"manifest": manifest, "replaces": replaced})
    crash_point("intent-written")
    files.move_files(list(moves))
    crash_point("files-moved")
    if report is not None:  # a local file: the report is written on this machine
        with open(report, "rb") as handle:
            files.write_bytes(report_path(root, run_id), handle.read())
    files.write_json(manifest_path(root, run_id), manifest)
    if on_committed is not None:
        on_committed()
    crash_point("manifest-written")
    files.delete_files(files.join(root, *path.split("/")) for path in replaced)
    files.delete_tree(staging)
    files.remove_empty_folders(files.join(root, STAGING))


def recover(root: str, found_by: str | None = None) -> list[str]:
    """Clean what runs that died left under ROOT; returns one log line per run cleaned.
    A staging folder without an intent record: deleted. With one: if the manifest names
    its attempt, the run committed and only its clean-up is finished; otherwise the files
    it had moved are deleted (the run never happened). A run that did not commit and left
    its start record (killed outright: it wrote no end) gets its failed-run record
    (pipeline/failed_runs.py), naming `found_by`, the run that cleans it up."""
    prefix = files.join(root, STAGING)
    keys = sorted(
        {files.relative(prefix, path).split("/", 1)[0] for path in files.list_files(prefix)}
    )
    done = [_settle(root, key, found_by) for key in keys]
    files.remove_empty_folders(prefix)
    return done


def abandon(root: str, run_id: str, attempt: str) -> None:
    """A run attempt that failed: undo what it did (as `recover` would after a kill)."""
    _settle(root, run_key(run_id, attempt))
    files.remove_empty_folders(files.join(root, STAGING))


def _settle(root: str, key: str, found_by: str | None = None) -> str:
    """Finish or undo one staged run attempt (`recover`); returns what was done. With
    `found_by` (a later run's clean-up, not the run's own), a run that did not commit is
    recorded as failed from its start record."""
    prefix = files.join(root, STAGING)
    started = _started(files.join(prefix, key)) if found_by is not None else None
    committed = False
    intent_path = files.join(prefix, key, INTENT)
    intent = None
    if files.exists(intent_path):
        try:
            intent = files.read_json(intent_path)
        except ValueError:
            intent = None
    if isinstance(intent, dict) and isinstance(intent.get("manifest"), dict):
        planned = intent["manifest"]
        try:
            current = read_manifest(root, str(planned.get("run_id")))
        except DatasetError:
            current = None
        if current is not None and current["attempt"] == planned.get("attempt"):
            replaced = intent.get("replaces", [])
            files.delete_files(files.join(root, *path.split("/")) for path in replaced)
            done = f"finished the clean-up of run {key}, committed before it was killed"
            committed = True
        else:
            files.delete_files(files.join(root, *path.split("/")) for path in all_paths(planned))
            done = f"removed the files of run {key}, killed before its commit"
    else:
        done = f"removed the staging of run {key}, killed before its commit"
    if started is not None and not committed:
        from newsbeam.pipeline import failed_runs

        record = failed_runs.failed_record(
            started, None, failed_runs.killed_cause(started), None, found_by=found_by
        )
        written = failed_runs.write_record(root, record)
        if written is not None:
            done += f" (recorded as a failed run: {written})"
            # A run killed every time (the OOM killer at each restart) neither fails nor
            # commits: the run that records it bounds the records instead.
            failed_runs.prune(root)
    files.delete_tree(files.join(prefix, key))
    return done


def staged_starts(root: str) -> list[dict[str, Any]]:
    """The start records of the run attempts staged in ROOT (pipeline/failed_runs.py): a
    run in progress, or one killed that no later run has cleaned up yet."""
    prefix = files.join(root, STAGING)
    try:
        keys = {files.relative(prefix, path).split("/", 1)[0] for path in files.list_files(prefix)}
    except Exception:  # absent, or the store failed: none shown
        return []
    found = [_started(files.join(prefix, key)) for key in sorted(keys)]
    return [started for started in found if started is not None]


def _started(staging: str) -> dict[str, Any] | None:
    """A staged run attempt's start record (pipeline/failed_runs.py), None if it has none."""
    from newsbeam.pipeline import failed_runs

    path = files.join(staging, failed_runs.STARTED)
    try:
        record = files.read_json(path) if files.exists(path) else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("run_id") else None
