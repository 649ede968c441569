"""Follow mode: `newsbeam --follow --interval SECONDS [--max_runtime SECONDS] --input DIR ...
--feeds FILE ... --output ROOT --state STATE`, one long-lived process of micro-batches.

Every `--interval` seconds a batch starts. It first decides, without building a pipeline,
whether there is anything to do:
- files: the --input folders are listed (stat only, the batch run's own listing:
  transforms/read.py `list_input`); a file is new when the state's `inputs/seen_files`
  record has no entry for its path with the same size and modification time (second);
  only regular files (a FIFO or device is never read; a broken link is skipped);
- a file is read only once it is complete: its size and modification time are the same in
  two listings, the previous batch's or one taken `settle` seconds later (half the
  interval, at most 1 s); a file that changed in between waits for the next batch (on an
  object store, where an object appears only once uploaded whole, at once). Names
  that say "not finished" are never picked: a leading `.` (`.name.tmp`, rsync's
  `.name.XXXXXX`) and `.tmp`, `.part`, `.partial`, `.crdownload`, `.swp` or `~` at the end:
  writers that cannot write quickly should write such a name and rename when done;
- feeds: a feed (`--feed`, the URLs of each `--feeds` list, read again every batch, and
  `--input URL`) is due when the state's feed state names no next poll time or one that
  has come (the adaptive intervals of transforms/feeds/polling.py).
A batch with no new file and no feed due commits nothing and costs a listing. With
--state_keep_days, a batch also names the files read before that are still listed unchanged
and were last listed over half that retention ago: the read stage skips them unread (a stat)
and records them seen now, as a batch run's listing of the whole folder does; else their
seen rows expired while the files stayed, and the next start read them again. Otherwise the
batch is a normal run (pipeline/run.py `run_locked`, the code path of a batch run) of just
the new files (named one by one, so a file that appears while the batch runs waits for the
next) and, when one is due, of the feeds (not-due ones are skipped as with
--poll_due_only), committed into ROOT as its own run, named by its start time.

What stays loaded between batches: Beam and every module (imported once), the topic model,
the gazetteer and langdetect's profiles (transforms/support/loaded.py), the dedup and story
index (file by file: a batch loads only the files the previous batch added to the state,
transforms/support/state_index.py), and the record of files seen and the feed state
(re-read only when CURRENT names a version this process did not publish).
benchmarks/README.md has what a batch costs.

Stopping: SIGINT or SIGTERM, or the end of --max_runtime, lets the batch in flight commit,
then the process exits 0; a second signal abandons the batch in flight (nothing of it
committed) and exits 130/143 as a batch run does. A crash (SIGKILL, power loss) loses
nothing: the batch in flight did not commit, and the next start recovers ROOT and STATE
(pipeline/dataset.py, transforms/support/state.py) and reads its files again. A batch that
fails is logged and retried at the next interval; `MAX_FAILURES` failures in a row end the
process with status 1 (a service manager restarts it). One INFO line per batch that ran, and
one line when a feed begins to fail or answers again (`feed_changes`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from stat import S_ISREG
from typing import Any

from apache_beam.io.filesystems import FileSystems

from newsbeam.pipeline import dataset, scratch
from newsbeam.pipeline import run as pipeline_run
from newsbeam.pipeline.causes import failure_line
from newsbeam.pipeline.failed_runs import recorded
from newsbeam.pipeline.metrics import FollowMetrics
from newsbeam.pipeline.options import (
    DEFAULT_FOLLOW_INTERVAL,
    DEFAULT_STOP_WAIT_SECONDS,
    PipelineConfig,
    config_from_options,
    is_url,
)
from newsbeam.pipeline.stops import RunSignals, Terminated
from newsbeam.schemas.feeds import FeedState
from newsbeam.schemas.inputs_state import SEEN_FILES_PATH
from newsbeam.transforms.feeds.parse import parse_url_list
from newsbeam.transforms.feeds.polling import PreviousFeedState, is_not_due, previous_feed_state
from newsbeam.transforms.read import (
    SEEN_FILES_LOADED,
    Problem,
    as_input,
    is_local,
    list_input,
    readable_path,
)
from newsbeam.transforms.support import files
from newsbeam.transforms.support.loaded import forget
from newsbeam.transforms.support.state import (
    FEED_STATE,
    read_current,
    read_rows,
    version_dir,
)

log = logging.getLogger("newsbeam")

# Failed batches in a row before the process gives up (exit 1).
MAX_FAILURES = 5
# Longest wait for a file's size to settle within one batch (see the module docstring).
MAX_SETTLE_SECONDS = 1.0
# Name endings of files still being written (browsers, editors, download tools).
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")


# --- Pure decisions ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Stat:
    """What a listing saw of a file: size and modification time (ns)."""

    size: int
    mtime_ns: int

    @property
    def seen_key(self) -> tuple[int, int]:
        """(size, modification second): what the seen_files record compares (read.py
        stores the time to the second)."""
        return self.size, self.mtime_ns // 1_000_000_000


def is_temporary_name(path: str) -> bool:
    """Whether a file's name says it is still being written (never picked up)."""
    name = os.path.basename(path)
    return name.startswith(".") or name.endswith(TEMPORARY_SUFFIXES)


