"""Throughput and memory of the whole pipeline against a plain loop of stock trafilatura.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_pipeline.py --gate 1.3

Corpus: the 181 AEB pages (../shared/data/extraction/aeb/html/*.html.gz) copied `--copies`
times (default 6: 1,086 pages) into a scratch folder under distinct names, still gzipped.

Each run is its own subprocess, timed wall-clock from start to exit (interpreter start and
imports included on both sides), and interleaved so drift on the machine hits both alike:
loop, pipeline, loop, pipeline, ... (`--repeats`, default 5, of each: this machine's speed
drifts by 10-20% between runs, so three pairs can still land on one slow stretch).
- loop: this script with `--loop-worker DIR`: read, gunzip and `trafilatura.extract(html)`
  (default arguments) every page in one Python loop;
- pipeline: `sys.executable -m newsbeam.pipeline --input DIR --output OUT`, plus
  `--beam-args`, stdout and stderr captured to files.
Peak memory per run: the largest single process's maximum RSS from `os.wait4` (the kernel's
ru_maxrss over the child and the descendants it waited for), and the peak of the summed RSS
of the whole process tree sampled from /proc every 0.1 s (counts worker processes alive at
the same time).

Prints each run's wall time, docs/s and peak RSS, then the medians and the ratio of median
wall times pipeline/loop (goal <= 1.3). `--gate R` fails (exit 1) when that ratio > R.
Subprocesses get TMPDIR set to the scratch folder, which is removed at the end.
Missing data exits 2.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

AEB_HTML_RELATIVE = Path("data/extraction/aeb/html")
PAGE_SUFFIX = ".html.gz"
RSS_SAMPLE_SECONDS = 0.1
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
LOOP, PIPELINE = "loop", "pipeline"


@dataclass(frozen=True)
class RunMeasurement:
    kind: str
    repeat: int
    wall_seconds: float
    largest_process_rss_mb: float
    tree_rss_mb: float
    returncode: int
    stdout_path: Path
    stderr_path: Path


# --------------------------------------------------------------------------------------
# The plain loop, run in its own process


def run_loop_worker(pages_dir: Path) -> int:
    """Extract every page with stock trafilatura; print one JSON line of counts and time."""
    started = time.perf_counter()
    import trafilatura

    pages = sorted(pages_dir.glob(f"*{PAGE_SUFFIX}"))
    extracted = 0
    for path in pages:
        html = gzip.decompress(path.read_bytes())
        if trafilatura.extract(html):
            extracted += 1
    summary = {
        "docs": len(pages),
        "extracted": extracted,
        "seconds": round(time.perf_counter() - started, 3),
    }
    print(json.dumps(summary))
    return 0


# --------------------------------------------------------------------------------------
# Measuring one subprocess


def process_tree_rss_bytes(root_pid: int) -> int:
    """Summed resident memory of `root_pid` and all its descendants, from /proc."""
    parent_of: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue  # exited meanwhile
        # The command name is in parentheses and may hold spaces: split after the last ")".
        fields = stat[stat.rfind(b")") + 2 :].split()
        parent_of[int(entry.name)] = int(fields[1])
    tree = {root_pid}
    grew = True
    while grew:
        grew = False
        for pid, parent in parent_of.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm_file:
                total += int(statm_file.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue
    return total


class TreeRssSampler(threading.Thread):
    """Samples a process tree's summed RSS until stopped; keeps the peak."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self._root_pid = root_pid
        self._stop_event = threading.Event()
        self.peak_bytes = 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_bytes = max(self.peak_bytes, process_tree_rss_bytes(self._root_pid))
            self._stop_event.wait(RSS_SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


_running_children: set[subprocess.Popen[bytes]] = set()


def stop_on_signal(signal_number: int, _frame: object) -> None:
    """On SIGTERM: stop the run in progress, then exit so the scratch folder is removed."""
    for process in list(_running_children):
        process.kill()
    sys.exit(128 + signal_number)


def measure(
    kind: str, repeat: int, command: list[str], env: dict[str, str], log_dir: Path
) -> RunMeasurement:
    stdout_path = log_dir / f"{kind}-{repeat}.stdout"
    stderr_path = log_dir / f"{kind}-{repeat}.stderr"
    with open(stdout_path, "wb") as stdout_file, open(stderr_path, "wb") as stderr_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=stdout_file, stderr=stderr_file, env=env
        )
        _running_children.add(process)
        sampler = TreeRssSampler(process.pid)
        sampler.start()
        # wait4 rather than wait(): it returns this child's own resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        wall_seconds = time.perf_counter() - started
        sampler.stop()
    _running_children.discard(process)
    process.returncode = os.waitstatus_to_exitcode(status)
    return RunMeasurement(
        kind=kind,
        repeat=repeat,
        wall_seconds=wall_seconds,
        largest_process_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        tree_rss_mb=sampler.peak_bytes / 2**20,
        returncode=process.returncode,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
    )


