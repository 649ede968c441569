"""Prometheus metrics (pipeline/metrics.py): `--metrics_file` written by real batch runs,
committed and failed, and parsed back with prometheus_client's own parser against the
manifest and the tables (DuckDB); follow mode's `--metrics_address` scraped over HTTP on
127.0.0.1 while it runs against a feed server that fails; the label sets bounded; the
registry never prometheus_client's global one."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from newsbeam.pipeline import dataset, metrics, streaming
from newsbeam.pipeline.main import RunMetricsFile
from newsbeam.pipeline.options import RunOptions
from newsbeam.transforms.support.state import CRASH_ENV
from tests.feed_server import Request, Response, serve
from tests.helpers import (
    StderrLines,
    ended_by_signals,
    newsbeam_command,
    run_manifest,
    table_sql,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """(name, sorted labels but root) -> value of every sample in an exposition text."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "root"))
            found[(sample.name, labels)] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(f"newsbeam_{name}", tuple(sorted(labels.items())))]


def roots(text: str) -> set[str]:
    return {
        sample.labels.get("root", "")
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# --- Pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
        (":9464", ("127.0.0.1", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_metrics_address_defaults_to_the_loopback(text: str, expected: tuple[str, int]) -> None:
    assert metrics.parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "host:", "host:port", "9464999", "127.0.0.1:-1"])
def test_a_bad_metrics_address_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--metrics_address"):
        metrics.parse_address(text)


def test_a_metrics_file_that_cannot_be_written_is_said_before_the_run(tmp_path: Path) -> None:
    assert metrics.metrics_file_problem(str(tmp_path / "newsbeam.prom")) is None
    assert "is a folder" in str(metrics.metrics_file_problem(str(tmp_path)))
    assert "no such folder" in str(metrics.metrics_file_problem(str(tmp_path / "no" / "a.prom")))
    assert "local file" in str(metrics.metrics_file_problem("s3://bucket/newsbeam.prom"))


def test_rejected_labels_are_codes_and_bounded() -> None:
    """A library caller's own reason codes (or free text) must not make a series each:
    Prometheus keeps every label set it ever saw."""
    rejected = {("read", f"reason_{n:03d}"): 1 for n in range(metrics.MAX_REJECTED_SERIES + 40)}
    rejected[("read", "Not A Code: /etc/passwd")] = 5
    figures = metrics.RunFigures(
        started=1.0, ended=2.0, committed=True, exit_status=0, inputs=105, rejected=rejected
    )
    run = metrics.RunMetrics("/srv/news/dataset")
    run.record(figures)
    found = samples(prometheus_client.generate_latest(run.registry).decode())
    series = {labels for name, labels in found if name == "newsbeam_last_run_rejected_rows"}
    assert len(series) == metrics.MAX_REJECTED_SERIES + 1  # the codes, then "other"
    assert sum(v for (name, _), v in found.items() if name.endswith("rejected_rows")) == 105
    # Free text is no label value; past the bound, every pair is summed in one series.
    assert value(found, "last_run_rejected_rows", stage="read", reason="other") == 5
    assert value(found, "last_run_rejected_rows", stage="other", reason="other") == 41


def test_each_metrics_has_its_own_registry_not_the_global_one() -> None:
    metrics.RunMetrics("/a")
    metrics.RunMetrics("/a", follow=True)  # the same names twice: no collision
    global_names = {
        family.name for family in prometheus_client.REGISTRY.collect()
    }  # prometheus_client's default registry
    assert not any(name.startswith("newsbeam") for name in global_names)


# A committed night's manifest, as much of it as the metrics read: 100 s, one rejected row.
A_NIGHT = {
    "started_at": "2026-12-01T02:00:00+00:00",
    "finished_at": "2026-12-01T02:01:40+00:00",
    "counts": {"inputs": 3, "articles": 2, "duplicates": 0, "rejected": 1, "balanced": True,
               "rejected_by": {"extract": {"no_text": 1}}},
}  # fmt: skip


def test_a_failed_run_keeps_the_last_success_and_figures_of_the_file_it_replaces(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "newsbeam.prom")
    assert metrics.write_run_metrics(path, "/d", metrics.figures_from_manifest(A_NIGHT))
    first = samples(Path(path).read_text())
    assert value(first, "last_run_duration_seconds") == 100.0
    assert metrics.write_run_metrics(path, "/d", metrics.failed_figures(2e9, 2e9 + 5, 1))
    second = samples(Path(path).read_text())
    assert value(second, "last_run_success") == 0 and value(second, "last_run_exit_status") == 1
    assert value(second, "last_run_duration_seconds") == 5.0
    # When the last committed run ended: an alert on `time() - ...` fires on its own clock.
    assert value(second, "last_success_timestamp_seconds") == value(
        first, "last_success_timestamp_seconds"
    )
    assert sorted(os.listdir(tmp_path)) == ["newsbeam.prom"]  # no temporary file left


def test_a_run_refused_for_anothers_lock_says_75(tmp_path: Path) -> None:
    path = tmp_path / "newsbeam.prom"
    assert RunMetricsFile(str(path), str(tmp_path / "d")).failed(75) == 75
    found = samples(path.read_text())
    assert value(found, "last_run_exit_status") == 75 and value(found, "last_run_success") == 0
    assert roots(path.read_text()) == {str(tmp_path / "d")}


# --- Batch runs -----------------------------------------------------------------------------


def _inbox(seeds_dir: Path, folder: Path) -> Path:
    """The seeds, two copies of one (a duplicate) and an empty and a binary file (rejected)."""
    folder.mkdir()
    for seed in seeds_dir.iterdir():
        (folder / seed.name).write_bytes(seed.read_bytes())
    first = sorted(seeds_dir.iterdir())[0]
    (folder / f"copy-{first.name}").write_bytes(first.read_bytes())
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.html").write_bytes(bytes(range(256)) * 8)
    return folder


def test_a_batch_run_writes_the_figures_of_its_manifest_and_tables(
    seeds_dir: Path, tmp_path: Path
) -> None:
    inbox = _inbox(seeds_dir, tmp_path / "inbox")
    root, prom = tmp_path / "dataset", tmp_path / "textfile" / "newsbeam.prom"
    prom.parent.mkdir()
    before = time.time()
    done = newsbeam_command(
        "--input", str(inbox), "--output", str(root), "--metrics_file", str(prom),
        tmpdir=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = run_manifest(root)
    text = prom.read_text()
    found = samples(text)
    assert roots(text) == {str(root)}
    assert value(found, "last_run_success") == 1 and value(found, "last_run_exit_status") == 0
    assert value(found, "last_run_inputs") == manifest["counts"]["inputs"] == 8
    for table in ("articles", "duplicates", "rejected", "feed_health"):
        assert value(found, "last_run_rows", table=table) == manifest["counts"][table]
        written = sum(entry["bytes"] for entry in manifest["tables"][table]["files"])
        assert value(found, "last_run_written_bytes", table=table) == written > 0
    assert value(found, "last_run_rows", table="duplicates") >= 1
    # The rejected series are the rejected table's rows, by stage and reason.
    by_reason = duckdb.sql(
        f"SELECT stage, reason, count(*) FROM {table_sql(root, 'rejected')} GROUP BY ALL"
    ).fetchall()
    assert len(by_reason) >= 2
    assert {
        (dict(labels)["stage"], dict(labels)["reason"]): n
        for (name, labels), n in found.items()
        if name == "newsbeam_last_run_rejected_rows"
    } == {(stage, reason): n for stage, reason, n in by_reason}
    assert value(found, "last_run_balanced") == 1 and value(found, "last_run_failed_before") == 0
    assert value(found, "last_run_beam_counter", counter="read_inputs") == 8
    assert before <= value(found, "last_run_start_timestamp_seconds")
    assert (
        value(found, "last_run_start_timestamp_seconds")
        < value(found, "last_run_end_timestamp_seconds")
        == value(found, "last_success_timestamp_seconds")
        <= time.time()
    )
    assert value(found, "build_info", version="0.1.0", schema_version=str(
        manifest["schema_version"]), mode="batch") == 1  # fmt: skip
    assert sorted(os.listdir(prom.parent)) == ["newsbeam.prom"]


def _small_files() -> None:  # Python ignores SIGXFSZ: a write past the limit is EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


@pytest.mark.slow
def test_a_failing_run_still_writes_the_file_and_keeps_the_last_success(
    seeds_dir: Path, tmp_path: Path
) -> None:
    root, state, prom = tmp_path / "dataset", tmp_path / "state", tmp_path / "newsbeam.prom"
    first = newsbeam_command(
        "--input", str(seeds_dir), "--output", str(root), "--state", str(state),
        "--metrics_file", str(prom), tmpdir=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    succeeded = samples(prom.read_text())
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(40):  # distinct words: tables past the 256 KB a file may have (EFBIG)
        words = " ".join(f"word{n}x{i}" for i in range(4000))
        (inbox / f"story{n:03d}.txt").write_text(f"Story {n}\n\n{words}.\n")
    argv = ["--input", str(inbox), "--output", str(root), "--state", str(state)]
    argv += ["--metrics_file", str(prom), "--direct_num_workers", "1"]
    failed = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_small_files,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert len(dataset.run_ids(str(root))) == 1  # nothing of it committed
    found = samples(prom.read_text())
    assert value(found, "last_run_success") == 0 and value(found, "last_run_exit_status") == 1
    assert value(found, "last_run_start_timestamp_seconds") > value(
        succeeded, "last_run_end_timestamp_seconds"
    )
    assert value(found, "last_success_timestamp_seconds") == value(
        succeeded, "last_success_timestamp_seconds"
    )
    # The failed run's own figures are none: what is shown is the last committed run's.
    assert ("newsbeam_last_run_inputs", ()) not in found


def test_a_run_killed_outright_is_counted_by_the_next_committed_runs_metrics(
    seeds_dir: Path, tmp_path: Path
) -> None:
    """A run killed outright (the OOM killer) writes no metrics: the next committed run's
    file says one failed before it (its record in ROOT/_failed_runs/)."""
    root, prom = tmp_path / "dataset", tmp_path / "newsbeam.prom"
    argv = ["--input", str(seeds_dir), "--output", str(root), "--metrics_file", str(prom)]
    killed = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *argv, "--run_id", "night1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(tmp_path), CRASH_ENV: "output-staged"},
    )
    assert killed.returncode == 137, killed.stderr[-2000:]
    # It wrote its start once its locks were taken (review 107): a run in progress, which
    # no end follows (before, no file at all: nothing told the run had started).
    found = samples(prom.read_text())
    assert value(found, "run_in_progress") == 1
    started = value(found, "run_in_progress_start_timestamp_seconds")
    assert time.time() - 300 < started < time.time()
    done = newsbeam_command(*argv, "--run_id", "night2", tmpdir=tmp_path)
    assert done.returncode == 0, done.stderr
    found = samples(prom.read_text())
    assert value(found, "last_run_success") == 1
    assert value(found, "last_run_failed_before") == 1
    assert value(found, "run_in_progress") == 0
    assert ("newsbeam_run_in_progress_start_timestamp_seconds", ()) not in found


def test_a_run_start_keeps_the_figures_of_the_file_it_replaces(tmp_path: Path) -> None:
    path = str(tmp_path / "newsbeam.prom")
    assert metrics.write_run_metrics(path, "/d", metrics.figures_from_manifest(A_NIGHT))
    before = samples(Path(path).read_text())
    assert metrics.write_run_started(path, "/d", 2e9)
    running = samples(Path(path).read_text())
    # The last run's figures stay for dashboards while the next one runs.
    assert {k: v for k, v in running.items() if "in_progress" not in k[0]} == {
        k: v for k, v in before.items() if "in_progress" not in k[0]
    }
    assert value(running, "run_in_progress") == 1
    assert value(running, "run_in_progress_start_timestamp_seconds") == 2e9
    assert metrics.previous_in_progress(path) == 2e9
    # A run refused before its locks (another run holds them: 75) keeps that run's start;
    # a run that took them and ended says none is in progress.
    assert metrics.write_run_metrics(path, "/d", metrics.failed_figures(2e9, 2e9 + 1, 75), True)
    assert metrics.previous_in_progress(path) == 2e9
    assert metrics.write_run_metrics(path, "/d", metrics.failed_figures(2e9, 2e9 + 9, 1))
    assert metrics.previous_in_progress(path) is None
    assert value(samples(Path(path).read_text()), "run_in_progress") == 0
    assert sorted(os.listdir(tmp_path)) == ["newsbeam.prom"]


def test_usage_errors_of_the_metrics_flags(seeds_dir: Path, tmp_path: Path) -> None:
    base = ["--input", str(seeds_dir), "--output", str(tmp_path / "d")]
    cases = [
        (["--metrics_address", "9464"], "--metrics_address applies to --follow only"),
        (["--metrics_file", str(tmp_path / "no" / "x.prom")], "no such folder"),
        (["--metrics_file", str(tmp_path)], "is a folder"),
        (["--follow", "--state", str(tmp_path / "s"), "--metrics_address", "x:y"],
         "--metrics_address x:y: give PORT or HOST:PORT"),
    ]  # fmt: skip
    for extra, message in cases:
        done = newsbeam_command(*base, *extra, tmpdir=tmp_path)
        assert done.returncode == 2, (extra, done.stderr)
        assert message in done.stderr, (extra, done.stderr)
    # A streaming job's figures are its runner's: the flags would say nothing of it.
    options = RunOptions([*base, "--streaming", "--metrics_file", str(tmp_path / "m.prom")])
    with pytest.raises(streaming.StreamingUsageError, match="for a batch run and --follow"):
        streaming.streaming_config(options)


# --- Feeds ----------------------------------------------------------------------------------


def _rss(base: str, keys: list[str]) -> bytes:
    items = "".join(
        f'<item><guid isPermaLink="false">{key}</guid><title>Story {key}</title>'
        f"<link>{base}/{key}</link><description>The harbour board met on {key} to agree on "
        "the dredging budget for the next three years, officials said.</description></item>"
        for key in keys
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>{base}/</link>{items}</channel></rss>"
    ).encode()


def test_a_feed_failing_across_batch_runs_counts_its_failures_in_a_row(tmp_path: Path) -> None:
    def broken(request: Request) -> Response:
        return 503, {"Content-Type": "text/plain"}, b"down"

    def good(request: Request) -> Response:
        return 200, {"Content-Type": "application/rss+xml"}, _rss("http://x", ["a", "b"])

    prom = tmp_path / "newsbeam.prom"
    with serve({"/broken": broken, "/good": good}) as server:
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(f"{server.url('/broken')}\n{server.url('/good')}\n")
        argv = ["--feeds", str(feeds), "--output", str(tmp_path / "d"), "--state",
                str(tmp_path / "s"), "--no_fetch_pages", "--fetch_retries", "0",
                "--allow_hosts", "127.0.0.1", "--metrics_file", str(prom)]  # fmt: skip
        for _ in range(2):
            done = newsbeam_command(*argv, tmpdir=tmp_path)
            assert done.returncode == 0, done.stderr
    found = samples(prom.read_text())
    assert value(found, "feed_consecutive_failures", feed=server.url("/broken")) == 2
    assert value(found, "feeds_failing") == 1
    assert value(found, "last_run_feeds_polled") == 2
    assert value(found, "last_run_feeds_failed") == 1
    failing = [labels for name, labels in found if name == "newsbeam_feed_consecutive_failures"]
    assert len(failing) == 1  # the good feed is no series
    # Without --state no run knows the one before: the failing feed is at 1.
    with serve({"/broken": broken, "/good": good}) as server:
        feeds.write_text(f"{server.url('/broken')}\n{server.url('/good')}\n")
        stateless = [word for word in argv if word not in ("--state", str(tmp_path / "s"))]
        stateless[stateless.index("--output") + 1] = str(tmp_path / "d2")
        done = newsbeam_command(*stateless, tmpdir=tmp_path)
        assert done.returncode == 0, done.stderr
    found = samples(prom.read_text())
    assert value(found, "feed_consecutive_failures", feed=server.url("/broken")) == 1
    assert value(found, "feeds_failing") == 1


# --- Follow mode ----------------------------------------------------------------------------


def test_a_metrics_port_in_use_is_said_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = newsbeam_command(
            "--follow", "--input", str(tmp_path), "--output", str(tmp_path / "d"),
            "--state", str(tmp_path / "s"), "--metrics_address", f"127.0.0.1:{port}",
            "--max_runtime", "5", tmpdir=tmp_path,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"newsbeam: --metrics_address 127.0.0.1:{port}: Address already in use"
    )


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return str(answer.read().decode("utf-8"))


def _until_scraped(
    port: int, process: subprocess.Popen[str], ready: Any, seconds: float = 120
) -> Samples:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the process ended ({process.returncode})"
        try:
            found = samples(_scrape(port))
        except OSError:
            found = {}
        if found and ready(found):
            return found
        time.sleep(0.3)
    raise AssertionError("the metrics never showed what was waited for")


def test_follow_mode_serves_live_metrics_over_http(seeds_dir: Path, tmp_path: Path) -> None:
    inbox, root = tmp_path / "inbox", tmp_path / "dataset"
    inbox.mkdir()
    seeds = sorted(seeds_dir.iterdir())
    (inbox / seeds[0].name).write_bytes(seeds[0].read_bytes())
    prom = tmp_path / "newsbeam.prom"

    def broken(request: Request) -> Response:
        return 503, {"Content-Type": "text/plain"}, b"down"

    with serve({"/broken": broken}) as server:
        feed = server.url("/broken")
        argv = ["--follow", "--interval", "0.5", "--input", str(inbox), "--feed", feed,
                "--output", str(root), "--state", str(tmp_path / "state"),
                "--no_fetch_pages", "--fetch_retries", "0", "--allow_hosts", "127.0.0.1",
                "--min_poll_seconds", "1", "--initial_poll_seconds", "1",
                "--max_backoff_seconds", "1", "--poll_jitter", "0",
                "--metrics_address", "0", "--metrics_file", str(prom)]  # fmt: skip
        process = subprocess.Popen(
            [sys.executable, "-m", "newsbeam.pipeline", *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMPDIR": str(tmp_path)},
        )
        stderr = StderrLines(process)
        try:
            # Port 0: the server binds one of its own choosing and logs it (a port found
            # free by the test first could be taken before the process bound it).
            served = stderr.wait_for(r"follow: metrics at http://127\.0\.0\.1:(\d+)/metrics")
            port = int(served.group(1))
            first = _until_scraped(
                port, process, lambda f: value(f, "batches_total", outcome="committed") >= 1
            )
            assert value(first, "seconds_since_last_success") >= 0
            # A second file while it runs; the feed fails poll after poll.
            (inbox / seeds[1].name).write_bytes(seeds[1].read_bytes())
            found = _until_scraped(
                port,
                process,
                lambda f: (
                    value(f, "inputs_total") >= 2
                    and value(f, "feed_consecutive_failures", feed=feed) >= 2
                ),
            )
            err, _ = ended_by_signals(process, signal.SIGTERM, timeout=120, stderr=stderr)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    with pytest.raises(OSError):  # the endpoint closed with the process
        _scrape(port)
    # The counters are the sums of the batches' manifests (those committed when scraped).
    manifests = dataset.committed_runs(str(root))
    batches = int(value(found, "batches_total", outcome="committed"))
    assert 2 <= batches <= len(manifests)
    scraped = manifests[:batches]
    assert value(found, "inputs_total") == sum(m["counts"]["inputs"] for m in scraped)
    for table in ("articles", "rejected", "feed_health"):
        rows = sum(m["counts"][table] for m in scraped)
        assert value(found, "rows_written_total", table=table) == rows
    assert (
        value(found, "feed_poll_failures_total")
        == sum(m["counters"].get("feeds_errors", 0) for m in scraped)
        >= 2
    )
    assert value(found, "batches_total", outcome="failed") == 0
    assert value(found, "follow_ticks_total", outcome="committed") == batches
    assert value(found, "last_success_timestamp_seconds") <= time.time()
    assert value(found, "build_info", version="0.1.0", schema_version=str(
        manifests[0]["schema_version"]), mode="follow") == 1  # fmt: skip
    # The file was rewritten after the last tick: what a textfile collector would read.
    final = samples(prom.read_text())
    assert value(final, "batches_total", outcome="committed") == len(manifests)
    assert value(final, "inputs_total") == sum(m["counts"]["inputs"] for m in manifests)


# --- The shipped alert rules ----------------------------------------------------------------


def test_the_alert_rules_name_only_metrics_newsbeam_writes() -> None:
    """deploy/prometheus/newsbeam.rules.yml: each alert has an expression, a severity and a
    summary, and every newsbeam_* name it uses is one a batch run or follow mode exposes (a
    renamed metric would leave an alert that never fires)."""
    import yaml

    rules_file = Path(__file__).resolve().parents[1] / "deploy/prometheus/newsbeam.rules.yml"
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    alerts = {rule["alert"] for rule in rules}
    assert {"NewsBeamNoSuccessfulRun", "NewsBeamRejectedShareHigh", "NewsBeamFeedFailing"} <= alerts
    exposed: set[str] = set()
    figures = metrics.RunFigures(
        started=1.0, ended=2.0, committed=True, exit_status=0, inputs=3,
        rejected={("extract", "no_text"): 1}, failing_feeds={"http://f": 2},
    )  # fmt: skip
    for follow in (False, True):
        run = metrics.RunMetrics("/d", follow=follow)
        run.record(figures)
        run.running(1.0)  # a batch run's start (write_run_started)
        text = prometheus_client.generate_latest(run.registry).decode()
        exposed |= {name for name, _ in samples(text)}
        exposed |= {family.name for family in text_string_to_metric_families(text)}
    for rule in rules:
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        used = set(re.findall(r"\bnewsbeam_\w+", rule["expr"]))
        assert used and used <= exposed, (rule["alert"], sorted(used - exposed))
