"""WARC files (Common Crawl's CC-NEWS, a lab's own crawls) as input, read with warcio record
by record, never whole: what counts as an input, and how a large file is read in parts.

An input is a `response` record of an HTTP(S) fetch. It becomes an HTML page to extract
(its `WARC-Target-URI` the page's URL, its `WARC-Date` the fetch time, its payload decoded
by the HTTP `Content-Type` charset) or a rejected row: `http_error` (a status other than
200), `redirect` (a 3xx naming its target, which a crawl holds as a response of its own),
`not_html` (an image, a PDF, a script), `too_large`, `empty`, or `truncated` /
`unreadable` for the rest of a file cut short or damaged (the records before the damage
stand). Every other record (`warcinfo`, `request`, `metadata`, `revisit`, `resource`,
`conversion`, `continuation`, a `dns:` response) is no news input: it is counted
(`read_warc_skipped_<type>`), never a row. A revisit holds no page: it says a later fetch
found the page of an earlier response, which is the input.

A record's source is `<path>#<offset>`: the byte offset its record (its gzip member) starts
at in the file, which `warcio extract <path> <offset>` and Common Crawl's indexes name; for
a file gzipped as one stream, the offset in its uncompressed stream. The same record read
twice has the same source, and so the same rows.

A file gzipped record by record (as WARC files are written: CC-NEWS's, warcio's, wget's)
larger than `PART_BYTES` is read in parts of that many bytes, each by whichever worker
gets it: a part holds the records whose gzip member starts in it (`record_start` finds the
first), read to their end. A large local plain file is split at records its headers lead
to, walked from its start (`plain_parts`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple, cast
from urllib.parse import urljoin

from newsbeam.schemas import RawDocument

# Parts of a record-gzipped file read on their own: a 1 GB CC-NEWS file is 16, for any
# worker count up to that; a part of the AEB pages gzipped held ~1,900 pages and was read
# in ~2 s (the read stage alone, this host), against minutes of extraction.
PART_BYTES = 64 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b\x08"
_SCAN_BYTES = 1 << 20
# Bytes of a candidate member inflated to check it opens a record: its header and first
# deflate block, more than enough for 16 bytes of output.
_PROBE_BYTES = 65536
# Compressed bytes read, at most, to find the end of a file's first gzip member: a file
# whose first record's member is longer is read as one stream (correct, never split).
FIRST_MEMBER_BYTES = 4 << 20
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)")
# What a rejected row keeps of a payload (failures.excerpt cuts it further).
_EXCERPT_BYTES = 2048

HTML_TYPES = ("text/html", "application/xhtml+xml")
# Content types that say nothing about the payload: it is HTML if its first bytes say so.
_UNTYPED = ("", "text/plain", "application/octet-stream")


class Rejection(NamedTuple):
    """A WARC input that is no page to extract: its rejected row."""

    source: str
    reason: str
    detail: str
    payload: bytes


class Skipped(NamedTuple):
    """A record that is no news input (counted as `read_warc_skipped_<kind>`)."""

    kind: str


WarcItem = RawDocument | Rejection | Skipped


# --- Pure helpers -----------------------------------------------------------------------


def media_type(content_type: str) -> str:
    """`text/html; charset=x` -> `text/html`."""
    return content_type.split(";", 1)[0].strip().lower()


def http_charset(content_type: str) -> str | None:
    """The charset a Content-Type names (`text/html; charset="Shift_JIS"` -> `shift_jis`)."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'").lower() or None
    return None


# Labels the WHATWG Encoding Standard maps to windows-1252, as browsers decode them.
_AS_WINDOWS_1252 = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"})


def as_utf8(payload: bytes, charset: str | None) -> bytes:
    """The payload as UTF-8 when the HTTP header names its charset, so extraction, which
    decodes UTF-8 before any declaration in the page, reads it as the server sent it (a
    page's `<meta charset>` often names another, and detection guesses). Unchanged when
    no charset is named or known, when the bytes are valid UTF-8 already (a server that
    says Latin-1 of a UTF-8 page is wrong far more often than such bytes are Latin-1), when
    they start with a byte-order mark (it wins over the header) or do not decode by it."""
    if not charset or payload.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return payload
    try:
        payload.decode("utf-8")
        return payload
    except UnicodeDecodeError:
        pass
    name = "cp1252" if charset in _AS_WINDOWS_1252 else charset
    try:
        codecs.lookup(name)
        return payload.decode(name).encode("utf-8")
    except (LookupError, UnicodeDecodeError):
        return payload


