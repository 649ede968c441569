"""`newsbeam warehouse --db`: DuckDB tables and views over a dataset's committed runs,
incremental, reruns replaced, bad input refused with exit 2 and nothing changed.
Datasets are written by tests/dataset_fixtures.py (real Parquet, real commits)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from newsbeam.pipeline import dataset, warehouse
from newsbeam.pipeline import main as entry
from newsbeam.schemas import SCHEMA_VERSION, Article
from tests import dataset_fixtures as fx
from tests.dataset_fixtures import refused

UTC = dt.timezone.utc
DAY1 = dt.datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
DAY2 = dt.datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def two_runs(root: Path) -> dict[str, Any]:
    """Two committed runs on two days and one killed before its commit; what they hold."""
    story = [
        fx.article("a1", story_id="s1", places=["FR"], published_at=DAY1 - dt.timedelta(hours=3)),
        fx.article("a2", story_id="s1", site="other.org", places=["DE", "FR"], language="de"),
        fx.article("a3", story_id="s2", published_at=None, title="Lone"),
    ]
    copies = [fx.duplicate("c1", story[0]), fx.duplicate("c2", story[0], "near", "copy.example")]
    first = fx.write_run(
        str(root),
        "daily-1",
        articles=story,
        duplicates=copies,
        rejected=[fx.rejected("r1")],
        feed_health=[fx.feed_health("https://feeds.example/rss", DAY1)],
        started=DAY1,
    )
    later = [fx.article("b1", story_id="s1", published_at=DAY2, title="Later on")]
    second = fx.write_run(
        str(root),
        "daily-2",
        articles=later,
        duplicates=[fx.duplicate("c3", later[0], "url")],
        started=DAY2,
    )
    fx.write_run(str(root), "killed", articles=[fx.article("k1")], started=DAY2, commit=False)
    return {"articles": story + later, "duplicates": copies, "manifests": [first, second]}


def load(root: Path, db: Path, *extra: str) -> int:
    return entry.main(["warehouse", "--output", str(root), "--db", str(db), *extra])


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tables_hold_every_committed_row_once_with_its_run(tmp_path: Path) -> None:
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    made = two_runs(root)
    assert load(root, db) == 0
    got = rows(db, "SELECT article_id, run_id, ingest_date FROM articles ORDER BY article_id")
    expected = sorted(
        (a.article_id, run, day)
        for a, run, day in zip(
            made["articles"],
            ["daily-1"] * 3 + ["daily-2"],
            [DAY1.date()] * 3 + [DAY2.date()],
            strict=True,
        )
    )
    assert got == expected
    counts = {
        table: rows(db, f"SELECT count(*) FROM {table}")[0][0] for table in dataset.DATASET_TABLES
    }
    assert counts == {"articles": 4, "duplicates": 3, "rejected": 1, "feed_health": 1}
    # The columns round-trip: a list of structs, timestamps with their zone.
    (title, places, published) = rows(
        db,
        "SELECT title, places, published_at FROM articles WHERE run_id = 'daily-1' "
        "AND site = 'other.org'",
    )[0]
    assert (title, places, published) == ("Headline a2", ["DE", "FR"], None)
    loads = rows(db, "SELECT run_id, attempt, articles, duplicates FROM _newsbeam_loads ORDER BY 1")
    assert loads == [
        (m["run_id"], m["attempt"], m["counts"]["articles"], m["counts"]["duplicates"])
        for m in made["manifests"]
    ]


def test_every_table_has_the_schema_columns_even_when_empty(tmp_path: Path) -> None:
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    fx.write_run(str(root), "empty")
    assert load(root, db) == 0
    for table in dataset.DATASET_TABLES:
        columns = [row[0] for row in rows(db, f"DESCRIBE {table}")]
        assert columns == warehouse.warehouse_schema(table).names
        assert rows(db, f"SELECT count(*) FROM {table}") == [(0,)]
    types = dict((row[0], row[1]) for row in rows(db, "DESCRIBE articles"))
    for table in dataset.DATASET_TABLES:  # the schema's required columns are NOT NULL
        described = rows(db, f"DESCRIBE {table}")
        required = [name for name, _, null, *_ in described if null == "NO"]
        schema = warehouse.warehouse_schema(table)
        assert required == [f.name for f in schema if not f.nullable] and required, table
    nullable = {name for name, _, null, *_ in rows(db, "DESCRIBE articles") if null == "YES"}
    assert {"published_at", "title", "story_id"} <= nullable
    with duckdb.connect(str(db)) as con, pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO rejected (source) VALUES (NULL)")
    assert types["published_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["removed"] == 'STRUCT("text" VARCHAR, reason VARCHAR)[]'
    assert types["ingest_date"] == "DATE"


def expected_story(articles: list[Article], story_id: str) -> tuple[Any, ...]:
    members = [a for a in articles if a.story_id == story_id]
    seen = sorted(((a.published_at or a.ingested_at), a.article_id, a.title) for a in members)
    dated = sorted(a.published_at for a in members if a.published_at)
    return (
        dated[0] if dated else None,
        dated[-1] if dated else None,
        len(members),
        sorted({a.site for a in members if a.site}),
        sorted({a.language for a in members if a.language}),
        sorted({p for a in members for p in a.places}),
        seen[0][2],
    )


def test_stories_and_copies_views(tmp_path: Path) -> None:
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    made = two_runs(root)
    assert load(root, db) == 0
    got = rows(
        db,
        "SELECT story_id, first_seen, last_seen, article_count, sources, languages, places, "
        "headline FROM stories ORDER BY story_id",
    )
    assert [row[0] for row in got] == ["s1", "s2"]
    for row in got:
        assert row[1:] == expected_story(made["articles"], row[0])
    # Review 46: the outlets that ran a story count its copies' too (review 56: by outlet).
    outlets = rows(db, "SELECT story_id, outlets FROM stories ORDER BY story_id")
    a1 = made["articles"][0]
    assert outlets == [
        ("s1", sorted({a1.outlet, "other.org", "copy.example"})),
        ("s2", [a1.outlet]),
    ]
    copies = rows(db, "SELECT article_id, copy_count, copy_sources, methods FROM copies ORDER BY 1")
    by_article: dict[str, list[Any]] = {}
    for copy in made["duplicates"] + [fx.duplicate("c3", made["articles"][3], "url")]:
        by_article.setdefault(copy.canonical_id, []).append(copy)
    assert copies == sorted(
        (key, len(found), sorted(c.source for c in found), sorted({c.method for c in found}))
        for key, found in by_article.items()
    )


def test_copies_count_every_copy_row_also_where_ids_repeat(tmp_path: Path) -> None:
    """copy_count counted distinct copy ids, and ids repeat in datasets written before
    they were unique: a source read again by a later run as the same copy kept its id,
    and schema 2 gave exact copies their canonical's id. Those copies counted once."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    kept = fx.article("a1")
    again = fx.duplicate("c1", kept)
    fx.write_run(str(root), "day-1", articles=[kept], duplicates=[again], started=DAY1)
    schema_2 = [fx.duplicate(k, kept)._replace(article_id=kept.article_id) for k in "xy"]
    fx.write_run(str(root), "day-2", duplicates=[again, *schema_2], started=DAY2)
    assert load(root, db) == 0
    assert rows(db, "SELECT article_id, copy_count FROM copies") == [(kept.article_id, 4)]


