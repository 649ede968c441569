"""WARC files as input (support/warc.py, read.py's WARC parts): built here with warcio's own
writer from the seeds' texts, read by real pipelines, the tables checked with DuckDB."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import itertools
import json
import shutil
import uuid
import zlib
from pathlib import Path
from typing import Any

import apache_beam as beam
import duckdb
import pytest
from apache_beam.testing.util import assert_that, equal_to
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsbeam.schemas import RawDocument
from newsbeam.transforms.read import ReadConfig, ReadDocuments
from newsbeam.transforms.support import warc
from tests.helpers import SEEDS, counters_of, make_test_pipeline, newsbeam_command, table_sql

FETCHED = "2024-05-14T12:00:00Z"


def seed_paragraphs() -> list[str]:
    """The seeds' lines long enough to be paragraphs, in order."""
    lines = []
    for path in sorted(SEEDS.glob("*.txt")):
        lines += [line.strip() for line in path.read_text().splitlines() if len(line) > 120]
    return lines


def page(number: int, extra: str = "", title: str | None = None) -> str:
    """A news page of three seed paragraphs, different for each `number`."""
    paragraphs = seed_paragraphs()
    chosen = [paragraphs[(number * 3 + k) % len(paragraphs)] for k in range(3)]
    body = "".join(f"<p>{text} (Report {number}.)</p>" for text in chosen)
    return (
        f"<!DOCTYPE html><html><head><title>{title or f'Report {number}'}</title></head>"
        f"<body><article><h1>{title or f'Report {number}'}</h1>{extra}{body}"
        "</article></body></html>"
    )


def response(
    writer: WARCWriter,
    url: str,
    body: bytes,
    status: str = "200 OK",
    content_type: str = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Any:
    http = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
    warc_headers = {"WARC-Date": FETCHED, **(headers or {})}
    return writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        http_headers=http,
        warc_headers_dict=warc_headers,
    )


def write_warc(path: Path, pages: int = 3, gzipped: bool = True, extras: bool = True) -> Path:
    """A crawl's WARC: warcinfo, then per page a request and its response; with `extras`
    a 404, an image, a DNS lookup, a metadata and a revisit record too."""
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=gzipped)
        # Record ids and dates of its own, not warcio's random uuids and the clock's time:
        # the same bytes each run, so the tests that cut the file every 23 bytes cut it at
        # the same places (a cut that failed came once in a few runs, and not again).
        ids = (f"<urn:uuid:{uuid.UUID(int=number)}>" for number in itertools.count(1))
        writer._make_warc_id = lambda: next(ids)  # type: ignore[method-assign]
        writer.curr_warc_date = lambda: FETCHED  # type: ignore[method-assign]
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        for number in range(pages):
            url = f"https://news.example.org/story/{number}"
            request = StatusAndHeaders(f"GET /story/{number} HTTP/1.1", [], is_http_request=True)
            writer.write_record(writer.create_warc_record(url, "request", http_headers=request))
            writer.write_record(response(writer, url, page(number).encode()))
        if extras:
            missing = "https://news.example.org/gone"
            writer.write_record(
                response(writer, missing, b"<html>Not here</html>", "404 Not Found")
            )
            image = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
            writer.write_record(
                response(writer, "https://news.example.org/a.png", image, content_type="image/png")
            )
            dns = writer.create_warc_record(
                "dns:news.example.org",
                "response",
                payload=io.BytesIO(b"1.2.3.4"),
                warc_content_type="text/dns",
            )
            writer.write_record(dns)
            meta = writer.create_warc_record(
                "https://news.example.org/story/0",
                "metadata",
                payload=io.BytesIO(b"outlinks: 3"),
                warc_content_type="application/warc-fields",
            )
            writer.write_record(meta)
            revisit = writer.create_revisit_record(
                "https://news.example.org/story/0",
                "sha1:AAAA",
                "https://news.example.org/story/0",
                FETCHED,
            )
            writer.write_record(revisit)
    return path


def items_of(path: Path, start: int = 0, end: int = 0, limit: int = 10 << 20) -> list[Any]:
    with path.open("rb") as raw:
        raw.seek(start)
        return list(warc.read_records(raw, str(path), path.name.endswith(".gz"), start, end, limit))


# --- Pure helpers -----------------------------------------------------------------------


def test_charset_and_html_type_come_from_the_http_header() -> None:
    assert warc.http_charset('text/html; charset="Windows-1251"') == "windows-1251"
    assert warc.http_charset("text/html") is None
    assert warc.is_html("text/html; charset=utf-8", b"")
    assert warc.is_html("application/xhtml+xml", b"")
    assert not warc.is_html("image/png", b"<html>")
    assert warc.is_html("", b"  <!DOCTYPE html><html>")  # untyped: the bytes say
    assert not warc.is_html("application/octet-stream", b"PK\x03\x04")


