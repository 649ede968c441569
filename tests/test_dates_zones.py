"""Review 110: clock times written without a zone or offset (a researcher lining up when
outlets in Tokyo, Berlin and New York published). Such a time was stored as if UTC, hours
off; it is now placed by the zone a user names for its source (--source_timezone), else by
the offset the same document states beside another of its times, else kept as UTC and
counted. Review 118: the articles' `published_zone` column says which way each was
placed (`stated`, `source_timezone`, `document`, `assumed_utc`), and the counters
`extract_published_zone_<zone>` count the same."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from newsbeam.pipeline import main as entry
from newsbeam.pipeline.options import NewsBeamOptions, config_from_options
from newsbeam.schemas import SCHEMA_VERSION_KEY, RawDocument
from newsbeam.transforms.extract import (
    ExtractConfig,
    Published,
    Zoneless,
    extract_document,
    new_article,
    parse_published,
    placed_in_zone,
    publications_as_of,
    published_zone,
    stated_offset_near,
)
from newsbeam.transforms.feeds.articles import entry_article
from newsbeam.transforms.feeds.parse import parse_sitemap_feed, parse_xml_feed
from newsbeam.transforms.feeds.sitemaps import SitemapUrl, published_of
from tests.helpers import TOPIC_TEXTS, run_manifest, table_rows

UTC = dt.timezone.utc
_TOKYO = (("nhk.or.jp", "Asia/Tokyo"),)


def _record(n: int, **fields: str) -> bytes:
    return json.dumps({"title": f"Story {n}", "text": TOPIC_TEXTS[n] * 3, **fields}).encode()


def _extract_record(record: bytes, config: ExtractConfig | None = None) -> Published | None:
    article = extract_document(
        RawDocument("r.jsonl#L1", "jsonl", record), config or ExtractConfig()
    )
    if article.published_at is None:
        return None
    return Published(article.published_at, article.published_precision or "")


def test_a_zoneless_clock_time_is_told_from_a_stated_one() -> None:
    assert isinstance(parse_published("2026-12-05 10:30"), Zoneless)
    assert isinstance(parse_published("Sat, Dec 16 2023 02:02:33 PM"), Zoneless)
    for stated in ("2026-12-05T10:30+09:00", "2026-12-05T10:30Z", "5 Dec 2026 10:30 JST"):
        assert not isinstance(parse_published(stated), Zoneless), stated
    # A date alone is a day, not a time: there is no clock reading to place.
    assert not isinstance(parse_published("2026-12-05"), Zoneless)
    # Equal to the same time stated as UTC: the tables did not change where nothing tells.
    assert parse_published("2026-12-05 10:30") == Published(
        dt.datetime(2026, 12, 5, 10, 30, tzinfo=UTC), "minute"
    )


def test_a_named_zone_places_the_time_with_its_daylight_saving_rules() -> None:
    """A Tokyo wire's 10:30 is 01:30 UTC, not 10:30; New York's 10:30 is 15:30 UTC in
    winter and 14:30 in summer (an IANA zone, not a fixed offset)."""
    zones = (*_TOKYO, ("nytimes.com", "America/New_York"))
    with publications_as_of(None, zones):
        tokyo = placed_in_zone(parse_published("2026-12-05 10:30"), ["https://www3.nhk.or.jp/a"])
        winter = placed_in_zone(parse_published("2026-01-15 10:30"), ["https://www.nytimes.com/"])
        summer = placed_in_zone(parse_published("2026-07-15 10:30"), ["https://nytimes.com/b"])
        other = placed_in_zone(parse_published("2026-07-15 10:30"), ["https://example.com/"])
        # A stated offset is never overridden by the named zone.
        stated = placed_in_zone(parse_published("2026-12-05T10:30Z"), ["https://nhk.or.jp/"])
    assert tokyo == Published(dt.datetime(2026, 12, 5, 1, 30, tzinfo=UTC), "minute")
    assert winter.at == dt.datetime(2026, 1, 15, 15, 30, tzinfo=UTC)  # type: ignore[union-attr]
    assert summer.at == dt.datetime(2026, 7, 15, 14, 30, tzinfo=UTC)  # type: ignore[union-attr]
    assert isinstance(other, Zoneless) and other.at.hour == 10
    assert stated.at.hour == 10  # type: ignore[union-attr]


def test_an_offset_stated_beside_another_time_within_a_week_is_taken() -> None:
    local = dt.datetime(2026, 7, 5, 10, 30)
    texts = ['"dateModified": "2026-07-05T12:00:00+02:00"', "Tue, 30 Jun 2026 09:00:00 -0400"]
    assert stated_offset_near(local, texts) == dt.timezone(dt.timedelta(hours=2))  # the nearer
    assert stated_offset_near(local, ["Tue, 30 Jun 2026 09:00:00 EDT"]) == dt.timezone(
        dt.timedelta(hours=-4)
    )
    # A month away: another daylight saving period may hold; nothing is taken.
    assert stated_offset_near(local, ["2026-06-01T12:00:00+02:00"]) is None
    assert stated_offset_near(local, ["no date here", None]) is None


def test_a_json_records_zoneless_published_takes_its_other_fields_offset() -> None:
    record = _record(0, published="2026-12-05 10:30", modified="2026-12-05T11:05:00+09:00")
    assert _extract_record(record) == Published(
        dt.datetime(2026, 12, 5, 1, 30, tzinfo=UTC), "minute"
    )
    # Nothing states one: stored as if UTC, as before.
    alone = _record(1, published="2026-12-05 10:30", url="https://example.com/a")
    assert _extract_record(alone) == Published(
        dt.datetime(2026, 12, 5, 10, 30, tzinfo=UTC), "minute"
    )
    # The user names the source's zone: its URL's host (or a domain above it) is in it.
    tokyo = _record(1, published="2026-12-05 10:30", url="https://www3.nhk.or.jp/news/a")
    assert _extract_record(tokyo, ExtractConfig(source_timezones=_TOKYO)) == Published(
        dt.datetime(2026, 12, 5, 1, 30, tzinfo=UTC), "minute"
    )


def test_a_text_files_date_line_in_a_named_zone() -> None:
    text = (
        "# 港の再開\n\n**https://www3.nhk.or.jp/news/html/harbour.html**\n\n"
        f"2026年12月5日 10時30分\n\n{TOPIC_TEXTS[2] * 3}\n"
    ).encode()
    doc = RawDocument("harbour.md", "text", text)
    assert extract_document(doc, ExtractConfig()).published_at == dt.datetime(
        2026, 12, 5, 10, 30, tzinfo=UTC
    )
    placed = extract_document(doc, ExtractConfig(source_timezones=_TOKYO))
    assert placed.published_at == dt.datetime(2026, 12, 5, 1, 30, tzinfo=UTC)


def _page(head: str, body: str = "") -> bytes:
    return (
        f"<html><head><title>Harbour reopens</title>{head}</head><body><article>"
        f"<h1>Harbour reopens</h1>{body}<p>{TOPIC_TEXTS[3] * 4}</p></article></body></html>"
    ).encode()


def test_a_pages_zoneless_date_takes_the_offset_of_its_modified_time() -> None:
    """A page whose only publication time is zoneless (`<meta name="date">`), and whose
    JSON-LD states its modification time with the offset (a German site, +02:00)."""
    ld = '{"@context": "https://schema.org", "dateModified": "2024-04-25T06:21:25+02:00"}'
    head = (
        '<meta name="date" content="2024-04-24T22:58:49">'
        f'<script type="application/ld+json">{ld}</script>'
    )
    doc = RawDocument("sport.html", "html", _page(head))
    article = extract_document(doc, ExtractConfig())
    assert article.published_at == dt.datetime(2024, 4, 24, 20, 58, 49, tzinfo=UTC)
    # Without it: as if UTC (as before), unless the fetched page's host has a named zone.
    bare = RawDocument("s.html", "html", _page('<meta name="date" content="2024-04-24T22:58:49">'))
    assert extract_document(bare, ExtractConfig()).published_at == dt.datetime(
        2024, 4, 24, 22, 58, 49, tzinfo=UTC
    )
    fetched = bare._replace(url="https://www.sportschau.de/fussball/a.html")
    berlin = ExtractConfig(source_timezones=(("sportschau.de", "Europe/Berlin"),))
    assert extract_document(fetched, berlin).published_at == dt.datetime(
        2024, 4, 24, 20, 58, 49, tzinfo=UTC
    )


def test_related_stories_times_do_not_place_a_pages_own() -> None:
    """Washington Examiner (an AEB page): article:published_time "2019-11-18T17:01:27.893"
    without an offset, the same reading with "Z" in a `<meta itemprop>` of the body, and
    related stories' `<time datetime>` at -05:00 two days later: it stays 17:01:27 UTC."""
    head = '<meta property="article:published_time" content="2019-11-18T17:01:27.893">'
    body = (
        '<meta itemprop="datePublished" content="2019-11-18T17:01:27.893Z">'
        + '<aside><time datetime="2019-11-20T07:00:21.991-05:00">Nov 20</time></aside>' * 3
    )
    doc = RawDocument("examiner.html", "html", _page(head, body))
    article = extract_document(doc, ExtractConfig(as_of="2026-01-01T00:00:00Z"))
    assert article.published_at == dt.datetime(2019, 11, 18, 17, 1, 27, tzinfo=UTC)


