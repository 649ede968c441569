"""Feeds: feed files and URLs -> entries -> article pages -> Articles, plus feed health.

`ReadFeeds(config, extract_config, state_dir, state_out_dir)` takes the feed and OPML
documents the read stage found (by content, not only by extension) and adds the feed URLs
of the config (`--feed URL`, `--feeds FILE` with one URL a line or an OPML list) and the
page URLs given as `--input https://...` (fetched, then treated by content: a feed is read
as a feed, anything else as an article page).

- Feeds are fetched concurrently (transforms/fetch.py: timeouts, retries, size cap,
  address guard, per-host politeness), conditionally with the ETag/Last-Modified of the
  previous run; a body whose sha256 equals the previous one is not parsed again.
- RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and RDF are parsed by feedparser from bytes and response
  headers (it never touches the network here); JSON Feed 1.0/1.1 with `json`. A malformed
  feed gives what parses, with feedparser's bozo reason in the health row. A document
  whose DTD declares nested entities (the "billion laughs" signature) is refused before any
  parser sees it (expat would also stop it).
- Entries already seen (per feed, by entry id) in an earlier run are skipped: they are not
  inputs of this run, only counted in the health row's `entries`. Every new entry is one
  input (counter `read_inputs`) and ends as exactly one article, duplicate or rejected row.
  Seen ids record when a parse of their feed last listed them; ids not listed for
  `seen_entries_days` are dropped, unless still in the feed's latest document (counter
  `feeds_seen_entries_pruned`).
- A feed URL that answers with permanent redirects only (301/308) and ends in a feed has
  moved: the state records `moved_to`, later runs poll the new URL directly, and the
  health row names it. Temporary redirects (302/303/307) move nothing. State stays keyed
  by the URL as subscribed; a subscription changed to the new URL carries on with the old
  URL's state and seen ids.
- Each new entry's page is fetched (robots.txt honoured, for every redirect hop too:
  each against its own site's robots.txt) and extracted like any HTML page;
  the entry's title, authors and date fill what the page lacks (`text_origin` "page").
  When the page cannot be fetched or has no article text (or with `--no-fetch-pages`), the
  entry's content, else its summary, becomes the article (`feed_content`/`feed_summary`).

Rejected (stage `feeds`): a feed that cannot be fetched (`timeout`, `http_error`,
`refused_address`, `too_large`, `decompression_bomb`, `redirect_loop`, ...), is not a feed
(`not_a_feed`), cannot be parsed (`unparseable`), declares entity expansion
(`entity_expansion`); an entry with no page text and no text of its own (`no_text`).
Counters: `feeds_fetched`, `feeds_not_modified`, `feeds_unchanged`, `feeds_entries`,
`feeds_new_entries`, `feeds_pages_fetched`, `feeds_dropped_<reason>`, `read_inputs`,
`feeds_seen_entries_pruned`.

State (with `--state`): `feed_state/` (schemas/feeds.py) and `feeds/` (one health file per
run, earlier files carried over).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import logging
import re
import shutil
import urllib.parse
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from newsbeam.schemas import STATE_VERSION, STATE_VERSION_KEY, Article, RawDocument, Rejected
from newsbeam.schemas.feeds import (
    FEED_HEALTH_ADDED,
    FEED_HEALTH_DIR,
    FEED_HEALTH_SCHEMA,
    FEED_STATE_ADDED,
    FEED_STATE_DIR,
    FEED_STATE_FILE,
    FEED_STATE_SCHEMA,
    SEEN_ENTRIES_FILE,
    SEEN_ENTRY_ADDED,
    SEEN_ENTRY_SCHEMA,
    FeedHealth,
    FeedState,
    SeenEntry,
)
from newsbeam.transforms.extract import (
    ExtractConfig,
    ExtractError,
    extract_html_document,
    new_article,
    parse_datetime,
    split_authors,
)
from newsbeam.transforms.failures import REJECTED, apply_with_rejects, counter, rejected_output
from newsbeam.transforms.fetch import (
    FetchConfig,
    Fetcher,
    FetchError,
    FetchResult,
    check_url,
    fetch_all,
    host_of,
    permanent_redirect,
)

STAGE = "feeds"
log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


@dataclasses.dataclass(frozen=True)
class FeedsConfig:
    """Where feeds come from and how they are polled."""

    feed_urls: tuple[str, ...] = ()  # --feed URL
    feed_lists: tuple[str, ...] = ()  # --feeds FILE: one URL a line, or OPML
    page_urls: tuple[str, ...] = ()  # --input http(s)://...: a page (or a feed) to fetch
    fetch_pages: bool = True
    # Skip feeds whose next poll time (from the state) is still to come.
    poll_due_only: bool = False
    # The adaptive poll interval stays within these bounds (seconds).
    min_poll_seconds: int = 15 * 60
    initial_poll_seconds: int = 60 * 60
    max_poll_seconds: int = 24 * 60 * 60
    # Seen entry ids not listed by their feed for this many days are forgotten (0: never).
    # 90 days: far longer than news feeds list an item (days to weeks), short enough that
    # the table stops growing with every entry ever ingested.
    seen_entries_days: int = 90
    # Fetch work is grouped into this many shards by host (one host: one shard, so
    # per-host politeness holds); each shard fetches on its own thread pool.
    fetch_shards: int = 1
    fetch: FetchConfig = FetchConfig()


class FeedStateError(Exception):
    """A feed state file is corrupt or of another version; nothing was run or changed."""


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


class ParsedFeed(NamedTuple):
    version: str  # feedparser's (rss20, atom10, ...) or json1
    title: str | None
    entries: list[FeedEntry]
    bozo: str | None  # why the feed is malformed, when it is (what parsed is kept)


class FeedSource(NamedTuple):
    url: str
    kind: str  # "feed" (listed as a feed) | "auto" (an --input URL: feed or page by content)


class FetchedFeed(NamedTuple):
    source: FeedSource
    result: FetchResult
    from_file: bool  # read from a local file: no HTTP, no conditional state
    not_due: bool = False  # skipped: its next poll time has not come (poll_due_only)


class PageJob(NamedTuple):
    """One input of the feed path: an entry (maybe with its page), or a page URL."""

    source: str
    feed_url: str | None
    entry: FeedEntry | None
    page: FetchResult | None


# ---------------------------------------------------------------------------------------
# Pure helpers: sniffing, parsing
# ---------------------------------------------------------------------------------------

_XML_ROOT = re.compile(
    rb"<(?!\?|!)(?:[A-Za-z_][\w.-]*:)?(rss|feed|RDF|opml|channel)\b", re.IGNORECASE
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
    """ "feed" for RSS/Atom/RDF/JSON Feed, "opml" for a subscription list, else None.

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


