"""Feed documents as data: sniffing what a document is, and parsing RSS/Atom/RDF (feedparser),
JSON Feed, sitemaps (sitemaps.py), OPML and URL lists into plain records. Pure functions; no
Beam, no network."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any, NamedTuple

from newsbeam.transforms.extract import (
    Published,
    declared_language,
    json_authors,
    parse_published,
    placed_in_zone,
    plausible_publication,
    published_zone,
)
from newsbeam.transforms.feeds.sitemaps import (
    SitemapError,
    modified_of,
    parse_sitemap,
    published_of,
    sitemap_kind,
    url_language,
)
from newsbeam.transforms.support.markup import markup_text
from newsbeam.transforms.support.text import valid_text
from newsbeam.transforms.support.urls import without_userinfo


class FeedParseError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class FeedEntry(NamedTuple):
    entry_id: str
    link: str | None
    title: str | None
    authors: list[str]
    published_at: dt.datetime | None
    summary: str | None  # HTML or text as the feed gave it
    content: str | None
    categories: list[str]
    published_precision: str | None = None  # see newsbeam.transforms.extract.Published
    # What the entry says (entry_version): another version later under the same id is an
    # update (a correction, a rewrite), read again.
    version: str = ""
    # Other ids earlier runs may have seen the entry under: a relative guid as feedparser
    # resolved it against the feed's URL, before ids were kept as written.
    aliases: tuple[str, ...] = ()
    # The language the feed declares for the entry (ISO 639-1: declared_language), if any:
    # evidence for the language stage where langdetect is unsure of a short text.
    language: str | None = None
    # When the entry's page last changed (a sitemap's lastmod): its date only where neither
    # the page nor the entry gives a publication date.
    modified_at: dt.datetime | None = None
    modified_precision: str | None = None
    # The outlet's name as the feed states it (a Google News sitemap's
    # news:publication/news:name): the article's `site` where the page names none.
    publication: str | None = None
    # How published_at's and modified_at's zones were known (extract.published_zone).
    published_zone: str | None = None
    modified_zone: str | None = None


class ParsedFeed(NamedTuple):
    version: str  # feedparser's (rss20, atom10, ...) or json1
    title: str | None
    entries: list[FeedEntry]
    bozo: str | None  # why the feed is malformed, when it is (what parsed is kept)


_XML_ROOT = re.compile(
    rb"<(?!\?|!)(?:[A-Za-z_][\w.-]*:)?(rss|feed|RDF|opml|channel|urlset|sitemapindex)\b",
    re.IGNORECASE,
)
_JSON_FEED_VERSION = re.compile(rb'"version"\s*:\s*"https?://jsonfeed\.org/version/')
_SNIFF = 4096


def _sniff_text(head: bytes) -> bytes:
    """The first bytes as ASCII-compatible bytes (UTF-16/32 feeds are decoded first)."""
    for bom, encoding in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="ignore").encode("utf-8")
    if head[:2] in (b"<\x00", b"\x00<"):
        encoding = "utf-16-le" if head[:1] == b"<" else "utf-16-be"
        return head.decode(encoding, errors="ignore").encode("utf-8")
    return head.removeprefix(b"\xef\xbb\xbf")


def sniff_feed_kind(content: bytes) -> str | None:
    """ "feed" for RSS/Atom/RDF/JSON Feed or a sitemap (urlset or sitemapindex), "opml"
    for a subscription list, else None.

    Judged on the first element of the document (after the XML declaration, comments and
    DOCTYPE) or, for JSON, the JSON Feed `version` key."""
    head = _sniff_text(content[:_SNIFF])
    stripped = head.lstrip()
    if stripped.startswith(b"{"):
        return "feed" if _JSON_FEED_VERSION.search(content[:65536]) else None
    if not stripped.startswith(b"<"):
        return None
    body = re.sub(rb"<!--.*?-->", b"", head, flags=re.DOTALL)
    match = _XML_ROOT.search(body)
    if match is None:
        return None
    # Only the document's first element counts: an HTML page mentioning <feed> is a page.
    first = re.search(rb"<(?![?!])", body)
    if first is None or first.start() != match.start():
        return None
    return "opml" if match.group(1).lower() == b"opml" else "feed"


# The longest replacement text an internal entity may have: plain entities (&copy;, a
# name) are short; a long one referenced many times is the quadratic blow-up.
MAX_ENTITY_VALUE = 1024


class _UnsafeXml(Exception):
    pass


def _refuse_entity(
    name: str,
    is_parameter: bool,
    value: str | None,
    base: str | None,
    system_id: str | None,
    public_id: str | None,
    notation: str | None,
) -> None:
    """expat's EntityDeclHandler: only plain internal general entities pass."""
    if is_parameter:
        raise _UnsafeXml(f"declares the parameter entity %{name};")
    if value is None or system_id or public_id or notation:
        raise _UnsafeXml(f"declares the external entity &{name};")
    # The value as expat will expand it (character references already replaced): a
    # reference left in it is a nested entity, the shape of "billion laughs".
    if "&" in value or "%" in value:
        raise _UnsafeXml(f"declares the entity &{name}; whose value uses another entity")
    if len(value) > MAX_ENTITY_VALUE:
        raise _UnsafeXml(f"declares the entity &{name}; of {len(value)} characters")


