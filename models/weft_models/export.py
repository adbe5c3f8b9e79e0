"""ONNX export, Triton model repository, parity and manifest checks — for any modality.

A :class:`~weft_models.multitask.MultiTaskModel` whose ``forward(**inputs)`` takes exactly the
serving inputs (uint8 NHWC views for images, int64 token ids and mask for text) is wrapped so the
graph returns one softmax output per task, named by the task, in manifest task order. The graph
is written once, inside the Triton repository (``triton/<name>/1/model.onnx``), and the manifest
points there.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .manifest import Manifest, ManifestError, check_onnx_matches, write_manifest

log = logging.getLogger(__name__)

OPSET = 18
PARITY_ATOL = 1e-4

_TRITON_TYPES = {"UINT8": "TYPE_UINT8", "INT64": "TYPE_INT64", "INT32": "TYPE_INT32", "FP32": "TYPE_FP32",
                 "FP16": "TYPE_FP16", "BOOL": "TYPE_BOOL"}


class ExportError(RuntimeError):
    """Export produced a graph that disagrees with the PyTorch model or its manifest."""


class Probabilities(nn.Module):
    """Positional serving inputs → tuple of per-task softmax probabilities, in ``tasks`` order."""

    def __init__(self, model: nn.Module, input_names: Sequence[str], tasks: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.input_names = tuple(input_names)
        self.tasks = tuple(tasks)

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        logits = self.model(**dict(zip(self.input_names, inputs)))
        missing = [t for t in self.tasks if t not in logits]
        if missing:
            raise ExportError(f"model has no head for tasks {missing}")
        return tuple(torch.softmax(logits[t].float(), dim=-1) for t in self.tasks)


def export_onnx(
    model: nn.Module,
    manifest: Manifest,
    example: Mapping[str, Tensor],
    path: str | os.PathLike[str],
    opset: int = OPSET,
) -> Path:
    """Write ``model`` as a single-file ONNX graph with a dynamic batch dimension."""
    input_names = [spec.name for spec in manifest.inputs]
    missing = set(input_names) - set(example)
    if missing:
        raise ExportError(f"example inputs lack {sorted(missing)}")
    tasks = [out.task for out in manifest.outputs]
    wrapper = Probabilities(model, input_names, tasks).eval()
    # Clone: torch.export treats one tensor passed as two inputs as a single input, and the graph
    # would then feed both inputs from the first.
    args = tuple(example[name].clone() for name in input_names)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        program = torch.onnx.export(
            wrapper,
            args,
            dynamo=True,
            input_names=input_names,
            output_names=[o.name for o in manifest.outputs],
            opset_version=opset,
            # forward(*inputs): one varargs entry holding a spec per input.
            dynamic_shapes=(tuple({0: batch} for _ in input_names),),
            verbose=False,
            external_data=False,
            optimize=True,
        )
    if program is None:
        raise ExportError("torch.onnx.export returned no program")
    program.save(str(out), external_data=False)
    log.info("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out


def triton_config(manifest: Manifest, instances: int = 1, max_queue_delay_us: int = 2000) -> str:
    """``config.pbtxt`` for Triton's ONNX Runtime backend on a GPU with dynamic batching."""

    def tensor(spec: object) -> str:
        dims = ", ".join(str(d) for d in spec.shape[1:])  # type: ignore[attr-defined]
        # A tensor that is only the batch axis (a detector's score) has no dims of its own, which
        # Triton does not accept: it is declared as [1] and reshaped to a scalar per row.
        shape = f"    dims: [ {dims} ]\n" if dims else "    dims: [ 1 ]\n    reshape: { shape: [ ] }\n"
        return (f'  {{\n    name: "{spec.name}"\n    data_type: {_TRITON_TYPES[spec.datatype]}\n'  # type: ignore[attr-defined]
                f"{shape}  }}")

    max_batch = manifest.triton.maxBatchSize
    preferred = sorted({b for b in (max(1, max_batch // 4), max(1, max_batch // 2), max_batch)})
    return "\n".join([
        f'name: "{manifest.triton.modelName}"',
        'backend: "onnxruntime"',
        f"max_batch_size: {max_batch}",
        "input [\n" + ",\n".join(tensor(s) for s in manifest.inputs) + "\n]",
        "output [\n" + ",\n".join(tensor(s) for s in manifest.outputs) + "\n]",
        "instance_group [\n  {\n    kind: KIND_GPU\n    count: %d\n  }\n]" % instances,
        "dynamic_batching {\n  preferred_batch_size: [ %s ]\n  max_queue_delay_microseconds: %d\n}"
        % (", ".join(str(b) for b in preferred), max_queue_delay_us),
        "",
    ])


def onnx_session(path: str | os.PathLike[str]) -> "ort.InferenceSession":  # noqa: F821
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check_parity(
    model: nn.Module,
    manifest: Manifest,
    onnx_path: str | os.PathLike[str],
    batch: Mapping[str, Tensor],
    atol: float = PARITY_ATOL,
) -> float:
    """Max abs difference of probabilities, PyTorch vs onnxruntime, on ``batch``; raises over ``atol``."""
    input_names = [spec.name for spec in manifest.inputs]
    tasks = [out.task for out in manifest.outputs]
    wrapper = Probabilities(model, input_names, tasks).eval()
    with torch.no_grad():
        expected = [t.numpy() for t in wrapper(*(batch[n] for n in input_names))]
    session = onnx_session(onnx_path)
    got = session.run([o.name for o in manifest.outputs], {n: batch[n].numpy() for n in input_names})
    diff = max(float(np.max(np.abs(e - g))) for e, g in zip(expected, got))
    log.info("parity %s: max abs diff %.2e on a batch of %d", manifest.name, diff, len(next(iter(batch.values()))))
    if not diff <= atol:
        raise ExportError(f"ONNX parity failed for {manifest.name}: max abs difference {diff:.3e} > {atol:.0e}")
    return diff


def export_model(
    model: nn.Module,
    manifest: Manifest,
    out_dir: str | os.PathLike[str],
    example: Mapping[str, Tensor],
    parity_batch: Mapping[str, Tensor] | None = None,
    atol: float = PARITY_ATOL,
) -> Path:
    """Export ``model`` to ``out_dir``: Triton repository (config + the only ONNX copy) and manifest.

    Checks parity on ``parity_batch`` (default ``example``) and that the manifest matches the
    graph before writing the manifest, so a bad export never leaves a manifest that looks valid.
    """
    out = Path(out_dir)
    _check_heads(model, manifest)
    model = model.eval()
    repo = out / manifest.triton.repository / manifest.triton.modelName
    onnx_path = out / manifest.onnx
    if onnx_path.resolve() != (repo / "1" / "model.onnx").resolve():
        raise ManifestError(f"manifest onnx {manifest.onnx!r} must be {manifest.triton.repository}/{manifest.triton.modelName}/1/model.onnx")
    export_onnx(model, manifest, example, onnx_path)
    (repo / "config.pbtxt").write_text(triton_config(manifest), encoding="utf-8")
    check_onnx_matches(manifest, out)
    check_parity(model, manifest, onnx_path, parity_batch or example, atol)
    return write_manifest(manifest, out / "manifest.json")


def _check_heads(model: nn.Module, manifest: Manifest) -> None:
    heads = getattr(model, "heads", None)
    if heads is None:
        return
    for task in manifest.tasks:
        if task.name not in heads:
            raise ManifestError(f"manifest task {task.name!r} has no head in the model (heads: {list(heads)})")
        out_features = _out_features(heads[task.name])
        if out_features is not None and out_features != len(task.labels):
            raise ManifestError(f"task {task.name!r}: head has {out_features} outputs, manifest {len(task.labels)} labels")


def _out_features(head: nn.Module) -> int | None:
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None
