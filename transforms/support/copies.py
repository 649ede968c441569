"""A kept article's copies counted on it (`duplicate_count`, `duplicate_sources`): in a
batch by dedup (`kept_with_copies`), in a stream by the stories stage, where a window's
articles and copies first meet (`counted_copies`). Here, not in dedup.py, so that the
stories stage does not import the dedup stage."""

from __future__ import annotations

import collections
from collections.abc import Iterable

from newsbeam.schemas import Article, Duplicate


def with_copies(article: Article, sources: Iterable[str]) -> Article:
    """`article` with `sources` as its copies, sorted (one order whatever the shuffle)."""
    sources = sorted(sources)
    return article._replace(duplicate_count=len(sources), duplicate_sources=sources)


def counted_copies(articles: Iterable[Article], duplicates: Iterable[Duplicate]) -> list[Article]:
    """Kept articles with the copies among `duplicates` that name them (`canonical_id`)
    counted on them by with_copies, as the batch counts them; an article no copy names is
    left as it is. The streaming driver calls it on each window's pane (docs/streaming.md)."""
    sources: dict[str, list[str]] = collections.defaultdict(list)
    for duplicate in duplicates:
        sources[duplicate.canonical_id].append(duplicate.source)
    return [
        with_copies(article, [*article.duplicate_sources, *sources[article.article_id]])
        if article.article_id in sources
        else article
        for article in articles
    ]