def test_an_updated_article_counts_once_in_its_story(tmp_path: Path) -> None:
    """A feed entry corrected later is a second row of the same article (review 51): the
    story it belongs to counted it twice."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    first = fx.article("a1", story_id="s1", text="The first version.")
    other = fx.article("a2", story_id="s1", site="other.org")
    fx.write_run(str(root), "day-1", articles=[first, other], started=DAY1)
    corrected = first._replace(text="The corrected version.", ingested_at=DAY2)
    fx.write_run(str(root), "day-2", articles=[corrected], started=DAY2)
    assert load(root, db) == 0
    assert rows(db, "SELECT story_id, article_count FROM stories") == [("s1", 2)]


def test_a_second_refresh_loads_only_new_runs_and_replaces_reruns(tmp_path: Path) -> None:
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    two_runs(root)
    manifests = dataset.committed_runs(str(root))
    first = warehouse.refresh_duckdb(str(root), str(db), manifests)
    assert (first.runs_loaded, first.runs_known) == (["daily-1", "daily-2"], 0)
    again = warehouse.refresh_duckdb(str(root), str(db), manifests)
    assert (again.runs_loaded, again.runs_reloaded, again.runs_known) == ([], [], 2)
    loaded_at = rows(db, "SELECT run_id, loaded_at FROM _newsbeam_loads ORDER BY 1")

    # A new run, and a rerun of daily-1 that keeps one article of three.
    fx.write_run(str(root), "daily-3", articles=[fx.article("c1")], started=DAY2)
    rerun = fx.write_run(str(root), "daily-1", articles=[fx.article("a1")], started=DAY1)
    third = warehouse.refresh_duckdb(str(root), str(db), dataset.committed_runs(str(root)))
    assert (third.runs_loaded, third.runs_reloaded, third.runs_known) == (
        ["daily-3"],
        ["daily-1"],
        1,
    )
    assert rows(db, "SELECT run_id, count(*) FROM articles GROUP BY 1 ORDER BY 1") == [
        ("daily-1", 1),
        ("daily-2", 1),
        ("daily-3", 1),
    ]
    assert rows(db, "SELECT count(*) FROM duplicates WHERE run_id = 'daily-1'") == [(0,)]
    assert rows(db, "SELECT attempt FROM _newsbeam_loads WHERE run_id = 'daily-1'") == [
        (rerun["attempt"],)
    ]
    # daily-2 was not touched.
    after = dict(rows(db, "SELECT run_id, loaded_at FROM _newsbeam_loads"))
    assert after["daily-2"] == dict(loaded_at)["daily-2"]
    assert rows(db, "SELECT count(*) FROM articles WHERE run_id = 'killed'") == [(0,)]


def test_the_command_prints_what_it_loaded(tmp_path: Path, capsys: Any) -> None:
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    two_runs(root)
    assert load(root, db) == 0
    out = capsys.readouterr().out
    assert "2 committed runs" in out and "2 runs loaded, 0 already there" in out
    assert "4 articles, 3 duplicates, 1 rejected, 1 feed_health" in out
    assert load(root, db) == 0
    assert "0 runs loaded, 2 already there" in capsys.readouterr().out


def test_an_older_file_without_a_nullable_column_loads_with_nulls(tmp_path: Path) -> None:
    older = fx.SCHEMAS["articles"].remove(fx.SCHEMAS["articles"].get_field_index("topic_labels"))
    table = pa.Table.from_pylist([fx.to_row(fx.article("o1"))], schema=fx.SCHEMAS["articles"])
    table = table.drop_columns(["topic_labels"])
    assert table.schema.equals(older, check_metadata=False)
    conformed = warehouse.conform(table, fx.SCHEMAS["articles"], "old.parquet")
    assert conformed.column("topic_labels").to_pylist() == [None]
    with pytest.raises(dataset.DatasetError, match="no column article_id"):
        warehouse.conform(table.drop_columns(["article_id"]), fx.SCHEMAS["articles"], "x")


# --- Bad input: one line, exit 2, nothing changed ----------------------------------------------


def test_a_root_that_is_no_dataset_is_refused(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    db = tmp_path / "w.duckdb"
    refused(
        capsys,
        ["warehouse", "--output", str(tmp_path / "photos"), "--db", str(db)],
        "not a NewsBeam dataset",
    )
    refused(
        capsys,
        ["warehouse", "--output", str(tmp_path / "absent"), "--db", str(db)],
        "not a NewsBeam dataset",
    )
    assert not db.exists()
    assert not (tmp_path / "absent").exists()


def _loaded_then_a_third_run(tmp_path: Path, capsys: Any) -> tuple[Path, Path, str]:
    """Two runs loaded into a database, then a third run committed but not loaded: the
    root, the database and the database's digest before the next load."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    two_runs(root)
    assert load(root, db) == 0
    capsys.readouterr()
    before = digest(db)
    fx.write_run(str(root), "daily-3", articles=[fx.article("n1")], started=DAY2)
    return root, db, before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", ["not valid JSON"]),
        (json.dumps({"run_id": "daily-2", "tables": {}}), ["no attempt", "no counts"]),
    ],
)
def test_a_corrupt_manifest_is_refused_and_the_database_kept(
    tmp_path: Path, capsys: Any, content: str, words: list[str]
) -> None:
    root, db, before = _loaded_then_a_third_run(tmp_path, capsys)
    Path(dataset.manifest_path(str(root), "daily-2")).write_text(content)
    refused(capsys, ["warehouse", "--output", str(root), "--db", str(db)], "daily-2.json", *words)
    assert digest(db) == before


