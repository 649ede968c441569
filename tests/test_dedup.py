"""Stage 5: exact, url and near duplicates; canonical choice; no chaining; input order."""

from __future__ import annotations

import datetime as dt
import random

import apache_beam as beam
import numpy as np
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.transforms.clean import clean_article
from newsbeam.transforms.dedup import (
    DedupConfig,
    DeduplicateArticles,
    Edge,
    Member,
    bucket_pairs,
    candidate_of,
    containment,
    find_duplicates,
    minhash_signature,
    near_copy_similarity,
    rank_of,
    resolve_copies,
    shingle_hashes,
)
from newsbeam.transforms.extract import new_article
from tests.conftest import counters_of, make_test_pipeline

UTC = dt.timezone.utc
BODY = "A wire story about the harbour reopening after the storm, with quotes. " * 3


def _words(seed: int, count: int = 40) -> str:
    """A paragraph of `count` pseudo-random words: unrelated to any other seed's."""
    rng = random.Random(seed)
    return " ".join(f"w{rng.randrange(10**6)}" for _ in range(count)) + "."


def _article(source: str, text: str = BODY, published: dt.datetime | None = None, url=None):
    return clean_article(
        new_article(source, text=text, published_at=published, url=url, canonical_url=url)
    )


def _day(day: int) -> dt.datetime:
    return dt.datetime(2024, 3, day, 8, tzinfo=UTC)


def test_canonical_is_earliest_then_longest_then_smallest_id() -> None:
    early = _article("b.txt", published=dt.datetime(2024, 1, 1, tzinfo=UTC))
    late = _article("a.txt", published=dt.datetime(2024, 1, 2, tzinfo=UTC))
    undated = _article("0.txt")
    duplicates = find_duplicates([candidate_of(a) for a in (late, undated, early)], "exact", 1.0)
    assert sorted(d.source for d in duplicates) == ["0.txt", "a.txt"]
    assert {d.canonical_id for d in duplicates} == {early.article_id}
    # Same date: the longer text wins over the smaller id.
    assert rank_of(_day(1), 300, "b", "s") < rank_of(_day(1), 200, "a", "s")
    # An earlier run's article wins over everything of this run.
    assert rank_of(_day(9), 1, "z", "s", prior=True) < rank_of(_day(1), 999, "a", "s")


def test_shingles_are_stable_and_containment_sees_a_trimmed_copy() -> None:
    text = " ".join(_words(n) for n in range(6))
    shingles = shingle_hashes(text, 5)
    assert shingles.dtype == np.uint64 and np.all(np.diff(shingles.astype(np.float64)) > 0)
    assert np.array_equal(shingles, shingle_hashes(text.upper().replace(".", " ."), 5))
    trimmed = shingle_hashes(" ".join(_words(n) for n in range(2)), 5)
    assert containment(trimmed, shingles) == 1.0
    assert containment(shingle_hashes(_words(99), 5), shingles) == 0.0
    assert containment(np.zeros(0, dtype=np.uint64), shingles) == 0.0


def test_templated_short_texts_are_not_near_copies() -> None:
    """Feed items cut from one template (a changeset listing, a weather line) differ in a
    name or a number: high containment, but too little shared text to call them copies."""
    config = DedupConfig()
    template = "Created {d} Closed {d} Author {a} Comment adjusted existing objects in {p}"
    first = shingle_hashes(template.format(d="28 Nov 2024 22:55", a="kasia", p="Sek"), 5)
    second = shingle_hashes(template.format(d="28 Nov 2024 22:55", a="kasia", p="Wrzosy"), 5)
    assert containment(first, second) >= config.near_threshold
    assert near_copy_similarity(first, second, config) is None
    # A long text and its trimmed copy: verified, with the containment as similarity.
    text = " ".join(_words(n) for n in range(6))
    trimmed = " ".join(_words(n) for n in range(2))
    similarity = near_copy_similarity(shingle_hashes(trimmed, 5), shingle_hashes(text, 5), config)
    assert similarity == 1.0


def test_minhash_agrees_with_jaccard() -> None:
    first = shingle_hashes(" ".join(_words(n) for n in range(10)), 5)
    second = shingle_hashes(" ".join(_words(n) for n in range(5, 15)), 5)
    jaccard = len(np.intersect1d(first, second)) / len(np.union1d(first, second))
    a, b = minhash_signature(first, 256), minhash_signature(second, 256)
    assert abs(float(np.mean(a == b)) - jaccard) < 0.1
    assert np.array_equal(a, minhash_signature(first, 256))  # deterministic


