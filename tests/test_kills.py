"""Pulling the plug (review 107): nightly runs with --state killed by SIGKILL, SIGTERM and
SIGINT at moments chosen from their progress, run again as a scheduler would, give the
tables and the state of nights never interrupted (tests/kill_runs.py); and a stop that
arrives during the commit waits for it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from newsbeam.pipeline import dataset
from newsbeam.pipeline import main as entry
from newsbeam.pipeline import run as run_module
from newsbeam.transforms.support import files
from newsbeam.transforms.support.state import CRASH_ENV, read_current
from tests import kill_runs
from tests.kill_runs import Kill

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
GONE_DETAIL = "gone: no such file now (deleted or moved after it was listed)"


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
    assert len(lines) == len(kills) and not [line for line in lines if "not sent" in line], lines
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


# --- The list-then-open race (review 108) ---------------------------------------------------


def _rows(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's (source, ...) rows over the committed runs (the manifests' files)."""
    columns = {
        "articles": "source, title",
        "duplicates": "source",
        "rejected": "source, reason, detail",
    }
    found: dict[str, list[tuple[Any, ...]]] = {}
    for table, names in columns.items():
        found[table] = []
        for run in dataset.committed_runs(str(root)):
            paths = dataset.data_files(str(root), run, table)
            if paths:
                query = f"SELECT {names} FROM read_parquet({paths!r})"
                found[table] += duckdb.sql(query).fetchall()
    return found


def _night_inbox(tmp_path: Path, pages: int) -> tuple[list[Path], Path]:
    """One night of seeded inputs (kill_runs.seed_nights) copied into `tmp_path/inbox`:
    the night's files and the inbox."""
    (night,) = kill_runs.seed_nights(tmp_path / "inputs", nights=1, pages=pages)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in night:
        shutil.copy(path, inbox / path.name)
    return night, inbox


@pytest.mark.parametrize("with_state", [False, True])
def test_files_removed_or_replaced_between_the_listing_and_the_read(
    tmp_path: Path, with_state: bool
) -> None:
    # A watched folder cleaned and rsync's temporary files renamed over their targets while
    # a real run reads the folder: a removed file was a rejected row "unreadable: not a
    # regular file" (the reader looked for a FIFO); it is `not_found`, gone since the
    # listing. Every listed file ends in one table once; a replaced one is read whole. The
    # inbox changes while the run is stopped after its listing, before its first read
    # (kill_runs.run_changed): every removed file is a not_found row.
    night, inbox = _night_inbox(tmp_path, pages=12)
    pages = sorted(inbox.glob("page-*.html"))
    removed, replaced = pages[-6:-3], pages[-3:]

    def change() -> None:
        for path in removed:
            path.unlink()
        for path in replaced:  # rsync: a temporary file, then a rename over the old one
            temporary = path.with_name(f".{path.name}.Xa81")
            temporary.write_text(path.read_text().replace("Report", "Corrected report"))
            os.replace(temporary, path)

    place = kill_runs.Place(tmp_path / "run", inbox, with_state=with_state)
    done = kill_runs.run_changed(place, 0, change)
    assert done.returncode == 0, done.stderr[-3000:]
    (manifest,) = dataset.committed_runs(str(place.output))
    assert manifest["counts"]["balanced"], manifest["counts"]
    rows = _rows(place.output)
    sources = [row[0] for table in rows.values() for row in table]
    assert len(sources) == len(set(sources)), "a file in two tables or twice"
    gone = {row[0] for row in rows["rejected"] if row[1:] == ("not_found", GONE_DETAIL)}
    assert gone == {str(path) for path in removed}, rows["rejected"]  # none read before
    assert not [row for row in rows["rejected"] if row[2] == "not a regular file"]
    # A replaced file is in the run (read whole), or with --state left to the next run,
    # which its changed stat and hash make read it (read_deferred_changing_files).
    deferred = {str(path) for path in replaced} - set(sources)
    assert not deferred or with_state, deferred
    titles = dict(rows["articles"])
    read_now = [str(path) for path in replaced if str(path) in titles]
    assert all(titles[path].startswith("Corrected report") for path in read_now), titles
    if with_state:
        again = kill_runs.run_night(place, 1)
        assert again.returncode == 0, again.stderr[-3000:]
        rows = _rows(place.output)
        sources = [row[0] for table in rows.values() for row in table]
        assert len(sources) == len(set(sources)), "a file read by both runs"
        assert {str(path) for path in replaced} <= set(sources)


