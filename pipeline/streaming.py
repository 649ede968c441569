"""`newsbeam --streaming`: the unbounded pipeline (docs/streaming.md), for streaming runners.

    sources (folders watched, feeds polled, Pub/Sub) -> Extract -> Clean -> Language
    -> EventTime -> RejectLate -> DeduplicateStream -> Topics -> Places
    -> ClusterStoriesStream (every table's rows, a pane per window, its articles clustered)
    -> CommitWindows (one committed file set per window and pane into ROOT)

The stages are the batch pipeline's (pipeline/build.py); dedup and stories have streaming
drivers of the same core functions (transforms/dedup.py, transforms/stories.py). Every
window's rows are committed into ROOT with pipeline/dataset.py's commit, as a run whose id
derives from the window: `stream-<window start>` (its on-time pane), and
`stream-<window start>-late-<time>` for rows that came later within the allowed lateness.

Runners: a streaming runner (Dataflow, Flink, Spark, Prism, or PortableRunner at a job
service). Beam's in-process runners cannot run it (the FnApiRunner runs sources as
batch; the BundleBasedDirectRunner refuses PeriodicImpulse; the DirectRunner starts by
downloading Prism, which hangs offline): `--streaming` with one of them, or without
`--runner`, stops at once (exit 2) naming `newsbeam --follow` and the runners that work.

A job that fails (exit 1) or is stopped (SIGINT 130, SIGTERM 143: cancelled on its runner)
leaves a record in `ROOT/_failed_runs/` as a batch run does (pipeline/failed_runs.py), run
id `stream-job-<start>`, `mode` streaming: `newsbeam report` and `--fail_on_failed` see it.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import logging
import signal
import sys
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions, StandardOptions
from apache_beam.transforms.window import GlobalWindow

from newsbeam.pipeline import dataset, failed_runs, runners, workers
from newsbeam.pipeline import run as pipeline_run
from newsbeam.pipeline.causes import failure_line
from newsbeam.pipeline.lock import LockHeld, RunLock
from newsbeam.pipeline.options import NewsBeamOptions, PipelineConfig, config_from_options
from newsbeam.pipeline.stops import RunSignals, Terminated
from newsbeam.schemas import DATASET_SCHEMAS, FEED_HEALTH_TABLE, SCHEMA_VERSION, RawDocument
from newsbeam.transforms.clean import CleanText
from newsbeam.transforms.dedup import DeduplicateStream
from newsbeam.transforms.event_time import (
    AssignEventTime,
    RejectLate,
    WindowConfig,
    datetime_of,
)
from newsbeam.transforms.extract import ExtractArticles
from newsbeam.transforms.feeds.stage import PollFeeds
from newsbeam.transforms.language import DetectLanguage
from newsbeam.transforms.places import TagPlaces
from newsbeam.transforms.read import FEED_KINDS, ReadPubSubDocuments, WatchInputs
from newsbeam.transforms.stories import ClusterStoriesStream, Pane
from newsbeam.transforms.support import files
from newsbeam.transforms.support.bundle_files import row_group_rows
from newsbeam.transforms.support.committed import CommittedRecord
from newsbeam.transforms.support.state import StateError, open_state
from newsbeam.transforms.topics import TagTopics
from newsbeam.transforms.write import written_record, written_row

log = logging.getLogger("newsbeam")

# Runners that execute an unbounded Python pipeline (Prism downloads its binary on first
# use unless --prism_location names one). Beam's in-process runners do not.
STREAMING_RUNNERS = (
    "DataflowRunner",
    "FlinkRunner",
    "SparkRunner",
    "PrismRunner",
    "PortableRunner",
)


@dataclasses.dataclass(frozen=True)
class StreamingConfig:
    """Everything build_streaming needs: the batch stages' config (its `inputs` are the
    folders watched), the windows, the output ROOT, how often sources are polled, and the
    Pub/Sub subscription (None: none)."""

    stages: PipelineConfig
    root: str
    window: WindowConfig = WindowConfig()
    poll_seconds: float = 300.0
    pubsub_subscription: str | None = None
    # Unix seconds the sources stop at (None: never): a bounded job, which Beam's
    # in-process runner runs as a batch of polls (tests).
    stop_at: float | None = None
    # What earlier jobs committed into ROOT, read once at the start (None: nothing): files,
    # lines and feed entries committed are not read again; dedup and stories start from
    # the committed articles (transforms/support/committed.py).
    committed: CommittedRecord | None = None


def build_streaming(
    pipeline: beam.Pipeline, config: StreamingConfig, documents: Any = None
) -> dict[str, Any]:
    """Add the streaming stages to `pipeline`; returns the tables' PCollections and the
    committed run ids (`committed`). `documents`: a PCollection[RawDocument] to read
    besides the configured sources (a TestStream in the tests)."""
    stages, window, state = config.stages, config.window, config.stages.state
    found, unread = _sources(pipeline, config)
    if documents is not None:
        found = (found, documents) | "WithDocuments" >> beam.Flatten()
    documents = found
    pages, feed_documents = documents | "FeedsApart" >> beam.Partition(_feed_or_page, 2)  # type: ignore[arg-type]
    extracted, unextracted = pages | "Extract" >> ExtractArticles(stages.extract)
    from_feeds, unfed, feed_health = feed_documents | "Feeds" >> PollFeeds(
        stages.feeds,
        stages.extract,
        state,
        config.poll_seconds,
        window.ttl_micros,
        stop_at=config.stop_at,
        committed=config.committed,
    )
    extracted = (extracted, from_feeds) | "AllArticles" >> beam.Flatten()
    cleaned, uncleaned = extracted | "Clean" >> CleanText(stages.clean)
    tagged, untagged = cleaned | "Language" >> DetectLanguage(stages.language)
    timed = tagged | "EventTime" >> AssignEventTime()
    on_time, late = timed | "RejectLate" >> RejectLate(window)
    articles, duplicates = on_time | "Dedup" >> DeduplicateStream(
        stages.dedup, state, window.ttl_micros, config.committed
    )
    articles, untopiced = articles | "Topics" >> TagTopics(stages.topics)
    articles, unplaced = articles | "Places" >> TagPlaces(stages.places)
    rejected = (
        unread, unextracted, unfed, uncleaned, untagged, late, untopiced, unplaced
    ) | "Rejected" >> beam.Flatten()  # fmt: skip
    tables = {"articles": articles, "duplicates": duplicates, "rejected": rejected}
    written = {**tables, FEED_HEALTH_TABLE: feed_health}
    # A window's rows, once it ended, as one pane, its articles clustered into stories.
    panes = written | "Stories" >> ClusterStoriesStream(
        stages.stories, state, window, config.committed
    )
    committed = panes | "Commit" >> CommitWindows(config.root, stages.url_params)
    return {**written, "committed": committed}


def _sources(pipeline: beam.Pipeline, config: StreamingConfig) -> tuple[Any, Any]:
    """The documents of every source named (folders, Pub/Sub), and the rejected ones."""
    stages = config.stages
    documents, rejected = [], []
    if stages.inputs:
        found, unread = pipeline | "Watch" >> WatchInputs(
            stages.inputs,
            stages.read,
            config.poll_seconds,
            stop_at=config.stop_at,
            committed=config.committed,
        )
        documents.append(found)
        rejected.append(unread)
    if config.pubsub_subscription:
        documents.append(pipeline | "PubSub" >> ReadPubSubDocuments(config.pubsub_subscription))
    if not documents:  # feeds only: the feed stage polls them on its own
        documents.append(pipeline | "NoDocuments" >> beam.Create([]).with_output_types(RawDocument))
    if not rejected:
        rejected.append(pipeline | "NoRejected" >> beam.Create([]))
    return (
        documents | "AllDocuments" >> beam.Flatten(),
        rejected | "AllUnread" >> beam.Flatten(),
    )


def _feed_or_page(document: RawDocument, partitions: int) -> int:
    return int(document.kind in FEED_KINDS)


# --- Committing windows ----------------------------------------------------------------------


def stamp(micros: int) -> str:
    """A moment as it appears in run ids: 20261201T101500Z (microseconds when not whole)."""
    when = datetime_of(micros)
    if when.microsecond:
        return when.strftime("%Y%m%dT%H%M%S%fZ")
    return when.strftime("%Y%m%dT%H%M%SZ")


def window_run_id(start: int, end: int, fired: int) -> str:
    """The run id of a window's pane: `stream-<start>` when committed as the window ended,
    `stream-<start>-late-<when>` for rows that came within the allowed lateness after."""
    if fired == end:
        return f"stream-{stamp(start)}"
    return f"stream-{stamp(start)}-late-{stamp(fired)}"


def window_attempt(run_id: str, rows: Mapping[str, Sequence[dict[str, Any]]]) -> str:
    """The attempt of a pane's commit, derived from its run id and the rows it holds (by
    source and id): a commit the runner retries finds its own manifest and does nothing
    twice, and other rows for the same window (a job started again) are never taken for
    it."""
    digest = hashlib.sha256(run_id.encode())
    for table in sorted(rows):
        for row in sorted(_identity(row) for row in rows[table]):
            digest.update(f"\x00{table}\x00{row}".encode())
    return digest.hexdigest()[:8]


def _identity(row: Mapping[str, Any]) -> str:
    source = row.get("source") or row.get("feed_url") or ""
    return f"{source}\x01{row.get('article_id') or row.get('run_at') or ''}"


def rejected_by(rejected: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Rejected rows -> {stage: {reason: rows}}, sorted (a manifest's `rejected_by`)."""
    by: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for row in rejected:
        by[row["stage"]][row["reason"]] += 1
    return {stage: dict(sorted(reasons.items())) for stage, reasons in sorted(by.items())}


