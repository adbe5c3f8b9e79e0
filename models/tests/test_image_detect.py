"""Garment detector: geometry, training on a tiny catalog, recut garment views, export contract."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from weft_models.data.build import BuildConfig, build
from weft_models.data.catalog import load_catalog, load_views
from weft_models.data.fmnist import dataset_dir
from weft_models.data.views import image_to_view_box, view_to_image_box
from weft_models.export import onnx_session
from weft_models.image.detect import (
    DETECTIONS_FILE,
    Detector,
    DetectorConfig,
    box_iou,
    detect_catalog,
    export_detector,
    giou_loss,
    load_detector,
    serving_box,
)
from weft_models.manifest import load_manifest

needs_fmnist = pytest.mark.skipif(
    not (dataset_dir() / "train-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist; .ci/run installs it)",
)
TINY = DetectorConfig(blocks=4, pretrained=None, channels=8, hidden=16, epochs=3, batch_size=8, threads=1)


def test_iou_and_giou() -> None:
    a = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.2, 0.2]])
    b = torch.tensor([[0.25, 0.0, 0.5, 0.5], [0.5, 0.5, 0.2, 0.2]])
    assert torch.allclose(box_iou(a, b), torch.tensor([1 / 3, 0.0]), atol=1e-6)
    assert float(giou_loss(a[:1], a[:1])) == pytest.approx(0.0, abs=1e-6)
    # Disjoint boxes still get a loss above 1 (the hull term), so they are pulled together.
    assert float(giou_loss(a[1:], b[1:])) > 1.0


def test_view_and_image_coordinates_round_trip() -> None:
    letterbox = (0.125, 0.0, 0.75, 1.0)  # a 3:4 portrait photo in the square view
    box = (0.2, 0.3, 0.5, 0.4)
    view = image_to_view_box(box, letterbox)
    assert view == pytest.approx((0.275, 0.3, 0.375, 0.4))
    assert view_to_image_box(view, letterbox) == pytest.approx(box)
    # A view box reaching into the letterbox bars is clamped to the image.
    assert view_to_image_box((0.0, 0.0, 1.0, 1.0), letterbox) == pytest.approx((0.0, 0.0, 1.0, 1.0))


def test_low_scores_cut_the_whole_image() -> None:
    assert serving_box((0.1, 0.2, 0.3, 0.4), 0.9) == (0.1, 0.2, 0.3, 0.4)
    assert serving_box((0.1, 0.2, 0.3, 0.4), 0.1) == (0.0, 0.0, 1.0, 1.0)


def test_export_matches_the_detector_contract(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Detector(TINY).eval()
    manifest_path = export_detector(model, tmp_path / "detector", "t1")
    manifest = load_manifest(manifest_path)
    assert manifest.modality == "detector" and manifest.tasks == []
    assert [o.name for o in manifest.outputs] == ["box", "score"]
    assert "reshape: { shape: [ ] }" in (tmp_path / "detector/triton/weft-detector/config.pbtxt").read_text()
    views = np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    box, score = onnx_session(tmp_path / "detector" / manifest.onnx).run(None, {"downsampled": views})
    assert box.shape == (3, 4) and score.shape == (3,)
    assert np.all((box >= 0) & (box <= 1)) and np.all(box[:, 0] + box[:, 2] <= 1 + 1e-6)


@needs_fmnist
def test_detector_trains_on_a_tiny_catalog_and_recuts_garment_views(tmp_path: Path) -> None:
    root = build(BuildConfig(train=20, val=10, test=10, heldout=10, seed=3, workers=1), tmp_path / "cat")
    before = np.array(load_views(root)[:, 2])
    model, summary = detect_catalog(root, TINY, tmp_path / "work")
    assert len(summary["history"]) == TINY.epochs and 0.0 <= summary["best_val_mean_iou"] <= 1.0
    detections = json.loads((root / DETECTIONS_FILE).read_text())["items"]
    items = load_catalog(root)
    evaluated = [i for i in items if i.split != "train"]
    assert sorted(detections) == sorted(i.item_id for i in evaluated)
    after = load_views(root)
    # Training rows keep their true-box garment views; evaluation rows are recut around detections.
    for item in items:
        same = np.array_equal(after[item.view_index, 2], before[item.view_index])
        assert same if item.split == "train" else True
    assert any(not np.array_equal(after[i.view_index, 2], before[i.view_index]) for i in evaluated)
    reloaded = load_detector(tmp_path / "work" / "detector.pt")
    views = torch.from_numpy(np.array(after[:4, 0]))
    with torch.no_grad():
        assert torch.allclose(reloaded(views)[0], model.eval()(views)[0], atol=1e-6)
