"""Compare the Parquet tables of two NewsBeam folders (outputs or --state folders) row by row.

    python benchmarks/compare_tables.py A B [--ignore COLUMN ...]

A table is every group of Parquet files in one folder that share their columns (an output's
`articles/`, a state's `dedup/articles/`, `feed_state/feeds.parquet`, `feeds/health-*`).
A dataset ROOT's table is its files in every partition (`articles/ingest_date=*/`) of every
committed run (what no manifest lists, such as a killed run's `_staging/`, is left out); a
versioned state is the version its CURRENT.json names.
Rows are compared with DuckDB as multisets (EXCEPT ALL both ways), without the columns that
depend on when a run happened (ingestion and state times, fetch latency); `--ignore` adds
more. Prints one line per table; exit status 0 when every table has the same rows, 1 if not.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

# Columns that differ between two runs of the same inputs: when they ran, how long a fetch took.
TIME_COLUMNS = frozenset(
    {
        "ingested_at",
        "first_seen_at",
        "last_seen_at",
        "last_fetch_at",
        "last_new_entry_at",
        "next_poll_at",
        "run_at",
        "latency_ms",
    }
)


def _parquet_files(root: Path) -> tuple[Path, list[Path]]:
    """The folder the tables sit in and the Parquet files that hold its rows: of a dataset,
    those its committed runs' manifests list; of a versioned state, the current
    version's; else every one under `root`."""
    from newsbeam.pipeline import dataset
    from newsbeam.transforms.support.state import read_current, version_dir

    if dataset.is_dataset(str(root)):
        return root, sorted(
            Path(path)
            for manifest in dataset.committed_runs(str(root))
            for table in dataset.DATASET_TABLES
            for path in dataset.data_files(str(root), manifest, table)
        )
    current = read_current(str(root))
    if current is not None:
        root = Path(version_dir(str(root), current["version"]))
    return root, sorted(root.rglob("*.parquet"))


def tables(root: Path, ignore: frozenset[str] = frozenset()) -> dict[str, list[Path]]:
    """Table key (folder without its Hive partitions, and columns but those in `ignore`)
    -> its files. Files of two schema versions are two tables, unless the columns that
    tell them apart are ignored (`--ignore published_zone`: a schema 6 output against a
    schema 7 one of the same inputs)."""
    found: dict[str, list[Path]] = defaultdict(list)
    base, paths = _parquet_files(root)
    for path in paths:
        parts = path.parent.relative_to(base).parts
        folder = "/".join(part for part in parts if "=" not in part) or "."
        columns = ",".join(name for name in pq.read_schema(path).names if name not in ignore)
        found[f"{folder}[{columns}]"].append(path)
    return found


def _select(files: list[Path], ignore: frozenset[str]) -> str:
    names = ", ".join(f"'{f}'" for f in files)
    columns = [c for c in pq.read_schema(files[0]).names if c not in ignore]
    quoted = ", ".join(f'"{c}"' for c in columns)
    return f"SELECT {quoted} FROM read_parquet([{names}], union_by_name=true)"


def _count(query: str) -> int:
    return int(duckdb.sql(f"SELECT count(*) FROM ({query})").fetchall()[0][0])


def compare(first: Path, second: Path, ignore: frozenset[str]) -> bool:
    """Print one line per table; True when all tables have the same rows."""
    a, b = tables(first, ignore), tables(second, ignore)
    same = True
    for key in sorted(set(a) | set(b)):
        label = key.split("[", 1)[0]
        if key not in a or key not in b:
            side = first if key not in a else second
            print(f"DIFF  {label}: no such table in {side} ({key})")
            same = False
            continue
        left, right = _select(a[key], ignore), _select(b[key], ignore)
        rows_a, rows_b = _count(left), _count(right)
        only_a, only_b = _count(f"{left} EXCEPT ALL {right}"), _count(f"{right} EXCEPT ALL {left}")
        ok = only_a == 0 and only_b == 0
        same &= ok
        print(
            f"{'same' if ok else 'DIFF'}  {label}: {rows_a} vs {rows_b} rows"
            + ("" if ok else f", {only_a} only in A, {only_b} only in B")
        )
    return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--ignore", action="append", default=[], help="Another column to skip.")
    args = parser.parse_args(argv)
    return 0 if compare(args.first, args.second, TIME_COLUMNS | set(args.ignore)) else 1


if __name__ == "__main__":
    sys.exit(main())
