"""Peak memory of story clustering on many short, similar articles (synthetic).

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_memory.py                  # 10k, 50k, 100k articles
    .venv/bin/python benchmarks/bench_memory.py --sizes 20000 --limit-gb 4

A feed of short, similar items (one template, a few words drawn from small pools) links
nearly every article to every other one: the worst case for the link graph and for the
dense block a linked group is clustered as. Each size runs `cluster_stories` in a fresh
subprocess (one process per size, so peaks do not add up) under an address-space limit of
`--limit-gb` (default 6: a run that would need more fails instead of swapping the machine)
and prints its wall seconds, peak RSS (ru_maxrss) and how many stories it found.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import subprocess
import sys
import time

_CITIES = "Leeds Lyon Porto Graz Turin Ghent Malmo Brno Cork Split Bergen Lodz Basel".split()
_THINGS = "fire flood strike protest crash storm outage election market festival".split()
_VERBS = "hit closed delayed disrupted affected halted shook reached".split()


def synthetic_articles(count: int, seed: int = 7) -> list:
    """`count` short similar articles (deterministic for a seed)."""
    from newsbeam.transforms.extract import new_article

    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    articles = []
    for index in range(count):
        city, thing, verb = rng.choice(_CITIES), rng.choice(_THINGS), rng.choice(_VERBS)
        text = (
            f"A {thing} {verb} central {city} on Monday, officials said. "
            f"Residents of {city} were told to expect more news about the {thing} later. "
            f"Update {index % 97}."
        )
        articles.append(
            new_article(
                f"synthetic#{index}",
                article_id=f"{index:08d}",
                url=None,
                title=f"{thing.title()} in {city}",
                published_at=start + dt.timedelta(minutes=index % 5000),
                text=text,
                word_count=len(text.split()),
                text_origin="document",
            )
        )
    return articles


def _measure(count: int) -> None:
    from newsbeam.transforms.stories import StoryConfig, cluster_stories, story_doc

    config = StoryConfig()
    docs = [story_doc(article, config) for article in synthetic_articles(count)]
    clock = time.perf_counter()
    assigned, _ = cluster_stories(docs, [], config)
    seconds = time.perf_counter() - clock
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count:>8}  {seconds:>8.1f}  {peak_mb:>8.0f}  {len(set(assigned.values())):>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--limit-gb", type=float, default=6.0)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        limit = int(args.limit_gb * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        _measure(args.one)
        return 0
    print(f"{'articles':>8}  {'seconds':>8}  {'peak MB':>8}  {'stories':>8}")
    failed = False
    for size in (int(s) for s in args.sizes.split(",")):
        run = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--limit-gb", str(args.limit_gb)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            failed = True
            last = (run.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{size:>8}  failed over {args.limit_gb:g} GB: {last}")
        else:
            print(run.stdout.strip(), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
