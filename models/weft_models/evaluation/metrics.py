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
    return {
        "n": int(answered.sum()),
        "coverage": float(answered.sum() / n_labeled) if n_labeled else 0.0,
        "accuracy": float((pred == y).mean()) if len(y) else 0.0,
        "macro_f1": float(f1_score(y, pred, labels=classes, average="macro", zero_division=0)) if len(y) else 0.0,
    }


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
