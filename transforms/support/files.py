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

On s3:// one S3 client serves the process (`_s3`): Beam's S3 filesystem makes a new boto3
client for every call, about 0.2 s each, which made a small run's commit cost seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from apache_beam.io.filesystems import FileSystems


def _filesystems() -> type[FileSystems]:
    """Beam's FileSystems, imported on first use: local paths never need Beam (~0.7 s to
    import), so the report (`newsbeam report`, pipeline/report_process.py) reads a local
    dataset without it."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def _uncompressed() -> str:
    from apache_beam.io.filesystem import CompressionTypes

    return str(CompressionTypes.UNCOMPRESSED)


# (the options object FileSystems was given, the S3IO made from it): one client per process
# and set of options. Not per-element state: what the commit and the state checks share.
_S3_CACHE: list[tuple[Any, Any]] = []


def _s3(path: str) -> Any:
    """Beam's S3IO for an s3:// path, made once per set of options; None for other paths."""
    if not path.startswith("s3://"):
        return None
    options = getattr(_filesystems(), "_pipeline_options", None)
    if options is None:  # not configured: Beam's own defaults, through FileSystems
        return None
    if _S3_CACHE and _S3_CACHE[0][0] is options:
        return _S3_CACHE[0][1]
    from apache_beam.io.aws import s3io

    store = s3io.S3IO(client=_bounded_client(options), options=options)
    _S3_CACHE[:] = [(options, store)]
    return store


# How long a run keeps calling an object store that cannot be reached (refused connections,
# timeouts) before its calls fail for good, in seconds: `--store_retry_seconds`.
STORE_RETRY_SECONDS = 60.0
# The status code a call that gave up on an unreachable store reports to Beam's S3IO: below
# 500 and not 408, so that its retry decorators raise it at once instead of waiting again.
_GAVE_UP_STATUS = 0


class StoreUnreachable(Exception):
    """An object store that did not answer for longer than the run waits for one."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # Read by Beam's client (`get_http_error_code`) as the HTTP status of the failure.
        self.response = {"ResponseMetadata": {"HTTPStatusCode": _GAVE_UP_STATUS}}


def is_unreachable(error: BaseException) -> bool:
    """Whether `error` is, or was raised while handling, a StoreUnreachable: Beam's S3 client
    wraps what our client raises in an S3ClientError of its own. A store that stopped
    answering fails the run (nothing committed, read again by the next run); it is no
    fault of the file being read, whose row would have said `unreadable` and whose record
    in the state would have kept the next run from reading it again."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, StoreUnreachable):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def size_and_updated(path: str) -> tuple[int, float]:
    """One file's size in bytes and last-updated time (epoch seconds), on a filesystem that
    is not local; on s3:// through the bounded client (`_s3`), as every other call."""
    store = _s3(path)
    if store is not None:
        # One HEAD for both (S3IO's `size` and `last_updated` make one each).
        status = store._status(path)
        return int(status["size"]), float(status["last_updated"])
    (result,) = _filesystems().match([path])
    metadata = result.metadata_list[0]
    return int(metadata.size_in_bytes), float(metadata.last_updated_in_seconds)


def match(pattern: str) -> list[Any]:
    """Beam's `FileSystems.match` of one pattern (its FileMetadata: path, size, last
    updated); on s3:// through the bounded client, with Beam's own rules: a pattern ending
    in "/" matches what is under it, one without a glob names one object, a glob filters
    the listing of the prefix before it (`FileSystem.translate_pattern`)."""
    store = _s3(pattern)
    if store is None:
        return list(_filesystems().match([pattern])[0].metadata_list)
    import re

    from apache_beam.io.filesystem import FileMetadata, FileSystem

    pattern += "*" if pattern.endswith("/") else ""
    prefix = re.match(r"^[^[*?]*", pattern).group(0)  # type: ignore[union-attr]
    if prefix == pattern:
        if not store.exists(pattern):
            return []
        return [FileMetadata(pattern, *size_and_updated(pattern))]
    regex = re.compile(FileSystem.translate_pattern(pattern))
    listed = store.list_files(prefix, with_metadata=True)
    return [
        FileMetadata(path, size, updated) for path, (size, updated) in listed if regex.match(path)
    ]


