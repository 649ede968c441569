"""The report process (pipeline/report_process.py): forked before Beam is imported, it draws
the same report the run process would, answers an error as the run would log it, ends when
handed nothing, and a process that is gone only means the run draws the report itself.

Each case runs in a fresh interpreter (a report process forks only from a process with a
single thread, which a test session is not), on a run committed by the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from newsbeam.pipeline import main as entry
from newsbeam.pipeline import report
from newsbeam.pipeline import report_process as report_process_module
from newsbeam.pipeline.report_process import ReportProcess
from tests.helpers import run_manifest

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
TWO_CORES = hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1
needs_two_cores = pytest.mark.skipif(
    not TWO_CORES or not sys.platform.startswith("linux"),
    reason="a report process starts only on Linux with more than one core",
)


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("seeds") / "out"
    assert entry.main(["--input", str(SEEDS), "--output", str(output)]) == 0
    return output


def _in_fresh_interpreter(code: str) -> dict:
    """Run `code` in a new interpreter (it starts a ReportProcess first: no thread yet, no
    Beam) and return the JSON it prints last."""
    prelude = (
        "import json, os, signal, sys\n"
        "from newsbeam.pipeline.report_process import ReportProcess\n"
        "process = ReportProcess.start()\n"
        "assert process is not None\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + code],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,  # a report process waiting for a job that never ends: a failure
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_two_cores
def test_draws_the_report_the_run_process_draws(seeds_run: Path, tmp_path: Path) -> None:
    manifest = run_manifest(seeds_run)
    apart, here = tmp_path / "apart.html", tmp_path / "here.html"
    code = (
        f"manifest = json.loads({json.dumps(json.dumps(manifest))})\n"
        f"answer = process.draw({str(seeds_run)!r}, manifest, {str(apart)!r})\n"
        "print(json.dumps({'answer': answer, 'beam': 'apache_beam' in sys.modules,\n"
        "                  'reaped': process.pid == 0}))\n"
    )
    result = _in_fresh_interpreter(code)
    assert result["reaped"] and not result["beam"]  # the command had not imported Beam
    assert set(result["answer"]) == {"report_seconds"}
    report.write_run_report(str(seeds_run), manifest, str(here))
    assert apart.read_bytes() == here.read_bytes()  # the same page, byte for byte
    assert "<svg" in apart.read_text(encoding="utf-8")


@needs_two_cores
def test_draws_while_a_later_fork_holds_its_pipe(seeds_run: Path, tmp_path: Path) -> None:
    """The run forks the worker template (and its workers) after the report process: they
    hold copies of the job pipe's write end, so the job is read to its length, not to the
    pipe's end."""
    manifest = run_manifest(seeds_run)
    code = (
        "import time\n"
        "holder = os.fork()\n"
        "if holder == 0:\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        f"manifest = json.loads({json.dumps(json.dumps(manifest))})\n"
        f"answer = process.draw({str(seeds_run)!r}, manifest, {str(tmp_path / 'r.html')!r})\n"
        "os.kill(holder, signal.SIGKILL)\n"
        "os.waitpid(holder, 0)\n"
        "print(json.dumps(answer))\n"
    )
    assert set(_in_fresh_interpreter(code)) == {"report_seconds"}
    assert (tmp_path / "r.html").exists()


@needs_two_cores
def test_a_report_it_cannot_draw_is_answered_as_an_error(seeds_run: Path, tmp_path: Path) -> None:
    manifest = run_manifest(seeds_run)
    for listed in manifest["tables"]["articles"]["files"]:
        listed["path"] = listed["path"].replace(".parquet", ".missing.parquet")
    code = (
        f"manifest = json.loads({json.dumps(json.dumps(manifest))})\n"
        f"answer = process.draw({str(seeds_run)!r}, manifest, {str(tmp_path / 'r.html')!r})\n"
        "print(json.dumps(answer))\n"
    )
    answer = _in_fresh_interpreter(code)
    assert answer["report_error"].startswith("FileNotFoundError")
    assert "Traceback" in answer["report_traceback"]
    assert not (tmp_path / "r.html").exists()


