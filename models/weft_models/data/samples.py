"""The sample catalog that ``npm start`` ingests: ``python -m weft_models.data.samples``.

Test-split products only (garments never seen in training), in the vendor upload layout
``samples/catalog/{vendor}/{productId}/{images/*.jpg, product.json}``. A few products also get a
fabric close-up as a second image, and a few come from the material data set's test split
(labeled for material only), so the demo shows the task added from its own data set. Ground truth
for the demo sits beside them in ``.ground-truth.jsonl`` (a dotfile, so the catalog walker does not
upload it).
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .catalog import CatalogItem, load_catalog
from .fmnist import load_split
from .render import RenderSpec, render

log = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parents[3] / "samples" / "catalog"
DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "build" / "catalog"
DEFAULT_MATERIAL = Path(__file__).resolve().parents[2] / "build" / "material"
GROUND_TRUTH = ".ground-truth.jsonl"


def choose(items: Sequence[CatalogItem], count: int, seed: int, max_pixels: int = 1_200_000) -> list[CatalogItem]:
    """``count`` test products spread over vendors and categories, preferring modest resolutions."""
    rng = np.random.default_rng(seed)
    pool = [i for i in items if i.split == "test"]
    small = [i for i in pool if _pixels(i) <= max_pixels] or pool
    by_vendor: dict[str, list[CatalogItem]] = {}
    for item in (small[j] for j in rng.permutation(len(small))):
        by_vendor.setdefault(item.vendor, []).append(item)
    chosen: list[CatalogItem] = []
    seen: set[tuple[str, str]] = set()
    # Round-robin over vendors; within a vendor prefer a category it has not shown yet.
    while len(chosen) < count and any(by_vendor.values()):
        for vendor in sorted(by_vendor):
            queue = by_vendor[vendor]
            if not queue or len(chosen) >= count:
                continue
            pick = next((i for i in queue if (vendor, i.labels["category"]) not in seen), queue[0])
            queue.remove(pick)
            seen.add((vendor, pick.labels["category"]))
            chosen.append(pick)
    return chosen


def choose_materials(items: Sequence[CatalogItem], count: int, seed: int) -> list[CatalogItem]:
    """``count`` test items of the material data set, cycling through its labels and vendors."""
    rng = np.random.default_rng(seed + 1)
    pool = [items[j] for j in rng.permutation(len(items)) if items[j].split == "test"]
    by_label: dict[str, list[CatalogItem]] = {}
    for item in pool:
        by_label.setdefault(item.labels["material"], []).append(item)
    chosen: list[CatalogItem] = []
    vendors: set[str] = set()
    while len(chosen) < count and any(by_label.values()):
        for label in sorted(by_label):
            queue = by_label[label]
            if not queue or len(chosen) >= count:
                continue
            pick = next((i for i in queue if i.vendor not in vendors), queue[0])
            queue.remove(pick)
            vendors = set() if len(vendors) >= 5 else vendors | {pick.vendor}
            chosen.append(pick)
    return chosen


def _pixels(item: CatalogItem) -> int:
    from PIL import Image

    with Image.open(item.image_path) as image:
        return image.width * image.height


def product_document(item: CatalogItem) -> dict[str, object]:
    doc: dict[str, object] = {"title": item.title, "description": item.description}
    if item.brand:
        doc["brand"] = item.brand
    if item.vendor_color:
        doc["color"] = item.vendor_color
    doc["sku"] = item.product_id
    return doc


def write_samples(
    catalog: str | Path = DEFAULT_CATALOG,
    out: str | Path = DEFAULT_OUT,
    count: int = 48,
    closeups: int = 8,
    seed: int = 7,
    material: str | Path | None = None,
    materials: int = 12,
) -> Path:
    """``count`` catalog products plus, with ``material``, ``materials`` products of the material
    data set (one per material label in turn, spread over vendors)."""
    if count + (materials if material else 0) > 100:
        raise ValueError("the sample catalog holds at most 100 products")
    items = choose(load_catalog(catalog), count, seed)
    material_items = choose_materials(load_catalog(material), materials, seed) if material else []
    out_dir = Path(out)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    garments = load_split("test").images
    truth: list[dict[str, object]] = []
    rng = np.random.default_rng(seed)
    detail = set(rng.choice(len(items), size=min(closeups, len(items)), replace=False).tolist())
    for index, item in enumerate(items):
        product = out_dir / item.vendor / item.product_id
        (product / "images").mkdir(parents=True)
        shutil.copyfile(item.image_path, product / "images" / "front.jpg")
        images = ["front.jpg"]
        if index in detail and item.style != "closeup":
            spec = RenderSpec(color=item.labels["color"], pattern=item.labels["pattern"], style="closeup",
                              width=800, height=800, scale="closeup", seed=10_000 + index, quality=85)
            render(garments[item.source_index], spec).save(product / "images" / "detail.jpg", format="JPEG", quality=85)
            images.append("detail.jpg")
        (product / "product.json").write_text(json.dumps(product_document(item), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        truth.append({"vendor": item.vendor, "productId": item.product_id, "labels": item.labels,
                      "images": images, "style": item.style, "itemId": item.item_id})
    for item in material_items:
        product = out_dir / item.vendor / item.product_id
        (product / "images").mkdir(parents=True)
        shutil.copyfile(item.image_path, product / "images" / "front.jpg")
        (product / "product.json").write_text(json.dumps(product_document(item), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        truth.append({"vendor": item.vendor, "productId": item.product_id, "labels": item.labels,
                      "images": ["front.jpg"], "style": item.style, "itemId": f"material/{item.item_id}"})
    items = [*items, *material_items]
    (out_dir / GROUND_TRUTH).write_text("".join(json.dumps(t) + "\n" for t in truth), encoding="utf-8")
    total = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
    log.info("sample catalog: %d products from %d vendors, %.1f MB at %s", len(items), len({i.vendor for i in items}), total / 1e6, out_dir)
    return out_dir


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weft_models.data.samples", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--material", type=Path, default=DEFAULT_MATERIAL,
                        help="the material data set (its test items join the samples; skipped when it does not exist)")
    parser.add_argument("--materials", type=int, default=12)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    material = args.material if (args.material / "items.jsonl").exists() else None
    if material is None:
        log.warning("no material data set at %s: the samples carry no material products", args.material)
    write_samples(args.catalog, args.out, args.count, seed=args.seed, material=material, materials=args.materials)


if __name__ == "__main__":
    main()