def fail_run(run: RunMeasurement, command: list[str], tail_lines: int = 30) -> None:
    print(f"error: {run.kind} run {run.repeat} exited with code {run.returncode}")
    print("command: " + " ".join(command))
    lines = run.stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in lines[-tail_lines:]:
        print(f"  | {line}")
    print(f"FAIL: the {run.kind} run did not complete")
    sys.exit(_common.EXIT_FAIL)


# --------------------------------------------------------------------------------------
# Corpus and checks


def build_corpus(source_dir: Path, target_dir: Path, copies: int) -> int:
    """Copy every page `copies` times as `c<k>_<name>`; returns the number of pages."""
    target_dir.mkdir(parents=True)
    sources = sorted(source_dir.glob(f"*{PAGE_SUFFIX}"))
    for copy_number in range(copies):
        for source in sources:
            shutil.copyfile(source, target_dir / f"c{copy_number}_{source.name}")
    return len(sources) * copies


def table_row_counts(output_dir: Path) -> dict[str, int]:
    """Rows per output table, from the Parquet footers (no data read)."""
    import pyarrow.parquet as pq

    return {
        table: sum(
            pq.ParquetFile(path).metadata.num_rows
            for path in (output_dir / table).glob("*.parquet")
        )
        for table in _common.TABLE_NAMES
    }


