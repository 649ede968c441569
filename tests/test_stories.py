"""Stage: stories. Story clustering (pure functions, then the Beam stage on the seeds)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.schemas import Article, RawDocument
from newsbeam.transforms import stories as stories_module
from newsbeam.transforms.clean import clean_article
from newsbeam.transforms.extract import extract_text_document, new_article
from newsbeam.transforms.stories import (
    NO_FREQUENCIES,
    ClusterStories,
    FlatVectors,
    StoryConfig,
    StoryDoc,
    TermFrequencies,
    _tokens,
    add_frequencies,
    average_link,
    cannot_link,
    claim_stories,
    cluster_rows,
    cluster_stories,
    condensed_distance,
    conflicting_names,
    counted_frequencies,
    counted_story_rows,
    document_frequency,
    first_versions,
    flat_key_names,
    frequency_columns,
    group_similarity,
    key_names,
    kth_largest,
    link_graph,
    neighbour_similarity,
    pack_doc,
    prior_story,
    split_similarity,
    split_small_stories,
    story_names,
    story_rows,
    story_terms,
    term_frequencies,
    tfidf_vectors,
    top_links,
    undated_pairs,
    unit_tfidf,
    unpack_doc,
    unpack_run,
)
from newsbeam.transforms.support.state import StateContext
from tests.helpers import make_test_pipeline

UTC = dt.timezone.utc
CONFIG = StoryConfig()
RUN_AT = dt.datetime(2024, 5, 2, 6, 0, tzinfo=UTC)


def _doc(article_id: str, text: str, day: int | None = None) -> StoryDoc:
    published = dt.datetime(2024, 5, day, tzinfo=UTC) if day else None
    rank = (1, published or dt.datetime.max.replace(tzinfo=UTC), 0, article_id, article_id)
    terms = story_terms(None, text, CONFIG)
    return StoryDoc(article_id, rank, published, terms, story_names(None, text))


def _vectors(docs: list[StoryDoc]) -> list[dict[str, float]]:
    """The docs' tf-idf vectors, their own document frequencies (no earlier state)."""
    return tfidf_vectors((d.terms for d in docs), add_frequencies(NO_FREQUENCIES, docs))


def _random_docs(seed: int, words: str, count: int, length: int, days: int) -> list[StoryDoc]:
    """`count` docs of `length` words drawn (seeded) from `words`, over `days` days: many
    weak, overlapping links, for the clustering's block-by-block paths."""
    rng = random.Random(seed)
    vocabulary = words.split()
    return [
        _doc(f"d{i:02d}", " ".join(rng.choice(vocabulary) for _ in range(length)), 1 + i % days)
        for i in range(count)
    ]


QUAKE = "A magnitude {m} earthquake struck {place} on {day}, killing {n} people and damaging {x}."
QUAKE_A = [
    QUAKE.format(m="6.1", place="Bam in Iran", day="Friday", n="300", x="the old citadel"),
    QUAKE.format(m="6.1", place="Bam, Iran", day="Friday", n="310", x="the citadel of Bam"),
    QUAKE.format(m="6.1", place="Iran's Bam", day="Friday", n="300", x="homes in Bam"),
]
QUAKE_B = [
    QUAKE.format(m="7.4", place="Chile's Valparaiso", day="Monday", n="12", x="the port"),
    QUAKE.format(m="7.4", place="Valparaiso in Chile", day="Monday", n="14", x="Valparaiso port"),
]
FOOTBALL = "The football club Rovers signed a new striker from Lisbon for a record fee."


def test_names_and_numbers_weigh_more() -> None:
    terms = story_terms("Quake", "The quake hit Bam. Rescuers found 300 people.", CONFIG)
    assert terms["bam"] == CONFIG.name_weight * (1 + CONFIG.lead_weight)
    assert terms["#300"] == CONFIG.number_weight * (1 + CONFIG.lead_weight)
    assert "the" not in terms and terms["quake"] > 0  # title and text, stop words out
    # A capitalised word starting a sentence is not a name.
    assert story_terms(None, "Rescuers came.", CONFIG)["rescuers"] == 1 + CONFIG.lead_weight


def test_two_similar_events_stay_apart_in_any_order() -> None:
    docs = [_doc(f"a{i}", t) for i, t in enumerate(QUAKE_A)]
    docs += [_doc(f"b{i}", t) for i, t in enumerate(QUAKE_B)] + [_doc("f", FOOTBALL)]
    results = []
    for seed in (1, 2, 3):
        random.Random(seed).shuffle(docs)
        results.append(cluster_stories(docs, [], CONFIG)[0])
    assert results[0] == results[1] == results[2]
    stories = results[0]
    assert stories["a0"] == stories["a1"] == stories["a2"] == "a0"  # earliest rank: a0
    assert stories["b0"] == stories["b1"] == "b0"
    assert stories["f"] == "f"


def test_dates_too_far_apart_never_share_a_story() -> None:
    close = cluster_stories([_doc("x", QUAKE_A[0], 1), _doc("y", QUAKE_A[1], 3)], [], CONFIG)[0]
    assert close["x"] == close["y"]
    far = cluster_stories([_doc("x", QUAKE_A[0], 1), _doc("y", QUAKE_A[1], 20)], [], CONFIG)[0]
    assert far["x"] != far["y"]


def test_new_article_joins_an_earlier_story() -> None:
    earlier = [
        _doc("bam", QUAKE_A[0], 1),
        _doc("bam3", QUAKE_A[2], 1),
        _doc("chile", QUAKE_B[0], 1),
        _doc("f", FOOTBALL, 1),
    ]
    stories, vectors = cluster_stories(earlier, [], CONFIG)
    rows = story_rows(earlier, stories, vectors, CONFIG, RUN_AT)
    assert {(r["article_id"], r["story_id"]) for r in rows} == {
        ("bam", "bam"),
        ("bam3", "bam"),
        ("chile", "chile"),
        ("f", "f"),
    }
    # The state keeps term counts, not weights: later runs weight them with their own IDF.
    assert rows[0]["counts"] == [earlier[0].terms[t] for t in rows[0]["terms"]]
    assert {r["first_seen_at"] for r in rows} == {RUN_AT}  # the run's start, for retention
    priors = [prior_story(row) for row in rows]
    seen = add_frequencies(NO_FREQUENCIES, earlier)
    today = [_doc("bam2", QUAKE_A[1], 2), _doc("chile2", QUAKE_B[1], 2)]
    expected = {"bam2": "bam", "chile2": "chile"}
    assert cluster_stories(today, priors, CONFIG, seen)[0] == expected
    assert cluster_stories(today, priors, CONFIG)[0] == expected  # without frequencies too
    # Too far in time from the earlier articles: a story of its own.
    late = [_doc("late", QUAKE_A[1], 30)]
    assert cluster_stories(late, priors, CONFIG, seen)[0] == {"late": "late"}


