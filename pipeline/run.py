"""One run of the pipeline: options in, a committed run in the dataset out.

`run(argv)` parses options, runs the pipeline into the run's staging folder in the dataset
(`--output ROOT`, any filesystem Beam writes; layout and commit: pipeline/dataset.py),
writes the run's report, and commits: files into their partitions, then the manifest
`ROOT/_runs/<run id>.json` (counts, options, versions, schema version, times, the files),
then, with --state, the new state version is published (transforms/support/state.py).
A run that fails or is killed before its manifest leaves no committed row and the earlier
state current; the next run cleans what it left.

Before anything else a run refuses (usage error, exit 2): local --output and --state nested
either way; another run holding the lock of either (local paths: pipeline/lock.py, the
holder named); an --output that holds something other than a NewsBeam dataset; state that
fails its checks, its integrity record included; a rerun (same --run_id) of a run that is
not the latest one the state has seen.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
)

from newsbeam.pipeline import dataset, failed_runs, runners, workers
from newsbeam.pipeline.build import build
from newsbeam.pipeline.causes import failure_line
from newsbeam.pipeline.lock import LockHeld, RunLock
from newsbeam.pipeline.manifest import beam_counters, build_manifest, stage_seconds, versions_ahead
from newsbeam.pipeline.metrics import metrics_file_problem, parse_address
from newsbeam.pipeline.options import (
    NewsBeamOptions,
    PipelineConfig,
    RunOptions,
    config_from_options,
    is_url,
)
from newsbeam.pipeline.progress import ProgressDisplay
from newsbeam.pipeline.report_process import ReportProcess
from newsbeam.pipeline.stops import RunSignals, Terminated
from newsbeam.pipeline.worker_template import warmable_dofns, worker_template, workers_requested
from newsbeam.pipeline.workers import frozen_heap, worker_options
from newsbeam.transforms.feeds.config import FeedsConfig
from newsbeam.transforms.feeds.fetch import parse_allow_hosts
from newsbeam.transforms.read import glob_folder
from newsbeam.transforms.support import files
from newsbeam.transforms.support.state import (
    StateError,
    awaits_publication,
    crash_point,
    discard_state,
    open_state,
    output_root,
    prepare_state,
    publish_state,
    read_current,
    recover_state,
    state_outputs,
)

log = logging.getLogger("newsbeam")

# Input documents (files; a JSON-lines file's lines) from which one run on the local runner
# says how to bound its memory: the FnApiRunner holds each stage's output, so a run grows
# with its input (about 1.4 GB at 13,000 pages on 2 workers, benchmarks/README.md "Memory
# in passes"; in one process 1.3 GB, and 1.1 GB on 20,000 short JSON lines: review 82).
LARGE_INPUT_FILES = 10_000

# Beam 2.77's DirectRunner first tries to download the Prism runner binary, which offline
# fails or hangs; the FnApiRunner is what it falls back to, so it is the default here.
DEFAULT_RUNNER = "FnApiRunner"


class UsageError(Exception):
    """A problem with the command line or the output folder; nothing was run."""


# The exit status of a run refused because another run holds its lock (sysexits'
# EX_TEMPFAIL): nothing is wrong with the command, it is to be run again once that run
# ends; exit 2 (a usage error: fix the command) told a scheduler neither.
BUSY_STATUS = 75


class Busy(UsageError):
    """Another run holds the lock of --output or --state (exit BUSY_STATUS)."""


class Unpublished(Exception):
    """The run committed (its manifest is written), but its state version could not be
    published: the next run publishes it (state.md, life cycle 3). Exit 1, as a failure the
    operator must see, but not "nothing was committed"."""


def parse_options(argv: Sequence[str]) -> PipelineOptions:
    """Command line -> Beam options with NewsBeam's view validated and a safe runner."""
    options = RunOptions(list(argv))
    ours = options.view_as(NewsBeamOptions)
    if not (ours.inputs or ours.feed_urls or ours.feed_lists):
        raise UsageError("at least one --input PATH/URL, --feed URL or --feeds FILE is required")
    if not ours.output:
        raise UsageError("--output ROOT is required")
    if ours.run_id is not None:
        try:
            dataset.check_run_id(ours.run_id)
        except ValueError as error:
            raise UsageError(str(error)) from None
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
        ("--state_keep_ids_days", ours.state_keep_ids_days, 0),
        ("--max_pages_per_run", ours.max_pages_per_run, 0),
        ("--max_pages_per_feed", ours.max_pages_per_feed, 0),
        ("--page_retry_runs", ours.page_retry_runs, 0),
        ("--sitemap_max_urls", ours.sitemap_max_urls, 0),
        ("--sitemap_max_depth", ours.sitemap_max_depth, 1),
        ("--sitemap_max_sitemaps", ours.sitemap_max_sitemaps, 0),
        ("--max_files_per_run", ours.max_files_per_run, 0),
        ("--max_html_tags", ours.max_html_tags, 1),
        ("--max_page_seconds", ours.max_page_seconds, 0),
        ("--store_retry_seconds", ours.store_retry_seconds, 0),
    ):
        if value < least:
            raise UsageError(f"{flag} must be at least {least:g}, not {value:g}")
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
    for flag, seconds in (
        ("--min_poll_seconds", ours.min_poll_seconds),
        ("--initial_poll_seconds", ours.initial_poll_seconds),
        ("--max_backoff_seconds", ours.max_backoff_seconds),
    ):
        if not 1 <= seconds <= FeedsConfig.max_poll_seconds:
            raise UsageError(
                f"{flag} must be between 1 and {FeedsConfig.max_poll_seconds}, not {seconds}"
            )
    if not 0 <= ours.poll_jitter <= 0.5:  # more would poll a feed at half its interval
        raise UsageError(f"--poll_jitter must be between 0 and 0.5, not {ours.poll_jitter:g}")
    _check_follow(ours)
    _check_mode_flags(argv, ours)
    if ours.progress_seconds <= 0:
        raise UsageError(f"--progress_seconds must be positive, not {ours.progress_seconds}")
    try:
        parse_allow_hosts(ours.allow_hosts or ())
    except ValueError as error:
        raise UsageError(str(error)) from None
    for flag, path in missing_paths(ours):
        raise UsageError(f"{flag} {path}: no such file or folder")
    if ours.metrics_file:
        problem = metrics_file_problem(ours.metrics_file)
        if problem:
            raise UsageError(f"--metrics_file {ours.metrics_file}: {problem}")
    standard = options.view_as(StandardOptions)
    if standard.runner is None:
        standard.runner = DEFAULT_RUNNER
    unknown = runners.unknown_runner(standard.runner)
    if unknown:
        raise UsageError(unknown)
    check_worker_paths(options, ours)
    _use_local_workers(options, argv, ours)
    return options


