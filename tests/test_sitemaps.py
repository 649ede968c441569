"""Sitemaps as feed sources (review 100): sitemaps.org urlsets, sitemap indexes (gzipped
sitemaps among them) and Google News sitemaps, parsed into feed entries whose pages are
fetched as feed entries' are; pure functions, then real runs against a server on
127.0.0.1, read back with DuckDB."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import pytest

from newsbeam.pipeline.main import feeds_summary
from newsbeam.transforms.extract import new_article
from newsbeam.transforms.feeds.articles import entry_article
from newsbeam.transforms.feeds.parse import (
    FeedParseError,
    parse_feed,
    sniff_feed_kind,
)
from newsbeam.transforms.feeds.sitemaps import (
    SitemapError,
    SitemapRef,
    chosen_sitemaps,
    gunzipped,
    newest_first,
    parse_sitemap,
    sitemap_kind,
)
from tests.feed_server import Request, serve, static
from tests.test_feeds import OTHER_BODIES, _health, _out, _run, _state

NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def news_url(loc: str, title: str, date: str, language: str = "en") -> str:
    return (
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Example Times"
        f"</news:name><news:language>{language}</news:language></news:publication>"
        f"<news:publication_date>{date}</news:publication_date>"
        f"<news:title>{title}</news:title><news:keywords>Harbour, Ferries</news:keywords>"
        "</news:news></url>"
    )


def urlset(*urls: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><urlset {SITEMAP_NS} {NEWS_NS}>'
        f"{''.join(urls)}</urlset>"
    ).encode()


def plain_url(loc: str, lastmod: str | None = None) -> str:
    stamp = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    return f"<url><loc>{loc}</loc>{stamp}</url>"


def index(*refs: tuple[str, str | None]) -> bytes:
    items = "".join(
        f"<sitemap><loc>{loc}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</sitemap>"
        for loc, mod in refs
    )
    return f'<?xml version="1.0"?><sitemapindex {SITEMAP_NS}>{items}</sitemapindex>'.encode()


def page(text: str, title: str | None = None) -> bytes:
    """An article page stating no date and no language (a sitemap's fill those)."""
    head = f"<title>{title}</title>" if title else ""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body><article>"
        f"<p>{text}</p><p>{text.replace('the', 'a')}</p></article></body></html>"
    ).encode()


# --- Sniffing and parsing (pure) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "kind", "feed_kind"),
    [
        (urlset(), "urlset", "feed"),
        (index(), "sitemapindex", "feed"),
        (b"<?xml version='1.0'?><!-- a comment --><urlset/>", "urlset", "feed"),
        (b"<!DOCTYPE html><html><body><urlset/></body></html>", None, None),
        (b"<rss version='2.0'/>", None, "feed"),
    ],
)
def test_sitemap_kind(content: bytes, kind: str | None, feed_kind: str | None) -> None:
    assert sitemap_kind(content) == kind
    assert sniff_feed_kind(content) == feed_kind  # the read stage takes sitemaps as feeds


def test_a_news_sitemap_parses_into_entries_with_its_metadata() -> None:
    content = urlset(
        news_url("https://x.example/a", "Ferry &amp; harbour", "2024-05-14T08:00:00+02:00"),
        news_url("https://x.example/b", "Fähre", "2024-05-13", language="de"),
        plain_url("https://x.example/c", "2024-05-12T10:00:00Z"),
        plain_url("https://x.example/a"),  # listed twice: one entry
        "<url><lastmod>2024-01-01</lastmod></url>",  # no loc: nothing to read
        plain_url("/relative"),
    )
    parsed = parse_feed(content, {}, "https://x.example/news-sitemap.xml")
    assert parsed.version == "news" and parsed.bozo is None
    by_id = {entry.entry_id: entry for entry in parsed.entries}
    assert list(by_id) == [
        "https://x.example/a",
        "https://x.example/b",
        "https://x.example/c",
        "https://x.example/relative",  # resolved against the sitemap's URL
    ]
    first, second, third = (by_id[f"https://x.example/{k}"] for k in "abc")
    assert (first.title, first.link, first.language) == ("Ferry & harbour", first.entry_id, "en")
    assert first.published_at == dt.datetime(2024, 5, 14, 6, tzinfo=dt.timezone.utc)
    assert first.categories == ["Ferries", "Harbour"]
    assert (second.language, second.published_precision) == ("de", "day")
    assert third.published_at is None and third.title is None
    assert third.modified_at == dt.datetime(2024, 5, 12, 10, tzinfo=dt.timezone.utc)
    # A newer lastmod is another version of the entry (read again as an update).
    again = parse_feed(
        urlset(plain_url("https://x.example/c", "2024-05-13T10:00:00Z")), {}, "https://x.example/s"
    )
    assert again.entries[0].version != third.version


