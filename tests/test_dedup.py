"""Stage: dedup. Exact, url and near duplicates; canonical choice; no chaining; input order."""

from __future__ import annotations

import datetime as dt
import random
import tracemalloc
from typing import Any

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.schemas import Duplicate
from newsbeam.transforms.clean import clean_article, with_identity
from newsbeam.transforms.dedup import (
    Copy,
    DedupConfig,
    DeduplicateArticles,
    Entry,
    Member,
    bucket_pairs,
    containment,
    final_duplicate,
    kept_with_copies,
    keyed_copies,
    minhash_signature,
    near_copy_similarity,
    prior_fingerprint,
    rank_of,
    shingle_hashes,
    split_copies,
    state_row,
    with_own_id,
)
from newsbeam.transforms.extract import new_article
from newsbeam.transforms.support.hashing import word_hashes
from newsbeam.transforms.support.rank import article_rank
from newsbeam.transforms.support.versions import earlier_version, entry_of, version_source
from newsbeam.transforms.support.vocabulary import sorted_unique
from tests.helpers import counters_of, make_test_pipeline

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
    entries = [
        Entry(article_rank(a), a.article_id, a.source, "", b"") for a in (late, undated, early)
    ]
    going_on, copies = split_copies(entries)
    assert [e.source for e in going_on] == ["b.txt"]
    assert sorted(e.source for e in copies) == ["0.txt", "a.txt"]
    # An earlier run's article is never a copy: it goes on beside the canonical.
    prior = Entry(rank_of(_day(9), 5, "p", "p.txt", prior=True), "p", "p.txt", "", b"")
    going_on, copies = split_copies([*entries, prior, prior._replace(article_id="q")])
    assert [e.article_id for e in going_on] == ["p", "q"]
    assert len(copies) == 3
    # Same date: the longer text wins over the smaller id.
    assert rank_of(_day(1), 300, "b", "s") < rank_of(_day(1), 200, "a", "s")
    # An earlier run's article wins over everything of this run.
    assert rank_of(_day(9), 1, "z", "s", prior=True) < rank_of(_day(1), 999, "a", "s")


def test_a_date_known_to_the_day_ranks_at_the_end_of_its_day() -> None:
    """Review 46: "2024-03-14" (midnight, precision day) ranked before 09:30 that day."""
    midnight = dt.datetime(2024, 3, 14, tzinfo=UTC)
    timed = rank_of(midnight + dt.timedelta(hours=9, minutes=30), 200, "w", "wire")
    dated = rank_of(midnight, 900, "r", "republisher", precision="day")
    assert timed < dated
    assert dated < rank_of(midnight + dt.timedelta(days=1), 200, "n", "next day")
    # Two dates of one day, both known to the day only: the longer text, as before.
    assert dated < rank_of(midnight, 100, "a", "other", precision="day")


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
    pairs = {(c.article_id, k.article_id) for c, k in bucket_pairs([late, prior, early], 50)}
    assert pairs == {("e", "p"), ("l", "p"), ("l", "e")}
    limited = {(c.article_id, k.article_id) for c, k in bucket_pairs([late, early, prior], 1)}
    assert limited == {("e", "p"), ("l", "p")}
    # A bucket too large for its pair budget pairs each with fewer (at least the best):
    # a flood of templated items filled every band's bucket with all of them.
    flood = [Member(rank_of(_day(1), 10, f"a{i:03}", f"{i}.txt"), f"a{i:03}", f"{i}.txt")
             for i in range(200)]  # fmt: skip
    assert sum(1 for _ in bucket_pairs(flood, 50)) == sum(min(i, 50) for i in range(200))
    budgeted = list(bucket_pairs(flood, 50, budget=400))  # 2 each
    assert len(budgeted) == 1 + 2 * 198
    assert {k.article_id for _, k in budgeted} == {"a000", "a001"}  # the best-ranked
    assert len(list(bucket_pairs(flood, 50, budget=10))) == 199  # never fewer than one