_NBC_FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>NBC New York</title>
<link>https://www.nbcnewyork.com</link>
<lastBuildDate>Sun, 17 Dec 2023 00:58:40 -0500</lastBuildDate>
<item><title>Stabbing suspect sought</title><link>https://www.nbcnewyork.com/news/a/</link>
<pubDate>Sat, Dec 16 2023 02:02:33 PM</pubDate><description>Police searched.</description></item>
<item><title>Old story</title><link>https://www.nbcnewyork.com/news/b/</link>
<pubDate>Sat, Oct 14 2023 02:02:33 PM</pubDate><description>Old.</description></item>
</channel></rss>"""


def test_a_feed_entrys_zoneless_time_takes_the_feeds_own_offset() -> None:
    """NBC New York's RSS (fastfeedparser's benchmark feeds): an entry's pubDate without a
    zone beside the channel's lastBuildDate at -0500: 2:02 PM is 19:02 UTC, not 14:02."""
    feed = parse_xml_feed(_NBC_FEED, {}, "https://www.nbcnewyork.com/feed/")
    times = {entry.title: entry.published_at for entry in feed.entries}
    assert times == {
        "Stabbing suspect sought": dt.datetime(2023, 12, 16, 19, 2, 33, tzinfo=UTC),
        # Two months before the feed's date: its offset may be another period's (EDT).
        "Old story": dt.datetime(2023, 10, 14, 14, 2, 33, tzinfo=UTC),
    }
    with publications_as_of(None, (("nbcnewyork.com", "America/New_York"),)):
        named = parse_xml_feed(_NBC_FEED, {}, "https://www.nbcnewyork.com/feed/")
    assert {entry.title: entry.published_at for entry in named.entries} == {
        "Stabbing suspect sought": dt.datetime(2023, 12, 16, 19, 2, 33, tzinfo=UTC),
        "Old story": dt.datetime(2023, 10, 14, 18, 2, 33, tzinfo=UTC),  # EDT, -4
    }


