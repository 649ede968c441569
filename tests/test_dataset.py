"""The output dataset (issue 11): runs accumulate in one Hive-partitioned ROOT, a run is
committed by its manifest alone, a killed run leaves nothing visible, a rerun of a run id
replaces its rows; on a local folder and on an S3 server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsbeam.pipeline import dataset
from newsbeam.pipeline import main as entry
from newsbeam.schemas import DATASET_SCHEMAS
from newsbeam.transforms.support import files
from newsbeam.transforms.support.state import CRASH_ENV, read_current
from tests.s3_server import S3Server, s3_server

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


# --- The layout's pure parts ---------------------------------------------------------------


def test_run_ids_name_files_and_nothing_else() -> None:
    for good in ("2026-12-01", "scheduled__2026-12-01T06.00.00+00.00", "r1", "daily_1"):
        assert dataset.check_run_id(good) == good
    for bad in ("", "../x", "a/b", "-x", "a b", "x" * 101, "a:b"):
        with pytest.raises(ValueError, match="--run_id"):
            dataset.check_run_id(bad)


def test_a_runs_manifest_is_built_from_its_staged_files_without_beam(tmp_path: Path) -> None:
    """The manifest (pipeline/manifest.py, out of run.py's run_locked) from staged files
    and counters alone: rows and bytes per file, counts by table and rejected reason,
    `balanced`, options with their credentials hidden, the worker plan when there is one."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from newsbeam.pipeline.manifest import build_manifest
    from newsbeam.pipeline.options import PipelineConfig
    from newsbeam.schemas import SCHEMA_VERSION

    output, staging = tmp_path / "out", tmp_path / "staging"
    rejected = [
        {"source": "a.txt", "stage": "clean", "reason": "too_short"},
        {"source": "b.html", "stage": "extract", "reason": "no_text"},
        {"source": "c.txt", "stage": "clean", "reason": "too_short"},
    ]
    moves: dict[str, list[tuple[str, str]]] = {}
    for table, schema in DATASET_SCHEMAS.items():
        staged = staging / f"{table}.parquet"
        staged.parent.mkdir(exist_ok=True)
        rows = [{**row, "detail": "", "payload": ""} for row in rejected if table == "rejected"]
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), staged)
        moves[table] = [(str(staged), str(output / table / "ingest_date=2026-12-05" / "r.parquet"))]
    options = PipelineOptions(["--feed", "https://user:hush@example.org/feed.xml"])
    config = PipelineConfig(inputs=("inbox",), output_dir=str(staging))
    started = dt.datetime(2026, 12, 5, 6, tzinfo=dt.timezone.utc)
    counters = {"read_inputs": 3}
    manifest = build_manifest(options, config, str(output), moves, counters, started, 1.23456)
    assert manifest["counts"] == {
        "inputs": 3,
        "articles": 0,
        "duplicates": 0,
        "rejected": 3,
        "feed_health": 0,
        "rejected_by": {"clean": {"too_short": 2}, "extract": {"no_text": 1}},
        "balanced": True,
    }
    (listed,) = manifest["tables"]["rejected"]["files"]
    size = (staging / "rejected.parquet").stat().st_size
    assert listed == {"path": "rejected/ingest_date=2026-12-05/r.parquet", "rows": 3, "bytes": size}
    assert (manifest["schema_version"], manifest["seconds"]) == (SCHEMA_VERSION, 1.235)
    assert manifest["started_at"] == started.isoformat() and manifest["counters"] == counters
    assert "hush" not in json.dumps(manifest) and "workers" not in manifest["config"]
    assert set(manifest["config"]) >= {"clean", "dedup", "stories"}
    unbalanced = build_manifest(options, config, str(output), moves, {"read_inputs": 4}, started, 1)
    assert unbalanced["counts"]["balanced"] is False
    plan = {"workers": 2, "why": "50 files or more"}
    planned = build_manifest(options, config, str(output), moves, counters, started, 1, plan)
    assert planned["config"]["workers"] == plan


