"""Review 110: clock times written without a zone or offset (a researcher lining up when
outlets in Tokyo, Berlin and New York published). Such a time was stored as if UTC, hours
off; it is now placed by the zone a user names for its source (--source_timezone), else by
the offset the same document states beside another of its times, else kept as UTC and
counted (`extract_published_zone_assumed`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from newsbeam.pipeline import main as entry
from newsbeam.pipeline.options import NewsBeamOptions, config_from_options
from newsbeam.schemas import RawDocument
from newsbeam.transforms.extract import (
    ExtractConfig,
    Published,
    Zoneless,
    extract_document,
    parse_published,
    placed_in_zone,
    publications_as_of,
    stated_offset_near,
)
from newsbeam.transforms.feeds.parse import parse_xml_feed
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