def test_payload_is_decoded_by_the_http_charset() -> None:
    russian = "<html><head><meta charset='iso-8859-1'></head><body>Москва</body></html>"
    payload = russian.encode("cp1251")
    assert warc.as_utf8(payload, "windows-1251") == russian.encode("utf-8")
    # Latin-1 is windows-1252 as browsers read it: a curly quote stays one.
    assert (
        warc.as_utf8("\u201cso\u201d".encode("cp1252"), "iso-8859-1") == "\u201cso\u201d".encode()
    )
    # Valid UTF-8 is kept whatever the header says; an unknown charset changes nothing.
    assert warc.as_utf8("Zürich".encode(), "iso-8859-1") == "Zürich".encode()
    assert warc.as_utf8(payload, "no-such-charset") == payload
    assert warc.as_utf8(payload, None) == payload


def test_warc_date_and_target_uri() -> None:
    assert warc.warc_date("2024-05-14T12:00:00Z") == dt.datetime(2024, 5, 14, 12, tzinfo=dt.UTC)
    assert warc.warc_date("2024-05-14T12:00:00.123456Z").microsecond == 123456
    assert warc.warc_date("yesterday") is None
    assert warc.target_uri("<https://a.example/x>") == "https://a.example/x"


def test_plan_parts_splits_only_record_gzipped_files() -> None:
    assert warc.plan_parts(100, True, 40) == [(0, 40), (40, 80), (80, 0)]
    assert warc.plan_parts(100, False, 40) == [(0, 0)]
    assert warc.plan_parts(40, True, 40) == [(0, 0)]


def test_gzipped_per_record_and_record_start(tmp_path: Path) -> None:
    per_record = write_warc(tmp_path / "a.warc.gz", pages=4)
    data = per_record.read_bytes()
    assert warc.gzipped_per_record(data[:4096])
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(write_warc(tmp_path / "p.warc", gzipped=False).read_bytes()))
    assert not warc.gzipped_per_record(whole.read_bytes())
    starts = [
        int(item.source.rsplit("#", 1)[1])
        for item in items_of(per_record)
        if not isinstance(item, warc.Skipped)
    ]
    # From inside the first response's member: the next record's member (a request).
    with per_record.open("rb") as handle:
        handle.seek(starts[0] + 1)
        found = warc.record_start(handle, starts[0] + 1, 0)
    assert found is not None and starts[0] < found < starts[1]
    with per_record.open("rb") as handle:
        handle.seek(starts[0] + 1)
        assert warc.record_start(handle, starts[0] + 1, starts[0] + 2) is None


# --- Reading records --------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [True, False])
def test_each_response_is_one_input_and_other_records_are_skipped(
    tmp_path: Path, gzipped: bool
) -> None:
    path = write_warc(tmp_path / ("crawl.warc.gz" if gzipped else "crawl.warc"), gzipped=gzipped)
    items = items_of(path)
    skipped = sorted(item.kind for item in items if isinstance(item, warc.Skipped))
    assert skipped == [
        "metadata",
        "non_http",
        "request",
        "request",
        "request",
        "revisit",
        "warcinfo",
    ]
    pages = [item for item in items if isinstance(item, RawDocument)]
    assert [doc.url for doc in pages] == [f"https://news.example.org/story/{n}" for n in range(3)]
    assert all(doc.kind == "html" and doc.fetched_at == warc.warc_date(FETCHED) for doc in pages)
    rejected = {item.reason: item.detail for item in items if isinstance(item, warc.Rejection)}
    assert rejected == {
        "http_error": "HTTP 404 Not Found: https://news.example.org/gone",
        "not_html": "image/png, not an HTML page: https://news.example.org/a.png",
    }
    # Sources name the record's offset: reading there gives that very record.
    with path.open("rb") as handle:
        offset = int(pages[1].source.rsplit("#", 1)[1])
        handle.seek(offset)
        again = list(warc.read_records(handle, str(path), gzipped, offset, 0, 10 << 20))
    assert [item for item in again if isinstance(item, RawDocument)][0] == pages[1]


def test_crawler_truncation_too_large_and_empty_pages(tmp_path: Path) -> None:
    path = tmp_path / "cut.warc.gz"
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        cut = {"WARC-Truncated": "length"}
        writer.write_record(response(writer, "https://a.example/1", page(1).encode(), headers=cut))
        writer.write_record(response(writer, "https://a.example/2", b"<html>" + b"x" * 5000))
        writer.write_record(response(writer, "https://a.example/3", b"  "))
    items = items_of(path, limit=4000)
    assert isinstance(items[0], RawDocument)
    assert items[0].truncated.startswith("WARC-Truncated: length: the crawler kept the first")
    assert [(item.reason) for item in items[1:]] == ["too_large", "empty"]


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_file_cut_short_keeps_the_records_before_the_cut(tmp_path: Path, gzipped: bool) -> None:
    whole = write_warc(tmp_path / ("w.warc.gz" if gzipped else "w.warc"), pages=4, extras=False)
    items = items_of(whole)
    last = [item for item in items if isinstance(item, RawDocument)][-1]
    last_start = int(last.source.rsplit("#", 1)[1])
    cut = tmp_path / ("cut.warc.gz" if gzipped else "cut.warc")
    cut.write_bytes(whole.read_bytes()[: last_start + 200])  # inside the last response
    read = items_of(cut)
    pages = [item for item in read if isinstance(item, RawDocument)]
    before = [item for item in items if isinstance(item, RawDocument)][:-1]
    assert [(doc.url, doc.content) for doc in pages] == [(doc.url, doc.content) for doc in before]
    rows = [item for item in read if isinstance(item, warc.Rejection)]
    assert len(rows) == 1 and rows[0].reason == "truncated", rows
    assert rows[0].source == f"{cut}#{last_start}-"
    assert f"records from byte {last_start} not read" in rows[0].detail


