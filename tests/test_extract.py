"""Stage: extract. Text headers, HTML with trafilatura, JSON lines; failures as rejected rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from newsbeam.schemas import RawDocument
from newsbeam.transforms.extract import (
    ExtractArticles,
    ExtractConfig,
    ExtractError,
    canonicalize_url,
    decode_text,
    extract_document,
    looks_like_menu,
    parse_datetime,
    parse_text_document,
    split_authors,
)
from tests.helpers import ARTICLE_HTML, counters_of, make_test_pipeline

UTC = dt.timezone.utc


def _seed_text(seeds_dir: Path, prefix: str) -> str:
    return next(seeds_dir.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def test_seed_000_markdown_header(seeds_dir: Path) -> None:
    header, body, removed = parse_text_document(_seed_text(seeds_dir, "000"))
    assert header.title == "Qatar-led negotiations between Israel and Hamas continue, source says"
    assert header.site == "Reuters"
    assert header.published_at == dt.datetime(2023, 10, 28, 20, 26, tzinfo=UTC)
    assert header.url.startswith("https://www.reuters.com/world/middle-east/qatar-led-")
    assert [r.reason for r in removed] == ["image", "caption"]
    assert "![" not in body and "REUTERS TV via REUTERS" not in body
    assert "](" not in body  # Markdown links keep only their anchor text
    assert body.startswith("Qatar-mediated negotiations between Israel and Hamas")


def test_seed_001_leading_date(seeds_dir: Path) -> None:
    header, body, _ = parse_text_document(_seed_text(seeds_dir, "001"))
    assert header.published_at == dt.datetime(2023, 10, 9, tzinfo=UTC)
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
    ("value", "expected"),
    [
        ("2023-10-28 20:26", dt.datetime(2023, 10, 28, 20, 26, tzinfo=UTC)),
        ("2024-05-14T09:30:00+02:00", dt.datetime(2024, 5, 14, 7, 30, tzinfo=UTC)),
        ("Tue, 14 May 2024 10:00:00 GMT", dt.datetime(2024, 5, 14, 10, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_datetime(value: str | None, expected: dt.datetime | None) -> None:
    assert parse_datetime(value) == expected


def test_canonicalize_url() -> None:
    assert (
        canonicalize_url("HTTPS://News.Example.com/a/b?utm_source=x&id=3#comments")
        == "https://news.example.com/a/b?id=3"
    )
    assert canonicalize_url("ftp://example.com/x") is None
    assert canonicalize_url("not a url") is None
    assert canonicalize_url(None) is None


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


@pytest.mark.parametrize("name", sorted(HOSTILE_PAGES))
def test_hostile_pages_are_rejected_not_expanded(name: str) -> None:
    with pytest.raises(ExtractError) as error:
        extract_document(RawDocument(name, "html", HOSTILE_PAGES[name]), ExtractConfig())
    assert error.value.reason == "no_text"