def test_a_missing_listed_file_is_refused_and_nothing_loaded(tmp_path: Path, capsys: Any) -> None:
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    two_runs(root)
    # A new database is not left behind...
    missing = dataset.data_files(str(root), dataset.read_manifest(str(root), "daily-2"), "rejected")
    Path(missing[0]).rename(tmp_path / "aside.parquet")
    refused(
        capsys,
        ["warehouse", "--output", str(root), "--db", str(db)],
        "daily-2",
        "missing",
        "rejected",
    )
    assert not db.exists()
    # ... and an existing one keeps its rows: nothing of the good runs is loaded either.
    Path(tmp_path / "aside.parquet").rename(missing[0])
    fx.write_run(str(root), "daily-0", started=DAY1)
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE mine AS SELECT 1 AS x")
    Path(missing[0]).unlink()
    refused(capsys, ["warehouse", "--output", str(root), "--db", str(db)], "missing")
    assert rows(db, "SELECT table_name FROM information_schema.tables") == [("mine",)]


def test_a_file_unlike_its_manifest_rolls_the_refresh_back(tmp_path: Path, capsys: Any) -> None:
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    made = two_runs(root)
    assert load(root, db) == 0
    before = digest(db)
    fx.write_run(str(root), "daily-3", articles=[fx.article("n1")], started=DAY2)
    # daily-4's articles file is truncated: daily-3 (loaded first) must not stay loaded.
    late = fx.write_run(str(root), "daily-4", articles=[fx.article("n2")], started=DAY2)
    path = Path(dataset.data_files(str(root), late, "articles")[0])
    path.write_bytes(path.read_bytes()[:100])
    refused(capsys, ["warehouse", "--output", str(root), "--db", str(db)], "daily-4", "Parquet")
    assert digest(db) == before
    assert rows(db, "SELECT count(*) FROM articles") == [(len(made["articles"]),)]


