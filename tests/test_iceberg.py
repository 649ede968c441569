"""`newsbeam warehouse --iceberg`: the runs' Parquet files registered in Iceberg tables of a
real pyiceberg SQL catalog on SQLite with a local warehouse folder, read back with scans."""

from __future__ import annotations

import hashlib
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from newsbeam.pipeline import dataset, iceberg
from newsbeam.pipeline import main as entry
from tests import dataset_fixtures as fx
from tests.dataset_fixtures import refused
from tests.test_warehouse import DAY1, DAY2, two_runs

pytest.importorskip("pyiceberg")

from pyiceberg.catalog import load_catalog  # noqa: E402


def flags(tmp_path: Path) -> list[str]:
    (tmp_path / "iceberg").mkdir(exist_ok=True)
    return [
        "--iceberg",
        f"sqlite:///{tmp_path}/iceberg/catalog.db",
        "--iceberg_warehouse",
        f"file://{tmp_path}/iceberg",
        "--iceberg_namespace",
        "news",
    ]


def load(root: Path, tmp_path: Path) -> int:
    return entry.main(["warehouse", "--output", str(root), *flags(tmp_path)])


def catalog(tmp_path: Path) -> Any:
    return load_catalog(
        "newsbeam",
        uri=f"sqlite:///{tmp_path}/iceberg/catalog.db",
        warehouse=f"file://{tmp_path}/iceberg",
    )


def scan(tmp_path: Path, table: str, *columns: str) -> list[tuple[Any, ...]]:
    rows = catalog(tmp_path).load_table(("news", table)).scan().to_arrow()
    return sorted(tuple(row[c] for c in columns) for row in rows.to_pylist())


def snapshots(tmp_path: Path) -> dict[str, list[int]]:
    tables = catalog(tmp_path)
    return {
        name: [s.snapshot_id for s in tables.load_table(("news", name)).snapshots()]
        for name in dataset.DATASET_TABLES
    }


def test_runs_are_registered_as_written_and_read_back(tmp_path: Path) -> None:
    root = tmp_path / "root"
    made = two_runs(root)
    assert load(root, tmp_path) == 0
    runs = ["daily-1"] * 3 + ["daily-2"]
    days = [DAY1.date()] * 3 + [DAY2.date()]
    assert scan(tmp_path, "articles", "article_id", "title", "places", "run_id", "ingest_date") == (
        sorted(
            (a.article_id, a.title, a.places, run, day)
            for a, run, day in zip(made["articles"], runs, days, strict=True)
        )
    )
    assert len(scan(tmp_path, "duplicates", "article_id")) == 3
    assert scan(tmp_path, "feed_health", "feed_url", "run_id") == [
        ("https://feeds.example/rss", "daily-1")
    ]
    table = catalog(tmp_path).load_table(("news", "articles"))
    # The files are the dataset's own, not copies.
    registered = sorted(task.file.file_path for task in table.scan().plan_files())
    assert registered == sorted(
        "file://" + path
        for m in made["manifests"]
        for path in dataset.data_files(str(root), m, "articles")
    )
    assert [s.summary.get("newsbeam.run_id") for s in table.snapshots()] == ["daily-1", "daily-2"]
    assert iceberg.loaded_runs(table) == {m["run_id"]: m["attempt"] for m in made["manifests"]}
    # Partition pruning by run id works on the columns the files do not hold.
    from pyiceberg.expressions import EqualTo

    assert len(table.scan(row_filter=EqualTo("run_id", "daily-2")).to_arrow()) == 1


