"""A failed run records itself (review 88: an operator whose nightly run failed at 3 a.m.).

Before, a run that failed, was stopped or was killed left nothing in the dataset: no
manifest (right: it committed nothing), and nothing else either, so `newsbeam report`, the
next run's report and anyone reading `_runs/` in the morning could not tell "failed" from
"did not run". Each failure here is a real one: a file size limit (`RLIMIT_FSIZE`, what a
quota or a full disk does to a write) hit by the stage that writes the tables, a SIGKILL
mid-commit, a store on 127.0.0.1 that goes away, and another run holding the lock."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from newsbeam.pipeline import dataset, failed_runs, warehouse
from newsbeam.pipeline import main as entry
from newsbeam.pipeline import report as report_module
from newsbeam.transforms.support.files import StoreUnreachable
from newsbeam.transforms.support.state import CRASH_ENV, read_current
from tests.helpers import (
    newsbeam_command,
    raised_from,
    stopped_at,
    wait_for,
    write_seed_copies,
)

UTC = dt.timezone.utc


# --- The record, without Beam -----------------------------------------------------------------


def test_the_stage_is_read_from_beams_words() -> None:
    text = "OSError: [Errno 28] No space left on device [while running 'Write/Files']"
    assert failed_runs.failed_stage(text) == "Write"
    assert failed_runs.failed_stage("StoreUnreachable: the object store has not answered") is None
    # In one process the cause line names the innermost error; Beam's words are outside it.
    inner = OSError(27, "File too large")
    outer = raised_from(inner, RuntimeError(f"{inner} [while running 'Extract/Pages']"))
    assert failed_runs.stage_of(outer, "the run failed: OSError: File too large") == "Extract"


def test_inputs_are_listed_capped_and_without_credentials() -> None:
    named = [f"/srv/inbox/{n}.html" for n in range(250)]
    assert failed_runs.listed(named) == {"count": 250, "listed": named[:100]}
    (url,) = failed_runs.listed(["https://user:secret@example.org/feed.xml"])["listed"]
    assert "secret" not in url


def test_failures_since_a_time_and_their_line() -> None:
    begun = failed_runs.started_record(
        "r1", "0000abcd", dt.datetime(2026, 12, 5, 3, 0, tzinfo=UTC), ["/in"], None, None, None
    )
    ended = failed_runs.failed_record(
        begun, dt.datetime(2026, 12, 5, 3, 4, tzinfo=UTC), "the run failed: OSError: full", 1
    )
    killed = failed_runs.failed_record(
        {**begun, "run_id": "r2"}, None, failed_runs.killed_cause(begun), None, found_by="r3"
    )
    assert failed_runs.since([ended, killed], "2026-12-05T03:02:00+00:00") == [ended]
    assert failed_runs.describe(ended) == (
        "r1 (started 2026-12-05 03:00:00 UTC, ended 2026-12-05 03:04:00 UTC, exit 1): "
        "the run failed: OSError: full"
    )
    assert "killed" in failed_runs.describe(killed) and "SIGKILL" in killed["cause"]
    assert ended["committed"] is False and "reads its inputs again" in ended["next_run"]


def test_no_record_is_written_to_a_store_that_stopped_answering(tmp_path: Path) -> None:
    # Writing there would wait out --store_retry_seconds a second time; the next run
    # records the run from its start record instead.
    begun = failed_runs.started_record("r", "0000abcd", dt.datetime.now(UTC), [], [], [], None)
    record = failed_runs.failed_record(begun, dt.datetime.now(UTC), "the run failed: x", 1)
    error = StoreUnreachable("the object store at http://127.0.0.1:9 has not answered for 3 s")
    assert not failed_runs.write_record(str(tmp_path / "root"), record, error)
    assert not (tmp_path / "root").exists()
    assert failed_runs.write_record(str(tmp_path / "root"), record, RuntimeError("x"))
    assert failed_runs.read_records(str(tmp_path / "root")) == [record]


def test_records_past_the_latest_and_long_superseded_ones_are_pruned() -> None:
    # By their own end, not their names: `--run_id nightly-b` ended before `nightly-a`.
    ends = {"nightly-c": 3, "nightly-b": 1, "nightly-a": 5, "nightly-d": 4, "nightly-e": 2}
    read = sorted(
        ((f"/d/_failed_runs/{run}.0000abcd.json", {"ended_at": f"2026-12-0{day}T03:00:00"})
         for run, day in ends.items()),
        key=lambda pair: pair[1]["ended_at"],
    )  # fmt: skip
    listed = tuple(sorted([path for path, _ in read] + ["/d/_failed_runs/torn.json"]))
    found = failed_runs.Records(listed, tuple(read))
    # The record that cannot be read goes first, then the earliest ended.
    assert failed_runs.over_limit(found, keep=3) == [
        "/d/_failed_runs/torn.json",
        "/d/_failed_runs/nightly-b.0000abcd.json",
        "/d/_failed_runs/nightly-e.0000abcd.json",
    ]
    assert failed_runs.over_limit(found, keep=9) == []
    assert [path for path, _ in found.latest(2)] == [path for path, _ in read[-2:]]
    now = dt.datetime(2026, 12, 5, 9, tzinfo=UTC)

    def ended(days_ago: float) -> dict[str, str]:
        return {"ended_at": (now - dt.timedelta(days=days_ago)).isoformat()}

    records = [("old", ended(40)), ("recent", ended(2)), ("after", ended(0.1))]
    committed = (now - dt.timedelta(days=1)).isoformat()
    # Superseded by a commit and past the days kept: gone; superseded but recent: kept;
    # not superseded (no commit since): kept whatever its age.
    assert failed_runs.superseded(records, committed, now, keep_days=30) == ["old"]
    assert failed_runs.superseded(records, committed, now, keep_days=1) == ["old", "recent"]
    assert failed_runs.superseded(records, "", now, keep_days=0) == []


# --- Real runs ---------------------------------------------------------------------------------


def _long_texts(folder: Path, count: int) -> None:
    """Texts of distinct words, ~40 KB each: tables of over a megabyte."""
    folder.mkdir(parents=True)
    for number in range(count):
        words = " ".join(f"word{number}x{i}" for i in range(4000))
        (folder / f"story{number:03d}.txt").write_text(f"Story {number}\n\n{words}.\n")


# A failing night: texts that outgrow a file-size limit in the first table writer to meet it
# (the dedup index), not before in the stories' term files. Words drawn from a small
# vocabulary keep the terms small while every text stays distinct: 6 texts under 32 KB
# fail as 40 of distinct words under 256 KB did (55 s a run under load; 28 s now).
FAILING_TEXTS = 6
FILE_LIMIT = 32 * 1024


def _texts_of_few_words(folder: Path, count: int) -> None:
    """Texts of 4,000 words each drawn from 300 (seeded: the same texts each run)."""
    folder.mkdir(parents=True)
    for number in range(count):
        draw = random.Random(number)
        words = " ".join(f"word{draw.randrange(300)}" for _ in range(4000))
        (folder / f"story{number:03d}.txt").write_text(f"Story {number}\n\n{words}.\n")


def _limited_files(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_run_that_fails_in_a_stage_records_itself_and_the_next_run_says_so(
    tmp_path: Path,
) -> None:
    inbox, root, state = tmp_path / "inbox", tmp_path / "dataset", tmp_path / "state"
    _texts_of_few_words(inbox, FAILING_TEXTS)
    argv = ["--input", str(inbox), "--output", str(root), "--state", str(state)]
    argv += ["--direct_num_workers", "1"]
    # Files of the run may not pass 32 KB: the tables' writer fails (EFBIG, as a quota),
    # the small record still fits.
    failed = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *argv, "--log_level", "INFO"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: _limited_files(FILE_LIMIT),
    )
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "File too large" in failed.stderr.splitlines()[-1]
    # Nothing committed, the state not advanced; the failure recorded in the dataset.
    assert dataset.run_ids(str(root)) == []
    assert read_current(str(state)) is None
    assert not list(root.rglob("*.parquet"))
    (record_file,) = (root / failed_runs.FAILED_RUNS).iterdir()
    record = json.loads(record_file.read_text())
    assert record["format"] == "newsbeam-failed-run" and record["committed"] is False
    assert record["exit_status"] == 1 and record["stage"].startswith("Write")  # tables, index
    assert record["cause"].startswith("the run failed: OSError: [Errno 27]")
    assert record["inputs"] == {"count": 1, "listed": [str(inbox)]}
    assert record["started_at"] < record["ended_at"]
    assert record_file.name == f"{record['run_id']}.{record['attempt']}.json"
    assert failed.stderr.rstrip().endswith(f"recorded in {record_file}")
    # The morning reader's report shows it (the page and the command's own line) ...
    shown = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", "report", "--output", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    latest = f"1 failed run in the window (nothing of it committed); the latest: {record['run_id']}"
    assert latest in shown.stdout
    assert "File too large" in shown.stdout
    page = (root / report_module.REPORT).read_text()
    assert "<h2>Failed runs</h2>" in page and record["run_id"] in page and "NO (not yet)" in page
    # ... and the next run, which reads the same inputs again, says it came after it.
    again = newsbeam_command(*argv)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "after 1 failed run since the last committed one" in again.stdout
    (run_id,) = dataset.run_ids(str(root))
    manifest = dataset.read_manifest(str(root), run_id)
    assert manifest is not None and manifest["counts"]["articles"] == FAILING_TEXTS
    assert [f["run_id"] for f in manifest["failed_before"]] == [record["run_id"]]
    assert 'id="failed-before"' in (root / "_runs" / f"{run_id}.html").read_text()
    report = entry.main(["report", "--output", str(root), "--report", str(tmp_path / "r.html")])
    assert report == 0 and "yes, " in (tmp_path / "r.html").read_text()
    # A run after that one has no earlier failure to tell of.
    third = newsbeam_command(*argv)
    assert third.returncode == 0 and "failed run" not in third.stdout


def _killed_outright(argv: list[str]) -> None:
    """A run of `argv` killed with SIGKILL once its output is staged (as the OOM killer would)."""
    killed = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, CRASH_ENV: "output-staged"},
    )
    assert killed.returncode == 137, killed.stderr[-2000:]


def test_a_run_killed_outright_is_recorded_by_the_next_run(seeds_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    argv = ["--input", str(seeds_dir), "--output", str(root), "--run_id", "night1"]
    _killed_outright(argv)
    assert not (root / failed_runs.FAILED_RUNS).exists()  # a killed process writes nothing
    argv[-1] = "night2"
    assert entry.main(argv) == 0
    (record_file,) = (root / failed_runs.FAILED_RUNS).iterdir()
    record = json.loads(record_file.read_text())
    assert record["run_id"] == "night1" and record["found_by"] == "night2"
    assert record["ended_at"] is None and record["exit_status"] is None
    assert "SIGKILL" in record["cause"] and "out-of-memory" in record["cause"]
    manifest = dataset.read_manifest(str(root), "night2")
    assert manifest is not None and manifest["failed_before"][0]["run_id"] == "night1"
    assert not (root / dataset.STAGING).exists()


def test_a_run_stopped_by_sigterm_records_itself(seeds_dir: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    write_seed_copies(seeds_dir, inputs)  # long enough to stop mid-run
    root = tmp_path / "dataset"
    run = subprocess.Popen(
        [sys.executable, "-m", "newsbeam.pipeline", "--input", str(inputs), "--output", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(root / dataset.STAGING, f"*/{failed_runs.STARTED}")
    run.terminate()
    _, err = run.communicate(timeout=120)
    assert run.returncode == 143, err
    (record_file,) = (root / failed_runs.FAILED_RUNS).iterdir()
    record = json.loads(record_file.read_text())
    assert record["exit_status"] == 143 and "SIGTERM" in record["cause"]
    assert dataset.run_ids(str(root)) == []


def test_a_run_refused_by_anothers_lock_exits_75(seeds_dir: Path, tmp_path: Path) -> None:
    # 2 ("fix the command") told a scheduler nothing of "busy: run it again later".
    state = tmp_path / "state"
    # The first run holds its locks, stopped once its tables are staged, until the second
    # has been refused: before, 200 files had to outlast the second's start, a race
    # between two processes' speeds on a loaded host ("the first run ended before...").
    first = stopped_at("output-staged", "--input", str(seeds_dir), "--output",
                       str(tmp_path / "out"), "--state", str(state))  # fmt: skip
    try:
        assert (tmp_path / ".state.newsbeam.lock").exists()
        second = newsbeam_command("--input", str(seeds_dir), "--output", str(tmp_path / "other"),
                                  "--state", str(state), timeout=120)  # fmt: skip
        assert second.returncode == 75, second.stderr
        assert "is in use by another NewsBeam run" in second.stderr
        assert not (tmp_path / "other").exists()
    finally:
        first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]


def test_the_help_documents_every_exit_status() -> None:
    from newsbeam.pipeline import cli

    codes = [code for code, _ in cli.EXIT_CODES]
    assert codes == [0, 1, 2, 3, 75, 130, 137, 143]


@pytest.mark.slow
def test_a_store_gone_mid_run_is_recorded_by_the_next_run_once_it_is_back(
    tmp_path: Path,
) -> None:
    from tests.s3_server import endpoint_flags
    from tests.test_store_gone import Relay, _gone_after_listing, _pages, relayed_store

    _pages(tmp_path / "in", 2)
    with relayed_store() as (relay, client):

        def flags(port: int) -> list[str]:
            return endpoint_flags(f"http://127.0.0.1:{port}")

        command = [sys.executable, "-m", "newsbeam.pipeline", "--input", str(tmp_path / "in")]
        command += ["--output", "s3://newsbeam-tests/root", "--store_retry_seconds", "3"]
        command += ["--direct_num_workers", "1"]
        # The store goes away while the run is stopped after its listing (before: 16 slow
        # pages, a run long enough to outlast the test's steps).
        gone = [*command, "--run_id", "gone", *flags(relay.port)]
        returncode, rest = _gone_after_listing(relay, gone, timeout=300)
        assert returncode == 1
        # Not written to the store that is gone (that would wait again); the error is the
        # store's, not hidden by the record's.
        assert "is not recorded in s3://newsbeam-tests/root now" in rest, rest[-4000:]
        assert "could not be recorded" not in rest
        assert (
            rest.strip()
            .splitlines()[-1]
            .startswith("ERROR newsbeam: the run failed: StoreUnreachable")
        )
        back = Relay(relay.upstream)  # the store answers again (another port)
        try:
            again = subprocess.run([*command, "--run_id", "next", *flags(back.port)],
                                   capture_output=True, text=True, timeout=300)  # fmt: skip
        finally:
            back.close()
        assert again.returncode == 0, again.stderr[-3000:]
        assert "after 1 failed run since the last committed one" in again.stdout
        body = client.get_object(Bucket="newsbeam-tests", Key="root/_runs/next.json")["Body"]
        manifest = json.loads(body.read())
        (before,) = manifest["failed_before"]
        assert before["run_id"] == "gone" and "stopped answering" in before["cause"]
        keys = client.list_objects_v2(Bucket="newsbeam-tests", Prefix="root/_failed_runs/")
        (key,) = [item["Key"] for item in keys["Contents"]]
        assert key.startswith("root/_failed_runs/gone.")


def test_a_workers_failed_bundle_is_one_line_in_the_runs_log() -> None:
    # Beam's job service logs a worker's entry as its whole text: two tracebacks, ~5 KB on
    # one line per failed bundle (a full disk on two workers: 21 KB of 34 KB of stderr).
    import logging

    from apache_beam.portability.api import beam_fn_api_pb2

    from newsbeam.pipeline.main import one_line_worker_error

    trace = (
        "Traceback (most recent call last):\n"
        '  File "transforms/support/files.py", line 701, in write_parquet\n'
        "OSError: [Errno 28] No space left on device\n\n"
        "During handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "apache_beam/runners/worker/sdk_worker.py", line 310, in _execute\n'
        "RuntimeError: OSError: [Errno 28] No space left on device [while running 'Write/Files']"
        "\n\n"
    )
    entry = beam_fn_api_pb2.LogEntry(
        severity=beam_fn_api_pb2.LogEntry.Severity.ERROR,
        message=f"Error processing instruction bundle_93. Original traceback is\n{trace}",
        instruction_id="bundle_93",
    )
    text = str(entry).replace("\n", " ")  # as local_job_service.py logs it
    record = logging.LogRecord("x", logging.ERROR, "f", 1, "Worker: %s", (text,), None)
    assert one_line_worker_error(record)
    assert record.getMessage() == (
        "Worker: Error processing instruction bundle_93: OSError: [Errno 28] No space left on "
        "device [while running 'Write/Files'] (the traceback: --log_level DEBUG)"
    )
    plain = logging.LogRecord("x", logging.INFO, "f", 1, "Worker: %s", ('message: "hi"',), None)
    assert one_line_worker_error(plain) and plain.getMessage() == 'Worker: message: "hi"'


def test_passes_after_a_failed_run_say_so(seeds_dir: Path, tmp_path: Path) -> None:
    # --max_files_per_run commits one run per pass and prints one summary for all.
    root = tmp_path / "dataset"
    begun = failed_runs.started_record(
        "night1", "0000abcd", dt.datetime(2026, 1, 1, 3, tzinfo=UTC), [str(seeds_dir)], [], [], None
    )
    cause = "the run failed: OSError: [Errno 28] No space left on device"
    record = failed_runs.failed_record(begun, dt.datetime(2026, 1, 1, 3, 4, tzinfo=UTC), cause, 1)
    assert failed_runs.write_record(str(root), record) is not None
    (root / dataset.DATASET_MARKER).write_text(json.dumps(dataset.marker_content()))
    run = newsbeam_command("--input", str(seeds_dir), "--output", str(root),
                           "--max_files_per_run", "2")  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Runs:     3 passes" in run.stdout
    assert "after 1 failed run since the last committed one" in run.stdout
    assert "night1 (started 2026-01-01 03:00:00 UTC" in run.stdout


def test_a_stage_failing_on_worker_processes_leaves_a_short_log(tmp_path: Path) -> None:
    # Two worker processes, files limited to 64 KB: each failed bundle was a ~3 KB raw
    # traceback printed by Beam's worker and a ~5 KB line from its job service (34 KB of
    # stderr before the run's own line, on a full disk); now one line each.
    inbox, root = tmp_path / "inbox", tmp_path / "dataset"
    _long_texts(inbox, 60)
    workers = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    failed = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", "--input", str(inbox), "--output", str(root),
         *workers],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: _limited_files(64 * 1024),
    )  # fmt: skip
    assert failed.returncode == 1, failed.stderr[-3000:]
    lines = failed.stderr.splitlines()
    assert "Traceback" not in failed.stderr, failed.stderr[-3000:]
    assert all(len(line) < 1000 for line in lines), failed.stderr[-3000:]
    assert lines[-1].startswith("ERROR newsbeam: the run failed: OSError: [Errno 27]")
    assert len(list((root / failed_runs.FAILED_RUNS).iterdir())) == 1


def _failing_run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """A real run whose table writer fails (files of at most 32 KB: EFBIG, as a quota)."""
    return subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: _limited_files(FILE_LIMIT),
    )


def _a_night_that_failed(tmp_path: Path) -> tuple[Path, list[str]]:
    """A night's ROOT and command line (FAILING_TEXTS texts, --state), run once and failed in
    its table writer: the ROOT holds that failure's record."""
    inbox, root = tmp_path / "inbox", tmp_path / "dataset"
    _texts_of_few_words(inbox, FAILING_TEXTS)
    argv = ["--input", str(inbox), "--output", str(root), "--state", str(tmp_path / "state")]
    argv += ["--direct_num_workers", "1"]
    assert _failing_run(argv).returncode == 1
    return root, argv


