"""The streaming drivers of dedup and stories (`newsbeam --streaming`, docs/streaming.md), fed
one article at a time as their stateful DoFns are: cost per article as the state grows, and
agreement with the labels, beside the batch functions on the same data.

    .venv/bin/python benchmarks/bench_streaming.py --shared ../shared [--chunks 1,20,100]

Dedup: syndicated-dev, in file order, each article against the kept ones (stream_copy);
articles whose text is under 10 words are left out (Clean rejects them). Stories:
ecbplus-dev, shuffled (seed 1: reports of many events interleaved), clustered by
cluster_window in chunks of 1 article (what ClusterStoriesStream does) or more (what a
per-window driver would do), against cluster_stories over all at once (a batch run).
The pure functions are timed, not a runner: Beam's own cost is about a microsecond a step.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import scoring  # noqa: E402

from newsbeam.transforms.clean import clean_article  # noqa: E402
from newsbeam.transforms.dedup import (  # noqa: E402
    DedupConfig,
    Fingerprint,
    stream_copy,
    stream_entry,
    text_fingerprint,
)
from newsbeam.transforms.extract import new_article  # noqa: E402
from newsbeam.transforms.stories import (  # noqa: E402
    NO_FREQUENCIES,
    StoryConfig,
    cluster_stories,
    cluster_window,
    story_doc,
)
from newsbeam.transforms.support.rank import article_rank  # noqa: E402

_AT = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
_FOREVER = 10**15


def bench_dedup(shared: Path) -> None:
    folder = shared / "data" / "dedup" / "syndicated-dev"
    with (folder / "labels.csv").open() as handle:
        labels = {row["file"]: row["cluster"] for row in csv.DictReader(handle)}
    articles = []
    for name in sorted(labels):
        title, _, body = (folder / "docs" / name).read_text().partition("\n\n")
        article = clean_article(new_article(name, text=body, title=title))
        if article.word_count >= 10:
            articles.append(article._replace(article_id=name))
    config, entries, group, costs = DedupConfig(), [], {}, []
    for article in articles:
        started = time.perf_counter()
        signature, shingles = text_fingerprint(article.text, config)
        rank = article_rank(article)
        fingerprint = Fingerprint(article.article_id, article.source, rank, signature, shingles)
        copy = stream_copy(fingerprint, article.content_hash, None, entries, config)
        if copy is None:
            entries.append(stream_entry(fingerprint, article.content_hash, None, config, 0))
            group[article.source] = article.source
        else:
            group[article.source] = copy.canonical_id
        costs.append(time.perf_counter() - started)
    truth = {article.source: labels[article.source] for article in articles}
    pairs = scoring.pairwise_scores(truth, group)
    print(
        f"dedup, one at a time: {len(articles)} articles in {sum(costs):.2f} s; the last 100 "
        f"{sum(costs[-100:]) / 100 * 1000:.2f} ms each against {len(entries)} kept; pairwise "
        f"precision {pairs.precision:.3f} recall {pairs.recall:.3f} F1 {pairs.f1:.3f}"
    )


def bench_stories(shared: Path, chunks: list[int]) -> None:
    path = shared / "data" / "clusters" / "ecbplus-dev" / "docs.jsonl"
    records = [json.loads(line) for line in path.open()]
    truth = {record["doc_id"]: record["cluster_id"] for record in records}
    config = StoryConfig()
    articles = [
        clean_article(new_article(r["doc_id"], text=r["text"]))._replace(article_id=r["doc_id"])
        for r in records
    ]
    random.Random(1).shuffle(articles)
    started = time.perf_counter()
    assigned, _ = cluster_stories([story_doc(a, config) for a in articles], [], config)
    seconds = time.perf_counter() - started
    batch = scoring.adjusted_rand(truth, assigned)
    print(f"stories, all at once (batch): ARI {batch:.3f} in {seconds:.1f} s")
    for size in chunks:
        stories, frequencies, found, last = [], NO_FREQUENCIES, {}, 0.0
        started = time.perf_counter()
        for start in range(0, len(articles), size):
            chunk = articles[start : start + size]
            tick = time.perf_counter()
            labelled, entries, frequencies = cluster_window(
                chunk, stories, frequencies, config, _AT, _FOREVER, {a.article_id: 0 for a in chunk}
            )
            last = time.perf_counter() - tick
            stories += entries
            found.update({a.article_id: a.story_id for a in labelled})
        seconds = time.perf_counter() - started
        ari = scoring.adjusted_rand(truth, found)
        print(
            f"stories, {size} at a time: ARI {ari:.3f} in {seconds:.1f} s (the last call "
            f"{last * 1000:.0f} ms, against {len(stories) - len(chunk)} earlier articles)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--chunks", default="1,20,100", help="story chunk sizes, comma-separated")
    args = parser.parse_args(argv)
    shared = _common.locate_shared(
        args.shared, ["data/dedup/syndicated-dev", "data/clusters/ecbplus-dev/docs.jsonl"]
    )
    bench_dedup(shared)
    bench_stories(shared, [int(size) for size in args.chunks.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
