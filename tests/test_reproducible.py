"""Review 72: the same input gives the same rows on another machine and another day (a lab
that publishes datasets built with NewsBeam and rebuilds them elsewhere)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbeam.pipeline import main as entry
from newsbeam.pipeline.manifest import source_digest
from newsbeam.schemas import RawDocument
from newsbeam.transforms.extract import ExtractConfig, extract_document, parse_published
from tests.helpers import TOPIC_TEXTS, run_manifest, table_rows

UTC = dt.timezone.utc
_BODY = (
    "The harbour of the northern town reopened on Friday after two years of works, with a "
    "ceremony attended by the mayor, the port authority and hundreds of residents who came "
    "to see the first ferry dock at the new quay. "
)


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Sets the process's local zone (TZ, as another machine has it); restored after."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


def _run(inputs: Path, output: Path, *extra: str) -> list[dict]:
    assert entry.main(["--input", str(inputs), "--output", str(output), *extra]) == 0
    return table_rows(output, "articles")


def test_a_zone_name_is_read_the_same_whatever_the_machines_zone(machine_zone) -> None:  # type: ignore[no-untyped-def]
    """ "WIB" (western Indonesia, +7) is in no table of NewsBeam's: read as UTC, except on a
    machine whose own zone is named so, where dateutil read it in that zone, 7 hours off
    the other machines' value."""
    value = "Sat, 05 Dec 2026 03:00:00 WIB"
    machine_zone("UTC")
    here = parse_published(value)
    machine_zone("Asia/Jakarta")
    there = parse_published(value)
    assert here == there
    # A known name and a written offset are read as before, in any zone.
    assert parse_published("Sat, 05 Dec 2026 03:00:00 EST").at == dt.datetime(  # type: ignore[union-attr]
        2026, 12, 5, 8, tzinfo=UTC
    )
    assert parse_published("2026-12-05T03:00:00+05:30").at == dt.datetime(  # type: ignore[union-attr]
        2026, 12, 4, 21, 30, tzinfo=UTC
    )


def test_a_page_dated_today_has_its_date_in_every_zone(machine_zone, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """htmldate's bound on a page's date was the end of today on the machine's clock in its
    local zone: a page dated today (UTC) had no date on a machine where it is still
    yesterday, and one dated tomorrow had one where it is tomorrow already."""
    today = dt.datetime.now(UTC).date()
    page = (
        f'<html><head><title>Harbour reopens</title><meta name="date" content="{today}">'
        f"</head><body><article><h1>Harbour reopens</h1><p>{_BODY * 4}</p></article>"
        "</body></html>"
    )
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "harbour.html").write_text(page)
    dates = {}
    # 12 hours behind UTC and 14 ahead: at any hour one of them is on another day than UTC.
    for zone in ("UTC", "Etc/GMT+12", "Pacific/Kiritimati"):
        machine_zone(zone)
        (row,) = _run(inputs, tmp_path / zone.replace("/", "-"))
        dates[zone] = (row["published_at"], row["published_precision"])
    midnight = dt.datetime.combine(today, dt.time(), UTC)
    assert set(dates.values()) == {(midnight, "day")}, dates


def _record(published: str, n: int) -> dict:
    return {"title": f"Harbour {n}", "text": TOPIC_TEXTS[n] * 3, "published": published}


def test_dates_are_checked_as_of_the_run_and_as_of_a_given_time(tmp_path: Path) -> None:
    """ "Not after tomorrow" was checked against the clock as each document was read: the
    same input read a day later kept dates the first run dropped, and a lab could not
    rebuild its table. A run checks them as of its start, which the manifest records, and
    --as_of reads the input as of a time given (that start, to rebuild a table)."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    records = [
        _record("2026-01-01T20:00:00+00:00", 1),  # the day after: plausible
        _record("2026-01-03T12:00:00+00:00", 2),  # two days after: no publication time
        _record("2026-01-02", 3),  # tomorrow, to the day
    ]
    (inputs / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    rows = _run(inputs, tmp_path / "then", "--as_of", "2026-01-01T06:00:00Z")
    dated = {row["title"]: row["published_at"] for row in rows}
    assert dated == {
        "Harbour 1": dt.datetime(2026, 1, 1, 20, tzinfo=UTC),
        "Harbour 2": None,
        "Harbour 3": dt.datetime(2026, 1, 2, tzinfo=UTC),
    }
    manifest = run_manifest(tmp_path / "then")
    assert manifest["config"]["extract"]["as_of"] == "2026-01-01T06:00:00+00:00"
    # Without --as_of: as of the run's start, recorded to give as --as_of later.
    _run(inputs, tmp_path / "now")
    manifest = run_manifest(tmp_path / "now")
    assert manifest["config"]["extract"]["as_of"] == manifest["started_at"]


def test_as_of_reaches_a_feed_files_entries(tmp_path: Path) -> None:
    """A feed's entry dates are checked as of the same moment as the documents'."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    items = "".join(
        f"<item><title>Harbour {n}</title><link>https://news.example.com/{n}</link>"
        f"<pubDate>{day}</pubDate><description>{TOPIC_TEXTS[n] * 2}</description></item>"
        for n, day in (
            (1, "Thu, 01 Jan 2026 20:00:00 +0000"),
            (2, "Sat, 03 Jan 2026 12:00:00 +0000"),
        )
    )
    (inputs / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'
    )
    rows = _run(inputs, tmp_path / "out", "--as_of", "2026-01-01T06:00:00", "--no_fetch_pages")
    assert {row["title"]: row["published_at"] for row in rows} == {
        "Harbour 1": dt.datetime(2026, 1, 1, 20, tzinfo=UTC),
        "Harbour 2": None,
    }


