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


def normalise_name(name: str) -> str:
    """NFKC, whitespace runs as one space, case folded."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", name)).strip().casefold()


def page_key(path: Path) -> str:
    """ "<cc>/<file name>": the country folder and the file, however the path was written."""
    return f"{path.parent.name}/{path.name}"


def expected_authors(fundus_dir: Path) -> dict[str, set[str]]:
    """Page key -> its expected author names (normalised). Each publisher JSON's versions,
    in name order, belong to its pages in date order (file name order)."""
    expected: dict[str, set[str]] = {}
    for truth_file in sorted(fundus_dir.glob("*/*.json")):
        versions = json.loads(truth_file.read_text(encoding="utf-8"))
        pages = sorted(truth_file.parent.glob(f"{truth_file.stem}_*{PAGE_SUFFIX}"))
        if len(pages) != len(versions):
            _common.exit_missing(f"{truth_file}: {len(versions)} versions, {len(pages)} pages")
        for name, path in zip(sorted(versions), pages, strict=True):
            authors = versions[name].get("authors") or []
            expected[page_key(path)] = {normalise_name(a) for a in authors if a.strip()}
    if not expected:
        _common.exit_missing(f"no fundus pages in {fundus_dir}")
    return expected


def scores(true_positives: int, false_positives: int, false_negatives: int) -> tuple[float, ...]:
    """(precision, recall, F1); 0 where undefined."""
    found = true_positives + false_positives
    wanted = true_positives + false_negatives
    precision = true_positives / found if found else 0.0
    recall = true_positives / wanted if wanted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_shared_argument(parser)
    _common.add_pipeline_arguments(parser)
    parser.add_argument("--gate-f1", type=float, default=None, metavar="X")
    parser.add_argument("--gate-precision", type=float, default=None, metavar="Y")
    parser.add_argument("--misses", type=int, default=15, help="pages that differ to list")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shared_dir = _common.locate_shared(args.shared, [str(FUNDUS_RELATIVE)])
    fundus_dir = shared_dir / FUNDUS_RELATIVE
    expected = expected_authors(fundus_dir)
    print(f"fundus: {len(expected)} pages in {fundus_dir}")
    page_glob = fundus_dir / "*" / f"*{PAGE_SUFFIX}"
    extra_args = _common.split_beam_args(args.beam_args)
    with _common.pipeline_output(args, [page_glob], extra_args) as output_dir:
        outcomes = _common.collect_outcomes(output_dir, sorted(expected), page_key, ["authors"])
    _common.report_outcomes(outcomes)

    true_positives = false_positives = false_negatives = 0
    scored = 0
    not_scored: dict[str, int] = {}
    misses: list[list[str]] = []
    for key, wanted in sorted(expected.items()):
        outcome = outcomes.by_page[key]
        if outcome.kind != _common.ARTICLE or outcome.article is None:
            not_scored[outcome.kind] = not_scored.get(outcome.kind, 0) + 1
            continue
        scored += 1
        found = {normalise_name(a) for a in outcome.article.get("authors") or []}
        true_positives += len(found & wanted)
        false_positives += len(found - wanted)
        false_negatives += len(wanted - found)
        if found != wanted:
            misses.append([key, "; ".join(sorted(wanted)) or "-", "; ".join(sorted(found)) or "-"])

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
    print(f"not scored: {not_scored or 'none'}; pages that differ: {len(misses)}")
    if misses and args.misses:
        print()
        _common.print_table(["page", "expected", "found"], misses[: args.misses])

    figure = f"authors F1 {f1:.4f}, precision {precision:.4f}, recall {recall:.4f}"
    gates = []
    if args.gate_f1 is not None:
        gates.append((f1 >= args.gate_f1, f"F1 gate {args.gate_f1}"))
    if args.gate_precision is not None:
        gates.append((precision >= args.gate_precision, f"precision gate {args.gate_precision}"))
    if not gates:
        print(figure)
        return 0
    return _common.finish_gate(
        all(passed for passed, _ in gates), f"{figure} ({', '.join(name for _, name in gates)})"
    )


if __name__ == "__main__":
    sys.exit(main())
