"""Stage 5: exact duplicates, canonical choice, independence of input order."""

from __future__ import annotations

import datetime as dt
import random

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.transforms.clean import clean_article
from newsbeam.transforms.dedup import DeduplicateArticles, candidate_of, find_duplicates
from newsbeam.transforms.extract import new_article
from tests.conftest import counters_of, make_test_pipeline

UTC = dt.timezone.utc
BODY = "A wire story about the harbour reopening after the storm, with quotes. " * 3


def _article(source: str, text: str = BODY, published: dt.datetime | None = None, url=None):
    return clean_article(
        new_article(source, text=text, published_at=published, url=url, canonical_url=url)
    )


def test_canonical_is_earliest_then_smallest_id() -> None:
    early = _article("b.txt", published=dt.datetime(2024, 1, 1, tzinfo=UTC))
    late = _article("a.txt", published=dt.datetime(2024, 1, 2, tzinfo=UTC))
    undated = _article("0.txt")
    duplicates = find_duplicates([candidate_of(a) for a in (late, undated, early)], "exact", 1.0)
    assert sorted(d.source for d in duplicates) == ["0.txt", "a.txt"]
    assert {d.canonical_id for d in duplicates} == {early.article_id}


def test_exact_copies_become_duplicates_in_any_order() -> None:
    original = _article("wire.txt", published=dt.datetime(2024, 3, 1, 8, tzinfo=UTC))
    # Same words, other case/punctuation/spacing, published later: an exact copy.
    copy = _article("copy.txt", text=BODY.upper().replace(",", " ,"),
                    published=dt.datetime(2024, 3, 1, 9, tzinfo=UTC))  # fmt: skip
    other = _article("other.txt", text="An unrelated story about a football match. " * 3)
    # One page captured twice (an update): same canonical URL, other text.
    url = "https://example.com/wire"
    updated = _article("update.txt", BODY + " Updated.", dt.datetime(2024, 3, 2, tzinfo=UTC), url)
    same_url = _article("update2.txt", BODY + " Again.", dt.datetime(2024, 3, 3, tzinfo=UTC), url)
    articles = [original, copy, other, updated, same_url]
    for seed in (1, 2, 3):
        random.Random(seed).shuffle(articles)
        with make_test_pipeline() as pipeline:
            kept, duplicates = pipeline | beam.Create(articles) | DeduplicateArticles()
            assert_that(
                kept | beam.Map(lambda a: a.source),
                equal_to(["wire.txt", "other.txt", "update.txt"]),
                label="CheckKept",
            )
            assert_that(
                duplicates | beam.Map(lambda d: (d.source, d.canonical_id, d.method)),
                equal_to(
                    [
                        ("copy.txt", original.article_id, "exact"),
                        ("update2.txt", updated.article_id, "url"),
                    ]
                ),
                label="CheckDuplicates",
            )
        counters = counters_of(pipeline)
        assert counters["dedup_in"] == 5
        assert counters["dedup_exact"] == 1 and counters["dedup_url"] == 1
