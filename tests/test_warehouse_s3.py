"""`newsbeam warehouse` over a ROOT on an S3-compatible server (moto, on 127.0.0.1), read
through Beam's S3 filesystem: DuckDB tables, and Iceberg tables registering s3:// files."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsbeam.pipeline import main as entry
from tests import dataset_fixtures as fx
from tests.test_warehouse import DAY1, DAY2, rows

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A bucket on a local S3 server; yields the Beam flags that reach it."""
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    flags = [
        f"--s3_endpoint_url={endpoint}",
        "--s3_access_key_id=test",
        "--s3_secret_access_key=test",
        "--s3_region_name=us-east-1",
    ]
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="news")
    FileSystems.set_options(PipelineOptions(flags))
    try:
        yield flags
    finally:
        FileSystems.set_options(None)
        server.stop()


@pytest.mark.slow
def test_duckdb_and_iceberg_over_a_root_on_s3(tmp_path: Path, s3: list[str], capsys: Any) -> None:
    root = "s3://news/dataset"
    story = [fx.article("a1", story_id="s1"), fx.article("a2", story_id="s1", site="b.org")]
    fx.write_run(root, "day-1", articles=story, duplicates=[fx.duplicate("c", story[0])])
    fx.write_run(root, "day-2", articles=[fx.article("b1")], started=DAY2)
    fx.write_run(root, "killed", articles=[fx.article("k")], started=DAY2, commit=False)
    db = tmp_path / "w.duckdb"
    (tmp_path / "iceberg").mkdir()
    endpoint = s3[0].split("=", 1)[1]
    iceberg = [
        "--iceberg",
        f"sqlite:///{tmp_path}/iceberg/catalog.db",
        "--iceberg_warehouse",
        f"file://{tmp_path}/iceberg",
        "--iceberg_property",
        f"s3.endpoint={endpoint}",
        "--iceberg_property",
        "s3.access-key-id=test",
        "--iceberg_property",
        "s3.secret-access-key=test",
        "--iceberg_property",
        "s3.region=us-east-1",
    ]
    argv = ["warehouse", "--output", root, "--db", str(db), *iceberg, *s3]
    assert entry.main(argv) == 0, capsys.readouterr().err
    assert rows(db, "SELECT run_id, count(*) FROM articles GROUP BY 1 ORDER BY 1") == [
        ("day-1", 2),
        ("day-2", 1),
    ]
    assert rows(db, "SELECT article_count, sources FROM stories") == [
        (2, ["b.org", "news.example.com"])
    ]
    # A rerun on the object store replaces the run in both.
    fx.write_run(root, "day-1", articles=[fx.article("a1")], started=DAY1)
    assert entry.main(argv) == 0, capsys.readouterr().err
    assert rows(db, "SELECT run_id, count(*) FROM articles GROUP BY 1 ORDER BY 1") == [
        ("day-1", 1),
        ("day-2", 1),
    ]
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog(
        "newsbeam",
        uri=f"sqlite:///{tmp_path}/iceberg/catalog.db",
        warehouse=f"file://{tmp_path}/iceberg",
        **{
            "s3.endpoint": endpoint,
            "s3.access-key-id": "test",
            "s3.secret-access-key": "test",
            "s3.region": "us-east-1",
        },
    )
    table = catalog.load_table(("newsbeam", "articles"))
    assert all(t.file.file_path.startswith(root + "/") for t in table.scan().plan_files())
    got = sorted((r["run_id"], r["article_id"]) for r in table.scan().to_arrow().to_pylist())
    assert got == sorted(
        [("day-1", fx.article("a1").article_id), ("day-2", fx.article("b1").article_id)]
    )


def test_a_missing_file_on_s3_is_refused(tmp_path: Path, s3: list[str], capsys: Any) -> None:
    root = "s3://news/broken"
    made = fx.write_run(root, "day-1", articles=[fx.article("a1")])
    from apache_beam.io.filesystems import FileSystems

    FileSystems.delete([f"{root}/{made['tables']['articles']['files'][0]['path']}"])
    db = tmp_path / "w.duckdb"
    assert entry.main(["warehouse", "--output", root, "--db", str(db), *s3]) == 2
    assert "missing" in capsys.readouterr().err
    assert not db.exists()


def test_the_report_over_a_root_on_s3_takes_its_flags(
    tmp_path: Path, s3: list[str], capsys: Any
) -> None:
    # `newsbeam report` refused the --s3_* flags ("unrecognized arguments"), so a ROOT on a
    # store that needs an endpoint or credentials had no report.
    from apache_beam.io.filesystems import FileSystems

    root = "s3://news/reported"
    fx.write_run(root, "day-1", articles=[fx.article("a1")])
    FileSystems.set_options(None)  # as a fresh `newsbeam report` process: the flags only
    target = tmp_path / "report.html"
    argv = ["report", "--output", root, "--report", str(target)]
    assert entry.main([*argv, *s3]) == 0, capsys.readouterr().err
    assert "inputs 1 = articles 1 + duplicates 0 + rejected 0" in target.read_text()
    assert entry.main([*argv, "--no_such_flag", *s3]) == 2
    assert "unknown argument" in capsys.readouterr().err


def test_a_store_that_cannot_be_used_is_refused_in_seconds(
    tmp_path: Path, s3: list[str], seeds_dir: Path, capsys: Any
) -> None:
    # Before: Beam's client retried for 14-25 minutes, then the warehouse said "not a
    # NewsBeam dataset" and a run "the runner's job service did not answer".
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = [f"--s3_endpoint_url=http://127.0.0.1:{closed}", *s3[1:]]
    started = time.monotonic()
    run = ["--input", str(seeds_dir), "--output", "s3://news/down"]
    assert entry.main([*run, *down]) == 2
    assert "s3://news/down: the object store at http://127.0.0.1:" in capsys.readouterr().err
    assert entry.main(["warehouse", "--output", "s3://news/x", "--db", str(tmp_path / "w.db"),
                       *down]) == 2  # fmt: skip
    assert "cannot be reached" in capsys.readouterr().err
    assert entry.main([*run[:2], "--output", "s3://no-such-bucket/x", *s3]) == 2
    assert "there is no bucket no-such-bucket at http://127.0.0.1:" in capsys.readouterr().err
    assert time.monotonic() - started < 60


def test_an_input_on_a_store_that_cannot_be_used_is_refused_in_seconds(
    tmp_path: Path, s3: list[str], capsys: Any
) -> None:
    # Before: an --input in a bucket that does not exist was read as an empty folder (the
    # run committed one `not_found` row), and one whose endpoint was down kept the read
    # stage waiting on Beam's retries (over 5 minutes between two of them).
    out = str(tmp_path / "out")
    missing = ["--input", "s3://no-such-bucket/inbox", "--output", out]
    assert entry.main([*missing, *s3]) == 2
    error = capsys.readouterr().err
    assert "--input s3://no-such-bucket/inbox: there is no bucket no-such-bucket" in error
    assert not (tmp_path / "out").exists()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = [f"--s3_endpoint_url=http://127.0.0.1:{closed}", *s3[1:]]
    started = time.monotonic()
    feeds = ["--feeds", "s3://news/feeds.txt", "--output", out]
    assert entry.main([*feeds, *down]) == 2
    assert "--feeds s3://news/feeds.txt: the object store at" in capsys.readouterr().err
    assert time.monotonic() - started < 30