def test_a_news_sitemaps_zoneless_publication_date() -> None:
    """news:publication_date without its offset (W3C datetime asks for one): its lastmod's
    offset, else the zone named for the URL's host."""
    url = SitemapUrl(
        "https://www3.nhk.or.jp/news/a.html", "2026-12-05T11:00:00+09:00", "t",
        "2026-12-05T10:30:00", "ja", "NHK", (),
    )  # fmt: skip
    assert published_of(url) == Published(dt.datetime(2026, 12, 5, 1, 30, tzinfo=UTC), "second")
    bare = url._replace(lastmod=None)
    assert published_of(bare).at.hour == 10  # type: ignore[union-attr]
    with publications_as_of(None, _TOKYO):
        assert published_of(bare).at.hour == 1  # type: ignore[union-attr]


def test_source_timezone_option() -> None:
    options = NewsBeamOptions(
        ["--source_timezone", "NHK.or.jp=Asia/Tokyo", "--source_timezone", "dw.com=Europe/Berlin"]
    )
    config = config_from_options(options, "/tmp/out")
    assert config.extract.source_timezones == (
        ("dw.com", "Europe/Berlin"),
        ("nhk.or.jp", "Asia/Tokyo"),
    )


def test_a_bad_source_timezone_is_a_usage_error(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "r.jsonl").write_bytes(_record(0, published="2026-12-05 10:30") + b"\n")
    for bad in ("nhk.or.jp=Tokyo/Mars", "Asia/Tokyo", "=Asia/Tokyo"):
        argv = ["--input", str(inputs), "--output", str(tmp_path / "o"), "--source_timezone", bad]
        assert entry.main(argv) == 2, bad


