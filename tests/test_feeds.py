"""Feeds: sniffing and parsing (pure), state files, and the pipeline end to end against a
feed and page server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import apache_beam as beam
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.pipeline import dataset
from newsbeam.pipeline import main as entry
from newsbeam.pipeline.main import feeds_summary
from newsbeam.schemas import STATE_VERSION
from newsbeam.schemas.feeds import (
    FEED_HEALTH_SCHEMA,
    FEED_STATE_SCHEMA,
    SEEN_ENTRY_SCHEMA,
    FeedHealth,
    FeedState,
    SeenEntry,
)
from newsbeam.transforms.extract import new_article, with_fetched_url
from newsbeam.transforms.feeds import ReadFeeds
from newsbeam.transforms.feeds.articles import (
    entry_article,
    html_to_text,
    is_html_response,
    page_falls_short,
)
from newsbeam.transforms.feeds.config import FeedsConfig
from newsbeam.transforms.feeds.fetch import FetchConfig, FetchResult
from newsbeam.transforms.feeds.parse import (
    FeedEntry,
    FeedParseError,
    declared_language,
    entity_problem,
    has_entity_expansion,
    markup_text,
    parse_feed,
    parse_opml,
    parse_url_list,
    sniff_feed_kind,
    strip_undeclared_prefixes,
)
from newsbeam.transforms.feeds.polling import (
    PreviousFeedState,
    backoff_seconds,
    jittered,
    last_polled,
    load_feed_state,
    merge_seen_entries,
    moved_feeds,
    next_feed_state,
    next_feed_tables,
    next_moved_to,
    previous_feed_state,
    prune_seen_entries,
)
from newsbeam.transforms.feeds.stage import (
    FeedSource,
    FetchedFeed,
    PageJob,
    _needs_page,
    _not_deferred,
    deferred_sources,
    no_text_detail,
    offered_again,
    page_failed_for_now,
    pages_wanted,
    retried_updates,
    updated_entries,
    was_seen,
)
from newsbeam.transforms.support.state import (
    StateContext,
    make_context,
    open_state,
    recover_state,
)
from newsbeam.transforms.support.state import StateError as FeedStateError
from newsbeam.transforms.support.versions import entry_of, version_source
from tests.feed_server import serve, static
from tests.helpers import (
    ARTICLE_HTML,
    current_state,
    make_test_pipeline,
    run_manifest,
    table_rows,
)

BODY = (
    "The harbour authority said on Monday that the new ferry terminal would open next year "
    "after delays caused by storms and a shortage of steel, and that ticket prices would "
    "stay the same for residents of the islands throughout the coming season."
)
# Other stories: distinct texts (a one-word edit of BODY would be its near duplicate).
OTHER_BODIES = {
    "bridge": "The city council voted on Tuesday to repair the old bridge over the river before "
    "winter, after engineers found cracks in two of its supports during an inspection.",
    "tunnel": "Rail workers began digging the second tunnel under the mountain pass this week, "
    "a project the regional government expects to cut travel times by half within years.",
    "road": "Police closed the coastal road for six hours on Sunday while crews cleared rocks "
    "that a landslide had carried onto both lanes near the small fishing village.",
    "airport": "The airport operator reported record passenger numbers for the summer and said "
    "it would add four gates and a larger security hall by the end of next year.",
}


def rss(base: str, items: list[tuple[str, str, str]]) -> bytes:
    """An RSS 2.0 feed of (guid, path, description) items."""
    parts = [
        f'<item><guid isPermaLink="false">{guid}</guid><title>Story {guid}</title>'
        f"<link>{base}{path}</link>"
        f"<description>{description}</description><category>Local</category>"
        "<pubDate>Tue, 14 May 2024 08:00:00 GMT</pubDate></item>"
        for guid, path, description in items
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test</title>'
        f"<link>{base}/</link>{''.join(parts)}</channel></rss>"
    ).encode()


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
<updated>2024-05-14T08:00:00Z</updated>
<entry><id>urn:e1</id><title>Atom one</title><link href="/posts/1"/>
<updated>2024-05-14T08:00:00Z</updated><author><name>Ann Writer</name></author>
<content type="html">&lt;p&gt;First paragraph.&lt;/p&gt;&lt;p&gt;Second one.&lt;/p&gt;</content>
<category term="science"/></entry>
</feed>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="http://x/"><title>R</title><link>http://x/</link></channel>
<item rdf:about="http://x/1"><title>RDF one</title><link>http://x/1</link>
<description>An RDF item.</description></item>
</rdf:RDF>"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "feed_url": "https://j.example/feed.json",
        "authors": [{"name": "Feed Author"}],
        "items": [
            {
                "id": 1,
                "url": "/p/1",
                "title": "Json one",
                "content_text": "Plain text body.",
                "date_published": "2024-05-14T10:00:00+02:00",
                "tags": ["b", "a"],
            },  # fmt: skip
            {"id": "2", "content_html": "<p>Only <b>html</b></p>"},
        ],
    }
).encode()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://x/1</link></item></channel></rss>"""

OPML = b"""<?xml version="1.0"?><opml version="2.0"><head><title>subs</title></head><body>
<outline text="News"><outline type="rss" text="A" xmlUrl="https://a.example/feed"/>
<outline type="rss" text="B" xmlUrl="https://b.example/rss"/></outline>
<outline type="rss" text="A again" xmlUrl="https://a.example/feed"/></body></opml>"""


# ---------------------------------------------------------------------------------------
# Pure
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (rss("http://x", []), "feed"),
        (ATOM, "feed"),
        (RDF, "feed"),
        (JSON_FEED, "feed"),
        (OPML, "opml"),
        (b"<!-- a comment <rss> --><?xml-stylesheet href='x'?>\n<rss version='2.0'/>", "feed"),
        (
            "<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'/>".encode("utf-16"),
            "feed",
        ),
        (b"<!DOCTYPE html><html><body><feed>not a feed</feed></body></html>", None),
        (b'{"version": 1, "items": []}', None),
        (b"just text", None),
        (b"<?xml version='1.0'?><urlset/>", "feed"),  # a sitemap (review 100)
        (b"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'/>", "feed"),
    ],
)
def test_sniff_feed_kind(content: bytes, kind: str | None) -> None:
    assert sniff_feed_kind(content) == kind


def test_rss_atom_rdf_and_json_feed_parse() -> None:
    feed = parse_feed(rss("http://x", [("g1", "/a", "Summary &amp; more")]), {}, "http://x/feed")
    (item,) = feed.entries
    assert (item.entry_id, item.link, item.title) == ("g1", "http://x/a", "Story g1")
    assert item.summary == "Summary & more"
    assert item.published_at == dt.datetime(2024, 5, 14, 8, tzinfo=dt.timezone.utc)
    assert item.categories == ["Local"]
    assert feed.bozo is None and feed.version == "rss20"

    atom = parse_feed(ATOM, {}, "https://atom.example/feed.xml")
    (item,) = atom.entries
    assert item.link == "https://atom.example/posts/1"  # relative link resolved
    assert item.authors == ["Ann Writer"] and item.categories == ["science"]
    assert html_to_text(item.content) == "First paragraph.\n\nSecond one."

    (item,) = parse_feed(RDF, {}, "http://x/rdf").entries
    assert (item.entry_id, item.title) == ("http://x/1", "RDF one")  # no guid: the link

    json_feed = parse_feed(JSON_FEED, {}, "https://j.example/feed.json")
    first, second = json_feed.entries
    assert (first.entry_id, first.link, first.categories) == (
        "1",
        "https://j.example/p/1",
        ["a", "b"],
    )
    assert first.authors == ["Feed Author"] and first.content == "Plain text body."
    assert first.published_at == dt.datetime(2024, 5, 14, 8, tzinfo=dt.timezone.utc)
    assert (second.entry_id, second.link, html_to_text(second.content)) == ("2", None, "Only html")


def test_malformed_feed_keeps_what_parses_and_notes_why() -> None:
    broken = rss("http://x", [("g1", "/a", "ok"), ("g2", "/b", "fine")]).replace(
        b"</channel></rss>", b"<item><title>cut"
    )
    feed = parse_feed(broken, {}, "http://x/feed")
    assert [e.entry_id for e in feed.entries][:2] == ["g1", "g2"]
    assert feed.bozo


def test_undeclared_namespace_prefixes_are_read_past() -> None:
    prefixed = (
        b"<rss version='2.0'><rss:channel><rss:title>T</rss:title>"
        b"<rss:item><rss:title>One</rss:title><rss:link>http://x/1</rss:link></rss:item>"
        b"<rss:item><rss:title>Two</rss:title><rss:link>http://x/2</rss:link></rss:item>"
        b"</rss:channel></rss>"
    )
    feed = parse_feed(prefixed, {}, "http://x/feed")
    assert [(e.title, e.link) for e in feed.entries] == [
        ("One", "http://x/1"),
        ("Two", "http://x/2"),
    ]
    assert feed.bozo and "undeclared namespace prefixes" in feed.bozo
    declared = b"<rss xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:creator>A</dc:creator></rss>"
    assert strip_undeclared_prefixes(declared) == declared


def test_unparseable_and_not_feeds_raise_with_a_reason() -> None:
    for content, reason in (
        (b"<html><body>page</body></html>", "not_a_feed"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": 3}', "unparseable"),
        (b'{"version": "https://jsonfeed.org/version/1", ', "unparseable"),
        (OPML, "not_a_feed"),
        (BILLION_LAUGHS, "entity_expansion"),
    ):
        with pytest.raises(FeedParseError) as failure:
            parse_feed(content, {}, "http://x/feed")
        assert failure.value.reason == reason


def _utf16(document: str) -> bytes:
    return document.encode("utf-16")  # with a byte-order mark, as UTF-16 feeds come


LOL = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 9))
ENTITY_BYPASSES = {
    # A parameter entity declares the nested ones when the subset is read.
    "parameter": '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % d "<!ENTITY l0 \'x\'>'
    + LOL.replace('"', "&#34;")
    + '"> %d;]><rss><channel><title>&l8;</title></channel></rss>',
    # A ">" inside the DOCTYPE's quoted system id hid the internal subset from a pattern.
    "quoted_gt": '<?xml version="1.0"?><!DOCTYPE rss SYSTEM "a>b" [<!ENTITY l0 "x">'
    + LOL
    + "]><rss><channel><title>&l8;</title></channel></rss>",
    # Odd spacing, and a "]>" inside an entity value ending a pattern's subset early.
    "spacing": '<?xml version="1.0"?><!DOCTYPE\n\trss\n[\n<!ENTITY\tz\n\n"]>"\t>\n'
    + '<!ENTITY l0 "x">\n'
    + LOL.replace("<!ENTITY ", "<!ENTITY\n  ")
    + "\n]\n><rss><channel><title>&l8;</title></channel></rss>",
    # Nesting through a character reference: "&#38;" becomes "&" inside the value.
    "char_ref": '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "x">'
    + LOL.replace("&l", "&#38;l")
    + "]><rss><channel><title>&l8;</title></channel></rss>",
    # An external entity through a PUBLIC id.
    "public": '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x PUBLIC "-//X//Y" '
    + '"http://127.0.0.1:9/x.dtd">]><rss><channel><title>&x;</title></channel></rss>',
}


@pytest.mark.parametrize("name", sorted(ENTITY_BYPASSES))
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_entity_bypasses_are_refused(name: str, encoding: str) -> None:
    document = ENTITY_BYPASSES[name]
    content = document.encode() if encoding == "utf-8" else _utf16(document)
    assert entity_problem(content) is not None, name
    with pytest.raises(FeedParseError) as failure:
        parse_feed(content, {}, "http://x/feed")
    assert failure.value.reason == "entity_expansion"


def test_an_external_dtd_is_never_fetched() -> None:
    dtd = b'<!ENTITY secret "from the DTD">'
    with serve({"/x.dtd": static(dtd, "application/xml-dtd")}) as server:
        document = (
            f'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//X//DTD X//EN" "{server.url("/x.dtd")}">'
            "<rss version='2.0'><channel><title>T &secret;</title>"
            "<item><title>A</title><link>http://x/1</link></item></channel></rss>"
        )
        try:
            parsed = parse_feed(document.encode(), {}, "http://x/feed")
        except FeedParseError as error:
            assert error.reason in ("entity_expansion", "unparseable")
        else:
            assert "from the DTD" not in (parsed.title or "")
    assert server.log == []


def test_plain_entities_and_utf16_feeds_still_parse() -> None:
    document = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE rss [<!ENTITY n "NewsBeam">]>'
        "<rss version='2.0'><channel><title>&n; news</title>"
        "<item><title>A</title><link>http://x/1</link></item></channel></rss>"
    )
    parsed = parse_feed(_utf16(document), {}, "http://x/feed")
    assert parsed.title == "NewsBeam news"
    assert len(parsed.entries) == 1


def test_entity_expansion_signature() -> None:
    assert has_entity_expansion(BILLION_LAUGHS)
    external = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss/>'
    )
    assert has_entity_expansion(external)
    plain = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY copy "&#169;"><!ENTITY n "NewsBeam">]><rss/>'
    )
    assert not has_entity_expansion(plain)
    assert not has_entity_expansion(rss("http://x", []))


def test_opml_and_url_lists() -> None:
    assert parse_opml(OPML) == ["https://a.example/feed", "https://b.example/rss"]
    listing = (
        b"# my feeds\nhttps://a.example/feed\n\n  https://b.example/rss  \nhttps://a.example/feed\n"
    )
    assert parse_url_list(listing) == ["https://a.example/feed", "https://b.example/rss"]
    assert parse_url_list(OPML) == ["https://a.example/feed", "https://b.example/rss"]
    with pytest.raises(FeedParseError):
        parse_opml(BILLION_LAUGHS.replace(b"<rss", b"<opml").replace(b"</rss>", b"</opml>"))


def test_html_to_text() -> None:
    assert html_to_text("<p>One <b>two</b></p><p>Three<br>four</p><script>x()</script>") == (
        "One two\n\nThree four"
    )
    assert html_to_text("Plain\n\n  text  here ") == "Plain\n\ntext here"
    assert html_to_text(None) == html_to_text("  ") == ""


ENTRY = FeedEntry(
    entry_id="g1",
    link="https://news.example.com/a",
    title="Entry title",
    authors=["Entry Author"],
    published_at=dt.datetime(2024, 5, 14, tzinfo=dt.timezone.utc),
    summary="<p>Short summary.</p>",
    content=None,
    categories=["Politics"],
)


def test_entry_article_fills_what_the_page_lacks() -> None:
    page = new_article("s", url="https://news.example.com/a", title=None, text="Page text.")
    article = entry_article("feed#g1", "https://x/feed", ENTRY, page)
    assert article is not None
    assert (article.text, article.text_origin, article.title) == (
        "Page text.",
        "page",
        "Entry title",
    )
    assert (article.authors, article.published_at) == (["Entry Author"], ENTRY.published_at)
    assert (article.feed_url, article.entry_id, article.feed_categories) == (
        "https://x/feed",
        "g1",
        ["Politics"],
    )
    titled = entry_article("feed#g1", "https://x/feed", ENTRY, page._replace(title="Page title"))
    assert titled is not None and titled.title == "Page title"

    fallback = entry_article("feed#g1", "https://x/feed", ENTRY, None)
    assert fallback is not None
    assert (fallback.text, fallback.text_origin) == ("Short summary.", "feed_summary")
    assert fallback.canonical_url == "https://news.example.com/a"
    full = "<p>The full text of the story, longer than its summary.</p>"
    with_content = entry_article("f#g1", None, ENTRY._replace(content=full), None)
    assert with_content is not None and with_content.text_origin == "feed_content"
    # Content that says less than the summary (only the headline, seen in feeds whose
    # content:encoded repeats the title): the summary, not a text the clean stage empties.
    headline = entry_article("f#g1", None, ENTRY._replace(content="<p>Entry title</p>"), None)
    assert headline is not None
    assert (headline.text, headline.text_origin) == ("Short summary.", "feed_summary")
    assert entry_article("f#g1", None, ENTRY._replace(summary=None), None) is None