def test_a_malformed_sitemap_keeps_what_parses_and_says_why() -> None:
    content = urlset(plain_url("https://x.example/a"), "<url><loc>https://x.example/b</loc>")
    parsed = parse_feed(content[: -len("</urlset>")], {}, "https://x.example/s")
    assert [entry.entry_id for entry in parsed.entries] == [
        "https://x.example/a",
        "https://x.example/b",
    ]
    assert parsed.bozo and "line 1" in parsed.bozo


@pytest.mark.parametrize(
    "doctype",
    [
        # billion laughs
        '<!DOCTYPE urlset [<!ENTITY a "haha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        # XXE: an external entity (never read)
        '<!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE urlset [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>',
    ],
)
def test_hostile_sitemaps_are_refused(doctype: str) -> None:
    content = f"<?xml version='1.0'?>{doctype}<urlset><url><loc>&b;</loc></url></urlset>"
    with pytest.raises(FeedParseError) as raised:
        parse_feed(content.encode(), {}, "https://x.example/s")
    assert raised.value.reason == "entity_expansion"


def test_gzipped_sitemaps_unpack_within_a_bound() -> None:
    body = urlset(plain_url("https://x.example/a"))
    assert gunzipped(gzip.compress(body), 10_000) == body
    assert gunzipped(body, 10) == body  # not gzip: as it is
    with pytest.raises(SitemapError) as bomb:
        gunzipped(gzip.compress(b" " * 5_000_000), 1_000_000)
    assert bomb.value.reason == "too_large"
    with pytest.raises(SitemapError) as cut:
        gunzipped(gzip.compress(body)[:-12], 10_000)
    assert cut.value.reason == "unparseable"


def test_an_index_names_its_sitemaps_newest_first_within_a_cap() -> None:
    content = index(
        ("https://x.example/2023-01.xml", "2023-01-31"),
        ("https://x.example/news.xml", None),
        ("https://x.example/2024-05.xml", "2024-05-14T10:00:00Z"),
        ("https://x.example/2024-04.xml", "2024-04-30"),
    )
    refs = parse_sitemap(content, "https://x.example/index.xml").sitemaps
    assert len(refs) == 4
    chosen, left = chosen_sitemaps(refs, 2)
    assert [ref.loc for ref in chosen] == [  # the newest two, in the index's order
        "https://x.example/2024-05.xml",
        "https://x.example/2024-04.xml",
    ]
    assert left == 2
    assert chosen_sitemaps(refs, 0) == (refs, 0)  # 0: no cap
    assert newest_first([SitemapRef("u", None)], lambda r: None, 5) == ([SitemapRef("u", None)], 0)


def test_lastmod_dates_an_article_only_where_nothing_states_a_publication() -> None:
    entry = parse_feed(
        urlset(plain_url("https://x.example/a", "2024-05-12T10:00:00Z")), {}, "https://x/s"
    ).entries[0]
    dated = new_article(
        "s",
        url="https://x.example/a",
        text="t",
        published_at=dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc),
        published_precision="day",
    )
    undated = new_article("s", url="https://x.example/a", text="t")
    assert entry_article("s", "f", entry, dated).published_at.day == 1  # type: ignore[union-attr]
    filled = entry_article("s", "f", entry, undated)
    assert filled is not None and filled.published_at == entry.modified_at


# --- End to end on 127.0.0.1 ---------------------------------------------------------------

STORIES = dict(OTHER_BODIES)


