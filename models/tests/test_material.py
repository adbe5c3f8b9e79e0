"""The material data set: labeled only for material, textures at the center view's scale, views
from the pipeline's own preprocessing, text naming materials in vendor words."""
from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from weft_models.data.catalog import load_catalog, load_views
from weft_models.data.fmnist import dataset_dir, load_split
from weft_models.data.material import MATERIAL_WORDS, MaterialCloth, MaterialConfig, build_material, describe_material, plan
from weft_models.data.render import RenderSpec, render_photo
from weft_models.data.vendors import VENDORS
from weft_models.tasks import MATERIAL

needs_fmnist = pytest.mark.skipif(not (dataset_dir() / "train-images-idx3-ubyte.gz").exists(), reason="Fashion-MNIST not installed")


def test_material_config_is_validated() -> None:
    with pytest.raises(ValueError, match="multiple of 6"):
        MaterialConfig(train=10).validate()
    assert MaterialConfig().fingerprint() != MaterialConfig(seed=1).fingerprint()


@needs_fmnist
def test_plan_is_balanced_deterministic_and_labeled_only_for_material() -> None:
    train, test = load_split("train"), load_split("test")
    config = MaterialConfig(train=60, val=12, test=24, seed=3)
    items = plan(config, train.labels, test.labels)
    assert items == plan(config, train.labels, test.labels)
    for split, n in (("train", 60), ("val", 12), ("test", 24)):
        rows = [i for i in items if i.split == split]
        assert len(rows) == n
        counts = Counter(i.labels["material"] for i in rows)
        assert set(counts) == set(MATERIAL.labels) and max(counts.values()) - min(counts.values()) <= 1
    assert all(set(i.labels) == {"material"} for i in items)
    assert not {i.source_index for i in items if i.split == "train"} & {i.source_index for i in items if i.split == "val"}
    assert all(i.source_split == "test" for i in items if i.split == "test")


def test_textures_differ_by_material_and_live_in_the_center_view() -> None:
    garment = np.full((28, 28), 200, np.uint8)
    crops = {}
    for material in MATERIAL.labels:
        spec = RenderSpec(color="grey", pattern="solid", style="studio", width=1000, height=1000, scale="none", seed=7, family=material)
        photo = render_photo(garment, spec, MaterialCloth(material))
        again = render_photo(garment, spec, MaterialCloth(material))
        assert np.array_equal(np.asarray(photo.image), np.asarray(again.image)), "seeded"
        crops[material] = np.asarray(photo.image.crop((300, 300, 700, 700)).resize((224, 224)), np.float32).mean(-1)
    # Texture at the center view's scale: high-frequency energy in the center crop (satin is the smooth one).
    detail = {m: float(np.abs(np.diff(c, axis=0)).mean() + np.abs(np.diff(c, axis=1)).mean()) for m, c in crops.items()}
    assert detail["satin"] < min(detail[m] for m in ("denim", "knit"))
    assert len({hashlib.sha1(c.tobytes()).hexdigest() for c in crops.values()}) == len(MATERIAL.labels)
    with pytest.raises(ValueError, match="unknown material"):
        MaterialCloth("tweed")


def test_descriptions_name_materials_in_vendor_words() -> None:
    named = 0
    for i in range(120):
        material = MATERIAL.labels[i % 6]
        text = describe_material(VENDORS[i % len(VENDORS)], material, "dress", "red", "studio", "SKU1", np.random.default_rng(i))
        words = (text.title + " " + text.description).lower()
        named += any(w.lower() in words for w in MATERIAL_WORDS[material])
    assert 0.6 < named / 120 < 1.0  # most name it, some do not: the image has to carry the rest


@needs_fmnist
def test_build_writes_a_catalog_shaped_folder_with_views(tmp_path: Path) -> None:
    root = build_material(MaterialConfig(train=12, val=6, test=6, seed=2, workers=1), tmp_path / "material")
    items = load_catalog(root)
    views = load_views(root)
    assert len(items) == 24 and views.shape == (24, 3, 224, 224, 3)
    assert all(set(i.labels) == {"material"} and i.labels["material"] in MATERIAL.labels for i in items)
    assert [i.view_index for i in items] == list(range(24))
    assert views[:, 1].std() > 5, "center views are real pixels"
    first = (root / "items.jsonl").read_bytes()
    build_material(MaterialConfig(train=12, val=6, test=6, seed=2, workers=1), root)  # up to date: reused
    assert (root / "items.jsonl").read_bytes() == first
