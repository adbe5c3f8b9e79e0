"""The model views, made by the pipeline's own preprocessing (``weft preprocess-batch``).

Training must see exactly the pixels serving sees, so views are never computed in Python: the
TypeScript module the image-ingest handler uses is run as a batch command over the catalog.
The ``garment`` view is cut around a box given in image coordinates (normalized x, y, w, h);
``preprocess-batch`` reports each image's letterbox (where the image sits in the downsampled
view), which is what converts between the detector's view coordinates and image coordinates.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
VIEW_KINDS = ("downsampled", "center", "garment")
GARMENT_PADDING = 0.1
"""Share of the box's width and height added on each side before squaring (manifest ``padding``)."""
GARMENT_MIN_SCORE = 0.3
"""Detector score below which serving cuts the garment view from the whole image (manifest ``minScore``)."""

Box = tuple[float, float, float, float]


class PreprocessError(RuntimeError):
    """The preprocessing command is unavailable or failed on some images."""


def _command() -> list[str]:
    npx = shutil.which("npx")
    if npx is None:
        raise PreprocessError("npx not found: the views come from the TypeScript preprocessing (Node 20 and npm ci needed)")
    return [npx, "--no-install", "weft", "preprocess-batch"]


def check_preprocess_available(repo_root: Path = REPO_ROOT) -> None:
    """Fail before any rendering when ``weft preprocess-batch`` cannot run."""
    try:
        result = subprocess.run([*_command(), "--help"], cwd=repo_root, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PreprocessError(f"cannot run weft preprocess-batch: {error}") from None
    if result.returncode != 0:
        raise PreprocessError(
            f"weft preprocess-batch is not available (exit {result.returncode}): {(result.stderr or result.stdout).strip()[-500:]}"
        )


def preprocess_batch(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    view_size: int = 224,
    center_fraction: float = 0.4,
    concurrency: int = 2,
    repo_root: Path = REPO_ROOT,
    views: Sequence[str] = ("downsampled", "center"),
    boxes: Sequence[Box | None] | None = None,
    garment_padding: float = GARMENT_PADDING,
) -> dict[str, object]:
    """Write ``out`` (N×V×S×S×3 uint8, ``views`` in order) and ``out.json``; raise if any image
    failed. A ``garment`` view needs ``boxes`` (image coordinates; ``None``: the whole image)."""
    unknown = [v for v in views if v not in VIEW_KINDS]
    if unknown or not views:
        raise ValueError(f"views must be among {VIEW_KINDS}, got {list(views)}")
    if "garment" in views and (boxes is None or len(boxes) != len(paths)):
        raise ValueError("a garment view needs one box (or None) per image")
    out_path = Path(out).resolve()
    list_path = out_path.with_suffix(".paths.txt")
    list_path.write_text("".join(f"{Path(p).resolve()}\n" for p in paths), encoding="utf-8")
    command = [
        *_command(), "--list", str(list_path), "--out", str(out_path), "--views", ",".join(views),
        "--view-size", str(view_size), "--center-fraction", str(center_fraction), "--concurrency", str(concurrency),
    ]
    if "garment" in views and boxes is not None:
        boxes_path = out_path.with_suffix(".boxes.jsonl")
        boxes_path.write_text("".join(
            "null\n" if b is None else json.dumps({"x": b[0], "y": b[1], "w": b[2], "h": b[3]}) + "\n" for b in boxes
        ), encoding="utf-8")
        command += ["--boxes", str(boxes_path), "--garment-padding", str(garment_padding)]
    log.info("views: %s", " ".join(command[1:]))
    result = subprocess.run(command, cwd=repo_root, stdout=subprocess.PIPE, stderr=None, text=True)
    if result.returncode != 0:
        raise PreprocessError(f"weft preprocess-batch failed (exit {result.returncode}): {result.stdout.strip()[-500:]}")
    meta_path = Path(str(out_path) + ".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if int(meta["count"]) != len(paths):
        raise PreprocessError(f"weft preprocess-batch wrote {meta['count']} rows for {len(paths)} images")
    errors = meta.get("errors") or []
    if errors:
        first = errors[0]
        raise PreprocessError(f"{len(errors)} images failed preprocessing, e.g. {first.get('path')}: {first.get('error')}")
    return meta


def view_to_image_box(box: Sequence[float], letterbox: Sequence[float]) -> Box:
    """A box in the downsampled view's coordinates → image coordinates, clamped to the image."""
    lx, ly, lw, lh = (float(v) for v in letterbox)
    x0, y0 = (box[0] - lx) / lw, (box[1] - ly) / lh
    x1, y1 = (box[0] + box[2] - lx) / lw, (box[1] + box[3] - ly) / lh
    x0, y0, x1, y1 = (min(1.0, max(0.0, v)) for v in (x0, y0, x1, y1))
    return (x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0))


def image_to_view_box(box: Sequence[float], letterbox: Sequence[float]) -> Box:
    """A box in image coordinates → the downsampled view's coordinates (the detector's target)."""
    lx, ly, lw, lh = (float(v) for v in letterbox)
    return (lx + float(box[0]) * lw, ly + float(box[1]) * lh, float(box[2]) * lw, float(box[3]) * lh)
