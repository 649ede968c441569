"""Stage: write. The run's tables as Parquet in its staging folder, laid out as they will
sit in the dataset, read back with pyarrow."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from newsbeam.pipeline import dataset
from newsbeam.schemas import (
    DATASET_SCHEMAS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    Duplicate,
    Rejected,
)
from newsbeam.schemas.feeds import FeedHealth
from newsbeam.transforms.clean import clean_article
from newsbeam.transforms.extract import new_article
from newsbeam.transforms.write import WRITTEN, WriteTables
from tests.helpers import make_test_pipeline


def test_write_tables(tmp_path: Path) -> None:
    articles = [
        clean_article(new_article(f"{n}.txt", text=f"Story number {n} about the harbour."))
        for n in range(3)
    ]
    rejected = [Rejected("bad.txt", "read", "empty", "no content", "")]
    polled = dt.datetime(2024, 5, 14, 6, tzinfo=dt.timezone.utc)
    health = [FeedHealth(polled, "http://127.0.0.1/feed", "ok", 200, 12, 3, 1, False, None, 900)]
    with make_test_pipeline() as pipeline:
        tables = {
            "articles": pipeline | "Articles" >> beam.Create(articles),
            "duplicates": pipeline | "Duplicates" >> beam.Create([]).with_output_types(Duplicate),
            "rejected": pipeline | "Rejected" >> beam.Create(rejected),
            "feed_health": pipeline | "Health" >> beam.Create(health),
        }
        _ = tables | WriteTables(str(tmp_path), "ingest_date=2024-05-14", "day1.0123abcd")

    # Files as the commit will name them (pipeline/dataset.py), from the writer's list.
    moves = dataset.staged_files(str(tmp_path / "root"), str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*DATASET_SCHEMAS, WRITTEN])
    for name, schema in DATASET_SCHEMAS.items():
        (file,) = (tmp_path / name).rglob("*.parquet")  # an empty table still gets its file
        ((staged, final),) = moves[name]
        assert Path(staged) == file
        assert Path(final).relative_to(tmp_path / "root").as_posix() == (
            f"{name}/ingest_date=2024-05-14/day1.0123abcd-00000-of-00001.parquet"
        )
        table = pq.read_table(file)
        assert table.schema.remove_metadata() == schema.remove_metadata()
        assert table.schema.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()

    def read(name: str) -> pa.Table:  # the file itself: no partition column
        (file,) = (tmp_path / name).rglob("*.parquet")
        return pq.read_table(file)

    rows = read("articles").sort_by("source").to_pylist()
    assert [r["source"] for r in rows] == ["0.txt", "1.txt", "2.txt"]
    assert rows[0]["text"] == articles[0].text and rows[0]["word_count"] == 6
    assert read("duplicates").num_rows == 0
    assert read("rejected").to_pylist() == [rejected[0]._asdict()]
    assert read("feed_health").to_pylist() == [health[0]._asdict()]
    assert not list(tmp_path.rglob("beam-temp*"))  # no temporary shards
    listed = json.loads((tmp_path / WRITTEN).read_text())["files"]
    assert {(e["table"], e["rows"]) for e in listed} == {
        ("articles", 3),
        ("duplicates", 0),
        ("rejected", 1),
        ("feed_health", 1),
    }