def _site(server: Any) -> dict[str, Any]:
    """Routes of a news site with a sitemap index: a Google News sitemap, a gzipped plain
    sitemap, an index in an index (followed) and a sitemap that answers 404."""
    base = server.url("")
    news = urlset(
        news_url(f"{base}/news/bridge", "Bridge repairs", "2024-05-14T08:00:00Z"),
        news_url(f"{base}/news/tunnel", "Tunneldurchbruch", "2024-05-13", language="de"),
    )
    plain = urlset(plain_url(f"{base}/news/road", "2024-05-12T10:00:00Z"))
    nested = urlset(plain_url(f"{base}/news/airport", "2024-05-11"))
    return {
        "/robots.txt": static(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
        "/sitemap_index.xml": static(
            index(
                (f"{base}/news-sitemap.xml", "2024-05-14"),
                (f"{base}/posts.xml.gz", "2024-05-12"),
                (f"{base}/more_index.xml", "2024-05-11"),
                (f"{base}/missing.xml", "2024-05-10"),
            ),
            ETag='"i1"',
        ),
        "/news-sitemap.xml": static(news),
        "/posts.xml.gz": static(gzip.compress(plain), "application/gzip"),
        "/more_index.xml": static(index((f"{base}/older.xml", None))),
        "/older.xml": static(nested),
        "/news/bridge": static(page(STORIES["bridge"]), "text/html"),
        "/news/tunnel": static(page(STORIES["tunnel"], "Tunnel page"), "text/html"),
        "/news/road": static(page(STORIES["road"]), "text/html"),
        "/news/airport": lambda request: (404, {}, b"gone"),
    }


@pytest.mark.slow
def test_a_sitemap_index_is_read_as_a_feed_and_read_again_for_news_only(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with serve() as server:
        server.routes.update(_site(server))
        index_url = server.url("/sitemap_index.xml")
        first = _run(tmp_path, "--feed", index_url, "--state", str(state))
        counts = first["counts"]
        # bridge, tunnel, road (gzipped sitemap) and airport (an index in the index; 404,
        # no text of its own): 4 inputs, each in one table.
        assert (counts["inputs"], counts["articles"], counts["rejected"]) == (4, 3, 1)
        assert counts["balanced"] is True
        articles = {row["entry_id"].rsplit("/", 1)[1]: row for row in _out(tmp_path, "articles")}
        assert set(articles) == {"bridge", "tunnel", "road"}
        bridge, tunnel, road = articles["bridge"], articles["tunnel"], articles["road"]
        assert all(row["feed_url"] == index_url for row in articles.values())
        assert all(row["text_origin"] == "page" for row in articles.values())
        # The page states no title or date: the news sitemap's fill them; its own wins.
        assert bridge["title"] == "Bridge repairs"
        assert str(bridge["published_at"]).startswith("2024-05-14 08:00:00")
        assert tunnel["title"] == "Tunnel page" and tunnel["published_precision"] == "day"
        assert bridge["feed_categories"] == ["Ferries", "Harbour"]
        # lastmod dates a page that states no publication date.
        assert str(road["published_at"]).startswith("2024-05-12 10:00:00")
        (rejected,) = _out(tmp_path, "rejected")
        assert (rejected["stage"], rejected["reason"]) == ("feeds", "http_error")
        assert "/news/airport" in rejected["detail"]
        (health,) = _health(tmp_path)
        assert (health["status"], health["entries"], health["new_entries"]) == ("partial", 4, 4)
        assert "missing.xml: http_error (HTTP 404)" in health["error"]
        assert server.hits["/posts.xml.gz"] == 1 and server.hits["/older.xml"] == 1

        # Nothing changed: no page fetched again, the poll is `not_modified` (review 106:
        # the index answers 304 and its sitemaps' lastmods have not moved: neither is
        # fetched again; the nested index is, and its undated sitemap, and the 404).
        before = len(server.log)
        second = _run(tmp_path, "--feed", index_url, "--state", str(state))
        assert second["counts"]["inputs"] == 0
        assert _health(tmp_path, "run_at")[-1]["status"] == "not_modified"
        assert server.requests_to("/sitemap_index.xml")[-1].headers["if-none-match"] == '"i1"'
        assert server.hits["/news-sitemap.xml"] == server.hits["/posts.xml.gz"] == 1
        asked = sorted(request.path for request in server.log[before:])
        assert asked == ["/missing.xml", "/more_index.xml", "/older.xml", "/sitemap_index.xml"]

        # One new story in the news sitemap, its lastmod moved in the index: only that
        # sitemap and the new page are fetched.
        base = server.url("")
        server.routes["/sitemap_index.xml"] = static(
            index(
                (f"{base}/news-sitemap.xml", "2024-05-15T07:00:00Z"),
                (f"{base}/posts.xml.gz", "2024-05-12"),
                (f"{base}/more_index.xml", "2024-05-11"),
                (f"{base}/missing.xml", "2024-05-10"),
            ),
            ETag='"i2"',
        )
        server.routes["/news-sitemap.xml"] = static(
            urlset(
                news_url(f"{base}/news/bridge", "Bridge repairs", "2024-05-14T08:00:00Z"),
                news_url(f"{base}/news/tunnel", "Tunneldurchbruch", "2024-05-13", "de"),
                news_url(f"{base}/news/ferry", "New ferry", "2024-05-15T07:00:00Z"),
            )
        )
        server.routes["/news/ferry"] = static(page(BODY_FERRY), "text/html")
        third = _run(tmp_path, "--feed", index_url, "--state", str(state))
        assert (third["counts"]["inputs"], third["counts"]["articles"]) == (1, 1)
        assert server.hits["/news-sitemap.xml"] == 2 and server.hits["/posts.xml.gz"] == 1
        assert [row["title"] for row in _out(tmp_path, "articles")] == ["New ferry"]
        assert {path: server.hits[path] for path in ("/news/bridge", "/news/tunnel")} == {
            "/news/bridge": 1,
            "/news/tunnel": 1,
        }
        seen = _state(state, "feed_state/seen_entries.parquet", "entry_id")
        assert {row["feed_url"] for row in seen} == {index_url}
        # Each page's URL, once, under the index: airport too (a 404 is not tried again).
        assert [row["entry_id"].rsplit("/", 1)[1] for row in seen] == [
            "airport",
            "bridge",
            "ferry",
            "road",
            "tunnel",
        ]


BODY_FERRY = (
    "The harbour authority said on Monday that the new ferry terminal would open next year "
    "after delays caused by storms and a shortage of steel, and that ticket prices would "
    "stay the same for residents of the islands throughout the coming season."
)


@pytest.mark.slow
def test_sitemaps_from_lists_inputs_and_files_and_the_url_cap(tmp_path: Path) -> None:
    with serve() as server:
        server.routes.update(_site(server))
        base = server.url("")
        server.routes["/news/ferry"] = static(page(BODY_FERRY), "text/html")
        feeds_file = tmp_path / "feeds.txt"
        feeds_file.write_text(f"{server.url('/news-sitemap.xml')}\n")
        folder = tmp_path / "in"
        folder.mkdir()
        # A sitemap file (gzipped, by content) and an index file naming a served sitemap.
        (folder / "sitemap.xml.gz").write_bytes(
            gzip.compress(
                urlset(
                    plain_url(f"{base}/news/road", "2024-05-12"),
                    plain_url(f"{base}/news/ferry", "2024-05-15"),
                )
            )
        )
        (folder / "index.xml").write_bytes(index((f"{base}/posts.xml.gz", None)))
        manifest = _run(
            tmp_path,
            "--feeds",
            str(feeds_file),
            "--input",
            str(folder),
            "--input",
            server.url("/older.xml"),  # an --input URL that is a sitemap
            "--sitemap_max_urls",
            "1",
            "--read_sitemap_files",
        )
        counts = manifest["counts"]
        assert counts["balanced"] is True
        health = {row["feed_url"]: row for row in _health(tmp_path)}
        news = health[server.url("/news-sitemap.xml")]
        # Two URLs, one read: the newest (bridge, 14 May), and the health row says so.
        assert (news["status"], news["entries"], news["new_entries"]) == ("partial", 2, 1)
        assert "1 of 2 new URLs deferred to the next polls (--sitemap_max_urls 1)" in news["error"]
        assert manifest["counters"]["feeds_sitemap_urls_deferred"] == 2  # the file's too
        file_row = next(row for name, row in health.items() if name.endswith("sitemap.xml.gz"))
        assert file_row["new_entries"] == 1  # ferry (15 May), the newer one
        assert health[server.url("/posts.xml.gz")]["new_entries"] == 1  # from the index file
        assert health[server.url("/older.xml")]["new_entries"] == 1
        # bridge (the list's sitemap), ferry (the file), road (the index file's gzipped
        # sitemap), airport (the --input sitemap: a 404, no text of its own).
        assert (counts["inputs"], counts["articles"], counts["rejected"]) == (4, 3, 1)
        read = sorted(row["entry_id"].rsplit("/", 1)[1] for row in _out(tmp_path, "articles"))
        assert read == ["bridge", "ferry", "road"]
        (rejected,) = _out(tmp_path, "rejected")
        assert rejected["source"] == f"{server.url('/older.xml')}#{base}/news/airport"


def _flaky(request: Request) -> tuple[int, dict[str, str], bytes]:
    return 503, {"Retry-After": "0"}, b"busy"


@pytest.mark.slow
def test_a_sitemap_index_whose_sitemaps_all_fail_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with serve() as server:
        base = server.url("")
        server.routes["/index.xml"] = static(
            index((f"{base}/a.xml", None), (f"{base}/b.xml", None))
        )
        server.routes["/a.xml"] = _flaky
        server.routes["/b.xml"] = static(b"Service moved", "text/plain")
        server.routes["/hostile.xml"] = static(
            b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "x"><!ENTITY b "&a;&a;">]>'
            b"<urlset><url><loc>&b;</loc></url></urlset>"
        )
        server.routes["/bomb.xml.gz"] = static(gzip.compress(b" " * 3_000_000), "application/gzip")
        manifest = _run(
            tmp_path,
            "--feed",
            server.url("/index.xml"),
            "--feed",
            server.url("/hostile.xml"),
            "--feed",
            server.url("/bomb.xml.gz"),
            "--fetch_max_bytes",
            "1000000",
        )
        assert manifest["counts"]["balanced"] is True
        rejected = {row["source"].rsplit("/", 1)[1]: row for row in _out(tmp_path, "rejected")}
        reasons = {name: row["reason"] for name, row in rejected.items()}
        # The index's sitemaps all failed: the index's poll failed, with the first reason.
        assert reasons["index.xml"] == "http_error"
        assert "a.xml: http_error (HTTP 503" in rejected["index.xml"]["detail"]
        assert "b.xml: not_a_feed" in rejected["index.xml"]["detail"]
        assert reasons["hostile.xml"] == "entity_expansion"
        assert reasons["bomb.xml.gz"] == "too_large"
        health = {row["feed_url"].rsplit("/", 1)[1]: row for row in _health(tmp_path)}
        assert health["index.xml"]["status"] == "error"
        assert health["hostile.xml"]["status"] == "error"
        assert health["bomb.xml.gz"]["status"] == "error"


def test_a_streaming_poll_reads_an_index_and_each_page_once() -> None:
    from newsbeam.transforms.feeds.config import FeedsConfig
    from newsbeam.transforms.feeds.fetch import FetchConfig
    from tests.test_streaming import _poll

    with serve() as server:
        server.routes.update(_site(server))
        index_url = server.url("/sitemap_index.xml")
        config = FeedsConfig(
            feed_urls=(index_url,),
            fetch=FetchConfig(allow_hosts=("127.0.0.1",), per_host_interval_seconds=0),
            min_poll_seconds=1,
            initial_poll_seconds=1,
        )
        articles, health, rejected, counters = _poll(config, None, seconds=3.4, tick=0.25)
        polls = len(server.requests_to("/sitemap_index.xml"))
    # Polled again and again, each poll fetching the index's sitemaps too ...
    assert polls >= 2 and len(health) == polls
    # four sitemaps and the index the index names, and that one's sitemap; then (review
    # 106) not the two whose lastmod in the index stayed: the nested index, its undated
    # sitemap and the 404
    assert counters["feeds_sitemaps_fetched"] == 5 + 3 * (polls - 1)
    assert counters["feeds_sitemaps_unchanged"] == 2 * (polls - 1)
    assert health[0].startswith("partial") and all(
        row.startswith("not_modified") for row in health[1:]
    )
    # ... but each page is an input once.
    assert [source.rsplit("/", 1)[1] for source in articles] == ["bridge", "road", "tunnel"]
    assert rejected == ["http_error"]  # airport: 404
    assert {path: server.hits[path] for path in ("/news/bridge", "/news/road")} == {
        "/news/bridge": 1,
        "/news/road": 1,
    }


def test_index_depth_and_sitemap_caps_bound_the_fetches() -> None:
    from newsbeam.transforms.feeds.config import FeedsConfig
    from newsbeam.transforms.feeds.fetch import FetchConfig, Fetcher
    from newsbeam.transforms.feeds.stage import FeedSource, FetchedFeed, with_sitemaps

    with serve() as server:
        server.routes.update(_site(server))
        url = server.url("/sitemap_index.xml")
        fetch = FetchConfig(allow_hosts=("127.0.0.1",), per_host_interval_seconds=0)
        fetcher = Fetcher(fetch)

        def expand(**limits: int) -> FetchedFeed:
            fetched = FetchedFeed(FeedSource(url, "feed"), fetcher.fetch(url), from_file=False)
            return with_sitemaps(fetcher, fetched, FeedsConfig(fetch=fetch, **limits))

        shallow = expand(sitemap_max_depth=1)
        assert [part.url.rsplit("/", 1)[1] for part in shallow.parts] == [
            "news-sitemap.xml",
            "posts.xml.gz",
            "missing.xml",
        ]
        assert shallow.notes == (
            f"index {server.url('/more_index.xml')}: an index 2 levels deep, not read "
            "(--sitemap_max_depth 1)",
        )
        # An index keeps its ETag (review 106): its state records the sitemaps it chose.
        assert shallow.result.headers["etag"] == '"i1"' and shallow.sitemaps
        few = expand(sitemap_max_sitemaps=2)
        assert [part.url.rsplit("/", 1)[1] for part in few.parts] == [
            "news-sitemap.xml",
            "posts.xml.gz",
        ]
        assert few.notes == (f"index {url}: 2 older sitemaps not read (--sitemap_max_sitemaps 2)",)
        assert "/older.xml" not in server.hits  # never reached: depth 1, then the cap
        fetcher.close()


# --- Review 106: polling 200 publishers' sitemaps every 10 minutes ---------------------------


def test_news_publication_name_fills_the_site_a_page_does_not_name() -> None:
    entry = parse_feed(
        urlset(news_url("https://x.example/a", "Ferry", "2024-05-14")), {}, "https://x.example/s"
    ).entries[0]
    assert entry.publication == "Example Times"
    unnamed = new_article("s", url="https://www.x.example/a", text="t")
    assert unnamed.site == "x.example"  # its host: the page names no site
    filled = entry_article("s", "f", entry, unnamed)
    assert filled is not None and filled.site == "Example Times"
    assert filled.outlet == unnamed.outlet  # counted by its domain still
    named = new_article("s", url="https://x.example/a", site="The X Gazette", text="t")
    kept = entry_article("s", "f", entry, named)
    assert kept is not None and kept.site == "The X Gazette"  # the page's own name wins


@pytest.mark.parametrize(
    ("stated", "code"),
    [
        ("en", "en"),
        ("zh-cn", "zh"),  # Google News' Chinese codes: the script column tells them apart
        ("zh-tw", "zh"),
        ("iw", "he"),  # withdrawn ISO 639-1 codes, as Google writes them: langdetect's
        ("in", "id"),
        ("nb", "no"),  # Bokmål: langdetect has one Norwegian, "no"
        ("fil", "tl"),  # Filipino: langdetect's Tagalog
        ("eng", None),  # a three-letter code the column does not hold
    ],
)
def test_news_language_is_the_code_the_detector_gives(stated: str, code: str | None) -> None:
    content = urlset(news_url("https://x.example/a", "T", "2024-05-14", language=stated))
    assert parse_feed(content, {}, "https://x.example/s").entries[0].language == code


def test_a_page_keeps_its_own_declared_language_where_the_sitemap_states_none() -> None:
    entry = parse_feed(urlset(plain_url("https://x.example/a")), {}, "https://x/s").entries[0]
    galician = new_article("s", url="https://x.example/a", text="t", language="gl")
    made = entry_article("s", "f", entry, galician)
    assert made is not None and made.language == "gl"  # was None: the page's evidence lost


def _publisher(server: Any) -> dict[str, Any]:
    """A publisher whose index (with an ETag) names three sitemaps: two with a lastmod in
    the index, one without (asked for conditionally, its ETag)."""
    base = server.url("")
    return {
        "/robots.txt": static(b"User-agent: *\nAllow: /\n", "text/plain"),
        "/index.xml": static(
            index(
                (f"{base}/news.xml", "2024-05-14T08:00:00Z"),
                (f"{base}/posts.xml", "2024-05-12"),
                (f"{base}/undated.xml", None),
            ),
            ETag='"i1"',
        ),
        "/news.xml": static(
            urlset(news_url(f"{base}/news/bridge", "Bridge", "2024-05-14T08:00:00Z")),
            ETag='"n1"',
        ),
        "/posts.xml": static(urlset(plain_url(f"{base}/news/road", "2024-05-12"))),
        "/undated.xml": static(urlset(plain_url(f"{base}/news/tunnel")), ETag='"u1"'),
        "/news/bridge": static(page(STORIES["bridge"]), "text/html"),
        "/news/road": static(page(STORIES["road"]), "text/html"),
        "/news/tunnel": static(page(STORIES["tunnel"]), "text/html"),
    }


@pytest.mark.slow
def test_an_unchanged_publisher_costs_two_requests_a_poll_not_four(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with serve() as server:
        server.routes.update(_publisher(server))
        index_url = server.url("/index.xml")
        first = _run(tmp_path, "--feed", index_url, "--state", str(state))
        assert (first["counts"]["inputs"], first["counts"]["articles"]) == (3, 3)
        (row,) = _state(state, "feed_state/feeds.parquet", "feed_url")
        assert row["etag"] == '"i1"' and '"undated.xml"' not in row["sitemaps"]
        assert server.url("/undated.xml") in row["sitemaps"]

        before = len(server.log)
        second = _run(tmp_path, "--feed", index_url, "--state", str(state))
        asked = server.log[before:]
        # Review 100 asked for the index and its three sitemaps, unconditionally, each
        # poll: 4 requests and 3 bodies. Now: the index (304) and the undated sitemap
        # (304): the two dated ones' lastmod has not moved.
        assert sorted((r.path, r.headers.get("if-none-match")) for r in asked) == [
            ("/index.xml", '"i1"'),
            ("/undated.xml", '"u1"'),
        ]
        assert second["counts"]["inputs"] == 0
        assert second["counters"]["feeds_sitemaps_unchanged"] == 2
        assert second["counters"]["feeds_sitemaps_not_modified"] == 1
        assert _health(tmp_path, "run_at")[-1]["status"] == "not_modified"

        # The undated sitemap gains a story (its ETag changes): read though the index is
        # as it was (304).
        base = server.url("")
        server.routes["/undated.xml"] = static(
            urlset(plain_url(f"{base}/news/tunnel"), plain_url(f"{base}/news/airport")),
            ETag='"u2"',
        )
        server.routes["/news/airport"] = static(page(STORIES["airport"]), "text/html")
        before = len(server.log)
        third = _run(tmp_path, "--feed", index_url, "--state", str(state))
        assert (third["counts"]["inputs"], third["counts"]["articles"]) == (1, 1)
        assert [row["entry_id"] for row in _out(tmp_path, "articles")] == [f"{base}/news/airport"]
        polled = [r.path for r in server.log[before:] if r.path.endswith(".xml")]
        assert sorted(polled) == ["/index.xml", "/undated.xml"]
        health = _health(tmp_path, "run_at")[-1]
        assert (health["status"], health["not_modified"], health["new_entries"]) == (
            "ok",
            True,
            1,
        )


def test_a_sitemap_whose_index_lastmod_lags_is_asked_for_again_after_a_while() -> None:
    from newsbeam.schemas.feeds import FeedState
    from newsbeam.transforms.feeds.config import FeedsConfig
    from newsbeam.transforms.feeds.fetch import FetchConfig, Fetcher
    from newsbeam.transforms.feeds.stage import FeedSource, FetchedFeed, with_sitemaps

    with serve() as server:
        server.routes.update(_publisher(server))
        url = server.url("/index.xml")
        fetch = FetchConfig(allow_hosts=("127.0.0.1",), per_host_interval_seconds=0)
        config = FeedsConfig(fetch=fetch, sitemap_recheck_seconds=3600)
        fetcher = Fetcher(fetch)
        start = dt.datetime(2024, 5, 14, 9, tzinfo=dt.timezone.utc)

        def poll(previous: FeedState | None, now: dt.datetime) -> FetchedFeed:
            result = fetcher.fetch(url, etag=previous.etag if previous else None)
            fetched = FetchedFeed(FeedSource(url, "feed"), result, from_file=False)
            return with_sitemaps(fetcher, fetched, config, previous, now)

        first = poll(None, start)
        assert [part.http_status for part in first.parts] == [200, 200, 200]
        state = FeedState(url, '"i1"', None, None, start, None, 0, 900, None, None)
        state = state._replace(body_hash=first.index_hash, sitemaps=first.sitemaps)
        soon = poll(state, start + dt.timedelta(minutes=10))
        assert soon.index_hash == first.index_hash  # nothing changed
        assert [part.detail for part in soon.parts[:2]] == ["lastmod", "lastmod"]
        hits = server.hits["/news.xml"]
        # An hour on, the lastmod that has not moved is checked again (conditionally).
        later = poll(state, start + dt.timedelta(minutes=61))
        assert server.hits["/news.xml"] == hits + 1
        assert server.requests_to("/news.xml")[-1].headers["if-none-match"] == '"n1"'
        assert later.index_hash == first.index_hash
        fetcher.close()


@pytest.mark.slow
def test_urls_over_the_cap_come_in_later_polls_newest_first(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with serve() as server:
        base = server.url("")
        names = ["bridge", "road", "tunnel", "airport"]
        stories = {f"s{day}": STORIES[name] for day, name in zip(range(10, 14), names, strict=True)}
        stories["s14"] = BODY_FERRY
        for name, text in stories.items():
            server.routes[f"/news/{name}"] = static(page(text), "text/html")
        listed = [plain_url(f"{base}/news/s{day}", f"2024-05-{day}") for day in range(10, 15)]
        server.routes["/sitemap.xml"] = static(urlset(*listed), ETag='"v1"')
        feed = server.url("/sitemap.xml")

        def poll() -> tuple[list[str], dict[str, Any]]:
            manifest = _run(
                tmp_path, "--feed", feed, "--state", str(state), "--sitemap_max_urls", "2"
            )
            assert manifest["counts"]["balanced"] is True
            rows = _out(tmp_path, "articles") if manifest["counts"]["inputs"] else []
            return sorted(row["entry_id"].rsplit("/", 1)[1] for row in rows), manifest

        read, manifest = poll()
        assert read == ["s13", "s14"]  # the newest two
        assert manifest["counters"]["feeds_sitemap_urls_deferred"] == 3
        assert "3 sitemap URLs deferred" in (feeds_summary(manifest["counters"]) or "")
        health = _health(tmp_path, "run_at")[-1]
        assert (health["status"], health["entries"], health["new_entries"]) == ("partial", 5, 2)
        assert "3 of 5 new URLs deferred to the next polls" in health["error"]
        # The sitemap unchanged (it would answer 304): the backlog is read, newest first,
        # and a story published meanwhile comes before it.
        listed.append(plain_url(f"{base}/news/s15", "2024-05-15"))
        late = (
            "The national orchestra announced a free open-air concert in the old harbour "
            "square for the first weekend of June, with seating for eight thousand people."
        )
        server.routes["/news/s15"] = static(page(late), "text/html")
        server.routes["/sitemap.xml"] = static(urlset(*listed), ETag='"v2"')
        read, manifest = poll()
        assert read == ["s12", "s15"]
        assert manifest["counters"]["feeds_sitemap_urls_deferred"] == 2
        assert "if-none-match" not in server.requests_to("/sitemap.xml")[-1].headers
        read, _ = poll()
        assert read == ["s10", "s11"]
        read, manifest = poll()  # the backlog drained: a conditional poll, nothing new
        assert read == [] and manifest["counts"]["inputs"] == 0
        assert server.requests_to("/sitemap.xml")[-1].headers["if-none-match"] == '"v2"'
        seen = _state(state, "feed_state/seen_entries.parquet", "entry_id")
        assert len(seen) == 6
        assert all(server.hits[f"/news/s{day}"] == 1 for day in range(10, 16))


@pytest.mark.slow
def test_a_sitemap_restamping_every_lastmod_reads_no_page_again(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with serve() as server:
        base = server.url("")
        names = ["bridge", "road", "tunnel", "airport"]
        for name in names:
            server.routes[f"/news/{name}"] = static(page(STORIES[name]), "text/html")
        feed = server.url("/sitemap.xml")

        def build(stamps: dict[str, str]) -> None:
            urls = [plain_url(f"{base}/news/{name}", stamps[name]) for name in names]
            server.routes["/sitemap.xml"] = static(urlset(*urls))

        build(dict.fromkeys(names, "2024-05-14T08:00:00Z"))
        first = _run(tmp_path, "--feed", feed, "--state", str(state))
        assert first["counts"]["articles"] == 4
        # A rebuild stamps every lastmod with its own time: not four edits.
        build(dict.fromkeys(names, "2024-05-14T08:10:00Z"))
        second = _run(tmp_path, "--feed", feed, "--state", str(state))
        assert second["counts"]["inputs"] == 0
        assert second["counters"]["feeds_sitemap_restamped"] == 4
        assert all(server.hits[f"/news/{name}"] == 1 for name in names)
        # One page's lastmod moves alone (an edit): read again; its text as it was, it is
        # a duplicates row naming its first version, not a new article row.
        stamps = dict.fromkeys(names, "2024-05-14T08:10:00Z")
        stamps["road"] = "2024-05-14T09:00:00Z"
        build(stamps)
        third = _run(tmp_path, "--feed", feed, "--state", str(state))
        counts = third["counts"]
        assert (counts["inputs"], counts["articles"], counts["duplicates"]) == (1, 0, 1)
        assert server.hits["/news/road"] == 2
        assert "feeds_sitemap_restamped" not in third["counters"]


@pytest.mark.slow
def test_a_sitemap_file_in_an_input_folder_fetches_nothing_without_the_flag(
    tmp_path: Path,
) -> None:
    with serve() as server:
        server.routes.update(_site(server))
        base = server.url("")
        folder = tmp_path / "mirror"
        folder.mkdir()
        (folder / "sitemap.xml").write_bytes(
            urlset(plain_url(f"{base}/news/road"), plain_url(f"{base}/news/bridge"))
        )
        (folder / "index.xml").write_bytes(index((f"{base}/news-sitemap.xml", None)))
        (folder / "story.txt").write_text(f"Title: Road\n\n{STORIES['road']}\n")
        manifest = _run(tmp_path, "--input", str(folder))
        counts = manifest["counts"]
        assert (counts["inputs"], counts["articles"], counts["rejected"]) == (3, 1, 2)
        assert counts["balanced"] is True
        assert server.log == []  # nothing fetched from the web
        rejected = _out(tmp_path, "rejected")
        assert {(row["stage"], row["reason"]) for row in rejected} == {("feeds", "sitemap_file")}
        assert all("--read_sitemap_files" in row["detail"] for row in rejected)
        # Asked for: read as feeds, their pages fetched.
        again = _run(tmp_path, "--input", str(folder), "--read_sitemap_files")
        assert again["counts"]["balanced"] is True
        assert server.hits["/news/road"] == 1 and server.hits["/news-sitemap.xml"] == 1
