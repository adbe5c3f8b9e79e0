"""Accuracy, macro-F1 and confusion matrices over the rows a source answered."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score


def task_metrics(labels: np.ndarray, probs: np.ndarray, present: np.ndarray | None = None) -> dict[str, Any]:
    """``accuracy`` and ``macro_f1`` (over all of the task's classes) on labeled rows the source answered.

    ``coverage`` is the share of labeled rows the source answered at all (rules only answer when
    the vendor gave a usable color name).
    """
    labeled = labels >= 0
    answered = labeled & (present if present is not None else np.ones_like(labeled))
    n_labeled = int(labeled.sum())
    y = labels[answered]
    pred = probs[answered].argmax(1)
    classes = list(range(probs.shape[1]))
    correct = int((pred == y).sum())
    return {
        "n": int(answered.sum()),
        "coverage": float(answered.sum() / n_labeled) if n_labeled else 0.0,
        "accuracy": correct / len(y) if len(y) else 0.0,
        "ci95": list(wilson_interval(correct, len(y))),
        "macro_f1": float(f1_score(y, pred, labels=classes, average="macro", zero_division=0)) if len(y) else 0.0,
    }


def wilson_interval(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of an accuracy (sound near 0 and 1, unlike the normal one)."""
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def paired_difference_interval(labels: np.ndarray, probs_a: np.ndarray, probs_b: np.ndarray, resamples: int = 2000,
                               seed: int = 0) -> tuple[float, float, float]:
    """Accuracy of A minus accuracy of B on the same rows, with a 95 % paired bootstrap interval."""
    keep = labels >= 0
    a = (probs_a[keep].argmax(1) == labels[keep]).astype(np.float64)
    b = (probs_b[keep].argmax(1) == labels[keep]).astype(np.float64)
    if not len(a):
        return (0.0, 0.0, 0.0)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(a), (resamples, len(a)))
    diffs = a[picks].mean(1) - b[picks].mean(1)
    return (float(a.mean() - b.mean()), float(np.quantile(diffs, 0.025)), float(np.quantile(diffs, 0.975)))


def confusion(labels: np.ndarray, probs: np.ndarray, present: np.ndarray | None = None) -> list[list[int]]:
    keep = (labels >= 0) & (present if present is not None else np.ones(len(labels), dtype=bool))
    cm = confusion_matrix(labels[keep], probs[keep].argmax(1), labels=list(range(probs.shape[1])))
    return cm.astype(int).tolist()


def abstention(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    """How the fitted threshold behaves: share answered and accuracy of the answers."""
    labeled = labels >= 0
    conf = probs[labeled].max(1)
    correct = probs[labeled].argmax(1) == labels[labeled]
    kept = conf >= threshold
    return {
        "threshold": float(threshold),
        "answered": float(kept.mean()) if len(kept) else 0.0,
        "accuracy_answered": float(correct[kept].mean()) if kept.any() else 0.0,
    }