def test_a_run_places_each_outlets_times_and_counts_the_assumed(tmp_path: Path) -> None:
    """Tokyo, Berlin and New York publish at the same moment, 01:30 UTC, each writing its
    own clock without an offset; the researcher names the zones and orders by the time."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    records = [
        _record(0, url="https://www3.nhk.or.jp/news/a", published="2026-12-05 10:30"),
        _record(1, url="https://www.dw.com/de/b", published="05.12.2026 02:30"),
        _record(2, url="https://www.nytimes.com/2026/12/04/c.html", published="2026-12-04 8:30 PM"),
        _record(3, url="https://example.com/d", published="2026-12-05 01:30"),
    ]
    (inputs / "r.jsonl").write_bytes(b"\n".join(records) + b"\n")
    zones = ["nhk.or.jp=Asia/Tokyo", "dw.com=Europe/Berlin", "nytimes.com=America/New_York"]
    argv = ["--input", str(inputs), "--output", str(tmp_path / "out"), "--as_of", "2026-12-06"]
    for zone in zones:
        argv += ["--source_timezone", zone]
    assert entry.main(argv) == 0
    rows = table_rows(tmp_path / "out", "articles", order_by="title")
    assert {row["published_at"] for row in rows} == {dt.datetime(2026, 12, 5, 1, 30, tzinfo=UTC)}
    # Each row says how its zone was known: the researcher drops or flags the assumed one.
    zones = {row["url"]: row["published_zone"] for row in rows}
    assert zones == {
        "https://www3.nhk.or.jp/news/a": "source_timezone",
        "https://www.dw.com/de/b": "source_timezone",
        "https://www.nytimes.com/2026/12/04/c.html": "source_timezone",
        "https://example.com/d": "assumed_utc",
    }
    # The run says how many times were placed and how many stayed as if UTC.
    counters = run_manifest(tmp_path / "out")["counters"]
    assert counters["extract_published_zone_source_timezone"] == 3
    assert counters["extract_published_zone_assumed_utc"] == 1


_TZ_SCRIPT = """
import json
from newsbeam.transforms.extract import parse_published, placed_in_zone, publications_as_of
with publications_as_of(None, (("dw.com", "Europe/Berlin"),)):
    found = [
        placed_in_zone(parse_published("2026-03-29 02:30"), ["https://dw.com/a"]),
        placed_in_zone(parse_published("2026-12-05 10:30"), ["https://x.org/"]),
        placed_in_zone(parse_published("2026-12-05 10:30"), [], ["2026-12-04T08:00-05:00"]),
        parse_published("Sat, 05 Dec 2026 03:00:00 WIB"),
    ]