def _manifest(**changes: object) -> dict:
    tables = {name: {"rows": 0, "files": []} for name in dataset.DATASET_TABLES}
    tables["articles"] = {"rows": 2, "files": [{"path": "articles/x=1/a.parquet", "rows": 2}]}
    content = {
        "run_id": "r1",
        "attempt": "0123abcd",
        "schema_version": "3",
        "counts": {"inputs": 2, "articles": 2, "duplicates": 0, "rejected": 0},
        "tables": tables,
    }
    content.update(changes)
    return content


def test_a_manifest_is_checked_for_what_readers_rely_on() -> None:
    assert dataset.check_manifest(_manifest(), "m")["run_id"] == "r1"
    bad_file = _manifest()
    bad_file["tables"]["articles"]["files"] = [{"path": "../../etc/passwd", "rows": 1}]
    for content, problem in (
        ([], "not a JSON object"),
        (_manifest(attempt="zz"), "no attempt"),
        (_manifest(counts={"inputs": "2"}), "no counts"),
        (_manifest(tables={"articles": {}}), "no file list"),
        (bad_file, "a bad file entry in articles"),
    ):
        with pytest.raises(dataset.DatasetError, match=problem):
            dataset.check_manifest(content, "m")


def _stage(root: str, run_id: str, attempt: str, names: list[str]) -> list[tuple[str, str]]:
    """Stage one small articles file per name, as a run would; returns the moves."""
    staging = dataset.staging_dir(root, run_id, attempt)
    moves = []
    for name in names:
        inner = ["articles", "ingest_date=2026-12-01", f"{run_id}.{attempt}-{name}.parquet"]
        staged = files.join(staging, *inner)
        table = pa.table({"article_id": [f"{run_id}-{name}"]})
        files.write_parquet(staged, table)
        moves.append((staged, files.join(root, *inner)))
    return moves


def _manifest_for(root: str, run_id: str, attempt: str, moves: list[tuple[str, str]]) -> dict:
    manifest = _manifest(run_id=run_id, attempt=attempt)
    manifest["tables"]["articles"] = {
        "rows": len(moves),
        "files": [{"path": files.relative(root, final), "rows": 1} for _, final in moves],
    }
    return manifest


