"""What a small run costs against a growing state: the dedup and story index looked up in
memory (transforms/support/state_index.py) rather than read through the pipeline.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_state.py --sizes 0 2000 8000 32000 --repeats 3

For each size N: one run of N distinct synthetic articles (`--seed`; each 120 words from a
Zipf-like vocabulary of 30,000 words, so articles share common words and rarely rare ones,
as news does) builds a state; then `--repeats` runs of `--new` new articles each, with
`--state`, each a subprocess as a user runs it (the state grows by those few between
them). Prints, per size, the median CPU seconds, wall seconds and peak RSS of those runs,
and the run's counters of earlier articles looked up (`dedup_state_matched`,
`stories_state_matched`). N = 0 is a run without earlier state. The state is on local
disk. Set PYTHONPATH to another checkout's `newsbeam` to measure it the same way.
`--out DIR` (default out/bench-state) gets summary.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402


def counters_of(root: Path, run_id: str) -> dict[str, int]:
    return json.loads((root / "_runs" / f"{run_id}.json").read_text())["counters"]


def measure(size: int, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    root, state = scratch / f"root-{size}", scratch / f"state-{size}"
    extra = ["--state", str(state), "--state_keep_days", "0"]
    if size:
        base = scratch / f"base-{size}"
        base.mkdir()
        (base / "articles.jsonl").write_text(_common.synthetic_articles(0, size, args.seed))
        built = _common.run_pipeline([base], root, scratch, [*extra, "--run_id", "base"])
        if built.returncode != 0:
            raise SystemExit(f"building a state of {size} failed:\n{built.stderr[-2000:]}")
    runs, matched = [], []
    for repeat in range(args.repeats):
        batch = scratch / f"new-{size}-{repeat}"
        batch.mkdir()
        start = 10_000_000 + repeat * args.new
        (batch / "articles.jsonl").write_text(
            _common.synthetic_articles(start, args.new, args.seed)
        )
        run = _common.run_pipeline([batch], root, scratch, [*extra, "--run_id", f"new{repeat}"])
        if run.returncode != 0:
            raise SystemExit(f"run against a state of {size} failed:\n{run.stderr[-2000:]}")
        runs.append(run)
        counters = counters_of(root, f"new{repeat}")
        matched.append(
            (counters.get("dedup_state_matched", 0), counters.get("stories_state_matched", 0))
        )
    return {
        "state_articles": size,
        "new_articles": args.new,
        "cpu_s": round(statistics.median(r.cpu_seconds for r in runs), 2),
        "wall_s": round(statistics.median(r.wall_seconds for r in runs), 2),
        "peak_rss_mb": round(statistics.median(r.peak_rss_mb for r in runs)),
        "dedup_matched": statistics.median(m[0] for m in matched),
        "stories_matched": statistics.median(m[1] for m in matched),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 2000, 8000, 32000])
    parser.add_argument("--new", type=int, default=1, help="new articles per measured run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out/bench-state"))
    args = parser.parse_args()
    _common.stop_runs_on_sigterm()
    rows = []
    with tempfile.TemporaryDirectory(prefix="newsbeam-bench-state-") as folder:
        for size in args.sizes:
            rows.append(measure(size, args, Path(folder)))
            row = rows[-1]
            print(
                f"state {row['state_articles']:>6} articles: CPU {row['cpu_s']:6.2f} s  "
                f"wall {row['wall_s']:6.2f} s  peak {row['peak_rss_mb']:5} MB  "
                f"looked up: dedup {row['dedup_matched']}, stories {row['stories_matched']}",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"medians of {args.repeats} runs of {args.new} new article(s) each; {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