def _report(root: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "newsbeam.pipeline", "report", "--output", str(root)]
    return subprocess.run([*command, *flags], capture_output=True, text=True, timeout=120)


def test_report_fail_on_failed_exits_3_on_a_window_with_failed_runs(tmp_path: Path) -> None:
    # An on-call check alerts on the status: 0 is "no failed run in the window", 3 "failed
    # runs" (the page still written), 1 and 2 the check's own failures.
    root, argv = _a_night_that_failed(tmp_path)
    alerted = _report(root, "--fail_on_failed")
    assert alerted.returncode == 3 == report_module.FAILED_STATUS, alerted.stderr
    assert "1 failed run in the window" in alerted.stdout
    assert "<h2>Failed runs</h2>" in (root / report_module.REPORT).read_text()
    assert _report(root).returncode == 0  # without the flag: as before
    # Spelt with dashes, as the run's and the warehouse's flags may be: the same check.
    assert _report(root, "--fail-on-failed", "--since=2000-01-01").returncode == 3
    # A night that committed after it, in a window that starts after the failure: no alert.
    after = dt.datetime.now(UTC).isoformat()
    assert newsbeam_command(*argv).returncode == 0
    assert _report(root, "--fail_on_failed", "--since", after).returncode == 0
    assert _report(root, "--fail_on_failed").returncode == 3  # the window still holds it
    helped = _report(root, "--help")
    assert "--fail_on_failed" in helped.stdout and "exit 3" in helped.stdout


