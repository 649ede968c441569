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

Small stories (`--small`, on by default; `--no-small` skips it): the common shape of a
day of news, many small stories among unrelated ones that share names. ecbplus-dev cut to
three articles an event (198 articles, 66 events; `random.Random(seed)` over each event's
documents in doc_id order, seeds 1, 2, 3), as JSON lines without dates. Printed for each
sample and their mean: the pipeline's ARI and pairwise precision and recall beside plain
TF-IDF average-link clustering of the same texts (scikit-learn's TfidfVectorizer with
English stop words and sublinear TF, cosine distance, scipy's average linkage) at its best
threshold of 0.10-0.30 on that sample (the strongest such baseline). Also printed: each
sample as text files and their mean, where the pipeline reads dates from the texts' date
lines (about a third of the articles have one; ECB+ events include follow-ups weeks
later, so these dates split some events). Not gated.
`--gate-small X` fails unless the mean ARI >= X and >= the baseline's mean ARI;
`--gate-small-precision X` fails unless the mean pairwise precision (undated) >= X (a
merged story mixes unrelated events in every report built on it).

Groups (`--groups`, on by default; `--no-groups` skips it; no pipeline run): what the
small-stories samples cannot show, since a group of six linked articles there is always
two events of three. Undated groups of linked articles are clustered on their own with
the pipeline's functions (extract, clean, story terms, TF-IDF over all of ecbplus-dev,
`group_similarity`, `cannot_link`, `average_link`): one event's reports (6, 8 or 10 of an
event that has them, three draws each), counted when cut; and three reports of each of a topic's two
events (three draws a topic), counted when kept apart. A rule that separates more twins
only by cutting more single stories shows here. Not gated.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)
import scoring  # noqa: E402

ECBPLUS = Path("data/clusters/ecbplus-dev/docs.jsonl")
SMALL_SEEDS = (1, 2, 3)
SMALL_SIZE = 3
BASELINE_THRESHOLDS = (0.10, 0.15, 0.20, 0.25, 0.30)


def line_of(source: str) -> int:
    return int(source.rsplit("#L", 1)[1]) if "#L" in source else 0


def small_stories(records: list[dict], seed: int, size: int = SMALL_SIZE) -> list[dict]:
    """`size` documents of each event (all of a smaller one), drawn with `seed`."""
    rng = random.Random(seed)
    events: dict[str, list[dict]] = {}
    for record in records:
        events.setdefault(record["cluster_id"], []).append(record)
    sample: list[dict] = []
    for event in sorted(events):
        documents = sorted(events[event], key=lambda record: record["doc_id"])
        sample += rng.sample(documents, min(size, len(documents)))
    return sample


def partition_scores(truth: list[Any], predicted: list[Any]) -> tuple[float, float, float]:
    """ARI, pairwise precision and pairwise recall of a partition given as parallel lists."""
    truth_of, predicted_of = dict(enumerate(truth)), dict(enumerate(predicted))
    pairs = scoring.pairwise_scores(truth_of, predicted_of)
    return scoring.adjusted_rand(truth_of, predicted_of), pairs.precision, pairs.recall


def tfidf_average_link(texts: list[str], threshold: float) -> list[int]:
    """Plain TF-IDF average-link clustering: groups merge while their mean cosine >= threshold."""
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import pdist
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    tree = hierarchy.linkage(pdist(vectors.toarray(), "cosine"), "average")
    return [int(g) for g in hierarchy.fcluster(tree, 1.0 - threshold, criterion="distance")]


def pipeline_stories(
    args: argparse.Namespace, inputs: Path, key_of_source: Any, keys: list[str]
) -> list[str]:
    """The pipeline's story of each key (a duplicate takes its canonical article's story; a
    rejected or missing document is a story of its own)."""
    run_args = argparse.Namespace(**{**vars(args), "output": None, "reuse_output": False})
    extra = _common.split_beam_args(args.beam_args)
    with _common.pipeline_output(run_args, [inputs], extra) as output_dir:
        articles = _common.read_table(output_dir, "articles", ["article_id", "source", "story_id"])
        duplicates = _common.read_table(output_dir, "duplicates", ["source", "canonical_id"])
    story_of_article = {row["article_id"]: row["story_id"] for row in articles}
    story = {key_of_source(row["source"]): row["story_id"] for row in articles}
    for row in duplicates:
        story[key_of_source(row["source"])] = story_of_article.get(row["canonical_id"], "?")
    return [story.get(key, f"alone:{key}") for key in keys]