def test_an_updated_feed_entry_is_no_copy_of_its_earlier_version() -> None:
    """An update (`<feed>#<id>#version=<v>`, support/versions.py) has its earlier version's
    URL and most of its text: it was its same-URL or near copy, and a correction never
    reached the articles table. It is paired with no earlier version of its own entry (url
    pass, LSH buckets), still with anything else; the exact pass keeps them together."""
    first = "https://f/rss#g1"
    update = version_source(first, "0123456789abcdef")
    assert earlier_version(update, first) and earlier_version(
        update, version_source(first, "ab" * 8)
    )
    assert not earlier_version(first, update)  # a first version is nobody's update
    assert not earlier_version(update, "https://f/rss#g2") and entry_of(update) == first
    prior = Member(rank_of(_day(1), 10, "a", first, prior=True), "a", first)
    again = Member(rank_of(_day(1), 12, "a", update), "a", update)
    other = Member(rank_of(_day(2), 10, "o", "o.txt"), "o", "o.txt")
    pairs = {(c.source, k.source) for c, k in bucket_pairs([prior, again, other], 50)}
    assert pairs == {("o.txt", first), ("o.txt", update)}
    entries = [tuple(Entry(m.rank, m.article_id, m.source, "f/a", b"")) for m in (prior, again)]
    going_on, copies = split_copies(entries, versions_apart=True)
    assert ([e.source for e in going_on], copies) == ([first, update], [])
    going_on, copies = split_copies(entries)
    assert ([e.source for e in going_on], [e.source for e in copies]) == ([first], [update])


def test_a_copy_matching_a_copy_and_its_canonical_points_to_the_canonical_in_beam() -> None:
    """No chaining: a copy points only to an article it was verified against that is nobody's
    copy; one whose verified neighbours are all copies stays an article."""
    x = [_words(n) for n in range(5)]
    a = _article("a.txt", " ".join(x[0:3]), _day(1))
    b = _article("b.txt", " ".join(x[1:4]), _day(2))  # 2/3 of a: a's copy
    c = _article("c.txt", " ".join([x[0], x[1], x[3]]), _day(3))  # ~ a and ~ b
    d = _article("d.txt", " ".join(x[2:5]), _day(4))  # ~ b only (1/3 of a)
    config = DedupConfig()
    shingles = {r.source: shingle_hashes(r.text, config.shingle_words) for r in (a, b, c, d)}
    # The verified pairs the test relies on (c ~ b as well as c ~ a; d ~ b, not ~ a).
    assert near_copy_similarity(shingles["c.txt"], shingles["b.txt"], config) is not None
    assert near_copy_similarity(shingles["d.txt"], shingles["b.txt"], config) is not None
    assert near_copy_similarity(shingles["d.txt"], shingles["a.txt"], config) is None
    b_to_a = near_copy_similarity(shingles["b.txt"], shingles["a.txt"], config)
    c_to_a = near_copy_similarity(shingles["c.txt"], shingles["a.txt"], config)
    assert b_to_a is not None and c_to_a is not None
    with make_test_pipeline() as pipeline:
        kept, duplicates = pipeline | beam.Create([d, c, b, a]) | DeduplicateArticles(config)
        assert_that(kept | beam.Map(lambda r: r.source), equal_to(["a.txt", "d.txt"]), "Kept")
        assert_that(
            duplicates | beam.Map(lambda r: (r.source, r.canonical_id, r.method, r.similarity)),
            equal_to(
                [
                    ("b.txt", a.article_id, "near", round(b_to_a, 6)),
                    ("c.txt", a.article_id, "near", round(c_to_a, 6)),
                ]
            ),
            label="Duplicates",
        )


def test_copies_of_copies_point_to_a_kept_article() -> None:
    def copy(copy_id: str, canonical_id: str, method: str, similarity=None) -> Copy:
        duplicate = Duplicate(copy_id, f"{copy_id}.txt", canonical_id, similarity, method)
        return Copy(duplicate, (1, canonical_id, f"{canonical_id}.txt"))

    def who(name: str) -> tuple[int, str, str]:
        return (1, name, f"{name}.txt")

    url = {who("h"): copy("h", "u", "url")}
    near = {who("u"): copy("u", "r", "near", 0.7), who("k"): copy("k", "r", "near", 0.6)}
    # x has h's text; h is the same page as u; u is a near copy of r.
    final = final_duplicate(copy("x", "h", "exact", 1.0), url, near)
    assert final == copy("x", "r", "url").duplicate
    # An exact copy of a near copy is a near copy of the same canonical.
    final = final_duplicate(copy("y", "k", "exact", 1.0), url, near)
    assert final == copy("y", "r", "near", 0.6).duplicate
    assert final_duplicate(copy("z", "u", "url"), url, near) == copy("z", "r", "url").duplicate
    unchanged = copy("w", "a", "exact", 1.0)
    assert final_duplicate(unchanged, url, near) == unchanged.duplicate
    # Ids repeat (a copy has its canonical's id): only the canonical's identity counts.
    same_id = Copy(unchanged.duplicate._replace(canonical_id="h"), (1, "h", "other.txt"))
    assert final_duplicate(same_id, url, near) == same_id.duplicate


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


