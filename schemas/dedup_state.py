"""The dedup component of the state folder (`<state>/dedup/`): what later runs match against.

`articles/*.parquet`: one row per canonical article ever kept (the articles tables of all
runs so far): its identity (`content_hash`, `canonical_url`), its canonical-copy rank
(`published_at`, `word_count`), its MinHash `signature` (band keys derive from it) and its
sorted word-shingle hashes (what a candidate copy is verified against), its `story_id`, and
`first_seen_at`: the start of the run that kept it (what `--state_keep_days` prunes by).

`stories/*.parquet`: one row per kept article: its `story_id`, date and its heaviest terms
(by TF-IDF weight when it was kept) with their counts: what a new article is clustered with
to join an existing story, re-weighted with the new run's IDF. A story's id is its
representative's (earliest article's) id. `first_seen_at` as in `articles`.

`story_terms/*.parquet`: document frequencies over the articles of all runs so far (term ->
in how many articles it occurs; the row with the empty term holds the number of articles),
so that each run's IDF spans the runs.

Every file carries `STATE_VERSION_KEY` in its schema metadata; a file without it, of
another version, or unreadable stops the run (see newsbeam.transforms.support.state).
"""

from __future__ import annotations

import pyarrow as pa

from newsbeam.schemas.state import STATE_VERSION, STATE_VERSION_KEY

_UTC_MICROS = pa.timestamp("us", tz="UTC")
_STAMP = {STATE_VERSION_KEY: STATE_VERSION.encode()}

DEDUP_ARTICLE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string()),
        pa.field("published_at", _UTC_MICROS),
        pa.field("word_count", pa.int64(), nullable=False),
        pa.field("signature", pa.list_(pa.uint64()), nullable=False),
        pa.field("shingles", pa.list_(pa.uint64()), nullable=False),
        pa.field("story_id", pa.string()),
        pa.field("first_seen_at", _UTC_MICROS, nullable=False),
        # Added in state version 2 (older files read as null): what `published_at` is
        # precise to, so an earlier article dated to the day only ranks at its day's end
        # (support/rank.py), as it did in the run that kept it, not at midnight.
        pa.field("published_precision", pa.string()),
        # Added by review 60 (older files read as null: their pairs are not compared on
        # facts): the fact windows of transforms/support/facts.py, slots then windows.
        pa.field("facts", pa.list_(pa.uint64())),
    ],
    metadata=_STAMP,
)
DEDUP_ARTICLE_ADDED = frozenset({"published_precision", "facts"})

DEDUP_STORY_SCHEMA = pa.schema(
    [
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("published_at", _UTC_MICROS),
        pa.field("terms", pa.list_(pa.string()), nullable=False),
        pa.field("counts", pa.list_(pa.float64()), nullable=False),
        pa.field("first_seen_at", _UTC_MICROS, nullable=False),
    ],
    metadata=_STAMP,
)

DEDUP_STORY_TERMS_SCHEMA = pa.schema(
    [
        pa.field("term", pa.string(), nullable=False),
        pa.field("articles", pa.int64(), nullable=False),
    ],
    metadata=_STAMP,
)
