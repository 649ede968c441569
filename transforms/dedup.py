"""Stage 5, dedup: one article per text; the other copies become duplicate rows.

Exact duplicates: articles whose folded text (lower-case word tokens) is the same share a
`content_hash`; one is kept, each other copy leaves as a Duplicate with method `exact`.
Then articles whose canonical URL is the same (one page captured twice, an update) keep one
row per `article_id`, the others leave with method `url`.

Canonical copy, deterministic and independent of input order: earliest `published_at`
(unknown dates last), then the smallest `article_id`, `content_hash`, `source`.

Only small candidate tuples are shuffled, never documents; the decisions come back to the
articles as a side input keyed by source (which is unique per record).
Counters: `dedup_in`, `dedup_exact`, `dedup_url`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

import apache_beam as beam

from newsbeam.schemas import Article, Duplicate
from newsbeam.transforms.failures import counter

_NEVER = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


class Candidate(NamedTuple):
    """What dedup needs of an article: its canonical-copy rank and identity."""

    rank: tuple[dt.datetime, str, str, str]
    source: str
    article_id: str


def candidate_of(article: Article) -> Candidate:
    """An article's dedup candidate; a smaller rank wins canonical."""
    published = article.published_at or _NEVER
    rank = (published, article.article_id, article.content_hash, article.source)
    return Candidate(rank=rank, source=article.source, article_id=article.article_id)


def find_duplicates(
    candidates: Iterable[Candidate], method: str, similarity: float | None
) -> list[Duplicate]:
    """Candidates sharing a key -> a Duplicate for every one but the canonical copy."""
    canonical, *copies = sorted(candidates)
    return [
        Duplicate(
            article_id=copy.article_id,
            source=copy.source,
            canonical_id=canonical.article_id,
            similarity=similarity,
            method=method,
        )
        for copy in copies
    ]


class _DropDuplicates(beam.PTransform):
    """Articles -> (articles with one per key, duplicates), for one key function."""

    def __init__(
        self,
        key_of: Callable[[Article], str | None],
        method: str,
        similarity: float | None,
    ) -> None:
        super().__init__()
        self._key_of = key_of
        self._method = method
        self._similarity = similarity

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Duplicate]]:
        key_of, method, similarity = self._key_of, self._method, self._similarity
        duplicates = (
            articles
            | "Candidates" >> beam.FlatMap(_keyed_candidate, key_of)
            | "ByKey" >> beam.GroupByKey()
            | "Decide"
            >> beam.FlatMap(
                lambda group: find_duplicates(group[1], method, similarity)
            ).with_output_types(Duplicate)
        )
        by_source = duplicates | "BySource" >> beam.Map(lambda d: (d.source, d))
        kept = articles | "Keep" >> beam.ParDo(
            _KeepCanonical(method), beam.pvalue.AsDict(by_source)
        ).with_output_types(Article)
        return kept, duplicates


def _keyed_candidate(
    article: Article, key_of: Callable[[Article], str | None]
) -> Iterator[tuple[str, Candidate]]:
    key = key_of(article)
    if key:
        yield key, candidate_of(article)


class _KeepCanonical(beam.DoFn):
    def __init__(self, method: str) -> None:
        self._method = method

    def process(self, article: Article, duplicates: dict[str, Duplicate]) -> Iterator[Article]:
        if article.source in duplicates:
            counter(f"dedup_{self._method}").inc()
        else:
            yield article


class DeduplicateArticles(beam.PTransform):
    """PCollection[Article] -> (PCollection[Article], PCollection[Duplicate])."""

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Duplicate]]:
        articles = articles | "Count" >> beam.Map(_count_in).with_output_types(Article)
        unique_text, exact = articles | "Exact" >> _DropDuplicates(
            lambda a: a.content_hash, "exact", 1.0
        )
        # Same page, different text (an update): the similarity was not measured.
        unique, same_url = unique_text | "SameUrl" >> _DropDuplicates(
            lambda a: a.canonical_url, "url", None
        )
        duplicates = (exact, same_url) | "Duplicates" >> beam.Flatten()
        return unique, duplicates


def _count_in(article: Article) -> Article:
    counter("dedup_in").inc()
    return article
