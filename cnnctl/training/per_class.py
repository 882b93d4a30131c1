"""Per-class scores from a model's predictions: what one accuracy number hides.

Precision, recall, F1 and support per class, their macro and weighted
averages, the confusion matrix and the most-confused pairs, and the most
confident mistakes, computed with NumPy from the true labels and the
predicted probabilities, so the numbers can be checked by hand. The
definitions are scikit-learn's: a class never predicted has precision 0, a
class with no test images recall 0, and F1 is 0 where precision and recall
both are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PAIRS = 5  # most-confused pairs kept


def predicted_classes(probabilities: np.ndarray) -> np.ndarray:
    """The class each row predicts: the largest output, or for a single sigmoid output, 1 above 0.5."""
    if probabilities.shape[-1] == 1:
        return (probabilities[:, 0] > 0.5).astype(np.int64)
    return probabilities.argmax(axis=-1).astype(np.int64)


def confidence(probabilities: np.ndarray) -> np.ndarray:
    """The probability each row gives its predicted class."""
    if probabilities.shape[-1] == 1:
        p = probabilities[:, 0]
        return np.where(p > 0.5, p, 1 - p)
    return probabilities.max(axis=-1)


def per_class_report(labels: np.ndarray, probabilities: np.ndarray, names: list[str]) -> dict[str, Any]:
    """The per-class evaluation of one model on one split, as JSON-ready data.

    Args:
        labels: the true class of each image, `(n,)` integers.
        probabilities: the model's outputs, `(n, classes)` (or `(n, 1)` for a sigmoid output).
        names: the class names, in label order.

    Returns:
        `accuracy`, `classes` (names), `per_class` (one row per class: name,
        precision, recall, f1, support), `macro` and `weighted` averages,
        `confusion` (rows: true class, columns: predicted) and `most_confused`
        (the largest off-diagonal counts, largest first).
    """
    labels = np.asarray(labels, dtype=np.int64)
    predicted = predicted_classes(np.asarray(probabilities))
    k = len(names)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    hits = np.diag(confusion).astype(np.float64)
    support, guessed = confusion.sum(axis=1), confusion.sum(axis=0)
    precision = np.divide(hits, guessed, out=np.zeros(k), where=guessed > 0)
    recall = np.divide(hits, support, out=np.zeros(k), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(k), where=both > 0)
    rows = [{"class": names[c], "precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]),
             "support": int(support[c])} for c in range(k)]
    weights = support / max(int(support.sum()), 1)
    pairs = [(int(confusion[t, p]), t, p) for t in range(k) for p in range(k) if t != p and confusion[t, p]]
    pairs.sort(key=lambda pair: (-pair[0], pair[1], pair[2]))
    return {
        "accuracy": float(hits.sum() / max(len(labels), 1)),
        "classes": list(names),
        "per_class": rows,
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean()),
                  "support": int(support.sum())},
        "weighted": {"precision": float(precision @ weights), "recall": float(recall @ weights),
                     "f1": float(f1 @ weights), "support": int(support.sum())},
        "confusion": confusion.tolist(),
        "most_confused": [{"true": names[t], "predicted": names[p], "count": count,
                           "rate": count / int(support[t])} for count, t, p in pairs[:PAIRS]],
    }


def confident_mistakes(labels: np.ndarray, probabilities: np.ndarray, count: int) -> list[dict[str, Any]]:
    """The `count` wrong predictions the model was surest of: index, true and predicted class, probability."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted, sure = predicted_classes(probabilities), confidence(probabilities)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-sure[wrong], kind="stable")][:count]
    return [{"index": int(i), "true": int(labels[i]), "predicted": int(predicted[i]), "probability": float(sure[i])}
            for i in order]


def normalized(confusion: list[list[int]]) -> list[list[float]]:
    """Each row of a confusion matrix as rates of its true class (a class with no images stays 0)."""
    matrix = np.asarray(confusion, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0).tolist()