_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*\[(.*?)\]\s*>", re.DOTALL | re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+%?\s*[\w.-]+\s+(?:\"([^\"]*)\"|'([^']*)')", re.I)


def has_entity_expansion(content: bytes) -> bool:
    """True when the DTD declares an entity whose value uses another entity, or an external
    one: the shape of "billion laughs" and XXE. Plain character entities are fine."""
    match = _DOCTYPE_SUBSET.search(_sniff_text(content[:65536]))
    if match is None:
        return False
    subset = match.group(1)
    if re.search(rb"<!ENTITY[^>]*\b(SYSTEM|PUBLIC)\b", subset, re.I):
        return True
    for declaration in _ENTITY_DECL.finditer(subset):
        value = declaration.group(1) or declaration.group(2) or b""
        if re.search(rb"[&%][\w.-]+;", value.replace(b"&#", b"")):
            return True
    return False


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _struct_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def entry_id_of(explicit: str | None, link: str | None, title: str | None, body: str | None) -> str:
    """An entry's identity across runs: its id/guid, else its link, else a content hash."""
    if explicit:
        return explicit
    if link:
        return link
    digest = hashlib.sha1(f"{title or ''}\n{body or ''}".encode()).hexdigest()[:20]
    return f"sha1:{digest}"


def _dedupe_entries(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
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


def parse_xml_feed(content: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
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
    for item in raw_entries:
        link = _text(item.get("link"))
        title = _text(item.get("title"))
        summary = _text(item.get("summary"))
        content_parts = [c.get("value", "") for c in item.get("content") or []]
        content_html = _text("\n".join(p for p in content_parts if isinstance(p, str)))
        names = [a.get("name") for a in item.get("authors") or [] if isinstance(a, dict)]
        authors = split_authors([n for n in names if n] or item.get("author"))
        published = _struct_time(item.get("published_parsed")) or _struct_time(
            item.get("updated_parsed")
        )
        tags = [t.get("term") or t.get("label") for t in item.get("tags") or []]
        entries.append(
            FeedEntry(
                entry_id=entry_id_of(_text(item.get("id")), link, title, summary),
                link=link,
                title=title,
                authors=authors,
                published_at=published,
                summary=summary,
                content=content_html,
                categories=sorted({t.strip() for t in tags if isinstance(t, str) and t.strip()}),
            )
        )
    feed = parsed.get("feed") or {}
    return ParsedFeed(
        version=parsed.get("version") or "unknown",
        title=_text(feed.get("title")),
        entries=entries,
        bozo=bozo,
    )


def parse_json_feed(content: bytes, url: str) -> ParsedFeed:
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
        link = _text(item.get("url")) or _text(item.get("external_url"))
        if link and base.startswith(("http://", "https://")):
            link = urllib.parse.urljoin(base, link)
        title = _text(item.get("title"))
        summary = _text(item.get("summary"))
        content_html = _text(item.get("content_html")) or _text(item.get("content_text"))
        raw_id = item.get("id")
        explicit = str(raw_id).strip() if isinstance(raw_id, str | int) else None
        tags: list[Any] = item["tags"] if isinstance(item.get("tags"), list) else []
        entries.append(
            FeedEntry(
                entry_id=entry_id_of(explicit or None, link, title, summary or content_html),
                link=link,
                title=title,
                authors=_json_authors(item) or feed_authors,
                published_at=parse_datetime(item.get("date_published"))
                or parse_datetime(item.get("date_modified")),
                summary=summary,
                content=content_html,
                categories=sorted({t.strip() for t in tags if isinstance(t, str) and t.strip()}),
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
    return split_authors(
        [a["name"] for a in authors if isinstance(a, dict) and _text(a.get("name"))]
    )


def parse_feed(content: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """Feed bytes of any supported format -> ParsedFeed; raises FeedParseError."""
    kind = sniff_feed_kind(content)
    if kind == "opml":
        raise FeedParseError("not_a_feed", "an OPML subscription list, not a feed")
    if has_entity_expansion(content):
        raise FeedParseError("entity_expansion", "the DTD declares nested or external entities")
    if content.lstrip()[:1] == b"{" or _sniff_text(content[:8]).lstrip()[:1] == b"{":
        return parse_json_feed(content, url)
    if kind is None:
        raise FeedParseError("not_a_feed", "neither RSS, Atom, RDF nor JSON Feed")
    parsed = parse_xml_feed(content, headers, url)
    return parsed._replace(entries=_dedupe_entries(parsed.entries))


def parse_feeds_safely(content: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """parse_feed, with any unexpected parser exception turned into a FeedParseError
    (`internal_error`): one odd feed must give a rejected row, never stop the run."""
    try:
        return parse_feed(content, headers, url)
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
        if url and url not in urls:
            urls.append(url)
    return urls


_BLOCKS = (
    "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
    "table", "tr", "section", "article", "figure", "figcaption", "dl", "dt", "dd", "hr",
)  # fmt: skip


def html_to_text(markup: str | None) -> str:
    """An entry's HTML (or plain text) -> text, one paragraph per block, blank-line separated."""
    if not markup or not markup.strip():
        return ""
    if "<" not in markup:
        paragraphs = re.split(r"\n\s*\n", markup)
    else:
        import lxml.html

        try:
            root = lxml.html.fragment_fromstring(markup, create_parent="div")
        except Exception:  # lxml refuses some fragments; the text itself is still wanted
            return html_to_text(re.sub(r"<[^>]*>", " ", markup).replace("<", " "))
        # feedparser sanitizes RSS/Atom HTML; JSON Feed HTML arrives as the feed has it.
        for element in list(root.iter("script", "style", "noscript", "template")):
            element.drop_tree()
        for element in root.iter("br"):
            element.tail = "\n" + (element.tail or "")
        for element in root.iter(*_BLOCKS):
            element.text = "\n\n" + (element.text or "")
            element.tail = "\n\n" + (element.tail or "")
        paragraphs = re.split(r"\n\s*\n", root.text_content())
    cleaned = (" ".join(paragraph.split()) for paragraph in paragraphs)
    return "\n\n".join(paragraph for paragraph in cleaned if paragraph)


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
        return page._replace(
            source=source,
            title=page.title or entry.title,
            authors=page.authors or list(entry.authors),
            published_at=page.published_at or entry.published_at,
            text_origin="page",
            feed_url=feed_url,
            entry_id=entry.entry_id,
            feed_categories=list(entry.categories),
        )
    for origin, markup in (("feed_content", entry.content), ("feed_summary", entry.summary)):
        text = html_to_text(markup)
        if text:
            return new_article(
                source,
                url=entry.link,
                title=entry.title,
                authors=list(entry.authors),
                published_at=entry.published_at,
                text=text,
                text_origin=origin,
                **common,
            )
    return None


def is_not_due(state: FeedState | None, now: dt.datetime) -> bool:
    """True when the state names a next poll time still in the future."""
    return state is not None and state.next_poll_at is not None and state.next_poll_at > now


def next_moved_to(
    feed_url: str, previous_moved_to: str | None, result: FetchResult, is_feed: bool
) -> str | None:
    """Where the feed subscribed as `feed_url` is to be polled next (None: at `feed_url`).

    It moves when this poll followed permanent redirects only and got a feed (a 301 to an
    error or an HTML page moves nothing: a feed reader would lose the feed); a temporary
    redirect or a failed poll keeps the address it had. Moving back to `feed_url` is
    no move."""
    moved = previous_moved_to
    target = permanent_redirect(result) if is_feed else None
    if target is not None:
        moved = target
    return None if moved == feed_url else moved


def next_feed_state(
    previous: FeedState | None,
    feed_url: str,
    result: FetchResult,
    new_entries: int,
    parsed_hash: str | None,
    now: dt.datetime,
    config: FeedsConfig,
    unparseable: bool = False,
) -> FeedState:
    """The state after one poll. The interval halves after new entries, grows by half when
    there were none, and doubles per consecutive failure (a fetch error, or a body that is
    no readable feed), within the configured bounds. `moved_to`: see next_moved_to."""
    interval = previous.poll_interval_seconds if previous else config.initial_poll_seconds
    failures = previous.consecutive_failures if previous else 0
    failed = result.error is not None or unparseable
    if failed:
        failures += 1
        interval = config.initial_poll_seconds * 2 ** min(failures, 16)
    else:
        failures = 0
        interval = interval // 2 if new_entries else int(interval * 1.5)
    interval = max(config.min_poll_seconds, min(config.max_poll_seconds, interval))
    headers = result.headers
    keep = previous if (failed or result.not_modified) and previous else None
    return FeedState(
        feed_url=feed_url,
        etag=keep.etag if keep else headers.get("etag"),
        last_modified=keep.last_modified if keep else headers.get("last-modified"),
        body_hash=parsed_hash or (previous.body_hash if previous else None),
        last_fetch_at=now,
        last_new_entry_at=now
        if new_entries
        else (previous.last_new_entry_at if previous else None),
        consecutive_failures=failures,
        poll_interval_seconds=interval,
        next_poll_at=now + dt.timedelta(seconds=interval),
        moved_to=next_moved_to(
            feed_url, previous.moved_to if previous else None, result, is_feed=not failed
        ),
    )


def merge_seen_entries(
    old: Iterable[SeenEntry], sightings: Iterable[SeenEntry], now: dt.datetime
) -> list[SeenEntry]:
    """The seen table after this run, sorted by (feed, id): the old rows, each id listed by
    this run's parse of its feed (`sightings`) last seen now, new ids first seen now.

    An old row without `last_seen_at` (a file written before the column) counts as seen
    now: nothing is forgotten on the evidence of its first sighting alone."""
    merged = {
        (row.feed_url, row.entry_id): row
        if row.last_seen_at is not None
        else row._replace(last_seen_at=now)
        for row in old
    }
    for sighting in sightings:
        key = (sighting.feed_url, sighting.entry_id)
        known = merged.get(key)
        if known is None:
            merged[key] = SeenEntry(sighting.feed_url, sighting.entry_id, now, now)
        else:
            merged[key] = known._replace(last_seen_at=now)
    return [merged[key] for key in sorted(merged)]


def prune_seen_entries(
    entries: Sequence[SeenEntry],
    now: dt.datetime,
    days: int,
    last_polled: Mapping[str, dt.datetime | None],
) -> list[SeenEntry]:
    """The seen rows worth keeping: those last seen within `days` (0: all), and those in
    their feed's latest parsed document while the feed is still polled (`last_polled`,
    its last fetch, within `days`).

    Every id a parse lists is last seen at that parse's time, so the ids with a feed's
    latest `last_seen_at` are its latest document: a feed answering 304 for months still
    lists them, and they must not come back as new when it changes. A feed no longer
    polled (dropped from the subscriptions) loses its ids after `days`."""
    if days <= 0:
        return list(entries)
    cutoff = now - dt.timedelta(days=days)
    latest: dict[str, dt.datetime] = {}
    for entry in entries:
        assert entry.last_seen_at is not None  # merge_seen_entries fills it
        if entry.feed_url not in latest or entry.last_seen_at > latest[entry.feed_url]:
            latest[entry.feed_url] = entry.last_seen_at

    def keep(entry: SeenEntry) -> bool:
        assert entry.last_seen_at is not None
        if entry.last_seen_at >= cutoff:
            return True
        polled = last_polled.get(entry.feed_url)
        in_latest = entry.last_seen_at == latest[entry.feed_url]
        return in_latest and polled is not None and polled >= cutoff

    return [entry for entry in entries if keep(entry)]


# ---------------------------------------------------------------------------------------
# State files
# ---------------------------------------------------------------------------------------


def _read_state_table(
    path: Path, schema: pa.Schema, added: frozenset[str] = frozenset()
) -> pa.Table | None:
    """A state file as a table in `schema`, or None when there is none; FeedStateError if
    it is unreadable, of another version, or lacks a column other than the `added` ones
    (columns added since the file's version was first written: filled with nulls)."""
    if not path.exists():
        return None
    try:
        table = pq.read_table(path)
    except Exception as error:
        raise FeedStateError(
            f"feed state file {path} is unreadable ({error}); not overwritten"
        ) from None
    version = (table.schema.metadata or {}).get(STATE_VERSION_KEY)
    if version != STATE_VERSION.encode():
        found = version.decode(errors="replace") if version else "none"
        raise FeedStateError(
            f"feed state file {path} has state version {found}, this NewsBeam reads "
            f"{STATE_VERSION}; it is left as it is"
        )
    missing = [name for name in schema.names if name not in table.schema.names]
    if set(missing) - added:
        raise FeedStateError(f"feed state file {path} lacks columns {missing}")
    return _complete(table, schema)


def _complete(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with `schema`'s columns, in order: any missing (added later) all null."""
    for field in schema:
        if field.name not in table.schema.names:
            table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
    return table.select(schema.names)


@dataclasses.dataclass(frozen=True)
class PreviousFeedState:
    feeds: dict[str, FeedState]
    seen: dict[str, frozenset[str]]
    # A feed's new URL -> the URL it was subscribed as, for feeds that moved: a
    # subscription changed to the new URL starts from the old URL's state and always
    # counts the old URL's seen ids as its own.
    moved_from: dict[str, str] = dataclasses.field(default_factory=dict)

    def state_for(self, url: str) -> FeedState | None:
        state = self.feeds.get(url)
        if state is None and url in self.moved_from:
            state = self.feeds[self.moved_from[url]]
        return state

    def seen_for(self, url: str) -> frozenset[str]:
        seen = self.seen.get(url, frozenset())
        old = self.moved_from.get(url)
        return seen | self.seen.get(old, frozenset()) if old else seen


def moved_feeds(feeds: Mapping[str, FeedState]) -> dict[str, str]:
    """New URL -> old key for every feed that moved (the first old key in sorted order when
    two moved to one URL). Kept once the new URL has state of its own: that state may come
    from polls that parsed nothing (304), so the old URL's ids are still the feed's."""
    moved: dict[str, str] = {}
    for url in sorted(feeds):
        target = feeds[url].moved_to
        if target and target != url:
            moved.setdefault(target, url)
    return moved


def last_polled(feeds: Mapping[str, FeedState]) -> dict[str, dt.datetime | None]:
    """Each feed's last fetch; a feed that moved counts as polled when its new URL was
    (subscribed as such), so its ids live on while they are the new URL's too."""
    polled = {url: state.last_fetch_at for url, state in feeds.items()}
    for url, state in feeds.items():
        successor = feeds.get(state.moved_to) if state.moved_to else None
        if successor is not None and successor.last_fetch_at is not None:
            own = polled[url]
            polled[url] = max(own, successor.last_fetch_at) if own else successor.last_fetch_at
    return polled


def load_feed_state(state_dir: str | None) -> PreviousFeedState:
    """The feed state of the previous run (empty without one); FeedStateError if unusable."""
    if state_dir is None:
        return PreviousFeedState({}, {})
    folder = Path(state_dir) / FEED_STATE_DIR
    feeds: dict[str, FeedState] = {}
    seen: dict[str, set[str]] = {}
    table = _read_state_table(folder / FEED_STATE_FILE, FEED_STATE_SCHEMA, FEED_STATE_ADDED)
    if table is not None:
        for row in table.to_pylist():
            feeds[row["feed_url"]] = FeedState(**row)
    table = _read_state_table(folder / SEEN_ENTRIES_FILE, SEEN_ENTRY_SCHEMA, SEEN_ENTRY_ADDED)
    if table is not None:
        columns = table.select(["feed_url", "entry_id"]).to_pydict()
        for url, entry_id in zip(columns["feed_url"], columns["entry_id"], strict=True):
            seen.setdefault(url, set()).add(entry_id)
    for health in sorted((Path(state_dir) / FEED_HEALTH_DIR).glob("*.parquet")):
        _read_state_table(health, FEED_HEALTH_SCHEMA, FEED_HEALTH_ADDED)
    return PreviousFeedState(
        feeds, {url: frozenset(ids) for url, ids in seen.items()}, moved_feeds(feeds)
    )


def _write_table(path: Path, rows: Sequence[NamedTuple], schema: pa.Schema) -> None:
    table = pa.Table.from_pylist([row._asdict() for row in rows], schema=schema)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


def write_feed_state(
    state_dir: str | None,
    state_out_dir: str,
    run_at: dt.datetime,
    previous: PreviousFeedState,
    states: Sequence[FeedState],
    sightings: Sequence[SeenEntry],
    health: Sequence[FeedHealth],
    seen_entries_days: int = 0,
) -> int:
    """Write the complete feed state and the health table into the staging folder; returns
    how many seen ids were pruned (see prune_seen_entries).

    Nothing is written when no feed was polled: the state module then carries the previous
    components over unchanged. Files of the previous state lacking columns added since
    are written complete (health files too), so one folder holds one schema."""
    if not health:
        return 0
    out = Path(state_out_dir)
    state_out = out / FEED_STATE_DIR
    state_out.mkdir(parents=True, exist_ok=True)
    merged = dict(previous.feeds)
    merged.update({state.feed_url: state for state in states})
    _write_table(
        state_out / FEED_STATE_FILE, [merged[u] for u in sorted(merged)], FEED_STATE_SCHEMA
    )
    old_seen: list[SeenEntry] = []
    if state_dir is not None:
        table = _read_state_table(
            Path(state_dir) / FEED_STATE_DIR / SEEN_ENTRIES_FILE,
            SEEN_ENTRY_SCHEMA,
            SEEN_ENTRY_ADDED,
        )
        if table is not None:
            old_seen = [SeenEntry(**row) for row in table.to_pylist()]
    all_seen = merge_seen_entries(old_seen, sightings, run_at)
    kept = prune_seen_entries(all_seen, run_at, seen_entries_days, last_polled(merged))
    _write_table(state_out / SEEN_ENTRIES_FILE, kept, SEEN_ENTRY_SCHEMA)
    health_out = out / FEED_HEALTH_DIR
    health_out.mkdir(parents=True, exist_ok=True)
    if state_dir is not None:
        for old in sorted((Path(state_dir) / FEED_HEALTH_DIR).glob("*.parquet")):
            if pq.read_schema(old).names == FEED_HEALTH_SCHEMA.names:
                shutil.copy2(old, health_out / old.name)
            else:
                table = _read_state_table(old, FEED_HEALTH_SCHEMA, FEED_HEALTH_ADDED)
                assert table is not None
                pq.write_table(
                    table.cast(FEED_HEALTH_SCHEMA), health_out / old.name, compression="zstd"
                )
    stamp = run_at.strftime("%Y%m%dT%H%M%S%fZ")  # names sort in run order
    rows = sorted(health, key=lambda h: h.feed_url)
    _write_table(health_out / f"health-{stamp}.parquet", rows, FEED_HEALTH_SCHEMA)
    return len(all_seen) - len(kept)


# ---------------------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------------------

HEALTH, STATE, SEEN = "health", "state", "seen"


def _rejected(
    source: str, reason: str, detail: str, payload: bytes | str = b""
) -> beam.pvalue.TaggedOutput:
    return rejected_output(source, STAGE, reason, detail, payload)


def is_fetchable(url: str) -> bool:
    """An absolute http(s) URL (anything else fails in the fetcher with its reason)."""
    try:
        check_url(url)
    except FetchError:
        return False
    return True


def _shard(url: str, shards: int) -> int:
    return zlib.crc32(host_of(url).encode()) % max(1, shards)


class _SourcesFromDocuments(beam.DoFn):
    """A feed document read from a file -> FetchedFeed; an OPML one -> its FeedSources."""

    def process(self, doc: RawDocument) -> Iterator[Any]:
        if doc.kind == "opml":
            try:
                urls = parse_opml(doc.content)
            except FeedParseError as error:
                counter("read_inputs").inc()
                yield _rejected(doc.source, error.reason, str(error), doc.content)
                return
            for url in urls:
                yield beam.pvalue.TaggedOutput("sources", FeedSource(url, "feed"))
            return
        result = FetchResult(doc.source, doc.source, None, {}, doc.content, None, "", 0)
        yield FetchedFeed(FeedSource(doc.source, "feed"), result, from_file=True)


class _SourcesFromLists(beam.DoFn):
    """A `--feeds FILE` path -> the FeedSources it lists."""

    def process(self, path: str) -> Iterator[Any]:
        try:
            with FileSystems.open(path) as handle:
                urls = parse_url_list(handle.read())
        except Exception as error:
            counter("read_inputs").inc()
            yield _rejected(path, "unreadable", f"feed list: {type(error).__name__}: {error}")
            return
        for url in urls:
            yield FeedSource(url, "feed")


class _FetchingDoFn(beam.DoFn):
    """A DoFn with one HTTP client (connection pools, robots.txt cache) per worker."""

    def __init__(self, config: FeedsConfig) -> None:
        self._config = config
        self._fetcher: Fetcher | None = None

    def setup(self) -> None:
        self._fetcher = Fetcher(self._config.fetch)

    def teardown(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()


class _FetchFeeds(_FetchingDoFn):
    """(shard, [FeedSource]) -> FetchedFeed per source, fetched concurrently."""

    def __init__(
        self, config: FeedsConfig, previous: PreviousFeedState, run_at: dt.datetime
    ) -> None:
        super().__init__(config)
        self._previous = previous
        self._run_at = run_at

    def process(self, shard: tuple[int, Iterable[FeedSource]]) -> Iterator[FetchedFeed]:
        assert self._fetcher is not None
        fetcher = self._fetcher
        sources = sorted(set(shard[1]))

        def fetch(source: FeedSource) -> FetchedFeed:
            state = self._previous.state_for(source.url)
            if self._config.poll_due_only and is_not_due(state, self._run_at):
                skipped = FetchResult(source.url, source.url, None, {}, b"", None, "", 0)
                return FetchedFeed(source, skipped, from_file=False, not_due=True)
            # A feed that moved (permanent redirects) is polled at its new URL directly.
            target = state.moved_to if state is not None and state.moved_to else source.url
            page_like = source.kind == "auto"
            if page_like and is_fetchable(target):
                # An --input URL may be an article page: robots.txt has its say first.
                if not fetcher.allowed_by_robots(target):
                    refused = FetchResult(
                        source.url, target, None, {}, b"", "robots_disallowed", "robots.txt", 0
                    )
                    return FetchedFeed(source, refused, from_file=False)
            result = fetcher.fetch(
                target,
                etag=state.etag if state else None,
                last_modified=state.last_modified if state else None,
                accept=FEED_ACCEPT,
                robots_on_redirects=page_like,
            )
            return FetchedFeed(source, result, from_file=False)

        for fetched in fetch_all(sources, fetch, self._config.fetch.concurrency):
            counter("feeds_fetched").inc()
            yield fetched


class _ParseFeeds(beam.DoFn):
    """FetchedFeed -> PageJob per new entry; health, state and seen rows; rejected rows."""

    def __init__(
        self, config: FeedsConfig, previous: PreviousFeedState, run_at: dt.datetime
    ) -> None:
        self._config = config
        self._previous = previous
        self._run_at = run_at

    def process(self, fetched: FetchedFeed) -> Iterator[Any]:
        # Beam warns about a process() that both yields and returns; the early returns
        # live in _outputs().
        yield from self._outputs(fetched)

    def _outputs(self, fetched: FetchedFeed) -> Iterator[Any]:
        source, result = fetched.source, fetched.result
        url = source.url
        previous = None if fetched.from_file else self._previous.state_for(url)
        entries: list[FeedEntry] = []
        new: list[FeedEntry] = []
        status, error, new_hash = "ok", result.error, None
        if fetched.not_due:
            counter("feeds_not_due").inc()
            moved_to = previous.moved_to if previous is not None else None
            moved_to = None if moved_to == url else moved_to  # subscribed at its new URL
            yield beam.pvalue.TaggedOutput(
                HEALTH,
                FeedHealth(self._run_at, url, "not_due", None, 0, 0, 0, False, None, 0, moved_to),
            )
            return  # its state stays as it was
        if result.error is not None:
            status = "error"
            counter("read_inputs").inc()
            yield _rejected(url, result.error, result.detail or result.error)
        elif result.not_modified:
            status = "not_modified"
            counter("feeds_not_modified").inc()
        else:
            new_hash = body_hash(result.body)
            if previous is not None and previous.body_hash == new_hash:
                status = "unchanged"
                counter("feeds_unchanged").inc()
            else:
                try:
                    parsed = parse_feeds_safely(result.body, result.headers, result.final_url)
                except FeedParseError as failure:
                    if source.kind == "auto" and failure.reason == "not_a_feed":
                        # An --input URL that is not a feed: an article page.
                        counter("read_inputs").inc()
                        yield PageJob(url, None, None, result)
                        return
                    status, error, new_hash = "error", failure.reason, None
                    counter("read_inputs").inc()
                    yield _rejected(url, failure.reason, str(failure), result.body)
                else:
                    entries = parsed.entries
                    if parsed.bozo:
                        status, error = "partial", parsed.bozo[:500]
                    seen = self._previous.seen_for(url)
                    new = [entry for entry in entries if entry.entry_id not in seen]
        counter("feeds_entries").inc(len(entries))
        counter("feeds_new_entries").inc(len(new))
        for entry in new:
            counter("read_inputs").inc()
            yield PageJob(f"{url}#{entry.entry_id}", url, entry, None)
        # Every id the document lists, new or not, is seen now: what keeps it from pruning.
        for entry in entries:
            sighting = SeenEntry(url, entry.entry_id, self._run_at, self._run_at)
            yield beam.pvalue.TaggedOutput(SEEN, sighting)
        state = None
        if not fetched.from_file:
            state = next_feed_state(
                previous,
                url,
                result,
                len(new),
                new_hash,
                self._run_at,
                self._config,
                unparseable=status == "error",
            )
        yield beam.pvalue.TaggedOutput(
            HEALTH,
            FeedHealth(
                run_at=self._run_at,
                feed_url=url,
                status=status,
                http_status=result.http_status,
                bytes=len(result.body),
                entries=len(entries),
                new_entries=len(new),
                not_modified=result.not_modified,
                error=error,
                latency_ms=result.latency_ms,
                moved_to=state.moved_to if state is not None else None,
            ),
        )
        if state is not None:
            yield beam.pvalue.TaggedOutput(STATE, state)


class _FetchPages(_FetchingDoFn):
    """(shard, [PageJob]) -> the jobs with their pages fetched (robots.txt honoured)."""

    def process(self, shard: tuple[int, Iterable[PageJob]]) -> Iterator[PageJob]:
        assert self._fetcher is not None
        fetcher = self._fetcher
        jobs = sorted(shard[1], key=lambda job: job.source)

        def fetch(job: PageJob) -> PageJob:
            assert job.entry is not None and job.entry.link is not None
            return job._replace(page=fetcher.fetch_page(job.entry.link))

        for job in fetch_all(jobs, fetch, self._config.fetch.concurrency):
            counter("feeds_pages_fetched").inc()
            yield job


class _ToArticles(beam.DoFn):
    """PageJob -> Article (page text, else the entry's own), or a rejected row."""

    def __init__(self, extract_config: ExtractConfig) -> None:
        self._extract_config = extract_config

    def setup(self) -> None:
        import trafilatura  # noqa: F401  (import cost once per worker)

        for name in ("trafilatura", "htmldate"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    def process(self, job: PageJob) -> Iterator[Any]:
        page_article, problem = None, ("no_text", "the entry has no link and no text")
        page = job.page
        if page is not None:
            if page.error is not None:
                problem = (page.error, f"page {page.url}: {page.detail}")
            elif not page.body:
                problem = ("no_text", f"page {page.url}: empty body (HTTP {page.http_status})")
            elif not is_html_response(page):
                kind = page.headers.get("content-type", "")
                problem = ("not_html", f"page {page.url}: {kind}, not an HTML page")
            else:
                document = RawDocument(source=job.source, kind="html", content=page.body)
                try:
                    page_article = extract_html_document(document, self._extract_config)
                except ExtractError as failure:
                    problem = (failure.reason, f"page {page.url}: {failure}")
                else:
                    if page_article.url is None:
                        page_article = _with_url(page_article, page.final_url)
        if job.entry is None:  # a page URL given directly
            if page_article is None:
                yield _rejected(job.source, problem[0], problem[1], page.body if page else b"")
                return
            yield page_article._replace(text_origin="page")
            return
        article = entry_article(job.source, job.feed_url, job.entry, page_article)
        if article is None:
            yield _rejected(job.source, problem[0], problem[1], job.entry.title or "")
            return
        yield article


def _with_url(article: Article, url: str) -> Article:
    """The article with the URL the page was fetched from (its own metadata named none)."""
    fields = article._asdict()
    source = fields.pop("source")
    fields.update(url=url, canonical_url=None)
    return new_article(source, **fields)


def _needs_page(job: PageJob, fetch_pages: bool) -> bool:
    return fetch_pages and job.page is None and job.entry is not None and bool(job.entry.link)


class ReadFeeds(beam.PTransform):
    """PCollection[RawDocument] (feed and OPML documents) -> (Articles, Rejected).

    Feed URLs and page URLs come from the config; with `state_out_dir` the feed state and
    health rows are written there (see write_feed_state)."""

    def __init__(
        self,
        config: FeedsConfig,
        extract_config: ExtractConfig | None = None,
        state_dir: str | None = None,
        state_out_dir: str | None = None,
        run_at: dt.datetime | None = None,
    ) -> None:
        super().__init__()
        self._config = config
        self._extract_config = extract_config or ExtractConfig()
        self._state_dir = state_dir
        self._state_out_dir = state_out_dir
        # Read (and checked) while the pipeline is built: bad state stops the run early.
        self._previous = load_feed_state(state_dir)
        # The run's start, shared with the dedup state (pipeline/); now when used alone.
        self._run_at = run_at or dt.datetime.now(dt.timezone.utc)

    def expand(
        self, documents: beam.PCollection[RawDocument]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected]]:
        config = self._config
        from_docs = documents | "FromDocuments" >> beam.ParDo(_SourcesFromDocuments()).with_outputs(
            "sources", REJECTED, main="feeds"
        )
        pipeline = documents.pipeline
        listed = (
            pipeline
            | "FeedLists" >> beam.Create(list(config.feed_lists))
            | "ReadLists" >> beam.ParDo(_SourcesFromLists()).with_outputs(REJECTED, main="sources")
        )
        given = [FeedSource(url, "feed") for url in config.feed_urls] + [
            FeedSource(url, "auto") for url in config.page_urls
        ]
        sources = (
            (pipeline | "GivenUrls" >> beam.Create(given), listed.sources, from_docs.sources)
            | "AllSources" >> beam.Flatten()
            | "ByUrl" >> beam.Map(lambda s: (s.url, s))
            | "GroupByUrl" >> beam.GroupByKey()
            # Listed as a feed anywhere wins over "auto" ("auto" < "feed" would pick auto).
            | "OncePerUrl" >> beam.Map(lambda g: max(g[1], key=lambda s: s.kind == "feed"))
        )
        shards = config.fetch_shards
        fetched = (
            sources
            | "ShardFeeds" >> beam.Map(lambda s: (_shard(s.url, shards), s))
            | "GroupFeeds" >> beam.GroupByKey()
            | "FetchFeeds" >> beam.ParDo(_FetchFeeds(config, self._previous, self._run_at))
        )
        parsed = (
            (fetched, from_docs.feeds)
            | "AllFeeds" >> beam.Flatten()
            | "ParseFeeds"
            >> beam.ParDo(_ParseFeeds(config, self._previous, self._run_at)).with_outputs(
                HEALTH, STATE, SEEN, REJECTED, main="jobs"
            )
        )
        fetch_pages = config.fetch_pages
        to_fetch = parsed.jobs | "NeedPage" >> beam.Filter(_needs_page, fetch_pages)
        ready = parsed.jobs | "HavePage" >> beam.Filter(
            lambda job: not _needs_page(job, fetch_pages)
        )
        with_pages = (
            to_fetch
            | "ShardPages" >> beam.Map(lambda j: (_shard(j.entry.link, shards), j))
            | "GroupPages" >> beam.GroupByKey()
            | "FetchPages" >> beam.ParDo(_FetchPages(config))
        )
        jobs = (ready, with_pages) | "AllJobs" >> beam.Flatten()
        articles, unmade = apply_with_rejects(
            jobs,
            "ToArticles",
            _ToArticles(self._extract_config),
            STAGE,
            lambda j: j.source,
            Article,
        )
        if self._state_out_dir is not None:
            self._write_state(pipeline, parsed)
        rejected = (
            from_docs[REJECTED],
            listed[REJECTED],
            parsed[REJECTED],
            unmade,
        ) | "Rejected" >> beam.Flatten()
        return articles, rejected

    def _write_state(self, pipeline: beam.Pipeline, parsed: Any) -> None:
        state_dir, out, previous = self._state_dir, self._state_out_dir, self._previous
        run_at, days = self._run_at, self._config.seen_entries_days

        def write(_: Any, states: list, seen: list, health: list) -> None:
            assert out is not None
            pruned = write_feed_state(state_dir, out, run_at, previous, states, seen, health, days)
            counter("feeds_seen_entries_pruned").inc(pruned)

        _ = (
            pipeline
            | "StateWrite" >> beam.Create([None])
            | "WriteFeedState"
            >> beam.Map(
                write,
                beam.pvalue.AsList(parsed[STATE]),
                beam.pvalue.AsList(parsed[SEEN]),
                beam.pvalue.AsList(parsed[HEALTH]),
            )
        )