def test_copies_of_copies_point_to_kept_articles_in_beam() -> None:
    """x has h's text, h is an update of page u (same URL), y has the text of n, a near copy
    of r: every copy points to an article in the articles table, never to another copy."""
    url = "https://example.com/story"
    u = _article("u.txt", " ".join(_words(n) for n in range(30, 33)), _day(1), url)
    h = _article("h.txt", " ".join(_words(n) for n in range(40, 43)), _day(2), url)
    x = _article("x.txt", " ".join(_words(n) for n in range(40, 43)), _day(3))
    r = _article("r.txt", " ".join(_words(n) for n in range(3)), _day(1))
    n = _article("n.txt", " ".join([_words(0), _words(1), _words(60)]), _day(2))
    y = _article("y.txt", " ".join([_words(0), _words(1), _words(60)]), _day(4))
    with make_test_pipeline() as pipeline:
        kept, duplicates = pipeline | beam.Create([y, x, n, h, r, u]) | DeduplicateArticles()
        assert_that(
            kept | beam.Map(lambda a: (a.source, a.duplicate_sources)),
            equal_to([("u.txt", ["h.txt", "x.txt"]), ("r.txt", ["n.txt", "y.txt"])]),
            label="Kept",
        )
        assert_that(
            duplicates | beam.Map(lambda d: (d.source, d.canonical_id, d.method)),
            equal_to(
                [
                    ("h.txt", u.article_id, "url"),
                    ("x.txt", u.article_id, "url"),
                    ("n.txt", r.article_id, "near"),
                    ("y.txt", r.article_id, "near"),
                ]
            ),
            label="Duplicates",
        )


def test_fingerprints_are_the_stored_hashes() -> None:
    """Shingle hashes and signatures are kept in the state: the vectorised word hashes and
    signature must give exactly the per-word blake2b and per-function minimum."""
    import hashlib

    from newsbeam.transforms import dedup

    words = "Straße straße ǅemal a a b 2024 ½ the the the quick brown fox".casefold().split()
    expected = [
        int.from_bytes(hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest(), "little")
        for w in words
    ]
    found = word_hashes(words)
    assert found.dtype == np.uint64 and found.tolist() == expected
    assert word_hashes([]).tolist() == []
    shingles = shingle_hashes(" ".join(words), 3)
    multipliers, offsets = dedup._permutations(16)
    by_function = [
        min((int(m) * int(s) + int(o)) % 2**64 for s in shingles)
        for m, o in zip(multipliers, offsets, strict=True)
    ]
    assert minhash_signature(shingles, 16).tolist() == by_function


def test_first_use_numbers_items_by_first_occurrence() -> None:
    from newsbeam.transforms.support.vocabulary import first_use

    distinct, place = first_use(["b", "a", "b", "c", "a"])
    assert distinct == ["b", "a", "c"]
    assert place.tolist() == [0, 1, 0, 2, 1]
    assert first_use([])[0] == [] and first_use([])[1].tolist() == []


def test_kept_with_copies_drops_the_copies_and_counts_them_on_their_canonical() -> None:
    original = _article("wire.txt", published=_day(1))
    exact = _article("copy.txt", published=_day(2))  # same text: same id as the original
    near = _article("near.txt", text=BODY + " Updated.", published=_day(3))
    alone = _article("alone.txt", text=_words(7))
    assert exact.article_id == original.article_id != near.article_id
    duplicates = [
        Duplicate(exact.article_id, "copy.txt", original.article_id, 1.0, "exact"),
        Duplicate(near.article_id, "near.txt", original.article_id, 0.93, "near"),
    ]
    copies_by_id: dict[str, list[tuple[Any, ...]]] = {}
    for duplicate in duplicates:
        for key, value in keyed_copies(duplicate):
            copies_by_id.setdefault(key, []).append(value)
    out = [
        found
        for article in (near, exact, original, alone)
        for found in kept_with_copies(article, copies_by_id)
    ]
    tagged = beam.pvalue.TaggedOutput
    kept = [
        (a.source, a.duplicate_count, a.duplicate_sources) for a in out if not isinstance(a, tagged)
    ]
    assert kept == [("wire.txt", 2, ["copy.txt", "near.txt"]), ("alone.txt", 0, [])]
    # The copies come out as their duplicates rows, with their own ids, url and site.
    rows = [found.value for found in out if isinstance(found, tagged)]
    assert [(row.source, row.method, row.canonical_id) for row in rows] == [
        ("near.txt", "near", original.article_id),
        ("copy.txt", "exact", original.article_id),
    ]
    assert rows == [with_own_id(duplicate) for duplicate in reversed(duplicates)]