def _refuse_external(*args: Any) -> int:
    raise _UnsafeXml("references an external entity or DTD")


def entity_problem(content: bytes) -> str | None:
    """Why the XML document is unsafe to parse, or None: parsed by expat (the parser under
    feedparser's strict mode and defusedxml), configured to stop at the declaration of a
    parameter, external or nested entity, and never to read an external DTD or entity.
    expat reads the document's own encoding (BOMs, UTF-16, the XML declaration), so no
    spelling of the bytes gets past it. A document that is not well-formed stops expat
    where it breaks: feedparser's loose parser then reads it, which expands only plain
    entities (no nesting) and fetches nothing."""
    from xml.parsers import expat

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.UnparsedEntityDeclHandler = lambda name, *rest: _refuse_entity(
        name, False, None, None, None, None, "notation"
    )
    try:
        parser.Parse(content, True)
    except _UnsafeXml as error:
        return str(error)
    except (expat.ExpatError, ValueError, UnicodeError):
        return None
    return None


def has_entity_expansion(content: bytes) -> bool:
    """True when the document declares an entity whose value uses another entity, a
    parameter entity or an external one: the shapes of "billion laughs" and XXE (see
    entity_problem). Plain entities (&copy;, a name) are fine."""
    return entity_problem(content) is not None


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _struct_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        at = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        return None
    return at if plausible_publication(at) else None


# A leading day name and comma ("mer, 16 nov 2022 ..."): RFC 822 makes the day optional and
# it says nothing the date does not, but a day named in another language stops both parsers.
_LEADING_DAY = re.compile(r"^\s*[^\W\d_]{2,}\.?,\s*")


def stated_time(value: str, reference: dt.datetime | None = None) -> Published | None:
    """A feed's date text read as the rest of NewsBeam reads dates (parse_published: zone
    abbreviations such as CEST or AEST, 12-hour clocks, Unix times), a foreign day name
    before the date set aside; a relative or year-less one read against `reference`
    (`feed_reference`)."""
    return parse_published(value, reference) or parse_published(
        _LEADING_DAY.sub("", value, count=1), reference
    )


def feed_reference(feed: Any, fetched_at: dt.datetime | None) -> dt.datetime | None:
    """What an entry's relative ("hace 2 horas") or year-less ("12. März") date counts from:
    the feed's own date (RSS lastBuildDate, else its pubDate; Atom's updated), when it is a
    full date itself, else the moment it was fetched; None for a feed file that states none
    (no guessing from the clock)."""
    for key in ("updated", "published"):
        # dict.get: feedparser's own get maps a missing "updated" to "published", warning.
        raw = dict.get(feed, key) if isinstance(feed, dict) else None
        stated = stated_time(raw) if isinstance(raw, str) and raw.strip() else None
        if stated is not None:
            return stated.at
    return fetched_at


