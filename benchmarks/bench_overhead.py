"""The pipeline's fixed cost per run: what a tiny run (the 5 seeds) pays whatever its size.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_overhead.py --repeats 3 [--state]

Runs `newsbeam --input seeds --output OUT` in this process (`newsbeam.pipeline.run.run`,
the default command's code), `--repeats` times after one warm-up run (imports, model
loading and Beam's first-use caches are paid by the warm-up; every scheduled run, test or
follow-mode batch pays them once per process, the rest every run). `--state` adds
`--state DIR` (a fresh state folder per run: its tables are written too).

Each run's wall time (and its CPU time, user + system of this process: what the run cost
whatever else the shared machine did) is split by timing the pipeline's own steps where
they are called:
- graph: adding NewsBeam's stages to the pipeline (`pipeline/build.py`'s `build`: every
  `apply`, type inference, options views);
- runner_api: `Pipeline.to_runner_api` (the graph to its proto, called by `run`);
- fusion: the FnApiRunner's `create_stages` (fusing the proto into executable stages);
- execute: the FnApiRunner's `run_stages` (all bundles), of which `processors` is the
  time spent creating bundle processors (one per fused stage, DoFn signatures inspected);
- work: the sum of the runner's step timings (`stage_seconds` in the manifest): the
  stages' own work, the only part that grows with the input;
- report, commit: the run's HTML report and the dataset commit;
- rest: everything else (options, checks, lock, state, counters).
Also counted: the pipeline's transforms (all, and leaf transforms: the proto's transforms
without subtransforms), the fused stages the runner executes, and `view_as` calls.
Prints the median of each figure over the repeats and the per-run figures. `--cli` also
times the command itself as a subprocess (`python -m newsbeam.pipeline`, interpreter start
and imports included; wall and CPU), `--repeats` times, median.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
PARTS = ("graph", "runner_api", "fusion", "processors", "execute", "report", "commit")


class Timers:
    """Wall time spent in wrapped callables (outermost calls only), and call counts."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.values: dict[str, Any] = {}
        self._depth: Counter[str] = Counter()

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            self._depth[name] += 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._depth[name] -= 1
                if not self._depth[name]:
                    self.seconds[name] += time.perf_counter() - started

        return timed


@contextmanager
def patched(timers: Timers) -> Iterator[None]:
    """Wrap the steps measured (module docstring) for the duration of the block."""
    from apache_beam import Pipeline
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.worker import bundle_processor

    from newsbeam.pipeline import run as run_module

    def count_stages(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_stages(self: Any, proto: Any) -> Any:
            context, stages = create(self, proto)
            timers.values["stages"] = len(stages)
            transforms = proto.components.transforms
            timers.values["transforms"] = len(transforms)
            timers.values["leaf_transforms"] = sum(
                1 for t in transforms.values() if not t.subtransforms
            )
            return context, stages

        return create_stages

    targets: list[tuple[Any, str, str, bool]] = [
        (run_module, "build", "graph", False),
        (Pipeline, "to_runner_api", "runner_api", False),
        (fn_runner.FnApiRunner, "create_stages", "fusion", True),
        (fn_runner.FnApiRunner, "run_stages", "execute", False),
        (bundle_processor.BundleProcessor, "__init__", "processors", False),
        (run_module, "_report", "report", False),
        (run_module.dataset, "commit_run", "commit", False),
        (PipelineOptions, "view_as", "view_as", False),
    ]
    originals = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, *_ in targets]
    try:
        for owner, attribute, name, counts in targets:
            function = getattr(owner, attribute)
            setattr(
                owner, attribute, timers.wrap(name, count_stages(function) if counts else function)
            )
        yield
    finally:
        for owner, attribute, original in originals:
            setattr(owner, attribute, original)


def one_run(
    inputs: str, scratch: Path, number: int, with_state: bool, extra: list[str]
) -> dict[str, Any]:
    from newsbeam.pipeline import run as run_module

    argv = ["--input", inputs, "--output", str(scratch / f"out-{number}"), *extra]
    if with_state:
        argv += ["--state", str(scratch / f"state-{number}")]
    timers = Timers()
    started, cpu = time.perf_counter(), time.process_time()
    with patched(timers):
        manifest = run_module.run(argv)
    wall = time.perf_counter() - started
    figures: dict[str, Any] = {"wall": wall, "cpu": time.process_time() - cpu}
    figures.update({part: timers.seconds[part] for part in PARTS})
    figures["work"] = sum(manifest.get("stage_seconds", {}).values())
    figures["rest"] = (
        wall
        - sum(
            timers.seconds[part] for part in ("graph", "runner_api", "fusion", "execute", "report")
        )
        - timers.seconds["commit"]
    )
    figures["view_as_calls"] = timers.calls["view_as"]
    figures["to_runner_api_calls"] = timers.calls["runner_api"]
    figures["processors_created"] = timers.calls["processors"]
    figures.update(timers.values)
    figures["articles"] = manifest["counts"]["articles"]
    if "report_error" in manifest:  # a report that failed costs nothing: say so
        figures["report_error"] = manifest["report_error"]
    return figures


def cli_run(inputs: str, scratch: Path, number: int, with_state: bool) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of the command as a user runs it, in its own
    process."""
    command = [sys.executable, "-m", "newsbeam.pipeline", "--input", inputs]
    command += ["--output", str(scratch / f"cli-out-{number}")]
    if with_state:
        command += ["--state", str(scratch / f"cli-state-{number}")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--inputs", default=str(REPO_ROOT / "seeds"))
    parser.add_argument("--state", action="store_true", help="also write a --state folder")
    parser.add_argument("--beam-args", default="", help="more options of the run, one string")
    parser.add_argument("--cli", action="store_true", help="also time the command itself")
    parser.add_argument("--json", metavar="FILE", help="write the per-run figures here")
    args = parser.parse_args(argv)
    extra = args.beam_args.split()
    runs: list[dict[str, Any]] = []
    cli: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as scratch:
        warm = one_run(args.inputs, Path(scratch), 0, args.state, extra)
        print(f"warm-up run: {warm['wall']:.2f} s", flush=True)
        for number in range(1, args.repeats + 1):
            figures = one_run(args.inputs, Path(scratch), number, args.state, extra)
            runs.append(figures)
            if args.cli:
                cli.append(cli_run(args.inputs, Path(scratch), number, args.state))
                print(f"command in a subprocess: {cli[-1][0]:.2f} s, {cli[-1][1]:.2f} s CPU")
            print(
                json.dumps(
                    {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}
                ),
                flush=True,
            )
    keys = ["wall", "cpu", *PARTS, "work", "rest"]
    print(f"\nmedian of {len(runs)} runs (seconds):")
    for key in keys:
        print(f"  {key:12s} {statistics.median(r[key] for r in runs):7.2f}")
    for key in ("transforms", "leaf_transforms", "stages", "processors_created", "view_as_calls"):
        print(f"  {key:18s} {statistics.median(r.get(key, 0) for r in runs):7.0f}")
    if cli:
        print(f"  command (subprocess) wall {statistics.median(w for w, _ in cli):7.2f} s")
        print(f"  command (subprocess) CPU  {statistics.median(c for _, c in cli):7.2f} s")
    if args.json:
        content = {"warm_up": warm, "runs": runs, "cli": cli}
        Path(args.json).write_text(json.dumps(content, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
