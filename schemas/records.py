"""The record types that flow between stages, and the Arrow schemas of the output tables.

Everything else derives from these definitions: the sinks build their Parquet schemas
here, the tests check that every record field has an Arrow column and back.
Records are immutable NamedTuples: a stage returns `record._replace(...)`, never mutates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import pyarrow as pa

# Bump on any change to a table's columns or their meaning; stored in every Parquet file's
# key-value metadata under SCHEMA_VERSION_KEY and in the run manifest.
# 3: published_precision, topic_labels; a copy's article_id is its own.
# 4: duplicates' url and site (the outlet that ran the copy).
# 5: articles' and duplicates' outlet (the registrable domain of the page's own URL).
# 6: articles' script (a Chinese text's: Hans or Hant).
# 7: articles' published_zone (how published_at's zone was known: stated | source_timezone |
#    document | assumed_utc; null without a clock time).
SCHEMA_VERSION = "7"
SCHEMA_VERSION_KEY = b"newsbeam.schema_version"


class RawDocument(NamedTuple):
    """One input record as read: a whole file, or one line of a JSON-lines file."""

    source: str  # the path (plus "#L<n>" for a JSON-lines record) or URL, as given
    kind: str  # "text" | "html" | "jsonl" | "feed" | "opml" (the last two: feed stage)
    content: bytes  # raw bytes for text/html; the JSON line for jsonl
    # Why the content is incomplete (a compressed file cut off), or "" when it is whole.
    truncated: str = ""
    # A fetched page's own URL and fetch time (a WARC response record's WARC-Target-URI and
    # WARC-Date): the article's URL where the page names none, and the date relative
    # bylines ("3 hours ago") are read against. Empty / None for a file of the disk.
    url: str = ""
    fetched_at: dt.datetime | None = None


class Removal(NamedTuple):
    """A segment that cleaning removed from the text, and why."""

    text: str
    reason: str


class Article(NamedTuple):
    """One article. The only article record type: every stage fills in more of it."""

    article_id: str
    source: str
    url: str | None
    canonical_url: str | None
    site: str | None
    # The registrable domain of `url` (else `canonical_url`): one key per outlet, where
    # `site` names it in many ways (support/urls.outlet_of).
    outlet: str | None
    title: str | None
    authors: list[str]
    published_at: dt.datetime | None  # UTC, tz-aware; a date alone is midnight UTC
    published_precision: str | None  # what published_at is precise to: day | minute | second
    # How published_at's zone was known (extract.published_zone): "stated" (the time
    # carried its offset or Z, or is a Unix time), "source_timezone" (--source_timezone named
    # the host's zone), "document" (the offset the document wrote beside another time of
    # it), "assumed_utc" (nothing said: taken as UTC, maybe hours off); null when there is
    # no clock time (no date, or a date alone: a calendar day is in no zone).
    published_zone: str | None
    ingested_at: dt.datetime  # UTC, tz-aware
    language: str | None
    language_score: float | None
    # A Chinese article's script (ISO 15924): Hans (simplified) or Hant (traditional); null
    # for other languages and a text with as many characters of each (language stage).
    script: str | None
    text: str
    word_count: int
    content_hash: str
    removed: list[Removal]
    topics: list[str]  # IPTC Media Topic qcodes, best first (topics stage)
    topic_scores: list[float]  # one score per entry of `topics`, same order
    topic_labels: list[str]  # the English IPTC name of each entry of `topics`, same order
    topics_model: str | None  # the tagger's name and version
    places: list[str]  # ISO 3166-1 alpha-2 codes: those in the title first, then by salience
    story_id: str | None  # shared by articles about the same news event (dedup stage)
    duplicate_count: int  # copies of this article that went to the duplicates table
    duplicate_sources: list[str]  # their sources, sorted
    text_origin: str  # where `text` came from: document | page | feed_content | feed_summary
    feed_url: str | None  # the feed this article was listed in, if any
    entry_id: str | None  # the feed entry's id (guid), if any
    feed_categories: list[str]  # the feed entry's categories/tags, if any


class Duplicate(NamedTuple):
    """An input that was recognised as a copy of an article in the articles table."""

    article_id: str
    source: str
    canonical_id: str
    similarity: float | None  # 1.0 for exact copies; null where not measured (method url)
    # "exact" (same folded text) | "near" (verified near-copy) | "url" (same canonical URL)
    method: str
    # The copy's own `url` and `site`, as an article has them: the outlet that ran the
    # copy, for counting a story's outlets (null: the input named none).
    url: str | None = None
    site: str | None = None
    outlet: str | None = None  # the copy's own, as an article's (support/urls.outlet_of)


class Rejected(NamedTuple):
    """An input that could not become an article: where it stopped and why."""

    source: str
    stage: str  # read | extract | clean | ...
    reason: str  # a short code, e.g. "empty", "binary", "no_text"
    detail: str  # a readable explanation
    payload: str  # an excerpt of the input, for inspection


_UTC_MICROS = pa.timestamp("us", tz="UTC")

ARTICLE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("canonical_url", pa.string()),
        pa.field("site", pa.string()),
        pa.field("outlet", pa.string()),
        pa.field("title", pa.string()),
        pa.field("authors", pa.list_(pa.string())),
        pa.field("published_at", _UTC_MICROS),
        pa.field("published_precision", pa.string()),
        pa.field("published_zone", pa.string()),
        pa.field("ingested_at", _UTC_MICROS, nullable=False),
        pa.field("language", pa.string()),
        pa.field("language_score", pa.float64()),
        pa.field("script", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("word_count", pa.int64(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field(
            "removed",
            pa.list_(pa.struct([pa.field("text", pa.string()), pa.field("reason", pa.string())])),
        ),
        pa.field("topics", pa.list_(pa.string())),
        pa.field("topic_scores", pa.list_(pa.float64())),
        pa.field("topic_labels", pa.list_(pa.string())),
        pa.field("topics_model", pa.string()),
        pa.field("places", pa.list_(pa.string())),
        pa.field("story_id", pa.string()),
        pa.field("duplicate_count", pa.int64(), nullable=False),
        pa.field("duplicate_sources", pa.list_(pa.string())),
        pa.field("text_origin", pa.string(), nullable=False),
        pa.field("feed_url", pa.string()),
        pa.field("entry_id", pa.string()),
        pa.field("feed_categories", pa.list_(pa.string())),
    ],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()},
)

DUPLICATE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("canonical_id", pa.string(), nullable=False),
        pa.field("similarity", pa.float64()),
        pa.field("method", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("site", pa.string()),
        pa.field("outlet", pa.string()),
    ],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()},
)

REJECTED_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("payload", pa.string(), nullable=False),
    ],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()},
)

# table name -> (record type, Arrow schema): the sinks and the manifest iterate this.
TABLES: dict[str, tuple[type, pa.Schema]] = {
    "articles": (Article, ARTICLE_SCHEMA),
    "duplicates": (Duplicate, DUPLICATE_SCHEMA),
    "rejected": (Rejected, REJECTED_SCHEMA),
}


def to_row(record: NamedTuple) -> dict[str, Any]:
    """A record as a plain dict that pyarrow accepts for its table's schema."""
    row = record._asdict()
    for name, value in row.items():
        if isinstance(value, list) and value and isinstance(value[0], tuple):
            row[name] = [item._asdict() for item in value]
    return row
