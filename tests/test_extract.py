"""Stage: extract. Text headers, HTML with trafilatura, JSON lines; failures as rejected rows."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from lxml.html import fromstring

from newsbeam.schemas import RawDocument
from newsbeam.transforms.extract import (
    ExtractArticles,
    ExtractConfig,
    ExtractError,
    PageSignals,
    Published,
    canonicalize_url,
    choose_text,
    dateline_date,
    decode_text,
    drop_unread_elements,
    earliest_stated,
    extract_document,
    header_date,
    html_metadata,
    json_ld_author,
    json_ld_metadata,
    json_ld_text,
    looks_like_menu,
    minify_json,
    most_precise,
    needs_full_extraction,
    normalize_json,
    page_signals,
    parse_fragment,
    parse_published,
    parse_text_document,
    publications_as_of,
    site_of,
    split_authors,
    stated_publication,
    strip_embedded_markup,
    unix_time,
    url_date,
    with_page_offset,
)
from newsbeam.transforms.support.authors import byline_names
from newsbeam.transforms.support.main_text import parse_html
from newsbeam.transforms.support.urls import outlet_of, page_key
from tests.helpers import ARTICLE_HTML, ARTICLE_TEXT, counters_of, make_test_pipeline

UTC = dt.timezone.utc


def _seed_text(seeds_dir: Path, prefix: str) -> str:
    return next(seeds_dir.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def test_seed_000_markdown_header(seeds_dir: Path) -> None:
    header, body, removed = parse_text_document(_seed_text(seeds_dir, "000"))
    assert header.title == "Qatar-led negotiations between Israel and Hamas continue, source says"
    assert header.site == "Reuters"
    assert header.published == Published(dt.datetime(2023, 10, 28, 20, 26, tzinfo=UTC), "minute")
    assert header.url.startswith("https://www.reuters.com/world/middle-east/qatar-led-")
    assert [r.reason for r in removed] == ["image", "caption"]
    assert "![" not in body and "REUTERS TV via REUTERS" not in body
    assert "](" not in body  # Markdown links keep only their anchor text
    assert body.startswith("Qatar-mediated negotiations between Israel and Hamas")


def test_seed_001_leading_date(seeds_dir: Path) -> None:
    header, body, _ = parse_text_document(_seed_text(seeds_dir, "001"))
    assert header.published == Published(dt.datetime(2023, 10, 9, tzinfo=UTC), "day")
    assert header.title is None
    assert body.startswith("Qatari mediators have held urgent calls")
    # One paragraph per line: the file has no blank lines.
    assert "\n\n" in body and "\n\n\n" not in body


@pytest.mark.parametrize(
    ("prefix", "title"),
    [
        ("002", "Israel Denies Negotiating With Hamas as New Conflcit Sparked"),
        ("004", "Turkey holds negotiations over civilians held by Hamas, "
         "senior Turkish official says to Reuters"),
        ("003", None),  # its first line is a 30-word sentence, not a title
    ],
)  # fmt: skip
def test_first_line_title(seeds_dir: Path, prefix: str, title: str | None) -> None:
    header, body, _ = parse_text_document(_seed_text(seeds_dir, prefix))
    assert header.title == title
    if title:
        assert not body.startswith(title)


def test_hard_wrapped_paragraphs_are_rejoined() -> None:
    _, body, _ = parse_text_document("Title\n\nFirst line of a\nwrapped paragraph.\n\nSecond.")
    assert body == "First line of a wrapped paragraph.\n\nSecond."


def test_decode_text_detects_legacy_encodings() -> None:
    text = "Le club a annoncé l'arrivée d'un nouvel entraîneur après une saison décevante. " * 3
    assert decode_text(text.encode("utf-8")) == text
    assert decode_text(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_text(text.encode("latin-1")) == text
    assert decode_text(text.encode("utf-16")) == text


@pytest.mark.parametrize(
    "data",
    [
        b"\x014\x01\xf9\xc2\x80\x01 \x0b",  # UTF-16 by its bytes outside UTF-8; 9 bytes
        b"\x01\x01\x01\x80\xc2\x80\x01\x01\x01",
    ],
)
def test_bytes_no_detected_encoding_fits_are_an_encoding_rejection(data: bytes) -> None:
    # Found by tests/test_properties.py: a UnicodeDecodeError (an internal_error row) before.
    with pytest.raises(ExtractError) as raised:
        decode_text(data)
    assert raised.value.reason == "encoding" and "not UTF-8" in str(raised.value)


@pytest.mark.parametrize(
    ("value", "expected", "precision"),
    [
        ("2023-10-28 20:26", dt.datetime(2023, 10, 28, 20, 26, tzinfo=UTC), "minute"),
        ("2024-05-14T09:30:00+02:00", dt.datetime(2024, 5, 14, 7, 30, tzinfo=UTC), "second"),
        ("Tue, 14 May 2024 10:00:00 GMT", dt.datetime(2024, 5, 14, 10, tzinfo=UTC), "second"),
        ("2024-03-14", dt.datetime(2024, 3, 14, tzinfo=UTC), "day"),
        ("2024-03-14T00:00:00Z", dt.datetime(2024, 3, 14, tzinfo=UTC), "second"),  # a midnight
        ("March 2019", dt.datetime(2019, 3, 1, tzinfo=UTC), "month"),
        # Zone abbreviations dateutil does not know were read as UTC, hours off.
        ("Thu, 01 Aug 2019 16:15 EDT", dt.datetime(2019, 8, 1, 20, 15, tzinfo=UTC), "minute"),
        ("Thu, 01 Aug 2019 16:15 CEST", dt.datetime(2019, 8, 1, 14, 15, tzinfo=UTC), "minute"),
        ("01.08.2019 16:15 MESZ", dt.datetime(2019, 8, 1, 14, 15, tzinfo=UTC), "minute"),
        ("Thu, 01 Aug 2019 16:15 BST", dt.datetime(2019, 8, 1, 15, 15, tzinfo=UTC), "minute"),
        ("2019-08-01 16:15 IST", dt.datetime(2019, 8, 1, 10, 45, tzinfo=UTC), "minute"),
        ("2019-08-01 16:15 XYZT", dt.datetime(2019, 8, 1, 16, 15, tzinfo=UTC), "minute"),
        ("2024-05-01T10:00+25:00", None, None),  # no such offset: no date (it raised)
        ("0001-01-01T00:00:00Z", None, None),  # a placeholder for "no date"
        ("9999-12-31", None, None),
        ("March 14", None, None),  # no year: not a publication date
        ("not a date", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_parse_published(
    value: str | None, expected: dt.datetime | None, precision: str | None
) -> None:
    expected_value = Published(expected, precision) if expected and precision else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dateutil's UnknownTimezoneWarning reached stderr
        assert parse_published(value) == expected_value


def test_the_most_precise_date_wins() -> None:
    day = Published(dt.datetime(2024, 3, 14, tzinfo=UTC), "day")
    minute = Published(dt.datetime(2024, 3, 14, 9, 30, tzinfo=UTC), "minute")
    assert most_precise(day, minute) == minute
    assert most_precise(minute, day) == minute
    assert most_precise(None, day) == day and most_precise() is None


def test_a_url_date_never_overrides_a_timestamp() -> None:
    page = (
        "<html><head><title>Budget</title>"
        '<meta property="article:published_time" content="2024-03-14T09:30:00Z">'
        '<link rel="canonical" href="https://news.example.com/2024/03/14/budget"></head>'
        f"<body><article>{''.join(f'<p>{p}</p>' for p in ARTICLE_TEXT.split(chr(10) * 2))}"
        "</article></body></html>"
    )
    article = extract_document(RawDocument("a.html", "html", page.encode()), ExtractConfig())
    assert article.published_at == dt.datetime(2024, 3, 14, 9, 30, tzinfo=UTC)
    # htmldate writes every time to the second; a :00 it found is read as minutes.
    assert article.published_precision == "minute"
    only_url = page.replace('content="2024-03-14T09:30:00Z"', 'content=""')
    article = extract_document(RawDocument("b.html", "html", only_url.encode()), ExtractConfig())
    assert (article.published_at, article.published_precision) == (
        dt.datetime(2024, 3, 14, tzinfo=UTC),
        "day",
    )


def test_canonicalize_url() -> None:
    assert (
        canonicalize_url("HTTPS://News.Example.com/a/b?utm_source=x&id=3#comments")
        == "https://news.example.com/a/b?id=3"
    )
    assert canonicalize_url("ftp://example.com/x") is None
    # Share and AMP parameters go; so does courlan's tracker family.
    assert (
        canonicalize_url("https://a.example/s?amp=1&ns_campaign=x&cmpid=rss&smid=tw&fbclid=q")
        == "https://a.example/s"
    )
    assert canonicalize_url("not a url") is None
    assert canonicalize_url(None) is None
    # Found by tests/test_properties.py: a blank host gave "http:// ", no URL read again.
    for blank_host in ("http:// #frag", "http:// /a", "https://a b.example/x", "http://\t/"):
        assert canonicalize_url(blank_host) is None


def test_canonicalize_url_keeps_the_parameters_that_name_the_article() -> None:
    """Review 46: strict courlan kept only `id`, `page` and a few more, so the articles of
    a site that names them by another parameter had one canonical URL between them."""
    first, second = (
        canonicalize_url(f"https://news.example/articleView.html?idxno={n}&utm_source=x")
        for n in (1001, 1002)
    )
    assert first == "https://news.example/articleView.html?idxno=1001"
    assert second == "https://news.example/articleView.html?idxno=1002"
    assert (
        canonicalize_url("https://a.example/v.php?sid=7&b=2") == "https://a.example/v.php?b=2&sid=7"
    )
    # A referrer tag in the og:url (asahi.com's `iref`) says how a reader came, not which page.
    tagged = "https://www.asahi.com/articles/AST1F4.html?iref=ogimage_rek&WT.mc_id=rss"
    assert canonicalize_url(tagged) == "https://www.asahi.com/articles/AST1F4.html"


def test_page_key_is_one_for_the_renderings_of_a_page() -> None:
    """Review 46: scheme, www./m./amp. hosts, trailing slash and AMP paths."""
    renderings = [
        "https://www.site.example/news/a/",
        "http://site.example/news/a",
        "https://m.site.example/news/a/amp/",
        "https://amp.site.example/amp/news/a",
    ]
    assert {page_key(canonicalize_url(url)) for url in renderings} == {"//site.example/news/a"}
    assert page_key("https://site.example/a.amp.html") == page_key("https://site.example/a.html")
    # The query stays (it may name the article); so does a page that is only "/amp".
    assert page_key("https://site.example/v?id=1") != page_key("https://site.example/v?id=2")
    assert page_key("https://site.example/amp") == "//site.example/amp"
    assert page_key(None) is None


def test_site_of_a_mobile_or_amp_host_is_the_site() -> None:
    """Review 46: `m.outlet.example` counted as an outlet of its own."""
    for host in ("www", "m", "mobile", "amp"):
        assert site_of(f"https://{host}.outlet.example/a") == "outlet.example"
    assert site_of("https://news.outlet.example/a") == "news.outlet.example"
    assert site_of("https://m.example/a") == "m.example"


def test_outlet_of_is_the_registrable_domain() -> None:
    """Review 56: one outlet's pages named it many ways ("BBC News", "BBC Sport", "BBC";
    news. and sport. hosts): per-outlet counts split. The public suffix list's registrable
    domain is one key; a private suffix's (github.io) blogs stay apart."""
    for url in ("https://www.bbc.co.uk/news/a", "https://sport.bbc.co.uk/x", "https://BBC.CO.UK"):
        assert outlet_of(url) == "bbc.co.uk"
    assert outlet_of("https://apnews.com/article/x") == "apnews.com"
    assert outlet_of("https://m.news.outlet.example.com/a") == "example.com"
    assert outlet_of("https://ann.github.io/p") != outlet_of("https://bo.github.io/p")
    # No public suffix: the host as a site has it.
    assert outlet_of("http://127.0.0.1:8080/a") == "127.0.0.1"
    assert outlet_of("http://intranet/a") == "intranet"
    assert outlet_of(None) is None and outlet_of("not a url") is None


def test_an_articles_outlet_is_its_own_urls() -> None:
    """The outlet follows the page's own URL, its site name does not change it."""
    page = RawDocument("p.html", "html", ARTICLE_HTML.encode())
    article = extract_document(page, ExtractConfig())
    assert (article.site, article.outlet) == ("Example Times", "example.com")
    header = b"# Title\n\n**BBC Sport**\n\n**https://sport.bbc.co.uk/a**\n\n"
    text = RawDocument("t.txt", "text", header + b"The body of the article. " * 9)
    assert extract_document(text, ExtractConfig())[4:6] == ("BBC Sport", "bbc.co.uk")