UNCLEANED = [
    "The city council approved a new budget on Tuesday after a long debate about funding "
    "for schools, public transport and road repairs across the northern districts.",
    "A magnitude 6.1 earthquake struck Bam in Iran on Friday, killing 300 people and "
    "damaging the old citadel and many homes in the region around the city.",
    "The football club Rovers signed a new striker from Lisbon for a record fee on Monday, "
    "the manager said at a press conference in the stadium.",
]


def test_articles_that_skipped_cleaning_get_their_identity_in_beam() -> None:
    # A caller's own records (new_article, no CleanText) had article_id "": dedup took the
    # three different articles for copies of one another, pointing at canonical "".
    articles = [new_article(f"s{n}", text=text) for n, text in enumerate(UNCLEANED)]
    articles.append(new_article("t0", text=UNCLEANED[0]))
    with make_test_pipeline() as pipeline:
        kept, duplicates = pipeline | beam.Create(articles) | DeduplicateArticles()
        assert_that(
            kept | beam.Map(lambda a: (a.source, bool(a.article_id), a.duplicate_count)),
            equal_to([("s0", True, 1), ("s1", True, 0), ("s2", True, 0)]),
            label="Kept",
        )
        assert_that(
            duplicates | beam.Map(lambda d: (d.source, d.method, bool(d.canonical_id))),
            equal_to([("t0", "exact", True)]),
            label="Copies",
        )


def test_an_earlier_article_dated_to_the_day_ranks_at_its_days_end() -> None:
    """Review 50: the dedup state kept no date precision, so an earlier article dated to
    the day only ranked at midnight among earlier runs' articles (before the wire story it
    copied, stamped 09:30 that day), though it ranked at its day's end in its own run.
    The state row keeps the precision; a row of an older file (none) ranks as before."""
    day = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    text = " ".join(f"word{n}" for n in range(60))
    dated = new_article("copy.txt", text=text, published_at=day, published_precision="day")
    row = state_row(clean_article(dated), DedupConfig(), day)
    assert row["published_precision"] == "day"
    wire = {**row, "article_id": "wire", "published_at": day + dt.timedelta(hours=9.5)}
    wire["published_precision"] = "minute"
    assert prior_fingerprint(wire).rank < prior_fingerprint(row).rank
    older = {key: value for key, value in row.items() if key != "published_precision"}
    assert prior_fingerprint(older).rank < prior_fingerprint(wire).rank


def test_fingerprint_of_a_long_text_is_linear_and_unchanged() -> None:
    from newsbeam.transforms import dedup

    # A 10 MiB text of distinct words (review 55): its MinHash built an array of 128
    # functions x a million shingles (1 GiB, 7.6 s), and np.unique of the shingles took
    # 1.8 s (NumPy's hashing unique): 14 s a text. Now slices and a sort: the same values.
    # Bounded by the memory it allocates (NumPy reports to tracemalloc), not by a clock: a
    # wall-time limit failed on a loaded machine; the one array was 1 GiB, a slice 8 MiB.
    rng = np.random.default_rng(7)
    shingles = np.sort(rng.integers(0, 2**63, size=1_000_000, dtype=np.uint64))
    tracemalloc.start()
    try:
        signature = minhash_signature(shingles, 128)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, peak  # about 16 MiB; 1 GiB as one array
    multipliers, offsets = dedup._permutations(128)
    some = shingles[::97]
    with np.errstate(over="ignore"):
        whole = (np.multiply.outer(multipliers, some) + offsets[:, None]).min(axis=1)
    assert np.array_equal(minhash_signature(some, 128), whole)
    assert np.array_equal(
        signature,
        np.minimum(
            minhash_signature(shingles[:500_000], 128), minhash_signature(shingles[500_000:], 128)
        ),
    )
    # Its speed is bench_dedup's to measure (about 1 s; np.unique alone took 0.5 s more).
    text = " ".join(f"w{n}" for n in range(300_000))
    hashes = shingle_hashes(text, 5)
    assert len(hashes) == 300_000 - 4 and np.all(hashes[1:] > hashes[:-1])


@pytest.mark.parametrize("size", [0, 1, 2, 5, 1000])
def test_sorted_unique_is_numpy_unique(size: int) -> None:
    values = np.random.default_rng(size).integers(0, 50, size=size, dtype=np.uint64)
    assert np.array_equal(sorted_unique(values), np.unique(values))
    assert sorted_unique(values).dtype == np.unique(values).dtype


