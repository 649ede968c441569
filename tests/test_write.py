"""Stage: write. The three tables as Parquet, read back with pyarrow."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq

from newsbeam.schemas import SCHEMA_VERSION, SCHEMA_VERSION_KEY, TABLES, Duplicate, Rejected
from newsbeam.transforms.clean import clean_article
from newsbeam.transforms.extract import new_article
from newsbeam.transforms.write import WriteTables
from tests.helpers import make_test_pipeline


def test_write_tables(tmp_path: Path) -> None:
    articles = [
        clean_article(new_article(f"{n}.txt", text=f"Story number {n} about the harbour."))
        for n in range(3)
    ]
    rejected = [Rejected("bad.txt", "read", "empty", "no content", "")]
    with make_test_pipeline() as pipeline:
        tables = {
            "articles": pipeline | "Articles" >> beam.Create(articles),
            "duplicates": pipeline | "Duplicates" >> beam.Create([]).with_output_types(Duplicate),
            "rejected": pipeline | "Rejected" >> beam.Create(rejected),
        }
        _ = tables | WriteTables(str(tmp_path))

    for name, (_, schema) in TABLES.items():
        files = sorted((tmp_path / name).glob("*.parquet"))
        assert len(files) == 1, name  # an empty table still gets its file
        table = pq.read_table(files[0])
        assert table.schema.remove_metadata() == schema.remove_metadata()
        assert table.schema.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()
    rows = pq.read_table(tmp_path / "articles").sort_by("source").to_pylist()
    assert [r["source"] for r in rows] == ["0.txt", "1.txt", "2.txt"]
    assert rows[0]["text"] == articles[0].text and rows[0]["word_count"] == 6
    assert pq.read_table(tmp_path / "duplicates").num_rows == 0
    assert pq.read_table(tmp_path / "rejected").to_pylist() == [rejected[0]._asdict()]
    assert not list(tmp_path.rglob("beam-temp*"))  # temporary shards cleaned up
