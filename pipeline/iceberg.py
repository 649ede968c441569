"""`newsbeam warehouse --iceberg CATALOG`: register a dataset's committed runs in Apache
Iceberg tables, through pyiceberg (the `iceberg` extra; imported only here).

The Parquet files the runs wrote are registered where they are, never rewritten (like
pyiceberg's `add_files`): each table's Iceberg schema is the dataset's Arrow schema
(schemas/) plus `run_id` and `ingest_date`, the table's partition spec is
identity(ingest_date), identity(run_id), and those two columns, which the files do not
hold, are read from each file's partition values (Iceberg's rule for identity partitions),
as `ingest_date` is read from the path in Hive partitioning. Files carry no Iceberg field
ids: the table's default name mapping (schema.name-mapping.default) maps columns by name.

Commits: pyiceberg commits one table at a time (no multi-table transactions), so a run is
one atomic commit per table: its files, and the table property `newsbeam.run.<run id>` =
its attempt, in one snapshot (whose summary also names the run). A refresh skips, table by
table, the runs a table already holds at their committed attempt, so a refresh that died
between two tables' commits is completed by the next one, never doubled. A rerun (the run
id at a new attempt) replaces the old attempt's files in one overwrite snapshot: files
dropped by their run_id partition, no data rewritten.

Before anything is committed every file of every pending run is checked (present, Parquet,
the right columns and row count): bad input changes no table.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pyarrow.parquet as pq

from newsbeam.pipeline import dataset
from newsbeam.pipeline.dataset import DatasetError
from newsbeam.pipeline.warehouse import (
    RUN_COLUMNS,
    LoadSummary,
    WarehouseError,
    ingest_date_of,
    pending_runs,
)
from newsbeam.schemas import DATASET_SCHEMAS
from newsbeam.transforms.support import files

RUN_PROPERTY = "newsbeam.run."
METADATA_VERSIONS = 10
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class CatalogSpec:
    """The catalog as given on the command line."""

    uri: str
    namespace: str = "newsbeam"
    warehouse: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    # The catalog's name: a SQL catalog keeps it in every row, other engines must use it.
    name: str = "newsbeam"
    # Snapshots kept per table: between N and 2N, expired in batches (0: all).
    keep_snapshots: int = 0


def parse_properties(items: Sequence[str]) -> dict[str, str]:
    """`KEY=VALUE` strings as a dict (WarehouseError on one without `=`)."""
    found = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise WarehouseError(f"--iceberg_property {item!r}: expected KEY=VALUE")
        found[key] = value
    return found


def catalog_config(spec: CatalogSpec) -> tuple[str, dict[str, str]]:
    """The name and properties pyiceberg's `load_catalog` gets for `spec.uri`: the catalog
    type follows the scheme; a bare name is a catalog configured in ~/.pyiceberg.yaml (or
    PYICEBERG_CATALOG__<NAME>__* variables)."""
    uri = spec.uri
    config = dict(spec.properties)
    if spec.warehouse:
        config["warehouse"] = spec.warehouse
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if not scheme:
        return uri, config
    if scheme.startswith(("sqlite", "postgresql", "mysql")):
        if scheme.startswith("sqlite"):
            _check_sqlite_path(uri)
        if not spec.warehouse and "warehouse" not in config:
            raise WarehouseError("--iceberg with a SQL catalog needs --iceberg_warehouse URI")
        return spec.name, {**config, "type": "sql", "uri": uri}
    if scheme in ("http", "https"):
        return spec.name, {**config, "type": "rest", "uri": uri}
    if scheme == "thrift":
        return spec.name, {**config, "type": "hive", "uri": uri}
    if scheme == "glue":
        region = uri.split("://", 1)[1].strip("/")
        extra = {"glue.region": region} if region else {}
        return spec.name, {**extra, **config, "type": "glue"}
    raise WarehouseError(
        f"--iceberg {uri}: not a catalog URI (sqlite:///PATH, postgresql://..., "
        "http(s)://... for REST, thrift://... for Hive, glue://REGION)"
    )


def _check_sqlite_path(uri: str) -> None:
    """SQLite creates a missing database file but not its folder: say so plainly."""
    path = uri.split(":///", 1)[1] if ":///" in uri else ""
    if path and path != ":memory:":
        folder = os.path.dirname(os.path.abspath(path if path.startswith("/") else path))
        if not os.path.isdir(folder):
            raise WarehouseError(f"--iceberg {uri}: the folder {folder} does not exist")


# The oldest pyiceberg the registration works with (pyproject's `iceberg` extra says the
# same; tests/test_packaging.py keeps the two in step): 0.9 lacks `DataFile.from_args`
# (every load failed), 0.10 failed a rerun's overwrite and snapshot expiry.
MIN_PYICEBERG = (0, 11)


def pyiceberg_too_old(installed: str) -> str | None:
    """What to tell a user whose pyiceberg (`installed`, its version) predates MIN_PYICEBERG
    (one installed on its own, not through the extra, may be older); None if not."""
    numbers = re.match(r"(\d+)\.(\d+)", installed)
    if numbers is None or (int(numbers[1]), int(numbers[2])) >= MIN_PYICEBERG:
        return None  # new enough, or a version string not understood: let it try
    wanted = ".".join(map(str, MIN_PYICEBERG))
    return (
        f"--iceberg needs pyiceberg {wanted} or later, found {installed}: "
        "pip install -U 'newsbeam[iceberg]'"
    )


def open_catalog(spec: CatalogSpec) -> Any:
    """A pyiceberg catalog, checked to answer (WarehouseError otherwise)."""
    name, config = catalog_config(spec)
    try:
        from pyiceberg.catalog import load_catalog
    except ImportError:
        raise WarehouseError("--iceberg needs pyiceberg: pip install 'newsbeam[iceberg]'") from None
    too_old = pyiceberg_too_old(metadata.version("pyiceberg"))
    if too_old:
        raise WarehouseError(too_old)
    try:
        catalog = load_catalog(name, **config)
        catalog.list_namespaces()  # a REST or Hive catalog is only reached here
    except Exception as error:  # requests, SQLAlchemy, thrift and pyiceberg errors alike
        raise WarehouseError(
            f"--iceberg {spec.uri}: cannot use the catalog ({_one_line(error)})"
        ) from None
    return catalog


def _one_line(error: BaseException) -> str:
    cause: BaseException = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = " ".join(str(cause).split()) or type(cause).__name__
    text = f"{type(cause).__name__}: {text}"
    return text if len(text) <= 300 else text[:300] + "..."


def iceberg_schema(table: str) -> Any:
    """The Iceberg schema of a dataset table, field ids assigned in column order."""
    from pyiceberg.io.pyarrow import _pyarrow_to_schema_without_ids
    from pyiceberg.schema import assign_fresh_schema_ids

    # Optional: the files do not hold them, their partition values do.
    arrow = DATASET_SCHEMAS[table]
    for column in RUN_COLUMNS:
        arrow = arrow.append(column.with_nullable(True))
    return assign_fresh_schema_ids(_pyarrow_to_schema_without_ids(arrow))


def loaded_runs(table: Any) -> dict[str, str]:
    """run id -> attempt of the runs an Iceberg table holds (its table properties)."""
    return {
        key[len(RUN_PROPERTY) :]: value
        for key, value in table.properties.items()
        if key.startswith(RUN_PROPERTY)
    }


@dataclass
class _Footer:
    path: str  # as registered: file:///... locally, the object's URI otherwise
    metadata: pq.FileMetaData
    size: int
    ingest_date: dt.date


def read_footers(root: str, manifest: Mapping[str, Any], table: str) -> list[_Footer]:
    """The Parquet footers of one run's files of `table`, checked against the manifest and
    the table's columns (DatasetError otherwise)."""
    from pyiceberg.io.pyarrow import _check_pyarrow_schema_compatible

    footers = []
    entries = manifest["tables"][table]["files"]
    schema = iceberg_schema(table)
    for entry, path in zip(entries, dataset.data_files(root, manifest, table), strict=True):
        where = f"run {manifest['run_id']}: {path}"
        try:
            metadata, size = _footer(path, entry.get("bytes"))
        except Exception as error:  # Beam's and pyarrow's many errors for a missing file
            if isinstance(error, FileNotFoundError) or not _file_exists(path):
                raise DatasetError(f"{where}: a file its manifest lists is missing") from None
            raise DatasetError(f"{where}: not readable Parquet ({_one_line(error)})") from None
        if metadata.num_rows != entry["rows"]:
            raise DatasetError(
                f"{where}: holds {metadata.num_rows} rows, its manifest says {entry['rows']}"
            )
        try:
            _check_pyarrow_schema_compatible(schema, metadata.schema.to_arrow_schema())
        except ValueError as error:
            raise DatasetError(f"{where}: columns unlike the {table} table's ({error})") from None
        uri = "file://" + files.local_path(path) if files.is_local(path) else path
        footers.append(_Footer(uri, metadata, size, ingest_date_of(entry["path"], manifest)))
    return footers