def test_split_authors() -> None:
    assert split_authors("Jane Doe; John Roe, Jane Doe") == ["Jane Doe", "John Roe"]
    assert split_authors(["A B", " C D "]) == ["A B", "C D"]
    assert split_authors(None) == []


def test_html_article_with_metadata() -> None:
    page = RawDocument("p.html", "html", ARTICLE_HTML.encode())
    article = extract_document(page, ExtractConfig())
    assert article.title == "Council approves budget"
    assert article.authors == ["Jane Reporter"]
    assert article.site == "Example Times"
    assert article.canonical_url == "https://news.example.com/2024/05/council-budget"
    assert article.published_at == dt.datetime(2024, 5, 14, 7, 30, tzinfo=UTC)
    # trafilatura keeps the <h1> as the first paragraph; the clean stage removes it.
    assert article.text.startswith("Council approves budget\n\nThe city council approved")
    assert "Home" not in article.text and "Copyright" not in article.text
    assert "\n\n" in article.text  # paragraphs kept apart


def _broken_live_blog_json_ld(updates: int, names: tuple[str, ...] = ()) -> str:
    """A live blog's JSON-LD as some sites write it: one BlogPosting per update, each with
    its author, and a stray comma that makes it invalid JSON (trafilatura's fallback then
    reads it with regular expressions)."""
    names = names or ("Ann Lee", "Bo Chan", "Cy Diaz", "Di Moss", "Ed Park")
    posts = ",".join(
        f'{{"@type":"BlogPosting","headline":"Update {i}",'
        f'"author":{{"@type":"Person","name":"{names[i % len(names)]}"}},'
        f'"articleBody":"Update {i} of the day."}}'
        for i in range(updates)
    )
    return (
        '{"@context":"https://schema.org","@type":"LiveBlogPosting",,'
        '"headline":"Storm live: the latest","publisher":{"@type":"Organization",'
        f'"name":"Daily Example"}},"liveBlogUpdate":[{posts}],'
        '"author":{"@type":"Person","name":"handle"}}'
    )


# names repeated; one held in a longer one, whose shorter form trafilatura drops
_HELD_NAMES = ("Ann Lee", "Bo Chan", "Ann Lee Smith", "Cy Diaz", "Bo Chan")


@pytest.mark.parametrize("names", [(), _HELD_NAMES])
@pytest.mark.parametrize("updates", [0, 1, 5, 40, 400])
def test_json_ld_author_finds_what_trafilatura_finds(updates: int, names: tuple[str, ...]) -> None:
    from trafilatura import json_metadata as jm

    text = _broken_live_blog_json_ld(updates, names)
    for pattern in (jm.JSON_AUTHOR_1, jm.JSON_AUTHOR_2):
        for variant in (text, jm.JSON_AUTHOR_REMOVE.sub("", text)):
            assert json_ld_author(variant, pattern) == jm.extract_json_author(variant, pattern)
    if updates:
        assert "Ann Lee" in (json_ld_author(text, jm.JSON_AUTHOR_1) or "")


def test_json_ld_metadata_of_a_broken_script_is_trafilaturas() -> None:
    from trafilatura import metadata as meta
    from trafilatura.utils import load_html

    script = _broken_live_blog_json_ld(40)
    page = (
        f'<html><head><script type="application/ld+json">{script}</script></head>'
        "<body><article><p>Storm reaches the coast.</p></article></body></html>"
    )
    tree = load_html(page)
    theirs = meta.extract_meta_json(tree, meta.examine_meta(tree))
    ours = json_ld_metadata(tree, meta.examine_meta(tree))
    assert (ours.title, ours.author, ours.sitename) == (
        theirs.title,
        theirs.author,
        theirs.sitename,
    )
    assert ours.title == "Storm live: the latest" and ours.sitename == "Daily Example"
    assert html_metadata(tree).authors == ["Ann Lee", "Bo Chan", "Cy Diaz", "Di Moss", "Ed Park"]


# JSON-LD texts with what the minifier and normaliser must get right: whitespace inside and
# outside strings (also non-breaking), escaped quotes and backslashes, a quote opening no
# string, escaped and lone surrogates, entities and tags.
_JSON_TEXTS = [
    '{ "headline" : "Storm  hits\tcoast",\n "author": {"name": "Ann \\"AL\\" Lee"} }',
    '{"a": "back\\\\slash", "b" : [1, 2,\u00a03]}',
    '{"broken": "no end, "x": 1 }',
    '{"t": "\\ud83d\\ude00 caf\\u00e9 &amp; <b>bold</b>\\n"}',
    'x \ud800 " y',
    "",
    '"',
]


@pytest.mark.parametrize("text", _JSON_TEXTS)
def test_json_minify_and_normalize_are_trafilaturas(text: str) -> None:
    from trafilatura import json_metadata as jm
    from trafilatura import metadata as meta

    assert minify_json(text) == meta.JSON_MINIFY.sub(r"\1", text)
    assert normalize_json(text) == jm.normalize_json(text)
    assert normalize_json(minify_json(text)) == jm.normalize_json(meta.JSON_MINIFY.sub(r"\1", text))


# Scripts and styles where their removal could move text: inside paragraphs between words,
# first and last in their parents, inline in headings, in the head (with meta tags, links and
# the title); JSON-LD in both places.
_SCRIPTED_PAGE = ARTICLE_HTML.replace(
    "<head>",
    '<head><style>p {color: red}</style><script>var a = "<p>no</p>";</script>'
    '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Budget"}</script>',
).replace(
    "<body>",
    "<body><script>window.x = 1;</script>tail text<style>.a{}</style>"
    "<h1>Council <script>track()</script>approves <style>h1{}</style>budget</h1>"
    '<script type="application/ld+json">{"@type": "WebPage"}</script>',
)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("page", [ARTICLE_HTML, _SCRIPTED_PAGE])
def test_dropping_unread_elements_leaves_trafilaturas_extraction_alone(
    page: str, fast: bool
) -> None:
    from lxml import etree
    from trafilatura import bare_extraction
    from trafilatura.utils import load_html

    def extracted(tree: object) -> tuple[str, bytes]:
        document = bare_extraction(tree, fast=fast, include_comments=False)
        assert document is not None
        return document.text, etree.tostring(document.body)

    kept = load_html(page)
    dropped = load_html(page)
    drop_unread_elements(dropped)
    assert extracted(dropped) == extracted(kept)
    assert not dropped.xpath('//style|//script[not(@type="application/ld+json")]')
    assert len(dropped.xpath('//script[@type="application/ld+json"]')) == len(
        kept.xpath('//script[@type="application/ld+json"]')
    )
    # The head keeps its JSON-LD only (the forum check and the baseline read it).
    head = dropped.find("head")
    assert head is not None and [child.get("type") for child in head] == [
        "application/ld+json"
    ] * len(kept.xpath('/html/head/script[@type="application/ld+json"]'))


def test_dropping_unread_elements_keeps_the_text_around_them() -> None:
    from trafilatura.utils import load_html

    tree = load_html(_SCRIPTED_PAGE)
    drop_unread_elements(tree)
    heading = tree.find(".//h1")
    assert heading is not None and heading.text_content() == "Council approves budget"
    assert "tail text" in tree.find(".//body").text_content()
    assert "window.x" not in tree.find(".//body").text_content()


def test_html_page_without_text_is_no_text() -> None:
    # (A page with only navigation gives a few words here; cleaning rejects it as too_short.)
    page = b"<html><head><title>T</title></head><body><div><p> </p></div></body></html>"
    with pytest.raises(ExtractError) as error:
        extract_document(RawDocument("nav.html", "html", page), ExtractConfig())
    assert error.value.reason == "no_text"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"this is not json", "bad_json"),
        (b'["an", "array"]', "bad_json"),
        (b'{"title": "no text"}', "missing_text"),
        (b'{"text": "   "}', "missing_text"),
    ],
)
def test_bad_json_records(line: bytes, reason: str) -> None:
    with pytest.raises(ExtractError) as error:
        extract_document(RawDocument("r.jsonl#L1", "jsonl", line), ExtractConfig())
    assert error.value.reason == reason


def test_json_record_fields() -> None:
    line = (
        b'{"id": "r1", "title": " Budget ", "url": "https://example.com/r1?utm_medium=x", '
        b'"published": "2024-05-14T10:00:00Z", "authors": ["A B"], "text": "Body text here."}'
    )
    article = extract_document(RawDocument("r.jsonl#L1", "jsonl", line), ExtractConfig())
    assert (article.title, article.canonical_url, article.site) == (
        "Budget",
        "https://example.com/r1",
        "example.com",
    )
    assert article.published_at == dt.datetime(2024, 5, 14, 10, tzinfo=UTC)
    assert article.authors == ["A B"] and article.text == "Body text here."


def test_extract_articles_composite_routes_failures() -> None:
    documents = [
        RawDocument("good.html", "html", ARTICLE_HTML.encode()),
        RawDocument("nav.html", "html", b"<html><body><p></p></body></html>"),
        RawDocument("r.jsonl#L1", "jsonl", b"{broken"),
    ]

    def check_articles(articles: list) -> None:
        assert [a.source for a in articles] == ["good.html"]

    def check_rejected(rejected: list) -> None:
        assert sorted((r.source, r.stage, r.reason) for r in rejected) == [
            ("nav.html", "extract", "no_text"),
            ("r.jsonl#L1", "extract", "bad_json"),
        ]
        assert all(r.detail and isinstance(r.payload, str) for r in rejected)

    with make_test_pipeline() as pipeline:
        articles, rejected = pipeline | beam.Create(documents) | ExtractArticles()
        assert_that(articles, check_articles, label="CheckArticles")
        assert_that(rejected, check_rejected, label="CheckRejected")
    counters = counters_of(pipeline)
    assert counters["extract_in"] == 3
    assert counters["extract_out"] == 1
    assert counters["extract_dropped_no_text"] == 1
    assert counters["extract_dropped_bad_json"] == 1


def test_looks_like_menu() -> None:
    menu = "\n".join(["Home", "World", "Sport", "Local news", "Contact us"] * 3)
    assert looks_like_menu(menu)
    prose = "\n".join(["A full sentence of a news story, with enough words in it."] * 12)
    assert not looks_like_menu(prose)
    assert not looks_like_menu("Home\nWorld\nSport")  # too few lines to tell


_LOL = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(2, 10)
)  # each level ten times the last: 10^8 "lol"s if anything expanded them
HOSTILE_PAGES = {
    "billion_laughs": (
        f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol1 "lol">{_LOL}]>'
        "<html><body><p>&lol9;</p></body></html>"
    ).encode(),
    "nested_200k": b"<html><body>" + b"<div>" * 200_000 + b"<p>deep</p>" + b"</div>" * 200_000,
}


def test_hostile_pages_are_not_expanded() -> None:
    with pytest.raises(ExtractError) as error:
        extract_document(RawDocument("n", "html", HOSTILE_PAGES["nested_200k"]), ExtractConfig())
    assert error.value.reason == "too_complex"  # 200,000 tags: not parsed at all
    deep = HOSTILE_PAGES["nested_200k"]
    with pytest.raises(ExtractError) as error:  # parsed: lxml stops nesting, and says so
        extract_document(RawDocument("n", "html", deep), ExtractConfig(max_html_tags=10**6))
    assert error.value.reason == "too_complex" and "nested deeper" in str(error.value)
    # Read from its <html> tag (parse_fragment): the DOCTYPE that defines the entities is
    # not read, the entity stays as written (one word: the clean stage rejects it as too_short).
    laughs = RawDocument("b", "html", HOSTILE_PAGES["billion_laughs"])
    assert extract_document(laughs, ExtractConfig()).text == "&lol9;"


_BODY = "".join(f"<p>{paragraph}</p>" for paragraph in ARTICLE_TEXT.split("\n\n"))


# A body in one wrapper, as Readability-style tools and crawlers save an article.
_WRAPPED = f'<div id="readability-page-1" class="page"><div>{_BODY}</div></div>'


