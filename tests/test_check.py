"""CheckArticles: a library user's own Article records checked before dedup and stories,
which have no rejected output of their own."""

from __future__ import annotations

import datetime as dt

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.transforms.check import CheckArticles, field_types, malformed
from newsbeam.transforms.dedup import DeduplicateArticles
from newsbeam.transforms.extract import new_article
from newsbeam.transforms.stories import ClusterStories

FIRE = (
    "Firefighters in Lisbon fought a blaze at the Alcantara port warehouse on Tuesday night, "
    "where 40 crews and 12 engines worked for six hours before the roof of the building "
    "collapsed. The port authority said no one was hurt."
)


def test_malformed_names_the_first_field_of_another_type() -> None:
    good = new_article("a", text=FIRE, published_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert malformed(good) is None
    assert malformed(good._replace(language_score=1)) is None  # an int where a float goes
    assert malformed(good._replace(text=None)) == "text is a NoneType (None), not str"
    assert malformed(good._replace(published_at="2026-12-01")) == (
        "published_at is a str ('2026-12-01'), not datetime or None"
    )
    assert malformed(good._replace(word_count=True)) == "word_count is a bool (True), not int"
    assert malformed(good._replace(text="x" * 100)) is None
    assert malformed(good._replace(title=b"x" * 100)).startswith("title is a bytes (b'xxx")
    assert malformed({"text": FIRE}) == "a dict, not an Article"
    # Every field of the record is checked, from its annotation (a new field is too).
    assert set(field_types()) == set(good._fields)


@pytest.mark.parametrize(
    "bad",
    [
        new_article("no-text", text=None),  # type: ignore[arg-type]
        new_article("str-date", text=FIRE + " Again.", published_at="2026-12-01"),  # type: ignore[arg-type]
    ],
    ids=["text None", "published_at a str"],
)
def test_a_malformed_record_took_dedup_and_stories_down(bad) -> None:
    """Why the check exists: without it one such record fails the whole pipeline."""
    with pytest.raises(Exception, match="isascii|tzinfo"):
        with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as pipeline:
            records = pipeline | beam.Create([new_article("ok", text=FIRE), bad])
            kept, _ = records | DeduplicateArticles()
            _ = kept | ClusterStories()


def test_malformed_records_become_rejected_rows_before_dedup_and_stories() -> None:
    """With CheckArticles first, each malformed record is one rejected row (stage check,
    reason malformed, the field in its detail) and the others go through dedup and
    stories: every input in exactly one table."""
    records = [
        new_article("a1", text=FIRE),
        new_article("a2", text=FIRE),  # a copy of a1
        new_article("no-text", text=None),  # type: ignore[arg-type]
        new_article("str-date", text=FIRE + " Again.", published_at="2026-12-01"),  # type: ignore[arg-type]
    ]
    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as pipeline:
        checked, rejected = pipeline | beam.Create(records) | CheckArticles()
        kept, duplicates = checked | DeduplicateArticles()
        stories = kept | ClusterStories()
        assert_that(
            rejected | beam.Map(lambda r: (r.source, r.stage, r.reason, r.detail.split()[0])),
            equal_to(
                [
                    ("no-text", "check", "malformed", "text"),
                    ("str-date", "check", "malformed", "published_at"),
                ]
            ),
            label="rejected",
        )
        assert_that(
            stories | beam.Map(lambda a: (a.source, a.duplicate_count, bool(a.story_id))),
            equal_to([("a1", 1, True)]),
            label="kept",
        )
        assert_that(duplicates | beam.Map(lambda d: d.source), equal_to(["a2"]), label="copies")
    counters = {
        c.key.metric.name: c.committed
        for c in pipeline.result.metrics().query()["counters"]
        if c.key.metric.namespace == "newsbeam" and c.key.metric.name.startswith("check_")
    }
    assert counters == {"check_in": 4, "check_out": 2, "check_dropped_malformed": 2}
