"""Files on any filesystem Beam writes: a local path, s3://, gs://, ... .

The output dataset and the state live on such a filesystem, so everything NewsBeam reads
or writes outside the pipeline's own sources and sinks goes through these few functions,
built on Beam's `FileSystems` (one set of credentials and endpoints: the pipeline
options, handed over once with `FileSystems.set_options`).

What an object store lacks is assumed absent everywhere: there are no folders (a prefix
holds objects; `exists()` on a prefix answers False), no atomic rename (a rename is a
copy and a delete), and no append. Writing one object is atomic: a reader sees the old
content or the new, never a mix. The commit protocols of the dataset and the state rest
on that alone.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

_RAW = CompressionTypes.UNCOMPRESSED


def is_local(path: str) -> bool:
    """Whether `path` is on this machine's filesystem (no scheme, or file://)."""
    return "://" not in path or path.startswith("file://")


def local_path(path: str) -> str:
    """A local path without a file:// scheme."""
    return path[len("file://") :] if path.startswith("file://") else path


def normalise(root: str) -> str:
    """A root as NewsBeam names it: local paths absolute, no trailing slash."""
    if is_local(root):
        return os.path.abspath(os.path.expanduser(local_path(root)))
    return root.rstrip("/")


def join(root: str, *parts: str) -> str:
    """`root`/part/part: posix separators for object stores, the OS's for local paths."""
    if is_local(root):
        return os.path.join(local_path(root), *parts)
    return posixpath.join(root.rstrip("/"), *parts)


def relative(root: str, path: str) -> str:
    """`path` relative to `root`, with posix separators (what manifests record)."""
    if is_local(root):
        return os.path.relpath(local_path(path), local_path(root)).replace(os.sep, "/")
    prefix = root.rstrip("/") + "/"
    if not path.startswith(prefix):
        raise ValueError(f"{path} is not under {root}")
    return path[len(prefix) :]


def read_bytes(path: str) -> bytes:
    """The whole content of one file (FileNotFoundError-like errors from Beam pass up)."""
    with FileSystems.open(path, compression_type=_RAW) as reader:
        return reader.read()


def write_bytes(path: str, data: bytes) -> None:
    """Write one file whole. On object stores a reader sees the old object or this one.
    Local files are written beside and renamed, for the same guarantee."""
    if is_local(path):
        target = local_path(path)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        partial = f"{target}.partial-{os.getpid()}"
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
        return
    writer = FileSystems.create(path, mime_type="application/octet-stream", compression_type=_RAW)
    try:
        writer.write(data)
    finally:
        writer.close()


def read_json(path: str) -> Any:
    """Parsed JSON of one file."""
    return json.loads(read_bytes(path).decode("utf-8"))


def write_json(path: str, content: Any) -> None:
    """One JSON file, written whole (write_bytes), keys sorted so reruns compare equal."""
    write_bytes(path, (json.dumps(content, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def exists(path: str) -> bool:
    """Whether a file exists (not a prefix: object stores have no folders)."""
    if is_local(path):
        return os.path.isfile(local_path(path))
    return bool(FileSystems.exists(path))


def file_size(path: str) -> int:
    """The size of one file in bytes."""
    if is_local(path):
        return os.path.getsize(local_path(path))
    (result,) = FileSystems.match([path])
    return int(result.metadata_list[0].size_in_bytes)


def list_files(prefix: str) -> dict[str, int]:
    """Every file under `prefix` (a folder's path, at any depth) -> its size in bytes;
    empty when there is none."""
    if is_local(prefix):
        found: dict[str, int] = {}
        for folder, _, names in os.walk(local_path(prefix)):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    found[path] = os.path.getsize(path)
                except OSError:  # removed while listed
                    continue
        return found
    pattern = prefix.rstrip("/") + "/**"
    (result,) = FileSystems.match([pattern])
    return {meta.path: meta.size_in_bytes for meta in result.metadata_list}


def delete_files(paths: Iterable[str]) -> None:
    """Delete files; those already gone are no error."""
    paths = [path for path in paths]
    if not paths:
        return
    local = [local_path(path) for path in paths if is_local(path)]
    for path in local:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    remote = [path for path in paths if not is_local(path)]
    if remote:
        FileSystems.delete(remote)


def delete_tree(prefix: str) -> None:
    """Delete every file under `prefix` (and, locally, its empty folders)."""
    if is_local(prefix):
        import shutil

        shutil.rmtree(local_path(prefix), ignore_errors=True)
        return
    delete_files(list_files(prefix))


def remove_empty_folders(root: str) -> None:
    """Locally, drop folders left empty under `root`, and `root` itself when it is left
    empty (object stores have no folders)."""
    if not is_local(root):
        return
    for folder, _, _ in sorted(os.walk(local_path(root)), key=lambda item: -len(item[0])):
        try:
            os.rmdir(folder)
        except OSError:
            pass


def move_files(pairs: Sequence[tuple[str, str]]) -> None:
    """Move files (source, destination): a rename locally, a copy and delete elsewhere."""
    if not pairs:
        return
    for _, destination in pairs:
        if is_local(destination):
            os.makedirs(os.path.dirname(local_path(destination)), exist_ok=True)
    FileSystems.rename([source for source, _ in pairs], [target for _, target in pairs])


def read_parquet(path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """One Parquet file as an Arrow table, from any filesystem."""
    if is_local(path):
        return pq.read_table(local_path(path), columns=columns)
    with FileSystems.open(path, compression_type=_RAW) as reader:
        return pq.read_table(reader, columns=columns)


def parquet_rows(path: str) -> int:
    """The row count of one Parquet file, from its footer."""
    if is_local(path):
        return pq.ParquetFile(local_path(path)).metadata.num_rows
    with FileSystems.open(path, compression_type=_RAW) as reader:
        return pq.ParquetFile(reader).metadata.num_rows


def write_parquet(path: str, table: pa.Table, **options: Any) -> None:
    """Write one Parquet file whole, to any filesystem."""
    if is_local(path):
        target = local_path(path)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        partial = f"{target}.partial-{os.getpid()}"
        pq.write_table(table, partial, **options)
        os.replace(partial, target)
        return
    writer = FileSystems.create(path, mime_type="application/octet-stream", compression_type=_RAW)
    try:
        pq.write_table(table, writer, **options)
    finally:
        writer.close()
