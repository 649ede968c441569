"""Datasets written the way a run commits them (pipeline/dataset.py), without Beam.

`write_run()` writes real Parquet files with the real schemas into a run attempt's staging
folder and commits them with `dataset.commit_run` (intent record, files into their
partitions, the manifest last; a rerun replaces the previous attempt and deletes its
files). The warehouse tests and benchmarks/bench_warehouse.py build their ROOTs with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from newsbeam.pipeline import dataset
from newsbeam.schemas import DATASET_SCHEMAS, SCHEMA_VERSION, Article, Duplicate, Rejected, to_row
from newsbeam.schemas.feeds import FeedHealth
from newsbeam.transforms.support import files
from newsbeam.transforms.support.urls import outlet_of

UTC = dt.timezone.utc
SCHEMAS: dict[str, pa.Schema] = DATASET_SCHEMAS


def article(
    key: str,
    *,
    text: str | None = None,
    title: str | None = None,
    site: str | None = "news.example.com",
    story_id: str | None = None,
    published_at: dt.datetime | None = None,
    ingested_at: dt.datetime | None = None,
    language: str | None = "en",
    places: Sequence[str] = (),
) -> Article:
    """An article whose id is derived from `key` (the same key, the same id)."""
    body = text if text is not None else f"The text of article {key}, long enough to keep."
    return Article(
        article_id=_id(f"article:{key}"),
        source=f"inputs/{key}.txt",
        url=f"https://{site}/{key}" if site else None,
        canonical_url=f"https://{site}/{key}" if site else None,
        site=site,
        outlet=outlet_of(f"https://{site}/") if site else None,
        title=title if title is not None else f"Headline {key}",
        authors=["Jane Reporter"],
        published_at=published_at,
        published_precision="second" if published_at else None,
        published_zone="stated" if published_at else None,
        ingested_at=ingested_at or dt.datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
        language=language,
        language_score=0.99 if language else None,
        script=None,
        text=body,
        word_count=len(body.split()),
        content_hash=_id(f"text:{body}"),
        removed=[],
        topics=["medtop:04000000"],
        topic_scores=[0.7],
        topic_labels=["economy, business and finance"],
        topics_model="fixture 1",
        places=list(places),
        story_id=story_id,
        duplicate_count=0,
        duplicate_sources=[],
        text_origin="document",
        feed_url=None,
        entry_id=None,
        feed_categories=[],
    )


def duplicate(key: str, of: Article, method: str = "exact", site: str | None = None) -> Duplicate:
    return Duplicate(
        article_id=_id(f"copy:{key}"),
        source=f"inputs/{key}.txt",
        canonical_id=of.article_id,
        similarity=1.0 if method == "exact" else (None if method == "url" else 0.8),
        method=method,
        url=f"https://{site}/{key}" if site else None,
        site=site,
        outlet=outlet_of(f"https://{site}/") if site else None,
    )


def rejected(key: str, reason: str = "too_short") -> Rejected:
    return Rejected(
        source=f"inputs/{key}.txt",
        stage="clean",
        reason=reason,
        detail="fewer words than --min_words",
        payload="Breaking news.",
    )


def feed_health(url: str, run_at: dt.datetime) -> FeedHealth:
    return FeedHealth(
        run_at=run_at,
        feed_url=url,
        status="ok",
        http_status=200,
        bytes=2048,
        entries=3,
        new_entries=1,
        not_modified=False,
        error=None,
        latency_ms=12,
    )


def write_run(
    root: str,
    run_id: str,
    *,
    articles: Sequence[Article] = (),
    duplicates: Sequence[Duplicate] = (),
    rejected: Sequence[Rejected] = (),
    feed_health: Sequence[FeedHealth] = (),
    started: dt.datetime | None = None,
    attempt: str | None = None,
    commit: bool = True,
    schema_version: str = SCHEMA_VERSION,
    without: Sequence[str] = (),
) -> dict[str, Any]:
    """Write and commit one run attempt into ROOT (created when absent); returns its
    manifest. `commit=False` leaves the attempt staged, as a run killed before its commit.
    An older NewsBeam's run: `schema_version` its version, `without` the columns its
    schema did not have yet (left out of every table's files)."""
    root = files.normalise(root)
    started = started or dt.datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    attempt = attempt or dataset.new_attempt()
    staging = dataset.staging_dir(root, run_id, attempt)
    part = dataset.partition(started)
    rows = {
        "articles": [to_row(record) for record in articles],
        "duplicates": [to_row(record) for record in duplicates],
        "rejected": [to_row(record) for record in rejected],
        "feed_health": [to_row(record) for record in feed_health],
    }
    moves: list[tuple[str, str]] = []
    tables: dict[str, Any] = {}
    for name in dataset.DATASET_TABLES:
        file_name = f"{dataset.file_prefix(run_id, attempt)}-00000-of-00001.parquet"
        staged = files.join(staging, name, part, file_name)
        final = files.join(root, name, part, file_name)
        table = pa.Table.from_pylist(rows[name], schema=SCHEMAS[name])
        table = table.drop_columns([column for column in without if column in table.column_names])
        files.write_parquet(staged, table, compression="zstd")
        size = files.list_files(files.join(staging, name))[staged]
        moves.append((staged, final))
        entry = {"path": files.relative(root, final), "rows": table.num_rows, "bytes": size}
        tables[name] = {"rows": table.num_rows, "files": [entry]}
    finished = started + dt.timedelta(minutes=5)
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "attempt": attempt,
        "ingest_date": started.astimezone(UTC).date().isoformat(),
        "schema_version": schema_version,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "counts": {
            "inputs": len(articles) + len(duplicates) + len(rejected),
            "articles": len(articles),
            "duplicates": len(duplicates),
            "rejected": len(rejected),
            "balanced": True,
        },
        "tables": tables,
        "options": {},
        "config": {},
        "versions": {},
    }
    dataset.check_manifest(manifest, "fixture")
    if commit:
        dataset.commit_run(root, manifest, moves)
    else:
        dataset.ensure_marker(root)
    return manifest


def _id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def refused(capsys: Any, argv: list[str], *words: str) -> None:
    """`newsbeam warehouse ...` is refused: exit 2, one line on stderr naming `words`."""
    from newsbeam.pipeline import main as entry

    assert entry.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("newsbeam warehouse: ")
    for word in words:
        assert word in err, err
