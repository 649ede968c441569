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
  `--beam-args` (both run by `_common.run_measured`, the scripts' one way to run and time).
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
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

AEB_HTML_RELATIVE = Path("data/extraction/aeb/html")
PAGE_SUFFIX = ".html.gz"
LOOP, PIPELINE = "loop", "pipeline"


@dataclass(frozen=True)
class Measured:
    kind: str
    repeat: int
    run: _common.Run


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


def loop_summary(run: _common.Run) -> dict[str, float]:
    lines = run.stdout.strip().splitlines()
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

    _common.stop_runs_on_sigterm()
    shared_dir = _common.locate_shared(args.shared, [str(AEB_HTML_RELATIVE)])
    beam_args = _common.split_beam_args(args.beam_args)
    with _common.scratch_directory("bench") as scratch_dir:
        pages_dir = scratch_dir / "pages"
        page_count = build_corpus(shared_dir / AEB_HTML_RELATIVE, pages_dir, args.copies)
        if page_count == 0:
            _common.exit_missing(f"no *{PAGE_SUFFIX} pages in {shared_dir / AEB_HTML_RELATIVE}")
        print(f"corpus: {page_count} pages ({args.copies} copies), {args.repeats} repeats")

        loop_command = [sys.executable, str(Path(__file__).resolve()), "--loop-worker"]
        loop_command.append(str(pages_dir))
        kinds = [LOOP] if args.loop_only else [LOOP, PIPELINE]
        runs: list[Measured] = []
        table_counts: dict[str, int] = {}  # of the last pipeline run
        loop_counts: dict[str, float] = {}  # of the last loop run
        first_pipeline_stdout = ""
        first_output_dir = ""
        for repeat in range(1, args.repeats + 1):
            for kind in kinds:
                output_dir = scratch_dir / f"out-{repeat}"
                if kind == LOOP:
                    run = _common.run_measured(loop_command, scratch_dir, sample_tree=True)
                else:
                    run = _common.run_pipeline(
                        [pages_dir], output_dir, scratch_dir, beam_args, sample_tree=True
                    )
                _common.require_success(run, what=f"the {kind} run {repeat}")
                if kind == PIPELINE:
                    table_counts = table_row_counts(output_dir)
                    if repeat == 1:
                        first_pipeline_stdout = run.stdout
                        first_output_dir = str(output_dir)
                    shutil.rmtree(output_dir, ignore_errors=True)  # keep the scratch small
                else:
                    loop_counts = loop_summary(run)
                runs.append(Measured(kind, repeat, run))
                print(f"  {kind} run {repeat}: {run.wall_seconds:.1f} s", flush=True)

    print()
    _common.print_table(
        ["run", "side", "wall s", "docs/s", "peak RSS MB", "tree RSS MB"],
        [
            [
                measured.repeat,
                measured.kind,
                f"{measured.run.wall_seconds:.1f}",
                f"{page_count / measured.run.wall_seconds:.1f}",
                f"{measured.run.peak_rss_mb:.0f}",
                f"{measured.run.tree_rss_mb:.0f}",
            ]
            for measured in runs
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
        kind_runs = [measured.run for measured in runs if measured.kind == kind]
        medians[kind] = {
            "wall": statistics.median(run.wall_seconds for run in kind_runs),
            "rss": statistics.median(run.peak_rss_mb for run in kind_runs),
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
