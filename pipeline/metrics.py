"""Prometheus metrics of runs: `--metrics_file PATH` (the text exposition format, written
atomically at the end of every batch run, committed or failed, for node_exporter's textfile
collector; in follow mode rewritten after every tick) and, in follow mode,
`--metrics_address [HOST:]PORT` (an HTTP `/metrics` endpoint, 127.0.0.1 unless a host is
given). docs/deploying.md ("Monitoring with Prometheus") lists the metrics;
deploy/prometheus/ has alert rules.

One source of truth: every figure comes from the run's manifest (pipeline/manifest.py:
counts, rejected by stage and reason, counters, bytes of the files written, times) or, for a
run that failed, from its start and end and exit status; the feeds failing in a row from the
state's feed state the run published. Each `RunMetrics` has its own CollectorRegistry (never
prometheus_client's global one: tests and library callers do not collide).

Label sets are bounded: the rejected series by (stage, reason) codes of the shape the stages
use, at most MAX_REJECTED_SERIES (the rest summed as reason `other`); the failing feeds at
most MAX_FEED_SERIES (the count of all of them is `newsbeam_feeds_failing`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from newsbeam.schemas import SCHEMA_VERSION
from newsbeam.transforms.support.redact import redact_text

if TYPE_CHECKING:  # imported when metrics are asked for (~11 ms a run otherwise)
    from prometheus_client import CollectorRegistry, Counter, Gauge
    from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("newsbeam")

PREFIX = "newsbeam"
# The tables a run writes rows into (pipeline/dataset.py DATASET_TABLES).
TABLES = ("articles", "duplicates", "rejected", "feed_health")
# Series of rejected rows by (stage, reason) in one registry: the stages' reason codes are a
# few dozen; more (a library caller's own codes) are summed under reason "other".
MAX_REJECTED_SERIES = 60
# Failing feeds named one by one (each a series); the count of all is newsbeam_feeds_failing.
MAX_FEED_SERIES = 200
# Beam counters of the run (`<stage>_in`, `<stage>_dropped_<reason>`, ...), at most this many.
MAX_COUNTER_SERIES = 300
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
DEFAULT_METRICS_HOST = "127.0.0.1"
# A batch run's start, in the file until its end rewrites it (write_run_started).
IN_PROGRESS = "run_in_progress"
IN_PROGRESS_START = "run_in_progress_start_timestamp_seconds"


@dataclasses.dataclass(frozen=True)
class RunFigures:
    """What one run's metrics say: its times and outcome, and, for a committed run, what
    its manifest counted."""

    started: float  # seconds since the epoch
    ended: float
    committed: bool
    exit_status: int
    inputs: int = 0
    rows: Mapping[str, int] = dataclasses.field(default_factory=dict)
    bytes_written: Mapping[str, int] = dataclasses.field(default_factory=dict)
    rejected: Mapping[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    counters: Mapping[str, int] = dataclasses.field(default_factory=dict)
    balanced: bool = True
    # Runs that failed (or were killed) since the committed run before this one, recorded
    # in ROOT/_failed_runs/ (the manifest's `failed_before`): a run killed outright wrote
    # no metrics, the next committed one says it happened.
    failed_before: int = 0
    feeds_polled: int = 0
    feeds_failed: int = 0
    # Feed URL (credentials hidden) -> failed polls in a row, for feeds failing now; None
    # when the run polled no feed (the last figures known are kept).
    failing_feeds: Mapping[str, int] | None = None

    @property
    def seconds(self) -> float:
        return max(0.0, self.ended - self.started)


def _timestamp(text: Any, default: float) -> float:
    try:
        return dt.datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return default


def figures_from_manifest(
    manifest: Mapping[str, Any],
    exit_status: int = 0,
    failing_feeds: Mapping[str, int] | None = None,
) -> RunFigures:
    """A committed run's figures, from its manifest (a pass-summed one too:
    pipeline/passes.py)."""
    now = time.time()
    counts = manifest.get("counts", {})
    counters = {str(name): int(value) for name, value in manifest.get("counters", {}).items()}
    rejected = {
        (str(stage), str(reason)): int(n)
        for stage, reasons in (counts.get("rejected_by") or {}).items()
        for reason, n in reasons.items()
    }
    written = {
        name: sum(int(entry.get("bytes", 0)) for entry in table.get("files", []))
        for name, table in (manifest.get("tables") or {}).items()
    } or dict(manifest.get("written_bytes") or {})  # --max_files_per_run: the passes' sum
    polled = counters.get("feeds_fetched", 0)
    return RunFigures(
        started=_timestamp(manifest.get("started_at"), now),
        ended=_timestamp(manifest.get("finished_at"), now),
        committed=True,
        exit_status=exit_status,
        inputs=int(counts.get("inputs", 0)),
        rows={table: int(counts.get(table, 0)) for table in TABLES},
        bytes_written=written,
        rejected=rejected,
        counters=counters,
        balanced=bool(counts.get("balanced", True)),
        failed_before=len(manifest.get("failed_before") or []),
        feeds_polled=polled,
        feeds_failed=counters.get("feeds_errors", 0),
        failing_feeds=failing_feeds if polled or failing_feeds else None,
    )


def failed_figures(started: float, ended: float, exit_status: int) -> RunFigures:
    """A run that committed nothing (failed, refused, stopped): its times and exit status."""
    return RunFigures(started=started, ended=ended, committed=False, exit_status=exit_status)


def failing_feeds_in_state(manifest: Mapping[str, Any], root: str = "") -> dict[str, int] | None:
    """Feed URL -> failed polls in a row, for each feed whose last poll failed: from the
    feed state the run published; without --state (no count across runs) 1 for each feed
    whose health row in this run (under `root`) says `error`. None when the run polled no
    feed."""
    counters = manifest.get("counters", {})
    if not counters.get("feeds_fetched") and not counters.get("feeds_errors"):
        return None
    from newsbeam.transforms.support import files

    state = manifest.get("state") or {}
    if not state.get("root") or not state.get("version"):
        if not root or "feed_health" not in (manifest.get("tables") or {}):
            return None
        from newsbeam.pipeline import dataset

        failing: dict[str, int] = {}
        for path in dataset.data_files(root, manifest, "feed_health"):
            table = files.read_parquet(path, columns=["feed_url", "status"]).to_pydict()
            for url, status in zip(table["feed_url"], table["status"], strict=True):
                if status == "error":
                    failing[url] = 1
        return failing
    from newsbeam.transforms.feeds.polling import previous_feed_state
    from newsbeam.transforms.support.state import FEED_STATE, read_rows, version_dir

    folder = version_dir(str(state["root"]), str(state["version"]))
    path = files.join(folder, *FEED_STATE.path.split("/"))
    if not files.exists(path):
        return None
    feeds = previous_feed_state(read_rows(path, FEED_STATE), []).feeds
    return {
        url: feed.consecutive_failures for url, feed in feeds.items() if feed.consecutive_failures
    }


class _SinceLastSuccess:
    """newsbeam_seconds_since_last_success, computed when scraped (follow mode's endpoint)."""

    def __init__(self, metrics: RunMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            f"{PREFIX}_seconds_since_last_success",
            "Seconds since the last run or follow batch that committed (as scraped).",
            labels=["root"],
        )
        last = self._metrics.last_success
        if last is not None:
            family.add_metric([self._metrics.root], max(0.0, time.time() - last))
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class RunMetrics:
    """The metrics of one ROOT's runs, in a registry of their own: the last run's gauges,
    and in follow mode counters over the process's batches and ticks."""

    def __init__(self, root: str, follow: bool = False) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Info

        self.root = redact_text(root)
        self.follow = follow
        self.registry = CollectorRegistry(auto_describe=True)
        self.last_success: float | None = None
        self._lock = threading.Lock()
        reg = self.registry

        def gauge(name: str, text: str, *labels: str) -> Gauge:
            return Gauge(f"{PREFIX}_{name}", text, ["root", *labels], registry=reg)

        def cumulative(name: str, text: str, *labels: str) -> Counter:
            return Counter(f"{PREFIX}_{name}", text, ["root", *labels], registry=reg)

        self._info = Info(
            f"{PREFIX}_build", "NewsBeam's version and schema version.", ["root"], registry=reg
        )
        self._info.labels(root=self.root).info(
            {
                "version": _version(),
                "schema_version": str(SCHEMA_VERSION),
                "mode": "follow" if follow else "batch",
            }
        )
        self._start = gauge(
            "last_run_start_timestamp_seconds", "When the last run (follow: batch) started."
        )
        self._end = gauge("last_run_end_timestamp_seconds", "When the last run ended.")
        self._duration = gauge("last_run_duration_seconds", "How long the last run took.")
        self._success = gauge(
            "last_run_success", "1 when the last run committed, 0 when it failed or was refused."
        )
        self._exit = gauge(
            "last_run_exit_status",
            "The last run's exit status (0 committed, 3 over --fail_on_rejected, 1 failed, "
            "2 refused, 75 busy, 130/143 stopped).",
        )
        self._last_success = gauge(
            "last_success_timestamp_seconds", "When the last run that committed ended."
        )
        self._in_progress = gauge(
            IN_PROGRESS,
            "1 from a batch run's start (its locks taken) until it ends; still 1 once the "
            "run is gone: killed outright (SIGKILL, the OOM killer) or its machine stopped.",
        )
        self._in_progress_start = gauge(
            IN_PROGRESS_START, "When the batch run in progress (newsbeam_run_in_progress) started."
        )
        self._inputs = gauge("last_run_inputs", "Inputs the last committed run read.")
        self._rows = gauge("last_run_rows", "Rows the last committed run wrote, by table.", "table")
        self._bytes = gauge(
            "last_run_written_bytes", "Bytes of Parquet the last committed run wrote.", "table"
        )
        self._rejected = gauge(
            "last_run_rejected_rows",
            "Rejected rows of the last committed run by stage and reason code.",
            "stage",
            "reason",
        )
        self._balanced = gauge(
            "last_run_balanced",
            "1 when the last committed run's inputs equal its articles + duplicates + "
            "rejected rows (0: a record was lost).",
        )
        self._failed_before = gauge(
            "last_run_failed_before",
            "Runs that failed or were killed between the committed run before the last "
            "committed one and it (their inputs it read again).",
        )
        self._counters = gauge(
            "last_run_beam_counter",
            "The last committed run's Beam counters (the manifest's `counters`).",
            "counter",
        )
        self._feeds_polled = gauge("last_run_feeds_polled", "Feeds the last run polled.")
        self._feeds_failed = gauge(
            "last_run_feeds_failed", "Feeds whose poll failed in the last run."
        )
        self._feed_failures = gauge(
            "feed_consecutive_failures",
            "Failed polls in a row of each feed failing now (with --state; else 1).",
            "feed",
        )
        self._feeds_failing = gauge("feeds_failing", "Feeds whose last poll failed.")
        if follow:
            self._batches = cumulative(
                "batches_total",
                "Follow-mode batches since the process started, by outcome.",
                "outcome",
            )
            self._ticks = cumulative(
                "follow_ticks_total",
                "Follow-mode ticks since the process started (a tick with nothing new "
                "commits nothing: outcome nothing_new).",
                "outcome",
            )
            self._last_tick = gauge(
                "follow_last_tick_timestamp_seconds", "When follow mode's last tick ended."
            )
            self._inputs_total = cumulative("inputs_total", "Inputs read by committed batches.")
            self._rows_total = cumulative(
                "rows_written_total", "Rows written by committed batches, by table.", "table"
            )
            self._bytes_total = cumulative(
                "written_bytes_total", "Bytes of Parquet written by committed batches.", "table"
            )
            self._rejected_total = cumulative(
                "rejected_rows_total",
                "Rejected rows of committed batches by stage and reason code.",
                "stage",
                "reason",
            )
            self._polls_total = cumulative("feed_polls_total", "Feed polls of committed batches.")
            self._poll_failures_total = cumulative(
                "feed_poll_failures_total", "Failed feed polls of committed batches."
            )
            for outcome in ("committed", "failed"):
                self._batches.labels(root=self.root, outcome=outcome)
            for outcome in ("committed", "nothing_new", "failed"):
                self._ticks.labels(root=self.root, outcome=outcome)
            self._inputs_total.labels(root=self.root)
            self._polls_total.labels(root=self.root)
            self._poll_failures_total.labels(root=self.root)
            for table in TABLES:
                self._rows_total.labels(root=self.root, table=table)
            reg.register(_SinceLastSuccess(self))
        self._rejected_seen: set[tuple[str, str]] = set()

    def carry_over(self, last_success: float | None) -> None:
        """The last success known from before this process (the file it rewrites)."""
        if last_success is not None and self.last_success is None:
            self._set_last_success(last_success)

    def _set_last_success(self, when: float) -> None:
        self.last_success = when
        self._last_success.labels(root=self.root).set(when)

    def _rejected_key(self, stage: str, reason: str) -> tuple[str, str]:
        """(stage, reason) as labels: codes only, at most MAX_REJECTED_SERIES pairs."""
        key = (
            stage if _CODE.fullmatch(stage) else "other",
            reason if _CODE.fullmatch(reason) else "other",
        )
        if key not in self._rejected_seen:
            if len(self._rejected_seen) >= MAX_REJECTED_SERIES:
                return "other", "other"
            self._rejected_seen.add(key)
        return key

    def record(self, figures: RunFigures) -> None:
        """The metrics after one run or batch (committed or not)."""
        with self._lock:
            self._record(figures)

    def running(self, started: float) -> None:
        """A batch run in progress since `started` (seconds since the epoch)."""
        with self._lock:
            self._in_progress.labels(root=self.root).set(1)
            self._in_progress_start.labels(root=self.root).set(started)

    def _record(self, run: RunFigures) -> None:
        root = self.root
        if not self.follow:  # this run has ended (a start kept by carry_in_progress aside)
            self._in_progress.labels(root=root).set(0)
        self._start.labels(root=root).set(run.started)
        self._end.labels(root=root).set(run.ended)
        self._duration.labels(root=root).set(run.seconds)
        self._success.labels(root=root).set(1 if run.committed else 0)
        self._exit.labels(root=root).set(run.exit_status)
        if self.follow:
            outcome = "committed" if run.committed else "failed"
            self._batches.labels(root=root, outcome=outcome).inc()
            self._ticks.labels(root=root, outcome=outcome).inc()
            self._last_tick.labels(root=root).set(run.ended)
        if not run.committed:
            return  # the last committed run's figures stay
        self._set_last_success(run.ended)
        self._inputs.labels(root=root).set(run.inputs)
        self._balanced.labels(root=root).set(1 if run.balanced else 0)
        self._failed_before.labels(root=root).set(run.failed_before)
        for table in TABLES:
            self._rows.labels(root=root, table=table).set(run.rows.get(table, 0))
            self._bytes.labels(root=root, table=table).set(run.bytes_written.get(table, 0))
        self._rejected.clear()
        rejected: dict[tuple[str, str], int] = {}
        for (stage, reason), n in sorted(run.rejected.items()):
            key = self._rejected_key(stage, reason)
            rejected[key] = rejected.get(key, 0) + n
        for (stage, reason), n in rejected.items():
            self._rejected.labels(root=root, stage=stage, reason=reason).set(n)
        self._counters.clear()
        for name, value in sorted(run.counters.items())[:MAX_COUNTER_SERIES]:
            if _CODE.fullmatch(name):
                self._counters.labels(root=root, counter=name).set(value)
        self._feeds_polled.labels(root=root).set(run.feeds_polled)
        self._feeds_failed.labels(root=root).set(run.feeds_failed)
        if run.failing_feeds is not None:
            self._feed_failures.clear()
            failing = sorted(run.failing_feeds.items(), key=lambda item: (-item[1], item[0]))
            for url, n in failing[:MAX_FEED_SERIES]:
                self._feed_failures.labels(root=root, feed=redact_text(url)).set(n)
            self._feeds_failing.labels(root=root).set(len(failing))
        if self.follow:
            self._inputs_total.labels(root=root).inc(run.inputs)
            for table in TABLES:
                self._rows_total.labels(root=root, table=table).inc(run.rows.get(table, 0))
                written = run.bytes_written.get(table, 0)
                self._bytes_total.labels(root=root, table=table).inc(written)
            for (stage, reason), n in rejected.items():
                self._rejected_total.labels(root=root, stage=stage, reason=reason).inc(n)
            self._polls_total.labels(root=root).inc(run.feeds_polled)
            self._poll_failures_total.labels(root=root).inc(run.feeds_failed)

    def tick_without_batch(self, ended: float) -> None:
        """A follow-mode tick that found nothing to read (no batch ran)."""
        with self._lock:
            if self.follow:
                self._ticks.labels(root=self.root, outcome="nothing_new").inc()
                self._last_tick.labels(root=self.root).set(ended)

    def write(self, path: str) -> bool:
        """Write the metrics to `path` atomically (prometheus_client writes a temporary file
        beside it, then renames it); False, with a warning, when it could not: metrics never
        fail a run."""
        from prometheus_client import write_to_textfile

        try:
            with self._lock:
                write_to_textfile(path, self.registry)
        except OSError as error:
            log.warning("--metrics_file %s: not written: %s", path, error)
            return False
        return True


def previous_last_success(path: str) -> float | None:
    """newsbeam_last_success_timestamp_seconds of an earlier metrics file at `path` (a run
    that fails rewrites the file and must not forget when the last one succeeded)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        found = [
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == f"{PREFIX}_last_success_timestamp_seconds"
        ]
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return max(found) if found else None


def _previous_families(path: str) -> list[Any]:
    """The metric families of the file at `path`; none if it is absent or unreadable."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with open(path, encoding="utf-8") as handle:
            return list(text_string_to_metric_families(handle.read()))
    except (OSError, ValueError, UnicodeDecodeError):
        return []


def previous_in_progress(path: str) -> float | None:
    """When the run in progress that the file at `path` names started, if it names one."""
    found: dict[str, float] = {}
    for family in _previous_families(path):
        for sample in family.samples:
            found[sample.name] = sample.value
    if found.get(f"{PREFIX}_{IN_PROGRESS}") == 1:
        return found.get(f"{PREFIX}_{IN_PROGRESS_START}")
    return None


class _Families:
    """A collector of metric families as read from a file (write_run_started)."""

    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> Iterator[Any]:
        return iter(self.families)


def write_run_started(path: str, root: str, started: float) -> bool:
    """Mark a batch run in progress in its metrics file, once its locks are taken: the
    file it replaces, with `newsbeam_run_in_progress` 1 and the run's start. The run's end
    rewrites the whole file (0); a run killed outright writes no end, and its 1 stays for
    an alert to see (deploy/prometheus: NewsBeamRunNotEnded), where before its file still
    showed the run before it as the last run. False, with a warning, if not written."""
    from prometheus_client import CollectorRegistry, write_to_textfile

    ours = {f"{PREFIX}_{IN_PROGRESS}", f"{PREFIX}_{IN_PROGRESS_START}"}
    kept = [family for family in _previous_families(path) if family.name not in ours]
    metrics = RunMetrics(root)
    metrics.running(started)
    in_progress = [family for family in metrics.registry.collect() if family.name in ours]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(kept + in_progress))
    try:
        write_to_textfile(path, registry)
    except OSError as error:
        log.warning("--metrics_file %s: not written: %s", path, error)
        return False
    return True