class StoreDenied(Exception):
    """A call the object store refused (403 AccessDenied): the credentials may not do that
    there. No retry helps; the run fails with one line naming the operation and object."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # 403: Beam's retry filter (server errors only) raises it at once.
        self.response = {"ResponseMetadata": {"HTTPStatusCode": 403}}


# What each boto call the run makes does to its object, for the line a refusal ends with.
_CALL_VERBS = {
    "get_object": "read",
    "head_object": "read",
    "put_object": "write",
    "copy_object": "write",
    "create_multipart_upload": "write",
    "upload_part": "write",
    "complete_multipart_upload": "write",
    "copy": "copy",
    "delete_object": "delete",
    "delete_objects": "delete",
    "list_objects": "list",
    "list_objects_v2": "list",
    "head_bucket": "use",
}
# Beam's client calls boto3's managed `copy(CopySource, Bucket, Key)` by position.
_POSITIONAL = {"copy": ("CopySource", "Bucket", "Key")}


def denied_line(verb: str, where: str) -> str:
    """The line a refused operation ends a run with: what was refused, on which object,
    and what to check; never the credentials."""
    return (
        f"access denied: cannot {verb} {where}: check the credentials' permissions on "
        "that prefix (the store refused it: AccessDenied)"
    )


def denied_message(call: str, kwargs: dict[str, Any], args: Sequence[Any] = ()) -> str:
    """`denied_line` for a refused boto call (its name and arguments): the object, a
    prefix for a listing, the first key of a batch delete, source and target of a copy."""
    named = {**dict(zip(_POSITIONAL.get(call, ()), args, strict=False)), **kwargs}
    verb = _CALL_VERBS.get(call, call.replace("_", " "))
    bucket = named.get("Bucket", "?")
    where = f"s3://{bucket}/{named.get('Key', named.get('Prefix', ''))}"
    if verb == "list":
        where = f"the prefix {where}"
    elif call == "delete_objects":
        keys = [item.get("Key", "") for item in named.get("Delete", {}).get("Objects", [])]
        first = f"s3://{bucket}/{keys[0] if keys else ''}"
        where = f"{len(keys)} objects, the first {first}" if len(keys) > 1 else first
    source = named.get("CopySource")
    if isinstance(source, dict):
        where = f"s3://{source.get('Bucket', '?')}/{source.get('Key', '')} to {where}"
    return denied_line(verb, where)


def is_denied(error: BaseException) -> bool:
    """Whether `error` (boto's, or Beam's S3ClientError) is a refusal by the store's
    policy (403 AccessDenied). A batch delete reports each key's refusal in its answer,
    which Beam turns into S3ClientError(message, "AccessDenied") without raising."""
    response = getattr(error, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", getattr(error, "code", "")))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("AccessDenied", "403", "AllAccessDisabled") or status == 403


class _NotAnswering(Exception):
    """A call the store did not answer, within the time the run still waits: Beam's S3IO
    waits and calls again. Raised in place of boto's error, whose `response` is None on a
    read timeout: Beam's client read it as a dict, and its retry logged `AttributeError:
    'NoneType' object has no attribute 'get'` instead of the timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # No status: Beam's retry filter retries an S3 error without one.
        self.response: dict[str, Any] = {"ResponseMetadata": {}}


class _Unreachable:
    """Since when (monotonic seconds) the store has not answered, within `budget` seconds;
    any answer resets it. One per client: what every call of the process sees."""

    def __init__(self, budget: float, where: str) -> None:
        self.budget, self.where = budget, where
        self.since: float | None = None

    def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        import time

        from botocore import exceptions

        # The store has not answered since this call began, not since it failed: a store
        # that accepts connections and never answers fails a call only after its timeouts
        # (two attempts of 30 s), and counting from then let a run wait three times the
        # budget (185 s "not answered" with --store_retry_seconds 60, 4.6 minutes in all).
        began = time.monotonic()
        try:
            answer = method(*args, **kwargs)
        except exceptions.ClientError as error:
            self.since = None  # the store answered, if only to refuse
            if not is_denied(error):
                raise
            # From None: the failure line names the innermost cause; boto's own says only
            # "Access Denied", and Beam's S3ClientError above it no more.
            name = getattr(method, "__name__", "")
            raise StoreDenied(denied_message(name, kwargs, args)) from None
        except (exceptions.ConnectionError, exceptions.HTTPClientError) as error:
            now = time.monotonic()
            self.since = began if self.since is None else min(self.since, began)
            if now - self.since < self.budget:
                raise _NotAnswering(f"{self.where}: {error}") from None
            # From None: the run's failure line names the innermost cause, which is to be
            # this one, not the refused connection under it.
            raise StoreUnreachable(
                f"the object store at {self.where} has not answered for "
                f"{now - self.since:.0f} s (--store_retry_seconds {self.budget:g}): {error}"
            ) from None
        self.since = None
        return answer


class _BoundedCalls:
    """A boto3 S3 client whose calls go through `_Unreachable.call`."""

    def __init__(self, client: Any, unreachable: _Unreachable) -> None:
        self._client, self._unreachable = client, unreachable

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        return lambda *args, **kwargs: self._unreachable.call(attribute, *args, **kwargs)


def _bounded_client(options: Any) -> Any:
    """Beam's S3 client for `options`, bounded where Beam's is not: when the store stops
    answering mid-run (stopped, unplugged, its address gone), Beam's client let boto retry
    each request 5 times and then retried the call itself 7 times with a doubling delay
    from 5 s, at every step of the commit: a run whose store went away waited ~13 minutes
    before it failed. Here boto tries a request twice, with 10 s to connect and 30 s to
    wait for an answer's bytes (boto's 60 s; each at most the budget), and once the store
    has not answered for `--store_retry_seconds` (STORE_RETRY_SECONDS) every call fails at
    once with StoreUnreachable, which Beam does not retry: the run fails with that message and
    commits nothing (the manifest, written last, is never written; the next run removes
    what the failed one staged)."""
    import boto3
    from apache_beam.io.aws.clients.s3 import boto3_client
    from botocore.config import Config

    settings = _client_settings(options)
    flags = options.get_all_options(retain_unknown_options=False)
    budget = flags.get("store_retry_seconds")
    budget = STORE_RETRY_SECONDS if budget is None else float(budget)
    # A store that accepts connections and never answers (a hung server) costs a call
    # read_timeout for each of its attempts, before the budget is looked at: neither
    # timeout is longer than the budget (at least a second), so a hung store fails a run
    # within about twice the budget, as a stopped one does.
    wait = max(1.0, budget)
    config = Config(
        connect_timeout=min(10.0, wait),
        read_timeout=min(30.0, wait),
        retries={"max_attempts": 2, "mode": "standard"},
    )
    client = boto3_client.Client.__new__(boto3_client.Client)
    # Beam 2.77's Client.__init__, with the config it does not take (made here, not there:
    # making a client costs ~0.2 s)
    client.client = _BoundedCalls(
        boto3.session.Session().client("s3", config=config, **settings),
        _Unreachable(budget, settings.get("endpoint_url") or "AWS"),
    )
    client._download_request = None
    client._download_stream = None
    client._download_pos = 0
    return client


def _client_settings(options: Any) -> dict[str, Any]:
    """boto3's client arguments from Beam's S3 options (none: boto3's defaults)."""
    from apache_beam.options.pipeline_options import S3Options

    if options is None:
        return {}
    given = options.view_as(S3Options)
    settings: dict[str, Any] = {
        "endpoint_url": given.s3_endpoint_url,
        "aws_access_key_id": given.s3_access_key_id,
        "aws_secret_access_key": given.s3_secret_access_key,
        "aws_session_token": given.s3_session_token,
        "region_name": given.s3_region_name,
        "use_ssl": not given.s3_disable_ssl,
    }
    if given.s3_verify is not None:
        settings["verify"] = given.s3_verify
    if given.s3_api_version is not None:
        settings["api_version"] = given.s3_api_version
    return settings


# How long the reachability check of an object store waits (`store_problem`), in seconds.
STORE_CHECK_SECONDS = 5
# (options, bucket) pairs whose store answered `store_problem` in this process.
_STORES_ANSWERED: list[tuple[Any, str]] = []


def store_problem(path: str) -> str | None:
    """Why the object store of `path` cannot be used now (it cannot be reached, there are no
    credentials, no such bucket, access denied), from one request that waits at most
    `STORE_CHECK_SECONDS`; None when it answers, and for other filesystems. Beam's own
    client retries such failures with a growing delay: a run or `newsbeam warehouse` against
    an endpoint that is down waited 14 to 25 minutes, then blamed something else. A store
    that answered is not asked again in this process (with the same options). The client is
    made here, not Beam's (its S3 client has no timeouts to set: Beam retries instead)."""
    if not path.startswith("s3://"):
        return None
    try:
        import boto3
        from botocore import exceptions
        from botocore.config import Config
    except ImportError:  # Beam's S3 filesystem needs boto3: the run says so itself
        return None
    options = getattr(_filesystems(), "_pipeline_options", None)
    bucket = path[len("s3://") :].split("/", 1)[0]
    if any(seen is options and name == bucket for seen, name in _STORES_ANSWERED):
        return None  # asked at launch and by each ROOT check (a follow batch's too)
    settings = _client_settings(options)
    seconds = STORE_CHECK_SECONDS
    config = Config(connect_timeout=seconds, read_timeout=seconds, retries={"max_attempts": 1})
    where = settings.get("endpoint_url") or "AWS"
    try:
        client = boto3.session.Session().client("s3", config=config, **settings)
        client.head_bucket(Bucket=bucket)
    except exceptions.NoCredentialsError:
        return (
            f"{path}: no S3 credentials (--s3_access_key_id and --s3_secret_access_key, or "
            "the AWS_* environment variables)"
        )
    except exceptions.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            return f"{path}: there is no bucket {bucket} at {where}"
        if code in ("403", "AccessDenied"):
            return f"{path}: access to bucket {bucket} denied at {where}"
        return None  # anything else: the run meets it, and says what it is
    except (exceptions.BotoCoreError, ValueError) as error:
        return f"{path}: the object store at {where} cannot be reached ({error})"
    _STORES_ANSWERED.append((options, bucket))
    return None


def open_read(path: str) -> Any:
    """A binary reader of one file on any filesystem (a context manager)."""
    store = _s3(path)
    if store is not None:
        return store.open(path, "rb")
    if is_local(path):
        return open(local_path(path), "rb")
    return _filesystems().open(path, compression_type=_uncompressed())


def open_write(path: str) -> Any:
    """A binary writer of one file on any filesystem (a context manager); local folders
    are made as needed. The file is complete when the writer is closed."""
    store = _s3(path)
    if store is not None:
        return store.open(path, "wb")
    if is_local(path):
        os.makedirs(os.path.dirname(local_path(path)) or ".", exist_ok=True)
        return open(local_path(path), "wb")
    return _filesystems().create(
        path, mime_type="application/octet-stream", compression_type=_uncompressed()
    )


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
    with open_read(path) as reader:
        return reader.read()


def write_bytes(path: str, data: bytes) -> None:
    """Write one file whole. On object stores a reader sees the old object or this one.
    Local files are written beside and renamed, for the same guarantee."""
    if is_local(path):
        target = local_path(path)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        partial = f"{target}.partial-{os.getpid()}"
        try:
            with open(partial, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(partial)  # nothing half-written left beside the target
            raise
        return
    with open_write(path) as writer:
        writer.write(data)


def cannot_write(path: str) -> str | None:
    """Why this process cannot write into the local folder `path` (or make it, under its
    nearest existing parent), found by writing a file there; None when it can. Found before
    a run rather than at its end: the stages ran whole, then its commit failed."""
    target = existing = os.path.abspath(local_path(path))
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        # `path` itself a file: the caller says what it wanted there (dataset.check_root).
        return None if existing == target else f"{existing} is a file, not a folder"
    try:
        handle, probe = tempfile.mkstemp(prefix=".newsbeam-write-check-", dir=existing)
    except OSError as error:
        return f"cannot write in {existing} ({error.strerror or error})"
    os.close(handle)
    os.remove(probe)
    return None


def cannot_list(path: str) -> str | None:
    """Why this process cannot read the local folder `path`, None when it can (or when
    there is no such folder)."""
    try:
        os.listdir(local_path(path))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        return f"cannot read {path} ({error.strerror or error})"
    return None


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
    store = _s3(path)
    if store is not None:
        return bool(store.exists(path))
    return bool(_filesystems().exists(path))


def file_size(path: str) -> int:
    """The size of one file in bytes."""
    if is_local(path):
        return os.path.getsize(local_path(path))
    store = _s3(path)
    if store is not None:
        return int(store.size(path))
    (result,) = _filesystems().match([path])
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
    store = _s3(prefix)
    if store is not None:
        return {path: int(size) for path, size in store.list_files(prefix.rstrip("/") + "/")}
    pattern = prefix.rstrip("/") + "/**"
    (result,) = _filesystems().match([pattern])
    return {meta.path: meta.size_in_bytes for meta in result.metadata_list}


def has_files(prefix: str) -> bool:
    """Whether any file is under `prefix` (a folder's path, at any depth): stops at the
    first one found (one listing request on an object store)."""
    if is_local(prefix):
        return any(names for _, _, names in os.walk(local_path(prefix)))
    store = _s3(prefix)
    if store is not None:
        return next(iter(store.list_files(prefix.rstrip("/") + "/")), None) is not None
    return bool(list_files(prefix))


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
    on_s3 = [path for path in remote if _s3(path) is not None]
    if on_s3:
        _raise_failures(_s3(on_s3[0]).delete_files(on_s3), "delete")
    others = [path for path in remote if _s3(path) is None]
    if others:
        _filesystems().delete(others)


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
    store = _s3(pairs[0][0])
    if store is not None and all(_s3(target) is store for _, target in pairs):
        _raise_failures(store.rename_files(list(pairs)), "move")
        return
    _filesystems().rename([source for source, _ in pairs], [target for _, target in pairs])


def copy_files(pairs: Sequence[tuple[str, str]]) -> None:
    """Copy files (source, destination), on any filesystem."""
    if not pairs:
        return
    if all(is_local(a) and is_local(b) for a, b in pairs):
        import shutil

        for source, target in pairs:
            os.makedirs(os.path.dirname(local_path(target)) or ".", exist_ok=True)
            shutil.copy2(local_path(source), local_path(target))
        return
    store = _s3(pairs[0][0])
    if store is not None and all(_s3(target) is store for _, target in pairs):
        _raise_failures(store.copy_paths(list(pairs)), "copy")
        return
    _filesystems().copy([source for source, _ in pairs], [target for _, target in pairs])


def _raise_failures(results: Any, what: str) -> None:
    """S3IO reports failures per path instead of raising: raise the first one."""
    items = results.items() if isinstance(results, dict) else results or []
    for item in items:
        error = item[-1]
        inner = error.__context__ if isinstance(error, Exception) else None
        if isinstance(inner, StoreDenied):  # refused through our client: its own line
            raise StoreDenied(str(inner)) from None
        if isinstance(error, Exception) and is_denied(error):
            # A batch delete's refusal is in its answer, not raised through the client
            # (`_Unreachable.call`): it read `OSError: ... ('Access Denied', 'AccessDenied')`.
            raise StoreDenied(denied_line(what, " to ".join(map(str, item[:-1])))) from None
        if isinstance(error, Exception):
            raise OSError(f"{what} failed for {item[:-1]}: {error}") from error


def read_parquet(path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """One Parquet file as an Arrow table, from any filesystem. Read as one file
    (`ParquetFile`), not through `pq.read_table`, whose first use imports pyarrow's dataset
    modules (~40 ms, on the run's serial tail) for the same table."""
    if is_local(path):
        return pq.ParquetFile(local_path(path)).read(columns=columns)
    with open_read(path) as reader:
        return pq.ParquetFile(pa.BufferReader(reader.read())).read(columns=columns)


def parquet_rows(path: str) -> int:
    """The row count of one Parquet file, from its footer."""
    if is_local(path):
        return pq.ParquetFile(local_path(path)).metadata.num_rows
    with open_read(path) as reader:
        return pq.ParquetFile(reader).metadata.num_rows


def leaf_columns(name: str, kind: pa.DataType) -> Iterator[tuple[str, pa.DataType]]:
    """The Parquet leaf columns of an Arrow field, (path, type), lists named as the spec
    names them (`use_compliant_nested_type`: `name.list.element`)."""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        yield from leaf_columns(f"{name}.list.element", kind.value_type)
    elif pa.types.is_struct(kind):
        for field in kind:
            yield from leaf_columns(f"{name}.{field.name}", field.type)
    else:
        yield name, kind


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The leaf columns worth dictionary encoding: all but uint64 ones, which in NewsBeam's
    tables hold hash values (MinHash signatures, shingle hashes), random and never
    repeated. Their dictionary is dropped page by page anyway, after costing the writer
    memory it keeps (~30 MB a part of 220 articles' shingles) and the file bytes."""
    return [
        path
        for field in schema
        for path, kind in leaf_columns(field.name, field.type)
        if not pa.types.is_uint64(kind)
    ]


def write_parquet(path: str, table: pa.Table, **options: Any) -> None:
    """Write one Parquet file whole, to any filesystem (hash columns without a dictionary:
    `dictionary_columns`, unless `use_dictionary` is given)."""
    options.setdefault("use_dictionary", dictionary_columns(table.schema))
    if is_local(path):
        target = local_path(path)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        partial = f"{target}.partial-{os.getpid()}"
        pq.write_table(table, partial, **options)
        os.replace(partial, target)
        return
    with open_write(path) as writer:
        pq.write_table(table, writer, **options)
