"""Per-product predictions of every source, from the exported (served) ONNX graphs.

Evaluating the files the pipeline serves — not the PyTorch models they came from — means the
report's figures include whatever export and quantization cost.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..export import onnx_session
from ..manifest import load_manifest
from ..tasks import TaskSpec
from ..text.weft_cli import normalize_colors

log = logging.getLogger(__name__)


def onnx_predict(
    model_dir: str | os.PathLike[str],
    rows: int,
    batch: Callable[[int, int], Mapping[str, np.ndarray]],
    batch_size: int = 64,
    threads: int = 2,
) -> dict[str, np.ndarray]:
    """Run ``model_dir``'s manifest graph over ``rows`` rows; ``batch(start, stop)`` gives the feeds."""
    manifest = load_manifest(Path(model_dir) / "manifest.json")
    session = onnx_session(Path(model_dir) / manifest.onnx)
    _ = threads  # onnx_session pins one thread: results do not depend on the machine's load
    names = [o.name for o in manifest.outputs]
    tasks = [o.task for o in manifest.outputs]
    parts: dict[str, list[np.ndarray]] = {t: [] for t in tasks}
    for start in range(0, rows, batch_size):
        feeds = batch(start, min(rows, start + batch_size))
        for task, out in zip(tasks, session.run(names, {k: np.ascontiguousarray(v) for k, v in feeds.items()})):
            parts[task].append(out)
    return {t: np.concatenate(p) if p else np.zeros((0, 0), np.float32) for t, p in parts.items()}


def rules_predictions(color_names: Sequence[str | None], color_task: TaskSpec) -> tuple[np.ndarray, np.ndarray]:
    """One-hot color from the vendor's color name via ``weft color`` → (probs, present).

    As text-ingest: a rules vote exists only when the normalized name is a label of the color task.
    """
    mapping = normalize_colors([n for n in color_names if isinstance(n, str)])
    probs = np.zeros((len(color_names), color_task.num_classes), dtype=np.float32)
    present = np.zeros(len(color_names), dtype=bool)
    for i, name in enumerate(color_names):
        base = mapping.get(name.strip()) if isinstance(name, str) else None
        if base in color_task.labels:
            probs[i, color_task.labels.index(base)] = 1.0
            present[i] = True
    log.info("rules: %d of %d products have a vendor color that maps to a label", int(present.sum()), len(color_names))
    return probs, present
