"""Scores shared by the evaluation scripts in this folder: F1, pairwise precision/recall/F1
of a partition (copy sets, stories) against labelled clusters, the adjusted Rand index, and
per-label precision/recall/F1 with their macro average.

Not a package and not part of the product: scripts put this folder on `sys.path` (as they
do for `_common`) and `import scoring`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple


def f1_score(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall (0 when both are 0)."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def pairs_of(assignment: Mapping[Any, Any]) -> set[tuple[Any, Any]]:
    """Item -> group id  ->  every pair of items in the same group, each pair sorted."""
    groups: dict[Any, list[Any]] = {}
    for key, group in assignment.items():
        groups.setdefault(group, []).append(key)
    return {
        pair for members in groups.values() for pair in itertools.combinations(sorted(members), 2)
    }


class PairScores(NamedTuple):
    """Pairwise scores of a predicted partition against the true one."""

    precision: float  # of the predicted same-group pairs, the share that are true
    recall: float  # of the true same-group pairs, the share predicted
    f1: float
    missed: set[tuple[Any, Any]]  # true pairs not predicted
    false: set[tuple[Any, Any]]  # predicted pairs that are not true


def pairwise_scores(truth: Mapping[Any, Any], predicted: Mapping[Any, Any]) -> PairScores:
    """Precision, recall and F1 over same-group pairs (1.0 when there are no pairs to find
    or none predicted), and the missed and false pairs. Both map the same items."""
    true_pairs, predicted_pairs = pairs_of(truth), pairs_of(predicted)
    hits = len(true_pairs & predicted_pairs)
    precision = hits / len(predicted_pairs) if predicted_pairs else 1.0
    recall = hits / len(true_pairs) if true_pairs else 1.0
    return PairScores(
        precision,
        recall,
        f1_score(precision, recall),
        true_pairs - predicted_pairs,
        predicted_pairs - true_pairs,
    )


def adjusted_rand(truth: Mapping[Any, Any], predicted: Mapping[Any, Any]) -> float:
    """The adjusted Rand index of the predicted partition against the true one (scikit-learn,
    a dev dependency), over the items of `truth`."""
    from sklearn.metrics import adjusted_rand_score

    keys = sorted(truth)
    return float(adjusted_rand_score([truth[k] for k in keys], [predicted[k] for k in keys]))


def macro_f1(
    pairs: Sequence[tuple[str, str | None]], labels: Sequence[str]
) -> tuple[float, list[list[Any]]]:
    """Macro-F1 over `labels` of (gold, predicted) pairs, and the per-label rows
    [label, n, precision, recall, F1] (n: items whose gold label it is)."""
    rows: list[list[Any]] = []
    f1s = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = f1_score(precision, recall)
        f1s.append(f1)
        rows.append([label, tp + fn, precision, recall, f1])
    return sum(f1s) / len(f1s), rows