def test_what_a_listed_path_that_is_no_file_is_called(tmp_path: Path) -> None:
    from newsbeam.transforms import read

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    (tmp_path / "broken.txt").symlink_to(tmp_path / "nowhere")
    assert read.not_regular(str(tmp_path / "gone.txt")) == ("not_found", GONE_DETAIL)
    assert read.not_regular(str(fifo)) == ("unreadable", "not a regular file")
    assert read.not_regular(str(tmp_path / "broken.txt")) == ("unreadable", "not a regular file")
    error = FileNotFoundError(2, "No such file or directory")
    # Listed by its folder, gone before its stat: was "broken symbolic link (to '?')".
    gone = read._link_problem(str(tmp_path / "gone.txt"), error)  # noqa: SLF001
    assert (gone.reason, gone.detail) == ("not_found", GONE_DETAIL)
    broken = read._link_problem(str(tmp_path / "broken.txt"), error)  # noqa: SLF001
    assert broken.detail.startswith("broken symbolic link")
    assert read.open_failure(str(tmp_path / "gone.txt"), error) == ("not_found", GONE_DETAIL)
    assert read.open_failure("s3://bkt/a.txt", OSError("boom")) == ("unreadable", "OSError: boom")


def test_an_object_deleted_after_its_listing_is_a_not_found_row() -> None:
    # On an object store (moto on 127.0.0.1) the read met FileNotFoundError: an `unreadable`
    # row, and for a .jsonl one named `gone.jsonl#L1-`, "unreadable after line 0".
    from newsbeam.transforms import read
    from tests.s3_server import s3_server

    with s3_server() as server:
        server.use_in_process()
        reader = read._ReadFile(read.ReadConfig())  # noqa: SLF001
        for name in ("gone.txt", "gone.jsonl", "gone.xml"):
            path = server.url("in", name)
            (row,) = [output.value for output in reader.process(read.listed_file(path, 100))]
            assert (row.source, row.reason, row.detail) == (path, "not_found", GONE_DETAIL)


# --- Passes (--max_files_per_run) killed (review 108) ----------------------------------------


@pytest.mark.slow
def test_passes_killed_at_chosen_moments_end_as_uninterrupted_ones(tmp_path: Path) -> None:
    nights = kill_runs.seed_nights(tmp_path / "inputs", nights=2)
    inbox = tmp_path / "inbox"
    reference, _ = kill_runs.run_nights(tmp_path / "reference", inbox, nights, [], mode="passes")
    assert len(reference["articles"]) > 5 and reference["duplicates"] and reference["rejected"]
    kills = [
        Kill(0, signal.SIGKILL, "manifest", 1),  # between passes 1 and 2, its state unpublished
        Kill(0, signal.SIGTERM, "read", 3),  # inside a pass of the run again
        Kill(1, signal.SIGINT, "intent", 2),  # held by pass 2's commit: no pass 3
        Kill(1, signal.SIGKILL, "read", 2),  # inside a pass, the night's passes 1-2 committed
    ]
    killed, lines = kill_runs.run_nights(tmp_path / "killed", inbox, nights, kills, mode="passes")
    assert len(lines) == len(kills) and not [line for line in lines if "not sent" in line], lines
    assert killed == reference


def test_a_stop_between_passes_says_which_passes_committed(tmp_path: Path) -> None:
    # SIGTERM held by pass 1's commit ends the command after it: its last line said
    # "terminated; nothing was committed; the dataset and state are as they were" while
    # pass 1 was committed and the state was its own.
    night, inbox = _night_inbox(tmp_path, pages=8)
    # The commit's intent record lives for milliseconds: a harness polling for it missed it
    # on a loaded host, or caught it in the last pass (failed so in CI). The stop lands at
    # that step itself: the run sends itself SIGTERM once pass 1's intent is written.
    place = kill_runs.Place(tmp_path / "run", inbox, **kill_runs.MODES["passes"])
    place.scratch.mkdir(parents=True)
    stopped = subprocess.run(
        place.command(0),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(place.scratch), CRASH_ENV: "intent-written:SIGTERM"},
    )
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    (first,) = dataset.committed_runs(str(place.output))
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith("newsbeam: terminated; pass 2 of 3 was not committed"), last
    assert f"passes 1-1 were (runs {first['run_id']} to {first['run_id']})" in last, last
    assert "the command again reads the rest" in last and "nothing was committed" not in last
    current = read_current(str(place.state))
    assert current is not None and current["run_id"] == first["run_id"]
    again = kill_runs.run_night(place, 0)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = _rows(place.output)
    sources = [row[0] for table in rows.values() for row in table]
    assert sorted(sources) == sorted(str(inbox / path.name) for path in night)


# --- An object store's ROOT killed (review 108) ---------------------------------------------