@needs_two_cores
def test_handed_nothing_it_ends_and_is_reaped() -> None:
    code = (
        "pid = process.pid\n"
        "process.close()  # still loading: ended, not waited for\n"
        "try:\n"
        "    os.kill(pid, 0)\n"
        "    alive = True\n"
        "except ProcessLookupError:\n"
        "    alive = False\n"
        "print(json.dumps({'alive': alive, 'again': process.draw('x', {}, 'y')}))\n"
    )
    assert _in_fresh_interpreter(code) == {"alive": False, "again": None}


@needs_two_cores
def test_a_process_that_is_gone_leaves_the_report_to_the_run(tmp_path: Path) -> None:
    code = (
        "os.kill(process.pid, signal.SIGKILL)\n"
        f"print(json.dumps({{'answer': process.draw('x', {{}}, {str(tmp_path / 'r.html')!r})}}))\n"
    )
    assert _in_fresh_interpreter(code) == {"answer": None}


@needs_two_cores
def test_the_command_has_its_report_drawn_apart(tmp_path: Path) -> None:
    """The real command in a fresh interpreter: its report process drew the report (the
    run process never imported matplotlib), and the run committed it."""
    output = tmp_path / "out"
    code = (
        "import sys\n"
        "from newsbeam.pipeline import main\n"
        f"status = main.main(['--input', {str(SEEDS)!r}, '--output', {str(output)!r}])\n"
        "print()\n"
        "print(__import__('json').dumps({'status': status,\n"
        "                                'matplotlib': 'matplotlib' in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 0, "matplotlib": False}
    manifest = run_manifest(output)
    assert "report_seconds" in manifest and "report_error" not in manifest
    assert (output / "_runs" / f"{manifest['run_id']}.html").exists()


def test_no_process_while_another_thread_runs() -> None:
    """A fork copies no lock another thread holds: with a second thread, none starts."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert not report_process_module.can_start()
        assert ReportProcess.start() is None
    finally:
        release.set()
        thread.join()


@pytest.mark.parametrize(
    "flag",
    ["--help", "--version", "--streaming", "--follow", "--max_files_per_run=100"],
)
def test_no_process_for_a_command_that_draws_no_report(flag: str) -> None:
    assert entry._report_process(["--input", "x", "--output", "y", flag]) is None


def test_the_report_reads_a_local_dataset_without_beam(seeds_run: Path) -> None:
    """What the report process relies on: the report module, its preload and reading a
    local run import no Beam (local files are read with pyarrow; Beam's filesystems only for
    object stores), nor pyarrow's dataset modules (files are read one at a time)."""
    manifest = json.dumps(json.dumps(run_manifest(seeds_run)))
    code = (
        "import json, sys\n"
        "from newsbeam.pipeline import report\n"
        "report.preload()\n"
        f"run = report.load_run({str(seeds_run)!r}, json.loads({manifest}))\n"
        "assert run.articles.num_rows == 5, run.articles.num_rows\n"
        "assert 'apache_beam' not in sys.modules, 'Beam imported'\n"
        "assert 'pyarrow.dataset' not in sys.modules, 'pyarrow.dataset imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_read_parquet_reads_what_read_table_reads(seeds_run: Path) -> None:
    """files.read_parquet reads one file as pyarrow's read_table does (a file in a
    partition folder gains no partition column), schema metadata included."""
    import pyarrow.parquet as pq

    from newsbeam.transforms.support import files

    paths = sorted(seeds_run.glob("*/ingest_date=*/*.parquet"))
    assert {path.parts[-3] for path in paths} >= {"articles", "rejected"}
    for path in paths:
        ours, theirs = files.read_parquet(str(path)), pq.read_table(path)
        assert ours.equals(theirs) and ours.schema.equals(theirs.schema, check_metadata=True)
        names = theirs.schema.names[:2]
        assert files.read_parquet(str(path), columns=names).equals(
            pq.read_table(path, columns=names)
        )
