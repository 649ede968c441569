"""ReadDocuments: input paths (files, folders read recursively, globs; any Beam filesystem)
-> RawDocument records, one per file or per non-blank `.jsonl` line. Feed and OPML files are
recognised by content and go to the feed stage. Reading never decodes text (extract does).

Never read as input: NewsBeam's own outputs and state (a folder holding a `manifest.json`
with `schema_version`, or a `state.json` with `state_version`) and runs' staging folders
(`.<name>.newsbeam-...tmp` / `.old`). Local folders are walked with symbolic links followed
(a broken or looping link is one rejected row); `.gz` input is decompressed in bounded
pieces and JSON lines are split from them, so no document or line is held past
`max_document_bytes`.

Rejected (stage `read`): `not_found`, `unsupported_type`, `empty`, `too_large`, `binary`,
`truncated` (a compressed file that ends early, when little could be read; otherwise its
article carries a `truncated` entry in `removed`), `unreadable`.
Counters: `read_inputs`, `read_dropped_<reason>`, `read_skipped_newsbeam_folders`,
`read_gzip_trailing_garbage` (bytes after a whole gzip member that are none, ignored).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import glob
import gzip
import hashlib
import io
import itertools
import json
import logging
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, BinaryIO, NamedTuple, cast

import apache_beam as beam
import pyarrow as pa
from apache_beam.coders import PickleCoder
from apache_beam.io.filesystem import FileMetadata, FileSystem
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import GlobalWindows

from newsbeam.schemas import STATE_MARKER, RawDocument, Rejected
from newsbeam.transforms.feeds.parse import sniff_feed_kind
from newsbeam.transforms.support import files as stores
from newsbeam.transforms.support import warc
from newsbeam.transforms.support.committed import (
    NO_SOURCES,
    CommittedRecord,
    CommittedSources,
    load_committed_sources,
)
from newsbeam.transforms.support.failures import (
    REJECTED,
    _RejectCrashes,
    apply_with_rejects,
    counter,
    rejected_output,
)
from newsbeam.transforms.support.state import (
    RUN_FOLDER_NAME,
    RUN_LOCK_NAME,
    SEEN_FILES,
    StateContext,
    crash_point,
    read_arrow,
    stamped,
)
from newsbeam.transforms.support.whole import CallWithAll, One

STAGE = "read"
log = logging.getLogger(__name__)

# Extension -> kind; ".gz" is stripped first (the reader decompresses it).
KIND_BY_EXTENSION = {
    ".txt": "text",
    ".md": "text",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
    ".warc": "warc",  # and .warc.gz: each HTTP response record one input (support/warc.py)
}

# Extensions (and no extension) whose files are feeds or OPML lists when their content says so.
FEED_CANDIDATE_EXTENSIONS = frozenset({".xml", ".rss", ".atom", ".rdf", ".opml", ".json", ""})
FEED_KINDS = frozenset({"feed", "opml"})
FEED_CANDIDATE = "feed?"

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_SNIFF_BYTES = 8192

# Decompressed bytes per read: memory stays at most this above the document limit.
CHUNK_BYTES = 1 << 20
# A cut-off compressed file that gave less than this is rejected rather than kept: a
# kilobyte of a page is its <head>, of a text a paragraph at most.
TRUNCATED_MIN_BYTES = 1024

# NewsBeam's own folders: a dataset holds its marker with a format, state a pointer (or,
# written by an older NewsBeam, a marker) with a state version, an older run folder a
# manifest with a schema version; what older runs left beside them is named as
# RUN_FOLDER_NAME says.
DATASET_MARKER, DATASET_MARKER_KEY = "_newsbeam_dataset.json", "format"
STATE_POINTER = "CURRENT.json"
OUTPUT_MARKER, OUTPUT_MARKER_KEY = "manifest.json", "schema_version"
STATE_MARKER_KEY = "state_version"
_MARKER_MAX_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class ReadConfig:
    """Limits for reading. 10 MiB is far above any real article page (AEB's largest: ~1 MB)."""

    max_document_bytes: int = 10 * 1024 * 1024
    # (path, reason, detail) of what a listing made before the run could not read: a run
    # of one pass of --max_files_per_run (pipeline/passes.py) rejects them as its own.
    listed_problems: tuple[tuple[str, str, str], ...] = ()
    # --follow_outside_links: read what symbolic links in an input folder lead to outside
    # it (`walk_local`); by default each is a `link_outside` row.
    outside_links: bool = False
    # A record-gzipped WARC file larger than this is read in parts of this many bytes,
    # spread over the workers (support/warc.py).
    warc_part_bytes: int = warc.PART_BYTES


# ---------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------


def kind_of(path: str) -> str | None:
    """The document kind a path's extension names, "feed?" for a file that may be a feed
    (decided by its content), or None when NewsBeam does not read it."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    extension = os.path.splitext(os.path.basename(name))[1]
    if extension in FEED_CANDIDATE_EXTENSIONS:
        return FEED_CANDIDATE
    return KIND_BY_EXTENSION.get(extension)


def is_gzip(path: str) -> bool:
    return path.lower().endswith(".gz")


def is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) in (None, "file")


# Local input files looked at, at most, to tell that none may be a feed (`may_hold_feeds`).
FEED_CHECK_FILES = 10_000


def may_hold_feeds(paths: Sequence[str], limit: int = FEED_CHECK_FILES) -> bool:
    """Whether the --input paths may hold a feed or OPML list, by the names of their files:
    True for a path with a scheme (a URL, an object store: not listed here), a local file
    that may be a feed by its name (`kind_of`: .xml, .rss, .json, no extension, ...), and
    past `limit` local files (a large input is not walked whole before its run; beside it,
    the feed stage's fixed cost is small). A False is never wrong about a file the run's
    listing finds (`local_files` sees as much or more)."""
    if any(not is_local_path(path) for path in paths):
        return True
    names = itertools.islice(local_files(paths), limit + 1)
    return any(
        seen > limit or kind_of(name) == FEED_CANDIDATE for seen, name in enumerate(names, 1)
    )


def may_hold_warc(paths: Sequence[str], limit: int = FEED_CHECK_FILES) -> bool:
    """Whether the --input paths may hold a WARC file (`.warc`, `.warc.gz`), by the names
    of their files, as `may_hold_feeds` tells of feeds: the read stage builds its WARC
    steps only then, and a run of pages keeps its graph (no step, no stage more)."""
    if any(not is_local_path(path) for path in paths):
        return True
    names = itertools.islice(local_files(paths), limit + 1)
    return any(seen > limit or kind_of(name) == "warc" for seen, name in enumerate(names, 1))


def is_local_path(path: str) -> bool:
    """A path of this machine (no scheme, or file://)."""
    return "://" not in path or path.startswith("file://")


def local_files(paths: Sequence[str]) -> Iterator[str]:
    """The files the local --input paths name, before the run lists them: folders walked
    (hidden files and linked folders too), globs expanded, a file that exists; paths with a
    scheme skipped. Lazy: callers stop where they have seen enough."""
    for path in paths:
        if not is_local_path(path):
            continue
        path = path.removeprefix("file://")
        if os.path.isdir(path):
            for folder, _, names in os.walk(path, followlinks=True):
                yield from (os.path.join(folder, name) for name in names)
        elif any(char in path for char in "*?["):
            yield from (
                name for name in glob.iglob(path, recursive=True) if not os.path.isdir(name)
            )
        elif os.path.exists(path):
            yield path


def unread_local_files(paths: Sequence[str], seen: SeenFiles, limit: int) -> list[str]:
    """Up to `limit` of the files the local --input paths name (`local_files`) that a run
    with --state will read: all but those `seen` holds as read, unchanged by their size and
    time (what _SkipListedUnchanged leaves at the listing), each as an --input of its own.
    For the launch's counts: a night over an archive of 200,000 files reads the 20 new ones,
    and counted by `local_files` alone it looked like 10,000 or more (review 114)."""
    unread: list[str] = []
    for path in local_files(paths):
        if len(unread) >= limit:
            break
        try:
            info = os.stat(path)
        except OSError:  # unreadable: the run says so, as one row
            unread.append(as_input(path))
            continue
        modified = stat_time(info.st_mtime)
        if not seen.unchanged_by_stat(readable_path(path), info.st_size, modified):
            unread.append(as_input(path))
    return unread


def as_pattern(path: str) -> str:
    """A Beam file pattern for an input: directories (and URLs ending in '/') recursively."""
    if path.endswith("/") or (is_local(path) and os.path.isdir(path)):
        return path.rstrip("/") + "/**"
    return path


def readable_path(path: str) -> str:
    """A path (or a message naming one) as valid UTF-8 for the tables and logs: bytes of a
    file name that are not UTF-8 (Python holds them as surrogates) become `\\xNN`. Open
    files by the original."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate that no file name produced
            return path.encode("utf-8", "replace").decode("utf-8")
    return path


def is_staging_name(name: str) -> bool:
    """True for what a run leaves beside its output and state: staging, retired and
    journal folders, and its lock files."""
    return bool(RUN_FOLDER_NAME.match(name) or RUN_LOCK_NAME.match(name))


def marker_says(content: bytes, key: str) -> bool:
    """True when `content` is a JSON object holding `key` (a NewsBeam manifest or state)."""
    try:
        document = json.loads(content)
    except ValueError:
        return False
    return isinstance(document, dict) and key in document


def newsbeam_folder_kind(folder: str, read: Callable[[str], bytes | None]) -> str | None:
    """ "output", "state" or "staging" when `folder` is NewsBeam's own, else None.

    `read(path)` returns a file's first bytes, or None when it does not exist; outputs and
    state are recognised by their marker's content, so a user's folder that merely holds a
    file named manifest.json is still read."""
    if is_staging_name(os.path.basename(folder.rstrip("/"))):
        return "staging"
    for kind, name, key in (
        ("output", DATASET_MARKER, DATASET_MARKER_KEY),
        ("state", STATE_POINTER, STATE_MARKER_KEY),
        ("output", OUTPUT_MARKER, OUTPUT_MARKER_KEY),
        ("state", STATE_MARKER, STATE_MARKER_KEY),
    ):
        content = read(f"{folder.rstrip('/')}/{name}" if folder else name)
        if content is not None and marker_says(content, key):
            return kind
    return None


def sniff_binary(head: bytes) -> bool:
    """True when bytes look like a binary file rather than text in some encoding.

    NUL bytes do not occur in text in any single-byte or UTF-8 encoding; UTF-16/32 text
    has them but starts with a byte-order mark, or has them at every other position.
    """
    if b"\x00" not in head or head.startswith(_BOMS) or head.startswith(b"\x00\x00\xfe\xff"):
        return False
    even, odd = head[0::2], head[1::2]
    # BOM-less UTF-16 (mostly ASCII text): NULs fill one of the two byte positions.
    return not (even.count(0) > 0.9 * len(even) or odd.count(0) > 0.9 * len(odd))


class Readout(NamedTuple):
    """What a bounded read got: at most limit + 1 bytes, and how the stream ended."""

    content: bytes
    over_limit: bool  # more than the limit was there (content holds limit + 1 bytes)
    truncated: bool  # a compressed stream ended before its end-of-stream marker


def read_bounded(handle: BinaryIO, limit: int, chunk: int = CHUNK_BYTES) -> Readout:
    """Read up to limit + 1 bytes in pieces of at most `chunk` (gzip decompresses no more
    than asked, so a bomb never unpacks past the limit). EOFError marks a cut-off stream."""
    pieces: list[bytes] = []
    size = 0
    truncated = False
    read = read_piece(handle)
    while size <= limit:
        try:
            piece = read(min(chunk, limit + 1 - size))
        except EOFError:
            truncated = True
            break
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    return Readout(b"".join(pieces), size > limit, truncated)


def read_piece(handle: BinaryIO) -> Callable[[int], bytes]:
    """`read1` where the file has it: it returns what one step of decompression gave, so a
    cut-off stream loses nothing read before the cut (`read(n)` drops its whole piece)."""
    return getattr(handle, "read1", handle.read)


class Appended(NamedTuple):
    """Where reading starts in a file an earlier run read a first part of: after `offset`
    bytes, which hold `lines` lines."""

    offset: int
    lines: int


WHOLE_FILE = Appended(0, 0)


class Line(NamedTuple):
    """One line of a JSON-lines file: its number, bytes (empty when over the limit), size."""

    number: int
    content: bytes
    size: int


def iter_lines(
    read: Callable[[int], bytes], limit: int, chunk: int = CHUNK_BYTES, lines_before: int = 0
) -> Iterator[Line]:
    """The non-blank lines of a stream read `chunk` bytes at a time (`read(n)`), numbered
    from `lines_before` + 1 (a stream that starts after that many lines of its file).

    A line longer than `limit` bytes (newline included) is yielded with empty content and
    its size, and is never held whole: memory stays under limit + 2 * chunk. Errors of
    `read` (EOFError for a cut-off gzip stream) propagate after the lines before them.
    """
    number = lines_before
    partial = b""  # the start of the current line (empty once it is known to be too long)
    partial_size = 0  # the current line's size so far
    while True:
        piece = read(chunk)
        if not piece:
            break
        if len(piece) < limit and not piece.strip() and b"\n" in piece:
            # Blank lines only (a run of them, or a bomb of newlines), none of them over the
            # limit since the piece is not: count them, do not split.
            first, last = piece.index(b"\n"), piece.rindex(b"\n")
            number += 1
            size = partial_size + first + 1
            if partial.strip() or size > limit:
                yield Line(number, partial + piece[:first] if size <= limit else b"", size)
            number += piece.count(b"\n") - 1
            partial, partial_size = piece[last + 1 :], len(piece) - last - 1
            continue
        parts = piece.split(b"\n")
        # parts[0] continues the current line; parts[1:-1] are whole lines; parts[-1] starts one.
        for index, part in enumerate(parts[:-1]):
            number += 1
            if index == 0:
                size = partial_size + len(part) + 1
                content = partial + part if size <= limit else b""
                partial, partial_size = b"", 0
            else:
                size, content = len(part) + 1, part if len(part) + 1 <= limit else b""
            if content.strip() or size > limit:
                yield Line(number, content, size)
        tail = parts[-1]
        if len(parts) == 1:  # no newline in this piece: the current line goes on
            partial_size += len(tail)
            partial = partial + tail if partial_size <= limit else b""
        else:
            partial, partial_size = (tail if len(tail) <= limit else b""), len(tail)
    if partial_size:
        number += 1
        if partial.strip() or partial_size > limit:
            yield Line(number, partial, partial_size)


# ---------------------------------------------------------------------------------------
# Listing
# ---------------------------------------------------------------------------------------


class Problem(NamedTuple):
    """A listed path that cannot be read: it becomes one rejected row."""

    path: str
    reason: str
    detail: str


def _read_marker(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(_MARKER_MAX_BYTES)
    except OSError:
        return None


def _link_problem(path: str, error: OSError) -> Problem:
    if error.errno == errno.ELOOP:
        return Problem(path, "unreadable", "symbolic link loop (the link leads to itself)")
    if error.errno == errno.ENOENT and not os.path.lexists(path):
        # Listed by its folder, removed before its stat (a folder being cleaned): it said
        # "broken symbolic link (to '?')" (review 108).
        return Problem(path, "not_found", GONE_DETAIL)
    if error.errno == errno.ENOENT:
        target = os.readlink(path) if os.path.islink(path) else "?"
        return Problem(path, "unreadable", f"broken symbolic link (to {target!r})")
    return Problem(path, "unreadable", f"cannot stat: {error}")


def outside_link(root_real: str, path: str) -> str | None:
    """Where the symbolic link `path` leads when that is outside the folder whose real
    path is `root_real`; None for no link, or one that stays inside."""
    if not os.path.islink(path):
        return None
    target = os.path.realpath(path)
    inside = target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)
    return None if inside else target


def walk_local(
    root: str, matches: Callable[[str], bool] = lambda _path: True, outside_links: bool = False
) -> Iterator[tuple[FileMetadata, tuple[int, int]] | Problem]:
    """Every file under a local folder (or the file itself), in name order, following
    symbolic links that stay inside it (all with `outside_links`); with each file its
    (device, inode), which names it however reached.

    Yields a Problem for a broken link, a link loop (a link back into a folder above it),
    a link that leads outside the folder (`link_outside`: the folder's files are anyone's
    who can write there, and a link to ~/.ssh or /etc would put what it names into the
    tables; the folder named itself may be a link) or a folder that cannot be listed;
    skips NewsBeam's own folders (outputs, state, staging: see `newsbeam_folder_kind`),
    logging each. Only paths that `matches` are yielded (a glob's files; a folder's
    problem when `matches` its path with a trailing separator); folders are walked
    whatever their name.
    """
    try:
        info = os.stat(root or ".")
    except OSError as error:
        if os.path.lexists(root):
            yield _link_problem(root, error)
        return
    if not stat.S_ISDIR(info.st_mode):
        if matches(root):
            yield FileMetadata(root, info.st_size, info.st_mtime), (info.st_dev, info.st_ino)
        return
    root_real = os.path.realpath(root or ".")
    # Depth first with an explicit stack; each entry carries its ancestors' ids (loops).
    stack: list[tuple[str, frozenset[tuple[int, int]]]] = [
        (root, frozenset({(info.st_dev, info.st_ino)}))
    ]
    walked: set[tuple[int, int]] = set()
    while stack:
        folder, ancestors = stack.pop()
        kind = newsbeam_folder_kind(folder, _read_marker)
        if kind is not None:
            counter("read_skipped_newsbeam_folders").inc()
            log.info("not reading NewsBeam %s folder %s", kind, readable_path(folder))
            continue
        try:
            with os.scandir(folder or ".") as entries:
                names = sorted(entry.name for entry in entries)
        except OSError as error:
            if matches(os.path.join(folder, "")):
                yield Problem(folder, "unreadable", f"cannot list folder: {error}")
            continue
        subfolders = []
        for name in names:
            path = os.path.join(folder, name)
            try:
                info = os.stat(path)  # follows links
            except OSError as error:
                if matches(path):
                    yield _link_problem(path, error)
                continue
            ident = (info.st_dev, info.st_ino)
            target = None if outside_links else outside_link(root_real, path)
            if target is not None:
                folder_link = stat.S_ISDIR(info.st_mode)
                if matches(os.path.join(path, "") if folder_link else path):
                    yield Problem(
                        path,
                        "link_outside",
                        f"symbolic link to {readable_path(target)}, outside the input folder "
                        f"{readable_path(root_real)}: not read (--follow_outside_links reads it)",
                    )
                continue
            if stat.S_ISDIR(info.st_mode):
                if ident in ancestors and matches(os.path.join(path, "")):
                    detail = (
                        f"symbolic link loop: leads back to {readable_path(os.path.realpath(path))}"
                    )
                    yield Problem(path, "unreadable", detail)
                elif ident not in walked and ident not in ancestors:  # once through links
                    walked.add(ident)
                    subfolders.append((path, ancestors | {ident}))
            elif is_staging_name(name):  # a run's lock or commit journal beside its folder
                counter("read_skipped_newsbeam_folders").inc()
            elif matches(path):
                yield FileMetadata(path, info.st_size, info.st_mtime), ident
        stack.extend(reversed(subfolders))


def as_input(path: str) -> str:
    """A listed file as an --input of its own: glob characters in its name escaped, so the
    read stage names it by the very same path (and records it so in seen_files)."""
    return glob.escape(path) if any(char in path for char in "*?[") else path


def glob_folder(pattern: str) -> str | None:
    """The local folder a glob is walked from, the one before its first wildcard ("" for
    the working folder: listed paths stay relative); None for a pattern with no wildcard."""
    prefix = re.match(r"^[^[*?]*", pattern)
    if prefix is None or prefix.group(0) == pattern:
        return None
    return os.path.dirname(prefix.group(0))


def list_input(
    pattern: str, outside_links: bool = False
) -> Iterator[tuple[FileMetadata, object] | Problem]:
    """The files one input names, each with an identity (the same for every spelling of
    one file), or Problems; NewsBeam's own folders left out, and links out of a folder
    unless `outside_links` (`walk_local`). Raises when listing fails."""
    if is_local(pattern):
        local = pattern[len("file://") :] if pattern.startswith("file://") else pattern
        if os.path.lexists(local):  # a name with a glob's characters in it ("dir[1]") is itself
            yield from walk_local(local, outside_links=outside_links)
            return
        base = glob_folder(local)
        if base is None:
            yield from walk_local(local, outside_links=outside_links)
            return
        # A glob: walk the folder before its first wildcard, keep what the glob matches
        # (Beam's syntax: `*` within one folder, `**` across folders).
        with warnings.catch_warnings():  # "[[]" (a literal "["): re's "Possible nested set"
            warnings.simplefilter("ignore", FutureWarning)
            regex = re.compile(FileSystem.translate_pattern(local))
        yield from walk_local(base, lambda path: bool(regex.match(path)), outside_links)
        return
    yield from _list_remote(pattern)


def _list_remote(pattern: str) -> Iterator[tuple[FileMetadata, object] | Problem]:
    """Files on an object store (listed as Beam lists them; on s3:// through NewsBeam's
    bounded client): no links there; a path that names no object and no glob is a folder;
    NewsBeam's folders are recognised by their markers among the listed files, staging by
    name."""
    files = stores.match(as_pattern(pattern))
    if not files and not pattern.endswith("/") and glob_folder(pattern) is None:
        # An object store has no folders: "s3://bucket/inbox" names no object, and what
        # is meant is what `aws s3 ls` or `gsutil ls` shows there, the objects under it.
        files = stores.match(as_pattern(pattern + "/"))
    skipped = [
        file.path.rsplit("/", 1)[0] + "/"
        for file in files
        if file.path.rsplit("/", 1)[-1]
        in (DATASET_MARKER, STATE_POINTER, OUTPUT_MARKER, STATE_MARKER)
        and newsbeam_folder_kind(file.path.rsplit("/", 1)[0], _read_remote_marker) is not None
    ]
    for file in sorted(files, key=lambda f: f.path):
        folders = file.path.split("/")
        if any(map(is_staging_name, folders)) or file.path.startswith(tuple(skipped)):
            continue
        yield file, file.path


def _read_remote_marker(path: str) -> bytes | None:
    try:
        with stores.open_read(path) as handle:
            return handle.read(_MARKER_MAX_BYTES)
    except Exception as error:  # missing or unreadable: not a marker
        if stores.is_unreachable(error):
            raise
        return None


@contextlib.contextmanager
def open_input(path: str) -> Iterator[BinaryIO]:
    """A file of any Beam filesystem, gunzipped by Python's gzip (which decompresses only
    as much as each read asks for; Beam's CompressedFile unpacks 16 MiB of input at once,
    and ends a cut-off stream silently). On s3:// through NewsBeam's bounded client
    (support/files.py): Beam's own retried a store that stopped answering mid-read for
    over ten minutes."""
    with stores.open_read(path) as raw:
        if not is_gzip(path):
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
            yield cast(BinaryIO, GzipMembers(unpacked))


class GzipMembers:
    """A GzipFile's reads, ending at bytes after a whole member that are no gzip member, as
    gzip(1) does ("decompression OK, trailing garbage ignored"; a download's padding, a
    tool's trailer): Python's gzip raises BadGzipFile there, which lost the whole file.
    Garbage before any output, a bad checksum or a cut-off stream still raise."""

    def __init__(self, unpacked: gzip.GzipFile) -> None:
        self._unpacked = unpacked
        self._produced = 0

    def read(self, size: int = -1) -> bytes:
        return self._guarded(self._unpacked.read, size)

    def read1(self, size: int = -1) -> bytes:
        return self._guarded(self._unpacked.read1, size)

    def _guarded(self, read: Callable[[int], bytes], size: int) -> bytes:
        try:
            piece = read(size)
        except gzip.BadGzipFile as error:
            # The magic test of the next member's header: any other failure is corruption.
            if self._produced and str(error).startswith("Not a gzipped file"):
                counter("read_gzip_trailing_garbage").inc()
                return b""
            raise
        self._produced += len(piece)
        return piece


def is_regular_file(path: str) -> bool:
    """False for local FIFOs, devices and broken links; other filesystems hold only files."""
    if is_local(path):
        return os.path.isfile(path)
    return True


# The detail of a file that was listed and is not there when it is read (review 108).
GONE_DETAIL = "gone: no such file now (deleted or moved after it was listed)"


def not_regular(path: str) -> tuple[str, str]:
    """(reason, detail) of a listed local path that is no regular file when it is read: gone
    since the listing (a watched folder cleaned, an rsync temporary file renamed: `not_found`,
    as a follow batch's named file that is gone), or a FIFO, device or broken link
    (`unreadable`). Before review 108 a file gone between the listing and the read was
    `unreadable`, "not a regular file", which sent the reader looking for a FIFO."""
    if is_local(path) and not os.path.lexists(path.removeprefix("file://")):
        return "not_found", GONE_DETAIL
    return "unreadable", "not a regular file"


def open_failure(path: str, error: Exception) -> tuple[str, str]:
    """(reason, detail) of a file that could not be opened or read: a file gone between
    the listing and the read says so (`not_regular`); any other error as it was raised."""
    if isinstance(error, FileNotFoundError):  # an object deleted since it was listed too
        return not_regular(path) if is_local(path) else ("not_found", GONE_DETAIL)
    return "unreadable", f"{type(error).__name__}: {error}"


# ---------------------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------------------


# A file to read: its path as bytes (a name need not be UTF-8), its size, and where its
# reading starts: (0, 0) for the whole file, else (bytes, lines) already read by an earlier
# run, for a JSON-lines file appended to since (`appended_part`).
ListedFile = tuple[bytes, int, int, int]


def listed_file(path: str, size: int) -> ListedFile:
    """A listed file, to be read whole."""
    return os.fsencode(path), size, 0, 0


# A listed file as a run with --state lists it: its path as bytes, and the size and
# modification time (seconds since the epoch; 0.0 where a store gives none) the listing's
# own stat found, which decide whether the state read it as it is (_SkipListedUnchanged).
ListedStamp = tuple[bytes, int, float]


def list_inputs(
    patterns: Iterable[str], outside_links: bool = False
) -> Iterator[FileMetadata | Problem]:
    """Every file the inputs name, each once (the first spelling listed), and a Problem
    for each entry that cannot be read, each input that cannot be listed and each that
    matches nothing. In sorted input order: the same whatever the order of the command
    line. Streams: only the identities of files already listed are kept (and the paths of
    problems: a broken link two inputs reach is one row, as a file is)."""
    seen: set[object] = set()
    for pattern in sorted(patterns):
        found = False
        try:
            for item in list_input(pattern, outside_links):
                found = True
                if isinstance(item, Problem):
                    if ("problem", item.path) not in seen:
                        seen.add(("problem", item.path))
                        yield item
                    continue
                file, identity = item
                if identity not in seen:
                    seen.add(identity)
                    yield file
        except Exception as error:  # a bad pattern or filesystem error is this input's fault
            if stores.is_unreachable(error):
                raise  # the store's fault, not this input's: the run fails
            yield Problem(pattern, "unreadable", f"cannot list: {error}")
            continue
        if not found:
            yield Problem(pattern, "not_found", not_found_detail(pattern))


def not_found_detail(pattern: str) -> str:
    """Why an input matched nothing. A plain local path that is not there now was there when
    it was named (a batch run checks its paths at launch; follow mode names the files it
    listed): it was deleted or moved meanwhile, which the generic detail, about NewsBeam's
    own folders, did not say (review 63)."""
    local = pattern.removeprefix("file://")
    if is_local(pattern) and not glob.has_magic(local) and not os.path.lexists(local):
        return "gone: no such file now (deleted or moved after it was listed)"
    return "no file matches this input (NewsBeam's own folders are not read)"


class _ListInputs(beam.DoFn):
    """All inputs -> a ListedFile of each file they name (a ListedStamp `with_times`), each
    file once (`list_inputs`: one call lists every input, so a file named by several inputs,
    a folder and a glob inside it, is seen once without grouping); what cannot be read ->
    rejected."""

    def __init__(
        self,
        listed_problems: Sequence[tuple[str, str, str]] = (),
        outside_links: bool = False,
        with_times: bool = False,
    ) -> None:
        self._listed_problems = tuple(listed_problems)
        self._outside_links = outside_links
        self._with_times = with_times

    def process(
        self, patterns: Sequence[bytes]
    ) -> Iterator[ListedFile | ListedStamp | beam.pvalue.TaggedOutput]:
        for path, reason, detail in self._listed_problems:
            counter("read_inputs").inc()
            yield _rejected(path, reason, detail)
        for item in list_inputs(
            (os.fsdecode(pattern) for pattern in patterns), self._outside_links
        ):
            if isinstance(item, Problem):
                counter("read_inputs").inc()
                yield _rejected(item.path, item.reason, item.detail)
            elif self._with_times:
                modified = float(item.last_updated_in_seconds or 0.0)
                yield os.fsencode(item.path), item.size_in_bytes, modified
            else:
                yield listed_file(item.path, item.size_in_bytes)
        # Tests only: every file is listed and none read yet (the read follows a Reshuffle),
        # an exact moment to change the inbox or take the store away (tests/test_kills.py).
        crash_point("inputs-listed")


class _ReadFile(beam.DoFn):
    """A listed file -> RawDocument (one per file; one per line of JSON lines)."""

    def __init__(self, config: ReadConfig) -> None:
        self._config = config

    def process(self, file: ListedFile) -> Iterator[RawDocument | beam.pvalue.TaggedOutput]:
        path, size, limit = os.fsdecode(file[0]), file[1], self._config.max_document_bytes
        kind = kind_of(path)
        if kind == "jsonl" and is_regular_file(path):
            yield from self._read_lines(path, limit, Appended(file[2], file[3]), size)
            return
        if kind == FEED_CANDIDATE:
            yield from self._read_candidate_feed(path, size, limit)
            return
        if kind == "warc" and is_regular_file(path):  # one input a response record, not the file
            yield from read_warc_part(path, 0, 0, limit)
            return
        counter("read_inputs").inc()
        if kind is None:
            detail = "not .txt/.md/.html/.htm/.jsonl/.warc(.gz)"
            yield _rejected(path, "unsupported_type", detail)
        elif not is_regular_file(path):
            # A FIFO or device would block or never end; a broken link cannot be read; a
            # file gone since the listing is not_found.
            yield _rejected(path, *not_regular(path))
        elif size > limit:
            yield _rejected(path, "too_large", f"{size} bytes > {limit}")
        else:
            yield from self._read_whole(path, kind, limit)

    def _read_candidate_feed(
        self, path: str, size: int, limit: int
    ) -> Iterator[RawDocument | beam.pvalue.TaggedOutput]:
        """A feed or OPML document goes on uncounted (the feed stage counts its entries);
        anything else is one input, rejected."""
        if not is_regular_file(path):
            counter("read_inputs").inc()
            yield _rejected(path, *not_regular(path))
            return
        if size > limit:
            counter("read_inputs").inc()
            yield _rejected(path, "too_large", f"{size} bytes > {limit}")
            return
        counted = True  # not for a feed: its entries are the inputs (the feed stage counts)
        output: RawDocument | beam.pvalue.TaggedOutput
        try:
            with open_input(path) as handle:
                readout = read_bounded(handle, limit)
        except Exception as error:
            if stores.is_unreachable(error):
                raise
            output = _rejected(path, *open_failure(path, error))
        else:
            content = readout.content
            kind = sniff_feed_kind(content)
            if readout.over_limit:
                output = _rejected(path, "too_large", f"more than {limit} bytes", content)
            elif readout.truncated:
                detail = f"compressed file cut off after {len(content)} bytes"
                output = _rejected(path, "truncated", detail, content)
            elif kind is not None:
                counted = False
                output = RawDocument(source=readable_path(path), kind=kind, content=content)
            else:  # empty, binary or any other file: as before feeds, not a type NewsBeam reads
                detail = "not an RSS/Atom/RDF/JSON feed or OPML list, nor .txt/.md/.html/.jsonl"
                output = _rejected(path, "unsupported_type", detail, content)
        if counted:
            counter("read_inputs").inc()
        yield output

    def _read_whole(
        self, path: str, kind: str, limit: int
    ) -> Iterator[RawDocument | beam.pvalue.TaggedOutput]:
        try:
            with open_input(path) as handle:
                readout = read_bounded(handle, limit)
        except Exception as error:
            if stores.is_unreachable(error):
                raise
            yield _rejected(path, *open_failure(path, error))
            return
        content = readout.content
        truncated = ""
        if readout.truncated:
            truncated = (
                f"compressed file cut off after {len(content)} bytes: the text is incomplete"
            )
        if readout.over_limit:
            yield _rejected(path, "too_large", f"more than {limit} bytes", content)
        elif readout.truncated and len(content.strip()) < TRUNCATED_MIN_BYTES:
            yield _rejected(path, "truncated", truncated, content)
        elif not content.strip():
            yield _rejected(path, "empty", "no content", content)
        elif sniff_binary(content[:_SNIFF_BYTES]):
            yield _rejected(path, "binary", "binary content (NUL bytes), not text", content)
        else:
            source = readable_path(path)
            yield RawDocument(source=source, kind=kind, content=content, truncated=truncated)

    def _read_lines(
        self, path: str, limit: int, start: Appended = WHOLE_FILE, size: int = 0
    ) -> Iterator[RawDocument | beam.pvalue.TaggedOutput]:
        """One document per line; from `start` to `size` bytes, the part hashed as appended,
        when an earlier run read the file's first part."""
        records, number = 0, start.lines
        source = readable_path(path)
        try:
            with open_input(path) as handle:
                skip_to(handle, start.offset)
                head = handle.read(_SNIFF_BYTES)
        except Exception as error:  # the read below says why
            if stores.is_unreachable(error):
                raise
            head = b""
        if sniff_binary(head):  # one row, not one bad_json row per "line" of random bytes
            counter("read_inputs").inc()
            yield _rejected(path, "binary", "binary content (NUL bytes), not JSON lines", head)
            return
        if start.offset:
            counter("read_appended_files").inc()
        try:
            with open_input(path) as handle:
                skip_to(handle, start.offset)
                read = read_piece(handle)
                if size > 0 and not is_gzip(path):
                    # What was listed (with --state: hashed) only: a line added since, or a
                    # last line still being written (unfinished_line_start), is the next
                    # run's, which reads on from there (appended_part).
                    read = read_at_most(read, size - start.offset)
                for line in iter_lines(read, limit, lines_before=start.lines):
                    number = line.number
                    records += 1
                    counter("read_inputs").inc()
                    line_source = f"{source}#L{line.number}"
                    if line.size > limit:
                        detail = f"line of {line.size} bytes > {limit}"
                        yield _rejected(line_source, "too_large", detail)
                    else:
                        yield RawDocument(source=line_source, kind="jsonl", content=line.content)
        except Exception as error:  # e.g. a cut-off .gz: the lines read so far stand
            if stores.is_unreachable(error):
                raise
            counter("read_inputs").inc()
            if isinstance(error, FileNotFoundError) and not records:  # gone since listed
                yield _rejected(path, *open_failure(path, error))
                return
            records += 1
            cut = isinstance(error, EOFError)
            reason = "truncated" if cut else "unreadable"
            detail = f"{reason} after line {number}: {type(error).__name__}: {error}"
            yield _rejected(f"{source}#L{number + 1}-", reason, detail)
        if records == 0:
            counter("read_inputs").inc()
            detail = "no JSON lines in file"
            if start.offset:
                detail = f"no JSON lines in what was appended after line {start.lines}"
            yield _rejected(path, "empty", detail, b"")


# --- Incremental inboxes (--state): files already ingested are skipped -------------------

SEEN = "seen"  # tagged output: this run's record of every listed file


class FileStamp(NamedTuple):
    """What identifies a file's content at a path: size, modification time, content hash."""

    size: int
    modified_at: dt.datetime
    content_hash: str


def file_stat(path: str) -> tuple[int, dt.datetime]:
    """The file's size and modification time (to the second), without reading it."""
    if is_local(path):
        info = os.stat(path)
        size, modified = info.st_size, info.st_mtime
    else:  # an object store: the listing's size and last-updated time
        size, modified = stores.size_and_updated(path)
    return size, stat_time(modified)


def stat_time(modified: float) -> dt.datetime:
    """A file's modification time (seconds since the epoch) as seen_files keeps it: UTC,
    to the second."""
    return dt.datetime.fromtimestamp(modified, dt.timezone.utc).replace(microsecond=0)


class Prefix(NamedTuple):
    """What a file's first `size` bytes were: their hash, how many lines they hold, whether
    they end a line, and how many of them the last whole line among them ends at."""

    size: int
    content_hash: str
    lines: int
    ends_line: bool
    line_end: int = 0


def file_stamp(path: str, prefix_size: int | None = None) -> tuple[FileStamp, Prefix | None]:
    """The file's stamp: stat and a blake2b of its raw bytes, read in bounded pieces; and,
    in the same read, its first `prefix_size` bytes' Prefix (None when it is shorter or none
    was asked for)."""
    digest = hashlib.blake2b(digest_size=20)
    size = lines = line_end = 0
    prefix: Prefix | None = None
    last_byte = b""
    with stores.open_read(path) as handle:
        while piece := handle.read(CHUNK_BYTES):
            if prefix_size is None or prefix is not None:  # no prefix asked, or found
                digest.update(piece)
                size += len(piece)
                continue
            head = piece[: prefix_size - size]  # the whole piece until the prefix ends in it
            digest.update(head)
            lines += head.count(b"\n")
            newline = head.rfind(b"\n")
            line_end = size + newline + 1 if newline >= 0 else line_end
            last_byte = head[-1:] or last_byte
            if size + len(piece) >= prefix_size:
                ends_line = last_byte == b"\n"
                prefix = Prefix(prefix_size, digest.hexdigest(), lines, ends_line, line_end)
                digest.update(piece[len(head) :])
            size += len(piece)
    return FileStamp(size, file_stat(path)[1], digest.hexdigest()), prefix


def appended_part(
    path: str, previous: dict[str, Any] | None, stamp: FileStamp, prefix: Prefix | None
) -> Appended | None:
    """Where to read a JSON-lines file from when it only grew since an earlier run read it:
    it is longer and its first bytes are those the run hashed. Then only the new lines are
    read (numbered on from the earlier ones); else (None) the file is read whole, as any
    changed file. Compressed files are read whole (a byte offset of a .gz is no offset of
    its lines).

    When the earlier run's part ended inside a line (it met the writer in the middle of
    one, and that cut-off line was its row), reading goes on from the start of that line,
    now whole: read whole, every earlier record would come back as a duplicate of itself."""
    if (
        previous is None
        or prefix is None
        or kind_of(path) != "jsonl"
        or is_gzip(path)
        or not 0 < previous["size"] < stamp.size
    ):
        return None
    if prefix.content_hash != previous["content_hash"]:
        return None
    if prefix.ends_line:
        return Appended(prefix.size, prefix.lines)
    if prefix.line_end:
        return Appended(prefix.line_end, prefix.lines)
    return None  # not one whole line yet: the file again from its start


# How long after its last change a JSON-lines file's unfinished last line (no newline, no
# JSON object) is taken as it is (rejected as bad_json) rather than left for the writer to
# finish: a writer that flushes in blocks stops in mid-line between flushes, for seconds,
# not for ten minutes; a line still cut off after that is broken for good.
UNFINISHED_LINE_QUIET = dt.timedelta(minutes=10)


def is_unfinished_line(line: bytes) -> bool:
    """Whether a JSON-lines file's last line, not ended by a newline, may be one its writer
    has not finished: it holds something, and not a JSON object (a cut-off object never
    is one; a whole record without its newline is)."""
    if not line.strip():
        return False
    try:
        return not isinstance(json.loads(line), dict)
    except ValueError:  # not JSON (UnicodeDecodeError is one too)
        return True


def unfinished_line_start(
    path: str, size: int, modified_at: dt.datetime, run_at: dt.datetime
) -> int | None:
    """Where a JSON-lines file's last line starts when, of its first `size` bytes, it looks
    unfinished (is_unfinished_line) and the file changed less than UNFINISHED_LINE_QUIET
    before `run_at`; else None. A run with --state reads the file up to there and records
    only that much as read, so the next run reads the line once it is whole: read now, it
    was a bad_json row, and its finished self an article of the next run (one input in two
    tables). Compressed files are read whole."""
    if kind_of(path) != "jsonl" or is_gzip(path) or size <= 0:
        return None
    if run_at - modified_at >= UNFINISHED_LINE_QUIET:
        return None
    with stores.open_read(path) as handle:
        tail, end = b"", size
        while end > 0 and b"\n" not in tail:
            start = max(0, end - CHUNK_BYTES)
            handle.seek(start)
            tail = handle.read(end - start)[: end - start] + tail
            end = start
    if tail.endswith(b"\n"):
        return None
    line_start = end + tail.rfind(b"\n") + 1
    return line_start if is_unfinished_line(tail[line_start - end :]) else None


def is_being_written(
    path: str,
    listed_size: int,
    stamp: FileStamp,
    stat: Callable[[str], tuple[int, dt.datetime]],
) -> bool:
    """Whether a file changed while a run with --state listed and hashed it: its size when
    listed, when hashed (`stamp`) and its size and time after (`stat`) are not all the
    same. A plain JSON-lines file is never so (it is read up to the size hashed, and an
    unfinished last line is left to the next run: unfinished_line_start), so a log that
    always grows is still read."""
    if kind_of(path) == "jsonl" and not is_gzip(path):
        return False
    return listed_size != stamp.size or stat(path) != (stamp.size, stamp.modified_at)


def read_at_most(read: Callable[[int], bytes], count: int) -> Callable[[int], bytes]:
    """`read` that ends after `count` bytes."""
    left = count

    def bounded(size: int) -> bytes:
        nonlocal left
        piece = read(min(size, left)) if left > 0 else b""
        left -= len(piece)
        return piece

    return bounded


def skip_to(handle: BinaryIO, offset: int) -> None:
    """Move a file handle `offset` bytes in: a seek where the handle has one, else a read."""
    if not offset:
        return
    try:
        handle.seek(offset)
        return
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    while offset > 0 and (piece := handle.read(min(offset, CHUNK_BYTES))):
        offset -= len(piece)


def is_unchanged(previous: dict[str, Any] | None, stamp: FileStamp) -> bool:
    """Whether an earlier run read this very file: same size, time and content hash."""
    return previous is not None and (
        previous["size"],
        previous["modified_at"],
        previous["content_hash"],
    ) == (stamp.size, stamp.modified_at, stamp.content_hash)


# How long after a file's modification time the run that hashed it must have started for
# its size and time alone to vouch for the hash (`unchanged_by_stat`): times are kept to
# the second, and a file written again within the second its hash was taken in would keep
# both (git's "racily clean" files, handled alike).
_SETTLED = dt.timedelta(seconds=2)


def unchanged_by_stat(previous: dict[str, Any], size: int, modified: dt.datetime) -> bool:
    """Whether an earlier run read this very file, known without reading it again: the same
    size and modification time as when it was hashed, that time well before the run that
    last saw it (a write since would have moved it). The file is then not read at all, so
    a growing inbox costs a stat per old file and batch, not a read."""
    return (previous["size"], previous["modified_at"]) == (size, modified) and (
        modified + _SETTLED <= previous["last_seen_at"]
    )


def seen_row(
    path: str, stamp: FileStamp, previous: dict[str, Any] | None, run_at: dt.datetime
) -> dict[str, Any]:
    """The file's row in the new state's seen_files table."""
    return {
        "path": path,
        "size": stamp.size,
        "modified_at": stamp.modified_at,
        "content_hash": stamp.content_hash,
        "first_seen_at": previous["first_seen_at"] if previous else run_at,
        "last_seen_at": run_at,
    }


class _SkipIngested(beam.DoFn):
    """A listed file -> itself, unless an earlier run read it unchanged (counted as
    `read_skipped_unchanged`); every listed file's new seen row goes to SEEN."""

    def __init__(self, state: StateContext) -> None:
        self._state = state

    def setup(self) -> None:
        self._seen: SeenFiles | None = None  # loaded by the first file: most get none

    def process(self, file: ListedFile) -> Iterator[ListedFile | beam.pvalue.TaggedOutput]:
        path = os.fsdecode(file[0])
        key = readable_path(path)
        if self._seen is None:
            self._seen = load_seen_files(self._state.files(SEEN_FILES))
        previous = self._seen.get(key)
        try:
            if previous is not None and unchanged_by_stat(previous, *file_stat(path)):
                counter("read_skipped_unchanged").inc()
                kept = FileStamp(
                    previous["size"], previous["modified_at"], previous["content_hash"]
                )
                yield beam.pvalue.TaggedOutput(
                    SEEN, seen_row(key, kept, previous, self._state.run_at)
                )
                return
            stamp, prefix = file_stamp(path, previous["size"] if previous else None)
        except Exception as error:  # not a regular file, gone, unreadable: the read says why
            if stores.is_unreachable(error):
                raise
            yield file
            return
        if is_unchanged(previous, stamp):
            counter("read_skipped_unchanged").inc()
            yield beam.pvalue.TaggedOutput(SEEN, seen_row(key, stamp, previous, self._state.run_at))
            return
        if is_being_written(path, file[1], stamp, file_stat):
            # Left to the next run, which sees it new or changed (no seen row now): read
            # now, its cut-off text was an article, and the whole one, read by the next
            # run as a changed file, that article's near copy (the same source twice).
            counter("read_deferred_changing_files").inc()
            log.info("%s: it changed while this run read it; the next run reads it", key)
            return
        start = appended_part(path, previous, stamp, prefix) or WHOLE_FILE
        # by the clock, not a rerun's first attempt's start: is the file being written now?
        unfinished = unfinished_line_start(path, stamp.size, stamp.modified_at, self._state.clock)
        if unfinished is not None:
            # Read and recorded up to the unfinished line: the next run reads on from it.
            counter("read_deferred_unfinished_lines").inc()
            log.info("%s: its last line is being written; the next run reads it", key)
            _, upto = file_stamp(path, unfinished) if unfinished else (None, None)
            stamp = stamp._replace(size=unfinished, content_hash=upto.content_hash if upto else "")
        yield beam.pvalue.TaggedOutput(SEEN, seen_row(key, stamp, previous, self._state.run_at))
        if unfinished is None or stamp.size > start.offset:  # not the unfinished line only
            yield file[0], stamp.size, start.offset, start.lines


UNCHANGED = "unchanged"  # tagged output: the files the listing found unchanged


class ListedUnchanged(NamedTuple):
    """The seen_files paths of files listed unchanged (one bundle's)."""

    paths: tuple[str, ...]


class _SkipListedUnchanged(beam.DoFn):
    """A ListedStamp -> its ListedFile, unless its listed size and time show an earlier run
    read it as it is (`unchanged_by_stat`, the test `_SkipIngested` makes): such a file is
    counted as `read_skipped_unchanged` and goes no further than its path, one
    ListedUnchanged a bundle to UNCHANGED. Fused with the listing: a nightly run over an
    archive of 200,000 files sent each through a shuffle and a seen row of its own, ~100 s
    of CPU and 2.9 GB to find the 20 new ones (benchmarks/bench_archive.py). The listing's
    own stat decides (a second one here cost ~1 CPU s a night on 200,000 files): a file
    written since is read by the next run, whose listing sees its new time. An object
    store's listing gives the size and last-updated time a HEAD of the object would (the
    time `_SkipIngested` recorded): decided here too, or every unchanged object cost a
    request after the shuffle. A store whose listing gives no time (0.0) is left to it."""

    def __init__(self, state: StateContext) -> None:
        self._state = state

    def setup(self) -> None:
        self._seen = load_seen_files(self._state.files(SEEN_FILES))

    def start_bundle(self) -> None:
        self._unchanged: list[str] = []

    def process(self, file: ListedStamp) -> Iterator[ListedFile]:
        path, size, modified = os.fsdecode(file[0]), file[1], file[2]
        if len(self._seen) and (modified > 0.0 or is_local(path)):
            key = readable_path(path)
            if self._seen.unchanged_by_stat(key, size, stat_time(modified)):
                counter("read_skipped_unchanged").inc()
                self._unchanged.append(key)
                return
        yield file[0], size, 0, 0

    def finish_bundle(self) -> Iterator[beam.pvalue.TaggedOutput]:
        if self._unchanged:
            value = ListedUnchanged(tuple(self._unchanged))
            yield beam.pvalue.TaggedOutput(UNCHANGED, GlobalWindows.windowed_value(value))


class SeenFiles:
    """The earlier state's seen_files rows looked up by path: the Arrow table, a dict of
    path -> row number, and the columns `unchanged_by_stat` compares as integer arrays. A
    dict per row, as this held before, took ~0.8 KB a file in every worker (160 MB for an
    archive of 200,000 files); a row is made a dict when looked up. Read-only once made:
    one is shared by the DoFns and threads of a process (`load_seen_files`)."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._at = {path: at for at, path in enumerate(table.column("path").to_pylist())}
        self._sizes = _int64s(table.column("size"))
        self._modified_at = _int64s(table.column("modified_at"))
        self._last_seen_at = _int64s(table.column("last_seen_at"))

    def __len__(self) -> int:
        return len(self._at)

    @property
    def table(self) -> pa.Table:
        """The rows, in the table's columns."""
        return self._table

    def get(self, path: str) -> dict[str, Any] | None:
        at = self._at.get(path)
        return None if at is None else self._table.slice(at, 1).to_pylist()[0]

    def unchanged_by_stat(self, path: str, size: int, modified: dt.datetime) -> bool:
        """`unchanged_by_stat` of the path's row (False for a path not seen), on integers:
        a nightly listing asks it of every file of the archive."""
        at = self._at.get(path)
        if at is None:
            return False
        at_micros = (modified - _EPOCH) // _MICROSECOND
        return bool(
            self._sizes[at] == size
            and self._modified_at[at] == at_micros
            and at_micros + _SETTLED // _MICROSECOND <= self._last_seen_at[at]
        )

    def last_seen_before(self, paths: Sequence[str], moment: dt.datetime) -> list[bool]:
        """For each path, whether its row was last listed before `moment` (True for a path
        not seen): one lookup of all of them in Arrow, not a row sliced out per path."""
        import pyarrow.compute as pc  # state files only: a run without --state never loads it

        if not paths:
            return []
        rows = pc.index_in(pa.array(paths, pa.string()), value_set=self._table.column("path"))
        last_seen = pc.take(self._table.column("last_seen_at"), rows)
        before = pc.less(last_seen, pa.scalar(moment, last_seen.type))
        return cast(list[bool], pc.fill_null(before, True).to_pylist())


def _int64s(column: pa.ChunkedArray) -> Any:
    """A column of integers or times (as microseconds) as one numpy int64 array."""
    return column.cast(pa.int64()).to_numpy()


def load_seen_files(paths: Sequence[str]) -> SeenFiles:
    """The earlier state's seen_files files (`read_seen_files`) as a SeenFiles, loaded once
    per process for these files (support/loaded.py): the listing's and the read's DoFns,
    each worker's threads, a pass's plan and the first pass in the same process share one.
    A state version's files are never changed in place (a new version is a new folder), so
    their paths and sizes name their content."""
    from newsbeam.transforms.support.loaded import load_once

    key = tuple((path, stores.file_size(path)) for path in paths)
    return load_once(SEEN_FILES_LOADED, key, lambda: SeenFiles(read_seen_files(paths)))


SEEN_FILES_LOADED = "inputs/seen_files"  # load_seen_files' name in support/loaded.py


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


def read_seen_files(paths: Sequence[str]) -> pa.Table:
    """The earlier state's seen_files files (checked when the run's state was opened) as
    one Arrow table in the table's columns."""
    tables = [read_arrow(path, SEEN_FILES) for path in paths]
    if not tables:
        return SEEN_FILES.schema.empty_table()
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def merged_seen_files(
    fresh: Sequence[dict[str, Any]],
    earlier: pa.Table,
    keep_since: dt.datetime | None,
    listed_unchanged: Iterable[str] = (),
    run_at: dt.datetime | None = None,
) -> pa.Table:
    """The new state's seen_files table: this run's row of each path it read or hashed,
    the earlier row of each path it listed unchanged (`listed_unchanged`, its
    `last_seen_at` now `run_at`), and the earlier rows of paths it did not list that were
    listed within the retention (`last_seen_at` at or after `keep_since`), sorted by path.
    In Arrow: the earlier rows never become Python objects (a backfill in passes sent
    200,000 of them through a GroupByKey at every pass)."""
    import pyarrow.compute as pc  # state files only: a run without --state never loads it

    # One row a path (two names can read the same once made readable): the same each run.
    latest = {row["path"]: row for row in sorted(fresh, key=_seen_order)}
    new = pa.Table.from_pylist(list(latest.values()), schema=SEEN_FILES.schema)
    if earlier.num_rows:
        earlier = earlier.cast(SEEN_FILES.schema)
        listed = pa.array(sorted(set(listed_unchanged)), pa.string())
        if len(listed) and run_at is not None:
            last_seen = earlier.column("last_seen_at")
            now = pa.scalar(run_at, last_seen.type)
            refreshed = pc.if_else(
                pc.is_in(earlier.column("path"), value_set=listed), now, last_seen
            )
            index = earlier.schema.get_field_index("last_seen_at")
            earlier = earlier.set_column(index, earlier.schema.field(index), refreshed)
        kept = pc.invert(pc.is_in(earlier.column("path"), value_set=new.column("path")))
        if keep_since is not None:
            cut = pa.scalar(keep_since, earlier.schema.field("last_seen_at").type)
            kept = pc.and_(kept, pc.greater_equal(earlier.column("last_seen_at"), cut))
        new = pa.concat_tables([earlier.filter(kept), new])
    return new.sort_by("path")


def _seen_order(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["path"], row["size"], row["modified_at"], row["content_hash"]


def write_seen_files(
    elements: list[dict[str, Any] | ListedUnchanged],
    earlier: Sequence[str],
    path: str,
    keep_since: dt.datetime | None,
    run_at: dt.datetime,
) -> None:
    """This run's seen rows and ListedUnchanged, and the earlier files' rows -> the new
    state's seen_files file (`merged_seen_files`)."""
    fresh = [element for element in elements if isinstance(element, dict)]
    listed = (
        key for element in elements if isinstance(element, ListedUnchanged) for key in element.paths
    )
    # The record this process's listing loaded, if it did (the same files): not read again.
    earlier_rows = load_seen_files(earlier).table
    merged = merged_seen_files(fresh, earlier_rows, keep_since, listed, run_at)
    stores.write_parquet(path, merged.cast(stamped(SEEN_FILES.schema)), compression="zstd")


class _RecordSeenFiles(beam.PTransform):
    """(This run's seen rows, its ListedUnchanged) -> the new state's seen_files table:
    earlier rows of files this run did not list are carried over (within --state_keep_days
    of their last listing). Only this run's rows and the paths of the files it listed
    unchanged pass through the pipeline (`merged_seen_files`)."""

    def __init__(self, state: StateContext) -> None:
        super().__init__()
        self._state = state

    def expand(self, seen: tuple[beam.PCollection[Any], beam.PCollection[Any]]) -> Any:
        state = self._state
        assert state.state_out_dir is not None  # a run that writes state
        earlier = state.files(SEEN_FILES)
        path = f"{state.state_out_dir.rstrip('/')}/{SEEN_FILES.path}"
        return seen | "Write" >> CallWithAll(
            write_seen_files, earlier, path, state.keep_since, state.run_at
        )


def _rejected(
    source: str, reason: str, detail: str, payload: bytes = b""
) -> beam.pvalue.TaggedOutput:
    return rejected_output(readable_path(source), STAGE, reason, readable_path(detail), payload)


# --- WARC files (support/warc.py): parts spread over the workers, records read streaming --

WARC_PARTS = "warc_parts"  # tagged output: (path bytes, start, end) of a WARC file's parts
WarcPart = tuple[bytes, int, int]


def warc_parts(path: str, size: int, part_bytes: int) -> list[tuple[int, int]]:
    """The byte ranges a WARC file is read in (support/warc.py's plan_parts): the first
    bytes of a large `.warc.gz` say whether it is gzipped record by record, and so can be
    read in parts; a large local plain `.warc` is split at records found by walking its
    headers (plain_parts); a file that cannot be looked at is one part (its read says why)."""
    if size <= part_bytes or not (is_gzip(path) or is_local(path)):
        # A plain WARC elsewhere is read whole: walking its records costs a ranged read each.
        return [(0, 0)]
    try:
        with stores.open_read(path) as handle:
            if not is_gzip(path):
                return warc.plain_parts(handle, size, part_bytes)
            head = handle.read(warc.FIRST_MEMBER_BYTES)
    except Exception as error:
        if stores.is_unreachable(error):
            raise
        return [(0, 0)]
    return warc.plan_parts(size, warc.gzipped_per_record(head), part_bytes)


def read_warc_part(
    path: str, start: int, end: int, limit: int
) -> Iterator[RawDocument | beam.pvalue.TaggedOutput]:
    """The inputs of the records that start in [start, end) of a WARC file (end 0: to its
    end), streaming: each response record a page or a rejected row (counted in
    `read_inputs`), other records counted as `read_warc_skipped_<type>`. A whole file
    (start 0, end 0) that holds no response record is one `empty` row. Damage ends the
    part with one row (`truncated`, `unreadable`), what was read before it stays."""
    source = readable_path(path)
    inputs = 0
    skipped: dict[str, int] = {}
    try:
        with contextlib.ExitStack() as files:
            raw = cast(BinaryIO, files.enter_context(stores.open_read(path)))
            begin = start
            if start:
                skip_to(raw, start)
            if start and is_gzip(path):  # a plain file's part starts at a record (plain_parts)
                found = warc.record_start(raw, start, end)
                if found is None:  # no record starts in this part
                    return
                raw = cast(BinaryIO, files.enter_context(stores.open_read(path)))
                skip_to(raw, found)
                begin = found
            items = warc.read_records(raw, source, is_gzip(path), begin, end, limit)
            for item in items:
                if isinstance(item, warc.Skipped):
                    counter(f"read_warc_skipped_{item.kind}").inc()
                    skipped[item.kind] = skipped.get(item.kind, 0) + 1
                    continue
                inputs += 1
                counter("read_inputs").inc()
                if isinstance(item, warc.Rejection):
                    yield _rejected(item.source, item.reason, item.detail, item.payload)
                else:
                    counter("read_warc_pages").inc()
                    yield item
    except Exception as error:  # opening failed, or a fault of ours: the part's rest is a row
        if stores.is_unreachable(error):
            raise
        inputs += 1
        counter("read_inputs").inc()
        reason = "unreadable"
        yield _rejected(f"{source}#{start}-", reason, f"{type(error).__name__}: {error}")
    if inputs == 0 and start == 0 and end == 0:
        counter("read_inputs").inc()
        held = ", ".join(f"{count} {kind}" for kind, count in sorted(skipped.items()))
        detail = f"no HTTP response record in the WARC file ({held or 'no records'})"
        yield _rejected(path, "empty", detail)


class _SplitWarc(beam.DoFn):
    """A listed file -> itself (main output), or, for a WARC file, its parts (WARC_PARTS)."""

    def __init__(self, part_bytes: int) -> None:
        self._part_bytes = part_bytes

    def process(self, file: ListedFile) -> Iterator[ListedFile | beam.pvalue.TaggedOutput]:
        path = os.fsdecode(file[0])
        if kind_of(path) != "warc" or not is_regular_file(path):
            yield file
            return
        parts = warc_parts(path, file[1], self._part_bytes)
        if len(parts) > 1:
            counter("read_warc_split_files").inc()
        for start, end in parts:
            yield beam.pvalue.TaggedOutput(WARC_PARTS, (file[0], start, end))


class _ReadFilesAndWarcParts(beam.DoFn):
    """A listed file (as `_ReadFile`, its exceptions rows as apply_with_rejects makes them)
    or a WARC part -> RawDocuments and rejected rows (REJECTED).

    A part is not under apply_with_rejects, which holds an element's outputs until it ends:
    its pages (64 MiB of gzip, some thousands) go on as they are read; `read_warc_part` turns
    a failure into the row of the part's rest itself."""

    def __init__(self, config: ReadConfig) -> None:
        self._config = config
        self._files = _RejectCrashes(
            _ReadFile(config), STAGE, lambda f: readable_path(os.fsdecode(f[0]))
        )

    def process(
        self, task: ListedFile | WarcPart
    ) -> Iterator[RawDocument | beam.pvalue.TaggedOutput]:
        if len(task) == 4:  # a listed file (path, size, offset, lines)
            path = os.fsdecode(task[0])
            if kind_of(path) == "warc" and is_regular_file(path):  # a watched one, whole
                yield from read_warc_part(path, 0, 0, self._config.max_document_bytes)
                return
            yield from self._files.process(task)
            return
        path, start, end = os.fsdecode(task[0]), task[1], task[2]
        yield from read_warc_part(path, start, end, self._config.max_document_bytes)


class ReadDocuments(beam.PTransform):
    """PBegin -> (PCollection[RawDocument], PCollection[Rejected]).

    Each file is read once however many inputs name it.
    """

    def __init__(
        self,
        inputs: Sequence[str],
        config: ReadConfig | None = None,
        state: StateContext | None = None,
    ) -> None:
        super().__init__()
        self._inputs = list(inputs)
        self._config = config or ReadConfig()
        self._state = state

    def expand(
        self, pbegin: beam.pvalue.PBegin
    ) -> tuple[beam.PCollection[RawDocument], beam.PCollection[Rejected]]:
        # As bytes, as the listed files are: a path that is not UTF-8 (a Latin-1 name) as a
        # str holds surrogate escapes, which Beam's coder cannot encode (the run failed).
        inputs = pbegin | "Inputs" >> One(tuple(os.fsencode(i) for i in self._inputs))
        state = self._state if self._state is not None and self._state.writes else None
        listed, unmatched = apply_with_rejects(
            inputs,
            "List",
            _ListInputs(
                self._config.listed_problems, self._config.outside_links, state is not None
            ),
            STAGE,
            lambda i: readable_path(", ".join(os.fsdecode(p) for p in i)),
            ListedStamp if state is not None else ListedFile,
        )
        files = listed
        if state is not None:
            # With --state: a file an earlier run read, unchanged since, is not read again;
            # one its listed size and time vouch for goes no further than the listing.
            files, unchanged = listed | "SkipListedUnchanged" >> beam.ParDo(
                _SkipListedUnchanged(state)
            ).with_output_types(ListedFile).with_outputs(UNCHANGED, main="files")
        # Spreads the files over workers (without it, every file goes to the worker that
        # listed them). Only (path bytes, size) pairs are shuffled: the FnApiRunner holds a
        # shuffle in memory, ~0.6 KB a file (pickled FileMetadata: ~1.1 KB).
        files = files | "SpreadFiles" >> beam.Reshuffle().with_output_types(ListedFile)
        if state is not None:
            files, seen = files | "SkipIngested" >> beam.ParDo(
                _SkipIngested(state)
            ).with_output_types(ListedFile).with_outputs(SEEN, main="files")
            _ = (seen, unchanged) | "RecordSeenFiles" >> _RecordSeenFiles(state)
        if may_hold_warc(self._inputs):
            # A WARC file's records are read in parts, spread over the workers like files,
            # and read in the step that reads files: a Flatten of the documents instead
            # held them all between two fused stages (3.8 GB for 786 MB of pages).
            files, parts = files | "SplitWarc" >> beam.ParDo(
                _SplitWarc(self._config.warc_part_bytes)
            ).with_output_types(ListedFile).with_outputs(WARC_PARTS, main="files")
            spread = parts | "SpreadWarcParts" >> beam.Reshuffle().with_output_types(WarcPart)
            read = (
                (files, spread)
                | "FilesAndWarcParts" >> beam.Flatten()
                | "ReadFiles"
                >> beam.ParDo(_ReadFilesAndWarcParts(self._config))
                .with_output_types(RawDocument, **{REJECTED: Rejected})
                .with_outputs(REJECTED, main="documents")
            )
            documents, unread = read.documents, read[REJECTED]
        else:
            documents, unread = apply_with_rejects(
                files,
                "ReadFiles",
                _ReadFile(self._config),
                STAGE,
                lambda f: readable_path(os.fsdecode(f[0])),
                RawDocument,
            )
        rejected = (unmatched, unread) | "Rejected" >> beam.Flatten()
        return documents, rejected


# --- Streaming sources (newsbeam --streaming, docs/streaming.md) --------------------------

# Names a writer gives a file until it is complete (written, then renamed): never read.
_UNFINISHED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")


def is_finished_file(path: str) -> bool:
    """False for a file still being written by the convention docs/streaming.md names (a
    hidden name, or a .tmp/.part/.partial suffix until renamed) and for what NewsBeam's own
    runs leave (staging, locks)."""
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    if name.startswith(".") or name.lower().endswith(_UNFINISHED_SUFFIXES):
        return False
    return not any(is_staging_name(part) for part in parts)


def watched_folder(pattern: str) -> str:
    """The folder a watched input is matched under: a folder itself, a glob's folder before
    its first wildcard, a file's own folder."""
    if pattern.endswith("/") or (is_local(pattern) and os.path.isdir(pattern)):
        return pattern.rstrip("/")
    folder = glob_folder(pattern)
    return folder if folder is not None else pattern.rsplit("/", 1)[0] if "/" in pattern else ""


def newsbeam_ancestor(
    path: str, folders: Sequence[str], read: Callable[[str], bytes | None]
) -> str | None:
    """The folder holding `path`, from the watched folder that holds it (the longest of
    `folders`) down to its own, that is NewsBeam's (`newsbeam_folder_kind`), or None. A
    watch matches files, not folders: what the batch walk skips whole (an output, a state
    folder inside the inbox) must be recognised above each file, or the job reads its own
    output (a report as an article, its manifests and Parquet as rejected rows, which make
    a window to commit, whose files are read at the next poll, and so on)."""
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    tops = [top for top in folders if _holds(top, parent)]
    folder = max(tops, key=len).rstrip("/") if tops else parent
    candidates = [folder]
    for name in filter(None, parent[len(folder) :].split("/")):
        folder = f"{folder}/{name}" if folder else name
        candidates.append(folder)
    return next((folder for folder in candidates if newsbeam_folder_kind(folder, read)), None)


def _holds(top: str, folder: str) -> bool:
    if not top:  # the working folder holds every relative path
        return not folder.startswith("/") and "://" not in folder
    return folder == top.rstrip("/") or folder.startswith(top.rstrip("/") + "/")


def watched_outside(path: str, folders: Sequence[str]) -> str | None:
    """Where a watched local file really is when that is outside the watched folder that
    holds it (the longest of `folders`): a link in the folder, or in a folder under it,
    leads out (`walk_local`'s rule for a watch). None when it is inside."""
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    tops = [top for top in folders if _holds(top, parent)]
    top = max(tops, key=len) if tops else parent
    real = os.path.realpath(path)
    root_real = os.path.realpath(top or ".")
    inside = real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)
    return None if inside else real


class _WatchedFiles(beam.DoFn):
    """A matched file -> ListedFile, unless it is being written (`is_finished_file`) or
    lies in a NewsBeam folder under the watched one (`newsbeam_ancestor`): counters
    `read_skipped_unfinished`, `read_skipped_newsbeam_folders`. A local file reached by
    a link that leads out of the watched folder -> rejected `link_outside` (unless
    `outside_links`), as in a batch run."""

    def __init__(self, folders: Sequence[str], outside_links: bool = False) -> None:
        self._folders = tuple(folders)
        self._outside_links = outside_links
        self._logged: set[str] = set()

    def process(self, file: FileMetadata) -> Iterator[ListedFile | beam.pvalue.TaggedOutput]:
        if not is_finished_file(file.path):
            counter("read_skipped_unfinished").inc()
            return
        read = _read_marker if is_local(file.path) else _read_remote_marker
        folder = newsbeam_ancestor(file.path, self._folders, read)
        if folder is not None:
            counter("read_skipped_newsbeam_folders").inc()
            if folder not in self._logged:  # once a folder, not once a file
                self._logged.add(folder)
                log.info("not reading NewsBeam's folder %s", readable_path(folder))
            return
        target = None
        if is_local(file.path) and not self._outside_links:
            target = watched_outside(file.path, self._folders)
        if target is not None:
            counter("read_inputs").inc()
            yield _rejected(
                file.path,
                "link_outside",
                f"symbolic link to {target}, outside the watched folder: not read "
                "(--follow_outside_links reads it)",
            )
            return
        yield listed_file(file.path, file.size_in_bytes)


def watched_part(
    path: str, previous: dict[str, Any] | None, stamp: FileStamp, prefix: Prefix | None
) -> Appended | None:
    """What to read of a watched file the watch found new or changed (its modification
    time): nothing (None) when its bytes are those read before (saved again unchanged,
    touched); the lines after those read when a JSON-lines file only grew (appended_part,
    as a batch run with --state reads it); else the whole file (WHOLE_FILE). `previous`:
    the size and content hash read before (None: never read)."""
    if previous is not None and (previous["size"], previous["content_hash"]) == (
        stamp.size,
        stamp.content_hash,
    ):
        return None
    return appended_part(path, previous, stamp, prefix) or WHOLE_FILE


# What a watched file's latest read held (size, content hash), per path (_ReadChanges).
_WATCH_READ = ReadModifyWriteStateSpec("read", PickleCoder())
_WATCH_READ_PARAM = beam.DoFn.StateParam(_WATCH_READ)


def line_end_offset(path: str, lines: int) -> int | None:
    """The byte offset just after a file's first `lines` lines (None: it has fewer)."""
    if lines <= 0:
        return 0
    seen = offset = 0
    with stores.open_read(path) as handle:
        while piece := handle.read(CHUNK_BYTES):
            count = piece.count(b"\n")
            if seen + count >= lines:
                at = -1
                for _ in range(lines - seen):
                    at = piece.index(b"\n", at + 1)
                return offset + at + 1
            seen += count
            offset += len(piece)
    return None


def committed_part(path: str, stamp: FileStamp, committed: CommittedSources) -> Appended | None:
    """What to read of a watched file a restarted job meets first, given what earlier jobs
    committed (`committed`): nothing (None) when the file's own committed row was read
    after its last change (its modification time, to the second, with _SETTLED to spare;
    an article's ingestion, another row's commit); the lines
    after its committed first ones (L1..Ln) for an uncompressed JSON-lines file, numbered
    on; else the whole file (WHOLE_FILE; a WARC's or a compressed file's committed records
    are left out after the read: _SkipCommittedParts)."""
    key = readable_path(path)
    if committed.file_committed_at(key) is None:
        return WHOLE_FILE
    changed = stamp.modified_at + _SETTLED
    own = committed.committed_at(key)
    if own is not None and changed.timestamp() * 1_000_000 <= own:
        return None  # its own row (an article, or the file rejected whole) is committed
    if kind_of(path) == "jsonl":
        lines = 0 if is_gzip(path) else committed.lines_before(key)
        offset = line_end_offset(path, lines) if lines else None
        if offset is not None and offset >= stamp.size:
            return None  # every line committed, none since: an empty read was a rejected row
        return WHOLE_FILE if offset is None else Appended(offset, lines)
    return WHOLE_FILE


class _ReadChanges(beam.DoFn):
    """(path, ListedFile) -> the ListedFile to read (`watched_part`), or nothing for a file
    whose bytes were read already (counter `read_skipped_unchanged`). State, per path: the
    size and content hash of what was read. A path the job meets first is checked against
    what earlier jobs committed (`committed_part`; counter `read_skipped_committed`: files
    not read, JSON lines not read again)."""

    def __init__(self, committed: CommittedRecord | None = None) -> None:
        self._record = committed
        self._committed = NO_SOURCES

    def setup(self) -> None:
        self._committed = load_committed_sources(self._record)

    def process(
        self, keyed: tuple[bytes, ListedFile], read: Any = _WATCH_READ_PARAM
    ) -> Iterator[ListedFile]:
        file = keyed[1]
        path = os.fsdecode(file[0])
        previous = read.read()
        if previous is None and len(self._committed):
            yield from self._first_read(file, path, read)
            return
        try:
            if not is_regular_file(path):  # a FIFO would block the hash; the read says why
                raise OSError(f"not a regular file: {path}")
            stamp, prefix = file_stamp(path, previous["size"] if previous else None)
        except Exception as error:  # gone, not a regular file, unreadable: the read says why
            if stores.is_unreachable(error):
                raise
            yield file
            return
        part = watched_part(path, previous, stamp, prefix)
        read.write({"size": stamp.size, "content_hash": stamp.content_hash})
        if part is None:
            counter("read_skipped_unchanged").inc()
            return
        yield file[0], stamp.size, part.offset, part.lines

    def _first_read(self, file: ListedFile, path: str, read: Any) -> Iterator[ListedFile]:
        try:
            if not is_regular_file(path):
                raise OSError(f"not a regular file: {path}")
            stamp, _ = file_stamp(path)
            part = committed_part(path, stamp, self._committed)
        except Exception as error:  # gone, not a regular file, unreadable: the read says why
            if stores.is_unreachable(error):
                raise
            yield file
            return
        read.write({"size": stamp.size, "content_hash": stamp.content_hash})
        if part is None:
            counter("read_skipped_committed").inc()
            return
        if part.lines:
            counter("read_skipped_committed").inc(part.lines)
            log.info("%s: %d lines committed before; read on", readable_path(path), part.lines)
        yield file[0], stamp.size, part.offset, part.lines


class _SkipCommittedParts(beam.DoFn):
    """A document read (or rejected) -> itself, unless it is a record of a file (a JSON line, a WARC
    record: `path#...`) whose row an earlier job committed (counter
    `read_skipped_committed`). Files themselves are decided before the read
    (`committed_part`)."""

    def __init__(self, committed: CommittedRecord | None = None) -> None:
        self._record = committed
        self._committed = NO_SOURCES

    def setup(self) -> None:
        self._committed = load_committed_sources(self._record)

    def process(self, record: Any) -> Iterator[Any]:
        if "#" in record.source and record.source in self._committed:
            counter("read_skipped_committed").inc()
            counter("read_inputs").dec()  # counted by the read: not an input again
            return
        yield record


class WatchInputs(beam.PTransform):
    """PBegin -> (PCollection[RawDocument], PCollection[Rejected]), unbounded: every input
    (a folder, watched recursively, or a glob) is matched every `poll_seconds` with
    `fileio.MatchContinuously`; a file is read once, when it first appears, as ReadDocuments
    reads it, and again when it changes (`watched_part`: whole, its appended JSON lines, or
    nothing for the same bytes saved again). A file being written is skipped until renamed
    to its final name, and so is a file in a NewsBeam folder (an output, a state) under a
    watched one. `stop_at` (Unix seconds; None: never) ends the watch: a bounded watch,
    which Beam's in-process runner runs as a batch of matches (tests)."""

    def __init__(
        self,
        inputs: Sequence[str],
        config: ReadConfig | None = None,
        poll_seconds: float = 300.0,
        stop_at: float | None = None,
        committed: CommittedRecord | None = None,
    ) -> None:
        super().__init__()
        self._inputs = sorted(inputs)
        self._config = config or ReadConfig()
        self._poll_seconds = poll_seconds
        self._stop_at = stop_at
        self._committed = committed

    def expand(
        self, pbegin: beam.pvalue.PBegin
    ) -> tuple[beam.PCollection[RawDocument], beam.PCollection[Rejected]]:
        from apache_beam.io import fileio

        matched = [
            pbegin
            | f"Match{number}" >> fileio.MatchContinuously(as_pattern(pattern), **self._schedule())
            for number, pattern in enumerate(self._inputs)
        ]
        watched = _WatchedFiles(
            [watched_folder(path) for path in self._inputs], self._config.outside_links
        )
        finished, refused = apply_with_rejects(
            matched | "AllMatched" >> beam.Flatten(),
            "Finished",
            watched,
            STAGE,
            lambda f: readable_path(f.path),
            ListedFile,
        )
        files = (
            finished
            | "ByPath" >> beam.Map(lambda file: (file[0], file))
            | "Changed" >> beam.ParDo(_ReadChanges(self._committed)).with_output_types(ListedFile)
        )
        # A WARC file's pages go on as they are read (under apply_with_rejects a 100 MB
        # .warc.gz of 1,706 pages was held whole: peak RSS 719 MB, now 226 MB).
        read = files | "ReadFiles" >> beam.ParDo(
            _ReadFilesAndWarcParts(self._config)
        ).with_output_types(RawDocument, **{REJECTED: Rejected}).with_outputs(
            REJECTED, main="documents"
        )
        documents, unread = read.documents, read[REJECTED]
        if self._committed is not None:  # a restarted job: records committed before
            skip = _SkipCommittedParts(self._committed)
            documents = documents | "NotCommitted" >> beam.ParDo(skip).with_output_types(
                RawDocument
            )
            unread = unread | "UnreadNotCommitted" >> beam.ParDo(skip).with_output_types(Rejected)
        return documents, (refused, unread) | "Rejected" >> beam.Flatten()

    def _schedule(self) -> dict[str, Any]:
        # A file is known by its path and modification time: one saved again under its name
        # (a corrected story) is read again, as a batch run with --state reads a changed
        # file; by path alone its new version was never read, and no row said so.
        every = {"interval": self._poll_seconds, "match_updated_files": True}
        if self._stop_at is None:
            return every
        import time

        from apache_beam.utils.timestamp import Timestamp

        return {
            **every,
            "start_timestamp": Timestamp.of(time.time()),
            "stop_timestamp": Timestamp.of(self._stop_at),
        }


def pubsub_document(message: Any, subscription: str) -> RawDocument:
    """A Pub/Sub message -> a JSON-lines record (its data: one JSON object, as a line of
    a .jsonl file), named `pubsub:<subscription>#<message id>`."""
    counter("read_inputs").inc()
    ident = getattr(message, "message_id", None) or hashlib.sha256(message.data).hexdigest()[:16]
    return RawDocument(source=f"pubsub:{subscription}#{ident}", kind="jsonl", content=message.data)


class ReadPubSubDocuments(beam.PTransform):
    """PBegin -> PCollection[RawDocument], unbounded: each message of the Pub/Sub
    `subscription` (projects/P/subscriptions/S) is one record, as a .jsonl line is. Needs
    apache-beam[gcp] (imported only here) and a runner that reads Pub/Sub."""

    def __init__(self, subscription: str) -> None:
        super().__init__()
        self._subscription = subscription

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[RawDocument]:
        from apache_beam.io.gcp.pubsub import ReadFromPubSub

        return (
            pbegin
            | "Pull" >> ReadFromPubSub(subscription=self._subscription, with_attributes=True)
            | "Documents"
            >> beam.Map(pubsub_document, self._subscription).with_output_types(RawDocument)
        )