def _templated_flood(count: int) -> list[Any]:
    """`count` briefs of one template that differ in a figure and a name: every band's
    bucket holds nearly all of them (none is a copy: their facts conflict)."""
    towns = ["Leeds", "York", "Hull", "Bath", "Derby", "Truro", "Perth", "Ely"]
    advisory = (
        "Market data is delayed by at least fifteen minutes and is provided for information "
        "only. It does not constitute investment advice, and readers should consult a "
        "regulated adviser before making any decision to buy or sell shares."
    )
    return [
        clean_article(
            _article(
                f"brief{n:04}.txt",
                f"{towns[n % 8]} Port Holdings shares rose {n / 10} per cent to {100 + n} "
                f"pence on Friday. " + advisory,
            )
        )
        for n in range(count)
    ]


def _held(entries: list[tuple[bytes, Any]]) -> tuple[Any, ...]:
    """A bundle's (bucket key, rank) entries of a shard as _UrlPass sends them in windows:
    rank_keys, with the ranks beside them."""
    from newsbeam.transforms import dedup

    named = {dedup.rank_key(rank): rank for _, rank in entries}
    keyed = [(key, dedup.rank_key(rank)) for key, rank in entries]
    return tuple(dedup.shard_entries(keyed, named))


def test_a_shard_names_each_candidate_pair_once() -> None:
    """A templated flood fills each of the 64 bands' buckets with the same items: a pair
    was one element for every bucket that gave it (64 here), each shuffled and held decoded
    by the local runner; now one element a copy, its canonicals as 8-byte keys (review 67)."""
    from newsbeam.transforms import dedup

    members = [Member(rank_of(_day(1), 10, f"a{i:03}", f"{i}.txt"), f"a{i:03}", f"{i}.txt")
               for i in range(120)]  # fmt: skip
    ranks = [member.rank for member in members]
    entries = [
        _held([(band.to_bytes(2, "big") + b"same", rank) for rank in ranks]) for band in range(64)
    ]
    limit, budget = 50, 20_000
    found = dedup.shard_candidates((0, entries), limit, budget)
    emitted = list(dedup.candidate_elements(found))
    pairs = {(c.article_id, k.article_id) for c, k in bucket_pairs(members, limit, budget)}
    copies = {copy for copy, value in emitted if value[0] == dedup._PAIR}
    assert len(emitted) == len(copies) + len({k for _, k in pairs})  # keys, then marks
    named = {
        (copy[1], key)
        for copy, value in emitted
        if value[0] == dedup._PAIR
        for key in np.frombuffer(value[1], dtype=np.uint64).tolist()
    }
    keys = {dedup.member_key(dedup.identity_of(m.rank)): m.article_id for m in members}
    assert {(copy, keys[key]) for copy, key in named} == pairs
    assert len(named) == len(pairs)  # each once, not once a band


def test_a_bundles_shards_name_each_copy_once_with_the_union_of_their_keys() -> None:
    """A pair's bands' buckets fall in ~60 of the 256 shards: each shard named the copy
    again (review 84). Merged over the bundle: one set of keys a copy, the union."""
    from newsbeam.transforms import dedup

    members = [Member(rank_of(_day(1), 10, f"a{i}", f"{i}.txt"), f"a{i}", f"{i}.txt")
               for i in range(4)]  # fmt: skip
    ranks = [member.rank for member in members]
    held = dedup.Candidates({}, set())
    shards = [(0, [_held([(b"x", ranks[0]), (b"x", ranks[1]), (b"x", ranks[2])])]),
              (1, [_held([(b"y", ranks[1]), (b"y", ranks[2])]), _held([(b"y", ranks[3])])]),
              (2, [_held([(b"z", ranks[0]), (b"z", ranks[2])])])]  # fmt: skip
    for shard in shards:
        dedup.merge_candidates(held, dedup.shard_candidates(shard, 50, 20_000))
    emitted = list(dedup.candidate_elements(held))
    alone = [e for shard in shards for e in dedup.candidate_elements(
        dedup.shard_candidates(shard, 50, 20_000))]  # fmt: skip
    copies = [copy for copy, value in emitted if value[0] == dedup._PAIR]
    assert len(copies) == len(set(copies)) == 3  # a1, a2, a3: each once
    keys = {m.article_id: dedup.member_key(dedup.identity_of(m.rank)) for m in members}
    by_copy = {copy[1]: np.frombuffer(value[1], dtype=np.uint64).tolist()
               for copy, value in emitted if value[0] == dedup._PAIR}  # fmt: skip
    assert by_copy["a2"] == sorted({keys["a0"], keys["a1"]})  # from shards 0, 1 and 2
    marks = [identity[1] for identity, value in emitted if value[0] == dedup._CANONICAL]
    assert marks == ["a0", "a1", "a2"]
    # The same keys as each shard's own elements, joined (_attach_copy takes their union).
    for copy in by_copy:
        shard_keys = {k for c, v in alone if v[0] == dedup._PAIR and c[1] == copy
                      for k in np.frombuffer(v[1], dtype=np.uint64).tolist()}  # fmt: skip
        assert set(by_copy[copy]) == shard_keys
    assert len(alone) > len(emitted)