def looks_like_html(head: bytes) -> bool:
    """Whether a payload's first bytes are an HTML page's (the feed stage's test)."""
    head = head[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


def is_html(content_type: str, head: bytes) -> bool:
    """An HTML page by its HTTP Content-Type, or (none that says) by its first bytes."""
    kind = media_type(content_type)
    if kind in HTML_TYPES:
        return True
    return kind in _UNTYPED and looks_like_html(head)


def warc_date(value: str | None) -> dt.datetime | None:
    """A WARC-Date (`2024-05-14T09:30:00Z`, WARC 1.1 with fractions) as UTC; None if bad."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def target_uri(value: str | None) -> str:
    """A WARC-Target-URI without the angle brackets some writers put around it."""
    return (value or "").strip().removeprefix("<").removesuffix(">")


class Response(NamedTuple):
    """What a response record says, as read."""

    source: str
    url: str
    fetched_at: dt.datetime | None
    status: int | None
    status_line: str
    content_type: str
    payload: bytes  # at most limit + 1 bytes
    cut_by_crawler: str  # the WARC-Truncated header's value ("" when whole)
    location: str = ""  # the HTTP Location header (a redirect's target)


# The statuses a fetch follows (feeds/fetch.py's REDIRECT_STATUSES): a hop, not a page.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def response_input(response: Response, limit: int) -> RawDocument | Rejection:
    """A response record -> the HTML page it holds, or why it is rejected. A redirect is
    a `redirect` row naming its target (absolute): a crawler records the target's
    response as a record of its own, which is the page."""
    source, url, payload = response.source, response.url, response.payload
    if response.status in REDIRECT_STATUSES and response.location.strip():
        target = urljoin(url, response.location.strip())
        detail = f"HTTP {response.status_line or response.status}: redirect to {target}"
        return Rejection(source, "redirect", f"{detail} (from {url})", b"")
    if response.status in REDIRECT_STATUSES:  # as a fetch says of it (feeds/fetch.py)
        detail = f"HTTP {response.status_line or response.status}: redirect without a Location"
        return Rejection(source, "http_error", f"{detail} header: {url}", b"")
    if response.status != 200:
        detail = f"HTTP {response.status_line or response.status}: {url}"
        return Rejection(source, "http_error", detail, payload[:_EXCERPT_BYTES])
    if len(payload) > limit:
        return Rejection(source, "too_large", f"a payload of more than {limit} bytes: {url}", b"")
    if not payload.strip():
        return Rejection(source, "empty", f"HTTP 200 with no content: {url}", b"")
    if not is_html(response.content_type, payload):
        kind = media_type(response.content_type) or "no Content-Type"
        return Rejection(source, "not_html", f"{kind}, not an HTML page: {url}", b"")
    truncated = ""
    if response.cut_by_crawler:
        truncated = (
            f"WARC-Truncated: {response.cut_by_crawler}: the crawler kept the first "
            f"{len(payload)} bytes of the page"
        )
    return RawDocument(
        source=source,
        kind="html",
        content=as_utf8(payload, http_charset(response.content_type)),
        truncated=truncated,
        url=url,
        fetched_at=response.fetched_at,
    )


# --- Reading ----------------------------------------------------------------------------


class CutRecord(Exception):
    """The file ends inside a record: fewer bytes than its Content-Length, or no length."""


class DamagedRecord(Exception):
    """A record warcio read whose header cannot be a WARC record's."""


# Bytes a reader keeps of what it read last, to tell a file cut inside a record's header
# from damage: more than any record header (CC-NEWS's are ~1 KB, a crawler's a few) plus
# the 16 KiB warcio reads at a time.
TAIL_BYTES = 64 * 1024


class _Counted:
    """A file's reads with its position counted from `base`: warcio names records by
    `tell()`, which a store's stream need not have (or may answer from its own start).
    It keeps the last `TAIL_BYTES` read (at least), and whether the stream has ended,
    so a failure can be told a cut (`tail_from`, `ended`)."""

    def __init__(self, handle: Any, base: int) -> None:
        self._handle = handle
        self._position = base
        self._pieces: list[bytes] = []  # the last pieces read, TAIL_BYTES or a little more
        self._kept = 0
        self.ended = False

    def read(self, size: int = -1) -> bytes:
        try:
            piece = self._handle.read(size)
        except EOFError as error:  # a gzip stream cut off: warcio takes EOFError for an end
            raise CutRecord(f"its gzip stream ends early ({error})") from error
        self._position += len(piece)
        if not piece and size != 0:
            self.ended = True
        if piece:
            self._pieces.append(piece)
            self._kept += len(piece)
            while self._kept - len(self._pieces[0]) >= TAIL_BYTES:
                self._kept -= len(self._pieces.pop(0))
        return piece

    def tell(self) -> int:
        return self._position

    def tail_from(self, offset: int) -> bytes | None:
        """The bytes read from `offset` on, or None when they are no longer kept."""
        first = self._position - self._kept
        if offset < first or offset > self._position:
            return None
        return b"".join(self._pieces)[offset - first :]

    def at_end(self) -> bool:
        """Whether the stream has no byte left past what was read (reads one to know)."""
        if not self.ended:
            try:
                self.read(1)
            except CutRecord:  # a gzip stream that ends early: an end all the same
                return True
            except Exception:  # bytes past here that fail to read: damage, not an end
                return False
        return self.ended


def cut_inside_record(rest: bytes, gzip_member: bool) -> bool:
    """Whether `rest`, the bytes from a record's start to the end of its file, is the start
    of a record cut short (its header, or its block, unfinished) rather than bytes that are
    no record: inflated first if the record is its own gzip member, whose stream must then
    be unfinished (an error, or an ended member, is damage)."""
    if gzip_member:
        inflater = zlib.decompressobj(wbits=31)
        try:
            rest = inflater.decompress(rest)
        except zlib.error:
            return False
        if inflater.eof:
            return False
    if rest[:5] != b"WARC/"[: len(rest)]:
        return False
    header_end = rest.find(b"\r\n\r\n")
    if header_end < 0:
        return True  # the file ends inside the record's header
    length = _CONTENT_LENGTH.search(rest, 0, header_end)
    return length is not None and len(rest) < header_end + 4 + int(length.group(1)) + 4


def gzipped_per_record(head: bytes) -> bool:
    """Whether a `.warc.gz`'s first bytes end a first gzip member holding one record, that
    another member follows (or nothing), as a file gzipped record by record does; False
    for one gzipped as a single stream, or one whose first member is not within `head`."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        first = inflater.decompress(head, FIRST_MEMBER_BYTES)
    except zlib.error:
        return False
    rest = inflater.unused_data
    # What follows the member: another (its first bytes at least, in a file cut there).
    if not inflater.eof or rest[:3] != _GZIP_MAGIC[: len(rest[:3])]:
        return False
    header_end = first.find(b"\r\n\r\n")
    length = _CONTENT_LENGTH.search(first, 0, max(header_end, 0))
    if header_end < 0 or length is None:
        return False
    # The record, then the two CRLFs that end it: more is a second record in this member.
    return len(first) <= header_end + 4 + int(length.group(1)) + 4


def _starts_record(data: bytes) -> bool:
    """Whether `data` opens a gzip member whose first bytes are a WARC record's."""
    try:
        return zlib.decompressobj(wbits=31).decompress(data, 16).startswith(b"WARC/")
    except zlib.error:
        return False


def record_start(handle: BinaryIO, start: int, end: int) -> int | None:
    """The offset of the first gzip member that starts a WARC record at or after `start`
    and before `end` (0: the file's end) in a record-gzipped file, or None. `handle` is at
    `start`. A member's magic bytes inside another's compressed data almost never inflate
    to "WARC/": each candidate is checked."""
    buffer, base, at, ended = b"", start, 0, False
    while True:
        found = buffer.find(_GZIP_MAGIC, at)
        if found >= 0 and (ended or len(buffer) - found >= _PROBE_BYTES):
            offset = base + found
            if end and offset >= end:
                return None
            if _starts_record(buffer[found : found + _PROBE_BYTES]):
                return offset
            at = found + 1
            continue
        if ended:
            return None
        # Keep from the candidate on (it needs more bytes), else the last two bytes (a
        # magic split between two reads).
        drop = found if found >= 0 else max(0, len(buffer) - 2)
        buffer, base, at = buffer[drop:], base + drop, 0
        if end and base >= end:
            return None
        piece = handle.read(_SCAN_BYTES)
        ended = not piece
        buffer += piece


# Bytes of a WARC file per page, at least, for counting a run's documents before it reads
# them (the local workers' rule, the large-input hint): the AEB pages as response records
# took 34 KB each gzipped and 170 KB plain; request and metadata records add to a crawl's.
BYTES_PER_PAGE = {True: 64 * 1024, False: 256 * 1024}


def pages_at_most(size: int, gzipped: bool) -> int:
    """About how many pages a WARC file of `size` bytes holds, erring low (at least 1)."""
    return max(1, size // BYTES_PER_PAGE[gzipped])


def plan_parts(size: int, per_record: bool, part_bytes: int = PART_BYTES) -> list[tuple[int, int]]:
    """The (start, end) byte ranges a WARC file is read in (end 0: to the file's end): one
    for a small file, or one gzipped as a single stream or not at all (a plain WARC has no
    marks a reader could start at without reading what is before: its payloads may hold
    any text; `plain_parts` splits one by walking its headers)."""
    if not per_record or size <= part_bytes:
        return [(0, 0)]
    starts = range(0, size, part_bytes)
    return [(start, start + part_bytes if start + part_bytes < size else 0) for start in starts]


# Bytes read at a plain record's start to find its header's end (CC-NEWS's headers are
# ~1 KB, a crawler's a few); a header longer than `_HEADER_BYTES` ends the walk.
_HEADER_PROBE = 8192
_HEADER_BYTES = 65536


def plain_parts(handle: BinaryIO, size: int, part_bytes: int = PART_BYTES) -> list[tuple[int, int]]:
    """The (start, end) byte ranges a plain (uncompressed) WARC file of `size` bytes is read
    in (end 0: to the file's end), each starting at a record: its records are walked from
    the file's start, each header read and its block skipped by a seek (the header says its
    length), and a part starts at the first record at or after `part_bytes` past the last
    start. A payload may hold any text, so a reader cannot find a record from an arbitrary
    offset; this walk from the start can. A header it cannot read (damage, a cut) ends the
    walk: the last part reads on to it, and its reader says what it is."""
    starts, position = [0], 0
    while position < size:
        handle.seek(position)
        head = handle.read(_HEADER_PROBE)
        skip = len(head) - len(head.lstrip(b"\r\n"))  # blank lines between records
        head, position = head[skip:], position + skip
        header_end = head.find(b"\r\n\r\n")
        while header_end < 0 and len(head) < _HEADER_BYTES and (more := handle.read(_HEADER_PROBE)):
            head += more
            header_end = head.find(b"\r\n\r\n")
        length = _CONTENT_LENGTH.search(head, 0, max(header_end, 0))
        if not head.startswith(b"WARC/") or header_end < 0 or length is None:
            break
        if position - starts[-1] >= part_bytes:
            starts.append(position)
        position += header_end + 4 + int(length.group(1))
    ends = [*starts[1:], 0]
    return list(zip(starts, ends, strict=True))


def read_records(
    raw: BinaryIO, source: str, gzipped: bool, start: int, end: int, limit: int
) -> Iterator[WarcItem]:
    """The items of the records that start in [start, end) (end 0: to the file's end) of a
    WARC file open at `start` in `raw`: pages, rejections and skipped records, in order.
    A file gzipped as one stream is read through Python's gzip, from its start. Damage (a
    file cut short, bytes that are no record) ends the reading with one Rejection for the
    rest of the range."""
    import gzip

    from warcio.archiveiterator import ArchiveIterator
    from warcio.limitreader import LimitReader

    stream: Any = _Counted(raw, start)
    per_member = gzipped  # each record its own gzip member, read by warcio
    if gzipped and start == 0:
        head = raw.read(FIRST_MEMBER_BYTES)
        stream = _Counted(_Prefixed(head, raw), 0)
        if head.startswith(_GZIP_MAGIC) and not gzipped_per_record(head):
            # One gzip stream of many records, which warcio refuses: read it unpacked.
            unpacked = gzip.GzipFile(fileobj=cast(BinaryIO, _Prefixed(head, raw)), mode="rb")
            stream = _Counted(unpacked, 0)
            per_member = False
    records = ArchiveIterator(stream)
    offset = start
    try:
        for record in records:
            offset = records.offset  # where this record starts (warcio's own count)
            if end and offset >= end:
                return
            headers = record.rec_headers
            length = headers.get_header("Content-Length")
            if record.rec_type is None or length is None or not length.strip().isdigit():
                # Both are mandatory: a header without them is damaged (its response, if it
                # was one, would be lost as an `unknown` record), or cut (told below). A
                # file cut right after "Content-Length: " leaves it empty, which warcio
                # reads as a block of 0 bytes: the response was a silent skip.
                raise DamagedRecord("a record header with no WARC-Type or Content-Length")
            item = _record_item(record, f"{source}#{offset}", limit)
            # The rest of the block, read here (warcio would read it next): a block shorter
            # than its Content-Length is a file cut inside this record, no input.
            block = record.raw_stream
            while block.read(1 << 16):
                pass
            if not isinstance(block, LimitReader) or block.limit > 0:
                raise CutRecord(f"it ends inside the {record.rec_type} record at byte {offset}")
            yield item
        if stream.tell() > records.offset:
            # warcio ends quietly at a record cut inside its header: bytes are left.
            left = stream.tell() - records.offset
            raise CutRecord(f"it ends inside the record at byte {records.offset} ({left} bytes)")
    except Exception as error:  # a cut-off or damaged file: what was read before stands
        if _is_unreachable(error):
            raise
        # warcio moves its count to the next record once one is read: the damage is there.
        damaged_at = max(offset, records.offset)
        yield _damage(source, damaged_at, end, error, _is_cut(stream, damaged_at, per_member))


def _is_unreachable(error: BaseException) -> bool:
    from newsbeam.transforms.support.files import is_unreachable

    return is_unreachable(error)


def _record_item(record: Any, source: str, limit: int) -> WarcItem:
    """A record as read by warcio -> its item (its payload read, at most limit + 1 bytes)."""
    kind = record.rec_type or "unknown"
    headers = record.rec_headers
    if kind != "response":
        return Skipped(kind)
    url = target_uri(headers.get_header("WARC-Target-URI"))
    if not url.lower().startswith(("http://", "https://")) or record.http_headers is None:
        return Skipped("non_http")  # a crawler's DNS lookups (dns:), FTP, WHOIS
    http = record.http_headers
    status_text = http.get_statuscode()
    status = int(status_text) if status_text and status_text.isdigit() else None
    payload = record.content_stream().read(limit + 1)
    return response_input(
        Response(
            source=source,
            url=url,
            fetched_at=warc_date(headers.get_header("WARC-Date")),
            status=status,
            status_line=http.statusline or "",
            content_type=http.get_header("Content-Type") or "",
            payload=payload,
            cut_by_crawler=headers.get_header("WARC-Truncated") or "",
            location=http.get_header("Location") or "",
        ),
        limit,
    )


def _is_cut(stream: _Counted, offset: int, per_member: bool) -> bool:
    """Whether a failure at the record starting at `offset` is the file's end: no byte is
    left past what was read, and what was read from `offset` on opens a record (warcio
    fails in many ways on a header cut short: an AttributeError, "Invalid WARC record",
    a gzip header cut). Bytes that open no record, or more bytes after them, are damage."""
    if not stream.at_end():
        return False
    rest = stream.tail_from(offset)
    return rest is not None and cut_inside_record(rest, per_member)


def _damage(
    source: str, offset: int, end: int, error: BaseException, cut_here: bool = False
) -> Rejection:
    """One row for what a damaged or cut-off file leaves unread from `offset` on."""
    upto = f" to byte {end}" if end else ""
    name = type(error).__name__
    message = str(error).strip().replace("\n", " ")[:300]
    unread = f"records from byte {offset}{upto} not read"
    if isinstance(error, CutRecord):
        detail = f"the file is cut short: {message}: {unread}"
        return Rejection(f"{source}#{offset}-", "truncated", detail, b"")
    if isinstance(error, EOFError):
        detail = f"the file is cut short: {unread} ({name}: {message})"
        return Rejection(f"{source}#{offset}-", "truncated", detail, b"")
    if cut_here:  # warcio's own error on a header cut short says nothing of the cut
        detail = f"the file is cut short: it ends inside the record at byte {offset}: {unread}"
        return Rejection(f"{source}#{offset}-", "truncated", detail, b"")
    if isinstance(error, (AttributeError, TypeError, ValueError)) and "WARC" not in message:
        # warcio's fault on a header it cannot parse (a missing WARC-Target-URI ...)
        message = f"a record header warcio cannot read ({name}: {message})"
    elif not isinstance(error, DamagedRecord):  # ours says it in words
        message = f"{name}: {message}"
    detail = f"the file is damaged: no WARC record at byte {offset}: {unread} ({message})"
    return Rejection(f"{source}#{offset}-", "unreadable", detail, b"")


class _Prefixed:
    """Bytes already read from a stream, then the rest of it."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                piece, self._head = self._head + self._rest.read(), b""
                return piece
            piece, self._head = self._head[:size], self._head[size:]
            return piece
        return self._rest.read(size)