@pytest.mark.parametrize("gzipped", [True, False])
def test_wherever_a_file_is_cut_no_response_before_the_cut_is_lost(
    tmp_path: Path, gzipped: bool
) -> None:
    """Each response that starts before the cut is a page or inside the one damage row."""
    path = write_warc(tmp_path / ("w.warc.gz" if gzipped else "w.warc"), pages=3, gzipped=gzipped)
    data = path.read_bytes()
    whole = [item for item in items_of(path) if not isinstance(item, warc.Skipped)]
    starts = {int(item.source.rsplit("#", 1)[1]): item for item in whole}
    for cut in range(1, len(data), 23):
        with io.BytesIO(data[:cut]) as raw:
            items = list(warc.read_records(raw, str(path), gzipped, 0, 0, 10 << 20))
        read = {int(i.source.rsplit("#", 1)[1]): i for i in items if isinstance(i, RawDocument)}
        rows = {i.source.rsplit("#", 1)[1] for i in items if isinstance(i, warc.Rejection)}
        damage = [i for i in items if isinstance(i, warc.Rejection) and i.source.endswith("-")]
        assert len(damage) <= 1, (cut, damage)
        damaged_from = int(damage[0].source[:-1].rsplit("#", 1)[1]) if damage else len(data)
        for start, item in starts.items():
            if start >= cut:
                continue
            if start in read:
                assert read[start].content == item.content, cut
            elif str(start) in rows:
                continue  # rejected as it was whole (the 404, the image)
            else:
                assert damaged_from <= start, (cut, start, items)


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_file_cut_inside_the_content_length_header_is_truncated(
    tmp_path: Path, gzipped: bool
) -> None:
    """Cut right after "Content-Length: ", warcio reads the empty length as a block of 0
    bytes and the response as one without HTTP headers: it was a silent skip (no row), so
    the test above failed in about one run of two, the records' ids and so their cut
    points being random. It is `truncated` there, and at each byte of that header line."""
    whole = write_warc(tmp_path / ("w.warc.gz" if gzipped else "w.warc"), gzipped=gzipped)
    data = whole.read_bytes()
    missing = next(
        int(i.source.rsplit("#", 1)[1])
        for i in items_of(whole)
        if isinstance(i, warc.Rejection) and "/gone" in i.detail
    )
    member = gzip.decompress(data[missing:])[:4096] if gzipped else data[missing:]
    line = member.index(b"Content-Length: ")
    cut_file = tmp_path / ("cut.warc.gz" if gzipped else "cut.warc")
    for into in range(line + len(b"Content-Length"), line + len(b"Content-Length: ") + 1):
        if gzipped:  # the member's deflate stream flushed at that byte, as a cut file is
            packer = zlib.compressobj(wbits=31)
            cut = packer.compress(member[:into]) + packer.flush(zlib.Z_SYNC_FLUSH)
            cut_file.write_bytes(data[:missing] + cut)
        else:
            cut_file.write_bytes(data[: missing + into])
        rows = [i for i in items_of(cut_file) if isinstance(i, warc.Rejection)]
        assert [(row.reason, row.source) for row in rows] == [
            ("truncated", f"{cut_file}#{missing}-")
        ], (into, rows)


