"""The canonical-copy rank dedup and stories share: which of several copies of an article
is the one kept, and which article of a story represents it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from newsbeam.schemas import Article

# A rank is made of ints and strings only, so Beam's fast coder carries it without pickling:
# (earlier run first, date, -words, article id, record key, source). The source is always
# last (identity_of and member_of read it there, in a stream's state from before the key
# too).
Rank = tuple[int, int, int, str, str, str]
_UNKNOWN_DATE = 2**62  # microseconds: after every real date, so undated articles rank last
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


_DAY = dt.timedelta(days=1)


def rank_of(
    published_at: dt.datetime | None,
    word_count: int,
    article_id: str,
    source: str,
    prior: bool = False,
    precision: str | None = None,
    key: str = "",
) -> Rank:
    """Canonical-copy rank; the smallest wins. Earlier runs' articles (`prior`) come first,
    then the earliest date (microseconds; unknown last), the longest text, the smallest id,
    the smallest `key` (record_key: what the copies differ in), and only then the source.
    Copies alike in all but their path (an exact copy retitled, a second outlet's record
    without a URL) were told apart by the source alone, so renaming the files or moving one
    --input to another folder kept another copy, with its title, authors and URL.

    A date known to the day only (`precision` "day", stored as midnight) ranks at the end
    of its day: it says the article came out some time that day, not before a copy stamped
    09:30 that day. As midnight, a republisher that showed only the date was kept over the
    wire story it copied."""
    if published_at is None:
        when = _UNKNOWN_DATE
    else:
        if published_at.tzinfo is None:
            published_at = published_at.replace(tzinfo=dt.timezone.utc)
        if precision == "day":
            published_at += _DAY - _MICROSECOND
        when = (published_at - _EPOCH) // _MICROSECOND
    return (0 if prior else 1, when, -word_count, article_id, key, source)


def is_prior(rank: Rank) -> bool:
    return rank[0] == 0


def record_key(
    title: str | None, url: str | None, site: str | None, authors: Any, content_hash: str
) -> str:
    """A digest of what an article's copies may differ in besides the rank's other parts:
    the same for the same record wherever its file is, different for a copy retitled,
    bylined or linked otherwise. 16 hex digits: a tie-break, not an identity."""
    material = json.dumps(
        [title or "", url or "", site or "", list(authors or ()), content_hash],
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def article_rank(article: Article) -> Rank:
    """`rank_of` an article, its record key made of what copies of it differ in."""
    key = record_key(
        article.title, article.url, article.site, article.authors, article.content_hash
    )
    return rank_of(
        article.published_at,
        article.word_count,
        article.article_id,
        article.source,
        precision=article.published_precision,
        key=key,
    )
