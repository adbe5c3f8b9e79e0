"""A material data set, labeled only for ``material``: ``python -m weft_models.data.material``.

The method behind the models is multi-data multi-task learning: a new attribute comes from a data
set labeled only for it, trained alongside the data sets labeled for the others. This builds that
data set for :data:`weft_models.tasks.MATERIAL`: vendor photos of Fashion-MNIST garments whose
fabric is drawn as a material's texture, and vendor descriptions that name the material in vendor
vocabulary. Its items carry a ``material`` label and nothing else (their category, color and
pattern exist but are not labels: the catalog teaches those).

Textures are drawn at the **center view's** scale (``render.CENTER_FRACTION``): a twill line, a
knit stitch, a leather pebble is 3–7 pixels in the center view, so the center view resolves the
material while the downsampled view mostly sees color and sheen — as a merchandiser sees weave up
close. The color is drawn independently of the material (balanced over the color labels), so
"denim" is not "blue". A close-up magnifies the texture as it does the catalog's patterns.

Output, as the catalog's (``data/build.py``): ``images/<split>/<item>.jpg`` and ``.box.json``,
``items.jsonl`` (``labels`` = ``{"material": …}``), ``views.u8`` + ``views.u8.json`` from the
pipeline's own ``weft preprocess-batch`` (downsampled, center, garment; a training item's garment
view around its jittered true box, the other splits' around the whole image), ``build.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from ..tasks import CATEGORY, COLOR, MATERIAL
from . import build as catalog_build
from .build import PlannedItem, box_path, image_relpath, is_up_to_date, jittered_box
from .catalog import ITEMS_FILE, VIEWS_FILE
from .fmnist import check_dataset, load_split
from .render import CENTER_FRACTION, VIEW_SIZE, RenderSpec, base_color, render_photo
from .text import CATEGORY_WORDS, COLOR_WORDS, FILLER, FITS, USELESS, ProductText, _mojibake, _pick
from .vendors import VENDORS, VENDORS_BY_NAME, Vendor
from .views import VIEW_KINDS

log = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "build" / "material"
SPLITS = ("train", "val", "test")

# Vendor vocabulary: the plain name, trade names and near-synonyms a vendor writes for each label.
MATERIAL_WORDS: dict[str, tuple[str, ...]] = {
    "denim": ("denim", "selvedge denim", "stretch denim", "raw denim", "indigo twill", "jean fabric", "rigid denim"),
    "knit": ("knit", "cable knit", "chunky knit", "rib knit", "knitted", "hand-knit", "waffle knit"),
    "leather": ("leather", "genuine leather", "full-grain leather", "nappa leather", "faux leather", "vegan leather", "pebbled leather"),
    "satin": ("satin", "silk satin", "charmeuse", "duchess satin", "silky satin", "liquid satin"),
    "cotton_jersey": ("cotton jersey", "jersey", "organic cotton jersey", "soft jersey", "single jersey", "t-shirt cotton"),
    "wool": ("wool", "merino", "merino wool", "lambswool", "virgin wool", "boiled wool", "wool blend"),
}
assert set(MATERIAL_WORDS) == set(MATERIAL.labels)

STYLES = {"studio": 0.35, "backdrop": 0.25, "lifestyle": 0.15, "closeup": 0.25}
"""No editorial frames: a garment a third of the frame wide leaves the center view on the props,
and a material data set is shot to show the fabric."""
P_MATERIAL = 0.8
"""Share of descriptions that name the material at all (close-ups always do)."""


@dataclass(frozen=True)
class MaterialConfig:
    train: int = 1800
    val: int = 300
    test: int = 600
    seed: int = 4321
    workers: int = 2
    views: bool = True

    def validate(self) -> None:
        n = len(MATERIAL.labels)
        for split in SPLITS:
            size = getattr(self, split)
            if size < 0 or size % n:
                raise ValueError(f"{split} size must be a non-negative multiple of {n} (balanced materials), got {size}")
        if self.train + self.val > 60000 or self.test > 10000:
            raise ValueError("Fashion-MNIST has 60000 train and 10000 test garments")
        if self.workers < 1:
            raise ValueError("workers must be ≥ 1")

    def fingerprint(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k != "workers"}
        return hashlib.sha256(json.dumps({"material": data}, sort_keys=True).encode()).hexdigest()[:16]


# -- textures ----------------------------------------------------------------------------------------
def texture_period(spec: RenderSpec, rng: np.random.Generator) -> float:
    """A texture feature in full-resolution pixels: 3–7 px in the center view (close-ups: magnified)."""
    if spec.style == "closeup":
        return rng.uniform(7.0, 14.0) * max(spec.width, spec.height) / VIEW_SIZE
    return rng.uniform(3.0, 7.0) * CENTER_FRACTION * min(spec.width, spec.height) / VIEW_SIZE


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)[None, :]


def _smooth_noise(h: int, w: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Noise in [0, 1] with features about ``cell`` pixels across (drawn small, enlarged bicubically)."""
    small = rng.uniform(0, 255, (max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.uint8)
    return np.asarray(Image.fromarray(small, mode="L").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0


def _tile_noise(h: int, w: int, rng: np.random.Generator, size: int = 96) -> np.ndarray:
    tile = rng.uniform(0, 1, (size, size)).astype(np.float32)
    return np.tile(tile, (h // size + 1, w // size + 1))[:h, :w]


def _denim(h: int, w: int, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Twill: diagonal ribs (a right- or left-hand twill, 35–55°), light weft flecks, slub streaks."""
    y, x = _grid(h, w)
    theta = np.deg2rad(rng.uniform(35, 55)) * (1 if rng.uniform() < 0.75 else -1)
    u = (np.float32(np.cos(theta)) * x + np.float32(np.sin(theta)) * y) / np.float32(p)
    rib = 0.5 + 0.5 * np.sin(np.float32(2 * np.pi) * u)
    slub = _smooth_noise(h, w, p * 12, rng)[:, :1] if rng.uniform() < 0.5 else np.float32(0.5)
    shade = 1.0 - np.float32(rng.uniform(0.22, 0.36)) * rib - 0.1 * (slub - 0.5)
    flecks = (_tile_noise(h, w, rng) > 0.9).astype(np.float32) * np.float32(rng.uniform(0.15, 0.3))
    return shade, flecks


def _knit(h: int, w: int, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stockinette: columns of V-shaped stitches, a stitch ~1.5 periods wide."""
    y, x = _grid(h, w)
    q = np.float32(p * rng.uniform(1.3, 1.8))
    u = x / q
    half = np.abs(np.mod(u, 1.0) - 0.5)  # 0 in a column's middle, 0.5 at its edges
    v = y / q + half * np.float32(1.2)
    stitch = 0.5 + 0.5 * np.cos(np.float32(2 * np.pi) * v)
    gutter = np.clip(half * 2 - 0.8, 0, 1) * 5  # dark line between columns
    shade = 1.0 - np.float32(rng.uniform(0.2, 0.32)) * stitch - np.float32(0.15) * gutter
    return shade.astype(np.float32), np.zeros((1, 1), np.float32)


def _leather(h: int, w: int, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pebbled grain (cells a period or two across, darker creases between them) under a broad sheen."""
    cells = _smooth_noise(h, w, p * rng.uniform(1.0, 1.8), rng)
    crease = np.clip(1.0 - np.abs(cells - 0.5) * 8, 0, 1)
    sheen = _smooth_noise(h, w, max(h, w) / 3, rng)
    shade = 1.0 - np.float32(rng.uniform(0.14, 0.24)) * crease + np.float32(0.1) * (sheen - 0.5)
    highlight = np.clip(sheen - 0.7, 0, 1) * np.float32(rng.uniform(0.3, 0.6))
    return shade, highlight


def _satin(h: int, w: int, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Smooth, with liquid sheen: broad bright folds and faint long floats along one axis."""
    y, x = _grid(h, w)
    theta = rng.uniform(0, np.pi)
    along = np.float32(np.cos(theta)) * x + np.float32(np.sin(theta)) * y
    wave = np.float32(rng.uniform(0.08, 0.2) * max(h, w))
    folds = 0.5 + 0.5 * np.sin(np.float32(2 * np.pi) * along / wave + np.float32(rng.uniform(0, 6.28)))
    folds = folds * (0.6 + 0.4 * _smooth_noise(h, w, max(h, w) / 4, rng))
    floats = 0.5 + 0.5 * np.sin(np.float32(2 * np.pi) * y / np.float32(p * 0.7))
    shade = 0.78 + np.float32(0.3) * folds - np.float32(0.03) * floats
    highlight = np.clip(folds - 0.6, 0, 1) * np.float32(rng.uniform(0.8, 1.4))
    return shade.astype(np.float32), highlight.astype(np.float32)


def _jersey(h: int, w: int, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Single jersey: fine, low-contrast vertical wales (finer than a knit's stitch), a little fuzz."""
    y, x = _grid(h, w)
    wale = 0.5 + 0.5 * np.sin(np.float32(2 * np.pi) * x / np.float32(p * rng.uniform(0.6, 0.9)))
    shade = 1.0 - np.float32(rng.uniform(0.08, 0.14)) * wale - np.float32(0.05) * (_tile_noise(h, w, rng) - 0.5)
    return np.broadcast_to(shade, (h, w)).astype(np.float32), np.zeros((1, 1), np.float32)


def _wool(h: int, w: int, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Heathered, fuzzy yarn: fibers of a lighter and a darker tone, mottled, softly blurred."""
    fibers = _tile_noise(h, w, rng)
    fibers = np.asarray(Image.fromarray((fibers * 255).astype(np.uint8), mode="L").filter(ImageFilter.GaussianBlur(max(0.6, p / 5))),
                        dtype=np.float32) / 255.0
    mottle = _smooth_noise(h, w, p * 4, rng)
    shade = 1.0 - np.float32(rng.uniform(0.3, 0.45)) * (fibers - 0.5) * 2 - np.float32(0.12) * (mottle - 0.5)
    light = np.clip(fibers - 0.62, 0, 1) * np.float32(rng.uniform(0.5, 0.9))
    return shade.astype(np.float32), light.astype(np.float32)


TEXTURES = {"denim": _denim, "knit": _knit, "leather": _leather, "satin": _satin, "cotton_jersey": _jersey, "wool": _wool}
assert set(TEXTURES) == set(MATERIAL.labels)


class MaterialCloth:
    """The renderer's cloth function for one material (``render.Cloth``): the base color of the
    spec's color class, shaded by the material's texture, lightened toward white where it shines."""

    def __init__(self, material: str) -> None:
        if material not in TEXTURES:
            raise ValueError(f"unknown material {material!r} (one of {', '.join(MATERIAL.labels)})")
        self.material = material

    def __call__(self, spec: RenderSpec, height: int, width: int, rng: np.random.Generator) -> Image.Image:
        base = base_color(spec.color, rng)
        shade, light = TEXTURES[self.material](height, width, texture_period(spec, rng), rng)
        cloth = base[None, None, :] * np.clip(shade, 0.0, 1.3)[..., None]
        cloth = cloth + (255.0 - cloth) * np.clip(light, 0.0, 0.6)[..., None]
        return Image.fromarray(np.clip(cloth, 0, 255).astype(np.uint8), mode="RGB")


# -- text --------------------------------------------------------------------------------------------
def describe_material(vendor: Vendor, material: str, category: str, color: str, style: str, sku: str,
                      rng: np.random.Generator) -> ProductText:
    """A vendor's title and description naming the material (most of the time) in its own words."""
    word = _pick(rng, MATERIAL_WORDS[material])
    cat_word = _pick(rng, CATEGORY_WORDS[category])
    color_word = _pick(rng, COLOR_WORDS[color])
    says = style == "closeup" or rng.random() < P_MATERIAL
    useless = not says and rng.random() < vendor.p_useless * 3
    title_parts = [color_word.title()] if rng.random() < 0.4 else []
    if says and rng.random() < 0.6:
        title_parts.append(word.title())
    title_parts.append(cat_word.title())
    title = " ".join(p for p in [_pick(rng, ("Women’s", "Men’s", "Unisex", "")), *title_parts] if p)
    if rng.random() < 0.3:
        title += f" - {sku}"
    body: list[str] = []
    if useless:
        body.append(_pick(rng, USELESS).format(sku=sku, lot=int(rng.integers(100, 999))))
    else:
        if says:
            body.append(_pick(rng, (f"Made from {word}.", f"Fabric: {word}.", f"Crafted in {word} for a {_pick(rng, FITS)}.",
                                    f"Composition: 100% {word}.", f"This {cat_word} is cut from {word}.")))
        body.append(_pick(rng, FILLER))
        if rng.random() < 0.1:
            other = _pick(rng, MATERIAL_WORDS[_pick(rng, tuple(m for m in MATERIAL_WORDS if m != material))])
            body.append(f"Pairs well with our {other} {_pick(rng, CATEGORY_WORDS[_pick(rng, tuple(CATEGORY_WORDS))])}.")
        body = [body[i] for i in rng.permutation(len(body))]
    sentences = [*body, *vendor.boilerplate]
    if vendor.html:
        description = "<p>" + " ".join(body) + "</p><ul>" + "".join(f"<li>{s}</li>" for s in vendor.boilerplate) + "</ul>"
    else:
        description = " ".join(sentences)
    if rng.random() < vendor.upper:
        title, description = title.upper(), description.upper()
    if rng.random() < vendor.mojibake:
        title, description = _mojibake(title), _mojibake(description)
    brand = _pick(rng, vendor.brands) if rng.random() < 0.9 else None
    return ProductText(title=title, description=description, brand=brand, vendor_color=None)


# -- plan, render, write -----------------------------------------------------------------------------
def plan(config: MaterialConfig, train_labels: np.ndarray, test_labels: np.ndarray) -> list[PlannedItem]:
    config.validate()
    root = np.random.SeedSequence(config.seed)
    select_rng, *split_seeds = [np.random.default_rng(s) for s in root.spawn(1 + len(SPLITS))]
    n = len(CATEGORY.labels)

    def garments(labels: np.ndarray, size: int, exclude: set[int] | None = None) -> list[int]:
        per_class = -(-size // n)
        chosen = catalog_build.select_garments(labels, per_class, select_rng, exclude)
        return [chosen[i] for i in select_rng.permutation(len(chosen))[:size]]

    train_idx = garments(train_labels, config.train)
    sources = {"train": ("train", train_idx, train_labels),
               "val": ("train", garments(train_labels, config.val, set(train_idx)), train_labels),
               "test": ("test", garments(test_labels, config.test), test_labels)}
    styles = list(STYLES)
    probabilities = np.array(list(STYLES.values()))
    items: list[PlannedItem] = []
    for split, rng in zip(SPLITS, split_seeds):
        source_split, indices, _ = sources[split]  # the garment's category is deliberately no label here
        size = len(indices)
        materials = catalog_build._balanced(MATERIAL.labels, size, rng)
        colors = catalog_build._balanced(COLOR.labels, size, rng)
        vendors = catalog_build._balanced([v.name for v in VENDORS], size, rng)
        for i, source_index in enumerate(indices):
            vendor = VENDORS_BY_NAME[vendors[i]]
            item_seed = int(rng.integers(2**31))
            item_rng = np.random.default_rng(item_seed)
            style = str(item_rng.choice(styles, p=probabilities / probabilities.sum()))
            aw, ah = vendor.aspects[int(item_rng.integers(len(vendor.aspects)))]
            long_side = int(item_rng.integers(vendor.long_side[0], vendor.long_side[1] + 1))
            width, height = (long_side, round(long_side * ah / aw)) if aw >= ah else (round(long_side * aw / ah), long_side)
            spec = RenderSpec(color=colors[i], pattern="solid", style=style, width=width, height=height, scale="none",
                              seed=item_seed, quality=int(item_rng.integers(vendor.quality[0], vendor.quality[1] + 1)),
                              family=materials[i])
            item_id = f"{split}-{i:05d}"
            product_id = f"{vendor.id_prefix}-M{hashlib.sha1(f'material/{config.seed}/{item_id}'.encode()).hexdigest()[:7].upper()}"
            items.append(PlannedItem(item_id=item_id, split=split, source_split=source_split, source_index=int(source_index),
                                     vendor=vendor.name, product_id=product_id, labels={"material": materials[i]}, spec=spec))
    return items


def _render_one(args: tuple[PlannedItem, str]) -> str:
    item, out = args
    photo = render_photo(catalog_build.garment_of(item), item.spec, MaterialCloth(item.labels["material"]))
    return catalog_build.write_photo(item, Path(out), photo)


def build_material(config: MaterialConfig, out: str | os.PathLike[str] = DEFAULT_OUT, dataset: str | None = None,
                   force: bool = False) -> Path:
    """Render and write the material data set (reused when ``build.json`` matches the config)."""
    config.validate()
    check_dataset(dataset)
    out_dir = Path(out)
    if is_up_to_date(out_dir, config.fingerprint(), config.views, force, "material data set"):
        return out_dir
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test = load_split("train", dataset), load_split("test", dataset)
    items = plan(config, train.labels, test.labels)
    catalog_build.render_all(items, out_dir, config.workers, dataset, _render_one, "material photos")
    rendered = time.monotonic()
    rows = []
    for index, item in enumerate(items):
        vendor = VENDORS_BY_NAME[item.vendor]
        category = CATEGORY.labels[int((train if item.source_split == "train" else test).labels[item.source_index])]
        text = describe_material(vendor, item.labels["material"], category, item.spec.color, item.spec.style, item.product_id,
                                 np.random.default_rng([config.seed, 13, index]))
        rows.append({
            "item_id": item.item_id, "split": item.split, "vendor": item.vendor, "product_id": item.product_id,
            "title": text.title, "description": text.description, "brand": text.brand, "vendor_color": text.vendor_color,
            "labels": item.labels, "image_path": image_relpath(item), "view_index": index, "style": item.spec.style,
            "scale": "texture", "source_index": item.source_index, "width": item.spec.width, "height": item.spec.height,
            "family": item.spec.family, "box": json.loads(box_path(out_dir, item).read_text(encoding="utf-8")),
        })
    tmp = out_dir / (ITEMS_FILE + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, out_dir / ITEMS_FILE)
    if config.views:
        from .views import preprocess_batch

        boxes = [jittered_box(row["box"], item.spec.seed) if item.split == "train" else None  # type: ignore[arg-type]
                 for item, row in zip(items, rows)]
        preprocess_batch([out_dir / image_relpath(i) for i in items], out_dir / VIEWS_FILE, VIEW_SIZE, CENTER_FRACTION,
                         concurrency=config.workers, views=VIEW_KINDS, boxes=boxes)
    finished = time.monotonic()
    counts = {split: dict(Counter(i.labels["material"] for i in items if i.split == split)) for split in SPLITS}
    (out_dir / "build.json").write_text(json.dumps({
        "fingerprint": config.fingerprint(), "config": asdict(config), "items": len(items), "tasks": ["material"],
        "seconds": {"render": round(rendered - started, 1), "total": round(finished - started, 1)}, "labels": counts,
    }, indent=2) + "\n", encoding="utf-8")
    log.info("material data set of %d items at %s in %.0fs", len(items), out_dir, finished - started)
    return out_dir


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weft_models.data.material", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    for split in SPLITS:
        parser.add_argument(f"--{split}", type=int, default=getattr(MaterialConfig, split))
    parser.add_argument("--seed", type=int, default=MaterialConfig.seed)
    parser.add_argument("--workers", type=int, default=MaterialConfig.workers)
    parser.add_argument("--no-views", action="store_true")
    parser.add_argument("--dataset", help="Fashion-MNIST folder")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = MaterialConfig(train=args.train, val=args.val, test=args.test, seed=args.seed, workers=args.workers, views=not args.no_views)
    build_material(config, args.out, args.dataset, args.force)


if __name__ == "__main__":
    main()