def test_fail_on_failed_unrecovered_alerts_only_until_a_later_run_commits(
    tmp_path: Path,
) -> None:
    # An on-call rotation is paged for what is still broken: a night a later run recovered
    # from (it committed, reading the failed night's inputs again) is shown, not alerted.
    root, argv = _a_night_that_failed(tmp_path)
    alerted = _report(root, "--fail_on_failed=unrecovered")
    assert alerted.returncode == 3, alerted.stdout + alerted.stderr
    assert "1 failed run in the window" in alerted.stdout
    assert "not recovered: no run committed since" in alerted.stdout
    assert newsbeam_command(*argv).returncode == 0  # the next night commits
    quiet = _report(root, "--fail_on_failed=unrecovered")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "1 failed run in the window" in quiet.stdout and "recovered: a run" in quiet.stdout
    assert _report(root, "--fail-on-failed", "unrecovered").returncode == 0  # either spelling
    assert _report(root, "--fail_on_failed").returncode == 3  # alone: any failed run
    assert _report(root, "--fail_on_failed=any").returncode == 3
    # A night that fails after that commit is still broken: paged again.
    assert _failing_run(argv).returncode == 1
    again = _report(root, "--fail_on_failed", "unrecovered")
    assert again.returncode == 3, again.stdout + again.stderr
    assert "2 failed runs in the window" in again.stdout
    assert "1 of them not recovered" in again.stdout
    wrong = _report(root, "--fail_on_failed=never")
    assert wrong.returncode == 2 and "unrecovered" in wrong.stderr
    helped = _report(root, "--help")
    assert "--fail_on_failed=unrecovered" in " ".join(helped.stdout.split())