def entry_published(item: Any, reference: dt.datetime | None = None) -> Published | None:
    """A feed entry's publication (else update) time, read from its text, with the
    precision the text states ("Tue, 14 Mar 2024" is a day, not midnight).

    feedparser's own parsed time is the fallback only: it reads any zone abbreviation but
    the US ones and UT/GMT as UTC ("10:00 CEST" came out 10:00 UTC, two hours late), drops
    "PM", and gives nothing for a date without a zone. A value feedparser reads as an
    implausible year (the placeholder "0001-01-01") stays no date: dateutil reads that
    year as 2001."""
    for key in ("published", "updated"):
        raw, parsed = item.get(key), item.get(f"{key}_parsed")
        if parsed and _struct_time(parsed) is None:
            continue
        stated = stated_time(raw, reference) if isinstance(raw, str) and raw.strip() else None
        if stated is not None:
            return stated
        at = _struct_time(parsed)
        if at is not None:
            return Published(at, "second")
    return None


def _own_dates(item: Any) -> list[str]:
    """The date texts a feed or an entry writes (updated, published), as written."""
    # dict.get: feedparser's own get maps a missing "updated" to "published", warning.
    if not isinstance(item, dict):
        return []
    values = [dict.get(item, key) for key in ("updated", "published")]
    return [value for value in values if isinstance(value, str)]


def _published_fields(published: Published | None) -> dict[str, Any]:
    if published is None:
        return {"published_at": None, "published_precision": None, "published_zone": None}
    return {
        "published_at": published.at,
        "published_precision": published.precision,
        "published_zone": published_zone(published),
    }


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = valid_text(value.strip())
    return value or None


_MARKUP_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def entry_title(item: Any) -> str | None:
    """An entry's title as text. feedparser gives a title as the feed marks it up, typed
    by `title_detail`: an RSS title with escaped markup or character references
    ("Caf&eacute; &#8216;Nord&#8217;", "A &amp;amp; B"), an Atom title of type html or
    xhtml, is HTML, whose text is what a reader sees; a plain one is kept as it is."""
    title = _text(item.get("title"))
    detail = item.get("title_detail") or {}
    if title is None or detail.get("type") not in _MARKUP_TYPES:
        return title
    return _text(markup_text(title))


# An e-mail address alone: RSS 2.0's <author> is one ("jane@example.com", or with the name
# in parentheses, which feedparser takes as the name); it names nobody's byline.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def entry_authors(item: Any) -> list[str]:
    """An entry's author names: feedparser's names, else its author text, read as a JSON
    record's author is (`json_authors`: a byline word such as "By", "记者" or "โดย" dropped,
    names joined by "and" in other languages split), as a page's author tags are; an
    e-mail address alone is no name (it reached the `authors` column as one)."""
    names = [a.get("name") for a in item.get("authors") or [] if isinstance(a, dict)]
    authors = json_authors([n for n in names if n] or item.get("author"))
    return [author for author in authors if not _EMAIL.match(author)]


# An RSS guid or Atom id element and its text (CDATA or escaped), any namespace prefix.
_ID_ELEMENT = re.compile(
    r"<(?:[\w.-]+:)?(guid|id)\b[^>]*>\s*"
    r"(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))"
    r"\s*</(?:[\w.-]+:)?\1\s*>",
    re.DOTALL,
)
_XML_QUOTES = {"&quot;": '"', "&apos;": "'"}


def written_ids(document: str) -> frozenset[str]:
    """The ids (RSS guids, Atom ids) a feed document writes, as written: not resolved."""
    from xml.sax.saxutils import unescape

    return frozenset(
        (cdata or unescape(text, _XML_QUOTES)).strip()
        for _, cdata, text in _ID_ELEMENT.findall(document)
    )


def relative_ids(written: frozenset[str], base: str) -> dict[str, str]:
    """The relative ids among `written` (as written_ids reads them), by the absolute URL
    feedparser resolves each to against the feed's URL `base`: feedparser hands out
    "ep1" as http://feed-host/folder/ep1."""
    if not base.startswith(("http://", "https://")):
        return {}  # feedparser resolves nothing without a base (a feed file)
    resolved: dict[str, str] = {}
    for written_id in sorted(written):
        if written_id and not urllib.parse.urlsplit(written_id).scheme:
            resolved.setdefault(urllib.parse.urljoin(base, written_id), written_id)
    return resolved


