"""Throughput, cores and memory of the whole pipeline against a plain loop of stock trafilatura.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_pipeline.py --pinned --moonshot --scale 10 --scaling \
        --gate 0.8

Corpus (`--corpus`):
- `distinct` (default): every distinct HTML page in ../shared, read once each: the 181 AEB
  pages (data/extraction/aeb/html) and the fundus test pages
  (data/pages/fundus-test-pages/*/), about 440; real input is mostly distinct pages;
- `copies`: the 181 AEB pages `--copies` times (default 6: 1,086 pages, 905 of them exact
  copies, which the pipeline short-cuts: a figure that flatters the pipeline).
Pages are copied, still gzipped, under distinct names into a scratch folder.

Each run is its own subprocess, timed wall-clock from start to exit (interpreter start and
imports included on both sides), and interleaved so drift on the machine hits all sides
alike: loop, pipeline[, pinned], loop, pipeline, ... (`--repeats`, default 3).
- loop: this script with `--loop-worker DIR`: read, gunzip and `trafilatura.extract(html)`
  (default arguments) every page in one Python loop, one process;
- pipeline: `python -m newsbeam.pipeline --input DIR --output OUT` (the default command:
  on this many pages one SDK worker process per available core, pipeline/workers.py),
  plus `--beam-args` (`--beam-args "--direct_running_mode in_memory"` for in-process);
- pinned (`--pinned`): the same command under `taskset -c 0` (one core: the command then
  stays in-process);
- loop on two (`--pinned` too): the loop in two processes started at once, each on every
  other page; timed until both exit. Its speed-up over the loop is what this host gives two
  processes of perfectly parallel work at the time of the runs (a shared virtual machine
  gives less than 2x, and how much less drifts: two busy cores here ran a pure-Python loop
  at a median 1.13x the CPU time of one), the reference for the pipeline's speed-up over
  pinned;
- trafilatura on two (`--moonshot`): trafilatura's own command line on the same folder,
  `python -m trafilatura.cli --input-dir DIR -o OUT --parallel 2` (text only, two
  processes): the issue's moonshot is the default command faster than it.
All run by `_common.run_measured`/`run_pipeline`, the scripts' one way to run and time.
Per run: wall time, CPU time (user + system of the process and the workers it waited
for: what the run cost whatever else the shared machine did) and peak RSS of the largest
process. Memory of the whole process tree (the peaks of the summed RSS and of the summed
PSS, sampled every 0.1 s; PSS counts the pages forked workers share with their template
once) comes from one more run of each side after the timed ones: the sampler reads /proc
for every process ten times a second, which took ~0.3-1 s of a 2-worker run's ~8 s of
wall time (it competes with the workers for the cores, not with the one-process loop).

Also printed: the per-page cost of each stage (the runner's own step timings,
`stage_seconds` in the manifest, summed over workers), medians of all runs, the ratio of
median wall times pipeline/loop (goal <= 0.8) and pipeline/pinned speed-up (goal >= 1.6).
- `--scale N`: one more run on the corpus copied N times (exact copies under distinct
  names: the point is how memory grows with the input), memory against the 1x run;
- `--scaling`: docs/s against pages (subsets of the corpus) with 1 worker (in-process) and
  with one worker process per core; a plot `scaling.png` in `--out`;
- `--timeline`: one more run of each pipeline side through stage_timeline.py, which records
  when each of the local runner's fused stages started and ended: wall seconds by part of
  the run (start-up, the first stage and the workers' start, extraction, the stages after
  it, the end), what Beam's step times leave out.
`--out DIR` (default out/bench) gets `summary.json` and the plot. `--gate R` fails (exit
1) when median pipeline / median loop wall time > R. Subprocesses get TMPDIR set to the
scratch folder, which is removed at the end. Missing data exits 2.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

AEB_HTML_RELATIVE = Path("data/extraction/aeb/html")
FUNDUS_RELATIVE = Path("data/pages/fundus-test-pages")
PAGE_SUFFIX = ".html.gz"
LOOP, PIPELINE, PINNED, LOOP_ON_TWO = "loop", "pipeline", "pinned", "loop on two"
TRAFILATURA_ON_TWO = "trafilatura on two"
LOOPS = (LOOP, LOOP_ON_TWO, TRAFILATURA_ON_TWO)  # the sides that are not NewsBeam
# The stages of the breakdown, in pipeline order (top-level labels in pipeline/build.py).
STAGES = (
    "Read",
    "Extract",
    "Clean",
    "Language",
    "Dedup",
    "Stories",
    "Topics",
    "Places",
    "Write",
)
SCALING_SIZES = (25, 50, 100, 200)  # plus the whole corpus
ONE_WORKER = ["--direct_running_mode", "in_memory", "--direct_num_workers", "1"]
ONE_CORE = ["taskset", "-c", "0"]  # the pinned side's prefix


@dataclass(frozen=True)
class Measured:
    kind: str
    repeat: int
    run: _common.Run
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # SDK worker processes of a pipeline run, from its manifest (1: in-process; the default
    # command runs in-process when the load average says the cores are busy).
    workers: int | None = None


# --------------------------------------------------------------------------------------
# The plain loop, run in its own process


def run_loop_worker(pages_dir: Path, part: int = 0, parts: int = 1) -> int:
    """Extract every page (every `parts`-th from the `part`-th) with stock trafilatura;
    print one JSON line of counts and time."""
    started = time.perf_counter()
    import trafilatura

    pages = sorted(pages_dir.glob(f"*{PAGE_SUFFIX}"))[part::parts]
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


def run_loop_pair(pages_dir: Path) -> int:
    """The loop on two processes at once, each on every other page; waits for both and
    prints their counts summed (seconds: the slower one's)."""
    script = str(Path(__file__).resolve())
    halves = [
        subprocess.Popen(
            [sys.executable, script, "--loop-worker", str(pages_dir), "--loop-part", f"{i}/2"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [half.communicate()[0] for half in halves]
    if any(half.returncode for half in halves):
        return 1
    counts = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    summary = {key: sum(c[key] for c in counts) for key in ("docs", "extracted")}
    print(json.dumps({**summary, "seconds": max(c["seconds"] for c in counts)}))
    return 0


# --------------------------------------------------------------------------------------
# Corpus and checks


def distinct_sources(shared_dir: Path) -> list[tuple[str, Path]]:
    """(distinct name, path) of every distinct page: AEB, then fundus by language folder."""
    sources = [
        (f"aeb_{path.name}", path)
        for path in sorted((shared_dir / AEB_HTML_RELATIVE).glob(f"*{PAGE_SUFFIX}"))
    ]
    for path in sorted((shared_dir / FUNDUS_RELATIVE).glob(f"*/*{PAGE_SUFFIX}")):
        sources.append((f"fundus_{path.parent.name}_{path.name}", path))
    return sources


def copies_sources(shared_dir: Path, copies: int) -> list[tuple[str, Path]]:
    aeb = sorted((shared_dir / AEB_HTML_RELATIVE).glob(f"*{PAGE_SUFFIX}"))
    return [(f"c{k}_{path.name}", path) for k in range(copies) for path in aeb]


def spread(sources: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """The sources in a fixed order that mixes the corpora (for subsets of the corpus)."""
    return sorted(sources, key=lambda item: hashlib.sha1(item[0].encode()).hexdigest())


def write_corpus(sources: list[tuple[str, Path]], target_dir: Path, times: int = 1) -> int:
    """Copy the sources (`times` times, as `x<k>_<name>` when more than once)."""
    target_dir.mkdir(parents=True)
    for copy_number in range(times):
        prefix = f"x{copy_number}_" if times > 1 else ""
        for name, source in sources:
            shutil.copyfile(source, target_dir / f"{prefix}{name}")
    return len(sources) * times


def table_row_counts(output_dir: Path) -> dict[str, int]:
    """Rows per output table of the run in `output_dir`, from the Parquet footers of the
    files its manifest lists (no data read)."""
    import pyarrow.parquet as pq

    return {
        table: sum(
            pq.ParquetFile(path).metadata.num_rows
            for path in _common.table_files(output_dir, table)
        )
        for table in _common.TABLE_NAMES
    }


def loop_summary(run: _common.Run) -> dict[str, float]:
    lines = run.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


# --------------------------------------------------------------------------------------
# Running


class Bench:
    """Runs the sides on one corpus folder; keeps what the summary needs."""

    def __init__(self, scratch_dir: Path, pages_dir: Path, beam_args: list[str]) -> None:
        self.scratch_dir = scratch_dir
        self.pages_dir = pages_dir
        self.beam_args = beam_args
        self.table_counts: dict[str, int] = {}
        self.first_stdout = ""
        self.first_output = ""
        self._runs = 0

    def run(
        self,
        kind: str,
        pages_dir: Path | None = None,
        extra: list[str] | None = None,
        sample: bool = False,
    ) -> tuple[_common.Run, dict[str, float], int | None]:
        """One measured run of `kind` (`sample`: the process tree's memory sampled too);
        returns (Run, stage_seconds, worker processes)."""
        pages_dir = pages_dir or self.pages_dir
        if kind == TRAFILATURA_ON_TWO:
            return self._trafilatura_on_two(pages_dir, sample), {}, None
        if kind in LOOPS:
            mode = "--loop-worker" if kind == LOOP else "--loop-pair"
            command = [sys.executable, str(Path(__file__).resolve()), mode, str(pages_dir)]
            run = _common.run_measured(command, self.scratch_dir, sample)
            _common.require_success(run, what=f"the {kind}")
            return run, {}, None
        self._runs += 1
        output_dir = self.scratch_dir / f"out-{self._runs}"
        args = [*self.beam_args, *(extra or [])]
        if kind == PINNED:
            command = [*ONE_CORE, *_common.pipeline_command([pages_dir], output_dir, args)]
            run = _common.run_measured(command, self.scratch_dir, sample_tree=sample)
        else:
            run = _common.run_pipeline([pages_dir], output_dir, self.scratch_dir, args, sample)
        _common.require_success(run, what=f"the {kind} run")
        manifest = _common.read_manifest(output_dir) or {}
        if pages_dir == self.pages_dir:
            self.table_counts = table_row_counts(output_dir)
            if not self.first_stdout:
                self.first_stdout, self.first_output = run.stdout, str(output_dir)
        shutil.rmtree(output_dir, ignore_errors=True)  # keep the scratch small
        return run, manifest.get("stage_seconds") or {}, worker_processes(manifest)

    def _trafilatura_on_two(self, pages_dir: Path, sample: bool) -> _common.Run:
        """trafilatura's command line over the folder in two processes; checks that it wrote
        a text file for most pages (it writes none for a page without text)."""
        self._runs += 1
        output_dir = self.scratch_dir / f"trafilatura-{self._runs}"
        command = [sys.executable, "-m", "trafilatura.cli", "--input-dir", str(pages_dir)]
        command += ["-o", str(output_dir), "--parallel", "2"]
        run = _common.run_measured(command, self.scratch_dir, sample)
        _common.require_success(run, what="trafilatura's command line")
        written = sum(1 for path in output_dir.iterdir()) if output_dir.is_dir() else 0
        pages = sum(1 for _ in pages_dir.glob(f"*{PAGE_SUFFIX}"))
        if written < pages * 0.9:
            raise SystemExit(f"trafilatura's command line wrote {written} files for {pages} pages")
        shutil.rmtree(output_dir, ignore_errors=True)
        return run

    def timeline(self, kind: str) -> dict[str, float]:
        """One more run of `kind` through stage_timeline.py: seconds of each part of the
        run (`timeline_parts`)."""
        self._runs += 1
        output_dir = self.scratch_dir / f"out-{self._runs}"
        target = self.scratch_dir / f"timeline-{self._runs}.json"
        wrapper = [sys.executable, str(Path(__file__).resolve().parent / "stage_timeline.py")]
        command = _common.pipeline_command(
            [self.pages_dir], output_dir, self.beam_args, program=[*wrapper, str(target)]
        )
        if kind == PINNED:
            command = [*ONE_CORE, *command]
        run = _common.run_measured(command, self.scratch_dir)
        _common.require_success(run, what=f"the {kind} timeline run")
        shutil.rmtree(output_dir, ignore_errors=True)
        recorded = json.loads(target.read_text())
        parts = timeline_parts(recorded["stages"], recorded["end"])
        print(f"  {kind} timeline run: {run.wall_seconds:.1f} s wall", flush=True)
        return parts


# The parts of a run in the timeline (`--timeline`): a fused stage of the local runner
# belongs to the first part whose marker its name holds (step names of pipeline/build.py).
TIMELINE_PARTS = (
    ("Read-Inputs-Impulse", "first stage: list inputs, workers start"),
    ("Extract-Extract", "read + extract"),
    ("Clean-Clean", "clean, language, fingerprints"),
    ("Stories-Cluster", "stories clustering"),
    ("Topics-Tag", "story ids, topics, places"),
    ("Write-Record", "write"),
    ("Dedup", "dedup"),
    ("Feeds", "feed stages"),
)
START, OTHER, END = "start: imports, graph, translation", "other stages", "end: report, commit"


def timeline_parts(stages: list[list[Any]], end: float) -> dict[str, float]:
    """Seconds per part of a run from its stages ([name, start, end] from the process's
    start, in order) and when it ended: the start up to the first stage, the stages by
    part (`TIMELINE_PARTS`), the end after the last stage."""
    parts: dict[str, float] = {START: stages[0][1] if stages else 0.0}
    for name, started, ended in stages:
        label = next((label for marker, label in TIMELINE_PARTS if marker in name), OTHER)
        parts[label] = parts.get(label, 0.0) + ended - started
    parts[END] = end - (stages[-1][2] if stages else 0.0)
    parts["stages"] = float(len(stages))
    return parts


def print_timeline(timelines: dict[str, dict[str, float]]) -> None:
    kinds = list(timelines)
    labels = [START] + [label for _, label in TIMELINE_PARTS] + [OTHER, END]
    print("\nwhere the wall time goes (s; one run of each side through stage_timeline.py):")
    rows = [
        [label, *(f"{timelines[kind].get(label, 0.0):.2f}" for kind in kinds)] for label in labels
    ]
    totals = [sum(timelines[kind].get(label, 0.0) for label in labels) for kind in kinds]
    rows.append(["all", *(f"{total:.2f}" for total in totals)])
    rows.append(["fused stages", *(f"{timelines[kind]['stages']:.0f}" for kind in kinds)])
    _common.print_table(["part", *kinds], rows)


def worker_processes(manifest: dict[str, Any]) -> int | None:
    """A run's SDK worker processes as its manifest records the runner's options (1: the
    run stayed in one process); None without a manifest."""
    options = manifest.get("options")
    if not isinstance(options, dict):
        return None
    if options.get("direct_running_mode") != "multi_processing":
        return 1
    return int(options.get("direct_num_workers") or 1)


def pair_ratios(
    runs: list[Measured], slower: str, faster: str, measure: str = "wall_seconds"
) -> list[float]:
    """`measure` (a Run field: wall_seconds, cpu_seconds) of `slower` over `faster`, repeat
    by repeat (they ran side by side)."""
    values = {(m.kind, m.repeat): getattr(m.run, measure) for m in runs}
    repeats = sorted({m.repeat for m in runs})
    return [values[slower, r] / values[faster, r] for r in repeats if (slower, r) in values]


def cores_busy(runs: list[Measured], kind: str) -> float:
    """Median over the runs of `kind` of CPU seconds per wall second: the cores kept busy."""
    return statistics.median(m.run.cpu_seconds / m.run.wall_seconds for m in runs if m.kind == kind)


def median_of(runs: list[Measured], kind: str, memory: _common.Run) -> dict[str, float]:
    """Medians of the timed runs of `kind`; the process tree's memory from its memory run."""
    kind_runs = [measured.run for measured in runs if measured.kind == kind]
    return {
        "wall": statistics.median(run.wall_seconds for run in kind_runs),
        "cpu": statistics.median(run.cpu_seconds for run in kind_runs),
        "rss": statistics.median(run.peak_rss_mb for run in kind_runs),
        "tree": memory.tree_rss_mb,
        "pss": memory.tree_pss_mb,
    }


def stage_breakdown(runs: list[Measured], kind: str, pages: int) -> dict[str, float]:
    """Median ms per page of each stage over the runs of `kind` (summed over workers)."""
    per_run = [measured.stage_seconds for measured in runs if measured.kind == kind]
    per_run = [stages for stages in per_run if stages]
    if not per_run:
        return {}
    names = [*STAGES, *sorted({n for stages in per_run for n in stages} - set(STAGES))]
    breakdown = {}
    for name in names:
        breakdown[name] = statistics.median(stages.get(name, 0.0) for stages in per_run)
    return {name: 1000 * seconds / pages for name, seconds in breakdown.items()}


def print_breakdown(breakdowns: dict[str, dict[str, float]], walls: dict[str, float]) -> None:
    kinds = [kind for kind in breakdowns if breakdowns[kind]]
    if not kinds:
        return
    print("\nper-page cost by stage (ms/page, the runner's step times summed over workers):")
    names = list(breakdowns[kinds[0]])
    rows = []
    for name in names:
        if name not in STAGES and all(breakdowns[k].get(name, 0) < 0.5 for k in kinds):
            continue
        rows.append([name] + [f"{breakdowns[k].get(name, 0.0):.1f}" for k in kinds])
    rows.append(["all stages"] + [f"{sum(breakdowns[k].values()):.1f}" for k in kinds])
    rows.append(["wall time"] + [f"{walls[k]:.1f}" for k in kinds])
    _common.print_table(["stage", *kinds], rows)


# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--corpus", choices=("distinct", "copies"), default="distinct")
    parser.add_argument(
        "--copies", type=int, default=6, help="--corpus copies: copies of the 181 AEB pages"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each side, interleaved (default 3)"
    )
    parser.add_argument(
        "--pinned", action="store_true", help="also run the command under taskset -c 0"
    )
    parser.add_argument(
        "--moonshot",
        action="store_true",
        help="also run trafilatura's command line with --parallel 2",
    )
    parser.add_argument(
        "--scale", type=int, default=0, metavar="N", help="a memory run on N x the corpus"
    )
    parser.add_argument(
        "--scaling", action="store_true", help="docs/s against pages, 1 and all workers"
    )
    parser.add_argument("--out", default="out/bench", help="summary.json and plots go here")
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="one more run of each pipeline side with its stages' wall-clock boundaries",
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
    parser.add_argument("--loop-part", default="0/1", help=argparse.SUPPRESS)
    parser.add_argument("--loop-pair", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.copies < 1 or args.repeats < 1 or args.scale < 0:
        parser.error("--copies and --repeats must be >= 1, --scale >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.loop_worker:
        part, parts = (int(n) for n in args.loop_part.split("/"))
        return run_loop_worker(Path(args.loop_worker), part, parts)
    if args.loop_pair:
        return run_loop_pair(Path(args.loop_pair))

    _common.stop_runs_on_sigterm()
    shared_dir = _common.locate_shared(args.shared, [str(AEB_HTML_RELATIVE)])
    if args.corpus == "distinct":
        sources = distinct_sources(shared_dir)
        described = "distinct pages (AEB + fundus), each once"
    else:
        sources = copies_sources(shared_dir, args.copies)
        described = f"the AEB pages {args.copies} times"
    if not sources:
        _common.exit_missing(f"no *{PAGE_SUFFIX} pages under {shared_dir}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {"corpus": args.corpus, "cores": len(os.sched_getaffinity(0))}
    with _common.scratch_directory("bench") as scratch_dir:
        pages_dir = scratch_dir / "pages"
        page_count = write_corpus(sources, pages_dir)
        summary["pages"] = page_count
        print(f"corpus: {page_count} {described}; {args.repeats} repeats")
        print(f"load average at start: {load_average()}")
        bench = Bench(scratch_dir, pages_dir, _common.split_beam_args(args.beam_args))
        kinds = [LOOP] if args.loop_only else [LOOP, PIPELINE]
        if args.pinned and not args.loop_only:
            kinds += [PINNED, LOOP_ON_TWO]
        if args.moonshot and not args.loop_only:
            kinds += [TRAFILATURA_ON_TWO]
        runs: list[Measured] = []
        loop_counts: dict[str, float] = {}
        if PIPELINE in kinds:  # untimed: as a user's second run finds them, every timed run
            bench.run(PIPELINE)  # finds the built objects cached and the pages read before
            print("  one untimed run of the pipeline: its cache of built objects is warm")
        for repeat in range(1, args.repeats + 1):
            for kind in kinds:
                run, stages, workers = bench.run(kind)
                if kind == LOOP:
                    loop_counts = loop_summary(run)
                runs.append(Measured(kind, repeat, run, stages, workers))
                print(
                    f"  {kind} run {repeat}: {run.wall_seconds:.1f} s wall, "
                    f"{run.cpu_seconds:.1f} s CPU, load {load_average()}"
                    + (f", {workers} worker process(es)" if workers else ""),
                    flush=True,
                )
        memory: dict[str, _common.Run] = {}
        for kind in kinds:  # after the timed runs: the sampler would slow them
            memory[kind], _, _ = bench.run(kind, sample=True)
            print(
                f"  {kind} memory run: peak PSS {memory[kind].tree_pss_mb:.0f} MB, "
                f"summed RSS {memory[kind].tree_rss_mb:.0f} MB",
                flush=True,
            )
        timelines = (
            {kind: bench.timeline(kind) for kind in kinds if kind not in LOOPS}
            if args.timeline
            else None
        )
        scaled = scale_run(args, bench, sources, scratch_dir) if args.scale else None
        scaling = scaling_runs(bench, sources, scratch_dir) if args.scaling else None
        print(f"load average at end: {load_average()}")

    print()
    _common.print_table(
        ["run", "side", "workers", "wall s", "CPU s", "docs/s", "peak RSS MB"],
        [
            [
                measured.repeat,
                measured.kind,
                measured.workers or "",
                f"{measured.run.wall_seconds:.1f}",
                f"{measured.run.cpu_seconds:.1f}",
                f"{page_count / measured.run.wall_seconds:.1f}",
                f"{measured.run.peak_rss_mb:.0f}",
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
    in_process = [m.repeat for m in runs if m.kind == PIPELINE and m.workers == 1]
    if in_process and not args.beam_args:
        print(
            f"note: default run(s) {in_process} stayed in one process (the host's load "
            "average was at cores + 1 or more at launch: pipeline/workers.py worker_plan)"
        )
    print(f"pipeline rows per table (last run): {bench.table_counts}")
    if sum(bench.table_counts.values()) != page_count:
        print(f"warning: the tables hold {sum(bench.table_counts.values())} rows for {page_count}")
    summary_lines = [
        line
        for line in bench.first_stdout.splitlines()
        if line.strip() and bench.first_output not in line
    ]
    if summary_lines:
        print("pipeline stdout (run 1):")
        for line in summary_lines[-8:]:
            print(f"  | {line}")

    medians = {kind: median_of(runs, kind, memory[kind]) for kind in kinds}
    print("\nmedians (tree RSS and PSS: the one sampled memory run of each side):")
    _common.print_table(
        ["side", "wall s", "CPU s", "docs/s", "peak RSS MB", "tree RSS MB", "PSS MB"],
        [
            [
                kind,
                f"{medians[kind]['wall']:.1f}",
                f"{medians[kind]['cpu']:.1f}",
                f"{page_count / medians[kind]['wall']:.1f}",
                f"{medians[kind]['rss']:.0f}",
                f"{medians[kind]['tree']:.0f}",
                f"{medians[kind]['pss']:.0f}",
            ]
            for kind in kinds
        ],
    )
    breakdowns = {
        kind: stage_breakdown(runs, kind, page_count) for kind in kinds if kind not in LOOPS
    }
    print_breakdown(breakdowns, {kind: medians[kind]["wall"] for kind in breakdowns})
    if timelines:
        summary["timeline"] = timelines
        print_timeline(timelines)
    ratio = medians[PIPELINE]["wall"] / medians[LOOP]["wall"]
    print(f"\nratio pipeline/loop (median wall time): {ratio:.3f}  (goal <= 0.8)")
    ratios = pair_ratios(runs, PIPELINE, LOOP)
    print(f"  pair by pair: {', '.join(f'{r:.2f}' for r in ratios)}")
    cpu_ratio = medians[PIPELINE]["cpu"] / medians[LOOP]["cpu"]
    print(f"ratio pipeline/loop (median CPU time): {cpu_ratio:.3f}")
    summary.update(medians=medians, ratio=ratio, pair_ratios=ratios, breakdown=breakdowns)
    if args.pinned:
        speedup = medians[PINNED]["wall"] / medians[PIPELINE]["wall"]
        print(f"speed-up of the default run over taskset -c 0: {speedup:.2f}x  (goal >= 1.6)")
        pairs = pair_ratios(runs, PINNED, PIPELINE)
        print(f"  pair by pair: {', '.join(f'{r:.2f}' for r in pairs)}")
        host = medians[LOOP]["wall"] / medians[LOOP_ON_TWO]["wall"]
        host_pairs = pair_ratios(runs, LOOP, LOOP_ON_TWO)
        print(
            f"the host's speed-up for two processes (loop / loop on two): {host:.2f}x; "
            f"the default run got {speedup / host:.2f} of it"
        )
        print(f"  pair by pair: {', '.join(f'{r:.2f}' for r in host_pairs)}")
        # What separates the two: how many cores each kept busy, and how much more CPU the
        # same work took on two cores than on one (the host's share: the loop's).
        busy = {kind: cores_busy(runs, kind) for kind in (PIPELINE, PINNED, LOOP_ON_TWO)}
        extra_cpu = {
            PIPELINE: statistics.median(pair_ratios(runs, PIPELINE, PINNED, "cpu_seconds")),
            LOOP_ON_TWO: statistics.median(pair_ratios(runs, LOOP_ON_TWO, LOOP, "cpu_seconds")),
        }
        print(
            f"cores busy (CPU s / wall s, medians): default {busy[PIPELINE]:.2f}, one core "
            f"{busy[PINNED]:.2f}, loop on two {busy[LOOP_ON_TWO]:.2f}; CPU on two cores over "
            f"one (pair medians): default / one core {extra_cpu[PIPELINE]:.2f}, loop on two / "
            f"loop {extra_cpu[LOOP_ON_TWO]:.2f}"
        )
        summary.update(
            speedup_over_pinned=speedup,
            speedup_pairs=pairs,
            host_two_process_speedup=host,
            host_pairs=host_pairs,
            cores_busy=busy,
            two_core_cpu_over_one=extra_cpu,
        )
    if args.moonshot:
        moonshot = medians[PIPELINE]["wall"] / medians[TRAFILATURA_ON_TWO]["wall"]
        moonshot_pairs = pair_ratios(runs, PIPELINE, TRAFILATURA_ON_TWO)
        print(
            f"ratio pipeline / trafilatura --parallel 2 (median wall time): {moonshot:.3f}  "
            "(moonshot < 1)"
        )
        print(f"  pair by pair: {', '.join(f'{r:.2f}' for r in moonshot_pairs)}")
        summary.update(moonshot=moonshot, moonshot_pairs=moonshot_pairs)
    if scaled:
        summary["scaled"] = scaled
        print(
            f"\nmemory on {scaled['pages']} pages ({args.scale}x): peak PSS "
            f"{scaled['tree_pss_mb']:.0f} MB, summed RSS {scaled['tree_rss_mb']:.0f} MB, "
            f"largest process {scaled['peak_rss_mb']:.0f} MB (1x: {medians[PIPELINE]['pss']:.0f}"
            f", {medians[PIPELINE]['tree']:.0f}, {medians[PIPELINE]['rss']:.0f} MB); "
            f"{scaled['wall_seconds']:.1f} s, {scaled['docs_per_second']:.1f} docs/s"
        )
    if scaling:
        summary["scaling"] = scaling
        print_scaling(scaling)
        plot_scaling(scaling, out_dir / "scaling.png")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"\nsummary: {out_dir / 'summary.json'}")

    if args.gate is None:
        return 0
    return _common.finish_gate(
        ratio <= args.gate, f"pipeline/loop wall-time ratio {ratio:.3f} vs gate {args.gate}"
    )


def scale_run(args: argparse.Namespace, bench: Bench, sources, scratch_dir: Path) -> dict:
    """One default run on the corpus copied `--scale` times: memory against input size."""
    scaled_dir = scratch_dir / "scaled"
    pages = write_corpus(sources, scaled_dir, args.scale)
    print(f"scale run: {pages} pages ({args.scale}x, exact copies under distinct names)")
    run, _, _ = bench.run(PIPELINE, scaled_dir, sample=True)
    shutil.rmtree(scaled_dir, ignore_errors=True)
    print(
        f"  scaled run: {run.wall_seconds:.1f} s, peak PSS {run.tree_pss_mb:.0f} MB, "
        f"summed RSS {run.tree_rss_mb:.0f} MB"
    )
    return {
        "pages": pages,
        "wall_seconds": run.wall_seconds,
        "cpu_seconds": run.cpu_seconds,
        "docs_per_second": pages / run.wall_seconds,
        "peak_rss_mb": run.peak_rss_mb,
        "tree_rss_mb": run.tree_rss_mb,
        "tree_pss_mb": run.tree_pss_mb,
    }


def scaling_runs(bench: Bench, sources, scratch_dir: Path) -> list[dict]:
    """docs/s against pages: subsets of the corpus, 1 worker and one per core, interleaved."""
    cores = len(os.sched_getaffinity(0))
    modes = {
        "1 worker": ONE_WORKER,
        f"{cores} workers": [
            "--direct_running_mode",
            "multi_processing",
            "--direct_num_workers",
            str(cores),
        ],
    }
    mixed = spread(sources)
    sizes = [size for size in SCALING_SIZES if size < len(mixed)] + [len(mixed)]
    points = []
    for size in sizes:
        subset_dir = scratch_dir / f"subset-{size}"
        write_corpus(mixed[:size], subset_dir)
        for mode, flags in modes.items():
            run, _, _ = bench.run(PIPELINE, subset_dir, flags)
            points.append(
                {
                    "pages": size,
                    "mode": mode,
                    "wall_seconds": run.wall_seconds,
                    "cpu_seconds": run.cpu_seconds,
                    "docs_per_second": size / run.wall_seconds,
                    "load": load_average(),
                }
            )
            print(f"  scaling {size} pages, {mode}: {run.wall_seconds:.1f} s", flush=True)
        shutil.rmtree(subset_dir, ignore_errors=True)
    return points


def print_scaling(points: list[dict]) -> None:
    print("\ndocs/s against pages:")
    _common.print_table(
        ["pages", "mode", "wall s", "CPU s", "docs/s", "load"],
        [
            [
                p["pages"],
                p["mode"],
                f"{p['wall_seconds']:.1f}",
                f"{p['cpu_seconds']:.1f}",
                f"{p['docs_per_second']:.1f}",
                p["load"],
            ]
            for p in points
        ],
    )


def plot_scaling(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for mode in dict.fromkeys(p["mode"] for p in points):
        mine = [p for p in points if p["mode"] == mode]
        axes.plot(
            [p["pages"] for p in mine], [p["docs_per_second"] for p in mine], "o-", label=mode
        )
    axes.set_xscale("log")
    sizes = sorted({p["pages"] for p in points})
    axes.set_xticks(sizes, [str(size) for size in sizes])
    axes.minorticks_off()
    axes.set_xlabel("pages (distinct)")
    axes.set_ylabel("docs/s (wall clock, start-up included)")
    loads = sorted(float(p["load"].split()[0]) for p in points if p["load"] != "?")
    load = f" (load {loads[0]:.1f}-{loads[-1]:.1f})" if loads else ""
    axes.set_title(f"newsbeam --input PAGES --output OUT{load}", fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    print(f"plot: {path}")


if __name__ == "__main__":
    sys.exit(main())
