"""Fit the per-task ensemble (``models/artifacts/ensemble.json``) on validation predictions.

The combination is the one the pipeline runs (``functions/shared/products/ensemble.ts``), so the
fitted numbers mean the same thing there:

1. a product's image predictions are averaged into one image distribution (done by the caller,
   see :func:`mean_over_groups`);
2. the distributions of the source kinds present for the product (image, text, rules) are
   combined with the task's weights, renormalized over the kinds present; when every present kind
   has weight 0 they count equally;
3. below the task's threshold the attribute abstains.

Weights are chosen on a grid over the simplex for accuracy (ties: lower log loss). The threshold
abstains exactly where that pays on validation: it maximizes (right − wrong) over the answers
kept, i.e. drops predictions that are more often wrong than right.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("image", "text", "rules")
DEFAULT_WEIGHTS = {"image": 0.5, "text": 0.5, "rules": 0.5}


@dataclass
class TaskPredictions:
    """Validation evidence for one task: ``probs[kind]`` is ``(N, C)``; ``present[kind]`` ``(N,)`` bool."""

    labels: np.ndarray
    probs: dict[str, np.ndarray]
    present: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        n = len(self.labels)
        for kind, p in self.probs.items():
            if p.ndim != 2 or len(p) != n:
                raise ValueError(f"{kind} probabilities have shape {p.shape}, expected ({n}, classes)")
            if kind not in self.present:
                self.present[kind] = np.ones(n, dtype=bool)
            if self.present[kind].shape != (n,):
                raise ValueError(f"{kind} presence mask has shape {self.present[kind].shape}, expected ({n},)")


def mean_over_groups(probs: np.ndarray, groups: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    """Average rows that share a group (a product's images) → (group order, (G, C))."""
    order: list[Any] = []
    index: dict[Any, int] = {}
    for g in groups:
        if g not in index:
            index[g] = len(order)
            order.append(g)
    sums = np.zeros((len(order), probs.shape[1]), dtype=np.float64)
    counts = np.zeros(len(order))
    for row, g in zip(probs, groups):
        sums[index[g]] += row
        counts[index[g]] += 1
    return order, sums / counts[:, None]


def combine(probs: Mapping[str, np.ndarray], present: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted average of the present sources per row, weights renormalized (as ensemble.ts)."""
    kinds = list(probs)
    n, c = next(iter(probs.values())).shape
    w = np.array([max(weights.get(k, 0.0), 0.0) for k in kinds])
    mask = np.stack([present[k] for k in kinds], axis=1).astype(np.float64)  # (N, K)
    row_w = mask * w[None, :]
    # Every present kind unweighted → they share equally (ensemble.ts does the same).
    unweighted = row_w.sum(axis=1) == 0
    row_w[unweighted] = mask[unweighted]
    total = row_w.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    row_w = row_w / total
    stacked = np.stack([_normalized(probs[k]) for k in kinds], axis=1)  # (N, K, C)
    return np.einsum("nk,nkc->nc", row_w, stacked)


def _normalized(p: np.ndarray) -> np.ndarray:
    s = p.sum(axis=1, keepdims=True)
    s[s <= 0] = 1.0
    return p / s


def simplex_grid(kinds: Sequence[str], step: float) -> list[dict[str, float]]:
    """All weight vectors over ``kinds`` with entries in multiples of ``step`` summing to 1."""
    n = round(1 / step)
    out = []
    for combo in itertools.product(range(n + 1), repeat=len(kinds)):
        if sum(combo) == n:
            out.append({k: c / n for k, c in zip(kinds, combo)})
    return out


def fit_weights(pred: TaskPredictions, step: float = 0.05) -> tuple[dict[str, float], float]:
    """Grid-searched weights (only kinds ever present get weight) → (weights, accuracy)."""
    kinds = [k for k in pred.probs if pred.present[k].any()]
    if not kinds:
        raise ValueError("no source has any prediction for this task")
    labeled = pred.labels >= 0
    best: tuple[float, float, dict[str, float]] | None = None
    for weights in simplex_grid(kinds, step):
        p = combine({k: pred.probs[k] for k in kinds}, pred.present, weights)[labeled]
        y = pred.labels[labeled]
        acc = float((p.argmax(1) == y).mean())
        nll = float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())
        key = (acc, -nll)
        if best is None or key > best[:2]:
            best = (acc, -nll, weights)
    assert best is not None
    weights = {k: round(best[2].get(k, 0.0), 4) for k in pred.probs}
    return weights, best[0]


def fit_threshold(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Lowest confidence kept: maximizes (right − wrong) among kept answers; 0 if abstaining never pays."""
    order = np.argsort(-confidence, kind="stable")
    gain = np.cumsum(np.where(correct[order], 1, -1))  # keeping the k most confident
    if len(gain) == 0 or gain[-1] >= gain.max():
        return 0.0
    k = int(np.argmax(gain))  # first index of the maximum: fewest kept among the ties
    kept_min = float(confidence[order][k])
    dropped_max = float(confidence[order][k + 1])
    # Halfway between the last kept and the first dropped, so rounding cannot flip either.
    return float(np.floor(((kept_min + dropped_max) / 2) * 1e6) / 1e6)


@dataclass
class TaskFit:
    weights: dict[str, float]
    threshold: float
    accuracy: float
    coverage: float
    accuracy_kept: float


def fit_task(pred: TaskPredictions, step: float = 0.05) -> TaskFit:
    weights, accuracy = fit_weights(pred, step)
    labeled = pred.labels >= 0
    p = combine(pred.probs, pred.present, weights)[labeled]
    y = pred.labels[labeled]
    conf, correct = p.max(1), p.argmax(1) == y
    threshold = fit_threshold(conf, correct)
    kept = conf >= threshold
    return TaskFit(
        weights=weights,
        threshold=threshold,
        accuracy=accuracy,
        coverage=float(kept.mean()),
        accuracy_kept=float(correct[kept].mean()) if kept.any() else 0.0,
    )


def ensemble_config(fits: Mapping[str, TaskFit], models: Mapping[str, str]) -> dict[str, Any]:
    """The ``ensemble.json`` document (``EnsembleConfigSchema`` in functions/shared/manifest.ts)."""
    return {
        "schemaVersion": 1,
        "models": dict(models),
        "defaults": {"weights": dict(DEFAULT_WEIGHTS), "threshold": 0.0},
        "tasks": {task: {"weights": fit.weights, "threshold": fit.threshold} for task, fit in fits.items()},
    }


def validate_ensemble_config(doc: Mapping[str, Any]) -> None:
    """The zod schema's rules, checked before writing so the pipeline never reads a bad file."""
    problems: list[str] = []
    if doc.get("schemaVersion") != 1:
        problems.append("schemaVersion must be 1")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in dict(doc.get("models", {})).items()):
        problems.append("models must map strings to strings")
    entries = {"defaults": doc.get("defaults")} | {f"tasks.{t}": v for t, v in dict(doc.get("tasks", {})).items()}
    for where, entry in entries.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("weights"), Mapping):
            problems.append(f"{where}: needs a weights object")
            continue
        if any(not isinstance(w, (int, float)) or w < 0 for w in entry["weights"].values()):
            problems.append(f"{where}: weights must be non-negative numbers")
        threshold = entry.get("threshold", 0)
        if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            problems.append(f"{where}: threshold must be in [0, 1]")
    if problems:
        raise ValueError("invalid ensemble config: " + "; ".join(problems))


