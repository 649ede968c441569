"""What earlier jobs committed into ROOT: a restarted streaming job's memory (docs/streaming.md,
"A job started again").

A streaming job's record of what it read (each watched file's bytes, each feed's entries)
and its dedup and stories state live in the runner. A new job (a launcher restarted by a
supervisor, not resumed from a snapshot) starts without them; what it has instead is ROOT:
every committed window lists its rows' `source` (a file's path, a JSON line's
`path#L4`, a feed entry's `feed URL#entry id`) and its articles. Read once at the job's
start, within `since` (the job's start less `--stream_ttl_days`), these say which inputs
are committed already (a file read, a line, an entry: skipped) and which articles the
job's dedup and stories start from (a near copy of one is a duplicate pointing at it).

Only manifests committed since `since` are read (their files' last-updated time from one
listing of `ROOT/_runs`, then the manifests themselves and the `source` column of their
files): the cost follows the TTL's windows, not ROOT's whole history. A worker reads them
once for all its steps (`load_committed_sources`, support/loaded.py): the watch, the skip
of committed records, the feeds' two steps; dedup and stories read the articles' columns
they need from the same listing.

A local file is known by its absolute, normalised path (`source_key`): a job restarted
with `--input` written otherwise (relative for absolute, `./`, a trailing slash) knows the
files an earlier job committed. A relative source is taken from the job's working folder,
as the job that wrote it took it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from newsbeam.transforms.support import files

log = logging.getLogger("newsbeam")

_RUNS = "_runs"  # pipeline/dataset.py RUNS: the manifests, one per committed run
# The tables whose rows name an input (feed_health names polls, not inputs).
SOURCE_TABLES = ("articles", "duplicates", "rejected")
_LINE = re.compile(r"^L([0-9]+)$")  # a JSON line's part of its source: `wire.jsonl#L4`


@dataclasses.dataclass(frozen=True)
class CommittedRecord:
    """Where a restarted job reads what earlier jobs committed: ROOT, and the earliest
    commit time (UTC) it takes in. None in a stage's config: nothing is read (a batch, a
    test of one stage)."""

    root: str
    since: dt.datetime


@dataclasses.dataclass(frozen=True)
class CommittedSources:
    """The sources committed (source -> when its latest committed row was read: an
    article's ingestion, another row's commit; Unix microseconds), and by file (the part
    of a source before `#`): the same, and the numbers of its JSON lines committed."""

    latest: Mapping[str, int]
    files: Mapping[str, int]
    lines: Mapping[str, frozenset[int]]

    def __contains__(self, source: object) -> bool:
        return isinstance(source, str) and source_key(source) in self.latest

    def __len__(self) -> int:
        return len(self.latest)

    def committed_at(self, source: str) -> int | None:
        """When the latest row of `source` (in any form of its path) was committed."""
        return self.latest.get(source_key(source))

    def file_committed_at(self, path: str) -> int | None:
        """When the latest row of a file (itself or a part of it: `path#...`) was committed."""
        return self.files.get(source_key(path))

    def lines_before(self, path: str) -> int:
        """How many of a JSON-lines file's first lines are committed, one after another
        from the first (L1..Ln): 0 when its first line is not."""
        numbers = self.lines.get(source_key(path), frozenset())
        count = 0
        while count + 1 in numbers:
            count += 1
        return count


NO_SOURCES = CommittedSources({}, {}, {})


def parts_by_file(committed: CommittedSources) -> dict[str, frozenset[str]]:
    """File or feed -> the parts of it committed (`path#part`: line numbers as `L4`, a
    feed's entry ids), for a lookup per feed rather than a scan of every source."""
    parts: dict[str, set[str]] = {}
    for source in committed.latest:
        path, hashed, part = source.partition("#")
        if hashed:
            parts.setdefault(path, set()).add(part)
    return {path: frozenset(found) for path, found in parts.items()}


def source_key(source: str) -> str:
    """A source as the record knows it: a local file's path absolute and normalised (from
    the working folder: `inbox/a.txt`, `./inbox/a.txt`, `inbox//a.txt` and
    `/srv/inbox/a.txt` are one file when the job runs in /srv), its `#part` kept; a URL, an
    object store's path, a Pub/Sub message as they are."""
    path, hashed, part = source.partition("#")
    if not path or path.startswith("pubsub:") or "://" in path and not path.startswith("file://"):
        return source
    local = path[len("file://") :] if path.startswith("file://") else path
    return os.path.normpath(os.path.abspath(local)) + hashed + part


def file_of(source: str) -> str:
    """The file (or feed) a source names: the part before the `#` that numbers a line, an
    entry or a record in it."""
    return source.split("#", 1)[0]


def sources_index(committed: Sequence[tuple[str, int]]) -> CommittedSources:
    """(source, commit micros) pairs -> CommittedSources."""
    latest: dict[str, int] = {}
    by_file: dict[str, int] = {}
    lines: dict[str, set[int]] = {}
    for named, micros in committed:
        source = source_key(named)
        latest[source] = max(micros, latest.get(source, micros))
        path, _, part = source.partition("#")
        by_file[path] = max(micros, by_file.get(path, micros))
        number = _LINE.match(part)
        if number:
            lines.setdefault(path, set()).add(int(number.group(1)))
    return CommittedSources(
        latest, by_file, {path: frozenset(found) for path, found in lines.items()}
    )


def _micros(when: str | None) -> int | None:
    if not when:
        return None
    try:
        moment = dt.datetime.fromisoformat(when)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1_000_000)