def _on_disk(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


def test_commit_and_recovery_by_the_intent_record(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    files.write_json(files.join(root, dataset.DATASET_MARKER), dataset.marker_content())
    first = _stage(root, "r1", "00000001", ["a", "b"])
    dataset.commit_run(root, _manifest_for(root, "r1", "00000001", first), first)
    assert _on_disk(Path(root)) == [
        "articles/ingest_date=2026-12-01/r1.00000001-a.parquet",
        "articles/ingest_date=2026-12-01/r1.00000001-b.parquet",
    ]
    assert not (Path(root) / dataset.STAGING).exists()

    # Died before its intent: only a staging folder, removed.
    _stage(root, "r2", "00000002", ["a"])
    # Died after moving its files, before its manifest: its files go too.
    moved = _stage(root, "r3", "00000003", ["a"])
    files.write_json(
        files.join(dataset.staging_dir(root, "r3", "00000003"), dataset.INTENT),
        {"manifest": _manifest_for(root, "r3", "00000003", moved), "replaces": []},
    )
    files.move_files(moved)
    # A rerun of r1 that wrote its manifest and died before deleting the old files.
    again = _stage(root, "r1", "00000004", ["a"])
    replaced = [
        p for m in [_manifest_for(root, "r1", "00000001", first)] for p in dataset.all_paths(m)
    ]
    files.write_json(
        files.join(dataset.staging_dir(root, "r1", "00000004"), dataset.INTENT),
        {"manifest": _manifest_for(root, "r1", "00000004", again), "replaces": replaced},
    )
    files.move_files(again)
    files.write_json(
        dataset.manifest_path(root, "r1"), _manifest_for(root, "r1", "00000004", again)
    )

    done = dataset.recover(root)
    assert len(done) == 3
    assert _on_disk(Path(root)) == ["articles/ingest_date=2026-12-01/r1.00000004-a.parquet"]
    assert [m["attempt"] for m in dataset.committed_runs(root)] == ["00000004"]
    assert not (Path(root) / dataset.STAGING).exists()
    assert dataset.recover(root) == []


def test_what_is_not_a_dataset_is_refused(tmp_path: Path) -> None:
    dataset.check_root(str(tmp_path / "absent"), for_writing=True)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(dataset.DatasetError, match="does not look like a NewsBeam dataset"):
        dataset.check_root(str(tmp_path / "mine"), for_writing=True)
    with pytest.raises(dataset.DatasetError, match="not a NewsBeam dataset"):
        dataset.check_root(str(tmp_path / "absent"), for_writing=False)
    newer = tmp_path / "newer"
    files.write_json(
        str(newer / dataset.DATASET_MARKER), {"format": "newsbeam-dataset", "layout_version": 9}
    )
    with pytest.raises(dataset.DatasetError, match="layout 9"):
        dataset.check_root(str(newer), for_writing=True)


# --- Scheduled runs into one ROOT, locally and on S3 ----------------------------------------


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    """Two days of inputs; one seed in both (a copy the second day finds in the state)."""
    seeds = sorted(SEEDS.iterdir())
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    for folder, chosen in ((day1, seeds[:3]), (day2, seeds[2:])):
        folder.mkdir()
        for seed in chosen:
            (folder / seed.name).write_bytes(seed.read_bytes())
    return day1, day2


def _run(argv: list[str], crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _committed_table(root: str, table: str) -> pa.Table:
    """One table over the committed runs, read through the manifests (any filesystem)."""
    parts = [
        files.read_parquet(path)
        for manifest in dataset.committed_runs(root)
        for path in dataset.data_files(root, manifest, table)
    ]
    return pa.concat_tables(parts) if parts else DATASET_SCHEMAS[table].empty_table()


def _scheduled_runs(root: str, state: str, tmp_path: Path, flags: list[str]) -> dict[str, object]:
    day1, day2 = _inputs(tmp_path)

    def argv(folder: Path, run_id: str) -> list[str]:
        return [
            "--input",
            str(folder),
            "--output",
            root,
            "--state",
            state,
            "--run_id",
            run_id,
            *flags,
        ]

    first = _run(argv(day1, "2026-11-29"))
    assert first.returncode == 0, first.stderr
    # The next day's run dies after moving its files into place, before its manifest.
    killed = _run(argv(day2, "2026-11-30"), crash_at="files-moved")
    assert killed.returncode == 137, killed.stderr
    assert [m["run_id"] for m in dataset.committed_runs(root)] == ["2026-11-29"]
    assert _committed_table(root, "articles").num_rows == 3  # nothing of it visible
    # The scheduler retries it (same run id), then someone reruns it once more.
    retried = _run(argv(day2, "2026-11-30"))
    assert retried.returncode == 0, retried.stderr
    assert "killed before its commit" in retried.stderr
    rerun = _run(argv(day2, "2026-11-30"))
    assert rerun.returncode == 0, rerun.stderr
    return {"runs": dataset.committed_runs(root)}


def _check_every_article_once(runs: list[dict], articles: pa.Table, duplicates: pa.Table) -> None:
    assert [m["run_id"] for m in runs] == ["2026-11-29", "2026-11-30"]
    assert [m["counts"]["articles"] for m in runs] == [3, 2]
    assert [m["counts"]["duplicates"] for m in runs] == [0, 1]
    counts = duckdb.sql(
        "SELECT count(*) AS n, count(DISTINCT article_id) AS ids, count(DISTINCT source) AS s "
        "FROM articles"
    ).fetchall()[0]
    assert counts == (5, 5, 5)
    # The copy points at a kept article of the first day.
    (orphans,) = duckdb.sql(
        "SELECT count(*) FROM duplicates d LEFT JOIN articles a ON a.article_id = d.canonical_id "
        "WHERE a.article_id IS NULL"
    ).fetchall()[0]
    assert duplicates.num_rows == 1 and orphans == 0


def test_scheduled_runs_into_one_local_root(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    result = _scheduled_runs(str(root), str(state), tmp_path, [])
    # DuckDB reads each table as one Hive-partitioned dataset, straight from ROOT: after
    # the retry cleaned the killed run, every file there is a committed one.
    articles = duckdb.sql(
        f"SELECT * FROM read_parquet('{root}/articles/*/*.parquet', hive_partitioning = true)"
    ).to_arrow_table()
    duplicates = duckdb.sql(
        f"SELECT * FROM read_parquet('{root}/duplicates/*/*.parquet', hive_partitioning = true)"
    ).to_arrow_table()
    assert "ingest_date" in articles.column_names and "published_at" in articles.column_names
    _check_every_article_once(result["runs"], articles, duplicates)
    listed = {p for m in dataset.committed_runs(str(root)) for p in dataset.all_paths(m)}
    assert set(_on_disk(root)) == listed
    assert sorted(p.name for p in root.iterdir()) == [
        "_failed_runs",  # the killed run, recorded by its retry (review 88)
        "_newsbeam_dataset.json",
        "_runs",
        "articles",
        "duplicates",
        "feed_health",
        "rejected",
    ]
    assert sorted(p.name for p in (root / "_runs").iterdir()) == [
        "2026-11-29.html",
        "2026-11-29.json",
        "2026-11-30.html",
        "2026-11-30.json",
    ]
    # Every table file has its table's schema (as the warehouse loads it).
    for table, schema in DATASET_SCHEMAS.items():
        for path in (root / table).rglob("*.parquet"):
            assert pq.read_schema(path).remove_metadata() == schema.remove_metadata()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


def test_has_files_finds_a_file_at_any_depth_locally_and_on_s3(
    s3: S3Server, tmp_path: Path
) -> None:
    """A streaming pane asks whether ROOT holds any file of a table yet (its empty files,
    pipeline/streaming.py): the first one found answers, on either kind of ROOT."""
    (tmp_path / "rejected" / "ingest_date=2026-12-01").mkdir(parents=True)
    assert not files.has_files(str(tmp_path / "rejected"))
    assert not files.has_files(str(tmp_path / "absent"))
    (tmp_path / "rejected" / "ingest_date=2026-12-01" / "a.parquet").write_bytes(b"x")
    assert files.has_files(str(tmp_path / "rejected"))
    s3.use_in_process()
    assert not files.has_files(s3.url("empty", "rejected"))
    files.write_bytes(s3.url("empty", "rejected", "ingest_date=2026-12-01", "a.parquet"), b"x")
    assert files.has_files(s3.url("empty", "rejected"))
    assert not files.has_files(s3.url("empty", "rejected-not"))  # a prefix, not a folder


@pytest.mark.slow
def test_scheduled_runs_into_a_root_on_s3(s3: S3Server, tmp_path: Path) -> None:
    root, state = s3.url("news"), s3.url("state")
    s3.use_in_process()  # this process reads the store too
    result = _scheduled_runs(root, state, tmp_path, s3.flags)
    articles = _committed_table(root, "articles")
    duplicates = _committed_table(root, "duplicates")
    _check_every_article_once(result["runs"], articles, duplicates)
    # Nothing but committed files, the manifests, reports and the marker on the store.
    stored = sorted(files.relative(root, path) for path in files.list_files(root))
    listed = {p for m in dataset.committed_runs(root) for p in dataset.all_paths(m)}
    assert {p for p in stored if p.endswith(".parquet")} == listed
    assert not [p for p in stored if p.startswith(dataset.STAGING)]
    current = read_current(state)
    assert current is not None and current["run_id"] == "2026-11-30"
    assert current["output_manifest"] == dataset.manifest_path(root, "2026-11-30")
    # The run report over the dataset works on the store as well.
    assert entry.main(["report", "--output", root, "--report", str(tmp_path / "r.html")]) == 0
    assert "2026-11-30" in (tmp_path / "r.html").read_text()


@pytest.mark.slow
def test_a_run_with_worker_processes_reads_and_writes_s3(s3: S3Server, tmp_path: Path) -> None:
    # Beam's local runner hands its worker processes no pipeline options: every file a
    # worker read or wrote on the store failed ("Unable to locate credentials"), and so did
    # the run (before: exit 1). The inputs are on the store too, so the workers read it; the
    # folder named without its "/" (before: not_found, an object store having no folders).
    from apache_beam.io.filesystems import FileSystems

    s3.use_in_process()
    inbox = s3.url("inbox-workers")
    for seed in sorted(SEEDS.iterdir()):
        with FileSystems.create(f"{inbox}/{seed.name}") as handle:
            handle.write(seed.read_bytes())
    root = s3.url("news-workers")
    workers = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    argv = ["--input", inbox, "--output", root, *workers, *s3.flags]
    assert entry.main(argv) == 0
    articles = _committed_table(root, "articles")
    assert sorted(articles.column("source").to_pylist()) == [
        f"{inbox}/{seed.name}" for seed in sorted(SEEDS.iterdir())
    ]
    counts = dataset.committed_runs(root)[0]["counts"]
    assert counts["balanced"] is True and counts["inputs"] == len(list(SEEDS.iterdir()))


@pytest.mark.slow
def test_a_json_lines_file_appended_to_on_s3_gives_its_new_lines(
    s3: S3Server, tmp_path: Path
) -> None:
    # An object can only be replaced whole: the run finds the earlier bytes by their hash
    # and reads on from them (Beam's S3 stream seeks).
    from apache_beam.io.filesystems import FileSystems

    s3.use_in_process()
    log, root, state = s3.url("inbox-log", "wire.jsonl"), s3.url("news-log"), s3.url("log-state")
    lines = [
        json.dumps({"url": f"http://127.0.0.1:9/{n}", "title": f"Report {n}", "text": text})
        for n, text in enumerate(seed.read_text() for seed in sorted(SEEDS.glob("*.txt")))
    ]
    argv = ["--input", s3.url("inbox-log"), "--output", root, "--state", state, *s3.flags]
    sources: list[str] = []
    for count in (2, len(lines)):
        with FileSystems.create(log) as handle:
            handle.write("".join(line + "\n" for line in lines[:count]).encode())
        assert entry.main(argv) == 0
        articles = _committed_table(root, "articles").column("source").to_pylist()
        sources.append(sorted(set(articles) - {s for earlier in sources for s in earlier}))
    manifest = dataset.committed_runs(root)[-1]
    assert sources == [[f"{log}#L1", f"{log}#L2"], [f"{log}#L{n}" for n in range(3, 6)]]
    assert manifest["counts"]["inputs"] == 3 and manifest["counts"]["duplicates"] == 0


def test_a_corrupt_manifest_stops_the_next_run(tmp_path: Path, capsys) -> None:
    root = tmp_path / "root"
    argv = ["--input", str(SEEDS), "--output", str(root), "--run_id", "r1"]
    assert entry.main(argv) == 0
    (root / "_runs" / "r1.json").write_text("{not json")
    before = sorted(str(p) for p in root.rglob("*"))
    assert entry.main(argv) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert sorted(str(p) for p in root.rglob("*")) == before
    (root / "_runs" / "r1.json").write_text(json.dumps({"run_id": "r1"}))
    assert entry.main(["report", "--output", str(root)]) == 2
    assert "not a usable NewsBeam run manifest" in capsys.readouterr().err


def test_the_marker_comes_first_and_goes_with_a_failed_first_run(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    dataset.ensure_marker(root)
    assert dataset.is_dataset(root)
    dataset.check_root(root, for_writing=True)  # a marked ROOT with nothing else is usable
    (tmp_path / "root" / "_staging").mkdir()
    (tmp_path / "root" / "_staging" / "x.parquet").write_bytes(b"left by a killed run")
    dataset.unmark_unused(root)  # something else is there: the marker stays
    assert dataset.is_dataset(root)
    (tmp_path / "root" / "_staging" / "x.parquet").unlink()
    dataset.unmark_unused(root)
    assert not (tmp_path / "root").exists()


def test_the_printed_query_runs_for_a_root_with_a_quote_in_its_name(tmp_path: Path) -> None:
    # Review 69: the query the run prints put the output folder inside '...' as it was:
    # for "o'brien news/out" it did not parse (and a folder name could end the string and
    # add SQL to what the operator pastes into DuckDB).
    from newsbeam.pipeline.main import format_summary
    from tests import dataset_fixtures as fx

    root = tmp_path / "o'brien news" / "out"
    manifest = fx.write_run(str(root), "r1", articles=[fx.article("q1")])
    manifest.update(seconds=1.0, stage_seconds={})
    manifest["counts"].update(rejected_by={})
    (line,) = [x for x in format_summary(manifest, str(root)).splitlines() if "DuckDB:" in x]
    got = duckdb.sql(line.split("DuckDB:", 1)[1]).fetchall()
    assert got == [(fx.article("q1").title, fx.article("q1").language)]


def test_the_printed_query_reads_a_root_of_two_schema_versions_whole(tmp_path: Path) -> None:
    """A ROOT an older NewsBeam wrote runs into, then this one: DuckDB binds a glob to its
    first file's columns, so the query the run printed, as `SELECT *`, silently had no
    `topic_labels` (the older file first) or failed (the newer first). By name it reads
    every column, null where a file lacks it."""
    from newsbeam.pipeline.main import format_summary
    from tests import dataset_fixtures as fx

    root = tmp_path / "root"
    older = fx.write_run(str(root), "a-older", articles=[fx.article("o1")])
    path = Path(dataset.data_files(str(root), older, "articles")[0])
    pq.write_table(pq.read_table(path).drop_columns(["topic_labels"]), path)
    newer = fx.write_run(str(root), "b-newer", articles=[fx.article("n1")])
    newer.update(seconds=1.0, stage_seconds={})
    newer["counts"].update(rejected_by={})
    (line,) = [x for x in format_summary(newer, str(root)).splitlines() if "DuckDB:" in x]
    query = line.split("DuckDB:", 1)[1].replace("SELECT title, language", "SELECT *")
    got = duckdb.sql(query).to_arrow_table()
    assert "topic_labels" in got.column_names and got.num_rows == 2
    sources, labels = got.column("source").to_pylist(), got.column("topic_labels").to_pylist()
    labels = dict(zip(sources, labels, strict=True))
    assert labels == {"inputs/o1.txt": None, "inputs/n1.txt": ["economy, business and finance"]}


def test_the_printed_summary_aligns_its_counts_and_shares() -> None:
    """The summary an editor reads at the end of a run printed "articles    535  (95.0%)"
    over "duplicates  25  (4.4%)": counts and shares left-aligned, no separators (review
    83). They are right-aligned now, thousands separated."""
    from newsbeam.pipeline.main import format_summary

    counts = {"inputs": 1563, "articles": 1535, "duplicates": 25, "rejected": 3}
    manifest = {"counts": {**counts, "rejected_by": {}, "balanced": True}, "seconds": 2.0}
    lines = format_summary({**manifest, "run_id": "r"}, "/out").splitlines()[1:4]
    assert lines == [
        "  articles    1,535   (98.2%)",
        "  duplicates     25    (1.6%)",
        "  rejected        3    (0.2%)",
    ]


def test_the_summary_of_an_object_store_root_says_how_to_query_it_offline() -> None:
    """For an s3:// ROOT the printed DuckDB query needs DuckDB's httpfs extension (a
    download) and the store's settings, which a run never said (review 80's list): the
    summary names them and the loader's command, which must parse as printed."""
    import shlex

    from newsbeam.pipeline.main import format_summary
    from newsbeam.pipeline.warehouse import parser

    counts = {"inputs": 1, "articles": 1, "duplicates": 0, "rejected": 0}
    manifest = {"counts": {**counts, "rejected_by": {}, "balanced": True}, "seconds": 1.0}
    local = format_summary({**manifest, "run_id": "r"}, "/srv/news")
    assert "httpfs" not in local and "newsbeam warehouse" not in local
    summary = format_summary({**manifest, "run_id": "r"}, "s3://news bucket/out/")
    (hint,) = [x for x in summary.splitlines() if "httpfs" in x]
    command = shlex.split("newsbeam " + hint.split(" newsbeam ", 1)[1].rstrip(")"))
    assert command[:2] == ["newsbeam", "warehouse"]
    options = parser().parse_args(command[2:])
    assert (options.output, options.db) == ("s3://news bucket/out", "news.duckdb")
