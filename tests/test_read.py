"""Stage: read. Matching inputs and reading files, bad ones included."""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.transforms.read import (
    FEED_CANDIDATE,
    ReadConfig,
    ReadDocuments,
    as_pattern,
    kind_of,
    sniff_binary,
)
from tests.helpers import counters_of, make_test_pipeline


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("a/b.txt", "text"),
        ("b.MD", "text"),
        ("page.html", "html"),
        ("page.HTM", "html"),
        ("page.html.gz", "html"),
        ("r.jsonl", "jsonl"),
        ("r.jsonl.gz", "jsonl"),
        ("x.png", None),
        ("noext", FEED_CANDIDATE),  # read, then kept only when its content is a feed
        ("feed.XML", FEED_CANDIDATE),
        ("a.rss", FEED_CANDIDATE),
        ("list.opml", FEED_CANDIDATE),
        ("feed.json.gz", FEED_CANDIDATE),
        ("dir.d/noext", FEED_CANDIDATE),
    ],
)
def test_kind_of(path: str, kind: str | None) -> None:
    assert kind_of(path) == kind


def test_as_pattern_reads_directories_recursively(tmp_path: Path) -> None:
    assert as_pattern(str(tmp_path)) == f"{tmp_path}/**"
    assert as_pattern("gs://bucket/news/") == "gs://bucket/news/**"
    assert as_pattern(str(tmp_path / "*.txt")) == f"{tmp_path}/*.txt"


def test_sniff_binary() -> None:
    assert sniff_binary(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert not sniff_binary("plain text é".encode())
    assert not sniff_binary("UTF-16 with BOM".encode("utf-16"))
    assert not sniff_binary("UTF-16 without a BOM, mostly ASCII".encode("utf-16-le"))


def _run(inputs: list[str], check_documents, check_rejected, config=None) -> dict[str, int]:
    """Run ReadDocuments with a check on each output; returns the counters."""
    with make_test_pipeline() as pipeline:
        documents, rejected = pipeline | ReadDocuments(inputs, config)
        assert_that(documents, check_documents, label="CheckDocuments")
        assert_that(rejected, check_rejected, label="CheckRejected")
    return counters_of(pipeline)


def test_reads_seeds_directory(seeds_dir: Path) -> None:
    names = sorted(p.name for p in seeds_dir.iterdir())

    def check_documents(documents: list) -> None:
        assert sorted(Path(d.source).name for d in documents) == names
        assert {d.kind for d in documents} == {"text"}
        assert all(d.content == Path(d.source).read_bytes() for d in documents)

    counters = _run([str(seeds_dir)], check_documents, equal_to([]))
    assert counters["read_inputs"] == 5


def test_same_file_named_twice_is_read_once(seeds_dir: Path) -> None:
    seed = sorted(seeds_dir.iterdir())[0]

    def check_documents(documents: list) -> None:
        assert len(documents) == 5

    counters = _run(
        [str(seed), str(seeds_dir), str(seeds_dir / "*.txt")], check_documents, equal_to([])
    )
    assert counters["read_inputs"] == 5


def test_bad_inputs_are_rejected_with_reasons(bad_inputs: dict[str, Path], tmp_path: Path) -> None:
    missing = str(tmp_path / "does-not-exist" / "*.txt")

    def check_rejected(rejected: list) -> None:
        reasons = {Path(r.source).name: r.reason for r in rejected}
        assert reasons == {
            "empty.txt": "empty",
            "blank.txt": "empty",
            "binary.txt": "binary",
            "huge.txt": "too_large",
            "bomb.html.gz": "too_large",
            "picture.png": "unsupported_type",
            "*.txt": "not_found",
            "pipe.txt": "unreadable",
        }
        assert all(r.stage == "read" and r.detail for r in rejected)

    def check_documents(documents: list) -> None:
        # JSON lines: one document per non-blank line; the blank line (L3) is no record.
        lines = sorted(d.source.rsplit("#", 1)[1] for d in documents if d.kind == "jsonl")
        assert lines == ["L1", "L2", "L4", "L5"]
        others = sorted(Path(d.source).name for d in documents if d.kind != "jsonl")
        assert others == ["good.html", "latin1.txt", "nav-only.html", "short.txt"]

    counters = _run([str(bad_inputs["empty"].parent), missing], check_documents, check_rejected)
    assert counters["read_inputs"] == 8 + 8
    assert counters["read_dropped_too_large"] == 2
    assert counters["read_dropped_empty"] == 2


def test_size_limit_is_configurable(seeds_dir: Path) -> None:
    def check_rejected(rejected: list) -> None:
        assert {Path(r.source).name[:3]: r.reason for r in rejected} == {
            "000": "too_large",  # the seeds over 2,200 bytes
            "002": "too_large",
            "004": "too_large",
        }

    def check_documents(documents: list) -> None:
        assert len(documents) == 2

    _run([str(seeds_dir)], check_documents, check_rejected, ReadConfig(max_document_bytes=2200))


def test_truncated_json_lines_keep_what_was_read(tmp_path: Path) -> None:
    import gzip

    lines = b"".join(b'{"text": "record %d with some words"}\n' % n for n in range(2000))
    packed = gzip.compress(lines)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])  # a download cut off half-way

    def check_documents(documents: list) -> None:
        # Beam decompresses 16 MiB at a time, so a small file fails before its first line;
        # whatever was read before the error stands, numbered from the start.
        numbers = sorted(int(d.source.rsplit("#L", 1)[1]) for d in documents)
        assert numbers == list(range(1, len(documents) + 1))

    def check_rejected(rejected: list) -> None:
        assert [(r.reason, "unreadable after line" in r.detail) for r in rejected] == [
            ("unreadable", True)
        ]
        assert rejected[0].source.startswith(str(path) + "#L")

    counters = _run([str(path)], check_documents, check_rejected)
    assert counters["read_dropped_unreadable"] == 1


def test_feeds_are_recognised_by_content(tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "rss-noext").write_bytes(b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>")
    (folder / "atom.xml.gz").write_bytes(
        gzip.compress(b"<feed xmlns='http://www.w3.org/2005/Atom'/>")
    )
    (folder / "list.opml").write_bytes(b"<opml version='2.0'><body/></opml>")
    (folder / "feed.json").write_bytes(
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}'
    )
    (folder / "data.json").write_bytes(b'{"not": "a feed"}')
    (folder / "sitemap.xml").write_bytes(b"<urlset><url/></urlset>")
    (folder / "image-noext").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "empty-noext").write_bytes(b"")

    def check_documents(documents: list) -> None:
        kinds = {Path(d.source).name: d.kind for d in documents}
        assert kinds == {
            "rss-noext": "feed",
            "atom.xml.gz": "feed",
            "list.opml": "opml",
            "feed.json": "feed",
        }

    def check_rejected(rejected: list) -> None:
        reasons = {Path(r.source).name: r.reason for r in rejected}
        assert reasons == dict.fromkeys(
            ["data.json", "sitemap.xml", "image-noext", "empty-noext"], "unsupported_type"
        )

    counters = _run([str(folder)], check_documents, check_rejected)
    # Feeds are not inputs themselves (their entries are, in the feed stage).
    assert counters["read_inputs"] == 4