def test_refresh_is_incremental_and_a_rerun_replaces_its_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    two_runs(root)
    assert load(root, tmp_path) == 0
    before = snapshots(tmp_path)
    assert load(root, tmp_path) == 0
    assert snapshots(tmp_path) == before  # nothing new: no commit at all

    rerun = fx.write_run(str(root), "daily-1", articles=[fx.article("a1")], started=DAY1)
    fx.write_run(str(root), "daily-3", articles=[fx.article("c1")], started=DAY2)
    assert load(root, tmp_path) == 0
    assert scan(tmp_path, "articles", "run_id", "article_id") == sorted(
        [
            ("daily-1", fx.article("a1").article_id),
            ("daily-2", fx.article("b1").article_id),
            ("daily-3", fx.article("c1").article_id),
        ]
    )
    assert [r for r in scan(tmp_path, "duplicates", "run_id") if r[0] == "daily-1"] == []
    table = catalog(tmp_path).load_table(("news", "articles"))
    assert iceberg.loaded_runs(table)["daily-1"] == rerun["attempt"]
    operations = [
        (s.summary.operation.value, s.summary.get("newsbeam.run_id")) for s in table.snapshots()
    ]
    assert operations[2:] == [("overwrite", "daily-1"), ("append", "daily-3")]
    # Every snapshot's files still exist: the rerun's old files are out of the table.
    for task in table.scan().plan_files():
        assert Path(task.file.file_path.removeprefix("file://")).exists()


def test_a_refresh_cut_between_tables_is_completed_not_doubled(tmp_path: Path) -> None:
    root = tmp_path / "root"
    two_runs(root)
    manifests = dataset.committed_runs(str(root))
    spec = iceberg.CatalogSpec(
        f"sqlite:///{tmp_path}/iceberg/catalog.db", "news", f"file://{tmp_path}/iceberg"
    )
    (tmp_path / "iceberg").mkdir()
    # As if the last refresh died after committing daily-1 to articles only.
    opened = iceberg.open_catalog(spec)
    opened.create_namespace("news")
    articles = iceberg.ensure_table(opened, "news", "articles")
    footers = iceberg.read_footers(str(root), manifests[0], "articles")
    iceberg._commit_run(articles, manifests[0], footers, rerun=False)
    summary = iceberg.refresh_iceberg(str(root), manifests, spec)
    assert summary.runs_loaded == ["daily-1", "daily-2"]
    assert summary.rows["articles"] == 1  # only daily-2's article was missing there
    assert [r[0] for r in scan(tmp_path, "articles", "run_id")] == ["daily-1"] * 3 + ["daily-2"]
    assert len(scan(tmp_path, "rejected", "run_id")) == 1


def test_a_killed_run_is_not_registered(tmp_path: Path) -> None:
    root = tmp_path / "root"
    two_runs(root)  # holds a run killed before its commit
    assert load(root, tmp_path) == 0
    assert "killed" not in {r[0] for r in scan(tmp_path, "articles", "run_id")}


# --- Bad input: one line, exit 2, catalog unchanged ---------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_sqlite_catalog_in_a_missing_folder_is_refused(tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "root"
    two_runs(root)
    argv = ["warehouse", "--output", str(root), "--iceberg", f"sqlite:///{tmp_path}/no/cat.db"]
    refused(capsys, [*argv, "--iceberg_warehouse", f"file://{tmp_path}/w"], "does not exist")
    assert not (tmp_path / "no").exists()
    assert not (tmp_path / "w").exists()
    refused(capsys, ["warehouse", "--output", str(root), "--iceberg", "ftp://x/y"], "catalog URI")


