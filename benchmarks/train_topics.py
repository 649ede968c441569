"""Train the topic tagger's linear model on the openly licensed labelled news texts.

    .venv/bin/pip install 'scikit-learn>=1.4,<2'   # training only, not a run-time dependency
    .venv/bin/python benchmarks/train_topics.py --shared ../shared

Reads `../shared/data/topics/open-labelled/all_iptc.jsonl` (CC BY-SA 4.0 / CC BY 2.5; the
attributions are kept in `transforms/data/topics-model/licences/` beside the model, which
carries the same share-alike licence) and writes `transforms/data/topics-model/topics-linear.npz`:
the vocabulary, its idf weights and one logistic-regression weight row per IPTC top-level
topic. The tagger applies it with numpy only (newsbeam.transforms.topics); nothing is pickled.

Features (newsbeam.transforms.support.text): word unigrams and bigrams after removing
scikit-learn's English stop words (the list ships inside the model file), sublinear tf x idf,
L2-normalised, so a short event summary and a long article land on the same scale.
The BBC set is research-only: it is never read here (thresholds are tuned on it in
benchmarks/eval_topics.py, nothing is trained on it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_shared_argument, locate_shared  # noqa: E402

from newsbeam.transforms.support.text import ngram_counts, words  # noqa: E402

DATA = "data/topics/open-labelled/all_iptc.jsonl"
MODEL_PATH = (
    Path(__file__).resolve().parents[1]
    / "transforms"
    / "data"
    / "topics-model"
    / "topics-linear.npz"
)
# Topics with fewer training texts than this get no model row (labour, society: a handful).
MIN_POSITIVES = 40


def make_analyzer(stop_words: frozenset[str]):  # noqa: ANN201 (sklearn's callable)
    def analyzer(text: str) -> list[str]:
        return list(ngram_counts(words(text, stop_words)))

    return analyzer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_shared_argument(parser)
    parser.add_argument("--min-df", type=int, default=2)
    parser.add_argument("--max-features", type=int, default=60_000)
    # Chosen on bbc-dev macro-F1 (benchmarks/eval_topics.py): C=1 and max_df=0.1 (features
    # in more than a tenth of the texts say little about a topic) beat C=4/16 and no max_df.
    parser.add_argument("--max-df", type=float, default=0.1)
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation")
    parser.add_argument("--article-weight", type=float, default=3.0)
    parser.add_argument("--output", type=Path, default=MODEL_PATH)
    args = parser.parse_args(argv)

    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    shared = locate_shared(args.shared, [DATA])
    records = [json.loads(line) for line in (shared / DATA).open(encoding="utf-8")]
    texts = [" ".join(filter(None, [r.get("title"), r["text"]])) for r in records]
    codes = sorted({c for r in records for c in r["iptc"]})
    labels = {c: np.array([c in r["iptc"] for r in records]) for c in codes}
    classes = [c for c in codes if labels[c].sum() >= MIN_POSITIVES]

    started = time.perf_counter()
    vectorizer = CountVectorizer(
        analyzer=make_analyzer(frozenset(ENGLISH_STOP_WORDS)),
        min_df=args.min_df,
        max_df=args.max_df,
        max_features=args.max_features,
    )
    counts = vectorizer.fit_transform(texts).astype(np.float64)
    vocabulary = vectorizer.get_feature_names_out()
    document_frequency = np.asarray((counts > 0).sum(axis=0)).ravel()
    idf = np.log((1 + len(texts)) / (1 + document_frequency)) + 1.0
    features = counts.copy()
    features.data = 1.0 + np.log(features.data)
    features = features.multiply(idf).tocsr()
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
    features = features.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]).tocsr()

    # Whole articles (Wikinews) look like what the tagger meets in production; the short
    # event summaries outnumber them ten to one, so each article counts more.
    sample_weight = np.array(
        [args.article_weight if r["kind"] == "article" else 1.0 for r in records]
    )
    weights = np.zeros((len(classes), len(vocabulary)), dtype=np.float32)
    biases = np.zeros(len(classes), dtype=np.float32)
    # BLAS on one thread: with one per core its sums run in an order that follows the
    # threads, and a few weights came out one float32 unit apart from run to run and from
    # machine to machine (9 of 840,000 on 2 threads); one thread gives the same file on every
    # run, and on a busy 2-core host trained in 19 s, not 112 (the threads waited on others).
    with threadpool_limits(limits=1):
        for row, code in enumerate(classes):
            model = LogisticRegression(C=args.c, class_weight="balanced", max_iter=2000)
            model.fit(features, labels[code], sample_weight=sample_weight)
            weights[row] = model.coef_[0]
            biases[row] = model.intercept_[0]
            print(f"  medtop:{code}: {int(labels[code].sum())} positives")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.output,
        vocabulary=np.array(vocabulary, dtype=str),
        stop_words=np.array(sorted(ENGLISH_STOP_WORDS), dtype=str),
        idf=idf.astype(np.float32),
        weights=weights,
        biases=biases,
        classes=np.array([f"medtop:{c}" for c in classes], dtype=str),
        trained_on=np.array(f"{DATA} ({len(texts)} texts)"),
    )
    size_kb = args.output.stat().st_size / 1024
    print(
        f"trained {len(classes)} topics on {len(texts)} texts, {len(vocabulary)} features "
        f"in {time.perf_counter() - started:.0f} s -> {args.output} ({size_kb:.0f} KB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