_FEED_STATUSES = {"not_modified": "feeds_not_modified", "unchanged": "feeds_unchanged"}


def window_counters(rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, int]:
    """A pane's counters, derived from its rows (table -> row dicts), under the batch
    counters' names (a batch manifest's `counters`), so `newsbeam report` and whoever
    reads manifests sum them across runs. Only what the rows determine: the runner's own
    metrics (pairs compared, expiries, pages fetched ...) are in its monitoring.

    `read_inputs` the pane's inputs; `<stage>_dropped_<reason>` per rejected row;
    `dedup_in` (what reached dedup), `dedup_exact|url|near` by the duplicates' method,
    `dedup_copies_counted` (copies counted on a canonical of the same pane:
    `duplicate_count`); `topics_in`, `topics_tagged`, `places_in`, `places_found`;
    `stories_in`, `stories_new` (story ids that are an article of the pane: a story that
    began here), `stories_joined_earlier`; from the feed health rows: `feeds_fetched`
    (polls), `feeds_not_modified` (304), `feeds_unchanged` (same body), `feeds_errors`,
    `feeds_entries`, `feeds_new_entries`."""
    articles = rows.get("articles", ())
    duplicates = rows.get("duplicates", ())
    rejected = rows.get("rejected", ())
    health = rows.get(FEED_HEALTH_TABLE, ())
    counters: collections.Counter[str] = collections.Counter()
    counters["read_inputs"] = len(articles) + len(duplicates) + len(rejected)
    for row in rejected:
        counters[f"{row['stage']}_dropped_{row['reason']}"] += 1
    # Topics, then places, follow dedup in the graph: what they rejected passed dedup.
    dropped = collections.Counter(row["stage"] for row in rejected)
    counters["places_in"] = len(articles) + dropped["places"]
    counters["places_found"] = sum(1 for row in articles if row.get("places"))
    counters["topics_in"] = counters["places_in"] + dropped["topics"]
    counters["topics_tagged"] = sum(1 for row in articles if row.get("topics"))
    counters["dedup_in"] = counters["topics_in"] + len(duplicates)
    for row in duplicates:
        counters[f"dedup_{row['method']}"] += 1
    ids = {row["article_id"] for row in articles}
    counters["dedup_copies_counted"] = sum(int(row.get("duplicate_count") or 0) for row in articles)
    counters["stories_in"] = len(articles)
    stories = {row.get("story_id") for row in articles if row.get("story_id")}
    counters["stories_new"] = len(stories & ids)
    counters["stories_joined_earlier"] = sum(
        1 for row in articles if row.get("story_id") and row["story_id"] not in ids
    )
    for row in health:
        if row["status"] == "not_due":
            continue
        counters["feeds_fetched"] += 1
        if row["status"] in _FEED_STATUSES:
            counters[_FEED_STATUSES[row["status"]]] += 1
        if row["status"] == "error":
            counters["feeds_errors"] += 1
        counters["feeds_entries"] += int(row.get("entries") or 0)
        counters["feeds_new_entries"] += int(row.get("new_entries") or 0)
    return dict(sorted(counters.items()))


