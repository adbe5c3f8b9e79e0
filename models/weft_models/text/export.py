"""Text model → ``artifacts/text/``: tokenizer files, manifest, Triton repository with the ONNX graph.

The fp32 graph is checked against PyTorch (≤ 1e-4) by :func:`weft_models.export.export_model`.
``quantize=True`` then replaces it by an int8 dynamically quantized graph (weights int8,
activations quantized on the fly; runs on onnxruntime's CPU provider, including onnxruntime-node)
— about a quarter of the size; its accuracy cost is measured by the evaluation, not assumed.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..export import export_model, onnx_session
from ..manifest import Manifest, check_onnx_matches, text_manifest
from ..tasks import TaskSpec
from .model import TextMultiTaskModel
from .tokenizer import encode, export_tokenizer, load_tokenizer

log = logging.getLogger(__name__)

MODEL_NAME = "weft-text"
PARITY_TEXTS = (
    "Ruby red midi dress with fine stripes - Acme",
    "Men's classic crew neck t-shirt, navy blue, 100% cotton",
    "",
    "Emerald green quilted coat checked lining",
    "sneaker low top white leather dotted",
)


@dataclass
class TextExport:
    manifest: Manifest
    directory: Path
    onnx_bytes: int
    parity_fp32: float
    quantized_max_diff: float | None


def export_text(
    model: TextMultiTaskModel,
    tasks: Sequence[TaskSpec],
    out_dir: str | os.PathLike[str],
    version: str,
    tokenizer_source: str,
    quantize: bool = False,
    parity_texts: Sequence[str] = PARITY_TEXTS,
    max_batch_size: int = 32,
) -> TextExport:
    out = Path(out_dir)
    max_length = model.config.max_length
    tokenizer = load_tokenizer(export_tokenizer(tokenizer_source, out / "tokenizer", max_length))
    manifest = text_manifest(MODEL_NAME, version, tasks, max_length=max_length, max_batch_size=max_batch_size)
    batch = encode(tokenizer, list(parity_texts))
    trim = model.trim_padding
    model.trim_padding = False  # the graph takes the manifest's fixed [-1, maxLength]
    try:
        export_model(model.eval(), manifest, out, example={k: v[:2] for k, v in batch.items()}, parity_batch=batch)
    finally:
        model.trim_padding = trim
    onnx_path = out / manifest.onnx
    parity = _max_diff_vs_torch(model, manifest, onnx_path, batch)
    quant_diff = None
    if quantize:
        quant_diff = quantize_in_place(onnx_path, manifest, out, batch)
    size = onnx_path.stat().st_size
    log.info("text model exported to %s: ONNX %.1f MB%s", out, size / 1e6, " (int8)" if quantize else "")
    return TextExport(manifest, out, size, parity, quant_diff)


def _max_diff_vs_torch(model: TextMultiTaskModel, manifest: Manifest, onnx_path: Path, batch: dict) -> float:
    from ..export import check_parity

    return check_parity(model, manifest, onnx_path, batch)


def quantize_in_place(onnx_path: Path, manifest: Manifest, manifest_dir: Path, batch: dict) -> float:
    """int8 dynamic quantization of MatMul/Gather weights (per output channel: about half the
    probability change of per-tensor scales at the same size); returns max abs probability change."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = [o.name for o in manifest.outputs]
    feeds = {k: v.numpy() for k, v in batch.items()}
    before = onnx_session(onnx_path).run(names, feeds)
    tmp = onnx_path.with_suffix(".int8.onnx")
    quantize_dynamic(
        str(onnx_path), str(tmp), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"], per_channel=True
    )
    os.replace(tmp, onnx_path)
    check_onnx_matches(manifest, manifest_dir)
    after = onnx_session(onnx_path).run(names, feeds)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(before, after))
    log.info("int8 quantization: max abs probability change %.3e on the parity batch", diff)
    return diff