def evaluate_small(args: argparse.Namespace, records: list[dict]) -> tuple[float, float, float]:
    """Small stories (see the module docstring): (our mean ARI, the baseline's mean ARI, our
    mean pairwise precision)."""
    rows, ours, baseline, precisions, text_rows, texts = [], [], [], [], [], []
    with _common.scratch_directory("eval-small-stories") as scratch:
        for seed in SMALL_SEEDS:
            sample = small_stories(records, seed)
            truth = [record["cluster_id"] for record in sample]
            keys = [record["doc_id"] for record in sample]
            inputs = scratch / f"small-{seed}.jsonl"
            inputs.write_text(
                "".join(json.dumps({"id": r["doc_id"], "text": r["text"]}) + "\n" for r in sample),
                encoding="utf-8",
            )
            by_line = dict(enumerate(keys, start=1))
            predicted = pipeline_stories(
                args, inputs, lambda s, lines=by_line: lines[line_of(s)], keys
            )
            ari, precision, recall = partition_scores(truth, predicted)
            rows.append([f"seed {seed}, undated", "newsbeam", ari, precision, recall])
            best = max(
                (
                    (partition_scores(truth, labels)[0], threshold, labels)
                    for threshold in BASELINE_THRESHOLDS
                    for labels in [tfidf_average_link([r["text"] for r in sample], threshold)]
                ),
                key=lambda found: found[0],
            )
            rows.append(
                [f"seed {seed}, undated", f"tf-idf average-link {best[1]:.2f}", best[0]]
                + list(partition_scores(truth, best[2])[1:])
            )
            ours.append(ari)
            precisions.append(precision)
            baseline.append(best[0])
            # The same sample as text files: dates come from the texts' date lines.
            folder = scratch / f"small-{seed}-text"
            folder.mkdir()
            for record in sample:
                (folder / f"{record['doc_id']}.txt").write_text(record["text"], "utf-8")
            dated = pipeline_stories(args, folder, lambda s: Path(s).stem, keys)
            texts.append(partition_scores(truth, dated))
            text_rows.append([f"seed {seed}, text files", "newsbeam", *texts[-1]])
    events = len(set(record["cluster_id"] for record in small_stories(records, SMALL_SEEDS[0])))
    print(f"\nsmall stories: ecbplus-dev, {SMALL_SIZE} articles of each of {events} events")
    _common.print_table(
        ["sample", "clustering", "ARI", "precision", "recall"],
        [
            *rows,
            *text_rows,
            ["mean, undated", "newsbeam", statistics.fmean(ours), statistics.fmean(precisions), ""],
            ["mean, undated", "tf-idf average-link (best)", statistics.fmean(baseline), "", ""],
            [
                "mean, text files",
                "newsbeam",
                *(statistics.fmean(scores) for scores in zip(*texts, strict=True)),
            ],
        ],
    )
    return statistics.fmean(ours), statistics.fmean(baseline), statistics.fmean(precisions)


GROUP_SIZES = (6, 8, 10)
GROUP_DRAWS = 3


