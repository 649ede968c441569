"""Article-body extraction quality on the Article Extraction Benchmark (AEB) pages.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_extraction.py --gate

Data: ../shared/data/extraction/aeb: 181 pages `html/<hash>.html.gz` and `ground-truth.json`
mapping each hash to `{articleBody, url}`.

Runs the pipeline once over the html folder (into a temporary folder) and, in the same run,
stock `trafilatura.extract(html)` with default arguments over the same pages, then scores
both the AEB way:
- shingles: the set of word 4-grams of lowercased `\\w+` tokens (a text shorter than four
  tokens is one shingle); a set, not a multiset: with sets stock trafilatura 2.3.1 scores
  P 0.933 R 0.979 F1 0.955 here, the published figure (0.958 F1) for the version AEB ran;
- per page: precision = tp / |pred|, recall = tp / |truth|; an empty prediction for a
  non-empty truth scores precision 0 and recall 0; an empty truth scores recall 1;
- overall: mean precision and mean recall over pages, F1 = their harmonic mean.

A page the pipeline rejected or lost counts as an empty prediction; a page it marked as a
duplicate is scored with its canonical article's text (duplicates.canonical_id ->
articles.article_id).

`--gate` fails (exit 1) unless our F1 >= stock F1. Missing data exits 2.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
import scoring  # noqa: E402

AEB_RELATIVE = Path("data/extraction/aeb")
PAGE_SUFFIX = ".html.gz"
SHINGLE_SIZE = 4
TOKEN_PATTERN = re.compile(r"\w+")


@dataclass(frozen=True)
class PageScore:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        return scoring.f1_score(self.precision, self.recall)


@dataclass(frozen=True)
class OverallScore:
    precision: float
    recall: float
    f1: float


def shingles(text: str | None, size: int = SHINGLE_SIZE) -> set[tuple[str, ...]]:
    """The set of word `size`-grams of the lowercased text (AEB's tokenisation)."""
    tokens = TOKEN_PATTERN.findall((text or "").lower())
    if not tokens:
        return set()
    if len(tokens) < size:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def score_page(predicted: str | None, truth: str | None) -> PageScore:
    predicted_shingles = shingles(predicted)
    truth_shingles = shingles(truth)
    if not predicted_shingles and not truth_shingles:
        return PageScore(1.0, 1.0)  # nothing to find and nothing found: right
    true_positives = len(predicted_shingles & truth_shingles)
    precision = true_positives / len(predicted_shingles) if predicted_shingles else 0.0
    recall = true_positives / len(truth_shingles) if truth_shingles else 1.0
    return PageScore(precision, recall)


def score_overall(page_scores: list[PageScore]) -> OverallScore:
    """Mean precision and mean recall over pages; F1 of the two means (AEB's convention)."""
    if not page_scores:
        return OverallScore(0.0, 0.0, 0.0)
    precision = statistics.fmean(score.precision for score in page_scores)
    recall = statistics.fmean(score.recall for score in page_scores)
    return OverallScore(precision, recall, scoring.f1_score(precision, recall))


def load_ground_truth(aeb_dir: Path) -> dict[str, str]:
    """Page hash -> expected article body, for pages whose html file exists."""
    records = json.loads((aeb_dir / "ground-truth.json").read_text(encoding="utf-8"))
    bodies = {page: record.get("articleBody") or "" for page, record in records.items()}
    missing = [page for page in bodies if not (aeb_dir / "html" / f"{page}{PAGE_SUFFIX}").is_file()]
    if missing:
        _common.exit_missing(
            f"{len(missing)} ground-truth page(s) have no html file, e.g. {missing[0]}"
        )
    return dict(sorted(bodies.items()))


def page_key(path: Path) -> str:
    """The page hash in a page's path: its file name without `.html.gz`."""
    name = path.name
    return name[: -len(PAGE_SUFFIX)] if name.endswith(PAGE_SUFFIX) else name


def stock_extractions(html_dir: Path, pages: list[str]) -> dict[str, str]:
    """Stock trafilatura, default arguments, on each page's decompressed bytes."""
    import trafilatura

    texts: dict[str, str] = {}
    for page in pages:
        html = gzip.decompress((html_dir / f"{page}{PAGE_SUFFIX}").read_bytes())
        texts[page] = trafilatura.extract(html) or ""
    return texts


def pipeline_extractions(
    output_dir: Path, pages: list[str]
) -> tuple[dict[str, str], _common.PageOutcomes]:
    outcomes = _common.collect_outcomes(output_dir, pages, page_key, ["text"])
    texts = {
        page: (outcome.article or {}).get("text") or ""
        for page, outcome in outcomes.by_page.items()
    }
    return texts, outcomes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_shared_argument(parser)
    _common.add_pipeline_arguments(parser)
    parser.add_argument(
        "--gate", action="store_true", help="exit 1 unless our F1 >= stock trafilatura's F1"
    )
    parser.add_argument(
        "--stock-only", action="store_true", help="score stock trafilatura only (no pipeline)"
    )
    parser.add_argument(
        "--worst",
        type=int,
        default=10,
        metavar="N",
        help="list the N pages where ours trails stock the most (default 10)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shared_dir = _common.locate_shared(
        args.shared, [str(AEB_RELATIVE / "ground-truth.json"), str(AEB_RELATIVE / "html")]
    )
    aeb_dir = shared_dir / AEB_RELATIVE
    truth = load_ground_truth(aeb_dir)
    pages = list(truth)
    print(f"AEB: {len(pages)} pages in {aeb_dir}")

    stock_texts = stock_extractions(aeb_dir / "html", pages)
    stock_pages = {page: score_page(stock_texts[page], truth[page]) for page in pages}
    stock = score_overall(list(stock_pages.values()))

    if args.stock_only:
        _common.print_table(
            ["extractor", "precision", "recall", "F1"],
            [["stock trafilatura", stock.precision, stock.recall, stock.f1]],
        )
        return 0

    extra_args = _common.split_beam_args(args.beam_args)
    with _common.pipeline_output(args, [aeb_dir / "html"], extra_args) as output_dir:
        our_texts, outcomes = pipeline_extractions(output_dir, pages)
    _common.report_outcomes(outcomes)

    our_pages = {page: score_page(our_texts[page], truth[page]) for page in pages}
    ours = score_overall(list(our_pages.values()))
    print()
    _common.print_table(
        ["extractor", "precision", "recall", "F1"],
        [
            ["newsbeam pipeline", ours.precision, ours.recall, ours.f1],
            ["stock trafilatura", stock.precision, stock.recall, stock.f1],
        ],
    )

    if args.worst > 0:
        gaps = sorted(pages, key=lambda page: (our_pages[page].f1 - stock_pages[page].f1, page))
        rows = [
            [
                page[:16],
                outcomes.by_page[page].kind,
                our_pages[page].precision,
                our_pages[page].recall,
                stock_pages[page].precision,
                stock_pages[page].recall,
            ]
            for page in gaps[: args.worst]
            if our_pages[page].f1 < stock_pages[page].f1
        ]
        if rows:
            print(f"\npages where ours trails stock most (up to {args.worst}):")
            _common.print_table(["page", "outcome", "our P", "our R", "stock P", "stock R"], rows)

    if not args.gate:
        return 0
    return _common.finish_gate(
        ours.f1 >= stock.f1, f"our F1 {ours.f1:.4f} vs stock trafilatura F1 {stock.f1:.4f}"
    )


if __name__ == "__main__":
    sys.exit(main())