def new_files(listing: Mapping[str, Stat], seen: Mapping[str, tuple[int, int]]) -> dict[str, Stat]:
    """The listed files an earlier batch has not read as they are now (path -> stat)."""
    return {
        path: stat
        for path, stat in listing.items()
        if not is_temporary_name(path) and seen.get(readable_path(path)) != stat.seen_key
    }


def stable(
    candidates: Mapping[str, Stat], earlier: Mapping[str, Stat]
) -> tuple[dict[str, Stat], dict[str, Stat]]:
    """(files whose stat equals an earlier listing's: complete, the others: maybe still
    being written)."""
    done = {path: stat for path, stat in candidates.items() if earlier.get(path) == stat}
    return done, {path: stat for path, stat in candidates.items() if path not in done}


def due_feeds(urls: Iterable[str], feeds: PreviousFeedState, now: dt.datetime) -> list[str]:
    """The feed URLs whose next poll time has come (or that were never polled)."""
    return sorted({url for url in urls if not is_not_due(feeds.state_for(url), now)})


def batch_line(manifest: Mapping[str, Any], new: int, feeds: int, latency: float) -> str:
    """The one log line of a batch."""
    counts = manifest["counts"]
    counters = manifest.get("counters", {})
    line = (
        f"batch {manifest['run_id']}: {new} new files, {counts['inputs']} inputs, "
        f"{counts['articles']} articles, {counts['duplicates']} duplicates, "
        f"{counts['rejected']} rejected, {counters.get('feeds_fetched', 0)} of {feeds} "
        f"due feeds polled, {latency:.2f} s"
    )
    if not counts.get("balanced", True):
        line += "; WARNING: inputs != articles + duplicates + rejected (see the manifest)"
    return line


def feed_changes(
    before: Mapping[str, FeedState],
    after: Mapping[str, FeedState],
    errors: Mapping[str, str],
) -> list[tuple[int, str]]:
    """(log level, line) for each feed whose polls began to fail in a batch (`before` had no
    failure in a row) or answer again (`after` has none): once per change, not per poll.
    A feed failing for days said nothing but the batch lines' "N of M due feeds polled";
    its health rows alone told (review 63). `errors`: feed URL -> this batch's error."""
    lines = []
    for url in sorted(after):
        now, then = after[url], before.get(url)
        failed_before = then.consecutive_failures if then is not None else 0
        if now.consecutive_failures and not failed_before:
            wait = ""
            if now.next_poll_at is not None and now.last_fetch_at is not None:
                seconds = (now.next_poll_at - now.last_fetch_at).total_seconds()
                wait = f"; polled again in {seconds:g} s, backing off while it fails"
            error = errors.get(url) or "error"
            lines.append((logging.WARNING, f"follow: feed {url} failed ({error}){wait}"))
        elif failed_before and not now.consecutive_failures:
            polls = f"{failed_before} failed poll{'' if failed_before == 1 else 's'}"
            lines.append((logging.INFO, f"follow: feed {url} answers again after {polls}"))
    return lines


def health_errors(root: str, manifest: Mapping[str, Any], urls: Iterable[str]) -> dict[str, str]:
    """Feed URL -> the error of its health row in a committed batch, for `urls`."""
    wanted = set(urls)
    found: dict[str, str] = {}
    for path in dataset.data_files(root, manifest, "feed_health"):
        table = files.read_parquet(path, columns=["feed_url", "error"]).to_pydict()
        for url, error in zip(table["feed_url"], table["error"], strict=True):
            if url in wanted and error:
                found[url] = error
    return found


# --- Listing and the state's records ------------------------------------------------------