def test_as_of_in_a_library_call() -> None:
    """ExtractConfig.as_of holds for a caller's own use of the stage's function."""
    config = ExtractConfig(as_of="2026-01-01T06:00:00+00:00")
    record = json.dumps(_record("2026-01-03T12:00:00+00:00", 1)).encode()
    article = extract_document(RawDocument("r.jsonl#L1", "jsonl", record), config)
    assert article.published_at is None
    assert extract_document(
        RawDocument("r.jsonl#L1", "jsonl", record), ExtractConfig()
    ).published_at


def test_a_bad_as_of_is_a_usage_error(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text(_BODY * 3)
    assert (
        entry.main(["--input", str(inputs), "--output", str(tmp_path / "o"), "--as_of", "soon"])
        == 2
    )


def test_the_manifest_names_the_code_and_the_libraries_that_shape_the_rows(
    tmp_path: Path,
) -> None:
    """The manifest's `versions` named NewsBeam as 0.1.0 (the same across hundreds of
    changes) and 10 libraries, not htmldate, lxml and libxml2, dateparser, dateutil,
    justext or courlan, which the dates and texts come from: a lab could not tell which
    environment rebuilds its table."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text(TOPIC_TEXTS[0] * 3)
    _run(inputs, tmp_path / "one")
    _run(inputs, tmp_path / "two")
    versions = run_manifest(tmp_path / "one")["versions"]
    wanted = {
        "htmldate",
        "lxml",
        "libxml2",
        "justext",
        "courlan",
        "dateparser",
        "python-dateutil",
        "charset-normalizer",
        "scipy",
        "regex",
        "tld",
        "newsbeam_source",
    }
    assert wanted <= set(versions)
    assert "unknown" not in {versions[name] for name in wanted}
    assert re.fullmatch(r"[0-9a-f]{64}", versions["newsbeam_source"])
    assert run_manifest(tmp_path / "two")["versions"] == versions


def test_the_versions_are_read_once_a_process_and_can_be_read_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review 87: the manifest's versions (21 packages' metadata and the source digest, ~25
    ms) were read after the stages, on the way from the last stage to the commit, and again
    for every batch of follow mode. Read once a process, and ahead on a thread (what a run
    with worker processes does while they run the stages), they are the same values, and
    each call gives a dict of its own (a manifest's, not a shared one)."""
    from importlib import metadata

    from newsbeam.pipeline import manifest as manifest_module

    real = metadata.version
    asked: list[str] = []

    def counted(name: str) -> str:
        asked.append(name)
        return real(name)

    monkeypatch.setattr(metadata, "version", counted)
    manifest_module._process_versions.cache_clear()
    try:
        manifest_module.versions_ahead().join()
        packages = len(asked)
        first = manifest_module.versions()
        second = manifest_module.versions()
    finally:
        manifest_module._process_versions.cache_clear()
    assert packages == len(manifest_module._VERSIONED_PACKAGES)
    assert len(asked) == packages  # not read again by the manifest's calls
    assert first == second and first is not second
    assert first["newsbeam"] == real("newsbeam")
    assert re.fullmatch(r"[0-9a-f]{64}", first["newsbeam_source"])


def test_the_source_digest_follows_the_files_not_their_caches(tmp_path: Path) -> None:
    code = tmp_path / "pkg"
    (code / "sub").mkdir(parents=True)
    (code / "__pycache__").mkdir()
    (code / "a.py").write_text("A = 1\n")
    (code / "sub" / "data.csv").write_text("x\n")
    first = source_digest([code])
    (code / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert source_digest([code]) == first
    (code / "sub" / "data.csv").write_text("y\n")
    assert source_digest([code]) != first


def test_which_copy_is_kept_does_not_follow_the_files_names(tmp_path: Path) -> None:
    """Two exact copies (the same text, no URL, no date), titled otherwise, have the same
    id and rank: the source broke the tie, so the same files renamed (or one --input
    moved to another folder) kept the other copy, with its title."""
    body = TOPIC_TEXTS[1] * 2
    titles = {"first": "Storm cuts power in the valley", "second": "Valley without power"}
    kept = []
    for names in (("a.txt", "b.txt"), ("z.txt", "b.txt")):
        inputs = tmp_path / names[0] / "in"
        inputs.mkdir(parents=True)
        for name, title in zip(names, titles.values(), strict=True):
            (inputs / name).write_text(f"{title}\n\n{body}\n")
        output = tmp_path / names[0] / "out"
        (article,) = _run(inputs, output)
        (copy,) = table_rows(output, "duplicates")
        kept.append((article["title"], article["article_id"], copy["canonical_id"]))
    assert kept[0] == kept[1]


def test_as_of_is_refused_where_batches_go_on(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """--as_of fixes one moment: in --follow (batches for days) or --streaming every article
    dated more than a day after it would be undated. Refused there, before anything runs."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    common = ["--input", str(inbox), "--output", str(tmp_path / "o"), "--as_of", "2026-01-01"]
    follow = ["--follow", "--interval", "1", "--state", str(tmp_path / "s")]
    assert entry.main([*common, *follow]) == 2
    assert "--as_of is for a batch run" in capsys.readouterr().err
    assert entry.main(["--streaming", *common, "--runner", "FlinkRunner"]) == 2
    assert "--as_of is for a batch run" in capsys.readouterr().err
