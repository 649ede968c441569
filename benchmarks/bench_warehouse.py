"""Cost of a warehouse refresh (`newsbeam warehouse`): DuckDB and Apache Iceberg.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_warehouse.py                 # both shapes, both backends
    .venv/bin/python benchmarks/bench_warehouse.py --runs 200 --per-run 10

Two dataset shapes, written by tests/dataset_fixtures.py (real Parquet with the real
schemas, committed by pipeline/dataset.py's `commit_run`), article texts cut from the
seeds/ files (1-3 KB each, every one distinct):

- one run of 1,000 articles (plus 100 duplicates, 50 rejected, 10 feed health rows),
  loaded by one refresh into an empty warehouse;
- 100 runs of 10 articles (plus 1 duplicate and 1 rejected each), each loaded by its own
  refresh right after it commits, as a scheduled job does: the time of the n-th refresh
  should not grow with the n-1 runs already loaded.

The tables are created before the first timed refresh (timed apart). A refresh is what the
command does after its start: read the committed manifests, find
the pending runs, load them (`dataset.committed_runs` + `refresh_duckdb`/`refresh_iceberg`),
timed in-process. Starting the command (Python, Beam's filesystems) is measured once
apart. Each backend and shape runs in its own subprocess, whose peak RSS (ru_maxrss) is
printed beside the RSS it had after its imports.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def seed_paragraphs() -> list[str]:
    """The paragraphs of the seed texts, long ones only."""
    paragraphs = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            block = " ".join(block.split())
            if len(block) > 200 and not block.startswith(("!", "**", "#")):
                paragraphs.append(block)
    return paragraphs


def write_dataset(root: str, runs: int, per_run: int, copies: int, rejects: int, health: int):
    """Yield after each run is committed (the caller refreshes there)."""
    import datetime as dt

    from tests import dataset_fixtures as fx

    paragraphs = seed_paragraphs()
    start = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.timezone.utc)
    count = 0
    for run in range(runs):
        started = start + dt.timedelta(hours=6 * run)
        articles = []
        for _ in range(per_run):
            parts = [paragraphs[(count * 7 + k) % len(paragraphs)] for k in range(3)]
            text = f"Report {count}. " + "\n\n".join(parts)
            articles.append(
                fx.article(
                    f"r{run}-{count}",
                    text=text,
                    title=f"Report {count}: {parts[0][:60]}",
                    site=f"site{count % 13}.example.com",
                    story_id=f"story-{count // 4}",
                    published_at=started - dt.timedelta(minutes=count % 300),
                    places=["FR", "DE", "US"][: 1 + count % 3],
                )
            )
            count += 1
        fx.write_run(
            root,
            f"run-{run:04d}",
            articles=articles,
            duplicates=[fx.duplicate(f"c{run}-{i}", articles[i % per_run]) for i in range(copies)],
            rejected=[fx.rejected(f"x{run}-{i}") for i in range(rejects)],
            feed_health=[
                fx.feed_health(f"https://feed{i}.example/rss", started) for i in range(health)
            ],
            started=started,
        )
        yield run


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(backend: str, runs: int, per_run: int, copies: int, rejects: int, health: int) -> dict:
    """One backend on one shape, in this process: per-refresh seconds and memory."""
    from newsbeam.pipeline import dataset, warehouse

    if backend.startswith("iceberg"):
        from newsbeam.pipeline import iceberg
    rss_after_imports = _rss_mb()
    work = tempfile.mkdtemp(prefix="bench-warehouse-")
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(work, "iceberg"))
    seconds: list[float] = []
    manifest_seconds: list[float] = []

    def refresh(manifests: list) -> warehouse.LoadSummary:
        if backend == "duckdb":
            return warehouse.refresh_duckdb(root, os.path.join(work, "w.duckdb"), manifests)
        spec = iceberg.CatalogSpec(
            f"sqlite:///{work}/iceberg/catalog.db",
            "bench",
            f"file://{work}/iceberg",
            # "iceberg": the command's default; "iceberg-keepN": --iceberg_keep_snapshots N.
            keep_snapshots=int(backend.partition("-keep")[2] or warehouse.KEEP_SNAPSHOTS),
        )
        return iceberg.refresh_iceberg(root, manifests, spec)

    started = time.perf_counter()
    refresh([])  # the tables created, as by the first call on an empty dataset
    create_seconds = time.perf_counter() - started
    cpu_seconds: list[float] = []
    for _ in write_dataset(root, runs, per_run, copies, rejects, health):
        started, cpu = time.perf_counter(), time.process_time()
        manifests = dataset.committed_runs(root)
        manifest_seconds.append(time.perf_counter() - started)
        summary = refresh(manifests)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu)
        assert len(summary.runs_loaded) == 1, summary
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "manifest_seconds": manifest_seconds,
        "create_seconds": create_seconds,
        "rss_after_imports_mb": rss_after_imports,
        "peak_rss_mb": _rss_mb(),
        "work": work,
    }


def run_child(backend: str, shape: tuple[int, int, int, int, int]) -> dict:
    argv = [sys.executable, __file__, "--child", backend, *map(str, shape)]
    done = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def command_start_seconds(work: str) -> float:
    """Wall time of `newsbeam warehouse --db` on a dataset with nothing new to load."""
    newsbeam = Path(sys.executable).with_name("newsbeam")
    argv = [str(newsbeam), "warehouse", "--output", f"{work}/root", "--db", f"{work}/w.duckdb"]
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - started


def report_incremental(backend: str, inc: dict, args: argparse.Namespace) -> None:
    times = inc["seconds"]
    first, last = times[:10], times[-10:]
    total = args.runs * args.per_run
    print(
        f"{backend:8} {args.runs} runs of {args.per_run}, one refresh per run: "
        f"median of runs 1-10 {statistics.median(first):.3f} s, of runs "
        f"{args.runs - 9}-{args.runs} {statistics.median(last):.3f} s "
        f"(run {args.runs}: {times[-1]:.3f} s; of which reading the manifests "
        f"{inc['manifest_seconds'][-1]:.3f} s); all {args.runs}: {sum(times):.2f} s, "
        f"{total / sum(times):.0f} articles/s; peak RSS {inc['peak_rss_mb']:.0f} MB "
        f"({inc['rss_after_imports_mb']:.0f} MB after imports)"
    )
    print(f"         per-run seconds, runs 1-10:  {' '.join(f'{t:.3f}' for t in first)}")
    print(f"         per-run seconds, last 10:    {' '.join(f'{t:.3f}' for t in last)}")
    cpu = inc["cpu_seconds"]
    print(
        f"         CPU seconds (this process, all threads; less disturbed by other load): "
        f"median of runs 1-10 {statistics.median(cpu[:10]):.3f} s, of the last 10 "
        f"{statistics.median(cpu[-10:]):.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="runs of the incremental shape")
    parser.add_argument("--per-run", type=int, default=10, help="articles per incremental run")
    parser.add_argument("--big", type=int, default=1000, help="articles of the one-run shape")
    parser.add_argument(
        "--backends",
        default="duckdb,iceberg,iceberg-keep0",
        help="comma-separated: duckdb, iceberg (the command's defaults), iceberg-keepN "
        "(--iceberg_keep_snapshots N; 0 keeps all)",
    )
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, *numbers = args.child
        print(json.dumps(child(backend, *map(int, numbers))))
        return 0
    import shutil

    big = (1, args.big, args.big // 10, args.big // 20, 10)
    many = (args.runs, args.per_run, 1, 1, 2)
    print(f"warehouse refresh, {os.cpu_count()} cores; seconds are one refresh's")
    for backend in args.backends.split(","):
        if "-keep" in backend:  # a variant of the command's defaults: incremental shape only
            inc = run_child(backend, many)
            report_incremental(backend, inc, args)
            shutil.rmtree(inc["work"])
            continue
        one = run_child(backend, big)
        shutil.rmtree(one["work"])
        print(
            f"{backend:8} 1 run of {args.big} articles: {one['seconds'][0]:.3f} s "
            f"({args.big / one['seconds'][0]:.0f} articles/s; creating the tables before: "
            f"{one['create_seconds']:.3f} s), peak RSS "
            f"{one['peak_rss_mb']:.0f} MB ({one['rss_after_imports_mb']:.0f} MB after imports)"
        )
        inc = run_child(backend, many)
        report_incremental(backend, inc, args)
        if backend == "duckdb":
            start = command_start_seconds(inc["work"])
            print(
                f"         the command with nothing to load (start, imports, manifests): "
                f"{start:.2f} s wall"
            )
        shutil.rmtree(inc["work"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
