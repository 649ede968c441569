"""Story clustering: the pipeline's `story_id` against ECB+ event clusters.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_stories.py --gate 0.90
    .venv/bin/python benchmarks/eval_stories.py --beam-args='--story_threshold 0.3'

Data: ../shared/data/clusters/ecbplus-dev/docs.jsonl (772 documents, `cluster_id` = the
news event; each topic holds two similar events). The documents' `title` field is only
their first sentence, so the pipeline is given `{"id", "text"}` records (text as it is):
as a title it would be cut from the text. A document the pipeline marks as a duplicate
takes its canonical article's story; a rejected one is a story of its own.

Prints the adjusted Rand index (ARI) and pairwise precision, recall and F1 of the story
partition against `cluster_id`, and how many false pairs join the two events of one
topic. `--incremental` runs the pipeline twice with `--state` (even lines, then odd
lines), so half the articles must find their story among the first run's; `--runs N` with
it makes N runs (line numbers modulo N). `--gate X` fails (exit 1) when ARI < X. Missing
data exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
import scoring  # noqa: E402

ECBPLUS = Path("data/clusters/ecbplus-dev/docs.jsonl")


def line_of(source: str) -> int:
    return int(source.rsplit("#L", 1)[1]) if "#L" in source else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_shared_argument(parser)
    _common.add_pipeline_arguments(parser)
    parser.add_argument("--gate", type=float, default=None, help="fail when ARI < X")
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="two runs with --state: even lines, then odd lines (stories across runs)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=2,
        help="with --incremental: this many runs, line numbers modulo N (default 2)",
    )
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [ECBPLUS])
    records = [
        json.loads(line)
        for line in (shared / ECBPLUS).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    truth = [record["cluster_id"] for record in records]
    topic = [record["topic"] for record in records]
    extra = _common.split_beam_args(args.beam_args)
    with _common.scratch_directory("eval-stories") as scratch:
        if args.incremental:
            # Two days: even lines first, odd lines second, the state carried between (N
            # days with --runs N: line numbers modulo N).
            days = [list(range(day, len(records), args.runs)) for day in range(args.runs)]
        else:
            days = [list(range(len(records)))]
        rows: dict[str, list[dict]] = {"articles": [], "duplicates": [], "rejected": []}
        for number, indexes in enumerate(days):
            inputs = scratch / f"ecbplus-{number}.jsonl"
            inputs.write_text(
                "".join(
                    json.dumps({"id": records[i]["doc_id"], "text": records[i]["text"]}) + "\n"
                    for i in indexes
                ),
                encoding="utf-8",
            )
            day_extra = [*extra, "--state", str(scratch / "state")] if args.incremental else extra
            with _common.pipeline_output(args, [inputs], day_extra) as output_dir:
                for table, columns in (
                    ("articles", ["article_id", "source", "story_id"]),
                    ("duplicates", ["source", "canonical_id"]),
                    ("rejected", ["source"]),
                ):
                    for row in _common.read_table(output_dir, table, columns):
                        row["index"] = indexes[line_of(row["source"]) - 1]
                        rows[table].append(row)
    articles, duplicates, rejected = rows["articles"], rows["duplicates"], rows["rejected"]
    story_of_article = {row["article_id"]: row["story_id"] for row in articles}
    story: dict[int, str] = {r["index"]: r["story_id"] for r in articles}
    for row in duplicates:
        story[row["index"]] = story_of_article.get(row["canonical_id"], "?")
    for row in rejected:
        story[row["index"]] = f"rejected:{row['index']}"
    predicted = [story.get(n, f"missing:{n}") for n in range(len(records))]

    truth_of, predicted_of = dict(enumerate(truth)), dict(enumerate(predicted))
    ari = scoring.adjusted_rand(truth_of, predicted_of)
    precision, recall, f1, _, false = scoring.pairwise_scores(truth_of, predicted_of)
    false_pairs = len(false)
    same_topic_false = sum(topic[i] == topic[j] for i, j in false)
    print(
        f"\necbplus-dev: {len(records)} documents, {len(set(truth))} events; "
        f"{len(set(predicted))} predicted stories; rejected {len(rejected)}, "
        f"duplicates {len(duplicates)}"
    )
    _common.print_table(["ARI", "precision", "recall", "F1"], [[ari, precision, recall, f1]])
    print(f"false pairs: {false_pairs} ({same_topic_false} join the two events of one topic)")
    if args.gate is None:
        return 0
    return _common.finish_gate(ari >= args.gate, f"ecbplus-dev ARI {ari:.4f} (gate {args.gate})")


if __name__ == "__main__":
    sys.exit(main())