def test_an_earlier_story_is_continued_by_one_group_only() -> None:
    # Yesterday's run put both earthquakes into one story: today's reports of the Chilean
    # quake start a story of their own instead of joining it.
    earlier = [_doc(f"a{i}", t, 1) for i, t in enumerate(QUAKE_A)] + [_doc("b0", QUAKE_B[0], 1)]
    merged = {doc.article_id: "a0" for doc in earlier}
    rows = story_rows(
        earlier,
        merged,
        dict(
            zip(
                merged,
                tfidf_vectors((d.terms for d in earlier), add_frequencies(NO_FREQUENCIES, earlier)),
                strict=True,
            )
        ),
        CONFIG,
        RUN_AT,
    )
    priors = [prior_story(row) for row in rows]
    today = [_doc("a9", QUAKE_A[1], 2), _doc("b1", QUAKE_B[1], 2), _doc("b2", QUAKE_B[0], 2)]
    stories = cluster_stories(today, priors, CONFIG, add_frequencies(NO_FREQUENCIES, earlier))[0]
    assert stories == {"a9": "a0", "b1": "b1", "b2": "b1"}


def test_earlier_articles_of_different_stories_stay_apart() -> None:
    docs = [_doc("x", QUAKE_A[0]), _doc("y", QUAKE_A[1]), _doc("z", QUAKE_A[2])]
    vectors = _vectors(docs)
    assert len(set(cluster_rows(docs, vectors, CONFIG))) == 1
    # x and y are earlier articles of two stories: they never end in one group.
    apart = cluster_rows(docs, vectors, CONFIG, ["s", "t", None])
    assert apart[0] != apart[1]
    assert len(set(cluster_rows(docs, vectors, CONFIG, ["s", "s", None]))) == 1


def test_claim_stories_is_one_to_one() -> None:
    # The group holding most of a story's members continues it; others start new stories.
    assert claim_stories([["s", "s"], ["s", "s", "s"], []]) == [None, "s", None]
    # A group continues the story it holds most of; ties go to the smaller id.
    assert claim_stories([["t", "s", "s"], ["t", "t"]]) == ["s", "t"]
    assert claim_stories([["u", "t"]]) == ["t"]
    # A group of earlier articles only claims too: two of six members cannot take it.
    assert claim_stories([["s"] * 4, ["s", "s"]]) == ["s", None]


def test_stored_term_frequencies_are_read_from_their_part_files(tmp_path: Path) -> None:
    from newsbeam.transforms.support.bundle_files import write_columns
    from newsbeam.transforms.support.state import STORY_TERMS, stamped

    schema = stamped(STORY_TERMS.schema)
    first = TermFrequencies(2, {"quake": 2, "bam": 1})
    names = [
        write_columns(str(tmp_path), "part", frequency_columns(first), schema),
        # A second file (an older state's, or a table split in parts): article counts add
        # up, a term's latest count stands.
        write_columns(str(tmp_path), "part", {"term": ["", "chile"], "articles": [1, 1]}, schema),
    ]
    paths = [str(tmp_path / name) for name in names]
    assert stories_module.stored_frequencies(paths) == TermFrequencies(
        3, {"quake": 2, "bam": 1, "chile": 1}
    )
    assert stories_module.stored_frequencies([]) == NO_FREQUENCIES


def test_term_frequencies_span_runs_and_round_trip() -> None:
    first = [_doc("x", "Quake hits Bam"), _doc("y", "Quake hits Chile")]
    frequencies = add_frequencies(NO_FREQUENCIES, first)
    assert frequencies == TermFrequencies(2, {"quake": 2, "hits": 2, "bam": 1, "chile": 1})
    columns = frequency_columns(frequencies)
    assert columns == {
        "term": ["", "bam", "chile", "hits", "quake"],  # the article count first
        "articles": [2, 1, 1, 2, 2],
    }
    assert term_frequencies(columns["term"], columns["articles"]) == frequencies
    both = add_frequencies(frequencies, [_doc("z", "Chile counts its dead")])
    assert both.articles == 3 and both.frequency["chile"] == 2
    # The IDF spans both runs: "chile" (2 of 3 articles) weighs less than "bam" (1 of 3).
    (vector,) = tfidf_vectors([{"bam": 1.0, "chile": 1.0}], both)
    assert vector["bam"] > vector["chile"] > 0


def test_neighbour_similarity_is_symmetric_with_unit_diagonal() -> None:
    docs = [_doc(str(i), t) for i, t in enumerate(QUAKE_A + QUAKE_B)]
    vectors = _vectors(docs)
    first = np.array(
        [[sum(v * b.get(t, 0) for t, v in a.items()) for b in vectors] for a in vectors]
    )
    second = neighbour_similarity(first, 3)
    assert np.allclose(second, second.T) and np.allclose(np.diag(second), 1.0)


def _seed_articles(seeds_dir: Path) -> list[Article]:
    """The seeds extracted and cleaned, in name order."""
    return [
        clean_article(extract_text_document(RawDocument(str(p), "text", p.read_bytes())))
        for p in sorted(seeds_dir.iterdir())
    ]


def test_seed_stories(seeds_dir: Path) -> None:
    articles = _seed_articles(seeds_dir)
    with make_test_pipeline() as pipeline:
        stories = (
            pipeline
            | beam.Create(articles)
            | ClusterStories()
            | beam.Map(lambda a: (Path(a.source).name[:3], a.story_id))
            | beam.combiners.ToDict()
            # 001 and 002 (a rewrite of 001's event) share a story; the rest are apart.
            | beam.Map(lambda s: (s["001"] == s["002"], len({s[k] for k in s if k != "002"})))
        )
        assert_that(stories, equal_to([(True, 4)]))


