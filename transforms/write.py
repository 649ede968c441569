"""WriteTables: the run's tables -> Parquet files in the run's staging folder, laid out as
they will sit in the dataset: `<table>/<partition>/<prefix>-SSSSS-of-NNNNN.parquet`
(pipeline/dataset.py moves them into ROOT when the run commits). Written with the explicit
Arrow schemas of `newsbeam.schemas`; an empty table still gets one file with its schema.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.io.parquetio import WriteToParquet

from newsbeam.schemas import DATASET_SCHEMAS, FEED_HEALTH_TABLE, to_row


def _health_row(health: Any) -> dict[str, Any]:
    return dict(health._asdict())


class WriteTables(beam.PTransform):
    """dict[table name, PCollection[record]] -> dict[table name, PCollection[file name]].

    `staging`: the run's staging folder (any filesystem Beam writes); `partition`: the
    Hive partition folder (`ingest_date=YYYY-MM-DD`); `prefix`: the start of every file
    name (run id and attempt)."""

    def __init__(self, staging: str, partition: str, prefix: str) -> None:
        super().__init__()
        self._staging = staging.rstrip("/")
        self._partition = partition
        self._prefix = prefix

    def expand(self, tables: dict[str, beam.PCollection]) -> dict[str, beam.PCollection]:
        written = {}
        for name, schema in DATASET_SCHEMAS.items():
            to_dict = _health_row if name == FEED_HEALTH_TABLE else to_row
            written[name] = (
                tables[name]
                | f"{name}/Rows" >> beam.Map(to_dict)
                | f"{name}/Parquet"
                >> WriteToParquet(
                    f"{self._staging}/{name}/{self._partition}/{self._prefix}",
                    schema=schema,
                    codec="zstd",
                    use_compliant_nested_type=True,
                    file_name_suffix=".parquet",
                )
            )
        return written
