"""Relative and year-less dates (review 76): read against the moment a document was fetched
(a page) or its feed's own date (a feed entry); a file has no such moment and stays
undated. Pure readers first, then a run against a page and a feed on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from newsbeam.transforms.extract import parse_published, relative_published
from newsbeam.transforms.feeds.parse import parse_feed
from tests.feed_server import serve, static
from tests.test_feeds import _out, _run

UTC = dt.timezone.utc
FETCHED = dt.datetime(2025, 3, 10, 15, 40, 12, tzinfo=UTC)


def _at(value: str, reference: dt.datetime = FETCHED) -> tuple[dt.datetime, str] | None:
    found = relative_published(value, reference)
    return (found.at, found.precision) if found else None


def test_counts_back_from_the_reference() -> None:
    two_hours = (dt.datetime(2025, 3, 10, 13, 40, tzinfo=UTC), "minute")
    assert _at("hace 2 horas") == two_hours
    assert _at("Actualizado hace 2 horas") == two_hours
    assert _at("vor 2 Stunden") == two_hours
    assert _at("2 hours ago") == two_hours
    assert _at("il y a 2 heures") == two_hours
    assert _at("vor einer Stunde") == (dt.datetime(2025, 3, 10, 14, 40, tzinfo=UTC), "minute")
    assert _at("hace 15 minutos") == (dt.datetime(2025, 3, 10, 15, 25, tzinfo=UTC), "minute")
    assert _at("vor 3 Tagen") == (dt.datetime(2025, 3, 7, tzinfo=UTC), "day")
    assert _at("il y a 2 jours") == (dt.datetime(2025, 3, 8, tzinfo=UTC), "day")
    assert _at("2 ore fa") == two_hours
    assert _at("hace una semana") == (dt.datetime(2025, 3, 3, tzinfo=UTC), "day")


def test_named_days_with_and_without_their_time() -> None:
    assert _at("gestern") == (dt.datetime(2025, 3, 9, tzinfo=UTC), "day")
    assert _at("ayer") == (dt.datetime(2025, 3, 9, tzinfo=UTC), "day")
    assert _at("Yesterday") == (dt.datetime(2025, 3, 9, tzinfo=UTC), "day")
    assert _at("gestern, 14:30 Uhr") == (dt.datetime(2025, 3, 9, 14, 30, tzinfo=UTC), "minute")
    assert _at("hoy a las 09:05") == (dt.datetime(2025, 3, 10, 9, 5, tzinfo=UTC), "minute")
    assert _at("hier klicken") is None  # German "here", not French "yesterday"
    assert _at("gestern kam es zu einem Unfall") is None  # a sentence, not a date


def test_a_date_without_its_year_takes_the_reference_year_or_the_one_before() -> None:
    assert _at("5 de marzo") == (dt.datetime(2025, 3, 5, tzinfo=UTC), "day")
    # Three days and more after the reference: last year's; less, a zone's or a scheduled
    # post's, this year's.
    assert _at("14. März") == (dt.datetime(2024, 3, 14, tzinfo=UTC), "day")
    assert _at("12. März") == (dt.datetime(2025, 3, 12, tzinfo=UTC), "day")
    assert _at("March 5, 14:30") == (dt.datetime(2025, 3, 5, 14, 30, tzinfo=UTC), "minute")
    january = dt.datetime(2025, 1, 2, 8, tzinfo=UTC)
    assert _at("30 de diciembre", january) == (dt.datetime(2024, 12, 30, tzinfo=UTC), "day")
    leap = dt.datetime(2028, 3, 1, tzinfo=UTC)
    assert _at("29. Februar", leap) == (dt.datetime(2028, 2, 29, tzinfo=UTC), "day")
    # 2025 has none: the 29th of the year before, the latest such day.
    assert _at("29. Februar") == (dt.datetime(2024, 2, 29, tzinfo=UTC), "day")
    assert _at("5 de marzo de 2024") is None  # its year is written: parse_published's
    assert _at("März") is None and _at("14:30") is None  # no day and month
    assert _at("Ferry terminal") is None


def test_without_a_reference_nothing_is_guessed() -> None:
    for value in ("hace 2 horas", "vor 3 Stunden", "gestern", "5 de marzo", "March 5"):
        assert parse_published(value) is None
        assert parse_published(value, FETCHED) is not None
    # A full date is read as before, the reference unused.
    found = parse_published("2024-03-05T10:00:00Z", FETCHED)
    assert found is not None and found.at == dt.datetime(2024, 3, 5, 10, tzinfo=UTC)


def _feed(base: str, build_date: str | None) -> bytes:
    built = f"<lastBuildDate>{build_date}</lastBuildDate>" if build_date else ""
    items = "".join(
        f'<item><guid isPermaLink="false">{guid}</guid><title>Nota {guid}</title>'
        f"<description>{text}</description><pubDate>{date}</pubDate></item>"
        for guid, date, text in (
            ("r1", "hace 2 horas", BODIES[0]),
            ("r2", "14. März", BODIES[1]),
        )
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>{base}/</link>{built}{items}</channel></rss>"
    ).encode()


BODIES = (
    "El ayuntamiento aprobó el martes el presupuesto del próximo año después de un largo "
    "debate sobre el transporte público y la vivienda en los barrios del norte de la ciudad.",
    "Der Stadtrat hat am Dienstag den Haushalt für das kommende Jahr beschlossen, nach einer "
    "langen Debatte über den Nahverkehr und den Wohnungsbau in den nördlichen Stadtteilen.",
)


def test_a_feed_entry_is_dated_against_its_feed_s_own_date() -> None:
    feed = parse_feed(_feed("http://x", "Mon, 10 Mar 2025 15:40:12 GMT"), {}, "http://x/f")
    dates = {e.entry_id: (e.published_at, e.published_precision) for e in feed.entries}
    assert dates == {
        "r1": (dt.datetime(2025, 3, 10, 13, 40, tzinfo=UTC), "minute"),
        "r2": (dt.datetime(2024, 3, 14, tzinfo=UTC), "day"),
    }
    # A feed file with no date of its own and no fetch: nothing to count from.
    undated = parse_feed(_feed("http://x", None), {}, "http://x/f")
    assert [e.published_at for e in undated.entries] == [None, None]


PAGE_BODY = (
    "Die Feuerwehr hat am Montag nach einem Brand in einer Lagerhalle am Hafen die Straße "
    "für mehrere Stunden gesperrt; verletzt wurde nach Angaben der Polizei niemand."
)
PAGE = """<html lang="de"><head><title>Haushalt beschlossen</title></head><body><article>
<h1>Haushalt beschlossen</h1><p class="meta"><span class="date">vor 3 Stunden</span></p>
<p>{body}</p><p>{body}</p></article></body></html>"""


def test_a_fetched_page_and_feed_entries_are_dated_against_their_fetch(tmp_path: Path) -> None:
    page = PAGE.format(body=PAGE_BODY).encode()
    with serve({"/haushalt": static(page, "text/html; charset=utf-8")}) as server:
        server.routes["/feed.xml"] = static(_feed(server.url(""), None))
        before = dt.datetime.now(UTC)
        _run(tmp_path, "--input", server.url("/haushalt"), "--feed", server.url("/feed.xml"))
        after = dt.datetime.now(UTC)
    rows = _out(tmp_path, "articles")
    assert len(rows) == 3
    dated = {row["entry_id"] or "page": row for row in rows}
    three_hours = dt.timedelta(hours=3)
    page_row = dated["page"]
    assert page_row["published_precision"] == "minute"
    low = (before - three_hours).replace(second=0, microsecond=0)
    assert low <= page_row["published_at"] <= after - three_hours
    # The feed states no date of its own: its entries count from its fetch.
    r1 = dated["r1"]
    assert r1["published_precision"] == "minute"
    low = (before - dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    assert low <= r1["published_at"] <= after - dt.timedelta(hours=2)
    r2 = dated["r2"]
    assert r2["published_precision"] == "day"
    assert (r2["published_at"].month, r2["published_at"].day) == (3, 14)
    assert r2["published_at"] <= after + dt.timedelta(days=3)


def test_a_file_with_a_relative_date_line_stays_undated(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "nota.txt").write_text(f"Presupuesto aprobado\nhace 2 horas\n\n{BODIES[0]}\n")
    _run(tmp_path, "--input", str(folder))
    (row,) = _out(tmp_path, "articles")
    assert row["published_at"] is None