def _assert_windowed_stories(
    seeds_dir: Path, hour_of: dict[str, int], expected: list[list[str]]
) -> None:
    """The seeds' stories (lists of file numbers) are `expected`, each seed stamped at the
    hour `hour_of` gives (0 by default) and windowed by the hour, as a user's windowed
    pipeline has them."""
    articles = _seed_articles(seeds_dir)
    with make_test_pipeline() as pipeline:
        stories = (
            pipeline
            | beam.Create(articles)
            | "Stamp"
            >> beam.Map(
                lambda a: beam.window.TimestampedValue(
                    a, 3600 * hour_of.get(Path(a.source).name[:3], 0) + 60
                )
            )
            | "Hours" >> beam.WindowInto(beam.window.FixedWindows(3600))
            | ClusterStories()
            | "ByStory" >> beam.Map(lambda a: (a.story_id, Path(a.source).name[:3]))
            | "Whole" >> beam.WindowInto(beam.window.GlobalWindows())
            | beam.GroupByKey()
            | "Names" >> beam.Map(lambda kv: sorted(kv[1]))
        )
        assert_that(stories, equal_to(expected))


def test_windowed_articles_are_clustered_within_their_window(seeds_dir: Path) -> None:
    # Every article was a story of its own: the whole run's clustering read the windowed
    # docs from the global window, where they are not.
    _assert_windowed_stories(seeds_dir, {}, [["000"], ["001", "002"], ["003"], ["004"]])
    # A rewrite in another window is clustered there, not with 001.
    apart = [["000"], ["001"], ["002"], ["003"], ["004"]]
    _assert_windowed_stories(seeds_dir, {"002": 1}, apart)


def test_windowed_articles_with_a_state_are_refused(tmp_path: Path) -> None:
    state = StateContext(state_dir=None, state_out_dir=str(tmp_path))
    pipeline = make_test_pipeline()
    windowed = (
        pipeline
        | beam.Create([])
        | beam.WindowInto(beam.window.FixedWindows(60)).with_output_types(Article)
    )
    with pytest.raises(ValueError, match="ClusterStoriesStream"):
        _ = windowed | ClusterStories(StoryConfig(), state)


def test_oversized_linked_groups_are_split_again() -> None:
    docs = [_doc(f"a{i}", t) for i, t in enumerate(QUAKE_A)]
    docs += [_doc(f"b{i}", t) for i, t in enumerate(QUAKE_B)] + [_doc("f", FOOTBALL)]
    small = dataclasses.replace(CONFIG, max_component=3)
    assert cluster_stories(docs, [], small)[0] == cluster_stories(docs, [], CONFIG)[0]


def _twin_stories(within: float, across: float) -> np.ndarray:
    """Cosines of two three-report stories on one subject: `within` a story, `across`."""
    story = np.repeat([0, 1], 3)
    similarity = np.where(story[:, None] == story[None, :], within, across)
    np.fill_diagonal(similarity, 1.0)
    return similarity


def test_small_group_of_twin_stories_is_split() -> None:
    similarity = _twin_stories(within=0.6, across=0.3)
    assert len(similarity) > CONFIG.plain_component
    # Plain cosine merges them: every report is 0.3 close to the other story's.
    assert len(set(average_link(similarity, CONFIG.small_threshold))) == 1
    assert average_link(*group_similarity(similarity, CONFIG)) == [1, 1, 1, 2, 2, 2]


def test_small_group_of_one_story_stays_whole() -> None:
    rng = np.random.default_rng(3)
    for size in (6, 8, 10):
        noisy = 0.5 + rng.uniform(0, 0.05, (size, size))  # reports all about equally alike
        noisy = (noisy + noisy.T) / 2
        np.fill_diagonal(noisy, 1.0)
        assert len(set(average_link(*group_similarity(noisy, CONFIG)))) == 1


def test_group_similarity_by_group_size() -> None:
    three = _twin_stories(0.5, 0.3)[: CONFIG.plain_component - 1, : CONFIG.plain_component - 1]
    assert group_similarity(three, CONFIG)[1] == CONFIG.small_threshold  # plain cosine
    large = np.random.default_rng(5).uniform(0.1, 0.6, (CONFIG.neighbours + 1,) * 2)
    large = (large + large.T) / 2
    second, threshold = group_similarity(large, CONFIG)
    assert threshold == CONFIG.threshold
    assert np.allclose(second, neighbour_similarity(large, CONFIG.neighbours))


def test_undated_pairs_are_those_lacking_a_date_on_either_side() -> None:
    day = dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert undated_pairs([day, day, None]).tolist() == [[0, 0, 1], [0, 0, 1], [1, 1, 1]]
    assert undated_pairs([None, None]).tolist() == [[1, 1], [1, 1]]


def _pair(cosine: float) -> list[dict[str, float]]:
    """Two unit vectors `cosine` apart."""
    return [{"a": 1.0}, {"a": cosine, "b": (1.0 - cosine**2) ** 0.5}]


def test_a_small_group_without_dates_needs_more_similarity() -> None:
    cosine = CONFIG.small_threshold + CONFIG.undated_margin / 2
    assert cosine >= CONFIG.min_similarity
    similarity = np.array([[1.0, cosine], [cosine, 1.0]])
    day = dt.datetime(2024, 5, 1, tzinfo=UTC)
    # Dated within `max_days`: time backs the text, the pair is one story.
    assert average_link(*group_similarity(similarity, CONFIG, [day, day])) == [1, 1]
    # Without a date on either side (or none given) the same text is not enough.
    for dates in ([day, None], [None, None], None):
        assert average_link(*group_similarity(similarity, CONFIG, dates)) == [1, 2]
    # A margin of 0 is the plain threshold.
    plain = dataclasses.replace(CONFIG, undated_margin=0.0)
    assert average_link(*group_similarity(similarity, plain, [None, None])) == [1, 1]
    # cluster_rows passes each article's date on.
    dated = [_doc("a", "x", day=1), _doc("b", "y", day=2)]
    undated = [_doc("a", "x"), _doc("b", "y")]
    assert len(set(cluster_rows(dated, _pair(cosine), CONFIG))) == 1
    assert len(set(cluster_rows(undated, _pair(cosine), CONFIG))) == 2
    # Clearly similar undated reports still share a story.
    assert len(set(cluster_rows(undated, _pair(cosine + CONFIG.undated_margin), CONFIG))) == 1


def test_split_small_stories_splits_twins_found_in_a_large_group() -> None:
    twins = _twin_stories(within=0.6, across=0.3)
    large = np.full((12, 12), 0.05)
    large[:6, :6] = twins
    large[6:, 6:] = 0.5
    np.fill_diagonal(large, 1.0)
    groups = [1] * 6 + [2] * 6  # what profiles over 10 neighbours found
    assert split_small_stories(large, groups, CONFIG) == [1, 1, 1, 2, 2, 2] + [3] * 6
    # A story larger than `neighbours` is left as it is.
    assert split_small_stories(large, [1] * 12, CONFIG) == [1] * 12


