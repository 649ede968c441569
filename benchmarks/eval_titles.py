"""Titles: the pipeline's `title` against the fundus test pages' headlines.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_titles.py --gate 0.80
    .venv/bin/python benchmarks/eval_titles.py --misses 100      # every page that differs

Data: ../shared/data/pages/fundus-test-pages/<cc>/<Publisher>_<YYYY_MM_DD>.html.gz (~258
real pages, 41 countries) and each folder's `<Publisher>.json`, whose page versions (in
name order, one per page in date order) give the `title` fundus's hand-written parser for
the site finds: the article's headline.

Runs the pipeline once over all the pages (one glob input) and counts, over the pages with
an article of their own and an expected title, the titles equal to it after NFKC, quotes
as ASCII (as the clean stage writes them), whitespace and case folding; of the others,
those that only add something after it (a site's name the title still carries) and the
rest (mostly a site that gives its metadata another headline than its page: an SEO
title, a shorter one). Duplicates and pages without an article are counted apart.

`--gate X` fails (exit 1) when the equal share is below X. Missing data exits 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

FUNDUS_RELATIVE = Path("data/pages/fundus-test-pages")
PAGE_SUFFIX = ".html.gz"


# The clean stage writes typographic quotes as ASCII ones and drops soft hyphens (its
# Unicode normalisation, by design): the same headline either way.
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"',
                         "„": '"', "‟": '"', "«": '"', "»": '"', "\u00ad": None})  # fmt: skip


def normalise_name(name: str) -> str:
    """NFKC, quotes as ASCII, no soft hyphens, whitespace runs as one space, case folded."""
    text = unicodedata.normalize("NFKC", name).translate(_QUOTES)
    return re.sub(r"\s+", " ", text).strip().casefold()


def page_key(path: Path) -> str:
    """ "<cc>/<file name>": the country folder and the file, however the path was written."""
    return f"{path.parent.name}/{path.name}"


def expected_titles(fundus_dir: Path) -> dict[str, str]:
    """Page key -> its expected title (normalised; "" without one). Each publisher JSON's
    versions, in name order, belong to its pages in date order (file name order)."""
    expected: dict[str, str] = {}
    for truth_file in sorted(fundus_dir.glob("*/*.json")):
        versions = json.loads(truth_file.read_text(encoding="utf-8"))
        pages = sorted(truth_file.parent.glob(f"{truth_file.stem}_*{PAGE_SUFFIX}"))
        if len(pages) != len(versions):
            _common.exit_missing(f"{truth_file}: {len(versions)} versions, {len(pages)} pages")
        for name, path in zip(sorted(versions), pages, strict=True):
            expected[page_key(path)] = normalise_name(versions[name].get("title") or "")
    if not expected:
        _common.exit_missing(f"no fundus pages in {fundus_dir}")
    return expected


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
    expected = expected_titles(fundus_dir)
    print(f"fundus: {len(expected)} pages in {fundus_dir}")
    page_glob = fundus_dir / "*" / f"*{PAGE_SUFFIX}"
    extra_args = _common.split_beam_args(args.beam_args)
    with _common.pipeline_output(args, [page_glob], extra_args) as output_dir:
        outcomes = _common.collect_outcomes(output_dir, sorted(expected), page_key, ["title"])
    _common.report_outcomes(outcomes)

    equal = suffixed = other = 0
    not_scored: dict[str, int] = {}
    misses: list[list[str]] = []
    for key, wanted in sorted(expected.items()):
        outcome = outcomes.by_page[key]
        if not wanted:
            not_scored["no expected title"] = not_scored.get("no expected title", 0) + 1
            continue
        if outcome.kind != _common.ARTICLE or outcome.article is None:
            not_scored[outcome.kind] = not_scored.get(outcome.kind, 0) + 1
            continue
        found = normalise_name(outcome.article.get("title") or "")
        if found == wanted:
            equal += 1
            continue
        verdict = "adds after it" if found.startswith(wanted) else "other"
        suffixed += verdict == "adds after it"
        other += verdict == "other"
        misses.append([key, wanted[:60], found[:70], verdict])

    scored = equal + suffixed + other
    share = equal / scored if scored else 0.0
    print()
    _common.print_table(
        ["pages scored", "equal", "adds after it", "other", "equal share"],
        [[scored, equal, suffixed, other, share]],
    )
    print(f"not scored: {not_scored or 'none'}")
    if misses and args.misses:
        print()
        _common.print_table(["page", "expected", "found", "verdict"], misses[: args.misses])
    figure = f"titles equal {share:.4f} ({equal}/{scored}), with something added {suffixed}"
    if args.gate is None:
        print(figure)
        return 0
    return _common.finish_gate(share >= args.gate, f"{figure} (gate {args.gate})")


if __name__ == "__main__":
    sys.exit(main())