def entry_language(item: Any, feed: Any) -> str | None:
    """The language an entry is declared in: its own xml:lang (feedparser keeps it on the
    content, summary and title details), else the feed's (<language>, the root's xml:lang,
    a Content-Language header)."""
    details = [
        *(item.get("content") or [])[:1],
        item.get("summary_detail"),
        item.get("title_detail"),
    ]
    for detail in details:
        if isinstance(detail, dict) and detail.get("language"):
            return declared_language(detail["language"])
    return declared_language(feed.get("language"))


def _decoded(content: bytes, encoding: str | None) -> str:
    """The document as text, in the encoding feedparser found (UTF-8 if none it names)."""
    try:
        return content.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def page_link(link: str | None) -> str | None:
    """An entry's link when it can name a page: none with a scheme other than http(s).
    feedparser makes an entry's id its link when it has none (an RSS guid without
    isPermaLink="false", an Atom id), and ids are often `tag:` or `urn:uuid:` names: as
    the article's url they named no page, and their fetch failed as a refused scheme."""
    if link is None:
        return None
    scheme = urllib.parse.urlsplit(link).scheme.lower()
    return link if scheme in ("", "http", "https") else None


def entry_id_of(explicit: str | None, link: str | None, title: str | None, body: str | None) -> str:
    """An entry's identity across runs: its id/guid, else its link, else a content hash."""
    if explicit:
        return explicit
    if link:
        return link
    digest = hashlib.sha1(f"{title or ''}\n{body or ''}".encode()).hexdigest()[:20]
    return f"sha1:{digest}"


def entry_version(
    title: str | None, summary: str | None, content: str | None, updated: str | None
) -> str:
    """A short hash of what an entry says: its title, summary, content and updated date as
    the feed writes them (whitespace folded). A correction changes its text or, for an
    entry whose text is its page's, its updated date (Atom `updated`, RSS `dc:date`); the
    publication date is left out: some feeds restamp every item's `pubDate` at each build,
    and every item would read as updated at each poll."""
    parts = (" ".join((part or "").split()) for part in (title, summary, content, updated))
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:16]


def _own_updated(item: Any) -> str | None:
    """The entry's own updated date: feedparser's `item.get("updated")` falls back to its
    `published` (a deprecated mapping), which entry_version must leave out."""
    return _text(dict.get(item, "updated"))