def test_a_failed_run_is_in_the_window_it_ended_in(tmp_path: Path) -> None:
    # A daily check at 08:00 over `--since` the day before at 08:00: a night that started at
    # 07:50 and failed at 08:10 was running at the first check and started before the
    # second one's window: no check ever alerted on it. A failure is seen as the run ends.
    root, _ = _a_night_that_failed(tmp_path)
    (record,) = failed_runs.read_records(str(root))
    started = dt.datetime.fromisoformat(record["started_at"])
    ended = dt.datetime.fromisoformat(record["ended_at"])
    between = started + (ended - started) / 2
    assert started < between < ended
    alerted = _report(root, "--fail_on_failed", "--since", between.isoformat())
    assert alerted.returncode == 3, alerted.stdout + alerted.stderr
    assert "1 failed run in the window" in alerted.stdout
    # The same moment in another zone is the same window.
    there = between.astimezone(dt.timezone(dt.timedelta(hours=5))).isoformat()
    assert _report(root, "--fail_on_failed", "--since", there).returncode == 3
    after = (ended + dt.timedelta(microseconds=1)).isoformat()
    assert _report(root, "--fail_on_failed", "--since", after).returncode == 2  # nothing


def test_records_are_kept_by_their_end_time_not_their_run_ids(tmp_path: Path) -> None:
    # Nights run with `--run_id a-night-N` after 250 older records whose ids sort after
    # them (`z-night-...`): kept by name, the nights' own records were the ones pruned, the
    # moment each was written, and the report showed an old failure as the latest.
    inbox, root = tmp_path / "inbox", tmp_path / "dataset"
    _texts_of_few_words(inbox, FAILING_TEXTS)
    argv = ["--input", str(inbox), "--output", str(root), "--state", str(tmp_path / "state")]
    argv += ["--direct_num_workers", "1"]  # as _a_night_that_failed: fails in its writer
    assert _failing_run([*argv, "--run_id", "a-night-1"]).returncode == 1
    folder = root / failed_runs.FAILED_RUNS
    (first,) = folder.iterdir()
    real = json.loads(first.read_text())
    weeks_ago = dt.datetime.now(UTC) - dt.timedelta(days=14)
    for number in range(250):  # ids that sort against time: z-night-000 is the latest
        start = weeks_ago - dt.timedelta(hours=number)
        copy = {**real, "run_id": f"z-night-{number:03d}", "started_at": start.isoformat()}
        copy["ended_at"] = (start + dt.timedelta(seconds=20)).isoformat()
        (folder / f"z-night-{number:03d}.{real['attempt']}.json").write_text(json.dumps(copy))
    assert _failing_run([*argv, "--run_id", "a-night-2"]).returncode == 1
    kept = {json.loads(path.read_text())["run_id"] for path in folder.iterdir()}
    assert len(kept) == failed_runs.MAX_KEPT
    expected = {"a-night-1", "a-night-2"} | {f"z-night-{n:03d}" for n in range(198)}
    assert kept == expected
    shown = _report(root)
    assert "the latest: a-night-2" in shown.stdout, shown.stdout


