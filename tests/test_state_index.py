"""The earlier state looked up in memory (support/state_index.py) and carried over file by
file (support/state.py carry_file): pure functions on real Parquet files, without Beam."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsbeam.transforms import dedup, stories
from newsbeam.transforms.support import loaded, state
from newsbeam.transforms.support.rank import rank_of
from newsbeam.transforms.support.state import (
    DEDUP_ARTICLES,
    DEDUP_STORIES,
    carry_file,
    read_arrow,
    stamped,
)
from newsbeam.transforms.support.state_index import band_hashes

CONFIG = dedup.DedupConfig()
DAY = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
WORDS = "harbour council budget storm bridge ferry minister court river school".split()


def _text(seed: int, words: int = 120) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(words))


def _row(number: int, text: str, url: str | None, first_seen: dt.datetime) -> dict:
    signature, shingles = dedup.text_fingerprint(text, CONFIG)
    return {
        "article_id": f"a{number:03d}",
        "source": f"/in/{number:03d}.txt",
        "content_hash": f"hash{number}",
        "canonical_url": url,
        "published_at": None,
        "word_count": len(text.split()),
        "signature": signature.tolist(),
        "shingles": shingles.tolist(),
        "story_id": f"a{number:03d}",
        "first_seen_at": first_seen,
    }


def _write(path: Path, rows: list[dict], schema: pa.Schema) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=stamped(schema)), path)
    return str(path)


def _entry_keys(text: str, content_hash: str, url: str | None, number: int = 999):
    """The lookup keys of a new article with this text, hash and URL."""
    signature, shingles = dedup.text_fingerprint(text, CONFIG)
    rank = rank_of(None, len(text.split()), f"n{number}", f"/new/{number}.txt")
    fingerprint = dedup.Fingerprint(f"n{number}", f"/new/{number}.txt", rank, signature, shingles)
    text_key, entry = next(iter(dedup._entry_values(fingerprint, content_hash, url, CONFIG)))
    return dedup.lookup_keys(text_key, dedup.Entry._make(entry), CONFIG).tolist()


@pytest.fixture(autouse=True)
def _fresh_cache():
    loaded.forget()
    yield
    loaded.forget()


def test_band_hashes_depend_on_the_band_and_its_values() -> None:
    signatures = [[1, 2, 3, 4], [1, 2, 3, 5], [3, 4, 1, 2]]
    hashes = band_hashes(np.array(signatures, dtype=np.uint64), bands=2, rows=2)
    assert hashes.shape == (3, 2)
    assert hashes[0, 0] == hashes[1, 0]  # same first band
    assert hashes[0, 1] != hashes[1, 1]  # its second band differs
    assert hashes[0, 0] != hashes[2, 1]  # same values in another band: another bucket


def test_an_article_finds_the_earlier_rows_it_shares_a_key_with(tmp_path: Path) -> None:
    texts = [_text(seed) for seed in range(6)]
    rows = [
        _row(n, text, f"https://example.org/{n}" if n % 2 else None, DAY)
        for n, text in enumerate(texts)
    ]
    index = dedup.dedup_index([_write(tmp_path / "a.parquet", rows, DEDUP_ARTICLES.schema)], CONFIG)
    assert index.rows_held == 6
    # The same text under another hash: found through its LSH bands only.
    near = index.rows(_entry_keys(texts[2], "other", None), None, "article_id")
    assert [row["article_id"] for row in near] == ["a002"]
    # The same text hash, and the same URL: found by each key.
    assert [
        r["article_id"] for r in index.rows(_entry_keys("x y", "hash4", None), None, "article_id")
    ] == ["a004"]
    same_url = _entry_keys("x y", "h", "https://example.org/3")
    assert [r["article_id"] for r in index.rows(same_url, None, "article_id")] == ["a003"]
    # An unrelated text shares nothing.
    assert index.rows(_entry_keys(_text(99), "h99", None), None, "article_id") == []
    # A row is returned whole, in the table's columns.
    assert set(near[0]) == set(DEDUP_ARTICLES.schema.names)


def test_the_retention_is_applied_at_lookup(tmp_path: Path) -> None:
    text = _text(1)
    rows = [_row(1, text, None, DAY), _row(2, text, None, DAY + dt.timedelta(days=3))]
    index = dedup.dedup_index([_write(tmp_path / "a.parquet", rows, DEDUP_ARTICLES.schema)], CONFIG)
    keys = _entry_keys(text, "other", None)
    assert [r["article_id"] for r in index.rows(keys, None, "article_id")] == ["a001", "a002"]
    since = DAY + dt.timedelta(days=1)
    assert [r["article_id"] for r in index.rows(keys, since, "article_id")] == ["a002"]


def test_files_are_loaded_once_per_process(tmp_path: Path) -> None:
    first = _write(
        tmp_path / "v1" / "p1.parquet", [_row(1, _text(1), None, DAY)], DEDUP_ARTICLES.schema
    )
    one = dedup.dedup_index([first], CONFIG)
    # The next version carries p1 under the same name and adds p2: p1 is not read again.
    carried = tmp_path / "v2" / "p1.parquet"
    carried.parent.mkdir()
    carried.write_bytes(Path(first).read_bytes())
    second = _write(
        tmp_path / "v2" / "p2.parquet", [_row(2, _text(2), None, DAY)], DEDUP_ARTICLES.schema
    )
    two = dedup.dedup_index([str(carried), second], CONFIG)
    assert two.segments[0] is one.segments[0]
    assert two.rows_held == 2
    # A file dropped from the state is dropped from memory.
    three = dedup.dedup_index([second], CONFIG)
    assert three.segments == (two.segments[1],)
    assert dedup.dedup_index([str(carried), second], CONFIG).segments[0] is not one.segments[0]


def _story_row(number: int, terms: dict[str, float], first_seen: dt.datetime) -> dict:
    return {
        "story_id": f"s{number % 7}",
        "article_id": f"a{number:03d}",
        "published_at": None,
        "terms": list(terms),
        "counts": list(terms.values()),
        "first_seen_at": first_seen,
    }


def _terms(rng: random.Random, words: int) -> dict[str, float]:
    vocabulary = [f"t{rank}" for rank in range(5000)]
    weights = [1 / (rank + 1) ** 0.5 for rank in range(5000)]
    drawn = rng.choices(vocabulary, weights, k=words)
    return {term: float(drawn.count(term)) for term in dict.fromkeys(drawn)}


def test_stories_take_exactly_the_earlier_articles_clustering_would_keep(tmp_path: Path) -> None:
    rng = random.Random(7)
    config = stories.StoryConfig()
    rows = [_story_row(n, _terms(rng, 60), DAY) for n in range(300)]
    docs = [stories.StoryDoc(f"n{n}", (1,), None, _terms(rng, 80)) for n in range(5)]
    # Two new articles close to earlier ones: the same terms, a little changed.
    docs.append(
        stories.StoryDoc(
            "n-close-1",
            (1,),
            None,
            {**dict(zip(rows[3]["terms"], rows[3]["counts"], strict=True)), "x": 1.0},
        )
    )
    docs.append(
        stories.StoryDoc(
            "n-close-2",
            (1,),
            None,
            dict(zip(rows[250]["terms"][:40], rows[250]["counts"][:40], strict=True)),
        )
    )
    earlier = stories.TermFrequencies(900, {f"t{rank}": 900 // (rank + 1) for rank in range(5000)})
    half = 150
    index = stories.story_index(
        [
            _write(tmp_path / "s1.parquet", rows[:half], DEDUP_STORIES.schema),
            _write(tmp_path / "s2.parquet", rows[half:], DEDUP_STORIES.schema),
        ]
    )
    found = stories.candidate_priors(docs, earlier, index, None, config)
    # The reference: every earlier article's vector, as cluster_stories builds them.
    priors = sorted(stories.prior_story(row) for row in rows)
    frequencies = stories.add_frequencies(earlier, docs)
    kept = stories._candidate_priors(
        stories.tfidf_vectors((d.terms for d in docs), frequencies),
        stories.tfidf_vectors((p.terms for p in priors), frequencies),
        config,
    )
    expected = sorted(priors[i].article_id for i in kept)
    assert {"a003", "a250"} <= set(expected)
    assert 2 <= len(expected) < len(rows)  # a real choice, not all or nothing
    assert [p.article_id for p in found] == expected
    assert found[0] == next(p for p in priors if p.article_id == expected[0])
    # The retention applies: rows first seen before the cut-off take no part.
    assert stories.candidate_priors(docs, earlier, index, DAY + dt.timedelta(days=1), config) == []


# The carry-over as tables that drop their forgotten rows (all but dedup articles) do it.
DROPPING = dataclasses.replace(DEDUP_ARTICLES, forget=())


def test_carrying_a_file_copies_it_whole_or_keeps_its_retained_rows(tmp_path: Path) -> None:
    old, new = DAY - dt.timedelta(days=30), DAY
    source = _write(
        tmp_path / "v1" / "part-x.parquet",
        [_row(1, _text(1), None, old), _row(2, _text(2), None, new), _row(3, _text(3), None, new)],
        DEDUP_ARTICLES.schema,
    )
    out = tmp_path / "v2"
    # No retention: the same file under the same name.
    whole = carry_file(source, str(out), DEDUP_ARTICLES, None)
    assert whole == {
        "target": DEDUP_ARTICLES.name,
        "name": "part-x.parquet",
        "rows": 3,
        "pruned": 0,
    }
    assert (out / "part-x.parquet").read_bytes() == Path(source).read_bytes()
    # A cut-off inside the file: its retained rows, under a name of their own.
    cut = DAY - dt.timedelta(days=1)
    part = carry_file(source, str(out), DROPPING, cut)
    assert (part["rows"], part["pruned"]) == (2, 1)
    assert part["name"] != "part-x.parquet"
    kept = read_arrow(str(out / part["name"]), DEDUP_ARTICLES)
    assert kept.column("article_id").to_pylist() == ["a002", "a003"]
    assert kept.schema.metadata == stamped(DEDUP_ARTICLES.schema).metadata
    # Everything before the cut-off: nothing written.
    gone = carry_file(source, str(out), DROPPING, DAY + dt.timedelta(days=1))
    assert gone["name"] is None and gone["pruned"] == 3
    # The dedup table keeps its forgotten rows, thin, under a name of their own; carried
    # again, the thin file is copied as it is (nothing pruned twice).
    thin = carry_file(source, str(out), DEDUP_ARTICLES, cut)
    assert (thin["rows"], thin["pruned"], thin["name"]) == (3, 1, "part-x-forgot1.parquet")
    rows = read_arrow(str(out / thin["name"]), DEDUP_ARTICLES).to_pylist()
    assert [len(r["signature"]) > 0 for r in rows] == [False, True, True]
    again = carry_file(str(out / thin["name"]), str(tmp_path / "v3"), DEDUP_ARTICLES, cut)
    assert (again["rows"], again["pruned"], again["name"]) == (3, 0, thin["name"])


def test_many_small_files_are_merged_as_they_are_carried(tmp_path: Path) -> None:
    big = state.SMALL_FILE_BYTES
    few = {f"/s/p{n}.parquet": 100 for n in range(state.MAX_SMALL_FILES)}
    assert state.carry_plan({**few, "/s/big.parquet": big}) == [
        (path,) for path in sorted([*few, "/s/big.parquet"])
    ]
    many = {**few, "/s/p99.parquet": 100, "/s/big.parquet": big}
    plan = state.carry_plan(many)
    assert plan[0] == ("/s/big.parquet",)  # grown past the size: carried as it is
    assert plan[1:] == [tuple(sorted(set(many) - {"/s/big.parquet"}))]

    old, new = DAY - dt.timedelta(days=30), DAY
    paths = [
        _write(
            tmp_path / "v1" / "a.parquet", [_row(1, _text(1), None, new)], DEDUP_ARTICLES.schema
        ),
        _write(
            tmp_path / "v1" / "b.parquet",
            [_row(2, _text(2), None, old), _row(3, _text(3), None, new)],
            DEDUP_ARTICLES.schema,
        ),
    ]
    out = tmp_path / "v2"
    entry = state.carry_files(paths, str(out), DROPPING, DAY - dt.timedelta(days=1))
    assert (entry["rows"], entry["pruned"]) == (2, 1)
    assert entry["name"] == state.merged_name(paths)
    merged = read_arrow(str(out / entry["name"]), DEDUP_ARTICLES)
    assert merged.column("article_id").to_pylist() == ["a001", "a003"]
    assert merged.schema.metadata == stamped(DEDUP_ARTICLES.schema).metadata
    thin = state.carry_files(paths, str(tmp_path / "v3"), DEDUP_ARTICLES, DAY - dt.timedelta(1))
    assert (thin["rows"], thin["pruned"]) == (3, 1)
    # The merged file is a state file like any other: the index finds its rows.
    index = dedup.dedup_index([str(out / entry["name"])], CONFIG)
    assert [
        r["article_id"] for r in index.rows(_entry_keys(_text(3), "x", None), None, "article_id")
    ] == ["a003"]
