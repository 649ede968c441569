"""The command's temporary files in one folder of its own, swept after a SIGKILL
(pipeline/scratch.py): a scheduled machine's $TMPDIR does not fill with killed runs' files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from newsbeam.pipeline import lock, scratch
from tests.helpers import newsbeam_command, wait_for


def _never_alive(pid: int, identity: str | None) -> bool:
    return False


def _always_alive(pid: int, identity: str | None) -> bool:
    return True


def test_a_folder_is_a_leftover_only_when_its_owner_is_surely_gone() -> None:
    owner = scratch.owner_record(123, "vm", "pid:[4026531836] 555")
    namespace = "pid:[4026531836]"
    assert scratch.is_leftover(owner, "vm", namespace, _never_alive)
    assert not scratch.is_leftover(owner, "vm", namespace, _always_alive)
    # Another host sharing the folder, another container (PID namespace): not checkable.
    assert not scratch.is_leftover(owner, "other", namespace, _never_alive)
    assert not scratch.is_leftover(owner, "vm", "pid:[4026532000]", _never_alive)
    # No owner file yet (being made), or an unreadable one: left alone.
    assert not scratch.is_leftover(None, "vm", namespace, _never_alive)
    assert not scratch.is_leftover({"pid": "x", "host": "vm"}, "vm", namespace, _never_alive)
    # Where /proc says nothing, the pid alone tells.
    assert scratch.is_leftover(scratch.owner_record(123, "vm", None), "vm", None, _never_alive)


def _folder(parent: Path, name: str, owner: dict[str, object] | None) -> Path:
    folder = parent / f"{scratch.PREFIX}{name}"
    (folder / "newsbeam-progress-x").mkdir(parents=True)
    if owner is not None:
        (folder / scratch.OWNER).write_text(json.dumps(owner))
    return folder


def test_the_sweep_removes_the_folders_of_gone_processes_only(tmp_path: Path) -> None:
    host = socket.gethostname()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    me = os.getpid()
    gone = _folder(tmp_path, "gone", scratch.owner_record(ended.pid, host, None))
    alive = _folder(tmp_path, "alive", scratch.owner_record(me, host, lock.process_identity(me)))
    elsewhere = _folder(tmp_path, "elsewhere", scratch.owner_record(ended.pid, "x" + host, None))
    unknown = _folder(tmp_path, "unknown", None)
    other = tmp_path / "newsbeam-progress-abc"  # not a run folder: not the sweep's
    other.mkdir()
    assert scratch.sweep(str(tmp_path)) == [str(gone)]
    assert not gone.exists()
    assert alive.exists() and elsewhere.exists() and unknown.exists() and other.exists()


def test_the_body_runs_in_a_folder_of_its_own(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    with scratch.own_folder() as folder:
        assert folder is not None and Path(folder).parent == tmp_path
        assert os.environ["TMPDIR"] == folder and tempfile.gettempdir() == folder
        owner = json.loads((Path(folder) / scratch.OWNER).read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        Path(tempfile.mkdtemp(prefix="newsbeam-progress-")).joinpath("x").write_text("1")
    assert os.environ["TMPDIR"] == str(tmp_path) and tempfile.tempdir is None
    assert list(tmp_path.iterdir()) == []


def test_no_usable_folder_runs_the_body_without_one(tmp_path: Path, monkeypatch) -> None:
    def full(*args: object, **kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(scratch, "make_folder", full)
    with scratch.own_folder() as folder:
        assert folder is None and os.environ["TMPDIR"] == str(tmp_path)


@pytest.mark.slow
def test_the_next_run_removes_what_a_killed_run_left_in_tmpdir(
    seeds_dir: Path, tmp_path: Path
) -> None:
    """A run killed outright (SIGKILL: the OOM killer, a stop that timed out) left its
    progress taps, report folder and Beam's scratch folder in $TMPDIR, and every such run
    added more: the next run now removes them."""
    scratch_dir = tmp_path / "tmp"
    scratch_dir.mkdir()
    output = tmp_path / "out"
    argv = ["--input", str(seeds_dir), "--output", str(output)]
    killed = subprocess.Popen(
        [sys.executable, "-m", "newsbeam.pipeline", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(scratch_dir)},
    )
    try:
        assert wait_for(output / "_staging", "*/*"), "the run never staged anything"
        assert wait_for(scratch_dir, "**/newsbeam-progress-*")
    finally:
        killed.kill()
        killed.wait()
    assert list(scratch_dir.iterdir()), "the killed run left nothing: nothing to test"
    run = newsbeam_command(*argv, tmpdir=scratch_dir)
    assert run.returncode == 0, run.stderr
    assert "left by a NewsBeam run that was killed" in run.stderr
    assert list(scratch_dir.iterdir()) == []


def test_matplotlib_gets_the_run_folder_only_where_its_own_cannot_be_written(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    assert not scratch.matplotlib_needs_a_folder({"HOME": str(home)})  # made, writable
    assert (home / ".config" / "matplotlib").is_dir()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert scratch.matplotlib_needs_a_folder({"HOME": str(not_a_folder)})
    assert not scratch.matplotlib_needs_a_folder({"HOME": str(home), "XDG_CONFIG_HOME": "/x"})
    assert not scratch.matplotlib_needs_a_folder(
        {"HOME": str(not_a_folder), "MPLCONFIGDIR": str(home)}
    )


def test_a_home_that_cannot_be_written_gives_no_matplotlib_warnings(
    seeds_dir: Path, tmp_path: Path
) -> None:
    """A container with a read-only root filesystem and HOME=/ (Kubernetes' HOME for a user
    id /etc/passwd does not have), or a service user's /nonexistent: matplotlib could not
    make ~/.config/matplotlib and logged two WARNING lines on every run ("it is highly
    recommended to set the MPLCONFIGDIR environment variable"). HOME is a file here, which
    no one can make a folder in, root included. The run draws its report, warning-free."""
    scratch_dir, home = tmp_path / "tmp", tmp_path / "home-file"
    scratch_dir.mkdir()
    home.write_text("")
    env = {**os.environ, "TMPDIR": str(scratch_dir), "HOME": str(home)}
    for name in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "NEWSBEAM_CACHE_DIR"):
        env.pop(name, None)
    output = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", "--input", str(seeds_dir), "--output",
         str(output), "--run_id", "r1"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "WARNING" not in run.stderr, run.stderr
    assert (output / "_runs" / "r1.html").exists()
    assert list(scratch_dir.iterdir()) == []  # the run folder, matplotlib's in it, removed