def _footer(path: str, size: object) -> tuple[pq.FileMetaData, int]:
    """A file's Parquet footer and size (the manifest's, when it has it: one request less
    on an object store)."""
    known = size if isinstance(size, int) and not isinstance(size, bool) else None
    with files.open_read(path) as reader:
        return pq.read_metadata(reader), known if known is not None else files.file_size(path)


def _file_exists(path: str) -> bool:
    try:
        return files.exists(path)
    except Exception:
        return False


def _data_file(table: Any, footer: _Footer, run_id: str) -> Any:
    """An Iceberg DataFile for a file as it is (pyiceberg's parquet_file_to_data_file, with
    the partition values taken from the run instead of the file's columns)."""
    from pyiceberg.io.pyarrow import (
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
    from pyiceberg.typedef import Record

    metadata = table.metadata
    schema = metadata.schema()
    quiet = logging.getLogger("pyiceberg.io.pyarrow")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it warns of every column without statistics (empty files)
    try:
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=footer.metadata,
            stats_columns=compute_statistics_plan(schema, metadata.properties),
            parquet_column_mapping=parquet_path_to_id_mapping(schema),
        )
    finally:
        quiet.setLevel(level)
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=footer.path,
        file_format=FileFormat.PARQUET,
        partition=Record((footer.ingest_date - _EPOCH).days, run_id),
        file_size_in_bytes=footer.size,
        sort_order_id=None,
        spec_id=metadata.default_spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )


