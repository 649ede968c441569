"""From feed entries to articles: an entry's HTML as text (support/markup.py), whether
a fetched page is HTML, and the Article an entry (with or without its page) becomes. Pure
functions."""

from __future__ import annotations

from typing import Any

from newsbeam.schemas import Article
from newsbeam.transforms.extract import (
    Published,
    most_precise,
    new_article,
    published_as,
    published_fields,
    site_of,
)
from newsbeam.transforms.feeds.fetch import FetchResult
from newsbeam.transforms.feeds.parse import FeedEntry
from newsbeam.transforms.support.markup import html_to_text

_HTML_TYPES = ("text/html", "application/xhtml+xml")


def is_html_response(page: FetchResult) -> bool:
    """An HTML page by its Content-Type, or (no usable type) by its first bytes: a PDF or
    an image linked from a feed is not run through HTML extraction."""
    kind = page.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind in _HTML_TYPES:
        return True
    if kind and kind not in ("text/plain", "application/octet-stream"):
        return False
    head = page.body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


def entry_article(
    source: str,
    feed_url: str | None,
    entry: FeedEntry,
    page: Article | None,
) -> Article | None:
    """The article for an entry: its page's (entry metadata filling what the page lacks),
    else the entry's own content or summary; None when neither has text."""
    common: dict[str, Any] = {
        "feed_url": feed_url,
        "entry_id": entry.entry_id,
        "feed_categories": list(entry.categories),
    }
    if page is not None:
        published = most_precise(_published(page), _published(entry)) or _modified(entry)
        return page._replace(
            source=source,
            title=page.title or entry.title,
            authors=page.authors or list(entry.authors),
            **published_fields(published),
            text_origin="page",
            site=_site(page, entry),
            # Declared: the language stage's evidence. The feed's, else the page's own (one
            # langdetect has no profile for: extract.page_language); a plain sitemap
            # declares none, and a Galician page lost its own.
            language=entry.language or page.language,
            feed_url=feed_url,
            entry_id=entry.entry_id,
            feed_categories=list(entry.categories),
        )
    texts = [
        (origin, html_to_text(markup))
        for origin, markup in (("feed_content", entry.content), ("feed_summary", entry.summary))
    ]
    # The content, unless the summary says more: some feeds put only the headline (or a
    # teaser) in content:encoded beside a full description; the clean stage then removed
    # the headline and nothing was left.
    origin, text = max(texts, key=lambda item: len(item[1]))
    if not text:
        return None
    return new_article(
        source,
        url=entry.link,
        title=entry.title,
        authors=list(entry.authors),
        **published_fields(_published(entry) or _modified(entry)),
        text=text,
        text_origin=origin,
        language=entry.language,  # declared: the language stage's evidence
        **common,
    )


# How much of an entry's own text a page must have to be the article's text: a page
# with less than half the words the feed itself gives is not that story in full (a
# paywall's first paragraph, a consent or JavaScript wall); a page a little shorter than
# the feed's copy (no "The post ... appeared first on ..." line) still wins, as it should.
PAGE_SHARE_OF_OWN_TEXT = 0.5


def own_text(entry: FeedEntry) -> str:
    """The entry's own text, as entry_article would take it (content, else summary)."""
    return max((html_to_text(entry.content), html_to_text(entry.summary)), key=len)


def page_falls_short(page_text: str, entry: FeedEntry) -> tuple[int, int] | None:
    """(page words, own words) when the page's text has less than PAGE_SHARE_OF_OWN_TEXT
    of the words of the entry's own text: the feed carried the story and the page did
    not. None when the page is the better text (or the entry has none of its own)."""
    own_words = len(own_text(entry).split())
    page_words = len(page_text.split())
    if page_words < PAGE_SHARE_OF_OWN_TEXT * own_words:
        return page_words, own_words
    return None


def _published(record: Article | FeedEntry) -> Published | None:
    if record.published_at is None:
        return None
    return published_as(
        record.published_at, record.published_precision or "second", record.published_zone
    )


def _modified(entry: FeedEntry) -> Published | None:
    """A sitemap's lastmod: the article's date only where nothing states a publication."""
    if entry.modified_at is None:
        return None
    return published_as(
        entry.modified_at, entry.modified_precision or "second", entry.modified_zone
    )


def _site(page: Article, entry: FeedEntry) -> str | None:
    """The page's own site name; where it names none (its `site` is its URL's host), the
    outlet's name the feed states (a Google News sitemap's news:publication/news:name)."""
    if entry.publication and page.site in (None, site_of(page.url), site_of(page.canonical_url)):
        return entry.publication
    return page.site
