"""Stage: write. The run's tables as Parquet in its staging folder, laid out as they will
sit in the dataset, read back with pyarrow."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsbeam.pipeline import dataset
from newsbeam.schemas import (
    DATASET_SCHEMAS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    WRITTEN,
    Duplicate,
    Rejected,
    to_row,
)
from newsbeam.schemas.feeds import FeedHealth
from newsbeam.transforms.clean import clean_article
from newsbeam.transforms.extract import new_article
from newsbeam.transforms.support import files
from newsbeam.transforms.support.bundle_files import (
    ROW_GROUP_BYTES,
    RowBuffer,
    WriteBundleFiles,
    keep_listed,
    row_group_rows,
    write_rows,
)
from newsbeam.transforms.write import WriteTables
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


def test_bundle_files_split_large_bundles_and_name_files_apart(tmp_path: Path) -> None:
    schema = pa.schema([pa.field("n", pa.int64())])
    writer = WriteBundleFiles({"t": (str(tmp_path / "t"), schema)}, "p", max_rows=2)
    writer.start_bundle()
    during = [entry for n in range(5) for entry in writer.process(("t", {"n": n}))]
    after = [windowed.value for windowed in writer.finish_bundle()]
    assert [e["rows"] for e in during + after] == [2, 2, 1]
    names = [e["name"] for e in during + after]
    assert len(set(names)) == 3 and all(name.startswith("p-") for name in names)
    read = [pq.read_table(tmp_path / "t" / name)["n"].to_pylist() for name in names]
    assert read == [[0, 1], [2, 3], [4]]
    # The same rows again (a retried bundle) never overwrite the first files.
    writer.start_bundle()
    _ = list(writer.process(("t", {"n": 0})))
    (again,) = [windowed.value["name"] for windowed in writer.finish_bundle()]
    assert again not in names


def _article_rows(count: int) -> list[dict[str, object]]:
    """Rows of the articles table that differ in text, lists and nulls."""
    base = to_row(clean_article(new_article("0.txt", text="A story about the harbour.")))
    return [
        {
            **base,
            "article_id": f"a{n}",
            "text": f"Story {n} " * (n % 7 + 1),
            "authors": [f"Writer {m}" for m in range(n % 3)],
            "title": None if n % 5 == 0 else f"Title {n}",
        }
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 11, 12])
def test_a_row_buffers_table_is_the_table_of_its_rows_at_once(count: int) -> None:
    """Review 94: a file's rows wait as Arrow batches, not dicts; the table they make is the
    one pa.Table.from_pylist made of the dicts (one chunk, schema and metadata included)."""
    schema = DATASET_SCHEMAS["articles"]
    rows = _article_rows(count)
    buffer = RowBuffer(schema, batch_rows=4)
    for row in rows:
        buffer.append(row)
    assert len(buffer) == count and buffer.held_rows == count % 4
    table = buffer.table()
    expected = pa.Table.from_pylist(rows, schema=schema)
    assert table.equals(expected) and table.schema.equals(expected.schema, check_metadata=True)
    assert all(column.num_chunks == 1 for column in table.columns)


def test_bundle_files_write_the_bytes_the_rows_at_once_wrote(tmp_path: Path) -> None:
    """The files WriteBundleFiles writes from its batches are, byte for byte, what
    write_rows wrote of the same rows (the file names apart: a random part)."""
    schema = DATASET_SCHEMAS["articles"]
    rows = _article_rows(700)  # several batches of the default size, and a rest
    writer = WriteBundleFiles({"articles": (str(tmp_path / "new"), schema)}, "p")
    writer.start_bundle()
    assert not [entry for row in rows for entry in writer.process(("articles", row))]
    (entry,) = [windowed.value for windowed in writer.finish_bundle()]
    assert entry["rows"] == 700
    old = write_rows(str(tmp_path / "old"), "p", rows, schema)
    assert entry["name"][:15] == old[:15]  # the prefix and the first row's digest
    new_bytes = (tmp_path / "new" / entry["name"]).read_bytes()
    assert new_bytes == (tmp_path / "old" / old).read_bytes()


def test_keep_listed_deletes_orphans_and_keeps_an_empty_table(tmp_path: Path) -> None:
    schema = pa.schema([pa.field("n", pa.int64())])
    folder = tmp_path / "t"
    kept = write_rows(str(folder), "part", [{"n": 1}], schema)
    orphan = write_rows(str(folder), "part", [{"n": 1}], schema)  # a retried bundle's
    (folder / "inner").mkdir()
    (folder / "inner" / "x.parquet").write_bytes(b"")  # not directly in the folder: kept
    entries = [{"target": "t", "name": kept, "rows": 1}]
    assert keep_listed(entries, str(folder), schema, "part") == 1
    assert sorted(p.name for p in folder.glob("*.parquet")) == [kept]
    assert (folder / "inner" / "x.parquet").exists() and orphan != kept

    empty = tmp_path / "empty"
    assert keep_listed([], str(empty), schema, "part") == 1
    (file,) = empty.glob("*.parquet")
    assert pq.read_table(file).num_rows == 0 and pq.read_schema(file).names == ["n"]


def test_final_names_follow_the_list_sorted_and_numbered(tmp_path: Path) -> None:
    day = "ingest_date=2024-05-14"
    record = {
        "prefix": "r.0123abcd",
        "files": [
            {"table": "articles", "path": f"articles/{day}/r.0123abcd-b.parquet", "rows": 1},
            {"table": "articles", "path": f"articles/{day}/r.0123abcd-a.parquet", "rows": 2},
            {"table": "rejected", "path": f"rejected/{day}/r.0123abcd-c.parquet", "rows": 0},
        ],
    }
    moves = dataset.final_names("/root", "/root/_staging/r.0123abcd", record)
    assert moves["articles"] == [
        (
            f"/root/_staging/r.0123abcd/articles/{day}/r.0123abcd-a.parquet",
            f"/root/articles/{day}/r.0123abcd-00000-of-00002.parquet",
        ),
        (
            f"/root/_staging/r.0123abcd/articles/{day}/r.0123abcd-b.parquet",
            f"/root/articles/{day}/r.0123abcd-00001-of-00002.parquet",
        ),
    ]
    assert [final for _, final in moves["rejected"]] == [
        f"/root/rejected/{day}/r.0123abcd-00000-of-00001.parquet"
    ]
    assert moves["duplicates"] == [] and moves["feed_health"] == []
    for bad in (f"../{day}/x.parquet", f"articles/{day}/x.txt", "articles/x.parquet", "other/d/x"):
        with pytest.raises(dataset.DatasetError):
            dataset.final_names("/root", "/s", {"prefix": "p", "files": [{"path": bad}]})
    with pytest.raises(dataset.DatasetError):  # the list is missing: the run did not finish
        dataset.staged_files(str(tmp_path), str(tmp_path / "nothing"))


def test_hash_columns_are_written_without_a_dictionary(tmp_path: Path) -> None:
    # uint64 columns hold hash values (signatures, shingles): a dictionary of them costs
    # the writer memory and the file bytes; every other column keeps its dictionary.
    schema = pa.schema(
        [
            pa.field("source", pa.string()),
            pa.field("topics", pa.list_(pa.string())),
            pa.field("shingles", pa.list_(pa.uint64())),
            pa.field("pairs", pa.list_(pa.struct([("text", pa.string()), ("hash", pa.uint64())]))),
        ]
    )
    assert files.dictionary_columns(schema) == [
        "source",
        "topics.list.element",
        "pairs.list.element.text",
    ]
    rows = [
        {
            "source": "s",
            "topics": ["a"],
            "shingles": [n, n + 1],
            "pairs": [{"text": "t", "hash": n}],
        }
        for n in range(100)
    ]
    path = tmp_path / "x.parquet"
    files.write_parquet(str(path), pa.Table.from_pylist(rows, schema=schema))
    group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {
        group.column(i).path_in_schema: "RLE_DICTIONARY" in group.column(i).encodings
        for i in range(group.num_columns)
    }
    assert encodings == {
        "source": True,
        "topics.list.element": True,
        "shingles.list.element": False,
        "pairs.list.element.text": True,
        "pairs.list.element.hash": False,
    }
    assert pq.read_table(path).to_pylist() == rows


def test_windowed_tables_are_written_as_one(tmp_path: Path) -> None:
    # A user's windowed articles failed the write ("Cannot convert GlobalWindow to
    # _IntervalWindowBase"): the files are written in the global window.
    articles = [
        clean_article(new_article(f"{n}.txt", text=f"Story number {n} about the harbour."))
        for n in range(3)
    ]
    with make_test_pipeline() as pipeline:
        windowed = (
            pipeline
            | beam.Create(articles)
            | beam.Map(lambda a: beam.window.TimestampedValue(a, 3600 * int(a.source[0])))
            | beam.WindowInto(beam.window.FixedWindows(3600))
        )
        _ = {"articles": windowed} | WriteTables(str(tmp_path), "ingest_date=2024-05-14", "w")
    written = json.loads((tmp_path / WRITTEN).read_text())
    rows = {entry["table"]: entry["rows"] for entry in written["files"]}
    assert rows == {"articles": 3, "duplicates": 0, "rejected": 0, "feed_health": 0}
    (file,) = (tmp_path / "articles").rglob("*.parquet")
    assert sorted(pq.read_table(file).column("source").to_pylist()) == ["0.txt", "1.txt", "2.txt"]


def test_unbounded_tables_are_refused(tmp_path: Path) -> None:
    from apache_beam.testing.test_stream import TestStream

    pipeline = make_test_pipeline()
    stream = pipeline | TestStream().add_elements([]).with_output_types(Duplicate)
    with pytest.raises(ValueError, match="unbounded: duplicates"):
        _ = {"duplicates": stream} | WriteTables(str(tmp_path), "ingest_date=2024-05-14", "w")


def test_row_groups_follow_bytes_not_only_rows() -> None:
    small = pa.table({"text": ["a few words"] * 10})
    assert row_group_rows(small) == 10  # one row group: not one per document
    assert row_group_rows(small.slice(0, 0)) == 1
    big = pa.table({"text": ["x" * 1000] * 1000})  # ~1 MB
    assert row_group_rows(big, limit=100_000) == 1000 * 100_000 // big.nbytes
    assert row_group_rows(pa.table({"text": ["x" * 1000]}), limit=10) == 1


def test_a_file_of_long_articles_has_row_groups_of_at_most_64_mb(tmp_path: Path) -> None:
    """docs/stages.md: "row groups of up to 64 MB, not one per document". pyarrow bounds a
    row group by rows (1Mi) only: a bundle of 1,800 long articles (6,000 words each, 121
    MB uncompressed) was written as one row group; now as two of under 64 MB."""
    base = to_row(clean_article(new_article("0.txt", text="A story about the harbour.")))
    words = [f"w{n}x{n * 7919 % 104729}" for n in range(6000)]
    rows = [
        {**base, "article_id": str(n), "text": " ".join(words[n:] + words[:n])} for n in range(1800)
    ]
    name = write_rows(str(tmp_path), "r", rows, DATASET_SCHEMAS["articles"])
    metadata = pq.ParquetFile(tmp_path / name).metadata
    sizes = [metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)]
    assert metadata.num_rows == 1800 and len(sizes) == 2, sizes
    assert all(size <= ROW_GROUP_BYTES for size in sizes), sizes
