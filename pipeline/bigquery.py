"""`newsbeam schema --format bigquery [--table NAME]`: the dataset's tables as BigQuery JSON
schemas, derived from the one Arrow schema of each (schemas/).

    newsbeam schema --format bigquery --table articles > articles.json
    bq mk --external_table_definition=... (deploy/bigquery/)

A table alone prints its schema as `bq` takes it (a JSON list of {name, type, mode,
fields}); without `--table`, one JSON object: table name -> that list. The partition
column `ingest_date` (DATE) is not in the files but in their paths: BigQuery adds it from
the hive partitioning options (`--hive_partitioning_mode=CUSTOM` with the source URI
prefix `gs://BUCKET/ROOT/<table>/{ingest_date:DATE}`), so it is not in the printed
schema; `--with_run_columns` adds it and `run_id`, as `newsbeam warehouse` does (the
native tables of deploy/bigquery/load.sh). Parquet lists load as REPEATED fields with
list inference on (`--parquet_enable_list_inference`, `parquetOptions.enableListInference`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from newsbeam.pipeline.dataset import DATASET_TABLES, PARTITION_KEY
from newsbeam.pipeline.warehouse import OneLineParser, warehouse_schema
from newsbeam.schemas import DATASET_SCHEMAS

_SCALARS: tuple[tuple[Any, str], ...] = (
    (pa.types.is_string, "STRING"),
    (pa.types.is_large_string, "STRING"),
    (pa.types.is_boolean, "BOOLEAN"),
    (pa.types.is_integer, "INTEGER"),
    (pa.types.is_floating, "FLOAT"),
    (pa.types.is_timestamp, "TIMESTAMP"),
    (pa.types.is_date, "DATE"),
    (pa.types.is_binary, "BYTES"),
)


def bigquery_field(arrow: pa.Field) -> dict[str, Any]:
    """One Arrow field as a BigQuery schema field: a list is REPEATED (BigQuery has no
    null arrays or null elements, so a null list reads as empty), a struct a RECORD."""
    kind = arrow.type
    mode = "NULLABLE" if arrow.nullable else "REQUIRED"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        inner = bigquery_field(pa.field(arrow.name, kind.value_type))
        return {**inner, "mode": "REPEATED"}
    if pa.types.is_struct(kind):
        fields = [bigquery_field(kind.field(index)) for index in range(kind.num_fields)]
        return {"name": arrow.name, "type": "RECORD", "mode": mode, "fields": fields}
    for test, name in _SCALARS:
        if test(kind):
            return {"name": arrow.name, "type": name, "mode": mode}
    raise ValueError(f"no BigQuery type for {arrow.name}: {kind}")


def bigquery_schema(table: str, with_run_columns: bool = False) -> list[dict[str, Any]]:
    """A dataset table's BigQuery schema (a JSON list of fields); `with_run_columns` adds
    run_id and ingest_date, as `newsbeam warehouse` does (deploy/bigquery/load.sh)."""
    schema = warehouse_schema(table) if with_run_columns else DATASET_SCHEMAS[table]
    return [bigquery_field(arrow) for arrow in schema]


def main(argv: Sequence[str]) -> int:
    """`newsbeam schema --format bigquery [--table NAME] [--with_run_columns]`."""
    parser = OneLineParser(
        prog="newsbeam schema",
        description="Print the dataset's table schemas for a warehouse. The hive partition "
        f"column {PARTITION_KEY} (DATE) comes from the paths and is left out unless "
        "--with_run_columns.",
    )
    parser.add_argument("--format", choices=["bigquery"], default="bigquery")
    parser.add_argument("--table", choices=DATASET_TABLES, help="one table (default: all)")
    parser.add_argument(
        "--with_run_columns",
        "--with-run-columns",
        action="store_true",
        help=f"add run_id STRING and {PARTITION_KEY} DATE, the columns newsbeam warehouse adds",
    )
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exit:
        return int(exit.code or 0)
    if args.table:
        content: Any = bigquery_schema(args.table, args.with_run_columns)
    else:
        content = {name: bigquery_schema(name, args.with_run_columns) for name in DATASET_TABLES}
    json.dump(content, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