def test_split_small_stories_splits_twins_in_a_group_of_four() -> None:
    four = _twin_stories(within=0.6, across=0.3)[1:5, 1:5]  # two reports of each story
    large = np.full((10, 10), 0.05)
    large[:4, :4] = four
    large[4:, 4:] = 0.5
    np.fill_diagonal(large, 1.0)
    assert CONFIG.split_from <= 4 <= CONFIG.plain_component
    # Plain cosine (what a group of four on its own is clustered on) keeps them together.
    assert len(set(average_link(four, CONFIG.small_threshold))) == 1
    groups = [1] * 4 + [2] * 6
    assert split_small_stories(large, groups, CONFIG) == [1, 1, 2, 2] + [3] * 6
    # Below `split_from` a group is left as it is.
    fewer = dataclasses.replace(CONFIG, split_from=5)
    assert split_small_stories(large, groups, fewer) == [1] * 4 + [2] * 6


def test_split_similarity_keeps_a_story_of_four_whole() -> None:
    rng = np.random.default_rng(7)
    for size in range(CONFIG.split_from, CONFIG.neighbours + 1):
        noisy = 0.4 + rng.uniform(0, 0.05, (size, size))  # reports all about equally alike
        noisy = (noisy + noisy.T) / 2
        np.fill_diagonal(noisy, 1.0)
        assert len(set(average_link(*split_similarity(noisy, CONFIG)))) == 1


def test_top_links_keeps_each_rows_strongest_ties_to_lower_columns() -> None:
    values = np.array([[0.9, 0.5, 0.5, 0.5, -np.inf], [-np.inf, -np.inf, 0.2, 0.8, 0.8]])
    assert top_links(values, 2).tolist() == [
        [True, True, False, False, False],
        [False, False, False, True, True],
    ]
    assert top_links(values, 9).tolist() == np.isfinite(values).tolist()


def test_the_link_graph_in_blocks_equals_the_whole_product(monkeypatch) -> None:
    words = "quake flood fire storm city river mayor police court vote"
    docs = _random_docs(3, words, count=40, length=12, days=20)
    vectors = _vectors(docs)
    matrix = stories_module._term_matrix(vectors)
    dates = [d.published_at for d in docs]
    config = dataclasses.replace(CONFIG, max_links=0)
    whole = link_graph(matrix, dates, config).toarray()
    monkeypatch.setattr(stories_module, "_BLOCK_VALUES", 7 * 40)  # blocks of 7 rows
    assert np.array_equal(link_graph(matrix, dates, config).toarray(), whole)
    # The brute force: every pair at least min_similarity alike and at most max_days apart.
    product = (matrix @ matrix.T).toarray()
    days = np.array([[abs((a - b).days) for b in dates] for a in dates])
    expected = np.where((product >= CONFIG.min_similarity) & (days <= CONFIG.max_days), product, 0)
    assert np.allclose(whole, expected)
    capped = link_graph(matrix, dates, dataclasses.replace(CONFIG, max_links=3)).toarray()
    assert ((capped > 0).sum(axis=1) <= 2 * 3 + 1).all() and (capped > 0).sum() < (whole > 0).sum()


def test_the_link_graphs_blocks_stay_small_beside_a_1_gb_container() -> None:
    """Built in blocks of rows x all articles, dense: 10 million values a block took ~290 MB
    at the step's peak from ~3,200 articles on (20,000 short JSON lines: the run's peak, a
    third of a 1 GB container; review 84). Measured as allocated, not by a clock."""
    import tracemalloc

    from scipy import sparse

    count = 3000
    matrix = sparse.random(count, 4000, density=0.05, random_state=1, format="csr")
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    matrix = sparse.csr_matrix(sparse.diags(1 / norms) @ matrix)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    dates = [start + dt.timedelta(hours=i % 500) for i in range(count)]
    tracemalloc.start()
    try:
        graph = link_graph(matrix, dates, CONFIG)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert graph.nnz > 0
    assert peak < 100 * 1024**2, f"{peak / 1024**2:.0f} MB"  # 243 MB before


def test_a_huge_group_of_near_identical_articles_is_cut_to_the_dense_cap() -> None:
    text = "Police closed the bridge in Leeds on Monday after a crash, officials said."
    # The same words: linked at similarity 1, so raising the floor never splits the group.
    docs = [_doc(f"n{i:03d}", text) for i in range(50)]
    small = dataclasses.replace(CONFIG, max_component=8)
    sizes: list[int] = []
    original = stories_module.average_link

    def spy(similarity: np.ndarray, threshold: float) -> list[int]:
        sizes.append(len(similarity))
        return original(similarity, threshold)

    stories_module.average_link = spy
    try:
        assigned, _ = cluster_stories(docs, [], small)
    finally:
        stories_module.average_link = original
    assert len(assigned) == 50
    assert max(sizes) == 8  # never a dense block over the cap
    assert len(set(assigned.values())) == 7  # pieces of 8 (and one of 2), one story each


def test_story_names_counts_capitalised_words_inside_sentences() -> None:
    text = "Police said Jamal Williams was arrested. Williams was released. The Chargers said."
    # "Police" and "The" start sentences; "said" and "was" are lower case; stop words go.
    assert story_names("Chargers' Williams arrested", text) == {
        "jamal": 1,
        "williams": 2,
        "chargers": 1,
    }


def test_sentence_ends_look_past_one_space_quote_or_parenthesis() -> None:
    # A sentence ends at ".", "!", "?" or a line break right after a word or after one
    # space, quote or closing parenthesis; two such characters in between hide it.
    text = 'Ann left. Bob came (Cal). Dan ran" . Eve sat.\nFay said "Gil!" Hal'
    starts = {token: start for token, _, start in _tokens(text)}
    assert starts == {
        "Ann": True,
        "left": False,
        "Bob": True,
        "came": False,
        "Cal": False,
        "Dan": True,
        "ran": False,
        "Eve": False,
        "sat": False,
        "Fay": True,
        "Gil": False,
        "Hal": True,
    }
    assert story_names(None, text) == {"cal": 1, "eve": 1, "gil": 1}


# Two DUI arrests of one team's players: the same team, the same kind of event, only
# the player (each report's key name) tells them apart.
ARREST = (
    "The San Diego Chargers said {player} was arrested on suspicion of drunken driving. "
    "Police stopped {player} on a freeway in San Diego early on {day}. "
    "The Chargers said {player} will play."
)


