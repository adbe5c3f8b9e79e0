"""Catalog builder: deterministic, balanced, split-safe; clear errors; views via the pipeline's CLI."""
from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from weft_models.data.build import BuildConfig, build, plan
from weft_models.data.catalog import CatalogError, load_catalog, load_views
from weft_models.data.fmnist import DatasetMissingError, check_dataset, dataset_dir, load_split
from weft_models.data.patterns import HELDOUT_FAMILIES
from weft_models.data.render import HELDOUT_STYLES, RenderSpec, render, render_photo
from weft_models.data.text import describe
from weft_models.data.vendors import VENDORS
from weft_models.tasks import CATEGORY, COLOR, PATTERN

needs_fmnist = pytest.mark.skipif(
    not (dataset_dir() / "train-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist; .ci/run installs it)",
)
REPO = Path(__file__).resolve().parents[2]


def test_missing_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissingError, match="apt-get install -y dataset-fashion-mnist") as error:
        check_dataset(tmp_path)
    assert str(tmp_path) in str(error.value) and "train-images-idx3-ubyte.gz" in str(error.value)
    with pytest.raises(DatasetMissingError):
        build(BuildConfig(train=10, val=10, test=10, heldout=0, views=False), tmp_path / "out", dataset=str(tmp_path))
    assert not (tmp_path / "out").exists(), "nothing is written before the data set is found"


