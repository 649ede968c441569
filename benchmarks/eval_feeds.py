"""Feed ingestion on every feed in ../shared/data/feeds/, served from 127.0.0.1.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_feeds.py --gate 0.97

Data: ../shared/data/feeds/ -- fastfeedparser-benchmark-feeds/ (200 raw real feeds, no
extension, no expected parse), fastfeedparser-integration/ (14 feeds with a feedparser-
shaped expected `<name>.json`; the JSON Feed's is `json_feed_sample.expected.json`) and
feed-rs-fixture/ (~70 feeds of every flavour with a normalised `<name>.serde.json`).

Every feed is served by an HTTP server on 127.0.0.1 that this script starts (Content-Type
application/xml, or application/feed+json for JSON), and the pipeline runs once on all
their URLs (`--feeds LIST --no-fetch-pages --allow-private-hosts --state DIR`): their
entries' links point at real sites, and nothing may contact any address but 127.0.0.1.

Printed:
- feeds parsed (ok or partial), feeds rejected with reasons, crashes (internal errors, or
  feeds missing from the health table: must be 0);
- agreement with feedparser's own parse of the same bytes (default settings, same response
  headers): entry counts per feed (unique entry ids), and per entry the link and the title
  of each entry that reached the articles table (matched by entry id; titles compared as
  the clean stage normalises them: NFC, ASCII quotes, single spaces; a title feedparser
  types as HTML by its text);
- agreement with the expected files where given: entry counts, and the share of expected
  links and titles found among the feed's articles;
- feeds per second over the whole run (Beam start-up included) and peak memory.

`--gate X`: exit 1 unless crashes == 0, the count, link and title agreements with
feedparser are all >= X, and those with the expected files >= `--gate-expected` (0.95).
Missing data exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.server
import json
import re
import sys
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

FEEDS_RELATIVE = Path("data/feeds")


def feed_files(feeds_dir: Path) -> list[Path]:
    """Every feed document: expected-parse files and licences left out."""
    files = []
    for path in sorted(feeds_dir.rglob("*")):
        if not path.is_file() or path.name.startswith("LICENSE"):
            continue
        if path.name.endswith((".serde.json", ".expected.json")):
            continue
        if path.parent.name == "fastfeedparser-integration" and path.suffix == ".json":
            if path.stem != "json_feed_sample":
                continue  # an expected parse of <name>.xml
        files.append(path)
    return files


def expected_file(feed: Path) -> Path | None:
    candidates = [
        feed.with_name(f"{feed.stem}.serde.json"),
        feed.with_name(f"{feed.stem}.expected.json"),
    ]
    if feed.suffix == ".xml":
        candidates.append(feed.with_suffix(".json"))
    return next((c for c in candidates if c.is_file()), None)


def expected_entries(path: Path) -> list[tuple[str | None, str | None]]:
    """(link, title) per expected entry, from either expected format."""
    document = json.loads(path.read_text(encoding="utf-8"))
    entries = []
    for item in document.get("entries") or document.get("items") or []:
        if path.name.endswith(".serde.json"):
            links = item.get("links") or []
            title = (item.get("title") or {}).get("content")
            entries.append((links[0]["href"] if links else None, title))
        else:
            entries.append((item.get("link") or item.get("url"), item.get("title")))
    return entries


def _norm(text: str | None) -> str:
    """A title as the pipeline's clean stage leaves it (NFC, plain spaces, one space)."""
    from newsbeam.transforms.clean import normalize_unicode

    return " ".join(normalize_unicode(text or "").split())


_MARKUP = ("text/html", "application/xhtml+xml")


def _markup_text(markup: str) -> str:
    """An HTML title's text (tags dropped, references read): the pipeline's `title` is
    text since review 47, feedparser's title of an HTML type is markup."""
    import html

    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def _entry_id(explicit: Any, link: str | None, title: str | None, summary: str | None) -> str:
    """The pipeline's entry id rule (transforms/feeds/parse.py entry_id_of), restated here."""
    if isinstance(explicit, str) and explicit.strip():
        return explicit.strip()
    if link:
        return link
    digest = hashlib.sha1(f"{title or ''}\n{summary or ''}".encode()).hexdigest()[:20]
    return f"sha1:{digest}"


def content_type_of(path: Path) -> str:
    """What a server would send: JSON Feeds (some have no extension) as JSON."""
    with path.open("rb") as handle:
        head = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "application/feed+json" if head.startswith(b"{") else "application/xml"


