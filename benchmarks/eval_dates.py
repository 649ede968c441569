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

`--gate X` fails (exit 1) when the exact share is below X. Missing data exits 2.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)


def expected_dates(fundus_dir: Path) -> dict[str, dt.datetime | None]:
    """Page key -> its expected publication time (aware: a label without an offset is
    taken as UTC; None without one)."""
    expected: dict[str, dt.datetime | None] = {}
    for path, label in _common.fundus_labels(fundus_dir):
        value = label.get("publishing_date")
        when = dt.datetime.fromisoformat(value) if value else None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        expected[_common.fundus_page_key(path)] = when
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


def main(argv: list[str] | None = None) -> int:
    args = _common.fundus_arguments(__doc__.split("\n\n")[0], ("--gate",), argv)
    rows, not_scored = _common.score_fundus(
        args, expected_dates, ["published_at", "published_precision"]
    )

    grades = dict.fromkeys((EXACT, DAY, OFF, NONE), 0)
    misses: list[list[str]] = []
    for key, when, article in rows:
        found = article.get("published_at")
        verdict = grade(when, found, article.get("published_precision"))
        grades[verdict] += 1
        if verdict != EXACT:
            misses.append([key, when.isoformat(), found.isoformat() if found else "-", verdict])

    scored, exact = _common.print_grades(grades, EXACT)
    figure = f"dates exact {exact:.4f} ({grades[EXACT]}/{scored}), no date {grades[NONE]}"
    headers = ["page", "expected", "found (UTC)", "verdict"]
    gates = _common.gate_at_least(exact, args.gate)
    return _common.finish_fundus(not_scored, misses, headers, args.misses, figure, gates)


if __name__ == "__main__":
    sys.exit(main())
