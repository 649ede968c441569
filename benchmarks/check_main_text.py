"""Check that transforms/support/main_text.py gives trafilatura's results on real pages.

Reproduce (from the repository root; about 30 s):

    .venv/bin/python benchmarks/check_main_text.py

Pages: every distinct HTML page of ../shared (the 439 of `bench_extract.py`). For each
page: `parse_html` against trafilatura's `load_html` (the serialized trees), then, on the
page as the extract stage has it (`drop_unread_elements`), the fast and the full main text
of `prepare_page` + `main_text` (the full one after the fast one, from the same prepared
page, as `extract_html_document` runs them, but on every page) against
`bare_extraction(tree, fast=..., include_comments=False).text`, trafilatura's body XPaths
wrapped as main_text wraps them (support/body_siblings.py: a body split into containers of
one kind is read whole, which trafilatura does not do). Prints the number of
pages that differ in each; exits 1 when any does, or when the installed trafilatura is not the
one copied (`copy_matches_trafilatura`: the extract stage then runs trafilatura's own code).
"""

from __future__ import annotations

import argparse
import gzip
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
from bench_pipeline import AEB_HTML_RELATIVE, distinct_sources  # noqa: E402


def differences(name: str, html: bytes) -> list[str]:
    """What differs on one page: "tree", "fast", "full" (none: an empty list)."""
    from lxml import etree
    from trafilatura import bare_extraction
    from trafilatura.utils import load_html

    from newsbeam.transforms import extract

    theirs, ours = load_html(html), extract.parse_html(html)
    serialized = [None if t is None else etree.tostring(t) for t in (theirs, ours)]
    if serialized[0] != serialized[1]:
        return ["tree"]
    if ours is None:
        return []
    extract.drop_unread_elements(ours)
    extract.drop_unread_elements(theirs)
    prepared = extract.prepare_page(ours)
    found = []
    for label, fast in (("fast", True), ("full", False)):
        document = bare_extraction(theirs, fast=fast, include_comments=False)
        expected = (document.text or "") if document is not None else ""
        if extract.main_text(prepared, fast) != expected:
            found.append(label)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_shared_argument(parser)
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [str(AEB_HTML_RELATIVE)])
    for name in ("trafilatura", "htmldate"):  # as the extract DoFn's setup() does
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from newsbeam.transforms.support.main_text import copy_matches_trafilatura

    if not copy_matches_trafilatura():  # it has logged what differs
        print("the installed trafilatura is not the one copied: its stock path is used, no check")
        return 1
    pages = [(name, gzip.decompress(path.read_bytes())) for name, path in distinct_sources(shared)]
    from trafilatura import main_extractor

    from newsbeam.transforms.support.body_siblings import WithSiblingBodies

    # trafilatura with main_text's one departure, so that what differs is the copy's doing
    stock_body = main_extractor.BODY_XPATH
    main_extractor.BODY_XPATH = [WithSiblingBodies(expression) for expression in stock_body]
    differing: dict[str, list[str]] = {"tree": [], "fast": [], "full": []}
    for name, html in pages:
        for label in differences(name, html):
            differing[label].append(name)
    for label, names in differing.items():
        print(f"{label}: {len(names)} of {len(pages)} pages differ {names[:5]}")
    return 1 if any(differing.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
