"""Nothing lost, nothing hung (issue 18): run locks, nested folders, what counts as an
output, state that verifies itself, and a commit that survives a kill at any step."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from newsbeam.pipeline import main as entry
from newsbeam.pipeline.lock import LockHeld, RunLock, is_stale, lock_path
from newsbeam.pipeline.run import UsageError, check_paths, is_newsbeam_manifest, nested
from newsbeam.schemas import STATE_MARKER
from newsbeam.transforms.support.state import (
    CRASH_ENV,
    StateError,
    file_record,
    integrity_problems,
    recover_commits,
    recover_leftovers,
    verify_state,
)
from tests.helpers import wait_for, write_seed_copies

UTC = dt.timezone.utc
SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _ids(folder: Path) -> list[str]:
    files = sorted(folder.glob("*.parquet"))
    return sorted(
        i for f in files for i in pq.read_table(f, columns=["article_id"])["article_id"].to_pylist()
    )


# --- 1. Locks ------------------------------------------------------------------------------


def test_staleness_rules() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=UTC)
    later = (now + dt.timedelta(minutes=5)).isoformat()
    holder = {"host": "here", "pid": 42, "expires_at": later}
    assert not is_stale(holder, now, "here", alive=lambda pid: True)
    assert is_stale(holder, now, "here", alive=lambda pid: False)  # its process is gone
    assert not is_stale(holder, now, "elsewhere", alive=lambda pid: False)  # cannot tell
    assert is_stale(holder, now + dt.timedelta(minutes=6), "elsewhere")  # heartbeat expired
    assert is_stale({"pid": "x"}, now, "here")  # unreadable: a run killed while writing it


def test_a_held_lock_refuses_and_names_its_holder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with RunLock_held([target]):
        other = RunLock([target])
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            other.acquire()
        assert lock_path(target).exists()
    assert not lock_path(target).exists()  # released


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
        first = json.loads(lock_path(target).read_text())["heartbeat_at"]
        time.sleep(0.35)
        assert json.loads(lock_path(target).read_text())["heartbeat_at"] > first
        lock.check()
        lock_path(target).write_text(json.dumps({"host": "x", "pid": 1, "token": "other"}))
        with pytest.raises(LockHeld, match="taken over"):
            lock.check()
    assert lock_path(target).exists()  # not ours any more: left alone


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
    wait_for(tmp_path, ".state.newsbeam-*.tmp")
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
        assert second.returncode == 2, second.stderr
        assert f"{folder} is in use by another NewsBeam run" in second.stderr
        assert f"pid {first.pid}" in second.stderr
    assert not (tmp_path / "other").exists()
    assert not list(tmp_path.glob(".*.newsbeam.lock"))  # the first run released its locks
    manifest = json.loads((output / "manifest.json").read_text())
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
        check_paths(out, out / "state")
    check_paths(out, None)


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


# --- 4. An output is recognised by its manifest's content ------------------------------------


def test_a_web_app_folder_is_not_an_output(seeds_dir: Path, tmp_path: Path, capsys) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "index.html").write_text("<html></html>")
    (app / "manifest.json").write_text(json.dumps({"name": "App", "icons": []}))
    before = _snapshot(app)
    assert entry.main(["--input", str(seeds_dir), "--output", str(app)]) == 2
    assert "does not look like a NewsBeam output" in capsys.readouterr().err
    assert _snapshot(app) == before
    assert not is_newsbeam_manifest({"schema_version": "1", "counts": {"inputs": 1}})
    assert not is_newsbeam_manifest([1, 2])


def test_an_output_is_replaced_by_the_next_run(seeds_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "o"
    assert entry.main(["--input", str(seeds_dir), "--output", str(output)]) == 0
    assert is_newsbeam_manifest(json.loads((output / "manifest.json").read_text()))
    assert entry.main(["--input", str(seeds_dir), "--output", str(output)]) == 0


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
    marker = json.loads((committed_state / STATE_MARKER).read_text())
    assert marker["files"] == file_record(str(committed_state))
    assert any(name.startswith("dedup/articles/") for name in marker["files"])
    assert verify_state(str(committed_state), marker) is True
    assert integrity_problems(str(committed_state), marker["files"]) == []


@pytest.mark.parametrize("damage", ["delete_dedup", "flip_byte", "extra_file"])
def test_damaged_state_is_refused_and_left_alone(
    committed_state: Path, seeds_dir: Path, tmp_path: Path, damage: str, capsys
) -> None:
    state = _copy(committed_state, tmp_path)
    articles = sorted((state / "dedup" / "articles").glob("*.parquet"))
    if damage == "delete_dedup":
        import shutil

        shutil.rmtree(state / "dedup")
    elif damage == "flip_byte":
        data = bytearray(articles[0].read_bytes())
        data[len(data) // 2] ^= 0x01
        articles[0].write_bytes(bytes(data))
    else:
        (state / "dedup" / "articles" / "part-extra.parquet").write_bytes(articles[0].read_bytes())
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
    marker = json.loads((state / STATE_MARKER).read_text())
    del marker["files"]
    (state / STATE_MARKER).write_text(json.dumps(marker))
    argv = ["--input", str(seeds_dir), "--output", str(tmp_path / "o"), "--state", str(state)]
    assert entry.main(argv) == 0
    assert "has no file record" in caplog.text
    marker = json.loads((state / STATE_MARKER).read_text())
    assert verify_state(str(state), marker) is True
    with pytest.raises(StateError, match="unreadable file record"):
        verify_state(str(state), {"files": ["x"]})


# --- 2. A kill at any step of the commit -------------------------------------------------------

STEPS_BEFORE_JOURNAL = ["output-staged", "state-staged"]
STEPS_AFTER_JOURNAL = [
    "journal-written",
    "output-aside",
    "output-in-place",
    "output-old-removed",
    "state-aside",
    "state-in-place",
    "state-old-removed",
    "journal-removed",
]


def _outcome(root: Path) -> dict[str, list[str]]:
    return {
        "articles": _ids(root / "o" / "articles"),
        "duplicates": _ids(root / "o" / "duplicates"),
        "state": _ids(root / "s" / "dedup" / "articles"),
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
    argv_b += ["--state", str(reference / "s")]
    assert entry.main(argv_b) == 0
    once = _outcome(reference)
    assert entry.main(argv_b) == 0
    twice = _outcome(reference)
    assert once != twice
    return {"second": second, "after_a": after_a, "once": once, "twice": twice}


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS_BEFORE_JOURNAL + STEPS_AFTER_JOURNAL)
def test_a_kill_at_any_step_of_the_commit(crash_runs: dict, tmp_path: Path, step: str) -> None:
    import shutil

    root = tmp_path / "run"
    shutil.copytree(crash_runs["after_a"], root)
    previous = json.loads((root / "o" / "manifest.json").read_text())["finished_at"]
    argv = ["--input", str(crash_runs["second"]), "--output", str(root / "o")]
    argv += ["--state", str(root / "s")]
    killed = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, CRASH_ENV: step},
    )
    assert killed.returncode == 137, killed.stderr
    # What the next run does first: complete a journaled commit, roll back the rest.
    for target in (root / "o", root / "s"):
        recover_commits(target)
    for target in (root / "o", root / "s"):
        recover_leftovers(target)
    # Nothing left, none missing (the killed run's locks stay until a run takes them over).
    left = sorted(p.name for p in root.iterdir() if not p.name.endswith(".newsbeam.lock"))
    assert left == ["o", "s"]
    finished = json.loads((root / "o" / "manifest.json").read_text())["finished_at"]
    marker = json.loads((root / "s" / STATE_MARKER).read_text())
    assert marker["last_run"] == finished, "output and state of different runs"
    assert verify_state(str(root / "s"), marker)
    rolled_forward = step in STEPS_AFTER_JOURNAL
    assert (finished != previous) == rolled_forward
    if rolled_forward:
        assert _outcome(root) == crash_runs["once"]
    # The operator reruns the same command: as if the kill had not happened.
    assert entry.main(argv) == 0
    assert _outcome(root) == crash_runs["twice" if rolled_forward else "once"]
    assert sorted(p.name for p in root.iterdir()) == ["o", "s"]
