"""The record types and their Arrow schemas stay in step."""

from __future__ import annotations

import datetime as dt
import typing

import pyarrow as pa
import pytest

from newsbeam.schemas import (
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    TABLES,
    Article,
    Removal,
    to_row,
)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_record_fields_match_arrow_columns(table: str) -> None:
    record_type, schema = TABLES[table]
    assert list(record_type._fields) == schema.names


@pytest.mark.parametrize("table", sorted(TABLES))
def test_schema_version_in_metadata(table: str) -> None:
    assert TABLES[table][1].metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()


@pytest.mark.parametrize("table", sorted(TABLES))
def test_non_nullable_columns_are_not_optional_fields(table: str) -> None:
    record_type, schema = TABLES[table]
    hints = typing.get_type_hints(record_type)
    for field in schema:
        optional = type(None) in typing.get_args(hints[field.name])
        if not field.nullable:
            assert not optional, f"{field.name} is Optional but not nullable in Arrow"
        elif not pa.types.is_list(field.type):
            assert optional, f"{field.name} is nullable in Arrow but not Optional"


def test_article_row_round_trips_through_arrow() -> None:
    article = Article(
        article_id="a1",
        source="x.txt",
        url=None,
        canonical_url=None,
        site=None,
        outlet=None,
        title="T",
        authors=["A B"],
        published_at=dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.timezone.utc),
        published_precision="minute",
        published_zone="document",
        ingested_at=dt.datetime(2024, 1, 3, tzinfo=dt.timezone.utc),
        language="en",
        language_score=0.99,
        script=None,
        text="Body.",
        word_count=1,
        content_hash="h",
        removed=[Removal("SEE MORE:", "related_links")],
        topics=["medtop:16000000"],
        topic_scores=[0.8],
        topic_labels=["conflict, war and peace"],
        topics_model="test 1",
        places=["QA"],
        story_id=None,
        duplicate_count=0,
        duplicate_sources=[],
        text_origin="document",
        feed_url=None,
        entry_id=None,
        feed_categories=[],
    )
    table = pa.Table.from_pylist([to_row(article)], schema=TABLES["articles"][1])
    row = table.to_pylist()[0]
    assert row["removed"] == [{"text": "SEE MORE:", "reason": "related_links"}]
    assert row["published_at"] == article.published_at
    assert Article(**{**row, "removed": [Removal(**r) for r in row["removed"]]}) == article
