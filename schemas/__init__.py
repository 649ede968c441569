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

__all__ = [
    "ARTICLE_SCHEMA",
    "DUPLICATE_SCHEMA",
    "REJECTED_SCHEMA",
    "SCHEMA_VERSION",
    "SCHEMA_VERSION_KEY",
    "TABLES",
    "Article",
    "Duplicate",
    "RawDocument",
    "Rejected",
    "Removal",
    "to_row",
]
