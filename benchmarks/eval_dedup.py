"""Near-duplicate detection: predicted copy-sets against labelled ones.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_dedup.py --gate
    .venv/bin/python benchmarks/eval_dedup.py --beam-args='--near_duplicate_threshold 0.6'

Data:
- ../shared/data/dedup/syndicated-dev: `docs/*.txt` (title line, blank line, body) and
  `labels.csv` (file, cluster, kind); same cluster = copies of one article. ECB+ articles
  by other outlets about the same events are in their own clusters: same story, not copies.
- ../shared/data/topics/bbc-dev: `articles.jsonl` and `near_duplicate_pairs.csv`, pairs BBC
  republished (word 5-gram Jaccard >= 0.5 or containment >= 0.8).

Runs the pipeline on each set. A file's predicted copy-set is its article's id (an
article) or its `canonical_id` (a duplicate); a rejected file is alone. Prints pairwise
precision, recall and F1 and the adjusted Rand index (ARI) of the predicted copy-sets
against the labels, the misses and false pairs by kind, and for BBC the labelled pairs
found and the pairs predicted beyond them. `--gate` fails (exit 1) below the issue's goal
on syndicated-dev: pairwise F1 >= 0.99 with precision >= 0.995 (or --gate-f1/--gate-precision).
Missing data exits 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
import scoring  # noqa: E402

SYNDICATED = Path("data/dedup/syndicated-dev")
BBC = Path("data/topics/bbc-dev")


def predicted_sets(output_dir: Path, key_of_source) -> dict[str, str]:  # noqa: ANN001
    """Input key -> predicted copy-set id."""
    sets: dict[str, str] = {}
    for row in _common.read_table(output_dir, "articles", ["article_id", "source"]):
        sets[key_of_source(row["source"])] = row["article_id"]
    for row in _common.read_table(output_dir, "duplicates", ["canonical_id", "source"]):
        sets[key_of_source(row["source"])] = row["canonical_id"]
    for row in _common.read_table(output_dir, "rejected", ["source"]):
        key = key_of_source(row["source"])
        sets[key] = f"rejected:{key}"
    return sets


def evaluate_syndicated(args: argparse.Namespace, shared: Path) -> tuple[float, float, float]:
    base = shared / SYNDICATED
    with open(base / "labels.csv", newline="", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    truth = {row["file"]: row["cluster"] for row in labels}
    kind = {row["file"]: row["kind"] for row in labels}
    extra = _common.split_beam_args(args.beam_args)
    with _common.pipeline_output(args, [base / "docs"], extra) as output_dir:
        predicted = predicted_sets(output_dir, lambda s: _common.source_path(s).name)
        manifest = _common.read_manifest(output_dir) or {}
        rejected = _common.read_table(output_dir, "rejected", ["stage", "reason"])
    missing = sorted(set(truth) - set(predicted))
    for key in missing:
        predicted[key] = f"missing:{key}"
    predicted = {key: predicted[key] for key in truth}
    precision, recall, f1, missed, false = scoring.pairwise_scores(truth, predicted)
    ari = scoring.adjusted_rand(truth, predicted)
    counts = manifest.get("counts", {})
    print(f"\nsyndicated-dev: {len(truth)} documents, {len(scoring.pairs_of(truth))} copy pairs")
    print(
        f"  articles {counts.get('articles')}  duplicates {counts.get('duplicates')}  "
        f"rejected {counts.get('rejected')}  missing {len(missing)}"
    )
    # Why inputs were rejected: a rise (once 227 under heavy load, not reproduced) should
    # say which stage and reason at once.
    reasons = Counter(f"{row['stage']}/{row['reason']}" for row in rejected)
    print("  rejected by stage/reason:", dict(sorted(reasons.items())) or "none")
    _common.print_table(["precision", "recall", "F1", "ARI"], [[precision, recall, f1, ari]])
    missed_kinds = Counter(tuple(sorted((kind[a], kind[b]))) for a, b in missed)
    false_kinds = Counter(tuple(sorted((kind[a], kind[b]))) for a, b in false)
    print("missed pairs by kinds:", dict(missed_kinds.most_common(8)))
    print("false pairs by kinds: ", dict(false_kinds.most_common(8)))
    for a, b in sorted(missed)[: args.list]:
        print(f"  missed {a} ({kind[a]}) ~ {b} ({kind[b]})")
    for a, b in sorted(false)[: args.list]:
        print(f"  false  {a} ({kind[a]}) ~ {b} ({kind[b]})")
    return precision, recall, f1


def evaluate_bbc(args: argparse.Namespace, shared: Path) -> None:
    base = shared / BBC
    ids = [
        json.loads(line)["id"]
        for line in (base / "articles.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    with open(base / "near_duplicate_pairs.csv", newline="", encoding="utf-8") as handle:
        labelled = {tuple(sorted((r["id_a"], r["id_b"]))) for r in csv.DictReader(handle)}

    def key_of_source(source: str) -> str:
        line = int(source.rsplit("#L", 1)[1]) if "#L" in source else 0
        return ids[line - 1]

    extra = _common.split_beam_args(args.beam_args)
    with _common.scratch_directory("eval-bbc") as scratch:
        run = _common.run_pipeline([base / "articles.jsonl"], scratch / "out", scratch, extra)
        _common.require_success(run)
        predicted = predicted_sets(scratch / "out", key_of_source)
    predicted_pairs = scoring.pairs_of(predicted)
    found = labelled & predicted_pairs
    print(f"\nbbc-dev: {len(ids)} articles, {len(labelled)} labelled republished pairs")
    print(
        f"  labelled pairs found: {len(found)}/{len(labelled)} = {len(found) / len(labelled):.3f}"
    )
    print(f"  predicted pairs beyond the labelled ones: {len(predicted_pairs - labelled)}")
    for a, b in sorted(labelled - predicted_pairs)[: args.list]:
        print(f"  missed {a} ~ {b}")
    for a, b in sorted(predicted_pairs - labelled)[: args.list]:
        print(f"  extra  {a} ~ {b}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_shared_argument(parser)
    _common.add_pipeline_arguments(parser)
    parser.add_argument("--gate", action="store_true", help="fail below the goal")
    parser.add_argument("--gate-f1", type=float, default=0.99)
    parser.add_argument("--gate-precision", type=float, default=0.995)
    parser.add_argument("--list", type=int, default=10, help="misses/false pairs to list")
    parser.add_argument("--no-bbc", action="store_true", help="skip the BBC pairs")
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [SYNDICATED / "labels.csv", BBC])
    precision, _, f1 = evaluate_syndicated(args, shared)
    if not args.no_bbc:
        evaluate_bbc(args, shared)
    if not args.gate:
        return 0
    passed = f1 >= args.gate_f1 and precision >= args.gate_precision
    return _common.finish_gate(
        passed,
        f"syndicated-dev pairwise F1 {f1:.4f} (gate {args.gate_f1}), precision "
        f"{precision:.4f} (gate {args.gate_precision})",
    )


if __name__ == "__main__":
    sys.exit(main())