def feedparser_reference(
    body: bytes, url: str, content_type: str
) -> dict[str, tuple[str | None, str | None]] | None:
    """feedparser's own parse (defaults) of the bytes: entry id -> (link, title)."""
    import io

    import feedparser

    if content_type.endswith("json"):
        return None  # feedparser does not read JSON Feed
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers={"content-type": content_type, "content-location": url}
    )
    from newsbeam.transforms.feeds.parse import relative_ids, written_ids

    # A relative guid feedparser resolved against the URL is the pipeline's id as written.
    try:
        text = body.decode(parsed.get("encoding") or "utf-8", errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    written = written_ids(text)
    relative = relative_ids(written, url)
    entries: dict[str, tuple[str | None, str | None]] = {}
    for item in parsed.entries:
        link = (item.get("link") or "").strip() or None
        title = (item.get("title") or "").strip() or None
        summary = (item.get("summary") or "").strip() or None
        key = _entry_id(item.get("id"), link, title, summary)
        key = key if key in written else relative.get(key, key)
        if title and (item.get("title_detail") or {}).get("type") in _MARKUP:
            title = _markup_text(title)  # feedparser's HTML title, as a reader sees it
        entries.setdefault(key, (link, title))
    return entries


@contextlib.contextmanager
def serve_files(files: dict[str, Path]) -> Iterator[str]:
    """Serve `files` (URL path -> file) from 127.0.0.1; yields the base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            path = files.get(urllib.parse.unquote(self.path))
            if path is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", content_type_of(path))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with _common.serve_locally(Handler) as base:
        yield base


def share(hits: int, total: int) -> float:
    return hits / total if total else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--gate", type=float, default=None, metavar="X")
    parser.add_argument(
        "--gate-expected",
        type=float,
        default=0.95,
        metavar="Y",
        help="with --gate: least agreement with the expected files (counts, links, titles)",
    )
    parser.add_argument("--beam-args", default="", metavar="ARGS")
    parser.add_argument("--show", type=int, default=10, help="disagreements listed")
    parser.add_argument(
        "--parse-speed", action="store_true", help="also time the parser alone (~20 s more)"
    )
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [str(FEEDS_RELATIVE)])
    feeds_dir = shared / FEEDS_RELATIVE
    files = feed_files(feeds_dir)
    routes = {"/" + urllib.parse.quote(str(p.relative_to(feeds_dir))): p for p in files}

    with _common.scratch_directory("feeds") as scratch, serve_files(routes) as base:
        urls = {base + route: path for route, path in routes.items()}
        listing = scratch / "feeds.txt"
        listing.write_text("".join(f"{url}\n" for url in urls))
        output, state = scratch / "out", scratch / "state"
        extra = [
            "--feeds", str(listing), "--no-fetch-pages", "--allow-private-hosts",
            # Parsing is what is measured: templated items of one feed (release notes,
            # changeset lists) are near copies in text, which is dedup's call, not the parser's.
            "--no_near_duplicates",
            "--per_host_interval", "0", "--per_host_concurrency", "8",
            "--fetch_concurrency", "8", "--state", str(state), "--min_words", "0",
            *_common.split_beam_args(args.beam_args),
        ]  # fmt: skip
        run = _common.run_pipeline([], output, scratch, extra)
        _common.require_success(run)
        peak_mb = run.peak_rss_mb
        health = {row["feed_url"]: row for row in _read_health(output)}
        articles = _common.read_table(output, "articles", ["feed_url", "entry_id", "url", "title"])
        rejected = _common.read_table(output, "rejected", ["source", "stage", "reason", "detail"])

        by_feed: dict[str, dict[str, tuple[str | None, str | None]]] = {}
        for row in articles:
            by_feed.setdefault(row["feed_url"], {})[row["entry_id"]] = (row["url"], row["title"])

        statuses = Counter(h["status"] for h in health.values())
        reasons = Counter(h["error"] for h in health.values() if h["status"] == "error")
        missing = [url for url in urls if url not in health]
        crashes = [r for r in rejected if r["reason"] == "internal_error"]

        counts_ok = counts_total = 0
        links_ok = links_total = titles_ok = titles_total = 0
        expected_counts_ok = expected_total = 0
        expected_links_ok = expected_links_total = expected_titles_ok = expected_titles_total = 0
        disagreements: list[str] = []
        expected_misses: list[str] = []
        for url, path in urls.items():
            row = health.get(url)
            if row is None or row["status"] == "error":
                continue
            body = path.read_bytes()
            reference = feedparser_reference(body, url, content_type_of(path))
            ours = by_feed.get(url, {})
            if reference is not None:
                counts_total += 1
                if row["entries"] == len(reference):
                    counts_ok += 1
                else:
                    disagreements.append(
                        f"{path.name}: {row['entries']} entries, feedparser {len(reference)}"
                    )
                for entry_id, (link, title) in ours.items():
                    if entry_id not in reference:
                        continue
                    ref_link, ref_title = reference[entry_id]
                    links_total += 1
                    titles_total += 1
                    links_ok += link == ref_link
                    titles_ok += _norm(title) == _norm(ref_title)
                    if link != ref_link or _norm(title) != _norm(ref_title):
                        disagreements.append(
                            f"{path.name} {entry_id}: {link!r}/{title!r} "
                            f"vs {ref_link!r}/{ref_title!r}"
                        )
            expected = expected_file(path)
            if expected is not None:
                wanted = expected_entries(expected)
                expected_total += 1
                expected_counts_ok += row["entries"] == len(wanted)
                if row["entries"] != len(wanted):
                    expected_misses.append(
                        f"{path.name}: {row['entries']} entries, expected {len(wanted)}"
                    )
                our_links = {link for link, _ in ours.values()}
                our_titles = {_norm(title) for _, title in ours.values()}
                for link, title in wanted:
                    if link:
                        expected_links_total += 1
                        expected_links_ok += link in our_links
                        if link not in our_links:
                            expected_misses.append(f"{path.name}: link {link!r}")
                    if title:
                        expected_titles_total += 1
                        expected_titles_ok += _norm(title) in our_titles

    parse_rate = parse_speed(list(urls.items())) if args.parse_speed else None
    parsed = statuses["ok"] + statuses["partial"]
    print(f"feeds served: {len(urls)}  (from {feeds_dir})")
    _common.print_table(["status", "feeds"], sorted(statuses.items()))
    if reasons:
        print("rejected feeds by reason:")
        _common.print_table(["reason", "feeds"], sorted(reasons.items()))
        for url, row in sorted(health.items()):
            if row["status"] == "error":
                print(f"  {urls[url].relative_to(feeds_dir)}: {row['error']}")
    crash_count = len(crashes) + len(missing)
    print(f"feeds parsed: {parsed}  rejected: {statuses['error']}  crashes: {crash_count}")
    count_share = share(counts_ok, counts_total)
    link_share = share(links_ok, links_total)
    title_share = share(titles_ok, titles_total)
    rows = [
        ["entry counts vs feedparser (feeds)", f"{counts_ok}/{counts_total}", f"{count_share:.3f}"],
        ["links vs feedparser (entries)", f"{links_ok}/{links_total}", f"{link_share:.3f}"],
        ["titles vs feedparser (entries)", f"{titles_ok}/{titles_total}", f"{title_share:.3f}"],
        ["entry counts vs expected (feeds)", f"{expected_counts_ok}/{expected_total}",
         f"{share(expected_counts_ok, expected_total):.3f}"],
        ["expected links found", f"{expected_links_ok}/{expected_links_total}",
         f"{share(expected_links_ok, expected_links_total):.3f}"],
        ["expected titles found", f"{expected_titles_ok}/{expected_titles_total}",
         f"{share(expected_titles_ok, expected_titles_total):.3f}"],
    ]  # fmt: skip
    _common.print_table(["agreement", "n", "share"], rows)
    entries = sum(h["entries"] for h in health.values())
    print(
        f"entries parsed: {entries}; in the articles table (the ones compared): {len(articles)} "
        "(the rest: duplicates, or no text at all)"
    )
    for line in disagreements[: args.show]:
        print(f"  differs from feedparser: {line[:200]}")
    for line in expected_misses[: args.show]:
        print(f"  expected but not found: {line[:200]}")
    print(
        f"speed: {len(urls) / run.wall_seconds:.1f} feeds/s ({len(urls)} feeds in "
        f"{run.wall_seconds:.1f} s, Beam start-up included); peak memory {peak_mb:.0f} MB"
    )
    if parse_rate is not None:
        print(f"parse only: {parse_rate:.0f} feeds/s (parse_feed in-process, same bytes)")
    print("command: " + " ".join(run.command[1:]))
    if args.gate is None:
        return 0
    expected_shares = (
        share(expected_counts_ok, expected_total),
        share(expected_links_ok, expected_links_total),
        share(expected_titles_ok, expected_titles_total),
    )
    passed = (
        crash_count == 0
        and min(count_share, link_share, title_share) >= args.gate
        and min(expected_shares) >= args.gate_expected
    )
    return _common.finish_gate(
        passed,
        f"crashes {crash_count}, agreement with feedparser: counts {count_share:.3f} links "
        f"{link_share:.3f} titles {title_share:.3f} (gate {args.gate}); with the expected "
        f"files: {' '.join(f'{x:.3f}' for x in expected_shares)} (gate {args.gate_expected})",
    )


def parse_speed(feeds: list[tuple[str, Path]]) -> float:
    """Feeds per second of the pipeline's own parser alone, no HTTP, no Beam."""
    import time

    from newsbeam.transforms.feeds.parse import FeedParseError, parse_feed

    bodies = [(url, path.read_bytes(), content_type_of(path)) for url, path in feeds]
    started = time.perf_counter()
    for url, body, content_type in bodies:
        with contextlib.suppress(FeedParseError):
            parse_feed(body, {"content-type": content_type}, url)
    return len(bodies) / (time.perf_counter() - started)


def _read_health(output: Path) -> list[dict[str, Any]]:
    """The run's feed health rows: its feed_health table in the dataset (the same rows
    the state keeps)."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for path in _common.table_files(output, "feed_health"):
        rows += pq.read_table(path).to_pylist()
    return rows


if __name__ == "__main__":
    sys.exit(main())