def test_a_templated_flood_is_verified_without_a_print_a_pair() -> None:
    """Bounded by the memory the run allocates, not a clock: 150 templated briefs (most of
    each band's bucket alike) gave a pair element for each bucket that held the pair, and
    a copy's shingles and fact windows with each of its 10,879 distinct pairs: 59 MB
    allocated at the peak; a copy's candidate keys and each canonical's print once, 17 MB
    (review 67). The same verdicts: none is a copy."""
    articles = _templated_flood(150)
    tracemalloc.start()
    try:
        with make_test_pipeline() as pipeline:
            kept, duplicates = pipeline | beam.Create(articles) | DeduplicateArticles()
            assert_that(kept | beam.combiners.Count.Globally(), equal_to([150]), "Kept")
            assert_that(duplicates, equal_to([]), "NoCopies")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    counters = counters_of(pipeline)
    assert counters["dedup_candidate_pairs"] > 10_000, counters  # 10,879 distinct pairs
    assert peak < 32 * 2**20, peak


def test_the_pairs_step_sends_a_copy_once_for_all_of_a_bundles_shards() -> None:
    """_ShardPairs, as the runner drives it: 64 bands' buckets of the same 4 articles in
    as many shards sent each copy's keys and each canonical's mark 64 times (review 84);
    now once when the bundle ends."""
    from apache_beam.transforms.window import GlobalWindow

    from newsbeam.transforms import dedup

    ranks = [rank_of(_day(1), 10, f"a{i}", f"{i}.txt") for i in range(4)]
    fn = dedup._ShardPairs(50, 20_000)
    fn.start_bundle()
    for band in range(64):
        entries = [_held([(band.to_bytes(2, "big") + b"same", rank) for rank in ranks])]
        assert list(fn.process((band, entries), GlobalWindow())) == []
    sent = [value.value for value in fn.finish_bundle()]
    assert len(sent) == 3 + 3  # a1, a2, a3 each once with its keys; a0, a1, a2 marked
    assert [copy[1] for copy, value in sent if value[0] == dedup._PAIR] == ["a1", "a2", "a3"]


def _fingerprinted(fn: Any, articles: list[Any]) -> dict[str | None, list[Any]]:
    """A _Fingerprint-like DoFn driven as the runner drives it (one bundle, the global
    window): its outputs by tag (None: the main one), WindowedValues unwrapped."""
    from apache_beam.transforms.window import GlobalWindow

    outputs: dict[str | None, list[Any]] = {}
    fn.setup()
    fn.start_bundle()
    sent = [out for article in articles for out in fn.process(article, GlobalWindow())]
    sent += list(fn.finish_bundle())
    for out in sent:
        tag = getattr(out, "tag", None)
        value = getattr(out, "value", out)
        outputs.setdefault(tag, []).append(getattr(value, "value", value))
    return outputs


def test_an_lsh_bucket_entry_names_its_article_by_a_key_not_its_rank() -> None:
    """Each of an article's 64 LSH bucket entries carried its whole rank (id, record key,
    source path): ~134 bytes an entry, 8.5 KB an article, which Beam's local runner holds,
    encodes again and copies in the step that groups them (487 -> 1,238 MB at 20,000 JSON
    lines, review 84). An entry is its bucket key and an 8-byte rank_key, whatever the
    path (sent by the fingerprint step since review 91); the rank goes out once an article
    from the url pass, for the pairs step's side input."""
    from apache_beam.coders import FastPrimitivesCoder
    from apache_beam.transforms.window import GlobalWindow

    from newsbeam.transforms import dedup

    config = DedupConfig()
    folder = "/srv/monitoring/nights/2026-03-01/wire-and-regional-press/" + "feeds/" * 20
    articles = [
        _article(f"{folder}night.jsonl#{n}", f"Story {n}: " + _words(n, 60), _day(1))
        for n in range(20)
    ]
    out = _fingerprinted(dedup._Fingerprint(config, buckets_here=True), articles)
    sent = out[dedup._BUCKETS]
    coder = FastPrimitivesCoder()
    per_entry = sum(len(coder.encode(element)) for element in sent) / (20 * config.bands)
    assert per_entry < 40, per_entry  # before: ~270 bytes with this path
    url_pass = dedup._UrlPass(config)
    url_pass.start_bundle()
    side = [
        value.value
        for key, entry in out[None]
        for value in url_pass.process((Entry._make(entry).canonical_url, [entry]), GlobalWindow())
    ]
    ranks = [article_rank(with_identity(article)) for article in articles]
    assert sorted(side) == sorted((dedup.rank_key(rank), rank) for rank in ranks)
    assert not list(url_pass.finish_bundle())  # the entries went out with the fingerprints
    # The pairs step reads the same buckets back through the ranks side input.
    buckets = dedup.entry_buckets([held for _, held in sent], dict(side))
    assert sum(len(ranks) for ranks in buckets.values()) == 20 * config.bands
    assert {rank for held in buckets.values() for rank in held} == set(ranks)