def test_a_commit_lists_the_failed_runs_once(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The commit listed `_failed_runs/` to say which runs failed since the last commit,
    # then again to prune the ones it superseded: on an object store, two LIST requests.
    from newsbeam.transforms.support import files

    root = tmp_path / "dataset"
    argv = ["--input", str(seeds_dir), "--output", str(root), "--direct_num_workers", "1"]
    assert entry.main([*argv, "--run_id", "night1"]) == 0
    failed_at = dt.datetime.now(UTC)
    begun = failed_runs.started_record("night2", "0000abcd", failed_at, [], None, None, None)
    failed = failed_runs.failed_record(begun, failed_at, "the run failed: OSError", 1)
    assert failed_runs.write_record(str(root), failed)
    listings: list[str] = []
    real = files.list_files

    def counted(prefix: str) -> dict[str, int]:
        listings.append(prefix)
        return real(prefix)

    monkeypatch.setattr(files, "list_files", counted)
    assert entry.main([*argv, "--run_id", "night3"]) == 0
    folder = files.join(str(root), failed_runs.FAILED_RUNS)
    assert listings.count(folder) == 1, listings
    manifest = dataset.read_manifest(str(root), "night3")
    assert manifest is not None and manifest["failed_before"][0]["run_id"] == "night2"


def test_failed_runs_records_are_pruned_to_a_bounded_history(tmp_path: Path) -> None:
    # A follow service failing all night at a one-minute interval: hundreds of records.
    root, argv = _a_night_that_failed(tmp_path)
    folder = root / failed_runs.FAILED_RUNS
    (first,) = folder.iterdir()
    real = json.loads(first.read_text())
    # 249 earlier failures of the same service, 40 days and more ago (each a real record's
    # copy under its own run id and times).
    night = dt.datetime.now(UTC) - dt.timedelta(days=40)
    for minute in range(249):
        start = night - dt.timedelta(minutes=minute + 1)
        run_id = dataset.new_run_id(start)
        copy = {**real, "run_id": run_id, "started_at": start.isoformat()}
        copy["ended_at"] = (start + dt.timedelta(seconds=20)).isoformat()
        (folder / f"{run_id}.{real['attempt']}.json").write_text(json.dumps(copy))
    # The next failure keeps the latest MAX_KEPT (all a report or a run would read).
    assert _failing_run(argv).returncode == 1
    kept = sorted(path.name for path in folder.iterdir())
    assert len(kept) == failed_runs.MAX_KEPT == 200
    assert first.name in kept
    # A commit supersedes them: those of more than KEEP_DAYS ago go, the recent ones stay
    # (the report's window shows them) and the commit's manifest names both failures.
    committed = newsbeam_command(*argv)
    assert committed.returncode == 0, committed.stderr[-3000:]
    left = list(folder.iterdir())
    assert len(left) == 2 and first in left
    (run_id,) = dataset.run_ids(str(root))
    manifest = dataset.read_manifest(str(root), run_id)
    assert manifest is not None and len(manifest["failed_before"]) == 200
    shown = _report(root)
    assert shown.returncode == 0 and "2 failed runs in the window" in shown.stdout


# Runs NewsBeam's command with a SIGTERM raised in an at-fork callback once the run's signal
# handler is in place, where Python only prints "Exception ignored" for its exception.
_SIGTERM_IN_A_FORK = """
import os, signal, sys

fired = []


def once():
    handler = signal.getsignal(signal.SIGTERM)
    if not fired and type(getattr(handler, "__self__", None)).__name__ == "RunSignals":
        fired.append(1)
        signal.raise_signal(signal.SIGTERM)


os.register_at_fork(after_in_parent=once)
sys.argv[0] = "newsbeam"
from newsbeam.pipeline.main import command

command()
"""


def test_a_sigterm_whose_exception_python_swallowed_still_stops_the_run(
    seeds_dir: Path, tmp_path: Path
) -> None:
    # Seen once in test_a_run_stopped_by_sigterm_records_itself (-n 2, a loaded machine): the
    # signal met logging's at-fork callback as the run forked; it committed, exit 0.
    inputs, root = tmp_path / "in", tmp_path / "dataset"
    write_seed_copies(seeds_dir, inputs)
    script = tmp_path / "sigterm_in_a_fork.py"
    script.write_text(_SIGTERM_IN_A_FORK)
    argv = ["--input", str(inputs), "--output", str(root), "--direct_num_workers", "2"]
    stopped = subprocess.run(
        [sys.executable, str(script), *argv], capture_output=True, text=True, timeout=300
    )
    assert "Exception ignored" in stopped.stderr  # the swallowed exception, as measured
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    assert dataset.run_ids(str(root)) == []
    (record_file,) = (root / failed_runs.FAILED_RUNS).iterdir()
    record = json.loads(record_file.read_text())
    assert record["exit_status"] == 143 and "SIGTERM" in record["cause"]


def test_a_killed_runs_record_written_by_the_next_run_keeps_the_records_bounded(
    tmp_path: Path,
) -> None:
    # A service the OOM killer kills at every restart neither fails nor commits: the run
    # that records the last one (its clean-up) prunes.
    root = tmp_path / "dataset"
    folder = root / failed_runs.FAILED_RUNS
    folder.mkdir(parents=True)
    night = dt.datetime.now(UTC) - dt.timedelta(hours=5)
    for minute in range(250):
        start = night + dt.timedelta(minutes=minute)
        begun = failed_runs.started_record(
            dataset.new_run_id(start), "0000abcd", start, ["/in"], None, None, None
        )
        record = failed_runs.failed_record(begun, None, failed_runs.killed_cause(begun), None)
        failed_runs.write_record(str(root), record)
    killed_at = dt.datetime.now(UTC)
    killed = failed_runs.started_record(
        dataset.new_run_id(killed_at), "0000dcba", killed_at, ["/in"], None, None, None
    )
    staging = Path(dataset.staging_dir(str(root), killed["run_id"], killed["attempt"]))
    staging.mkdir(parents=True)
    (staging / failed_runs.STARTED).write_text(json.dumps(killed))
    (line,) = dataset.recover(str(root), found_by="next")
    assert "recorded as a failed run" in line
    kept = sorted(path.name for path in folder.iterdir())
    assert len(kept) == failed_runs.MAX_KEPT
    assert kept[-1] == f"{killed['run_id']}.{killed['attempt']}.json"


def test_a_killed_runs_record_is_a_warehouse_row_with_no_end() -> None:
    start = dt.datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    begun = failed_runs.started_record("r1", "0000abcd", start, ["/in"], ["http://f"], [], None)
    killed = failed_runs.failed_record(
        begun, None, failed_runs.killed_cause(begun), None, found_by="r2"
    )
    now = dt.datetime(2026, 12, 5, 9, tzinfo=UTC)
    row = dict(zip(warehouse.FAILED_COLUMNS, warehouse.failed_run_row(killed, now), strict=True))
    assert row["run_id"] == "r1" and row["started_at"] == start and row["ended_at"] is None
    assert row["exit_status"] is None and row["found_by"] == "r2" and "SIGKILL" in row["cause"]
    assert row["inputs"] == 1 and row["feeds"] == 1 and row["loaded_at"] == now


def test_the_warehouse_loads_the_failed_runs_and_keeps_them(tmp_path: Path) -> None:
    # An on-call dashboard over the warehouse sees the failed nights beside the loads.
    db = tmp_path / "news.duckdb"
    root, argv = _a_night_that_failed(tmp_path)
    assert newsbeam_command(*argv).returncode == 0
    (record_file,) = (root / failed_runs.FAILED_RUNS).iterdir()
    record = json.loads(record_file.read_text())
    loaded = newsbeam_command("warehouse", "--output", str(root), "--db", str(db))
    assert loaded.returncode == 0, loaded.stderr
    assert "1 failed run added to _newsbeam_failed_runs" in loaded.stdout
    query = (
        "SELECT f.run_id, f.exit_status, f.stage, f.cause, f.ended_at < l.finished_at "
        "FROM _newsbeam_failed_runs f, _newsbeam_loads l"
    )
    with duckdb.connect(str(db)) as con:
        ((run_id, status, stage, cause, committed_after),) = con.execute(query).fetchall()
    assert (run_id, status, stage) == (record["run_id"], 1, record["stage"])
    assert cause == record["cause"] and committed_after
    # Loaded once; kept when ROOT prunes the record.
    record_file.unlink()
    again = newsbeam_command("warehouse", "--output", str(root), "--db", str(db))
    assert again.returncode == 0 and "failed run" not in again.stdout
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT count(*) FROM _newsbeam_failed_runs").fetchone() == (1,)


def test_a_night_killed_outright_alerts_before_any_later_run(
    seeds_dir: Path, tmp_path: Path
) -> None:
    # The OOM killer at 3 a.m., the check at 8 a.m. over a window that holds yesterday's
    # committed night: no later run has written the killed night's record yet.
    root = tmp_path / "dataset"
    argv = ["--input", str(seeds_dir), "--output", str(root), "--run_id", "night1"]
    assert newsbeam_command(*argv).returncode == 0
    argv[-1] = "night2"
    _killed_outright(argv)
    alerted = _report(root, "--fail_on_failed")
    assert alerted.returncode == 3, alerted.stdout + alerted.stderr
    assert "1 failed run in the window" in alerted.stdout and "night2" in alerted.stdout
    assert "not recorded yet" in alerted.stdout
    # ROOT's state now, not its history: shown in a window that starts after it started.
    now = dt.datetime.now(UTC).isoformat()
    assert _report(root, "--fail_on_failed", "--since", now).returncode == 3
    assert not (root / failed_runs.FAILED_RUNS).exists()  # the report writes no record
    # The next run records it: shown once, as recorded.
    argv[-1] = "night3"
    assert newsbeam_command(*argv).returncode == 0
    shown = _report(root, "--fail_on_failed")
    assert shown.returncode == 3 and "1 failed run in the window" in shown.stdout
    assert "not recorded yet" not in shown.stdout


def test_a_run_in_progress_is_no_killed_run_to_the_report(seeds_dir: Path, tmp_path: Path) -> None:
    root, inputs = tmp_path / "dataset", tmp_path / "in"
    assert newsbeam_command("--input", str(seeds_dir), "--output", str(root)).returncode == 0
    write_seed_copies(seeds_dir, inputs, copies=1)
    # Held in progress until the report has looked (before: a run of 200 files that could
    # end first on a loaded host, and the test then passed without a run in progress).
    run = stopped_at("output-staged", "--input", str(inputs), "--output", str(root))
    try:
        assert list((root / dataset.STAGING).glob(f"*/{failed_runs.STARTED}"))
        shown = _report(root, "--fail_on_failed")  # its lock is held: it is running
        assert shown.returncode == 0 and "failed run" not in shown.stdout, shown.stdout
    finally:
        run.send_signal(signal.SIGCONT)
        run.terminate()
        run.communicate(timeout=120)