@pytest.mark.parametrize(
    "page",
    [
        _WRAPPED,
        f"<!-- saved by a crawler {'-' * 60} -->\n<html><body>{_WRAPPED}</body></html>",
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0'
        ' Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{_WRAPPED}</body></html>',
    ],
    ids=["article_body_alone", "comment_before_a_page_without_head", "xhtml_without_head"],
)
def test_html_that_is_not_a_whole_page_is_extracted(page: str) -> None:
    # trafilatura's load_html refuses each of these (no "html" in the first 50 characters,
    # a tree of one child): parse_html gives None, parse_fragment a page.
    assert parse_html(page.encode()) is None
    article = extract_document(RawDocument("body.html", "html", page.encode()), ExtractConfig())
    assert article.text == ARTICLE_TEXT


def test_parse_fragment_of_nothing_is_none() -> None:
    assert parse_fragment(b"  \n ") is None
    assert parse_fragment(b"<p>one</p>").find(".//p").text == "one"


# --- when the fast path may have lost the article ------------------------------------------


def _sentence(i: int) -> str:
    return (
        f"Delegates discussed proposal number {i} on quota sharing for the spring season, and "
        f"the host delegation said that the talks on point {i} had moved forward although "
        "several smaller states still asked for more time to consult their communities."
    )


def _live_blog(updates: int) -> bytes:
    """A live blog made up for the test: a 70-word introduction in the article body, the
    updates in a separate stream beside it (where trafilatura's fast path stops looking)."""
    intro = (
        "<p>Ministers from twelve countries are meeting in Lisbon today to agree on new rules "
        "for fishing quotas in the northern Atlantic, after months of disputes between "
        "coastal states.</p><p>We will bring you every update from the summit as it happens, "
        "with reactions from the delegations, the fishing industry and the environmental "
        "groups following the negotiations from outside the conference centre.</p>"
    )
    stream = "".join(
        f'<div class="live-update"><h3>Update {i}</h3><p>{_sentence(i)}</p>'
        f"<p>A vote on proposal {i} could come later in the afternoon if the remaining "
        "objections were settled by the working group.</p></div>"
        for i in range(1, updates + 1)
    )
    return (
        "<html><head><title>Fishing summit live</title></head><body>"
        '<nav><a href="/">Home</a></nav><div class="page"><h1>Fishing summit live</h1>'
        f'<div class="article-body">{intro}</div><div class="stream">{stream}</div></div>'
        "<footer><p>Copyright</p></footer></body></html>"
    ).encode()


def test_page_signals_count_paragraphs_and_read_json_ld() -> None:
    from trafilatura.utils import load_html

    body = " ".join(_sentence(i) for i in range(3))
    html = (
        '<html><head><script type="application/ld+json">'
        '{"@graph": [{"@type": "WebPage"}, {"@type": "NewsArticle", "articleBody": '
        f'"<p>{body}</p><p>Second paragraph.</p>"}}]}}</script>'
        '<script type="application/ld+json">{not json</script></head><body>'
        "<nav><p>one two three</p></nav><p>four five six seven</p>"
        "<aside><p>related story words</p></aside><footer><p>x y</p></footer></body></html>"
    )
    signals = page_signals(load_html(html))
    assert signals.paragraph_words == 4  # navigation, asides and footers do not count
    assert signals.json_ld_body == f"{body}\nSecond paragraph."
    assert json_ld_text("Plain\n\n  text  body ") == "Plain\ntext body"


def test_needs_full_extraction() -> None:
    assert needs_full_extraction("word " * 40, PageSignals(paragraph_words=900))
    assert not needs_full_extraction("word " * 500, PageSignals(paragraph_words=900))
    assert needs_full_extraction("word " * 40, PageSignals(json_ld_body="w " * 300))
    # A page with little text at all gives no reason to look further.
    assert not needs_full_extraction("word " * 20, PageSignals(paragraph_words=90))


def test_choose_text_prefers_the_text_that_did_not_lose_the_article() -> None:
    intro = "An introduction of a few words."
    full = "\n".join(_sentence(i) for i in range(20))
    half = " ".join(full.split()[: len(full.split()) // 2 + 1])
    assert choose_text(half, full, "").origin == "fast"  # not twice as long
    chosen = choose_text(intro, full, "")
    assert (chosen.origin, chosen.text, chosen.removed) == ("full", full, ())
    longer = "\n".join(_sentence(i) for i in range(50))
    assert choose_text(intro, full, longer).origin == "json_ld"
    assert choose_text(intro, None, full).origin == "json_ld"
    # A longer text that is a menu is not kept, and the article says so.
    menu = "\n".join(["Home", "World news", "Sport", "Contact us"] * 20)
    chosen = choose_text(intro, menu, "")
    assert chosen.origin == "fast"
    assert [r.reason for r in chosen.removed] == ["longer_full_menu"]


def test_live_blog_keeps_its_updates() -> None:
    documents = [RawDocument("live.html", "html", _live_blog(24))]

    def check(articles: list) -> None:
        (article,) = articles
        for i in (1, 12, 24):
            assert f"proposal number {i} on quota" in article.text
        assert article.text.startswith("Ministers from twelve countries")
        assert article.removed == []

    with make_test_pipeline() as pipeline:
        articles, _ = pipeline | beam.Create(documents) | ExtractArticles()
        assert_that(articles, check)
    counters = counters_of(pipeline)
    assert counters["extract_full_checked"] == 1
    assert counters["extract_kept_full"] == 1
    assert "extract_short_fast_path" not in counters


def test_ordinary_article_takes_the_fast_path_only() -> None:
    with make_test_pipeline() as pipeline:
        articles, _ = (
            pipeline
            | beam.Create([RawDocument("a.html", "html", ARTICLE_HTML.encode())])
            | ExtractArticles()
        )
        assert_that(articles | beam.Map(lambda a: a.removed), beam.testing.util.equal_to([[]]))
    counters = counters_of(pipeline)
    assert "extract_full_checked" not in counters


# --- dates in the header lines of raw text --------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (" date 2019-03-04", dt.datetime(2019, 3, 4, tzinfo=UTC)),
        ("**2023-10-28 20:26**", dt.datetime(2023, 10, 28, 20, 26, tzinfo=UTC)),
        ("July 08,2012", dt.datetime(2012, 7, 8, tzinfo=UTC)),
        ("Monday, March 11,2013 23:51", dt.datetime(2013, 3, 11, 23, 51, tzinfo=UTC)),
        ("Updated 5 / 5 / 2010 1:41 PM", dt.datetime(2010, 5, 5, 13, 41, tzinfo=UTC)),
        ("Published: 12 March 2019, 14:05 GMT", dt.datetime(2019, 3, 12, 14, 5, tzinfo=UTC)),
        ("On March 3, 2019 the president said", None),  # a sentence, not a date line
        ("March 2019", None),  # no day
        ("The 2012 budget", None),
        ("", None),
    ],
)
def test_header_date(line: str, expected: dt.datetime | None) -> None:
    found = header_date(line)
    assert (found.at if found else None) == expected
    if found is not None:  # a time stated is kept as such; a date alone is a day
        assert found.precision == ("day" if found.at.time() == dt.time(0) else "minute")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Review 58: date lines of the syndicated and ECB+ texts that were no date (the text
        # undated): a space after a time's colon, "p. m.", a dash before the time, "22.34",
        # "6: 11p", labels such as "First Published", two dates on one line.
        ("SATURDAY, SEPTEMBER 14,2013,9: 29 PM", dt.datetime(2013, 9, 14, 21, 29)),
        ("August 8,2012-4:43 pm", dt.datetime(2012, 8, 8, 16, 43)),
        ("17 September 2013-21:29", dt.datetime(2013, 9, 17, 21, 29)),
        ("July 21,2013,2: 21 pm BST", dt.datetime(2013, 7, 21, 13, 21)),
        ("Monday 16 September 2013 03.31 BST", dt.datetime(2013, 9, 16, 2, 31)),
        ("12:52 p. m. EDT May 2,2013", dt.datetime(2013, 5, 2, 16, 52)),
        ("on Dec 23 2012,6: 11p", dt.datetime(2012, 12, 23, 18, 11)),
        ("First Published: June 13,2013 4:59 PM EDT", dt.datetime(2013, 6, 13, 20, 59)),
        ("Story Created: Aug 7,2012 at 9:56 AM AKDT", dt.datetime(2012, 8, 7, 17, 56)),
        ("UPDATED 05 / 03 / 2013 at 11:00 AM EDT", dt.datetime(2013, 5, 3, 15, 0)),
        ("(March 20,2007) - -", dt.datetime(2007, 3, 20)),
        # "ET" is EST or EDT by the date.
        ("Updated: May 16,2005,6: 03 PM ET", dt.datetime(2005, 5, 16, 22, 3)),
        ("Updated: Jan 16,2005,6: 03 PM ET", dt.datetime(2005, 1, 16, 23, 3)),
        # Two dates: the publication, not the update, whichever comes first.
        (
            "Posted: Nov 27,2005 8:20 AM ET Last Updated: Nov 27,2005 8:10 PM ET",
            dt.datetime(2005, 11, 27, 13, 20),
        ),
        (
            "PUBLISHED: 02:31 GMT, 12 March 2013 | UPDATED: 22:19 GMT, 12 March 2013",
            dt.datetime(2013, 3, 12, 2, 31),
        ),
        (
            "PUBLISHED FRIDAY, MARCH 8,2013 AT 12:46 PM / UPDATED AT 12:48 PM",
            dt.datetime(2013, 3, 8, 12, 46),
        ),
        (
            "UPDATED: 22:19 GMT, 12 March 2013 | PUBLISHED: 02:31 GMT, 12 March 2013",
            dt.datetime(2013, 3, 12, 2, 31),
        ),
        ("AUGUST 2,2013 | 08:06AM PT", dt.datetime(2013, 8, 2, 15, 6)),
        ("Monday, Sep 10,2012 | Updated 9:01 AM EDT", dt.datetime(2012, 9, 10)),
        ("22 July 2013 Last updated at 17:50 GMT", dt.datetime(2013, 7, 22)),
        # Bylines labelled in other languages.
        ("Stand: 05.03.2024 14:30 Uhr", dt.datetime(2024, 3, 5, 14, 30)),
        ("Aktualisiert am 5. März 2024, 14:30 Uhr", dt.datetime(2024, 3, 5, 14, 30)),
        ("Publié le 5 mars 2024 à 14h30", dt.datetime(2024, 3, 5, 14, 30)),
        ("Publicado em 5 de março de 2024", dt.datetime(2024, 3, 5)),
        ("Pubblicato il 5 marzo 2024 alle 14:30", dt.datetime(2024, 3, 5, 14, 30)),
        ("Gepubliceerd op 5 maart 2024 om 14:30", dt.datetime(2024, 3, 5, 14, 30)),
        # A slash date under a label of a day-first language is day first; in English not.
        ("Actualizado: 05/03/2024 14:30 CET", dt.datetime(2024, 3, 5, 13, 30)),
        ("Publié le 05/03/2024", dt.datetime(2024, 3, 5)),
        ("Updated 05/03/2024 14:30", dt.datetime(2024, 5, 3, 14, 30)),
        # Still no header lines.
        ("Reid checked herself in on Tuesday, December 9,2008.", None),
        ("Tickets: 5 March 2024, 8 pm | London", None),
        ("Posted a video on March 5, 2024", None),
        ("Updated 2 hours ago", None),  # relative to a moment the text does not give
    ],
)
def test_header_dates_as_pages_and_wires_write_them(
    line: str, expected: dt.datetime | None
) -> None:
    found = header_date(line)
    assert (found.at if found else None) == (expected and expected.replace(tzinfo=UTC))