def write_run_metrics(
    path: str, root: str, figures: RunFigures, carry_in_progress: bool = False
) -> bool:
    """A batch run's metrics file: the run's figures, the last success carried over from the
    file it replaces when this run committed nothing. `carry_in_progress`: this run never
    took its locks (refused: exit 2 or 75), so the run in progress the file names (another
    run's, going on or killed) is kept."""
    metrics = RunMetrics(root)
    metrics.carry_over(previous_last_success(path))
    metrics.record(figures)
    if carry_in_progress and (since := previous_in_progress(path)) is not None:
        metrics.running(since)
    return metrics.write(path)


def parse_address(text: str) -> tuple[str, int]:
    """`--metrics_address` as (host, port): `PORT`, `HOST:PORT` or `[IPv6]:PORT`; the host
    127.0.0.1 unless one is given. ValueError when it is none of them."""
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = DEFAULT_METRICS_HOST, text
    host = host.strip("[]") or DEFAULT_METRICS_HOST
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--metrics_address {text}: give PORT or HOST:PORT (port 0-65535)")
    return host, int(port)


class MetricsServer:
    """follow mode's `/metrics` endpoint over a registry (prometheus_client's own server,
    on a thread of its own)."""

    def __init__(self, registry: CollectorRegistry, address: str) -> None:
        from prometheus_client import start_http_server

        host, port = parse_address(address)
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        self.host, self.port = host, int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _version() -> str:
    try:
        return metadata.version("newsbeam")
    except metadata.PackageNotFoundError:
        return "unknown"