# Flags that do something only in a mode this run is not in. They have defaults, so what
# the command line named is read from it (`flags_given`), not from the options' values.
STREAMING_ONLY = (
    "--window_seconds",
    "--allowed_lateness_seconds",
    "--stream_ttl_days",
    "--poll_seconds",
    "--pubsub_subscription",
)
# The polling flags set the next poll time a feed's state keeps: a run without one had
# nowhere to keep it, so they did nothing.
STATE_ONLY = (
    "--state_keep_days",
    "--state_keep_ids_days",
    "--poll_due_only",
    "--page_retry_runs",
    "--seen_entries_days",
    "--min_poll_seconds",
    "--initial_poll_seconds",
    "--max_backoff_seconds",
    "--poll_jitter",
)


def flags_given(argv: Sequence[str], flags: Sequence[str]) -> list[str]:
    """Which of `flags` the command line names (`--flag`, `--flag=value`, either spelling),
    in the order given, each once."""
    named = ("--" + arg[2:].partition("=")[0].replace("-", "_") for arg in argv)
    return list(dict.fromkeys(flag for flag in named if flag in flags))


def _check_mode_flags(argv: Sequence[str], ours: NewsBeamOptions) -> None:
    """A batch or follow run refuses the flags of a mode it is not in, as it refuses
    --interval without --follow: `--pubsub_subscription` without --streaming read no
    message and said nothing; `--state_keep_days 30` without --state (forgotten) kept
    nothing. (`newsbeam --streaming` does not come here: pipeline/streaming.py.)"""
    if stray := flags_given(argv, STREAMING_ONLY):
        raise UsageError(f"{', '.join(stray)} applies to --streaming only")
    # --max_files_per_run's passes share a temporary state when no --state is given.
    if not ours.state and not ours.max_files_per_run:
        if stray := flags_given(argv, STATE_ONLY):
            raise UsageError(
                f"{', '.join(stray)} applies with --state only (what it keeps or reads "
                "there across runs): give --state DIR"
            )


def _check_follow(ours: NewsBeamOptions) -> None:
    """--follow needs --state (what was read) and names each batch itself; --interval and
    --max_runtime belong to it; --max_files_per_run (runs named alike) to a batch run."""
    if ours.max_files_per_run and ours.follow:
        raise UsageError("--max_files_per_run is for a batch run: --follow batches read new files")
    if ours.as_of and ours.follow:
        # One fixed moment for batches that go on for days would leave every later article
        # dated more than a day past it undated.
        raise UsageError(
            "--as_of is for a batch run (to read its input again as of a recorded time): "
            "each --follow batch reads as of its own start"
        )
    if ours.max_files_per_run and ours.run_id is not None:
        raise UsageError(
            "--max_files_per_run commits one run per pass, each named by its start time; "
            "drop --run_id"
        )
    if not ours.follow:
        for flag, value in (
            ("--interval", ours.interval),
            ("--max_runtime", ours.max_runtime),
            ("--stop_wait_seconds", ours.stop_wait_seconds),
            ("--metrics_address", ours.metrics_address),
        ):
            if value is not None:
                raise UsageError(f"{flag} applies to --follow only")
        return
    if not ours.state:
        raise UsageError(
            "--follow needs --state DIR: it is where follow mode records what it has read"
        )
    if ours.run_id is not None:
        raise UsageError("--follow names each batch by its start time; drop --run_id")
    if ours.stop_wait_seconds is not None and ours.stop_wait_seconds < 0:
        raise UsageError(f"--stop_wait_seconds must be at least 0, not {ours.stop_wait_seconds:g}")
    if ours.fail_on_rejected is not None:  # it was ignored: every batch exited 0
        raise UsageError(
            "--fail_on_rejected sets one run's exit status; --follow keeps running whatever a "
            "batch rejects (each batch's rejected rows and counts are in its run's manifest)"
        )
    if ours.metrics_address is not None:
        try:
            parse_address(ours.metrics_address)
        except ValueError as error:
            raise UsageError(str(error)) from None
    if ours.interval is not None and ours.interval <= 0:
        raise UsageError(f"--interval must be positive, not {ours.interval}")
    if ours.max_runtime is not None and ours.max_runtime <= 0:
        raise UsageError(f"--max_runtime must be positive, not {ours.max_runtime}")