def ensure_table(catalog: Any, namespace: str, name: str) -> Any:
    """The Iceberg table of a dataset table, created (schema, partition spec, name
    mapping) when absent."""
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.table import TableProperties
    from pyiceberg.transforms import IdentityTransform

    identifier = (namespace, name)
    schema = iceberg_schema(name)
    try:
        return add_new_columns(catalog.load_table(identifier), schema)
    except NoSuchTableError:
        pass
    spec = PartitionSpec(
        *(
            PartitionField(
                source_id=schema.find_field(column).field_id,
                field_id=1000 + index,
                transform=IdentityTransform(),
                name=column,
            )
            for index, column in enumerate((dataset.PARTITION_KEY, "run_id"))
        )
    )
    return catalog.create_table(
        identifier,
        schema=schema,
        partition_spec=spec,
        properties={
            TableProperties.DEFAULT_NAME_MAPPING: schema.name_mapping.model_dump_json(),
            "newsbeam.table": name,
            # Each commit copies and rewrites the metadata, log of earlier versions included
            # (100 by default): a short log keeps a commit's cost from growing with the runs.
            TableProperties.METADATA_PREVIOUS_VERSIONS_MAX: str(METADATA_VERSIONS),
            TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED: "true",
            TableProperties.MANIFEST_MERGE_ENABLED: "true",
        },
    )


def add_new_columns(table: Any, schema: Any) -> Any:
    """A table an older NewsBeam created, with the columns its schema lacks (a table is
    created once: made at schema 4, it had no `outlet`, and the files registered after the
    upgrade showed none) and the name mapping that reads them from the files that hold
    them; older files lack them, read as null. Returns the table as committed."""
    from pyiceberg.table import TableProperties

    have = {field.name for field in table.schema().fields}
    if any(field.name not in have for field in schema.fields):
        with table.update_schema() as update:  # optional columns only: nothing rewritten
            update.union_by_name(schema)
    # Its own commit, checked apart: a refresh cut between the two completes it next time.
    mapping = table.schema().name_mapping.model_dump_json()
    if table.properties.get(TableProperties.DEFAULT_NAME_MAPPING) != mapping:
        with table.transaction() as transaction:
            transaction.set_properties({TableProperties.DEFAULT_NAME_MAPPING: mapping})
    return table