_DEC_4 = dt.datetime(2026, 12, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Month names of other languages and non-ASCII digits: all were no date.
        ("4. Dezember 2026", _DEC_4),
        ("Freitag, 4. Dezember 2026, 14:30 Uhr", _DEC_4.replace(hour=14, minute=30)),
        ("jeudi 4 décembre 2026 à 18h05 CET", _DEC_4.replace(hour=17, minute=5)),
        ("4 de diciembre de 2026 a las 10:00", _DEC_4.replace(hour=10)),
        ("4 de dezembro de 2026", _DEC_4),
        ("4 dicembre 2026", _DEC_4),
        ("4 grudnia 2026", _DEC_4),
        ("4 декабря 2026", _DEC_4),
        ("4 грудня 2026", _DEC_4),
        ("4 Aralık 2026", _DEC_4),
        ("٤ ديسمبر ٢٠٢٦", _DEC_4),
        ("4 בדצמבר 2026", _DEC_4),
        ("4 दिसंबर 2026", _DEC_4),
        ("4 Desember 2026", _DEC_4),
        ("4 Desemba 2026", _DEC_4),
        ("ngày 4 tháng 12 năm 2026", _DEC_4),
        ("2026年12月4日", _DEC_4),
        ("2026年12月4日 14時30分", _DEC_4.replace(hour=14, minute=30)),
        ("2026년 12월 4일", _DEC_4),
        # Review 93: calendars of other epochs, Korean full stops, AM/PM written before the
        # time: all were no date (the Buddhist year 2569 was ahead of the run's moment).
        ("4 ธันวาคม 2569", _DEC_4),
        ("วันศุกร์ที่ 4 ธ.ค. พ.ศ. 2569", _DEC_4),
        ("4 ธ.ค. ค.ศ. 2026", _DEC_4),
        ("令和8年12月4日", _DEC_4),
        ("民國115年12月4日", _DEC_4),
        ("115年12月4日", _DEC_4),
        ("2026. 12. 4.", _DEC_4),
        ("2026. 12. 4. 오후 2:30", _DEC_4.replace(hour=14, minute=30)),
        ("2026년 12월 4일 오전 9시 5분", _DEC_4.replace(hour=9, minute=5)),
        ("2026年12月4日 下午3点30分", _DEC_4.replace(hour=15, minute=30)),
        ("2026年12月4日 午後2時30分", _DEC_4.replace(hour=14, minute=30)),
        # A Solar Hijri date (Persian digits) read as Gregorian was the year 1405; then no
        # date; now converted (review 93), with Persian digits or a Solar month name. The
        # lunar Hijri calendar is not (countries start its months a day apart), nor a Hijri
        # year in ASCII digits alone (it was the year 1405 too).
        ("۱۴۰۵/۰۹/۱۳", _DEC_4),
        ("۱۳ آذر ۱۴۰۵", _DEC_4),
        ("پنجشنبه ۱۳ آذر ۱۴۰۵ ساعت ۱۰:۳۰", _DEC_4.replace(hour=10, minute=30)),
        ("13 آذر 1405", _DEC_4),
        ("1405/09/13", None),
        ("١٣ جمادى الآخرة ١٤٤٨ هـ", None),
        ("۱۴۰۵/۰۷/۳۱", None),
        ("Die Gewerkschaft fordert 2026 mehr", None),
    ],
)
def test_dates_in_other_languages_and_scripts(value: str, expected: dt.datetime | None) -> None:
    found = parse_published(value)
    assert (found.at if found else None) == expected
    line = header_date(value)
    assert (line.at if line else None) == expected


def test_dated_raw_text_and_json_records_in_other_languages() -> None:
    text = "Bahnstreik legt Fernverkehr lahm\n\n4. Dezember 2026\n\nDie Gewerkschaft streikt."
    header, body, _ = parse_text_document(text)
    assert header.published == Published(_DEC_4, "day") and body == "Die Gewerkschaft streikt."
    header, body, _ = parse_text_document("央行宣布降准\n\n2026年12月4日\n\n中国人民银行周五宣布。")
    assert header.published == Published(_DEC_4, "day") and body == "中国人民银行周五宣布。"
    for published in ("4 décembre 2026", "2026年12月4日", "٤ ديسمبر ٢٠٢٦"):
        article = _json_article({"text": _BODY, "published": published})
        assert (article.published_at, article.published_precision) == (_DEC_4, "day")


def test_dateline_date() -> None:
    expected = Published(dt.datetime(2019, 3, 3, tzinfo=UTC), "day")
    assert dateline_date("WASHINGTON, March 3, 2019 (Reuters) - The talks began.") == expected
    assert dateline_date("PARIS, 3 March 2019 - The talks began.") == expected
    assert dateline_date("However, the plan - as announced - failed.") is None


@pytest.mark.parametrize(
    "text",
    [
        # The held-out layout: title, blank line, a ` date` line under the title.
        "Storm hits the coast\n\n date 2019-03-04\nA storm hit the coast on Monday.\n\nMore.",
        "Storm hits the coast\n\n date 2019-03-04 A storm hit the coast on Monday.\n\nMore.",
        "Storm hits the coast\n\n**2019-03-04**\n\nA storm hit the coast on Monday.\n\nMore.",
        "Storm hits the coast\n\nMarch 4, 2019\n\nA storm hit the coast on Monday.\n\nMore.",
    ],
)
def test_date_line_under_the_title(text: str) -> None:
    header, body, _ = parse_text_document(text)
    assert header.title == "Storm hits the coast"
    assert header.published == Published(dt.datetime(2019, 3, 4, tzinfo=UTC), "day")
    assert body == "A storm hit the coast on Monday.\n\nMore."


def test_a_date_line_first_is_the_date_not_the_title() -> None:
    """syndicated-dev doc00194 opens "Updated: November 11,2011 20:09 IST", a blank line,
    and the story: that line was its title (and its date line the second copy of it)."""
    text = (
        "Updated: November 11,2011 20:09 IST\n\nNavy foils pirate attack\n\n"
        "The navy thwarted an attack on Thursday.\n\nMore."
    )
    header, body, _ = parse_text_document(text)
    assert header.published == Published(dt.datetime(2011, 11, 11, 14, 39, tzinfo=UTC), "minute")
    assert header.title is None
    assert body == "Navy foils pirate attack\n\nThe navy thwarted an attack on Thursday.\n\nMore."
    # A title that reads like a date but is more than one is still a title.
    header, _, _ = parse_text_document("Storm hits the coast on March 4, 2019\n\nA storm.\n\nMore.")
    assert header.title == "Storm hits the coast on March 4, 2019"


def test_dateline_stays_in_the_text() -> None:
    text = "Storm hits the coast\n\nMIAMI, March 4, 2019 (AP) - A storm hit the coast.\n\nMore."
    header, body, _ = parse_text_document(text)
    assert header.published == Published(dt.datetime(2019, 3, 4, tzinfo=UTC), "day")
    assert body.startswith("MIAMI, March 4, 2019 (AP) - A storm")


def test_a_time_stamp_under_a_repeated_headline_and_bullet_points_dates_the_text() -> None:
    """Review 58: texts copied from pages put the headline twice and a summary of bullet
    points before the time stamp (syndicated-dev doc00492, its 7th line): undated. A date
    line with a clock time is read to the 8th line; a date alone that far down is not."""
    head = "Jury shown video of shooting\n\nJury shown video of shooting\n"
    bullets = "".join(f"Point {n} of the summary, a sentence long enough.\n" for n in range(4))
    body = "Jurors on Thursday watched video.\nMore of the story."
    header, text, _ = parse_text_document(
        head + bullets + "UPDATED: 19:14 GMT, 12 April 2013\n" + body
    )
    assert header.published == Published(dt.datetime(2013, 4, 12, 19, 14, tzinfo=UTC), "minute")
    assert "UPDATED" not in text
    header, _, _ = parse_text_document(head + bullets + "12 April 2013\n" + body)
    assert header.published is None


def test_a_date_deep_in_the_text_is_not_a_header() -> None:
    lines = [f"Paragraph {i} of the story, a sentence long enough." for i in range(6)]
    header, _, _ = parse_text_document("\n\n".join([*lines, "March 4, 2019"]))
    assert header.published is None


def test_text_documents_with_a_date_line_under_the_title_are_dated() -> None:
    texts = {
        "a.txt": "Storm hits the coast\n\n date 2019-03-04\nA storm hit the coast on Monday.",
        "b.txt": "Storm hits the coast\n\nA storm hit the coast on Monday, officials said.",
    }
    documents = [RawDocument(name, "text", text.encode()) for name, text in texts.items()]

    def check(articles: list) -> None:
        dated = {a.source: (a.title, a.published_at) for a in articles}
        assert dated == {
            "a.txt": ("Storm hits the coast", dt.datetime(2019, 3, 4, tzinfo=UTC)),
            "b.txt": ("Storm hits the coast", None),
        }

    with make_test_pipeline() as pipeline:
        articles, _ = pipeline | beam.Create(documents) | ExtractArticles()
        assert_that(articles, check)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example.com/2024/03/05/budget", dt.date(2024, 3, 5)),
        ("https://www.theguardian.com/world/2024/mar/05/budget", dt.date(2024, 3, 5)),
        ("https://news.example.com/politics/budget-20240305.html", dt.date(2024, 3, 5)),
        ("https://news.example.com/20240305/budget", dt.date(2024, 3, 5)),
        ("https://news.example.com/2024_03_05/budget", dt.date(2024, 3, 5)),
        ("https://news.example.com/a/20241399/budget", None),  # an id, no day
        ("https://news.example.com/a/budget?v=20240305", None),  # a cache key
        ("https://news.example.com/2024/03/budget", None),  # no day
        ("https://news.example.com/1989/03/05/budget", None),  # before 1995
        ("https://news.example.com/2099/03/05/budget", None),  # the future
        ("http://[news.example.com/2024/03/05/budget", None),  # urlsplit's ValueError
        (None, None),
    ],
)
def test_url_date(url: str | None, expected: dt.date | None) -> None:
    found = url_date(url)
    assert (found.at.date() if found else None) == expected
    assert found is None or found.precision == "day"


@pytest.mark.parametrize(
    ("byline", "expected", "precision"),
    [
        # htmldate read these as the day alone: midnight for a researcher counting by hour.
        ('<time datetime="2024-03-05T14:30:00+01:00">5 March 2024</time>', (13, 30), "minute"),
        ('<span itemprop="datePublished" content="2024-03-05T14:30:15+01:00">5 March</span>',
         (13, 30, 15), "second"),
        # A local midnight is a date alone; an update's time is not the publication's.
        ('<time datetime="2024-03-05T00:00:00+01:00">5 March 2024</time>', (), "day"),
        ('<time class="updated" datetime="2024-03-05T18:00:00+01:00">5 March 2024</time>', (),
         "day"),
    ],
)  # fmt: skip
def test_a_bylines_time_element_gives_the_time_of_the_day_found(
    byline: str, expected: tuple[int, ...], precision: str
) -> None:
    paragraphs = "".join(f"<p>{p}</p>" for p in ARTICLE_TEXT.split("\n\n"))
    page = (
        "<html><head><title>Budget</title></head><body><article>"
        f'<p class="byline">By Jane Doe {byline}</p>{paragraphs}</article></body></html>'
    )
    article = extract_document(RawDocument("a.html", "html", page.encode()), ExtractConfig())
    day = dt.datetime(2024, 3, 5, tzinfo=UTC)
    fields = dict(zip(("hour", "minute", "second")[: len(expected)], expected, strict=True))
    assert article.published_at == day.replace(**fields)
    assert article.published_precision == precision


def test_an_rfc_2822_publication_time_keeps_its_offset() -> None:
    """Review 58: an AEB page's JSON-LD says "datePublished": "Mon, 18 Nov 2019 16:07:38
    -0600"; htmldate gives the clock reading without the offset, and the offset readers
    knew ISO timestamps only: 16:07:38 UTC, six hours early."""
    paragraphs = "".join(f"<p>{p}</p>" for p in ARTICLE_TEXT.split("\n\n"))
    ld = '{"@context": "https://schema.org", "@type": "NewsArticle", '
    ld += '"datePublished": "Mon, 18 Nov 2019 16:07:38 -0600"}'
    page = (
        f'<html><head><title>Budget</title><script type="application/ld+json">{ld}</script>'
        f"</head><body><article>{paragraphs}</article></body></html>"
    )
    article = extract_document(RawDocument("a.html", "html", page.encode()), ExtractConfig())
    assert article.published_at == dt.datetime(2019, 11, 18, 22, 7, 38, tzinfo=UTC)
    assert stated_publication([], [ld]) == Published(article.published_at, "second")


def test_a_date_after_the_run_is_no_publication_time() -> None:
    """Review 58: a JSON record's, a text's or a feed's "2031-03-05" (an event's date, a
    scheduled post's) was kept as its publication: a count by day had days to come."""
    soon = dt.datetime.now(UTC) + dt.timedelta(hours=20)
    later = dt.datetime.now(UTC) + dt.timedelta(days=3)
    assert parse_published(soon.isoformat()) is not None  # a zone ahead of the run's
    assert parse_published(later.isoformat()) is None
    assert unix_time(int(later.timestamp())) is None
    assert header_date(later.strftime("Published: %B %d, %Y")) is None
    article = _json_article({"text": _BODY, "published": later.isoformat()})
    assert article.published_at is None
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>F</title><item><title>T</title>'
        f"<link>https://news.example.com/a</link><pubDate>{later:%a, %d %b %Y %H:%M:%S} +0000"
        "</pubDate><description>Words.</description></item></channel></rss>"
    )
    import feedparser

    from newsbeam.transforms.feeds.parse import entry_published

    assert entry_published(feedparser.parse(feed).entries[0]) is None


