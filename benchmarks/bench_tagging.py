"""Cost of topic and place tagging per document, and its share of the pipeline's time.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_tagging.py
    .venv/bin/python benchmarks/bench_tagging.py --gate 0.10   # fail above a 10% share

Corpora: the 181 AEB pages (../shared/data/extraction/aeb/html/*.html.gz, HTML: the
pipeline extracts them) and the 500 BBC articles (../shared/data/topics/bbc-dev, JSON lines:
no extraction, so tagging weighs more there).
For each corpus: one pipeline run as a subprocess (wall time, everything included), then
the articles it wrote are tagged again in this process with the same tagger, `--repeats`
times (median): microseconds per document for topics and for places, load time of the
tagger, this process's peak RSS, and tagging's share of the pipeline's wall time per
article. `--gate S` fails (exit 1) when a corpus's share is above S. Missing data exits 2.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

CORPORA = {
    "aeb-html": Path("data/extraction/aeb/html"),
    "bbc-jsonl": Path("data/topics/bbc-dev/articles.jsonl"),
}


def _per_doc(articles: list[dict], tag: Callable[[dict], object], repeats: int) -> float:
    """Median over `repeats` passes of the seconds `tag` takes per article."""
    timings = []
    for _ in range(repeats):
        clock = time.perf_counter()
        for row in articles:
            tag(row)
        timings.append((time.perf_counter() - clock) / len(articles))
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gate", type=float, default=None, help="maximum share (0-1)")
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [str(p) for p in CORPORA.values()])

    from newsbeam.transforms.places import PlaceFinder
    from newsbeam.transforms.topics import TopicTagger

    started = time.perf_counter()
    tagger = TopicTagger()
    topics_load = time.perf_counter() - started
    started = time.perf_counter()
    finder = PlaceFinder()
    places_load = time.perf_counter() - started

    rows = []
    worst_share = 0.0
    for name, relative in CORPORA.items():
        with _common.scratch_directory("bench-tagging") as scratch:
            run = _common.run_pipeline([shared / relative], scratch / "out", scratch)
            _common.require_success(run)
            articles = _common.read_table(
                scratch / "out", "articles", ["title", "text", "language"]
            )
        if not articles:
            print(f"warning: no articles from {name}")
            continue

        topics_s = _per_doc(
            articles, lambda r: tagger.tag(r["title"], r["text"], r["language"]), args.repeats
        )
        places_s = _per_doc(articles, lambda r: finder.find(r["title"], r["text"]), args.repeats)
        pipeline_s = run.wall_seconds / len(articles)
        share = (topics_s + places_s) / pipeline_s
        worst_share = max(worst_share, share)
        chars = sum(len(r["text"]) for r in articles) / len(articles)
        rows.append(
            [
                name,
                len(articles),
                f"{chars:.0f}",
                f"{topics_s * 1e6:.0f}",
                f"{places_s * 1e6:.0f}",
                f"{pipeline_s * 1e3:.1f}",
                f"{100 * share:.1f}%",
            ]
        )
    _common.print_table(
        ["corpus", "articles", "chars/doc", "topics us/doc", "places us/doc",
         "pipeline ms/doc", "tagging share"],
        rows,
    )  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load: topics {topics_load * 1e3:.0f} ms, places {places_load * 1e3:.0f} ms")
    print(f"peak RSS of this process (tagger loaded): {peak_mb:.0f} MB")
    print("command: .venv/bin/python benchmarks/bench_tagging.py")
    if args.gate is None:
        return 0
    return _common.finish_gate(
        worst_share <= args.gate, f"tagging share {worst_share:.3f} (gate {args.gate})"
    )


if __name__ == "__main__":
    sys.exit(main())