def test_the_exact_and_url_passes_carry_no_signature() -> None:
    """The entries through the exact and url passes' two shuffles carried each article's
    1 KB MinHash signature, held decoded by the local runner's grouping buffers (the step
    before the buckets peaked at 659 MB at 20,000 JSON lines, review 89), only for the url
    pass to cut it into bands. The fingerprint step sends the bucket entries itself; an
    entry names a bucketed article BUCKETED. A copy's bucket entries find no rank in the
    side input (the url pass gives only the articles it keeps) and drop out: the same
    buckets as the entries of the kept articles alone."""
    from apache_beam.coders import FastPrimitivesCoder
    from apache_beam.transforms.window import GlobalWindow

    from newsbeam.transforms import dedup

    config = DedupConfig()
    texts = [f"Report {n}: " + _words(100 + n, 80) for n in range(6)]
    articles = [_article(f"{n}.txt", text, _day(1)) for n, text in enumerate(texts)]
    articles.append(_article("copy.txt", texts[0], _day(2)))  # an exact copy of the first
    out = _fingerprinted(dedup._Fingerprint(config, buckets_here=True), articles)
    coder = FastPrimitivesCoder()
    through = [coder.encode(element) for element in out[None]]
    assert max(map(len, through)) < 300, max(map(len, through))  # before: ~1,300 bytes
    assert {Entry._make(entry).signature for _, entry in out[None]} == {dedup.BUCKETED}
    # The passes as the runner drives them, then the buckets read through their ranks.
    by_text: dict[str, list[Any]] = {}
    for key, entry in out[None]:
        by_text.setdefault(key, []).append(entry)
    kept = [value for group in by_text.items() for value in dedup._exact_pass(group)]
    kept = [value for value in kept if not hasattr(value, "tag")]
    url_pass = dedup._UrlPass(config)
    url_pass.start_bundle()
    ranks = dict(
        value.value
        for key, entry in kept
        for value in url_pass.process((key, [entry]), GlobalWindow())
        if value.tag == dedup._RANKS
    )
    assert len(ranks) == 6  # the exact copy is no bucket member
    buckets = dedup.entry_buckets([held for _, held in out[dedup._BUCKETS]], ranks)
    own = dedup._BucketEntries(config, inline_ranks=True)
    own.start()
    for article in articles[:6]:
        signature, _ = dedup.text_fingerprint(article.text, config)
        own.add(GlobalWindow(), signature, article_rank(with_identity(article)))
    expected = dedup.entry_buckets([held for _, (_, held) in own.elements()], None)
    assert {key: sorted(held) for key, held in buckets.items()} == {
        key: sorted(held) for key, held in expected.items()
    }


def test_a_state_run_looks_up_its_entries_keys_from_the_fingerprint_step(tmp_path) -> None:
    """With a state, the lookup's key hashes (which need the signature's bands) are made by
    the fingerprint step, as _lookup_values made them from the entries that carried it."""
    from newsbeam.transforms import dedup

    config = DedupConfig()
    articles = [
        _article(f"{n}.txt", f"Note {n}: " + _words(300 + n, 70), _day(1)) for n in range(3)
    ]
    out = _fingerprinted(dedup._Fingerprint(config, buckets_here=True, lookups=True), articles)
    full = _fingerprinted(dedup._Fingerprint(config), articles)
    assert out[dedup._LOOKUPS] == [dedup._lookup_values(keyed, config) for keyed in full[None]]


