"""`newsbeam warehouse`: load a dataset's committed runs into DuckDB and/or Apache Iceberg.

    newsbeam warehouse --output ROOT --db FILE.duckdb
    newsbeam warehouse --output ROOT --iceberg CATALOG_URI [--iceberg_namespace NS] ...

Not a Beam stage: plain functions over a dataset (pipeline/dataset.py). Only the files that
committed manifests list are read, through Beam's filesystems (transforms/support/files.py),
so ROOT may be a local path or an object store (DuckDB's httpfs is not needed).

DuckDB (`--db`): tables `articles`, `duplicates`, `rejected`, `feed_health` (the dataset's
columns plus `run_id` and `ingest_date`), a bookkeeping table `_newsbeam_loads` (one row
per loaded run: its attempt, when it was loaded, its rows per table), `_newsbeam_failed_runs`
(one row per failed run recorded in `ROOT/_failed_runs/`, kept once loaded: ROOT prunes
its records, the warehouse keeps the history) and the views `stories` and `copies`. A
refresh loads the runs not loaded yet, and reloads a run whose attempt changed (a rerun of
its run id): its old rows are deleted, its new ones inserted. One DuckDB transaction per
refresh: a refresh that fails leaves the database as it was.

Apache Iceberg (`--iceberg`): pipeline/iceberg.py.

Bad input (ROOT not a dataset, a corrupt manifest, a listed file missing, a database or
catalog that cannot be opened) ends with one line on stderr and exit status 2, before
anything is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import logging
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pyarrow as pa

from newsbeam.pipeline import dataset
from newsbeam.pipeline.dataset import DatasetError
from newsbeam.schemas import DATASET_SCHEMAS, SCHEMA_VERSION
from newsbeam.transforms.support import files
from newsbeam.transforms.support.chinese import CHINESE, script_of
from newsbeam.transforms.support.urls import outlet_of

log = logging.getLogger("newsbeam.warehouse")

# Columns every warehouse row gets beside the dataset's own: which run wrote it, and the
# Hive partition it is in (what Spark, Trino and BigQuery see as a column).
RUN_COLUMNS = (
    pa.field("run_id", pa.string(), nullable=False),
    pa.field(dataset.PARTITION_KEY, pa.date32(), nullable=False),
)
LOADS = "_newsbeam_loads"
# Iceberg snapshots kept per table by default: pyiceberg reads and rewrites a table's whole
# metadata, every snapshot in it, at each load and commit, so an unbounded list makes each
# refresh cost more than the last (250 runs kept: 0.11 -> 0.83 s; 10: flat near 0.13 s).
# Rows carry their run_id, so "as of run X" is a filter, not time travel: few are needed.
KEEP_SNAPSHOTS = 10
_PARTITION = re.compile(rf"(?:^|/){dataset.PARTITION_KEY}=(\d{{4}}-\d{{2}}-\d{{2}})/")


class WarehouseError(Exception):
    """A database or catalog that cannot be opened or used (exit status 2)."""


def warehouse_schema(table: str) -> pa.Schema:
    """A table's columns in the warehouse: the dataset's, then run_id and ingest_date."""
    schema = DATASET_SCHEMAS[table]
    for extra in RUN_COLUMNS:
        schema = schema.append(extra)
    return schema


# --- Reading committed runs ------------------------------------------------------------------


def ingest_date_of(path: str, manifest: Mapping[str, Any]) -> dt.date:
    """The partition a data file is in (from its path, as other engines read it), else the
    manifest's `ingest_date`."""
    found = _PARTITION.search(path.replace("\\", "/"))
    text = found.group(1) if found else manifest.get("ingest_date")
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise DatasetError(
            f"run {manifest['run_id']}: no ingest date for {path} (not in an "
            f"{dataset.PARTITION_KEY}=YYYY-MM-DD folder, none in the manifest)"
        ) from None