def commit_window(
    root: str,
    rows: Mapping[str, Sequence[dict[str, Any]]],
    start: int,
    end: int,
    fired: int,
    empty_files: Collection[str] = tuple(DATASET_SCHEMAS),
) -> dict[str, Any]:
    """Write one pane's rows (table -> rows) as one Parquet file per table and commit them
    into ROOT; returns the manifest. A table without rows gets an empty file (its schema)
    only if it is in `empty_files` (_CommitPanes: a table ROOT has no file of yet). Its
    counts balance by construction: a window's inputs are the rows it holds."""
    clock = time.perf_counter()
    run_id = window_run_id(start, end, fired)
    attempt = window_attempt(run_id, rows)
    existing = dataset.read_manifest(root, run_id)
    if existing is not None and existing["attempt"] == attempt:
        return existing  # committed by an earlier try of this bundle
    if existing is not None:
        # The window was committed with other rows (by an earlier job): these rows are a
        # run of their own beside it, never a replacement of it.
        run_id = f"{run_id}-{attempt}"
        existing = dataset.read_manifest(root, run_id)
        if existing is not None and existing["attempt"] == attempt:
            return existing
    dataset.abandon(root, run_id, attempt)  # what an interrupted try left
    # Marked before anything is staged in it: a ROOT inside a watched folder is then known
    # as NewsBeam's (read.newsbeam_ancestor) from its first file on, never read back.
    dataset.ensure_marker(root)
    started = datetime_of(start)
    staging = dataset.staging_dir(root, run_id, attempt)
    partition = dataset.partition(started)
    prefix = dataset.file_prefix(run_id, attempt)
    name = f"{prefix}-00000-of-00001.parquet"
    written = []
    for table, schema in DATASET_SCHEMAS.items():
        if not rows.get(table) and table not in empty_files:
            continue
        arrow = pa.Table.from_pylist(list(rows.get(table, ())), schema=schema)
        files.write_parquet(
            files.join(staging, table, partition, name),
            arrow,
            compression="zstd",
            row_group_size=row_group_rows(arrow),  # as a batch run's files (bundle_files)
        )
        written.append({"target": table, "name": name, "rows": arrow.num_rows})
    # The list of the files written, as WriteTables leaves it for a batch run.
    moves = dataset.final_names(root, staging, written_record(written, partition, prefix))
    # One file per table: its row count is what was just written (no footer read back).
    written_rows = {entry["target"]: entry["rows"] for entry in written}
    tables: dict[str, Any] = {}
    for table, pairs in moves.items():
        entries = [
            {
                "path": files.relative(root, final),
                "rows": written_rows[table],
                "bytes": files.file_size(staged),
            }
            for staged, final in pairs
        ]
        tables[table] = {"rows": sum(entry["rows"] for entry in entries), "files": entries}
    counts = {table: tables[table]["rows"] for table in ("articles", "duplicates", "rejected")}
    manifest = {
        "format": "newsbeam-run",
        "layout_version": dataset.LAYOUT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "mode": "streaming",
        "run_id": run_id,
        "attempt": attempt,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "ingest_date": started.date().isoformat(),
        "window": {
            "start": started.isoformat(),
            "end": datetime_of(end).isoformat(),
            "pane": "on_time" if fired == end else "late",
            "fired_at": datetime_of(fired).isoformat(),
        },
        "counts": {
            "inputs": sum(counts.values()),
            **counts,
            FEED_HEALTH_TABLE: tables[FEED_HEALTH_TABLE]["rows"],
            "rejected_by": rejected_by(rows.get("rejected", ())),
            "balanced": True,
        },
        "counters": window_counters(rows),
        "tables": tables,
        "state": None,
    }
    moved = [pair for table in dataset.DATASET_TABLES for pair in moves[table]]
    manifest["seconds"] = round(time.perf_counter() - clock, 3)
    dataset.commit_run(root, manifest, moved)
    return manifest