def _arrests() -> list[StoryDoc]:
    first = [ARREST.format(player="Vincent Jackson", day="Tuesday")] * 2
    second = [ARREST.format(player="Jamal Williams", day="Sunday")] * 2
    return [_doc(f"{n}", text) for n, text in enumerate(first + second)]


def test_key_names_are_the_repeated_names_few_articles_mention() -> None:
    docs = _arrests()
    # Half of four articles: "chargers", "san" and "diego" are in all four.
    few = dataclasses.replace(CONFIG, key_name_share=0.5)
    assert (
        key_names(docs, few)
        == [frozenset({"jackson", "vincent"})] * 2 + [frozenset({"jamal", "williams"})] * 2
    )
    one = dataclasses.replace(few, key_names=1)
    assert key_names(docs, one)[0] == frozenset({"jackson"})  # ties: by name
    # A name must repeat; and in a run too small for any name to be that rare, none is key.
    assert key_names(docs, dataclasses.replace(few, key_name_repeats=4)) == [frozenset()] * 4
    assert key_names(docs, CONFIG) == [frozenset()] * 4
    # An earlier run's article (no names kept) has none.
    earlier = StoryDoc("e", (0,), None, {"jackson": 1.0})
    assert key_names([*docs, earlier], few)[-1] == frozenset()


def test_conflicting_names_need_keys_on_both_sides_absent_from_the_other() -> None:
    keys = [frozenset({"jackson"}), frozenset({"williams"}), frozenset(), frozenset({"jackson"})]
    terms: list[dict[str, float]] = [
        {"jackson": 1.0},
        {"williams": 1.0},
        {"williams": 1.0},
        {"jackson": 1.0, "williams": 1.0},  # mentions Williams: no conflict with him
    ]
    assert conflicting_names(keys, terms).tolist() == [
        [False, True, False, False],
        [True, False, False, False],
        [False, False, False, False],
        [False, False, False, False],
    ]


def test_cannot_link_only_undated_pairs() -> None:
    keys = [frozenset({"jackson"}), frozenset({"williams"})]
    terms: list[dict[str, float]] = [{"jackson": 1.0}, {"williams": 1.0}]
    day = dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert cannot_link(keys, terms, [None, None]).tolist() == [[False, True], [True, False]]
    assert cannot_link(keys, terms, [None, day]).tolist() == [[False, True], [True, False]]
    assert not cannot_link(keys, terms, [day, day]).any()


def test_undated_reports_of_conflicting_key_names_are_two_stories() -> None:
    docs = _arrests()
    few = dataclasses.replace(CONFIG, key_name_share=0.5)
    vectors = _vectors(docs)
    # The texts alone are one story (same team, same words, only the player differs).
    assert len(set(cluster_rows(docs, vectors, CONFIG))) == 1
    labels = cluster_rows(docs, vectors, few)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    # Dated within `max_days`, time backs the text: one story, as before.
    dated = [doc._replace(published_at=dt.datetime(2024, 5, 1, tzinfo=UTC)) for doc in docs]
    assert len(set(cluster_rows(dated, vectors, few))) == 1
    # cluster_stories passes the run's key names on.
    assigned, _ = cluster_stories(docs, [], few)
    assert assigned["0"] == assigned["1"] != assigned["2"] == assigned["3"]


def test_split_small_stories_keeps_pairs_that_cannot_link_apart() -> None:
    large = np.full((10, 10), 0.05)
    large[:4, :4] = 0.5  # one story of four, as far as the text shows
    large[4:, 4:] = 0.5
    np.fill_diagonal(large, 1.0)
    groups = [1] * 4 + [2] * 6
    assert split_small_stories(large, groups, CONFIG) == [1] * 4 + [2] * 6

    def apart(rows: list[int]) -> np.ndarray:
        # The first two of the four against the other two (rows are positions in `large`).
        side = np.array([row in (0, 1) for row in rows])
        return side[:, None] != side[None, :]

    assert split_small_stories(large, groups, CONFIG, apart) == [1, 1, 2, 2] + [3] * 6


