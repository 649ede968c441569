"""The tables as a data scientist reads them (docs/warehouse.md#pandas-polars-and-pyarrow):
real runs into one ROOT, plus a file of an older schema version, read with pyarrow,
pandas and polars (each where it is installed) as the docs say, and the conventions the
docs promise checked on every table's files."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from newsbeam.pipeline import dataset
from newsbeam.pipeline import main as entry
from newsbeam.schemas import DATASET_SCHEMAS, SCHEMA_VERSION_KEY
from tests.helpers import SEEDS

OLDER_DAY = "ingest_date=2026-11-30"  # before any run here: an older file sorts first


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs into one ROOT (a copy, a rejected input, articles), then one articles file
    of schema 4 (no `outlet`) in an earlier day, as an older NewsBeam left it."""
    base = tmp_path_factory.mktemp("readers")
    inputs = base / "inputs"
    shutil.copytree(SEEDS, inputs)
    shutil.copy(inputs / "000_db9c951b058321f9.txt", inputs / "000_copy.txt")
    (inputs / "empty.txt").write_bytes(b"")
    out = base / "root"
    assert entry.main(["--input", str(inputs), "--output", str(out), "--run_id", "a"]) == 0
    more = base / "more"
    more.mkdir()
    shutil.copy(SEEDS / "004_eeed765ea5174f0f.txt", more / "004.txt")
    assert entry.main(["--input", str(more), "--output", str(out), "--run_id", "b"]) == 0
    (newest,) = dataset.data_files(str(out), dataset.read_manifest(str(out), "b"), "articles")
    older = pq.read_table(newest).drop_columns(["outlet"])
    older = older.replace_schema_metadata({SCHEMA_VERSION_KEY: b"4"})
    (out / "articles" / OLDER_DAY).mkdir()
    pq.write_table(older, out / "articles" / OLDER_DAY / "old.0123abcd-00000-of-00001.parquet")
    return out


def _rows(root: Path, table: str) -> int:
    """Rows of `table` in ROOT, by the manifests and the older file."""
    runs = dataset.committed_runs(str(root))
    listed = sum(run["tables"][table]["rows"] for run in runs)
    return listed + (1 if table == "articles" else 0)  # the older file: run b's one article


def _schema(table: str) -> pa.Schema:
    return DATASET_SCHEMAS[table].append(pa.field("ingest_date", pa.date32()))


@pytest.mark.parametrize("table", list(DATASET_SCHEMAS))
def test_pyarrow_reads_every_file_by_the_documented_schema(root: Path, table: str) -> None:
    read = ds.dataset(f"{root}/{table}", schema=_schema(table), partitioning="hive").to_table()
    assert read.num_rows == _rows(root, table)
    assert read.schema.field("ingest_date").type == pa.date32()
    if table == "articles":  # the older file's row has the newer column, null
        older = read.filter(pc.equal(read["ingest_date"], pa.scalar(dt.date(2026, 11, 30))))
        assert older.num_rows == 1 and older["outlet"].null_count == 1


def test_pandas_reads_dates_and_every_column_as_documented(root: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.read_parquet(
        f"{root}/articles", schema=_schema("articles"), partitioning="hive", dtype_backend="pyarrow"
    )
    assert len(frame) == _rows(root, "articles")
    assert str(frame["ingest_date"].dtype) == "date32[day][pyarrow]"
    assert str(frame["published_at"].dtype) == "timestamp[us, tz=UTC][pyarrow]"
    assert "outlet" in frame.columns
    health = pd.read_parquet(
        f"{root}/feed_health",
        schema=_schema("feed_health"),
        partitioning="hive",
        dtype_backend="pyarrow",
    )
    assert str(health["http_status"].dtype) == "int64[pyarrow]"


def test_polars_reads_dates_and_every_column_as_documented(root: Path) -> None:
    pl = pytest.importorskip("polars")
    frame = pl.scan_parquet(
        f"{root}/articles/**/*.parquet",
        schema=pl.from_arrow(DATASET_SCHEMAS["articles"].empty_table()).schema,
        hive_partitioning=True,
        missing_columns="insert",
    ).collect()
    assert frame.height == _rows(root, "articles")
    assert frame.schema["ingest_date"] == pl.Date
    assert frame.schema["published_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["removed"] == pl.List(pl.Struct({"text": pl.String, "reason": pl.String}))
    assert frame.filter(pl.col("ingest_date") == pl.date(2026, 11, 30))["outlet"].to_list() == [
        None
    ]


@pytest.mark.parametrize("table", list(DATASET_SCHEMAS))
def test_null_empty_and_list_conventions_hold_in_every_table(root: Path, table: str) -> None:
    """docs/warehouse.md: strings null, never "" (rejected.payload excepted); lists empty,
    never null, no null element; timestamps UTC microseconds; no dictionary columns."""
    runs = dataset.committed_runs(str(root))
    paths = [path for run in runs for path in dataset.data_files(str(root), run, table)]
    read = pa.concat_tables(pq.read_table(path) for path in paths)
    assert read.schema.remove_metadata() == DATASET_SCHEMAS[table].remove_metadata()
    for field in read.schema:
        column = read[field.name]
        if pa.types.is_string(field.type) and (table, field.name) != ("rejected", "payload"):
            assert not pc.any(pc.equal(column, "")).as_py(), field.name
        if pa.types.is_list(field.type):
            assert column.null_count == 0, field.name
            assert pc.list_flatten(column).null_count == 0, field.name
        if pa.types.is_timestamp(field.type):
            assert (field.type.unit, field.type.tz) == ("us", "UTC"), field.name
        assert not pa.types.is_dictionary(field.type), field.name
    parquet = pq.ParquetFile(paths[0])
    assert all(
        parquet.schema.column(i).physical_type != "INT96" for i in range(len(parquet.schema))
    )
    assert not any(b"PARQUET:field_id" in (field.metadata or {}) for field in parquet.schema_arrow)


def test_join_keys_have_one_type_and_every_copy_finds_its_article(root: Path) -> None:
    articles = ds.dataset(f"{root}/articles", schema=_schema("articles"), partitioning="hive")
    copies = ds.dataset(f"{root}/duplicates", schema=_schema("duplicates"), partitioning="hive")
    kept = articles.to_table(columns=["article_id"])["article_id"]
    canonical = copies.to_table(columns=["canonical_id"])["canonical_id"]
    assert kept.type == canonical.type == pa.string()
    assert len(canonical) >= 1 and pc.all(pc.is_in(canonical, value_set=kept)).as_py()


def test_table_folders_hold_only_data_files_every_reader_reads(root: Path) -> None:
    """pyarrow, pandas and Spark skip names starting with `_` or `.`; DuckDB and polars
    globs do not: a table's folder holds no such name, and nothing but Parquet files in
    `ingest_date=` folders."""
    for table in DATASET_SCHEMAS:
        for path in (root / table).rglob("*"):
            relative = path.relative_to(root / table).parts
            assert relative[0].startswith("ingest_date="), path
            assert not any(part[0] in "._" for part in relative), path
            assert path.is_dir() or path.suffix == ".parquet", path