def record_starts(path: Path) -> list[int]:
    """Where each record of a WARC file starts (warcio's own offsets)."""
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as handle:
        records = ArchiveIterator(handle)
        return [records.get_record_offset() for _ in records]


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_file_cut_inside_a_record_header_is_truncated(tmp_path: Path, gzipped: bool) -> None:
    """warcio fails on a header cut short with an AttributeError ('NoneType' object has no
    attribute 'startswith'), "Invalid WARC record" or a gzip error: that was `unreadable`,
    with warcio's words. The file ends there: it is `truncated`, and says so."""
    whole = write_warc(tmp_path / ("w.warc.gz" if gzipped else "w.warc"), gzipped=gzipped)
    data = whole.read_bytes()
    starts = record_starts(whole)
    inputs = {
        int(i.source.rsplit("#", 1)[1]) for i in items_of(whole) if not isinstance(i, warc.Skipped)
    }
    cut_file = tmp_path / ("cut.warc.gz" if gzipped else "cut.warc")
    for start in starts:
        header_end = gzip.decompress(data[start:]) if gzipped else data[start:]
        header_bytes = header_end.find(b"\r\n\r\n")
        # inside the gzip header, the first deflate bytes; the WARC/ line, a header line
        into = (1, 3, 12, 30) if gzipped else (1, 4, 30, header_bytes // 2)
        for cut in (start + n for n in into):
            cut_file.write_bytes(data[:cut])
            read = items_of(cut_file)
            rows = [i for i in read if isinstance(i, warc.Rejection) and i.source.endswith("-")]
            assert [(row.reason, row.source) for row in rows] == [
                ("truncated", f"{cut_file}#{start}-")
            ], (start, cut, rows)
            assert "the file is cut short" in rows[0].detail, rows[0].detail
            assert "Error" not in rows[0].detail, rows[0].detail
            read_before = {
                int(i.source.rsplit("#", 1)[1].rstrip("-"))
                for i in read
                if not isinstance(i, warc.Skipped)
            }
            assert read_before - {start} == {offset for offset in inputs if offset < start}


def test_cut_inside_record_tells_a_cut_from_bytes_that_are_no_record() -> None:
    record = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 10\r\n\r\n0123456789\r\n\r\n"
    assert all(warc.cut_inside_record(record[:n], False) for n in range(1, len(record) - 4))
    assert not warc.cut_inside_record(record, False)  # whole: not cut
    assert not warc.cut_inside_record(b"\x00\x00WARC/1.0\r\n", False)
    assert not warc.cut_inside_record(b"<html><body>", False)
    member = gzip.compress(record)
    # (up to its last deflate bytes: with only the trailer cut, all its content is there)
    assert all(warc.cut_inside_record(member[:n], True) for n in range(1, len(member) - 10))
    assert not warc.cut_inside_record(member, True)  # a whole member
    damaged = member[:12] + b"\x00" * 8 + member[20:]
    assert not warc.cut_inside_record(damaged[:-8], True)


@pytest.mark.parametrize("gzipped", [True, False])
def test_damage_anywhere_in_a_header_is_unreadable_and_says_where(
    tmp_path: Path, gzipped: bool
) -> None:
    """Bytes that are no record, with the file going on after them, are damage, not a cut,
    wherever they are (the first record too: a small file whose first member is damaged
    is read as one gzip stream), and the row says where in words, not warcio's."""
    whole = write_warc(tmp_path / ("w.warc.gz" if gzipped else "w.warc"), gzipped=gzipped)
    data = whole.read_bytes()
    damaged = tmp_path / ("d.warc.gz" if gzipped else "d.warc")
    for start in record_starts(whole)[:4]:
        spoilt = bytearray(data)
        spoilt[start : start + 16] = b"garbage here\r\n\r\n"
        damaged.write_bytes(bytes(spoilt))
        rows = [
            i for i in items_of(damaged) if isinstance(i, warc.Rejection) and i.source.endswith("-")
        ]
        assert [row.reason for row in rows] == ["unreadable"], (start, rows)
        assert rows[0].detail.startswith("the file is damaged: no WARC record at byte "), rows


@pytest.mark.parametrize("spoil", [b"garbage here\r\n\r\n", b"\x00" * 40])
def test_a_plain_header_damaged_is_unreadable_not_cut_nor_skipped(
    tmp_path: Path, spoil: bytes
) -> None:
    """A blank line inside a plain record's header ended it before its Content-Length: its
    block ran to the file's end, a `truncated` row ("the None record"). Zeros over its
    WARC-Type line made it an `unknown` record, skipped: a response lost with no row.
    Both fields are mandatory: either missing is damage, unless the file ends there."""
    whole = write_warc(tmp_path / "w.warc", pages=3, gzipped=False)
    data = whole.read_bytes()
    pages = [item for item in items_of(whole) if isinstance(item, RawDocument)]
    second = int(pages[1].source.rsplit("#", 1)[1])
    spoilt = bytearray(data)
    spoilt[second + 10 : second + 10 + len(spoil)] = spoil  # over "WARC-Type: response"
    damaged = tmp_path / "d.warc"
    damaged.write_bytes(bytes(spoilt))
    read = items_of(damaged)
    assert [doc.url for doc in read if isinstance(doc, RawDocument)] == [pages[0].url]
    assert not [item for item in read if isinstance(item, warc.Skipped) and item.kind == "unknown"]
    rows = [item for item in read if isinstance(item, warc.Rejection)]
    assert [(row.reason, row.source) for row in rows] == [("unreadable", f"{damaged}#{second}-")]
    assert "a record header with no WARC-Type or Content-Length" in rows[0].detail


def test_damage_in_the_middle_keeps_what_is_before_it(tmp_path: Path) -> None:
    whole = write_warc(tmp_path / "w.warc.gz", pages=4, extras=False)
    pages = [item for item in items_of(whole) if isinstance(item, RawDocument)]
    second = int(pages[1].source.rsplit("#", 1)[1])
    data = bytearray(whole.read_bytes())
    data[second : second + 40] = b"\x00" * 40  # the second response's gzip header and more
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(bytes(data))
    read = items_of(damaged)
    kept = [item for item in read if isinstance(item, RawDocument)]
    assert [doc.url for doc in kept] == [pages[0].url]
    rows = [item for item in read if isinstance(item, warc.Rejection)]
    assert len(rows) == 1 and rows[0].reason == "unreadable"
    assert rows[0].source == f"{damaged}#{second}-"


def test_a_warc_gzipped_as_one_stream_is_read_whole(tmp_path: Path) -> None:
    plain = write_warc(tmp_path / "p.warc", gzipped=False)
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(plain.read_bytes()))
    pages = [item for item in items_of(whole) if isinstance(item, RawDocument)]
    assert [doc.content for doc in pages] == [
        item.content for item in items_of(plain) if isinstance(item, RawDocument)
    ]


_FUNDUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pages" / "fundus-test-pages"
# Real pages of ../shared (a lab's crawl of three outlets), with the URLs they were fetched at.
_REAL_PAGES = ("de/ZDF_2024_04_22", "be/PoliticoEu_2025_10_23", "jp/AsahiShimbun_2025_01_13")


def real_pages() -> list[tuple[str, bytes]]:
    """(url, HTML) of real news pages: ../shared's, or the seeds' pages where ../shared is
    not beside the clone (a user's)."""
    if not _FUNDUS.is_dir():
        return [(f"https://news.example.org/story/{n}", page(n).encode()) for n in range(3)]
    pages = []
    for name in _REAL_PAGES:
        folder, stem = name.split("/")
        meta = json.loads((_FUNDUS / folder / "meta.info").read_text())
        url = meta[f"{stem}.html.gz"]["url"]
        pages.append((url, gzip.decompress((_FUNDUS / f"{name}.html.gz").read_bytes())))
    return pages


def write_crawl(path: Path, pages: list[tuple[str, bytes]], gzipped: bool = True) -> Path:
    """A WARC/1.1 crawl as wget or browsertrix write one: each page first asked for at an
    old address, which redirects (301, a relative Location) to the page; the page's
    response; then a second fetch of the first page, deduplicated as a revisit."""
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=gzipped, warc_version="WARC/1.1")
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "wget"}))
        for url, html in pages:
            path_only = "/" + url.split("/", 3)[3]
            old = url.split("?")[0] + "-old"
            moved = StatusAndHeaders(
                "301 Moved Permanently",
                [("Location", path_only), ("Content-Type", "text/html")],
                protocol="HTTP/1.1",
            )
            writer.write_record(
                writer.create_warc_record(
                    old,
                    "response",
                    payload=io.BytesIO(b"<html><body>Moved</body></html>"),
                    http_headers=moved,
                    warc_headers_dict={"WARC-Date": FETCHED},
                )
            )
            writer.write_record(response(writer, url, html))
        first = writer.create_revisit_record(
            pages[0][0], "sha1:AAAA", pages[0][0], FETCHED, http_headers=None
        )
        first.rec_headers.replace_header(
            "WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
        )
        writer.write_record(first)
    return path


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_redirect_is_a_row_naming_its_target_and_a_revisit_is_counted(
    tmp_path: Path, gzipped: bool
) -> None:
    """A 3xx was `http_error` ("HTTP 301 Moved Permanently: <url>"): it is a hop, whose
    target the crawl holds as a response of its own; its row says where it leads."""
    pages = real_pages()
    path = write_crawl(tmp_path / ("c.warc.gz" if gzipped else "c.warc"), pages, gzipped)
    items = items_of(path)
    assert [doc.url for doc in items if isinstance(doc, RawDocument)] == [u for u, _ in pages]
    rows = [item for item in items if isinstance(item, warc.Rejection)]
    assert [row.reason for row in rows] == ["redirect"] * len(pages)
    for row, (url, _) in zip(rows, pages, strict=True):
        old = url.split("?")[0] + "-old"
        assert row.detail == f"HTTP 301 Moved Permanently: redirect to {url} (from {old})"
    skipped = sorted(item.kind for item in items if isinstance(item, warc.Skipped))
    assert skipped == ["revisit", "warcinfo"]


def test_a_redirect_without_location_is_an_http_error() -> None:
    moved = warc.Response("w#0", "https://a.example/x", None, 302, "302 Found", "", b"", "")
    assert warc.response_input(moved, 100) == warc.Rejection(
        "w#0",
        "http_error",
        "HTTP 302 Found: redirect without a Location header: https://a.example/x",
        b"",
    )
    found = moved._replace(location="../y?z=1")
    assert warc.response_input(found, 100).detail == (
        "HTTP 302 Found: redirect to https://a.example/y?z=1 (from https://a.example/x)"
    )


