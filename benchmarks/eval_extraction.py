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

The fundus test pages (../shared/data/pages/fundus-test-pages/<cc>/<Publisher>_<date>.html.gz,
258 pages of 41 countries) are scored the same way, side by side with stock trafilatura;
the expected body is the publisher JSON's `body` (summary, then each section's headline
and paragraphs). A publisher JSON holds one entry per page version (V1, V1_1, V2, ...):
in name order they belong to the publisher's pages in date order (the counts match).

Also counted per set: "short" pages, where our text holds under half of the shingles of
trafilatura's full extraction without comments (a lost article), and "silent" ones among
them, where the text and its `removed` entries (each with its reason) together do not.

`--gate` fails (exit 1) unless, on each set, our F1 >= stock F1 and >= the set's goal
(`--goal-aeb`, `--goal-fundus`) and no short page is silent. Missing data exits 2.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
import scoring  # noqa: E402

AEB_RELATIVE = Path("data/extraction/aeb")
FUNDUS_RELATIVE = Path("data/pages/fundus-test-pages")
# Goals: the dev figures measured when the gate was set (AEB 0.964, fundus 0.951), less
# 0.005 of room for trafilatura or cleaning changes of a page or two.
GOAL_AEB = 0.96
GOAL_FUNDUS = 0.945
# A page whose text has under this share of stock trafilatura's words lost its article.
SHORT_SHARE = 0.5
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


def fundus_body(version: dict) -> str:
    """The expected article text of one fundus page version: summary, then each section's
    headline and paragraphs, one a line."""
    body = version.get("body") or {}
    parts = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
    return "\n".join(parts)


def fundus_key(path: Path) -> str:
    """A fundus page's key: `<cc>/<file name without .html.gz>`."""
    return f"{path.parent.name}/{page_key(path)}"


def load_fundus(fundus_dir: Path) -> dict[str, tuple[Path, str]]:
    """Page key -> (html path, expected body)."""
    return {
        fundus_key(path): (path, fundus_body(label))
        for path, label in _common.fundus_labels(fundus_dir)
    }


def stock_texts_of(paths: dict[str, Path]) -> dict[str, str]:
    """Stock trafilatura, default arguments, on each page's decompressed bytes."""
    import trafilatura

    return {
        page: trafilatura.extract(gzip.decompress(path.read_bytes())) or ""
        for page, path in paths.items()
    }


@dataclass(frozen=True)
class SetResult:
    name: str
    ours: OverallScore
    stock: OverallScore
    short: list[str]  # pages holding under SHORT_SHARE of what the full extraction finds
    silent: list[str]  # of those, the ones whose `removed` entries do not hold the rest


def coverage(text: str, reference: str) -> float:
    """The share of the reference's shingles that the text holds (1.0 for an empty one)."""
    wanted = shingles(reference)
    return len(shingles(text) & wanted) / len(wanted) if wanted else 1.0


def short_pages(
    our_texts: dict[str, str],
    stock_texts: dict[str, str],
    removed: dict[str, list[str]],
    paths: dict[str, Path],
) -> tuple[list[str], list[str]]:
    """Pages whose text holds under SHORT_SHARE of the shingles trafilatura's full
    extraction finds in the article (stock without comments: they are not the article),
    and those of them where the text and its `removed` entries together hold under it too
    (lost without a reason). Stock with comments screens the pages first."""
    import trafilatura

    short, silent = [], []
    for page, text in our_texts.items():
        if coverage(text, stock_texts[page]) >= SHORT_SHARE:
            continue
        html = gzip.decompress(paths[page].read_bytes())
        reference = trafilatura.extract(html, include_comments=False) or ""
        if coverage(text, reference) >= SHORT_SHARE:
            continue
        short.append(page)
        if coverage("\n".join([text, *removed.get(page, [])]), reference) < SHORT_SHARE:
            silent.append(page)
    return short, silent


def evaluate_set(
    name: str,
    args: argparse.Namespace,
    inputs: list[Path],
    paths: dict[str, Path],
    truth: dict[str, str],
    key_of: Callable[[Path], str],
) -> SetResult:
    """Run the pipeline on one set's pages, score it and stock trafilatura, print both."""
    pages = list(truth)
    stock_texts = stock_texts_of(paths)
    stock_pages = {page: score_page(stock_texts[page], truth[page]) for page in pages}
    extra_args = _common.split_beam_args(args.beam_args)
    with _common.pipeline_output(args, inputs, extra_args) as output_dir:
        outcomes = _common.collect_outcomes(output_dir, pages, key_of, ["text", "removed"])
    _common.report_outcomes(outcomes)
    our_texts = {p: (o.article or {}).get("text") or "" for p, o in outcomes.by_page.items()}
    removed = {
        p: [r["text"] for r in (o.article or {}).get("removed") or []]
        for p, o in outcomes.by_page.items()
    }
    our_pages = {page: score_page(our_texts[page], truth[page]) for page in pages}
    result = SetResult(
        name,
        score_overall(list(our_pages.values())),
        score_overall(list(stock_pages.values())),
        *short_pages(our_texts, stock_texts, removed, paths),
    )
    print(f"\n{name}: {len(pages)} pages")
    _common.print_table(
        ["extractor", "precision", "recall", "F1"],
        [
            ["newsbeam pipeline", result.ours.precision, result.ours.recall, result.ours.f1],
            ["stock trafilatura", result.stock.precision, result.stock.recall, result.stock.f1],
        ],
    )
    print(
        f"short pages (under {SHORT_SHARE:.0%} of the full extraction's shingles): "
        f"{len(result.short)}, silent (not in `removed`): {len(result.silent)} "
        f"{result.silent[:5]}"
    )
    print_worst(args.worst, pages, our_pages, stock_pages, outcomes)
    return result


