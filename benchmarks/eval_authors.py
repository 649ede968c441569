"""Precision, recall and F1 of the pipeline's `authors` column on the fundus test pages.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_authors.py --gate-f1 0.83 --gate-precision 0.88
    .venv/bin/python benchmarks/eval_authors.py --misses 100      # every page that differs

Data: ../shared/data/pages/fundus-test-pages/<cc>/<Publisher>_<YYYY_MM_DD>.html.gz (~258
real pages, 41 countries) and each folder's `<Publisher>.json`, whose page versions (in
name order, one per page in date order) give the authors fundus's hand-written parser for
the site finds: people, and where the site credits one, an agency or the newsroom
("dpa", "ORF.at").

Runs the pipeline once over all the pages (one glob input) and compares each page's set of
authors with the expected set, names compared after Unicode NFKC, whitespace and case
folding ("Miguel A. Herguedas" and "miguel a herguedas" differ: the full stop counts).
Micro-averaged over pages with an article of their own: a name found and expected counts
once, found and not expected is a false positive, expected and not found a false negative.
Duplicates (another page's article) and pages without an article are counted apart.
NewsBeam reads authors from the pages' structured metadata only (meta tags, JSON-LD), never
from bylines in the body: most misses are sites that put their authors nowhere else.

`--gate-f1 X` / `--gate-precision Y` fail (exit 1) below the figure. Missing data exits 2.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)


def normalise_name(name: str) -> str:
    """NFKC, whitespace runs as one space, case folded."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", name)).strip().casefold()


def expected_authors(fundus_dir: Path) -> dict[str, set[str]]:
    """Page key -> its expected author names (normalised; an empty set: none expected)."""
    return {
        _common.fundus_page_key(path): {
            normalise_name(name) for name in label.get("authors") or [] if name.strip()
        }
        for path, label in _common.fundus_labels(fundus_dir)
    }


def scores(true_positives: int, false_positives: int, false_negatives: int) -> tuple[float, ...]:
    """(precision, recall, F1); 0 where undefined."""
    found = true_positives + false_positives
    wanted = true_positives + false_negatives
    precision = true_positives / found if found else 0.0
    recall = true_positives / wanted if wanted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main(argv: list[str] | None = None) -> int:
    args = _common.fundus_arguments(
        __doc__.split("\n\n")[0], ("--gate-f1", "--gate-precision"), argv
    )
    rows, not_scored = _common.score_fundus(args, expected_authors, ["authors"])

    true_positives = false_positives = false_negatives = 0
    misses: list[list[str]] = []
    for key, wanted, article in rows:
        found = {normalise_name(a) for a in article.get("authors") or []}
        true_positives += len(found & wanted)
        false_positives += len(found - wanted)
        false_negatives += len(wanted - found)
        if found != wanted:
            misses.append([key, "; ".join(sorted(wanted)) or "-", "; ".join(sorted(found)) or "-"])
    scored = len(rows)

    precision, recall, f1 = scores(true_positives, false_positives, false_negatives)
    print()
    _common.print_table(
        ["pages scored", "found", "expected", "both", "precision", "recall", "F1"],
        [
            [
                scored,
                true_positives + false_positives,
                true_positives + false_negatives,
                true_positives,
                precision,
                recall,
                f1,
            ]
        ],
    )
    figure = f"authors F1 {f1:.4f}, precision {precision:.4f}, recall {recall:.4f}"
    gates = []
    if args.gate_f1 is not None:
        gates.append((f1 >= args.gate_f1, f"F1 gate {args.gate_f1}"))
    if args.gate_precision is not None:
        gates.append((precision >= args.gate_precision, f"precision gate {args.gate_precision}"))
    headers = ["page", "expected", "found"]
    return _common.finish_fundus(not_scored, misses, headers, args.misses, figure, gates)


if __name__ == "__main__":
    sys.exit(main())