def test_a_page_gives_the_same_article_as_a_file_and_inside_a_warc(tmp_path: Path) -> None:
    """Real pages, as HTML files and as WARC response records: the same text, title,
    authors, date and language; the WARC's page has its fetched URL where the page names
    none."""
    from newsbeam.transforms.extract import ExtractConfig, extract_html_document

    pages = real_pages()
    path = write_crawl(tmp_path / "c.warc.gz", pages)
    from_warc = [item for item in items_of(path) if isinstance(item, RawDocument)]
    assert len(from_warc) == len(pages)
    config = ExtractConfig()
    fields = ("text", "title", "authors", "published_at", "published_precision", "removed")
    for (url, html), doc in zip(pages, from_warc, strict=True):
        as_file = extract_html_document(RawDocument("p.html", "html", html), config)
        in_warc = extract_html_document(doc, config)
        assert [getattr(in_warc, f) for f in fields] == [getattr(as_file, f) for f in fields]
        assert in_warc.url == (as_file.url or url)


# --- The read stage: parts spread over workers ------------------------------------------


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_large_warc_read_in_parts_gives_every_record_once(tmp_path: Path, gzipped: bool) -> None:
    """A plain `.warc` was read whole by one worker: it is split at records too."""
    name = "big.warc.gz" if gzipped else "big.warc"
    path = write_warc(tmp_path / name, pages=30, gzipped=gzipped)
    expected = sorted(item.source for item in items_of(path) if not isinstance(item, warc.Skipped))
    part_bytes = 2000  # ~3 records a part: parts start inside members, and end inside them
    assert path.stat().st_size > 10 * part_bytes
    pipeline = make_test_pipeline()
    with pipeline as p:
        documents, rejected = p | ReadDocuments(
            [str(tmp_path)], ReadConfig(warc_part_bytes=part_bytes)
        )
        sources = (
            (documents | "DocSources" >> beam.Map(lambda d: d.source)),
            (rejected | "RejectedSources" >> beam.Map(lambda r: r.source)),
        ) | beam.Flatten()
        assert_that(sources, equal_to(expected))
    counters = counters_of(pipeline)
    assert counters["read_inputs"] == len(expected) == 32
    assert counters["read_warc_split_files"] == 1
    assert counters["read_warc_skipped_request"] == 30


def test_plain_parts_start_at_records_and_stop_at_damage(tmp_path: Path) -> None:
    path = write_warc(tmp_path / "p.warc", pages=6, gzipped=False)
    starts, data = record_starts(path), path.read_bytes()
    with path.open("rb") as handle:
        parts = warc.plain_parts(handle, len(data), 3000)
    assert len(parts) > 3 and parts[0][0] == 0 and parts[-1][1] == 0
    assert all(start in starts for start, _ in parts)
    assert [end for _, end in parts[:-1]] == [start for start, _ in parts[1:]]
    assert all(b - a >= 3000 for a, b in parts[:-1])
    with path.open("rb") as handle:
        assert warc.plain_parts(handle, len(data), len(data)) == [(0, 0)]
    # Damage in a header: no part starts past it (the last part's reader finds it).
    spoilt = bytearray(data)
    spoilt[starts[5] : starts[5] + 5] = b"XXXXX"
    damaged = tmp_path / "d.warc"
    damaged.write_bytes(bytes(spoilt))
    with damaged.open("rb") as handle:
        cut_parts = warc.plain_parts(handle, len(data), 3000)
    assert cut_parts[-1][0] < starts[5] and cut_parts[:-1] == parts[: len(cut_parts) - 1]
    pieces = [items_of(damaged, start, end) for start, end in cut_parts]
    whole = items_of(damaged)
    assert [item for piece in pieces for item in piece] == whole
    assert whole[-1].reason == "unreadable" and whole[-1].source == f"{damaged}#{starts[5]}-"


def test_a_warc_with_no_response_is_one_empty_row(tmp_path: Path) -> None:
    path = tmp_path / "info.warc.gz"
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
    pipeline = make_test_pipeline()
    with pipeline as p:
        documents, rejected = p | ReadDocuments([str(path)])
        assert_that(documents, equal_to([]), label="NoDocuments")
        assert_that(
            rejected | beam.Map(lambda r: (r.source, r.reason, r.detail)),
            equal_to(
                [(str(path), "empty", "no HTTP response record in the WARC file (1 warcinfo)")]
            ),
        )


# --- The command, end to end ------------------------------------------------------------


