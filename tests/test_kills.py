"""Pulling the plug (review 107): nightly runs with --state killed by SIGKILL, SIGTERM and
SIGINT at moments chosen from their progress, run again as a scheduler would, give the
tables and the state of nights never interrupted (tests/kill_runs.py); and a stop that
arrives during the commit waits for it."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from newsbeam.pipeline import dataset
from newsbeam.pipeline import main as entry
from newsbeam.pipeline import run as run_module
from newsbeam.transforms.support.state import read_current
from tests import kill_runs
from tests.kill_runs import Kill

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.mark.slow
def test_nights_killed_at_chosen_moments_end_as_uninterrupted_ones(tmp_path: Path) -> None:
    nights = kill_runs.seed_nights(tmp_path / "inputs", nights=2)
    inbox = tmp_path / "inbox"
    reference, _ = kill_runs.run_nights(tmp_path / "reference", inbox, nights, [])
    assert len(reference["articles"]) > 5 and reference["duplicates"] and reference["rejected"]
    kills = [
        Kill(0, signal.SIGKILL, "read", 5),  # mid-pipeline
        Kill(0, signal.SIGINT, "staged"),  # its tables being written
        Kill(1, signal.SIGTERM, "intent"),  # in the commit: it is finished first
        Kill(1, signal.SIGKILL, "manifest"),  # a rerun, committed, its state not published
    ]
    # run_nights checks, at every look while a night runs and after each kill: the
    # committed nights whole and once, the folders readable, the state not advanced by a
    # night that did not commit, the exit status and last line of a stop; after each
    # night: no staging, lock, temporary folder, unpublished version or unlisted file.
    killed, lines = kill_runs.run_nights(tmp_path / "killed", inbox, nights, kills)
    assert len(lines) == len(kills)
    assert killed == reference
    # Each night killed before its commit is on record as a failed run.
    records = sorted(p.name for p in (tmp_path / "killed" / "o" / "_failed_runs").iterdir())
    assert [name.split(".")[0] for name in records].count("night-0") == 2, records


def _committed_run(tmp_path: Path, seeds: Path) -> list[str]:
    argv = ["--input", str(seeds), "--output", str(tmp_path / "o"), "--state", str(tmp_path / "s")]
    return [*argv, "--run_id", "night-1"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_during_the_commit_waits_for_its_end(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signum: int,
) -> None:
    # The stop arrives once the manifest is written, before the state is published: it
    # raised there, and the run's clean-up deleted the new state version of a committed
    # run (CURRENT left a night behind the dataset: its articles new again the next
    # night), recorded the run as failed and said "nothing was committed", exit 143.
    published = run_module.publish_state

    def stopped_then_published(*args: Any) -> None:
        os.kill(os.getpid(), signum)
        published(*args)

    monkeypatch.setattr(run_module, "publish_state", stopped_then_published)
    argv = _committed_run(tmp_path, SEEDS)
    assert entry.main(argv) == 0
    manifest = dataset.read_manifest(str(tmp_path / "o"), "night-1")
    assert manifest is not None
    current = read_current(str(tmp_path / "s"))
    assert current is not None
    assert (current["run_id"], current["attempt"]) == ("night-1", manifest["attempt"])
    assert not (tmp_path / "o" / "_failed_runs").exists()
    err = capsys.readouterr().err
    name = "interrupted" if signum == signal.SIGINT else "terminated"
    assert f"newsbeam: {name} during the commit, which was finished first" in err
    assert "nothing was committed" not in err


def test_a_clean_up_failing_after_the_manifest_leaves_a_committed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The staging cannot be deleted once the manifest is written (a store's hiccup): the
    # run committed; it must not discard its state version nor call itself failed.
    deleted = dataset.files.delete_tree

    def refused(path: str) -> None:
        if f"{dataset.STAGING}/night-1." in path.replace(os.sep, "/"):
            raise OSError("the store did not answer")
        deleted(path)

    monkeypatch.setattr(dataset.files, "delete_tree", refused)
    argv = _committed_run(tmp_path, SEEDS)
    assert entry.main(argv) == 0
    assert "committed, but its clean-up failed" in caplog.text
    current = read_current(str(tmp_path / "s"))
    assert current is not None and current["run_id"] == "night-1"
    monkeypatch.setattr(dataset.files, "delete_tree", deleted)
    # The next run finishes the clean-up and adds nothing of night 1 again.
    assert entry.main([*argv[:-1], "night-2"]) == 0
    assert not (tmp_path / "o" / dataset.STAGING).exists()
    night_2 = dataset.read_manifest(str(tmp_path / "o"), "night-2")
    assert night_2 is not None and night_2["counts"]["inputs"] == 0
    assert not (tmp_path / "o" / "_failed_runs").exists()


def test_a_state_that_cannot_be_published_says_the_run_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refused(*args: Any) -> None:
        raise OSError("the store did not answer")

    monkeypatch.setattr(run_module, "publish_state", refused)
    argv = _committed_run(tmp_path, SEEDS)
    assert entry.main(argv) == 1
    assert "run night-1 committed" in caplog.text and "the next run publishes it" in caplog.text
    assert "nothing was committed" not in caplog.text
    monkeypatch.undo()
    # The next run publishes it: night 1's articles are not new again.
    assert entry.main([*argv[:-1], "night-2"]) == 0
    night_2 = dataset.read_manifest(str(tmp_path / "o"), "night-2")
    assert night_2 is not None and night_2["counts"]["inputs"] == 0
    marker = json.loads(Path(tmp_path / "s" / "CURRENT.json").read_text())
    assert marker["run_id"] == "night-2" and marker["previous"].startswith("night-1.")


def test_passes_stop_after_the_pass_whose_commit_a_stop_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --max_files_per_run: the stop held by the first pass's commit must end the run then,
    # not be forgotten while the next passes run.
    published = run_module.publish_state
    calls: list[int] = []

    def stopped_then_published(*args: Any) -> None:
        if not calls:
            os.kill(os.getpid(), signal.SIGTERM)
        calls.append(1)
        published(*args)

    def exit_now(status: int) -> None:  # main.py ends a stopped run with os._exit
        raise SystemExit(status)

    ran = run_module.run_locked
    passes: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        passes.append(1)
        return ran(*args, **kwargs)

    monkeypatch.setattr(run_module, "publish_state", stopped_then_published)
    monkeypatch.setattr(run_module, "run_locked", counted)
    monkeypatch.setattr(entry.os, "_exit", exit_now)
    argv = [*_committed_run(tmp_path, SEEDS)[:-2], "--max_files_per_run", "2"]
    with pytest.raises(SystemExit) as ended:
        entry.main(argv)
    assert ended.value.code == 143
    assert len(calls) == 1 and len(dataset.committed_runs(str(tmp_path / "o"))) == 1
    # Before, the second pass ran its whole pipeline and only then refused to commit.
    assert len(passes) == 1