def dedupe_entries(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
    """One entry per id (a feed listing an item twice), first occurrence kept."""
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry.entry_id not in seen:
            seen.add(entry.entry_id)
            unique.append(entry)
    return unique


_TAG_PREFIX = re.compile(rb"<(/?)([A-Za-z_][\w.-]*):(?=[A-Za-z_])")
_DECLARED_PREFIX = re.compile(rb"xmlns:([A-Za-z_][\w.-]*)\s*=")


def strip_undeclared_prefixes(content: bytes) -> bytes:
    """Element names without namespace prefixes that are never declared (`<rss:item>` in a
    feed with no `xmlns:rss`): what such a feed's author meant, which parsers reject."""
    declared = set(_DECLARED_PREFIX.findall(content)) | {b"xml"}
    undeclared = {m.group(2) for m in _TAG_PREFIX.finditer(content)} - declared
    if not undeclared:
        return content

    def strip(match: re.Match[bytes]) -> bytes:
        return b"<" + match.group(1) if match.group(2) in undeclared else match.group(0)

    return _TAG_PREFIX.sub(strip, content)


_HEADER_ONLY_BOZO = frozenset({"NonXMLContentType", "CharacterEncodingOverride"})


# A numeric character reference, decimal or hexadecimal.
_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def without_surrogate_references(content: bytes) -> bytes:
    """`content` with character references to UTF-16 surrogates ("&#xD800;") written as
    U+FFFD's: feedparser encodes each reference to UTF-8 and fails on a surrogate, which
    lost the whole feed (one `internal_error` row)."""
    if b"&#" not in content:
        return content

    def replace(match: re.Match[bytes]) -> bytes:
        hexadecimal, decimal = match.groups()
        code = int(hexadecimal, 16) if hexadecimal else int(decimal)
        return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF else match.group(0)

    return _CHARACTER_REFERENCE.sub(replace, content)


def parse_xml_feed(
    content: bytes, headers: dict[str, str], url: str, fetched_at: dt.datetime | None = None
) -> ParsedFeed:
    """RSS/Atom/RDF bytes -> ParsedFeed, with feedparser given the bytes and headers only.

    resolve_relative_uris=False: NewsBeam keeps entry text, not the HTML's links, so the
    rewriting of every href in content would be wasted; entry links are still resolved
    against the feed's URL. sanitize_html=True: script/style contents never reach the text.
    """
    import feedparser

    response_headers = {
        k: v for k, v in headers.items() if k in ("content-type", "content-language")
    }
    if url.startswith(("http://", "https://")):
        response_headers["content-location"] = url
    content = without_surrogate_references(content)
    # A stream, not bytes or str: feedparser treats a str as a URL or a file name to open.
    parsed = feedparser.parse(
        io.BytesIO(content),
        response_headers=response_headers,
        resolve_relative_uris=False,
        sanitize_html=True,
    )
    bozo = None
    exception = parsed.get("bozo_exception")
    # A wrong or missing Content-Type or charset header is the server's, not the feed's:
    # feedparser flags it, but the document itself is well-formed.
    if parsed.get("bozo") and type(exception).__name__ not in _HEADER_ONLY_BOZO:
        bozo = f"{type(exception).__name__}: {exception}" if exception else "malformed"
    raw_entries = parsed.get("entries") or []
    if not raw_entries and parsed.get("bozo"):
        repaired = strip_undeclared_prefixes(content)
        if repaired != content:
            retry = feedparser.parse(
                io.BytesIO(repaired),
                response_headers=response_headers,
                resolve_relative_uris=False,
                sanitize_html=True,
            )
            if retry.get("entries"):
                parsed, raw_entries = retry, retry["entries"]
                bozo = (bozo or "malformed") + "; undeclared namespace prefixes ignored"
    if not raw_entries and not parsed.get("version"):
        raise FeedParseError("unparseable", bozo or "no RSS, Atom or RDF feed found")
    entries = []
    ids: frozenset[str] | None = None  # read when an entry's link or id may be resolved
    relative: dict[str, str] = {}

    def written() -> frozenset[str]:
        nonlocal ids, relative
        if ids is None:
            ids = written_ids(_decoded(content, parsed.get("encoding")))
            relative = relative_ids(ids, url)
        return ids

    feed = parsed.get("feed") or {}
    reference = feed_reference(feed, fetched_at)
    feed_dates = _own_dates(feed)
    for item in raw_entries:
        raw_link = _text(item.get("link"))
        link = page_link(raw_link)
        resolved_id = _text(item.get("id"))
        own_id: str | None = resolved_id
        aliases: tuple[str, ...] = ()
        if resolved_id and resolved_id.startswith(("http://", "https://")):
            # A relative guid ("ep1", "12345") is the entry's id as written: resolved
            # against the feed's URL, it changed when the feed moved (another folder or
            # host, http to https) and every listed entry came in again.
            if resolved_id not in written() and resolved_id in relative:
                own_id, aliases = relative[resolved_id], (resolved_id,)
        if link and item.get("guidislink") and link == resolved_id:
            # feedparser takes an RSS guid without isPermaLink="false" (an Atom id) as the
            # link of an entry without one, resolved against the feed's URL: a podcast's
            # "ep1" or a CMS's "12345" became http://feed-host/ep1, a page fetched (404)
            # and named as the article's url. An absolute id is written as it is.
            link = link if link in written() else None
        title = entry_title(item)
        summary = _text(item.get("summary"))
        content_parts = [c.get("value", "") for c in item.get("content") or []]
        content_html = _text("\n".join(p for p in content_parts if isinstance(p, str)))
        authors = entry_authors(item)
        # A zoneless entry time ("Sat, Dec 16 2023 02:02:33 PM" in a feed whose own date
        # is "Sun, 17 Dec 2023 00:58:40 -0500"): placed by the entry's and the feed's dates.
        published = placed_in_zone(
            entry_published(item, reference), (link, url), (*_own_dates(item), *feed_dates)
        )
        tags = [t.get("term") or t.get("label") for t in item.get("tags") or []]
        entries.append(
            FeedEntry(
                # The link and title as feedparser gives them: the ids earlier runs saw.
                entry_id=entry_id_of(own_id, raw_link, _text(item.get("title")), summary),
                aliases=aliases,
                language=entry_language(item, feed),
                link=link,
                title=title,
                authors=authors,
                **_published_fields(published),
                summary=summary,
                content=content_html,
                categories=sorted({t.strip() for t in tags if isinstance(t, str) and t.strip()}),
                version=entry_version(
                    _text(item.get("title")), summary, content_html, _own_updated(item)
                ),
            )
        )
    return ParsedFeed(
        version=parsed.get("version") or "unknown",
        title=_text(feed.get("title")),
        entries=entries,
        bozo=bozo,
    )


def parse_json_feed(content: bytes, url: str, fetched_at: dt.datetime | None = None) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1) -> ParsedFeed."""
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise FeedParseError("unparseable", f"not valid JSON: {error}") from None
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
    ):
        raise FeedParseError("not_a_feed", "JSON without a JSON Feed version")
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedParseError("unparseable", "JSON Feed without an items list")
    base = _text(document.get("feed_url")) or url
    feed_authors = _json_authors(document)
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        raw_link = _text(item.get("url")) or _text(item.get("external_url"))
        if raw_link and base.startswith(("http://", "https://")):
            raw_link = urllib.parse.urljoin(base, raw_link)
        link = page_link(raw_link)
        title = _text(item.get("title"))
        summary = _text(item.get("summary"))
        content_html = _text(item.get("content_html")) or _text(item.get("content_text"))
        raw_id = item.get("id")
        explicit = valid_text(str(raw_id).strip()) if isinstance(raw_id, str | int) else None
        tags: list[Any] = item["tags"] if isinstance(item.get("tags"), list) else []
        entries.append(
            FeedEntry(
                entry_id=entry_id_of(explicit or None, raw_link, title, summary or content_html),
                link=link,
                title=title,
                authors=_json_authors(item) or feed_authors,
                **_published_fields(
                    placed_in_zone(
                        parse_published(item.get("date_published"), fetched_at)
                        or parse_published(item.get("date_modified"), fetched_at),
                        (link, url),
                        [
                            v
                            for v in (item.get("date_modified"), item.get("date_published"))
                            if isinstance(v, str)
                        ],
                    )
                ),
                summary=summary,
                content=content_html,
                # as _text reads them: a lone surrogate (a "\ud800" escape) made valid
                categories=sorted({tag for tag in map(_text, tags) if tag}),
                version=entry_version(
                    title, summary, content_html, _text(str(item.get("date_modified") or ""))
                ),
                # JSON Feed 1.1: `language` on the item, else on the feed.
                language=declared_language(item.get("language"))
                or declared_language(document.get("language")),
            )
        )
    return ParsedFeed(
        version="json1", title=_text(document.get("title")), entries=entries, bozo=None
    )


def _json_authors(holder: dict[str, Any]) -> list[str]:
    authors = holder.get("authors")
    if not isinstance(authors, list):
        single = holder.get("author")
        authors = [single] if isinstance(single, dict) else []
    # Each name as _text gives it: a lone surrogate ("\ud800", a JSON escape) kept in a
    # name or a tag failed the whole run at the write when the entry's page was fetched
    # (entry_article keeps the entry's names and tags beside the page's text as they are).
    names = [_text(a.get("name")) for a in authors if isinstance(a, dict)]
    return json_authors([name for name in names if name])


def parse_feed(
    content: bytes, headers: dict[str, str], url: str, fetched_at: dt.datetime | None = None
) -> ParsedFeed:
    """Feed bytes of any supported format -> ParsedFeed; raises FeedParseError. `fetched_at`:
    when the feed was fetched (None: a file), see `feed_reference`."""
    kind = sniff_feed_kind(content)
    if kind == "opml":
        raise FeedParseError("not_a_feed", "an OPML subscription list, not a feed")
    problem = entity_problem(content)  # JSON stops expat at once: None
    if problem is not None:
        raise FeedParseError("entity_expansion", f"the document {problem}")
    if content.lstrip()[:1] == b"{" or _sniff_text(content[:8]).lstrip()[:1] == b"{":
        parsed = parse_json_feed(content, url, fetched_at)
    elif sitemap_kind(_sniff_text(content[:_SNIFF])) is not None:
        parsed = parse_sitemap_feed(content, url, fetched_at)
    elif kind is None:
        raise FeedParseError("not_a_feed", "neither RSS, Atom, RDF, JSON Feed nor a sitemap")
    else:
        parsed = parse_xml_feed(content, headers, url, fetched_at)
    # Every format: an id listed twice is one entry (two would be two inputs of one source).
    return parsed._replace(entries=dedupe_entries(parsed.entries))


def parse_sitemap_feed(
    content: bytes, url: str, fetched_at: dt.datetime | None = None
) -> ParsedFeed:
    """A sitemap -> ParsedFeed: each `<url>` an entry whose id and link are its `loc`, its
    title, date and language Google News' `news:title`, `news:publication_date` and
    `news:language`, its categories `news:keywords`, its `lastmod` the page's date of
    change (FeedEntry.modified_at) and its version (a newer lastmod is an update, read
    again). A sitemap index parses to no entries (version "sitemapindex"): the feed stage
    fetches the sitemaps it names (stage.with_sitemaps)."""
    try:
        sitemap = parse_sitemap(content, url)
    except SitemapError as error:
        raise FeedParseError(error.reason, str(error)) from None
    entries = []
    for item in sitemap.urls:
        published = published_of(item, fetched_at)
        modified = modified_of(item)
        entries.append(
            FeedEntry(
                entry_id=item.loc,
                link=page_link(item.loc),
                title=_text(item.title),
                authors=[],
                **_published_fields(published),
                summary=None,
                content=None,
                categories=sorted(set(item.keywords)),
                version=entry_version(_text(item.title), None, None, item.lastmod),
                language=url_language(item),
                modified_at=modified.at if modified else None,
                modified_precision=modified.precision if modified else None,
                modified_zone=published_zone(modified),
                publication=_text(item.publication),
            )
        )
    news = any(item.publication_date or item.title for item in sitemap.urls)
    version = sitemap.kind if sitemap.kind == "sitemapindex" else ("news" if news else "sitemap")
    return ParsedFeed(version=version, title=None, entries=entries, bozo=sitemap.problem)


def parse_feeds_safely(
    content: bytes, headers: dict[str, str], url: str, fetched_at: dt.datetime | None = None
) -> ParsedFeed:
    """parse_feed, with any unexpected parser exception turned into a FeedParseError
    (`internal_error`): one odd feed must give a rejected row, never stop the run."""
    try:
        return parse_feed(content, headers, url, fetched_at)
    except FeedParseError:
        raise
    except Exception as error:
        raise FeedParseError("internal_error", f"{type(error).__name__}: {error}") from None


def parse_opml(content: bytes) -> list[str]:
    """The feed URLs (`xmlUrl`) of an OPML subscription list, in document order, once each.

    defusedxml refuses DTD entities and external references; nothing is fetched."""
    import defusedxml.ElementTree as safe_et

    try:
        root = safe_et.fromstring(content)
    except Exception as error:  # ParseError, EntitiesForbidden, DTDForbidden, ...
        raise FeedParseError(
            "unparseable", f"OPML not readable: {type(error).__name__}: {error}"
        ) from None
    urls: list[str] = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        url = without_userinfo(url)  # a password in a list: never written anywhere
        if url and url not in urls:
            urls.append(url)
    return urls


def parse_url_list(content: bytes) -> list[str]:
    """A `--feeds FILE`: an OPML list, or one URL a line (blank lines and # comments skip)."""
    if sniff_feed_kind(content) == "opml":
        return parse_opml(content)
    urls: list[str] = []
    for line in content.decode("utf-8-sig", errors="replace").splitlines():
        url = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        url = without_userinfo(url)
        if url and url not in urls:
            urls.append(url)
    return urls
