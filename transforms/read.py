"""ReadDocuments: input paths (files, folders read recursively, globs; any Beam filesystem)
-> RawDocument records, one per file or per non-blank `.jsonl` line. Feed and OPML files are
recognised by content and go to the feed stage. Reading never decodes text (extract does).

Rejected (stage `read`): `not_found`, `unsupported_type`, `empty`, `too_large`, `binary`,
`unreadable`. Counters: `read_inputs`, `read_dropped_<reason>`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems

from newsbeam.schemas import RawDocument, Rejected
from newsbeam.transforms.feeds.parse import sniff_feed_kind
from newsbeam.transforms.support.failures import apply_with_rejects, counter, rejected_output

STAGE = "read"

# Extension -> kind; ".gz" is stripped first (Beam decompresses it while reading).
KIND_BY_EXTENSION = {
    ".txt": "text",
    ".md": "text",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
}

# Extensions (and no extension) whose files are feeds or OPML lists when their content says so.
FEED_CANDIDATE_EXTENSIONS = frozenset({".xml", ".rss", ".atom", ".rdf", ".opml", ".json", ""})
FEED_KINDS = frozenset({"feed", "opml"})
FEED_CANDIDATE = "feed?"

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_SNIFF_BYTES = 8192


@dataclasses.dataclass(frozen=True)
class ReadConfig:
    """Limits for reading. 10 MiB is far above any real article page (AEB's largest: ~1 MB)."""

    max_document_bytes: int = 10 * 1024 * 1024


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


def as_pattern(path: str) -> str:
    """A Beam file pattern for an input: directories (and URLs ending in '/') recursively."""
    if path.endswith("/") or (
        FileSystems.get_scheme(path) in (None, "file") and os.path.isdir(path)
    ):
        return path.rstrip("/") + "/**"
    return path


def file_identity(path: str) -> str:
    """The same key for every spelling of one local file; other filesystems: the path."""
    if FileSystems.get_scheme(path) in (None, "file"):
        return os.path.realpath(path)
    return path


def is_regular_file(path: str) -> bool:
    """False for local FIFOs, devices and broken links; other filesystems hold only files."""
    if FileSystems.get_scheme(path) in (None, "file"):
        return os.path.isfile(path)
    return True


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


class _MatchInput(beam.DoFn):
    """An input path or pattern -> the FileMetadata of each file it names."""

    def process(self, pattern: str) -> Iterator[FileMetadata | beam.pvalue.TaggedOutput]:
        try:
            matches = FileSystems.match([as_pattern(pattern)])[0].metadata_list
        except Exception as error:  # a bad pattern or filesystem error is this input's fault
            counter("read_inputs").inc()
            yield _rejected(pattern, "unreadable", f"cannot list: {error}")
            return
        if not matches:
            counter("read_inputs").inc()
            yield _rejected(pattern, "not_found", "no file matches this input")
            return
        yield from sorted(matches, key=lambda m: m.path)


class _ReadFile(beam.DoFn):
    """FileMetadata -> RawDocument (one per file; one per line of JSON lines)."""

    def __init__(self, config: ReadConfig) -> None:
        self._config = config

    def process(self, file: FileMetadata) -> Iterator[RawDocument | beam.pvalue.TaggedOutput]:
        path, limit = file.path, self._config.max_document_bytes
        kind = kind_of(path)
        if kind == "jsonl" and is_regular_file(path):
            yield from self._read_lines(path, limit)
            return
        if kind == FEED_CANDIDATE:
            yield from self._read_candidate_feed(file, limit)
            return
        counter("read_inputs").inc()
        if kind is None:
            yield _rejected(path, "unsupported_type", "not .txt/.md/.html/.htm/.jsonl(.gz)")
        elif not is_regular_file(path):
            # A FIFO or device would block or never end; a broken link cannot be read.
            yield _rejected(path, "unreadable", "not a regular file")
        elif file.size_in_bytes > limit:
            yield _rejected(path, "too_large", f"{file.size_in_bytes} bytes > {limit}")
        else:
            yield from self._read_whole(path, kind, limit)

    def _read_candidate_feed(
        self, file: FileMetadata, limit: int
    ) -> Iterator[RawDocument | beam.pvalue.TaggedOutput]:
        """A feed or OPML document goes on uncounted (the feed stage counts its entries);
        anything else is one input, rejected."""
        path = file.path
        if not is_regular_file(path):
            counter("read_inputs").inc()
            yield _rejected(path, "unreadable", "not a regular file")
            return
        if file.size_in_bytes > limit:
            counter("read_inputs").inc()
            yield _rejected(path, "too_large", f"{file.size_in_bytes} bytes > {limit}")
            return
        counted = True  # not for a feed: its entries are the inputs (the feed stage counts)
        output: RawDocument | beam.pvalue.TaggedOutput
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as handle:
                content = handle.read(limit + 1)
        except Exception as error:
            output = _rejected(path, "unreadable", f"{type(error).__name__}: {error}")
        else:
            kind = sniff_feed_kind(content)
            if len(content) > limit:
                output = _rejected(path, "too_large", f"more than {limit} bytes", content)
            elif kind is not None:
                counted = False
                output = RawDocument(source=path, kind=kind, content=content)
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
            with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as handle:
                # +1 tells "exactly at the limit" from "over it", also after decompression.
                content = handle.read(limit + 1)
        except Exception as error:
            yield _rejected(path, "unreadable", f"{type(error).__name__}: {error}")
            return
        if len(content) > limit:
            yield _rejected(path, "too_large", f"more than {limit} bytes", content)
        elif not content.strip():
            yield _rejected(path, "empty", "no content", content)
        elif sniff_binary(content[:_SNIFF_BYTES]):
            yield _rejected(path, "binary", "binary content (NUL bytes), not text", content)
        else:
            yield RawDocument(source=path, kind=kind, content=content)

    def _read_lines(
        self, path: str, limit: int
    ) -> Iterator[RawDocument | beam.pvalue.TaggedOutput]:
        try:
            handle = FileSystems.open(path, compression_type=CompressionTypes.AUTO)
        except Exception as error:
            counter("read_inputs").inc()
            yield _rejected(path, "unreadable", f"{type(error).__name__}: {error}")
            return
        records = number = 0
        with handle:
            try:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue  # blank lines separate nothing in JSON lines; not records
                    records += 1
                    counter("read_inputs").inc()
                    source = f"{path}#L{number}"
                    if len(line) > limit:
                        yield _rejected(source, "too_large", f"line of {len(line)} bytes", line)
                    else:
                        yield RawDocument(source=source, kind="jsonl", content=line)
            except Exception as error:  # e.g. a truncated .gz: the lines read so far stand
                counter("read_inputs").inc()
                detail = f"unreadable after line {number}: {type(error).__name__}: {error}"
                yield _rejected(f"{path}#L{number + 1}-", "unreadable", detail)
                return
        if records == 0:
            counter("read_inputs").inc()
            yield _rejected(path, "empty", "no JSON lines in file", b"")


def _rejected(
    source: str, reason: str, detail: str, payload: bytes = b""
) -> beam.pvalue.TaggedOutput:
    return rejected_output(source, STAGE, reason, detail, payload)


class ReadDocuments(beam.PTransform):
    """PBegin -> (PCollection[RawDocument], PCollection[Rejected]).

    Each file is read once however many inputs name it.
    """

    def __init__(self, inputs: Sequence[str], config: ReadConfig | None = None) -> None:
        super().__init__()
        self._inputs = list(inputs)
        self._config = config or ReadConfig()

    def expand(
        self, pbegin: beam.pvalue.PBegin
    ) -> tuple[beam.PCollection[RawDocument], beam.PCollection[Rejected]]:
        patterns = pbegin | "Inputs" >> beam.Create(self._inputs)
        files, unmatched = apply_with_rejects(
            patterns, "Match", _MatchInput(), STAGE, str, FileMetadata
        )
        # A file named by several inputs (a folder and a glob inside it) is read once. The
        # grouping also spreads files over workers (without it, every file of a folder
        # goes to the worker that listed it).
        files = (
            files
            | "ByFile" >> beam.Map(lambda file: (file_identity(file.path), file))
            | "GroupByFile" >> beam.GroupByKey()
            | "OncePerFile"
            >> beam.Map(lambda group: min(group[1], key=lambda f: f.path)).with_output_types(
                FileMetadata
            )
        )
        documents, unread = apply_with_rejects(
            files, "ReadFiles", _ReadFile(self._config), STAGE, lambda f: f.path, RawDocument
        )
        rejected = (unmatched, unread) | "Rejected" >> beam.Flatten()
        return documents, rejected
