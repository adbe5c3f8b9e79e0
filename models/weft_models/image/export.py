"""Image model → ``artifacts/image/``: manifest and Triton repository with the ONNX graph."""
from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import torch

from ..data.catalog import load_catalog, load_views
from ..export import export_model
from ..manifest import Manifest, image_manifest
from .data import stack_views
from .detect import MODEL_NAME as DETECTOR_NAME
from .model import TWO_VIEWS, VIEW_NAMES, ImageModel

log = logging.getLogger(__name__)

MODEL_NAME = "weft-image"


def default_version(suffix: str = "demo") -> str:
    return f"{dt.datetime.now(dt.timezone.utc):%Y.%m.%d}+{suffix}"


def export_image(
    model: ImageModel,
    out_dir: str | os.PathLike[str],
    version: str | None = None,
    catalog: str | os.PathLike[str] | None = None,
    max_batch_size: int = 32,
) -> Manifest:
    """Write the manifest and Triton repository; parity is checked on real test views when a
    catalog is given (random pixels otherwise)."""
    # A model without the garment view keeps the two inputs every earlier manifest had (a
    # downsample-only model ignores its center input).
    views = list(model.config.views) if "garment" in model.config.views else list(TWO_VIEWS)
    manifest = image_manifest(MODEL_NAME, version or default_version(), model.specs(), max_batch_size=max_batch_size, views=views,
                              detector=DETECTOR_NAME if "garment" in views else None)
    if catalog is not None:
        every = load_catalog(catalog)
        items = ([i for i in every if i.split == "test"] or every)[:8]
        columns = load_views(catalog)
        batch = stack_views(columns, [i.view_index for i in items], VIEW_NAMES[: columns.shape[1]])
    else:
        generator = torch.Generator().manual_seed(0)
        batch = {name: torch.randint(0, 256, (8, 224, 224, 3), dtype=torch.uint8, generator=generator) for name in views}
    example = {k: v[:2].clone() for k, v in batch.items()}
    path = export_model(model.eval(), manifest, out_dir, example=example, parity_batch=batch)
    size = (Path(out_dir) / manifest.onnx).stat().st_size
    log.info("image model exported: %s (ONNX %.1f MB)", path, size / 1e6)
    return manifest