print(json.dumps([[p.at.isoformat(), p.precision] for p in found]))
"""


def test_the_same_times_in_any_machine_zone() -> None:
    """The machine's own zone never enters: two machines, Tokyo and New York, agree."""
    outputs = []
    for zone in ("Asia/Tokyo", "America/New_York"):
        env = {**os.environ, "TZ": zone}
        done = subprocess.run(
            [sys.executable, "-c", _TZ_SCRIPT], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]
    # 02:30 on 29 March 2026 does not exist in Berlin (the clocks go to 03:30): zoneinfo's
    # first reading, the offset before the change (+01:00).
    assert outputs[0][0] == ["2026-03-29T01:30:00+00:00", "minute"]
    assert outputs[0][2] == ["2026-12-05T15:30:00+00:00", "minute"]


# ---------------------------------------------------------------------------------------
# Review 118: the articles' `published_zone` says how each time's zone was known.
# ---------------------------------------------------------------------------------------


def _zone_of_record(record: bytes, config: ExtractConfig | None = None) -> str | None:
    doc = RawDocument("r.jsonl#L1", "jsonl", record)
    return extract_document(doc, config or ExtractConfig(as_of="2026-12-06")).published_zone


def test_published_zone_of_json_records_and_text_lines() -> None:
    tokyo = ExtractConfig(as_of="2026-12-06", source_timezones=_TOKYO)
    nhk = "https://www3.nhk.or.jp/news/a"
    cases = [
        (_record(0, published="2026-12-05T10:30:00+09:00"), None, "stated"),
        (_record(0, published="2026-12-05T01:30:00Z"), None, "stated"),
        (_record(0, published="1796432400"), None, "stated"),  # a Unix time is UTC
        (_record(0, published="2026-12-05 10:30", url=nhk), tokyo, "source_timezone"),
        # --source_timezone first, even where another field states an offset.
        (_record(0, published="2026-12-05 10:30", url=nhk, modified="2026-12-05T11:00+01:00"),
         tokyo, "source_timezone"),
        (_record(0, published="2026-12-05 10:30", modified="2026-12-05T11:00+09:00"),
         None, "document"),
        (_record(0, published="2026-12-05 10:30"), None, "assumed_utc"),
        (_record(0, published="2026-12-05 10:30", url=nhk), None, "assumed_utc"),
        # A date alone is a calendar day, in no zone; no date, none.
        (_record(0, published="2026-12-05"), None, None),
        (_record(0, url="https://example.com/2026/12/05/a"), None, None),
        (_record(0), None, None),
    ]  # fmt: skip
    for record, config, zone in cases:
        assert _zone_of_record(record, config) == zone, record[:90]
    text = (
        "# 港の再開\n\n**https://www3.nhk.or.jp/news/html/harbour.html**\n\n"
        f"2026年12月5日 10時30分\n\n{TOPIC_TEXTS[2] * 3}\n"
    ).encode()
    doc = RawDocument("harbour.md", "text", text)
    assert extract_document(doc, ExtractConfig()).published_zone == "assumed_utc"
    assert extract_document(doc, tokyo).published_zone == "source_timezone"
    stated = doc._replace(content=text.replace("10時30分".encode(), b"10:30 JST"))
    placed = extract_document(stated, ExtractConfig())
    assert (placed.published_at.hour, placed.published_zone) == (1, "stated")  # type: ignore[union-attr]