def test_a_run_of_a_newer_schema_is_refused_not_loaded_without_its_columns(
    tmp_path: Path, capsys: Any
) -> None:
    """A loader older than the NewsBeam that wrote a run loaded it without the columns it
    did not know, and recorded it as loaded: after the loader's upgrade those columns
    stayed null for good. Refused now (upgrade first), the database unchanged."""
    root, db, before = _loaded_then_a_third_run(tmp_path, capsys)
    path = Path(dataset.manifest_path(str(root), "daily-3"))
    newer = str(int(SCHEMA_VERSION) + 1)
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": newer}))
    argv = ["warehouse", "--output", str(root), "--db", str(db)]
    refused(capsys, argv, "daily-3", f"schema {newer}", f"reads schema {SCHEMA_VERSION}")
    assert digest(db) == before
    catalog = ["--iceberg", f"sqlite:///{tmp_path}/c.db", "--iceberg_warehouse", str(tmp_path)]
    refused(capsys, ["warehouse", "--output", str(root), *catalog], "daily-3", "upgrade")
    assert not (tmp_path / "c.db").exists()
    older = {"run_id": "r", "schema_version": "2"}
    assert warehouse.newer_schema_runs([older, {"run_id": "x", "schema_version": "x"}]) == [
        {"run_id": "x", "schema_version": "x"}
    ]


