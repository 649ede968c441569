"""Stage 6: story clustering (pure functions, then the Beam stage on the seeds)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.schemas import RawDocument
from newsbeam.transforms.clean import clean_article
from newsbeam.transforms.extract import extract_text_document
from newsbeam.transforms.stories import (
    ClusterStories,
    StoryConfig,
    StoryDoc,
    cluster_stories,
    neighbour_similarity,
    prior_story,
    story_rows,
    story_terms,
    tfidf_vectors,
)
from tests.conftest import make_test_pipeline

UTC = dt.timezone.utc
CONFIG = StoryConfig()


def _doc(article_id: str, text: str, day: int | None = None) -> StoryDoc:
    published = dt.datetime(2024, 5, day, tzinfo=UTC) if day else None
    rank = (1, published or dt.datetime.max.replace(tzinfo=UTC), 0, article_id, article_id)
    return StoryDoc(article_id, rank, published, story_terms(None, text, CONFIG))


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
    rows = story_rows(earlier, stories, vectors, CONFIG)
    assert {(r["article_id"], r["story_id"]) for r in rows} == {
        ("bam", "bam"),
        ("bam3", "bam"),
        ("chile", "chile"),
        ("f", "f"),
    }
    priors = [prior_story(row) for row in rows]
    today = [_doc("bam2", QUAKE_A[1], 2), _doc("chile2", QUAKE_B[1], 2)]
    assert cluster_stories(today, priors, CONFIG)[0] == {"bam2": "bam", "chile2": "chile"}
    # Too far in time from the earlier articles: a story of its own.
    late = [_doc("late", QUAKE_A[1], 30)]
    assert cluster_stories(late, priors, CONFIG)[0] == {"late": "late"}


def test_neighbour_similarity_is_symmetric_with_unit_diagonal() -> None:
    vectors = tfidf_vectors([_doc(str(i), t) for i, t in enumerate(QUAKE_A + QUAKE_B)])
    first = np.array(
        [[sum(v * b.get(t, 0) for t, v in a.items()) for b in vectors] for a in vectors]
    )
    second = neighbour_similarity(first, 3)
    assert np.allclose(second, second.T) and np.allclose(np.diag(second), 1.0)


def test_seed_stories(seeds_dir: Path) -> None:
    articles = [
        clean_article(extract_text_document(RawDocument(str(p), "text", p.read_bytes())))
        for p in sorted(seeds_dir.iterdir())
    ]
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


def test_oversized_linked_groups_are_split_again() -> None:
    docs = [_doc(f"a{i}", t) for i, t in enumerate(QUAKE_A)]
    docs += [_doc(f"b{i}", t) for i, t in enumerate(QUAKE_B)] + [_doc("f", FOOTBALL)]
    small = dataclasses.replace(CONFIG, max_component=3)
    assert cluster_stories(docs, [], small)[0] == cluster_stories(docs, [], CONFIG)[0]