def test_is_html_response() -> None:
    def page(content_type: str | None, body: bytes) -> FetchResult:
        headers = {"content-type": content_type} if content_type else {}
        return FetchResult("u", "u", 200, headers, body, None, "", 1)

    assert is_html_response(page("text/html; charset=utf-8", b"<p>x</p>"))
    assert is_html_response(page("application/xhtml+xml", b"<html/>"))
    assert is_html_response(page(None, b"  <!DOCTYPE html><html><body>x</body></html>"))
    assert not is_html_response(page("application/pdf", b"%PDF-1.7 <html>"))
    assert not is_html_response(page("image/jpeg", b"\xff\xd8"))
    assert not is_html_response(page(None, b"%PDF-1.7"))


def test_poll_interval_adapts() -> None:
    config = FeedsConfig(
        min_poll_seconds=60,
        initial_poll_seconds=3600,
        max_poll_seconds=86400,
        max_backoff_seconds=86400,
        poll_jitter=0,
    )
    now = dt.datetime(2024, 5, 14, tzinfo=dt.timezone.utc)
    ok = FetchResult("u", "u", 200, {"etag": '"e"'}, b"x", None, "", 5)
    busy = next_feed_state(None, "u", ok, 3, "h1", now, config)
    assert (busy.poll_interval_seconds, busy.etag, busy.last_new_entry_at) == (1800, '"e"', now)
    assert busy.next_poll_at == now + dt.timedelta(seconds=1800)
    quiet = next_feed_state(
        busy, "u", ok._replace(http_status=304, headers={}), 0, None, now, config
    )
    assert quiet.poll_interval_seconds == 2700 and quiet.etag == '"e"' and quiet.body_hash == "h1"
    failed = ok._replace(error="timeout", http_status=None)
    first = next_feed_state(quiet, "u", failed, 0, None, now, config)
    second = next_feed_state(first, "u", failed, 0, None, now, config)
    assert (first.consecutive_failures, second.consecutive_failures) == (1, 2)
    # A failure backs the next poll off (the pace doubled per failure) and keeps the pace.
    assert first.poll_interval_seconds == second.poll_interval_seconds == 2700
    assert first.next_poll_at == now + dt.timedelta(seconds=2 * 2700)
    assert second.next_poll_at == now + dt.timedelta(seconds=4 * 2700)
    assert second.etag == '"e"'  # a failure keeps what the next conditional request needs
    recovered = next_feed_state(second, "u", ok, 1, "h2", now, config)
    assert recovered.consecutive_failures == 0
    garbled = next_feed_state(recovered, "u", ok, 0, None, now, config, unparseable=True)
    assert garbled.consecutive_failures == 1 and garbled.body_hash == "h2"


