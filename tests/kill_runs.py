"""Pulling the plug: nightly runs with `--state` killed at chosen moments, run again as a
scheduler would, and compared with nights never interrupted (review 107).

A night adds new files to one inbox (the state's seen files decide what is new), runs the
command as a subprocess, and kills it (SIGKILL, SIGTERM or SIGINT) once a moment of its
progress is reached: the n-th document read (the progress taps), its first staged table
file, its commit's intent record, its manifest, its new state version. The first two last
seconds and are polled for; the last three are steps of milliseconds (a poll missed them on
a loaded host, or caught them a pass later), so the run takes its signal at the step itself
(NEWSBEAM_CRASH_AT=STEP:SIGNAL:N, transforms/support/state.py's crash_point). While it runs,
every look checks what a reader sees: the committed nights through their manifests,
whole and once, and the tables' folders readable by a DuckDB glob. The night is then run
again with the same command until it commits. The outcome (every table's rows, which
night holds them, and the state's seen files, dedup index and stories) must equal that
of the same nights run without a kill.

`tests/test_kills.py` runs a few chosen kills; `python -m tests.kill_runs --rounds N`
runs random ones (the kind, the moment and the night drawn from `--seed`), on the
labelled pages of ../shared/data when present.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import gzip
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from newsbeam.pipeline import dataset, metrics
from newsbeam.transforms.support.progress import read_progress
from newsbeam.transforms.support.state import CRASH_ENV, read_current, version_dir
from tests.helpers import stopped_at

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SHARED = REPO.parent / "shared" / "data"
TABLES = ("articles", "duplicates", "rejected")
# The moments a kill is sent at, in the order a run reaches them.
MOMENTS = ("read", "staged", "intent", "manifest", "state")
# The moments that are one step of the commit, and the crash point at that step: the run
# sends itself the signal there (what _marks finds of them lives for milliseconds).
AT_STEP = {"intent": "intent-written", "manifest": "manifest-written", "state": "state-staged"}
SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "INT": signal.SIGINT}
# How often a reader looks while a night runs, seconds (each look reads every table).
LOOK_EVERY = 0.25
# A SIGTERM/SIGINT is obeyed within this (a bundle in progress is abandoned; a commit in
# progress is finished first), on a loaded 2-core host.
STOP_SECONDS = 20.0
NEVER_REACHED = "[kill_runs: the moment was never reached]"
# What a stopped run exits with: SIGKILL's is the shell's 128 + 9 (negative from Popen).
STOPPED = {signal.SIGKILL: -signal.SIGKILL, signal.SIGTERM: 143, signal.SIGINT: 130}


@dataclasses.dataclass(frozen=True)
class Kill:
    """Kill night `night` with `signum` once `moment` is reached (`count`: for "read", the
    number of documents read)."""

    night: int
    signum: int
    moment: str
    count: int = 1

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        return f"night {self.night}: {name} at {self.moment}" + (
            f" {self.count}" if self.moment == "read" or self.count > 1 else ""
        )


# --- Inputs ----------------------------------------------------------------------------------


def _page(title: str, body: str, url: str) -> str:
    paragraphs = "".join(f"<p>{p.strip()}</p>" for p in body.split("\n\n") if p.strip())
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<link rel="canonical" href="{url}"></head><body><nav><a href="/">Home</a></nav>'
        f"<article><h1>{title}</h1>{paragraphs}</article><footer>Example</footer></body></html>"
    )


def seed_nights(folder: Path, nights: int = 3, pages: int = 12) -> list[list[Path]]:
    """Files for `nights` nights from the seeds alone (a clone has no ../shared): per night
    HTML pages of the seeds' paragraphs (distinct articles), a copy of one of the night
    before's (a duplicate across nights), a seed as text, an empty file and a binary one
    (rejected rows)."""
    texts = [seed.read_text() for seed in sorted(SEEDS.iterdir())]
    paragraphs = [p for text in texts for p in text.split("\n\n") if len(p.split()) > 25]
    made: list[list[Path]] = []
    for night in range(nights):
        own = folder / f"night-{night}"
        own.mkdir(parents=True)
        files: list[Path] = []
        for number in range(pages):
            first = (night * pages + number) * 3
            pick = [paragraphs[(first + k) % len(paragraphs)] for k in range(3)]
            url = f"https://news.example.com/{night}/{number}"
            body = f"Report {night}-{number}.\n\n" + "\n\n".join(pick)
            path = own / f"page-{night}-{number}.html"
            path.write_text(_page(f"Report {night} {number}", body, url))
            files.append(path)
        if night:  # the night before's first page again, under another name: a duplicate
            copy = own / f"copy-of-{night - 1}.html"
            copy.write_text(made[night - 1][0].read_text())
            files.append(copy)
        seed = sorted(SEEDS.iterdir())[night % len(texts)]
        shutil.copy(seed, own / f"seed-{night}.txt")
        (own / f"empty-{night}.txt").write_bytes(b"")
        (own / f"binary-{night}.html").write_bytes(bytes(range(256)) * 8)
        files += [own / f"seed-{night}.txt", own / f"empty-{night}.txt"]
        files.append(own / f"binary-{night}.html")
        made.append(files)
    return made


def shared_nights(
    folder: Path, nights: int = 3, rng: random.Random | None = None
) -> list[list[Path]]:
    """Files for `nights` nights from ../shared/data: labelled HTML pages and syndicated
    reports (copies within and across nights), about 110 a night, plus the seeds."""
    rng = rng or random.Random(0)
    pages = sorted(glob.glob(str(SHARED / "extraction" / "*" / "html" / "*.html.gz")))
    reports = sorted(glob.glob(str(SHARED / "dedup" / "syndicated-dev" / "docs" / "*.txt")))
    rng.shuffle(pages)
    rng.shuffle(reports)
    made: list[list[Path]] = []
    for night in range(nights):
        own = folder / f"night-{night}"
        own.mkdir(parents=True)
        for path in pages[night * 50 : (night + 1) * 50] + reports[night * 60 : (night + 1) * 60]:
            shutil.copy(path, own / f"{night}-{Path(path).name}")
        if night == 0:
            for seed in SEEDS.iterdir():
                shutil.copy(seed, own / seed.name)
        (own / f"empty-{night}.txt").write_bytes(b"")
        (own / f"cut-{night}.html.gz").write_bytes(gzip.compress(b"<html>" * 5000)[:2000])
        made.append(sorted(own.iterdir()))
    return made


# --- One night, killed or not -----------------------------------------------------------------


@dataclasses.dataclass
class Place:
    """One inbox, ROOT and state: where the nights run."""

    base: Path
    # Ids of pages without a URL come from their path: compared nights share one inbox.
    inbox: Path
    with_state: bool = True
    # Flags of a mode (`PASSES`: --max_files_per_run); `named`: the night's run is
    # `--run_id night-N` (passes name each of their runs by its start time).
    extra: tuple[str, ...] = ()
    named: bool = True

    def run_id(self, night: int) -> str:
        """The night's run id, or a glob of every run's when its runs name themselves."""
        return f"night-{night}" if self.named else "*"

    @property
    def output(self) -> Path:
        return self.base / "o"

    @property
    def state(self) -> Path:
        return self.base / "s"

    @property
    def metrics(self) -> Path:
        return self.base / "newsbeam.prom"

    @property
    def scratch(self) -> Path:
        return self.base / "tmp"

    def environment(self, kill: Kill | None = None) -> dict[str, str]:
        """The run's environment: its own $TMPDIR (where its progress is counted) and, for
        a kill at a step of the commit, the crash point that sends it."""
        env = {**os.environ, "TMPDIR": str(self.scratch)}
        env.pop(CRASH_ENV, None)
        if kill is not None and kill.moment in AT_STEP:
            name = signal.Signals(kill.signum).name
            nth = 1 if self.named else kill.count  # passes: the count-th pass's step
            env[CRASH_ENV] = f"{AT_STEP[kill.moment]}:{name}:{nth}"
        return env

    def command(self, night: int, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "newsbeam.pipeline", "--input", str(self.inbox),
            "--output", str(self.output),
            *(("--state", str(self.state)) if self.with_state else ()),
            *(("--run_id", f"night-{night}") if self.named else ()),
            "--metrics_file", str(self.metrics), *self.extra, *extra,
        ]  # fmt: skip


def _marks(place: Place, run_id: str) -> dict[str, dict[str, int]]:
    """The paths (and their modification times) that tell each moment of run `run_id`."""
    staging = place.output / dataset.STAGING
    # glob.glob, not Path.glob: the run removes its staging folders while they are walked,
    # and Path.glob (3.11) raised FileNotFoundError for a folder gone mid-walk (failed once
    # in CI); glob.glob skips a folder it can no longer list.
    found = {
        "staged": staging / f"{run_id}.*" / "*" / "*" / "*.parquet",
        "intent": staging / f"{run_id}.*" / dataset.INTENT,
        "manifest": place.output / dataset.RUNS / f"{run_id}.json",
        "state": place.state / "versions" / f"{run_id}.*" / "*.json",
    }
    marks: dict[str, dict[str, int]] = {}
    for moment, pattern in found.items():
        marks[moment] = {}
        for path in glob.glob(str(pattern)):
            try:
                marks[moment][path] = os.stat(path).st_mtime_ns
            except OSError:  # gone between the listing and the look
                pass
    return marks


def _reached(place: Place, kill: Kill, before: dict[str, dict[str, int]]) -> bool:
    """Whether the run of `kill.night` has reached `kill.moment`: a path of that moment
    written since the run started (`before`: what was there then; a rerun finds the
    earlier attempt's manifest and state version)."""
    if kill.moment == "read":
        folders = glob.glob(str(place.scratch / "newsbeam-run-*" / "newsbeam-progress-*"))
        return any(read_progress(folder).get("read", 0) >= kill.count for folder in folders)
    now = _marks(place, place.run_id(kill.night))[kill.moment]
    new = [path for path, stamp in now.items() if before[kill.moment].get(path) != stamp]
    # Passes: the count-th pass's manifest or state version (between passes: after one
    # commit, before the next pass reads).
    passes = not place.named and kill.moment in ("manifest", "state")
    return len(new) >= (kill.count if passes else 1)


def committed_view(place: Place, tries: int = 20) -> dict[str, int]:
    """Rows per table over the committed runs, read as NewsBeam's readers read (the files
    the manifests list); each table's folder must also be readable by a DuckDB glob.

    A file deleted between a listing and its opening (a rerun's replaced attempt, a killed
    run's moved files rolled back: the windows warehouse.md names) fails that one look:
    looked at again, it must read."""
    for left in range(tries, 0, -1):
        try:
            return _committed_view(place)
        except duckdb.IOException as error:
            gone = "No such file" in str(error) or "No files found" in str(error)
            if not gone or left == 1:
                raise
            VANISHED.append(str(error).splitlines()[0])
    raise AssertionError("unreachable")


def _committed_view(place: Place) -> dict[str, int]:
    counts: dict[str, int] = {}
    runs = dataset.committed_runs(str(place.output)) if place.output.exists() else []
    for table in TABLES:
        listed = [
            path for run in runs for path in dataset.data_files(str(place.output), run, table)
        ]
        counts[table] = (
            duckdb.sql(f"SELECT count(*) FROM read_parquet({listed!r})").fetchall()[0][0]
            if listed
            else 0
        )
        pattern = str(place.output / table / "*" / "*.parquet")
        if glob.glob(pattern):
            duckdb.sql(
                f"SELECT count(*) FROM read_parquet('{pattern}', hive_partitioning = true,"
                " union_by_name = true)"
            ).fetchall()
    return counts


# Reads that met a file deleted under them (_read_glob), for the report of a session.
VANISHED: list[str] = []


def run_night(
    place: Place,
    night: int,
    kill: Kill | None = None,
    look: Callable[[], None] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run night `night` once; with `kill`, send its signal once its moment is reached
    (or at the run's end if never: a kill that came too late is no kill); a moment that
    is a step of the commit (AT_STEP) the run reaches and signals itself at. `look` is
    called every LOOK_EVERY s beside the polls, in a thread of its own (what a reader sees
    while the run goes on): a look took seconds on a loaded host, and a poll waiting
    behind it missed a moment."""
    place.scratch.mkdir(parents=True, exist_ok=True)
    before = _marks(place, place.run_id(night))
    process = subprocess.Popen(
        place.command(night),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=place.environment(kill),
    )
    deadline = time.monotonic() + timeout
    reader = _Looks(look)
    try:
        return _watch(process, place, night, kill, reader, before, deadline, timeout)
    finally:
        reader.stop()
        if process.poll() is None:  # a look failed: the run must not outlive the test
            process.kill()
            process.communicate()


class _Looks:
    """`look` called every LOOK_EVERY s in a thread until `stop()`, which raises what a
    look raised (`failed()` tells the poller at once)."""

    def __init__(self, look: Callable[[], None] | None) -> None:
        self._look = look
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="kill-runs-look", daemon=True)
        if look is not None:
            self._thread.start()

    def _loop(self) -> None:
        assert self._look is not None
        while not self._stopped.is_set():
            try:
                self._look()
            except BaseException as error:  # handed to the test's thread by stop()
                self._error = error
                return
            self._stopped.wait(LOOK_EVERY)

    def failed(self) -> bool:
        return self._error is not None

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def _watch(
    process: subprocess.Popen[str],
    place: Place,
    night: int,
    kill: Kill | None,
    reader: _Looks,
    before: dict[str, dict[str, int]],
    deadline: float,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    sent: float | None = None  # when the signal was sent (the wall clock's time)
    polled = kill is not None and kill.moment not in AT_STEP
    try:
        while process.poll() is None and time.monotonic() < deadline and not reader.failed():
            if polled and kill is not None and sent is None and _reached(place, kill, before):
                process.send_signal(kill.signum)
                sent = time.time()
            time.sleep(0.005)
        reader.stop()  # a look's failure is the test's, before the run's own outcome
        out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        ended = time.time()
        crashed = re.search(r"\[NEWSBEAM_CRASH_AT: .* at ([0-9.]+)\]", err)
        if crashed is not None:  # the run signalled itself at the step
            sent = float(crashed.group(1))
        if sent is not None:
            err += f"\n[kill_runs: ended {ended - sent:.1f} s after the signal]"
    except subprocess.TimeoutExpired as error:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(
            f"night {night} ran past {timeout} s ({kill}): {err[-2000:]}"
        ) from error
    return subprocess.CompletedProcess(
        process.args,
        process.returncode,
        out,
        err + ("" if sent is not None or kill is None else f"\n{NEVER_REACHED}"),
    )


def run_changed(
    place: Place, night: int, change: Callable[[], None], *extra: str
) -> subprocess.CompletedProcess[str]:
    """Run night `night` and call `change` (remove, rename or replace inbox files) once every
    file is listed and none is read yet: the run stops itself at crash point
    `inputs-listed` (review 108: the list-then-open race). Before, the change waited on
    the progress taps' count of documents read, which count per bundle: a starved harness
    saw the first count after the last read (review 112). The run reads in process
    (`--direct_num_workers 1`), where the stop lands."""
    place.scratch.mkdir(parents=True, exist_ok=True)
    command = [*place.command(night, *extra), "--direct_num_workers", "1"]
    process = stopped_at("inputs-listed", env=place.environment(), command=command)
    try:
        change()
        process.send_signal(signal.SIGCONT)
        out, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


# --- What the nights leave ----------------------------------------------------------------------


def outcome(place: Place, nights: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a night must leave the same with or without a kill: each table's rows
    (less ingestion times and file names) with the night holding them, and the state.
    `nights`: run id -> the night that committed it (runs named by their start time)."""
    result: dict[str, Any] = {}
    runs = dataset.committed_runs(str(place.output))
    night_of = nights or {}
    columns = {
        "articles": "article_id, source, content_hash, story_id, title, language, duplicate_count",
        "duplicates": "article_id, source, canonical_id, method",
        "rejected": "source, stage, reason",
    }
    if not place.named:  # a duplicate's own id holds its run's id: a start time here
        columns["duplicates"] = "source, canonical_id, method"
    for table in TABLES:
        rows = []
        for run in runs:
            paths = dataset.data_files(str(place.output), run, table)
            if paths:
                query = f"SELECT {columns[table]} FROM read_parquet({paths!r}) ORDER BY ALL"
                night = night_of.get(run["run_id"], run["run_id"])
                rows += [(night, *row) for row in duckdb.sql(query).fetchall()]
        rows = [tuple(_here(value, place) for value in row) for row in rows]
        result[table] = sorted(rows, key=repr)
    inputs: dict[str, int] = {}  # a night's inputs, over its runs (passes: several)
    for run in runs:
        night = night_of.get(run["run_id"], run["run_id"])
        inputs[night] = inputs.get(night, 0) + run["counts"]["inputs"]
    result["inputs"] = sorted(inputs.items())
    current = read_current(str(place.state))
    assert current is not None, "the state has no CURRENT.json"
    folder = Path(version_dir(str(place.state), current["version"]))
    state_columns = {
        "dedup/articles": "article_id, content_hash, story_id",
        "dedup/stories": "story_id, article_id",
        "inputs": "path, size, content_hash",
    }
    for table, columns_of in state_columns.items():
        paths = sorted(str(p) for p in (folder / table).glob("*.parquet"))
        query = f"SELECT {columns_of} FROM read_parquet({paths!r}) ORDER BY ALL"
        found = duckdb.sql(query).fetchall() if paths else []
        result[f"state {table}"] = sorted(tuple(_here(v, place) for v in row) for row in found)
    result["state run"] = night_of.get(current["run_id"], current["run_id"])
    return result


def _here(value: Any, place: Place) -> Any:
    """A value with the inbox's path made relative: nights run in other folders compare."""
    return value.replace(str(place.inbox), "INBOX") if isinstance(value, str) else value


def leftovers(place: Place) -> list[str]:
    """What a finished night must not leave: staging, unpublished state versions, lock
    files, temporary folders, data files no manifest lists."""
    found: list[str] = []
    staging = place.output / dataset.STAGING
    if staging.exists():
        found += [str(p) for p in staging.rglob("*")]
    current = read_current(str(place.state)) or {}
    kept = {current.get("version"), current.get("previous")}
    found += [str(p) for p in (place.state / "versions").iterdir() if p.name not in kept]
    found += [str(p) for p in place.state.glob("*.partial-*")]  # a write killed mid-way
    found += [str(p) for p in place.base.glob("*.lock")]
    found += [str(p) for p in place.scratch.iterdir()] if place.scratch.exists() else []
    listed = {
        path for run in dataset.committed_runs(str(place.output)) for path in dataset.all_paths(run)
    }
    found += [
        str(p)
        for p in place.output.rglob("*.parquet")
        if str(p.relative_to(place.output)) not in listed
    ]
    return found


def run_nights(
    base: Path,
    inbox: Path,
    nights: list[list[Path]],
    kills: list[Kill],
    check: bool = True,
    mode: str = "nights",
) -> tuple[dict[str, Any], list[str]]:
    """The nights into `inbox` (emptied first), ROOT and state under `base`, each killed as
    `kills` say (several kills of one night: one after the other, each on the run again),
    then run again until it commits. Returns the outcome and one line per kill. `mode`:
    "nights" (one run a night) or "passes" (--max_files_per_run: several)."""
    place = Place(base, inbox, **MODES[mode])
    night_of: dict[str, str] = {}
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    lines: list[str] = []
    for night, files in enumerate(nights):
        for path in files:
            shutil.copy(path, place.inbox / path.name)
        before = committed_view(place) if place.output.exists() else {t: 0 for t in TABLES}
        previous = list(before.values())

        def look(before: dict[str, int] = before) -> None:
            # A reader while the night runs or dies: the earlier nights whole, or them and
            # this night whole; never part of it, never an unreadable folder.
            seen = committed_view(place)
            assert seen == before or all(seen[t] >= before[t] for t in TABLES), (seen, before)

        for kill in [k for k in kills if k.night == night]:
            runs_before = _run_ids(place)
            # What this attempt must leave if it commits nothing: an earlier attempt of the
            # night may have committed passes (failed so in CI when the night's start was used).
            previous = list(committed_view(place).values()) if place.output.exists() else previous
            launched = time.time()
            killed = run_night(place, night, kill, look if check else None)
            ended = re.search(r"ended [0-9.]+ s after the signal", killed.stderr)
            lines.append(
                f"{kill}: exit {killed.returncode}, {ended.group(0) if ended else 'not sent'}"
            )
            if check:
                _check_killed(place, night, kill, killed, previous, runs_before, launched)
        done = run_night(place, night)
        assert done.returncode == 0, done.stderr[-3000:]
        night_of.update((run_id, f"night-{night}") for run_id in _run_ids(place) - night_of.keys())
        if check:
            assert not leftovers(place), leftovers(place)
            assert metrics.previous_in_progress(str(place.metrics)) is None
    return outcome(place, night_of), lines


# The modes a night runs in (Place's fields).
MODES: dict[str, dict[str, Any]] = {
    "nights": {},
    # Passes of 4 files (a night: 15-17 inputs, 4-5 passes), each its own committed run.
    "passes": {"extra": ("--max_files_per_run", "4"), "named": False},
}


def _run_ids(place: Place) -> set[str]:
    if not place.output.exists():
        return set()
    return {run["run_id"] for run in dataset.committed_runs(str(place.output))}


def _check_killed(
    place: Place,
    night: int,
    kill: Kill,
    killed: subprocess.CompletedProcess[str],
    previous: list,
    runs_before: set[str],
    launched: float,
) -> None:
    """What a killed run leaves, before anything runs again (`launched`: when it started,
    on the wall clock the metrics file's times are on)."""
    if NEVER_REACHED in killed.stderr:
        return
    ended = re.search(r"\[kill_runs: ended ([0-9.]+) s after the signal\]", killed.stderr)
    assert ended is not None
    stderr = killed.stderr[: ended.start()]
    if kill.signum != signal.SIGKILL:  # a stop is obeyed promptly
        assert float(ended.group(1)) < STOP_SECONDS, (kill, ended.group(0), stderr[-2000:])
    if place.named:
        committed = dataset.read_manifest(str(place.output), f"night-{night}") is not None
    else:  # passes: the passes committed before the kill stay; the state is theirs
        committed = bool(_run_ids(place) - runs_before)
    if kill.signum != signal.SIGKILL:
        status = killed.returncode
        assert status in (STOPPED[kill.signum], 0), (kill, status, stderr[-3000:])
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        if committed:
            assert "committed" in last and "nothing was committed" not in last, (kill, last)
        else:
            assert "nothing was committed" in last, (kill, last)
    # The metrics file: a run killed outright left its start (a run in progress, which no
    # end follows); a stopped one wrote its end.
    # A SIGKILL sent at a late moment (its manifest written) can land once the run has
    # also written its end, a look at the tables having held the harness between polls:
    # that run left the file as a committed one does, its success after its launch.
    in_progress = metrics.previous_in_progress(str(place.metrics))
    if kill.signum == signal.SIGKILL and in_progress is None:
        success = metrics.previous_last_success(str(place.metrics))
        assert committed and success is not None and success >= launched, (kill, success)
    else:
        assert (in_progress is not None) == (kill.signum == signal.SIGKILL), (kill, in_progress)
    current = read_current(str(place.state)) or {}
    # The state is never a run's that did not commit.
    assert current.get("run_id") in {None, *_run_ids(place)}, current
    if not committed:
        # The state is not advanced by a night that did not commit.
        if place.named:
            assert current.get("run_id") in (None, f"night-{night - 1}"), current
        assert list(committed_view(place).values()) == previous


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="kill schedules to try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nights", type=int, default=3)
    parser.add_argument("--work", default=None, help="a scratch folder (default: a new one)")
    parser.add_argument("--mode", choices=sorted(MODES), default="nights")
    parser.add_argument(
        "--files_per_pass", type=int, default=4, help="--mode passes: --max_files_per_run"
    )
    args = parser.parse_args(argv)
    import tempfile

    work = Path(args.work or tempfile.mkdtemp(prefix="kill-runs-"))
    rng = random.Random(args.seed)
    MODES["passes"]["extra"] = ("--max_files_per_run", str(args.files_per_pass))
    inputs = work / "inputs"
    nights = (
        shared_nights(inputs, args.nights, rng)
        if SHARED.exists()
        else seed_nights(inputs, args.nights)
    )
    reference, _ = run_nights(
        work / "reference", work / "inbox", nights, [], check=False, mode=args.mode
    )
    total = sum(len(files) for files in nights)
    failures = 0
    for number in range(args.rounds):
        kills = [
            Kill(night, rng.choice(list(SIGNALS.values())), moment, count)
            for night in range(args.nights)
            for _ in range(rng.randint(0, 2))
            # the n-th document read, or (passes) the n-th pass's manifest or state version
            for moment in [rng.choice(MOMENTS)]
            for count in [rng.randint(1, total // args.nights if moment == "read" else 3)]
        ]
        try:
            result, lines = run_nights(
                work / f"round-{number}", work / "inbox", nights, kills, mode=args.mode
            )
            different = [key for key in reference if reference[key] != result[key]]
            status = "same as uninterrupted" if not different else f"DIFFERENT in {different}"
        except AssertionError as error:
            lines, status = [], f"FAILED: {error}"[:2000]
        failures += not status.startswith("same")
        print(f"round {number}: {status}")
        for line in lines:
            print(f"  {line}")
    print(f"{args.rounds - failures} of {args.rounds} rounds as uninterrupted; work in {work}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
