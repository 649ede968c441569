"""The extract stage's own cost per page against stock `trafilatura.extract`, in one process.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_extract.py --repeats 3

Pages: every distinct HTML page of ../shared (the corpus of `bench_pipeline.py`: the AEB
pages and the fundus test pages, 439), gunzipped once before timing. For each page, in
turn: NewsBeam's extraction of an HTML page split into its steps as
`extract_html_document` runs them (`parse`: `parse_html`, trafilatura's `load_html` with
less work, charset and all; `metadata`: `html_metadata`; `signals`: `page_signals`;
`fast`: `drop_unread_elements`, `prepare_page` (trafilatura's pruning and cleaning, shared
by both extractions) and the fast-path main text; `full`: the full extraction from the
prepared page, on the pages the signals send there; see transforms/support/main_text.py),
then stock `trafilatura.extract(html)` (default arguments, its own parse included)
on the same page, so drift on the shared machine hits both sides alike. CPU seconds of
this process (`time.process_time`), summed over the pages, one line per repeat after a
warm-up pass (imports and trafilatura's first-use caches); the last line is the median of
the repeats, then the pages whose metadata cost most. No Beam: this is the pure function
behind the extract DoFn.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
from bench_pipeline import AEB_HTML_RELATIVE, distinct_sources  # noqa: E402

STEPS = ("parse", "metadata", "signals", "fast", "full")


def one_pass(pages: list[tuple[str, bytes]]) -> tuple[Counter[str], dict[str, float]]:
    """CPU seconds by step (ours, then "stock") and each page's metadata seconds."""
    import trafilatura

    from newsbeam.transforms import extract

    config = extract.ExtractConfig()
    clock = time.process_time
    seconds: Counter[str] = Counter()
    metadata: dict[str, float] = {}
    for name, html in pages:
        started = clock()
        tree = extract.parse_html(html)
        parsed = clock()
        if tree is not None:
            extract.html_metadata(tree)
            with_metadata = clock()
            signals = extract.page_signals(tree)
            signalled = clock()
            extract.drop_unread_elements(tree)
            prepared = extract.prepare_page(tree, config.include_tables, config.favor_precision)
            text = extract._main_text(prepared, config, fast=True)
            fast = clock()
            if extract.looks_like_menu(text) or extract.needs_full_extraction(text, signals):
                extract._main_text(prepared, config, fast=False)
            full = clock()
            seconds.update(
                {
                    "parse": parsed - started,
                    "metadata": with_metadata - parsed,
                    "signals": signalled - with_metadata,
                    "fast": fast - signalled,
                    "full": full - fast,
                }
            )
            metadata[name] = with_metadata - parsed
        before_stock = clock()
        trafilatura.extract(html)
        seconds["stock"] += clock() - before_stock
    return seconds, metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [str(AEB_HTML_RELATIVE)])
    for name in ("trafilatura", "htmldate"):  # as the extract DoFn's setup() does
        logging.getLogger(name).setLevel(logging.CRITICAL)
    pages = [(name, gzip.decompress(path.read_bytes())) for name, path in distinct_sources(shared)]
    print(f"{len(pages)} pages; CPU seconds of this process, summed over the pages")
    one_pass(pages)  # warm-up
    headers = ["repeat", *STEPS, "ours", "stock", "ours/stock"]
    rows, totals, metadata = [], [], {}
    for repeat in range(1, args.repeats + 1):
        seconds, metadata = one_pass(pages)
        ours = sum(seconds[step] for step in STEPS)
        totals.append((seconds, ours))
        rows.append(
            [
                repeat,
                *(f"{seconds[s]:.2f}" for s in STEPS),
                f"{ours:.2f}",
                f"{seconds['stock']:.2f}",
            ]
            + [f"{ours / seconds['stock']:.2f}"]
        )
    medians = {s: statistics.median(t[0][s] for t in totals) for s in (*STEPS, "stock")}
    ours_median = statistics.median(t[1] for t in totals)
    rows.append(
        ["median", *(f"{medians[s]:.2f}" for s in STEPS), f"{ours_median:.2f}"]
        + [f"{medians['stock']:.2f}", f"{ours_median / medians['stock']:.2f}"]
    )
    _common.print_table(headers, rows)
    ms = 1000 / len(pages)
    print(f"per page: ours {ours_median * ms:.1f} ms, stock {medians['stock'] * ms:.1f} ms")
    costly = sorted(metadata.items(), key=lambda item: -item[1])[:5]
    print(
        "costliest metadata (last repeat):", ", ".join(f"{n} {s * 1000:.0f} ms" for n, s in costly)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
