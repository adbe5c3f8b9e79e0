"""Build the vendor catalog with ground truth: ``python -m weft_models.data.build``.

Garments come from Fashion-MNIST with its own split kept: ``train`` and ``val`` from its train
set (disjoint garments), ``test`` and ``heldout`` from its test set (disjoint garments), so test
garments are never seen in training. ``heldout`` is the held-out style split: photographed only
by the held-out vendors (a photo style no other split has), half of its patterned products drawn
in the held-out pattern families (``patterns.HELDOUT_FAMILIES``).
Every item gets a color, a pattern (balanced over the split, independent of the category), a
vendor (balanced) with that vendor's photo style, resolution and voice. Everything is seeded per
item, so a rebuild (with any number of workers) writes the same files.

Output under ``--out`` (default ``models/build/catalog``): ``images/<split>/<item>.jpg``,
``images/<split>/<item>.box.json`` (the garment's box), ``items.jsonl``, ``views.u8`` +
``views.u8.json`` (from ``weft preprocess-batch``: downsampled, center and garment view per
item), ``build.json``.

The garment view of a training item is cut around its true box, jittered (the detector it will
be served with is not exact); other splits get the whole image until the detector stage
(``image/detect.py``) replaces their garment views with ones cut around the detected box, as
serving does.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..tasks import CATEGORY, COLOR, PATTERN
from .catalog import ITEMS_FILE, VIEWS_FILE
from .views import VIEW_KINDS
from .fmnist import check_dataset, load_split
from .patterns import FAMILIES, HELDOUT_FAMILIES
from .render import CENTER_FRACTION, VIEW_SIZE, Photo, RenderSpec, render_photo
from .text import describe
from .vendors import HELDOUT_VENDORS, VENDORS, VENDORS_BY_NAME

log = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "build" / "catalog"
SPLITS = ("train", "val", "test", "heldout")


@dataclass(frozen=True)
class BuildConfig:
    train: int = 6000
    val: int = 1000
    test: int = 2000
    heldout: int = 1000
    seed: int = 1234
    workers: int = 2
    views: bool = True
    """Run ``weft preprocess-batch`` over the photos (off: photos and items only)."""

    def validate(self) -> None:
        for split in SPLITS:
            n = getattr(self, split)
            if n < 0 or n % len(CATEGORY.labels):
                raise ValueError(f"{split} size must be a non-negative multiple of {len(CATEGORY.labels)} (balanced categories), got {n}")
        if self.train + self.val > 60000 or self.test + self.heldout > 10000:
            raise ValueError("Fashion-MNIST has 60000 train and 10000 test garments")
        if self.workers < 1:
            raise ValueError("workers must be ≥ 1")

    def fingerprint(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k != "workers"}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PlannedItem:
    item_id: str
    split: str
    source_split: str
    source_index: int
    vendor: str
    product_id: str
    labels: dict[str, str]
    spec: RenderSpec


def _balanced(values: Sequence[str], n: int, rng: np.random.Generator) -> list[str]:
    """``n`` values, each of ``values`` as often as possible, in random order."""
    pool = [values[i % len(values)] for i in range(n)]
    return [pool[i] for i in rng.permutation(n)]


def select_garments(labels: np.ndarray, per_class: int, rng: np.random.Generator, exclude: set[int] | None = None) -> list[int]:
    chosen: list[int] = []
    for cls in range(len(CATEGORY.labels)):
        candidates = [int(i) for i in np.flatnonzero(labels == cls) if not exclude or int(i) not in exclude]
        if len(candidates) < per_class:
            raise ValueError(f"only {len(candidates)} garments of class {cls} left, need {per_class}")
        chosen.extend(int(i) for i in rng.choice(candidates, size=per_class, replace=False))
    return sorted(chosen)


def plan(config: BuildConfig, train_labels: np.ndarray, test_labels: np.ndarray) -> list[PlannedItem]:
    config.validate()
    root = np.random.SeedSequence(config.seed)
    select_rng, *split_seeds = [np.random.default_rng(s) for s in root.spawn(1 + len(SPLITS))]
    n_classes = len(CATEGORY.labels)
    train_idx = select_garments(train_labels, config.train // n_classes, select_rng)
    val_idx = select_garments(train_labels, config.val // n_classes, select_rng, exclude=set(train_idx))
    test_idx = select_garments(test_labels, config.test // n_classes, select_rng)
    heldout_idx = select_garments(test_labels, config.heldout // n_classes, select_rng, exclude=set(test_idx))
    sources = {
        "train": ("train", train_idx, train_labels), "val": ("train", val_idx, train_labels),
        "test": ("test", test_idx, test_labels), "heldout": ("test", heldout_idx, test_labels),
    }

    items: list[PlannedItem] = []
    for split, rng in zip(SPLITS, split_seeds):
        source_split, indices, labels = sources[split]
        order = [indices[i] for i in rng.permutation(len(indices))]
        n = len(order)
        colors = _balanced(COLOR.labels, n, rng)
        patterns = _balanced(PATTERN.labels, n, rng)
        vendors = _balanced([v.name for v in (HELDOUT_VENDORS if split == "heldout" else VENDORS)], n, rng)
        scales = _balanced(("fine", "coarse"), n, rng)
        novel = _balanced(("seen", "heldout"), n, rng)
        for i, source_index in enumerate(order):
            vendor = VENDORS_BY_NAME[vendors[i]]
            item_seed = int(rng.integers(2**31))
            item_rng = np.random.default_rng(item_seed)
            style = str(item_rng.choice(list(vendor.styles), p=np.array(list(vendor.styles.values())) / sum(vendor.styles.values())))
            aw, ah = vendor.aspects[int(item_rng.integers(len(vendor.aspects)))]
            long_side = int(item_rng.integers(vendor.long_side[0], vendor.long_side[1] + 1))
            width, height = (long_side, round(long_side * ah / aw)) if aw >= ah else (round(long_side * aw / ah), long_side)
            pattern = patterns[i]
            scale = "none" if pattern == "solid" else "closeup" if style == "closeup" else scales[i]
            families = HELDOUT_FAMILIES if split == "heldout" and novel[i] == "heldout" else FAMILIES
            family = families[pattern][int(item_rng.integers(len(families[pattern])))]
            spec = RenderSpec(
                color=colors[i], pattern=pattern, style=style, width=width, height=height, scale=scale,
                seed=item_seed, quality=int(item_rng.integers(vendor.quality[0], vendor.quality[1] + 1)), family=family,
            )
            item_id = f"{split}-{i:05d}"
            product_id = f"{vendor.id_prefix}-{hashlib.sha1(f'{config.seed}/{item_id}'.encode()).hexdigest()[:8].upper()}"
            items.append(PlannedItem(
                item_id=item_id, split=split, source_split=source_split, source_index=int(source_index), vendor=vendor.name,
                product_id=product_id,
                labels={"category": CATEGORY.labels[int(labels[source_index])], "color": colors[i], "pattern": pattern},
                spec=spec,
            ))
    return items


def jittered_box(box: Sequence[float], seed: int) -> tuple[float, float, float, float]:
    """The true box moved and resized by a detector-sized error: center ±4 %, sides ×e^±8 % (1σ)."""
    rng = np.random.default_rng([seed, 11])
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2 + rng.normal(0, 0.04) * w, y + h / 2 + rng.normal(0, 0.04) * h
    w, h = w * float(np.exp(rng.normal(0, 0.08))), h * float(np.exp(rng.normal(0, 0.08)))
    x0, y0, x1, y1 = max(0.0, cx - w / 2), max(0.0, cy - h / 2), min(1.0, cx + w / 2), min(1.0, cy + h / 2)
    return (round(x0, 5), round(y0, 5), round(x1 - x0, 5), round(y1 - y0, 5))


def image_relpath(item: PlannedItem) -> str:
    return f"images/{item.split}/{item.item_id}.jpg"


def box_path(out: Path, item: PlannedItem) -> Path:
    return out / f"images/{item.split}/{item.item_id}.box.json"


# Worker state: the garments, loaded once per process.
_GARMENTS: dict[str, np.ndarray] = {}


def _init_worker(dataset: str | None) -> None:
    for split in ("train", "test"):
        _GARMENTS[split] = load_split(split, dataset).images


def write_photo(item: PlannedItem, out: Path, photo: Photo) -> str:
    """The photo's box sidecar, then the JPEG: its presence marks the item as rendered."""
    path = out / image_relpath(item)
    path.parent.mkdir(parents=True, exist_ok=True)
    box = box_path(out, item)
    tmp = box.with_suffix(".tmp")
    tmp.write_text(json.dumps([round(v, 5) for v in photo.box]), encoding="utf-8")
    os.replace(tmp, box)
    tmp = path.with_suffix(".tmp")
    photo.image.save(tmp, format="JPEG", quality=item.spec.quality)
    os.replace(tmp, path)
    return item.item_id