def list_files(
    inputs: Sequence[str], problems: set[Problem] | None = None, outside_links: bool = False
) -> dict[str, Stat]:
    """Every file the --input paths name (read.py's listing: links followed, NewsBeam's own
    folders skipped), with its stat. What cannot be read (a broken link, a link loop, an
    input that is gone) is no file to batch: it is logged once as a warning, `problems`
    holding those logged already (a batch run gives each a rejected row)."""
    found: dict[str, Stat] = {}
    for pattern in sorted(inputs):
        listed = False
        try:
            for item in list_input(pattern, outside_links):
                listed = True
                if isinstance(item, Problem):
                    _warn_once(item, problems)
                    continue
                file, _ = item
                if file.path in found:
                    continue
                if not is_local(file.path):  # an object store: an object appears whole
                    modified = int((file.last_updated_in_seconds or 0) * 1e9)
                    found[file.path] = Stat(file.size_in_bytes, modified)
                    continue
                try:
                    info = os.stat(file.path)
                except OSError:  # gone since it was listed
                    continue
                if S_ISREG(info.st_mode):  # a FIFO or device is no file to wait for
                    found[file.path] = Stat(info.st_size, info.st_mtime_ns)
        except OSError as error:
            log.warning("follow: cannot list --input %s: %s", pattern, error)
            continue
        if not listed and is_local(pattern) and not os.path.lexists(pattern):
            _warn_once(Problem(pattern, "not_found", "gone: no such file or folder"), problems)
    return found


def _warn_once(problem: Problem, logged: set[Problem] | None) -> None:
    if logged is not None:
        if problem in logged:
            return
        logged.add(problem)
    log.warning("follow: --input %s: %s (%s)", problem.path, problem.reason, problem.detail)


def restat(paths: Iterable[str]) -> dict[str, Stat]:
    """The stat of each local path now (gone ones left out)."""
    found = {}
    for path in paths:
        if not is_local(path):
            continue
        try:
            info = os.stat(path)
        except OSError:
            continue
        found[path] = Stat(info.st_size, info.st_mtime_ns)
    return found


def to_refresh(
    listing: Mapping[str, Stat],
    seen: Mapping[str, tuple[int, int]],
    last_listed: Mapping[str, dt.datetime],
    now: dt.datetime,
    keep_days: float,
) -> list[str]:
    """The listed files an earlier batch read as they are now whose seen row was last
    listed more than half of --state_keep_days ago (none without it). A follow batch names
    only its new files, so no batch lists the others: their rows would expire while the
    files stay, and the next start would read them again. Named in a batch, each costs
    a stat (read.py `unchanged_by_stat`) and is recorded as listed then."""
    if keep_days <= 0:
        return []
    before = now - dt.timedelta(days=keep_days / 2)
    return sorted(
        path
        for path, stat in listing.items()
        if not is_temporary_name(path)
        and seen.get(key := readable_path(path)) == stat.seen_key
        and last_listed.get(key, now) < before
    )


def read_seen(
    version: str | None,
) -> tuple[dict[str, tuple[int, int]], dict[str, dt.datetime]]:
    """A state version's record of files read: (path -> (size, modification second),
    path -> when a run last listed it)."""
    if version is None:
        return {}, {}
    path = files.join(version, *SEEN_FILES_PATH.split("/"))
    if not files.exists(path):
        return {}, {}
    columns = ["path", "size", "modified_at", "last_seen_at"]
    table = files.read_parquet(path, columns=columns).to_pydict()
    rows = list(zip(*(table[name] for name in columns), strict=True))
    return (
        {name: (size, int(at.timestamp())) for name, size, at, _ in rows},
        {name: listed for name, _, _, listed in rows},
    )


def read_feed_state(version: str | None) -> PreviousFeedState:
    """A state version's feed state (when each feed is due)."""
    if version is None:
        return previous_feed_state([], [])
    path = files.join(version, *FEED_STATE.path.split("/"))
    if not files.exists(path):
        return previous_feed_state([], [])
    return previous_feed_state(read_rows(path, FEED_STATE), [])


def feed_urls(config: PipelineConfig) -> list[str]:
    """Every feed a batch may poll: --feed, --input URL, and each --feeds list's URLs (read
    now: a list may change while follow mode runs). A list that cannot be read makes every
    batch due, so the batch run rejects it with its reason."""
    feeds = config.feeds
    urls = [*feeds.feed_urls, *feeds.page_urls]
    for listed in feeds.feed_lists:
        try:
            with FileSystems.open(listed) as handle:
                urls += parse_url_list(handle.read())
        except Exception as error:  # the batch run says what is wrong with it
            log.warning("follow: cannot read --feeds %s: %s", listed, error)
            urls.append(listed)
    return urls