class _CommitPanes(beam.DoFn):
    """Pane -> the run id it was committed as (commit_window). A table without rows in a
    pane gets an empty file only while ROOT has no file of it (its schema, for a reader's
    glob): a quiet feed's every pane left three empty files before, each one listed and
    opened by every reader of the folder (follow mode's batches likewise, review 81)."""

    def __init__(self, root: str, url_params: tuple[str, ...] = ()) -> None:
        self._root = root
        self._url_params = url_params
        self._tables_with_files: set[str] = set()

    def setup(self) -> None:
        self._tables_with_files = set()  # per instance: a listing per table at the most

    def _empty_files(self) -> list[str]:
        for table in DATASET_SCHEMAS:
            if table not in self._tables_with_files:
                if files.has_files(files.join(self._root, table)):
                    self._tables_with_files.add(table)
        return [table for table in DATASET_SCHEMAS if table not in self._tables_with_files]

    def process(self, pane: Pane) -> Iterator[str]:
        rows = {  # as a batch run writes them: secrets in URLs redacted
            table: list(map(written_row(table, self._url_params), records))
            for table, records in pane.tables.items()
        }
        manifest = commit_window(
            self._root, rows, pane.start, pane.end, pane.fired, self._empty_files()
        )
        self._tables_with_files.update(
            table for table, entry in manifest["tables"].items() if entry["files"]
        )
        log.info(
            "window %s committed: %d articles, %d duplicates, %d rejected",
            manifest["run_id"],
            manifest["counts"]["articles"],
            manifest["counts"]["duplicates"],
            manifest["counts"]["rejected"],
        )
        yield manifest["run_id"]


