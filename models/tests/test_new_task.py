"""A new task from its own data set: a joint multi-data run over the catalog and a data set labeled
only for the new task, and ``add_head`` on a trained model with everything else frozen."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from test_image_features import FROZEN, fake_catalog
from weft_models.data.catalog import ITEMS_FILE, VIEWS_FILE, load_views
from weft_models.datasets import ExtraDataset, mixed_weights
from weft_models.image.data import stack_views
from weft_models.image.model import HeadInput, load_image_model
from weft_models.image.train import ImageTrainSettings, add_image_head, train_image
from weft_models.multidata import MultiDatasetLoader, TensorTaskDataset
from weft_models.tasks import DEFAULT_TASKS, MATERIAL
from weft_models.training import TrainConfig


def fake_material(root: Path, n_train: int = 24, n_val: int = 12, seed: int = 1, size: int = 224) -> Path:
    """A data set labeled only for material, the material readable from the green channel."""
    rng = np.random.default_rng(seed)
    n = n_train + n_val
    views = rng.integers(0, 256, (n, 2, size, size, 3), dtype=np.uint8)
    rows = []
    for i in range(n):
        views[i, :, :, :, 1] = 250 if i % 2 else 5
        rows.append({
            "item_id": f"m{i}", "split": "train" if i < n_train else "val", "vendor": "v", "product_id": f"m{i}", "title": "t",
            "description": "d", "brand": None, "vendor_color": None, "image_path": f"images/{i}.jpg", "view_index": i,
            "labels": {"material": MATERIAL.labels[i % 2]},
        })
    root.mkdir(parents=True, exist_ok=True)
    (root / ITEMS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    views.tofile(root / VIEWS_FILE)
    (root / (VIEWS_FILE + ".json")).write_text(json.dumps({"count": n, "viewSize": size, "centerCropFraction": 0.4, "errors": []}))
    return root


def settings(epochs: int = 4) -> ImageTrainSettings:
    return ImageTrainSettings(model=FROZEN, train=TrainConfig(epochs=epochs, lr=0.01, head_lr=0.02, threads=1), batch_size=8)


def test_mixed_weights_split_each_sources_share_by_group_size() -> None:
    weights = mixed_weights({"catalog": {"a": 30, "b": 10}, "material": {"material:material": 5}}, {"catalog": 1.0, "material": 3.0})
    assert weights == {"a": 0.75, "b": 0.25, "material:material": 3.0}
    counts = MultiDatasetLoader(
        {name: TensorTaskDataset({"x": torch.zeros(n, 1)}, {"color": torch.zeros(n)}) for name, n in (("a", 30), ("b", 10), ("material:material", 5))},
        ["color"], 1, weights, batches_per_epoch=40,
    ).counts
    assert counts == {"a": 8, "b": 2, "material:material": 30}
    with pytest.raises(ValueError, match="weight must be positive"):
        ExtraDataset("material", "x", 0.0)


def test_joint_multidata_run_learns_the_new_task_from_its_own_data_set(tmp_path: Path) -> None:
    catalog = fake_catalog(tmp_path / "catalog")
    material = fake_material(tmp_path / "material")
    torch.manual_seed(0)
    tasks = [*DEFAULT_TASKS, MATERIAL]
    model, result = train_image(catalog, tmp_path / "run", settings(), tasks, extra=[ExtraDataset("material", str(material), 1.0)])
    last = result.history[-1]
    assert last["material/accuracy"] == 1.0 and last["color/accuracy"] == 1.0, last
    # Batches came from both data sets, each labeled only for its own tasks.
    assert {"train/material/loss", "train/color/loss"} <= set(last)
    assert [t.name for t in model.specs()] == ["category", "color", "pattern", "material"]
    saved = torch.load(result.best_checkpoint, map_location="cpu", weights_only=True)
    datasets = json.loads(saved["extra"])["datasets"]
    assert datasets["extra"][0]["name"] == "material" and datasets["catalog_weight"] == 1.0
    assert (material / "features" / "train" / "cache.json").exists() and (material / "features" / "val" / "cache.json").exists()


@pytest.mark.parametrize("head", [None, HeadInput("views", 8)], ids=["dense", "views"])
def test_add_head_trains_only_the_new_head_and_keeps_existing_outputs_bit_identical(tmp_path: Path, head: HeadInput | None) -> None:
    catalog = fake_catalog(tmp_path / "catalog")
    material = fake_material(tmp_path / "material")
    torch.manual_seed(0)
    base, result = train_image(catalog, tmp_path / "base", settings(2))
    trained, added = add_image_head(result.best_checkpoint, ExtraDataset("material", str(material)), MATERIAL, tmp_path / "added",
                                    settings(4), head=head)
    assert added.history[-1]["material/accuracy"] == 1.0, added.history
    assert json.loads((tmp_path / "added" / "history.json").read_text())["existing_heads_identical"] is True
    # Independently: the catalog's own views give the very same logits for the three old tasks.
    batch = stack_views(load_views(catalog), list(range(16)), ["downsampled", "center"])
    reloaded = load_image_model(added.best_checkpoint)
    with torch.no_grad():
        before, after = load_image_model(result.best_checkpoint)(**batch), reloaded(**batch)
    assert set(after) == {"category", "color", "pattern", "material"}
    for task in ("category", "color", "pattern"):
        assert torch.equal(before[task], after[task]), task
    # The head keeps what it reads across a checkpoint, and head order stays the checkpoint's task order.
    assert reloaded.head_inputs["material"] == (head or HeadInput()) and list(reloaded.heads) == list(after)
    if head is not None:
        assert isinstance(reloaded.heads["material"][0], torch.nn.Linear)
        assert reloaded.heads["material"][0].in_features == reloaded.concat_dim


def test_a_head_input_is_validated() -> None:
    with pytest.raises(ValueError, match="hidden"):
        HeadInput("views", 0).validate()
    with pytest.raises(ValueError, match="linear"):
        HeadInput("dense", 4).validate()
    with pytest.raises(ValueError, match="unknown head input keys"):
        HeadInput.from_dict({"inputs": "views"})