def test_texts_records_and_pages_dated_only_by_their_url_are_dated() -> None:
    """Review 58: a text's **URL** line and a JSON record's `url` were never read for a
    date, and htmldate reads a page's URL in two forms only (not "-20240305.html" nor The
    Guardian's "/2024/mar/05/"): each was undated though its URL says the day."""
    day = dt.datetime(2024, 3, 5, tzinfo=UTC)
    url = "https://www.theguardian.com/world/2024/mar/05/budget-vote"
    paragraphs = "".join(f"<p>{p}</p>" for p in ARTICLE_TEXT.split("\n\n"))
    page = (
        f'<html><head><title>Budget</title><link rel="canonical" href="{url}"></head>'
        f"<body><article>{paragraphs}</article></body></html>"
    )
    documents = [
        RawDocument("a.txt", "text", f"# Budget vote\n\n**{url}**\n\n{_BODY}".encode()),
        RawDocument("b.jsonl#L1", "jsonl", json.dumps({"text": _BODY, "url": url}).encode()),
        RawDocument("c.html", "html", page.encode()),
        RawDocument("d.html", "html", page.replace("/2024/mar/05/", "/").encode()),
    ]

    def check(articles: list) -> None:
        dated = {a.source: (a.published_at, a.published_precision) for a in articles}
        assert dated == {
            "a.txt": (day, "day"),
            "b.jsonl#L1": (day, "day"),
            "c.html": (day, "day"),
            "d.html": (None, None),
        }

    with make_test_pipeline() as pipeline:
        articles, _ = pipeline | beam.Create(documents) | ExtractArticles()
        assert_that(articles, check)