class CommitWindows(beam.PTransform):
    """PCollection[Pane] (ClusterStoriesStream's) -> PCollection[str], the run id of every
    pane committed into `root`: one Parquet file per table, committed by
    pipeline/dataset.py's commit (a manifest per pane, written last).

    Not Beam's windowed WriteToParquet: it names files by window, not by pane, so a late
    pane would replace the on-time pane's files; here each pane is its own run."""

    def __init__(self, root: str, url_params: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._root = root
        self._url_params = url_params

    def expand(self, panes: beam.PCollection[Pane]) -> beam.PCollection[str]:
        return panes | "CommitPanes" >> beam.ParDo(_CommitPanes(self._root, self._url_params))


# --- The command -------------------------------------------------------------------------------


class StreamingUsageError(Exception):
    """`--streaming` cannot run as asked; nothing was started."""


def runner_problem(runner: object, job_endpoint: str | None = None) -> str | None:
    """Why `--streaming` cannot run on `runner` (None: it can). The PortableRunner runs
    what its job service runs: `--job_endpoint embed` is Beam's in-process one, an
    FnApiRunner (sources run as a batch that never ends: no window is ever committed),
    and without an endpoint Beam fails the job only once it is launched."""
    name = runner if isinstance(runner, str) else type(runner).__name__ if runner else None
    short = name.rsplit(".", 1)[-1] if name else None
    if short == "PortableRunner" and (job_endpoint or "").strip() in ("", "embed"):
        shown = f"--job_endpoint {job_endpoint}" if job_endpoint else "no --job_endpoint"
        return (
            f"--streaming --runner PortableRunner needs --job_endpoint HOST:PORT, a streaming "
            f"job service (Flink's, Spark's); {shown} is none (`embed` is Beam's in-process "
            "job service, whose runner runs sources as batch). Use `newsbeam --follow` here, "
            "or see deploy/streaming/README.md"
        )
    if short in STREAMING_RUNNERS:
        return None
    shown = f"--runner {short}" if short else "no --runner (the in-process runner)"
    return (
        f"--streaming needs a streaming runner; {shown} cannot run an unbounded "
        "pipeline here (Beam's in-process runners run sources as batch or refuse them, and "
        "the DirectRunner first downloads Prism, which hangs offline). Use "
        "`newsbeam --follow` (micro-batches; runs anywhere, offline included), or "
        f"--runner {', '.join(STREAMING_RUNNERS[:-1])} (Prism needs a network or "
        "--prism_location), or PortableRunner with --job_endpoint (a Flink or Spark job "
        "service): deploy/streaming/README.md"
    )


# The last moment a timer of the global window (where the streaming steps keep their state)
# can be set for: Beam encodes timestamps as 64-bit milliseconds (about the year 294,000).
_LAST_TIMER_SECONDS = GlobalWindow().max_timestamp().micros / 1e6


def timers_problem(
    window_seconds: float,
    lateness_seconds: float,
    ttl_days: float,
    poll_seconds: float,
    now: float,
) -> str | None:
    """Why the spans cannot be timers (None: they can): the latest timers the job sets, a
    window's close (its end plus the lateness), an entry's expiry (its window's end plus
    the TTL) and the next poll, counted from `now` (Unix seconds, the latest event time),
    must fall before Beam's last timestamp; else the job fails at its first article (an
    int64 overflows), or, for a TTL too large for a float, at launch."""
    spans = (
        ("--window_seconds, --allowed_lateness_seconds", window_seconds + lateness_seconds),
        ("--window_seconds, --stream_ttl_days", window_seconds + ttl_days * 86400.0),
        ("--poll_seconds", poll_seconds),
    )
    for flags, seconds in spans:
        if not now + seconds < _LAST_TIMER_SECONDS:
            return (
                f"{flags}: {seconds:g} s from now is past Beam's last timestamp "
                f"(~{_LAST_TIMER_SECONDS / 86400 / 365.25:,.0f} years after 1970)"
            )
    return None


def streaming_config(options: PipelineOptions) -> StreamingConfig:
    """Options -> StreamingConfig, validated (StreamingUsageError); opens --state read-only."""
    ours = options.view_as(NewsBeamOptions)
    subscription = ours.pubsub_subscription
    if not (ours.inputs or ours.feed_urls or ours.feed_lists or subscription):
        raise StreamingUsageError(
            "--streaming needs a source: --input DIR (watched), --feed URL / --feeds FILE "
            "(polled), or --pubsub_subscription projects/P/subscriptions/S"
        )
    if not ours.output:
        raise StreamingUsageError("--output ROOT is required")
    for flag, value, least in (
        ("--window_seconds", ours.window_seconds, 1),
        ("--allowed_lateness_seconds", ours.allowed_lateness_seconds, 0),
        ("--stream_ttl_days", ours.stream_ttl_days, 1e-9),
        ("--poll_seconds", ours.poll_seconds, 1e-9),
        # A feed's adaptive interval (each feed is fetched when due, as in follow mode).
        ("--min_poll_seconds", ours.min_poll_seconds, 1),
        ("--initial_poll_seconds", ours.initial_poll_seconds, 1),
        ("--max_backoff_seconds", ours.max_backoff_seconds, 1),
        ("--poll_jitter", ours.poll_jitter, 0),
    ):
        if value < least:
            raise StreamingUsageError(f"{flag} must be at least {least:g}, not {value}")
    problem = timers_problem(
        ours.window_seconds,
        ours.allowed_lateness_seconds,
        ours.stream_ttl_days,
        ours.poll_seconds,
        time.time(),
    )
    if problem is not None:
        raise StreamingUsageError(problem)
    if ours.max_files_per_run:
        raise StreamingUsageError("--max_files_per_run is for a batch run, not --streaming")
    if ours.as_of:
        raise StreamingUsageError(
            "--as_of is for a batch run: --streaming reads each document as of its arrival"
        )
    if ours.metrics_file or ours.metrics_address:  # it would say nothing of the windows
        raise StreamingUsageError(
            "--metrics_file and --metrics_address are for a batch run and --follow: a "
            "streaming job's figures are its runner's metrics (docs/streaming.md)"
        )
    if any(value.lower().startswith(("http://", "https://")) for value in ours.inputs or ()):
        raise StreamingUsageError(
            "--streaming watches folders: give page URLs to a batch run, feeds with --feed"
        )
    # The batch run's checks of the paths named (pipeline/run.py): a mistyped folder would
    # otherwise be watched for ever, reading nothing and saying nothing.
    for flag, path in pipeline_run.missing_paths(ours):
        raise StreamingUsageError(f"{flag} {path}: no such file or folder")
    try:
        # A local path the runner's workers cannot see (Dataflow's, a cluster's containers)
        # would be watched or written by nobody, as in a batch run.
        pipeline_run.check_worker_paths(options, ours)
    except pipeline_run.UsageError as error:
        raise StreamingUsageError(str(error)) from error
    root = files.normalise(ours.output)
    try:
        # --state is only read: it need not be writable, only apart from ROOT.
        pipeline_run.check_paths(root, None)
        pipeline_run.check_apart(root, files.normalise(ours.state) if ours.state else None)
    except pipeline_run.UsageError as error:
        raise StreamingUsageError(str(error)) from error
    started = dt.datetime.now(dt.timezone.utc)
    try:
        if dataset.is_dataset(root):
            for line in dataset.recover(root):
                log.warning(line)
        dataset.check_root(root, for_writing=True)
        state, _ = open_state(
            ours.state, started, ours.state_keep_days, keep_ids_days=ours.state_keep_ids_days
        )
    except (dataset.DatasetError, StateError) as error:
        raise StreamingUsageError(str(error)) from error
    # Streaming reads --state to seed its keyed state and never writes a new version: its
    # state lives in the runner (checkpointed with the job).
    state = dataclasses.replace(state, state_out_dir=None)
    stages = config_from_options(ours, root, state)
    window = WindowConfig(
        window_seconds=ours.window_seconds,
        allowed_lateness_seconds=ours.allowed_lateness_seconds,
        ttl_days=ours.stream_ttl_days,
    )
    # A new job (a restart) starts from what earlier jobs committed within the TTL.
    committed = CommittedRecord(root, started - dt.timedelta(days=ours.stream_ttl_days))
    return StreamingConfig(
        stages, root, window, ours.poll_seconds, subscription, committed=committed
    )


# How long a stopped launcher waits for its cancelled job to end on the runner.
CANCEL_WAIT_SECONDS = 30.0


def stop_job(result: Any, wait_seconds: float = CANCEL_WAIT_SECONDS) -> None:
    """Cancel the job whose launcher is being stopped (Ctrl-C, SIGTERM), wait for the runner
    to end it, and say so: on a runner of its own (Flink, Spark, Dataflow) the job would go
    on writing windows into ROOT after this process released ROOT's lock. A cancel request
    is only a request: the job is ended when its state says so (CANCELLED, or FAILED when its
    workers in this process stopped first)."""
    try:
        result.cancel()
        state = ended_state(result, wait_seconds)
    except Exception as error:  # the job service gone, a runner that cannot cancel
        log.warning(
            "could not cancel the streaming job (%s): it may still run on its runner; stop "
            "it there before another job or run writes into ROOT",
            " ".join(str(error).split())[:300] or type(error).__name__,
        )
        return
    if state is None:
        log.warning(
            "the streaming job was cancelled but had not ended on its runner after %g s: "
            "check it there before another job or run writes into ROOT",
            wait_seconds,
        )
        return
    log.info("the streaming job was cancelled on its runner (it ended %s)", state)


def ended_state(result: Any, wait_seconds: float) -> str | None:
    """The job's terminal state once it has one (polled every 0.2 s), None after
    `wait_seconds` without."""
    from apache_beam.runners.runner import PipelineState

    deadline = time.monotonic() + wait_seconds
    while True:
        state = result.state
        if PipelineState.is_terminal(state):
            return str(state)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def main(argv: Sequence[str]) -> int:
    """`newsbeam --streaming ...`: 2 at once when it cannot run here; else runs the job
    until the runner ends it (0) or it fails (1); a job that fails or is stopped records
    itself in ROOT (`record_job_end`)."""
    options = PipelineOptions(list(argv))
    problem = runner_problem(
        options.view_as(StandardOptions).runner, options.view_as(PortableOptions).job_endpoint
    )
    if problem is not None:
        print(f"newsbeam: {problem}", file=sys.stderr)
        return 2
    output = options.view_as(NewsBeamOptions).output
    # A local ROOT is locked for the job's life, as a batch run locks it: one writer per
    # ROOT (an object store has no lock: the scheduler's to ensure, docs/deploying.md).
    lock = RunLock([Path(files.normalise(output))] if output and files.is_local(output) else [])
    try:
        lock.acquire()
    except LockHeld as error:
        print(f"newsbeam: {error}", file=sys.stderr)
        return 2
    try:
        try:
            config = streaming_config(options)
        except StreamingUsageError as error:
            print(f"newsbeam: {error}", file=sys.stderr)
            return 2
        options.view_as(StandardOptions).streaming = True
        workers.adjust_beam()  # as a batch run does (pipeline/workers.py)
        pipeline = beam.Pipeline(options=options)
        begun = job_started(options)
        try:
            build_streaming(pipeline, config)
            log.info(
                "streaming into %s: windows of %d s (job %s)",
                config.root,
                config.window.window_seconds,
                begun["run_id"],
            )
            try:
                result = pipeline.run()
                try:
                    result.wait_until_finish()
                except BaseException as stopped:
                    if not isinstance(stopped, Exception):  # a stop signal: Ctrl-C, SIGTERM
                        stop_job(result)
                    raise
            except BaseException as error:
                # The job's end on record, as a batch run's (pipeline/failed_runs.py): the
                # report and `--fail_on_failed` see it. Written while ROOT is still locked.
                cause, where = record_job_end(config.root, begun, error, argv)
                if not isinstance(error, Exception):
                    raise  # pipeline/main.py says it was stopped (130/143)
                log.error("%s%s", cause, f"; recorded in {where}" if where else "")
                log.debug("traceback", exc_info=True)
                return 1
            return 0
        finally:
            runners.remove_scratch(pipeline)  # Beam's, should it never run
    finally:
        lock.release()


def job_started(options: PipelineOptions) -> dict[str, Any]:
    """A streaming job's start record (pipeline/failed_runs.py): its run id
    `stream-job-<start>`, apart from its windows' `stream-<window start>`, and what it
    reads. Kept in memory: the job's record is written only if it fails or is stopped."""
    from newsbeam.pipeline import failed_runs

    ours = options.view_as(NewsBeamOptions)
    started = dt.datetime.now(dt.timezone.utc)
    micros = int(started.timestamp() * 1_000_000)
    return failed_runs.started_record(
        f"stream-job-{stamp(micros)}",
        dataset.new_attempt(),
        started,
        ours.inputs,
        ours.feed_urls,
        ours.feed_lists,
        ours.state,
    )


def record_job_end(
    root: str, begun: dict[str, Any], error: BaseException, argv: Sequence[str]
) -> tuple[str, str | None]:
    """Write the record of a streaming job that failed or was stopped into ROOT (marked a
    dataset first: a job that failed before its first window leaves a ROOT the next run
    recognises); returns the cause as logged and the record's path (None: not written,
    one warning said why). Never raises: the job's own end matters."""
    received = RunSignals.current
    if received is not None or isinstance(error, KeyboardInterrupt | Terminated):
        interrupted = received == signal.SIGINT or (
            received is None and isinstance(error, KeyboardInterrupt)
        )
        name, status = ("SIGINT", 130) if interrupted else ("SIGTERM", 143)
        cause = f"the streaming job was stopped by {name} (cancelled on its runner)"
    else:
        line = failure_line(error, argv)
        cause = "the streaming job failed: " + line.removeprefix("the run failed: ")
        status = 1
    record = failed_runs.streaming_record(
        begun,
        dt.datetime.now(dt.timezone.utc),
        cause,
        status,
        stage=failed_runs.stage_of(error, cause),
    )
    try:
        dataset.ensure_marker(root)
    except Exception as problem:  # the store failed: write_record says it once
        log.debug("ROOT not marked: %s", problem)
    return record["cause"], failed_runs.write_record(root, record, error)