def refresh_iceberg(
    root: str, manifests: Sequence[dict[str, Any]], spec: CatalogSpec
) -> LoadSummary:
    """Register the committed runs `manifests` of ROOT that the catalog's tables do not
    hold yet (or hold at another attempt). WarehouseError when the catalog cannot be used;
    DatasetError (nothing committed) when a run's files are missing or unlike the table."""
    started = time.perf_counter()
    summary = LoadSummary(target=f"Iceberg {spec.uri} namespace {spec.namespace}")
    catalog = open_catalog(spec)
    from pyiceberg.exceptions import NoSuchTableError

    loaded: dict[str, dict[str, str]] = {}
    for name in dataset.DATASET_TABLES:
        try:
            loaded[name] = loaded_runs(catalog.load_table((spec.namespace, name)))
        except NoSuchTableError:
            loaded[name] = {}
        except Exception as error:
            raise WarehouseError(f"--iceberg {spec.uri}: {_one_line(error)}") from None
    todo = {name: pending_runs(manifests, loaded[name]) for name in dataset.DATASET_TABLES}
    runs = [m for m in manifests if any(m in todo[name] for name in dataset.DATASET_TABLES)]
    summary.runs_known = len(manifests) - len(runs)
    # Every pending file read (its footer) before the first commit: bad input changes no table.
    footers = {
        (m["run_id"], name): read_footers(root, m, name)
        for name in dataset.DATASET_TABLES
        for m in todo[name]
    }
    try:
        catalog.create_namespace_if_not_exists(spec.namespace)
        tables = {name: ensure_table(catalog, spec.namespace, name) for name in todo}
        for manifest in runs:
            run_id = manifest["run_id"]
            rerun = any(
                loaded[name].get(run_id) not in (None, manifest["attempt"])
                for name in dataset.DATASET_TABLES
            )
            for name in dataset.DATASET_TABLES:
                if manifest not in todo[name]:
                    continue
                tables[name] = _commit_run(
                    tables[name], manifest, footers[(run_id, name)], rerun=run_id in loaded[name]
                )
                summary.rows[name] += manifest["tables"][name]["rows"]
            (summary.runs_reloaded if rerun else summary.runs_loaded).append(run_id)
            if not manifest.get("counts", {}).get("inputs", 0):
                summary.runs_empty.append(run_id)
        if spec.keep_snapshots and runs:
            for table in tables.values():
                expire_snapshots(table, spec.keep_snapshots)
    except DatasetError:
        raise
    except Exception as error:  # a catalog that fails midway: the next refresh completes
        raise WarehouseError(f"--iceberg {spec.uri}: {_one_line(error)}") from None
    summary.seconds = time.perf_counter() - started
    return summary


def _commit_run(
    table: Any, manifest: Mapping[str, Any], footers: Sequence[_Footer], *, rerun: bool
) -> Any:
    """One snapshot: the run's files in, its previous attempt's out, the table property
    recording the attempt. Returns the table as committed."""
    from pyiceberg.expressions import EqualTo, Reference
    from pyiceberg.table import TableProperties

    run_id, attempt = manifest["run_id"], manifest["attempt"]
    summary = {"newsbeam.run_id": run_id, "newsbeam.attempt": attempt}
    new_files = [_data_file(table, footer, run_id) for footer in footers]
    with table.transaction() as transaction:
        transaction.set_properties(**{RUN_PROPERTY + run_id: attempt})
        if rerun:
            # Partition pruning on run_id: only the manifests of that run are read. An
            # expression, not a filter string: the id is a value, never parsed as a filter.
            scan = table.scan(row_filter=EqualTo(term=Reference("run_id"), value=run_id))
            old_files = [task.file for task in scan.plan_files()]
            with transaction.update_snapshot(snapshot_properties=summary).overwrite() as change:
                for data_file in old_files:
                    change.delete_data_file(data_file)
                for data_file in new_files:
                    change.append_data_file(data_file)
        else:
            snapshot = transaction.update_snapshot(snapshot_properties=summary)
            # Merging appends (set at creation) keep the manifest list from growing by one
            # manifest a run: small manifests are merged once there are enough of them.
            merge = table.properties.get(TableProperties.MANIFEST_MERGE_ENABLED) == "true"
            with snapshot.merge_append() if merge else snapshot.fast_append() as change:
                for data_file in new_files:
                    change.append_data_file(data_file)
    return table


def expire_snapshots(table: Any, keep: int) -> int:
    """Once a table holds more than 2 x `keep` snapshots, drop all but the newest `keep`
    from its metadata (one commit, every `keep` runs or so; no file is deleted: pyiceberg's
    expiry only edits metadata, and the data files are the dataset's). Every commit
    rewrites the table's metadata, all snapshots included: this bounds a refresh's cost.
    Returns how many were expired."""
    snapshots = sorted(table.snapshots(), key=lambda snapshot: snapshot.timestamp_ms)
    old = [snapshot.snapshot_id for snapshot in snapshots[:-keep]]
    if len(snapshots) > 2 * keep:
        table.maintenance.expire_snapshots().by_ids(old).commit()
        return len(old)
    return 0