# A process forked after the extract DoFn's warm_up (or without it), as the worker template
# forks its workers: the memory (MB, tracemalloc's peak) trafilatura's justext fallback
# allocates on the child's first page.
_JUSTEXT_AFTER_FORK = """
import os, sys, tracemalloc
from lxml import html
from trafilatura.external import try_justext
from newsbeam.transforms.extract import ExtractConfig, _Extract

if sys.argv[1] == "warm":
    _Extract(ExtractConfig()).warm_up()
page = html.fromstring("<html><body>" + "<p>The words of one paragraph, and of it.</p>" * 9)
child = os.fork()
if child == 0:
    tracemalloc.start()
    try_justext(page, None, None)
    print(tracemalloc.get_traced_memory()[1] // 1_000_000)
    sys.stdout.flush()
    os._exit(0)
os.waitpid(child, 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers fork from a template")
def test_workers_forked_after_warm_up_share_the_justext_stoplist() -> None:
    """trafilatura's all-language justext stoplist (and justext's lower-cased set of it) is
    built in the template: a forked worker's first justext page allocates almost nothing,
    where building it took tens of MB in each worker."""

    def peak_mb(mode: str) -> int:
        command = [sys.executable, "-c", _JUSTEXT_AFTER_FORK, mode]
        return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)

    assert peak_mb("cold") >= 20
    assert peak_mb("warm") < 2


# --- the UTC offset htmldate drops ---------------------------------------------------------


def _naive(text: str, precision: str = "second") -> Published:
    return Published(dt.datetime.fromisoformat(text).replace(tzinfo=UTC), precision)


def test_with_page_offset_gives_the_clock_reading_its_offset() -> None:
    found = _naive("2025-06-05T14:46:12")
    ld = '{"datePublished": "2025-06-05T14:46:12.981+02:00"}'
    assert with_page_offset(found, [ld]).at == dt.datetime(2025, 6, 5, 12, 46, 12, tzinfo=UTC)
    # "+0100", "-05:00" and a space before the offset, as pages write them.
    assert with_page_offset(found, ["2025-06-05 14:46:12 +0100"]).at.hour == 13
    assert with_page_offset(found, ["2025-06-05T14:46:12-05:00"]).at.hour == 19
    # Minute precision: the page's seconds do not matter; ours, when known, must agree.
    assert with_page_offset(_naive("2025-06-05T14:46", "minute"), [ld]).at.hour == 12
    assert with_page_offset(found, ["2025-06-05T14:46:13+02:00"]) == found


def test_with_page_offset_leaves_what_it_cannot_place() -> None:
    found = _naive("2025-06-05T14:46:12")
    assert with_page_offset(found, ["2025-06-05T14:46:12Z"]) == found  # UTC said
    assert with_page_offset(found, ["2025-06-05T09:00:00+02:00"]) == found  # another time
    assert with_page_offset(found, []) == found
    day = _naive("2025-06-05T00:00:00", "day")
    assert with_page_offset(day, ["2025-06-05T00:00:00+02:00"]) == day  # a date alone
    assert with_page_offset(None, ["2025-06-05T14:46:12+02:00"]) is None
    # Two offsets for one clock reading: the first text's (the JSON-LD, read first).
    first = with_page_offset(found, ["2025-06-05T14:46:12-06:00", "2025-06-05T14:46:12+00:00"])
    assert first.at.hour == 20


def test_a_page_published_in_local_time_is_stored_in_utc() -> None:
    # htmldate answers "2025-06-05T14:46:12+0000" for this page: the clock reading, as UTC.
    page = (
        "<html><head><title>T</title>"
        '<meta name="article:published_time" content="2025-06-05T14:46:12+02:00">'
        "</head><body><p>Text.</p></body></html>"
    )
    published = html_metadata(parse_html(page.encode())).published
    assert published == Published(dt.datetime(2025, 6, 5, 12, 46, 12, tzinfo=UTC), "second")


def _head(*tags: str) -> list:
    return list(fromstring(f"<html><head>{''.join(tags)}</head><body></body></html>")[0])


def test_stated_publication_reads_json_ld_then_opengraph() -> None:
    og = '<meta property="article:published_time" content="2024-10-15T08:22:57+02:00">'
    ld = '{"@type": "NewsArticle", "datePublished": "2024-10-15T07:00:00+02:00"}'
    assert stated_publication(_head(og), []).at == dt.datetime(2024, 10, 15, 6, 22, 57, tzinfo=UTC)
    assert stated_publication(_head(og), [ld]).at.hour == 5  # JSON-LD first
    # A date alone, no offset, a placeholder or a time after the run: nothing stated.
    for value in ("2024-10-15", "2024-10-15T08:22:57", "0001-01-01T00:00:00Z", "2999-01-01T00:00Z"):
        tag = f'<meta property="article:published_time" content="{value}">'
        assert stated_publication(_head(tag), []) is None, value


def test_the_stated_publication_wins_over_a_later_date() -> None:
    stated = Published(dt.datetime(2024, 10, 15, 6, 22, 57, tzinfo=UTC), "second")
    modified = Published(dt.datetime(2024, 10, 15, 15, 38, 42, tzinfo=UTC), "second")
    assert earliest_stated(modified, stated) == stated
    assert earliest_stated(None, stated) == stated
    # An earlier date found stays; so does anything when nothing is stated.
    earlier = Published(dt.datetime(2024, 10, 14, 9, 0, tzinfo=UTC), "minute")
    assert earliest_stated(earlier, stated) == earlier
    assert earliest_stated(modified, None) == modified
    # The same day told to the second replaces a date alone.
    day = Published(dt.datetime(2024, 10, 15, tzinfo=UTC), "day")
    assert earliest_stated(day, modified) == modified


def test_a_page_dated_by_its_update_keeps_its_publication_time() -> None:
    # htmldate reads <meta name="date"> (the update, as El País fills it) first.
    page = (
        "<html><head><title>T</title>"
        '<meta name="date" content="2024-10-15T17:38:42+02:00">'
        '<meta property="article:published_time" content="2024-10-15T08:22:57+02:00">'
        '<meta property="article:modified_time" content="2024-10-15T17:38:42+02:00">'
        "</head><body><p>Text.</p></body></html>"
    )
    published = html_metadata(parse_html(page.encode())).published
    assert published.at == dt.datetime(2024, 10, 15, 6, 22, 57, tzinfo=UTC)


def test_a_page_with_more_markup_than_a_page_has_is_too_complex() -> None:
    # 40,000 <span>s in one paragraph took two minutes to extract, 100,000 attributes on one
    # element 2.5 (lxml's parse alone), with no time limit that could stop them.
    page = "<html><body><article><p>{}</p></article></body></html>"
    spans = page.format("".join(f"<span>w{i}</span> " for i in range(20_001))).encode()
    attributes = page.format("<div " + " ".join(f"a{i}=1" for i in range(100_001)) + ">x</div>")
    for content, found in ((spans, "40,010 tags"), (attributes.encode(), "100,001 attributes")):
        with pytest.raises(ExtractError) as refused:
            extract_document(RawDocument("p.html", "html", content), ExtractConfig())
        assert refused.value.reason == "too_complex" and found in str(refused.value)
    # Raised, the limit lets it through.
    small = page.format("".join(f"<span>w{i}</span> " for i in range(2_000))).encode()
    article = extract_document(
        RawDocument("p.html", "html", small), ExtractConfig(max_html_tags=5000)
    )
    assert article.text.startswith("w0 w1")


@pytest.mark.parametrize("tag", ["div", "font"])
def test_a_page_nested_deeper_than_256_levels_is_read_to_its_end(tag: str) -> None:
    # A legacy page's unclosed tags nest: trafilatura's parser stopped at 256 levels and the
    # rest of the page was gone, without a word (the closing paragraph missing before).
    words = "words of the article that are here to be found in the text. " * 4
    page = (
        f"<html><head><title>Deep</title></head><body><article><p>Lead {words}</p>"
        + f"<{tag}>" * 400
        + f"<p>Deep {words}</p>"
        + f"</{tag}>" * 400
        + f"<p>Closing {words}</p></article></body></html>"
    )
    article = extract_document(RawDocument("p.html", "html", page.encode()), ExtractConfig())
    assert [p[:5] for p in article.text.split("\n") if p] == ["Lead ", "Deep ", "Closi"]


@pytest.mark.parametrize(
    "encoding, lead", [("latin-1", "Lead café"), ("utf-8", "Lead \x0b"), ("utf-8", "Lead \x00")]
)
def test_a_legacy_page_nested_deep_is_read_whole_or_too_complex(encoding: str, lead: str) -> None:
    """A page not in UTF-8 (Latin-1) or holding a control character load_html deletes went
    to trafilatura's parser, which stops at 256 levels: only its lead was kept, and a page
    nested 2,100 deep was an article of its lead instead of too_complex."""
    words = "words of the article that are here to be found in the text. " * 4
    charset = '<meta charset="iso-8859-1">' if encoding == "latin-1" else ""
    page = (
        f"<html><head>{charset}<title>Deep</title></head><body><article><p>{lead} {words}</p>"
        + "<div>" * 400
        + f"<p>Deep {words}</p>"
        + "</div>" * 400
        + f"<p>Closing {words}</p></article></body></html>"
    )
    article = extract_document(
        RawDocument("p.html", "html", page.encode(encoding)), ExtractConfig()
    )
    assert [p[:5] for p in article.text.split("\n") if p] == ["Lead ", "Deep ", "Closi"]
    assert "café" in article.text or encoding != "latin-1"
    page = f"<html><head>{charset}</head><body><p>{lead} {words}</p>" + "<div>" * 2100
    page += f"<p>Deep {words}</p></body></html>"
    with pytest.raises(ExtractError) as refused:
        extract_document(RawDocument("p.html", "html", page.encode(encoding)), ExtractConfig())
    assert refused.value.reason == "too_complex"


def test_a_page_nested_deeper_than_the_parser_reads_is_too_complex() -> None:
    page = "<html><body><p>Lead words.</p>" + "<div>" * 2100 + "<p>Deep words.</p></body></html>"
    with pytest.raises(ExtractError) as refused:
        extract_document(RawDocument("p.html", "html", page.encode()), ExtractConfig())
    assert refused.value.reason == "too_complex"
    assert "nested deeper than 2,048 levels" in str(refused.value)


def test_a_json_record_nested_too_deep_is_bad_json() -> None:
    deep = ('{"text": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()  # internal_error before
    with pytest.raises(ExtractError) as refused:
        extract_document(RawDocument("r.jsonl#L1", "jsonl", deep), ExtractConfig())
    assert (refused.value.reason, str(refused.value)) == (
        "bad_json",
        "JSON nested too deep to read",
    )


def _page_with_json_ld(json_ld: str, body: str) -> bytes:
    return (
        '<html><head><title>Budget row</title><script type="application/ld+json">'
        f"{json_ld}</script></head><body><article><h1>Budget row</h1>{body}</article>"
        "</body></html>"
    ).encode()


def test_character_references_in_json_ld_are_decoded() -> None:
    """JSON-LD strings are plain text, yet sites write HTML's character references in them:
    a Freie Presse page's publisher was "... Druck GmbH &amp; Co. KG" in the site column,
    and a New Yorker articleBody kept "&nbsp;" in the text. A bare "&" stays ("AT&T")."""
    body = " ".join(_sentence(i) for i in range(8))
    json_ld = (
        '{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Budget row", '
        '"publisher": {"@type": "Organization", "name": "Verlag GmbH &amp; Co. KG"}, '
        f'"articleBody": "{body} AT&T said &#8220;no&#8221;.&nbsp;Q&amp;A follows."}}'
    )
    page = RawDocument("p.html", "html", _page_with_json_ld(json_ld, "<p>Short intro.</p>"))
    article = extract_document(page, ExtractConfig())
    assert article.site == "Verlag GmbH & Co. KG"
    assert "AT&T said \u201cno\u201d. Q&A follows." in article.text
    assert "&nbsp;" not in article.text and "&amp;" not in article.text
    assert json_ld_text("&lt;p&gt;One.&lt;/p&gt;&lt;p&gt;Two.&lt;/p&gt;") == "One.\nTwo."


def test_embedded_script_and_iframe_markup_leaves_the_text() -> None:
    """A chart's embed code written into the article (Times of India: an articleBody holding
    an escaped <iframe> and its <script>) came out as text; it is removed and recorded."""
    embed = (
        '&lt;iframe title=\\"Attacks\\" src=\\"https://charts.example/c2/\\" height=\\"442\\"&gt;'
        '&lt;/iframe&gt;&lt;script type=\\"text/javascript\\"&gt;!function(){window.x=1}();'
        "&lt;/script&gt;"
    )
    body = " ".join(_sentence(i) for i in range(8))
    json_ld = f'{{"@type": "NewsArticle", "articleBody": "{body} {embed} The vote is next."}}'
    page = RawDocument("p.html", "html", _page_with_json_ld(json_ld, "<p>Short intro.</p>"))
    article = extract_document(page, ExtractConfig())
    assert "<iframe" not in article.text and "<script" not in article.text
    assert "function()" not in article.text
    assert "The vote is next." in article.text
    assert [r.reason for r in article.removed] == ["markup", "markup"]
    assert strip_embedded_markup("Code: <b>bold</b> and a < b > c.") == (
        "Code: <b>bold</b> and a < b > c.",
        [],
    )


def _json_article(record: dict):
    line = json.dumps(record).encode()
    return extract_document(RawDocument("r.jsonl#L1", "jsonl", line), ExtractConfig())


_BODY = "The council voted on Tuesday to approve a new budget.\n\nThe mayor welcomed it."


def test_a_json_records_text_keeps_its_first_line_unless_it_is_the_header() -> None:
    # The record's own title is its title: a short first line of the text ("Key points",
    # a kicker) was taken out as a title line and thrown away, in no `removed` entry.
    article = _json_article({"title": "Budget passes", "text": "Key points\n\n" + _BODY})
    assert article.title == "Budget passes"
    assert article.text == "Key points\n\n" + _BODY
    # Without a title field the text's title line is the title, as in a raw text file.
    # Its date line leaves the text, as there, and is listed in `removed` (it was lost).
    article = _json_article({"text": "Budget passes\n\nMarch 5, 2024\n\n" + _BODY})
    assert (article.title, article.text) == ("Budget passes", _BODY)
    assert [(r.text, r.reason) for r in article.removed] == [("March 5, 2024", "date_line")]
    article = _json_article({"text": " date 2023-10-09 " + _BODY})
    assert article.removed[0] == ("date 2023-10-09", "date_line")
    assert article.text == _BODY


def test_json_published_as_unix_time() -> None:
    for value in (1709630000, 1709630000.0, "1709630000", 1709630000000, "1709630000000"):
        article = _json_article({"text": _BODY, "published": value})
        assert article.published_at == dt.datetime(2024, 3, 5, 9, 13, 20, tzinfo=UTC), value
        assert article.published_precision == "second"
    assert _json_article({"text": _BODY, "published": True}).published_at is None


def test_json_authors_as_objects_and_joined_names() -> None:
    authors = [{"@type": "Person", "name": "Jane Doe"}, {"name": "John Roe"}, {"url": "x"}]
    assert _json_article({"text": _BODY, "authors": authors}).authors == ["Jane Doe", "John Roe"]
    assert _json_article({"text": _BODY, "author": {"name": "Jane Doe"}}).authors == ["Jane Doe"]
    assert _json_article({"text": _BODY, "authors": ["Jane Doe and John Roe"]}).authors == [
        "Jane Doe",
        "John Roe",
    ]
    assert _json_article({"text": _BODY, "author": "By Jane Doe"}).authors == ["Jane Doe"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # A byline's "By" in other languages stayed part of the name: "Por María García".
        ("Por María García", ["María García"]),
        ("di Marco Rossi", ["Marco Rossi"]),
        ("Von Max Mustermann", ["Max Mustermann"]),
        ("Par Jean Dupont et Marie Curie", ["Jean Dupont", "Marie Curie"]),
        ("Door Jan de Vries en Piet Jansen", ["Jan de Vries", "Piet Jansen"]),
        ("Oleh Budi Santoso dan Siti Aminah", ["Budi Santoso", "Siti Aminah"]),
        ("Автор: Иван Петров и Анна Смирнова", ["Иван Петров", "Анна Смирнова"]),
        ("بقلم أحمد علي", ["أحمد علي"]),
        # Review 93: the byline words and list commas of the desk's other languages.
        ("本報記者 陳大文", ["陳大文"]),
        ("记者 李华、王明", ["李华", "王明"]),
        ("作者：李华", ["李华"]),
        ("文/王明", ["王明"]),
        ("김민수 기자 및 이영희 기자", ["김민수", "이영희"]),
        ("โดย สมชาย ใจดี", ["สมชาย ใจดี"]),
        ("نوشته علی رضایی", ["علی رضایی"]),
        ("به قلم مریم احمدی", ["مریم احمدی"]),
        ("محمد حسن، منى سعيد", ["محمد حسن", "منى سعيد"]),
        ("محمد حسن و منى سعيد", ["محمد حسن", "منى سعيد"]),
        ("وليد سعيد", ["وليد سعيد"]),
        # Particles and surnames that look like one stay.
        ("Di Maio Luigi", ["Di Maio Luigi"]),
        ("von der Leyen", ["von der Leyen"]),
        ("Ursula von der Leyen", ["Ursula von der Leyen"]),
        # "y", "e" and "i" join two people when both sides are whole names (review 71:
        # "Ana García y Luis Pérez" was one author); a double surname stays one person.
        ("Por Ana García y Luis Pérez", ["Ana García", "Luis Pérez"]),
        ("Mario Rossi e Giulia Bianchi", ["Mario Rossi", "Giulia Bianchi"]),
        ("Joan Puig i Marta Vila", ["Joan Puig", "Marta Vila"]),
        ("José Ortega y Gasset", ["José Ortega y Gasset"]),
        ("Santiago Ramón y Cajal", ["Santiago Ramón y Cajal"]),
    ],
)
def test_json_bylines_in_other_languages(value: str, expected: list[str]) -> None:
    assert _json_article({"text": _BODY, "author": value}).authors == expected


def test_list_items_and_table_rows_stay_lines_of_their_own() -> None:
    # A block's lines were re-joined as a hard-wrapped paragraph: "1. Transit gets more.
    # 2. Taxes rise." and a table as one run-on line of cells.
    text = (
        "Title\n\nThe council passed the budget.\n\n1. Transit gets more\n   money.\n"
        "2. Taxes rise.\n- Parks are cut.\n\n| item | amount |\n|---|---|\n| transit | 12 |"
    )
    _, body, _ = parse_text_document(text)
    assert body.split("\n\n") == [
        "The council passed the budget.",
        "1. Transit gets more money.",
        "2. Taxes rise.",
        "- Parks are cut.",
        "| item | amount |",
        "|---|---|",
        "| transit | 12 |",
    ]


def test_documents_of_other_kinds_are_rejected_and_text_may_be_a_str() -> None:
    # A caller's own RawDocuments: a feed became an article whose text was its XML, any
    # unknown kind was read as text, and text given as a str was an internal_error.
    feed = RawDocument(
        "f.xml", "feed", b"<rss><channel><item><title>x</title></item></channel></rss>"
    )
    for doc, detail in ((feed, "ReadFeeds"), (RawDocument("a.pdf", "pdf", b"%PDF"), "'pdf'")):
        with pytest.raises(ExtractError, match=detail) as raised:
            extract_document(doc, ExtractConfig())
        assert raised.value.reason == "not_a_document"
    for kind, content in (("text", ARTICLE_TEXT), ("html", ARTICLE_HTML)):
        article = extract_document(RawDocument("s", kind, content), ExtractConfig())  # type: ignore[arg-type]
        assert "The city council approved" in article.text
    with make_test_pipeline() as pipeline:
        _, rejected = pipeline | beam.Create([feed]) | ExtractArticles()
        assert_that(
            rejected | beam.Map(lambda r: (r.stage, r.reason)),
            lambda rows: rows == [("extract", "not_a_document")] or pytest.fail(str(rows)),
        )


# --- The libraries' log lines: dropped during NewsBeam's extraction only ----------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_quiet_drops_the_libraries_records_of_this_thread_only() -> None:
    from newsbeam.transforms.support import quiet_logs

    records = _Records()
    logger = logging.getLogger("trafilatura.utils")
    logger.addHandler(records)
    try:
        with quiet_logs.quiet():
            logger.error("inside")
            logging.getLogger("newsbeam.test").error("ours")  # not a quieted library
        logger.error("outside")
    finally:
        logger.removeHandler(records)
    assert [record.getMessage() for record in records.records] == ["outside"]
    assert quiet_logs.is_quieted("htmldate.core") and not quiet_logs.is_quieted("trafilaturax")


def test_extraction_leaves_a_library_users_logging_of_trafilatura_as_it_was() -> None:
    """ExtractArticles.setup() set the trafilatura and htmldate loggers to CRITICAL for the
    whole process: a library user who logs trafilatura (DEBUG, say) in their own code lost
    it for good once the stage had run. Now their levels stay theirs and their own calls
    log; the stage's own pages still log nothing (each bad page is a rejected row)."""
    import trafilatura

    records = _Records()
    library = logging.getLogger("trafilatura")
    saved = library.level
    library.setLevel(logging.DEBUG)
    library.addHandler(records)
    try:
        pages = [RawDocument("empty.html", "html", b""), RawDocument("bad.html", "html", b"\x00")]
        with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as pipeline:
            _, rejected = pipeline | beam.Create(pages) | ExtractArticles()
            assert_that(
                rejected | beam.Map(lambda row: (row.source, row.reason)),
                equal_to([("empty.html", "no_text"), ("bad.html", "no_text")]),
            )
        assert [r for r in records.records if r.levelno >= logging.WARNING] == []
        assert library.level == logging.DEBUG
        assert logging.getLogger("trafilatura.utils").getEffectiveLevel() == logging.DEBUG
        trafilatura.extract(b"")  # the user's own call: its lines reach the user's handler
        assert any(r.name.startswith("trafilatura") for r in records.records)
    finally:
        library.removeHandler(records)
        library.setLevel(saved)