def test_published_zone_of_pages_and_warc_pages() -> None:
    ld = '{"@context": "https://schema.org", "dateModified": "2024-04-25T06:21:25+02:00"}'
    zoneless = '<meta name="date" content="2024-04-24T22:58:49">'
    berlin = ExtractConfig(source_timezones=(("sportschau.de", "Europe/Berlin"),))
    stated_meta = '<meta property="article:published_time" content="2024-04-24T22:58:49+02:00">'
    byline = '<p class="byline"><time datetime="2024-04-24T22:58:00+02:00">24 April</time></p>'
    cases = [
        (_page(zoneless + f'<script type="application/ld+json">{ld}</script>'), "", "document"),
        (_page(zoneless), "", "assumed_utc"),
        # A WARC response record is a page with its fetched URL (read.py): the host's zone.
        (_page(zoneless), "https://www.sportschau.de/fussball/a.html", "source_timezone"),
        (_page(stated_meta), "", "stated"),
        (_page('<meta name="date" content="2024-04-24">', byline), "", "stated"),
        (_page('<meta name="date" content="2024-04-24">'), "", None),
        (_page(""), "", None),
    ]
    for content, url, zone in cases:
        doc = RawDocument("page.html", "html", content, url=url)
        article = extract_document(doc, berlin if url else ExtractConfig())
        assert article.published_zone == zone, (content[:120], url)
        assert (article.published_zone is None) == (
            article.published_precision not in ("minute", "second")
        )


def test_published_zone_of_feed_entries_and_sitemaps() -> None:
    feed = parse_xml_feed(_NBC_FEED, {}, "https://www.nbcnewyork.com/feed/")
    zones = {entry.title: entry.published_zone for entry in feed.entries}
    # Two months before the channel's date, its offset is not taken: assumed.
    assert zones == {"Stabbing suspect sought": "document", "Old story": "assumed_utc"}
    with publications_as_of(None, (("nbcnewyork.com", "America/New_York"),)):
        named = parse_xml_feed(_NBC_FEED, {}, "https://www.nbcnewyork.com/feed/")
    assert {entry.published_zone for entry in named.entries} == {"source_timezone"}
    stated = parse_xml_feed(
        _NBC_FEED.replace(b"02:02:33 PM</pubDate>", b"14:02:33 EST</pubDate>"), {}, "f.xml"
    )
    assert {entry.published_zone for entry in stated.entries} == {"stated"}
    day = parse_xml_feed(_NBC_FEED.replace(b" 02:02:33 PM</pubDate>", b"</pubDate>"), {}, "f")
    assert {entry.published_zone for entry in day.entries} == {None}
    # The entry's zone is its article's; with its page, the time chosen brings its own.
    entry = feed.entries[0]
    article = entry_article("f.xml#1", "https://www.nbcnewyork.com/feed/", entry, None)
    assert article is not None and article.published_zone == "document"
    page = new_article(
        "p.html", text="Police searched.", published_at=entry.published_at,
        published_precision="day", published_zone=None,
    )  # fmt: skip
    with_page = entry_article("f.xml#1", "https://www.nbcnewyork.com/feed/", entry, page)
    assert with_page is not None and with_page.published_zone == "document"
    stated_page = page._replace(published_precision="second", published_zone="stated")
    with_stated = entry_article("f.xml#1", "https://www.nbcnewyork.com/feed/", entry, stated_page)
    assert with_stated is not None and with_stated.published_zone == "stated"
    # A news sitemap's publication_date, each way; a lastmod alone, its own zone.
    url = SitemapUrl(
        "https://www3.nhk.or.jp/news/a.html", "2026-12-05T11:00:00+09:00", "t",
        "2026-12-05T10:30:00", "ja", "NHK", (),
    )  # fmt: skip
    assert published_zone(published_of(url)) == "document"
    assert published_zone(published_of(url._replace(lastmod=None))) == "assumed_utc"
    with publications_as_of(None, _TOKYO):
        assert published_zone(published_of(url._replace(lastmod=None))) == "source_timezone"
    stated_url = url._replace(publication_date="2026-12-05T10:30:00+09:00")
    assert published_zone(published_of(stated_url)) == "stated"
    lastmod_only = url._replace(publication_date=None, lastmod="2026-12-05T10:30:00")
    sitemap = parse_sitemap_feed(_sitemap(lastmod_only), "https://www3.nhk.or.jp/sitemap.xml")
    (listed,) = sitemap.entries
    assert (listed.published_zone, listed.modified_zone) == (None, "assumed_utc")
    only = entry_article("s.xml#1", None, listed._replace(summary="Harbour text."), None)
    assert only is not None and only.published_zone == "assumed_utc"


