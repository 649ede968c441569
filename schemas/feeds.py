"""Feed state and feed health: records and Arrow schemas of the `--state` feed components.

- `feed_state/feeds.parquet`: one FeedState row per feed ever fetched (what the next
  conditional request and poll need, and where the feed moved to).
- `feed_state/seen_entries.parquet`: one SeenEntry row per (feed, entry id) already turned
  into an input, so a later run does not ingest it again, with when it was last listed
  (ids long unlisted are pruned), what it said then (an entry saying something else later
  is an update, read again) and, for an entry whose page failed for now, how many runs in
  a row it did (the entry is offered again).
- FeedHealth, one row per feed per run, is not state: it is the output dataset's
  `feed_health` table (newsbeam.schemas.DATASET_SCHEMAS); state folders of an older
  NewsBeam kept it under `feeds/`, which newer versions no longer carry.

Every file carries STATE_VERSION under STATE_VERSION_KEY in its metadata. Columns added
since version 1 was first written are in the *_ADDED sets: files without them still read
(they are filled in), and older NewsBeams ignore them, so they need no version bump.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import pyarrow as pa

from newsbeam.schemas.state import STATE_VERSION, STATE_VERSION_KEY


class FeedState(NamedTuple):
    feed_url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None  # sha256 of the last body parsed
    last_fetch_at: dt.datetime | None
    last_new_entry_at: dt.datetime | None
    consecutive_failures: int
    poll_interval_seconds: int  # adaptive: shorter while a feed publishes, longer when idle
    next_poll_at: dt.datetime | None
    # Where the feed lives now, when its URL answered with permanent redirects (301/308)
    # only: the next poll goes there. The row stays keyed by the URL as subscribed.
    moved_to: str | None = None
    # A sitemap index's sitemaps as its last poll left them (JSON: the index's body hash,
    # the sitemaps it chose with their lastmod, and each urlset's ETag, Last-Modified, body
    # hash and last check; stage.with_sitemaps): what makes the next poll's requests
    # conditional, and skips a sitemap whose lastmod did not move. None for other feeds.
    sitemaps: str | None = None


class SeenEntry(NamedTuple):
    feed_url: str
    entry_id: str
    first_seen_at: dt.datetime
    # The last run whose parse of the feed listed the id (None only while reading a file
    # written before this column: it then counts as seen by the run reading it).
    last_seen_at: dt.datetime | None
    # Runs in a row whose fetch of the entry's page failed in a way that may pass (timeout,
    # connection, 5xx, 429, ...) while the entry had no text of its own (it was rejected).
    # Above 0 the id is not seen yet: the next run offers the entry again (--page_retry_runs).
    page_failures: int = 0
    # What the entry said when last listed (parse.entry_version: its title, text and updated
    # date): a listing that says something else is an update, read again. None in a file
    # written before this column: the next listing records it, and reads nothing again.
    version: str | None = None


class FeedHealth(NamedTuple):
    run_at: dt.datetime
    feed_url: str
    # ok | partial (malformed, what parsed was kept) | not_modified (304) | unchanged
    # (same body hash) | error (HTTP, timeout, refused address, unparseable, ...) | not_due
    # (skipped by --poll_due_only: its next poll time has not come)
    status: str
    http_status: int | None
    bytes: int
    entries: int  # as parsed
    new_entries: int  # not seen in an earlier run: the inputs this feed gave this run
    not_modified: bool
    error: str | None  # reason code, or feedparser's bozo reason for a partial feed
    latency_ms: int
    # The URL the feed is polled at instead of `feed_url` (it answered with permanent
    # redirects, in this run or an earlier one); None when it has not moved.
    moved_to: str | None = None


_TS = pa.timestamp("us", tz="UTC")
_META = {STATE_VERSION_KEY: STATE_VERSION.encode()}

FEED_STATE_SCHEMA = pa.schema(
    [
        pa.field("feed_url", pa.string(), nullable=False),
        pa.field("etag", pa.string()),
        pa.field("last_modified", pa.string()),
        pa.field("body_hash", pa.string()),
        pa.field("last_fetch_at", _TS),
        pa.field("last_new_entry_at", _TS),
        pa.field("consecutive_failures", pa.int64(), nullable=False),
        pa.field("poll_interval_seconds", pa.int64(), nullable=False),
        pa.field("next_poll_at", _TS),
        pa.field("moved_to", pa.string()),
        pa.field("sitemaps", pa.string()),
    ],
    metadata=_META,
)

SEEN_ENTRY_SCHEMA = pa.schema(
    [
        pa.field("feed_url", pa.string(), nullable=False),
        pa.field("entry_id", pa.string(), nullable=False),
        pa.field("first_seen_at", _TS, nullable=False),
        pa.field("last_seen_at", _TS, nullable=False),
        pa.field("page_failures", pa.int64(), nullable=False),
        pa.field("version", pa.string()),
    ],
    metadata=_META,
)

FEED_HEALTH_SCHEMA = pa.schema(
    [
        pa.field("run_at", _TS, nullable=False),
        pa.field("feed_url", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("http_status", pa.int64()),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("entries", pa.int64(), nullable=False),
        pa.field("new_entries", pa.int64(), nullable=False),
        pa.field("not_modified", pa.bool_(), nullable=False),
        pa.field("error", pa.string()),
        pa.field("latency_ms", pa.int64(), nullable=False),
        pa.field("moved_to", pa.string()),
    ],
    metadata=_META,
)

# Columns added to the tables above after state version 1 was first written. A file
# without them is read with them null (SeenEntry.last_seen_at, version: see SeenEntry;
# page_failures: 0) and written back complete; a file lacking any other column is refused.
FEED_STATE_ADDED = frozenset({"moved_to", "sitemaps"})
SEEN_ENTRY_ADDED = frozenset({"last_seen_at", "page_failures", "version"})
