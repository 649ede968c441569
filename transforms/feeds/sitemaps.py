"""Sitemaps as feeds: sitemaps.org `urlset` documents (with Google News' `news:` extension)
read into the feed records (FeedEntry), sitemap indexes read into the child sitemaps they
name, and gzipped sitemaps unpacked within a bound. Pure functions; no Beam, no network:
the feed stage fetches an index's sitemaps (stage.with_sitemaps).

lxml parses, as for pages, with no entity resolution, no DTD, no network and no huge-tree
allowance; parse.parse_feed has refused a document declaring nested, parameter or
external entities (billion laughs, XXE) before it gets here.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
import zlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from newsbeam.transforms.extract import (
    Published,
    declared_language,
    parse_published,
    placed_in_zone,
)

# The root elements of the two sitemap kinds, any namespace prefix (sniffed like a feed's).
SITEMAP_ROOTS = ("urlset", "sitemapindex")
_ROOT = re.compile(rb"<(?![?!])(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_GZIP_MAGIC = b"\x1f\x8b"


class SitemapError(ValueError):
    """A sitemap that cannot be read; `reason` is the rejected row's code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class SitemapUrl(NamedTuple):
    """One `<url>` of a urlset, as the sitemap writes it."""

    loc: str
    lastmod: str | None
    title: str | None  # news:title
    publication_date: str | None  # news:publication_date
    language: str | None  # news:publication/news:language
    publication: str | None  # news:publication/news:name
    keywords: tuple[str, ...]  # news:keywords, split at commas


class SitemapRef(NamedTuple):
    """One `<sitemap>` of a sitemap index: where a child sitemap is, and its lastmod."""

    loc: str
    lastmod: str | None


class ParsedSitemap(NamedTuple):
    kind: str  # "urlset" | "sitemapindex"
    urls: list[SitemapUrl]
    sitemaps: list[SitemapRef]
    problem: str | None  # what the parser recovered from, when the document is malformed


def is_gzip(content: bytes) -> bool:
    return content[:2] == _GZIP_MAGIC


def gunzipped(content: bytes, limit: int) -> bytes:
    """A gzipped body (a `sitemap.xml.gz` served as application/gzip, no Content-Encoding)
    unpacked, at most `limit` bytes: a gzip bomb stops there (SitemapError `too_large`);
    a cut or corrupt stream is `unparseable`. Anything else is returned as it is."""
    if not is_gzip(content):
        return content
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        unpacked = unpacker.decompress(content, limit + 1)
    except zlib.error as error:
        raise SitemapError("unparseable", f"gzip data not readable: {error}") from None
    if len(unpacked) > limit or unpacker.unconsumed_tail:
        raise SitemapError("too_large", f"more than {limit} bytes once unpacked")
    if not unpacker.eof:
        raise SitemapError("unparseable", "gzip data cut short")
    return unpacked


