"""Garment detection: where in the photo the garment is, for the ``garment`` view.

The detector is the first stages of the image model's pretrained backbone (EfficientNet-Lite0,
stem and the first ``blocks`` MBConv blocks, frozen: the same ImageNet weights as the image
model's trunk) and a small trainable box head. It sees the ``downsampled`` view (the whole photo
letterboxed) and returns one box per photo, ``[x, y, w, h]`` normalized in that view's
coordinates, with a score: its own estimate of the box's IoU with the garment.

Why a separate model and not a box head on the image model itself: the garment view has to be
cut *before* the image model runs, so detection is its own call either way; a head on the full
trunk would ship a second 13 MB copy of it, while the first 11 blocks are 0.7 M parameters and the
whole detector costs about a fifth of the three-view image model per photo (the evaluation
report's "Garment detection" measures both in one run). Training runs on
the frozen stages' feature maps, computed once per photo in onnxruntime (as ``features.py``
does for the image model), so it costs seconds per epoch on a CPU.

``python -m weft_models.image.detect --catalog … --export artifacts/detector`` trains, replaces
the catalog's garment views of the evaluation splits by ones cut around the detected boxes
(exactly as serving cuts them), and exports.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..config import from_dict
from ..data.catalog import CatalogItem, load_catalog, load_views, view_names, views_meta
from ..data.views import GARMENT_MIN_SCORE, GARMENT_PADDING, image_to_view_box, preprocess_batch, view_to_image_box
from ..manifest import check_onnx_matches, detector_manifest, write_manifest
from .backbones import EFFICIENTNET_LITE0_PACKAGE, efficientnet_lite0_weights

log = logging.getLogger(__name__)

MODEL_NAME = "weft-detector"
DETECTIONS_FILE = "detections.json"
EVAL_SPLITS = ("val", "test", "heldout")


@dataclass
class DetectorConfig:
    """Architecture and training budget; :meth:`from_dict` rejects unknown keys."""

    blocks: int = 11
    """MBConv blocks of EfficientNet-Lite0 kept (11: through the stride-16, 112-channel stage)."""
    pretrained: str | None = EFFICIENTNET_LITE0_PACKAGE
    channels: int = 64
    hidden: int = 128
    dropout: float = 0.1
    epochs: int = 24
    lr: float = 2e-3
    batch_size: int = 64
    seed: int = 0
    threads: int = 2
    max_train: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetectorConfig:
        config = from_dict(cls, data, what="detector config")
        config.validate()
        return config

    def validate(self) -> None:
        if not 1 <= self.blocks <= 16:
            raise ValueError(f"blocks must be in [1, 16], got {self.blocks}")
        if min(self.channels, self.hidden, self.epochs, self.batch_size) < 1 or not 0 <= self.dropout < 1 or self.lr <= 0:
            raise ValueError("detector sizes, epochs and batch size must be positive, dropout in [0, 1), lr > 0")

    def architecture(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("blocks", "channels", "hidden", "dropout")}


class Detector(nn.Module):
    """``forward(downsampled=uint8 NHWC) -> (box (N, 4) xywh in view coordinates, score (N,))``."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        config.validate()
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
        if config.pretrained:
            path = efficientnet_lite0_weights() if config.pretrained == EFFICIENTNET_LITE0_PACKAGE else config.pretrained
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
        self.config = config
        blocks = list(net._blocks)[: config.blocks]
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = nn.Sequential(*blocks)
        for p in [*self.stem.parameters(), *self.blocks.parameters()]:
            p.requires_grad_(False)
        self.register_buffer("pixel_mean", torch.full((1, 3, 1, 1), 127.0), persistent=False)
        self.register_buffer("pixel_std", torch.full((1, 3, 1, 1), 128.0), persistent=False)
        with torch.no_grad():
            probe = self.eval().trunk(torch.zeros(1, 224, 224, 3, dtype=torch.uint8))
        channels, side = int(probe.shape[1]), -(-int(probe.shape[-1]) // 2)
        c = config.channels
        self.head = nn.Sequential(
            nn.Conv2d(channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.Linear(c * side * side, config.hidden), nn.ReLU(inplace=True), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, 5),
        )

    def train(self, mode: bool = True) -> Detector:
        super().train(mode)
        self.stem.eval()  # frozen: cached maps were computed with the running statistics
        self.blocks.eval()
        return self

    def trunk(self, view: Tensor) -> Tensor:
        x = (view.permute(0, 3, 1, 2).float() - self.pixel_mean) / self.pixel_std
        return self.blocks(self.stem(x))

    def from_trunk(self, maps: Tensor) -> tuple[Tensor, Tensor]:
        out = self.head(maps)
        center = torch.sigmoid(out[:, :2])
        size = torch.sigmoid(out[:, 2:4])
        # Clamped to the view: a box half outside it cuts mostly background.
        x0y0 = torch.clamp(center - size / 2, 0.0, 1.0)
        x1y1 = torch.clamp(center + size / 2, 0.0, 1.0)
        return torch.cat([x0y0, x1y1 - x0y0], dim=1), torch.sigmoid(out[:, 4])

    def forward(self, downsampled: Tensor) -> tuple[Tensor, Tensor]:
        return self.from_trunk(self.trunk(downsampled))

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": self.state_dict(), "config": json.dumps(self.config.architecture())}, path)
        return path


def load_detector(path: str | os.PathLike[str]) -> Detector:
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    model = Detector(DetectorConfig(**json.loads(state["config"]), pretrained=None))
    model.load_state_dict(state["model"])
    return model.eval()


# -- geometry ----------------------------------------------------------------------------------------
def _intersection(a: Tensor, b: Tensor) -> Tensor:
    iw = (torch.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    return iw * ih


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of matching rows of two (N, 4) xywh box tensors."""
    inter = _intersection(a, b)
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter).clamp(min=1e-9)


def giou_loss(pred: Tensor, target: Tensor) -> Tensor:
    """1 − generalized IoU: a gradient even where the boxes do not overlap."""
    inter = _intersection(pred, target)
    union = (pred[:, 2] * pred[:, 3] + target[:, 2] * target[:, 3] - inter).clamp(min=1e-9)
    hull_w = torch.maximum(pred[:, 0] + pred[:, 2], target[:, 0] + target[:, 2]) - torch.minimum(pred[:, 0], target[:, 0])
    hull_h = torch.maximum(pred[:, 1] + pred[:, 3], target[:, 1] + target[:, 3]) - torch.minimum(pred[:, 1], target[:, 1])
    hull = (hull_w * hull_h).clamp(min=1e-9)
    return (1 - inter / union + (hull - union) / hull).mean()


def mirror_boxes(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    out[:, 0] = 1.0 - boxes[:, 0] - boxes[:, 2]
    return out


# -- features ----------------------------------------------------------------------------------------
class _Trunk(nn.Module):
    def __init__(self, model: Detector) -> None:
        super().__init__()
        self.model = model

    def forward(self, view: Tensor) -> Tensor:
        return self.model.trunk(view)


def _fingerprint(model: Detector) -> str:
    digest = hashlib.sha256(json.dumps(model.config.blocks).encode())
    for module in (model.stem, model.blocks):
        for tensor in module.state_dict().values():
            digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:20]


def trunk_maps(model: Detector, views: np.ndarray, rows: Sequence[int], out_dir: Path, mirror: bool = False, threads: int = 2,
               batch_size: int = 32) -> np.ndarray:
    """The frozen stages' maps of the downsampled view (column 0) of ``views[rows]``, float16,
    cached under ``out_dir`` (reused while the rows and the frozen weights are the same)."""
    from .features import _session

    key = {"rows": hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16], "mirror": mirror,
           "trunk": _fingerprint(model)}
    meta_path, maps_path = out_dir / "cache.json", out_dir / "maps.f16.npy"
    if meta_path.exists() and json.loads(meta_path.read_text(encoding="utf-8")).get("key") == key:
        return np.load(maps_path, mmap_mode="r")
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "trunk.onnx"
    with torch.no_grad():
        torch.onnx.export(_Trunk(model.eval()), (torch.zeros(2, *views.shape[2:], dtype=torch.uint8),), str(onnx_path), dynamo=False,
                          input_names=["view"], output_names=["maps"], dynamic_axes={"view": {0: "batch"}, "maps": {0: "batch"}},
                          opset_version=17)
    session = _session(onnx_path, threads)
    order = np.asarray(rows, dtype=np.int64)
    probe = session.run(None, {"view": np.zeros((1, *views.shape[2:]), np.uint8)})[0]
    maps = np.lib.format.open_memmap(maps_path, mode="w+", dtype=np.float16, shape=(len(order), *probe.shape[1:]))
    started = time.monotonic()
    for start in range(0, len(order), batch_size):
        batch = np.asarray(views[order[start : start + batch_size], 0])
        if mirror:
            batch = batch[:, :, ::-1]
        maps[start : start + len(batch)] = session.run(None, {"view": np.ascontiguousarray(batch)})[0]
    maps.flush()
    del maps
    seconds = time.monotonic() - started
    meta_path.write_text(json.dumps({"key": key, "seconds": round(seconds, 1),
                                     "viewsPerSecond": round(len(order) / max(seconds, 1e-9), 1)}) + "\n", encoding="utf-8")
    log.info("detector trunk maps: %d views in %.0fs", len(order), seconds)
    return np.load(maps_path, mmap_mode="r")


# -- training ----------------------------------------------------------------------------------------
def view_boxes(items: Sequence[CatalogItem], letterboxes: Sequence[Sequence[float]]) -> np.ndarray:
    """True garment boxes in downsampled-view coordinates (the detector's targets)."""
    return np.array([image_to_view_box(item.box or (0.0, 0.0, 1.0, 1.0), letterboxes[item.view_index]) for item in items],
                    dtype=np.float32)


def predict_maps(model: Detector, maps: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    boxes, scores = [], []
    with torch.no_grad():
        for start in range(0, len(maps), batch_size):
            box, score = model.from_trunk(torch.from_numpy(np.asarray(maps[start : start + batch_size], dtype=np.float32)))
            boxes.append(box.numpy())
            scores.append(score.numpy())
    return np.concatenate(boxes), np.concatenate(scores)


def fit_detector(model: Detector, maps: np.ndarray, targets: np.ndarray, val_maps: np.ndarray, val_targets: np.ndarray,
                 config: DetectorConfig) -> dict[str, Any]:
    """Train the head on cached maps; keeps the epoch with the best validation mean IoU."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    params = [p for p in model.head.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    steps = config.epochs * max(1, -(-len(maps) // config.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=steps, pct_start=0.1)
    target_t = torch.from_numpy(targets)
    best: tuple[float, dict[str, Tensor] | None] = (-1.0, None)
    history = []
    rng = np.random.default_rng(config.seed)
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(maps))
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            idx = np.sort(order[start : start + config.batch_size])
            if len(idx) < 2:
                continue
            box, score = model.from_trunk(torch.from_numpy(np.asarray(maps[idx], dtype=np.float32)))
            target = target_t[idx]
            iou = box_iou(box, target).detach()
            loss = giou_loss(box, target) + 5.0 * nn.functional.smooth_l1_loss(box, target, beta=0.05) \
                + 0.5 * nn.functional.binary_cross_entropy(score, iou)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        val_box, _ = predict_maps(model, val_maps)
        val_iou = float(box_iou(torch.from_numpy(val_box), torch.from_numpy(val_targets)).mean())
        history.append({"epoch": epoch + 1, "loss": round(total / len(maps), 4), "val_mean_iou": round(val_iou, 4)})
        log.info("detector epoch %d: loss %.4f, validation mean IoU %.4f", epoch + 1, total / len(maps), val_iou)
        if val_iou > best[0]:
            best = (val_iou, {k: v.clone() for k, v in model.state_dict().items()})
    assert best[1] is not None
    model.load_state_dict(best[1])
    return {"best_val_mean_iou": round(best[0], 4), "history": history}


# -- export ------------------------------------------------------------------------------------------
class _Served(nn.Module):
    def __init__(self, model: Detector) -> None:
        super().__init__()
        self.model = model

    def forward(self, downsampled: Tensor) -> tuple[Tensor, Tensor]:
        return self.model(downsampled)


def export_detector(model: Detector, out_dir: str | os.PathLike[str], version: str, name: str = MODEL_NAME,
                    parity_batch: Tensor | None = None, max_batch_size: int = 32) -> Path:
    """Manifest + Triton repository (the only ONNX copy); parity checked before the manifest is written."""
    from ..export import OPSET, PARITY_ATOL, ExportError, onnx_session, triton_config

    out = Path(out_dir)
    manifest = detector_manifest(name, version, max_batch_size=max_batch_size)
    onnx_path = out / manifest.onnx
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    # The dynamo exporter, as for the image model: the TorchScript one mis-exports the box head.
    batch_dim = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        program = torch.onnx.export(_Served(model), (torch.zeros(2, 224, 224, 3, dtype=torch.uint8),), dynamo=True,
                                    input_names=["downsampled"], output_names=["box", "score"], opset_version=OPSET,
                                    dynamic_shapes=({0: batch_dim},), external_data=False, optimize=True, verbose=False)
    if program is None:
        raise ExportError("torch.onnx.export returned no program")
    program.save(str(onnx_path), external_data=False)
    (onnx_path.parent.parent / "config.pbtxt").write_text(triton_config(manifest), encoding="utf-8")
    check_onnx_matches(manifest, out)
    batch = parity_batch if parity_batch is not None else torch.randint(0, 256, (4, 224, 224, 3), dtype=torch.uint8,
                                                                        generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = [t.numpy() for t in model(batch)]
    got = onnx_session(onnx_path).run(["box", "score"], {"downsampled": batch.numpy()})
    diff = max(float(np.max(np.abs(w - g))) for w, g in zip(want, got))
    if not diff <= PARITY_ATOL:
        raise ExportError(f"ONNX parity failed for {name}: max abs difference {diff:.3e}")
    log.info("detector exported: %s (ONNX %.1f MB, parity %.1e)", out, onnx_path.stat().st_size / 1e6, diff)
    return write_manifest(manifest, out / "manifest.json")


# -- the catalog's garment views ---------------------------------------------------------------------
def serving_box(box: Sequence[float], score: float, min_score: float = GARMENT_MIN_SCORE) -> tuple[float, float, float, float]:
    """The box the garment view is cut around, as serving chooses it (image coordinates)."""
    return (0.0, 0.0, 1.0, 1.0) if score < min_score else (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def detect_catalog(catalog: str | os.PathLike[str], config: DetectorConfig, work: Path) -> tuple[Detector, dict[str, Any]]:
    """Train on ``train`` (as shot and mirrored), select on ``val``; detect on the evaluation splits
    and recut their garment views around the detected boxes. Writes ``<catalog>/detections.json``."""
    config.validate()
    folder = Path(catalog)
    items = load_catalog(folder)
    if "garment" not in view_names(folder):
        raise ValueError(f"catalog {folder} has no garment view column; rebuild it (python -m weft_models.data.build)")
    meta = views_meta(folder)
    letterboxes = [row["letterbox"] for row in meta["rows"]]  # type: ignore[index,union-attr]
    views = load_views(folder)
    torch.manual_seed(config.seed)
    model = Detector(config)
    cache = folder / "features" / "detector"
    train = [i for i in items if i.split == "train"][: config.max_train]
    val = [i for i in items if i.split == "val"]
    train_rows = [i.view_index for i in train]
    maps = np.concatenate([trunk_maps(model, views, train_rows, cache / "train", threads=config.threads),
                           trunk_maps(model, views, train_rows, cache / "train-mirror", mirror=True, threads=config.threads)])
    targets = view_boxes(train, letterboxes)
    targets = np.concatenate([targets, mirror_boxes(targets)])
    val_maps = trunk_maps(model, views, [i.view_index for i in val], cache / "val", threads=config.threads)
    started = time.monotonic()
    summary = fit_detector(model, maps, targets, val_maps, view_boxes(val, letterboxes), config)
    summary["train_seconds"] = round(time.monotonic() - started, 1)
    model.save(work / "detector.pt")

    detections: dict[str, dict[str, Any]] = {}
    recut: list[CatalogItem] = []
    boxes: list[tuple[float, float, float, float]] = []
    for split in EVAL_SPLITS:
        chosen = [i for i in items if i.split == split]
        if not chosen:
            continue
        split_maps = val_maps if split == "val" else trunk_maps(model, views, [i.view_index for i in chosen], cache / split,
                                                                threads=config.threads)
        pred, score = predict_maps(model, split_maps)
        truth = view_boxes(chosen, letterboxes)
        iou = box_iou(torch.from_numpy(pred), torch.from_numpy(truth)).numpy()
        for item, box, s, overlap in zip(chosen, pred, score, iou):
            image_box = view_to_image_box(box.tolist(), letterboxes[item.view_index])
            detections[item.item_id] = {"box": [round(v, 5) for v in image_box], "score": round(float(s), 4), "iou": round(float(overlap), 4)}
            recut.append(item)
            boxes.append(serving_box(image_box, float(s)))
    _recut_garment_views(folder, views.shape, recut, boxes)
    (folder / DETECTIONS_FILE).write_text(json.dumps({"summary": summary, "items": detections}) + "\n", encoding="utf-8")
    return model, summary


def recut_with_detector(folder: str | os.PathLike[str], detector: str | os.PathLike[str], splits: Sequence[str],
                        threads: int = 2) -> dict[str, dict[str, Any]]:
    """A trained detector (``detector.pt``) finds the garment in ``splits`` of a catalog-format
    folder (the material data set, the corrections), and their garment views are recut around the
    boxes serving would use; returns item → box and score. Stale feature caches go with it."""
    root = Path(folder)
    items = [i for i in load_catalog(root) if i.split in splits]
    if not items:
        return {}
    if "garment" not in view_names(root):
        raise ValueError(f"{root} has no garment view column")
    model = load_detector(detector)
    meta = views_meta(root)
    letterboxes = [row["letterbox"] for row in meta["rows"]]  # type: ignore[index,union-attr]
    views = load_views(root)
    cache = root / "features" / "detector-recut"
    shutil.rmtree(cache, ignore_errors=True)
    pred, score = predict_maps(model, trunk_maps(model, views, [i.view_index for i in items], cache, threads=threads))
    found: dict[str, dict[str, Any]] = {}
    boxes = []
    for item, box, s in zip(items, pred, score):
        image_box = view_to_image_box(box.tolist(), letterboxes[item.view_index])
        found[item.item_id] = {"box": [round(v, 5) for v in image_box], "score": round(float(s), 4)}
        boxes.append(serving_box(image_box, float(s)))
    _recut_garment_views(root, views.shape, items, boxes)
    for split in splits:
        shutil.rmtree(root / "features" / split, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    (root / DETECTIONS_FILE).write_text(json.dumps({"items": found}) + "\n", encoding="utf-8")
    return found


def _recut_garment_views(folder: Path, shape: tuple[int, ...], items: Sequence[CatalogItem],
                         boxes: Sequence[tuple[float, float, float, float]]) -> None:
    """Garment views of ``items`` cut around ``boxes`` by ``weft preprocess-batch``, written into the
    catalog's garment column; their now stale image-model feature caches are dropped."""
    column = view_names(folder).index("garment")
    out = folder / "garment-detected.u8"
    preprocess_batch([i.image_path for i in items], out, shape[2], views=("garment",), boxes=list(boxes),
                     garment_padding=GARMENT_PADDING)
    fresh = np.memmap(out, dtype=np.uint8, mode="r", shape=(len(items), 1, *shape[2:]))
    target = load_views(folder, mode="r+")
    for n, item in enumerate(items):
        target[item.view_index, column] = fresh[n, 0]
    target.flush()
    del target, fresh
    out.unlink()
    for split in EVAL_SPLITS:
        shutil.rmtree(folder / "features" / split, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weft_models.image.detect", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="run folder (checkpoint)")
    parser.add_argument("--config", type=Path, help="JSON DetectorConfig")
    parser.add_argument("--export", type=Path, help="export to this folder (e.g. models/artifacts/detector)")
    parser.add_argument("--version", default="dev")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = DetectorConfig.from_dict(json.loads(args.config.read_text(encoding="utf-8"))) if args.config else DetectorConfig()
    model, _ = detect_catalog(args.catalog, config, args.work)
    if args.export:
        export_detector(model, args.export, args.version)


if __name__ == "__main__":
    main()


__all__ = ["Detector", "DetectorConfig", "detect_catalog", "export_detector", "load_detector", "box_iou"]
