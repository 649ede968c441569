"""Failed runs' records (`ROOT/_failed_runs/<run id>.<attempt>.json`): what the morning
reader of a dataset needs to tell "failed" from "did not run".

A run commits by its manifest (pipeline/dataset.py); one that fails commits nothing, so
before this record it left nothing in ROOT: `newsbeam report`, the warehouse's loads and
the next run's report could not show it. Now:

- a run that fails (exit 1), is refused after it started (exit 2: its lock taken over)
  or is stopped (SIGTERM 143, SIGINT 130) writes one record as it ends, after its staged
  files are removed: its run id and attempt, start and end, the cause in one line (the
  line the command logs), the stage named in the cause, what it was reading (the inputs,
  feeds and feed lists as given), and that nothing was committed, so the next run reads
  those inputs again;
- a run killed outright (SIGKILL: the out-of-memory killer, a scheduler's timeout) writes
  nothing then; it left the `_started.json` every run writes into its staging folder, and
  the next run's clean-up (`dataset.recover`) writes its record from that;
- the record is beside `_runs/`, not in it: `_runs/*.json` are manifests, each a commit,
  and every reader of a dataset lists them (a record there would read as a broken one).

Writing a record never fails a run nor hides its error: a store that stopped answering is
not written to again (that would wait out the store's retry budget a second time, and the
next run records the run from its `_started.json` instead), and any other failure to write
is one warning line. Records are the dataset's history of failures (`newsbeam report` shows
those in its window), kept within bounds (`prune`): a follow service failing all night at a
one-minute interval would otherwise leave thousands of files that nothing reads."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import socket
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from newsbeam.transforms.support import files
from newsbeam.transforms.support.redact import redact_text

log = logging.getLogger("newsbeam")

FAILED_RUNS = "_failed_runs"
STARTED = "_started.json"
FORMAT = "newsbeam-failed-run"
# Inputs listed in a record at most (a follow batch or a glob can name thousands of files).
MAX_LISTED = 100
# Records read at most for a report or a run's "failed since" line, the latest by end time.
MAX_READ = 200
# Records kept at most (`prune`): no reader reads more than MAX_READ of them.
MAX_KEPT = MAX_READ
# Days a record is kept once a later run committed (its brief is in that run's manifest,
# `failed_before`): a month of `newsbeam report --since` windows still shows it.
KEEP_DAYS = 30

# Beam names the step that raised in its message: `... [while running 'Write/Files']`.
_WHILE_RUNNING = re.compile(r"\[while running '([^']+)'\]")


def record_path(root: str, run_id: str, attempt: str) -> str:
    return files.join(root, FAILED_RUNS, f"{run_id}.{attempt}.json")


def failed_stage(cause: str) -> str | None:
    """The top-level stage a failure's text names (Beam's `[while running 'Write/Files']`
    -> `Write`), None when it names none (the commit, the state, the runner)."""
    found = _WHILE_RUNNING.findall(cause)
    return found[-1].split("/", 1)[0] if found else None


def stage_of(error: BaseException, cause: str) -> str | None:
    """The stage a failure names: in `cause` (a worker process's traceback, as text), else
    in any exception of its chain (in one process, Beam adds `[while running ...]` to the
    exception it re-raises, while the cause line names the innermost one)."""
    seen: set[int] = set()
    current: BaseException | None = error
    found = failed_stage(cause)
    while found is None and current is not None and id(current) not in seen:
        seen.add(id(current))
        found = failed_stage(str(current))
        current = current.__cause__ or current.__context__
    return found


def listed(values: Sequence[str] | None) -> dict[str, Any]:
    """At most MAX_LISTED values, credentials in URLs hidden, with how many there were."""
    values = list(values or ())
    return {"count": len(values), "listed": [redact_text(v) for v in values[:MAX_LISTED]]}


def started_record(
    run_id: str,
    attempt: str,
    started: dt.datetime,
    inputs: Sequence[str] | None,
    feeds: Sequence[str] | None,
    feed_lists: Sequence[str] | None,
    state: str | None,
) -> dict[str, Any]:
    """What a run records as it starts (`_started.json` in its staging folder), and the
    part of its failed-run record known before it fails."""
    return {
        "format": FORMAT,
        "run_id": run_id,
        "attempt": attempt,
        "started_at": started.isoformat(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "inputs": listed(inputs),
        "feeds": listed(feeds),
        "feed_lists": listed(feed_lists),
        "state": redact_text(state) if state else None,
    }


def failed_record(
    started: dict[str, Any],
    ended: dt.datetime | None,
    cause: str,
    exit_status: int | None,
    found_by: str | None = None,
    stage: str | None = None,
) -> dict[str, Any]:
    """A failed run's record: its start record, then how it ended. `ended` None and
    `found_by` (the run that found it) for a run killed outright: its end is not known."""
    record = dict(started)
    record.update(
        ended_at=ended.isoformat() if ended else None,
        cause=" ".join(cause.split()),
        stage=stage or failed_stage(cause),
        exit_status=exit_status,
        committed=False,
        # What the operator does next: nothing, the next run reads the same inputs.
        next_run=(
            "nothing of this run was committed and the state was not advanced: the next run "
            "reads its inputs again"
        ),
    )
    if found_by is not None:
        record["found_by"] = found_by
    return record


# What follows a streaming job's end (`newsbeam --streaming`, pipeline/streaming.py): its
# windows commit one by one, so, unlike a batch run's, part of it is committed.
STREAMING_NEXT = (
    "the windows the job committed before it ended stay (runs stream-<window start> in "
    "_runs/); the rows of the windows still open were not committed: a job started again "
    "reads its sources again (rows for a window committed already become a run beside it, "
    "never a replacement), or drain the job on its runner to finish its open windows"
)


def streaming_record(
    started: dict[str, Any],
    ended: dt.datetime,
    cause: str,
    exit_status: int,
    stage: str | None = None,
) -> dict[str, Any]:
    """A streaming job's record as it failed or was stopped: a failed run's record, with
    `mode` streaming and what its end left committed (`STREAMING_NEXT`)."""
    record = failed_record(started, ended, cause, exit_status, stage=stage)
    record.update(mode="streaming", next_run=STREAMING_NEXT)
    return record


def killed_cause(started: dict[str, Any]) -> str:
    """The cause of a run that wrote no end of its own (found by the next run)."""
    where = f" on {started['host']} (pid {started['pid']})" if started.get("host") else ""
    return (
        f"the run ended without recording how{where}: killed outright (SIGKILL: the "
        "out-of-memory killer when memory runs out, a scheduler's timeout, a stopped "
        "machine; exit status 137), or the store failed as it ended (its object store "
        "stopped answering; a local --output full or made read-only): its log says which"
    )


def unrecorded_kill(started: dict[str, Any]) -> dict[str, Any]:
    """The record a run killed outright will get from the next run's clean-up, as a reader
    shows it before then (`newsbeam report`: a night killed at 3 a.m., no run since)."""
    record = failed_record(started, None, killed_cause(started), None)
    record["cause"] += "; not recorded yet: the next run into ROOT records it"
    return record


def write_record(
    root: str, record: dict[str, Any], error: BaseException | None = None
) -> str | None:
    """Write a failed run's record into ROOT; never raises (returns its path, None when it
    was not written). Not tried when `error` says the store stopped answering (see the
    module's doc). The path is kept on `error` (`recorded`): the command's last line
    names it, one line for the failure as before."""
    if (error is not None and files.is_unreachable(error)) or _unreachable_text(record["cause"]):
        log.warning(
            "the failure of run %s is not recorded in %s now (its store is not answering); "
            "the next run records it",
            record["run_id"],
            root,
        )
        return None
    path = record_path(root, record["run_id"], record["attempt"])
    try:
        files.write_json(path, record)
    except Exception as problem:  # whatever the store says: the run's own error matters
        log.warning(
            "the failure of run %s could not be recorded at %s: %s",
            record["run_id"],
            path,
            " ".join(str(problem).split())[:300] or type(problem).__name__,
        )
        return None
    if error is not None:
        with contextlib.suppress(AttributeError, TypeError):  # a class with __slots__
            setattr(error, _RECORDED, path)
    return path


# The attribute of a run's exception that names its failed-run record.
_RECORDED = "newsbeam_failed_run_record"


def recorded(error: BaseException) -> str:
    """ "; recorded in PATH" for the command's failure line, "" when not recorded."""
    path = getattr(error, _RECORDED, None)
    return f"; recorded in {path}" if isinstance(path, str) else ""


def _unreachable_text(cause: str) -> bool:
    # A worker process's StoreUnreachable comes back as its traceback's text.
    return "StoreUnreachable" in cause or "has not answered for" in cause


def record_paths(root: str) -> list[str]:
    """The records' paths in ROOT, by name (raises what the store raises)."""
    listed_paths = files.list_files(files.join(root, FAILED_RUNS))
    return sorted(path for path in listed_paths if path.endswith(".json"))


class Records(NamedTuple):
    """ROOT's records as one listing found them: every record file listed (`listed`), and
    those read (`read`: path and record), oldest first by their own end (`moment`). By
    their times, not their names: `--run_id`s need not sort by time (`nightly-b` before
    `nightly-a` whatever their dates), and the latest must be the latest that ran."""

    listed: tuple[str, ...] = ()
    read: tuple[tuple[str, dict[str, Any]], ...] = ()

    def latest(self, limit: int = MAX_READ) -> list[tuple[str, dict[str, Any]]]:
        """The `limit` latest records read, oldest first."""
        return list(self.read[-limit:]) if limit > 0 else []


def find_records(root: str) -> Records:
    """One listing of ROOT's records, each read (raises what the store raises on the
    listing; a record that cannot be read is listed, not read). `prune` keeps the folder
    to MAX_KEPT records, so this reads what the latest MAX_READ by name read before."""
    return _read(record_paths(root))


def _read(listed: Sequence[str]) -> Records:
    """The records `listed`, each read, ordered by their own end (`Records`)."""
    found = []
    for path in listed:
        try:
            record = files.read_json(path)
        except Exception:
            continue
        if isinstance(record, dict) and record.get("format") == FORMAT:
            found.append((path, record))
    found.sort(key=lambda pair: (moment(pair[1]), pair[0]))
    return Records(tuple(listed), tuple(found))


def records_in(root: str) -> Records:
    """`find_records`, none when the folder is absent or the store failed (the records
    are a run's or a report's aside: the rest goes on)."""
    try:
        return find_records(root)
    except Exception:
        return Records()


def read_records(root: str, limit: int = MAX_READ) -> list[dict[str, Any]]:
    """The failed runs recorded in ROOT, the `limit` latest by end time (a killed run's,
    unknown, by its start), oldest first; a record that cannot be read is left out."""
    return [record for _, record in read_paths(root, limit)]


def read_paths(root: str, limit: int = MAX_READ) -> list[tuple[str, dict[str, Any]]]:
    """`read_records` with each record's path."""
    return records_in(root).latest(limit)


def over_limit(found: Records, keep: int = MAX_KEPT) -> list[str]:
    """The records past the `keep` latest by their own end time (the order every reader
    takes the latest by): no report or run reads them. A file listed that could not be
    read goes first: no time of its own, and no reader shows it."""
    read = [path for path, _ in found.read]
    unread = sorted(set(found.listed) - set(read))
    ordered = unread + read
    return ordered[: max(0, len(ordered) - keep)]


def superseded(
    records: Sequence[tuple[str, dict[str, Any]]],
    committed: str,
    now: dt.datetime,
    keep_days: float = KEEP_DAYS,
) -> list[str]:
    """The records of runs that ended before `committed` (the latest commit's end, an ISO
    time; "" for none: nothing is superseded) and more than `keep_days` before `now`.
    A record a later commit has not superseded is kept whatever its age: it is what the
    next committed run says it read again."""
    if not committed:
        return []
    cut = (now - dt.timedelta(days=keep_days)).isoformat()
    return [path for path, record in records if moment(record) < min(committed, cut)]


def prune(
    root: str,
    committed: str = "",
    now: dt.datetime | None = None,
    found: Records | None = None,
) -> int:
    """Bound ROOT's records: those past the MAX_KEPT latest by end time, and with
    `committed` (the end of the run that just committed) those it superseded more than
    KEEP_DAYS ago. `found`: the records the run found already (`find_records`: a commit
    lists the folder once); else one listing, and the records are read only when there is
    something to order (more than MAX_KEPT) or to supersede. Never raises (one warning
    line): a record left is no error. Returns how many were deleted."""
    try:
        if found is None:
            paths = record_paths(root)
            if len(paths) <= MAX_KEPT and not committed:
                return 0
            # Read only now: the folder is listed once (its records are as listed).
            found = _read(paths)
        doomed = over_limit(found)
        if committed and len(found.listed) > len(doomed):
            now = now or dt.datetime.now(dt.timezone.utc)
            left = set(found.listed) - set(doomed)
            doomed += [path for path in superseded(found.read, committed, now) if path in left]
        files.delete_files(doomed)
    except Exception as problem:  # the run's own outcome matters, not its history's
        log.warning(
            "the failed runs' records in %s were not pruned: %s",
            files.join(root, FAILED_RUNS),
            " ".join(str(problem).split())[:300] or type(problem).__name__,
        )
        return 0
    if doomed:
        log.info("pruned %d failed runs' records in %s", len(doomed), root)
    return len(doomed)


def moment(record: dict[str, Any]) -> str:
    """When a record's run ended (or, killed, started): what records sort and filter by."""
    return str(record.get("ended_at") or record.get("started_at") or "")


def recovered_at(record: dict[str, Any], committed: Iterable[str]) -> str | None:
    """When the first run committed after a failed one (the end of that commit, an ISO
    time): the failure is recovered from, its inputs read again by that run. None while no
    run has committed since: what an on-call rotation is paged for."""
    after = [end for end in committed if end and end > moment(record)]
    return min(after) if after else None


def unrecovered(
    records: Sequence[dict[str, Any]], committed: Iterable[str]
) -> list[dict[str, Any]]:
    """The `records` no run has committed after (`recovered_at`), in their order."""
    ends = sorted(str(end) for end in committed)
    return [record for record in records if recovered_at(record, ends) is None]


def since(records: Sequence[dict[str, Any]], after: str) -> list[dict[str, Any]]:
    """The records of runs that ended after `after` (an ISO time; "" for all)."""
    return [record for record in records if moment(record) > after]


def brief(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a record a manifest keeps (`failed_before`)."""
    keys = ("run_id", "attempt", "started_at", "ended_at", "exit_status", "stage", "cause")
    return {key: record.get(key) for key in keys}


def describe(record: dict[str, Any]) -> str:
    """One line for a failed run: `RUN (started T, ended T): cause`."""
    start = str(record.get("started_at") or "")[:19].replace("T", " ")
    end = str(record.get("ended_at") or "")[:19].replace("T", " ")
    when = f"started {start} UTC, ended {end} UTC" if end else f"started {start} UTC, no end"
    status = record.get("exit_status")
    exited = f", exit {status}" if status is not None else ""
    return f"{record.get('run_id')} ({when}{exited}): {record.get('cause')}"
