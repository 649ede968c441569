"""What committing into the dataset costs against the run itself (issue 11).

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_commit.py                    # 1 run of 1,000; 100 runs of 10
    .venv/bin/python benchmarks/bench_commit.py --runs 20 --big 300  # a quicker look
    .venv/bin/python benchmarks/bench_commit.py --s3                 # the same on a local S3 server

Two shapes, both with --state (the commit then also publishes a state version):
- one run of `--big` distinct articles (default 1,000) into a new ROOT;
- `--runs` runs (default 100) of `--small` articles each (default 10) into ONE ROOT and
  state, each run a new scheduled run id: the commit must not grow with the runs already
  in ROOT (its cost is compared for the first and the last ten runs).

Runs go in-process (`newsbeam.pipeline.main.main`, as the command runs them, without a new
interpreter per run); the commit is timed by wrapping its three steps (the state's new
version made complete, the dataset commit, the state published). Articles are generated:
~60 words each, distinct, so every one is kept. Prints per shape: run seconds (median),
commit seconds (median), the commit's share of the run, docs/s, and the process's peak RSS.
With `--s3` ROOT and --state live on moto's S3 server on 127.0.0.1 (tests/s3_server.py).

Measured on the 2-core box, local disk (medians; the machine shared with other work):
see the figures printed by the command above, quoted in the CHANGELOG for issue 11.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
from bench_inputs import tiny_text  # noqa: E402

from newsbeam.pipeline import main as entry  # noqa: E402
from newsbeam.pipeline import run as run_module  # noqa: E402


class CommitTimer:
    """Wraps the commit's steps in pipeline/run.py and sums their time per run."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            clock = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - clock

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        originals = (
            run_module.prepare_state,
            run_module.dataset.commit_run,
            run_module.publish_state,
        )
        run_module.prepare_state = self.wrap(originals[0])
        run_module.dataset.commit_run = self.wrap(originals[1])
        run_module.publish_state = self.wrap(originals[2])
        try:
            yield
        finally:
            run_module.prepare_state = originals[0]
            run_module.dataset.commit_run = originals[1]
            run_module.publish_state = originals[2]


def write_articles(folder: Path, first: int, count: int) -> None:
    folder.mkdir(parents=True)
    for number in range(first, first + count):
        (folder / f"article-{number:06d}.txt").write_text(tiny_text(number, "article"))


def one_run(
    inputs: Path, root: str, state: str, run_id: str, flags: list[str]
) -> tuple[float, float]:
    """(run seconds, commit seconds) of one run."""
    timer = CommitTimer()
    argv = ["--input", str(inputs), "--output", root, "--state", state, "--run_id", run_id]
    clock = time.perf_counter()
    with timer.installed(), contextlib.redirect_stdout(None):
        status = entry.main([*argv, *flags, "--log_level", "WARNING"])
    seconds = time.perf_counter() - clock
    if status != 0:
        raise SystemExit(f"run {run_id} failed with status {status}")
    return seconds, timer.seconds


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=int, default=1000, help="articles in the one big run")
    parser.add_argument("--runs", type=int, default=100, help="small runs into one ROOT")
    parser.add_argument("--small", type=int, default=10, help="articles per small run")
    parser.add_argument("--s3", action="store_true", help="ROOT and state on a local S3 server")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _common.stop_runs_on_sigterm()
    rows = []
    with (
        _common.scratch_directory("bench-commit-") as scratch,
        _store(args.s3, scratch) as (
            where,
            flags,
        ),
    ):
        big = scratch / "big"
        write_articles(big, 0, args.big)
        seconds, commit = one_run(big, where("big/root"), where("big/state"), "big", flags)
        rows.append(_row(f"1 run of {args.big}", [seconds], [commit], args.big))

        per_run: list[tuple[float, float]] = []
        root, state = where("many/root"), where("many/state")
        for index in range(args.runs):
            inputs = scratch / f"small-{index:03d}"
            write_articles(inputs, 100_000 + index * args.small, args.small)
            seconds, commit = one_run(inputs, root, state, f"day-{index:03d}", flags)
            per_run.append((seconds, commit))
        first, last = per_run[:10], per_run[-10:]
        rows.append(
            _row(
                f"{args.runs} runs of {args.small}",
                [s for s, _ in per_run],
                [c for _, c in per_run],
                args.small,
            )
        )
        rows.append(_row("  first 10", [s for s, _ in first], [c for _, c in first], args.small))
        rows.append(_row("  last 10", [s for s, _ in last], [c for _, c in last], args.small))
    _common.print_table(
        ["shape", "run s (median)", "commit s (median)", "commit share", "docs/s"], rows
    )
    store = "S3 (moto on 127.0.0.1)" if args.s3 else "local disk"
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB; store: {store}")
    return 0


def _row(label: str, runs: list[float], commits: list[float], docs: int) -> list[Any]:
    run, commit = statistics.median(runs), statistics.median(commits)
    return [label, f"{run:.2f}", f"{commit:.3f}", f"{commit / run:.1%}", f"{docs / run:.1f}"]


@contextlib.contextmanager
def _store(s3: bool, scratch: Path) -> Iterator[tuple[Callable[[str], str], list[str]]]:
    """Where ROOTs and states go: the scratch folder, or a bucket on a local S3 server."""
    if not s3:
        yield (lambda name: str(scratch / name)), []
        return
    from tests.s3_server import s3_server

    with s3_server() as server:
        server.use_in_process()
        yield (lambda name: server.url(name)), server.flags


if __name__ == "__main__":
    sys.exit(main())
