"""`newsbeam schema --format bigquery`: BigQuery JSON schemas derived from the Arrow schemas,
and the deploy/bigquery/ files that use them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from newsbeam.pipeline import bigquery, dataset
from newsbeam.pipeline import main as entry
from newsbeam.pipeline.warehouse import DATASET_SCHEMAS, warehouse_schema

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "bigquery"


def test_types_and_modes_follow_the_arrow_schema() -> None:
    fields = {f["name"]: f for f in bigquery.bigquery_schema("articles")}
    assert list(fields) == DATASET_SCHEMAS["articles"].names
    assert fields["article_id"] == {"name": "article_id", "type": "STRING", "mode": "REQUIRED"}
    assert fields["title"]["mode"] == "NULLABLE"
    assert fields["published_at"]["type"] == "TIMESTAMP"
    assert fields["word_count"]["type"] == "INTEGER"
    assert fields["language_score"]["type"] == "FLOAT"
    assert fields["places"] == {"name": "places", "type": "STRING", "mode": "REPEATED"}
    assert fields["topic_scores"] == {"name": "topic_scores", "type": "FLOAT", "mode": "REPEATED"}
    assert fields["removed"] == {
        "name": "removed",
        "type": "RECORD",
        "mode": "REPEATED",
        "fields": [
            {"name": "text", "type": "STRING", "mode": "NULLABLE"},
            {"name": "reason", "type": "STRING", "mode": "NULLABLE"},
        ],
    }
    health = {f["name"]: f for f in bigquery.bigquery_schema("feed_health")}
    assert health["not_modified"]["type"] == "BOOLEAN"
    assert health["run_at"] == {"name": "run_at", "type": "TIMESTAMP", "mode": "REQUIRED"}


def test_every_column_of_every_table_has_a_field() -> None:
    for table in dataset.DATASET_TABLES:
        for with_run in (False, True):
            schema = warehouse_schema(table) if with_run else DATASET_SCHEMAS[table]
            fields = bigquery.bigquery_schema(table, with_run)
            assert [f["name"] for f in fields] == schema.names
            assert all(
                f["mode"] != "REQUIRED" or not schema.field(f["name"]).nullable for f in fields
            )
    with pytest.raises(ValueError, match="no BigQuery type"):
        bigquery.bigquery_field(pa.field("x", pa.map_(pa.string(), pa.string())))


def test_the_command_prints_json(capsys: Any) -> None:
    assert entry.main(["schema", "--format", "bigquery", "--table", "duplicates"]) == 0
    assert json.loads(capsys.readouterr().out) == bigquery.bigquery_schema("duplicates")
    assert entry.main(["schema", "--with_run_columns"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed) == list(dataset.DATASET_TABLES)
    assert printed["articles"][-2:] == [
        {"name": "run_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "ingest_date", "type": "DATE", "mode": "REQUIRED"},
    ]
    assert entry.main(["schema", "--format", "avro"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_external_table_definitions_read_the_dataset_layout() -> None:
    for table in dataset.DATASET_TABLES:
        definition = json.loads((DEPLOY / f"{table}.external.json").read_text())
        assert definition["sourceFormat"] == "PARQUET"
        assert definition["sourceUris"] == [f"gs://BUCKET/newsbeam/{table}/*.parquet"]
        prefix = definition["hivePartitioningOptions"]["sourceUriPrefix"]
        assert prefix == f"gs://BUCKET/newsbeam/{table}/{{{dataset.PARTITION_KEY}:DATE}}"
        assert definition["parquetOptions"]["enableListInference"] is True