def metrics_file_problem(path: str) -> str | None:
    """Why `--metrics_file` cannot be written (a folder, no such folder, not writable):
    said before the run, not after it."""
    if "://" in path:
        return "a local file is written (node_exporter's textfile directory)"
    target = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(target):
        return "is a folder: name a file (e.g. newsbeam.prom) in it"
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        return f"no such folder {folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in {folder}"
    return None


class FollowMetrics:
    """Follow mode's metrics: one RunMetrics kept for the process, served at
    `--metrics_address` and/or written to `--metrics_file` after every tick."""

    def __init__(self, root: str, path: str | None, address: str | None) -> None:
        self.path = os.path.abspath(os.path.expanduser(path)) if path else None
        self.metrics = RunMetrics(root, follow=True)
        if self.path is not None:
            self.metrics.carry_over(previous_last_success(self.path))
        self.server = MetricsServer(self.metrics.registry, address) if address else None
        if self.server is not None:
            log.info("follow: metrics at http://%s:%d/metrics", self.server.host, self.server.port)
        self._write()

    def batch(self, manifest: Mapping[str, Any] | None, failing: Mapping[str, int] | None) -> None:
        """After a tick that did not fail: its committed batch's manifest, or None."""
        if manifest is None:
            self.metrics.tick_without_batch(time.time())
        else:
            self.metrics.record(figures_from_manifest(manifest, 0, failing))
        self._write()

    def failed(self, started: float, exit_status: int = 1) -> None:
        """After a batch that failed (nothing of it committed)."""
        self.metrics.record(failed_figures(started, time.time(), exit_status))
        self._write()

    def _write(self) -> None:
        if self.path is not None:
            self.metrics.write(self.path)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
