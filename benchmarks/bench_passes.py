"""Memory against input size: one run, and the same input in passes (`--max_files_per_run`).

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_passes.py --scales 1,10,30 --pass-files 1000

For each scale N: the distinct pages of ../shared (bench_pipeline.py's corpus, ~440) copied N
times under distinct names (as bench_pipeline.py --scale: exact copies, the point being how
memory grows with the input), then `newsbeam --input DIR --output OUT` in one run and the
same with `--max_files_per_run` (`--pass-files`, several values allowed), each run once,
one after the other, its process tree sampled every 0.1 s (`_common.run_measured`). Prints
per run: files, wall seconds, docs/s, the peak of the tree's summed PSS (forked workers'
shared pages counted once) and of its summed RSS, and the runs committed; and checks that
every input ended in exactly one table (the manifests' counts, summed over the passes).

Worker processes are fixed (`--direct_num_workers 2 --direct_running_mode
multi_processing`, replaced by `--beam-args` when given): left to itself the command also
looks at the load average, which long runs one after the other raise, and would run some
in one process. `--out DIR` (default out/bench-passes) gets summary.json. Missing data
exits 2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
import bench_pipeline  # noqa: E402

WORKERS = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]


def committed(output_dir: Path) -> list[dict[str, Any]]:
    """The run manifests committed to a dataset ROOT (the dataset's own reader)."""
    from newsbeam.pipeline import dataset

    return dataset.committed_runs(str(output_dir))


def measure(
    pages_dir: Path, scratch: Path, label: str, extra: list[str], pages: int
) -> dict[str, Any]:
    output_dir = scratch / f"out-{label}"
    run = _common.run_pipeline([pages_dir], output_dir, scratch, extra, sample_tree=True)
    if run.returncode != 0:
        raise SystemExit(f"{label}: exit {run.returncode}\n{run.stderr[-3000:]}")
    manifests = committed(output_dir)
    counts = {
        name: sum(manifest["counts"][name] for manifest in manifests)
        for name in ("inputs", "articles", "duplicates", "rejected")
    }
    balanced = counts["inputs"] == counts["articles"] + counts["duplicates"] + counts["rejected"]
    shutil.rmtree(output_dir, ignore_errors=True)
    result = {
        "label": label,
        "pages": pages,
        "runs": len(manifests),
        "wall_seconds": round(run.wall_seconds, 2),
        "docs_per_second": round(pages / run.wall_seconds, 1),
        "peak_pss_mb": round(run.tree_pss_mb),
        "peak_rss_mb": round(run.tree_rss_mb),
        "counts": counts,
        "balanced": balanced and counts["inputs"] == pages,
    }
    print(
        f"  {label:<22} {pages:>6} files  {run.wall_seconds:7.1f} s  "
        f"{result['docs_per_second']:6.1f} docs/s  peak PSS {run.tree_pss_mb:6.0f} MB  "
        f"(summed RSS {run.tree_rss_mb:6.0f} MB)  {len(manifests):>3} runs  "
        f"{counts['articles']} + {counts['duplicates']} + {counts['rejected']} = "
        f"{counts['inputs']} inputs{'' if result['balanced'] else '  NOT BALANCED'}",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--scales", default="1,10,30", help="copies of the corpus, e.g. 1,10,30")
    parser.add_argument(
        "--pass-files", default="1000", help="--max_files_per_run values, e.g. 500,1000"
    )
    parser.add_argument("--beam-args", default="", help="flags in place of the worker flags")
    parser.add_argument("--out", default="out/bench-passes", help="summary.json goes here")
    args = parser.parse_args(argv)
    scales = [int(value) for value in args.scales.split(",")]
    sizes = [int(value) for value in args.pass_files.split(",")]
    if min(scales) < 1 or min(sizes) < 1:
        parser.error("--scales and --pass-files take positive numbers")
    shared = _common.locate_shared(args.shared)
    sources = bench_pipeline.distinct_sources(shared)
    if not sources:
        _common.exit_missing(f"no distinct pages found under {shared}")
    extra = _common.split_beam_args(args.beam_args) or WORKERS
    results = []
    with _common.scratch_directory("newsbeam-bench-passes-") as scratch:
        for scale in scales:
            pages_dir = scratch / f"pages-{scale}x"
            pages = bench_pipeline.write_corpus(sources, pages_dir, scale)
            print(f"{scale}x: {pages} pages", flush=True)
            results.append(measure(pages_dir, scratch, f"{scale}x one run", extra, pages))
            for size in sizes:
                label = f"{scale}x passes of {size}"
                passes = [*extra, "--max_files_per_run", str(size)]
                results.append(measure(pages_dir, scratch, label, passes, pages))
            shutil.rmtree(pages_dir, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps({"runs": results}, indent=2) + "\n")
    print(f"summary: {out / 'summary.json'}")
    return 0 if all(result["balanced"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