# --- The loop ----------------------------------------------------------------------------


@dataclasses.dataclass
class Batch:
    """What one tick found and did."""

    files: dict[str, Stat]
    feeds: list[str]
    # Files read before, named again only to record them as listed (to_refresh).
    refresh: list[str] = dataclasses.field(default_factory=list)
    manifest: dict[str, Any] | None = None
    seconds: float = 0.0


class Follower:
    """Runs the batches of one follow-mode process (the run lock held)."""

    def __init__(
        self,
        target: pipeline_run.Target,
        lock: Any,
        settle: float,
        sleep: Any = time.sleep,
    ) -> None:
        self._target = target
        self._lock = lock
        self._settle = settle
        self._sleep = sleep
        ours = target.ours
        self._inputs = [path for path in ours.inputs or () if not is_url(path)]
        self._base_config = config_from_options(ours, "")
        # The state version whose records are in memory, and the records.
        self._version: str | None = ""
        self._seen: dict[str, tuple[int, int]] = {}
        self._listed: dict[str, dt.datetime] = {}  # seen path -> when a run last listed it
        self._feeds = previous_feed_state([], [])
        self._earlier: dict[str, Stat] = {}
        self._problems: set[Problem] = set()  # logged already (list_files)
        self.batches = 0

    def _refresh(self) -> None:
        """Re-read the records when CURRENT names another version than the one in memory
        (at start, or when another process changed the state)."""
        assert self._target.state is not None
        current = read_current(self._target.state)
        version = current["version"] if current else None
        if version == self._version:
            return
        folder = version_dir(self._target.state, version) if version else None
        self._seen, self._listed = read_seen(folder)
        self._feeds = read_feed_state(folder)
        self._version = version

    def plan(self) -> Batch:
        """What the next batch reads: new, complete files and due feeds."""
        self._refresh()
        listing = list_files(self._inputs, self._problems, self._target.ours.follow_outside_links)
        candidates = new_files(listing, self._seen)
        ready, changing = stable(candidates, self._earlier)
        # Objects on an object store are visible only once uploaded whole.
        ready.update((path, stat) for path, stat in changing.items() if not is_local(path))
        changing = {path: stat for path, stat in changing.items() if is_local(path)}
        if changing:
            self._sleep(self._settle)
            again = restat(changing)
            settled, _ = stable(changing, again)
            ready.update(settled)
            listing.update(again)
        self._earlier = listing
        now = dt.datetime.now(dt.timezone.utc)
        due = due_feeds(feed_urls(self._base_config), self._feeds, now)
        keep_days = self._base_config.state_keep_days
        refresh = to_refresh(listing, self._seen, self._listed, now, keep_days)
        return Batch(dict(sorted(ready.items())), due, [p for p in refresh if p not in ready])

    def run(self, batch: Batch) -> Batch:
        """Run and commit one batch (nothing when there is nothing to read)."""
        if not batch.files and not batch.feeds:
            return batch
        clock = time.perf_counter()
        started = dt.datetime.now(dt.timezone.utc)
        inputs = tuple(as_input(path) for path in [*batch.files, *batch.refresh])
        with_feeds = bool(batch.feeds)
        # The process's first batch gives every table a file (an empty one too), so a
        # reader of a table's folder finds it; later batches write only the tables they
        # have rows of: a due feed with nothing new is its feed_health file alone, not three
        # empty files besides (4,000 a day at a one-minute interval).
        empty_files = None if self.batches == 0 else ()

        def adjust(config: PipelineConfig) -> PipelineConfig:
            feeds = config.feeds
            if with_feeds:  # every feed goes in; the ones not due are skipped, as not_due
                feeds = dataclasses.replace(feeds, poll_due_only=True)
            else:
                feeds = dataclasses.replace(feeds, feed_urls=(), feed_lists=(), page_urls=())
            return dataclasses.replace(config, inputs=inputs, feeds=feeds, empty_files=empty_files)

        manifest = pipeline_run.run_locked(
            self._target,
            self._lock,
            adjust=adjust,
            follow={
                "batch": self.batches + 1,
                "new_files": len(batch.files),
                "due_feeds": batch.feeds,
                "files_listed_again": len(batch.refresh),
            },
        )
        # The batch's seen-files record (read.load_seen_files): the next batch reads a new
        # version, and this process keeps its own record of files seen (self._seen).
        forget(SEEN_FILES_LOADED)
        self.batches += 1
        batch.manifest = manifest
        batch.seconds = time.perf_counter() - clock
        # The state this batch published holds what it read: keep it in memory rather than
        # read it back (the next batch's _refresh sees the version as its own).
        self._seen.update(
            (readable_path(path), stat.seen_key) for path, stat in batch.files.items()
        )
        self._listed.update(
            (readable_path(path), started) for path in [*batch.files, *batch.refresh]
        )
        state = manifest.get("state") or {}
        self._version = state.get("version", self._version)
        if with_feeds:  # the polls moved the feeds' next times: read them next batch
            folder = version_dir(self._target.state or "", str(self._version))
            before, self._feeds = self._feeds.feeds, read_feed_state(folder)
            self._log_feed_changes(before, manifest)
        log.info(batch_line(manifest, len(batch.files), len(batch.feeds), batch.seconds))
        return batch

    def failing_feeds(self) -> dict[str, int]:
        """Feed URL -> failed polls in a row, for the feeds whose last poll failed (the feed
        state the last batch with feeds published)."""
        return {
            url: state.consecutive_failures
            for url, state in self._feeds.feeds.items()
            if state.consecutive_failures
        }

    def _log_feed_changes(
        self, before: Mapping[str, FeedState], manifest: Mapping[str, Any]
    ) -> None:
        after = self._feeds.feeds
        failing = [
            url
            for url, state in after.items()
            if state.consecutive_failures
            and not getattr(before.get(url), "consecutive_failures", 0)
        ]
        errors: dict[str, str] = {}
        try:
            errors = health_errors(self._target.output, manifest, failing) if failing else {}
        except (OSError, ValueError) as error:  # the batch committed: only a reason is lost
            log.debug("follow: cannot read the batch's feed health rows: %s", error)
        for level, line in feed_changes(before, after, errors):
            log.log(level, line)


