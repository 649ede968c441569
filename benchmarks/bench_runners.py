"""The same distinct pages on three runners, each against a 2-process loop of stock trafilatura.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_runners.py --repeats 3

Corpus: every distinct HTML page of ../shared, read once (bench_pipeline.py's `distinct`
corpus: the AEB pages and the fundus test pages), copied still gzipped into a scratch folder.

Sides, each a subprocess timed wall-clock from start to exit and interleaved (loop, in-process,
multi-processing, portable, loop, ...) so drift on the machine hits all alike:
- loop: `multiprocessing.Pool(2)` mapping stock `trafilatura.extract(html)` (default
  arguments) over the gunzipped pages (this script with `--loop-worker DIR`);
- in-process: `python -m newsbeam.pipeline --input DIR --output OUT` (the default runner);
- multi-processing: the same with `--direct_running_mode multi_processing
  --direct_num_workers 2` (two SDK worker processes);
- portable: the same with `--runner PortableRunner --job_endpoint localhost:JOBS
  --environment_type EXTERNAL --environment_config 127.0.0.1:POOL --direct_num_workers 2`:
  two SDK workers started by a worker pool (`python -m
  apache_beam.runners.worker.worker_pool_main`), the job run by Beam's local job service
  with a job type that honours --direct_num_workers (`python -m tests.job_service`, from the
  repository root; Beam's own `--job_endpoint embed` runs every job on one worker). This
  script starts both before the run and stops them after it (not timed: both are
  long-lived); the workers the pool started are counted from its log and printed.
Per run: wall time, docs/s (pages / wall), CPU seconds of the launcher and what it waited
for (for the portable side plus the job service's and the pool's trees), and the peak of
the summed RSS of all processes (the launcher's tree and, for the portable side, the job
service's and the pool's trees, sampled together every 0.1 s from /proc). Medians of
`--repeats`. Results in `--out` (default out/bench)/runners.json. Missing data exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
import bench_pipeline  # noqa: E402

LOOP, IN_PROCESS, MULTI, PORTABLE = "loop", "in-process", "multi-processing", "portable"
SIDES = (LOOP, IN_PROCESS, MULTI, PORTABLE)
LOOP_PROCESSES = 2
PORTABLE_WORKERS = 2
# The pool logs one such line per SDK worker it starts (Beam 2.77's worker_pool_main).
WORKER_STARTED = re.compile(r'Starting worker with command.*worker_id="(\w+)"')


def _extract(path: str) -> bool:
    import trafilatura

    return bool(trafilatura.extract(gzip.decompress(Path(path).read_bytes())))


def run_loop_worker(pages_dir: Path) -> int:
    """Stock trafilatura over every page in a Pool(2); one JSON line of counts and time."""
    import multiprocessing

    started = time.perf_counter()
    pages = sorted(str(path) for path in pages_dir.glob(f"*{bench_pipeline.PAGE_SUFFIX}"))
    with multiprocessing.Pool(LOOP_PROCESSES) as pool:
        # A time limit: a Pool whose worker dies hangs forever on the lost task.
        extracted = sum(pool.map_async(_extract, pages, chunksize=8).get(timeout=900))
    print(json.dumps({"docs": len(pages), "extracted": extracted,
                      "seconds": round(time.perf_counter() - started, 3)}))  # fmt: skip
    return 0


class TreesRssSampler(threading.Thread):
    """The peak of the summed RSS of several process trees, sampled together."""

    def __init__(self, roots: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.peak_bytes = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            total = sum(_common.process_tree_rss_bytes(pid) for pid in self.roots)
            self.peak_bytes = max(self.peak_bytes, total)
            self._halt.wait(_common.RSS_SAMPLE_SECONDS)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def measured(command: list[str], scratch: Path, extra_roots: list[int]) -> dict[str, float]:
    """Run `command` to its end; wall, CPU and the peak summed RSS of it and `extra_roots`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=scratch,
            env=_common.subprocess_environment(scratch / "tmp"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        sampler = TreesRssSampler([process.pid, *extra_roots])
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        sampler.stop()
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"{command[:4]} failed:\n{err.read().decode()[-3000:]}")
        out.seek(0)
        stdout = out.read().decode()
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": sampler.peak_bytes / 2**20,
        "stdout": stdout,  # type: ignore[dict-item]
    }


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of a process tree so far: each live process's own and what it reaped
    (/proc/PID/stat utime, stime, cutime, cstime)."""
    stats: dict[int, list[bytes]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_bytes()
            except OSError:
                continue
            stats[int(entry.name)] = stat[stat.rfind(b")") + 2 :].split()
    tree, grew = {root}, True
    while grew:
        before = len(tree)
        tree |= {pid for pid, fields in stats.items() if int(fields[1]) in tree}
        grew = len(tree) > before
    ticks = sum(int(value) for pid in tree if pid in stats for value in stats[pid][11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    """Until `process` listens on `port`; exit (ending its group) if it does not within 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    stop_group(process)
    sys.exit(f"{what} did not start")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """End a process started in its own session, and its children (the pool's workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)


def start_pool(scratch: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = _free_port()
    log = scratch / f"pool-{port}.log"
    folder = scratch / "pool"
    folder.mkdir(exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    pool = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
         "--service_port", str(port)],
        cwd=folder,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its SDK workers in its group, ended with it
    )  # fmt: skip
    _wait_for_port(port, pool, "the worker pool")
    return pool, port, log


def start_job_service(scratch: Path) -> tuple[subprocess.Popen[bytes], int]:
    """tests/job_service.py from the repository root (it imports `tests.job_service`)."""
    port = _free_port()
    jobs = subprocess.Popen(
        [sys.executable, "-m", "tests.job_service", "--port", str(port),
         "--staging_dir", str(scratch / f"staging-{port}")],
        cwd=_common.REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(scratch / f"jobs-{port}.log").open("wb"),
        start_new_session=True,
    )  # fmt: skip
    _wait_for_port(port, jobs, "the job service")
    return jobs, port


def run_side(side: str, pages: Path, scratch: Path, number: int) -> dict[str, float]:
    if side == LOOP:
        command = [sys.executable, str(Path(__file__).resolve()), "--loop-worker", str(pages)]
        return measured(command, scratch, [])
    output = scratch / f"out-{number}"
    args = {
        IN_PROCESS: [],
        MULTI: ["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"],
    }.get(side)
    services: list[subprocess.Popen[bytes]] = []  # the portable side's job service and pool
    try:
        if args is None:
            pool, port, log = start_pool(scratch)
            services.append(pool)
            jobs, jobs_port = start_job_service(scratch)
            services.append(jobs)
            args = ["--runner", "PortableRunner", "--job_endpoint", f"localhost:{jobs_port}",
                    "--environment_type", "EXTERNAL", "--environment_config",
                    f"127.0.0.1:{port}", "--direct_num_workers", str(PORTABLE_WORKERS)]  # fmt: skip
        roots = [service.pid for service in services]
        # The runner and the SDK workers are not the launcher's children: their CPU is read
        # from /proc before and after the run.
        cpu_before = sum(tree_cpu_seconds(pid) for pid in roots)
        command = _common.pipeline_command([pages], output, args)
        result = measured(command, scratch, roots)
        result["cpu"] += sum(tree_cpu_seconds(pid) for pid in roots) - cpu_before
    finally:
        for service in reversed(services):
            stop_group(service)
    if services:
        result["sdk_workers"] = len(set(WORKER_STARTED.findall(log.read_text())))
    manifest = _common.read_manifest(output) or {}
    result["articles"] = manifest.get("counts", {}).get("articles", -1)
    subprocess.run(["rm", "-rf", str(output)], check=False)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated subset")
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    parser.add_argument("--loop-worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loop_worker:
        return run_loop_worker(args.loop_worker)
    shared = _common.locate_shared(
        args.shared, [str(bench_pipeline.AEB_HTML_RELATIVE), str(bench_pipeline.FUNDUS_RELATIVE)]
    )
    sides = [side for side in args.sides.split(",") if side]
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    with _common.scratch_directory("bench-runners") as scratch:
        pages = scratch / "pages"
        count = bench_pipeline.write_corpus(bench_pipeline.distinct_sources(shared), pages)
        print(f"{count} distinct pages; load average {bench_pipeline.load_average()}")
        number = 0
        for repeat in range(args.repeats):
            for side in sides:
                number += 1
                result = run_side(side, pages, scratch, number)
                result.pop("stdout", None)
                runs[side].append(result)
                print(f"  {repeat + 1} {side:<17} {result['wall']:6.1f} s  "
                      f"{count / result['wall']:5.1f} docs/s  cpu {result['cpu']:5.1f} s  "
                      f"rss {result['rss_mb']:6.0f} MB  "
                      + (f"sdk workers {result['sdk_workers']}  " if "sdk_workers" in result
                         else "")
                      + f"load {bench_pipeline.load_average()}", flush=True)  # fmt: skip
    rows, summary = [], {"pages": count, "repeats": args.repeats, "sides": {}}
    loop_wall = statistics.median(r["wall"] for r in runs[LOOP]) if LOOP in runs else None
    for side in sides:
        wall = statistics.median(r["wall"] for r in runs[side])
        cpu = statistics.median(r["cpu"] for r in runs[side])
        rss = statistics.median(r["rss_mb"] for r in runs[side])
        ratio = f"{wall / loop_wall:.2f}" if loop_wall else "-"
        workers = {r.get("sdk_workers") for r in runs[side]} - {None}
        summary["sides"][side] = {"wall": wall, "cpu": cpu, "rss_mb": rss, "runs": runs[side]}
        rows.append([side, f"{wall:.1f}", f"{count / wall:.1f}", f"{cpu:.1f}", f"{rss:,.0f}",
                     ratio, ",".join(map(str, sorted(workers))) or "-"])  # fmt: skip
    print(f"\nmedians of {args.repeats} ({count} pages):")
    _common.print_table(
        ["side", "wall s", "docs/s", "CPU s", "peak RSS all, MB", "wall / loop", "pool workers"],
        rows,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "runners.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    _common.stop_runs_on_sigterm()
    sys.exit(main())
