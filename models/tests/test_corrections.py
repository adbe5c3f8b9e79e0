"""Human corrections as a data set: the latest value wins, deletions and unknown tasks are left out,
images come from a local bucket folder, and a retrained model fits the corrected products."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from test_image_features import FROZEN, fake_catalog
from weft_models.corrections import CorrectionsError, build_corrections, corrections_text_examples, image_file, read_corrections, resolve
from weft_models.data.catalog import load_catalog, load_views
from weft_models.datasets import ExtraDataset
from weft_models.image.data import stack_views
from weft_models.image.train import ImageTrainSettings, train_image
from weft_models.tasks import COLOR, DEFAULT_TASKS
from weft_models.training import TrainConfig


def item(product: str, at: str, labels: dict[str, str], images: list[str] | None = None) -> dict:
    return {"vendor": "acme", "productId": product, "correctedAt": at, "labels": labels, "images": images or [], "text": f"{product} tee"}


def test_latest_entry_wins_deleted_and_unknown_tasks_are_left_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pages = [
        {"items": [item("p1", "2026-11-28T10:00:00.000Z", {"color": "red", "pattern": "striped"}),
                   item("p2", "2026-11-28T10:01:00Z", {"fit": "slim", "color": "blue"}),
                   item("p3", "2026-11-28T10:02:00Z", {"color": "teal"})], "nextCursor": "x"},
        # Later: p1's color set again and its pattern correction DELETEd (absent from the newer entry).
        {"items": [item("p1", "2026-11-29T08:00:00+00:00", {"color": "green"})]},
    ]
    (tmp_path / "page.json").write_text(json.dumps(pages))
    (tmp_path / "lines.jsonl").write_text("".join(json.dumps(r) + "\n" for page in pages for r in page["items"]))
    with caplog.at_level(logging.WARNING):
        for name in ("page.json", "lines.jsonl"):
            resolved = resolve(read_corrections(tmp_path / name), DEFAULT_TASKS)
            assert [(c.product_id, c.labels) for c in resolved] == [("p2", {"color": "blue"}), ("p1", {"color": "green"})]
            assert resolved[0].skipped == {"fit": "task unknown to the model"}
    assert "the model has no task 'fit'" in caplog.text and "'teal' is not a label of color" in caplog.text
    with pytest.raises(CorrectionsError, match="lacks 'correctedAt'"):
        resolve([{"vendor": "a", "productId": "b", "labels": {}}], DEFAULT_TASKS)
    with pytest.raises(CorrectionsError, match="s3://"):
        image_file("s3://bucket", "k.jpg")


def _grey_photo(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    pixels[..., 0], pixels[..., 2] = 128, 255  # levels the catalog never shows: the model cannot know it is "grey"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")


@pytest.mark.skipif(shutil.which("npx") is None, reason="weft preprocess-batch needs node")
def test_retrained_model_fits_the_corrected_products(tmp_path: Path) -> None:
    catalog = fake_catalog(tmp_path / "catalog", n_train=32, n_val=16)
    bucket = tmp_path / "s3" / "uploads"
    keys = [f"acme/p{i}/front.png" for i in range(6)]
    for i, key in enumerate(keys):
        # Half as plain files (a synced bucket), half as the local stack's s3rver stores them.
        _grey_photo(bucket / (key if i % 2 else f"{key}._S3rver_object"), i)
    export = [item(f"p{i}", f"2026-11-28T10:0{i}:00Z", {"color": "white", "material": "denim"}, [keys[i]]) for i in range(6)]
    export += [item(f"p{i}", f"2026-11-29T10:0{i}:00Z", {"color": "grey"}, [keys[i]]) for i in range(6)]  # a newer PUT
    (tmp_path / "corrections.json").write_text(json.dumps({"items": export}))
    root = build_corrections(tmp_path / "corrections.json", bucket, DEFAULT_TASKS, tmp_path / "corrections", workers=1)
    items = load_catalog(root)
    assert [i.labels for i in items] == [{"color": "grey"}] * 6 and all(i.split == "train" for i in items)
    assert load_views(root).shape == (6, 3, 224, 224, 3)
    assert [e.labels for e in corrections_text_examples(root)] == [{"color": "grey"}] * 6

    settings = ImageTrainSettings(model=FROZEN, train=TrainConfig(epochs=10, lr=0.01, head_lr=0.02, threads=1), batch_size=8)
    batch = {k: v for k, v in stack_views(load_views(root), list(range(6)), ["downsampled", "center", "garment"]).items()
             if k in FROZEN.views}
    grey = COLOR.index("grey")
    torch.manual_seed(0)
    base, base_result = train_image(catalog, tmp_path / "base", settings)
    with torch.no_grad():
        assert (base(**batch)["color"].argmax(-1) != grey).all(), "the catalog alone never teaches grey"
    torch.manual_seed(0)
    model, result = train_image(catalog, tmp_path / "retrained", settings, extra=[ExtraDataset("corrections", str(root), 1.0)])
    with torch.no_grad():
        assert (model(**batch)["color"].argmax(-1) == grey).all(), "the retrained model gets the corrected products right"
    assert result.history[-1]["color/accuracy"] >= base_result.history[-1]["color/accuracy"], "no loss on validation"
    assert "train/color/loss" in result.history[-1]
