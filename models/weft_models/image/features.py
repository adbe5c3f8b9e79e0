"""The frozen trunk's outputs, computed once per view and cached, so training runs only the tail.

A pretrained backbone over both 224×224 views costs ~0.1 s of CPU per image in PyTorch; ten
epochs over the catalog would not fit the rebuild budget. Its frozen trunk gives the same output
every epoch, so it runs once, in onnxruntime (several times faster than eager PyTorch on a CPU),
and training reads the cached maps. The trunk is exported from the model being trained, so the
cache and the exported model agree up to float16 rounding of the stored maps.

Augmentation happens before the trunk: each training photo is cached in ``variants`` versions
(as shot, mirrored, or mildly re-framed and re-exposed and mirrored half of the time) and an
epoch draws one of them per sample.
None of them changes a label: mirroring and re-framing keep garment, color and pattern, and the
exposure change stays within the lighting the renderer itself draws.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..multidata import IGNORE, Sample
from .model import ImageModel

log = logging.getLogger(__name__)

VARIANTS = ("plain", "mirror", "reframe")


class Trunk(nn.Module):
    """One uint8 view → (maps, pixels): the frozen part of :class:`ImageModel`, which treats every
    view alike, so one graph serves all views and the cache covers every view of the catalog."""

    def __init__(self, model: ImageModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, view: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.trunk_view(view)


def export_trunk(model: ImageModel, path: Path, size: int = 224) -> Path:
    """The trunk as ONNX (legacy TorchScript exporter: one static graph, quick to write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            Trunk(model.eval()), (torch.zeros(2, size, size, 3, dtype=torch.uint8),), str(path), dynamo=False,
            input_names=["view"], output_names=["maps", "pixels"],
            dynamic_axes={n: {0: "batch"} for n in ("view", "maps", "pixels")}, opset_version=17,
        )
    return path


def _reframe(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Crop 85–100 % of each side at a random place, resize back, change exposure by ±6 %."""
    from PIL import Image

    out = np.empty_like(batch)
    for i, view in enumerate(batch):
        h, w = view.shape[:2]
        frac = rng.uniform(0.85, 1.0)
        ch, cw = int(h * frac), int(w * frac)
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = Image.fromarray(view[y0 : y0 + ch, x0 : x0 + cw]).resize((w, h), Image.Resampling.BILINEAR)
        gain = rng.uniform(0.94, 1.06)
        out[i] = np.clip(np.asarray(crop, dtype=np.float32) * gain, 0, 255).astype(np.uint8)
    return out


def _variant(batch: np.ndarray, variant: str, rng: np.random.Generator) -> np.ndarray:
    """``batch`` is (n, views, S, S, 3); every view of a sample gets the same treatment kind."""
    if variant == "plain":
        return batch
    if variant == "mirror":
        return np.ascontiguousarray(batch[:, :, :, ::-1])
    if variant == "reframe":
        framed = np.stack([_reframe(batch[:, v], rng) for v in range(batch.shape[1])], axis=1)
        mirror = rng.uniform(size=len(batch)) < 0.5
        framed[mirror] = framed[mirror][:, :, :, ::-1]
        return framed
    raise ValueError(f"unknown augmentation variant {variant!r} (one of {', '.join(VARIANTS)})")


@dataclass(frozen=True)
class FeatureCache:
    maps: np.ndarray
    """(rows, variants, views, C, h, w) float16."""
    pixels: np.ndarray
    """(rows, variants, views, 3, 28, 28) float16: the color branch's input."""


def _session(path: Path, threads: int):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def compute_cache(
    model: ImageModel,
    views: np.ndarray,
    rows: Sequence[int],
    out_dir: Path,
    variants: Sequence[str] = ("plain",),
    threads: int = 2,
    batch_size: int = 32,
    seed: int = 0,
) -> FeatureCache:
    """Trunk outputs of every view of ``views[rows]`` (N, V, S, S, 3) for each variant, stored
    under ``out_dir``; reused when the same trunk, rows and variants were cached before (the
    comparison models share one cache)."""
    key = {"rows": hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16], "variants": list(variants),
           "views": int(views.shape[1]), "trunk": _trunk_fingerprint(model)}
    meta_path = out_dir / "cache.json"
    maps_path, pixels_path = out_dir / "maps.f16.npy", out_dir / "pixels.f16.npy"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") == key:
            return _open(maps_path, pixels_path)
        meta_path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    session = _session(export_trunk(model, out_dir / "trunk.onnx", views.shape[2]), threads)
    probe = session.run(None, {"view": np.zeros((1, *views.shape[2:]), np.uint8)})
    n_views = int(views.shape[1])
    maps_shape = (len(rows), len(variants), n_views, *probe[0].shape[1:])
    pixels_shape = (len(rows), len(variants), n_views, *probe[1].shape[1:])
    maps = np.lib.format.open_memmap(maps_path, mode="w+", dtype=np.float16, shape=maps_shape)
    pixels = np.lib.format.open_memmap(pixels_path, mode="w+", dtype=np.float16, shape=pixels_shape)
    rng = np.random.default_rng(seed)
    order = np.asarray(rows, dtype=np.int64)
    started = time.monotonic()
    with tqdm(total=len(rows) * len(variants), desc="trunk features", unit="sample") as bar:
        for start in range(0, len(order), batch_size):
            chunk = np.asarray(views[order[start : start + batch_size]])
            stop = start + len(chunk)
            for v, variant in enumerate(variants):
                batch = _variant(chunk, variant, rng)
                # All views of the chunk in one run: (n·V, S, S, 3).
                out = session.run(None, {"view": np.ascontiguousarray(batch.reshape(-1, *batch.shape[2:]))})
                maps[start:stop, v] = out[0].reshape(len(chunk), n_views, *out[0].shape[1:])
                pixels[start:stop, v] = out[1].reshape(len(chunk), n_views, *out[1].shape[1:])
                bar.update(len(chunk))
    maps.flush()
    pixels.flush()
    del maps, pixels
    seconds = time.monotonic() - started
    meta = {"key": key, "maps": list(maps_shape), "pixels": list(pixels_shape), "seconds": round(seconds, 1),
            "viewsPerSecond": round(len(rows) * len(variants) * n_views / max(seconds, 1e-9), 1)}
    meta_path.write_text(json.dumps(meta) + "\n", encoding="utf-8")
    log.info("trunk features: %d samples × %d variants in %.0fs (%.1f views/s)", len(rows), len(variants), seconds,
             meta["viewsPerSecond"])
    return _open(maps_path, pixels_path)