def garment_of(item: PlannedItem) -> np.ndarray:
    """The item's Fashion-MNIST garment (in a worker set up by :func:`_init_worker`)."""
    return _GARMENTS[item.source_split][item.source_index]


def _render_one(args: tuple[PlannedItem, str]) -> str:
    item, out = args
    return write_photo(item, Path(out), render_photo(garment_of(item), item.spec))


def render_all(items: Sequence[PlannedItem], out: Path, workers: int, dataset: str | None,
               render_one: Callable[[tuple[PlannedItem, str]], str] = _render_one, what: str = "photos") -> None:
    """Render the items not rendered yet, in ``workers`` processes; ``render_one`` (a module-level
    function, so it pickles) draws one item and writes it with :func:`write_photo`."""
    todo = [(item, str(out)) for item in items if not (out / image_relpath(item)).exists() or not box_path(out, item).exists()]
    if not todo:
        return
    log.info("rendering %d %s with %d workers", len(todo), what, workers)
    if workers == 1:
        _init_worker(dataset)
        for job in tqdm(todo, desc=f"render {what}", unit="photo"):
            render_one(job)
        return
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(dataset,)) as pool:
        for _ in tqdm(pool.map(render_one, todo, chunksize=16), total=len(todo), desc=f"render {what}", unit="photo"):
            pass


