"""The feed stage (Beam): feed files and URLs -> entries -> article pages -> Articles, plus
feed health. Parsing, entry-to-article and polling logic live beside it (parse.py,
articles.py, polling.py), the HTTP client in fetch.py.

`ReadFeeds(config, extract_config, state)` takes the feed and OPML
documents the read stage found (by content, not only by extension) and adds the feed URLs
of the config (`--feed URL`, `--feeds FILE` with one URL a line or an OPML list) and the
page URLs given as `--input https://...` (fetched, then treated by content: a feed is read
as a feed, anything else as an article page).

- Feeds are fetched concurrently (fetch.py: timeouts, retries, size cap,
  address guard, per-host politeness), conditionally with the ETag/Last-Modified of the
  previous run; a body whose sha256 equals the previous one is not parsed again.
- RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and RDF are parsed by feedparser from bytes and response
  headers (it never touches the network here); JSON Feed 1.0/1.1 with `json`; sitemaps
  (sitemaps.py) with lxml, a fetched sitemap index with its sitemaps (with_sitemaps). A malformed
  feed gives what parses, with feedparser's bozo reason in the health row. A document
  whose DTD declares nested entities (the "billion laughs" signature) is refused before any
  parser sees it (expat would also stop it).
- Entries already seen (per feed, by entry id) in an earlier run are skipped: they are not
  inputs of this run, only counted in the health row's `entries`; unless the feed lists
  one in another version (updated_entries): then it is an input under a source of its own
  (support/versions.py; counter `feeds_updated_entries`). Every new entry is one
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
  entry's content, else its summary, becomes the article (`feed_content`/`feed_summary`);
  a page fetched but not used says why in the article's `removed` (reason `page_<why>`).
- Page fetches are capped per feed and per run (`max_pages_per_feed`, `max_pages_per_run`):
  the entries over the caps are left for the next run (not inputs now, not marked seen,
  their feed re-read in full next time; counter `feeds_pages_deferred`).

Rejected (stage `feeds`): a feed that cannot be fetched (`timeout`, `http_error`,
`refused_address`, `too_large`, `decompression_bomb`, `redirect_loop`, ...), is not a feed
(`not_a_feed`), cannot be parsed (`unparseable`), declares entity expansion
(`entity_expansion`); an entry with no page text and no text of its own (`no_text`); a
sitemap file among the inputs without `read_sitemap_files` (`sitemap_file`).
Sitemaps (with_sitemaps, capped_inputs, is_restamped): `feeds_sitemaps_fetched`,
`feeds_sitemaps_not_modified`, `feeds_sitemaps_unchanged`, `feeds_sitemaps_skipped`,
`feeds_sitemap_urls_deferred`, `feeds_sitemap_restamped`. Counters: `feeds_fetched`,
`feeds_not_modified`, `feeds_unchanged`, `feeds_errors` (health status `error`),
`feeds_entries`, `feeds_new_entries`, `feeds_pages_attempted`, `feeds_pages_fetched` (a
body came back),
`feeds_pages_failed_<reason>`, `feeds_pages_fallback_<reason>` (the feed's text used
instead), `feeds_pages_deferred`, `feeds_dropped_<reason>`, `read_inputs`,
`feeds_seen_entries_pruned`.

State (with `--state`): `feed_state/` (schemas/feeds.py), read and written through
newsbeam.transforms.support.state; nothing is written when no feed was read, so the earlier
feed state is carried over. Health rows (one per feed per run) go to the output dataset's
feed_health table, with every run's other tables.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from newsbeam.schemas import Article, RawDocument, Rejected, Removal
from newsbeam.schemas.feeds import FeedHealth, FeedState, SeenEntry
from newsbeam.transforms.event_time import datetime_of
from newsbeam.transforms.extract import (
    ExtractConfig,
    ExtractError,
    count_published_zone,
    extract_html_document,
    publications_as_of,
    with_fetched_url,
)
from newsbeam.transforms.feeds.articles import (
    entry_article,
    is_html_response,
    page_falls_short,
)
from newsbeam.transforms.feeds.config import FeedsConfig
from newsbeam.transforms.feeds.fetch import (
    Fetcher,
    FetchError,
    FetchResult,
    check_url,
    fetch_all,
)
from newsbeam.transforms.feeds.parse import (
    FeedEntry,
    FeedParseError,
    ParsedFeed,
    body_hash,
    dedupe_entries,
    parse_feeds_safely,
    parse_opml,
    parse_url_list,
)
from newsbeam.transforms.feeds.polling import (
    PreviousFeedState,
    is_not_due,
    load_feed_state,
    next_feed_state,
    next_feed_tables,
)
from newsbeam.transforms.feeds.sitemaps import (
    SitemapError,
    SitemapRef,
    chosen_sitemaps,
    gunzipped,
    newest_first,
    parse_sitemap,
    sitemap_kind,
)
from newsbeam.transforms.support import quiet_logs
from newsbeam.transforms.support.committed import (
    NO_SOURCES,
    CommittedRecord,
    load_committed_sources,
    parts_by_file,
)
from newsbeam.transforms.support.failures import (
    REJECTED,
    apply_with_rejects,
    counter,
    reject,
    rejected_output,
)
from newsbeam.transforms.support.state import (
    FEED_STATE,
    SEEN_ENTRIES,
    ReadStateTable,
    StateContext,
    WriteStateTable,
)
from newsbeam.transforms.support.versions import version_source
from newsbeam.transforms.support.whole import CallWithAll

STAGE = "feeds"
log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


class FeedSource(NamedTuple):
    url: str
    kind: str  # "feed" (listed as a feed) | "auto" (an --input URL: feed or page by content)


class FetchedFeed(NamedTuple):
    source: FeedSource
    result: FetchResult
    from_file: bool  # read from a local file: no HTTP, no conditional state
    not_due: bool = False  # skipped: its next poll time has not come (poll_due_only)
    # A sitemap index's sitemaps, fetched with it (with_sitemaps), and what was left unread.
    parts: tuple[FetchResult, ...] = ()
    notes: tuple[str, ...] = ()
    # A sitemap index's: the hash of its body and its sitemaps' (fetched_hash), and the
    # record of them its state keeps (FeedState.sitemaps); None for anything else.
    index_hash: str | None = None
    sitemaps: str | None = None
    # Counters with_sitemaps counted (name, n): incremented by the DoFn (count_sitemaps).
    counts: tuple[tuple[str, int], ...] = ()


class PageJob(NamedTuple):
    """One input of the feed path: an entry (maybe with its page), or a page URL."""

    source: str
    feed_url: str | None
    entry: FeedEntry | None
    page: FetchResult | None
    # Earlier runs in a row whose fetch of this entry's page failed for now (SeenEntry).
    page_failures: int = 0
    # Whether its page may be fetched: not for an entry of a feed read from a file unless
    # asked for (FeedsConfig.fetch_file_pages): its own text is the article.
    page_wanted: bool = True


# ---------------------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------------------

HEALTH, STATE, SEEN = "health", "state", "seen"


def _rejected(
    source: str, reason: str, detail: str, payload: bytes | str = b""
) -> beam.pvalue.TaggedOutput:
    return rejected_output(source, STAGE, reason, detail, payload)


def feed_not_planned(doc: RawDocument) -> Rejected:
    """A feed or OPML document read by a run built without the feed stage (no input could
    hold one when it was built: `read.may_hold_feeds`), e.g. one written into an input
    folder since: rejected with its content, counted as an input, never lost."""
    counter("read_inputs").inc()
    detail = "a feed or OPML list that was not among the inputs when the run began; run again"
    return reject(doc.source, STAGE, "not_planned", detail, doc.content)


def is_fetchable(url: str) -> bool:
    """An absolute http(s) URL (anything else fails in the fetcher with its reason)."""
    try:
        check_url(url)
    except FetchError:
        return False
    return True


class _SourcesFromDocuments(beam.DoFn):
    """A feed document read from a file -> FetchedFeed; an OPML one, or a sitemap index,
    -> its FeedSources (an index's sitemaps are fetched as feeds, each with its own state;
    at most `sitemap_max_sitemaps`, newest lastmod first). A sitemap file is read only with
    `read_sitemap_files`; else it is a rejected row (`sitemap_file`)."""

    def __init__(self, config: FeedsConfig | None = None) -> None:
        self._config = config or FeedsConfig()

    def process(self, doc: RawDocument) -> Iterator[Any]:
        kind = sitemap_kind(doc.content) if doc.kind == "feed" else None
        if kind is not None and not self._config.read_sitemap_files:
            # A saved site's sitemap lists every page of it: reading it would fetch them
            # all from the web, in a run over files.
            counter("read_inputs").inc()
            detail = (
                "a sitemap file: reading it would fetch every page it lists from the web; "
                "pass --read_sitemap_files to read it, or --feed its URL"
            )
            yield _rejected(doc.source, "sitemap_file", detail, doc.content)
            return
        if kind == "sitemapindex":
            yield from _index_sources(doc, self._config.sitemap_max_sitemaps)
            return
        if doc.kind == "opml":
            try:
                urls = parse_opml(doc.content)
            except FeedParseError as error:
                counter("read_inputs").inc()
                yield _rejected(doc.source, error.reason, str(error), doc.content)
                return
            if not urls:  # it stood for no input at all: said, not silent
                counter("read_inputs").inc()
                yield _rejected(doc.source, "no_feeds", "an OPML file listing no feed URL")
            for url in urls:
                yield beam.pvalue.TaggedOutput("sources", FeedSource(url, "feed"))
            return
        result = FetchResult(doc.source, doc.source, None, {}, doc.content, None, "", 0)
        yield FetchedFeed(FeedSource(doc.source, "feed"), result, from_file=True)


def _index_sources(doc: RawDocument, limit: int) -> Iterator[Any]:
    """A sitemap index read from a file -> a FeedSource per sitemap it names (a rejected
    row, counted as an input, when it names none or cannot be read)."""
    try:
        refs = parse_sitemap(doc.content, doc.source).sitemaps
    except SitemapError as error:
        counter("read_inputs").inc()
        yield _rejected(doc.source, error.reason, str(error), doc.content)
        return
    chosen, left = chosen_sitemaps(refs, limit)
    if not chosen:
        counter("read_inputs").inc()
        yield _rejected(doc.source, "no_feeds", "a sitemap index naming no sitemap")
    counter("feeds_sitemaps_skipped").inc(left)
    for ref in chosen:
        yield beam.pvalue.TaggedOutput("sources", FeedSource(ref.loc, "feed"))


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
        if not urls:
            counter("read_inputs").inc()
            yield _rejected(path, "no_feeds", "a feed list naming no feed URL")
        for url in urls:
            yield FeedSource(url, "feed")


class _FetchingDoFn(beam.DoFn):
    """A DoFn with one HTTP client (connection pools, robots.txt cache) per worker."""

    def __init__(self, config: FeedsConfig) -> None:
        self._config = config
        self._fetcher: Fetcher | None = None

    def setup(self) -> None:
        self._fetcher = Fetcher(self._config.fetch)
        # Each retry urllib3 makes ends in the fetch's result (a rejected row, feed_health);
        # its one warning per retry would only repeat that on the terminal (--log_level
        # DEBUG keeps them).
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

    def teardown(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()


class _FetchFeeds(_FetchingDoFn):
    """(key, [FeedSource]) -> FetchedFeed per source, fetched concurrently."""

    def __init__(self, config: FeedsConfig, state: StateContext) -> None:
        super().__init__(config)
        self._state = state
        self._run_at = state.run_at
        self._previous: PreviousFeedState | None = None

    def setup(self) -> None:
        super().setup()
        self._previous = load_feed_state(self._state)

    def process(self, shard: tuple[int, Iterable[FeedSource]]) -> Iterator[FetchedFeed]:
        assert self._fetcher is not None and self._previous is not None
        fetcher, previous = self._fetcher, self._previous
        sources = sorted(set(shard[1]))

        def fetch(source: FeedSource) -> FetchedFeed:
            state = previous.state_for(source.url)
            due_only = self._config.poll_due_only and waits_its_turn(source, state)
            if due_only and is_not_due(state, self._run_at):
                skipped = FetchResult(source.url, source.url, None, {}, b"", None, "", 0)
                return FetchedFeed(source, skipped, from_file=False, not_due=True)
            fetched = FetchedFeed(source, fetch_feed(fetcher, source, state), from_file=False)
            return with_sitemaps(fetcher, fetched, self._config, state, self._run_at)

        url_of = feed_target_of(previous)
        with fetcher.remembering_unreachable():  # this run's (or follow batch's) fetches
            for fetched in fetch_all(sources, fetch, self._config.fetch.concurrency, url_of):
                if not fetched.not_due:  # counted as feeds_not_due where it is parsed
                    counter("feeds_fetched").inc()
                yield count_sitemaps(fetched)


def feed_target_of(previous: PreviousFeedState) -> Callable[[FeedSource], str]:
    """A source -> the URL its poll requests (where a moved feed lives now): the host that
    fetch_all takes turns by."""

    def target(source: FeedSource) -> str:
        state = previous.state_for(source.url)
        return state.moved_to if state is not None and state.moved_to else source.url

    return target


def sitemap_record(state: FeedState | None) -> dict[str, Any] | None:
    """What the feed's last poll kept of its sitemap index (FeedState.sitemaps), or None
    (not an index, never polled, or to be read in full)."""
    if state is None or not state.sitemaps:
        return None
    try:
        record = json.loads(state.sitemaps)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "index" in record else None


def _checked_recently(record: Mapping[str, Any], now: dt.datetime, seconds: int) -> bool:
    """Whether a sitemap was last fetched less than `seconds` before `now`."""
    try:
        checked = dt.datetime.fromisoformat(record["checked_at"])
    except (KeyError, TypeError, ValueError):
        return False
    return now - checked < dt.timedelta(seconds=seconds)


def with_sitemaps(
    fetcher: Fetcher,
    fetched: FetchedFeed,
    config: FeedsConfig,
    previous: FeedState | None = None,
    now: dt.datetime | None = None,
) -> FetchedFeed:
    """A fetched feed with a gzipped body (a `sitemap.xml.gz` served as application/gzip)
    unpacked within `--fetch_max_bytes`, and, when it is a sitemap index, the sitemaps it
    names fetched (as feeds are: politeness, retries, size cap, address guard) into
    `parts`: at most `sitemap_max_sitemaps` in all, newest lastmod first, an index named by
    an index followed to `sitemap_max_depth` levels. `notes` say what was left unread.

    What the last poll kept (`previous.sitemaps`: sitemap_record) makes the poll cheap: a
    sitemap whose `<lastmod>` in the index is the one it had, fetched less than
    `sitemap_recheck_seconds` ago, is not fetched; the others are asked for conditionally
    (ETag, Last-Modified). Either way such a part is a 304 with no body, read as before.
    The index itself is asked for conditionally too: a 304 reads the sitemaps it chose
    last time. `index_hash` covers the index and each sitemap's body: a poll where none
    changed is `unchanged` (or `not_modified`); `sitemaps` is the record the next poll
    starts from."""
    result = fetched.result
    now = now or result.fetched_at or dt.datetime.now(dt.timezone.utc)
    record = sitemap_record(previous)
    body: bytes | None = None
    if result.not_modified and record is not None:
        index_hash = str(record["index"])
        top = [SitemapRef(str(loc), lastmod) for loc, lastmod in record.get("refs", [])]
        top_left = int(record.get("left", 0))
    else:
        if result.error is not None or not result.body:
            return fetched
        try:
            body = gunzipped(result.body, config.fetch.max_bytes)
        except SitemapError as error:
            detail = f"{result.final_url}: {error}"
            failed = result._replace(body=b"", error=error.reason, detail=detail)
            return fetched._replace(result=failed)
        result = result._replace(body=body)
        if sitemap_kind(body) != "sitemapindex":
            return fetched._replace(result=result)
        index_hash = body_hash(body)
        try:
            refs = parse_sitemap(body, result.final_url).sitemaps
        except SitemapError:  # feed_outputs' parse says why
            return fetched._replace(result=result)
        top, top_left = chosen_sitemaps(
            [ref for ref in refs if ref.loc not in {result.url, result.final_url}],
            config.sitemap_max_sitemaps,
        )
    # Counted by the caller, in the DoFn's thread (fetch_all's threads have no metrics).
    counts: collections.Counter[str] = collections.Counter()
    known: dict[str, Any] = dict(record.get("sitemaps", {})) if record else {}
    kept: dict[str, Any] = {}
    hashes: list[str] = [index_hash]
    parts: list[FetchResult] = []
    notes: list[str] = []
    budget = config.sitemap_max_sitemaps
    visited = {result.url, result.final_url, *(ref.loc for ref in top)}
    if top_left:
        counts["feeds_sitemaps_skipped"] += top_left
        notes.append(
            f"index {result.final_url}: {top_left} older sitemaps not read "
            f"(--sitemap_max_sitemaps {budget})"
        )

    def read(ref: SitemapRef, level: int, deeper: list[tuple[str, bytes]]) -> None:
        found = known.get(ref.loc)
        old: dict[str, Any] = found if isinstance(found, dict) else {}
        usable = bool(old.get("hash"))
        if (
            usable
            and ref.lastmod
            and old.get("lastmod") == ref.lastmod
            and _checked_recently(old, now, config.sitemap_recheck_seconds)
        ):
            # Its lastmod has not moved: the sitemap is as it was (not fetched).
            counts["feeds_sitemaps_unchanged"] += 1
            parts.append(FetchResult(ref.loc, ref.loc, 304, {}, b"", None, "lastmod", 0))
            kept[ref.loc] = old
            hashes.append(f"{ref.loc}\0{old['hash']}")
            return
        part = fetcher.fetch(
            ref.loc,
            etag=old.get("etag") if usable else None,
            last_modified=old.get("last_modified") if usable else None,
            accept=FEED_ACCEPT,
        )
        counts["feeds_sitemaps_fetched"] += 1
        if part.not_modified and usable:
            counts["feeds_sitemaps_not_modified"] += 1
            parts.append(part)
            kept[ref.loc] = {**old, "lastmod": ref.lastmod, "checked_at": now.isoformat()}
            hashes.append(f"{ref.loc}\0{old['hash']}")
            return
        if part.error is None:
            try:
                part = part._replace(body=gunzipped(part.body, config.fetch.max_bytes))
            except SitemapError as error:
                part = part._replace(body=b"", error=error.reason, detail=str(error))
        if part.error is None and sitemap_kind(part.body) == "sitemapindex":
            if level + 1 < config.sitemap_max_depth:
                deeper.append((part.final_url, part.body))
            else:
                notes.append(
                    f"index {ref.loc}: an index {level + 2} levels deep, not read "
                    f"(--sitemap_max_depth {config.sitemap_max_depth})"
                )
            return
        parts.append(part)
        if part.error is not None:
            hashes.append(f"{ref.loc}\0error {part.error}")
            return
        digest = body_hash(part.body)
        hashes.append(f"{ref.loc}\0{digest}")
        kept[ref.loc] = {
            "lastmod": ref.lastmod,
            "etag": part.headers.get("etag"),
            "last_modified": part.headers.get("last-modified"),
            "hash": digest,
            "checked_at": now.isoformat(),
        }

    level_refs: list[SitemapRef] = top
    for level in range(max(1, config.sitemap_max_depth)):
        deeper: list[tuple[str, bytes]] = []
        for ref in level_refs:
            read(ref, level, deeper)
        level_refs = []
        for index_url, index_body in deeper:  # indexes named by an index (sites nest them)
            try:
                refs = parse_sitemap(index_body, index_url).sitemaps
            except SitemapError as error:
                notes.append(f"index {index_url}: {error}")
                continue
            refs = [ref for ref in refs if ref.loc not in visited]
            room = budget - len(parts) - len(level_refs) if budget > 0 else 0  # 0: no cap
            chosen: list[SitemapRef]
            if budget > 0 and room <= 0:
                chosen, left = [], len(refs)
            else:
                chosen, left = chosen_sitemaps(refs, room)
            if left:
                counts["feeds_sitemaps_skipped"] += left
                notes.append(
                    f"index {index_url}: {left} older sitemaps not read "
                    f"(--sitemap_max_sitemaps {budget})"
                )
            visited.update(ref.loc for ref in chosen)
            level_refs.extend(chosen)
    kept_record = {
        "index": index_hash,
        "refs": [[ref.loc, ref.lastmod] for ref in top],
        "left": top_left,
        "sitemaps": kept,
    }
    return fetched._replace(
        result=result,
        parts=tuple(parts),
        notes=tuple(notes),
        index_hash=body_hash("\n".join(hashes).encode()),
        sitemaps=json.dumps(kept_record, sort_keys=True),
        counts=tuple(sorted(counts.items())),
    )


def count_sitemaps(fetched: FetchedFeed) -> FetchedFeed:
    """Increment the counters with_sitemaps counted (in the DoFn's own thread)."""
    for name, value in fetched.counts:
        counter(name).inc(value)
    return fetched


def fetched_hash(fetched: FetchedFeed) -> str:
    """The body hash a feed's state keeps: its body's, or an index's with its sitemaps'."""
    return fetched.index_hash or body_hash(fetched.result.body)


def with_parts(parsed: ParsedFeed, fetched: FetchedFeed) -> ParsedFeed:
    """A sitemap index's parse (no entries) with the entries of its fetched sitemaps, once
    each (a sitemap as it was at the last poll, a 304, gives none: read then); what failed
    or was left out is the bozo note (health status `partial`). Raises FeedParseError when
    the index named sitemaps and none of them could be read."""
    notes = list(fetched.notes)
    entries = list(parsed.entries)
    read = 0
    failures: list[tuple[str, str]] = []
    for part in fetched.parts:
        if part.not_modified:  # as it was at the last poll: its entries were read then
            read += 1
            continue
        if part.error is not None:
            failures.append((part.error, f"sitemap {part.url}: {part.error} ({part.detail})"))
            continue
        try:
            child = parse_feeds_safely(part.body, part.headers, part.final_url, part.fetched_at)
        except FeedParseError as failure:
            failures.append((failure.reason, f"sitemap {part.url}: {failure.reason} ({failure})"))
            continue
        read += 1
        entries.extend(child.entries)
        if child.bozo:
            notes.append(f"sitemap {part.url}: {child.bozo}")
    notes = [detail for _, detail in failures] + notes
    if fetched.parts and not read:
        raise FeedParseError(failures[0][0], "; ".join(notes)[:2000])
    if not fetched.parts and not notes:
        notes.append("a sitemap index naming no sitemap")
    bozo = "; ".join(filter(None, [parsed.bozo, *notes])) or None
    return parsed._replace(entries=dedupe_entries(entries), bozo=bozo)


SITEMAP_VERSIONS = frozenset({"sitemap", "news", "sitemapindex"})


def capped_inputs(
    parsed: ParsedFeed, new: list[FeedEntry], updated: list[FeedEntry], limit: int
) -> tuple[list[FeedEntry], list[FeedEntry], list[FeedEntry]]:
    """(new, updated, deferred): of a sitemap's inputs this poll (its new and updated
    URLs), the `limit` newest (publication date, else lastmod; undated last; document
    order within a date); the rest wait, not seen, for the next polls, which take the
    newest of what is still unread: a backlog drains newest first, `limit` a poll
    (counter `feeds_sitemap_urls_deferred`). Feeds pass as they are."""
    if parsed.version not in SITEMAP_VERSIONS:
        return new, updated, []
    wanted = [*new, *updated]
    kept, left = newest_first(wanted, lambda entry: entry.published_at or entry.modified_at, limit)
    if not left:
        return new, updated, []
    taken = {id(entry) for entry in kept}
    counter("feeds_sitemap_urls_deferred").inc(left)
    return (
        [entry for entry in new if id(entry) in taken],
        [entry for entry in updated if id(entry) in taken],
        [entry for entry in wanted if id(entry) not in taken],
    )


# A sitemap rebuilt with every <lastmod> restamped (the build time, a view counter): a
# poll where at least RESTAMP_SHARE of the URLs read before with a version, and at least
# RESTAMP_LEAST of them, moved at once is a rebuild, not that many edits (a news
# sitemap's editors correct a few stories an hour; a poll every 10 minutes sees one or two).
RESTAMP_SHARE = 0.5
RESTAMP_LEAST = 3


def is_restamped(
    parsed: ParsedFeed,
    entries: Iterable[FeedEntry],
    updated: list[FeedEntry],
    versions: Mapping[str, str],
) -> bool:
    """Whether a sitemap's updated URLs this poll are a rebuild's restamped lastmods: then
    none is read again (its new version is recorded: the next rebuild is compared with it),
    and an unchanged page costs no fetch and no row (counter `feeds_sitemap_restamped`)."""
    if parsed.version not in SITEMAP_VERSIONS or len(updated) < RESTAMP_LEAST:
        return False
    known = sum(1 for entry in entries if entry.entry_id in versions)
    return len(updated) >= RESTAMP_SHARE * known


def _page_url(job: PageJob) -> str:
    assert job.entry is not None and job.entry.link is not None
    return job.entry.link


def waits_its_turn(source: FeedSource, state: FeedState | None) -> bool:
    """Whether `--poll_due_only` may skip `source` until its next poll time: a feed, or an
    --input URL read before, as a feed or as a page (its state has a body hash). An --input
    URL never read (a page whose fetch failed has state too) is fetched: skipping it would
    leave that input in no table."""
    return source.kind == "feed" or (state is not None and state.body_hash is not None)


def fetch_feed(fetcher: Fetcher, source: FeedSource, state: FeedState | None) -> FetchResult:
    """GET a feed where it lives now, conditionally on the ETag and Last-Modified its
    `state` kept (a 304 then costs no body)."""
    # A feed that moved (permanent redirects) is polled at its new URL directly.
    target = state.moved_to if state is not None and state.moved_to else source.url
    page_like = source.kind == "auto"
    if page_like and is_fetchable(target):
        # An --input URL may be an article page: robots.txt has its say first.
        if not fetcher.allowed_by_robots(target):
            detail = fetcher.robots_refusal(target)
            return FetchResult(source.url, target, None, {}, b"", "robots_disallowed", detail, 0)
    return fetcher.fetch(
        target,
        etag=state.etag if state else None,
        last_modified=state.last_modified if state else None,
        accept=FEED_ACCEPT,
        robots_on_redirects=page_like,
    )


class _ParseFeeds(beam.DoFn):
    """FetchedFeed -> PageJob per new entry; health, state and seen rows; rejected rows."""

    def __init__(
        self,
        config: FeedsConfig,
        state: StateContext,
        read_updates: bool = True,
        as_of: str | None = None,
        source_timezones: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._config = config
        self._state = state
        self._run_at = state.run_at
        self._previous = PreviousFeedState({}, {})
        # False in a stream (PollFeeds): its dedup does not tell an update from a copy.
        self._read_updates = read_updates
        # Entries' dates are checked against it, as the extract stage's (ExtractConfig.as_of).
        self._as_of = as_of
        self._source_timezones = source_timezones  # and their zoneless times placed so

    def setup(self) -> None:
        self._previous = load_feed_state(self._state)

    def process(self, fetched: FetchedFeed) -> Iterator[Any]:
        url = fetched.source.url
        previous = None if fetched.from_file else self._previous.state_for(url)
        seen = self._previous.seen_for(url)
        failures = self._previous.failures_for(url)
        versions = self._previous.versions_for(url) if self._read_updates else None
        with publications_as_of(self._as_of, self._source_timezones):
            outputs = list(
                feed_outputs(
                    fetched, previous, seen, self._run_at, self._config, failures, versions
                )
            )
        yield from outputs


def feed_outputs(
    fetched: FetchedFeed,
    previous: FeedState | None,
    seen: frozenset[str],
    now: dt.datetime,
    config: FeedsConfig,
    page_failures: Mapping[str, int] | None = None,
    versions: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """One fetched feed -> _ParseFeeds' outputs: a PageJob per entry not in `seen` (ids)
    and per updated entry (updated_entries), HEALTH, STATE (the next FeedState, from
    `previous`), SEEN and REJECTED rows, all as of `now`. ReadFeeds passes the earlier
    run's state; PollFeeds its own per feed (no `versions`: a stream reads no updates).
    `page_failures`: entry id -> earlier runs whose fetch of its page failed for now.
    `versions`: seen entry id -> the version its feed listed last (SeenEntry.version)."""
    source, result = fetched.source, fetched.result
    url = source.url
    entries: list[FeedEntry] = []
    new: list[FeedEntry] = []
    updated: list[FeedEntry] = []
    deferred: list[FeedEntry] = []
    status, error, new_hash = "ok", result.error, None
    pages = pages_wanted(fetched, config, None)
    if fetched.not_due:
        counter("feeds_not_due").inc()
        if not config.not_due_health:  # not polled: the counter and the feed state say so
            return
        moved_to = previous.moved_to if previous is not None else None
        moved_to = None if moved_to == url else moved_to  # subscribed at its new URL
        yield beam.pvalue.TaggedOutput(
            HEALTH,
            FeedHealth(now, url, "not_due", None, 0, 0, 0, False, None, 0, moved_to),
        )
        return  # its state stays as it was
    if result.error is not None:
        status = "error"
        counter("read_inputs").inc()
        yield _rejected(url, result.error, result.detail or result.error)
    elif result.not_modified and fetched.index_hash is None:
        status = "not_modified"
        counter("feeds_not_modified").inc()
    else:
        new_hash = fetched_hash(fetched)
        if previous is not None and previous.body_hash == new_hash:
            # A sitemap index answering 304 whose sitemaps did not change either: not
            # modified; a body as it was: unchanged.
            status = "not_modified" if result.not_modified else "unchanged"
            counter(f"feeds_{status}").inc()
        else:
            try:
                if result.not_modified:  # an index as it was; some of its sitemaps changed
                    parsed = ParsedFeed("sitemapindex", None, [], None)
                else:
                    parsed = parse_feeds_safely(
                        result.body, result.headers, result.final_url, result.fetched_at
                    )
                if fetched.parts or parsed.version == "sitemapindex":
                    parsed = with_parts(parsed, fetched)
            except FeedParseError as failure:
                if source.kind == "auto" and failure.reason == "not_a_feed":
                    # An --input URL that is not a feed: an article page. Its state is a
                    # feed's (ETag, Last-Modified, body hash), so the next run asks for it
                    # conditionally and reads it again only when it changed, as it reads an
                    # unchanged file no more (follow mode polled it into a duplicates row a
                    # batch).
                    counter("read_inputs").inc()
                    yield PageJob(url, None, None, result)
                    yield from _page_polled(fetched, previous, new_hash, now, config)
                    return
                status, error, new_hash = "error", failure.reason, None
                counter("read_inputs").inc()
                yield _rejected(url, failure.reason, str(failure), result.body)
            else:
                entries = parsed.entries
                pages = pages_wanted(fetched, config, parsed.version)
                if parsed.bozo:
                    status, error = "partial", parsed.bozo[:500]
                new = [entry for entry in entries if not was_seen(entry, seen)]
                updated = updated_entries(entries, seen, versions or {})
                if is_restamped(parsed, entries, updated, versions or {}):
                    counter("feeds_sitemap_restamped").inc(len(updated))
                    updated = []
                again = retried_updates(new, page_failures or {}, versions or {})
                new = [entry for entry in new if entry not in again]
                updated += again
                new, updated, deferred = capped_inputs(
                    parsed, new, updated, config.sitemap_max_urls
                )
                if deferred:
                    limit = config.sitemap_max_urls
                    note = (
                        f"{len(deferred)} of {len(deferred) + len(new) + len(updated)} new URLs"
                        f" deferred to the next polls (--sitemap_max_urls {limit})"
                    )
                    status, error = "partial", "; ".join(filter(None, [parsed.bozo, note]))[:500]
    counter("feeds_entries").inc(len(entries))
    counter("feeds_new_entries").inc(len(new))
    counter("feeds_updated_entries").inc(len(updated))
    failures = page_failures or {}
    for entry in new:
        counter("read_inputs").inc()
        yield PageJob(
            f"{url}#{entry.entry_id}", url, entry, None, failures.get(entry.entry_id, 0), pages
        )
    for entry in updated:  # a version of its own: support/versions.py
        counter("read_inputs").inc()
        version_of = version_source(f"{url}#{entry.entry_id}", entry.version)
        yield PageJob(version_of, url, entry, None, failures.get(entry.entry_id, 0), pages)
    # Every id the document lists, new or not, is seen now (in the version listed): what
    # keeps it from pruning, and what the next listing is compared with.
    # URLs deferred by --sitemap_max_urls are not: the next polls take them.
    waiting = {id(entry) for entry in deferred}
    for entry in entries:
        if id(entry) in waiting:
            continue
        sighting = SeenEntry(url, entry.entry_id, now, now, version=entry.version or None)
        yield beam.pvalue.TaggedOutput(SEEN, sighting)
    state = None
    if not fetched.from_file:
        state = next_feed_state(
            previous,
            url,
            result,
            len(new) + len(updated),
            new_hash,
            now,
            config,
            unparseable=status == "error",
        )
        if status == "error" or (result.not_modified and fetched.index_hash is None):
            state = state._replace(sitemaps=previous.sitemaps if previous else None)
        else:
            state = state._replace(sitemaps=fetched.sitemaps)
        if deferred:  # the next poll reads the sitemaps in full: no 304, no skipped sitemap
            state = read_in_full(state)
    if status == "error":  # the feeds that failed (an entry's rejected row is no error)
        counter("feeds_errors").inc()
    yield beam.pvalue.TaggedOutput(
        HEALTH,
        FeedHealth(
            run_at=now,
            feed_url=url,
            status=status,
            http_status=result.http_status,
            bytes=len(result.body) + sum(len(part.body) for part in fetched.parts),
            entries=len(entries),
            new_entries=len(new) + len(updated),
            not_modified=result.not_modified,
            error=error,
            latency_ms=result.latency_ms + sum(part.latency_ms for part in fetched.parts),
            moved_to=state.moved_to if state is not None else None,
        ),
    )
    if state is not None:
        yield beam.pvalue.TaggedOutput(STATE, state)


SITEMAP_VERSIONS = frozenset({"sitemap", "news", "sitemapindex"})


def pages_wanted(fetched: FetchedFeed, config: FeedsConfig, version: str | None) -> bool:
    """Whether the entries' pages of a feed may be fetched: always for a feed fetched by
    URL; for one read from a file (a crawler's saved feed, often on a host without
    network) only with `fetch_file_pages`, or for a sitemap file (read only when
    `read_sitemap_files` asked for its pages). A resolver that timed out held such a run
    ~5 s a host, 164 s for the 200 saved feeds of the benchmark (review 117)."""
    return not fetched.from_file or config.fetch_file_pages or version in SITEMAP_VERSIONS


def was_seen(entry: FeedEntry, seen: frozenset[str]) -> bool:
    """Whether an earlier run saw the entry, under its id or an alias (a relative guid as
    it was resolved before ids were kept as written: no entry comes in again for it)."""
    return entry.entry_id in seen or not seen.isdisjoint(entry.aliases)


def updated_entries(
    entries: Iterable[FeedEntry], seen: frozenset[str], versions: Mapping[str, str]
) -> list[FeedEntry]:
    """The entries seen before that the feed now lists in another version (a corrected or
    rewritten story, a newer updated date: parse.entry_version). An id seen before versions
    were kept (none in `versions`) is no update: its version is recorded from now on."""
    return [e for e in entries if e.entry_id in seen and in_another_version(e, versions)]


def retried_updates(
    new: Iterable[FeedEntry], failures: Mapping[str, int], versions: Mapping[str, str]
) -> list[FeedEntry]:
    """The entries offered again (their page failed for now: `failures`) that were updates
    when they failed: their row keeps the version read before (polling.merge_seen_entries),
    and the feed lists another. Offered again as new entries, their corrected text came in
    as a copy of its own first version (dedup tells versions by their source)."""
    return [e for e in new if e.entry_id in failures and in_another_version(e, versions)]


def in_another_version(entry: FeedEntry, versions: Mapping[str, str]) -> bool:
    """Whether the feed lists `entry` in a version other than the one recorded for its id
    (none recorded: no update; the version is recorded from now on)."""
    return bool(entry.version) and versions.get(entry.entry_id) not in (None, entry.version)


def _page_polled(
    fetched: FetchedFeed,
    previous: FeedState | None,
    new_hash: str | None,
    now: dt.datetime,
    config: FeedsConfig,
) -> Iterator[beam.pvalue.TaggedOutput]:
    """The health row of an --input URL read as an article page (one entry, new), and its
    next state as a feed's, which the run writes because a URL was polled."""
    result = fetched.result
    state = None
    if not fetched.from_file:
        state = next_feed_state(previous, fetched.source.url, result, 0, new_hash, now, config)
    moved_to = state.moved_to if state is not None else None
    yield beam.pvalue.TaggedOutput(
        HEALTH,
        FeedHealth(
            run_at=now,
            feed_url=fetched.source.url,
            status="ok",
            http_status=result.http_status,
            bytes=len(result.body),
            entries=1,
            new_entries=1,
            not_modified=False,
            error=None,
            latency_ms=result.latency_ms,
            moved_to=moved_to,
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

        with fetcher.remembering_unreachable():  # this run's (or follow batch's) fetches
            for job in fetch_all(jobs, fetch, self._config.fetch.concurrency, _page_url):
                assert job.page is not None
                counter("feeds_pages_attempted").inc()
                if job.page.error is None:
                    counter("feeds_pages_fetched").inc()
                else:  # robots.txt, a refused address, a bomb, a timeout, an HTTP error, ...
                    counter(f"feeds_pages_failed_{job.page.error}").inc()
                yield job


class _ToArticles(beam.DoFn):
    """PageJob -> Article (page text, else the entry's own), or a rejected row.
    `retry_runs`: how many later runs offer again an entry whose page failed for now (0
    without a state to remember it in); its rejected row says so."""

    def __init__(self, extract_config: ExtractConfig, retry_runs: int = 0) -> None:
        self._extract_config = extract_config
        self._retry_runs = retry_runs

    def setup(self) -> None:
        import trafilatura  # noqa: F401  (import cost once per worker)

        # extract_html_document drops their lines while it runs (support/quiet_logs.py).
        quiet_logs.install()

    def process(self, job: PageJob) -> Iterator[Any]:
        page_article, problem = None, ("no_text", no_text_detail(job))
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
                    page_article = extract_html_document(
                        document, self._extract_config, page.fetched_at
                    )
                except ExtractError as failure:
                    problem = (failure.reason, f"page {page.url}: {failure}")
                else:
                    page_article = with_fetched_url(page_article, page.final_url)
                    short = page_falls_short(page_article.text, job.entry) if job.entry else None
                    if short is not None:  # a wall or a teaser page: the feed's text wins
                        detail = f"{short[0]} words, under half the entry's own {short[1]}"
                        page_article, problem = None, ("short", f"page {page.url}: {detail}")
        if job.entry is None:  # a page URL given directly
            if page_article is None:
                yield _rejected(job.source, problem[0], problem[1], page.body if page else b"")
                return
            count_published_zone(page_article)
            yield page_article._replace(text_origin="page")
            return
        article = entry_article(job.source, job.feed_url, job.entry, page_article)
        if article is None:
            detail = problem[1]
            if offered_again(job, self._retry_runs):
                counter("feeds_pages_retry_later").inc()
                retry = job.page_failures + 1
                detail += f"; the next run offers the entry again ({retry} of {self._retry_runs})"
            yield _rejected(job.source, problem[0], detail, job.entry.title or "")
            return
        if page is not None and page_article is None:
            counter(f"feeds_pages_fallback_{problem[0]}").inc()
            article = article._replace(removed=[*article.removed, page_fallback(*problem)])
        count_published_zone(article)
        yield article


def _needs_page(job: PageJob, fetch_pages: bool) -> bool:
    if not (fetch_pages and job.page_wanted and job.page is None):
        return False
    return job.entry is not None and bool(job.entry.link)


# Failures a later request may well not meet: no answer in time, no connection, a cut body,
# and the statuses of an overloaded or failing server (RFC 9110: 408, 429, 5xx but 501).
PASSING_REASONS = frozenset({"timeout", "connection_error", "dns_error", "truncated"})
PASSING_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def page_failed_for_now(page: FetchResult) -> bool:
    """True when the page fetch failed in a way that may pass (see PASSING_REASONS); a
    robots.txt refusal, a refused address, a 404, a page too large fail the same again."""
    if page.error in PASSING_REASONS:
        return True
    return page.error == "http_error" and page.http_status in PASSING_STATUSES


def no_text_detail(job: PageJob) -> str:
    """Why an entry whose page gave nothing (none fetched) has no article: "no link" was
    said of every such entry, also of one with a link whose page --no_fetch_pages did not
    fetch, and of one whose text its markup hid (100,000 nested elements)."""
    entry = job.entry
    if entry is None or not entry.link:
        return "the entry has no link and no text"
    if not job.page_wanted:
        return (
            "the entry has no text of its own (none left once its markup was removed), and "
            "its page was not fetched: the feed was read from a file (--fetch_file_pages "
            "fetches the pages of saved feeds' entries)"
        )
    return (
        "the entry has no text of its own (none left once its markup was removed), and "
        "its page was not fetched (--no_fetch_pages)"
    )


def offered_again(job: PageJob, retry_runs: int) -> bool:
    """True for an entry the next run offers again instead of taking it as seen: it has no
    text of its own (so it is rejected now), its page failed for now, and fewer than
    `retry_runs` earlier runs in a row already tried."""
    entry, page = job.entry, job.page
    if entry is None or page is None or job.page_failures >= retry_runs:
        return False
    if not page_failed_for_now(page):
        return False
    return entry_article(job.source, job.feed_url, entry, None) is None


PAGE_FALLBACK = "page_"  # the reason prefix of the `removed` entry page_fallback makes


def page_fallback(reason: str, detail: str) -> Removal:
    """The `removed` entry of an article whose page was fetched but not used (its text is
    the feed's): the reason is `page_<why>` (page_timeout, page_robots_disallowed,
    page_not_html, page_no_text, ...), the text says which page and what happened."""
    return Removal(detail, f"{PAGE_FALLBACK}{reason}")


def deferred_sources(
    wanted: Iterable[tuple[str, str]], per_feed: int, per_run: int
) -> frozenset[str]:
    """Which page fetches wait for the next run, from (feed URL, job source) pairs: each
    feed keeps its first `per_feed` (by source, deterministic), then the run takes them in
    turns across feeds (a feed's first, every feed's second, ...) up to `per_run`, so one
    long feed does not starve the others. 0: no cap."""
    by_feed: dict[str, list[str]] = collections.defaultdict(list)
    for feed_url, source in wanted:
        by_feed[feed_url].append(source)
    deferred: set[str] = set()
    ranked: list[tuple[int, str, str]] = []
    for feed_url, sources in by_feed.items():
        ordered = sorted(set(sources))
        keep = ordered if per_feed <= 0 else ordered[:per_feed]
        deferred.update(ordered[len(keep) :])
        ranked.extend((rank, feed_url, source) for rank, source in enumerate(keep))
    ranked.sort()
    if per_run > 0:
        deferred.update(source for _, _, source in ranked[per_run:])
    return frozenset(deferred)


def deferred_of(feed_url: str, deferred: frozenset[str]) -> int:
    """How many entries of the feed `feed_url` are among the `deferred` sources. A source is
    `<feed URL>#<entry id>` and an id may hold a `#` itself (`https://site/live#post-1`):
    the feed is the source's prefix, not what precedes its last `#`."""
    prefix = f"{feed_url}#"
    return sum(1 for source in deferred if source.startswith(prefix))


def _count_deferred(job: PageJob, deferred: frozenset[str]) -> bool:
    """Keep jobs fetched now; a deferred one is counted and is not an input of this run
    (`read_inputs` counted it when its entry was parsed: taken back, so counts balance)."""
    if job.source not in deferred:
        return True
    counter("feeds_pages_deferred").inc()
    counter("read_inputs").dec()
    return False


def _not_deferred(sighting: SeenEntry, deferred: frozenset[str]) -> bool:
    """Whether the entry is seen now: not when its job (as new, or as an update in the
    version listed) waits for the next run, which must find it new (or updated) again."""
    source = f"{sighting.feed_url}#{sighting.entry_id}"
    if source in deferred:
        return False
    return not sighting.version or version_source(source, sighting.version) not in deferred


def without_deferred(health: FeedHealth, deferred: frozenset[str]) -> FeedHealth:
    """The health row with `new_entries` counting only the entries ingested now: those left
    over the page caps are the next run's inputs, and counted there."""
    waiting = deferred_of(health.feed_url, deferred)
    if not waiting:
        return health
    return health._replace(new_entries=max(0, health.new_entries - waiting))


def read_in_full(state: FeedState) -> FeedState:
    """The state with nothing that lets the next poll skip a body: no validators, no body
    hash, no sitemap of an index skipped (FeedState.sitemaps)."""
    return state._replace(etag=None, last_modified=None, body_hash=None, sitemaps=None)


def _reread_if_deferred(
    state: FeedState, deferred: frozenset[str], retries: Iterable[tuple[str, str, int]] = ()
) -> FeedState:
    """A feed with deferred entries is fetched and parsed in full by the next run: no
    validators, no body hash, no sitemap skipped (a sitemap index's), due at once. One
    with entries offered again (`retries`) is
    parsed in full too, when it is next due: a 304 would never list them again."""
    if deferred_of(state.feed_url, deferred):
        return read_in_full(state)._replace(next_poll_at=None)
    if any(feed_url == state.feed_url for feed_url, _, _ in retries):
        return read_in_full(state)
    return state


class ReadFeeds(beam.PTransform):
    """PCollection[RawDocument] (feed and OPML documents) -> (Articles, Rejected, FeedHealth):
    the health rows (one per feed polled) also go to the output's feed_health table.

    Feed URLs and page URLs come from the config; `state`: the checked earlier feed state
    (read by the DoFns' setup()) and, with --state, where the new feed state is written."""

    def __init__(
        self,
        config: FeedsConfig,
        extract_config: ExtractConfig | None = None,
        state: StateContext | None = None,
    ) -> None:
        super().__init__()
        self._config = config
        self._extract_config = extract_config or ExtractConfig()
        # Without one (a transform used on its own): now, no earlier state, nothing kept.
        self._state = state or StateContext()

    def expand(
        self, documents: beam.PCollection[RawDocument]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected], beam.PCollection[FeedHealth]]:
        config = self._config
        from_docs = documents | "FromDocuments" >> beam.ParDo(
            _SourcesFromDocuments(config)
        ).with_outputs("sources", REJECTED, main="feeds")
        pipeline = documents.pipeline
        # The branches of the feeds and lists named on the command line are built only when
        # there are some: each would be a stage of its own, paid by every run without them.
        all_sources: list[beam.PCollection[FeedSource]] = []
        listed_rejected: list[beam.PCollection[Rejected]] = []
        given = [FeedSource(url, "feed") for url in config.feed_urls] + [
            FeedSource(url, "auto") for url in config.page_urls
        ]
        if given:
            all_sources.append(pipeline | "GivenUrls" >> beam.Create(given))
        if config.feed_lists:
            listed = (
                pipeline
                | "FeedLists" >> beam.Create(list(config.feed_lists))
                | "ReadLists"
                >> beam.ParDo(_SourcesFromLists()).with_outputs(REJECTED, main="sources")
            )
            all_sources.append(listed.sources)
            listed_rejected.append(listed[REJECTED])
        all_sources.append(from_docs.sources)
        sources = (
            all_sources
            | "AllSources" >> beam.Flatten()
            | "ByUrl" >> beam.Map(lambda s: (s.url, s))
            | "GroupByUrl" >> beam.GroupByKey()
            # Listed as a feed anywhere wins over "auto" ("auto" < "feed" would pick auto).
            | "OncePerUrl" >> beam.Map(lambda g: max(g[1], key=lambda s: s.kind == "feed"))
        )
        # One group: one Fetcher sees every host, so per-host politeness holds across the run.
        fetched = (
            sources
            | "ShardFeeds" >> beam.Map(lambda s: (0, s))
            | "GroupFeeds" >> beam.GroupByKey()
            | "FetchFeeds" >> beam.ParDo(_FetchFeeds(config, self._state))
        )
        parsed = (
            (fetched, from_docs.feeds)
            | "AllFeeds" >> beam.Flatten()
            | "ParseFeeds"
            >> beam.ParDo(
                _ParseFeeds(
                    config,
                    self._state,
                    as_of=self._extract_config.as_of,
                    source_timezones=self._extract_config.source_timezones,
                )
            ).with_outputs(HEALTH, STATE, SEEN, REJECTED, main="jobs")
        )
        fetch_pages = config.fetch_pages
        to_fetch = parsed.jobs | "NeedPage" >> beam.Filter(_needs_page, fetch_pages)
        ready = parsed.jobs | "HavePage" >> beam.Filter(
            lambda job: not _needs_page(job, fetch_pages)
        )
        deferred = beam.pvalue.AsSingleton(
            to_fetch
            | "Wanted" >> beam.Map(lambda job: (job.feed_url or job.source, job.source))
            | "Deferred"
            >> CallWithAll(deferred_sources, config.max_pages_per_feed, config.max_pages_per_run)
        )
        with_pages = (
            to_fetch
            | "NotDeferred" >> beam.Filter(_count_deferred, deferred)
            | "ShardPages" >> beam.Map(lambda j: (0, j))
            | "GroupPages" >> beam.GroupByKey()
            | "FetchPages" >> beam.ParDo(_FetchPages(config))
        )
        jobs = (ready, with_pages) | "AllJobs" >> beam.Flatten()
        # Only a state remembers an entry to offer again.
        retry_runs = config.page_retry_runs if self._state.writes else 0
        articles, unmade = apply_with_rejects(
            jobs,
            "ToArticles",
            _ToArticles(self._extract_config, retry_runs),
            STAGE,
            lambda j: j.source,
            Article,
        )
        if self._state.writes:
            retries = (
                jobs
                | "OfferedAgain" >> beam.Filter(offered_again, retry_runs)
                | "PageFailures"
                >> beam.Map(lambda j: (j.feed_url, j.entry.entry_id, j.page_failures + 1))
            )
            self._write_state(pipeline, parsed, deferred, retries)
        rejected = (
            from_docs[REJECTED],
            *listed_rejected,
            parsed[REJECTED],
            unmade,
        ) | "Rejected" >> beam.Flatten()
        health = parsed[HEALTH] | "HealthLessDeferred" >> beam.Map(without_deferred, deferred)
        return articles, rejected, health

    def _write_state(
        self, pipeline: beam.Pipeline, parsed: Any, deferred: Any, retries: Any
    ) -> None:
        """The new feed state and seen entries, written only when a feed was read (else the
        earlier feed state is carried over as it was). `retries`: (feed URL, entry id, page
        failures) of the entries the next run offers again."""
        state, days = self._state, self._config.seen_entries_days
        health = parsed[HEALTH]
        polled = health | "Polled" >> beam.combiners.Count.Globally() | "Any" >> beam.Map(bool)
        tables = (
            pipeline
            | "StateMerge" >> beam.Create([None])
            | "NextFeedState"
            >> beam.FlatMap(
                _next_tables,
                beam.pvalue.AsList(pipeline | "ReadFeedState" >> ReadStateTable(state, FEED_STATE)),
                beam.pvalue.AsList(pipeline | "ReadSeen" >> ReadStateTable(state, SEEN_ENTRIES)),
                beam.pvalue.AsList(
                    parsed[STATE]
                    | "RereadIfDeferred"
                    >> beam.Map(_reread_if_deferred, deferred, beam.pvalue.AsList(retries))
                ),
                beam.pvalue.AsList(
                    parsed[SEEN] | "SeenNow" >> beam.Filter(_not_deferred, deferred)
                ),
                beam.pvalue.AsList(retries),
                beam.pvalue.AsSingleton(polled),
                state.run_at,
                days,
            ).with_outputs(SEEN, main=STATE)
        )
        _ = tables[STATE] | "WriteFeedState" >> WriteStateTable(state, FEED_STATE, polled)
        _ = tables[SEEN] | "WriteSeen" >> WriteStateTable(state, SEEN_ENTRIES, polled)


def _next_tables(
    _: None,
    feed_rows: list[dict[str, Any]],
    seen_rows: list[dict[str, Any]],
    states: list[FeedState],
    sightings: list[SeenEntry],
    retries: list[tuple[str, str, int]],
    polled: bool,
    run_at: dt.datetime,
    days: int,
) -> Iterator[Any]:
    """The new feed state rows (main output) and seen rows (SEEN); nothing when no feed
    was read (nothing is written then)."""
    if not polled:
        return
    failures = {(feed_url, entry_id): count for feed_url, entry_id, count in retries}
    feeds, seen, pruned = next_feed_tables(
        feed_rows, seen_rows, states, sightings, run_at, days, failures
    )
    counter("feeds_seen_entries_pruned").inc(pruned)
    for feed in feeds:
        yield feed._asdict()
    for entry in seen:
        yield beam.pvalue.TaggedOutput(SEEN, entry._asdict())


# ---------------------------------------------------------------------------------------
# Streaming (newsbeam --streaming, docs/streaming.md): feeds polled for ever
# ---------------------------------------------------------------------------------------


class _PolledSources(beam.DoFn):
    """A tick of the poll clock -> the FeedSource of every feed to poll now: the `--feed`
    URLs and those the `--feeds` lists hold at this tick (a list may change while the job
    runs; one that cannot be read is a rejected row, each tick)."""

    def __init__(self, config: FeedsConfig) -> None:
        self._config = config

    def process(self, _tick: Any) -> Iterator[Any]:
        for url in self._config.feed_urls:
            yield FeedSource(url, "feed")
        for path in self._config.feed_lists:
            yield from _SourcesFromLists().process(path)


def new_entry_sources(
    known: dict[str, int], sources: Iterable[str], now: int, keep_micros: int
) -> tuple[list[str], dict[str, int]]:
    """(the sources not in `known`, the known sources after this poll): every source
    listed now is stamped `now`; those not listed for `keep_micros` are forgotten."""
    sources = sorted(set(sources))
    new = [source for source in sources if source not in known]
    after = {source: at for source, at in known.items() if at > now - keep_micros}
    after.update({source: now for source in sources})
    return new, after


def remembered_entries(
    known: dict[str, int], listed: Iterable[str] | None, now: int, keep_micros: int
) -> dict[str, int]:
    """The entry ids a feed's poll at `now` leaves remembered (id -> when last listed):
    `listed`, the ids its document lists now, stamped `now`. A poll that parsed nothing
    (None: 304, the same body, a failure) lists what the feed's latest parse listed (the
    ids with the latest stamp): the feed still lists them, and they must not come back as
    new when it changes. Ids not listed for `keep_micros` are forgotten."""
    if listed is None:
        latest = max(known.values(), default=None)
        listed = [entry for entry, at in known.items() if at == latest]
    return new_entry_sources(known, listed, now, keep_micros)[1]


_SEEN_NOW = ReadModifyWriteStateSpec("seen", PickleCoder())
_SEEN_NOW_PARAM = beam.DoFn.StateParam(_SEEN_NOW)
_FEED_NOW = ReadModifyWriteStateSpec("feed", PickleCoder())
_FEED_NOW_PARAM = beam.DoFn.StateParam(_FEED_NOW)
_POLL_TIMESTAMP_PARAM = beam.DoFn.TimestampParam
_PARSED = frozenset({"ok", "partial"})  # the health statuses of a poll that parsed the feed


class _PollFeed(_FetchingDoFn):
    """(feed URL, FeedSource) at a poll tick -> a PageJob per entry new to the job, its
    HEALTH row and REJECTED rows, as ReadFeeds' fetch and parse make them (fetch_feed,
    feed_outputs), with the feed's own state kept per key between polls:

    - `feed`: its FeedState (next_feed_state): ETag and Last-Modified for a conditional
      GET (a 304 costs no body and no parse), the body hash (the same body is not parsed
      again), the adaptive interval (a tick before `next_poll_at` polls nothing: counter
      `feeds_not_due`, no health row), `moved_to`. Seeded from `--state`'s feed state
      until the first poll writes its own.
    - `seen`: the entry ids it listed (remembered_entries), besides the ids `--state`
      had seen: an entry is an input once.

    The poll's time is the tick's timestamp: health rows' `run_at`, the state's times."""

    def __init__(
        self,
        config: FeedsConfig,
        state: StateContext,
        keep_micros: int,
        committed: CommittedRecord | None = None,
    ) -> None:
        super().__init__(config)
        self._state = state
        self._keep = keep_micros
        self._record = committed
        self._previous = PreviousFeedState({}, {})
        self._committed: dict[str, frozenset[str]] = {}

    def setup(self) -> None:
        super().setup()
        self._previous = load_feed_state(self._state)
        self._committed = parts_by_file(load_committed_sources(self._record))

    def process(
        self,
        keyed: tuple[str, FeedSource],
        timestamp: Any = _POLL_TIMESTAMP_PARAM,
        feed: Any = _FEED_NOW_PARAM,
        seen: Any = _SEEN_NOW_PARAM,
    ) -> Iterator[Any]:
        assert self._fetcher is not None
        source = keyed[1]
        micros = int(timestamp.micros)
        now = datetime_of(micros)
        previous = feed.read() or self._previous.state_for(source.url)
        if is_not_due(previous, now):
            counter("feeds_not_due").inc()
            return
        result = fetch_feed(self._fetcher, source, previous)
        counter("feeds_fetched").inc()
        known: dict[str, int] = seen.read() or {}
        ids = self._previous.seen_for(source.url) | frozenset(known)
        if not known:  # the job's first poll of it: what earlier jobs committed of it too
            ids |= self._committed.get(source.url, frozenset())
        fetched = count_sitemaps(
            with_sitemaps(
                self._fetcher,
                FetchedFeed(source, result, from_file=False),
                self._config,
                previous,
                now,
            )
        )
        outputs = list(feed_outputs(fetched, previous, ids, now, self._config))
        listed, parsed = [], False
        for output in outputs:
            tag = output.tag if isinstance(output, beam.pvalue.TaggedOutput) else None
            if tag == STATE:
                feed.write(output.value)
            elif tag == SEEN:
                listed.append(output.value.entry_id)
            else:
                if tag == HEALTH:
                    parsed = output.value.status in _PARSED
                yield output
        seen.write(remembered_entries(known, listed if parsed else None, micros, self._keep))


class _NewEntriesOnly(beam.DoFn):
    """(feed URL, [PageJob of one poll]) -> the jobs of entries this job has not passed
    before (the earlier state's seen ids are skipped by _ParseFeeds already): every poll
    lists a feed's entries again, and only new ones are inputs."""

    def __init__(self, keep_micros: int, committed: CommittedRecord | None = None) -> None:
        self._keep = keep_micros
        self._record = committed
        self._committed = NO_SOURCES

    def setup(self) -> None:
        self._committed = load_committed_sources(self._record)

    def process(
        self,
        keyed: tuple[str, PageJob],
        timestamp: Any = _POLL_TIMESTAMP_PARAM,
        seen: Any = _SEEN_NOW_PARAM,
    ) -> Iterator[PageJob]:
        job = keyed[1]
        new, after = new_entry_sources(
            seen.read() or {}, [job.source], int(timestamp.micros), self._keep
        )
        seen.write(after)
        if new and job.source in self._committed:  # an earlier job committed it
            counter("read_inputs").dec()
            counter("read_skipped_committed").inc()
        elif new:
            yield job
        else:
            counter("read_inputs").dec()  # counted by _ParseFeeds: not an input again
            counter("feeds_stream_repeated").inc()


class PollFeeds(beam.PTransform):
    """PCollection[RawDocument] (feed and OPML documents of a streaming source) ->
    (Articles, Rejected, FeedHealth), unbounded: the clock ticks every `poll_seconds`
    (PeriodicImpulse); at a tick each feed whose adaptive interval has run out is fetched
    conditionally (ETag, Last-Modified) and parsed, its new entries' pages fetched and
    extracted, as ReadFeeds does. A stateful step per feed (_PollFeed) keeps the feed's
    state between polls (seeded from `state`) and the entries it passed, for
    `keep_micros` after their feed last listed them: an entry is an input once. Feed
    files of a watched folder are parsed once, their entries remembered the same way.
    Page URLs (`--input https://...`) are a batch run's: not polled here. `stop_at` (Unix
    seconds; None: never) ends the polling: a bounded poll, which Beam's in-process
    runner runs as a batch of polls (tests)."""

    def __init__(
        self,
        config: FeedsConfig,
        extract_config: ExtractConfig | None = None,
        state: StateContext | None = None,
        poll_seconds: float = 300.0,
        keep_micros: int = 7 * 86400 * 1_000_000,
        stop_at: float | None = None,
        committed: CommittedRecord | None = None,
    ) -> None:
        super().__init__()
        self._config = config
        self._extract_config = extract_config or ExtractConfig()
        self._state = state or StateContext()
        self._poll_seconds = poll_seconds
        self._keep = keep_micros
        self._stop_at = stop_at
        self._committed = committed

    def expand(
        self, documents: beam.PCollection[RawDocument]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected], beam.PCollection[FeedHealth]]:
        from apache_beam.transforms.periodicsequence import PeriodicImpulse

        config = self._config
        from_docs = documents | "FromDocuments" >> beam.ParDo(
            _SourcesFromDocuments(config)
        ).with_outputs("sources", REJECTED, main="feeds")
        # Without feeds to poll (feed files in a watched folder only) no clock ticks.
        clock = PeriodicImpulse(fire_interval=self._poll_seconds)
        if self._stop_at is not None:
            clock = PeriodicImpulse(
                start_timestamp=time.time(),
                stop_timestamp=self._stop_at,
                fire_interval=self._poll_seconds,
            )
        ticks = (
            documents.pipeline | "Clock" >> clock
            if config.feed_urls or config.feed_lists
            else documents.pipeline | "NoClock" >> beam.Create([])
        )
        polled = ticks | "Due" >> beam.ParDo(_PolledSources(config)).with_outputs(
            REJECTED, main="sources"
        )
        polls = (
            (polled.sources, from_docs.sources)
            | "AllSources" >> beam.Flatten()
            | "ByUrl"
            >> beam.Map(lambda source: (source.url, source)).with_output_types(
                tuple[str, FeedSource]
            )
            | "Poll"
            >> beam.ParDo(_PollFeed(config, self._state, self._keep, self._committed)).with_outputs(
                HEALTH, REJECTED, main="jobs"
            )
        )
        files = from_docs.feeds | "ParseFiles" >> beam.ParDo(
            _ParseFeeds(
                config,
                self._state,
                read_updates=False,
                as_of=self._extract_config.as_of,
                source_timezones=self._extract_config.source_timezones,
            )
        ).with_outputs(HEALTH, STATE, SEEN, REJECTED, main="jobs")
        from_files = (
            files.jobs
            | "ByFeed"
            >> beam.Map(lambda job: (job.feed_url or job.source, job)).with_output_types(
                tuple[str, PageJob]
            )
            | "NewOnly" >> beam.ParDo(_NewEntriesOnly(self._keep, self._committed))
        )
        jobs = (polls.jobs, from_files) | "AllJobs" >> beam.Flatten()
        fetch_pages = config.fetch_pages
        with_pages = (
            jobs
            | "NeedPage" >> beam.Filter(_needs_page, fetch_pages)
            | "OnePage" >> beam.Map(lambda job: (0, [job]))
            | "FetchPages" >> beam.ParDo(_FetchPages(config))
        )
        ready = jobs | "HavePage" >> beam.Filter(lambda job: not _needs_page(job, fetch_pages))
        articles, unmade = apply_with_rejects(
            (ready, with_pages) | "AllReady" >> beam.Flatten(),
            "ToArticles",
            _ToArticles(self._extract_config),
            STAGE,
            lambda j: j.source,
            Article,
        )
        rejected = (
            from_docs[REJECTED],
            polled[REJECTED],
            polls[REJECTED],
            files[REJECTED],
            unmade,
        ) | "Rejected" >> beam.Flatten()
        health = (polls[HEALTH], files[HEALTH]) | "Health" >> beam.Flatten()
        return articles, rejected, health