def _story(n: int, **fields: str) -> bytes:
    return json.dumps({"title": f"Story {n}", "text": _STORIES[n], **fields}).encode()


def _sitemap(url: SitemapUrl) -> bytes:
    return (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{url.loc}</loc><lastmod>{url.lastmod}</lastmod></url></urlset>"
    ).encode()


# Stories of their own (no two copies of one another): one per input of the run below.
_STORIES = (
    "The harbour authority reopened the northern pier after repairs to its cranes and "
    "the fishing fleet returned to unload the first catch of the winter season there.",
    "A court in the capital ruled that the mining company must pay for cleaning the river "
    "it polluted last spring, and the company said it would appeal the judgment.",
    "Farmers in the eastern provinces reported a record wheat harvest this autumn thanks "
    "to late rains, and grain prices on the regional market fell for a third week.",
    "The national orchestra announced a tour of twelve cities next year, with a new "
    "symphony by a young composer and free concerts for schoolchildren in each town.",
    "Engineers finished testing the new bridge over the estuary, which will carry trains "
    "and cyclists from March and cut the journey between the two ports by an hour.",
    "Health officials opened three clinics in rural districts where patients used to "
    "travel half a day to see a doctor, staffed by nurses trained at the university.",
    "The airline ordered forty aircraft for its regional routes and said the quieter "
    "engines would let the airport extend its opening hours into the late evening.",
)