def _open(maps_path: Path, pixels_path: Path) -> FeatureCache:
    return FeatureCache(np.load(maps_path, mmap_mode="r"), np.load(pixels_path, mmap_mode="r"))


def _trunk_fingerprint(model: ImageModel) -> str:
    """Changes whenever the trunk's weights or the views it sees change."""
    digest = hashlib.sha256(json.dumps(model.backbone.config_dict(), sort_keys=True).encode())
    for module in model.backbone.trunk_modules():
        for tensor in module.state_dict().values():
            digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:20]


class CachedFeatures(Dataset[Sample]):
    """Rows of a :class:`FeatureCache` → ``({maps, pixels}, {task: label})`` for the model's views
    (``columns``: their positions in the cache); with several variants, each access draws one
    (torch's global generator, seeded by the trainer)."""

    def __init__(self, cache: FeatureCache, index: Sequence[int], labels: dict[str, np.ndarray], columns: Sequence[int]) -> None:
        self.cache = cache
        self.index = np.asarray(index, dtype=np.int64)
        self.columns = list(columns)
        self.labels = {task: np.asarray(values, dtype=np.int64) for task, values in labels.items()}
        for task, values in self.labels.items():
            if len(values) != len(self.index):
                raise ValueError(f"task {task}: {len(values)} labels for {len(self.index)} rows")
        self.tasks = tuple(self.labels)
        self.variants = int(cache.maps.shape[1])

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> Sample:
        row = int(self.index[i])
        v = int(torch.randint(self.variants, ())) if self.variants > 1 else 0
        inputs = {
            "maps": torch.from_numpy(np.asarray(self.cache.maps[row, v, self.columns], dtype=np.float32)),
            "pixels": torch.from_numpy(np.asarray(self.cache.pixels[row, v, self.columns], dtype=np.float32)),
        }
        labels = {task: int(values[i]) for task, values in self.labels.items() if values[i] != IGNORE}
        return inputs, labels


def cache_dir(run_dir: str | os.PathLike[str], split: str) -> Path:
    return Path(run_dir) / "features" / split
