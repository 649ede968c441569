"""Nothing lost, nothing hung (issues 18 and 11): run locks, nested folders, what counts as
a dataset, state that verifies itself, and a commit that survives a kill at any step."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from newsbeam.pipeline import dataset
from newsbeam.pipeline import main as entry
from newsbeam.pipeline import run as run_module
from newsbeam.pipeline.lock import LockHeld, RunLock, is_stale, lock_path, process_identity
from newsbeam.pipeline.run import UsageError, check_paths, nested
from newsbeam.schemas import STATE_MARKER
from newsbeam.transforms.support.state import (
    CRASH_ENV,
    StateError,
    file_record,
    integrity_problems,
    read_current,
    verify_state,
    version_dir,
)
from tests.helpers import newsbeam_command, wait_for, write_seed_copies

UTC = dt.timezone.utc
SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _ids(files: list[str]) -> list[str]:
    return sorted(
        i for f in files for i in pq.read_table(f, columns=["article_id"])["article_id"].to_pylist()
    )


def _committed_ids(root: Path, table: str) -> list[str]:
    """Article ids of `table` over every committed run of the dataset `root`."""
    paths = [
        path
        for manifest in dataset.committed_runs(str(root))
        for path in dataset.data_files(str(root), manifest, table)
    ]
    return _ids(paths)


def _state_version(state: Path) -> Path:
    current = read_current(str(state))
    assert current is not None
    return Path(version_dir(str(state), current["version"]))


# --- 1. Locks ------------------------------------------------------------------------------


def test_staleness_rules() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=UTC)
    later = (now + dt.timedelta(minutes=5)).isoformat()
    holder = {"host": "here", "pid": 42, "expires_at": later}
    assert not is_stale(holder, now, "here", alive=lambda pid, identity: True)
    assert is_stale(holder, now, "here", alive=lambda pid, identity: False)  # its process is gone
    assert not is_stale(holder, now, "elsewhere", alive=lambda pid, identity: False)  # cannot tell
    assert is_stale(holder, now + dt.timedelta(minutes=6), "elsewhere")  # heartbeat expired
    assert is_stale({"pid": "x"}, now, "here")  # unreadable: a run killed while writing it


@pytest.mark.skipif(not Path("/proc/self/ns/pid").exists(), reason="Linux /proc")
def test_a_holder_is_its_process_not_its_pid() -> None:
    # Before, a lock whose pid was alive was held: a later process given that pid (PID 1
    # of a restarted container with the same host name) or a run killed and not yet reaped
    # kept the next run out until the heartbeat expired (5 minutes).
    now = dt.datetime.now(UTC)
    host = socket.gethostname()
    own = process_identity(os.getpid())
    assert own is not None and own.startswith("pid:[")

    def holder(pid: int, identity: str | None) -> dict:
        later = (now + dt.timedelta(minutes=5)).isoformat()
        return {"host": host, "pid": pid, "process": identity, "expires_at": later}

    assert not is_stale(holder(os.getpid(), own), now, host)  # this very process: held
    namespace, started = own.split(" ")
    reused = f"{namespace} {int(started) - 1}"  # the pid, but a process started before
    assert is_stale(holder(os.getpid(), reused), now, host)
    other_namespace = f"pid:[1] {started}"  # another container: only the heartbeat tells
    assert not is_stale(holder(os.getpid(), other_namespace), now, host)
    child = os.fork()
    if child == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while process_identity(child) != "zombie" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert is_stale(holder(child, None), now, host)  # ended, not reaped yet
    finally:
        os.waitpid(child, 0)


def test_a_held_lock_refuses_and_names_its_holder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with RunLock_held([target]):
        other = RunLock([target])
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            other.acquire()
        assert lock_path(target).exists()
    assert not lock_path(target).exists()  # released


def test_a_lock_being_written_is_never_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lock was created empty (open "x") and its content written after: a run that read
    # it in between found it unreadable, so stale, and took it over from the live run; both
    # then ran (the first failing only at its commit). A full disk left it empty for good.
    # Here the first run's write waits until the second has tried, so that the second
    # always reads in that window (a sleep of 0.3 s against one of 0.6 s in the writer: on a
    # busy host the writer could reach its write only after the second had tried, and the
    # test then passed without the window).
    writing, second_tried = threading.Event(), threading.Event()

    def slowly(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name == "first":
                writing.set()
                second_tried.wait(30)
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(json, "dump", slowly(json.dump))
    monkeypatch.setattr(json, "dumps", slowly(json.dumps))
    target = tmp_path / "out"
    first, second = RunLock([target]), RunLock([target])
    held: dict[str, bool] = {}

    def take(lock: RunLock, name: str) -> None:
        try:
            lock.acquire()
            held[name] = True
        except LockHeld:
            held[name] = False

    writer = threading.Thread(target=take, args=(first, "first"), name="first")
    writer.start()
    assert writing.wait(30)  # the first run is writing its lock
    take(second, "second")
    second_tried.set()
    writer.join()
    try:
        assert sorted(held.values()) == [False, True], held  # exactly one holds it
    finally:
        first.release()
        second.release()
    assert not list(tmp_path.iterdir())  # nothing left beside the folder


def _heartbeat(target: Path) -> str:
    return json.loads(lock_path(target).read_text())["heartbeat_at"]


def _soon(condition: Callable[[], bool], seconds: float = 30) -> bool:
    """Whether `condition` (the heartbeat thread's work) comes true within `seconds`: a
    deadline generous for a loaded host, where a fixed sleep of a few beats raced the
    thread; a heartbeat that never comes still fails."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class RunLock_held:  # noqa: N801 - a tiny context manager for the tests
    def __init__(self, targets: list[Path], ttl: float = 300) -> None:
        self.lock = RunLock(targets, ttl)

    def __enter__(self) -> RunLock:
        self.lock.acquire()
        return self.lock

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_a_dead_or_expired_holder_is_taken_over(tmp_path: Path) -> None:
    target = tmp_path / "state"
    now = dt.datetime.now(UTC)
    dead = {
        "host": socket.gethostname(),
        "pid": _dead_pid(),
        "token": "t",
        "started_at": now.isoformat(),
        "heartbeat_at": now.isoformat(),
        "expires_at": (now + dt.timedelta(hours=1)).isoformat(),
    }
    lock_path(target).write_text(json.dumps(dead))
    with RunLock_held([target]) as lock:
        assert json.loads(lock_path(target).read_text())["token"] == lock.token
    expired = {**dead, "host": "another-host", "pid": 1, "expires_at": now.isoformat()}
    lock_path(target).write_text(json.dumps(expired))
    with RunLock_held([target]) as lock:
        assert json.loads(lock_path(target).read_text())["token"] == lock.token


def test_the_heartbeat_renews_and_a_taken_over_lock_is_noticed(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with RunLock_held([target], ttl=0.4) as lock:
        first = _heartbeat(target)
        assert _soon(lambda: _heartbeat(target) > first)
        lock.check()
        lock_path(target).write_text(json.dumps({"host": "x", "pid": 1, "token": "other"}))
        with pytest.raises(LockHeld, match="taken over"):
            lock.check()
    assert lock_path(target).exists()  # not ours any more: left alone


def _cannot_renew(record: logging.LogRecord) -> bool:
    return record.name == "newsbeam" and record.getMessage().startswith("could not renew")


def test_a_heartbeat_that_cannot_be_written_is_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The lock's folder made read-only (or full) mid-run: the heartbeat thread ended with a
    # traceback ("Exception in thread newsbeam-lock") and never renewed the lock again.
    # A folder where the heartbeat writes its next version fails that write here, as a
    # read-only filesystem does (root ignores a folder's permissions).
    target = tmp_path / "out"
    with RunLock_held([target], ttl=0.2) as lock:
        path = lock_path(target)
        blocker = path.with_name(f"{path.name}.{lock.token}")
        blocker.mkdir()
        assert _soon(lambda: any(_cannot_renew(r) for r in list(caplog.records)))
        time.sleep(0.3)  # more beats fail (said once), however many a busy host runs
        assert lock._thread is not None and lock._thread.is_alive()
        stuck = _heartbeat(target)
        blocker.rmdir()  # writable again: renewed at the next beat
        assert _soon(lambda: _heartbeat(target) > stuck)
        lock.check()  # still this run's lock
    assert not path.exists()
    warnings = [r.getMessage() for r in caplog.records if r.name == "newsbeam"]
    assert len([r for r in caplog.records if _cannot_renew(r)]) == 1
    assert any(w.startswith("renewed the lock") for w in warnings)


def test_a_link_planted_under_the_heartbeats_file_name_is_not_written_through(
    tmp_path: Path,
) -> None:
    # The lock (readable by all) holds the token, which names the file the next heartbeat
    # writes: in a shared folder, a link planted under that name made the heartbeat write
    # the lock's JSON into the file the link named (review 69).
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    target = tmp_path / "shared" / "out"
    with RunLock_held([target], ttl=0.2) as lock:
        path = lock_path(target)
        token = json.loads(path.read_text())["token"]
        first = _heartbeat(target)
        path.with_name(f"{path.name}.{token}").symlink_to(victim)
        assert _soon(lambda: _heartbeat(target) > first)  # renewed all the same
        assert victim.read_text() == "precious\n"
        assert not path.is_symlink()
        lock.check()
    assert victim.read_text() == "precious\n"


@pytest.mark.slow
def test_two_real_runs_on_the_same_folders(seeds_dir: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    write_seed_copies(seeds_dir, inputs)  # long enough to act on mid-run
    output, state = tmp_path / "out", tmp_path / "state"
    command = [sys.executable, "-m", "newsbeam.pipeline", "--input", str(inputs)]
    first = subprocess.Popen(
        [*command, "--output", str(output), "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(tmp_path, ".state.newsbeam.lock")  # the first run holds its locks
    assert first.poll() is None, "the first run ended before the second started"
    same_state = subprocess.run(
        [*command, "--output", str(tmp_path / "other"), "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    same_output = subprocess.run(
        [*command, "--output", str(output)], capture_output=True, text=True, timeout=120
    )
    assert first.poll() is None, "the first run ended before the second ones did"
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    for second, folder in ((same_state, state), (same_output, output)):
        assert second.returncode == 75, second.stderr  # busy: run again later (review 88)
        assert f"{folder} is in use by another NewsBeam run" in second.stderr
        assert f"pid {first.pid}" in second.stderr
    assert not (tmp_path / "other").exists()
    assert not list(tmp_path.glob(".*.newsbeam.lock"))  # the first run released its locks
    (manifest,) = dataset.committed_runs(str(output))
    assert manifest["counts"]["articles"] + manifest["counts"]["duplicates"] == 200


# --- 3. Nested output and state ---------------------------------------------------------------


def test_nested_folders_are_refused_either_way(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert nested(out, out / "state") and nested(out / "state", out) and nested(out, out)
    assert not nested(out, tmp_path / "o2")
    link = tmp_path / "link"
    link.symlink_to(tmp_path, target_is_directory=True)
    assert nested(out, link / "o" / "s")
    with pytest.raises(UsageError, match="neither inside the other"):
        check_paths(str(out), str(out / "state"))
    with pytest.raises(UsageError, match="neither inside the other"):
        check_paths("s3://bucket/news", "s3://bucket/news/state")
    check_paths("s3://bucket/news", "s3://bucket/news-state")
    check_paths(str(out), None)


def test_a_run_with_nested_folders_changes_nothing(seeds_dir: Path, tmp_path: Path, capsys) -> None:
    output = tmp_path / "o"
    assert entry.main(["--input", str(seeds_dir), "--output", str(output)]) == 0
    before = _snapshot(output)
    for out, state in ((output, output / "state"), (tmp_path / "s" / "o", tmp_path / "s")):
        argv = ["--input", str(seeds_dir), "--output", str(out), "--state", str(state)]
        assert entry.main(argv) == 2
        assert "neither inside the other" in capsys.readouterr().err
    assert _snapshot(output) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


# --- 4. A dataset is recognised by its marker's content --------------------------------------


def test_a_web_app_folder_is_not_a_dataset(seeds_dir: Path, tmp_path: Path, capsys) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "index.html").write_text("<html></html>")
    (app / "manifest.json").write_text(json.dumps({"name": "App", "icons": []}))
    before = _snapshot(app)
    assert entry.main(["--input", str(seeds_dir), "--output", str(app)]) == 2
    assert "does not look like a NewsBeam dataset" in capsys.readouterr().err
    assert _snapshot(app) == before


def test_an_output_that_is_a_file_is_a_usage_error(seeds_dir: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert entry.main(["--input", str(seeds_dir), "--output", str(target)]) == 2
    assert f"--output {target} is a file" in capsys.readouterr().err
    assert target.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_an_older_run_folder_is_refused_with_the_way_out(
    seeds_dir: Path, tmp_path: Path, capsys
) -> None:
    old = tmp_path / "old"
    (old / "articles").mkdir(parents=True)
    manifest = {"schema_version": "3", "counts": {"inputs": 0}, "tables": {}}
    (old / "manifest.json").write_text(json.dumps(manifest))
    before = _snapshot(old)
    assert entry.main(["--input", str(seeds_dir), "--output", str(old)]) == 2
    assert "single-run output folder of an older NewsBeam" in capsys.readouterr().err
    assert _snapshot(old) == before


def test_runs_add_to_the_dataset(seeds_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "o"
    assert entry.main(["--input", str(seeds_dir), "--output", str(output)]) == 0
    assert entry.main(["--input", str(seeds_dir), "--output", str(output)]) == 0
    runs = dataset.committed_runs(str(output))
    assert len(runs) == 2 and all(run["counts"]["articles"] == 5 for run in runs)
    assert len(_committed_ids(output, "articles")) == 10  # no state: each run kept all five


# --- 5. State verifies itself ----------------------------------------------------------------


@pytest.fixture(scope="module")
def committed_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    seeds_dir = SEEDS
    root = tmp_path_factory.mktemp("committed")
    argv = ["--input", str(seeds_dir), "--output", str(root / "o"), "--state", str(root / "s")]
    assert entry.main(argv) == 0
    return root / "s"


def _copy(state: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "state"
    shutil.copytree(state, copy)
    return copy


def test_the_marker_records_every_table_file(committed_state: Path) -> None:
    version = _state_version(committed_state)
    marker = json.loads((version / STATE_MARKER).read_text())
    assert marker["files"] == file_record(str(version))
    assert any(name.startswith("dedup/articles/") for name in marker["files"])
    assert verify_state(str(version), marker) is True
    assert integrity_problems(str(version), marker["files"]) == []


@pytest.mark.parametrize("damage", ["delete_dedup", "flip_byte", "extra_file"])
def test_damaged_state_is_refused_and_left_alone(
    committed_state: Path, seeds_dir: Path, tmp_path: Path, damage: str, capsys
) -> None:
    state = _copy(committed_state, tmp_path)
    version = _state_version(state)
    articles = sorted((version / "dedup" / "articles").glob("*.parquet"))
    if damage == "delete_dedup":
        import shutil

        shutil.rmtree(version / "dedup")
    elif damage == "flip_byte":
        data = bytearray(articles[0].read_bytes())
        data[len(data) // 2] ^= 0x01
        articles[0].write_bytes(bytes(data))
    else:
        extra = version / "dedup" / "articles" / "part-extra.parquet"
        extra.write_bytes(articles[0].read_bytes())
    before = _snapshot(state)
    argv = ["--input", str(seeds_dir), "--output", str(tmp_path / "o"), "--state", str(state)]
    assert entry.main(argv) == 2
    err = capsys.readouterr().err
    assert "is damaged" in err
    assert {
        "delete_dedup": "is missing",
        "flip_byte": "has changed",
        "extra_file": "not in the record",
    }[damage] in err
    assert _snapshot(state) == before
    assert not (tmp_path / "o").exists()


def test_state_without_a_record_is_read_once_then_recorded(
    committed_state: Path, seeds_dir: Path, tmp_path: Path, caplog
) -> None:
    state = _copy(committed_state, tmp_path)
    marker_path = _state_version(state) / STATE_MARKER
    marker = json.loads(marker_path.read_text())
    del marker["files"]
    marker_path.write_text(json.dumps(marker))
    argv = ["--input", str(seeds_dir), "--output", str(tmp_path / "o"), "--state", str(state)]
    assert entry.main(argv) == 0
    assert "has no file record" in caplog.text
    marker = json.loads((_state_version(state) / STATE_MARKER).read_text())
    assert verify_state(str(_state_version(state)), marker) is True
    with pytest.raises(StateError, match="unreadable file record"):
        verify_state(str(state), {"files": ["x"]})


# --- 2. A kill at any step of the commit -------------------------------------------------------
# The commit's steps (pipeline/dataset.py, transforms/support/state.py): before the manifest
# the run never happened; from the manifest on it did, and the next run finishes it.

STEPS_BEFORE_MANIFEST = ["output-staged", "state-staged", "intent-written", "files-moved"]
STEPS_AFTER_MANIFEST = ["manifest-written", "state-published"]


def _outcome(root: Path) -> dict[str, list[str]]:
    return {
        "articles": _committed_ids(root / "o", "articles"),
        "duplicates": _committed_ids(root / "o", "duplicates"),
        "state": _ids(
            [str(p) for p in (_state_version(root / "s") / "dedup" / "articles").glob("*.parquet")]
        ),
    }


@pytest.fixture(scope="module")
def crash_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Inputs A and B; the folders after A; the outcomes of A then B, and A then B twice."""
    seeds_dir = SEEDS
    root = tmp_path_factory.mktemp("crash")
    first, second = root / "a", root / "b"
    first.mkdir()
    second.mkdir()
    seeds = sorted(seeds_dir.iterdir())
    for seed in seeds[:3]:
        (first / seed.name).write_text(seed.read_text())
    for seed in seeds[2:]:  # one shared with A: a duplicate against A's state
        (second / seed.name).write_text(seed.read_text())
    after_a = root / "after_a"
    argv_a = ["--input", str(first), "--output", str(after_a / "o"), "--state", str(after_a / "s")]
    assert entry.main(argv_a) == 0
    import shutil

    reference = root / "ref"
    shutil.copytree(after_a, reference)
    argv_b = ["--input", str(second), "--output", str(reference / "o")]
    argv_b += ["--state", str(reference / "s"), "--run_id", "b"]
    assert entry.main(argv_b) == 0
    once = _outcome(reference)
    # B's files are new to the state only once: the same inputs again add nothing.
    argv_c = [*argv_b[:-1], "c"]
    assert entry.main(argv_c) == 0
    twice = _outcome(reference)
    assert once["articles"] == twice["articles"] and once["state"] == twice["state"]
    return {"second": second, "after_a": after_a, "once": once, "twice": twice}


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS_BEFORE_MANIFEST + STEPS_AFTER_MANIFEST)
def test_a_kill_at_any_step_of_the_commit(
    crash_runs: dict, tmp_path: Path, step: str, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    root = tmp_path / "run"
    shutil.copytree(crash_runs["after_a"], root)
    before = _outcome(root)
    argv = ["--input", str(crash_runs["second"]), "--output", str(root / "o")]
    argv += ["--state", str(root / "s"), "--run_id", "b"]
    killed = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, CRASH_ENV: step},
    )
    assert killed.returncode == 137, killed.stderr
    committed = step in STEPS_AFTER_MANIFEST
    # What readers see before any recovery: the manifest decides.
    assert (dataset.read_manifest(str(root / "o"), "b") is not None) == committed
    assert {k: v for k, v in _outcome(root).items() if k != "state"} == {
        k: v for k, v in (crash_runs["once"] if committed else before).items() if k != "state"
    }
    # The operator runs the same command again (same run id): as if the kill had not
    # happened: B's rows once, state and output of the same run.
    assert entry.main(argv) == 0
    assert _outcome(root) == crash_runs["once"]
    # Killed after its manifest, the version the run wrote is published by this run's
    # recovery: the state was never "behind" (that warning, "restored from a backup? the
    # articles ... are added again", was logged before the recovery put it right).
    assert "is behind --output" not in caplog.text
    # Killed before its manifest: the run is recorded as failed by the next (review 88).
    recorded = [] if committed else ["_failed_runs"]
    assert sorted(p.name for p in (root / "o").iterdir()) == sorted(
        ["_newsbeam_dataset.json", "_runs", "articles", "duplicates", "rejected", "feed_health"]
        + recorded
    )
    assert sorted(p.name for p in (root / "s" / "versions").iterdir()) == sorted(
        [read_current(str(root / "s"))["version"], read_current(str(root / "s"))["previous"]]
    )
    manifest = dataset.read_manifest(str(root / "o"), "b")
    assert manifest is not None
    marker = json.loads((_state_version(root / "s") / STATE_MARKER).read_text())
    assert (marker["run_id"], marker["attempt"]) == (manifest["run_id"], manifest["attempt"])
    # Every data file under ROOT is one a manifest lists: nothing left behind.
    listed = {p for m in dataset.committed_runs(str(root / "o")) for p in dataset.all_paths(m)}
    on_disk = {str(p.relative_to(root / "o")) for p in (root / "o").rglob("*.parquet")}
    assert on_disk == listed


def test_a_run_leaves_nothing_in_the_temporary_folder(seeds_dir: Path, tmp_path: Path) -> None:
    # The whole command: Beam's scratch folder, the progress taps, the staged report, the
    # worker template's socket, its workers and the report process all clean up after. A
    # deep temporary folder (too deep for a Unix socket's path) failed the run once.
    scratch = tmp_path / ("t" * 80)
    scratch.mkdir()
    # On two worker processes whatever the load (the default stays in one on a busy host).
    workers = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    output = str(tmp_path / "out")
    completed = newsbeam_command("--input", str(seeds_dir), "--output", output, *workers,
                                 tmpdir=scratch)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert sorted(p.name for p in scratch.iterdir()) == []


def test_a_run_that_fails_before_its_stages_leaves_nothing_behind(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    built: list[str] = []

    def failing_build(pipeline: Any, config: Any) -> None:
        built.append(pipeline.local_tempdir)
        raise RuntimeError("no graph today")

    monkeypatch.setattr(run_module, "build", failing_build)
    assert entry.main(["--input", str(seeds_dir), "--output", str(tmp_path / "out")]) == 1
    assert "the run failed: RuntimeError: no graph today" in caplog.text
    assert built and built[0].startswith(str(scratch))  # Beam made its scratch folder there
    assert sorted(p.name for p in scratch.iterdir()) == []


def _as_a_user(*argv: str) -> list[str]:
    """The command, run without root's power over file permissions (as a user runs it)."""
    command = [sys.executable, "-m", "newsbeam.pipeline", *argv]
    if os.geteuid() != 0:
        return command
    powers = "-dac_override,-dac_read_search,-fowner"
    return ["setpriv", f"--bounding-set={powers}", f"--inh-caps={powers}", *command]


@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None, reason="root, and no setpriv"
)
def test_folders_it_cannot_write_or_read_are_refused_before_anything_runs(
    seeds_dir: Path, tmp_path: Path
) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    assert (
        entry.main(["--input", str(seeds_dir), "--output", str(root), "--state", str(state)]) == 0
    )

    def newsbeam(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_as_a_user(*argv), capture_output=True, text=True, timeout=300)

    try:
        # A read-only ROOT or state: refused at once (the stages ran whole, then the
        # commit failed with a traceback, exit 1).
        for folder, flag in ((root, "--output"), (state, "--state")):
            folder.chmod(0o555)
            ran = newsbeam("--input", str(seeds_dir), "--output", str(root), "--state", str(state))
            folder.chmod(0o755)
            assert ran.returncode == 2, ran.stderr
            assert f"newsbeam: {flag} {folder}: cannot write in {folder} (Permission denied)" in (
                ran.stderr
            )
            assert "Traceback" not in ran.stderr and not (root / "_staging").exists()
        # The report over a read-only ROOT says where else to write it; a folder is no file.
        root.chmod(0o555)
        report = newsbeam("report", "--output", str(root))
        assert report.returncode == 1 and "Traceback" not in report.stderr
        assert "Permission denied (--report FILE writes it elsewhere)" in report.stderr
        report = newsbeam("report", "--output", str(root), "--report", str(tmp_path))
        assert report.returncode == 2 and "is a folder" in report.stderr
        assert not list(tmp_path.glob("*.partial-*"))
        # An unreadable ROOT is not "no dataset marker".
        root.chmod(0o000)
        for command in (["report"], ["warehouse", "--db", str(tmp_path / "w.duckdb")]):
            read = newsbeam(*command, "--output", str(root))
            assert read.returncode == 2
            assert f"cannot read {root} (Permission denied)" in read.stderr, read.stderr
    finally:
        for folder in (root, state):
            folder.chmod(0o755)