def _use_local_workers(
    options: PipelineOptions, argv: Sequence[str], ours: NewsBeamOptions
) -> None:
    """Worker processes for a local FnApiRunner run, as pipeline/workers.py's rule says:
    the user's --direct_* flags, else one per available core for a run of many files."""
    if not on_local_runner(options):
        return
    note = workers.address_space_note(workers.address_space_limit())
    if note is not None:
        log.warning("%s", note)
    given = workers.given_flags(argv)
    cores, memory = workers.available_cores(), workers.available_memory()
    # Under a CPU quota (a container's limit) the load average is the whole node's, not
    # a measure of the share the quota gives this run: the busy rule does not apply.
    load = None if workers.cgroup_limits().cpus is not None else workers.load_average()

    def plan_of(inputs: int) -> tuple[int | None, str]:
        return workers.worker_plan(
            given, cores=cores, memory=memory, inputs=inputs, follow=bool(ours.follow), load=load
        )

    # Counted once, up to where a run says how passes bound its memory: more than the
    # workers' rule needs (MIN_INPUTS), still cheap.
    inputs = 0 if ours.follow else workers.count_inputs(ours.inputs or (), LARGE_INPUT_FILES)
    hint = not ours.follow and not ours.max_files_per_run
    documents = workers.count_documents(ours.inputs or (), LARGE_INPUT_FILES) if hint else 0
    if ours.state and (documents >= LARGE_INPUT_FILES or plan_of(inputs)[0] != plan_of(0)[0]):
        # A state that may have read most of them, and the count decides something: what
        # the run will read (a walk of every file: not where the flags or the load decide).
        unread = _unread_inputs(ours.inputs or (), ours.state, LARGE_INPUT_FILES)
        if unread is not None:
            inputs = workers.count_inputs(unread, LARGE_INPUT_FILES)
            documents = workers.count_documents(unread, LARGE_INPUT_FILES) if hint else 0
    if documents >= LARGE_INPUT_FILES:
        _hint_large_input()
    planned, rule = plan_of(inputs)
    # Kept for the manifest and logged: an operator could not tell why a run used one
    # process or two workers (the load, a quota, the memory, too few files).
    plan = workers.plan_record(planned, rule, cores=cores, memory=memory, load=load)
    WORKER_PLANS[options] = plan
    log.debug("worker plan: %s", plan)  # the "run started" line says its number and rule
    if planned is None or (planned == 1 and given.running_mode != workers.MULTI_PROCESSING):
        return  # in-process, or threads as the user asked
    direct = options.view_as(DirectOptions)
    direct.direct_running_mode = workers.MULTI_PROCESSING
    direct.direct_num_workers = planned


def _unread_inputs(paths: Sequence[str], state: str, limit: int) -> list[str] | None:
    """Up to `limit` of the local files under `paths` that a run with this --state will read
    (read.py `unread_local_files`: not those its seen-files record holds as read, unchanged
    since), for the launch's counts; None where the state has no record or cannot be read
    (the run's own check of the state says why). A walk and a stat of every file: ~1.2 CPU
    s a 100,000 files, paid only where the count decides the workers or the hint. The
    record stays loaded for the passes' plan and an in-process run (`load_seen_files`)."""
    from newsbeam.transforms.read import load_seen_files, unread_local_files
    from newsbeam.transforms.support.state import SEEN_FILES, current_table_files

    try:
        record = current_table_files(files.normalise(state), SEEN_FILES)
        seen = load_seen_files(record) if record else None
    except Exception:  # damaged, unreachable: said by the run's check, exit 2
        return None
    return None if seen is None else unread_local_files(paths, seen, limit)