def conform(table: pa.Table, schema: pa.Schema, where: str) -> pa.Table:
    """`table` with exactly `schema`'s columns, in its order: a nullable column that an
    older file lacks is null; any other difference is a DatasetError."""
    columns = []
    for target in schema:
        if target.name in table.column_names:
            column = table.column(target.name)
            if column.type != target.type:
                try:
                    column = column.cast(target.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise DatasetError(
                        f"{where}: column {target.name} is {column.type}, expected {target.type}"
                    ) from None
            columns.append(column)
        elif target.nullable:
            columns.append(pa.nulls(table.num_rows, target.type))
        else:
            raise DatasetError(f"{where}: no column {target.name}")
    return pa.Table.from_arrays(columns, schema=schema)


def read_run_table(root: str, manifest: Mapping[str, Any], table: str) -> pa.Table:
    """One committed run's rows of `table`, with `run_id` and `ingest_date` added.
    DatasetError when a listed file is missing, unreadable, or holds other rows than listed."""
    run_id = manifest["run_id"]
    parts = []
    entries = manifest["tables"][table]["files"]
    for entry, path in zip(entries, dataset.data_files(root, manifest, table), strict=True):
        try:
            rows = files.read_parquet(path)
        except FileNotFoundError:
            raise DatasetError(
                f"run {run_id}: a file its manifest lists is missing: {path}"
            ) from None
        except Exception as error:  # a truncated or foreign file: pyarrow's many errors
            if not _file_exists(path):
                raise DatasetError(
                    f"run {run_id}: a file its manifest lists is missing: {path}"
                ) from None
            raise DatasetError(f"run {run_id}: {path} is not readable Parquet ({error})") from None
        if rows.num_rows != entry["rows"]:
            raise DatasetError(
                f"run {run_id}: {path} holds {rows.num_rows} rows, "
                f"its manifest says {entry['rows']}"
            )
        rows = derive_scripts(derive_outlets(conform(rows, DATASET_SCHEMAS[table], path)))
        day = ingest_date_of(entry["path"], manifest)
        rows = rows.append_column(RUN_COLUMNS[0], pa.array([run_id] * rows.num_rows, pa.string()))
        rows = rows.append_column(RUN_COLUMNS[1], pa.array([day] * rows.num_rows, pa.date32()))
        parts.append(rows)
    if not parts:
        return warehouse_schema(table).empty_table()
    return pa.concat_tables(parts)


# Where a row's `outlet` comes from (extract: its `url`, else its `canonical_url`; a copy in
# `duplicates` has only its `url`): a file written before schema 5 has no `outlet`, but its
# rows have the URLs it is derived from.
OUTLET_FROM = {"articles": ("url", "canonical_url"), "duplicates": ("url",)}


def outlet_source(row_urls: Sequence[str | None]) -> str | None:
    """The URL an outlet is derived from: the first of a row's URLs that is not empty."""
    return next((url for url in row_urls if url), None)


def derive_outlets(table: pa.Table) -> pa.Table:
    """`table` with a null `outlet` filled in from its row's URL as extract derives it
    (support/urls.outlet_of). Rows written before schema 5 have none: left null, a count by
    outlet splits one outlet into its key (newer rows) and whatever stands in for the older
    rows' (`stories.outlets` took their site name: "Associated Press" beside apnews.com)."""
    if "outlet" not in table.column_names or not table.column("outlet").null_count:
        return table
    sources = [name for name in ("url", "canonical_url") if name in table.column_names]
    urls = [table.column(name).to_pylist() for name in sources]
    outlets = [
        outlet if outlet is not None else outlet_of(outlet_source(row_urls))
        for outlet, *row_urls in zip(table.column("outlet").to_pylist(), *urls, strict=True)
    ]
    index = table.column_names.index("outlet")
    return table.set_column(index, table.schema.field(index), pa.array(outlets, pa.string()))


def derive_scripts(table: pa.Table) -> pa.Table:
    """`table` with a Chinese article's null `script` counted from its title and text, as the
    language stage does (support/chinese.script_of): a file written before schema 6 has no
    `script`, and its Chinese rows would have had none for good. The rows whose count is
    even stay null (the stage's answer too)."""
    import pyarrow.compute as pc

    if not {"script", "language", "title", "text"} <= set(table.column_names):
        return table  # not articles
    # Only those rows: every other language's script is null, and their texts are the bulk.
    missing = pc.and_(
        pc.is_null(table.column("script")), pc.equal(table.column("language"), CHINESE)
    )
    at = pc.indices_nonzero(missing.combine_chunks().fill_null(False)).to_pylist()
    if not at:
        return table
    found = table.take(at)
    counted = map(
        script_of,
        itertools.repeat(CHINESE),
        *(found.column(n).to_pylist() for n in ("title", "text")),
    )
    scripts = table.column("script").to_pylist()
    for row, script in zip(at, counted, strict=True):
        scripts[row] = script
    index = table.column_names.index("script")
    return table.set_column(index, table.schema.field(index), pa.array(scripts, pa.string()))


def newer_schema_runs(manifests: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The runs a newer NewsBeam wrote (a schema version above this one's, or one it cannot
    read). Loaded here, they would lose the columns this NewsBeam does not know, and be
    recorded as loaded: a loader upgraded later would never load them again."""
    return [m for m in manifests if _schema_number(m.get("schema_version")) > int(SCHEMA_VERSION)]


def _schema_number(version: object) -> int:
    try:
        return int(str(version))
    except ValueError:
        return sys.maxsize


def _file_exists(path: str) -> bool:
    try:
        return files.exists(path)
    except Exception:
        return False


def pending_runs(
    manifests: Sequence[dict[str, Any]], loaded: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The committed runs a loader still has to load: new run ids, and run ids whose
    committed attempt is not the one loaded (reruns). `loaded`: run id -> attempt."""
    return [m for m in manifests if loaded.get(m["run_id"]) != m["attempt"]]


@dataclass
class LoadSummary:
    """What one refresh did, for the summary line and the tests."""

    target: str
    runs_loaded: list[str] = field(default_factory=list)
    runs_reloaded: list[str] = field(default_factory=list)
    runs_known: int = 0
    # Loaded runs that had no inputs (committed all the same: a scheduled night's record).
    runs_empty: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(dataset.DATASET_TABLES, 0))
    # Rows loaded before schema 5 whose outlet this refresh derived from their URL.
    outlets_derived: int = 0
    # Chinese rows loaded before schema 6 whose script this refresh counted.
    scripts_derived: int = 0
    # Failed runs recorded in ROOT that this refresh added (DuckDB: `_newsbeam_failed_runs`).
    failed_runs: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        loaded = len(self.runs_loaded) + len(self.runs_reloaded)
        rows = ", ".join(f"{self.rows[name]} {name}" for name in dataset.DATASET_TABLES)
        reloaded = f" ({len(self.runs_reloaded)} rerun)" if self.runs_reloaded else ""
        if self.runs_empty:
            shown = ", ".join(self.runs_empty[:3]) + (", ..." if len(self.runs_empty) > 3 else "")
            reloaded += f" ({len(self.runs_empty)} with no inputs: {shown})"
        if self.outlets_derived:
            rows += f"; outlet derived from the URL of {self.outlets_derived} earlier rows"
        if self.scripts_derived:
            rows += f"; script counted for {self.scripts_derived} earlier Chinese rows"
        if self.failed_runs:  # what an on-call reader of the warehouse must not miss
            rows += (
                f"; {self.failed_runs} failed run{'s' if self.failed_runs != 1 else ''} "
                f"added to {FAILED}"
            )
        return (
            f"{self.target}: {loaded} run{'s' if loaded != 1 else ''} loaded{reloaded}, "
            f"{self.runs_known} already there; {rows}; {self.seconds:.2f} s"
        )


# --- DuckDB --------------------------------------------------------------------------------

# When an article came out, for ranking the story's articles as dedup and stories rank
# them (transforms/support/rank.py): a date known to the day only (stored as midnight) at
# its day's end, not before an article stamped 09:30 that day, and an undated one at its
# ingestion.
_RANKED_AT = """coalesce(
        published_at + CASE WHEN published_precision = 'day'
            THEN INTERVAL 1 DAY - INTERVAL 1 MICROSECOND ELSE INTERVAL 0 SECOND END,
        ingested_at)"""


def _latest(table: str = "") -> str:
    """ORDER BY terms putting an article's latest version first. An updated feed entry is a
    row a version of one article id (review 51): the latest one read is the article as it
    now reads. A run id is a name ("night-10" sorts before "night-9"): a tie-break only."""
    prefix = f"{table}." if table else ""
    return f"{prefix}ingested_at DESC, {prefix}run_id DESC"


# `outlets`: the outlets that ran the story, its articles' and their copies' (a wire story
# republished word for word is one article and its copies: `sources` alone counted 1), by
# their `outlet` key (one per registrable domain: "BBC News" and "BBC Sport" are bbc.co.uk);
# rows written before schema 5 have none, their `site` stands in.
_OUTLET = "coalesce({0}outlet, {0}site)"
STORIES_VIEW = f"""
CREATE OR REPLACE VIEW stories AS
SELECT
    story_id,
    -- When the story appeared: its articles' publication times only. An undated article's
    -- ingested_at is when NewsBeam read it (a backfill of last year's pages: the run's
    -- day), so a story of undated articles alone has no first_seen (review 58); when it
    -- was read is first_ingested_at, and undated_count says how many lack a date.
    min(published_at) AS first_seen,
    max(published_at) AS last_seen,
    min(ingested_at) AS first_ingested_at,
    count(DISTINCT article_id) FILTER (WHERE published_at IS NULL) AS undated_count,
    count(DISTINCT article_id) AS article_count,  -- an updated article: a row a version
    list_sort(list_distinct(list(site))) AS sources,
    list_sort(list_distinct(list(language))) AS languages,
    list_sort(list_distinct(flatten(list(places)))) AS places,
    first(title ORDER BY {_RANKED_AT}, article_id, {_latest()})
        FILTER (WHERE title IS NOT NULL) AS headline,
    min({dataset.PARTITION_KEY}) AS first_ingest_date,
    max({dataset.PARTITION_KEY}) AS last_ingest_date,
    coalesce((
        SELECT list_sort(list_distinct(list(ran.outlet)))
        FROM (
            SELECT {_OUTLET.format("inner_a.")} AS outlet
            FROM articles AS inner_a WHERE inner_a.story_id = a.story_id
            UNION ALL
            SELECT {_OUTLET.format("d.")} AS outlet
            FROM duplicates AS d
            JOIN articles AS kept ON d.canonical_id = kept.article_id
            WHERE kept.story_id = a.story_id
        ) AS ran
        WHERE ran.outlet IS NOT NULL
    ), []::VARCHAR[]) AS outlets
FROM articles AS a
WHERE story_id IS NOT NULL
GROUP BY story_id
"""

# A copy row is one source in one run: ids repeat in data written before they were unique
# (a source a later run read again as the same copy; schema 2's exact copies had their
# canonical's id), and an article id kept twice (--state_keep_days) doubles the join.
# The article's title, site and source are its latest version's.
COPIES_VIEW = f"""
CREATE OR REPLACE VIEW copies AS
SELECT
    a.article_id,
    first(a.title ORDER BY {_latest("a")}) AS title,
    first(a.site ORDER BY {_latest("a")}) AS site,
    first({_OUTLET.format("a.")} ORDER BY {_latest("a")}) AS outlet,
    first(a.source ORDER BY {_latest("a")}) AS source,
    count(DISTINCT (d.run_id, d.source)) AS copy_count,
    list_sort(list_distinct(list(d.source))) AS copy_sources,
    list_sort(list_distinct(list(d.site))) AS copy_sites,
    list_sort(list_distinct(list({_OUTLET.format("d.")}))) AS copy_outlets,
    list_sort(list_distinct(list(d.method))) AS methods,
    max(d.similarity) AS max_similarity
FROM articles AS a
JOIN duplicates AS d ON d.canonical_id = a.article_id
GROUP BY a.article_id
"""

LOADS_TABLE = f"""
CREATE TABLE IF NOT EXISTS {LOADS} (
    run_id VARCHAR NOT NULL,  -- unique, but no key: older DuckDBs refuse a key deleted and
                              -- inserted again in one transaction
    attempt VARCHAR NOT NULL,
    ingest_date DATE,
    finished_at TIMESTAMPTZ,
    loaded_at TIMESTAMPTZ NOT NULL,
    inputs BIGINT,  -- the manifest's counts.inputs: = articles + duplicates + rejected
    {", ".join(f"{name} BIGINT NOT NULL" for name in dataset.DATASET_TABLES)}
)
"""


FAILED = "_newsbeam_failed_runs"
# A failed run's record (pipeline/failed_runs.py) as a row: a table of its own, as its runs
# committed no row (no counts for `_newsbeam_loads`, whose columns are NOT NULL).
FAILED_TABLE = f"""
CREATE TABLE IF NOT EXISTS {FAILED} (
    run_id VARCHAR NOT NULL,
    attempt VARCHAR NOT NULL,
    started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,  -- null: killed outright, recorded by the run `found_by`
    exit_status INTEGER,   -- 1 failed, 75 lock taken over, 130/143 stopped; null: killed
    stage VARCHAR,         -- the top-level stage the failure names (Write), or null
    cause VARCHAR NOT NULL,
    host VARCHAR,
    found_by VARCHAR,
    inputs BIGINT,         -- --input paths given (a follow batch's own files)
    feeds BIGINT,          -- --feed URLs given
    loaded_at TIMESTAMPTZ NOT NULL
)
"""
FAILED_COLUMNS = (
    "run_id", "attempt", "started_at", "ended_at", "exit_status", "stage", "cause", "host",
    "found_by", "inputs", "feeds", "loaded_at",
)  # fmt: skip


def failed_run_row(record: Mapping[str, Any], now: dt.datetime) -> tuple[Any, ...]:
    """A failed run's record as a `_newsbeam_failed_runs` row (its columns' order)."""

    def moment(key: str) -> dt.datetime | None:
        return finished_at({"finished_at": record[key]}) if record.get(key) else None

    def count(key: str) -> int | None:
        value = record.get(key)
        return int(value.get("count", 0)) if isinstance(value, dict) else None

    status = record.get("exit_status")
    return (
        str(record["run_id"]),
        str(record["attempt"]),
        moment("started_at"),
        moment("ended_at"),
        int(status) if isinstance(status, int) else None,
        record.get("stage"),
        str(record.get("cause") or ""),
        record.get("host"),
        record.get("found_by"),
        count("inputs"),
        count("feeds"),
        now,
    )


def _load_failed_runs(con: Any, root: str, now: dt.datetime) -> int:
    """Add the failed runs recorded in ROOT that the table does not hold yet; how many.
    Records never change once written, and a row stays when ROOT prunes its record."""
    from newsbeam.pipeline import failed_runs

    con.execute(FAILED_TABLE)
    have = set(con.execute(f"SELECT run_id, attempt FROM {FAILED}").fetchall())
    new = [
        failed_run_row(record, now)
        for record in failed_runs.read_records(root)
        if (str(record.get("run_id")), str(record.get("attempt"))) not in have
    ]
    if new:
        con.executemany(
            f"INSERT INTO {FAILED} ({', '.join(FAILED_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(FAILED_COLUMNS))})",
            new,
        )
    return len(new)


def _ensure_tables(con: Any) -> bool:
    """Create the tables and views, or add the columns a newer schema has (never drops).
    A table is created with the dataset schema's required columns NOT NULL, as BI tools
    and query planners read them; a column added to an older table stays nullable (its
    earlier rows have none). True when `_newsbeam_loads` gained its `inputs` column."""
    con.execute(LOADS_TABLE)
    gained_inputs = _upgrade_loads_table(con)
    existing = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    for table in dataset.DATASET_TABLES:
        schema = warehouse_schema(table)
        con.register("_newsbeam_empty", schema.empty_table())
        try:
            if table not in existing:
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM _newsbeam_empty")
                for name in required_columns(schema):
                    con.execute(f'ALTER TABLE {table} ALTER COLUMN "{name}" SET NOT NULL')
                continue
            have = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
            for name, kind, *_ in con.execute("DESCRIBE SELECT * FROM _newsbeam_empty").fetchall():
                if name not in have:
                    con.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {kind}')
        finally:
            con.unregister("_newsbeam_empty")
    con.execute(STORIES_VIEW)
    con.execute(COPIES_VIEW)
    return gained_inputs


def required_columns(schema: pa.Schema) -> list[str]:
    """The columns of `schema` that never hold a null."""
    return [field.name for field in schema if not field.nullable]


def _upgrade_loads_table(con: Any) -> bool:
    """`finished_at` was text before 2026-12 (the manifest's ISO time): a timestamp now.
    `inputs` came later (review 50): added, it is True (the caller fills it in from the
    manifests of the runs loaded already)."""
    have = {row[0] for row in con.execute(f"DESCRIBE {LOADS}").fetchall()}
    if "inputs" not in have:
        con.execute(f"ALTER TABLE {LOADS} ADD COLUMN inputs BIGINT")
    kind = con.execute(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = ? AND column_name = 'finished_at'",
        [LOADS],
    ).fetchone()
    if kind and kind[0] == "VARCHAR":
        con.execute(
            f"ALTER TABLE {LOADS} ALTER COLUMN finished_at SET DATA TYPE TIMESTAMPTZ "
            "USING CAST(finished_at AS TIMESTAMPTZ)"
        )
    return "inputs" not in have


def derive_stored_outlets(con: Any) -> int:
    """Fill in the `outlet` of rows a database holds from before schema 5 (loaded by an
    older NewsBeam; the column was added null) from their URL, as a load now derives it
    (`derive_outlets`); returns how many rows. Only rows still null and with a URL are
    read: after the first refresh, those whose URL names no host, a few at most."""
    filled = 0
    for table, columns in OUTLET_FROM.items():
        source = f"coalesce({', '.join(f'nullif({table}.{name}, {_EMPTY})' for name in columns)})"
        wanted = f"{table}.outlet IS NULL AND {source} IS NOT NULL"
        urls = [
            url
            for (url,) in con.execute(
                f"SELECT DISTINCT {source} FROM {table} WHERE {wanted}"
            ).fetchall()
        ]
        found = {url: outlet for url in urls if (outlet := outlet_of(url))}
        if not found:
            continue
        con.register(
            "_newsbeam_outlets", pa.table({"_url": list(found), "_outlet": list(found.values())})
        )
        try:
            filled += con.execute(
                f"UPDATE {table} SET outlet = m._outlet FROM _newsbeam_outlets AS m "
                f"WHERE {wanted} AND {source} = m._url"
            ).fetchone()[0]
        finally:
            con.unregister("_newsbeam_outlets")
    return filled


_EMPTY = "''"


def derive_stored_scripts(con: Any) -> int:
    """Fill in the `script` of the Chinese rows a database holds from before schema 6 (the
    column was added null) as a load now does (`derive_scripts`); returns how many rows.
    Only Chinese rows still null are read: after the first refresh, those with as many
    characters of each script (null by design), a few short texts."""
    wanted = f"script IS NULL AND language = '{CHINESE}'"
    found = con.execute(f"SELECT DISTINCT article_id, title, text FROM articles WHERE {wanted}")
    counted = {
        article_id: script
        for article_id, title, text in found.fetchall()
        if (script := script_of(CHINESE, title, text))
    }
    if not counted:
        return 0
    con.register(
        "_newsbeam_scripts", pa.table({"_id": list(counted), "_script": list(counted.values())})
    )
    try:
        return int(
            con.execute(
                f"UPDATE articles SET script = m._script FROM _newsbeam_scripts AS m "
                f"WHERE {wanted} AND article_id = m._id"
            ).fetchone()[0]
        )
    finally:
        con.unregister("_newsbeam_scripts")


def duckdb_loaded(con: Any) -> dict[str, str]:
    """run id -> attempt of the runs a DuckDB warehouse holds."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [LOADS]
    ).fetchone()[0]
    if not exists:
        return {}
    return dict(con.execute(f"SELECT run_id, attempt FROM {LOADS}").fetchall())


def refresh_duckdb(root: str, db: str, manifests: Sequence[dict[str, Any]]) -> LoadSummary:
    """Bring the DuckDB database `db` up to the committed runs `manifests` of ROOT, in one
    transaction. WarehouseError when the database cannot be opened; DatasetError (and the
    database unchanged) when a run's files are missing or unreadable."""
    import duckdb

    started = time.perf_counter()
    summary = LoadSummary(target=db)
    new_file = db != ":memory:" and not os.path.exists(db)
    try:
        con = duckdb.connect(db)
    except duckdb.Error as error:
        raise WarehouseError(f"--db {db}: cannot open it ({_one_line(error)})") from None
    committed = False
    try:
        loaded = duckdb_loaded(con)
        todo = pending_runs(manifests, loaded)
        summary.runs_known = len(manifests) - len(todo)
        # Files are read inside the transaction: one missing or unreadable rolls it back.
        con.execute("BEGIN TRANSACTION")
        try:
            if _ensure_tables(con):  # a night's inputs, for its counts in == counts out
                for manifest in manifests:
                    con.execute(
                        f"UPDATE {LOADS} SET inputs = ? WHERE run_id = ? AND attempt = ?",
                        [manifest["counts"]["inputs"], manifest["run_id"], manifest["attempt"]],
                    )
            summary.outlets_derived = derive_stored_outlets(con)
            summary.scripts_derived = derive_stored_scripts(con)
            now = dt.datetime.now(dt.timezone.utc)
            summary.failed_runs = _load_failed_runs(con, root, now)
            for manifest in todo:
                _load_run(con, root, manifest, rerun=manifest["run_id"] in loaded, now=now)
                key = "runs_reloaded" if manifest["run_id"] in loaded else "runs_loaded"
                getattr(summary, key).append(manifest["run_id"])
                for table in dataset.DATASET_TABLES:
                    summary.rows[table] += manifest["tables"][table]["rows"]
                if not manifest.get("counts", {}).get("inputs", 0):
                    summary.runs_empty.append(manifest["run_id"])
            con.execute("COMMIT")
            committed = True
        except BaseException:
            con.execute("ROLLBACK")
            raise
    except duckdb.Error as error:
        raise WarehouseError(f"--db {db}: {_one_line(error)}") from None
    finally:
        con.close()
        if new_file and not committed:  # leave no database behind a refresh that failed
            for path in (db, f"{db}.wal"):
                if os.path.exists(path):
                    os.remove(path)
    summary.seconds = time.perf_counter() - started
    return summary


def _load_run(
    con: Any, root: str, manifest: Mapping[str, Any], *, rerun: bool, now: dt.datetime
) -> None:
    run_id = manifest["run_id"]
    counts = {}
    for table in dataset.DATASET_TABLES:
        rows = read_run_table(root, manifest, table)
        counts[table] = rows.num_rows
        if rerun:  # the run's previous attempt goes (a full scan of run_id: reruns only)
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        if rows.num_rows:
            con.register("_newsbeam_rows", rows)
            try:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _newsbeam_rows")
            finally:
                con.unregister("_newsbeam_rows")
    con.execute(f"DELETE FROM {LOADS} WHERE run_id = ?", [run_id])
    columns = ["run_id", "attempt", "ingest_date", "finished_at", "loaded_at", "inputs", *counts]
    con.execute(
        f"INSERT INTO {LOADS} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [
            run_id,
            manifest["attempt"],
            manifest.get("ingest_date"),
            finished_at(manifest),
            now,
            manifest["counts"]["inputs"],
            *counts.values(),
        ],
    )


