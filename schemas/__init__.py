"""Record types and their Arrow schemas: the one definition of every table NewsBeam writes."""

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
from newsbeam.schemas.state import STATE_MARKER, STATE_VERSION, STATE_VERSION_KEY

__all__ = [
    "ARTICLE_SCHEMA",
    "DUPLICATE_SCHEMA",
    "REJECTED_SCHEMA",
    "SCHEMA_VERSION",
    "SCHEMA_VERSION_KEY",
    "STATE_MARKER",
    "STATE_VERSION",
    "STATE_VERSION_KEY",
    "TABLES",
    "Article",
    "Duplicate",
    "RawDocument",
    "Rejected",
    "Removal",
    "to_row",
]
