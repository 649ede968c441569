"""Follow mode (`newsbeam --follow`, pipeline/follow.py) fed real pages at a steady rate.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_follow.py --pages 10 --interval 10 --catchup 60 \\
        --docs 6000 --docs-per-batch 500

Three measurements, each on its own follow-mode process (a subprocess, as a user runs it):
1. latency: one warm-up page, then `--pages` AEB pages (data/extraction/aeb/html, gzipped
   HTML) dropped into the inbox one per `--interval` seconds on average (0.5-1.5 intervals
   apart, seeded, so arrivals fall at every phase of the batches' beat), each written
   under a temporary name and renamed (the arrival). A watcher polls ROOT/_runs every 0.1 s; a
   page's latency is from its arrival to the commit of the run holding its row (its
   manifest appearing: from then on the row is queryable). Median and p95 (goal: p95 < 2
   intervals). The same process gives the cost of its first batch (imports, model loads)
   against its later batches of one page (the `batch ... s` of its log lines).
2. throughput: `--catchup` further pages dropped at once into the warm follow process:
   pages / the seconds of the batches that read them (while pages keep coming, batches run
   back to back; also shown from the drop, which adds the wait for the next batch), against
   one batch run (`newsbeam --input DIR --state`, a fresh process, wall time) over the
   same pages (goal: >= 0.8). Then one batch run of one more page into the same ROOT and
   state: what one page costs without follow mode.
3. memory: a follow process fed `--docs-per-batch` distinct synthetic articles (JSON lines,
   _common.synthetic_articles: 120 words of a Zipf-like vocabulary) per
   batch until `--docs`; its resident memory (VmRSS, /proc) after each batch and its peak
   (VmHWM): flat means it does not grow with the documents read. Without `--keep-days`
   nothing expires and the dedup and story index grows with the documents (each batch
   reads it); `--keep-days 0.0007` (the follow process's `--state_keep_days`, a minute)
   keeps only the last minute's documents in the state, the short TTL of a long run.
Exit 0 when every run worked; the goals are printed, not gated (the machine is shared).
Missing data exits 2. `--out DIR` (default out/bench-follow) gets summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

AEB_PAGES = "data/extraction/aeb/html"


class Commits(threading.Thread):
    """Watches ROOT/_runs: each committed run's time (first seen) and its rows' sources."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.committed_at: dict[str, float] = {}  # source -> when its run was first seen
        self.runs: list[tuple[float, dict[str, Any]]] = []
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        from newsbeam.pipeline import dataset

        known: set[str] = set()
        while not self._halt.is_set():
            runs = self.root / "_runs"
            for path in sorted(runs.glob("*.json")) if runs.is_dir() else []:
                if path.name in known:
                    continue
                seen = time.perf_counter()
                try:
                    manifest = json.loads(path.read_text())
                except ValueError:  # being written: next poll
                    continue
                known.add(path.name)
                sources = self._sources(dataset, manifest)
                with self._lock:
                    self.runs.append((seen, manifest))
                    for source in sources:
                        self.committed_at.setdefault(source, seen)
            self._halt.wait(0.1)

    def _sources(self, dataset: Any, manifest: dict[str, Any]) -> list[str]:
        import pyarrow.parquet as pq

        found = []
        for table in _common.TABLE_NAMES:
            for path in dataset.data_files(str(self.root), manifest, table):
                found += pq.read_table(path, columns=["source"]).column("source").to_pylist()
        return found

    def wait_for(self, sources: set[str], timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self._lock:
                if sources <= set(self.committed_at):
                    return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _drop(source: Path, inbox: Path, name: str) -> tuple[Path, float]:
    """Copy a page into the inbox under a temporary name, then rename it: (path, arrival)."""
    temporary = inbox / f".{name}.tmp"
    shutil.copyfile(source, temporary)
    final = inbox / name
    temporary.rename(final)
    return final, time.perf_counter()


def _follow(
    inbox: Path,
    root: Path,
    state: Path,
    interval: float,
    scratch: Path,
    log: Path,
    extra: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        _common.PIPELINE_MODULE,
        "--follow",
        "--interval",
        str(interval),
        "--input",
        str(inbox),
        "--output",
        str(root),
        "--state",
        str(state),
        *extra,
    ]
    return subprocess.Popen(
        command,
        env=_common.subprocess_environment(scratch / "tmp"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def _stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.returncode != 0:
        print(log.read_text()[-3000:], file=sys.stderr)
        raise SystemExit(f"follow mode exited {process.returncode}")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _batch_seconds(log: Path) -> list[float]:
    """The latency of each batch, from follow mode's one line per batch."""
    return [
        float(line.rsplit(", ", 1)[1].split()[0])
        for line in log.read_text().splitlines()
        if "newsbeam: batch " in line
    ]


def latency_and_throughput(
    pages: list[Path], count: int, catchup: int, interval: float, scratch: Path
) -> dict[str, Any]:
    inbox, root, state = scratch / "inbox", scratch / "root", scratch / "state"
    inbox.mkdir()
    log = scratch / "follow.log"
    commits = Commits(root)
    commits.start()
    started = time.perf_counter()
    process = _follow(inbox, root, state, interval, scratch, log)
    try:
        first, arrival = _drop(pages[0], inbox, "p000.html.gz")
        if not commits.wait_for({str(first)}, 600):
            raise SystemExit(f"the warm-up page was not committed:\n{log.read_text()[-3000:]}")
        first_from_start = commits.committed_at[str(first)] - started
        arrivals = {}
        # One page per interval on average, at seeded random phases against the batches'
        # beat (a fixed cadence would hit the same point of every interval).
        phases = random.Random(12)
        for index in range(1, count + 1):
            time.sleep(interval * phases.uniform(0.5, 1.5))
            path, arrival = _drop(pages[index], inbox, f"p{index:03d}.html.gz")
            arrivals[str(path)] = arrival
        if not commits.wait_for(set(arrivals), 600):
            raise SystemExit(f"pages were not committed:\n{log.read_text()[-3000:]}")
        latencies = [commits.committed_at[path] - at for path, at in arrivals.items()]
        steady_batches = _batch_seconds(log)
        dropped = time.perf_counter()
        names = []
        for index in range(count + 1, count + 1 + catchup):
            path, _ = _drop(pages[index], inbox, f"p{index:03d}.html.gz")
            names.append(str(path))
        if not commits.wait_for(set(names), 1200):
            raise SystemExit(f"catch-up pages were not committed:\n{log.read_text()[-3000:]}")
        catchup_seconds = max(commits.committed_at[name] for name in names) - dropped
        catchup_batches = _batch_seconds(log)[len(steady_batches) :]
        _stop(process, log)
    finally:
        if process.poll() is None:
            process.kill()
        commits.stop()
    return {
        "first_batch_from_start_s": round(first_from_start, 2),
        "first_batch_s": steady_batches[0],
        "later_batches_s": steady_batches[1:],
        "latencies_s": [round(value, 2) for value in latencies],
        "latency_median_s": round(statistics.median(latencies), 2),
        "latency_p95_s": round(_percentile(latencies, 0.95), 2),
        "catchup_pages": catchup,
        "catchup_s": round(catchup_seconds, 2),
        "catchup_batches_s": catchup_batches,
        # While pages keep coming, batches run back to back: pages over the batches' own
        # seconds. From the drop it also waits for the next batch to start (latency).
        "follow_pages_per_s": round(catchup / sum(catchup_batches), 3),
        "follow_pages_per_s_from_drop": round(catchup / catchup_seconds, 3),
    }


def batch_reference(pages: list[Path], one: Path, scratch: Path) -> dict[str, Any]:
    """A batch run (a fresh process, with --state) over `pages`, then one over one more
    page into the same ROOT and state: what each costs without follow mode."""
    folder, root, state = scratch / "batch-in", scratch / "batch-root", scratch / "batch-state"
    folder.mkdir()
    for page in pages:
        shutil.copyfile(page, folder / page.name)
    extra = ["--state", str(state)]
    run = _common.run_pipeline([folder], root, scratch, extra)
    _common.require_success(run)
    manifest = _common.read_manifest(root)
    assert manifest is not None
    shutil.copyfile(one, folder / one.name)
    single = _common.run_pipeline([folder], root, scratch, extra)
    _common.require_success(single)
    return {
        "pages": len(pages),
        "wall_s": round(run.wall_seconds, 2),
        "run_s": manifest["seconds"],
        "pages_per_s": round(len(pages) / run.wall_seconds, 3),
        "one_page_wall_s": round(single.wall_seconds, 2),
    }


def memory(
    total: int, per_batch: int, interval: float, scratch: Path, keep_days: float = 0
) -> dict[str, Any]:
    inbox, root, state = scratch / "m-inbox", scratch / "m-root", scratch / "m-state"
    inbox.mkdir()
    log = scratch / "memory.log"
    commits = Commits(root)
    commits.start()
    retention = ["--state_keep_days", f"{keep_days:g}"] if keep_days else []
    process = _follow(inbox, root, state, interval, scratch, log, retention)
    rows = []
    try:
        for start in range(0, total, per_batch):
            temporary = inbox / f".docs{start:07d}.jsonl.tmp"
            temporary.write_text(_common.synthetic_articles(start, per_batch, seed=1))
            final = inbox / f"docs{start:07d}.jsonl"
            temporary.rename(final)
            expected = {f"{final}#L{line}" for line in (1, per_batch)}
            if not commits.wait_for(expected, 600):
                raise SystemExit(f"documents were not committed:\n{log.read_text()[-3000:]}")
            rss, peak = _common.process_memory_mb(process.pid)
            rows.append({"docs": start + per_batch, "rss_mb": round(rss), "peak_mb": round(peak)})
        state_bytes = sum(path.stat().st_size for path in state.rglob("*") if path.is_file())
        batches = _batch_seconds(log)
        _stop(process, log)
    finally:
        if process.poll() is None:
            process.kill()
        commits.stop()
    for row, seconds in zip(rows, batches, strict=False):
        row["batch_s"] = seconds
    return {
        "per_batch": per_batch,
        "keep_days": keep_days,
        "rows": rows,
        "state_mb": round(state_bytes / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--pages", type=int, default=10, help="pages at a steady rate")
    parser.add_argument("--interval", type=float, default=10.0, help="--interval, s")
    parser.add_argument("--catchup", type=int, default=60, help="pages dropped at once")
    parser.add_argument("--docs", type=int, default=6000, help="synthetic articles in all")
    parser.add_argument("--docs-per-batch", type=int, default=500)
    parser.add_argument(
        "--keep-days",
        type=float,
        default=0,
        help="memory: the follow process's --state_keep_days (0: keep all); e.g. 0.0007 "
        "(one minute) bounds the state to the last minute's documents",
    )
    parser.add_argument("--skip", action="append", default=[], choices=("latency", "memory"))
    parser.add_argument("--out", default="out/bench-follow")
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [AEB_PAGES])
    pages = sorted((shared / AEB_PAGES).glob("*.html.gz"))
    needed = 1 + args.pages + args.catchup
    if len(pages) < needed:
        _common.exit_missing(f"{needed} pages needed, {len(pages)} in {shared / AEB_PAGES}")
    _common.stop_runs_on_sigterm()
    summary: dict[str, Any] = {"load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="newsbeam-bench-follow-") as tmp:
        scratch = Path(tmp)
        if "latency" not in args.skip:
            catchup_pages = pages[1 + args.pages : needed]
            summary["batch"] = batch_reference(catchup_pages, pages[0], scratch)
            summary["follow"] = latency_and_throughput(
                pages, args.pages, args.catchup, args.interval, scratch
            )
        if "memory" not in args.skip:
            summary["memory"] = memory(
                args.docs, args.docs_per_batch, args.interval, scratch, args.keep_days
            )
    _report(summary, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def _report(summary: dict[str, Any], args: argparse.Namespace) -> None:
    interval = args.interval
    if "follow" in summary:
        follow, batch = summary["follow"], summary["batch"]
        later = follow["later_batches_s"]
        ratio = follow["follow_pages_per_s"] / batch["pages_per_s"]
        median_later = f"{statistics.median(later):.2f} s" if later else "-"
        print(f"follow mode, --interval {interval:g} s, {args.pages} pages one per interval:")
        rows = [
            ["first batch (1 page), from start", f"{follow['first_batch_from_start_s']} s", ""],
            ["first batch (1 page), its latency", f"{follow['first_batch_s']} s", ""],
            ["later batches of 1 page, median", median_later, ""],
            ["1 page, a batch run (fresh process)", f"{batch['one_page_wall_s']} s", ""],
            ["arrival -> queryable, median", f"{follow['latency_median_s']} s", ""],
            ["arrival -> queryable, p95", f"{follow['latency_p95_s']} s", f"< {2 * interval:g} s"],
            [
                f"{follow['catchup_pages']} pages at once, follow (its batches)",
                f"{follow['follow_pages_per_s']} pages/s",
                "",
            ],
            [
                f"{follow['catchup_pages']} pages at once, follow (from the drop)",
                f"{follow['follow_pages_per_s_from_drop']} pages/s",
                "",
            ],
            [
                f"{batch['pages']} pages, a batch run (fresh process, wall)",
                f"{batch['pages_per_s']} pages/s",
                "",
            ],
            ["follow / batch throughput", f"{ratio:.2f}", ">= 0.8"],
        ]
        _common.print_table(["figure", "value", "goal"], rows)
    if "memory" in summary:
        memory = summary["memory"]
        print(f"\nmemory, {memory['per_batch']} synthetic articles per batch:")
        _common.print_table(
            ["documents", "batch s", "RSS MiB", "peak MiB"],
            [[r["docs"], r.get("batch_s", "-"), r["rss_mb"], r["peak_mb"]] for r in memory["rows"]],
        )
        print(f"state after the run: {memory['state_mb']} MiB")
    print(f"\nload average at the start: {summary['load_average']}")
    command = ["benchmarks/bench_follow.py", "--pages", str(args.pages), "--interval"]
    command += [f"{interval:g}", "--catchup", str(args.catchup), "--docs", str(args.docs)]
    command += ["--docs-per-batch", str(args.docs_per_batch)]
    if args.keep_days:
        command += ["--keep-days", f"{args.keep_days:g}"]
    command += [f"--skip={name}" for name in args.skip]
    print("reproduce: .venv/bin/python " + shlex.join(command))


if __name__ == "__main__":
    sys.exit(main())
