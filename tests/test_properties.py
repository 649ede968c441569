"""Property-based tests (hypothesis) of the pure functions every document passes through:
no exception on any input but the documented ones, determinism, invariance under input
order, idempotence where a function promises it, round trips.

The profile (tests/conftest.py) is fast and derandomized in CI; HYPOTHESIS_PROFILE=long runs
many more examples (docs/developing.md). Every failure these found is also a plain example
test beside the function's own tests, so it stays covered whatever the profile draws."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from random import Random

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsbeam.schemas import ARTICLE_SCHEMA, Article, RawDocument, Removal
from newsbeam.transforms.clean import (
    clean_article,
    clean_text,
    content_hash,
    fold,
    normalize_unicode,
    normalize_whitespace,
    remove_to_fixed_point,
)
from newsbeam.transforms.dedup import (
    DedupConfig,
    Entry,
    shingle_hashes,
    split_copies,
    text_fingerprint,
)
from newsbeam.transforms.extract import (
    PUBLISHED_ZONES,
    ExtractConfig,
    ExtractError,
    canonicalize_url,
    dateline_date,
    decode_text,
    extract_document,
    extract_json_record,
    extract_text_document,
    header_date,
    json_authors,
    new_article,
    parse_published,
    parse_text_document,
    publications_as_of,
    site_of,
    split_authors,
)
from newsbeam.transforms.feeds.parse import (
    FeedParseError,
    parse_feed,
    parse_url_list,
    sniff_feed_kind,
)
from newsbeam.transforms.language import LanguageConfig, detect_language, load_detector_factory
from newsbeam.transforms.stories import (
    StoryConfig,
    cluster_stories,
    pack_doc,
    story_doc,
    unpack_doc,
)
from newsbeam.transforms.support.authors import byline_names
from newsbeam.transforms.support.bundle_files import RowBuffer, write_table
from newsbeam.transforms.support.markup import html_to_text, markup_text
from newsbeam.transforms.support.rank import article_rank
from newsbeam.transforms.support.urls import outlet_of, web_url
from newsbeam.transforms.write import row_of

UTC = dt.timezone.utc
AS_OF = "2024-06-01T00:00:00+00:00"

# --- Strategies ---------------------------------------------------------------------------

# The characters that make text handling hard, drawn often: every kind of space and line
# break, invisible and control characters, joiners, combining marks, ligatures, quotes.
_AWKWARD = (
    " \n\n\t\r\r\n\u00a0\u2028\u2029\x85\x0b\x0c\u200b\u200c\u200d\u2060\ufeff\u00ad"
    "\u202e\x00\x1b[31m\x07\u0301\u0308\u0327\ufb01\ufb50\u201c\u201d\u2019'\"-|:#*"
)
_SCRIPTS = "aeiouAEIOU ßéñçøЖжДдΩωأبتשאनमस中文字日本語한국어ไทย"
# A few letters with marks and invisible characters between them: what must come out the
# same from any order of normalising steps.
_TIGHT = "ea \n\u200b\u200c\u200d\u00ad\x00\x07\u0301\u0308\u2028\r\ufeff"
# Lone surrogates: what JSON's "\ud800" escapes and XML's "&#xD800;" decode to (rare among
# all the characters hypothesis draws from, so drawn on their own).
_LONE_SURROGATES = "\ud800\udbff\udc00\udfff"
awkward_chars = (
    st.sampled_from(_TIGHT)
    | st.sampled_from(_AWKWARD)
    | st.sampled_from(_SCRIPTS)
    | st.sampled_from(_LONE_SURROGATES)
    | st.characters()
)
any_text = st.text(awkward_chars, max_size=200) | st.text(st.sampled_from(_TIGHT), max_size=12)
# What a table can hold: text UTF-8 encodes (no lone surrogate; new_article replaces them).
stored_text = st.text(
    st.sampled_from(_TIGHT)
    | st.sampled_from(_AWKWARD)
    | st.sampled_from(_SCRIPTS)
    | st.characters(codec="utf-8"),
    max_size=200,
) | st.text(st.sampled_from(_TIGHT.replace("\x00", "")), max_size=12)

_WORDS = (
    "the minister said storm Berlin Paris council vote rain 2024 12 police fire "
    "Regierung sagte Wahl élection président ministro lluvia 北京 地震 Москва выборы"
).split()
_SEPARATORS = [" ", "  ", "\n", "\n\n", "\t", "\u00a0", ", ", ". ", "\u200b "]


@st.composite
def word_text(draw: st.DrawFn, min_words: int = 0, max_words: int = 60) -> str:
    """Text built of words and the separators between them."""
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=min_words, max_size=max_words))
    text = ""
    for word in words:
        text += word + draw(st.sampled_from(_SEPARATORS))
    return text


_INLINE_SPACES = [" ", "  ", "\t", "\u00a0", "\u2009", "   "]


@st.composite
def respaced(draw: st.DrawFn, text: str) -> str:
    """`text` with each run of spaces inside a line replaced by another such run, and spaces
    at its ends: the same text to a reader."""
    pieces = re.split(r"[ \t]+", text)
    spaced = pieces[0]
    for piece in pieces[1:]:
        spaced += draw(st.sampled_from(_INLINE_SPACES)) + piece
    return draw(st.sampled_from(["", " ", "\t"])) + spaced + draw(st.sampled_from(["", " "]))


_TITLE = "Storm floods the old town of Berlin"
# Paragraphs as pages have them: story sentences, site chrome, copies of the title, a
# feed's footer naming it, a related-links header and its links, repeats.
_PARAGRAPHS = [
    "Advertisement", "Share this article", "SEE MORE:", "Read more: Storm in Paris",
    "Follow us on Twitter", "Subscribe to our newsletter", "Comments (3)", "© 2024 Example"
    " News. All rights reserved.", '"Storm floods the old town"', _TITLE, f"Opinion | {_TITLE}",
    f"The post {_TITLE} appeared first on Example News.", "Photo: Reuters/Jane Roe",
    "Rain in Paris", "The council met on Monday and voted to rebuild the bridge.",
    "Police said the fire started at 2 a.m. and nobody was hurt.", "- Fill: Synthetic",
]  # fmt: skip
page_text = st.lists(
    st.sampled_from(_PARAGRAPHS) | word_text(min_words=1, max_words=20), max_size=10
).map("\n\n".join)


# --- Cleaning -----------------------------------------------------------------------------


@given(any_text)
def test_normalize_unicode_is_idempotent_and_nfc(text: str) -> None:
    import unicodedata

    once = normalize_unicode(text)
    assert normalize_unicode(once) == once
    assert unicodedata.is_normalized("NFC", once)


@given(any_text)
def test_normalize_whitespace_is_idempotent(text: str) -> None:
    once = normalize_whitespace(text)
    assert normalize_whitespace(once) == once
    assert "\n" not in once and "  " not in once


@given(any_text | word_text() | page_text, st.none() | any_text)
def test_clean_text_never_fails_and_gives_clean_paragraphs(text: str, title: str | None) -> None:
    cleaned, removed = clean_text(text, title)
    assert all(isinstance(removal, Removal) and removal.reason for removal in removed)
    for paragraph in cleaned.split("\n\n") if cleaned else []:
        assert paragraph and normalize_whitespace(normalize_unicode(paragraph)) == paragraph


@given(any_text | word_text() | page_text, st.none() | st.just(_TITLE) | word_text(max_words=8))
def test_clean_text_is_idempotent(text: str, title: str | None) -> None:
    once, _ = clean_text(text, title)
    assert clean_text(once, title)[0] == once


# Pages built to mix every removal step in every order (review 104): each paragraph is of
# one kind, drawn in any order and number, so that any step's removal can uncover another
# step's paragraph (chrome over a title copy, a repeat under a footer, links under a header
# with a title copy between them, a quoted headline beside chrome).
_TITLES = [_TITLE, "Minister says the budget vote is near", "Wahl in Thüringen: Regierung sagt ab"]
_STORY = [
    "The council met on Monday and voted to rebuild the bridge.",
    "Police said the fire started at 2 a.m. and nobody was hurt.",
    "Der Minister sagte am Montag, die Regierung werde die Brücke wieder aufbauen.",
    "Le président a annoncé une nouvelle élection pour le mois prochain.",
]
_CHROME = [
    "Advertisement", "Share this article", "Follow us on Twitter", "Photo: Reuters/Jane Roe",
    "© 2024 Example News. All rights reserved.", "Comments (3)", "Reuters", "Werbung",
    "Most read", "Reporting by Jane Doe; editing by John Roe",
]  # fmt: skip
_PROMPTS = [
    "SEE MORE:", "Read more:", "Read more: Storm in Paris", "Lesen Sie auch:",
    "Subscribe to our newsletter", "Sign up for our daily briefing",
    "Would you like to comment on this article?", "Please read our Comment Policy.",
]  # fmt: skip
_LINKS = ["Rain in Paris", "Council votes on the bridge", "Regierung sagt Wahl ab"]
_QUOTED = ['"Storm floods the old town"', "'Council votes to rebuild the bridge'"]
_LISTS = ["- Fill: Synthetic", "1. Bring water", "| 1 | 2 |"]


def _title_copies(title: str) -> list[str]:
    return [title, f"Opinion | {title}", f"{title} - Example News", title.upper(), f"{title}!"]


def _footers(title: str) -> list[str]:
    return [
        f"The post {title} appeared first on Example News.",
        f"Der Beitrag {title} erschien zuerst auf beispiel.de.",
        f"Read {title} on Example's blog.",
    ]


_KINDS = ["story", "chrome", "prompt", "link", "quoted", "list", "title", "footer", "repeat"]


@st.composite
def _paragraph_of(draw: st.DrawFn, kind: str, title: str, earlier: list[str]) -> str:
    """One paragraph of `kind`; a repeat is an earlier paragraph, as written or restyled
    (case, spaces, closing punctuation: the same words, compared folded)."""
    if kind == "repeat" and earlier:
        again = draw(st.sampled_from(earlier))
        return draw(st.sampled_from([again, again.upper(), f"{again} ", f"{again}."]))
    choices = {
        "chrome": _CHROME, "prompt": _PROMPTS, "link": _LINKS, "quoted": _QUOTED,
        "list": _LISTS, "title": _title_copies(title), "footer": _footers(title),
    }.get(kind)  # fmt: skip
    if choices:
        return draw(st.sampled_from(choices))
    return draw(st.sampled_from(_STORY) | word_text(min_words=3, max_words=25))


@st.composite
def layered_page(draw: st.DrawFn, kinds: st.SearchStrategy[list[str]]) -> tuple[str, str]:
    """(page text, title): a paragraph of each kind drawn by `kinds`, in its order."""
    title = draw(st.sampled_from(_TITLES) | word_text(min_words=1, max_words=8))
    paragraphs: list[str] = []
    for kind in draw(kinds):
        paragraphs.append(draw(_paragraph_of(kind, title, paragraphs)))
    separators = st.sampled_from(["\n\n", "\n\n\n", " \n\n", "\n\n\u00a0\n\n"])
    text = "".join(paragraph + draw(separators) for paragraph in paragraphs)
    return text, title


# Any kinds in any number and order (footers and repeats drawn more often: the steps whose
# place in the text another step's removal moves most); or each kind once, some twice,
# permuted.
any_layers = st.lists(
    st.sampled_from([*_KINDS, "footer", "repeat", "repeat"]), min_size=1, max_size=10
)
every_layer = st.permutations([*_KINDS, "repeat", "footer", "title", "chrome"])


@given(layered_page(any_layers) | layered_page(every_layer))
def test_cleaning_is_a_fixed_point_whatever_the_order_of_its_steps(page: tuple[str, str]) -> None:
    text, title = page
    once, removed = clean_text(text, title)
    assert clean_text(once, title) == (once, [])  # nothing more to remove, the same text
    assert clean_text(text, title) == (once, removed)  # deterministic
    # Every paragraph is kept or removed once; one to three passes (remove_to_fixed_point
    # says why no page needs more).
    paragraphs = [normalize_whitespace(p) for p in normalize_unicode(text).split("\n\n")]
    paragraphs = [paragraph for paragraph in paragraphs if paragraph]
    kept, removals, _, passes = remove_to_fixed_point(paragraphs, title)
    assert once == "\n\n".join(kept) and len(kept) + len(removals) == len(paragraphs)
    assert 1 <= passes <= 3


@given(layered_page(any_layers) | layered_page(every_layer), st.booleans())
def test_a_cleaned_record_cleaned_again_is_the_same(page: tuple[str, str], titled: bool) -> None:
    # What a corpus builder re-cleaning stored rows does: the record's text with the title
    # it stored (one a quoted headline gave a text without one, too).
    text, title = page
    raw = new_article("page.txt", text=text, title=title if titled else None)
    once = clean_article(raw)
    again = clean_article(once._replace(removed=[]))
    assert (again.text, again.title, again.article_id) == (once.text, once.title, once.article_id)
    assert again.removed == []


@given(word_text(min_words=1).flatmap(lambda text: st.tuples(st.just(text), respaced(text))))
def test_content_hash_ignores_spacing(texts: tuple[str, str]) -> None:
    text, spaced = texts
    assert fold(spaced) == fold(text)
    assert content_hash(spaced) == content_hash(text)


@given(any_text)
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


# --- Dedup fingerprints -------------------------------------------------------------------

DEDUP = DedupConfig()


@given(any_text | word_text())
def test_fingerprint_is_deterministic_and_sorted(text: str) -> None:
    signature, shingles = text_fingerprint(text, DEDUP)
    again_signature, again_shingles = text_fingerprint(text, DEDUP)
    assert signature.tobytes() == again_signature.tobytes()
    assert shingles.tobytes() == again_shingles.tobytes()
    assert list(shingles) == sorted(set(shingles.tolist()))
    assert len(signature) == DEDUP.bands * DEDUP.rows


@given(word_text(min_words=1).flatmap(lambda text: st.tuples(st.just(text), respaced(text))))
def test_fingerprint_ignores_spacing(texts: tuple[str, str]) -> None:
    text, spaced = texts
    assert shingle_hashes(spaced, DEDUP.shingle_words).tobytes() == (
        shingle_hashes(text, DEDUP.shingle_words).tobytes()
    )


@given(word_text(min_words=1).flatmap(lambda text: st.tuples(st.just(text), respaced(text))))
def test_an_article_and_it_respaced_are_one_text(texts: tuple[str, str]) -> None:
    text, spaced = texts
    first = clean_article(new_article("a.txt", text=text, ingested_at=dt.datetime(2024, 1, 1)))
    second = clean_article(new_article("b.txt", text=spaced, ingested_at=dt.datetime(2024, 1, 1)))
    assert first.content_hash == second.content_hash
    assert first.text == second.text


@st.composite
def copies_of_one_text(draw: st.DrawFn) -> list[Article]:
    """One text as several inputs: respaced, from other sources and days, some titled."""
    text = draw(word_text(min_words=3))
    count = draw(st.integers(min_value=1, max_value=6))
    inputs = []
    for number in range(count):
        day = draw(st.none() | st.integers(min_value=1, max_value=3))
        inputs.append(
            clean_article(
                new_article(
                    f"copy{number}.txt",
                    text=draw(respaced(text)),
                    title=draw(st.none() | st.sampled_from(["Flood warning", "Weekend weather"])),
                    published_at=dt.datetime(2024, 5, day, tzinfo=UTC) if day else None,
                    ingested_at=dt.datetime(2024, 5, 6, tzinfo=UTC),
                )
            )
        )
    return inputs


@given(copies_of_one_text(), st.randoms(use_true_random=False))
def test_exact_copies_split_alike_in_any_order(inputs: list[Article], rng: Random) -> None:
    assert len({article.content_hash for article in inputs}) == 1  # respaced: one text
    entries = [tuple(Entry(article_rank(a), a.article_id, a.source, a.source, b"")) for a in inputs]
    going_on, copies = split_copies(entries)
    shuffled = list(entries)
    rng.shuffle(shuffled)
    assert split_copies(shuffled) == (going_on, copies)
    assert len(going_on) == 1 and len(going_on) + len(copies) == len(entries)
    assert going_on[0].rank == min(entry[0] for entry in entries)


# --- Language -----------------------------------------------------------------------------

LANGUAGE = LanguageConfig()


@pytest.fixture(scope="module")
def detector_factory() -> object:
    return load_detector_factory(LANGUAGE.seed)


@given(st.lists(any_text | word_text(), min_size=1, max_size=4))
def test_language_is_deterministic_whatever_came_before(
    detector_factory: object, texts: list[str]
) -> None:
    first = [detect_language(text, LANGUAGE, detector_factory) for text in texts]
    again = [detect_language(text, LANGUAGE, detector_factory) for text in reversed(texts)]
    assert first == list(reversed(again))
    for language, score in first:
        assert isinstance(language, str) and language
        assert 0.0 <= score <= 1.0


# --- Extraction's helpers -----------------------------------------------------------------


@given(st.binary(max_size=300) | any_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_decode_text_reads_any_bytes_or_says_why(data: bytes) -> None:
    try:
        text = decode_text(data)
    except ExtractError as error:
        assert error.reason == "encoding"
        return
    assert isinstance(text, str)
    try:
        expected = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return
    assert text == expected


_DATE_PIECES = [
    "2024", "2023-03-05", "05/03/2024", "12:30", "T", "Z", "+02:00", "GMT", "Mar", "March",
    "5", "31", "Monday", "ago", "2 hours", "hace", "de", "marzo", "Uhr", "am", "pm", ".", ",",
    "1700000000", "1700000000000", "0001-01-01", "9999-12-31", "24:00", "99", " ",
]  # fmt: skip
date_text = st.lists(st.sampled_from(_DATE_PIECES), max_size=8).map(" ".join) | any_text


@given(date_text | st.integers() | st.floats(), st.booleans())
def test_parse_published_never_fails(value: object, with_reference: bool) -> None:
    reference = dt.datetime(2024, 5, 1, 12, tzinfo=UTC) if with_reference else None
    with publications_as_of(AS_OF):
        found = parse_published(value, reference)
        assert parse_published(value, reference) == found
    if found is not None:
        assert found.at.tzinfo is not None and found.at.utcoffset() == dt.timedelta(0)
        assert found.precision in ("year", "month", "day", "minute", "second")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children),
    max_leaves=10,
)


@given(json_values)
def test_authors_of_any_value_are_names(value: object) -> None:
    for names in (split_authors(value), json_authors(value)):
        assert all(isinstance(name, str) and name.strip() == name and name for name in names)
        assert len(set(names)) == len(names)


@given(any_text)
def test_byline_names_never_fail(line: str) -> None:
    names = byline_names(line)
    assert names is None or all(isinstance(name, str) and name for name in names)


@given(any_text)
def test_html_to_text_never_fails(markup: str) -> None:
    text = html_to_text(markup)
    assert "\n\n\n" not in text
    assert markup_text(markup) == " ".join(text.split())


_URL_PIECES = [
    "http://", "https://", "HTTP://", "Example.COM", "www.", "user:pw@", ":80", ":443", ":8080",
    "/", "a", "%20", "?", "&", "=", "utm_source=x", "id=7", "&amp;", "#frag", "..", "[::1]",
    " ", "é", "\u200b",
]  # fmt: skip
url_text = st.lists(st.sampled_from(_URL_PIECES), max_size=10).map("".join) | any_text


@given(url_text)
def test_canonical_url_is_idempotent(url: str) -> None:
    canonical = canonicalize_url(url)
    assert canonical is None or canonicalize_url(canonical) == canonical
    for derived in (site_of(url), outlet_of(url), web_url(url)):
        assert derived is None or isinstance(derived, str)


@given(date_text, st.booleans())
def test_date_lines_never_fail(line: str, day_first: bool) -> None:
    with publications_as_of(AS_OF):
        for found in (header_date(line, lambda: day_first), dateline_date(line)):
            assert found is None or found.at.utcoffset() == dt.timedelta(0)


@given(any_text | word_text())
def test_parse_text_document_never_fails(text: str) -> None:
    with publications_as_of(AS_OF):
        header, body, removed = parse_text_document(text)
    assert isinstance(body, str)
    assert all(isinstance(removal, Removal) for removal in removed)


@given(st.binary(max_size=300) | any_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_text_document_of_any_bytes_is_an_article_or_a_reason(content: bytes) -> None:
    with publications_as_of(AS_OF):
        try:
            article = extract_text_document(RawDocument("doc.txt", "text", content))
        except ExtractError as error:
            assert error.reason and str(error)
            return
    _writable(article)


_RECORD_KEYS = ["text", "title", "url", "site", "published", "published_at", "author", "authors"]


@given(
    st.dictionaries(st.sampled_from(_RECORD_KEYS), json_values | word_text()).map(
        lambda record: json.dumps(record).encode()
    )
    | st.binary(max_size=200)
)
def test_json_record_of_any_bytes_is_an_article_or_a_reason(content: bytes) -> None:
    with publications_as_of(AS_OF):
        try:
            article = extract_json_record(RawDocument("doc.jsonl#L1", "jsonl", content))
        except ExtractError as error:
            assert error.reason in ("bad_json", "missing_text")
            return
    _writable(article)


_HTML_PIECES = [
    "<html>", "</html>", "<head>", "</head>", "<body>", "</body>", "<article>", "</article>",
    "<p>", "</p>", "<div>", "</div>", "<br>", "<h1>", "</h1>", "<title>", "</title>",
    '<meta charset="', '<meta name="author" content="', '<meta property="article:published_time"'
    ' content="', '">', "<script type=\"application/ld+json\">", "</script>", "<ruby>",
    "<rt>", "</rt>", "</ruby>", "<table><tr><td>", "</td></tr></table>", "<!--", "-->",
    '{"@type": "NewsArticle", "articleBody": "', '"}', "utf-16", "shift_jis", "2024-03-05",
]  # fmt: skip
html_pages = st.lists(
    st.sampled_from(_HTML_PIECES) | word_text(max_words=12) | any_text, max_size=25
).map(lambda pieces: "".join(pieces).encode("utf-8", "surrogatepass"))


@given(html_pages | st.binary(max_size=200))
def test_html_page_of_any_bytes_is_an_article_or_a_reason(content: bytes) -> None:
    config = ExtractConfig(as_of=AS_OF)
    try:
        article = extract_document(RawDocument("page.html", "html", content), config)
    except ExtractError as error:
        assert error.reason and str(error)
        return
    _writable(article)


# --- Feeds --------------------------------------------------------------------------------

_FEED_PIECES = [
    '<?xml version="1.0" encoding="utf-8"?>', "<rss version=\"2.0\">", "</rss>", "<channel>",
    "</channel>", "<item>", "</item>", "<title>", "</title>", "<link>", "</link>",
    "<guid>", "</guid>", "<pubDate>", "</pubDate>", "<description>", "</description>",
    '<feed xmlns="http://www.w3.org/2005/Atom">', "</feed>", "<entry>", "</entry>",
    "<id>", "</id>", '<link href="', '"/>', "<updated>", "</updated>", "<content type=\"html\">",
    "</content>", "<![CDATA[", "]]>", "&amp;", "&#xD800;", "&#0;", "&nbsp;", "<rss:item>",
    "<!DOCTYPE rss [<!ENTITY a \"aaaa\">]>", "&a;", "<dc:creator>", "</dc:creator>",
    "http://example.com/a", "tag:x,2024:1", "Tue, 05 Mar 2024 10:00:00 GMT", "2024-03-05",
    "News", "é", "\x00", " ", "\n", "<", ">", "&",
]  # fmt: skip
xml_feeds = st.lists(st.sampled_from(_FEED_PIECES), max_size=30).map(
    lambda pieces: "".join(pieces).encode("utf-8")
)
_JSON_FEED_ITEM_KEYS = [
    "id", "url", "external_url", "title", "summary", "content_html", "content_text",
    "date_published", "date_modified", "tags", "authors", "author", "language",
]  # fmt: skip
_json_people = st.lists(st.fixed_dictionaries({}, optional={"name": any_text | json_values}))
json_feed_items = st.fixed_dictionaries(
    {},
    optional={
        "id": any_text | st.integers() | json_values,
        "url": url_text | json_values,
        "title": any_text | json_values,
        "content_html": st.lists(st.sampled_from(_HTML_PIECES) | any_text).map("".join),
        "tags": st.lists(any_text) | json_values,
        "authors": _json_people | json_values,
        "author": _json_people.map(lambda people: people[0] if people else {}) | json_values,
        "date_published": date_text | json_values,
        "language": st.sampled_from(["en", "de-DE", "xx"]) | json_values,
    },
) | st.dictionaries(st.sampled_from(_JSON_FEED_ITEM_KEYS), json_values)
json_feeds = st.fixed_dictionaries(
    {
        "version": st.sampled_from(["https://jsonfeed.org/version/1.1", "1.1"]),
        "items": st.lists(json_feed_items, max_size=4) | json_values,
    },
    optional={"feed_url": json_values, "title": json_values, "language": json_values},
).map(lambda feed: json.dumps(feed).encode())


@given(xml_feeds | json_feeds | st.binary(max_size=300))
def test_any_bytes_parse_as_a_feed_or_a_reason(content: bytes) -> None:
    with publications_as_of(AS_OF):
        try:
            parsed = parse_feed(content, {}, "http://example.com/feed.xml")
        except FeedParseError as error:
            assert error.reason and str(error)
            return
    ids = [entry.entry_id for entry in parsed.entries]
    assert len(set(ids)) == len(ids) and all(ids)
    for entry in parsed.entries:  # an entry's fields reach the tables as they are
        _encodes(entry.entry_id, entry.link, entry.title, entry.summary, entry.content)
        _encodes(entry.version, entry.language, *entry.authors, *entry.categories)
    assert sniff_feed_kind(content) in ("feed", None)


_item_text = st.text(st.sampled_from(_LONE_SURROGATES) | awkward_chars, min_size=1, max_size=20)
full_json_items = st.fixed_dictionaries(
    {
        "id": _item_text,
        "url": st.just("http://example.com/a") | _item_text,
        "title": _item_text,
        "content_text": _item_text,
        "tags": st.lists(_item_text, max_size=3),
        "authors": st.lists(st.fixed_dictionaries({"name": _item_text}), max_size=2),
    }
)


@given(st.lists(full_json_items, min_size=1, max_size=3))
def test_a_json_feed_s_every_field_is_text_a_table_holds(items: list[dict[str, object]]) -> None:
    feed = {"version": "https://jsonfeed.org/version/1.1", "items": items}
    with publications_as_of(AS_OF):
        parsed = parse_feed(json.dumps(feed).encode(), {}, "http://example.com/feed.json")
    for entry in parsed.entries:
        _encodes(entry.entry_id, entry.link, entry.title, entry.summary, entry.content)
        _encodes(*entry.authors, *entry.categories)


@given(xml_feeds | st.binary(max_size=200) | any_text.map(lambda t: t.encode("utf-8", "replace")))
def test_feed_lists_of_any_bytes_are_urls_or_a_reason(content: bytes) -> None:
    try:
        urls = parse_url_list(content)
    except FeedParseError as error:
        assert error.reason == "unparseable"
        return
    assert len(set(urls)) == len(urls) and all(url and url == url.strip() for url in urls)


# --- Stories ------------------------------------------------------------------------------

STORIES = StoryConfig()


@st.composite
def story_articles(draw: st.DrawFn) -> list[Article]:
    count = draw(st.integers(min_value=1, max_value=8))
    articles = []
    for number in range(count):
        day = draw(st.none() | st.integers(min_value=1, max_value=5))
        articles.append(
            clean_article(
                new_article(
                    f"doc{number}.txt",
                    title=draw(st.none() | word_text(min_words=1, max_words=6)),
                    text=draw(word_text(min_words=5, max_words=60)),
                    published_at=dt.datetime(2024, 5, day, tzinfo=UTC) if day else None,
                    ingested_at=dt.datetime(2024, 5, 6, tzinfo=UTC),
                )
            )
        )
    unique = {article.article_id: article for article in articles}  # one per id, as dedup
    return list(unique.values())


@given(story_articles(), st.randoms(use_true_random=False))
def test_story_ids_do_not_depend_on_input_order(articles: list[Article], rng: Random) -> None:
    docs = [story_doc(article, STORIES) for article in articles]
    stories = cluster_stories(docs, [], STORIES)[0]
    shuffled = list(docs)
    rng.shuffle(shuffled)
    assert cluster_stories(shuffled, [], STORIES)[0] == stories
    assert set(stories) == {doc.article_id for doc in docs}
    assert set(stories.values()) <= set(stories)  # a story is named after one of its articles


@given(story_articles())
def test_story_doc_packs_and_unpacks(articles: list[Article]) -> None:
    for article in articles:
        doc = story_doc(article, STORIES)
        assert unpack_doc(pack_doc(doc)) == doc


# --- The Arrow conversion -----------------------------------------------------------------

_optional_text = st.none() | stored_text
_times = st.datetimes(
    min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(8999, 12, 31), timezones=st.just(UTC)
)


@st.composite
def articles(draw: st.DrawFn) -> Article:
    topics = draw(st.lists(stored_text, max_size=3))
    return Article(
        article_id=draw(stored_text),
        source=draw(stored_text),
        url=draw(_optional_text),
        canonical_url=draw(_optional_text),
        site=draw(_optional_text),
        outlet=draw(_optional_text),
        title=draw(_optional_text),
        authors=draw(st.lists(stored_text, max_size=3)),
        published_at=draw(st.none() | _times),
        published_precision=draw(st.none() | st.sampled_from(["day", "minute", "second"])),
        published_zone=draw(st.none() | st.sampled_from(PUBLISHED_ZONES)),
        ingested_at=draw(_times),
        language=draw(_optional_text),
        language_score=draw(st.none() | st.floats(0, 1)),
        script=draw(st.none() | st.sampled_from(["Hans", "Hant"])),
        text=draw(stored_text),
        word_count=draw(st.integers(0, 2**40)),
        content_hash=draw(stored_text),
        removed=draw(st.lists(st.builds(Removal, stored_text, stored_text), max_size=3)),
        topics=topics,
        topic_scores=draw(st.lists(st.floats(0, 1), min_size=len(topics), max_size=len(topics))),
        topic_labels=draw(st.lists(stored_text, min_size=len(topics), max_size=len(topics))),
        topics_model=draw(_optional_text),
        places=draw(st.lists(stored_text, max_size=3)),
        story_id=draw(_optional_text),
        duplicate_count=draw(st.integers(0, 2**40)),
        duplicate_sources=draw(st.lists(stored_text, max_size=3)),
        text_origin=draw(st.sampled_from(["document", "page", "feed_content", "feed_summary"])),
        feed_url=draw(_optional_text),
        entry_id=draw(_optional_text),
        feed_categories=draw(st.lists(stored_text, max_size=3)),
    )


def _parquet_round_trip(records: list[Article]) -> list[Article]:
    """`records` written as the articles table's writer writes them (row_of, RowBuffer,
    write_table: zstd, compliant list names), read back with pyarrow as records."""
    rows = RowBuffer(ARTICLE_SCHEMA, batch_rows=2)  # batches and the rows left: both paths
    for record in records:
        rows.append(row_of("articles")(record))
    with tempfile.TemporaryDirectory() as folder:
        name = write_table(folder, "articles", rows.table())
        read = pq.read_table(os.path.join(folder, name))
    assert read.schema.equals(ARTICLE_SCHEMA, check_metadata=False)
    return [
        Article(**{**row, "removed": [Removal(**item) for item in row["removed"]]})
        for row in read.to_pylist()
    ]


def _encodes(*values: str | None) -> None:
    """Each value is text a UTF-8 writer (Parquet, the report) can write: no lone surrogate."""
    for value in values:
        assert value is None or isinstance(value.encode("utf-8"), bytes)


def _writable(article: Article) -> None:
    """An article as a stage makes it goes into the articles table and back unchanged."""
    assert _parquet_round_trip([article]) == [article]


@given(st.lists(articles(), max_size=3))
def test_any_article_round_trips_through_parquet(records: list[Article]) -> None:
    assert _parquet_round_trip(records) == records