def test_an_unreachable_rest_catalog_is_refused(tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "root"
    two_runs(root)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    refused(
        capsys,
        ["warehouse", "--output", str(root), "--iceberg", f"http://127.0.0.1:{port}"],
        f"http://127.0.0.1:{port}",
        "cannot use the catalog",
    )
    assert time.monotonic() - started < 30


def test_bad_input_leaves_the_catalog_as_it_was(tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "root"
    two_runs(root)
    assert load(root, tmp_path) == 0
    capsys.readouterr()
    before = digest(tmp_path / "iceberg" / "catalog.db"), snapshots(tmp_path)
    # A new run with a missing file, then a corrupt manifest: neither changes a table.
    late = fx.write_run(str(root), "daily-3", articles=[fx.article("n1")], started=DAY2)
    fx.write_run(str(root), "daily-4", articles=[fx.article("n2")], started=DAY2)
    Path(dataset.data_files(str(root), late, "feed_health")[0]).unlink()
    refused(capsys, ["warehouse", "--output", str(root), *flags(tmp_path)], "daily-3", "missing")
    assert (digest(tmp_path / "iceberg" / "catalog.db"), snapshots(tmp_path)) == before
    Path(dataset.manifest_path(str(root), "daily-3")).write_text("[]")
    refused(capsys, ["warehouse", "--output", str(root), *flags(tmp_path)], "daily-3.json")
    assert (digest(tmp_path / "iceberg" / "catalog.db"), snapshots(tmp_path)) == before
    # ROOT that is no dataset: the catalog is not even opened.
    refused(
        capsys,
        ["warehouse", "--output", str(tmp_path / "iceberg"), *flags(tmp_path)],
        "not a NewsBeam dataset",
    )
    assert (digest(tmp_path / "iceberg" / "catalog.db"), snapshots(tmp_path)) == before


def test_a_manifest_naming_a_run_id_with_quotes_is_refused_not_run_as_a_filter(
    tmp_path: Path, capsys: Any
) -> None:
    # The Iceberg loader wrote a manifest's run id into a row filter string
    # (`run_id == '<id>'`), trusting that run ids hold no quotes; only the manifest's file
    # name was checked. A manifest whose run_id was `x' or run_id != 'x` matched every
    # run's files when it was loaded again: they left the table (review 69).
    import json

    root = tmp_path / "root"
    two_runs(root)
    assert load(root, tmp_path) == 0
    hostile = "x' or run_id != 'x"
    manifest = json.loads(Path(dataset.manifest_path(str(root), "daily-2")).read_text())
    planted = Path(dataset.manifest_path(str(root), "planted"))
    for attempt in ("0000aaaa", "0000bbbb"):
        planted.write_text(json.dumps({**manifest, "run_id": hostile, "attempt": attempt}))
        capsys.readouterr()
        refused(capsys, ["warehouse", "--output", str(root), *flags(tmp_path)], "planted.json")
    assert {run for (run,) in scan(tmp_path, "articles", "run_id")} == {"daily-1", "daily-2"}
    # A manifest whose run id is valid but not its file's name is refused the same way.
    planted.write_text(json.dumps({**manifest, "attempt": "0000cccc"}))
    refused(capsys, ["warehouse", "--output", str(root), *flags(tmp_path)], "planted.json")


def test_without_pyiceberg_the_message_says_what_to_install(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    two_runs(root)
    monkeypatch.setitem(sys.modules, "pyiceberg.catalog", None)  # import fails
    refused(capsys, ["warehouse", "--output", str(root), *flags(tmp_path)], "newsbeam[iceberg]")


def test_a_pyiceberg_older_than_the_registration_needs_is_named_with_the_version_needed() -> None:
    """pyiceberg 0.9 (the extra's old floor) failed every load (no `DataFile.from_args`), 0.10
    a rerun's overwrite and snapshot expiry, each with an error of pyiceberg's internals."""
    for old in ("0.9.0", "0.10.0", "0.10.1rc1"):
        message = iceberg.pyiceberg_too_old(old)
        assert message is not None and f"found {old}" in message
        assert "pyiceberg 0.11 or later" in message and "newsbeam[iceberg]" in message
    for new in ("0.11.0", "0.12.0", "1.0.0", "weird"):
        assert iceberg.pyiceberg_too_old(new) is None


def test_catalog_uris_map_to_pyiceberg_catalog_types() -> None:
    def config(uri: str, **extra: Any) -> dict[str, str]:
        return iceberg.catalog_config(iceberg.CatalogSpec(uri, **extra))[1]

    assert config("https://cat.example/api", warehouse="s3://b/w")["type"] == "rest"
    assert config("thrift://hms:9083")["type"] == "hive"
    assert config("glue://eu-west-1") == {"type": "glue", "glue.region": "eu-west-1"}
    assert config("postgresql+psycopg2://u@h/db", warehouse="s3://b/w")["type"] == "sql"
    with pytest.raises(iceberg.WarehouseError, match="--iceberg_warehouse"):
        config("sqlite:////tmp/cat.db")
    name, mine = iceberg.catalog_config(iceberg.CatalogSpec("prod", properties={"a": "b"}))
    assert (name, mine) == ("prod", {"a": "b"})  # a name configured in ~/.pyiceberg.yaml
    assert iceberg.parse_properties(["s3.endpoint=http://127.0.0.1:9000"]) == {
        "s3.endpoint": "http://127.0.0.1:9000"
    }
    with pytest.raises(iceberg.WarehouseError, match="KEY=VALUE"):
        iceberg.parse_properties(["nothing"])


def test_expired_snapshots_keep_the_rows_and_the_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    made = two_runs(root)
    fx.write_run(str(root), "daily-3", articles=[fx.article("c1")], started=DAY2)
    # Three snapshots per table, more than 2 x 1: expired down to one.
    argv = ["warehouse", "--output", str(root), *flags(tmp_path), "--iceberg_keep_snapshots", "1"]
    assert entry.main(argv) == 0
    assert {name: len(ids) for name, ids in snapshots(tmp_path).items()} == dict.fromkeys(
        dataset.DATASET_TABLES, 1
    )
    assert len(scan(tmp_path, "articles", "article_id")) == len(made["articles"]) + 1
    assert all((root / path).exists() for m in made["manifests"] for path in dataset.all_paths(m))
    before = snapshots(tmp_path)
    assert entry.main(argv) == 0  # the runs are still known: nothing committed
    assert snapshots(tmp_path) == before


def test_appends_merge_small_manifests(tmp_path: Path) -> None:
    root = tmp_path / "root"
    fx.write_run(str(root), "r0", articles=[fx.article("m0")], started=DAY1)
    assert load(root, tmp_path) == 0
    table = catalog(tmp_path).load_table(("news", "articles"))
    assert table.properties["commit.manifest-merge.enabled"] == "true"
    with table.transaction() as transaction:  # merge at 3 manifests (default: 100)
        transaction.set_properties(**{"commit.manifest.min-count-to-merge": "3"})
    for index in range(1, 6):
        fx.write_run(str(root), f"r{index}", articles=[fx.article(f"m{index}")], started=DAY1)
        assert load(root, tmp_path) == 0
    table = catalog(tmp_path).load_table(("news", "articles"))
    manifests = table.current_snapshot().manifests(table.io)
    # Six runs, one file each: without merging, six manifests in the list.
    assert len(manifests) < 3
    assert len(scan(tmp_path, "articles", "article_id")) == 6


def test_a_table_an_older_release_created_gets_the_new_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 59: an Iceberg table is created once, from the schema of the NewsBeam that
    loads first. One made at schema 4 had no `outlet`, and after the upgrade the files that
    hold it were registered under the old schema: the column was nowhere to be read. The
    table now gains the columns its schema lacks (older files read them as null)."""
    root = tmp_path / "root"
    older = fx.SCHEMAS["articles"].remove(fx.SCHEMAS["articles"].get_field_index("outlet"))
    news = fx.article("a1", site="www.bbc.co.uk")
    fx.write_run(str(root), "night-1", articles=[news], schema_version="4", without=["outlet"])
    with monkeypatch.context() as schema_4:  # the loader of schema 4: its articles columns
        schema_4.setitem(fx.SCHEMAS, "articles", older)
        assert load(root, tmp_path) == 0
    table = catalog(tmp_path).load_table(("news", "articles"))
    assert "outlet" not in {field.name for field in table.schema().fields}

    later = fx.article("b1", site="apnews.com")
    fx.write_run(str(root), "night-2", articles=[later], started=DAY2)
    assert load(root, tmp_path) == 0
    assert scan(tmp_path, "articles", "article_id", "outlet") == sorted(
        [(news.article_id, None), (later.article_id, "apnews.com")]
    )
    assert load(root, tmp_path) == 0  # nothing left to add: no further commit
    assert len(catalog(tmp_path).load_table(("news", "articles")).snapshots()) == 2