# The worker plan of each run's options (`_use_local_workers`), for its manifest.
WORKER_PLANS: weakref.WeakKeyDictionary[PipelineOptions, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def workers_words(options: PipelineOptions) -> str:
    """ "; workers planned: N (rule)" for a local run's start line, "" for another runner's:
    why a run used one process or N workers, said where the run says it started."""
    plan = WORKER_PLANS.get(options)
    if plan is None:
        return ""
    count = plan["workers"]
    return f"; workers planned: {'as given' if count is None else count} ({plan['rule']})"


def on_local_runner(options: PipelineOptions) -> bool:
    """Whether the run's runner is the local one whose worker processes workers.py plans."""
    runner = options.view_as(StandardOptions).runner
    return isinstance(runner, str) and runners.runner_name(runner) in workers.LOCAL_RUNNERS


def _on_local_workers(options: PipelineOptions) -> bool:
    """Whether the run's stages run on local worker processes (forked warm:
    pipeline/worker_template.py)."""
    direct = options.view_as(DirectOptions)
    return on_local_runner(options) and direct.direct_running_mode == workers.MULTI_PROCESSING


def _pipeline(options: PipelineOptions, on_workers: bool) -> beam.Pipeline:
    """The run's Pipeline; on local worker processes, with an FnApiRunner whose workers
    start by NewsBeam's entry point (pipeline/workers.py `local_runner`)."""
    if not on_workers:
        return beam.Pipeline(options=options)
    direct = options.view_as(DirectOptions)
    local, told = workers.local_runner(direct.direct_num_workers or 1)
    runner_options = copy.deepcopy(options)  # the manifest records the options as given
    for name, value in told.items():
        setattr(runner_options.view_as(DirectOptions), name, value)
    return beam.Pipeline(runner=local, options=runner_options)


def check_worker_paths(options: PipelineOptions, ours: NewsBeamOptions) -> None:
    """The local paths made absolute, and refused (UsageError) where the runner's workers
    cannot see them (pipeline/runners.py), unless --local_paths_shared; no runner named is
    the in-process one."""
    _absolute_paths(ours)
    if ours.local_paths_shared:
        return
    workers = _workers(options)
    if workers.runner is None:
        workers = dataclasses.replace(workers, runner=DEFAULT_RUNNER)
    problem = runners.invisible_paths(_named_paths(ours), workers)
    if problem:
        raise UsageError(problem)


def _absolute_paths(ours: NewsBeamOptions) -> None:
    """Local paths absolute, against the launcher's working directory: SDK workers of a
    portable runner are processes started elsewhere (pipeline/runners.py)."""
    ours.inputs = [runners.absolute(value) for value in ours.inputs or ()] or None
    ours.feed_lists = [runners.absolute(value) for value in ours.feed_lists or ()] or None
    ours.output = runners.absolute(ours.output)
    if ours.state:
        ours.state = runners.absolute(ours.state)


def _named_paths(ours: NewsBeamOptions) -> list[tuple[str, str]]:
    named = [("--input", value) for value in ours.inputs or ()]
    named += [("--feeds", value) for value in ours.feed_lists or ()]
    named.append(("--output", ours.output))
    if ours.state:
        named.append(("--state", ours.state))
    return named


def _workers(options: PipelineOptions) -> runners.Workers:
    everything = options.get_all_options(retain_unknown_options=True)
    return runners.Workers(
        runner=options.view_as(StandardOptions).runner,
        environment_type=everything.get("environment_type"),
        environment_config=everything.get("environment_config"),
        job_endpoint=everything.get("job_endpoint"),
        flink_master=everything.get("flink_master"),
        spark_master_url=everything.get("spark_master_url"),
    )


def missing_paths(ours: NewsBeamOptions) -> list[tuple[str, str]]:
    """Local paths named on the command line that do not exist (a typo), or globs whose
    folder does not exist. A glob in an existing folder that matches nothing now (a
    scheduled run over an inbox emptied since: `--input 'inbox/*.html'`) is a `not_found`
    row, as an empty folder is. Paths on other filesystems (gs://, s3://, ...) are left to
    the read stage."""
    named = [("--input", value) for value in ours.inputs or () if not is_url(value)]
    named += [("--feeds", value) for value in ours.feed_lists or ()]
    missing = []
    for flag, value in named:
        if "://" in value:
            continue
        path = os.path.expanduser(value)
        if os.path.lexists(path):  # "dir[1]" names itself first, as the read stage reads it
            continue
        folder = glob_folder(path)  # the folder the read stage walks for a glob
        if folder is None or not os.path.isdir(folder or "."):
            missing.append((flag, value))
    return missing


def nested(first: Path, second: Path) -> bool:
    """Whether two folders are the same or one lies inside the other (symlinks resolved)."""
    a, b = first.resolve(), second.resolve()
    return a == b or a in b.parents or b in a.parents


def check_paths(output: str, state: str | None) -> None:
    """--output and --state must be apart (each is NewsBeam's own, read and cleaned whole),
    and a local one writable, with its lock beside it (refused here, not after the stages)."""
    for flag, path in (("--output", output), ("--state", state)):
        if path is None or not files.is_local(path):
            continue
        for folder in (path, os.path.dirname(os.path.abspath(files.local_path(path)))):
            problem = files.cannot_write(folder)
            if problem:
                raise UsageError(f"{flag} {path}: {problem}")
    check_apart(output, state)


def check_apart(output: str, state: str | None) -> None:
    """--output and --state must be apart: each is NewsBeam's own, read and cleaned whole."""
    if state is None:
        return
    if files.is_local(output) and files.is_local(state):
        together = nested(Path(output), Path(state))
    else:
        a, b = output.rstrip("/") + "/", state.rstrip("/") + "/"
        together = a.startswith(b) or b.startswith(a)
    if together:
        raise UsageError(
            f"--output {output} and --state {state} must be apart, neither inside the other"
        )


@dataclasses.dataclass(frozen=True)
class Target:
    """What a command line runs into: its options, and its --output and --state (normalised)."""

    options: PipelineOptions
    ours: NewsBeamOptions
    output: str
    state: str | None
    argv: tuple[str, ...] = ()  # the command line it was made from (failure_line reads it)


def prepare(argv: Sequence[str]) -> Target:
    """Parse and check the command line (UsageError); object stores get its settings."""
    options = parse_options(argv)
    ours = options.view_as(NewsBeamOptions)
    # Object stores' endpoints and credentials are pipeline options (--s3_endpoint_url,
    # ...): what the commit reads and writes outside the pipeline uses the same.
    FileSystems.set_options(options)
    output = files.normalise(ours.output)
    state = files.normalise(ours.state) if ours.state else None
    check_paths(output, state)
    # Inputs and feed lists on an object store too: one whose endpoint was down made the
    # read stage wait on Beam's retries (over 5 minutes between two of them), and one in
    # a bucket that does not exist was read as an empty folder (a `not_found` row).
    named = [("--output", output), ("--state", state)]
    named += [("--input", path) for path in ours.inputs or () if not is_url(path)]
    named += [("--feeds", path) for path in ours.feed_lists or ()]
    for flag, path in named:
        # An object store that cannot be used: said in seconds, not after Beam's retries.
        problem = files.store_problem(path) if path else None
        if problem:
            raise UsageError(f"{flag} {problem}")
    try:
        if state is not None:
            _warn_if_state_behind(state, output)
        else:
            _warn_if_stateless_after_state(output)
    except (dataset.DatasetError, StateError):
        pass  # the run's own checks say what is wrong with them
    return Target(options, ours, output, state, tuple(argv))


@contextlib.contextmanager
def locked(target: Target) -> Iterator[RunLock]:
    """Hold the run lock of --output and --state (Busy when another run holds it)."""
    # Locks are files beside local folders; an object store has no atomic create, so there
    # one run per ROOT at a time is the scheduler's to ensure (docs/deploying.md).
    paths = [Path(path) for path in (target.output, target.state) if path and files.is_local(path)]
    lock = RunLock(paths)
    try:
        lock.acquire()
    except LockHeld as error:
        raise Busy(str(error)) from None
    try:
        yield lock
    finally:
        lock.release()


def run(
    argv: Sequence[str],
    report_process: ReportProcess | None = None,
    on_locked: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the pipeline; returns the manifest (with --max_files_per_run, the passes' sum:
    pipeline/passes.py). Raises UsageError or the run's exception. `report_process` (the
    command's, pipeline/report_process.py) draws the report if given; `on_locked` is
    called once the locks are taken (the run then is the one in progress)."""
    target = prepare(argv)
    if target.ours.max_files_per_run:
        from newsbeam.pipeline import passes

        return passes.run_passes(target, on_locked)
    with locked(target) as lock:
        if on_locked is not None:
            on_locked()
        return run_locked(target, lock, report_process=report_process)


def _hint_large_input() -> None:
    """A batch of LARGE_INPUT_FILES files or more on the local runner: its memory grows
    with the input, and passes bound it."""
    log.info(
        "%s or more input documents (files, JSON lines) in one run: Beam's local runner "
        "keeps each stage's output in memory, so this run's memory grows with its input "
        "(~1.1 GB at 10,000-20,000 in one process); --max_files_per_run N reads the files in "
        "passes of N that share one state, and a large JSON-lines file is one file: split "
        "it (split -l 5000) to read it in passes (README: Memory on large inputs)",
        f"{LARGE_INPUT_FILES:,}",
    )


def _committed(manifest_uri: str, run_id: str, attempt: str) -> bool:
    """Whether the output manifest at `manifest_uri` commits that run attempt."""
    try:
        content = files.read_json(manifest_uri)
    except Exception:  # absent (each filesystem has its own error) or unreadable
        return False
    return (
        isinstance(content, dict)
        and content.get("run_id") == run_id
        and content.get("attempt") == attempt
    )


def _prepare(
    ours: NewsBeamOptions, output: str, state: str | None, run_id: str, started: dt.datetime
) -> None:
    """Clean what killed runs left, then refuse an unusable ROOT or state (UsageError)."""
    try:
        for line in dataset.recover(output, run_id) if dataset.is_dataset(output) else []:
            log.warning(line)
        dataset.check_root(output, for_writing=True)
        if state is not None:
            for line in recover_state(state, _committed):
                log.warning(line)
            _warn_if_state_elsewhere(state, output)
    except (dataset.DatasetError, StateError) as error:
        raise UsageError(str(error)) from error
    try:
        earlier = dataset.read_manifest(output, run_id)  # a rerun replaces this one
    except dataset.DatasetError as error:
        raise UsageError(str(error)) from error
    if earlier is None:
        return
    if state is None:
        kept_with = (earlier.get("state") or {}).get("root")
        if kept_with:  # its rows replaced by ones no state saw: copies of earlier runs
            raise UsageError(  # kept again, later runs' copies pointing at what it drops
                f"--run_id {run_id} was committed with --state {kept_with}: run it again "
                "with that --state (only its latest run can be), or give a new --run_id"
            )
        return
    current = _current_run(state)
    if current != run_id:
        raise UsageError(
            f"--run_id {run_id} was committed before the latest run of --state {state} "
            f"({current or 'none'}): with state only the latest run can be run again"
        )


def _warn_if_state_elsewhere(state: str, output: str) -> None:
    """A state holding articles of another ROOT: this run's duplicates may point at
    canonical articles in that ROOT, not in this one (a moved ROOT is fine). Not only
    when its last run committed there: its runs into this ROOT since then keep the other
    ROOT's articles (state_outputs lists every ROOT a state's runs committed into)."""
    current = read_current(state)
    manifest = current.get("output_manifest") if current else None
    last = output_root(manifest) if isinstance(manifest, str) else ""
    here = files.normalise(output)
    for root in sorted(set(state_outputs(state, current)) | ({last} - {""})):
        if root == here or not dataset.is_dataset(root):
            continue
        if root == last:
            log.warning(
                "--state %s last committed with --output %s: this run's duplicates will point "
                "at articles there, not in %s (give each dataset a state of its own)",
                state,
                root,
                output,
            )
        else:
            log.warning(
                "--state %s holds articles committed into --output %s: this run's copies of "
                "them will point at articles there, not in %s (give each dataset a state of "
                "its own)",
                state,
                root,
                output,
            )


# Manifests read at most to find whether a state is behind its ROOT (`_warn_if_state_behind`).
_BEHIND_MANIFESTS = 20


def _warn_if_state_behind(state: str, output: str) -> None:
    """A state that has not seen the ROOT's latest runs made with a state: one restored
    from a backup, or a new one beside a ROOT that another state kept. Dedup and the record
    of files read then start from an older point, and the articles of the runs since are
    added to the ROOT again (measured: every seed twice, a third time with a new state).
    Runs after the state's latest by id (the default ids sort by time) are read, at most
    `_BEHIND_MANIFESTS`, and count when they finished after it."""
    if not dataset.is_dataset(output):
        return
    ids = dataset.run_ids(output)
    current = read_current(state)
    last = str(current.get("run_id")) if current else None
    later = [run_id for run_id in ids if last is None or run_id > last][-_BEHIND_MANIFESTS:]
    published = str(current.get("published_at", "")) if current else ""
    for run_id in reversed(later):
        manifest = dataset.read_manifest(output, run_id) or {}
        used = manifest.get("state") or {}
        if not used.get("root") or (current and used.get("version") == current.get("version")):
            continue
        if str(manifest.get("finished_at", "")) <= published:  # ids chosen out of time order
            continue
        if awaits_publication(state, str(used.get("version"))):
            return  # killed after its commit: this run's recovery publishes that version
        if current is None:
            log.warning(
                "--state %s is new, but --output %s holds runs made with --state %s (the "
                "latest: %s): this run does not know their articles and files, and adds them "
                "again; to go on with that dataset, give its state",
                state, output, used["root"], run_id,
            )  # fmt: skip
        elif files.normalise(str(used["root"])) == state:
            log.warning(
                "--state %s is behind --output %s: run %s was committed with a later version "
                "of it (%s; its CURRENT names %s, restored from a backup?): the articles and "
                "files of the runs since are added again",
                state, output, run_id, used.get("version"), current.get("version"),
            )  # fmt: skip
        return


def _warn_if_stateless_after_state(output: str) -> None:
    """A run without --state into a ROOT whose latest run (by id) kept one: a scheduled job
    that lost the flag. It knows none of the earlier runs' articles and files, so what
    they read is read again and their articles are added again (the same article_id
    twice). A state that is gone (the passes' temporary one) is no state to give."""
    if not dataset.is_dataset(output) or not (ids := dataset.run_ids(output)):
        return
    used = (dataset.read_manifest(output, ids[-1]) or {}).get("state") or {}
    if not used.get("root"):
        return
    try:
        kept = read_current(str(used["root"])) is not None
    except Exception:  # each filesystem has its own errors: unreadable from here
        kept = False
    if kept:
        log.warning(
            "--output %s holds runs made with --state %s (the latest: %s), and this run has "
            "no --state: it does not know their articles and files, and adds them again; "
            "to go on with that dataset, give its state",
            output, used["root"], ids[-1],
        )  # fmt: skip


def _current_run(state: str) -> str | None:
    current = read_current(state)
    return str(current.get("run_id")) if current else None


def run_locked(
    target: Target,
    lock: RunLock,
    adjust: Callable[[PipelineConfig], PipelineConfig] | None = None,
    follow: dict[str, Any] | None = None,
    labels: dict[str, Any] | None = None,
    with_report: bool = True,
    report_process: ReportProcess | None = None,
) -> dict[str, Any]:
    """One committed run, the lock held; returns its manifest. A pass of
    --max_files_per_run (pipeline/passes.py) adds `labels` to the manifest and has no
    report (`with_report` False: its summary names the command that draws one). Follow mode
    (pipeline/follow.py) runs each micro-batch through here: `adjust` narrows the config
    (the files and feeds of this batch), `follow` goes into the manifest as `follow`, and
    the run logs at DEBUG (follow mode logs one line per batch itself), with no progress
    display and no HTML report (a second or so a batch; `newsbeam report --output ROOT
    --since DATE` draws one over many batches). `report_process` draws the report where
    the staging folder is local (it reads the tables without Beam)."""
    options, ours, output, state = target.options, target.ours, target.output, target.state
    started = dt.datetime.now(dt.timezone.utc)
    run_id = ours.run_id or dataset.new_run_id(started)
    attempt = dataset.new_attempt()
    _prepare(ours, output, state, run_id, started)
    staging = dataset.staging_dir(output, run_id, attempt)
    try:
        # CURRENT, the version's marker, its file record and every state file are checked
        # here, once, before anything is built.
        state_context, opened = open_state(
            state,
            started,
            ours.state_keep_days,
            run_id,
            attempt,
            keep_ids_days=ours.state_keep_ids_days,
        )
    except StateError as error:
        raise UsageError(str(error)) from error
    # ROOT is a dataset from before the first file is staged: a first run killed while
    # staging leaves a ROOT the next run recognises and cleans, not one it must refuse.
    new_root = not dataset.is_dataset(output)
    dataset.ensure_marker(output)
    # What the run reads, kept in its staging folder from its start: a run killed outright
    # writes no record of its own, the next run's clean-up writes it from this
    # (pipeline/failed_runs.py).
    begun = failed_runs.started_record(
        run_id, attempt, started, ours.inputs, ours.feed_urls, ours.feed_lists, state
    )

    clock = time.perf_counter()
    level = logging.DEBUG if follow is not None else logging.INFO
    log.log(
        level,
        "run started: %d --input, %d --feed, %d --feeds -> %s%s; run id %s%s",
        len(ours.inputs or ()),
        len(ours.feed_urls or ()),
        len(ours.feed_lists or ()),
        output,
        f" (state {state})" if state else "",
        run_id,
        workers_words(options),
    )
    progress = _progress_dir(options) if follow is None else None
    drawn = with_report and follow is None  # the run's HTML report
    if report_process is not None and not (drawn and files.is_local(staging)):
        report_process.close()  # drawn here, if at all
        report_process = None
    committed = False
    failure: BaseException | None = None
    local_report = tempfile.mkdtemp(prefix="newsbeam-report-")
    heap = contextlib.ExitStack()
    template_stack = heap.enter_context(contextlib.ExitStack())
    try:
        files.write_json(files.join(staging, failed_runs.STARTED), begun)
        warm = _on_local_workers(options)
        if warm:  # before the template forks: it and its workers inherit the settings
            workers.bound_malloc()
        # Before the pipeline is built and the template forks (its workers inherit it).
        workers.adjust_beam()
        # Forked now, before the runner is imported and the pipeline built: the template
        # warms up on another core while this process builds and translates it
        # (pipeline/worker_template.py); the workers need none of the runner's modules.
        template = template_stack.enter_context(worker_template(warm))
        pipeline = _pipeline(options, warm)
        heap.callback(runners.remove_scratch, pipeline)  # Beam's, should it never run
        config = config_from_options(
            ours,
            staging,
            state_context,
            progress,
            partition=dataset.partition(started),
            file_prefix=dataset.file_prefix(run_id, attempt),
            # A rerun's state is as of its first attempt's start: its dates are too.
            as_of=state_context.run_at,
        )
        if adjust is not None:
            config = adjust(config)
            # A batch or a pass reads its own files, not the folders named.
            begun["inputs"] = failed_runs.listed(config.inputs)
        build(pipeline, config)
        shown = ProgressDisplay(progress, log_every=ours.progress_seconds) if progress else None
        template.warm(warmable_dofns(pipeline) if template.running else [])
        # Frozen from here until the run is committed or abandoned (the report and the
        # commit after the stages skip it too).
        heap.enter_context(frozen_heap())
        with (
            shown or contextlib.nullcontext(),
            worker_options(options),
            workers.workers_watched(),
        ):
            # Started after the template forked (a fork must not copy a lock an import holds).
            preloading = (
                _preload_report(progress) if warm and drawn and report_process is None else None
            )
            # Worker processes run the stages: this one waits (in one process, no gain).
            versions = versions_ahead() if warm else None
            result = pipeline.run()
            result.wait_until_finish()
        template_stack.close()  # the template and its workers end with the stages
        if versions is not None:
            versions.join()  # cached: the manifest's versions() reads them, not again
        counters = beam_counters(result)
        moves = dataset.staged_files(output, staging)
        manifest = build_manifest(
            options,
            config,
            output,
            moves,
            counters,
            started,
            time.perf_counter() - clock,
            worker_plan=WORKER_PLANS.get(options),
        )
        manifest.update(
            run_id=run_id,
            attempt=attempt,
            ingest_date=started.date().isoformat(),
            stage_seconds=stage_seconds(result),
            state={
                "root": state,
                "version": opened.version,
                "parent": opened.base,
                # what first_seen_at and the retention cut-offs are measured from: a
                # rerun's is its first attempt's start
                "run_at": state_context.run_at.isoformat(),
            }
            if opened
            else None,
        )
        if follow is not None:
            manifest["follow"] = follow
        manifest.update(labels or {})
        # Listed once: what the failed runs since the last commit were, and, once this run
        # committed, which of them it superseded (failed_runs.prune).
        found_failed = failed_runs.records_in(output)
        failed_before = _failed_since_last_commit(
            output, run_id, [record for _, record in found_failed.latest()]
        )
        if failed_before:  # what the morning reader must not miss in this run's report
            manifest["failed_before"] = [failed_runs.brief(record) for record in failed_before]
        report = os.path.join(local_report, "report.html")
        if drawn:  # a batch of follow mode has none: `newsbeam report --since`
            if preloading is not None:
                preloading.join()  # matplotlib is not drawn from two threads at once
            staged = dataset.as_staged(manifest, output, staging, moves)  # files not moved yet
            # For the report only (not in the committed manifest): the runs it compares with.
            staged[dataset.EARLIER_RUNS] = _earlier_runs(output, manifest)
            apart = report_process.draw(staging, staged, report) if report_process else None
            manifest.update(_report(staging, staged, report) if apart is None else _drawn(apart))
        crash_point("output-staged")
        manifest_uri = dataset.manifest_path(output, run_id)
        if opened is not None:
            prepare_state(opened, {"last_run": manifest["finished_at"]}, manifest_uri)
            crash_point("state-staged")
        try:
            lock.check()  # a run frozen past its lock's expiry must not commit over another
        except LockHeld as error:
            raise Busy(str(error)) from None
        RunSignals.check()  # a stop whose exception Python swallowed must not commit
        moved = [pair for name in dataset.DATASET_TABLES for pair in moves[name]]
        written: list[bool] = []  # the manifest is written: the run has committed
        with RunSignals.committing():  # a stop waits for the end of the commit
            try:
                dataset.commit_run(
                    output,
                    manifest,
                    moved,
                    report if os.path.exists(report) else None,
                    on_committed=lambda: written.append(True),
                )
            except Exception as error:
                if not written:
                    raise
                # The replaced attempt's files or the staging could not be deleted: the
                # run committed all the same; the next run's clean-up finishes it.
                log.warning(
                    "run %s committed, but its clean-up failed (%s): the next run finishes it",
                    run_id,
                    error,
                )
            committed = True
            if opened is not None:
                try:
                    publish_state(opened, manifest_uri)
                except Exception as error:
                    raise Unpublished(
                        f"run {run_id} committed ({manifest_uri}), but its state version "
                        f"{opened.version} was not published ({error}): the next run "
                        "publishes it"
                    ) from error
            if found_failed.listed:  # superseded now: a bounded history (failed_runs.prune)
                failed_runs.prune(output, str(manifest["finished_at"]), found=found_failed)
        if RunSignals.current is not None:
            log.warning(
                "%s arrived during the commit of run %s, which was finished first",
                signal.Signals(RunSignals.current).name,
                run_id,
            )
        log.log(
            level, "run %s finished in %.1f s; committed to %s", run_id, manifest["seconds"], output
        )
    except BaseException as error:
        failure = error
        raise
    finally:
        if not committed:
            try:
                dataset.abandon(output, run_id, attempt)
            except BaseException:
                # The store failing its clean-up is failing: a record would wait on it
                # again. The staging and its start record stay; the next run records it.
                if failure is not None:
                    log.warning(
                        "the failure of run %s is not recorded in %s now (the store failed "
                        "to remove the run's staging); the next run records it",
                        run_id,
                        output,
                    )
                raise
            # After the staged files are gone: "nothing committed" is then true.
            if failure is not None:
                _record_failure(target, begun, failure)
            if new_root:  # a first run that failed leaves no ROOT behind but its record
                dataset.unmark_unused(output)
            if opened is not None:
                discard_state(opened)
        shutil.rmtree(local_report, ignore_errors=True)
        if progress:
            shutil.rmtree(progress, ignore_errors=True)
        heap.close()
    return manifest


def _failed_since_last_commit(
    output: str, run_id: str, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The failed runs among ROOT's `records` since its latest committed run (before this
    one): their inputs are this run's to read again, and its summary and report say so. The
    manifests are read only when some run failed."""
    if not records:
        return []
    last = ""
    try:
        for earlier in dataset.run_ids(output)[-dataset.EARLIER_RUN_IDS :]:
            manifest = dataset.read_manifest(output, earlier) if earlier != run_id else None
            last = max(last, str((manifest or {}).get("finished_at", "")))
    except Exception as error:  # an unreadable manifest or a store's hiccup: not this run's
        log.debug("the last committed run could not be told: %s", error)
    return failed_runs.since(records, last)


def _record_failure(target: Target, begun: dict[str, Any], error: BaseException) -> None:
    """Write the failed run's record into ROOT (pipeline/failed_runs.py): the cause as the
    command's last line says it, the exit status the command ends with."""
    # Beam re-raises a signal's exception met inside a step as that step's failure: the
    # signal received decides, as it decides the exit status (main.py).
    received = RunSignals.current
    if received is not None or isinstance(error, KeyboardInterrupt | Terminated):
        interrupted = received == signal.SIGINT or (
            received is None and isinstance(error, KeyboardInterrupt)
        )
        signal_name = "SIGINT" if interrupted else "SIGTERM"
        cause = f"the run was stopped by {signal_name}"
        status = 130 if signal_name == "SIGINT" else 143
    elif isinstance(error, UsageError):  # refused mid-run (its lock taken over)
        cause, status = (
            f"the run was refused: {error}",
            BUSY_STATUS if isinstance(error, Busy) else 2,
        )
    else:
        cause, status = failure_line(error, target.argv), 1
    ended = dt.datetime.now(dt.timezone.utc)
    stage = failed_runs.stage_of(error, cause)
    record = failed_runs.failed_record(begun, ended, cause, status, stage=stage)
    try:
        written = failed_runs.write_record(target.output, record, error)
        log.debug("the failed run's record: %s", written)
        if written:  # a store that answered: bound the records a failing service leaves
            failed_runs.prune(target.output)
    except BaseException:  # a second signal while writing: the run's own error goes on
        log.debug("the failed run's record was not written", exc_info=True)


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


def _preload_report(progress: str | None) -> threading.Thread:
    """Load what drawing the report needs (report.preload) on a thread, while the worker
    processes run the stages and this process mostly waits on them: the report after the
    last stage then draws at once (~0.3 s less of a run's serial tail).

    The thread starts loading once Beam's runner has asked for its workers
    (`workers_requested`), or failing that once the workers report their first page (the
    `progress` taps' files). Before that, this process translates the pipeline for the
    runner, and the two would share the GIL (each of the ~70 DoFns Beam pickles there
    waited for it, ~0.3 s in all, on the run's critical path). Once the runner asks, it
    waits while the template finishes warming up and forks the workers, with a core free:
    loading later, during the extract stage, took that much CPU (~0.6 s on a loaded host)
    from the two workers."""

    from newsbeam.pipeline.report import preload

    def load() -> None:
        waited = 0.0
        while (
            progress
            and waited < _PRELOAD_WAIT
            and not (workers_requested() or _any_progress(progress))
        ):
            time.sleep(_PRELOAD_POLL)
            waited += _PRELOAD_POLL
        preload()

    thread = threading.Thread(target=load, name="newsbeam-report-preload", daemon=True)
    thread.start()
    return thread


# How often the report's preload looks for the runner's first worker or the workers' first
# progress, and for how long.
_PRELOAD_POLL = 0.02
_PRELOAD_WAIT = 60.0


def _any_progress(folder: str) -> bool:
    with contextlib.suppress(OSError):
        return any(name.endswith(".json") for name in os.listdir(folder))
    return False


def _drawn(answer: dict[str, Any]) -> dict[str, Any]:
    """What the report process answered (pipeline/report_process.py), for the manifest; a
    report it failed to draw is logged as `_report` logs one."""
    error_trace = answer.pop("report_traceback", None)
    if "report_error" in answer:
        log.warning("the run report could not be written: %s", answer["report_error"])
        log.debug("the report process's traceback:\n%s", error_trace)
    return answer


def _earlier_runs(output: str, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The earlier runs the report compares this one with (dataset.earlier_runs); none when
    the dataset cannot be listed: the report then says so, and the run goes on."""
    try:
        return dataset.earlier_runs(output, manifest)
    except Exception as error:  # an object store's hiccup must not fail the run
        log.warning("the report compares the run with no earlier run: %s", error)
        return []


def _report(staging: str, manifest: dict[str, Any], target: str) -> dict[str, Any]:
    """Write the run's report.html (locally, to `target`; the commit puts it beside the
    manifest); a report that fails never fails the run."""
    try:
        from newsbeam.pipeline.report import write_run_report

        return {"report_seconds": round(write_run_report(staging, manifest, target), 3)}
    except Exception as error:  # the tables and manifest are what matter
        log.warning("the run report could not be written: %s", error, exc_info=True)
        return {"report_error": f"{type(error).__name__}: {error}"}


# Top-level steps that are not stages: the progress taps (pipeline/build.py) cost next to
# nothing, but under load they can measure a millisecond and would show as a stage.
