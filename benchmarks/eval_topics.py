"""Quality of the pipeline's `topics` column on BBC News articles (bbc-dev).

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_topics.py --gate 0.90

Data: ../shared/data/topics/bbc-dev/articles.jsonl (500 BBC articles, 2004-05; research use
only, never copied into the repository, nothing trained on it). Runs the pipeline once over
the JSON-lines file (each line is one article: title and text), then maps BBC's labels to
IPTC top-level topics (business -> medtop:04000000, entertainment -> medtop:01000000,
politics -> medtop:11000000, sport -> medtop:15000000, tech -> medtop:13000000) and scores
the article's FIRST top-level topic: top-1 accuracy, per-label precision/recall/F1 and
macro-F1 over the five labels. An article with no topic counts as wrong. A line that became
a duplicate takes its canonical article's topics; a rejected line counts as wrong.

`--gate X` fails (exit 1) when macro-F1 < X. Missing data exits 2.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
import scoring  # noqa: E402

BBC_RELATIVE = Path("data/topics/bbc-dev/articles.jsonl")
BBC_TO_IPTC = {
    "business": "medtop:04000000",
    "entertainment": "medtop:01000000",
    "politics": "medtop:11000000",
    "sport": "medtop:15000000",
    "tech": "medtop:13000000",
}
_LINE = re.compile(r"#L(\d+)$")


def first_top_level(topics: list[str] | None) -> str | None:
    """The first top-level qcode (medtop:NN000000) of a topics list."""
    for qcode in topics or []:
        if qcode.startswith("medtop:") and qcode.endswith("000000") and qcode[9:11] == "00":
            return qcode
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_shared_argument(parser)
    _common.add_pipeline_arguments(parser)
    parser.add_argument("--gate", type=float, default=None, help="minimum macro-F1")
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [str(BBC_RELATIVE)])
    data = shared / BBC_RELATIVE
    gold_by_line: dict[int, str] = {}
    for number, line in enumerate(data.open(encoding="utf-8"), start=1):
        if line.strip():
            gold_by_line[number] = BBC_TO_IPTC[json.loads(line)["topic"]]

    extra = _common.split_beam_args(args.beam_args)
    with _common.pipeline_output(args, [data], extra) as output:
        articles = _common.read_table(output, "articles", ["article_id", "source", "topics"])
        duplicates = _common.read_table(output, "duplicates", ["source", "canonical_id"])
        rejected = _common.read_table(output, "rejected", ["source", "stage", "reason"])

    def line_of(source: str) -> int:
        match = _LINE.search(source)
        return int(match.group(1)) if match else -1

    topics_by_id = {row["article_id"]: row["topics"] for row in articles}
    predicted: dict[int, str | None] = {}
    for row in articles:
        predicted[line_of(row["source"])] = first_top_level(row["topics"])
    for row in duplicates:
        predicted[line_of(row["source"])] = first_top_level(topics_by_id.get(row["canonical_id"]))
    pairs = [(gold, predicted.get(number)) for number, gold in sorted(gold_by_line.items())]
    labels = sorted(BBC_TO_IPTC.values())
    score, rows = scoring.macro_f1(pairs, labels)
    accuracy = sum(1 for g, p in pairs if g == p) / len(pairs)
    names = {v: k for k, v in BBC_TO_IPTC.items()}
    print(f"articles: {len(pairs)}  ({len(duplicates)} duplicates, {len(rejected)} rejected)")
    _common.print_table(
        ["label", "qcode", "n", "precision", "recall", "F1"],
        [[names[r[0]], *r] for r in rows],
    )
    confusion = collections.Counter((g, p) for g, p in pairs if g != p)
    print("most frequent errors (gold -> first topic):")
    for (g, p), n in confusion.most_common(8):
        print(f"  {names[g]:>13} -> {names.get(p or '', p)}: {n}")
    print(f"top-1 accuracy: {accuracy:.3f}")
    print(f"macro-F1:       {score:.3f}")
    if args.gate is None:
        return 0
    return _common.finish_gate(score >= args.gate, f"macro-F1 {score:.3f} (gate {args.gate})")


if __name__ == "__main__":
    sys.exit(main())