def test_bucket_pairs_point_to_better_ranks_and_never_from_earlier_runs() -> None:
    prior = Member(rank_of(_day(5), 10, "p", "p.txt", prior=True), "p", "p.txt")
    early = Member(rank_of(_day(1), 10, "e", "e.txt"), "e", "e.txt")
    late = Member(rank_of(_day(2), 10, "l", "l.txt"), "l", "l.txt")
    pairs = {(copy, canonical) for copy, canonical, _ in bucket_pairs([late, prior, early], 50)}
    assert pairs == {("e", "p"), ("l", "p"), ("l", "e")}
    limited = {(copy, canonical) for copy, canonical, _ in bucket_pairs([late, early, prior], 1)}
    assert limited == {("e", "p"), ("l", "p")}


def test_resolve_copies_does_not_chain() -> None:
    rank = {name: rank_of(_day(day), 10, name, name) for name, day in (("a", 1), ("b", 2))}
    # b ~ a and c ~ b verified, c not ~ a: b is a's copy, c stays an article.
    edges = [Edge("b", "b.txt", "a", rank["a"], 0.7), Edge("c", "c.txt", "b", rank["b"], 0.8)]
    assert [(d.article_id, d.canonical_id) for d in resolve_copies(edges)] == [("b", "a")]
    # c ~ a verified too: c points to a, the best-ranked article it matched.
    edges.append(Edge("c", "c.txt", "a", rank["a"], 0.6))
    resolved = resolve_copies(edges)
    assert [(d.article_id, d.canonical_id, d.method) for d in resolved] == [
        ("b", "a", "near"),
        ("c", "a", "near"),
    ]
    assert resolved[1].similarity == 0.6


def test_exact_url_and_near_copies_in_any_order() -> None:
    original = _article("wire.txt", published=_day(1))
    # Same words, other case/punctuation/spacing, published later: an exact copy.
    copy = _article("copy.txt", text=BODY.upper().replace(",", " ,"), published=_day(2))
    other = _article("other.txt", " ".join(_words(n) for n in range(3)), _day(1))
    # The same page captured twice: same canonical URL, other text.
    url = "https://example.com/other"
    page = _article("page.txt", " ".join(_words(n) for n in range(10, 13)), _day(2), url)
    update = _article("page2.txt", " ".join(_words(n) for n in range(20, 23)), _day(3), url)
    # Trimmed, with a local paragraph, undated: a near copy of `other`.
    near = _article("near.txt", text=" ".join([_words(0), _words(1), _words(50)]))
    articles = [original, copy, other, page, update, near]
    for seed in (1, 2):
        random.Random(seed).shuffle(articles)
        with make_test_pipeline() as pipeline:
            kept, duplicates = pipeline | beam.Create(articles) | DeduplicateArticles()
            assert_that(
                kept | beam.Map(lambda a: (a.source, a.duplicate_count, a.duplicate_sources)),
                equal_to(
                    [
                        ("wire.txt", 1, ["copy.txt"]),
                        ("other.txt", 1, ["near.txt"]),
                        ("page.txt", 1, ["page2.txt"]),
                    ]
                ),
                label="CheckKept",
            )
            assert_that(
                duplicates | beam.Map(lambda d: (d.source, d.canonical_id, d.method)),
                equal_to(
                    [
                        ("copy.txt", original.article_id, "exact"),
                        ("page2.txt", page.article_id, "url"),
                        ("near.txt", other.article_id, "near"),
                    ]
                ),
                label="CheckDuplicates",
            )
        counters = counters_of(pipeline)
        assert counters["dedup_in"] == 6
        assert counters["dedup_exact"] == counters["dedup_url"] == counters["dedup_near"] == 1


def test_chained_near_copies_in_beam() -> None:
    x = [_words(n) for n in range(6)]
    a = _article("a.txt", " ".join(x[0:3]), _day(1))
    b = _article("b.txt", " ".join(x[1:4]), _day(2))  # 2/3 of a
    c = _article("c.txt", " ".join(x[2:5]), _day(3))  # 2/3 of b, 1/3 of a
    with make_test_pipeline() as pipeline:
        kept, duplicates = pipeline | beam.Create([c, a, b]) | DeduplicateArticles(DedupConfig())
        assert_that(kept | beam.Map(lambda r: r.source), equal_to(["a.txt", "c.txt"]), "Kept")
        assert_that(
            duplicates | beam.Map(lambda d: (d.source, d.canonical_id)),
            equal_to([("b.txt", a.article_id)]),
            label="Duplicates",
        )
