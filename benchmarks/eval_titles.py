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
as ASCII (pages and fundus typeset one headline's quotes either way), whitespace and case
folding; of the others, those that only add something after it (a site's name the title
still carries) and the
rest (mostly a site that gives its metadata another headline than its page: an SEO
title, a shorter one). Duplicates and pages without an article are counted apart.

`--gate X` fails (exit 1) when the equal share is below X. Missing data exits 2.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

# A page and fundus's parser may typeset one headline's quotes either way (the clean stage
# keeps the page's since review 70), and the clean stage drops soft hyphens: the same
# headline either way.
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"',
                         "„": '"', "‟": '"', "«": '"', "»": '"', "\u00ad": None})  # fmt: skip


def normalise_name(name: str) -> str:
    """NFKC, quotes as ASCII, no soft hyphens, whitespace runs as one space, case folded."""
    text = unicodedata.normalize("NFKC", name).translate(_QUOTES)
    return re.sub(r"\s+", " ", text).strip().casefold()


def expected_titles(fundus_dir: Path) -> dict[str, str]:
    """Page key -> its expected title (normalised; "" without one)."""
    return {
        _common.fundus_page_key(path): normalise_name(label.get("title") or "")
        for path, label in _common.fundus_labels(fundus_dir)
    }


def main(argv: list[str] | None = None) -> int:
    args = _common.fundus_arguments(__doc__.split("\n\n")[0], ("--gate",), argv)
    rows, not_scored = _common.score_fundus(args, expected_titles, ["title"])

    grades = dict.fromkeys(("equal", "adds after it", "other"), 0)
    misses: list[list[str]] = []
    for key, wanted, article in rows:
        found = normalise_name(article.get("title") or "")
        verdict = (
            "equal" if found == wanted else "adds after it" if found.startswith(wanted) else "other"
        )
        grades[verdict] += 1
        if verdict != "equal":
            misses.append([key, wanted[:60], found[:70], verdict])

    scored, share = _common.print_grades(grades, "equal")
    figure = (
        f"titles equal {share:.4f} ({grades['equal']}/{scored}), "
        f"with something added {grades['adds after it']}"
    )
    headers = ["page", "expected", "found", "verdict"]
    gates = _common.gate_at_least(share, args.gate)
    return _common.finish_fundus(not_scored, misses, headers, args.misses, figure, gates)


if __name__ == "__main__":
    sys.exit(main())
