"""Report generation on a tiny fake run: tables, honest target checks, confusion PNGs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from weft_models.evaluation.metrics import abstention, confusion, task_metrics
from weft_models.evaluation.report import target_checks, write_report


def test_metrics_count_only_answered_labeled_rows() -> None:
    labels = np.array([0, 1, 1, 2, -100])
    probs = np.eye(3)[[0, 1, 2, 2, 0]]
    m = task_metrics(labels, probs)
    assert m["n"] == 4 and m["accuracy"] == 0.75
    assert 0 < m["macro_f1"] < 1
    partial = task_metrics(labels, probs, present=np.array([True, True, False, False, True]))
    assert partial["accuracy"] == 1.0 and partial["coverage"] == 0.5
    assert confusion(labels, probs) == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert abstention(labels, probs * 0.9 + 0.01, 0.95)["answered"] == 0.0


def fake_results() -> dict:
    rng = np.random.default_rng(0)
    tasks = {"category": ["tshirt_top", "trouser", "bag"], "color": ["red", "blue"]}
    def m(acc: float) -> dict:
        return {"accuracy": acc, "macro_f1": acc - 0.01, "n": 100, "coverage": 1.0}
    return {
        "version": "test", "generated": "now", "tasks": tasks, "targets": {"category": 0.93, "color": 0.97},
        "data": {"train": {"products": 10, "images": 20}, "test": {"products": 5, "images": 9}},
        "sources": {
            "image": {"category": m(0.91), "color": m(0.80)},
            "text": {"category": m(0.70), "color": m(0.96)},
            "rules": {"color": {**m(0.99), "coverage": 0.4}},
            "ensemble": {"category": m(0.90), "color": m(0.98)},
        },
        "ensemble": {"color": {"weights": {"image": 0.2, "text": 0.5, "rules": 0.3}, "threshold": 0.4, "answered": 0.97, "accuracy_answered": 0.99}},
        "confusion": {"image": {t: rng.integers(0, 9, (len(l), len(l))).tolist() for t, l in tasks.items()}},
        "multitask": {"rows": {"multi-task": {"category": m(0.9), "color": m(0.8)}, "single-task": {"category": m(0.88), "color": m(0.79)}}},
        "views": {"rows": {"two views": {"category": m(0.9)}, "downsampled only": {"category": m(0.85)}}},
        "quantization": {"rows": {"fp32": {"bytes": 90_000_000, "metrics": {"color": m(0.96)}}, "int8": {"bytes": 23_000_000, "metrics": {"color": m(0.955)}}}},
        "sizes": {"text/triton/weft-text/1/model.onnx": 23_000_000},
        "timings": {"data": 60.0, "text": 300.0},
        "notes": ["a note"],
        "breakdowns": {"category accuracy by photo style": {"columns": ["image", "text"], "rows": {"closeup": {"image": 0.2, "text": 0.8}}, "n": {"closeup": 7}}},
    }


def test_report_is_written_with_honest_target_checks(tmp_path: Path) -> None:
    results = fake_results()
    readme = write_report(results, tmp_path).read_text()
    checks = {c["check"]: c["met"] for c in target_checks(results["sources"], {"category": 0.93, "color": 0.97})}
    assert checks["ensemble category accuracy ≥ 0.93"] is False
    assert checks["ensemble color accuracy ≥ 0.97"] is True
    assert any(k.startswith("ensemble category ≥ best single modality (image") and v is False for k, v in checks.items())
    assert "**missed**" in readme and "2 of 4 checks met." in readme
    assert "| ensemble | 90.0 | 89.0 | 98.0 | 97.0 |" in readme
    assert "color 40.0%" in readme  # rules coverage shown
    assert "| closeup | 7 | 20.0 | 80.0 |" in readme
    for task in ("category", "color"):
        png = tmp_path / f"confusion_image_{task}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png.name})" in readme
    assert json.loads((tmp_path / "results.json").read_text())["version"] == "test"


def test_report_shows_the_held_out_split_image_alone_checks_and_comparison_intervals(tmp_path: Path) -> None:
    results = fake_results()
    ci = lambda acc: {"accuracy": acc, "macro_f1": acc, "n": 100, "coverage": 1.0, "ci95": [acc - 0.05, acc + 0.03]}  # noqa: E731
    results["image_photos"] = {"test": {"category": ci(0.86)}, "heldout": {"category": ci(0.7)}}
    results["heldout"] = {"description": "street photos", "sources": {"image": {"category": ci(0.7)}},
                          "breakdowns": {"pattern accuracy by pattern family": {"columns": ["image"], "rows": {"tartan": {"image": 0.5}},
                                                                               "n": {"tartan": 12}}}}
    results["checks"] = [{"check": "image alone, held-out style split, non-close-up: category ≥ 0.80", "value": 0.7, "met": False}]
    results["multitask"]["difference"] = {"category": {"difference": 0.02, "ci95": [-0.01, 0.05]}}
    readme = write_report(results, tmp_path).read_text()
    assert "| held-out style split | 70.0 (65.0–73.0) |" in readme
    assert "## Held-out style split" in readme and "street photos" in readme
    assert "| tartan | 12 | 50.0 |" in readme and "(held-out style split)" in readme
    assert "| image alone, held-out style split, non-close-up: category ≥ 0.80 | 70.0 | **missed** |" in readme
    assert "2 of 5 checks met." in readme
    assert "| difference (first − second) | +2.0 (-1.0 to +5.0) |" in readme


def test_timings_count_a_reused_catalog_with_its_build_time() -> None:
    from weft_models.evaluation.run import timing_rows

    rows = timing_rows({"data": 7.0, "data: reused catalog, measured when it was built": 990.0, "image": 800.0, "text": 260.0,
                        "total before evaluate": 1067.0, "evaluate": 150.0})
    assert rows["from scratch: sum of the stages above"] == 2200.0
    assert "data" not in rows and rows["evaluate (last completed run)"] == 150.0