def item_rows(items: Sequence[PlannedItem], seed: int, out: Path) -> Iterator[dict[str, object]]:
    for index, item in enumerate(items):
        vendor = VENDORS_BY_NAME[item.vendor]
        text_rng = np.random.default_rng([seed, 7, index])
        text = describe(vendor, item.labels, item.spec.style, item.product_id, text_rng)
        yield {
            "item_id": item.item_id, "split": item.split, "vendor": item.vendor, "product_id": item.product_id,
            "title": text.title, "description": text.description, "brand": text.brand, "vendor_color": text.vendor_color,
            "labels": item.labels, "image_path": image_relpath(item), "view_index": index,
            "style": item.spec.style, "scale": item.spec.scale, "source_index": item.source_index,
            "width": item.spec.width, "height": item.spec.height, "family": item.spec.family,
            "box": json.loads(box_path(out, item).read_text(encoding="utf-8")),
        }


def label_counts(items: Sequence[PlannedItem]) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for split in SPLITS:
        rows = [i for i in items if i.split == split]
        out[split] = {task: dict(Counter(i.labels[task] for i in rows)) for task in ("category", "color", "pattern")}
        out[split]["vendor"] = dict(Counter(i.vendor for i in rows))
        out[split]["style"] = dict(Counter(i.spec.style for i in rows))
        out[split]["family"] = dict(Counter(i.spec.family for i in rows))
    return out


def is_up_to_date(out_dir: Path, fingerprint: str, views: bool, force: bool, what: str) -> bool:
    """Whether ``out_dir`` already holds a build with this fingerprint (and its views when wanted);
    first checks that ``weft preprocess-batch`` can run when views are wanted, before any long work."""
    if views:
        from .views import check_preprocess_available

        check_preprocess_available()
    stamp = out_dir / "build.json"
    if force or not stamp.exists():
        return False
    done = json.loads(stamp.read_text(encoding="utf-8"))
    if done.get("fingerprint") == fingerprint and (not views or (out_dir / VIEWS_FILE).exists()):
        log.info("%s at %s is up to date (%s)", what, out_dir, fingerprint)
        return True
    return False


def build(config: BuildConfig, out: str | os.PathLike[str] = DEFAULT_OUT, dataset: str | None = None, force: bool = False) -> Path:
    config.validate()
    check_dataset(dataset)  # before any long work
    out_dir = Path(out)
    if is_up_to_date(out_dir, config.fingerprint(), config.views, force, "catalog"):
        return out_dir
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test = load_split("train", dataset), load_split("test", dataset)
    items = plan(config, train.labels, test.labels)
    render_all(items, out_dir, config.workers, dataset)
    rendered = time.monotonic()
    rows = list(item_rows(items, config.seed, out_dir))
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
    summary = {
        "fingerprint": config.fingerprint(), "config": asdict(config), "items": len(items),
        "seconds": {"render": round(rendered - started, 1), "total": round(finished - started, 1)},
        "labels": label_counts(items),
    }
    (out_dir / "build.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.info("catalog of %d items at %s in %.0fs (render %.0fs)", len(items), out_dir, finished - started, rendered - started)
    return out_dir


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weft_models.data.build", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--train", type=int, default=BuildConfig.train)
    parser.add_argument("--val", type=int, default=BuildConfig.val)
    parser.add_argument("--test", type=int, default=BuildConfig.test)
    parser.add_argument("--heldout", type=int, default=BuildConfig.heldout)
    parser.add_argument("--seed", type=int, default=BuildConfig.seed)
    parser.add_argument("--workers", type=int, default=BuildConfig.workers)
    parser.add_argument("--no-views", action="store_true", help="skip weft preprocess-batch (photos and items only)")
    parser.add_argument("--dataset", help="Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist or $WEFT_FASHION_MNIST)")
    parser.add_argument("--force", action="store_true", help="rebuild even if build.json matches")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = BuildConfig(train=args.train, val=args.val, test=args.test, heldout=args.heldout, seed=args.seed, workers=args.workers,
                         views=not args.no_views)
    build(config, args.out, args.dataset, args.force)


if __name__ == "__main__":
    main()