def evaluate_groups(records: list[dict]) -> tuple[int, int, int, int]:
    """Groups (see the module docstring): (single stories cut, single stories, twin
    groups kept apart, twin groups)."""
    from newsbeam.schemas import RawDocument
    from newsbeam.transforms import clean, extract, stories

    config = stories.StoryConfig()
    docs = []
    for record in records:
        line = json.dumps({"id": record["doc_id"], "text": record["text"]}).encode()
        article = extract.extract_json_record(RawDocument(record["doc_id"], "jsonl", line))
        docs.append(stories.story_doc(clean.clean_article(article), config))
    frequencies = stories.add_frequencies(stories.NO_FREQUENCIES, docs)
    vectors = stories.tfidf_vectors((doc.terms for doc in docs), frequencies)
    keys = stories.key_names(docs, config)  # rare among all of ecbplus-dev, as in one run
    row_of = {record["doc_id"]: row for row, record in enumerate(records)}

    def groups_of(members: list[str]) -> list[int]:
        matrix = stories._term_matrix([vectors[row_of[member]] for member in members])
        similarity = (matrix @ matrix.T).toarray()
        found, threshold = stories.group_similarity(similarity, config, [None] * len(members))
        rows = [row_of[member] for member in members]
        apart = stories.cannot_link(
            [keys[row] for row in rows], [docs[row].terms for row in rows], [None] * len(rows)
        )
        found[apart] = stories._CONFLICT
        return stories.average_link(found, threshold)

    events: dict[str, list[str]] = {}
    topics: dict[Any, set[str]] = {}
    for record in sorted(records, key=lambda record: record["doc_id"]):
        events.setdefault(record["cluster_id"], []).append(record["doc_id"])
        topics.setdefault(record["topic"], set()).add(record["cluster_id"])
    cut = singles = apart = twins = 0
    for event in sorted(events):
        for size in GROUP_SIZES:
            for draw in range(GROUP_DRAWS if len(events[event]) >= size else 0):
                rng = random.Random(f"{event}/{size}/{draw}")
                singles += 1
                cut += len(set(groups_of(rng.sample(events[event], size)))) > 1
    for topic in sorted(topics, key=str):
        if len(topics[topic]) != 2:
            continue
        first, second = sorted(topics[topic])
        for draw in range(GROUP_DRAWS):
            rng = random.Random(f"{topic}/{draw}")
            one = rng.sample(events[first], min(SMALL_SIZE, len(events[first])))
            two = rng.sample(events[second], min(SMALL_SIZE, len(events[second])))
            groups = groups_of(one + two)
            twins += 1
            apart += not set(groups[: len(one)]) & set(groups[len(one) :])
    print("\nundated groups, clustered on their own (ecbplus-dev)")
    _common.print_table(
        ["group", "count", "of", "share"],
        [
            ["one event's reports (6, 8, 10), cut", cut, singles, cut / singles],
            ["two events of a topic (3 + 3), kept apart", apart, twins, apart / twins],
        ],
    )
    return cut, singles, apart, twins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_shared_argument(parser)
    _common.add_pipeline_arguments(parser)
    parser.add_argument("--gate", type=float, default=None, help="fail when ARI < X")
    parser.add_argument(
        "--small",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score small stories: three articles an event, undated (default: on)",
    )
    parser.add_argument(
        "--gate-small",
        type=float,
        default=None,
        help="fail unless the small stories' mean ARI >= X and >= the TF-IDF baseline's",
    )
    parser.add_argument(
        "--gate-small-precision",
        type=float,
        default=None,
        help="fail unless the small stories' mean pairwise precision (undated) >= X",
    )
    parser.add_argument(
        "--groups",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score undated groups clustered on their own: single stories cut, twin "
        "events kept apart (no pipeline run; default: on)",
    )
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
    small = evaluate_small(args, records) if args.small and not args.incremental else None
    if args.groups and not args.incremental:
        evaluate_groups(records)
    if args.gate is None and args.gate_small is None and args.gate_small_precision is None:
        return 0
    passed, message = True, f"ecbplus-dev ARI {ari:.4f}"
    if args.gate is not None:
        passed, message = ari >= args.gate, f"{message} (gate {args.gate})"
    if args.gate_small is not None or args.gate_small_precision is not None:
        if small is None:
            _common.exit_missing("--gate-small* needs the small stories (no --no-small)")
            return 2
        ours, baseline, precision = small
        if args.gate_small is not None:
            passed = passed and ours >= args.gate_small and ours >= baseline
            message += (
                f"; small stories ARI {ours:.4f} (gate {args.gate_small}, "
                f"TF-IDF average-link {baseline:.4f})"
            )
        if args.gate_small_precision is not None:
            passed = passed and precision >= args.gate_small_precision
            message += (
                f"; small stories precision {precision:.4f} (gate {args.gate_small_precision})"
            )
    return _common.finish_gate(passed, message)


if __name__ == "__main__":
    sys.exit(main())