@pytest.mark.slow
def test_runs_into_an_object_store_killed_mid_run_leave_nothing_to_readers(
    tmp_path: Path,
) -> None:
    # ROOT and state on an S3-compatible store (moto on 127.0.0.1): a run stopped by SIGTERM
    # and one killed by SIGKILL once their tables are staged there. Readers of the table
    # (through the manifests, and by listing the table's prefix) see no object of either;
    # the SIGTERM run removed its staging itself and recorded its stop; the next run
    # removes the SIGKILL run's staged objects and records it; every input ends once.
    from tests.s3_server import s3_server

    night, inbox = _night_inbox(tmp_path, pages=12)
    with s3_server() as server:
        client = server.client()
        root, state = server.url("news"), server.url("state")
        command = [sys.executable, "-m", "newsbeam.pipeline", "--input", str(inbox)]
        command += ["--output", root, "--state", state, "--run_id", "night-0", *server.flags]
        env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "TMPDIR": str(tmp_path)}

        def keys(prefix: str) -> list[str]:
            listed = client.list_objects_v2(Bucket=server.bucket, Prefix=prefix)
            return [item["Key"] for item in listed.get("Contents", [])]

        def staged() -> bool:
            return any(key.endswith(".parquet") for key in keys(f"news/{dataset.STAGING}/"))

        for signum in (signal.SIGTERM, signal.SIGKILL):
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            try:
                deadline = time.monotonic() + 180
                while not staged() and process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert process.poll() is None, "the run ended before its tables were staged"
                process.send_signal(signum)
                _, err = process.communicate(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
            stopped = {signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}[signum]
            assert process.returncode == stopped, err[-3000:]
            # Nothing of it for a reader: no manifest, no table object outside staging.
            assert not keys(f"news/{dataset.RUNS}/")
            tables = [key for key in keys("news/") if key.endswith(".parquet")]
            assert all(f"/{dataset.STAGING}/" in f"/{key}" for key in tables), tables
            assert not keys("state/CURRENT.json")
            if signum == signal.SIGTERM:  # its own clean-up: staging gone, its stop recorded
                assert not staged()
                assert "nothing was committed" in err.strip().splitlines()[-1]
        assert staged()  # what the SIGKILL left
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert not keys(f"news/{dataset.STAGING}/")
        records = [key.rsplit("/", 1)[-1] for key in keys("news/_failed_runs/")]
        assert len(records) == 2 and all(name.startswith("night-0.") for name in records)
        server.use_in_process()
        (manifest,) = dataset.committed_runs(root)
        assert manifest["counts"]["balanced"]
        stored = {key.removeprefix("news/") for key in keys("news/") if key.endswith(".parquet")}
        assert stored == set(dataset.all_paths(manifest))  # no object no manifest names
        sources = [
            source
            for table in ("articles", "duplicates", "rejected")
            for path in dataset.data_files(root, manifest, table)
            for source in files.read_parquet(path, columns=["source"]).column(0).to_pylist()
        ]
    assert sorted(sources) == sorted(str(inbox / path.name) for path in night)


def test_a_stop_held_by_the_last_pass_commit_ends_the_command_committed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The stop arrives during the last pass's commit: every pass committed, but the check
    # after each pass raised it, and the command said "terminated; pass 4 of 3 was not
    # committed" and exited 143 (found by `kill_runs --mode passes`: SIGTERM at manifest 3).
    published = run_module.publish_state
    calls: list[int] = []

    def stopped_on_the_last(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        published(*args)

    def exit_now(status: int) -> None:  # main.py ends a stopped run with os._exit
        raise SystemExit(status)

    monkeypatch.setattr(run_module, "publish_state", stopped_on_the_last)
    monkeypatch.setattr(entry.os, "_exit", exit_now)
    argv = [*_committed_run(tmp_path, SEEDS)[:-2], "--max_files_per_run", "2"]
    assert len(list(SEEDS.iterdir())) in (5, 6)  # three passes of two
    assert entry.main(argv) == 0
    assert len(calls) == 3 and len(dataset.committed_runs(str(tmp_path / "o"))) == 3
    err = capsys.readouterr().err
    assert "newsbeam: terminated during the commit, which was finished first" in err
    assert "was not committed" not in err


def test_a_kill_while_the_first_state_is_published_leaves_a_state_the_next_run_reads(
    tmp_path: Path,
) -> None:
    # A SIGKILL landing while CURRENT.json was written for the first time (its fsync, before
    # the rename: milliseconds, hit by a late kill in the passes test under load) left
    # `CURRENT.json.partial-PID` and no CURRENT.json: every later run refused the state, "is
    # not empty and holds no CURRENT.json: it does not look like NewsBeam state". The kill
    # lands at the manifest here, and the half-written file is what that kill leaves.
    argv = _committed_run(tmp_path, SEEDS)
    env = {**os.environ, CRASH_ENV: "manifest-written:SIGKILL"}
    command = [sys.executable, "-m", "newsbeam.pipeline", *argv]
    killed = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    state = tmp_path / "s"
    assert read_current(str(state)) is None
    partial = state / "CURRENT.json.partial-4242"
    partial.write_text('{\n  "attempt": "0f3a')  # cut where the kill landed
    again = subprocess.run([*command[:-1], "night-2"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    # The state is not new: its first version waits for publication, which this run does.
    assert "is new, but" not in again.stderr, again.stderr[-3000:]
    assert "published version" in again.stderr
    current = read_current(str(state))
    assert current is not None and current["run_id"] == "night-2"
    assert not partial.exists()  # the dead write's leftover is removed, not kept for good
    night_2 = dataset.read_manifest(str(tmp_path / "o"), "night-2")
    assert night_2 is not None and night_2["counts"]["inputs"] == 0  # night 1's were known
