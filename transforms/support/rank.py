"""The canonical-copy rank dedup and stories share: which of several copies of an article
is the one kept, and which article of a story represents it."""

from __future__ import annotations

import datetime as dt

# A rank is made of ints and strings only, so Beam's fast coder carries it without pickling.
Rank = tuple[int, int, int, str, str]
_UNKNOWN_DATE = 2**62  # microseconds: after every real date, so undated articles rank last
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


def rank_of(
    published_at: dt.datetime | None,
    word_count: int,
    article_id: str,
    source: str,
    prior: bool = False,
) -> Rank:
    """Canonical-copy rank; the smallest wins. Earlier runs' articles (`prior`) come first,
    then the earliest date (microseconds; unknown last), the longest text, the smallest id."""
    if published_at is None:
        when = _UNKNOWN_DATE
    else:
        if published_at.tzinfo is None:
            published_at = published_at.replace(tzinfo=dt.timezone.utc)
        when = (published_at - _EPOCH) // _MICROSECOND
    return (0 if prior else 1, when, -word_count, article_id, source)


def is_prior(rank: Rank) -> bool:
    return rank[0] == 0
