"""Cost of the dedup and stories stages on the AEB pages: signatures and share of run time.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_dedup.py --gate 0.10

Corpus: the 181 AEB pages (../shared/data/extraction/aeb/html/*.html.gz), `--copies` times
(default 6: 1,086 pages, as in bench_pipeline.py; the copies are exact duplicates).

Measures, each the median of `--repeats` (default 3):
- signature cost: shingling plus MinHash of one clean article (`fingerprint_of`), in
  microseconds per document, over the pages' clean articles;
- the stages in Beam: an in-process pipeline (FnApiRunner) of `Create(articles) |
  DeduplicateArticles | ClusterStories` minus the same pipeline without the two stages
  (Beam's start-up and Create cost), in seconds;
- the whole pipeline on the pages as a user runs it (`python -m newsbeam.pipeline`, a
  subprocess), wall seconds, docs/s and peak RSS of the main process.
Prints the stages' share of the whole run: (stages - baseline) / whole. `--gate S` fails
(exit 1) when the share > S (the issue's goal: 0.10). Missing data exits 2.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

AEB_HTML = Path("data/extraction/aeb/html")


def clean_articles(pages: list[Path], copies: int) -> list:
    from newsbeam.schemas import RawDocument
    from newsbeam.transforms.clean import clean_article
    from newsbeam.transforms.extract import ExtractConfig, ExtractError, extract_document

    config = ExtractConfig()
    articles = []
    for copy_number in range(copies):
        for page in pages:
            source = f"c{copy_number}_{page.name}"
            doc = RawDocument(source, "html", gzip.decompress(page.read_bytes()))
            try:
                article = clean_article(extract_document(doc, config))
            except ExtractError:
                continue
            if article.word_count >= 10:
                articles.append(article)
    return articles


def signature_microseconds(articles: list, repeats: int) -> float:
    from newsbeam.transforms.dedup import DedupConfig, fingerprint_of

    config = DedupConfig()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for article in articles:
            fingerprint_of(article, config)
        timings.append((time.perf_counter() - started) / len(articles) * 1e6)
    return statistics.median(timings)


def beam_seconds(articles: list, with_stages: bool, with_stories: bool = True) -> float:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from newsbeam.transforms.dedup import DeduplicateArticles
    from newsbeam.transforms.stories import ClusterStories

    started = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(runner="FnApiRunner")) as pipeline:
        kept = pipeline | beam.Create(articles, reshuffle=False)
        if with_stages:
            kept, duplicates = kept | DeduplicateArticles()
            if with_stories:
                kept = kept | ClusterStories()
            _ = duplicates | "CountDuplicates" >> beam.combiners.Count.Globally()
        _ = kept | beam.combiners.Count.Globally()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gate", type=float, default=None, help="fail when the share > S")
    parser.add_argument(
        "--dedup-only", action="store_true", help="time the dedup stage alone (no stories)"
    )
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [AEB_HTML])
    pages = sorted((shared / AEB_HTML).glob("*.html.gz"))

    articles = clean_articles(pages, args.copies)
    print(f"{len(articles)} clean articles from {len(pages)} pages x {args.copies}")
    microseconds = signature_microseconds(articles, args.repeats)
    print(f"signatures (shingles + MinHash): {microseconds:.0f} us/document")

    stages, baseline, whole, rss = [], [], [], []
    with _common.scratch_directory("bench-dedup") as scratch:
        pages_dir = scratch / "pages"
        pages_dir.mkdir()
        for copy_number in range(args.copies):
            for page in pages:
                (pages_dir / f"c{copy_number}_{page.name}").write_bytes(page.read_bytes())
        os.environ["TMPDIR"] = str(scratch / "tmp")
        (scratch / "tmp").mkdir(exist_ok=True)
        for repeat in range(args.repeats):
            baseline.append(beam_seconds(articles, with_stages=False))
            stages.append(beam_seconds(articles, True, with_stories=not args.dedup_only))
            run = _common.run_pipeline([pages_dir], scratch / f"out{repeat}", scratch)
            _common.require_success(run)
            seconds = run.wall_seconds
            whole.append(seconds)
            rss.append(run.peak_rss_mb)
            print(
                f"  run {repeat + 1}: stages {stages[-1]:.2f} s, baseline {baseline[-1]:.2f} s, "
                f"whole pipeline {seconds:.2f} s"
            )
    documents = len(pages) * args.copies
    stage_cost = statistics.median(stages) - statistics.median(baseline)
    whole_median = statistics.median(whole)
    share = stage_cost / whole_median
    _common.print_table(
        ["measure", "median"],
        [
            ["signature us/doc", f"{microseconds:.0f}"],
            [
                "dedup in Beam, s" if args.dedup_only else "dedup+stories in Beam, s",
                f"{stage_cost:.2f}",
            ],
            ["whole pipeline, s", f"{whole_median:.2f}"],
            ["whole pipeline, docs/s", f"{documents / whole_median:.1f}"],
            ["whole pipeline peak RSS, MB", f"{statistics.median(rss):.0f}"],
            [
                "bench process peak RSS, MB",
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}",
            ],
            ["stages' share of the run", f"{share:.1%}"],
        ],
    )
    if args.gate is None:
        return 0
    return _common.finish_gate(
        share <= args.gate, f"dedup+stories share {share:.1%} (gate {args.gate:.0%})"
    )


if __name__ == "__main__":
    sys.exit(main())