def print_worst(
    worst: int,
    pages: list[str],
    our_pages: dict[str, PageScore],
    stock_pages: dict[str, PageScore],
    outcomes: _common.PageOutcomes,
) -> None:
    if worst <= 0:
        return
    gaps = sorted(pages, key=lambda page: (our_pages[page].f1 - stock_pages[page].f1, page))
    rows = [
        [
            page[:40],
            outcomes.by_page[page].kind,
            our_pages[page].precision,
            our_pages[page].recall,
            stock_pages[page].precision,
            stock_pages[page].recall,
        ]
        for page in gaps[:worst]
        if our_pages[page].f1 < stock_pages[page].f1
    ]
    if rows:
        print(f"pages where ours trails stock most (up to {worst}):")
        _common.print_table(["page", "outcome", "our P", "our R", "stock P", "stock R"], rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_shared_argument(parser)
    _common.add_pipeline_arguments(parser)
    parser.add_argument(
        "--gate",
        action="store_true",
        help="exit 1 unless, on each set, our F1 >= stock's and >= the goal, and no page "
        "lost its article silently",
    )
    parser.add_argument(
        "--stock-only", action="store_true", help="score stock trafilatura only (no pipeline)"
    )
    parser.add_argument(
        "--sets",
        default="aeb,fundus",
        help="comma-separated sets to score: aeb, fundus (default both); with --output, "
        "each set's output goes to DIR/<set>",
    )
    parser.add_argument("--goal-aeb", type=float, default=GOAL_AEB, help="least AEB F1")
    parser.add_argument("--goal-fundus", type=float, default=GOAL_FUNDUS, help="least fundus F1")
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
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    required = {
        "aeb": [str(AEB_RELATIVE / "ground-truth.json"), str(AEB_RELATIVE / "html")],
        "fundus": [str(FUNDUS_RELATIVE)],
    }
    shared_dir = _common.locate_shared(args.shared, [r for n in names for r in required[n]])
    results: list[SetResult] = []
    goals = {"aeb": args.goal_aeb, "fundus": args.goal_fundus}
    for name in names:
        set_args = argparse.Namespace(**vars(args))
        if args.output and len(names) > 1:
            set_args.output = str(Path(args.output) / name)
        if name == "aeb":
            aeb_dir = shared_dir / AEB_RELATIVE
            truth = load_ground_truth(aeb_dir)
            paths = {page: aeb_dir / "html" / f"{page}{PAGE_SUFFIX}" for page in truth}
            inputs, key_of = [aeb_dir / "html"], page_key
        else:
            fundus_dir = shared_dir / FUNDUS_RELATIVE
            fundus = load_fundus(fundus_dir)
            truth = {page: body for page, (_, body) in fundus.items()}
            paths = {page: path for page, (path, _) in fundus.items()}
            inputs, key_of = [fundus_dir / "*" / f"*{PAGE_SUFFIX}"], fundus_key
        if args.stock_only:
            stock_texts = stock_texts_of(paths)
            stock = score_overall([score_page(stock_texts[p], truth[p]) for p in truth])
            print(f"{name}: {len(truth)} pages")
            _common.print_table(
                ["extractor", "precision", "recall", "F1"],
                [["stock trafilatura", stock.precision, stock.recall, stock.f1]],
            )
            continue
        results.append(evaluate_set(name, set_args, inputs, paths, truth, key_of))

    if not args.gate or args.stock_only:
        return 0
    passed = all(
        r.ours.f1 >= r.stock.f1 and r.ours.f1 >= goals[r.name] and not r.silent for r in results
    )
    summary = "; ".join(
        f"{r.name} F1 {r.ours.f1:.4f} vs stock {r.stock.f1:.4f} (goal {goals[r.name]}), "
        f"{len(r.silent)} silent short page(s)"
        for r in results
    )
    return _common.finish_gate(passed, summary)


if __name__ == "__main__":
    sys.exit(main())
