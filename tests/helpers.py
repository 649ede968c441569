"""Helpers the tests import: a TestPipeline that stays off the network, its counters, a
sample article, and readers of a run's committed output and of the current state.
(Fixtures are in conftest.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline

from newsbeam.pipeline import dataset
from newsbeam.transforms.support.failures import METRICS_NAMESPACE
from newsbeam.transforms.support.state import CRASH_ENV, read_current, version_dir
from tests.offline import sitecustomize as offline_guard

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def make_test_pipeline() -> TestPipeline:
    """A TestPipeline that never reaches for the network (the DirectRunner's Prism does)."""
    return TestPipeline(runner="FnApiRunner")


def counters_of(pipeline: TestPipeline) -> dict[str, int]:
    """NewsBeam counters of a finished TestPipeline, by name."""
    query = pipeline.result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    totals: dict[str, int] = {}
    for result in query["counters"]:  # one result per step that incremented the counter
        totals[result.key.metric.name] = totals.get(result.key.metric.name, 0) + result.committed
    return totals


ARTICLE_TEXT = (
    "The city council approved a new budget on Tuesday after a long debate about funding "
    "for schools, public transport and road repairs across the northern districts.\n\n"
    "Officials said the plan would be reviewed again in the spring, when revenue figures "
    "for the first quarter are published by the finance department."
)

ARTICLE_HTML = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Council approves budget - Example Times</title>
<meta property="og:title" content="Council approves budget">
<meta property="og:site_name" content="Example Times">
<link rel="canonical" href="https://news.example.com/2024/05/council-budget?utm_source=feed">
<meta name="author" content="Jane Reporter">
<meta property="article:published_time" content="2024-05-14T09:30:00+02:00">
</head><body>
<nav><a href="/">Home</a> <a href="/politics">Politics</a></nav>
<article><h1>Council approves budget</h1>
{"".join(f"<p>{p}</p>" for p in ARTICLE_TEXT.split(chr(10) * 2))}
<p>Subscribe to our newsletter</p>
</article>
<footer>Copyright Example Times</footer>
</body></html>"""


def rerecord_state(state: Path) -> None:
    """Write the file record of the state version CURRENT names (of `state` itself when
    it is a version folder) anew, as a commit would: for tests that change state files on
    purpose and mean the run to read them (not to find them damaged)."""
    import json

    from newsbeam.schemas import STATE_MARKER
    from newsbeam.transforms.support.state import CURRENT, file_record

    if (state / CURRENT).exists():
        state = current_state(state)
    marker = json.loads((state / STATE_MARKER).read_text())
    marker["files"] = file_record(str(state))
    (state / STATE_MARKER).write_text(json.dumps(marker))


def write_seed_copies(seeds: Path, folder: Path, copies: int = 40) -> None:
    """`copies` distinct variants of every seed in `folder`: a run long enough to be
    signalled, killed or overlapped while it goes on."""
    folder.mkdir(parents=True, exist_ok=True)
    for copy in range(copies):
        for seed in seeds.iterdir():
            (folder / f"{copy}_{seed.name}").write_text(seed.read_text() + f"\n\nCopy {copy}.")


def wait_for(folder: Path, pattern: str, seconds: float = 120) -> bool:
    """Wait until something in `folder` matches `pattern` (a run's staging); True if it did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(folder.glob(pattern)):
            return True
        time.sleep(0.05)
    return False


# --- The output dataset and the state, read as NewsBeam's readers read them ------------------


def run_manifest(root: Path | str, run_id: str | None = None) -> dict[str, Any]:
    """The committed manifest of `run_id` in the dataset ROOT; without one, of the latest
    run (by finish time): the only one where a test ran one run."""
    if run_id is not None:
        manifest = dataset.read_manifest(str(root), run_id)
        assert manifest is not None, f"run {run_id} is not committed in {root}"
        return manifest
    runs = dataset.committed_runs(str(root))
    assert runs, f"no committed run in {root}"
    return runs[-1]


def table_files(root: Path | str, table: str, run_id: str | None = None) -> list[str]:
    """The files of `table` that one committed run's manifest lists (run_manifest)."""
    return dataset.data_files(str(root), run_manifest(root, run_id), table)


def table_sql(root: Path | str, table: str, run_id: str | None = None) -> str:
    """A DuckDB relation over one committed run's files of `table`: only what its manifest
    lists, without the partition column (the rows as the run wrote them)."""
    paths = ", ".join(f"'{path}'" for path in table_files(root, table, run_id))
    return f"read_parquet([{paths}], hive_partitioning = false)"


def table_rows(
    root: Path | str, table: str, run_id: str | None = None, order_by: str = "source"
) -> list[dict[str, Any]]:
    """One committed run's rows of `table` (DuckDB values), ordered by `order_by`."""
    relation = duckdb.sql(f"SELECT * FROM {table_sql(root, table, run_id)} ORDER BY {order_by}")
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def current_state(state: Path | str) -> Path:
    """The folder of the state version CURRENT names under a --state ROOT."""
    current = read_current(str(state))
    assert current is not None, f"{state} has no CURRENT.json"
    return Path(version_dir(str(state), current["version"]))


def start_pipeline(inputs: Path, output: Path, *extra: str) -> subprocess.Popen[str]:
    """The pipeline as a user starts it (`python -m newsbeam.pipeline`), in the background,
    its output captured as text: for tests that signal or kill a run."""
    command = [sys.executable, "-m", "newsbeam.pipeline", "--input", str(inputs)]
    return subprocess.Popen(
        [*command, "--output", str(output), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stopped_at(
    step: str, *args: str, env: Mapping[str, str] | None = None, command: Sequence[str] = ()
) -> subprocess.Popen[str]:
    """`python -m newsbeam.pipeline ARGS` (or `command`) started, and returned once it has
    stopped itself (SIGSTOP) at crash point `step`: a run in progress, its locks and start
    record held, for as long as the test needs whatever the host's load (a run made long
    enough to outlast the test's next step lost that race on a loaded host). SIGCONT
    resumes it. The step must be reached in the launched process: a run in process (under
    `workers.MIN_INPUTS` inputs, or `--direct_num_workers 1`) for a step inside a stage."""
    process = subprocess.Popen(
        list(command) or [sys.executable, "-m", "newsbeam.pipeline", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**(os.environ if env is None else env), CRASH_ENV: f"{step}:SIGSTOP"},
    )
    _, status = os.waitpid(process.pid, os.WUNTRACED)  # returns once stopped (or ended)
    if not os.WIFSTOPPED(status):
        _, err = process.communicate()
        raise AssertionError(f"the run ended ({status}) before {step}: {err[-3000:]}")
    return process


def newsbeam_command(
    *args: str, timeout: float = 300, tmpdir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m newsbeam.pipeline ARGS` run to its end (`tmpdir`: its $TMPDIR)."""
    env = {**os.environ, "TMPDIR": str(tmpdir)} if tmpdir else None
    return subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def raised_from(inner: BaseException, outer: BaseException) -> BaseException:
    """`outer` raised from `inner`, as a stage's failure wraps its cause: both raised for
    real, so the chain (`__cause__`, `__context__`) and tracebacks are Python's own."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer from inner
    except BaseException as error:
        return error


def start_job_service(staging: Path, **popen: Any) -> tuple[subprocess.Popen[str], int]:
    """`python -m tests.job_service` on a port it chose itself (it prints it), in a process
    group of its own (end it with os.killpg), and that port. A port found free by the test
    first could be taken by another process (a worker's outgoing connection) before the
    service bound it."""
    service = subprocess.Popen(
        [sys.executable, "-m", "tests.job_service", "--port", "0", "--staging_dir", str(staging)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )
    assert service.stdout is not None
    line = service.stdout.readline()  # "job service on localhost:PORT", once it serves
    found = re.fullmatch(r"job service on localhost:(\d+)\n", line)
    assert found is not None, f"the job service did not start: {line!r}"
    return service, int(found.group(1))


def ended_by_signals(
    process: subprocess.Popen[str],
    *signals: int,
    timeout: float,
    stderr: StderrLines | None = None,
    between: float = 1.0,
) -> tuple[str, float]:
    """Send `signals` to `process` (`between` seconds apart: a second Ctrl-C, a second
    SIGTERM) and wait for its end: its stderr and the seconds from the last signal to the
    end. Killed, and the test failed, when it outlasts `timeout`. `stderr`: where its
    stderr is read already (StderrLines), else read here."""
    for number, signum in enumerate(signals):
        if number:
            time.sleep(between)  # the gap between two signals is what is tested
        process.send_signal(signum)
    sent = time.monotonic()
    try:
        if stderr is None:
            _, err = process.communicate(timeout=timeout)
        else:
            process.wait(timeout=timeout)
            err = stderr.text()
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"the process still ran {timeout} s after {signals}") from None
    return err, time.monotonic() - sent


def logged_port(
    log: Path, pattern: str, process: subprocess.Popen[bytes], seconds: float = 60
) -> int:
    """The port a server bound itself (asked for port 0) and logged to `log` in a line that
    `pattern` matches (its one group: the port). A port found free by the test first could
    be taken by another process before the server bound it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace")) if log.exists() else None
        if found:
            return int(found.group(1))
        assert process.poll() is None, f"the server exited: {log.read_text(errors='replace')}"
        time.sleep(0.2)
    raise AssertionError(f"no line matched {pattern!r} in {seconds} s")


class StderrLines:
    """A process's stderr read on a thread of its own (a pipe left unread fills and stops
    the process): wait for a line, then take all of it once the process has ended."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        self._process = process
        self._lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._lines.append(line)

    def wait_for(self, pattern: str, seconds: float = 120) -> re.Match[str]:
        """The first line `pattern` matches (AssertionError if the process ends first)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            # Whether it had ended, told before the lines are looked at: all of them are then.
            ended = self._process.poll() is not None and not self._thread.is_alive()
            for line in list(self._lines):
                if found := re.search(pattern, line):
                    return found
            assert not ended, f"the process ended: {self.text()[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"no line matched {pattern!r} in {seconds} s: {self.text()[-3000:]}")

    def text(self) -> str:
        """Everything read so far (all of it once the process has ended)."""
        if self._process.poll() is not None:
            self._thread.join(timeout=30)
        return "".join(self._lines)


_REPO = Path(__file__).resolve().parents[1]


def code_counters() -> tuple[set[str], set[str]]:
    """The counters the code counts: names written out, and names made by an f-string
    (`dedup_{method}`), as patterns whose `{...}` stands for any word."""
    names: set[str] = set()
    patterns: set[str] = set()
    for path in [*(_REPO / "transforms").rglob("*.py"), *(_REPO / "pipeline").glob("*.py")]:
        text = path.read_text("utf-8")
        for match in re.finditer(r'(?:\bcounter\(|pruned_counter=)(f?)"([^"]+)"', text):
            (patterns if match.group(1) else names).add(match.group(2))
    return names, patterns


def as_regex(pattern: str) -> re.Pattern[str]:
    """`<stage>_dropped_<reason>` or `dedup_{method}` -> a regex of the names it stands for."""
    pieces = re.split(r"<[^>]+>|\{[^}]+\}", pattern)
    return re.compile("[a-z_]+".join(re.escape(piece) for piece in pieces))


def wheel_environment(wheel: Path, base: Path, name: str) -> tuple[Path, Path]:
    """A Python environment under `base` with NewsBeam only as `wheel` installs it (into
    `base/<name>-site`) and this environment's libraries besides: what a user's or a worker
    image's install has, not this checkout's editable one. Returns (its python, the site)."""
    site = base / f"{name}-site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    env = base / f"{name}-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    (packages,) = env.glob("lib/python*/site-packages")
    # Plain path entries: the .pth files there (the editable install's finder) stay inert.
    (packages / "libraries.pth").write_text(f"{site}\n{sysconfig.get_paths()['purelib']}\n")
    return env / "bin" / "python", site


# Four texts on four distinct subjects (no near copies, no shared story), long enough to
# pass the word minimum when repeated.
TOPIC_TEXTS = (
    "The city council approved a budget for the tram lines, the bus depots and new cycle lanes "
    "after a debate that lasted until midnight and split the governing coalition.",
    "A storm brought down power lines across the valley, closing schools and two motorways "
    "while engineers worked through the night to restore electricity to farms.",
    "The football club signed a young striker from a rival team for a record fee, and its "
    "coach said the squad would now compete for the league title this season.",
    "Scientists at the university reported a new method for recycling batteries that "
    "recovers most of the lithium and cobalt at a fraction of the usual energy cost.",
)


def package_install_env() -> dict[str, str]:
    """The environment for a test's package install (pip, from the package registry, as
    `make setup` does): without the network guard, which would refuse the registry."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in (offline_guard.LOG_ENV, offline_guard.DELAY_ENV)
    }
    paths = [
        path
        for path in env.get("PYTHONPATH", "").split(":")
        if path and path != str(Path(offline_guard.__file__).parent)
    ]
    env["PYTHONPATH"] = ":".join(paths)
    return env
