"""A restarted streaming job's start over weeks of a busy stream (docs/streaming.md, "A job
started again"): what each worker does in its steps' setup() before its first element,
on a ROOT holding weeks of committed 5-minute windows.

    .venv/bin/python benchmarks/bench_restart.py build --root /tmp/r --days 21 --per_window 10
    .venv/bin/python benchmarks/bench_restart.py start --root /tmp/r --mode after --runs 3
    .venv/bin/python benchmarks/bench_restart.py start --root /tmp/r --mode before --runs 3

`build` writes what a real job writes: every window is committed by the streaming job's
own commit (pipeline/streaming.py `commit_window`: Parquet files, the manifest, the
dataset's commit), its rows real articles (../shared/data/dedup/syndicated-dev, cleaned
as CleanText cleans them), `--per_window` of them a window plus a duplicates row and a
rejected row, each under a source of its own. The commit records the time it ran: each
manifest's `finished_at` and file time are then set to its window's end, as a job that
committed it then left them (the windows span the `--days` before now).

`start` runs, in a fresh process per run, what a restarted worker's setup() calls with the
job's record (`--ttl_days`, default 7): the committed sources for its steps that skip
committed inputs (the watch, the skip of committed records, and with `--feeds` the feeds'
two steps), and the articles dedup and stories start from, fingerprinted and tokenised
(committed_stream_entries, committed_stream_stories). `--mode before` does it as before
review 115: each step reading the record on its own (the listing of `_runs`, the
manifests, their files), holding its own copy; `after`: once a process
(support/committed.py load_committed_sources). Prints wall and CPU seconds and the peak
RSS above the process's after its imports, medians over `--runs`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

WINDOW_SECONDS = 300
UTC = dt.timezone.utc


def build(root: Path, days: int, per_window: int, shared: Path) -> None:
    from newsbeam.pipeline.streaming import commit_window
    from newsbeam.schemas import Duplicate, Rejected
    from newsbeam.transforms.clean import clean_article
    from newsbeam.transforms.extract import new_article
    from newsbeam.transforms.write import written_row

    folder = shared / "data" / "dedup" / "syndicated-dev" / "docs"
    pool = []
    for path in sorted(folder.iterdir()):
        title, _, body = path.read_text().partition("\n\n")
        article = clean_article(new_article(path.name, text=body, title=title))
        if article.word_count >= 10:
            pool.append(article)
    to_article, to_duplicate = written_row("articles"), written_row("duplicates")
    to_rejected = written_row("rejected")
    end = int(time.time()) // WINDOW_SECONDS * WINDOW_SECONDS
    windows = days * 86400 // WINDOW_SECONDS
    clock = time.perf_counter()
    for number in range(windows):
        start = end - (windows - number) * WINDOW_SECONDS
        at = dt.datetime.fromtimestamp(start, UTC)
        articles = []
        for slot in range(per_window):
            base = pool[(number * per_window + slot) % len(pool)]
            source = f"/srv/inbox/{at:%Y%m%d}/{number}-{slot}.txt"
            ident = hashlib.sha256(source.encode()).hexdigest()[:24]
            articles.append(
                to_article(
                    base._replace(
                        source=source,
                        article_id=ident,
                        story_id=f"s{ident[:12]}",
                        ingested_at=at,
                        published_at=at,
                    )
                )
            )
        copy = Duplicate(
            article_id=f"d{number}", source=f"/srv/inbox/{at:%Y%m%d}/{number}-copy.txt",
            canonical_id=articles[0]["article_id"], similarity=1.0, method="exact",
            url=None, site=None, outlet=None,
        )  # fmt: skip
        bad = Rejected(
            source=f"/srv/inbox/{at:%Y%m%d}/{number}-short.txt", stage="clean",
            reason="too_short", detail="3 words", payload="",
        )  # fmt: skip
        rows = {
            "articles": articles,
            "duplicates": [to_duplicate(copy)],
            "rejected": [to_rejected(bad)],
        }
        stop = start + WINDOW_SECONDS
        manifest = commit_window(
            str(root), rows, start * 1_000_000, stop * 1_000_000, stop * 1_000_000
        )
        path = root / "_runs" / f"{manifest['run_id']}.json"
        committed_at = stop + 5
        manifest["finished_at"] = dt.datetime.fromtimestamp(committed_at, UTC).isoformat()
        path.write_text(json.dumps(manifest))
        os.utime(path, (committed_at, committed_at))
        if number % 500 == 0:
            print(f"{number}/{windows} windows, {time.perf_counter() - clock:.0f} s", flush=True)
    print(f"{windows} windows of {per_window} articles in {root}")


def start_once(root: Path, ttl_days: int, mode: str, feeds: bool) -> dict[str, float]:
    """One worker's start (in this process): seconds, CPU seconds, MB above the imports."""
    from newsbeam.transforms.dedup import COMMITTED_COLUMNS, DedupConfig, committed_stream_entries
    from newsbeam.transforms.stories import (
        COMMITTED_STORY_COLUMNS,
        NO_FREQUENCIES,
        StoryConfig,
        committed_stream_stories,
    )
    from newsbeam.transforms.support import loaded
    from newsbeam.transforms.support.committed import (
        CommittedRecord,
        committed_articles,
        committed_sources,
        load_committed_sources,
    )

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    now = dt.datetime.now(UTC)
    record = CommittedRecord(str(root), now - dt.timedelta(days=ttl_days))
    ttl = ttl_days * 86400 * 1_000_000
    steps = 4 if feeds else 2
    wall, cpu = time.perf_counter(), time.process_time()
    held: list[Any] = []
    for _ in range(steps):
        if mode == "before":  # each step's setup() read the record on its own
            loaded.forget()
            held.append(committed_sources(record))
        else:
            held.append(load_committed_sources(record))
    sources_wall = time.perf_counter() - wall
    if mode == "before":
        loaded.forget()
    clock = time.perf_counter()
    rows = committed_articles(record, COMMITTED_COLUMNS)
    read_wall = time.perf_counter() - clock
    clock = time.perf_counter()
    held.append(committed_stream_entries(rows, DedupConfig(), ttl))
    dedup_wall = time.perf_counter() - clock
    del rows
    if mode == "before":
        loaded.forget()
    clock = time.perf_counter()
    rows = committed_articles(record, COMMITTED_STORY_COLUMNS)
    read_wall += time.perf_counter() - clock
    clock = time.perf_counter()
    held.append(committed_stream_stories(rows, NO_FREQUENCIES, StoryConfig(), now, ttl))
    stories_wall = time.perf_counter() - clock
    articles = len(rows)
    del rows
    return {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "sources_seconds": sources_wall,
        "articles_read_seconds": read_wall,
        "dedup_seed_seconds": dedup_wall,
        "stories_seed_seconds": stories_wall,
        "peak_mb_above_imports": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base,
        "sources": float(len(held[0])),
        "articles": float(articles),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "start", "one"])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--per_window", type=int, default=10)
    parser.add_argument("--ttl_days", type=int, default=7)
    parser.add_argument("--mode", choices=["before", "after"], default="after")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--feeds", action="store_true", help="the feeds' two steps too")
    _common.add_shared_argument(parser)
    args = parser.parse_args()
    if args.command == "build":
        shared = _common.locate_shared(args.shared, ["data/dedup/syndicated-dev/docs"])
        build(args.root, args.days, args.per_window, shared)
        return
    if args.command == "one":
        print(json.dumps(start_once(args.root, args.ttl_days, args.mode, args.feeds)))
        return
    runs = []
    for _ in range(args.runs):
        command = [
            sys.executable, __file__, "one", "--root", str(args.root),
            "--ttl_days", str(args.ttl_days), "--mode", args.mode,
        ] + (["--feeds"] if args.feeds else [])  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    figures = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(
        f"{args.mode}: {figures['articles']:.0f} articles, {figures['sources']:.0f} sources "
        f"committed within {args.ttl_days} days; median of {len(runs)}: "
        f"{figures['seconds']:.2f} s wall (sources {figures['sources_seconds']:.2f} s, "
        f"articles read {figures['articles_read_seconds']:.2f} s, dedup's fingerprints "
        f"{figures['dedup_seed_seconds']:.2f} s, stories' terms "
        f"{figures['stories_seed_seconds']:.2f} s), {figures['cpu_seconds']:.2f} s CPU, peak RSS "
        f"+{figures['peak_mb_above_imports']:.0f} MB"
    )


if __name__ == "__main__":
    main()