@contextlib.contextmanager
def _follow_metrics(target: pipeline_run.Target) -> Iterator[FollowMetrics | None]:
    """--metrics_file / --metrics_address: the process's metrics (pipeline/metrics.py), the
    endpoint closed as the process stops; None without either flag."""
    ours = target.ours
    if not (ours.metrics_file or ours.metrics_address):
        yield None
        return
    try:
        metrics = FollowMetrics(target.output, ours.metrics_file, ours.metrics_address)
    except OSError as error:  # the port taken, or a host this machine does not have
        raise pipeline_run.UsageError(
            f"--metrics_address {ours.metrics_address}: {error.strerror or error}"
        ) from None
    try:
        yield metrics
    finally:
        metrics.close()


def _observed(metrics: FollowMetrics, batch: Batch, follower: Follower) -> None:
    """A tick's metrics; what fails in them is a warning, never a failed batch (the batch
    committed)."""
    try:
        metrics.batch(batch.manifest, follower.failing_feeds() if batch.feeds else None)
    except Exception as error:
        log.warning("follow: the batch's metrics were not updated: %s", error)


class _StopSignals(RunSignals):
    """The first SIGINT/SIGTERM asks to stop after the batch in flight; a second one
    interrupts it (KeyboardInterrupt / Terminated, as a batch run: stops.py's RunSignals),
    and so does the first one's `wait` running out (--stop_wait_seconds): the stop is
    bounded in time (review 108; before, a backlog's batch was waited for however long it
    took, until the service manager's SIGKILL)."""

    def __init__(self, stop: threading.Event, wait: float = DEFAULT_STOP_WAIT_SECONDS) -> None:
        super().__init__()
        self.stop = stop
        self.wait = wait
        self.timed_out = False  # the batch in flight outlasted `wait`
        self._timer: threading.Timer | None = None

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:  # the process is ending: no late second signal
            self._timer.cancel()
        super().__exit__(*exc)

    def _handle(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            super()._handle(signum, frame)
        self.stop.set()
        name = signal.Signals(signum).name
        if self.wait <= 0:
            log.info("follow: %s received; stopping after the batch in flight commits", name)
            return
        log.info(
            "follow: %s received; stopping after the batch in flight commits, or abandoning "
            "it in %g s (--stop_wait_seconds)",
            name,
            self.wait,
        )
        # The signal again, from a timer: handled in the main thread as a second signal
        # (held while a commit runs: RunSignals.committing).
        self._timer = threading.Timer(self.wait, self._time_out, (signum,))
        self._timer.daemon = True
        self._timer.start()

    def _time_out(self, signum: int) -> None:
        self.timed_out = True
        os.kill(os.getpid(), signum)


def follow(
    target: pipeline_run.Target, stop: threading.Event, signals: RunSignals | None = None
) -> int:
    """Run batches until `stop` is set or --max_runtime has passed; the exit status. A
    second signal (`signals`) abandons the batch in flight."""
    ours = target.ours
    interval = ours.interval or DEFAULT_FOLLOW_INTERVAL
    settle = min(MAX_SETTLE_SECONDS, interval / 2)
    started = time.monotonic()
    deadline = started + ours.max_runtime if ours.max_runtime else None
    with pipeline_run.locked(target) as lock, _follow_metrics(target) as metrics:
        follower = Follower(target, lock, settle)
        log.info(
            "follow: every %g s, %d --input, %d --feed, %d --feeds -> %s (state %s)%s%s",
            interval,
            len(ours.inputs or ()),
            len(ours.feed_urls or ()),
            len(ours.feed_lists or ()),
            target.output,
            target.state,
            f"; for {ours.max_runtime:g} s" if ours.max_runtime else "",
            pipeline_run.workers_words(target.options),
        )
        failures = 0
        next_start = started
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            tick_started = time.time()
            try:
                batch = follower.run(follower.plan())
                failures = 0
                if metrics is not None:
                    _observed(metrics, batch, follower)
            except pipeline_run.UsageError:
                raise
            except Exception as error:
                if signals is not None and signals.received is not None:
                    # The second signal, wrapped by Beam as the failure of the step it
                    # interrupted: the batch is abandoned, not failed and retried.
                    raise signals.exception() from error
                failures += 1
                if metrics is not None:
                    metrics.failed(tick_started)
                # One line per failure; the last one says it stops (it said "retried at
                # the next batch" and a second line then said it was not).
                then = (
                    "retried at the next batch"
                    if failures < MAX_FAILURES
                    else f"{failures} batches failed in a row: stopping (exit 1)"
                )
                log.error(
                    "follow: %s%s; %s", failure_line(error, target.argv), recorded(error), then
                )
                log.debug("traceback of the failed batch", exc_info=True)
                if failures >= MAX_FAILURES:
                    return 1
            # Batches start on a fixed beat; one that overran starts the next at once.
            next_start = max(next_start + interval, time.monotonic())
            until = next_start if deadline is None else min(next_start, deadline)
            stop.wait(max(0.0, until - time.monotonic()))
        log.info(
            "follow: stopped after %d batch%s",
            follower.batches,
            "" if follower.batches == 1 else "es",
        )
    return 0


def main(argv: Sequence[str]) -> int:
    """`newsbeam --follow ...` (flags already checked by pipeline/cli.py): the exit status."""
    stop = threading.Event()
    signals = _StopSignals(stop)
    with signals:
        try:
            target = pipeline_run.prepare(argv)
            if target.ours.stop_wait_seconds is not None:
                signals.wait = target.ours.stop_wait_seconds
            return follow(target, stop, signals)
        except pipeline_run.Busy as error:  # another process follows these folders
            print(f"newsbeam: {error}", file=sys.stderr)
            return pipeline_run.BUSY_STATUS
        except pipeline_run.UsageError as error:
            print(f"newsbeam: {error}", file=sys.stderr)
            return 2
        except Exception as error:  # before the first batch (its lock, its state): one line
            # as a failed batch gets, and the exit status a service restarts on.
            log.error("follow: %s", failure_line(error, argv))
            log.debug("traceback", exc_info=True)
            return 1
        except (KeyboardInterrupt, Terminated):
            status = signals.STATUS.get(signals.received or signal.SIGINT, 130)
            name = "terminated" if signals.received == signal.SIGTERM else "interrupted"
            waited = (
                f" (it had not committed within --stop_wait_seconds {signals.wait:g})"
                if signals.timed_out
                else ""
            )
            print(
                f"newsbeam: {name}; the batch in flight was not committed{waited}; the "
                "dataset and state are as the last batch left them; its files and feed "
                "entries are read at the next start",
                file=sys.stderr,
            )
            # Beam's worker threads may still wait on the interrupted bundle (see main.py).
            sys.stdout.flush()
            sys.stderr.flush()
            scratch.release()  # os._exit skips the command's finally blocks
            os._exit(status)