def test_scipy_waits_for_the_clustering() -> None:
    """The command and the graph do not import scipy (~0.3 s) nor pyarrow.compute; the
    clustering's setup does."""
    code = (
        "import sys\n"
        "import newsbeam.pipeline.cli, newsbeam.pipeline.build\n"
        "assert 'scipy' not in sys.modules, 'scipy imported with the command'\n"
        "assert 'pyarrow.compute' not in sys.modules, 'pyarrow.compute imported'\n"
        "from newsbeam.transforms.stories import import_clustering\n"
        "import_clustering()\n"
        "assert 'scipy.sparse.csgraph' in sys.modules\n"
        "assert 'pyarrow.compute' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- The vectorised TF-IDF (FlatVectors, unit_tfidf): the same floats as term by term -------


def _tfidf_term_by_term(
    term_counts: list[dict[str, float]], frequencies: TermFrequencies
) -> list[dict[str, float]]:
    """The TF-IDF arithmetic as it was written before unit_tfidf: a dict step per term."""
    total, frequency = frequencies.articles, frequencies.frequency
    vectors = []
    for counts in term_counts:
        weighted = {}
        for term, count in counts.items():
            sublinear = 1.0 + math.log(count) if count >= 1 else count
            idf = math.log((1 + total) / (1 + frequency.get(term, 0)) + 1)
            weighted[term] = sublinear * idf
        norm = 0.0
        for value in weighted.values():  # left to right, as Python's sum adds
            norm += value * value
        norm = math.sqrt(norm)
        vectors.append({t: v / norm for t, v in weighted.items()} if norm else {})
    return vectors


def _random_counts(seed: int, docs: int = 40) -> list[dict[str, float]]:
    """Term counts as story_terms makes them (whole and fractional weights, shared and
    rare terms, an empty doc), in random orders."""
    rng = random.Random(seed)
    vocabulary = [f"t{i}" for i in range(300)] + ["#2024", "bam", "o'neill"]
    counts = []
    for _ in range(docs):
        size = rng.choice([0, 1, 3, 30, 120])
        terms = rng.sample(vocabulary, size)
        counts.append({t: rng.choice([0.25, 0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 17.0]) for t in terms})
    return counts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tfidf_vectors_are_the_term_by_term_floats(seed: int) -> None:
    counts = _random_counts(seed)
    earlier = TermFrequencies(50, {"t1": 40, "t2": 3, "bam": 1, "elsewhere": 9})
    docs = [StoryDoc(str(i), (0,), None, c) for i, c in enumerate(counts)]
    for frequencies in (add_frequencies(NO_FREQUENCIES, docs), add_frequencies(earlier, docs)):
        expected = _tfidf_term_by_term(counts, frequencies)
        found = tfidf_vectors(counts, frequencies)
        # The same terms in the same order, each value the same float to the last bit.
        assert [list(v.items()) for v in found] == [list(v.items()) for v in expected]
        flat = unit_tfidf(FlatVectors.of(counts), frequencies)
        assert flat.dicts() == expected
        assert [flat.vector(doc) for doc in range(flat.docs)] == expected


def test_a_vector_of_length_zero_loses_its_terms() -> None:
    counts = [{"zero": 0.0, "none": 0.0}, {"kept": 2.0, "zero": 0.0}, {}]
    frequencies = TermFrequencies(3, {"zero": 2, "none": 1, "kept": 1})
    expected = _tfidf_term_by_term(counts, frequencies)
    assert expected[0] == {} and expected[2] == {}
    assert tfidf_vectors(counts, frequencies) == expected
    flat = unit_tfidf(FlatVectors.of(counts), frequencies)
    assert flat.vocabulary == ["kept", "zero"] and flat.docs == 3


def _counted_per_doc(earlier: TermFrequencies, docs: list[StoryDoc]) -> TermFrequencies:
    """add_frequencies as it was written before: a Counter updated doc by doc."""
    frequency: Counter[str] = Counter(earlier.frequency)
    for doc in docs:
        frequency.update(doc.terms.keys())
    return TermFrequencies(earlier.articles + len(docs), dict(frequency))


def test_add_frequencies_is_the_per_doc_count_in_the_same_order() -> None:
    docs = [StoryDoc(str(i), (0,), None, c) for i, c in enumerate(_random_counts(4))]
    for earlier in (NO_FREQUENCIES, TermFrequencies(7, {"t5": 2, "gone": 7})):
        expected = _counted_per_doc(earlier, docs)
        found = add_frequencies(earlier, docs)
        assert found.articles == expected.articles
        assert list(found.frequency.items()) == list(expected.frequency.items())


def _term_matrix_from_dicts(vectors: list[dict[str, float]]) -> np.ndarray:
    """The term matrix as it was built before FlatVectors (columns in order of first use)."""
    column_of: dict[str, int] = {}
    for vector in vectors:
        for term in vector:
            column_of.setdefault(term, len(column_of))
    dense = np.zeros((len(vectors), max(1, len(column_of))))
    for row, vector in enumerate(vectors):
        for term, value in vector.items():
            dense[row, column_of[term]] = value
    return dense


def test_term_matrix_and_joined_vectors_keep_the_columns_of_first_use() -> None:
    first, second = _random_counts(5, 12), _random_counts(6, 9)
    flat = FlatVectors.of(first)
    matrix = stories_module._term_matrix(flat)
    assert np.array_equal(matrix.toarray(), _term_matrix_from_dicts(first))
    assert np.array_equal(stories_module._term_matrix(first).toarray(), matrix.toarray())
    # Joined and taken vectors: the matrix of the same dicts joined and taken.
    picked = [8, 0, 3]
    joined = flat.then(FlatVectors.of(second).take(picked))
    expected = first + [second[i] for i in picked]
    assert joined.dicts() == expected
    assert np.array_equal(
        stories_module._term_matrix(joined).toarray(), _term_matrix_from_dicts(expected)
    )
    assert flat.then(FlatVectors.of([])).dicts() == first
    assert FlatVectors.of(second).take([]).dicts() == []


def test_clustering_gives_the_vectors_by_article() -> None:
    docs = [_doc(f"a{i}", t, 1) for i, t in enumerate(QUAKE_A)] + [_doc("f", FOOTBALL, 2)]
    _, vectors = cluster_stories(docs, [], CONFIG)
    expected = _vectors(docs)
    assert sorted(vectors) == ["a0", "a1", "a2", "f"] and len(vectors) == 4
    assert {d.article_id: v for d, v in zip(docs, expected, strict=True)} == dict(vectors)


def test_conflicting_names_look_up_the_key_names() -> None:
    rng = random.Random(8)
    names = ["bam", "chile", "rovers", "lisbon", "x"]
    keys = [frozenset(rng.sample(names, rng.randint(0, 2))) for _ in range(9)]
    terms = [{n: 1.0 for n in rng.sample(names, rng.randint(0, 4))} for _ in range(9)]
    found = conflicting_names(keys, terms)
    for i in range(9):
        for j in range(9):
            expected = (
                i != j
                and bool(keys[i])
                and bool(keys[j])
                and keys[i].isdisjoint(terms[j])
                and keys[j].isdisjoint(terms[i])
            )
            assert found[i, j] == expected


# --- The packed docs read straight into arrays (unpack_run): what the dicts gave -------------


def _key_names_per_doc(docs: list[StoryDoc], config: StoryConfig) -> list[frozenset[str]]:
    """key_names as it was written before flat_key_names: a Counter, then doc by doc."""
    frequency = Counter(name for doc in docs for name in doc.names or ())
    most = config.key_name_share * len(docs)
    keys = []
    for doc in docs:
        repeated = [
            (-count, name)
            for name, count in (doc.names or {}).items()
            if count >= config.key_name_repeats and frequency[name] <= most
        ]
        keys.append(frozenset(name for _, name in sorted(repeated)[: config.key_names]))
    return keys


def _mixed_docs() -> list[StoryDoc]:
    """Docs in no order of id, sharing terms and names, one without terms or names and one
    earlier article's (names None)."""
    texts = [
        *QUAKE_A,
        *QUAKE_B,
        FOOTBALL,
        *(
            ARREST.format(player=p, day="Sunday")
            for p in ("Vincent Jackson", "Jamal Williams", "Vincent Jackson")
        ),
    ]
    docs = [_doc(f"d{(n * 7) % 10}", text, n % 3 or None) for n, text in enumerate(texts)]
    return [*docs, StoryDoc("empty", (0,), None, {}, {}), StoryDoc("e", (0,), None, {"bam": 2.0})]


def test_unpack_run_gives_the_dicts_arrays_to_the_last_bit() -> None:
    docs = _mixed_docs()
    ordered = sorted((unpack_doc(pack_doc(doc)) for doc in docs), key=lambda d: d.article_id)
    few = dataclasses.replace(CONFIG, key_name_share=0.2)
    run = unpack_run([pack_doc(doc) for doc in docs], few)
    expected = FlatVectors.of(doc.terms for doc in ordered)
    assert run.counts.vocabulary == expected.vocabulary
    assert run.counts.columns.tolist() == expected.columns.tolist()
    assert run.counts.values.tobytes() == expected.values.tobytes()
    assert run.counts.bounds.tolist() == expected.bounds.tolist()
    assert [doc.article_id for doc in run.docs] == [doc.article_id for doc in ordered]
    assert [doc.published_at for doc in run.docs] == [doc.published_at for doc in ordered]
    # Each doc's terms: the same dict, in the same order (the vocabulary order).
    assert [list(doc.terms.items()) for doc in run.docs] == [
        list(doc.terms.items()) for doc in ordered
    ]
    assert run.keys == _key_names_per_doc(ordered, few) and any(run.keys)


def test_packed_keys_and_values_must_agree_in_number() -> None:
    with pytest.raises(ValueError):
        FlatVectors.packed(["a\x00b"], [np.ones(3).tobytes()], np.float64)


def test_flat_key_names_are_the_per_doc_key_names() -> None:
    docs = _mixed_docs()
    for config in (
        dataclasses.replace(CONFIG, key_name_share=0.2),
        dataclasses.replace(CONFIG, key_name_share=0.2, key_names=1),
        dataclasses.replace(CONFIG, key_name_share=0.5, key_name_repeats=3),
        CONFIG,
    ):
        names = FlatVectors.of(doc.names or {} for doc in docs)
        assert flat_key_names(names, config) == _key_names_per_doc(docs, config)


def test_document_frequency_is_the_counted_frequency_of_each_term() -> None:
    docs = _mixed_docs()
    counts = FlatVectors.of(doc.terms for doc in docs)
    earlier = TermFrequencies(5, {"bam": 3, "unseen": 2, "chile": 1})
    for before in (NO_FREQUENCIES, earlier):
        frequency = add_frequencies(before, docs).frequency
        assert document_frequency(counts, before).tolist() == [
            frequency[term] for term in counts.vocabulary
        ]


def test_conflicting_names_among_some_pairs_only() -> None:
    keys = [frozenset({"jackson"}), frozenset({"williams"}), frozenset({"rivers"})]
    terms: list[dict[str, float]] = [{"jackson": 1.0}, {"williams": 1.0}, {"rivers": 1.0}]
    among = np.array([[False, True, False], [True, False, False], [False, False, False]])
    assert conflicting_names(keys, terms).sum() == 6
    assert conflicting_names(keys, terms, among).tolist() == among.tolist()


def test_counted_story_rows_are_the_rows_doc_by_doc() -> None:
    docs = sorted((doc for doc in _mixed_docs() if doc.terms), key=lambda doc: doc.article_id)
    counts = FlatVectors.of(doc.terms for doc in docs)
    vectors = unit_tfidf(counts, add_frequencies(NO_FREQUENCIES, docs))
    assigned = {doc.article_id: f"s{n % 3}" for n, doc in enumerate(docs)}
    by_id = {doc.article_id: vectors.vector(n) for n, doc in enumerate(docs)}
    # Few terms kept: the cut falls among equal weights (ties go by term).
    for config in (dataclasses.replace(CONFIG, vector_terms=3), CONFIG):
        expected = story_rows(docs, assigned, by_id, config, RUN_AT)
        assert counted_story_rows(docs, assigned, vectors, counts, config, RUN_AT) == expected


def test_articles_that_skipped_cleaning_are_stories_of_their_own() -> None:
    # Records without an id (new_article's default "") were all one story, id "".
    texts = [
        "The city council approved a new budget on Tuesday after a long debate about funding "
        "for schools, public transport and road repairs across the northern districts.",
        QUAKE_B[0],
        FOOTBALL,
    ]
    articles = [new_article(f"s{n}", text=text) for n, text in enumerate(texts)]
    with make_test_pipeline() as pipeline:
        stories = (
            pipeline
            | beam.Create(articles)
            | ClusterStories()
            | beam.Map(lambda a: (a.story_id == a.article_id != "", a.article_id))
            | beam.combiners.ToList()
            | beam.Map(lambda found: sorted({ok for ok, _ in found}) + [len({i for _, i in found})])
        )
        assert_that(stories, equal_to([[True, 3]]))


def test_a_new_version_of_an_earlier_article_is_not_counted_in_the_frequencies_again() -> None:
    """Review 57: an updated feed entry (same article_id as an earlier article, found among
    the priors) counted its article and terms in story_terms once more a version."""
    docs = [
        StoryDoc("a", (), None, {"ferry": 1.0, "harbour": 2.0}),
        StoryDoc("b", (), None, {"budget": 1.0, "ferry": 1.0}),
    ]
    run = unpack_run([pack_doc(doc) for doc in docs], StoryConfig())
    assert first_versions(run, set()) is run.counts  # nothing left out: the same arrays
    counted = add_frequencies(NO_FREQUENCIES, [])
    kept = first_versions(run, {"a", "z"})
    frequencies = frequency_columns(add_frequencies(counted, [docs[1]]))
    assert kept.docs == 1 and kept.dicts() == [{"budget": 1.0, "ferry": 1.0}]
    assert frequency_columns(counted_frequencies(counted, kept)) == frequencies


def _sorted_cut_similarity(
    similarity: np.ndarray, neighbours: int, near_tie: float = 1.0
) -> np.ndarray:
    """neighbour_similarity as it was before review 92 (a sorted negated copy, a masked
    copy, whole-matrix norms): the reference its in-place blocks must equal exactly."""
    profile = np.clip(similarity, 0.0, None)
    np.fill_diagonal(profile, 1.0)
    if neighbours < len(profile):
        cut = -np.sort(-profile, axis=1)[:, neighbours - 1 : neighbours]
        profile = np.where(profile >= near_tie * cut, profile, 0.0)
    profile /= np.linalg.norm(profile, axis=1, keepdims=True)
    return profile @ profile.T


def _square_distance_labels(similarity: np.ndarray, threshold: float) -> list[int]:
    """average_link as it was before review 92 (a full square of distances)."""
    from scipy.cluster import hierarchy
    from scipy.spatial import distance as spatial_distance

    if len(similarity) < 2:
        return [0] * len(similarity)
    distance = np.clip(1.0 - similarity, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    tree = hierarchy.linkage(spatial_distance.squareform(distance, checks=False), "average")
    return [int(g) for g in hierarchy.fcluster(tree, 1.0 - threshold, criterion="distance")]


def _linked_group(count: int, seed: int) -> np.ndarray:
    """A symmetric similarity of a group of linked articles: two decimals (many ties at
    the cut), pairs under 0.3 unlinked (0), a unit diagonal."""
    values = np.round(np.random.default_rng(seed).random((count, count)), 2)
    values[values < 0.3] = 0.0
    upper = np.triu(values, 1)
    similarity = upper + upper.T
    np.fill_diagonal(similarity, 1.0)
    return similarity


def test_kth_largest_is_the_sorted_rows_value_ties_and_all() -> None:
    values = np.array([[0.9, 0.5, 0.5, 0.5, -np.inf], [-np.inf, -np.inf, 0.2, 0.8, 0.8]])
    assert kth_largest(values, 1).tolist() == [[0.9], [0.8]]
    assert kth_largest(values, 2).tolist() == [[0.5], [0.8]]
    assert kth_largest(values, 4).tolist() == [[0.5], [-np.inf]]
    assert kth_largest(values, 5).tolist() == [[-np.inf], [-np.inf]]
    assert values.tolist()[0] == [0.9, 0.5, 0.5, 0.5, -np.inf]  # the rows are not moved


def test_neighbour_similarity_in_blocks_equals_the_sorted_cut_exactly(monkeypatch) -> None:
    """The cut by partition, the mask and the norms in place, block by block of rows: the
    same bits as the sorted copies made (review 92), ties at the cut and near-ties too."""
    for count, seed in [(2, 1), (7, 2), (40, 3), (130, 4)]:
        similarity = _linked_group(count, seed)
        before = similarity.copy()
        for neighbours in sorted({1, 3, 10, count - 1, count}):
            for near_tie in (1.0, 0.9):
                expected = _sorted_cut_similarity(similarity, neighbours, near_tie)
                found = neighbour_similarity(similarity, neighbours, near_tie)
                assert np.array_equal(found, expected), (count, neighbours, near_tie)
                assert np.array_equal(similarity, before)  # a copy unless in_place
                mine = similarity.copy()
                found = neighbour_similarity(mine, neighbours, near_tie, in_place=True)
                assert np.array_equal(found, expected)
    monkeypatch.setattr(stories_module, "_PROFILE_VALUES", 3 * 40)  # blocks of 3 rows
    similarity = _linked_group(40, 5)
    assert np.array_equal(
        neighbour_similarity(similarity, 10), _sorted_cut_similarity(similarity, 10)
    )


def test_condensed_distance_is_the_distance_squares_upper_triangle() -> None:
    similarity = np.array([[1.0, 0.25, 1.5], [0.25, 1.0, -0.5], [1.5, -0.5, 0.7]])
    assert condensed_distance(similarity).tolist() == [0.75, 0.0, 1.5]
    assert similarity[0, 1] == 0.25 and similarity[2, 2] == 0.7  # not written
    for count, seed in [(2, 6), (9, 7), (120, 8)]:
        similarity = neighbour_similarity(_linked_group(count, seed), 10)
        for threshold in (0.2, 0.5):
            expected = _square_distance_labels(similarity, threshold)
            assert average_link(similarity, threshold) == expected
    assert average_link(np.ones((1, 1)), 0.5) == [0]


def test_a_large_groups_clustering_holds_no_square_temporaries() -> None:
    """A group of ~1,900 linked articles (review 89's 20,000-line night) held its similarity
    while neighbour_similarity added 87 MB (a negated copy, its sort, a masked copy, the
    norms' squares) and average_link 58 MB (1 - similarity and its clip, full squares):
    the stories step's peak. Now the profiles are made in the similarity's memory and the
    distances condensed: the result (one square, with blocks of rows) and the condensed
    distances (half a square). Measured as allocated."""
    import tracemalloc

    count = 1000
    square = count * count * 8
    similarity = _linked_group(count, 9)
    expected = _sorted_cut_similarity(similarity, CONFIG.neighbours)
    labels = _square_distance_labels(expected, CONFIG.threshold)
    tracemalloc.start()
    try:
        second = neighbour_similarity(similarity, CONFIG.neighbours, in_place=True)
        profiles = tracemalloc.get_traced_memory()[1]
        del similarity
        tracemalloc.reset_peak()
        held = tracemalloc.get_traced_memory()[0]
        found = average_link(second, CONFIG.threshold)
        linkage = tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()
    assert np.array_equal(second, expected) and found == labels
    assert profiles < 1.5 * square, f"{profiles / square:.2f} squares"  # 3.0 before
    assert linkage < 1.0 * square, f"{linkage / square:.2f} squares"  # 3.7 before


def test_cluster_rows_on_a_large_group_labels_as_the_sorted_copies_did(monkeypatch) -> None:
    """A group larger than `neighbours` is profiled in its similarity's memory and its
    similarity read again from the graph for split_small_stories: the same labels as the
    copies made (review 92)."""
    words = "quake flood fire storm city river mayor police court vote rescue"
    docs = _random_docs(11, words, count=60, length=14, days=5)
    vectors = _vectors(docs)
    sizes: list[int] = []
    original = stories_module.neighbour_similarity

    def spy(similarity: np.ndarray, neighbours: int, *args: object, **kwargs: bool) -> np.ndarray:
        sizes.append(len(similarity))
        return original(similarity, neighbours, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stories_module, "neighbour_similarity", spy)
    found = cluster_rows(docs, vectors, CONFIG)
    assert max(sizes) > CONFIG.neighbours  # the large path was taken
    monkeypatch.setattr(
        stories_module,
        "neighbour_similarity",
        lambda similarity, neighbours, near_tie=1.0, in_place=False: _sorted_cut_similarity(
            similarity, neighbours, near_tie
        ),
    )
    monkeypatch.setattr(stories_module, "average_link", _square_distance_labels)
    assert found == cluster_rows(docs, vectors, CONFIG)


def test_the_clustering_gives_its_freed_heap_back(monkeypatch) -> None:
    """The clustering's temporaries, freed into glibc's heap, stayed resident and the next
    stage grew on top of them: the run's peak at 20,000 lines (review 92). The clustering
    hands them back once it is done."""
    calls: list[bool] = []
    original = stories_module.give_back_freed

    def spy() -> bool:
        calls.append(original())
        return calls[-1]

    monkeypatch.setattr(stories_module, "give_back_freed", spy)
    docs = [_doc(str(i), t) for i, t in enumerate(QUAKE_A + QUAKE_B)]
    packed = [pack_doc(doc) for doc in docs]
    cluster = stories_module._ClusterAll(CONFIG, (), None, RUN_AT)
    cluster.setup()
    assert len(list(cluster.cluster(packed))) == len(docs)
    assert calls == [True]  # glibc on this machine
