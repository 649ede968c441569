"""WriteTables: the articles, duplicates and rejected records -> one Parquet dataset per table
under the output folder (`<table>/part-*.parquet`), with the explicit Arrow schemas of
`newsbeam.schemas`; an empty table still gets one file with its schema.
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