def test_the_command_logs_none_of_the_libraries_lines_in_its_workers_either(
    tmp_path: Path,
) -> None:
    """...while the command's log stays free of them, in worker processes too."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "empty.html").write_bytes(b"")
    (inbox / "nul.html").write_bytes(b"\x00")
    (inbox / "story.txt").write_text("The council met on Tuesday to vote on the budget. " * 5)
    run = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", "--input", str(inbox), "--output",
         str(tmp_path / "out"), "--direct_num_workers", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "trafilatura" not in run.stderr and "htmldate" not in run.stderr, run.stderr
    assert "rejected    2" in run.stdout, run.stdout


def _inline_page(elements: int) -> bytes:
    """One paragraph of `elements` inline elements: libxml2's XPath over it takes time that
    grows with the square of their number (20,000: 11 s in one call; 5,000: 0.2-0.4 s)."""
    inline = "".join(f"<em>w{i}</em> " for i in range(elements))
    return f"<html><body><article><p>{inline}</p></article></body></html>".encode()


def _cpu_seconds() -> float:
    """CPU time of this process (every thread: the FnApiRunner runs the DoFns in it) and of
    its reaped children (the killed extraction): unlike the wall clock, the same on a
    loaded machine."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def test_a_page_past_the_time_limit_is_rejected_and_the_run_goes_on() -> None:
    # Under --max_html_tags, 20,000 inline elements in one paragraph took 11-15 s, most of it
    # in one C call no exception stops: such a page is extracted in a child process that is
    # killed at the limit. A smaller one (4,900, under ISOLATE_TAGS) runs in the worker,
    # stopped by the watchdog's exception. Both are rejected rows; the article beside them is
    # extracted. The good page was the first extraction of its process, which pays a one-off
    # warm-up of 60-90 ms (trafilatura's first calls), over the 0.05 s limit on a busy
    # machine: it was rejected in 5 runs of 5 at load 10. Paid before the run, the good page
    # takes ~1 ms (x50 under the limit); the pages rejected take 0.2 s of CPU and more
    # (x4-x200 over it), whatever the load.
    good = RawDocument("good.html", "html", ARTICLE_HTML.encode())
    extract_document(good, ExtractConfig())  # what the first page of a process pays, once
    documents = [
        good,
        RawDocument("huge.html", "html", _inline_page(19_990)),
        RawDocument("large.html", "html", _inline_page(4_900)),
    ]
    config = ExtractConfig(max_page_seconds=0.05)

    def check_rejected(rejected: list) -> None:
        assert sorted((r.source, r.stage, r.reason) for r in rejected) == [
            ("huge.html", "extract", "time_limit"),
            ("large.html", "extract", "time_limit"),
        ]
        assert all("--max_page_seconds" in r.detail for r in rejected)

    cpu = _cpu_seconds()
    with make_test_pipeline() as pipeline:
        docs = pipeline | beam.Create(documents)
        articles, rejected = docs | ExtractArticles(config)
        assert_that(
            articles, lambda found: [a.source for a in found] == ["good.html"], label="Good"
        )
        assert_that(rejected, check_rejected, label="CheckRejected")
    # Unstopped, the huge page alone takes 4.5 s of CPU (7-15 s of wall clock); stopped, the
    # whole run takes ~0.7 s. CPU time, which a busy machine does not stretch: a bound of
    # 10 s on the wall clock was as much about the load as about the page.
    assert _cpu_seconds() - cpu < 3
    counters = counters_of(pipeline)
    assert counters["extract_time_limit"] == 2 and counters["extract_isolated"] == 1
    # The limit raised (0: none), the smaller page is read.
    article = extract_document(documents[2], ExtractConfig(max_page_seconds=0))
    assert article.text.startswith("w0 w1")


_DE = "Die Regierung sagte am Dienstag, dass die Gespräche über die Zölle weitergehen würden. "
_FR = "Le ministre a déclaré que les négociations continueraient à Genève. "
_RU = "Министр заявил во вторник, что переговоры продолжатся. "


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # A UTF-8 text with one cp1252 dash pasted in: before, every umlaut of it read as
        # two letters ("GesprÃĊche"), the text detected as ISO-8859-14 as a whole.
        ((_DE * 5).encode() + b" \x96 " + (_DE * 5).encode(), _DE * 5 + " – " + _DE * 5),
        # A crawler's concatenation of a UTF-8 and a cp1252 (latin-1) text.
        ((_DE * 3).encode() + (_FR * 3).encode("cp1252"), _DE * 3 + _FR * 3),
        # UTF-8 and cp1251: before, no encoding fitted the whole and it was rejected.
        ((_RU * 5).encode() + (_RU * 5).encode("cp1251"), _RU * 10),
        # One encoding throughout, single- or multi-byte: detected as before.
        ((_DE * 5).encode("cp1252"), _DE * 5),
        ((_RU * 5).encode("cp1251"), _RU * 5),
        ("日本語のテキストです。政府は火曜日に発表した。".encode("shift_jis") * 5, None),
    ],
    ids=[
        "utf8_one_cp1252_byte",
        "utf8_then_cp1252",
        "utf8_then_cp1251",
        "cp1252",
        "cp1251",
        "shift_jis",
    ],  # fmt: skip
)
def test_text_of_mixed_encodings_is_decoded_part_by_part(data: bytes, expected: str) -> None:
    text = decode_text(data)
    if expected is None:
        expected = data.decode("shift_jis")
    assert text == expected


def test_markdown_patterns_take_linear_time() -> None:
    # Review 55: from each "[" the link pattern ran to the text's end when no "]" came
    # (300,000 "[" over a minute), and the title's lazy `.+?\s*#*$` tried the rest of the
    # line at each character (20,000 #s: 2.3 s). Both are within --max_document_bytes.
    # CPU time of this thread, which a loaded host does not stretch as it does the wall clock.
    start = time.thread_time()
    _, body, _ = parse_text_document("Some words first.\n\n" + "[" * 300_000)
    assert body.endswith("[" * 1000)
    header, _, _ = parse_text_document("# " + "#" * 300_000 + "x\n\nThe body of it.")
    assert header.title == "#" * 300_000 + "x"
    assert time.thread_time() - start < 5  # about 0.1 s
    # What the patterns read is unchanged: links keep their anchor, titles lose their #s.
    header, body, _ = parse_text_document("# Title ##\n\nSee [the report](http://a/b(1)) now.")
    assert (header.title, body) == ("Title", "See the report now.")
    _, body, _ = parse_text_document("Words here.\n\nA [x [y](http://a/b) and [z] done.")
    assert body.endswith("A [x y and [z] done.")


def test_a_text_document_stops_at_the_time_limit() -> None:
    # Review 55: a text or JSON record had no time limit (only HTML pages had one). Mixed
    # UTF-8 and cp1252 bytes decode byte by byte through a Python handler: ~1 s here.
    content = b"Gespr\xc3\xa4che \xe4 " * 400_000
    config = ExtractConfig(max_page_seconds=0.05)
    with pytest.raises(ExtractError) as raised:
        extract_document(RawDocument("mixed.txt", "text", content), config)
    assert raised.value.reason == "time_limit"
    assert "0.05 s a page (--max_page_seconds)" in str(raised.value)
    # Within the limit it reads as before.
    ok = RawDocument("ok.txt", "text", content[:200])
    article = extract_document(ok, ExtractConfig(max_page_seconds=30))
    assert article.text.startswith("Gespräche ä")


_STORY_PARAGRAPHS = [
    f"Paragraph {n}: the agency said the rocket's core stage would be shipped for testing "
    f"next year, and that the engines would fire for eight minutes as on a launch."
    for n in range(1, 7)
]


def test_a_page_laid_out_in_a_table_keeps_its_paragraphs() -> None:
    """A page set in a layout table (an article in one cell, as older sites and Space
    Review's pages are) came out as one paragraph of the whole article starting "| |" and
    ending with the footer's links ("Home | |"): trafilatura writes a cell on one line. The
    layout table is read as divisions; a data table beside it stays a table."""
    from newsbeam.transforms.extract import unwrap_layout_tables

    story = "".join(f"<p>{paragraph}</p>" for paragraph in _STORY_PARAGRAPHS)
    data = (
        "<table><tr><th>Stage</th><th>Engines</th></tr><tr><td>Core</td><td>4</td></tr>"
        "<tr><td>Upper</td><td>1</td></tr></table>"
    )
    page = (
        "<html><head><title>A bigger role for a big rocket</title></head><body>"
        "<table><tr><td><a href='/'>Home</a></td><td>"
        f"<h1>A bigger role for a big rocket</h1>{story}{data}</td><td></td></tr></table>"
        "</body></html>"
    )
    tree = parse_html(page.encode())
    assert unwrap_layout_tables(tree) == 1
    assert [table.xpath("string(.//td)") for table in tree.iter("table")] == ["Core"]

    def check(articles: list) -> None:
        (article,) = articles
        paragraphs = article.text.split("\n\n")
        assert [p for p in paragraphs if p.startswith("Paragraph")] == _STORY_PARAGRAPHS
        assert not any(p.startswith("| |") or "Paragraph 2" in p[20:] for p in paragraphs)

    with make_test_pipeline() as pipeline:
        articles, _ = (
            pipeline
            | beam.Create([RawDocument("layout.html", "html", page.encode())])
            | ExtractArticles()
        )
        assert_that(articles, check)
    assert counters_of(pipeline)["extract_layout_tables"] == 1


def test_a_layout_table_nested_deep_is_read_without_recursion() -> None:
    """parse_html admits markup 2,048 levels deep; the layout-table walk recursed once a
    level and raised RecursionError at about 1,000 levels inside a table."""
    from newsbeam.transforms.extract import unwrap_layout_tables

    depth = 1500
    page = (
        "<html><body><table><tr><td>" + "<div>" * depth + "<p>One.</p><p>Two.</p>"
        + "</div>" * depth + "</td></tr></table></body></html>"
    )  # fmt: skip
    tree = parse_html(page.encode())
    assert unwrap_layout_tables(tree) == 1
    assert not list(tree.iter("table", "td"))


def test_a_json_ld_body_in_html_keeps_the_break_between_its_words() -> None:
    """A JSON-LD articleBody holding HTML was read block by block with each block's text
    whole: the words on either side of a <br> or a nested block were glued ("One line.Two
    line.", "IntroPara one."). It is read by html_to_text, the route feeds take
    (support/markup.py)."""
    assert json_ld_text("<p>One line.<br>Two line.</p><p>Three &amp; four</p>") == (
        "One line. Two line.\nThree & four"
    )
    assert json_ld_text("<div>Intro<p>Para one.</p><iframe>x</iframe></div>") == (
        "Intro\nPara one."
    )
    # What the extract stage weighs against trafilatura's text (choose_text) and keeps.
    html = "<br>".join(_sentence(i) for i in range(3)).replace('"', '\\"')
    json_ld = f'{{"@type": "NewsArticle", "articleBody": "<div>{html}</div>"}}'
    signals = page_signals(parse_html(_page_with_json_ld(json_ld, "<p>Short intro.</p>")))
    assert signals.json_ld_body == " ".join(_sentence(i) for i in range(3))  # not ".Delegates"


@pytest.mark.parametrize(
    "text",
    [
        "A title for the cp1252 story\n\nThe minister said \u201cwe won\u2019t give up\u201d"
        " \u2013 and the crowd cheered loudly\u2026 It was the \u2018best\u2019 day of the year"
        " for the town.\n",
        "Prices rose \u2013 again \u2026 by \u00a35 and \u20ac3 \u2014 the \u201cbig\u201d"
        " shops said.",
    ],
    ids=["quotes_dashes_ellipsis", "pounds_euros"],
)
def test_a_cp1252_text_whose_only_other_bytes_are_punctuation_is_read_as_cp1252(
    text: str,
) -> None:
    """Review 70: a Word export's quotes and dashes, the only bytes past ASCII, were read in
    a DOS code page charset-normalizer found more coherent ("we won\u013at give up", cp852;
    "Prices rose \u00f1 again")."""
    assert decode_text(text.encode("cp1252")) == text
    # Letters past ASCII leave the choice to detection, as before.
    french = "Le club a annonc\u00e9 l\u2019arriv\u00e9e d\u2019un nouvel entra\u00eeneur. " * 3
    assert decode_text(french.encode("cp1252")) == french
    assert decode_text((_RU * 5).encode("cp1251")) == _RU * 5


# Day-first numeric dates (review 71: a media-monitoring firm's Spanish, Italian, Dutch...)

_ES_BODY = (
    "El Gobierno aprobó el martes la reforma de las pensiones tras meses de negociación con "
    "los sindicatos.\n\nLa oposición anunció que recurrirá la norma ante el Constitucional."
)


