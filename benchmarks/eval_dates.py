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

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

FUNDUS_RELATIVE = Path("data/pages/fundus-test-pages")
PAGE_SUFFIX = ".html.gz"


def page_key(path: Path) -> str:
    """ "<cc>/<file name>": the country folder and the file, however the path was written."""
    return f"{path.parent.name}/{path.name}"


def expected_dates(fundus_dir: Path) -> dict[str, dt.datetime | None]:
    """Page key -> its expected publication time (aware; None without one). Each publisher
    JSON's versions, in name order, belong to its pages in date order (file name order)."""
    expected: dict[str, dt.datetime | None] = {}
    for truth_file in sorted(fundus_dir.glob("*/*.json")):
        versions = json.loads(truth_file.read_text(encoding="utf-8"))
        pages = sorted(truth_file.parent.glob(f"{truth_file.stem}_*{PAGE_SUFFIX}"))
        if len(pages) != len(versions):
            _common.exit_missing(f"{truth_file}: {len(versions)} versions, {len(pages)} pages")
        for name, path in zip(sorted(versions), pages, strict=True):
            value = versions[name].get("publishing_date")
            when = dt.datetime.fromisoformat(value) if value else None
            if when is not None and when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
            expected[page_key(path)] = when
    if not expected:
        _common.exit_missing(f"no fundus pages in {fundus_dir}")
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_shared_argument(parser)
    _common.add_pipeline_arguments(parser)
    parser.add_argument("--gate", type=float, default=None, metavar="X")
    parser.add_argument("--misses", type=int, default=15, help="pages that differ to list")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shared_dir = _common.locate_shared(args.shared, [str(FUNDUS_RELATIVE)])
    fundus_dir = shared_dir / FUNDUS_RELATIVE
    expected = expected_dates(fundus_dir)
    print(f"fundus: {len(expected)} pages in {fundus_dir}")
    page_glob = fundus_dir / "*" / f"*{PAGE_SUFFIX}"
    extra_args = _common.split_beam_args(args.beam_args)
    columns = ["published_at", "published_precision"]
    with _common.pipeline_output(args, [page_glob], extra_args) as output_dir:
        outcomes = _common.collect_outcomes(output_dir, sorted(expected), page_key, columns)
    _common.report_outcomes(outcomes)

    grades = dict.fromkeys((EXACT, DAY, OFF, NONE), 0)
    not_scored: dict[str, int] = {}
    misses: list[list[str]] = []
    for key, when in sorted(expected.items()):
        outcome = outcomes.by_page[key]
        if when is None:
            not_scored["no expected date"] = not_scored.get("no expected date", 0) + 1
            continue
        if outcome.kind != _common.ARTICLE or outcome.article is None:
            not_scored[outcome.kind] = not_scored.get(outcome.kind, 0) + 1
            continue
        found = outcome.article.get("published_at")
        precision = outcome.article.get("published_precision")
        verdict = grade(when, found, precision)
        grades[verdict] += 1
        if verdict != EXACT:
            misses.append(
                [key, when.isoformat(), f"{found.isoformat() if found else '-'}", verdict]
            )

    scored = sum(grades.values())
    exact = grades[EXACT] / scored if scored else 0.0
    print()
    _common.print_table(
        ["pages scored", *grades, "exact share"], [[scored, *grades.values(), exact]]
    )
    print(f"not scored: {not_scored or 'none'}")
    if misses and args.misses:
        print()
        _common.print_table(["page", "expected", "found (UTC)", "verdict"], misses[: args.misses])
    figure = f"dates exact {exact:.4f} ({grades[EXACT]}/{scored}), no date {grades[NONE]}"
    if args.gate is None:
        print(figure)
        return 0
    return _common.finish_gate(exact >= args.gate, f"{figure} (gate {args.gate})")


if __name__ == "__main__":
    sys.exit(main())
