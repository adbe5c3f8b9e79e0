"""Ensemble fit on synthetic validation predictions; the combination mirrors ensemble.ts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from weft_models.ensemble_fit import (
    TaskPredictions,
    combine,
    fit_ensemble,
    fit_threshold,
    load_predictions,
    mean_over_groups,
    save_predictions,
    validate_ensemble_config,
    write_ensemble,
)


def noisy(labels: np.ndarray, classes: int, accuracy: float, rng: np.random.Generator) -> np.ndarray:
    """Probabilities whose argmax is right with roughly ``accuracy``."""
    n = len(labels)
    guess = np.where(rng.random(n) < accuracy, labels, rng.integers(0, classes, n))
    logits = rng.normal(0, 0.5, (n, classes))
    logits[np.arange(n), guess] += 2.0
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True)


def synthetic(seed: int = 0) -> dict[str, TaskPredictions]:
    rng = np.random.default_rng(seed)
    n = 600
    category = rng.integers(0, 10, n)
    color = rng.integers(0, 12, n)
    rules_present = rng.random(n) < 0.5
    rules = np.eye(12)[np.where(rng.random(n) < 0.95, color, rng.integers(0, 12, n))]
    return {
        "category": TaskPredictions(category, {"image": noisy(category, 10, 0.9, rng), "text": noisy(category, 10, 0.6, rng)}, {}),
        "color": TaskPredictions(
            color,
            {"image": noisy(color, 12, 0.7, rng), "text": noisy(color, 12, 0.85, rng), "rules": rules},
            {"rules": rules_present},
        ),
    }


def test_combine_renormalizes_over_present_sources_like_ensemble_ts() -> None:
    probs = {"image": np.array([[0.8, 0.2], [0.6, 0.4]]), "text": np.array([[0.1, 0.9], [0.3, 0.7]])}
    present = {"image": np.array([True, True]), "text": np.array([True, False])}
    out = combine(probs, present, {"image": 0.25, "text": 0.75})
    np.testing.assert_allclose(out[0], 0.25 * probs["image"][0] + 0.75 * probs["text"][0])
    np.testing.assert_allclose(out[1], probs["image"][1])  # text absent: image alone, weight renormalized to 1
    # Every present kind unweighted: equal shares.
    np.testing.assert_allclose(combine(probs, present, {})[0], (probs["image"][0] + probs["text"][0]) / 2)


def test_mean_over_images_of_a_product() -> None:
    order, mean = mean_over_groups(np.array([[1.0, 0.0], [0.0, 1.0], [0.2, 0.8]]), ["a", "b", "a"])
    assert order == ["a", "b"]
    np.testing.assert_allclose(mean, [[0.6, 0.4], [0.0, 1.0]])


def test_fitted_weights_favor_the_stronger_source_and_beat_each_single_source(tmp_path: Path) -> None:
    tasks = synthetic()
    doc, fits = fit_ensemble(tasks, {"image": "weft-image@1", "text": "weft-text@1"})
    cat, col = doc["tasks"]["category"]["weights"], doc["tasks"]["color"]["weights"]
    assert cat["image"] > cat["text"] and cat.get("rules", 0.0) == 0.0
    assert col["rules"] > 0 and col["text"] > col["image"] * 0.5
    for task, pred in tasks.items():
        singles = [float((pred.probs[k].argmax(1) == pred.labels)[pred.present[k]].mean()) for k in pred.probs]
        best_full_coverage = max(float((pred.probs[k].argmax(1) == pred.labels).mean()) for k in pred.probs if pred.present[k].all())
        assert fits[task].accuracy >= best_full_coverage, (task, singles)
    path = write_ensemble(doc, tmp_path / "ensemble.json")
    written = json.loads(path.read_text())
    assert written["schemaVersion"] == 1 and set(written["tasks"]) == {"category", "color"}
    assert all(0 <= t["threshold"] <= 1 for t in written["tasks"].values())


def test_threshold_drops_only_answers_more_often_wrong_than_right() -> None:
    conf = np.array([0.9, 0.8, 0.7, 0.4, 0.35, 0.3])
    correct = np.array([True, True, True, False, False, True])
    t = fit_threshold(conf, correct)
    assert 0.4 < t <= 0.7
    assert fit_threshold(conf, np.ones(6, dtype=bool)) == 0.0


def test_predictions_round_trip_and_bad_configs_are_refused(tmp_path: Path) -> None:
    tasks = synthetic(1)
    loaded = load_predictions(save_predictions(tasks, tmp_path / "val.npz"))
    assert set(loaded) == set(tasks)
    np.testing.assert_array_equal(loaded["color"].present["rules"], tasks["color"].present["rules"])
    with pytest.raises(ValueError, match="threshold"):
        validate_ensemble_config({"schemaVersion": 1, "defaults": {"weights": {"image": 1}, "threshold": 2}})
    with pytest.raises(ValueError, match="non-negative"):
        validate_ensemble_config({"schemaVersion": 1, "defaults": {"weights": {"image": -1}}})