def write_ensemble(doc: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    validate_ensemble_config(doc)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return out


def fit_ensemble(
    tasks: Mapping[str, TaskPredictions], models: Mapping[str, str], step: float = 0.05
) -> tuple[dict[str, Any], dict[str, TaskFit]]:
    fits = {task: fit_task(pred, step) for task, pred in tasks.items()}
    for task, fit in fits.items():
        log.info(
            "ensemble %s: weights %s, val accuracy %.4f, threshold %.3f keeps %.1f%% at accuracy %.4f",
            task, fit.weights, fit.accuracy, fit.threshold, 100 * fit.coverage, fit.accuracy_kept,
        )
    return ensemble_config(fits, models), fits


# -- predictions files ------------------------------------------------------------------------------
def save_predictions(tasks: Mapping[str, TaskPredictions], path: str | os.PathLike[str]) -> Path:
    """One ``.npz``: ``{task}/labels``, ``{task}/{kind}/probs``, ``{task}/{kind}/present``."""
    arrays: dict[str, np.ndarray] = {}
    for task, pred in tasks.items():
        arrays[f"{task}/labels"] = pred.labels
        for kind, p in pred.probs.items():
            arrays[f"{task}/{kind}/probs"] = p
            arrays[f"{task}/{kind}/present"] = pred.present[kind]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return out


def load_predictions(path: str | os.PathLike[str]) -> dict[str, TaskPredictions]:
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"predictions file not found: {file}")
    data = np.load(file)
    tasks: dict[str, TaskPredictions] = {}
    for key in data.files:
        if key.endswith("/labels"):
            task = key[: -len("/labels")]
            kinds = sorted({k.split("/")[1] for k in data.files if k.startswith(task + "/") and k.endswith("/probs")})
            tasks[task] = TaskPredictions(
                labels=data[key],
                probs={k: data[f"{task}/{k}/probs"] for k in kinds},
                present={k: data[f"{task}/{k}/present"] for k in kinds},
            )
    if not tasks:
        raise ValueError(f"{file} holds no task predictions")
    return tasks


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weft_models.ensemble_fit", description=__doc__.split("\n")[0])
    parser.add_argument("--predictions", required=True, help="validation predictions .npz (written by the evaluation)")
    parser.add_argument("--out", default="artifacts/ensemble.json")
    parser.add_argument("--model", action="append", default=[], help="kind=name@version, e.g. image=weft-image@2026.11.28")
    parser.add_argument("--step", type=float, default=0.05)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    models = dict(item.split("=", 1) for item in args.model)
    doc, _ = fit_ensemble(load_predictions(args.predictions), models, args.step)
    log.info("wrote %s", write_ensemble(doc, args.out))


if __name__ == "__main__":
    main()