def loop_summary(run: RunMeasurement) -> dict[str, float]:
    lines = run.stdout_path.read_text(encoding="utf-8").strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_shared_argument(parser)
    parser.add_argument(
        "--copies", type=int, default=6, help="copies of the 181 pages (default 6: 1,086)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="runs of each side, interleaved (default 5)"
    )
    parser.add_argument(
        "--gate",
        type=float,
        default=None,
        metavar="R",
        help="exit 1 when median pipeline wall time / median loop wall time > R",
    )
    parser.add_argument(
        "--beam-args",
        metavar="ARGS",
        default="",
        help="extra flags for the pipeline, one shell-quoted string",
    )
    parser.add_argument(
        "--loop-only",
        action="store_true",
        help="time the loop only (checks the harness without the pipeline)",
    )
    parser.add_argument("--loop-worker", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.copies < 1 or args.repeats < 1:
        parser.error("--copies and --repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.loop_worker:
        return run_loop_worker(Path(args.loop_worker))

    signal.signal(signal.SIGTERM, stop_on_signal)
    shared_dir = _common.locate_shared(args.shared, [str(AEB_HTML_RELATIVE)])
    beam_args = _common.split_beam_args(args.beam_args)
    with _common.scratch_directory("bench") as scratch_dir:
        pages_dir = scratch_dir / "pages"
        page_count = build_corpus(shared_dir / AEB_HTML_RELATIVE, pages_dir, args.copies)
        if page_count == 0:
            _common.exit_missing(f"no *{PAGE_SUFFIX} pages in {shared_dir / AEB_HTML_RELATIVE}")
        log_dir = scratch_dir / "logs"
        log_dir.mkdir()
        env = _common.subprocess_environment(scratch_dir / "tmp")
        print(f"corpus: {page_count} pages ({args.copies} copies), {args.repeats} repeats")

        loop_command = [sys.executable, str(Path(__file__).resolve()), "--loop-worker"]
        loop_command.append(str(pages_dir))
        kinds = [LOOP] if args.loop_only else [LOOP, PIPELINE]
        runs: list[RunMeasurement] = []
        table_counts: dict[str, int] = {}  # of the last pipeline run
        loop_counts: dict[str, float] = {}  # of the last loop run
        first_pipeline_stdout = ""
        first_output_dir = ""
        for repeat in range(1, args.repeats + 1):
            for kind in kinds:
                output_dir = scratch_dir / f"out-{repeat}"
                if kind == LOOP:
                    command = loop_command
                else:
                    command = _common.pipeline_command([pages_dir], output_dir, beam_args)
                run = measure(kind, repeat, command, env, log_dir)
                if run.returncode != 0:
                    fail_run(run, command)
                if kind == PIPELINE:
                    table_counts = table_row_counts(output_dir)
                    if repeat == 1:
                        first_pipeline_stdout = run.stdout_path.read_text(errors="replace")
                        first_output_dir = str(output_dir)
                    shutil.rmtree(output_dir, ignore_errors=True)  # keep the scratch small
                else:
                    loop_counts = loop_summary(run)
                runs.append(run)
                print(f"  {kind} run {repeat}: {run.wall_seconds:.1f} s", flush=True)

    print()
    _common.print_table(
        ["run", "side", "wall s", "docs/s", "peak RSS MB", "tree RSS MB"],
        [
            [
                run.repeat,
                run.kind,
                f"{run.wall_seconds:.1f}",
                f"{page_count / run.wall_seconds:.1f}",
                f"{run.largest_process_rss_mb:.0f}",
                f"{run.tree_rss_mb:.0f}",
            ]
            for run in runs
        ],
    )
    print(
        f"\nloop: {loop_counts.get('extracted')} of {loop_counts.get('docs')} pages gave text, "
        f"{loop_counts.get('seconds')} s inside the process (last run)"
    )
    if args.loop_only:
        return 0
    print(f"pipeline rows per table (last run): {table_counts}")
    if sum(table_counts.values()) != page_count:
        print(f"warning: the tables hold {sum(table_counts.values())} rows for {page_count} pages")
    # The run's own summary, minus the lines naming its (now deleted) output paths.
    summary_lines = [
        line
        for line in first_pipeline_stdout.splitlines()
        if line.strip() and first_output_dir not in line
    ]
    if summary_lines:
        print("pipeline stdout (run 1):")
        for line in summary_lines[-8:]:
            print(f"  | {line}")

    medians: dict[str, dict[str, float]] = {}
    for kind in kinds:
        kind_runs = [run for run in runs if run.kind == kind]
        medians[kind] = {
            "wall": statistics.median(run.wall_seconds for run in kind_runs),
            "rss": statistics.median(run.largest_process_rss_mb for run in kind_runs),
            "tree": statistics.median(run.tree_rss_mb for run in kind_runs),
        }
    ratio = medians[PIPELINE]["wall"] / medians[LOOP]["wall"]
    print("\nmedians:")
    _common.print_table(
        ["side", "wall s", "docs/s", "peak RSS MB", "tree RSS MB"],
        [
            [
                kind,
                f"{medians[kind]['wall']:.1f}",
                f"{page_count / medians[kind]['wall']:.1f}",
                f"{medians[kind]['rss']:.0f}",
                f"{medians[kind]['tree']:.0f}",
            ]
            for kind in kinds
        ],
    )
    print(f"ratio pipeline/loop (median wall time): {ratio:.3f}  (goal <= 1.3)")

    if args.gate is None:
        return 0
    return _common.finish_gate(
        ratio <= args.gate, f"pipeline/loop wall-time ratio {ratio:.3f} vs gate {args.gate}"
    )


if __name__ == "__main__":
    sys.exit(main())
