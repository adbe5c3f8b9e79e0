"""Reading a built catalog: items (``items.jsonl``) and their two views (``views.u8``)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

ITEMS_FILE = "items.jsonl"
VIEWS_FILE = "views.u8"
VIEW_SIZE = 224


class CatalogError(ValueError):
    """A catalog folder that is missing, incomplete or inconsistent."""


@dataclass(frozen=True)
class CatalogItem:
    item_id: str
    split: str
    vendor: str
    product_id: str
    title: str
    description: str
    brand: str | None
    vendor_color: str | None
    labels: dict[str, str]
    image_path: str
    """Absolute path of the vendor photo (JPEG)."""
    view_index: int
    """Row of this item in ``views.u8``."""
    style: str = ""
    """Photo style (``render.ALL_STYLES``; a ``closeup`` shows no silhouette)."""
    scale: str = ""
    """Pattern scale: ``fine`` (center view only), ``coarse`` or ``none``."""
    source_index: int = -1
    """Index of the garment in its Fashion-MNIST split."""
    family: str = ""
    """Pattern drawing family (``data.patterns``)."""
    box: tuple[float, float, float, float] | None = None
    """The garment's box in the photo, normalized ``(x, y, w, h)``."""


_FIELDS = {f.name for f in fields(CatalogItem)}


def load_catalog(root: str | os.PathLike[str]) -> list[CatalogItem]:
    folder = Path(root)
    path = folder / ITEMS_FILE
    if not path.exists():
        raise CatalogError(f"no catalog at {folder}: {ITEMS_FILE} missing (build it with python -m weft_models.data.build)")
    items: list[CatalogItem] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise CatalogError(f"{path}:{number}: not JSON: {error}") from None
            data = {k: v for k, v in row.items() if k in _FIELDS}
            data["image_path"] = str((folder / data["image_path"]).resolve())
            if data.get("box") is not None:
                data["box"] = tuple(data["box"])
            try:
                items.append(CatalogItem(**data))
            except TypeError as error:
                raise CatalogError(f"{path}:{number}: {error}") from None
    return items


def views_meta(root: str | os.PathLike[str]) -> dict[str, object]:
    meta_path = Path(root) / (VIEWS_FILE + ".json")
    if not meta_path.exists():
        raise CatalogError(f"{meta_path} missing: the catalog's views were not built")
    return json.loads(meta_path.read_text(encoding="utf-8"))


def view_names(root: str | os.PathLike[str]) -> list[str]:
    """The views of ``views.u8``, in column order (catalogs written before the garment view: two)."""
    names = views_meta(root).get("views") or ["downsampled", "center"]
    return [str(n) for n in names]  # type: ignore[union-attr]


def load_views(root: str | os.PathLike[str], mode: str = "r") -> np.ndarray:
    """Memory-mapped ``(N, V, S, S, 3)`` uint8: per item its views in :func:`view_names` order
    (downsampled, center, garment)."""
    folder = Path(root)
    meta = views_meta(folder)
    count, size = int(meta["count"]), int(meta.get("viewSize", VIEW_SIZE))  # type: ignore[arg-type]
    n_views = len(view_names(folder))
    path = folder / VIEWS_FILE
    expected = count * n_views * size * size * 3
    actual = path.stat().st_size if path.exists() else -1
    if actual != expected:
        raise CatalogError(f"{path} has {actual} bytes, expected {expected} for {count} items × {n_views} views of {size}×{size}")
    return np.memmap(path, dtype=np.uint8, mode=mode, shape=(count, n_views, size, size, 3))  # type: ignore[call-overload]
