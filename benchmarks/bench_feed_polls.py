"""What a streamed feed poll costs with the feed's state kept between polls (conditional GET,
body hash) against the full fetch and parse every poll that `newsbeam --streaming` did
before (docs/streaming.md, issue 12).

    .venv/bin/python benchmarks/bench_feed_polls.py [--entries 100] [--polls 50]

A feed of `--entries` RSS items (about 1 KB of text each) is served from 127.0.0.1 with an
ETag; each poll is timed through the functions the streaming poll step calls (fetch_feed,
then feed_outputs): "full" polls with no state (what every poll did before: fetched,
parsed, every entry compared), "kept" polls with the state the first poll left (a 304:
no body, no parse). Figures are wall-clock on a shared machine: take the median.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.server
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from newsbeam.schemas.feeds import FeedState
from newsbeam.transforms.feeds.config import FeedsConfig
from newsbeam.transforms.feeds.fetch import FetchConfig, Fetcher
from newsbeam.transforms.feeds.stage import STATE, FeedSource, FetchedFeed, feed_outputs, fetch_feed

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

WORDS = (
    "council harbour ferry bridge storm steel island season tunnel rail mountain travel "
    "police coastal landslide village airport summer gates security hall inspection"
).split()


def feed_body(entries: int) -> bytes:
    items = []
    for index in range(entries):
        text = " ".join(WORDS[(index + k) % len(WORDS)] for k in range(150))
        items.append(
            f'<item><guid isPermaLink="false">e{index}</guid><title>Story {index}</title>'
            f"<link>http://127.0.0.1/a/{index}</link><description>{text}</description>"
            "<pubDate>Tue, 01 Dec 2026 08:00:00 GMT</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>B</title>'
        f"<link>http://127.0.0.1/</link>{''.join(items)}</channel></rss>"
    ).encode()


@contextlib.contextmanager
def serve(body: bytes, sent: list[int]) -> Iterator[str]:
    etag = '"v1"'

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                sent.append(0)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            sent.append(len(body))

    with _common.serve_locally(Handler) as base:
        yield f"{base}/feed.xml"


def poll(
    fetcher: Fetcher, url: str, state: FeedState | None, config: FeedsConfig
) -> tuple[float, FeedState | None]:
    """One poll (fetch, parse, entries compared): seconds, and the state it leaves."""
    started = time.perf_counter()
    source = FeedSource(url, "feed")
    result = fetch_feed(fetcher, source, state)
    now = dt.datetime.now(dt.timezone.utc)
    outputs = list(
        feed_outputs(FetchedFeed(source, result, False), state, frozenset(), now, config)
    )
    seconds = time.perf_counter() - started
    after = next(o.value for o in outputs if getattr(o, "tag", None) == STATE)
    return seconds, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100)
    parser.add_argument("--polls", type=int, default=50)
    args = parser.parse_args()
    body = feed_body(args.entries)
    config = FeedsConfig(
        fetch=FetchConfig(allow_hosts=("127.0.0.1",), per_host_interval_seconds=0.0)
    )
    fetcher = Fetcher(config.fetch)
    figures: dict[str, Any] = {"entries": args.entries, "feed_bytes": len(body)}
    try:
        for mode in ("full", "kept"):
            sent: list[int] = []
            with serve(body, sent) as url:
                _, kept = poll(fetcher, url, None, config)  # the first poll: a full one
                sent.clear()
                times = [
                    poll(fetcher, url, None if mode == "full" else kept, config)[0]
                    for _ in range(args.polls)
                ]
            figures[mode] = {
                "median_ms": round(statistics.median(times) * 1000, 2),
                "p95_ms": round(sorted(times)[int(0.95 * (len(times) - 1))] * 1000, 2),
                "bytes_per_poll": round(sum(sent) / len(sent)),
            }
    finally:
        fetcher.close()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