def test_bucket_entries_read_back_through_the_ranks_or_their_own() -> None:
    """The same buckets from rank_keys with the run's ranks as a side input (batch) and with
    each element's own ranks (in windows): the same pairs as (key, rank) entries gave."""
    from newsbeam.transforms import dedup

    ranks = [rank_of(_day(1 + i % 2), 10 + i, f"a{i}", f"{i}.txt") for i in range(6)]
    entries = [(b"k" + bytes([i % 3]), rank) for i, rank in enumerate(ranks)]
    entries += [(b"m" + bytes([i % 2]), rank) for i, rank in enumerate(ranks)]
    keyed = [(key, dedup.rank_key(rank)) for key, rank in entries]
    named = {dedup.rank_key(rank): rank for rank in ranks}
    expected: dict[bytes, list[Any]] = {}
    for key, rank in entries:
        expected.setdefault(key, []).append(rank)
    side = dedup.entry_buckets([tuple(dedup.shard_entries(keyed, None))], named)
    own = dedup.entry_buckets([tuple(dedup.shard_entries(keyed, named))], None)
    assert dict(side) == dict(own) == expected
    empty = dedup.entry_buckets([tuple(dedup.shard_entries([], None))], named)
    assert dict(empty) == {}
    # Two ranks of one identity (an id and source seen twice) stay two members.
    twin = (1, ranks[0][1] + 1, *ranks[0][2:])
    assert dedup.rank_key(twin) != dedup.rank_key(ranks[0])


def test_the_state_lookup_sends_an_entrys_keys_as_one_element() -> None:
    """With --state, each entry's ~66 key hashes were as many int elements of a list side
    input: 3.3 million Python ints at 50,000 lines, and a set of them again (review 89).
    One element an entry, its keys as bytes; the lookup reads them as one sorted array."""
    from newsbeam.transforms import dedup

    config = DedupConfig()
    values = []
    for n in range(3):
        text = f"Report {n}: " + " ".join(f"term{n}x{i}" for i in range(60))
        signature, shingles = dedup.text_fingerprint(text, config)
        rank = rank_of(_day(1), 60, f"n{n}", f"/new/{n}.txt")
        fingerprint = dedup.Fingerprint(f"n{n}", f"/new/{n}.txt", rank, signature, shingles)
        keyed = next(iter(dedup._entry_values(fingerprint, f"hash{n}", None, config)))
        element = dedup._lookup_values(keyed, config)
        assert isinstance(element, bytes)  # one element, not a generator of ints
        own = dedup.lookup_keys(keyed[0], Entry._make(keyed[1]), config)
        assert np.array_equal(np.frombuffer(element, dtype=np.uint64), own)
        values.append(own)
    wanted = dedup.wanted_keys([v.tobytes() for v in values])
    assert wanted.tolist() == sorted({int(key) for keys in values for key in keys})
    assert dedup.wanted_keys([]).tolist() == []
    assert dedup.holds_any(wanted, values[1][:1]) and not dedup.holds_any(wanted, values[0][:0])
    missing = np.array([key for key in range(5) if key not in set(wanted.tolist())], np.uint64)
    assert not dedup.holds_any(wanted, missing)
    assert not dedup.holds_any(np.zeros(0, dtype=np.uint64), values[0])


def test_a_bundles_bucket_entries_are_held_as_they_are_sent() -> None:
    """_BucketEntries holds a shard's entries as one bytearray of keys and one array of
    rank_keys (a list of (key, rank_key) tuples was ~180 MB for a bundle of 20,000
    articles): the elements are what shard_entries makes of the same entries, in order."""
    from apache_beam.transforms.window import GlobalWindow

    from newsbeam.transforms import dedup

    config = DedupConfig(bucket_shards=4)
    for inline in (False, True):
        held = dedup._BucketEntries(config, inline_ranks=inline)
        held.start()
        entries: dict[int, list[tuple[bytes, int]]] = {}
        ranks: dict[int, dict[int, Any]] = {}
        for n in range(5):
            signature, _ = dedup.text_fingerprint(f"Item {n}: " + _words(500 + n, 60), config)
            rank = rank_of(_day(1), 60, f"i{n}", f"{n}.txt")
            member = held.add(GlobalWindow(), signature, rank)
            assert member == dedup.rank_key(rank)
            for key in dedup.band_keys(signature, config.bands, config.rows):
                shard = dedup.bucket_shard(key, config.bucket_shards)
                entries.setdefault(shard, []).append((key, member))
                ranks.setdefault(shard, {})[member] = rank
        sent = {shard: element for _, (shard, element) in held.elements()}
        assert sent == {
            shard: tuple(dedup.shard_entries(listed, ranks[shard] if inline else None))
            for shard, listed in entries.items()
        }
        assert not list(held.elements())  # empty again for the next bundle