def finished_at(manifest: Mapping[str, Any]) -> dt.datetime | None:
    """When the run finished (the manifest's ISO time; UTC when it names no zone)."""
    try:
        moment = dt.datetime.fromisoformat(str(manifest["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):  # none, or not a time: the row holds null
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:300] + "..."


# --- The command -----------------------------------------------------------------------------


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (`<prog>: <message>`) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="newsbeam warehouse",
        description="Load the committed runs of a NewsBeam dataset into DuckDB and/or Apache "
        "Iceberg tables; only runs not loaded yet (or rerun since) are read. Beam's "
        "filesystem flags (--s3_endpoint_url, ...) work for a ROOT on an object store.",
        epilog="Exit status: 0 loaded (or nothing new), 2 bad input (nothing written).",
    )
    parser.add_argument("--output", required=True, metavar="ROOT", help="the dataset")
    parser.add_argument("--db", metavar="FILE", help="a DuckDB database file (created if absent)")
    parser.add_argument(
        "--iceberg",
        metavar="CATALOG",
        help="an Iceberg catalog: sqlite:///PATH or postgresql://... (SQL catalog), "
        "http(s)://... (REST), thrift://... (Hive), glue:// (AWS Glue), or a catalog name "
        "configured in ~/.pyiceberg.yaml",
    )
    parser.add_argument(
        "--iceberg_namespace", default="newsbeam", metavar="NS", help="(default newsbeam)"
    )
    parser.add_argument(
        "--iceberg_warehouse",
        metavar="URI",
        help="where the catalog writes table metadata (SQL catalog: required), e.g. "
        "file:///srv/iceberg or s3://bucket/iceberg",
    )
    parser.add_argument(
        "--iceberg_catalog_name",
        default="newsbeam",
        metavar="NAME",
        help="the catalog's name (a SQL catalog stores it with every table; default newsbeam)",
    )
    parser.add_argument(
        "--iceberg_keep_snapshots",
        type=int,
        default=KEEP_SNAPSHOTS,
        metavar="N",
        help="keep each table's newest N to 2N snapshots (time travel that far back), "
        f"older ones expired in batches, metadata only (default {KEEP_SNAPSHOTS}; 0: all): "
        "bounds the metadata every commit rewrites",
    )
    parser.add_argument(
        "--iceberg_property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a catalog property (credentials, s3.endpoint, ...); repeatable",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    """`newsbeam warehouse ...`; returns the exit status."""
    try:
        args, rest = parser().parse_known_args([_underscores(arg) for arg in argv])
    except SystemExit as exit:  # --help, or a usage error already printed
        return int(exit.code or 0)
    if not args.db and not args.iceberg:
        return _usage("give --db FILE.duckdb and/or --iceberg CATALOG")
    if not args.iceberg and (stray := iceberg_flags(argv)):
        # As `newsbeam --interval` without --follow: a flag that would do nothing is a
        # mistake to say, not to load past (a catalog meant, and --iceberg forgotten).
        return _usage(f"{', '.join(stray)} applies to --iceberg only")
    if args.iceberg_keep_snapshots < 0:
        return _usage(
            f"--iceberg_keep_snapshots must be at least 0, not {args.iceberg_keep_snapshots}"
        )
    root = files.normalise(args.output)
    try:
        _set_filesystem_options(rest)
        dataset.check_root(root, for_writing=False)
        manifests = dataset.committed_runs(root)
        if newer := newer_schema_runs(manifests):
            more = f" and {len(newer) - 1} more" if len(newer) > 1 else ""
            raise DatasetError(
                f"run {newer[0]['run_id']}{more} was written by a newer NewsBeam (schema "
                f"{newer[0]['schema_version']}; this one reads schema {SCHEMA_VERSION} and "
                "would drop the columns it does not know): upgrade NewsBeam, then load"
            )
        summaries = []
        if args.db:
            summaries.append(refresh_duckdb(root, args.db, manifests))
        if args.iceberg:
            from newsbeam.pipeline import iceberg

            properties = iceberg.parse_properties(args.iceberg_property)
            summaries.append(
                iceberg.refresh_iceberg(
                    root,
                    manifests,
                    iceberg.CatalogSpec(
                        args.iceberg,
                        args.iceberg_namespace,
                        args.iceberg_warehouse,
                        properties,
                        args.iceberg_catalog_name,
                        args.iceberg_keep_snapshots,
                    ),
                )
            )
    except (DatasetError, WarehouseError) as error:
        return _usage(str(error))
    print(f"NewsBeam warehouse over {root} ({len(manifests)} committed runs)")
    for summary in summaries:
        print(f"  {summary.line()}")
    return 0


def iceberg_flags(argv: Sequence[str]) -> list[str]:
    """The `--iceberg_*` flags given in `argv` (either spelling), in the order given."""
    given = (_underscores(arg).partition("=")[0] for arg in argv)
    return list(dict.fromkeys(flag for flag in given if flag.startswith("--iceberg_")))


def _set_filesystem_options(argv: Sequence[str]) -> None:
    """Hand Beam's filesystem flags (S3 endpoint, credentials, GCP project) to Beam's
    FileSystems; any other flag is a usage error."""
    if not argv:
        return
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # Beam's import warns about clients NewsBeam does not use
    try:
        from newsbeam.pipeline import cli
    finally:
        root.setLevel(level)
    try:
        cli.set_filesystem_flags(argv)
    except cli.UnknownFlagsError as error:
        raise WarehouseError(str(error)) from None


def _underscores(arg: str) -> str:
    """`--iceberg-namespace=x` as `--iceberg_namespace=x` (flags may be spelt either way)."""
    if not arg.startswith("--"):
        return arg
    name, equals, value = arg.partition("=")
    return "--" + name[2:].replace("-", "_") + equals + value


def _usage(message: str) -> int:
    print(f"newsbeam warehouse: {message}", file=sys.stderr)
    return 2