def test_usage_errors(tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "root"
    fx.write_run(str(root), "r")
    refused(capsys, ["warehouse", "--output", str(root)], "--db")
    refused(
        capsys,
        ["warehouse", "--output", str(root), "--db", str(tmp_path / "no" / "w.duckdb")],
        "--db",
    )
    refused(
        capsys,
        ["warehouse", "--output", str(root), "--db", str(tmp_path / "w.duckdb"), "--bogus", "1"],
        "--bogus",
    )


def test_iceberg_flags_without_iceberg_are_refused(tmp_path: Path, capsys: Any) -> None:
    """`--db FILE --iceberg-namespace news` loaded DuckDB and said nothing of the namespace:
    an Iceberg flag without --iceberg does nothing, so it is refused (as `newsbeam
    --interval` without --follow), and nothing is written."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    fx.write_run(str(root), "r")
    base = ["warehouse", "--output", str(root), "--db", str(db)]
    refused(capsys, [*base, "--iceberg-namespace", "news"], "--iceberg_namespace", "--iceberg")
    refused(
        capsys,
        [*base, "--iceberg_warehouse=file:///w", "--iceberg_property", "a=b"],
        "--iceberg_warehouse, --iceberg_property applies to --iceberg only",
    )
    refused(capsys, [*base, "--iceberg", "sqlite:///x", "--iceberg_keep_snapshots", "-1"], "-1")
    assert not db.exists()
    assert warehouse.iceberg_flags(["--db", "x", "--iceberg-catalog-name=c", "--iceberg"]) == [
        "--iceberg_catalog_name"
    ]


def test_a_database_from_an_older_schema_gets_the_new_columns(tmp_path: Path) -> None:
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    fx.write_run(str(root), "daily-1", articles=[fx.article("a1")], started=DAY1)
    assert load(root, db) == 0
    with duckdb.connect(str(db)) as con:  # as an older NewsBeam left it
        con.execute("DROP VIEW stories")
        con.execute("DROP VIEW copies")
        con.execute("ALTER TABLE articles DROP COLUMN topic_labels")
    fx.write_run(str(root), "daily-2", articles=[fx.article("b1")], started=DAY2)
    assert load(root, db) == 0
    assert [row[0] for row in rows(db, "DESCRIBE articles")][-3:] == [
        "run_id",
        "ingest_date",
        "topic_labels",
    ]
    assert rows(db, "SELECT run_id, topic_labels FROM articles ORDER BY 1") == [
        ("daily-1", None),
        ("daily-2", fx.article("b1").topic_labels),
    ]
    assert rows(db, "SELECT count(*) FROM stories") == [(0,)]


def test_when_each_run_finished_is_a_timestamp(tmp_path: Path) -> None:
    # _newsbeam_loads.finished_at was VARCHAR (the manifest's ISO string) beside loaded_at's
    # TIMESTAMPTZ: "WHERE finished_at > now() - INTERVAL 1 DAY" was a binder error, and the
    # string compared by its characters, not its time.
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    manifest = fx.write_run(str(root), "daily-1", articles=[fx.article("a1")], started=DAY1)
    assert load(root, db) == 0
    finished = dt.datetime.fromisoformat(manifest["finished_at"])
    assert rows(db, "SELECT finished_at FROM _newsbeam_loads") == [(finished,)]
    since = DAY1 - dt.timedelta(days=1)
    query = "SELECT run_id FROM _newsbeam_loads WHERE finished_at > ?"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(query, [since]).fetchall() == [("daily-1",)]
    # A database an earlier NewsBeam made, the column text: it becomes a timestamp.
    with duckdb.connect(str(db)) as con:
        con.execute("ALTER TABLE _newsbeam_loads ALTER finished_at TYPE VARCHAR")
    fx.write_run(str(root), "daily-2", articles=[fx.article("b1")], started=DAY2)
    assert load(root, db) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        kinds = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                 "WHERE table_name = '_newsbeam_loads'").fetchall())  # fmt: skip
        assert kinds["finished_at"] == "TIMESTAMP WITH TIME ZONE"
        assert con.execute(query, [since]).fetchall() == [("daily-1",), ("daily-2",)]


def test_a_night_with_nothing_new_commits_and_says_so(
    seeds_dir: Path, tmp_path: Path, capsys: Any
) -> None:
    """Review 50: a scheduled night whose files an earlier night read commits a run with
    empty tables (its record: every night is in `_runs/` and `_newsbeam_loads`), but its
    summary, report and the loader said only `0 inputs` / `0 articles`, as for a night
    that lost its input. Each now says the run read nothing new, and why."""
    root, state, db = tmp_path / "root", tmp_path / "state", tmp_path / "w.duckdb"
    argv = ["--input", str(seeds_dir), "--output", str(root), "--state", str(state)]
    assert entry.main([*argv, "--run_id", "night-1"]) == 0
    assert entry.main([*argv, "--run_id", "night-2"]) == 0
    out = capsys.readouterr().out
    assert "skipped     5 input files read by an earlier run, unchanged since" in out
    assert "nothing new: the run is committed with empty tables" in out
    manifest = dataset.read_manifest(str(root), "night-2")
    assert manifest is not None and manifest["counts"]["inputs"] == 0
    assert all(manifest["tables"][name]["rows"] == 0 for name in dataset.DATASET_TABLES)
    report = (root / "_runs" / "night-2.html").read_text()
    assert "Nothing new was read: 5 input files read by an earlier run, unchanged since." in report
    assert load(root, db) == 0
    assert "2 runs loaded (1 with no inputs: night-2)" in capsys.readouterr().out
    assert rows(db, "SELECT articles, rejected FROM _newsbeam_loads WHERE run_id = 'night-2'") == [
        (0, 0)
    ]


def test_a_story_headline_ranks_a_day_only_date_at_its_days_end(tmp_path: Path) -> None:
    """Review 50: a republisher that showed only the date (midnight, precision day) gave
    the story its headline over the wire story stamped 09:30 that day, which dedup and
    stories rank first (support/rank.py). first_seen stays the earliest date known."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    wire = fx.article("w", story_id="s", published_at=DAY1 + dt.timedelta(hours=3), title="Wire")
    day_only = fx.article("d", story_id="s", published_at=DAY1.replace(hour=0), title="Day")
    day_only = day_only._replace(published_precision="day")
    fx.write_run(str(root), "night-1", articles=[wire, day_only], started=DAY1)
    assert load(root, db) == 0
    assert rows(db, "SELECT headline, first_seen, last_seen FROM stories") == [
        ("Wire", DAY1.replace(hour=0), wire.published_at)
    ]


def test_a_storys_first_seen_is_a_publication_time_never_when_newsbeam_read_it(
    tmp_path: Path,
) -> None:
    """Review 58: first_seen fell back to ingested_at for undated articles, so a backfill
    of last year's undated pages said their stories appeared the night NewsBeam ran, and
    an undated copy read before a dated report moved the story's start. first_seen and
    last_seen are publication times only (None for a story of undated articles alone);
    when NewsBeam read it is first_ingested_at, and undated_count says how many lack one."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    old = dt.datetime(2025, 3, 5, 9, 30, tzinfo=UTC)
    articles = [
        fx.article("u1", story_id="undated", ingested_at=DAY1),
        fx.article("u2", story_id="undated", ingested_at=DAY1 + dt.timedelta(hours=1)),
        fx.article("d1", story_id="mixed", published_at=old, ingested_at=DAY2),
        fx.article("d2", story_id="mixed", ingested_at=DAY1),  # undated, read first
    ]
    fx.write_run(str(root), "backfill", articles=articles, started=DAY1)
    assert load(root, db) == 0
    got = rows(
        db,
        "SELECT story_id, first_seen, last_seen, first_ingested_at, undated_count, "
        "article_count FROM stories ORDER BY story_id",
    )
    assert got == [("mixed", old, old, DAY1, 1, 2), ("undated", None, None, DAY1, 2, 2)]


def test_each_load_row_holds_the_runs_inputs_for_counts_in_equal_counts_out(
    tmp_path: Path,
) -> None:
    """Review 50: a nightly warehouse asserts each night's counts in == counts out, but
    `_newsbeam_loads` held the rows out only: the inputs were in the manifests alone. It
    holds the manifest's `inputs` now; an older database gains the column, filled in from
    the manifests of the runs it holds."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    two_runs(root)
    assert load(root, db) == 0
    check = "SELECT run_id, inputs, articles + duplicates + rejected FROM _newsbeam_loads"
    assert rows(db, check + " ORDER BY 1") == [("daily-1", 6, 6), ("daily-2", 2, 2)]
    with duckdb.connect(str(db)) as con:  # a database an earlier NewsBeam made
        con.execute("ALTER TABLE _newsbeam_loads DROP COLUMN inputs")
    fx.write_run(str(root), "daily-3", articles=[fx.article("c1")], started=DAY2)
    assert load(root, db) == 0
    assert rows(db, check + " ORDER BY 1") == [
        ("daily-1", 6, 6),
        ("daily-2", 2, 2),
        ("daily-3", 1, 1),
    ]


def test_an_updated_articles_views_show_its_latest_version(tmp_path: Path) -> None:
    """Review 56: an updated feed entry is a row a version of one article id (review 51).
    `copies` took the title of the first run by run id, and the story headline picked either
    version on the tie. The latest version (its `ingested_at`) is the article as it now
    reads."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    first = fx.article("a1", story_id="s1", title="Early headline", published_at=DAY1)
    fx.write_run(
        str(root), "night-1", articles=[first], duplicates=[fx.duplicate("c1", first)], started=DAY1
    )
    corrected = first._replace(title="Corrected headline", ingested_at=DAY2)
    fx.write_run(str(root), "night-2", articles=[corrected], started=DAY2)
    assert load(root, db) == 0
    assert rows(db, "SELECT title, copy_count FROM copies") == [("Corrected headline", 1)]
    assert rows(db, "SELECT headline, article_count FROM stories") == [("Corrected headline", 1)]


def test_a_storys_outlets_and_copies_count_by_outlet_key(tmp_path: Path) -> None:
    """Review 56: `outlets` listed site names, and one outlet's pages name it many ways
    ("BBC News", "BBC Sport"): a story run by two outlets counted three. Its outlets are
    now the `outlet` keys; a row written before schema 5 (no outlet) counts by its site."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    news = fx.article("a1", story_id="s1", site="www.bbc.co.uk")._replace(site="BBC News")
    sport = fx.article("a2", story_id="s1", site="sport.bbc.co.uk")._replace(site="BBC Sport")
    pickup = fx.duplicate("c1", news, site="apnews.com")._replace(site="AP News")
    # A copy of schema 3 (no url, no outlet: nothing to derive one from) counts by its site.
    older = fx.duplicate("c2", news, site="Associated Press")._replace(outlet=None, url=None)
    fx.write_run(str(root), "night-1", articles=[news, sport], duplicates=[pickup, older])
    assert load(root, db) == 0
    assert rows(db, "SELECT outlets FROM stories") == [
        (["Associated Press", "apnews.com", "bbc.co.uk"],)
    ]
    assert rows(db, "SELECT outlet, copy_sites, copy_outlets FROM copies") == [
        ("bbc.co.uk", ["AP News", "Associated Press"], ["Associated Press", "apnews.com"])
    ]


def test_rows_written_before_schema_5_get_their_outlet_from_their_url(tmp_path: Path) -> None:
    """Review 59: a run of schema 4 (no `outlet` column) loaded with null outlets, so a
    story's `outlets` listed its older copies by site name beside the newer rows' keys: one
    outlet counted twice ("Associated Press" and apnews.com). A load now derives an older
    row's outlet from its URL, as extract does (its url, else its canonical_url)."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    news = fx.article("a1", story_id="s1", site="www.bbc.co.uk")._replace(site="BBC News")
    pickup = fx.duplicate("c1", news, site="apnews.com")._replace(site="Associated Press")
    no_url = fx.article("a3", story_id="s2", site="www.dw.com")._replace(url=None)
    fx.write_run(
        str(root),
        "night-1",
        articles=[news, no_url],
        duplicates=[pickup],
        schema_version="4",
        without=["outlet"],
    )
    later = fx.duplicate("c2", news, site="www.apnews.com")._replace(site="AP News")
    fx.write_run(str(root), "night-2", duplicates=[later], started=DAY2)
    assert load(root, db) == 0
    assert rows(db, "SELECT article_id, outlet FROM articles ORDER BY title") == [
        (news.article_id, "bbc.co.uk"),
        (no_url.article_id, "dw.com"),
    ]
    assert rows(db, "SELECT run_id, outlet FROM duplicates ORDER BY run_id") == [
        ("night-1", "apnews.com"),
        ("night-2", "apnews.com"),
    ]
    assert rows(db, "SELECT outlets FROM stories WHERE story_id = 's1'") == [
        (["apnews.com", "bbc.co.uk"],)
    ]
    assert rows(db, "SELECT copy_outlets FROM copies") == [(["apnews.com"],)]


def test_chinese_rows_written_before_schema_6_get_their_script(tmp_path: Path) -> None:
    """Review 97: schema 6's `script` tells a Chinese article's simplified characters from
    traditional ones (`language` is `zh` for both). A run written before it loads with the
    script counted from its rows' title and text, as the language stage counts it; other
    languages' rows stay null."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    mainland = fx.article("a1", title="央行宣布降准", text="中国人民银行宣布下调存款准备金率。")
    taipei = fx.article("a2", title="台北市長選舉", text="中央選舉委員會表示，投票率創新高。")
    english = fx.article("a3")
    chinese = [one._replace(language="zh") for one in (mainland, taipei)]
    fx.write_run(
        str(root), "night-1", articles=[*chinese, english], schema_version="5", without=["script"]
    )
    assert load(root, db) == 0
    assert rows(db, "SELECT article_id, language, script FROM articles ORDER BY source") == [
        (mainland.article_id, "zh", "Hans"),
        (taipei.article_id, "zh", "Hant"),
        (english.article_id, "en", None),
    ]


def test_a_database_loaded_before_schema_6_gets_its_chinese_rows_scripts(
    tmp_path: Path, capsys: Any
) -> None:
    """Review 97: the Chinese rows an older NewsBeam loaded would keep a null `script` once
    the upgrade added the column; the refresh after it counts them, once."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    taipei = fx.article("a1", title="台北市長選舉", text="中央選舉委員會表示，投票率創新高。")
    fx.write_run(str(root), "night-1", articles=[taipei._replace(language="zh"), fx.article("a2")])
    assert load(root, db) == 0
    with duckdb.connect(str(db)) as con:  # as a loader of schema 5 left it
        con.execute("DROP VIEW stories")
        con.execute("DROP VIEW copies")
        con.execute("ALTER TABLE articles DROP COLUMN script")
    fx.write_run(str(root), "night-2", started=DAY2)
    capsys.readouterr()
    assert load(root, db) == 0
    assert "script counted for 1 earlier Chinese rows" in capsys.readouterr().out
    assert rows(db, "SELECT language, script FROM articles ORDER BY source") == [
        ("zh", "Hant"),
        ("en", None),
    ]
    fx.write_run(str(root), "night-3", started=DAY2 + dt.timedelta(days=1))
    assert load(root, db) == 0
    assert "script counted" not in capsys.readouterr().out


def test_a_database_loaded_before_schema_5_gets_its_rows_outlets(
    tmp_path: Path, capsys: Any
) -> None:
    """Review 59: rows an older NewsBeam loaded kept a null `outlet` once the upgrade added
    the column. The refresh after the upgrade derives them from the rows' URLs, once."""
    root, db = tmp_path / "root", tmp_path / "w.duckdb"
    news = fx.article("a1", story_id="s1", site="www.bbc.co.uk")
    pickup = fx.duplicate("c1", news, site="apnews.com")
    fx.write_run(str(root), "night-1", articles=[news], duplicates=[pickup])
    assert load(root, db) == 0
    with duckdb.connect(str(db)) as con:  # as a loader of schema 4 left it
        con.execute("DROP VIEW stories")
        con.execute("DROP VIEW copies")
        con.execute("ALTER TABLE articles DROP COLUMN outlet")
        con.execute("ALTER TABLE duplicates DROP COLUMN outlet")
    fx.write_run(str(root), "night-2", articles=[fx.article("b1", site=None)], started=DAY2)
    capsys.readouterr()
    assert load(root, db) == 0
    assert "outlet derived from the URL of 2 earlier rows" in capsys.readouterr().out
    assert rows(db, "SELECT run_id, outlet FROM articles ORDER BY run_id") == [
        ("night-1", "bbc.co.uk"),
        ("night-2", None),
    ]
    assert rows(db, "SELECT outlet FROM duplicates") == [("apnews.com",)]
    fx.write_run(str(root), "night-3", started=DAY2 + dt.timedelta(days=1))
    assert load(root, db) == 0
    assert "outlet derived" not in capsys.readouterr().out
