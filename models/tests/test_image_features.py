"""Frozen-trunk training: the pretrained backbone, the trunk cache, training on it, and export."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from weft_models.data.catalog import ITEMS_FILE, VIEWS_FILE
from weft_models.image.backbones import EFFICIENTNET_LITE0_PACKAGE, EfficientNetLiteBackbone
from weft_models.image.export import export_image
from weft_models.image.features import CachedFeatures, compute_cache
from weft_models.image.model import ImageModel, ImageModelConfig, load_image_model
from weft_models.image.train import ImageTrainSettings, train_image
from weft_models.manifest import check_onnx_matches, load_manifest
from weft_models.tasks import CATEGORY, COLOR, DEFAULT_TASKS, PATTERN
from weft_models.training import TrainConfig

SIZE = 32
# A tiny ResNet whose last stage trains while the rest is a frozen, cached trunk.
FROZEN = ImageModelConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], dense=[16], dropout=0.0, trainable=1,
                          color_branch=4)


def fake_catalog(root: Path, n_train: int = 24, n_val: int = 8, seed: int = 0, size: int = 224) -> Path:
    """A catalog folder with random views whose color label is readable from the pixels."""
    rng = np.random.default_rng(seed)
    n = n_train + n_val
    views = rng.integers(0, 256, (n, 2, size, size, 3), dtype=np.uint8)
    rows = []
    for i in range(n):
        color = COLOR.labels[i % 2]
        views[i, :, :, :, 0] = 250 if i % 2 else 5  # the red channel tells the two colors apart
        rows.append({
            "item_id": f"i{i}", "split": "train" if i < n_train else "val", "vendor": "v", "product_id": f"p{i}",
            "title": "t", "description": "d", "brand": None, "vendor_color": None, "image_path": f"images/{i}.jpg",
            "view_index": i, "labels": {"category": CATEGORY.labels[i % 3], "color": color, "pattern": PATTERN.labels[0]},
        })
    root.mkdir(parents=True, exist_ok=True)
    (root / ITEMS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    views.tofile(root / VIEWS_FILE)
    (root / (VIEWS_FILE + ".json")).write_text(json.dumps({"count": n, "viewSize": size, "centerCropFraction": 0.4, "errors": []}))
    return root


def test_pretrained_efficientnet_loads_strictly_from_the_package() -> None:
    pretrained = EfficientNetLiteBackbone(0, pretrained=EFFICIENTNET_LITE0_PACKAGE)
    scratch = EfficientNetLiteBackbone(0, pretrained=None)
    assert pretrained.out_dim == 1280 and pretrained.trunk_channels == 320
    assert not torch.equal(pretrained.stem[0].weight, scratch.stem[0].weight)
    model = ImageModel(ImageModelConfig.pretrained_demo(), DEFAULT_TASKS)
    assert all(not p.requires_grad for m in model.backbone.trunk_modules() for p in m.parameters())
    assert any(p.requires_grad for p in model.backbone.head.parameters())


def test_cache_matches_the_model_trunk(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ImageModel(FROZEN, DEFAULT_TASKS).eval()
    views = np.random.default_rng(1).integers(0, 256, (6, 2, SIZE, SIZE, 3), dtype=np.uint8)
    cache = compute_cache(model, views, [5, 0, 3], tmp_path / "c", ("plain", "mirror"), threads=1)
    assert cache.maps.shape[:3] == (3, 2, 2) and cache.pixels.shape == (3, 2, 2, 3, SIZE // 8, SIZE // 8)
    with torch.no_grad():
        direct = model.trunk_inputs(downsampled=torch.from_numpy(views[[5, 0, 3], 0]), center=torch.from_numpy(views[[5, 0, 3], 1]))
        mirrored = model.trunk_inputs(downsampled=torch.from_numpy(views[[5], 0, :, ::-1].copy()),
                                      center=torch.from_numpy(views[[5], 1, :, ::-1].copy()))
    assert np.allclose(cache.maps[:, 0], direct["maps"].numpy(), atol=2e-2, rtol=2e-3)
    assert np.allclose(cache.pixels[:, 0], direct["pixels"].numpy(), atol=2e-3)
    assert np.allclose(cache.maps[0, 1], mirrored["maps"][0].numpy(), atol=2e-2, rtol=2e-3)
    # Same trunk, rows and variants: reused, not recomputed.
    mtime = (tmp_path / "c" / "maps.f16.npy").stat().st_mtime_ns
    compute_cache(model, views, [5, 0, 3], tmp_path / "c", ("plain", "mirror"), threads=1)
    assert (tmp_path / "c" / "maps.f16.npy").stat().st_mtime_ns == mtime
    # A dataset over the cache gives the model's inputs for the chosen view columns.
    inputs, labels = CachedFeatures(cache, [1], {"color": np.array([3])}, [0])[0]
    assert inputs["maps"].shape[0] == 1 and inputs["pixels"].shape[0] == 1 and labels == {"color": 3}


def test_frozen_trunk_training_learns_keeps_the_trunk_and_exports(tmp_path: Path) -> None:
    catalog = fake_catalog(tmp_path / "catalog")
    settings = ImageTrainSettings(model=FROZEN, train=TrainConfig(epochs=4, lr=0.01, head_lr=0.02, threads=1), batch_size=8)
    torch.manual_seed(0)
    before = ImageModel(FROZEN, DEFAULT_TASKS)
    trunk_before = {k: v.clone() for k, v in before.backbone.model.embedder.state_dict().items()}
    model, result = train_image(catalog, tmp_path / "run", settings)
    assert (tmp_path / "catalog" / "features" / "train" / "cache.json").exists()
    assert result.history[-1]["color/accuracy"] == 1.0, result.history
    for key, value in model.backbone.model.embedder.state_dict().items():
        assert torch.equal(value, trunk_before[key]), f"frozen trunk parameter {key} changed"
    reloaded = load_image_model(result.best_checkpoint)
    assert reloaded.backbone.frozen and reloaded.config.color_branch == 4
    manifest = export_image(reloaded, tmp_path / "artifact", "test", catalog)
    check_onnx_matches(manifest, tmp_path / "artifact")
    assert [i.name for i in load_manifest(tmp_path / "artifact" / "manifest.json").inputs] == ["downsampled", "center"]


def test_augment_must_name_known_variants() -> None:
    with pytest.raises(ValueError, match="augment"):
        ImageTrainSettings.from_dict({"augment": ["plain", "cartoonify"]})