def test_a_numeric_date_is_read_day_first_in_a_text_in_another_language_than_english() -> None:
    # "05/03/2025" is 5 March in Spanish, Portuguese, Italian, French, German and Dutch
    # news (and 3 May in American English): a Spanish record's date was two months off,
    # silently, whenever the day was 12 or less.
    march_5 = dt.datetime(2025, 3, 5, tzinfo=UTC)
    article = _json_article({"text": _ES_BODY, "published": "05/03/2025"})
    assert article.published_at == march_5
    article = _json_article({"text": _ES_BODY, "published": "05/03/2025 14:30"})
    assert article.published_at == march_5.replace(hour=14, minute=30)
    # A text file's date line, too.
    doc = RawDocument(
        "es.txt", "text", ("Reforma de las pensiones\n\n05/03/2025\n\n" + _ES_BODY).encode()
    )
    assert extract_document(doc, ExtractConfig()).published_at == march_5
    # English keeps the month first (American news writes it so).
    article = _json_article({"text": _BODY, "published": "05/03/2025"})
    assert article.published_at == dt.datetime(2025, 5, 3, tzinfo=UTC)
    # Unambiguous dates are read as written in any language.
    article = _json_article({"text": _ES_BODY, "published": "13/03/2025"})
    assert article.published_at == dt.datetime(2025, 3, 13, tzinfo=UTC)


def test_a_records_labelled_date_is_read_as_a_date_line_is() -> None:
    # A record's "published" as the page showed it ("Actualizado: 05/03/2025 - 14:30h")
    # was no date at all, though the same words as a text's date line were read.
    for value in ("Actualizado: 05/03/2025 - 14:30h", "Aggiornato il 05/03/2025 alle 14:30"):
        article = _json_article({"text": _ES_BODY, "published": value})
        assert article.published_at == dt.datetime(2025, 3, 5, 14, 30, tzinfo=UTC), value
    article = _json_article({"text": _ES_BODY, "published": "Publicado el 5 mar. 2025"})
    assert article.published_at == dt.datetime(2025, 3, 5, tzinfo=UTC)
    # Words that are no date label leave it no date, as before.
    assert _json_article({"text": _ES_BODY, "published": "hace 2 horas"}).published_at is None


# Visible bylines (review 71): "Por Ana García" on a line of its own


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("Por Ana García", ["Ana García"]),
        ("Di Mario Rossi", ["Mario Rossi"]),
        ("di Mario Rossi e Giulia Bianchi", ["Mario Rossi", "Giulia Bianchi"]),
        ("Door Jan de Vries", ["Jan de Vries"]),
        ("Von Anna Sleegers, Frankfurt", ["Anna Sleegers"]),
        ("Par Marie Dupont et Jean Martin", ["Marie Dupont", "Jean Martin"]),
        ("Por João Silva | Lisboa", ["João Silva"]),
        ("POR ANA GARCÍA", ["ANA GARCÍA"]),
        ("By Anna Garcia and John Roe", ["Anna Garcia", "John Roe"]),
        # Sentences and other lines are no byline.
        ("Por la mañana, el Gobierno aprobó la reforma.", None),
        ("Di Maio ha detto che il governo andrà avanti.", None),
        ("By the end of the year prices had doubled", None),
        ("Door de regen werd de wedstrijd afgelast", None),
        ("Von Mittwoch an gilt die neue Regel", None),
        ("By AP", None),
    ],
)
def test_a_byline_line_names_its_authors(line: str, names: list[str] | None) -> None:
    assert byline_names(line) == names


def test_a_bylines_names_are_the_authors_of_a_text_without_any() -> None:
    # A visible byline was left in the text (joined to the dateline under it: "Por Ana
    # García Madrid, 5 de marzo") and the authors were empty.
    text = "Reforma de las pensiones\n\nPor Ana García\nMadrid, 5 de marzo\n\n" + _ES_BODY
    article = extract_document(RawDocument("es.txt", "text", text.encode()), ExtractConfig())
    assert article.authors == ["Ana García"]
    assert "Por Ana García" not in article.text and article.text.startswith("Madrid, 5 de marzo")
    assert ("Por Ana García", "byline") in [(r.text, r.reason) for r in article.removed]
    # A JSON record's own authors come first; its text's byline still leaves the text.
    record = {"text": "Di Mario Rossi\n\n" + _ES_BODY, "author": "Redazione Esteri"}
    article = _json_article(record)
    assert article.authors == ["Redazione Esteri"] and not article.text.startswith("Di Mario")
    assert _json_article({"text": "Di Mario Rossi\n\n" + _ES_BODY}).authors == ["Mario Rossi"]


def test_a_pages_visible_byline_names_its_authors_when_its_metadata_names_none() -> None:
    body = "".join(f"<p>{_sentence(i)}</p>" for i in range(8))
    page = (
        "<html lang='nl'><head><title>Kabinet trekt extra geld uit</title></head><body>"
        f"<article><h1>Kabinet trekt extra geld uit</h1><p>Door Jan de Vries</p>{body}"
        "</article></body></html>"
    )
    article = extract_document(RawDocument("nl.html", "html", page.encode()), ExtractConfig())
    assert article.authors == ["Jan de Vries"]
    assert not article.text.startswith("Door Jan de Vries")
    # The metadata's author stays the author; the byline paragraph still leaves the text.
    with_meta = page.replace("<head>", "<head><meta name='author' content='Piet Jansen'>")
    article = extract_document(RawDocument("nl.html", "html", with_meta.encode()), ExtractConfig())
    assert article.authors == ["Piet Jansen"] and "Door Jan de Vries" not in article.text


# --- review 78: the extract step's CPU; each shortcut gives what it replaced ---


def test_htmldate_answers_are_read_as_dateutil_reads_them() -> None:
    """htmldate's answer in its own format is read from its parts (dateutil twice cost as
    much as htmldate's search): the same Published as the general parse, offsets of a day
    or more, impossible days and years before 1000 included (those left to dateutil)."""
    import random

    from newsbeam.transforms.extract import _htmldate_time, htmldate_published

    generator = random.Random(78)
    read = 0
    with publications_as_of("2026-12-05T00:00:00+00:00"):
        for _ in range(3000):
            year = generator.choice([generator.randrange(1990, 2030), generator.randrange(10000)])
            month, day, hour, minute, second = (
                generator.randrange(n) for n in (14, 33, 26, 62, 62)
            )
            value = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
            if generator.random() < 0.6:
                hours, minutes = (
                    generator.choice([0, 2, 5, 14, 23, 24, 99]),
                    generator.choice([0, 30, 59, 60, 99]),
                )
                value += f"{generator.choice('+-')}{hours:02d}{minutes:02d}"
            fast = _htmldate_time(value)
            if fast is not None:
                read += 1
                assert fast == parse_published(value), value
                assert fast.at.tzinfo is dt.timezone.utc
        assert read > 800  # the shortcut does read most of them
        assert htmldate_published("2024-03-05T14:30:00+0100") == Published(
            dt.datetime(2024, 3, 5, 13, 30, tzinfo=UTC), "minute"
        )
        assert htmldate_published("2024-03-05T00:00:00") == Published(
            dt.datetime(2024, 3, 5, tzinfo=UTC), "day"
        )
        assert htmldate_published("2024-02-30T10:00:00") is None  # no such day: dateutil's say
        assert htmldate_published("2031-03-05T10:00:00") is None  # after the run
        assert htmldate_published(None) is None


def test_with_page_offset_reads_an_rfc_timestamp_only_where_its_month_is_written() -> None:
    """RFC 2822 timestamps are rewritten only in a text that writes the found day's month
    and year the RFC way: the same offsets found as when every text was rewritten."""
    found = _naive("2019-11-18T16:07:38", "second")
    six_hours = Published(dt.datetime(2019, 11, 18, 22, 7, 38, tzinfo=UTC), "second")
    assert with_page_offset(found, ['{"datePublished": "Mon, 18 Nov 2019 16:07:38 -0600"}']) == (
        six_hours
    )
    # an RFC timestamp of another month, then the day's own ISO one: the ISO one gives it
    texts = ["Sat, 18 Oct 2019 16:07:38 +0200 and 2019-11-18T16:07:38-06:00"]
    assert with_page_offset(found, texts) == six_hours
    # the first timestamp of that time in the text wins, whichever way it is written
    texts = ["18 Nov 2019 16:07:38 -0600 then 2019-11-18T16:07:38+01:00"]
    assert with_page_offset(found, texts) == six_hours
    assert with_page_offset(found, ["18 Nov 2019 16:07:38 -0600"]) == six_hours  # no weekday
    assert with_page_offset(found, ["18 Dec 2019 16:07:38 -0600"]) == found


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<html lang="gl">', "gl"),
        ('<html lang="gl"><head><meta property="og:locale" content="eu_ES">', "gl"),
        ('<html lang="es-ES"><head><meta property="og:locale" content="gl_ES">', None),
        ('<html lang="galego"><head><meta property="og:locale" content="gl_ES">', "gl"),
        ('<html><head><meta http-equiv="Content-Language" content="eu">', "eu"),
        ('<html><head><meta http-equiv="content-language" content="English">'
         '<meta property="og:locale" content="lb_LU">', "lb"),
        ('<html><head><meta name="x" content="gl">', None),
    ],
)  # fmt: skip
def test_a_page_declares_its_language_by_its_root_before_its_meta_tags(
    head: str, expected: str | None
) -> None:
    """The root's lang is read before the page is searched for meta tags (that search only
    where the root declares nothing readable), in the XPath union's document order."""
    from newsbeam.transforms.extract import page_language

    html = f"{head}<title>T</title></head><body><p>Text of the page.</p></body></html>"
    if "<head>" not in head:
        html = html.replace("<title>", "<head><title>", 1)
    assert page_language(parse_html(html.encode())) == expected


def test_json_scripts_are_those_the_xpath_selected() -> None:
    from newsbeam.transforms.extract import json_scripts

    page = (
        '<html><head><script type="application/ld+json">{"a": 1}</script><script>var x;</script>'
        '<script type="application/settings+json">{"b": 2}</script></head><body><div>'
        '<script type="application/ld+json">{"c": 3}</script><script type="text/json">4'
        "</script></div></body></html>"
    )
    tree = parse_html(page.encode())
    xpath = './/script[@type="application/ld+json" or @type="application/settings+json"]'
    assert json_scripts(tree) == tree.xpath(xpath) and len(json_scripts(tree)) == 3


def test_page_signals_read_the_whole_documents_json_ld() -> None:
    """As `//script[...]` did: every JSON-LD script of the document, also when the parser
    handed over one element of it (lxml's fromstring of a page with no head)."""
    from lxml.html import fromstring as html_fromstring

    body = " ".join(["word"] * 120)
    ld = json.dumps({"@type": "NewsArticle", "articleBody": body})
    page = (
        f'<!-- saved --><body><script type="application/ld+json">{ld}</script>'
        "<div><p>One paragraph.</p></div></body>"
    )
    element = html_fromstring(page)
    assert element.tag != "html"  # a part of the document
    assert page_signals(element).json_ld_body == body


def test_only_a_page_that_may_hold_ruby_is_walked_for_it() -> None:
    from newsbeam.transforms.extract import may_hold_ruby

    page = "<ruby>能登<RT>のと</RT></ruby>"
    assert may_hold_ruby(page.encode()) and may_hold_ruby(page)
    assert may_hold_ruby("<ruby>能登<rp>(</rp></ruby>".encode())
    assert may_hold_ruby(page.lower().encode("utf-16"))  # its tags' bytes are not "<rt"
    assert not may_hold_ruby(b"<p>a route <b>rt</b> &lt;rt</p>")
    assert not may_hold_ruby("<p>a route</p>")


def test_ruby_annotations_are_not_read_into_the_text() -> None:
    # Review 93: furigana (<rt>) were inlined after each word ("石川県いしかわけんの能登のと"),
    # and each annotated word became a paragraph of its own once only they went.
    sentences = (
        "5日午前、石川県の能登地方で大きな地震がありました。"
        "輪島市と珠洲市で震度6強の揺れがありました。",
        "気象庁は津波注意報を出しました。海の近くにいる人は高いところに逃げてください。",
    )

    def annotated(sentence: str) -> str:
        readings = {"石川県": "いしかわけん", "能登": "のと", "地震": "じしん"}
        readings["気象庁"] = "きしょうちょう"
        for word, reading in readings.items():
            sentence = sentence.replace(
                word, f"<ruby>{word}<rp>(</rp><rt>{reading}</rt><rp>)</rp></ruby>"
            )
        return sentence

    body = "".join(f"<p>{annotated(sentence)}</p>" for sentence in sentences)
    page = (
        "<html lang='ja'><head><title>能登で震度6強の地震</title></head><body><article>"
        f"<h1><ruby>能登<rt>のと</rt></ruby>で震度6強の地震</h1>{body}</article></body></html>"
    )
    article = extract_document(RawDocument("ja.html", "html", page.encode()), ExtractConfig())
    assert article.text.endswith("\n\n".join(sentences))
    assert "いしかわけん" not in article.text and "のと" not in article.text
    assert article.title == "能登で震度6強の地震"