def sitemap_kind(content: bytes) -> str | None:
    """ "urlset" or "sitemapindex" when the document's first element (after the XML
    declaration, comments and a DOCTYPE) is one, else None."""
    head = re.sub(rb"<!--.*?-->", b"", content[:4096].removeprefix(b"\xef\xbb\xbf"), flags=re.S)
    match = _ROOT.search(head)
    if match is None:
        return None
    name = match.group(1).decode("ascii", "replace")
    return name if name in SITEMAP_ROOTS else None


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(element: Any, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            text = (child.text or "").strip()
            return text or None
    return None


def _child(element: Any, name: str) -> Any:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def parse_sitemap(content: bytes, url: str) -> ParsedSitemap:
    """A urlset's `<url>`s or an index's `<sitemap>`s, in document order, each `loc` once
    (resolved against the sitemap's `url` when relative and `url` is http(s)). A malformed
    document gives what lxml recovers, with the first error as `problem`; one with no
    sitemap root raises SitemapError (`unparseable`)."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as error:
        raise SitemapError("unparseable", f"sitemap not readable: {error}") from None
    errors = [entry for entry in parser.error_log if entry.level >= etree.ErrorLevels.ERROR]
    problem = f"line {errors[0].line}: {errors[0].message}" if errors else None
    if root is None or _local(root.tag) not in SITEMAP_ROOTS:
        raise SitemapError("unparseable", problem or "no urlset or sitemapindex element")
    kind = _local(root.tag)
    base = url if url.startswith(("http://", "https://")) else None
    urls: list[SitemapUrl] = []
    sitemaps: list[SitemapRef] = []
    locs: set[str] = set()
    for element in root:
        name = _local(element.tag)
        loc = _child_text(element, "loc")
        if loc is None or name not in ("url", "sitemap"):
            continue
        loc = urllib.parse.urljoin(base, loc) if base else loc
        if loc in locs:
            continue
        locs.add(loc)
        lastmod = _child_text(element, "lastmod")
        if name == "sitemap":
            sitemaps.append(SitemapRef(loc, lastmod))
            continue
        news = _child(element, "news")
        publication = _child(news, "publication") if news is not None else None
        keywords = (_child_text(news, "keywords") or "") if news is not None else ""
        urls.append(
            SitemapUrl(
                loc=loc,
                lastmod=lastmod,
                title=_child_text(news, "title") if news is not None else None,
                publication_date=(
                    _child_text(news, "publication_date") if news is not None else None
                ),
                language=_child_text(publication, "language") if publication is not None else None,
                publication=_child_text(publication, "name") if publication is not None else None,
                keywords=tuple(k.strip() for k in keywords.split(",") if k.strip()),
            )
        )
    return ParsedSitemap(kind, urls, sitemaps, problem)


def published_of(url: SitemapUrl, reference: dt.datetime | None = None) -> Published | None:
    """A `<url>`'s publication date: news:publication_date (W3C datetime, a day or to the
    second), read as the rest of NewsBeam reads dates; one written without its offset
    (the format asks for it) placed by its lastmod's, else the zone named for its host."""
    if url.publication_date is None:
        return None
    published = parse_published(url.publication_date, reference)
    return placed_in_zone(published, (url.loc,), (url.lastmod,))


def modified_of(url: SitemapUrl) -> Published | None:
    """A `<url>`'s lastmod: when the page last changed, not when it was published."""
    modified = parse_published(url.lastmod) if url.lastmod else None
    return placed_in_zone(modified, (url.loc,), (url.publication_date,))


def url_language(url: SitemapUrl) -> str | None:
    """news:language ("en", "zh-cn", "pt-br", "iw", "nb", "fil") as the ISO 639-1 code the
    tables keep, langdetect's where it names the language otherwise ("he", "no", "tl"):
    `declared_language`, as every declared language."""
    return declared_language(url.language)


def newest_first(items: Sequence[Any], date_of: Any, limit: int) -> tuple[list[Any], int]:
    """(the `limit` newest of `items` by `date_of(item)` (a datetime or None), the number
    left out). Items without a date come after dated ones, and items of one date keep the
    document's order: the same sitemap gives the same choice. 0: no limit (all kept, in
    document order)."""
    if limit <= 0 or len(items) <= limit:
        return list(items), 0
    ranked = sorted(
        range(len(items)),
        key=lambda index: (-(_timestamp(date_of(items[index]))), index),
    )
    kept = sorted(ranked[:limit])
    return [items[index] for index in kept], len(items) - limit


def _timestamp(at: dt.datetime | None) -> float:
    return at.timestamp() if at is not None else float("-inf")


def chosen_sitemaps(refs: Iterable[SitemapRef], limit: int) -> tuple[list[SitemapRef], int]:
    """The child sitemaps of an index to read: the `limit` with the latest lastmod (an
    index lists a site's monthly sitemaps back for years; the news is in the newest), in
    the index's order; (chosen, left out)."""

    def lastmod(ref: SitemapRef) -> dt.datetime | None:
        stated = parse_published(ref.lastmod) if ref.lastmod else None
        return stated.at if stated else None

    return newest_first(list(refs), lastmod, limit)