@pytest.mark.parametrize(("field", "value", "message"), [("train", 15, "multiple of 10"), ("test", 20000, "10000 test"), ("workers", 0, "workers")])
def test_malformed_build_config(field: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BuildConfig(**{field: value}).validate()


@needs_fmnist
def test_plan_is_deterministic_balanced_and_split_safe() -> None:
    train, test = load_split("train"), load_split("test")
    config = BuildConfig(train=200, val=100, test=120, heldout=100, seed=5)
    first, second = plan(config, train.labels, test.labels), plan(config, train.labels, test.labels)
    assert first == second
    assert plan(BuildConfig(train=200, val=100, test=120, heldout=100, seed=6), train.labels, test.labels) != first
    for split, n in (("train", 200), ("val", 100), ("test", 120)):
        rows = [i for i in first if i.split == split]
        assert len(rows) == n
        for task in (CATEGORY, COLOR, PATTERN):
            counts = Counter(i.labels[task.name] for i in rows)
            assert set(counts) == set(task.labels), f"{split}/{task.name} misses labels"
            assert max(counts.values()) - min(counts.values()) <= 1, f"{split}/{task.name} unbalanced: {counts}"
        vendors = Counter(i.vendor for i in rows)
        assert max(vendors.values()) - min(vendors.values()) <= 1
        for item in rows:  # the label is Fashion-MNIST's own
            source = train if item.source_split == "train" else test
            assert CATEGORY.labels[int(source.labels[item.source_index])] == item.labels["category"]
    train_ids = {i.source_index for i in first if i.split == "train"}
    val_ids = {i.source_index for i in first if i.split == "val"}
    assert not train_ids & val_ids
    assert {i.source_split for i in first if i.split in ("test", "heldout")} == {"test"}
    assert {i.source_split for i in first if i.split in ("train", "val")} == {"train"}
    test_ids = {i.source_index for i in first if i.split == "test"}
    heldout = [i for i in first if i.split == "heldout"]
    assert len(heldout) == 100 and not test_ids & {i.source_index for i in heldout}
    # The held-out style split: its photo style and its new pattern families appear nowhere else.
    seen = [i for i in first if i.split != "heldout"]
    assert {i.spec.style for i in heldout} == set(HELDOUT_STYLES)
    assert not {i.spec.style for i in seen} & set(HELDOUT_STYLES)
    novel = {f for names in HELDOUT_FAMILIES.values() for f in names}
    assert not {i.spec.family for i in seen} & novel
    assert {i.spec.family for i in heldout} & novel
    for item in first:
        assert 640 <= max(item.spec.width, item.spec.height) <= 1700


@needs_fmnist
def test_build_writes_the_same_files_every_time(tmp_path: Path) -> None:
    config = BuildConfig(train=20, val=10, test=10, heldout=10, seed=3, workers=1, views=False)
    a = build(config, tmp_path / "a")
    b = build(BuildConfig(train=20, val=10, test=10, heldout=10, seed=3, workers=2, views=False), tmp_path / "b")
    digest = lambda root: {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                           for p in sorted(root.rglob("*")) if p.is_file() and p.name != "build.json"}
    assert digest(a) == digest(b)
    items = load_catalog(a)
    assert len(items) == 50 and items[0].view_index == 0
    assert all(Path(i.image_path).exists() and i.title for i in items)
    stamp = json.loads((a / "build.json").read_text())
    assert stamp["labels"]["test"]["category"] == {label: 1 for label in CATEGORY.labels}


def test_render_is_seeded_and_sized() -> None:
    garment = np.zeros((28, 28), dtype=np.uint8)
    garment[4:24, 8:20] = 200
    for style in ("studio", "backdrop", "closeup"):
        spec = RenderSpec(color="red", pattern="striped", style=style, width=720, height=960, scale="fine", seed=11)
        a, b = render(garment, spec), render(garment, spec)
        assert a.size == (720, 960) and a.mode == "RGB"
        assert np.array_equal(np.asarray(a), np.asarray(b))
    solid = np.asarray(render(garment, RenderSpec("green", "solid", "closeup", 700, 700, "none", 1)), dtype=np.float32)
    r, g, b = solid.reshape(-1, 3).mean(0)
    assert g > r and g > b, "a green close-up is green"


def test_every_style_and_family_renders_with_the_garment_box() -> None:
    from weft_models.data.patterns import ALL_FAMILIES
    from weft_models.data.render import ALL_STYLES, SHADES

    garment = np.zeros((28, 28), dtype=np.uint8)
    garment[6:22, 10:18] = 210  # a tall garment: x 10..18, y 6..22 of 28
    for style in ALL_STYLES:
        for pattern, families in ALL_FAMILIES.items():
            for family in families:
                spec = RenderSpec("blue", pattern, style, 700, 700, "coarse", seed=3, family=family)
                photo = render_photo(garment, spec)
                x, y, w, h = photo.box
                assert photo.image.size == (700, 700)
                if style == "closeup":
                    assert photo.box == (0.0, 0.0, 1.0, 1.0)
                    continue
                assert 0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1
                assert h > 1.5 * w, f"{style}/{family}: the box follows the tall silhouette, got {photo.box}"
                # The base color dominates the garment whatever the family draws on it.
                px = np.asarray(photo.image, dtype=np.float32)[int((y + 0.3 * h) * 700):int((y + 0.7 * h) * 700),
                                                               int((x + 0.3 * w) * 700):int((x + 0.7 * w) * 700)]
                median = np.median(px.reshape(-1, 3), axis=0)
                nearest = min(SHADES, key=lambda c: min(np.abs(np.array(s) - median).sum() for s in SHADES[c]))
                assert nearest == "blue", f"{style}/{family}: garment reads {nearest} ({median})"


def test_fine_patterns_live_only_at_full_resolution() -> None:
    from PIL import Image

    garment = np.full((28, 28), 220, dtype=np.uint8)
    spec = RenderSpec(color="blue", pattern="striped", style="studio", width=1200, height=1200, scale="fine", seed=2, family="regular")
    photo = render(garment, spec)
    side = 1200
    crop = int(0.4 * side)
    center = np.asarray(photo.crop(((side - crop) // 2,) * 2 + ((side + crop) // 2,) * 2).resize((224, 224), Image.Resampling.LANCZOS), dtype=np.float32)
    down = np.asarray(photo.resize((224, 224), Image.Resampling.LANCZOS), dtype=np.float32)
    core = slice(80, 144)
    # spatial contrast per channel, inside the garment
    assert center[core, core].std(axis=(0, 1)).mean() > 3 * down[core, core].std(axis=(0, 1)).mean()


def test_descriptions_are_messy_but_carry_the_labels_sometimes() -> None:
    rng = np.random.default_rng(0)
    labels = {"category": "dress", "color": "red", "pattern": "striped"}
    texts = [describe(VENDORS[i % len(VENDORS)], labels, "studio", "SKU-1", rng) for i in range(300)]
    joined = [f"{t.title} {t.description}".lower() for t in texts]
    assert any("<p>" in t for t in joined) and any("â€" in t for t in joined), "HTML and mojibake appear"
    mentions = sum(any(w in t for w in ("dress",)) for t in joined)
    assert 0.4 * len(texts) < mentions < len(texts), "the category is named often, not always"
    assert any(t.vendor_color for t in texts) and any(t.vendor_color is None for t in texts)


def test_catalog_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="items.jsonl missing"):
        load_catalog(tmp_path)
    with pytest.raises(CatalogError, match="views were not built"):
        load_views(tmp_path)
    (tmp_path / "views.u8.json").write_text(json.dumps({"count": 2, "viewSize": 4, "centerCropFraction": 0.4, "errors": []}))
    (tmp_path / "views.u8").write_bytes(b"\0" * 10)
    with pytest.raises(CatalogError, match="expected 192"):
        load_views(tmp_path)


@needs_fmnist
@pytest.mark.skipif(shutil.which("npx") is None or not (REPO / "node_modules").exists(), reason="needs Node and npm ci")
def test_views_come_from_the_pipeline_preprocessing(tmp_path: Path) -> None:
    root = build(BuildConfig(train=10, val=10, test=10, heldout=10, seed=1, workers=1, views=True), tmp_path / "cat")
    views = load_views(root)
    items = load_catalog(root)
    assert views.shape == (40, 3, 224, 224, 3)
    assert all(views[i.view_index].any() for i in items)
    meta = json.loads((root / "views.u8.json").read_text())
    assert meta["centerCropFraction"] == 0.4 and meta["errors"] == []
    assert meta["views"] == ["downsampled", "center", "garment"] and len(meta["rows"]) == 40
    # Training garment views are cut around the (jittered) true box: closer than the whole photo.
    for item in items:
        if item.split == "train" and item.style != "closeup":
            assert not np.array_equal(views[item.view_index, 2], views[item.view_index, 0])
