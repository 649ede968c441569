"""Time and peak memory of the default command on a flood of templated items (synthetic).

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_templated.py                  # 5,000 and 10,000 records
    .venv/bin/python benchmarks/bench_templated.py --sizes 20000 --limit-gb 8

Price tickers, weather and results tables are short texts from one template that differ in
a number or a name: near enough that every LSH band's bucket holds all of them, not copies
of each other. Each size writes that many JSON-lines records, runs `newsbeam --input DIR
--output OUT` in a subprocess under an address-space limit of `--limit-gb` (a run that
would need more fails instead of swapping the machine), and prints its wall seconds,
docs/s, the peak RSS of its largest process (ru_maxrss of the children) and its counts.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_records(folder: Path, count: int) -> None:
    """`count` templated records, one JSON line each."""
    with (folder / "templated.jsonl").open("w") as handle:
        for n in range(count):
            text = (
                f"Port report {n}: the port authority in harbour number {n} reported record "
                f"container traffic for the month of March and expects further growth next year."
            )
            handle.write(json.dumps({"text": text}) + "\n")


def run(count: int, limit_gb: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-templated-") as scratch:
        folder, output = Path(scratch) / "in", Path(scratch) / "out"
        folder.mkdir()
        write_records(folder, count)
        limit = int(limit_gb * 2**30)

        def bounded() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-m", "newsbeam.pipeline", "--input", str(folder),
             "--output", str(output)],
            capture_output=True, text=True, preexec_fn=bounded, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        counts = [line.strip() for line in completed.stdout.splitlines() if "  (" in line]
        status = "ok" if completed.returncode == 0 else f"exit {completed.returncode}"
        print(
            f"{count:>7} records  {seconds:6.1f} s  {count / seconds:7.1f} docs/s  "
            f"peak RSS {peak_mb:7.0f} MB  {status}  {'; '.join(counts[:3])}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000")
    parser.add_argument("--limit-gb", type=float, default=8.0)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:  # one size in a process of its own: peaks do not carry over
        run(args.one, args.limit_gb)
        return
    print(f"command: {' '.join(sys.argv)}")
    for size in (int(value) for value in args.sizes.split(",")):
        subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--limit-gb", str(args.limit_gb)],
            check=False,
        )


if __name__ == "__main__":
    main()