NOW = dt.datetime(2024, 5, 14, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


def _fetched(
    url: str, final: str, redirects: tuple[int, ...], error: str | None = None
) -> FetchResult:
    status = None if error else 200
    return FetchResult(url, final, status, {}, b"x", error, "", 1, redirects)


def test_a_feed_moves_on_permanent_redirects_only() -> None:
    old, new, third = "http://a/feed", "http://b/feed", "http://c/feed"
    assert next_moved_to(old, None, _fetched(old, new, (301,)), True) == new
    assert next_moved_to(old, None, _fetched(old, new, (301, 308)), True) == new
    assert next_moved_to(old, None, _fetched(old, new, (301, 302)), True) is None
    assert next_moved_to(old, None, _fetched(old, new, (307,)), True) is None
    # A 301 to something that is no feed (an HTML home page, say) moves nothing.
    assert next_moved_to(old, None, _fetched(old, new, (301,)), False) is None
    # Once moved, the feed is polled at `new`: no redirect, a temporary one or a failure
    # keep it there; another permanent one moves it on; one back home ends the move.
    assert next_moved_to(old, new, _fetched(new, new, ()), True) == new
    assert next_moved_to(old, new, _fetched(new, third, (307,)), True) == new
    assert next_moved_to(old, new, _fetched(new, new, (), "timeout"), False) == new
    assert next_moved_to(old, new, _fetched(new, third, (308,)), True) == third
    assert next_moved_to(old, new, _fetched(new, old, (301,)), True) is None
    # Subscribed at the new URL now (the old key's state carried over): no move left.
    assert next_moved_to(new, new, _fetched(new, new, ()), True) is None

    config = FeedsConfig()
    moved = next_feed_state(None, old, _fetched(old, new, (301,)), 1, "h", NOW, config)
    assert (moved.feed_url, moved.moved_to) == (old, new)
    failed = next_feed_state(moved, old, _fetched(new, new, (), "timeout"), 0, None, NOW, config)
    assert failed.moved_to == new
    html = next_feed_state(
        None, old, _fetched(old, new, (301,)), 0, None, NOW, config, unparseable=True
    )
    assert html.moved_to is None


def test_a_subscription_changed_to_the_new_url_keeps_state_and_seen_ids() -> None:
    old, new = "http://a/feed", "http://b/feed"
    moved = FeedState(old, '"e"', None, "h", NOW, None, 0, 3600, None, moved_to=new)
    feeds = {old: moved}
    previous = PreviousFeedState(feeds, {old: frozenset({"g1"})}, moved_feeds(feeds))
    assert previous.state_for(old) is moved and previous.state_for(new) is moved
    assert previous.seen_for(new) == {"g1"} and previous.seen_for(old) == {"g1"}
    assert previous.state_for("http://c/feed") is None
    assert previous.seen_for("http://c/feed") == frozenset()
    # Polled at the new URL since (maybe only 304s, nothing parsed): the new URL's own
    # state counts, the old URL's seen ids still do, and live on while it is polled.
    own = FeedState(new, '"e2"', None, "h", NOW + DAY, None, 0, 3600, None)
    feeds = {old: moved, new: own}
    previous = PreviousFeedState(feeds, {old: frozenset({"g1"})}, moved_feeds(feeds))
    assert previous.state_for(new) is own and previous.seen_for(new) == {"g1"}
    assert last_polled(feeds) == {old: NOW + DAY, new: NOW + DAY}
    assert last_polled({old: moved}) == {old: NOW}


def test_seen_entries_remember_their_last_sighting() -> None:
    long_ago = NOW - 200 * DAY
    old = [
        SeenEntry("f", "a", long_ago, long_ago),
        SeenEntry("f", "b", long_ago, NOW - 10 * DAY),
        SeenEntry("f", "c", long_ago, None),  # from a file written before last_seen_at
    ]
    sightings = [SeenEntry("f", "a", NOW, NOW), SeenEntry("f", "d", NOW, NOW)]
    merged = merge_seen_entries(old, sightings, NOW)
    assert [(e.entry_id, e.first_seen_at, e.last_seen_at) for e in merged] == [
        ("a", long_ago, NOW),  # listed again: last seen now, first seen kept
        ("b", long_ago, NOW - 10 * DAY),
        ("c", long_ago, NOW),  # unknown: counts as seen now, never pruned on a guess
        ("d", NOW, NOW),
    ]


def test_entries_whose_page_failed_for_now_are_counted_and_not_seen() -> None:
    """A run's page failures (feed, id) -> count land in the seen rows; rows with a count
    are offered again (not seen), a count of 0 (the page was read, or given up) is seen."""
    old = [
        {"feed_url": "f", "entry_id": "a", "first_seen_at": NOW - DAY, "last_seen_at": NOW - DAY,
         "page_failures": 1},
        {"feed_url": "f", "entry_id": "b", "first_seen_at": NOW - DAY, "last_seen_at": NOW - DAY},
    ]  # fmt: skip
    assert previous_feed_state([], old).seen == {"f": frozenset({"b"})}  # b: an older file
    assert previous_feed_state([], old).failures_for("f") == {"a": 1}
    sightings = [SeenEntry("f", entry, NOW, NOW) for entry in ("a", "b", "c")]
    _, seen, _ = next_feed_tables([], old, [], sightings, NOW, 0, {("f", "a"): 2, ("f", "c"): 1})
    assert [(e.entry_id, e.page_failures) for e in seen] == [("a", 2), ("b", 0), ("c", 1)]
    _, seen, _ = next_feed_tables([], old, [], sightings[:1], NOW, 0, {})
    assert [(e.entry_id, e.page_failures) for e in seen] == [("a", 0), ("b", 0)]


def test_which_page_failures_offer_an_entry_again() -> None:
    def failed(error: str, status: int | None = None) -> FetchResult:
        return FetchResult("u", "u", status, {}, b"", error, "detail", 0)

    for page, passing in (
        (failed("timeout"), True),
        (failed("connection_error"), True),
        (failed("truncated", 200), True),
        (failed("http_error", 503), True),
        (failed("http_error", 429), True),
        (failed("http_error", 404), False),
        (failed("http_error", 501), False),
        (failed("robots_disallowed"), False),
        (failed("too_large", 200), False),
    ):
        assert page_failed_for_now(page) is passing, page
    bare = FeedEntry("e", "https://s/e", "Only a title", [], None, None, None, [])
    with_text = bare._replace(summary="<p>The entry's own words are enough for an article.</p>")
    job = PageJob("f#e", "f", bare, failed("timeout"))
    assert offered_again(job, 3)
    assert not offered_again(job._replace(page_failures=3), 3)  # tried enough
    assert not offered_again(job, 0)  # no state to remember it in
    assert not offered_again(job._replace(entry=with_text), 3)  # its own text is the article
    assert not offered_again(job._replace(page=failed("http_error", 410)), 3)


def test_which_entries_pages_are_fetched_and_why_not() -> None:
    """A feed fetched by URL has its entries' pages fetched (unless --no_fetch_pages); a
    feed read from a file only with --fetch_file_pages, or when it is a sitemap (read only
    when --read_sitemap_files asked for its pages). The rejected row names the cause."""
    bare = FeedEntry("e", "https://s/e", "Only a title", [], None, None, None, [])
    result = FetchResult("f", "f", None, {}, b"", None, "", 0)
    live = FetchedFeed(FeedSource("https://s/feed", "feed"), result, from_file=False)
    saved = live._replace(from_file=True)
    asked = FeedsConfig(fetch_file_pages=True)
    assert pages_wanted(live, FeedsConfig(), "rss20")
    assert not pages_wanted(saved, FeedsConfig(), "rss20")
    assert pages_wanted(saved, asked, "rss20")
    assert pages_wanted(saved, FeedsConfig(), "news")  # a sitemap file read on request
    job = PageJob("f#e", "f", bare, None)
    assert _needs_page(job, True) and not _needs_page(job, False)
    assert not _needs_page(job._replace(page_wanted=False), True)
    assert no_text_detail(job).endswith("its page was not fetched (--no_fetch_pages)")
    detail = no_text_detail(job._replace(page_wanted=False))
    assert detail.endswith("the feed was read from a file (--fetch_file_pages fetches the pages "
                           "of saved feeds' entries)")  # fmt: skip


def test_seen_entries_unlisted_for_long_are_pruned_unless_in_the_latest_document() -> None:
    def seen(feed: str, entry: str, days_ago: int) -> SeenEntry:
        return SeenEntry(feed, entry, NOW - 300 * DAY, NOW - days_ago * DAY)

    entries = [
        seen("busy", "fresh", 0),
        seen("busy", "recent", 89),
        seen("busy", "edge", 90),  # exactly at the limit: kept
        seen("busy", "stale", 91),
        seen("quiet", "listed1", 120),  # the feed answered 304 since: still its document
        seen("quiet", "listed2", 120),
        seen("quiet", "older", 150),
        seen("dropped", "x", 100),  # no longer polled: its document is not current
        seen("file", "y", 100),  # a feed file no run has read since
    ]
    polled = {"busy": NOW, "quiet": NOW - DAY, "dropped": NOW - 100 * DAY}
    kept = prune_seen_entries(entries, NOW, 90, polled)
    assert [(e.feed_url, e.entry_id) for e in kept] == [
        ("busy", "fresh"),
        ("busy", "recent"),
        ("busy", "edge"),
        ("quiet", "listed1"),
        ("quiet", "listed2"),
    ]
    assert prune_seen_entries(entries, NOW, 0, polled) == entries  # 0: keep forever


def _load(state_dir: Path) -> PreviousFeedState:
    """The feed state of a folder, checked and read as a run does."""
    return load_feed_state(make_context(str(state_dir), None, NOW))


def test_state_of_another_version_or_corrupt_is_refused(tmp_path: Path) -> None:
    assert load_feed_state(StateContext()).feeds == {}
    folder = tmp_path / "feed_state"
    folder.mkdir()
    other = FEED_STATE_SCHEMA.with_metadata({b"newsbeam.state_version": b"0"})
    pq.write_table(pa.Table.from_pylist([], schema=other), folder / "feeds.parquet")
    with pytest.raises(FeedStateError, match="state version 0"):
        _load(tmp_path)
    (folder / "feeds.parquet").write_bytes(b"not parquet")
    with pytest.raises(FeedStateError, match="unreadable"):
        _load(tmp_path)
    row = FeedState("u", None, None, None, None, None, 0, 60, None)
    pq.write_table(
        pa.Table.from_pylist([row._asdict()], schema=FEED_STATE_SCHEMA), folder / "feeds.parquet"
    )
    assert list(_load(tmp_path).feeds) == ["u"]


# ---------------------------------------------------------------------------------------
# End to end on 127.0.0.1
# ---------------------------------------------------------------------------------------

FAST = ["--allow-private-hosts", "--per_host_interval", "0", "--fetch_backoff", "0.01",
        "--fetch_retries", "1", "--fetch_read_timeout", "2"]  # fmt: skip


def _run(tmp: Path, *args: str) -> dict[str, Any]:
    """Run into the dataset `tmp`/out; the manifest of this run (the latest committed)."""
    output = tmp / "out"
    assert entry.main([*FAST, *args, "--output", str(output)]) == 0  # args win over FAST
    return run_manifest(output)


def _out(tmp: Path, table: str, order: str = "source") -> list[dict[str, Any]]:
    """The rows of `table` the latest run into `tmp`/out committed (its manifest's files)."""
    return table_rows(tmp / "out", table, order_by=order)


def _rows(path: str, order: str = "source") -> list[dict[str, Any]]:
    source = path if path.startswith("read_parquet(") else f"'{path}'"
    relation = duckdb.sql(f"SELECT * FROM {source} ORDER BY {order}")
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def _health(tmp: Path, order: str = "feed_url") -> list[dict[str, Any]]:
    """Feed health rows of every committed run of the dataset `tmp`/out (one per feed per
    run), ordered by `order`."""
    root = tmp / "out"
    paths = [
        f"'{path}'"
        for manifest in dataset.committed_runs(str(root))
        for path in dataset.data_files(str(root), manifest, "feed_health")
    ]
    return _rows(f"read_parquet([{', '.join(paths)}], hive_partitioning = false)", order)


def _state(state: Path, files: str, order: str = "source") -> list[dict[str, Any]]:
    """Rows of the state files `files` (a glob) of the version CURRENT names."""
    return _rows(f"{current_state(state)}/{files}", order)


@pytest.mark.slow
def test_feed_pages_articles_twice_second_run_incremental(tmp_path: Path) -> None:
    state = tmp_path / "state"
    routes: dict[str, Any] = {
        "/robots.txt": static(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
        "/news/budget": static(ARTICLE_HTML.encode(), "text/html"),
        "/news/gone": lambda request: (404, {}, b"gone"),
        "/private/p": static(ARTICLE_HTML.encode(), "text/html"),
    }
    with serve(routes) as server:
        base = server.url("")
        items = [
            ("g1", "/news/budget", "Budget story"),
            ("g2", "/news/gone", f"&lt;p&gt;{BODY}&lt;/p&gt;"),
            ("g3", "/private/p", "Too short."),
        ]
        server.routes["/feed.xml"] = static(rss(base, items), ETag='"v1"')
        server.routes["/atom"] = static(
            ATOM.replace(b"/posts/1", b"/news/gone"), "application/atom+xml"
        )
        feeds_file = tmp_path / "feeds.txt"
        feeds_file.write_text(f"# test feeds\n{server.url('/atom')}\n")
        args = [
            "--feed",
            server.url("/feed.xml"),
            "--feeds",
            str(feeds_file),
            "--state",
            str(state),
        ]

        first = _run(tmp_path, *args)
        counts = first["counts"]
        # 3 RSS entries + 1 Atom entry; the Atom one ("First paragraph. Second one.") and
        # g3's summary are too short for the clean stage.
        assert (counts["inputs"], counts["articles"], counts["rejected"]) == (4, 2, 2)
        assert counts["balanced"] is True
        articles = {r["entry_id"]: r for r in _out(tmp_path, "articles")}
        assert articles["g1"]["text_origin"] == "page"
        assert articles["g1"]["title"] == "Council approves budget"  # the page's own
        assert articles["g1"]["feed_url"] == server.url("/feed.xml")
        assert articles["g1"]["feed_categories"] == ["Local"]
        assert "northern districts" in articles["g1"]["text"]
        assert articles["g2"]["text_origin"] == "feed_summary"  # page 404: the summary
        assert articles["g2"]["text"] == BODY and articles["g2"]["title"] == "Story g2"
        assert "/private/p" not in server.hits  # robots.txt disallows it
        rejected = {r["source"]: r for r in _out(tmp_path, "rejected")}
        assert {r["reason"] for r in rejected.values()} == {"too_short"}

        health = _health(tmp_path, "feed_url")
        assert [
            (h["status"], h["entries"], h["new_entries"], h["http_status"]) for h in health
        ] == [
            ("ok", 1, 1, 200),
            ("ok", 3, 3, 200),
        ]
        assert all(h["latency_ms"] >= 0 and h["bytes"] > 0 for h in health)
        # Feed health is the dataset's table, not state.
        assert not (current_state(state) / "feeds").exists()

        second = _run(tmp_path, *args)
        assert (second["counts"]["inputs"], second["counts"]["articles"]) == (0, 0)
        feed_requests = server.requests_to("/feed.xml")
        assert len(feed_requests) == 2
        assert feed_requests[1].headers.get("if-none-match") == '"v1"'
        health = _health(tmp_path, "run_at, feed_url")
        assert len(health) == 4  # one row per feed per run, each run's in its own files
        latest = {h["feed_url"]: h for h in health[2:]}
        assert latest[server.url("/feed.xml")]["status"] == "not_modified"
        assert latest[server.url("/feed.xml")]["not_modified"] is True
        assert latest[server.url("/atom")]["status"] == "unchanged"  # no ETag: body hash
        assert server.hits["/news/budget"] == 1

        # A new entry: the third run ingests it and only it.
        # (Not ARTICLE_TEXT: that is g1's page, which the dedup state now holds.)
        items.append(("g4", "/news/budget2", f"&lt;p&gt;{OTHER_BODIES['road']}&lt;/p&gt;"))
        server.routes["/feed.xml"] = static(rss(base, items), ETag='"v2"')
        third = _run(tmp_path, *args)
        assert (third["counts"]["inputs"], third["counts"]["articles"]) == (1, 1)
        (article,) = _out(tmp_path, "articles")
        assert (article["entry_id"], article["text_origin"]) == ("g4", "feed_summary")
        seen = _state(state, "feed_state/seen_entries.parquet", "feed_url, entry_id")
        assert len(seen) == 5

        # Polled again at once with --poll_due_only: no feed is due, none is requested.
        hits = dict(server.hits)
        fourth = _run(tmp_path, *args, "--poll_due_only")
        assert fourth["counts"]["inputs"] == 0 and server.hits == hits
        # Counted as not due, not as polled (both before: "4 of 2 due feeds polled").
        assert fourth["counters"]["feeds_not_due"] == 2
        assert fourth["counters"].get("feeds_fetched", 0) == 0
        # Not polled, no health row (review 68: follow mode wrote one per not-due feed per
        # batch); --not_due_health keeps them.
        assert len(_health(tmp_path, "run_at, feed_url")) == 6
        _run(tmp_path, *args, "--poll_due_only", "--not_due_health")
        health = _health(tmp_path, "run_at, feed_url")
        assert [h["status"] for h in health[-2:]] == ["not_due", "not_due"]


def test_bad_feeds_become_rejected_and_health_rows(tmp_path: Path) -> None:
    routes: dict[str, Any] = {
        "/error": lambda request: (500, {}, b"down"),
        "/laughs": static(BILLION_LAUGHS),
        "/page": static(b"<html><body><p>not a feed</p></body></html>", "text/html"),
        "/junk": static(b"\x00\x01binary junk"),
        "/malformed": static(
            rss("http://x", [("m1", "/a", BODY)]).replace(b"</channel></rss>", b"<item>")
        ),
        "/slow": lambda request: (200, {}, lambda out: time.sleep(1.0)),
    }
    state = tmp_path / "state"
    with serve(routes) as server:
        args = [arg for path in routes for arg in ("--feed", server.url(path))]
        slow = ["--fetch_read_timeout", "0.3", "--fetch_retries", "0"]
        manifest = _run(tmp_path, *args, "--no-fetch-pages", "--state", str(state), *slow)
    counts = manifest["counts"]
    # Six feeds: five rejected as feeds; the malformed one gives its good entry and an
    # empty one (the cut-off <item>), which has no text: an input, rejected, not lost.
    assert (counts["inputs"], counts["articles"], counts["rejected"]) == (7, 1, 6)
    assert counts["balanced"] is True
    assert counts["rejected_by"]["feeds"] == {
        "entity_expansion": 1,
        "http_error": 1,
        "no_text": 1,
        "not_a_feed": 2,
        "timeout": 1,
    }
    health_rows = _out(tmp_path, "feed_health", "feed_url")
    health = {h["feed_url"].rsplit("/", 1)[1]: h for h in health_rows}
    assert health["error"]["status"] == "error" and health["error"]["http_status"] == 500
    assert health["malformed"]["status"] == "partial" and health["malformed"]["error"]
    assert health["laughs"]["error"] == "entity_expansion"
    assert (health["slow"]["status"], health["slow"]["error"]) == ("error", "timeout")
    feed_state = {
        r["feed_url"].rsplit("/", 1)[1]: r
        for r in _state(state, "feed_state/feeds.parquet", "feed_url")
    }
    assert feed_state["error"]["consecutive_failures"] == 1
    assert feed_state["laughs"]["consecutive_failures"] == 1  # fetched, but no feed
    assert feed_state["malformed"]["consecutive_failures"] == 0


def test_loopback_refused_without_allow_private_hosts(tmp_path: Path) -> None:
    with serve({"/feed": static(rss("http://x", [("g", "/a", BODY)]))}) as server:
        output = tmp_path / "out"
        assert entry.main(["--feed", server.url("/feed"), "--output", str(output)]) == 0
    (row,) = table_rows(output, "rejected")
    assert (row["stage"], row["reason"]) == ("feeds", "refused_address")
    assert server.log == []


def test_allow_hosts_lets_exactly_the_named_addresses_through(tmp_path: Path, capsys) -> None:
    with serve({"/feed": static(rss("http://x", [("g", "/a", BODY)]))}) as server:
        named, other = tmp_path / "named", tmp_path / "other"
        base = ["--feed", server.url("/feed"), "--no_fetch_pages"]
        assert entry.main([*base, "--allow_hosts", "127.0.0.1,::1", "--output", str(named)]) == 0
        assert entry.main([*base, "--allow_hosts", "10.0.0.0/8", "--output", str(other)]) == 0
        bad = ["--allow_hosts", "300.1.1.1", "--output", str(tmp_path / "bad")]
        assert entry.main([*base, *bad]) == 2
    assert "--allow_hosts: '300.1.1.1' is not an address" in capsys.readouterr().err
    assert len(table_rows(named, "articles")) == 1
    (row,) = table_rows(other, "rejected")
    assert row["reason"] == "refused_address"
    assert len(server.log) == 1


def test_an_entry_without_text_says_why_when_its_page_is_not_fetched(tmp_path: Path) -> None:
    # An entry with a link, whose text is markup only (100,000 nested elements, escaped as
    # a feed carries HTML), read with --no_fetch_pages: its row said "the entry has no
    # link and no text". A saved feed's pages are not fetched without --fetch_file_pages
    # either: its row says so (review 117).
    folder = tmp_path / "in"
    folder.mkdir()
    hidden = "&lt;div&gt;" * 100_000 + BODY
    (folder / "feed.rss").write_bytes(rss("http://x", [("h1", "/h1", hidden), ("e1", "/e1", "")]))
    output = tmp_path / "out"
    assert entry.main(["--input", str(folder), "--output", str(output), "--no_fetch_pages"]) == 0
    rows = table_rows(output, "rejected")
    assert {(row["reason"], row["detail"]) for row in rows} == {
        (
            "no_text",
            "the entry has no text of its own (none left once its markup was removed), and "
            "its page was not fetched: the feed was read from a file (--fetch_file_pages "
            "fetches the pages of saved feeds' entries)",
        )
    }
    assert len(rows) == 2


def test_saved_feed_files_contact_no_host_unless_asked_live_feeds_fetch_pages(
    tmp_path: Path,
) -> None:
    """A crawler's saved feeds read on a host without network: their entries' pages were
    fetched by default, and a resolver that timed out held the run ~5 s a host (164 s for
    the 200 saved feeds of the benchmark). A saved feed's entries are now their own text;
    `--fetch_file_pages` fetches their pages; a feed fetched by URL has its pages fetched
    as before."""
    folder = tmp_path / "in"
    folder.mkdir()
    page = static(ARTICLE_HTML.encode(), "text/html")
    routes = {"/saved/a": page, "/saved/b": page, "/live/a": page}
    with serve(routes) as server:
        base = server.url("")
        saved = [("s1", "/saved/a", f"&lt;p&gt;{BODY}&lt;/p&gt;"), ("s2", "/saved/b", "")]
        (folder / "saved.rss").write_bytes(rss(base, saved))
        server.routes["/live.rss"] = static(rss(base, [("l1", "/live/a", "")]))
        manifest = _run(tmp_path, "--input", str(folder), "--feed", server.url("/live.rss"))
        assert "/saved/a" not in server.hits and "/saved/b" not in server.hits
        assert server.hits.get("/live/a") == 1  # a live feed's page: fetched
        articles = _out(tmp_path, "articles")
        rejected = _out(tmp_path, "rejected")
        asked = tmp_path / "asked"
        assert entry.main([*FAST, "--input", str(folder), "--fetch_file_pages",
                           "--output", str(asked)]) == 0  # fmt: skip
        assert server.hits.get("/saved/a") == 1 and server.hits.get("/saved/b") == 1
    counts = manifest["counts"]
    assert (counts["inputs"], counts["articles"], counts["rejected"]) == (3, 2, 1)
    assert counts["balanced"] is True
    origins = sorted((r["entry_id"], r["text_origin"]) for r in articles)
    assert origins == [("l1", "page"), ("s1", "feed_summary")]
    (row,) = rejected
    assert (row["source"], row["stage"], row["reason"]) == (f"{folder / 'saved.rss'}#s2",
                                                            "feeds", "no_text")  # fmt: skip
    assert "the feed was read from a file (--fetch_file_pages fetches" in row["detail"]
    fetched = run_manifest(asked)["counts"]
    assert (fetched["inputs"], fetched["rejected"], fetched["balanced"]) == (2, 0, True)
    origins = {r["text_origin"] for r in table_rows(asked, "articles")}
    assert origins == {"page"}


def test_feed_files_by_content_and_page_urls(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "noext").write_bytes(rss("http://x", [("f1", "/a", f"&lt;p&gt;{BODY}&lt;/p&gt;")]))
    (folder / "feed.json").write_bytes(
        JSON_FEED.replace(b"Plain text body.", OTHER_BODIES["airport"].encode())
    )
    (folder / "LICENSE").write_text("MIT License\n")
    other = OTHER_BODIES["bridge"]
    robots = static(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    routes = {"/article": static(ARTICLE_HTML.encode(), "text/html"), "/robots.txt": robots}
    with serve(routes) as server:
        base = server.url("")
        # A feed listed in an OPML file, and a feed given as --input URL (read by content).
        server.routes["/listed"] = static(rss(base, [("o1", "/o1", f"&lt;p&gt;{other}&lt;/p&gt;")]))
        server.routes["/by-input"] = static(
            rss(base, [("i1", "/i1", f"&lt;p&gt;{OTHER_BODIES['tunnel']}&lt;/p&gt;")])
        )
        opml = f"<opml version='2.0'><body><outline xmlUrl='{base}/listed'/></body></opml>"
        (folder / "subs.opml").write_text(opml)
        # An OPML file listing nothing: a row saying so (it left no trace at all).
        (folder / "empty.opml").write_text("<opml version='2.0'><body></body></opml>")
        inputs = ["--input", str(folder), "--input", server.url("/article")]
        inputs += ["--input", server.url("/private/article")]  # robots.txt says no
        manifest = _run(tmp_path, *inputs, "--input", server.url("/by-input"), "--no-fetch-pages")
    counts = manifest["counts"]
    # noext: 1 entry; feed.json: 2 (one too short); the page URL; LICENSE rejected; the
    # OPML's feed: 1 entry; the --input feed URL: 1 entry; the page robots.txt refuses;
    # the empty OPML file.
    assert (counts["inputs"], counts["articles"], counts["rejected"]) == (9, 5, 4)
    assert counts["balanced"] is True
    articles = _out(tmp_path, "articles")
    origins = sorted((r["text_origin"], r["entry_id"]) for r in articles)
    assert origins == [
        ("feed_content", "1"),
        ("feed_summary", "f1"),
        ("feed_summary", "i1"),
        ("feed_summary", "o1"),
        ("page", None),
    ]
    rejected = {(r["stage"], r["reason"]) for r in _out(tmp_path, "rejected")}
    assert rejected == {
        ("read", "unsupported_type"),
        ("clean", "too_short"),
        ("feeds", "robots_disallowed"),
        ("feeds", "no_feeds"),
    }
    assert "/private/article" not in server.hits


def test_feeds_on_a_site_found_unreachable_are_not_asked_again_in_the_run(
    tmp_path: Path,
) -> None:
    """Feeds on a site that could not be reached (here: nothing listens on its port) are
    asked once in a run: the others fail at once with the same reason, each its own
    rejected and health row; a feed on another port of the same host is fetched."""
    with serve() as closed:
        down = [closed.url(f"/feed{n}") for n in range(3)]
    with serve({"/feed": static(rss("http://x", [("g", "/a", BODY)]))}) as up:
        args = [arg for url in [*down, up.url("/feed")] for arg in ("--feed", url)]
        manifest = _run(tmp_path, *args, "--no_fetch_pages", "--per_host_concurrency", "1")
    counts = manifest["counts"]
    assert (counts["inputs"], counts["articles"], counts["rejected"]) == (4, 1, 3)
    rejected = _out(tmp_path, "rejected")
    assert {row["reason"] for row in rejected} == {"connection_error"}
    again = [row for row in rejected if "not asked again" in row["detail"]]
    assert len(again) == 2  # the first to fail was asked; the other two were not
    statuses = {row["feed_url"]: row["status"] for row in _health(tmp_path)}
    assert statuses == {**dict.fromkeys(down, "error"), up.url("/feed"): "ok"}


def test_corrupt_feed_state_stops_the_run_and_is_kept(tmp_path: Path) -> None:
    # A state folder of the older layout (moved into versions/legacy by the run, first).
    state = tmp_path / "state"
    (state / "feed_state").mkdir(parents=True)
    (state / "state.json").write_text(json.dumps({"state_version": STATE_VERSION}))
    (state / "feed_state" / "feeds.parquet").write_bytes(b"garbage")
    code = entry.main(
        ["--feed", "http://127.0.0.1:9/f", "--output", str(tmp_path / "o"), "--state", str(state)]
    )
    assert code == 2
    assert (current_state(state) / "feed_state" / "feeds.parquet").read_bytes() == b"garbage"
    assert not (tmp_path / "o").exists()


def test_an_unexpected_parser_exception_is_a_feed_parse_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from newsbeam.transforms.feeds import parse as feeds

    def broken(content: bytes, headers: dict[str, str], url: str, fetched_at: Any) -> None:
        raise RecursionError("deeply nested")

    monkeypatch.setattr(feeds, "parse_feed", broken)
    with pytest.raises(FeedParseError) as failure:
        feeds.parse_feeds_safely(b"<rss/>", {}, "http://x/f")
    assert failure.value.reason == "internal_error" and "RecursionError" in str(failure.value)


@pytest.mark.slow
def test_same_feeds_in_another_order_give_the_same_rows(tmp_path: Path) -> None:
    texts = [BODY] + [OTHER_BODIES[word] for word in ("bridge", "tunnel", "road")]
    with serve() as server:
        base = server.url("")
        for n in range(2):
            items = [
                (f"n{n}e{i}", f"/p{n}{i}", f"&lt;p&gt;{t}&lt;/p&gt;") for i, t in enumerate(texts)
            ]
            server.routes[f"/feed{n}"] = static(rss(base, items))
        # The same page listed twice: one article, one duplicate, whichever feed came first.
        server.routes["/feed2"] = static(
            rss(base, [("d", "/p00", f"&lt;p&gt;{texts[0]}&lt;/p&gt;")])
        )
        urls = [server.url(f"/feed{n}") for n in range(3)]
        tables = []
        for order, folder in ((urls, "a"), (urls[::-1], "b")):
            args = [arg for url in order for arg in ("--feed", url)]
            _run(tmp_path / folder, *args, "--no-fetch-pages")
            articles = _out(tmp_path / folder, "articles", "article_id")
            duplicates = _out(tmp_path / folder, "duplicates")
            for row in articles:
                row.pop("ingested_at")
            tables.append((articles, duplicates))
    assert tables[0] == tables[1]
    assert len(tables[0][0]) == 4 and len(tables[0][1]) == 5


# ---------------------------------------------------------------------------------------
# Moved feeds, robots.txt on redirect hops, pruned seen ids: end to end on 127.0.0.1
# ---------------------------------------------------------------------------------------


def _moved(location: str, status: int = 301) -> Any:
    return lambda request: (status, {"Location": location}, b"")


@pytest.mark.slow
def test_a_permanently_moved_feed_is_polled_at_its_new_url(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with serve() as server:
        base = server.url("")
        items = [("m1", "/m1", f"&lt;p&gt;{BODY}&lt;/p&gt;")]
        server.routes.update(
            {
                "/old": _moved("/mid"),
                "/mid": _moved("/new", 308),
                "/new": static(rss(base, items), ETag='"n1"'),
                "/temp": _moved("/elsewhere", 302),
                "/elsewhere": static(
                    rss(base, [("t1", "/t1", f"&lt;p&gt;{OTHER_BODIES['bridge']}&lt;/p&gt;")])
                ),
            }
        )
        old, new, temp = server.url("/old"), server.url("/new"), server.url("/temp")
        args = ["--feed", old, "--feed", temp, "--state", str(state), "--no-fetch-pages"]
        first = _run(tmp_path, *args)
        assert (first["counts"]["inputs"], first["counts"]["articles"]) == (2, 2)
        health = {h["feed_url"]: h for h in _out(tmp_path, "feed_health", "feed_url")}
        assert (health[old]["status"], health[old]["moved_to"]) == ("ok", new)
        assert health[temp]["moved_to"] is None  # 302: temporary, not moved
        feed_state = {
            r["feed_url"]: r for r in _state(state, "feed_state/feeds.parquet", "feed_url")
        }
        assert (feed_state[old]["moved_to"], feed_state[old]["etag"]) == (new, '"n1"')
        assert feed_state[temp]["moved_to"] is None

        # The next poll goes straight to the new URL (conditionally); /temp is asked again.
        second = _run(tmp_path, *args)
        assert second["counts"]["inputs"] == 0
        assert (server.hits["/old"], server.hits["/mid"], server.hits["/new"]) == (1, 1, 2)
        assert server.requests_to("/new")[1].headers.get("if-none-match") == '"n1"'
        assert (server.hits["/temp"], server.hits["/elsewhere"]) == (2, 2)
        latest = _health(tmp_path, "run_at, feed_url")[2:]
        assert [(h["feed_url"], h["status"], h["moved_to"]) for h in latest] == [
            (old, "not_modified", new),
            (temp, "unchanged", None),
        ]

        # The subscription list now names the new URL: the old URL's state and seen ids
        # carry on. First unchanged (304: nothing parsed), then with one entry published
        # since, which is the only input.
        switched = ["--feed", new, "--state", str(state), "--no-fetch-pages"]
        third = _run(tmp_path, *switched)
        assert third["counts"]["inputs"] == 0
        assert server.requests_to("/new")[2].headers.get("if-none-match") == '"n1"'
        items.append(("m2", "/m2", f"&lt;p&gt;{OTHER_BODIES['road']}&lt;/p&gt;"))
        server.routes["/new"] = static(rss(base, items), ETag='"n2"')
        fourth = _run(tmp_path, *switched)
        assert fourth["counts"]["inputs"] == 1
        (article,) = _out(tmp_path, "articles")
        assert article["entry_id"] == "m2"
        assert server.hits["/old"] == 1
        rows = _health(tmp_path, "run_at")[-2:]
        assert [(r["feed_url"], r["status"], r["moved_to"], r["new_entries"]) for r in rows] == [
            (new, "not_modified", None, 0),
            (new, "ok", None, 1),
        ]


def test_an_entry_page_redirected_to_a_site_whose_robots_txt_refuses_it(tmp_path: Path) -> None:
    """Two servers on 127.0.0.1 (two ports: two sites). Entry pages on the first redirect
    to the second, whose robots.txt disallows /private/: that entry falls back to its
    feed summary, and the refused page is never requested."""
    robots = static(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    other_routes = {
        "/robots.txt": robots,
        "/private/story": static(ARTICLE_HTML.encode(), "text/html"),
        "/news/story": static(ARTICLE_HTML.encode(), "text/html"),
    }
    with serve(other_routes) as other, serve() as first:
        base = first.url("")
        items = [
            ("h1", "/r1", f"&lt;p&gt;{BODY}&lt;/p&gt;"),
            ("h2", "/r2", "Short."),
        ]
        first.routes.update(
            {
                "/r1": _moved(other.url("/private/story"), 302),
                "/r2": _moved(other.url("/news/story")),
                "/feed": static(rss(base, items)),
            }
        )
        manifest = _run(tmp_path, "--feed", first.url("/feed"))
    assert (manifest["counts"]["inputs"], manifest["counts"]["articles"]) == (2, 2)
    articles = {r["entry_id"]: r for r in _out(tmp_path, "articles")}
    assert (articles["h1"]["text_origin"], articles["h1"]["text"]) == ("feed_summary", BODY)
    assert articles["h2"]["text_origin"] == "page"
    assert "northern districts" in articles["h2"]["text"]
    assert "/private/story" not in other.hits
    assert other.hits["/robots.txt"] == 1 and other.hits["/news/story"] == 1
    assert first.hits["/robots.txt"] == 1  # 404 there: no rules, every page allowed


def test_deferred_sources_caps_per_feed_then_per_run_in_turns() -> None:
    wanted = [("a", f"a#{i}") for i in range(5)] + [("b", f"b#{i}") for i in range(2)]
    assert deferred_sources(wanted, 0, 0) == frozenset()
    assert deferred_sources(wanted, 2, 0) == {"a#2", "a#3", "a#4"}
    # In turns across feeds: a#0, b#0, a#1, b#1, then a#2 ...
    assert deferred_sources(wanted, 0, 3) == {"b#1", "a#2", "a#3", "a#4"}
    assert deferred_sources(wanted, 1, 1) == {"a#1", "a#2", "a#3", "a#4", "b#0", "b#1"}


def _counters(manifest: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in manifest["counters"].items() if k.startswith("feeds_pages")}


def test_page_fetches_that_fail_are_counted_and_explained(tmp_path: Path) -> None:
    routes: dict[str, Any] = {
        "/robots.txt": static(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
        "/news/ok": static(ARTICLE_HTML.encode(), "text/html"),
        "/news/gone": lambda request: (404, {}, b"gone"),
        "/private/p": static(ARTICLE_HTML.encode(), "text/html"),
    }
    with serve(routes) as server:
        base = server.url("")
        items = [
            ("p1", "/news/ok", f"&lt;p&gt;{OTHER_BODIES['airport']}&lt;/p&gt;"),
            ("p2", "/news/gone", f"&lt;p&gt;{BODY}&lt;/p&gt;"),
            ("p3", "/private/p", f"&lt;p&gt;{OTHER_BODIES['bridge']}&lt;/p&gt;"),
        ]
        server.routes["/feed.xml"] = static(rss(base, items))
        manifest = _run(tmp_path, "--feed", server.url("/feed.xml"))
    assert _counters(manifest) == {
        "feeds_pages_attempted": 3,
        "feeds_pages_fetched": 1,  # only the page that came back: not the refused ones
        "feeds_pages_failed_http_error": 1,
        "feeds_pages_failed_robots_disallowed": 1,
        "feeds_pages_fallback_http_error": 1,
        "feeds_pages_fallback_robots_disallowed": 1,
    }
    articles = {r["entry_id"]: r for r in _out(tmp_path, "articles")}
    assert articles["p1"]["text_origin"] == "page"
    assert not [r for r in articles["p1"]["removed"] if r["reason"].startswith("page_")]
    for entry_id, reason, words in (
        ("p2", "page_http_error", "HTTP 404"),
        ("p3", "page_robots_disallowed", "robots.txt disallows"),
    ):
        assert articles[entry_id]["text_origin"] == "feed_summary"
        (why,) = [r for r in articles[entry_id]["removed"] if r["reason"].startswith("page_")]
        assert why["reason"] == reason and words in why["text"], why


@pytest.mark.slow
def test_page_fetches_over_the_caps_wait_for_the_next_run(tmp_path: Path) -> None:
    """Entries over the caps are the next run's inputs. A health row's new_entries are the
    feed's inputs of that run: before, the entries left for the next run were counted too,
    and again by each run that took them (5 entries, 2 a run: new_entries 5, 3, 1)."""
    state = tmp_path / "state"
    pages = {f"/news/{i}": static(ARTICLE_HTML.encode(), "text/html") for i in range(5)}
    with serve(pages) as server:
        base = server.url("")
        items = [(f"e{i}", f"/news/{i}", f"&lt;p&gt;{BODY}&lt;/p&gt;") for i in range(5)]
        server.routes["/feed.xml"] = static(rss(base, items), ETag='"v1"')
        args = ["--feed", server.url("/feed.xml"), "--state", str(state)]
        args += ["--max_pages_per_feed", "2"]
        runs = [_run(tmp_path, *args) for _ in range(4)]
        fetched = sorted(path for path in server.hits if path.startswith("/news/"))
    inputs = [run["counts"]["inputs"] for run in runs]
    assert inputs == [2, 2, 1, 0]
    assert all(run["counts"]["balanced"] for run in runs)
    deferred = [run["counters"].get("feeds_pages_deferred", 0) for run in runs]
    assert deferred == [3, 1, 0, 0]
    assert fetched == [f"/news/{i}" for i in range(5)]
    assert all(server.hits[f"/news/{i}"] == 1 for i in range(5))  # each page fetched once
    health = _health(tmp_path, "run_at")
    assert [(h["entries"], h["new_entries"]) for h in health[:3]] == [(5, 2), (5, 2), (5, 1)]
    assert [h["new_entries"] for h in health] == inputs


def _without(schema: pa.Schema, *names: str) -> pa.Schema:
    """`schema` as a state file written before `names` were added had it."""
    return pa.schema([f for f in schema if f.name not in names], metadata=schema.metadata)


def _write_state(
    state: Path,
    feeds: list[FeedState],
    seen: list[SeenEntry],
    health: list[FeedHealth],
    old_layout: bool = False,
) -> None:
    """A --state folder as an older NewsBeam left it (state.json and the tables at the top:
    a run moves them into versions/legacy); `old_layout`: as one before `moved_to` and
    `last_seen_at` existed."""
    (state / "feed_state").mkdir(parents=True)
    (state / "feeds").mkdir()
    (state / "state.json").write_text(json.dumps({"state_version": STATE_VERSION}))
    for rows, schema, path in (
        (feeds, FEED_STATE_SCHEMA, state / "feed_state" / "feeds.parquet"),
        (seen, SEEN_ENTRY_SCHEMA, state / "feed_state" / "seen_entries.parquet"),
        (health, FEED_HEALTH_SCHEMA, state / "feeds" / "health-20240101T000000000000Z.parquet"),
    ):
        if old_layout:
            schema = _without(schema, "moved_to", "last_seen_at", "version")
        table = pa.Table.from_pylist([r._asdict() for r in rows], schema=schema)
        pq.write_table(table, path)


def test_state_written_before_moved_to_and_last_seen_at_reads_and_upgrades(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    long_ago = dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc)
    with serve() as server:
        base = server.url("")
        url = server.url("/feed")
        items = [
            ("g1", "/g1", f"&lt;p&gt;{BODY}&lt;/p&gt;"),
            ("g2", "/g2", f"&lt;p&gt;{OTHER_BODIES['tunnel']}&lt;/p&gt;"),
        ]
        server.routes["/feed"] = static(rss(base, items), ETag='"v2"')
        _write_state(
            state,
            [FeedState(url, '"v1"', None, "h0", long_ago, long_ago, 0, 3600, long_ago)],
            [SeenEntry(url, "g1", long_ago, None), SeenEntry(url, "gone", long_ago, None)],
            [FeedHealth(long_ago, url, "ok", 200, 10, 2, 2, False, None, 5)],
            old_layout=True,
        )
        assert "last_seen_at" not in pq.read_schema(state / "feed_state/seen_entries.parquet").names
        manifest = _run(tmp_path, "--feed", url, "--state", str(state), "--no-fetch-pages")
    assert manifest["counts"]["inputs"] == 1  # g2; g1 was seen before the upgrade
    assert server.requests_to("/feed")[0].headers.get("if-none-match") == '"v1"'
    seen = {r["entry_id"]: r for r in _state(state, "feed_state/seen_entries.parquet", "entry_id")}
    run_at = seen["g2"]["first_seen_at"]
    # Nothing is pruned on a guess: "gone" counts as seen by this run, like g1 and g2.
    assert {k: (r["first_seen_at"] == long_ago, r["last_seen_at"]) for k, r in seen.items()} == {
        "g1": (True, run_at),
        "gone": (True, run_at),
        "g2": (False, run_at),
    }
    assert manifest["counters"].get("feeds_seen_entries_pruned", 0) == 0
    # Seen before versions were kept: no update on that evidence; the version listed now
    # is recorded (the next listing is compared with it).
    assert manifest["counters"].get("feeds_updated_entries", 0) == 0
    assert (bool(seen["g1"]["version"]), seen["gone"]["version"]) == (True, None)
    (feed_row,) = _state(state, "feed_state/feeds.parquet", "feed_url")
    assert (feed_row["etag"], feed_row["moved_to"]) == ('"v2"', None)
    # The old layout's health file stays behind in versions/legacy: health is the dataset's.
    assert not (current_state(state) / "feeds").exists()
    (health,) = _out(tmp_path, "feed_health", "run_at")
    assert (health["run_at"] == long_ago, health["moved_to"]) == (False, None)


def test_seen_entries_not_listed_for_long_are_pruned(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    long_ago, recently = now - 200 * DAY, now - 10 * DAY
    with serve() as server:
        base = server.url("")
        url = server.url("/feed")
        items = [
            ("listed", "/l", f"&lt;p&gt;{BODY}&lt;/p&gt;"),
            ("fresh", "/f", f"&lt;p&gt;{OTHER_BODIES['airport']}&lt;/p&gt;"),
        ]
        server.routes["/feed"] = static(rss(base, items))
        dropped = "http://dropped.example/feed"  # unsubscribed: polled 200 days ago
        states = [
            FeedState(url, None, None, "h0", recently, recently, 0, 3600, recently),
            FeedState(dropped, None, None, "h1", long_ago, long_ago, 0, 3600, long_ago),
        ]
        seen = [
            SeenEntry(url, "listed", long_ago, long_ago),  # old, but the feed still lists it
            SeenEntry(url, "gone", long_ago, long_ago),
            SeenEntry(url, "recent", long_ago, recently),
            SeenEntry(dropped, "d1", long_ago, long_ago),
        ]
        health = [FeedHealth(recently, url, "ok", 200, 10, 3, 1, False, None, 5)]
        _write_state(tmp_path / "state", states, seen, health)
        shutil.copytree(tmp_path / "state", tmp_path / "forever")

        manifest = _run(tmp_path, "--feed", url, "--state", str(tmp_path / "state"),
                        "--no-fetch-pages")  # fmt: skip
        assert manifest["counts"]["inputs"] == 1  # "fresh"; "listed" is not ingested again
        assert manifest["counters"]["feeds_seen_entries_pruned"] == 2
        kept = _state(tmp_path / "state", "feed_state/seen_entries.parquet", "feed_url, entry_id")
        assert [(r["feed_url"], r["entry_id"]) for r in kept] == [
            (url, "fresh"),
            (url, "listed"),
            (url, "recent"),
        ]
        listed = kept[1]
        assert listed["first_seen_at"] == long_ago and listed["last_seen_at"] > recently

        forever = _run(tmp_path, "--feed", url, "--state", str(tmp_path / "forever"),
                       "--no-fetch-pages", "--seen_entries_days", "0")  # fmt: skip
        assert forever["counters"].get("feeds_seen_entries_pruned", 0) == 0
        assert len(_state(tmp_path / "forever", "feed_state/seen_entries.parquet", "entry_id")) == 5


def test_read_feeds_in_beam_continues_from_earlier_feed_state(tmp_path: Path) -> None:
    """ReadFeeds on its own (TestPipeline) with a real earlier state folder: it polls with
    the stored ETag, skips the seen entry, and writes the new feed tables into staging; a
    run that reads no feed writes no feed table (the earlier ones are carried over)."""
    state, long_ago = tmp_path / "state", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    fetch = FetchConfig(allow_private_hosts=True, per_host_interval_seconds=0, max_retries=0)
    with serve() as server:
        url = server.url("/feed")
        items = [
            ("g1", "/g1", f"&lt;p&gt;{BODY}&lt;/p&gt;"),
            ("g2", "/g2", f"&lt;p&gt;{BODY}&lt;/p&gt;"),
        ]
        server.routes["/feed"] = static(rss(server.url(""), items), ETag='"v2"')
        _write_state(
            state,
            [FeedState(url, '"v1"', None, "h0", long_ago, long_ago, 0, 3600, long_ago)],
            [SeenEntry(url, "g1", long_ago, long_ago)],
            [FeedHealth(long_ago, url, "ok", 200, 10, 1, 1, False, None, 5)],
        )
        recover_state(str(state), lambda *run: False)  # what a run does first: migrate it
        context, opened = open_state(state, NOW)
        assert opened is not None
        staging = Path(opened.version_dir)
        config = FeedsConfig(feed_urls=(url,), fetch_pages=False, fetch=fetch)
        with make_test_pipeline() as pipeline:
            articles, rejected, health_rows = (
                pipeline | beam.Create([]) | ReadFeeds(config, state=context)
            )
            assert_that(articles | beam.Map(lambda a: a.source), equal_to([f"{url}#g2"]))
            assert_that(rejected, equal_to([]), label="NoneRejected")
            assert_that(
                health_rows | beam.Map(lambda h: (h.feed_url, h.entries, h.new_entries)),
                equal_to([(url, 2, 1)]),
                label="OneHealthRow",
            )
        assert server.requests_to("/feed")[0].headers.get("if-none-match") == '"v1"'
    (feed_row,) = _rows(f"{staging}/feed_state/feeds.parquet", "feed_url")
    assert (feed_row["etag"], feed_row["last_fetch_at"]) == ('"v2"', NOW)
    seen = _rows(f"{staging}/feed_state/seen_entries.parquet", "entry_id")
    assert [(r["entry_id"], r["first_seen_at"] == long_ago) for r in seen] == [
        ("g1", True),
        ("g2", False),
    ]
    assert not (staging / "feeds").exists()  # health rows are an output (above), not state
    shutil.rmtree(staging)

    context, opened = open_state(state, NOW)
    assert opened is not None
    staging = Path(opened.version_dir)
    with make_test_pipeline() as pipeline:
        _ = pipeline | beam.Create([]) | ReadFeeds(FeedsConfig(), state=context)
    # Nothing read: nothing written (prepare_state carries the earlier tables over).
    assert not staging.exists() or list(staging.rglob("*")) == []
    shutil.rmtree(staging, ignore_errors=True)


def test_entry_dates_keep_their_precision() -> None:
    feed = (
        b"<rss version='2.0'><channel><title>T</title>"
        b"<item><guid>a</guid><title>A</title><pubDate>Thu, 14 Mar 2024 09:30:00 GMT</pubDate>"
        b"<description>x</description></item>"
        b"<item><guid>b</guid><title>B</title><pubDate>14 Mar 2024</pubDate>"
        b"<description>y</description></item></channel></rss>"
    )
    parsed = parse_feed(feed, {}, "http://127.0.0.1/feed.xml")
    by_id = {e.title: (e.published_at, e.published_precision) for e in parsed.entries}
    assert by_id["A"] == (dt.datetime(2024, 3, 14, 9, 30, tzinfo=dt.timezone.utc), "second")
    assert by_id["B"] == (dt.datetime(2024, 3, 14, tzinfo=dt.timezone.utc), "day")


def test_a_json_feed_listing_an_id_twice_gives_one_entry(tmp_path: Path) -> None:
    """As an RSS or Atom feed does: the first item of an id is the entry. Before, a JSON
    Feed gave both, two inputs with one `source`, the second a duplicate of the first."""
    items = [
        {"id": "same", "title": "First", "content_text": OTHER_BODIES["bridge"]},
        {"id": "same", "title": "Again", "content_text": OTHER_BODIES["tunnel"]},
        {"id": "other", "title": "Other", "content_text": OTHER_BODIES["road"]},
    ]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    content = json.dumps(document).encode()
    parsed = parse_feed(content, {}, "http://127.0.0.1/feed.json")
    assert [(e.entry_id, e.title) for e in parsed.entries] == [
        ("same", "First"),
        ("other", "Other"),
    ]

    with serve({"/feed.json": static(content, "application/feed+json")}) as server:
        manifest = _run(tmp_path, "--feed", server.url("/feed.json"), "--no_fetch_pages")
    counts = manifest["counts"]
    assert (counts["inputs"], counts["articles"], counts["duplicates"]) == (2, 2, 0)
    (health,) = _health(tmp_path)
    assert (health["entries"], health["new_entries"]) == (2, 2)


def test_a_json_feed_s_lone_surrogate_in_a_tag_or_name_is_made_valid(tmp_path: Path) -> None:
    """Found by tests/test_properties.py: a JSON Feed's "\\ud800" escape in a tag or an
    author's name stayed a lone surrogate in the entry, which the article of its fetched
    page kept (its text the page's): the whole run failed at the write, UnicodeEncodeError,
    nothing committed."""
    item = {"id": "1", "url": "/p/1", "title": "T", "content_text": "A teaser."}
    item |= {"tags": ["Politik\ud800"], "authors": [{"name": "Jane \ud800Doe"}]}
    content = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [item]})
    (entry,) = parse_feed(content.encode(), {}, "http://127.0.0.1/feed.json").entries
    assert (entry.categories, entry.authors) == (["Politik\ufffd"], ["Jane \ufffdDoe"])

    routes = {
        "/feed.json": static(content.encode(), "application/feed+json"),
        "/p/1": static(ARTICLE_HTML.encode(), "text/html; charset=utf-8"),
    }
    with serve(routes) as server:
        manifest = _run(tmp_path, "--feed", server.url("/feed.json"))
    assert (manifest["counts"]["inputs"], manifest["counts"]["articles"]) == (1, 1)
    (article,) = _out(tmp_path, "articles")
    assert article["text_origin"] == "page"
    assert article["feed_categories"] == ["Politik\ufffd"]


def test_poll_due_only_never_skips_an_input_url(tmp_path: Path) -> None:
    """An `--input https://...` page that failed once had feed state (a next poll two hours
    on), so a later run with --poll_due_only skipped it as `not_due`: the input named on
    the command line ended in no table. --poll_due_only is for feeds polled on a schedule."""
    route = _first_then_page(ARTICLE_HTML.encode())
    with serve({"/news/budget": route}) as server:
        url = server.url("/news/budget")
        args = ["--input", url, "--state", str(tmp_path / "state"), "--fetch_retries", "0"]
        first = _run(tmp_path, *args)
        assert (first["counts"]["inputs"], first["counts"]["rejected"]) == (1, 1)
        second = _run(tmp_path, *args, "--poll_due_only")
        assert server.hits["/news/budget"] == 2
    assert (second["counts"]["inputs"], second["counts"]["articles"]) == (1, 1)
    (article,) = _out(tmp_path, "articles")
    assert article["source"] == url and "northern districts" in article["text"]


def test_an_input_page_is_read_again_only_when_it_changed(tmp_path: Path) -> None:
    """With --state an `--input https://...` page was fetched and read by every run (follow
    mode: every batch), an exact copy of itself each time, a `duplicates` row a run. It
    keeps a feed's state now: asked again with its ETag (304) or found with the same body,
    an unchanged page gives no input, as an unchanged file gives none; a changed one is
    read."""
    body = ARTICLE_HTML.encode()
    routes = {
        "/news/plain": static(body, "text/html"),
        "/news/tagged": static(body.replace(b"Budget", b"Council budget"), "text/html", ETag='"1"'),
    }
    with serve(routes) as server:
        args = ["--state", str(tmp_path / "state")]
        args += ["--input", server.url("/news/plain"), "--input", server.url("/news/tagged")]
        runs = [_run(tmp_path, *args), _run(tmp_path, *args)]
        changed = body.replace(b"northern districts", b"northern and coastal districts")
        server.routes["/news/plain"] = static(changed, "text/html")
        runs.append(_run(tmp_path, *args))
    assert [run["counts"]["inputs"] for run in runs] == [2, 0, 1]
    assert [run["counts"]["duplicates"] for run in runs] == [1, 0, 1]  # run 3: an update
    polls = sorted((h["run_at"], h["feed_url"].rsplit("/", 1)[1], h["status"], h["new_entries"])
                   for h in _health(tmp_path))  # fmt: skip
    assert [poll[1:] for poll in polls] == [
        ("plain", "ok", 1), ("tagged", "ok", 1),
        ("plain", "unchanged", 0), ("tagged", "not_modified", 0),
        ("plain", "ok", 1), ("tagged", "not_modified", 0),
    ]  # fmt: skip


def _first_then_page(body: bytes) -> Any:
    """A route that fails (503) the first time and serves `body` as HTML after."""

    def route(request: Any) -> tuple[int, dict[str, str], bytes]:
        if request.hit == 1:
            return 503, {"Content-Type": "text/plain"}, b"busy"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, body

    return route


def test_the_summary_counts_feeds_that_failed_not_entries_rejected(tmp_path: Path) -> None:
    """The summary's "N errors" counted every rejected row of the feeds stage, entries
    with no text among them: 278 feeds, 3 failing, read "151 errors"."""
    items = b"".join(b"<item><guid>e%d</guid><title>Headline</title></item>" % i for i in range(3))
    no_text = b"<rss version='2.0'><channel><title>T</title>" + items + b"</channel></rss>"
    routes = {"/titles": static(no_text), "/gone": lambda request: (410, {}, b"gone")}
    with serve(routes) as server:
        manifest = _run(
            tmp_path, "--feed", server.url("/titles"), "--feed", server.url("/gone"),
            "--no_fetch_pages",
        )  # fmt: skip
    assert (manifest["counts"]["inputs"], manifest["counts"]["rejected"]) == (4, 4)
    statuses = sorted(h["status"] for h in _health(tmp_path))
    assert statuses == ["error", "ok"]
    summary = feeds_summary(manifest["counters"])
    assert summary is not None and "2 polled" in summary and " 1 errors" in summary, summary


@pytest.mark.slow
def test_entries_over_the_caps_with_a_hash_in_their_id_come_in_later(tmp_path: Path) -> None:
    """Ids such as a live blog's `https://site/live#post-1`: the feed of a deferred entry
    was found by cutting its source at the last `#`, which gave no feed, so the feed kept
    its ETag, answered 304, and the deferred entries never came in while it was quiet."""
    state = tmp_path / "state"
    pages = {f"/news/{i}": static(ARTICLE_HTML.encode(), "text/html") for i in range(3)}
    with serve(pages) as server:
        base = server.url("")
        summary = f"&lt;p&gt;{BODY}&lt;/p&gt;"
        items = [(f"{base}/live#post-{i}", f"/news/{i}", summary) for i in range(3)]
        server.routes["/feed.xml"] = static(rss(base, items), ETag='"v1"')
        args = ["--feed", server.url("/feed.xml"), "--state", str(state)]
        args += ["--max_pages_per_feed", "1"]
        runs = [_run(tmp_path, *args) for _ in range(4)]
    assert [run["counts"]["inputs"] for run in runs] == [1, 1, 1, 0]
    assert all(server.hits[f"/news/{i}"] == 1 for i in range(3))


def test_only_feeds_wait_their_turn() -> None:
    from newsbeam.transforms.feeds.stage import FeedSource, waits_its_turn

    now = dt.datetime(2024, 5, 14, tzinfo=dt.timezone.utc)
    failed = FeedState("http://x/p", None, None, None, now, None, 1, 7200, now)
    read = failed._replace(body_hash="h", consecutive_failures=0)
    assert waits_its_turn(FeedSource("http://x/f", "feed"), None)
    assert not waits_its_turn(FeedSource("http://x/p", "auto"), None)
    assert not waits_its_turn(FeedSource("http://x/p", "auto"), failed)  # a page that failed
    assert waits_its_turn(FeedSource("http://x/p", "auto"), read)  # read as a feed before


def test_a_feed_answering_retry_after_is_not_polled_before_it(tmp_path: Path) -> None:
    """A 429/503 whose Retry-After is over --fetch_max_retry_after fails the poll; the next
    poll then came after the failure interval alone (2 hours by default), whatever the
    server asked. It now comes no sooner than Retry-After (seconds or an HTTP date), within
    the longest interval (a day)."""
    from newsbeam.transforms.feeds.polling import retry_after_seconds

    now = dt.datetime(2024, 5, 14, tzinfo=dt.timezone.utc)
    assert retry_after_seconds("7200", now) == 7200
    assert retry_after_seconds("Tue, 14 May 2024 03:00:00 GMT", now) == 3 * 3600
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("Mon, 13 May 2024 00:00:00 GMT", now) == 0

    routes = {"/busy": lambda request: (429, {"Retry-After": "18000"}, b"later")}
    with serve(routes) as server:
        url = server.url("/busy")
        state = tmp_path / "state"
        _run(tmp_path, "--feed", url, "--state", str(state), "--fetch_retries", "0")
    (row,) = _state(state, "feed_state/feeds.parquet", "feed_url")
    waited = (row["next_poll_at"] - row["last_fetch_at"]).total_seconds()
    assert waited == 18000 and row["consecutive_failures"] == 1


def test_failures_back_off_from_a_feeds_own_pace_and_recovery_resumes_it() -> None:
    """A failure backed off from --initial_poll_seconds, not from the feed's pace: a feed
    polled every 15 minutes was next polled two hours after one 503 and took hours of
    halving to come back (its entries scrolling off unread), a daily one was polled every
    two hours while it failed."""
    config = FeedsConfig(poll_jitter=0)  # 15 minutes to a day, starting from an hour
    now = dt.datetime(2024, 5, 14, tzinfo=dt.timezone.utc)
    ok = FetchResult("u", "u", 200, {"etag": '"e"'}, b"x", None, "", 5)
    down = ok._replace(http_status=503, headers={}, error="http_error")
    busy = FeedState("u", '"e"', None, "h", now, now, 0, 900, now)
    failed = next_feed_state(busy, "u", down, 0, None, now, config)
    assert failed.next_poll_at == now + dt.timedelta(minutes=30)  # was 2 hours
    again = next_feed_state(failed, "u", down, 0, None, now, config)
    assert again.next_poll_at == now + dt.timedelta(hours=1)
    back = next_feed_state(again, "u", ok, 2, "h2", now, config)
    assert (back.poll_interval_seconds, back.consecutive_failures) == (900, 0)  # was 2 hours
    daily = busy._replace(poll_interval_seconds=86400)
    assert next_feed_state(daily, "u", down, 0, None, now, config).next_poll_at == now + DAY


def test_the_back_off_of_a_failing_feed_is_capped() -> None:
    """A feed polled every 15 minutes that failed for hours was backed off to a day (the
    wait doubled per failure, 16 h after seven), so it was polled again up to a day after
    it came back, and a busy feed's entries scrolled off it unread meanwhile. The back-off
    now stops at --max_backoff_seconds (an hour), or the feed's own interval when longer;
    a Retry-After still asks for longer."""
    config = FeedsConfig(poll_jitter=0)
    now = dt.datetime(2024, 5, 14, tzinfo=dt.timezone.utc)
    down = FetchResult("u", "u", 503, {}, b"", "http_error", "HTTP 503", 5)
    state = FeedState("u", None, None, "h", now, now, 0, 900, now)
    waits = []
    for _ in range(12):  # three hours of failures at the capped pace
        state = next_feed_state(state, "u", down, 0, None, now, config)
        waits.append((state.next_poll_at - now).total_seconds())
    assert waits == [1800, 3600] + [3600] * 10  # was 1800, 3600, 7200, ... 86400
    assert state.poll_interval_seconds == 900  # its pace, for when it answers again
    slow = FeedState("u", None, None, "h", now, now, 0, 6 * 3600, now)
    failed = next_feed_state(slow, "u", down, 0, None, now, config)
    assert failed.next_poll_at == now + dt.timedelta(hours=6)  # never sooner than its pace
    wider = FeedsConfig(poll_jitter=0, max_backoff_seconds=4 * 3600)
    assert backoff_seconds(900, 5, wider) == 4 * 3600
    asked = down._replace(headers={"retry-after": "10800"})
    told = next_feed_state(state, "u", asked, 0, None, now, config)
    assert told.next_poll_at == now + dt.timedelta(hours=3)


def test_next_poll_times_are_spread_by_a_jitter_that_is_no_dice() -> None:
    """300 feeds polled at one tick with one interval fell due at one tick again, poll
    after poll: bursts at every host they share. Each next poll time now moves by up to
    --poll_jitter (10%) of its wait, either way, by a hash of the feed and the poll time:
    spread, and the same again for the same polls."""
    config = FeedsConfig()
    now = dt.datetime(2024, 5, 14, tzinfo=dt.timezone.utc)
    ok = FetchResult("u", "u", 200, {}, b"x", None, "", 5)
    urls = [f"http://feeds.example/{n}" for n in range(300)]
    after = [next_feed_state(None, url, ok, 0, "h", now, config) for url in urls]
    waits = [(state.next_poll_at - now).total_seconds() for state in after]
    assert all(5400 * 0.9 <= wait <= 5400 * 1.1 for wait in waits)
    assert len({round(wait) for wait in waits}) > 250  # was one time for all 300
    assert all(state.poll_interval_seconds == 5400 for state in after)  # the pace unmoved
    again = [next_feed_state(None, url, ok, 0, "h", now, config) for url in urls]
    assert again == after  # no randomness: the same polls give the same state
    assert jittered(900, "u", now, 0) == 900
    plain = FeedsConfig(poll_jitter=0)
    assert next_feed_state(None, "u", ok, 0, "h", now, plain).next_poll_at == now + dt.timedelta(
        seconds=5400
    )
    floor = FeedsConfig(min_poll_seconds=900, initial_poll_seconds=900)
    busy = [next_feed_state(None, url, ok, 3, "h", now, floor) for url in urls]
    assert min(state.next_poll_at for state in busy) >= now + dt.timedelta(seconds=900)


@pytest.mark.slow
def test_a_busy_feed_that_failed_once_is_polled_at_its_pace_again(tmp_path: Path) -> None:
    """Runs against a real server: a feed with news at every poll, then one 503, then news
    again. Its state after each run says when it is next due."""
    state = tmp_path / "state"
    answers = iter([200, 503, 200])
    items: list[tuple[str, str, str]] = []

    def feed(request: Any) -> tuple[int, dict[str, str], bytes]:
        status = next(answers)
        if status != 200:
            return status, {}, b"down"
        key = sorted(OTHER_BODIES)[len(items)]
        items.append((key, f"/news/{key}", OTHER_BODIES[key]))
        return 200, {"Content-Type": "application/rss+xml"}, rss(base, items)

    with serve({"/feed.xml": feed}) as server:
        base = server.url("")
        args = ["--feed", server.url("/feed.xml"), "--state", str(state), "--no_fetch_pages"]
        args += ["--fetch_retries", "0", "--min_poll_seconds", "60"]
        args += ["--initial_poll_seconds", "3600", "--poll_jitter", "0"]
        waits = []
        for _ in range(3):
            _run(tmp_path, *args)
            (row,) = _state(state, "feed_state/feeds.parquet", "feed_url")
            waits.append((row["next_poll_at"] - row["last_fetch_at"]).total_seconds())
    # News halves the pace (3600 -> 1800); the 503 waits twice the pace (was 7200, from
    # the initial interval); news again halves the pace it had (was 3600).
    assert waits == [1800, 3600, 900]


@pytest.mark.slow
def test_an_entry_whose_page_failed_for_now_is_offered_again(tmp_path: Path) -> None:
    """An entry with no text of its own whose page failed (503, a timeout) was rejected and
    marked seen: never fetched again, though the page came back a minute later. With
    --state it is offered again by up to --page_retry_runs later runs (each rejection says
    so, the feed is parsed in full though it answers 304); a page failing for good (404)
    is not."""
    state = tmp_path / "state"
    busy_until = {"run": 2}  # /news/busy answers 503 during runs 1 and 2

    def busy(request: Any) -> tuple[int, dict[str, str], bytes]:
        if run_number["now"] <= busy_until["run"]:
            return 503, {"Content-Type": "text/plain"}, b"busy"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, ARTICLE_HTML.encode()

    run_number = {"now": 0}
    routes: dict[str, Any] = {
        "/news/busy": busy,
        "/news/down": lambda request: (503, {}, b"down"),
        "/news/gone": lambda request: (404, {}, b"gone"),
    }
    with serve(routes) as server:
        items = [(name, f"/news/{name}", "") for name in ("busy", "down", "gone")]
        server.routes["/feed.xml"] = static(rss(server.url(""), items), ETag='"v1"')
        args = ["--feed", server.url("/feed.xml"), "--state", str(state)]
        args += ["--page_retry_runs", "2", "--fetch_retries", "0"]
        runs, rejected = [], []
        for number in range(1, 5):
            run_number["now"] = number
            runs.append(_run(tmp_path, *args))
            rows = _out(tmp_path, "rejected")
            rejected.append({row["source"].rsplit("#", 1)[1]: row["detail"] for row in rows})
    assert [run["counts"]["inputs"] for run in runs] == [3, 2, 2, 0]
    assert [run["counts"]["articles"] for run in runs] == [0, 0, 1, 0]
    assert all(run["counts"]["balanced"] for run in runs)
    expected = [["busy", "down", "gone"], ["busy", "down"], ["down"], []]
    assert [sorted(r) for r in rejected] == expected
    assert "offers the entry again (1 of 2)" in rejected[0]["busy"]
    assert "offers the entry again (2 of 2)" in rejected[1]["down"]
    assert "again" not in rejected[0]["gone"]  # a 404 fails the same again
    assert "again" not in rejected[2]["down"]  # given up: seen from now on
    assert [run["counters"].get("feeds_pages_retry_later", 0) for run in runs] == [2, 2, 0, 0]
    seen_rows = _state(state, "feed_state/seen_entries.parquet", "entry_id")
    seen = {row["entry_id"]: row["page_failures"] for row in seen_rows}
    assert seen == {"busy": 0, "down": 0, "gone": 0}
    assert [h["new_entries"] for h in _health(tmp_path, "run_at")] == [3, 2, 2, 0]


def _rss_item_dates(*dates: str) -> dict[str, tuple[dt.datetime | None, str | None]]:
    items = "".join(
        f"<item><guid isPermaLink='false'>d{n}</guid><pubDate>{date}</pubDate></item>"
        for n, date in enumerate(dates)
    )
    feed = f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode()
    parsed = parse_feed(feed, {}, "http://127.0.0.1/feed.xml")
    return {dates[int(e.entry_id[1:])]: (e.published_at, e.published_precision)
            for e in parsed.entries}  # fmt: skip


def test_entry_dates_are_read_in_their_stated_zone() -> None:
    """feedparser read every zone abbreviation but the US ones as UTC (10:00 CEST came out
    10:00 UTC), dropped PM, and gave no date for a time without a zone or after a day
    named in another language; the pipeline's own date reader is used first."""
    utc = dt.timezone.utc
    dates = _rss_item_dates(
        "Tue, 14 May 2024 10:00:00 CEST",
        "Tue, 14 May 2024 10:00:00 AEST",
        "Tue, 14 May 2024 10:00:00 BST",
        "Tue, 14 May 2024 10:00:00",
        "Sat, Dec 16 2023 02:02:33 PM",
        "mer, 16 nov 2022 00:38:15 +0100",
        "Tue, 14 May 2024 10:00:00 EDT",
        "14 May 2024",
        "Mon, 01 Jan 0001 00:00:00 +0000",  # a placeholder for no date (dateutil: 2001)
    )
    assert dates == {
        "Tue, 14 May 2024 10:00:00 CEST": (dt.datetime(2024, 5, 14, 8, tzinfo=utc), "second"),
        "Tue, 14 May 2024 10:00:00 AEST": (dt.datetime(2024, 5, 14, 0, tzinfo=utc), "second"),
        "Tue, 14 May 2024 10:00:00 BST": (dt.datetime(2024, 5, 14, 9, tzinfo=utc), "second"),
        "Tue, 14 May 2024 10:00:00": (dt.datetime(2024, 5, 14, 10, tzinfo=utc), "second"),
        "Sat, Dec 16 2023 02:02:33 PM": (
            dt.datetime(2023, 12, 16, 14, 2, 33, tzinfo=utc),
            "second",
        ),
        "mer, 16 nov 2022 00:38:15 +0100": (
            dt.datetime(2022, 11, 15, 23, 38, 15, tzinfo=utc),
            "second",
        ),
        "Tue, 14 May 2024 10:00:00 EDT": (dt.datetime(2024, 5, 14, 14, tzinfo=utc), "second"),
        "14 May 2024": (dt.datetime(2024, 5, 14, tzinfo=utc), "day"),
        "Mon, 01 Jan 0001 00:00:00 +0000": (None, None),
    }


def test_html_titles_are_read_as_text_and_ids_are_kept() -> None:
    """feedparser gives RSS titles with escaped markup or references, and Atom titles of
    type html or xhtml, as HTML: the article's title is their text. A plain title (type
    text) keeps its "<" and "&"; hashed ids (no guid, no link) are those of before."""
    guid = "<guid isPermaLink='false'>{}</guid>"
    rss_feed = (
        "<rss version='2.0'><channel><title>T</title>"
        f"<item>{guid.format('a')}<title>Tom &amp;amp; Jerry: &lt;b&gt;bold&lt;/b&gt;</title>"
        f"</item><item>{guid.format('b')}"
        "<title><![CDATA[Rock &amp; Roll <em>returns</em>]]></title></item>"
        f"<item>{guid.format('c')}<title>Caf&amp;eacute; &amp;#8216;Nord&amp;#8217;</title>"
        "</item><item><title>Fish &amp;amp; chips</title><description>x</description></item>"
        "</channel></rss>"
    ).encode()
    atom_feed = (
        b"<feed xmlns='http://www.w3.org/2005/Atom'><title>A</title>"
        b"<entry><id>urn:h</id><title type='html'>Rates &lt;i&gt;rise&lt;/i&gt;</title></entry>"
        b"<entry><id>urn:x</id><title type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>"
        b"An <b>xhtml</b>\n title</div></title></entry>"
        b"<entry><id>urn:t</id><title type='text'>AT&amp;T &lt; Verizon</title></entry></feed>"
    )
    titles = {
        e.entry_id: e.title
        for feed in (rss_feed, atom_feed)
        for e in parse_feed(feed, {}, "http://127.0.0.1/feed.xml").entries
    }
    digest = hashlib.sha1(b"Fish &amp; chips\nx").hexdigest()[:20]  # feedparser's title
    assert titles == {
        "a": "Tom & Jerry: bold",
        "b": "Rock & Roll returns",
        "c": "Caf\u00e9 \u2018Nord\u2019",
        f"sha1:{digest}": "Fish & chips",
        "urn:h": "Rates rise",
        "urn:x": "An xhtml title",
        "urn:t": "AT&T < Verizon",
    }


def test_an_id_that_names_no_page_is_no_link() -> None:
    """feedparser makes an entry's id its link when it has none; a `tag:` or `urn:` id
    became the article's url and a page fetch refused for its scheme. The id stays."""
    feed = (
        b"<feed xmlns='http://www.w3.org/2005/Atom'><title>A</title>"
        b"<entry><id>tag:blogger.com,1999:post-1</id><title>No link</title></entry>"
        b"<entry><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id><title>U</title></entry>"
        b"<entry><id>urn:e</id><title>Linked</title><link href='/posts/1'/></entry></feed>"
    )
    parsed = parse_feed(feed, {}, "http://127.0.0.1/feed.xml")
    assert [(e.entry_id, e.link) for e in parsed.entries] == [
        ("tag:blogger.com,1999:post-1", None),
        ("urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a", None),
        ("urn:e", "http://127.0.0.1/posts/1"),
    ]


def test_feed_entries_from_the_wild_end_as_articles_with_text_titles_and_zoned_dates(
    tmp_path: Path,
) -> None:
    """End to end: an HTML-escaped title, a CEST date and a `tag:` id without a link reach
    the articles table as text, in UTC, and without a url (no page fetch was tried)."""
    utc = dt.timezone.utc
    with serve() as server:
        feed = (
            "<rss version='2.0'><channel><title>T</title>"
            "<item><guid>tag:example.org,2024:1</guid>"
            "<title>Ferry &amp;amp; harbour: &lt;b&gt;terminal&lt;/b&gt; opens</title>"
            f"<pubDate>Tue, 14 May 2024 10:00:00 CEST</pubDate><description>{BODY}"
            "</description></item></channel></rss>"
        ).encode()
        server.routes["/feed.xml"] = static(feed)
        manifest = _run(tmp_path, "--feed", server.url("/feed.xml"))
        fetched = [request.path for request in server.log]
    assert fetched == ["/feed.xml"]
    assert "feeds_pages_attempted" not in _counters(manifest)
    (article,) = _out(tmp_path, "articles")
    assert (article["entry_id"], article["url"], article["text_origin"]) == (
        "tag:example.org,2024:1",
        None,
        "feed_summary",
    )
    assert article["title"] == "Ferry & harbour: terminal opens"
    assert article["published_at"] == dt.datetime(2024, 5, 14, 8, tzinfo=utc)


def test_a_page_with_under_half_the_feeds_own_text_gives_way_to_it() -> None:
    entry = ENTRY._replace(content=f"<p>{BODY}</p><p>{OTHER_BODIES['road']}</p>")
    own = len(BODY.split()) + len(OTHER_BODIES["road"].split())
    teaser = "The harbour authority said on Monday. Subscribe to continue reading."
    assert page_falls_short(teaser, entry) == (10, own)
    assert page_falls_short(f"{BODY}\n\n{OTHER_BODIES['road']}", entry) is None
    assert page_falls_short(BODY, entry) is None  # over half: the page is the story
    assert page_falls_short("", ENTRY._replace(content=None, summary=None)) is None


def test_a_paywalled_page_gives_way_to_the_full_text_the_feed_carries(tmp_path: Path) -> None:
    """A feed with the story in content:encoded and a page behind a paywall (its first
    paragraph and a subscribe prompt): the article was the page's one paragraph. The
    feed's text is the article now, the page's fate in `removed`; a full page still wins."""
    paywall = (
        "<html lang='en'><head><title>Ferry terminal</title></head><body><article>"
        "<h1>Ferry terminal</h1><p>The harbour authority said on Monday that the new ferry "
        "terminal would open next year.</p><p>Subscribe to continue reading. Already a "
        "subscriber? Log in.</p></article></body></html>"
    )
    full = f"<p>{BODY}</p><p>{OTHER_BODIES['road']}</p><p>{OTHER_BODIES['airport']}</p>"
    routes: dict[str, Any] = {
        "/robots.txt": static(b"", "text/plain"),
        "/news/paywalled": static(paywall.encode(), "text/html"),
        "/news/open": static(ARTICLE_HTML.encode(), "text/html"),
    }
    with serve(routes) as server:
        base = server.url("")
        items = [("pw", "/news/paywalled", ""), ("ok", "/news/open", "")]
        feed = rss(base, items).replace(
            b"<description></description>",
            f"<description><![CDATA[{full}]]></description>".encode(),
            1,
        )
        server.routes["/feed.xml"] = static(feed)
        manifest = _run(tmp_path, "--feed", server.url("/feed.xml"))
    articles = {r["entry_id"]: r for r in _out(tmp_path, "articles")}
    assert articles["ok"]["text_origin"] == "page"
    paywalled = articles["pw"]
    assert paywalled["text_origin"] == "feed_summary"
    assert OTHER_BODIES["airport"] in paywalled["text"]
    (why,) = [r for r in paywalled["removed"] if r["reason"].startswith("page_")]
    assert why["reason"] == "page_short" and "/news/paywalled" in why["text"], why
    assert _counters(manifest)["feeds_pages_fallback_short"] == 1


def test_an_author_that_is_an_email_address_alone_is_no_name() -> None:
    feed = (
        b"<rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/'><channel><title>T</title>"
        b"<item><guid isPermaLink='false'>a</guid><author>jane@example.com</author></item>"
        b"<item><guid isPermaLink='false'>b</guid><author>jane@example.com (Jane Doe)</author>"
        b"</item><item><guid isPermaLink='false'>c</guid><dc:creator>Ann One</dc:creator>"
        b"</item></channel></rss>"
    )
    parsed = parse_feed(feed, {}, "http://127.0.0.1/feed.xml")
    assert {e.entry_id: e.authors for e in parsed.entries} == {
        "a": [],
        "b": ["Jane Doe"],
        "c": ["Ann One"],
    }


def test_an_entrys_byline_word_is_no_part_of_its_authors_name() -> None:
    # Review 93: a feed's author kept "By", an agency's "中央社記者" ("CNA reporter"), Thai
    # "โดย"; names joined by "和"-less lists ("李华、王明") were one author. A JSON feed's
    # authors are read alike. Pages and JSON records dropped the byline words already.
    feed = (
        "<rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/'><channel><title>T"
        "</title><item><guid isPermaLink='false'>a</guid><dc:creator>By Jane Doe</dc:creator>"
        "</item><item><guid isPermaLink='false'>b</guid><author>中央社記者 王小明</author></item>"
        "<item><guid isPermaLink='false'>c</guid><dc:creator>โดย สมชาย ใจดี</dc:creator></item>"
        "<item><guid isPermaLink='false'>d</guid><dc:creator>记者 李华、王明</dc:creator></item>"
        "</channel></rss>"
    ).encode()
    parsed = parse_feed(feed, {}, "http://127.0.0.1/feed.xml")
    assert {e.entry_id: e.authors for e in parsed.entries} == {
        "a": ["Jane Doe"],
        "b": ["王小明"],
        "c": ["สมชาย ใจดี"],
        "d": ["李华", "王明"],
    }
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "T",
        "items": [{"id": "1", "content_text": "x", "authors": [{"name": "نوشته علی رضایی"}]}],
    }
    parsed = parse_feed(json.dumps(json_feed).encode(), {}, "http://127.0.0.1/feed.json")
    assert [e.authors for e in parsed.entries] == [["علی رضایی"]]


def test_a_relative_guid_is_no_link_an_absolute_one_is() -> None:
    """feedparser makes a guid without isPermaLink="false" the link of an entry without
    one, resolved against the feed's URL: "ep1" became http://127.0.0.1/ep1."""
    feed = (
        "<?xml version='1.0' encoding='utf-16'?><rss version='2.0'><channel><title>T</title>"
        "<item><title>Rel</title><guid>ep1</guid></item>"
        "<item><title>Abs</title><guid>http://x.org/a?b=1&amp;c=2</guid></item>"
        "<item><title>Cdata</title><guid><![CDATA[ http://x.org/\u00e4?c=3 ]]></guid></item>"
        "<item><title>Both</title><guid>ep2</guid><link>http://x.org/l</link></item>"
        "</channel></rss>"
    ).encode("utf-16")
    parsed = parse_feed(feed, {}, "http://127.0.0.1/feeds/f.xml")
    # A relative id is kept as written (review 51), with the resolved one earlier runs
    # kept as an alias: no entry is new again for the change.
    assert [(e.entry_id, e.link, e.aliases) for e in parsed.entries] == [
        ("ep1", None, ("http://127.0.0.1/feeds/ep1",)),
        ("http://x.org/a?b=1&c=2", "http://x.org/a?b=1&c=2", ()),
        ("http://x.org/\u00e4?c=3", "http://x.org/\u00e4?c=3", ()),
        ("ep2", "http://x.org/l", ("http://127.0.0.1/feeds/ep2",)),
    ]
    # Read from a file (no URL to resolve against), ids were as written all along.
    assert [e.entry_id for e in parse_feed(feed, {}, "/data/f.xml").entries][::3] == [
        "ep1",
        "ep2",
    ]


@pytest.mark.slow
def test_a_feed_moved_to_another_folder_lists_no_relative_guid_as_new(tmp_path: Path) -> None:
    """feedparser resolves a guid without isPermaLink="false" ("ep1", "12345") against the
    feed's URL: once the feed moved (another folder or host, http to https), every listed
    entry had a new id, and came in again (as duplicates) with --state. Ids are kept as
    written now; an id seen resolved by an earlier NewsBeam still counts (alias)."""
    state = tmp_path / "state"
    with serve() as server:
        items = "".join(
            f"<item><title>Story {n}</title><guid>ep{n}</guid>"
            f"<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>"
            for n, text in ((1, BODY), (2, OTHER_BODIES["bridge"]))
        )
        document = f'<rss version="2.0"><channel><title>P</title>{items}</channel></rss>'
        server.routes["/feeds/rss"] = static(document.encode())
        args = ["--feed", server.url("/feeds/rss"), "--state", str(state), "--no-fetch-pages"]
        first = _run(tmp_path, *args)
        assert (first["counts"]["inputs"], first["counts"]["articles"]) == (2, 2)
        assert sorted(r["entry_id"] for r in _out(tmp_path, "articles")) == ["ep1", "ep2"]
        # The publisher moves the feed to another folder, with a permanent redirect.
        server.routes["/v2/rss.xml"] = static(document.encode() + b"\n")
        server.routes["/feeds/rss"] = _moved("/v2/rss.xml")
        second = _run(tmp_path, *args)
        assert second["counts"]["inputs"] == 0
        (health,) = _out(tmp_path, "feed_health", "feed_url")
        assert (health["entries"], health["new_entries"]) == (2, 0)
        assert health["moved_to"] == server.url("/v2/rss.xml")


def test_an_id_seen_resolved_by_an_earlier_run_is_not_new() -> None:
    """State written before ids were kept as written holds "ep1" as the feed's URL resolved
    it: the entry, listed under "ep1" now, is not new (its alias was seen)."""
    doc = (
        b"<rss version='2.0'><channel><item><guid>ep1</guid><title>T</title></item></channel></rss>"
    )
    (entry,) = parse_feed(doc, {}, "https://h.example/feeds/rss").entries
    assert was_seen(entry, frozenset({"https://h.example/feeds/ep1"}))
    assert was_seen(entry, frozenset({"ep1"})) and not was_seen(entry, frozenset({"ep2"}))


def test_a_podcast_episode_with_a_relative_guid_fetches_no_page(tmp_path: Path) -> None:
    with serve() as server:
        feed = (
            "<rss version='2.0'><channel><title>Pod</title><item><title>Episode 1</title>"
            "<guid>ep1</guid><enclosure url='/ep1.mp3' type='audio/mpeg' length='1'/>"
            f"<description>{BODY}</description></item></channel></rss>"
        ).encode()
        server.routes["/feed.xml"] = static(feed)
        manifest = _run(tmp_path, "--feed", server.url("/feed.xml"))
        fetched = [request.path for request in server.log]
    assert fetched == ["/feed.xml"]
    assert "feeds_pages_attempted" not in _counters(manifest)
    (article,) = _out(tmp_path, "articles")
    assert (article["url"], article["text_origin"]) == (None, "feed_summary")


# ---------------------------------------------------------------------------------------
# Updated entries (review 51): a correction under the same id is read again
# ---------------------------------------------------------------------------------------


def test_an_entry_version_changes_with_its_text_or_updated_date_not_its_pubdate() -> None:
    def version(description: str, extra: str = "", pub: str = "Tue, 14 May 2024") -> str:
        document = (
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<item><guid>g1</guid><title>T</title><description>{description}</description>"
            f"<pubDate>{pub} 08:00:00 GMT</pubDate>{extra}</item></channel></rss>"
        )
        (entry,) = parse_feed(document.encode(), {}, "https://f.example/rss").entries
        return entry.version

    base = version("Text.")
    assert base == version("Text.  ")  # whitespace folded
    assert base != version("Text, corrected.")
    assert base != version("Text.", "<dc:date>2024-05-15T09:00:00Z</dc:date>")
    # A feed restamping every pubDate at each build updates nothing.
    assert base == version("Text.", pub="Wed, 15 May 2024")


def test_seen_entries_keep_the_version_listed_and_updates_are_found_by_it() -> None:
    def entry(entry_id: str, version: str) -> FeedEntry:
        return FeedEntry(entry_id, None, None, [], None, "s", None, [], None, version)

    listed = [entry("a", "v2"), entry("b", "v1"), entry("c", "v1"), entry("new", "v1")]
    seen = frozenset({"a", "b", "c"})
    # c was seen before versions were kept: no update on that evidence.
    found = updated_entries(listed, seen, {"a": "v1", "b": "v1"})
    assert [e.entry_id for e in found] == ["a"]
    old = [SeenEntry("f", "a", NOW - DAY, NOW - DAY, 0, "v1"), SeenEntry("f", "c", NOW, None)]
    sightings = [SeenEntry("f", "a", NOW, NOW, version="v2"), SeenEntry("f", "c", NOW, NOW)]
    merged = merge_seen_entries(old, sightings, NOW)
    assert [(e.entry_id, e.version) for e in merged] == [("a", "v2"), ("c", None)]
    rows = [e._asdict() for e in merged]
    assert previous_feed_state([], rows).versions_for("f") == {"a": "v2"}
    # An update over the page caps waits: its sighting is not taken, the old version stays.
    waiting = frozenset({version_source("f#a", "v2")})
    assert not _not_deferred(SeenEntry("f", "a", NOW, NOW, version="v2"), waiting)
    assert _not_deferred(SeenEntry("f", "b", NOW, NOW, version="v1"), waiting)


CORRECTED_BODY = BODY.replace("next year", "in March next year").replace(
    "stay the same", "rise by two euros"
)


def test_a_stream_reads_no_updates_a_batch_does() -> None:
    """The feed files of a streaming job are parsed by the batch's _ParseFeeds: with the
    versions of --state they read updates, which the stream's dedup takes for copies of
    their earlier versions (docs: a stream reads no updates)."""
    from newsbeam.transforms.feeds.stage import FeedSource, FetchedFeed, _ParseFeeds

    document = rss("https://h", [("g1", "/g1", "Corrected text.")])
    result = FetchResult("/in/f.xml", "/in/f.xml", None, {}, document, None, "", 0)
    fetched = FetchedFeed(FeedSource("/in/f.xml", "feed"), result, from_file=True)
    previous = PreviousFeedState(
        {}, {"/in/f.xml": frozenset({"g1"})}, versions={"/in/f.xml": {"g1": "older"}}
    )

    def jobs(read_updates: bool) -> list[str]:
        parse = _ParseFeeds(FeedsConfig(), StateContext(), read_updates=read_updates)
        parse._previous = previous
        return [o.source for o in parse.process(fetched) if isinstance(o, PageJob)]

    assert [entry_of(source) for source in jobs(True)] == ["/in/f.xml#g1"]
    assert jobs(False) == []


@pytest.mark.slow
def test_an_updated_entry_is_read_again_as_a_new_version_of_its_article(tmp_path: Path) -> None:
    """A feed polled with --state corrects an entry under the same guid (its text, or its
    updated date): it was skipped as seen, and the correction never reached the dataset.
    Now the new version is an input under `<feed>#<id>#version=<v>`: a changed text is a
    new row of the same article (same article_id and story), the latest by ingested_at;
    an unchanged text (a newer date alone) is an exact copy of the first version."""
    state = tmp_path / "state"
    routes: dict[str, Any] = {
        "/robots.txt": static(b"User-agent: *\nAllow: /\n", "text/plain"),
        "/news/budget": static(ARTICLE_HTML.encode(), "text/html"),
    }

    def feed(ferry: str, budget_updated: str = "") -> bytes:
        items = [
            ("ferry", "/news/ferry", f"&lt;p&gt;{ferry}&lt;/p&gt;"),
            ("budget", "/news/budget", "Budget story"),
        ]
        document = rss(server.url(""), items)
        if budget_updated:  # a dc:date (updated) on the budget item only
            document = document.replace(
                b"<guid isPermaLink=\"false\">budget</guid>",
                b'<guid isPermaLink="false">budget</guid>'
                + f"<dc:date>{budget_updated}</dc:date>".encode(),
            ).replace(b'<rss version="2.0">', b'<rss version="2.0" '
                      b'xmlns:dc="http://purl.org/dc/elements/1.1/">')  # fmt: skip
        return document

    with serve(routes) as server:
        args = ["--feed", server.url("/feed.xml"), "--state", str(state)]
        server.routes["/feed.xml"] = static(feed(BODY), ETag='"v1"')
        first = _run(tmp_path, *args)
        assert (first["counts"]["inputs"], first["counts"]["articles"]) == (2, 2)
        before = {r["entry_id"]: r for r in _out(tmp_path, "articles")}

        server.routes["/feed.xml"] = static(feed(CORRECTED_BODY), ETag='"v2"')
        second = _run(tmp_path, *args)
        assert second["counts"]["balanced"] is True
        assert (second["counts"]["inputs"], second["counts"]["articles"]) == (1, 1)
        (corrected,) = _out(tmp_path, "articles")
        ferry = before["ferry"]
        assert corrected["entry_id"] == "ferry" and corrected["text"] == CORRECTED_BODY
        assert corrected["source"].startswith(f"{ferry['source']}#version=")
        assert (corrected["article_id"], corrected["story_id"]) == (
            ferry["article_id"],
            ferry["story_id"],
        )
        assert corrected["ingested_at"] > ferry["ingested_at"]
        assert second["counters"]["feeds_updated_entries"] == 1
        # The summary said "0 new entries" for a run of one input.
        summary = feeds_summary(second["counters"])
        assert summary is not None and "0 new entries, 1 updated entries" in summary, summary
        assert [h["new_entries"] for h in _health(tmp_path, "run_at")] == [2, 1]
        # The stories' document frequencies count an article once, not once a version
        # (review 57: the correction made it 3 articles, its terms counted twice).
        terms = {
            r["term"]: r["articles"] for r in _state(state, "dedup/story_terms/*.parquet", "term")
        }
        assert terms[""] == 2 and terms["ferry"] == 1
        assert second["counters"]["stories_versions_not_counted"] == 1

        # The same feed again: nothing new, nothing updated.
        third = _run(tmp_path, *args)
        assert third["counts"]["inputs"] == 0

        # The budget entry states a newer updated date; its page did not change: the new
        # version is an exact copy of the first one, pointing at it.
        server.routes["/feed.xml"] = static(
            feed(CORRECTED_BODY, "2024-05-15T09:00:00Z"), ETag='"v3"'
        )
        fourth = _run(tmp_path, *args)
        assert (fourth["counts"]["inputs"], fourth["counts"]["duplicates"]) == (1, 1)
        (copy,) = _out(tmp_path, "duplicates")
        assert (copy["canonical_id"], copy["method"]) == (before["budget"]["article_id"], "exact")
        assert server.hits["/news/budget"] == 2
    seen = _state(state, "feed_state/seen_entries.parquet", "entry_id")
    assert all(row["version"] for row in seen)


# ---------------------------------------------------------------------------------------
# Declared languages (review 51)
# ---------------------------------------------------------------------------------------


def test_entries_carry_the_language_their_feed_declares() -> None:
    assert [declared_language(v) for v in ("en-us", "de_DE", "FR", " pt-BR ")] == [
        "en",
        "de",
        "fr",
        "pt",
    ]
    assert [declared_language(v) for v in ("English", "deu", "", None, "x-y")] == [None] * 5
    rss_feed = (
        b"<rss version='2.0'><channel><title>T</title><language>de-DE</language>"
        b"<item><guid>a</guid><title>Eins</title><description>Text</description></item>"
        b"</channel></rss>"
    )
    assert [e.language for e in parse_feed(rss_feed, {}, "https://h/rss").entries] == ["de"]
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr"><title>T</title><id>urn:f</id>'
        b'<entry xml:lang="es"><id>urn:1</id><title>Uno</title><summary>Texto</summary></entry>'
        b"<entry><id>urn:2</id><title>Deux</title><summary>Texte</summary></entry></feed>"
    )
    assert [e.language for e in parse_feed(atom, {}, "https://h/atom").entries] == ["es", "fr"]
    json_feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "language": "nl-NL",
            "items": [
                {"id": "1", "content_text": "Tekst"},
                {"id": "2", "content_text": "Text", "language": "en"},
            ],
        }
    ).encode()
    assert [e.language for e in parse_feed(json_feed, {}, "https://h/j").entries] == ["nl", "en"]
    undeclared = rss_feed.replace(b"<language>de-DE</language>", b"")
    assert [e.language for e in parse_feed(undeclared, {}, "https://h/rss").entries] == [None]


@pytest.mark.slow
def test_a_short_entry_takes_its_feeds_declared_language_where_langdetect_is_unsure(
    tmp_path: Path,
) -> None:
    """A German feed (<language>de</language>) listing a headline-and-a-line entry: it came
    out English (langdetect, 0.67 sure on the short text); the feed's word wins now."""
    short = "Apple iPhone 16 Pro im Test: Kamera, Akku und Display."
    feed = (
        "<rss version='2.0'><channel><title>Technik</title><language>de</language>"
        f"<item><guid isPermaLink='false'>t1</guid><title>Test</title>"
        f"<description>{short}</description></item></channel></rss>"
    ).encode()
    with serve({"/de.xml": static(feed)}) as server:
        manifest = _run(
            tmp_path, "--feed", server.url("/de.xml"), "--no-fetch-pages", "--min_words", "0"
        )
    assert manifest["counts"]["articles"] == 1
    (article,) = _out(tmp_path, "articles")
    assert (article["language"], article["language_score"]) == ("de", None)


def test_a_syndicated_page_is_credited_to_the_outlet_it_was_fetched_from() -> None:
    """Review 56: a page whose rel=canonical names another outlet's page (syndication) and
    no site name was the original's: its `url` and `site` were the original's, the copy's
    own address lost. The outlet that ran it is where it was fetched from; its canonical
    stays the original's. A canonical on the page's own outlet stays its URL."""
    original = "https://www.original.example.com/world/story"
    page = new_article("s", url=original, text="Syndicated text.")
    fetched = "https://news.republisher.co.uk/wire/story?utm_source=feed"
    copy = with_fetched_url(page, fetched)
    assert (copy.url, copy.canonical_url) == (fetched, original)
    assert (copy.site, copy.outlet) == ("news.republisher.co.uk", "republisher.co.uk")
    named = with_fetched_url(page._replace(site="The Republisher"), fetched)
    assert (named.site, named.outlet) == ("The Republisher", "republisher.co.uk")
    own = with_fetched_url(page, "https://feeds.original.example.com/r/123")
    assert own == page
    assert with_fetched_url(new_article("s", text="T."), fetched).canonical_url == (
        "https://news.republisher.co.uk/wire/story"
    )


def test_a_syndicated_pages_copy_counts_for_its_own_outlet(tmp_path: Path) -> None:
    """End to end: the wire story on its own page, and the same page on a second outlet
    (another host) whose rel=canonical credits the wire's: the copy is the second outlet's
    pickup in `duplicates` (its own URL, site and outlet), not the wire's again."""
    with (
        serve({"/robots.txt": static(b"", "text/plain")}) as wire,
        serve({"/robots.txt": static(b"", "text/plain")}) as republisher,
    ):
        wire_url = wire.url("/news/budget")
        page = ARTICLE_HTML.replace(
            '<meta property="og:site_name" content="Example Times">', ""
        ).replace("https://news.example.com/2024/05/council-budget?utm_source=feed", wire_url)
        assert wire_url in page and "og:site_name" not in page
        wire.routes["/news/budget"] = static(page.encode(), "text/html")
        later = page.replace("2024-05-14T09:30:00+02:00", "2024-05-14T11:00:00+02:00")
        republisher.routes["/wire/budget"] = static(later.encode(), "text/html")
        copy_url = republisher.url("/wire/budget").replace("127.0.0.1", "localhost")
        feed = rss("", [("w", wire_url, ""), ("r", copy_url, "")])
        # The pickup came out later (its feed says so too: the entry's time is the finer).
        head, _, tail = feed.rpartition(b"08:00:00 GMT")
        feed = head + b"10:00:00 GMT" + tail
        wire.routes["/feed.xml"] = static(feed)
        _run(tmp_path, "--feed", wire.url("/feed.xml"))
    (kept,) = _out(tmp_path, "articles")
    (copy,) = _out(tmp_path, "duplicates")
    assert (kept["url"], kept["site"], kept["outlet"]) == (wire_url, "127.0.0.1", "127.0.0.1")
    assert (copy["url"], copy["site"], copy["outlet"]) == (copy_url, "localhost", "localhost")
    assert copy["canonical_id"] == kept["article_id"]


def test_an_update_whose_page_failed_for_now_is_offered_again_as_an_update(
    tmp_path: Path,
) -> None:
    """Review 57: an updated entry with no text of its own whose page failed for now (503)
    was offered again by the next run as a new entry (`<feed>#<id>`), not as an update:
    its corrected page then came in as a copy of its own first version. It is offered
    again as the update it is (`#version=`), a new row of the same article."""
    state = tmp_path / "state"
    corrected_html = ARTICLE_HTML.replace("on Tuesday", "on Tuesday evening").replace(
        "in the spring", "in the autumn"
    )
    page = {"status": 200, "html": ARTICLE_HTML}

    def budget(request: Any) -> tuple[int, dict[str, str], bytes]:
        if page["status"] != 200:
            return page["status"], {"Content-Type": "text/plain"}, b"busy"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page["html"].encode()

    routes: dict[str, Any] = {
        "/robots.txt": static(b"User-agent: *\nAllow: /\n", "text/plain"),
        "/news/budget": budget,
    }
    with serve(routes) as server:
        listed = rss(server.url(""), [("budget", "/news/budget", "")])
        server.routes["/feed.xml"] = static(listed, ETag='"v1"')
        args = ["--feed", server.url("/feed.xml"), "--state", str(state), "--fetch_retries", "0"]
        first = _run(tmp_path, *args)
        assert first["counts"]["articles"] == 1
        (article,) = _out(tmp_path, "articles")

        # The entry is corrected (a new title, no text of its own); its page is busy.
        corrected = listed.replace(b"<title>Story budget", b"<title>Budget corrected")
        server.routes["/feed.xml"] = static(corrected, ETag='"v2"')
        page["status"] = 503
        assert _run(tmp_path, *args)["counters"]["feeds_pages_retry_later"] == 1
        (rejected,) = _out(tmp_path, "rejected")
        assert "#version=" in rejected["source"]
        assert "offers the entry again (1 of 3)" in rejected["detail"]

        page.update(status=200, html=corrected_html)
        third = _run(tmp_path, *args)
        assert third["counts"]["balanced"] is True and third["counts"]["inputs"] == 1
        (again,) = _out(tmp_path, "articles")  # review 57: a new entry, then a copy
        assert again["source"] == rejected["source"]  # the update, as listed
        assert again["article_id"] == article["article_id"]
        assert "in the autumn" in again["text"]
        assert third["counters"]["feeds_updated_entries"] == 1
        assert third["counters"].get("feeds_new_entries", 0) == 0
        assert _run(tmp_path, *args)["counts"]["inputs"] == 0  # seen in its new version
    seen = _state(state, "feed_state/seen_entries.parquet", "entry_id")
    assert [(row["entry_id"], row["page_failures"]) for row in seen] == [("budget", 0)]


def test_a_retried_update_keeps_the_version_read_before_and_stays_an_update() -> None:
    """merge_seen_entries keeps an update's earlier version while its page is retried, so
    retried_updates finds it an update again; a new entry's retry stays new."""
    known = [SeenEntry("f", "upd", NOW - DAY, NOW - DAY, 0, "v1")]
    sightings = [SeenEntry("f", "upd", NOW, NOW, 1, "v2"), SeenEntry("f", "new", NOW, NOW, 1, "v1")]
    merged = {row.entry_id: row for row in merge_seen_entries(known, sightings, NOW)}
    assert (merged["upd"].version, merged["upd"].page_failures) == ("v1", 1)
    assert (merged["new"].version, merged["new"].page_failures) == ("v1", 1)
    listed = [
        ENTRY._replace(entry_id="upd", version="v2"),
        ENTRY._replace(entry_id="new", version="v1"),
    ]
    failures = {"upd": 1, "new": 1}
    versions = {"upd": "v1", "new": "v1"}
    assert [e.entry_id for e in retried_updates(listed, failures, versions)] == ["upd"]
    assert retried_updates(listed, {}, versions) == []  # not offered again: new as before


def test_html_without_a_tag_has_its_references_read() -> None:
    """An entry's markup with no tag is still HTML: an escaped description ("&amp;nbsp;" in
    the feed) reaches html_to_text as "&nbsp;", a Blogger summary keeps "&rsquo;" after its
    tags were stripped. They stayed in the article's text as written (18,269 references in
    the fixture feeds' entries); text that only looks like one ("AT&T", "R&D") stays."""
    assert html_to_text("Prices rise&nbsp;again &amp; the &quot;market&quot; falls") == (
        'Prices rise again & the "market" falls'
    )
    assert html_to_text("Caf&eacute; &#8216;Nord&#8217;\n\nAT&T and R&D") == (
        "Caf\u00e9 \u2018Nord\u2019\n\nAT&T and R&D"
    )
    # A fragment lxml refuses loses its tags by pattern: its references are read too.
    assert html_to_text("<b>broken < frag &amp; more</b>") == "broken < frag & more"


def test_a_titles_markup_is_read_by_the_same_route_as_an_entrys_text() -> None:
    """markup_text (titles) read a fragment's text whole: words on either side of a <br> or
    a block glued together ("Breaking:Fire") and a script's code was text. It is now
    html_to_text's paragraphs on one line, so the two routes cannot disagree."""
    for markup in (
        "Breaking:<br>Fire at <b>harbour</b>",
        "<p>One</p><p>Two &amp; three</p><script>x()</script>",
        "Rates &lt; rise&nbsp;now",
    ):
        assert markup_text(markup) == " ".join(html_to_text(markup).split())
    assert markup_text("Breaking:<br>Fire at <b>harbour</b>") == "Breaking: Fire at harbour"


def test_an_escaped_description_reaches_the_articles_table_as_text(tmp_path: Path) -> None:
    """End to end: an RSS description escaped twice (no tag left once feedparser reads it)
    reached the articles table with "&nbsp;", "&amp;" and "&quot;" in its text."""
    body = "The&amp;nbsp;council &amp;quot;voted&amp;quot; &amp;amp; " + BODY
    with serve() as server:
        feed = (
            "<rss version='2.0'><channel><title>T</title>"
            "<item><guid>tag:example.org,2024:2</guid><title>Vote</title>"
            f"<description>{body}</description></item></channel></rss>"
        ).encode()
        server.routes["/feed.xml"] = static(feed)
        _run(tmp_path, "--feed", server.url("/feed.xml"))
    (article,) = _out(tmp_path, "articles")
    assert article["text"] == 'The council "voted" & ' + BODY


def test_a_wordpress_footer_naming_the_entry_does_not_reach_the_articles_table(
    tmp_path: Path,
) -> None:
    """End to end: an entry's content:encoded ending in "The post <title> appeared first
    on <site>." (WordPress, in every entry) kept the footer as the text's last paragraph."""
    content = (
        f"<p>{BODY}</p><p>The post <a href='https://x.example/a'>New ferry terminal opens "
        "next year</a> appeared first on <a href='https://x.example'>Harbour News</a>.</p>"
    )
    with serve() as server:
        feed = (
            "<rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
            "<channel><title>T</title><item><guid>tag:example.org,2024:3</guid>"
            "<title>New ferry terminal opens next year</title>"
            f"<content:encoded><![CDATA[{content}]]></content:encoded></item>"
            "</channel></rss>"
        ).encode()
        server.routes["/feed.xml"] = static(feed)
        _run(tmp_path, "--feed", server.url("/feed.xml"))
    (article,) = _out(tmp_path, "articles")
    assert article["text"] == BODY


def test_a_declared_withdrawn_or_regional_code_is_the_code_the_detector_gives() -> None:
    # Old feeds and Java-era CMSs still write Hebrew "iw" and Bokmål "nb-NO": the column
    # holds langdetect's code for each, whoever declared it (review 106 did it for news
    # sitemaps only; RSS <language> and page lang kept "iw" and "nb").
    stated = ("iw", "iw-IL", "in", "ji", "nb-NO", "nn", "fil", "fil-PH", "he", "no", "tl")
    assert [declared_language(v) for v in stated] == [
        "he", "he", "id", "yi", "no", "no", "tl", "tl", "he", "no", "tl",
    ]  # fmt: skip
    assert [declared_language(v) for v in ("eng", "deu", "filipino", "i", "nbx-y")] == [None] * 5
    rss_feed = (
        b"<rss version='2.0'><channel><title>T</title><language>iw</language>"
        b"<item><guid>a</guid><title>Eins</title><description>Text</description></item>"
        b"</channel></rss>"
    )
    assert [e.language for e in parse_feed(rss_feed, {}, "https://h/rss").entries] == ["he"]
