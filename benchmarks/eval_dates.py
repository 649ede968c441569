"""Publication times: the pipeline's `published_at` against the fundus test pages' dates.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_dates.py --gate 0.92
    .venv/bin/python benchmarks/eval_dates.py --misses 100      # every page that differs

Data: ../shared/data/pages/fundus-test-pages/<cc>/<Publisher>_<YYYY_MM_DD>.html.gz (~258
real pages, 41 countries) and each folder's `<Publisher>.json`, whose page versions (in
name order, one per page in date order) give the `publishing_date` fundus's hand-written
parser for the site finds, with its UTC offset (a date without one is taken as UTC).

Runs the pipeline once over all the pages (one glob input) and sorts each page with an
article of its own and an expected date into: **exact** (within a minute; a date the page
states to the day only counts when it is that day), within a day (the day right, the time
not: mostly a modification time taken for the publication, or an offset), further off,
or no date found. Duplicates and pages without an article are counted apart. Some labels
carry an error of their own: a few pages state an offset in their metadata that their
label lacks (the list of differences shows them).

A label without an offset is the page's own clock reading (fundus's parser for the site
dropped the offset): where the page itself writes that same clock reading with an offset
(`2024-04-25T04:21:02-04:00` on RollingStone's page, whose label says 04:21:02;
SportSchau's, JyllandsPosten's and AFP Faktencheck's alike), the label is that time at
that offset (at any of them, if the page writes several), else it is taken as UTC (review
110: taken as UTC always, a pipeline that placed a zoneless time right scored a miss, and
one that took the zoneless reading as UTC a hit). The figure with every such label taken
as UTC is printed beside it ("labels as UTC").

The pages are also split by the article's `published_zone` (how its time's zone was
known: `stated`, `source_timezone`, `document`, `assumed_utc`; `-` for a date alone or
none): the exact share of each, what a researcher who keeps only some of them gets. Not
gated: the pages of each are few.

`--gate X` fails (exit 1) when the exact share is below X. Missing data exits 2.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

# A timestamp with its offset as pages write one (ISO 8601; "+hh:mm", "+hhmm" or "Z").
_PAGE_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?\s?(Z|[+-]\d{2}:?\d{2})"
)


def page_offsets(page: Path, clock: dt.datetime) -> list[dt.timezone]:
    """The offsets the page writes beside the clock reading `clock` (naive; its day, hour
    and minute, and its second where both write one), in the page's order, each once."""
    html = gzip.decompress(page.read_bytes()).decode("utf-8", "replace")
    reading = (clock.date().isoformat(), clock.hour, clock.minute)
    offsets: list[dt.timezone] = []
    for match in _PAGE_TIMESTAMP.finditer(html):
        day, hour, minute, second, zone = match.groups()
        if (day, int(hour), int(minute)) != reading or zone == "Z":
            continue
        if second is not None and clock.second and int(second) != clock.second:
            continue
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        if hours < 24 and minutes < 60:
            offset = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
            offsets += [] if offset in offsets else [offset]
    return offsets


def expected_dates(fundus_dir: Path) -> dict[str, list[dt.datetime] | None]:
    """Page key -> its expected publication times (aware; any of them is right), the label
    as UTC first (the "labels as UTC" figure's): a label without an offset is at each
    offset its page writes beside that clock reading (`page_offsets`), else UTC; None
    without a label."""
    expected: dict[str, list[dt.datetime] | None] = {}
    for path, label in _common.fundus_labels(fundus_dir):
        value = label.get("publishing_date")
        when = dt.datetime.fromisoformat(value) if value else None
        times = None
        if when is not None and when.tzinfo is None:
            times = [when.replace(tzinfo=dt.timezone.utc)]
            times += [when.replace(tzinfo=offset) for offset in page_offsets(path, when)]
        elif when is not None:
            times = [when, when]
        expected[_common.fundus_page_key(path)] = times
    return expected


EXACT, DAY, OFF, NONE = "exact", "within a day", "further off", "no date"


def grade(expected: dt.datetime, found: dt.datetime | None, precision: str | None) -> str:
    """How `found` (UTC, with the pipeline's precision) stands against `expected`."""
    if found is None:
        return NONE
    if found.tzinfo is None:
        found = found.replace(tzinfo=dt.timezone.utc)
    apart = abs((found - expected).total_seconds())
    if precision in ("day", "month", "year"):
        # A date alone: right when it is the expected local day.
        return EXACT if found.date() == expected.date() else (DAY if apart < 86_400 else OFF)
    if apart <= 60:
        return EXACT
    return DAY if apart < 86_400 else OFF


# The order `published_zone`'s values are printed in: most to least known.
ZONE_ORDER = ("stated", "source_timezone", "document", "assumed_utc", "-")


def print_zones(by_zone: dict[str, dict[str, int]]) -> None:
    """The pages of each `published_zone` (`-`: a date alone, or none), their grades and
    exact share: how often a time is right by how its zone was known."""
    table = []
    for zone in sorted(by_zone, key=lambda z: ZONE_ORDER.index(z) if z in ZONE_ORDER else 99):
        counts = by_zone[zone]
        pages = sum(counts.values())
        table.append([zone, pages, *counts.values(), f"{counts[EXACT] / pages:.4f}"])
    print()
    headers = ["published_zone", "pages", *(next(iter(by_zone.values())) if by_zone else ())]
    _common.print_table([*headers, f"{EXACT} share"], table)


def main(argv: list[str] | None = None) -> int:
    args = _common.fundus_arguments(__doc__.split("\n\n")[0], ("--gate",), argv)
    rows, not_scored = _common.score_fundus(
        args, expected_dates, ["published_at", "published_precision", "published_zone"]
    )

    grades = dict.fromkeys((EXACT, DAY, OFF, NONE), 0)
    as_utc = 0  # exact with every label without an offset taken as UTC alone
    misses: list[list[str]] = []
    by_zone: dict[str, dict[str, int]] = {}  # published_zone -> grade -> pages
    for key, times, article in rows:
        found, precision = article.get("published_at"), article.get("published_precision")
        # The label as UTC, then as its page places it (that alone, where it does).
        verdicts = [grade(when, found, precision) for when in times]
        stated = verdicts[1:] or verdicts
        verdict = min(stated, key=[EXACT, DAY, OFF, NONE].index)
        grades[verdict] += 1
        zone = by_zone.setdefault(article.get("published_zone") or "-", dict.fromkeys(grades, 0))
        zone[verdict] += 1
        as_utc += verdicts[0] == EXACT
        if verdict != EXACT:
            expected = " or ".join(when.isoformat() for when in times[1:] or times)
            misses.append([key, expected, found.isoformat() if found else "-", verdict])

    scored, exact = _common.print_grades(grades, EXACT)
    print_zones(by_zone)
    figure = f"dates exact {exact:.4f} ({grades[EXACT]}/{scored}), no date {grades[NONE]}"
    figure += f", labels as UTC {as_utc / scored if scored else 0:.4f} ({as_utc}/{scored})"
    headers = ["page", "expected", "found (UTC)", "verdict"]
    gates = _common.gate_at_least(exact, args.gate)
    return _common.finish_fundus(not_scored, misses, headers, args.misses, figure, gates)


if __name__ == "__main__":
    sys.exit(main())
