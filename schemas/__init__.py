"""Record types and their Arrow schemas: the one definition of every table NewsBeam writes."""

from newsbeam.schemas.feeds import FEED_HEALTH_SCHEMA as _FEED_HEALTH_STATE_SCHEMA
from newsbeam.schemas.records import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    REJECTED_SCHEMA,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    TABLES,
    Article,
    Duplicate,
    RawDocument,
    Rejected,
    Removal,
    to_row,
)
from newsbeam.schemas.state import (
    STATE_FOLDER_VERSION,
    STATE_FOLDER_VERSIONS_READ,
    STATE_MARKER,
    STATE_VERSION,
    STATE_VERSION_KEY,
)

# The feed health table of the output dataset: the rows the state keeps, stamped with the
# output's schema version like the other tables.
FEED_HEALTH_TABLE = "feed_health"
FEED_HEALTH_TABLE_SCHEMA = _FEED_HEALTH_STATE_SCHEMA.with_metadata(
    {SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()}
)
# The list of the files a run wrote, in its staging folder: written by the write stage
# (transforms/write.py), read by the commit (pipeline/dataset.py).
WRITTEN = "_written.json"
# Every table of the output dataset (pipeline/dataset.py), in order, with its Arrow schema.
DATASET_SCHEMAS = {
    **{name: schema for name, (_, schema) in TABLES.items()},
    FEED_HEALTH_TABLE: FEED_HEALTH_TABLE_SCHEMA,
}

__all__ = [
    "ARTICLE_SCHEMA",
    "DATASET_SCHEMAS",
    "FEED_HEALTH_TABLE",
    "FEED_HEALTH_TABLE_SCHEMA",
    "DUPLICATE_SCHEMA",
    "REJECTED_SCHEMA",
    "SCHEMA_VERSION",
    "SCHEMA_VERSION_KEY",
    "STATE_MARKER",
    "STATE_FOLDER_VERSION",
    "STATE_FOLDER_VERSIONS_READ",
    "STATE_VERSION",
    "STATE_VERSION_KEY",
    "TABLES",
    "WRITTEN",
    "Article",
    "Duplicate",
    "RawDocument",
    "Rejected",
    "Removal",
    "to_row",
]
