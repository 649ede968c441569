"""Input files already ingested: the `--state` inputs component (`inputs/seen_files.parquet`).

One row per input file a run read (or found unchanged): its path as the tables show it,
size, modification time and content hash. A later run with the same `--state` skips a file
whose four are all the same (an inbox read every hour reads only what is new or changed).
"""

from __future__ import annotations

import pyarrow as pa

SEEN_FILES_PATH = "inputs/seen_files.parquet"

_UTC_MICROS = pa.timestamp("us", tz="UTC")

SEEN_FILE_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("modified_at", _UTC_MICROS, nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),  # blake2b of the raw bytes
        pa.field("first_seen_at", _UTC_MICROS, nullable=False),  # the run that first read it
        pa.field("last_seen_at", _UTC_MICROS, nullable=False),  # the last run that listed it
    ]
)