def test_newsbeam_reads_a_crawl_folder_of_warc_files(tmp_path: Path) -> None:
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    write_warc(crawl / "a.warc.gz", pages=3)
    write_warc(crawl / "b.warc", pages=2, gzipped=False, extras=False)
    # A page whose charset only the HTTP header names right (its meta says Latin-1) and
    # whose byline is relative to the fetch; and a cut-off file.
    with (crawl / "c.warc.gz").open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        russian = (
            "<!DOCTYPE html><html><head><meta charset='iso-8859-1'><title>Москва</title></head>"
            "<body><article><h1>Москва</h1><span class='date'>2 hours ago</span>"
            + "".join(
                f"<p>Городской совет утвердил новый бюджет, абзац {n}, после долгих "
                "обсуждений финансирования школ и транспорта.</p>"
                for n in range(6)
            )
            + "</article></body></html>"
        )
        writer.write_record(
            response(
                writer,
                "https://ru.example.net/moskva",
                russian.encode("cp1251"),
                content_type="text/html; charset=windows-1251",
            )
        )
    whole = write_warc(tmp_path / "d.warc.gz", pages=2, extras=False).read_bytes()
    (crawl / "d.warc.gz").write_bytes(whole[: len(whole) - 150])
    out = tmp_path / "out"
    result = newsbeam_command("--input", str(crawl), "--output", str(out), tmpdir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    def rows(table: str, columns: str) -> list[tuple[Any, ...]]:
        return duckdb.sql(f"SELECT {columns} FROM {table_sql(out, table)} ORDER BY 1").fetchall()

    articles = rows("articles", "url, title, published_at, source, text")
    duplicates = rows("duplicates", "source")
    rejected = rows("rejected", "source, reason")
    manifest = json.loads(next((out / "_runs").glob("*.json")).read_text())
    inputs = manifest["counters"]["read_inputs"]
    assert manifest["counts"]["balanced"] and manifest["counts"]["inputs"] == inputs
    # a: 3 pages, a 404 and an image; b: 2 pages; c: 1 page; d: 1 page, then the cut.
    assert inputs == 5 + 2 + 1 + 2 == len(articles) + len(duplicates) + len(rejected)
    reasons = sorted(reason for _, reason in rejected)
    assert reasons == ["http_error", "not_html", "truncated"]
    moskva = next(row for row in articles if row[0] == "https://ru.example.net/moskva")
    assert moskva[1] == "Москва" and "Городской совет" in moskva[4]
    assert moskva[2] == dt.datetime(2024, 5, 14, 10, tzinfo=dt.UTC)  # 2 hours before the fetch
    urls = {row[0] for row in articles} | {
        row[0] for row in duckdb.sql(f"SELECT url FROM {table_sql(out, 'duplicates')}").fetchall()
    }
    assert "https://news.example.org/story/2" in urls
    assert all("#" in row[3] for row in articles)

    # The same records read again: the same ids.
    again = tmp_path / "again"
    result = newsbeam_command("--input", str(crawl), "--output", str(again), tmpdir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ids = "SELECT article_id, source FROM {} ORDER BY 2"
    assert (
        duckdb.sql(ids.format(table_sql(out, "articles"))).fetchall()
        == duckdb.sql(ids.format(table_sql(again, "articles"))).fetchall()
    )


def test_newsbeam_on_a_crawl_with_redirects_and_revisits(tmp_path: Path) -> None:
    """A lab's own crawl (WARC/1.1, gzipped and not; redirects, a revisit, a file cut
    inside a record's header): every response record is one row, the redirects name
    their targets, the revisits are said in the summary, the cut is `truncated`."""
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    pages = real_pages()
    write_crawl(crawl / "a.warc.gz", pages)
    write_crawl(crawl / "b.warc", pages[:1], gzipped=False)
    whole = write_warc(tmp_path / "c.warc.gz", pages=2, extras=False)
    last = record_starts(whole)[-1]
    (crawl / "c.warc.gz").write_bytes(whole.read_bytes()[: last + 30])  # inside its header
    out = tmp_path / "out"
    result = newsbeam_command("--input", str(crawl), "--output", str(out), tmpdir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads(next((out / "_runs").glob("*.json")).read_text())
    counts, counters = manifest["counts"], manifest["counters"]
    # a: 3 redirects, 3 pages; b: 1 and 1; c: 1 page, then the cut (its last response).
    assert counts["balanced"] and counts["inputs"] == 6 + 2 + 2
    assert counters["read_warc_skipped_revisit"] == 2
    assert "skipped     2 WARC revisit records" in result.stdout
    rejected = duckdb.sql(
        f"SELECT reason, detail FROM {table_sql(out, 'rejected')} ORDER BY 1, 2"
    ).fetchall()
    assert [reason for reason, _ in rejected] == ["redirect"] * 4 + ["truncated"]
    assert all(
        detail.startswith("HTTP 301 Moved Permanently: redirect to https://")
        for _, detail in rejected[:4]
    )
    assert any(f"redirect to {pages[0][0]} (from " in detail for _, detail in rejected)
    assert "ends inside the record at byte" in rejected[4][1]
    kept = [
        duckdb.sql(f"SELECT count(*) FROM {table_sql(out, table)}").fetchall()[0][0]
        for table in ("articles", "duplicates")
    ]
    assert sum(kept) == 3 + 1 + 1  # b's page is a's first page again: a duplicate


def test_a_watched_warc_file_is_read_whole_by_the_file_reader(tmp_path: Path) -> None:
    """Streaming's WatchInputs reads a WARC file with the file reader, as one part."""
    from newsbeam.transforms.read import _ReadFile, listed_file

    path = write_warc(tmp_path / "w.warc.gz", pages=2)
    outputs = list(_ReadFile(ReadConfig()).process(listed_file(str(path), path.stat().st_size)))
    pages = [item for item in outputs if isinstance(item, RawDocument)]
    rejected = sorted(item.value.reason for item in outputs if not isinstance(item, RawDocument))
    assert [doc.url for doc in pages] == [f"https://news.example.org/story/{n}" for n in range(2)]
    assert rejected == ["http_error", "not_html"]


def test_a_watched_warc_file_goes_on_page_by_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--streaming's WatchInputs read a WARC file under the wrapper that holds an element's
    outputs until it ends: every page of the file in memory at once (a 100 MB `.warc.gz` of
    1,706 real pages: peak RSS 719 MB, 226 MB now). Its first page now goes on before the
    second record is read."""
    import time

    from newsbeam.transforms.read import WatchInputs, _ReadFilesAndWarcParts, listed_file

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = write_crawl(inbox / "c.warc.gz", real_pages())
    produced = []
    read_records = warc.read_records

    def counted(*args: Any) -> Any:
        for item in read_records(*args):
            produced.append(item)
            yield item

    monkeypatch.setattr(warc, "read_records", counted)
    outputs = _ReadFilesAndWarcParts(ReadConfig()).process(
        listed_file(str(path), path.stat().st_size)
    )
    first = next(item for item in outputs if isinstance(item, RawDocument))
    assert first.url == real_pages()[0][0]
    assert len(produced) == 3  # warcinfo, the redirect, the page: no more yet
    rest = list(outputs)
    assert len(produced) == 3 + 2 * (len(real_pages()) - 1) + 1
    assert sum(isinstance(item, RawDocument) for item in rest) == len(real_pages()) - 1

    monkeypatch.setattr(warc, "read_records", read_records)
    pipeline = beam.Pipeline(runner="FnApiRunner")
    documents, rejected = pipeline | WatchInputs(
        [str(inbox)], poll_seconds=1, stop_at=time.time() + 2
    )
    assert_that(
        documents | beam.Map(lambda d: d.url), equal_to([u for u, _ in real_pages()]), "Pages"
    )
    assert_that(rejected | beam.Map(lambda r: r.reason), equal_to(["redirect"] * 3), "Redirects")
    pipeline.run().wait_until_finish()


def test_warc_steps_are_built_only_where_an_input_may_be_a_warc(
    tmp_path: Path, seeds_dir: Path
) -> None:
    """A run of pages keeps its graph; with WARC files, the parts join the files before the
    read step, never the pages after it (a Flatten of the pages held them all between two
    fused stages on the FnApiRunner: 3.8 GB of memory for 786 MB of pages)."""
    from newsbeam.transforms.feeds.config import FeedsConfig
    from newsbeam.transforms.read import may_hold_warc
    from tests.test_fixed_cost import _transform_names

    names = _transform_names(tmp_path, seeds_dir, FeedsConfig())
    assert not [n for n in names if "Warc" in n]
    assert not may_hold_warc([str(seeds_dir)])
    crawl = tmp_path / "crawl"
    shutil.copytree(seeds_dir, crawl)
    write_warc(crawl / "CC-NEWS-20240101000000-00001.warc.gz")
    assert may_hold_warc([str(crawl)]) and may_hold_warc(["s3://bucket/crawl/"])
    names = _transform_names(tmp_path, crawl, FeedsConfig())
    assert "Read/SplitWarc" in names and "Read/FilesAndWarcParts" in names
    read_steps = [n for n in names if n.startswith("Read/") and n.count("/") == 1]
    assert sorted(read_steps).count("Read/ReadFiles") == 1


def test_a_warc_file_counts_its_pages_for_the_local_workers(tmp_path: Path) -> None:
    """One large WARC file was one input file to the local workers' rule (50 files start
    worker processes): a 1 GB CC-NEWS file ran in one process, its parts never spread."""
    from newsbeam.pipeline import workers

    crawl = tmp_path / "crawl"
    crawl.mkdir()
    (crawl / "page.html").write_text("<html><body><p>One page.</p></body></html>")
    (crawl / "a.warc.gz").write_bytes(b"\x1f\x8b\x08" + bytes(64 * 1024 * 60))  # ~60 pages
    (crawl / "b.warc").write_bytes(bytes(256 * 1024 * 2))  # ~2 pages
    assert workers.count_inputs([str(crawl)], limit=1000) == 1 + 60 + 2
    assert workers.count_inputs([str(crawl)]) == workers.MIN_INPUTS  # enough for workers
    assert workers.count_documents([str(crawl)], 1000) == 63
