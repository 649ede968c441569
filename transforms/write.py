"""Stage 6, sinks: the three tables as Parquet datasets under one output folder.

`WriteTables(output_dir)` takes {"articles": ..., "duplicates": ..., "rejected": ...}
PCollections of records and writes `<output_dir>/<table>/part-SSSSS-of-NNNNN.parquet`
with the explicit Arrow schemas of `newsbeam.schemas` (schema version in the file
metadata), zstd compression (level 1 beat snappy on speed and size for article text),
Parquet-compliant nested list types (Spark and BigQuery read them as lists), and row
groups of up to 64 MB, not one per document. An empty table still gets one file with its
schema, so every query over the output works.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.parquetio import WriteToParquet

from newsbeam.schemas import TABLES, to_row


class WriteTables(beam.PTransform):
    """dict[table name, PCollection[record]] -> dict[table name, PCollection[file name]]."""

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self._output_dir = output_dir.rstrip("/")

    def expand(self, tables: dict[str, beam.PCollection]) -> dict[str, beam.PCollection]:
        written = {}
        for name, (_, schema) in TABLES.items():
            written[name] = (
                tables[name]
                | f"{name}/Rows" >> beam.Map(to_row)
                | f"{name}/Parquet"
                >> WriteToParquet(
                    f"{self._output_dir}/{name}/part",
                    schema=schema,
                    codec="zstd",
                    use_compliant_nested_type=True,
                    file_name_suffix=".parquet",
                )
            )
        return written