def committed_manifests(record: CommittedRecord) -> Iterator[tuple[dict[str, Any], int]]:
    """The manifests committed into ROOT since `record.since`, with their commit time
    (finished_at, Unix microseconds), by run id. A manifest updated before `since` (the
    listing's time) is not read; one that cannot be read is left out with a warning (the
    job then may read its inputs again: written twice, never lost)."""
    since = int(record.since.timestamp() * 1_000_000)
    folder = files.join(record.root, _RUNS)
    try:
        listed = files.match(folder.rstrip("/") + "/*.json")
    except Exception as error:  # no _runs yet (a first job), or a store that is gone
        if files.is_unreachable(error):
            raise
        return
    for meta in sorted(listed, key=lambda meta: meta.path):
        updated = getattr(meta, "last_updated_in_seconds", None)
        if updated is not None and updated * 1_000_000 < since:
            continue
        try:
            manifest = files.read_json(meta.path)
            finished = _micros(manifest.get("finished_at"))
            tables = manifest["tables"]
        except Exception as error:
            if files.is_unreachable(error):
                raise
            log.warning("%s: not read (%s); its inputs may be read again", meta.path, error)
            continue
        if finished is None or finished < since or not isinstance(tables, dict):
            continue
        yield manifest, finished


def table_files(root: str, manifest: Mapping[str, Any], table: str) -> list[str]:
    """Full paths of one committed run's files of `table` (pipeline/dataset.py data_files)."""
    entries = (manifest["tables"].get(table) or {}).get("files") or []
    return [files.join(root, *entry["path"].split("/")) for entry in entries]


@dataclasses.dataclass(frozen=True)
class CommittedRun:
    """What a restarted job needs of one committed manifest: its commit time (Unix
    microseconds) and its files of the tables that name inputs."""

    finished: int
    tables: Mapping[str, tuple[str, ...]]


def committed_runs(record: CommittedRecord) -> list[CommittedRun]:
    """The runs committed since `record.since` (committed_manifests), by run id, kept to
    the files a restart reads."""
    return [
        CommittedRun(
            finished,
            {table: tuple(table_files(record.root, manifest, table)) for table in SOURCE_TABLES},
        )
        for manifest, finished in committed_manifests(record)
    ]


def sources_of(runs: Sequence[CommittedRun]) -> CommittedSources:
    """Every source of the runs' rows (articles, duplicates, rejected), with when it was
    read: an article's `ingested_at` (made from the input then), else its run's commit.
    A file saved again after its read and before its window's commit (up to a window
    later) is then newer than what was committed of it, not older."""
    pairs: list[tuple[str, int]] = []
    for run in runs:
        for table in SOURCE_TABLES:
            for path in run.tables.get(table, ()):
                if table != "articles":
                    column = files.read_parquet(path, columns=["source"]).column("source")
                    pairs.extend((source, run.finished) for source in column.to_pylist())
                    continue
                read = files.read_parquet(path, columns=["source", "ingested_at"])
                moments = read.column("ingested_at").cast("int64").to_pylist()
                pairs.extend(
                    (source, run.finished if at is None else min(at, run.finished))
                    for source, at in zip(read.column("source").to_pylist(), moments, strict=True)
                )
    return sources_index(pairs)


def committed_sources(record: CommittedRecord | None) -> CommittedSources:
    """Every source of the rows committed since `record.since` (articles, duplicates,
    rejected), with when it was committed; NO_SOURCES without a record. Read anew at each
    call: a DoFn takes `load_committed_sources`."""
    if record is None:
        return NO_SOURCES
    found = sources_of(committed_runs(record))
    log.info("%d sources committed since %s in %s", len(found), record.since, record.root)
    return found


# support/loaded.py's names: a process's runs of the record, and their sources.
RUNS_LOADED = "streaming/committed_runs"
SOURCES_LOADED = "streaming/committed_sources"


def load_committed_runs(record: CommittedRecord) -> list[CommittedRun]:
    """committed_runs, once per process and record (a job's start: its record names ROOT
    and the job's start less the TTL, so a later job in the same process lists again)."""
    from newsbeam.transforms.support.loaded import load_once

    return load_once(RUNS_LOADED, record, lambda: committed_runs(record))


def load_committed_sources(record: CommittedRecord | None) -> CommittedSources:
    """committed_sources, once per process and record: a worker's watch, skip of committed
    records and feed steps (each a DoFn whose setup() asks for it) share one index, read
    from one listing of ROOT's manifests."""
    if record is None:
        return NO_SOURCES
    from newsbeam.transforms.support.loaded import load_once

    def load() -> CommittedSources:
        found = sources_of(load_committed_runs(record))
        log.info("%d sources committed since %s in %s", len(found), record.since, record.root)
        return found

    return load_once(SOURCES_LOADED, record, load)


def committed_articles(
    record: CommittedRecord | None, columns: Sequence[str]
) -> list[dict[str, Any]]:
    """The articles committed since `record.since` (the `columns` asked for), as rows; none
    without a record. Times are in `datetime.timezone.utc`, as the job's own records keep
    them: Arrow gives `zoneinfo.ZoneInfo("UTC")`, and Beam's state cache, weighing a state
    that held one, walked far beyond it (a job's first article took minutes)."""
    if record is None:
        return []
    rows = []
    for run in load_committed_runs(record):  # the listing the sources were read from
        for path in run.tables.get("articles", ()):
            rows += files.read_parquet(path, columns=list(columns)).to_pylist()
    return [{key: _utc(value) for key, value in row.items()} for row in rows]


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc)
    return value