def test_the_column_and_the_counters_agree(tmp_path: Path) -> None:
    """One run over a text, JSON records, a page and a feed: each row's `published_zone`,
    and the run's `extract_published_zone_<zone>` counters count the same."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    records = [
        _story(0, url="https://www3.nhk.or.jp/news/a", published="2026-12-05 10:30"),
        _story(1, url="https://example.com/b", published="2026-12-05 10:30"),
        _story(2, url="https://example.com/c", published="2026-12-05T10:30:00-05:00"),
        _story(3, url="https://example.com/d", published="2026-12-05 10:30",
                modified="2026-12-05T12:00:00+01:00"),
        _story(4, url="https://example.com/e", published="2026-12-05"),
    ]  # fmt: skip
    (inputs / "r.jsonl").write_bytes(b"\n".join(records) + b"\n")
    ld = '{"@context": "https://schema.org", "dateModified": "2024-04-25T06:21:25+02:00"}'
    zoneless = '<meta name="date" content="2024-04-24T22:58:49">'
    (inputs / "p.html").write_bytes(
        _page(zoneless + f'<script type="application/ld+json">{ld}</script>')
    )
    feed = _NBC_FEED.replace(b"Police searched.", _STORIES[5].encode())
    (inputs / "nbc.xml").write_bytes(feed.replace(b"Old.", _STORIES[6].encode()))
    argv = ["--input", str(inputs), "--output", str(tmp_path / "out"), "--as_of", "2026-12-06",
            "--source_timezone", "nhk.or.jp=Asia/Tokyo", "--no_fetch_pages"]  # fmt: skip
    assert entry.main(argv) == 0
    manifest = run_manifest(tmp_path / "out")
    assert manifest["counts"]["duplicates"] == manifest["counts"]["rejected"] == 0
    rows = table_rows(tmp_path / "out", "articles")
    column: dict[str, int] = {}
    for row in rows:
        if row["published_zone"] is not None:
            column[row["published_zone"]] = column.get(row["published_zone"], 0) + 1
    assert column == {"source_timezone": 1, "assumed_utc": 2, "stated": 1, "document": 3}
    prefix = "extract_published_zone_"
    counted = {
        name.removeprefix(prefix): value
        for name, value in manifest["counters"].items()
        if name.startswith(prefix) and value
    }
    assert counted == column


def _as_schema_6(root: Path, run_id: str) -> None:
    """A committed run's files rewritten as a NewsBeam of schema 6 wrote them: articles
    without `published_zone`, every file and the manifest at version 6 (the file sizes the
    manifest lists kept true)."""
    path = root / "_runs" / f"{run_id}.json"
    manifest = json.loads(path.read_text())
    for table, listed in manifest["tables"].items():
        for file in listed["files"]:
            data = root / file["path"]
            older = pq.ParquetFile(data).read()  # the file alone: no partition column
            if table == "articles":
                older = older.drop_columns(["published_zone"])
            older = older.replace_schema_metadata({SCHEMA_VERSION_KEY: b"6"})
            pq.write_table(older, data, compression="zstd")
            file["bytes"] = data.stat().st_size
    manifest["schema_version"] = "6"
    path.write_text(json.dumps(manifest))


def test_a_root_of_schema_6_and_7_files_reads_whole(tmp_path: Path) -> None:
    """Review 118: an upgraded NewsBeam runs into a ROOT and --state an older one wrote. Its
    articles read whole by name (older rows' `published_zone` null), the earlier articles
    still seed dedup (a copy points at its schema 6 original), and the report, the
    warehouse and compare_tables take both versions."""
    night1, night2 = tmp_path / "n1", tmp_path / "n2"
    night1.mkdir()
    night2.mkdir()
    (night1 / "r.jsonl").write_bytes(
        _story(0, url="https://example.com/a", published="2026-12-04T10:30:00+09:00") + b"\n"
    )
    (night2 / "r.jsonl").write_bytes(
        b"\n".join([
            _story(0, url="https://example.com/a", published="2026-12-04T10:30:00+09:00"),
            _story(1, url="https://example.com/b", published="2026-12-05 10:30"),
        ]) + b"\n"
    )  # fmt: skip
    root, state = tmp_path / "root", tmp_path / "state"
    common = ["--output", str(root), "--state", str(state), "--as_of", "2026-12-06"]
    assert entry.main(["--input", str(night1), "--run_id", "night-1", *common]) == 0
    _as_schema_6(root, "night-1")
    schema_6 = tmp_path / "schema-6"  # night-1 alone, to compare with a rerun below
    shutil.copytree(root, schema_6)
    assert entry.main(["--input", str(night2), "--run_id", "night-2", *common]) == 0

    (older,) = table_rows(root, "articles", "night-1")
    assert "published_zone" not in older
    copies = table_rows(root, "duplicates", "night-2")
    assert [(row["url"], row["canonical_id"]) for row in copies] == [
        ("https://example.com/a", older["article_id"])
    ]
    by_name = duckdb.sql(
        f"SELECT url, published_precision, published_zone FROM read_parquet('{root}/articles/"
        "*/*.parquet', hive_partitioning = true, union_by_name = true) ORDER BY url"
    ).fetchall()
    assert by_name == [
        ("https://example.com/a", "second", None),  # written before schema 7: not known
        ("https://example.com/b", "minute", "assumed_utc"),
    ]
    assert entry.main(["report", "--output", str(root)]) == 0
    db = tmp_path / "news.duckdb"
    assert entry.main(["warehouse", "--output", str(root), "--db", str(db)]) == 0
    with duckdb.connect(str(db)) as con:
        loaded = con.sql("SELECT url, published_zone FROM articles ORDER BY url").fetchall()
    assert loaded == [("https://example.com/a", None), ("https://example.com/b", "assumed_utc")]
    # The same input written at schema 6 and 7 compares the same, the new column aside.
    again = tmp_path / "again"
    assert entry.main(["--input", str(night1), "--output", str(again), "--as_of", "2026-12-06",
                       "--run_id", "night-1"]) == 0  # fmt: skip
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_tables.py"
    compare = [sys.executable, str(script), str(schema_6), str(again)]
    assert subprocess.run(compare, capture_output=True).returncode == 1
    ignored = subprocess.run([*compare, "--ignore", "published_zone"], capture_output=True)
    assert ignored.returncode == 0, ignored.stdout.decode()
