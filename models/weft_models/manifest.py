"""The model manifest (``manifest.json``): the contract between this package and the pipeline.

Validated with the same rules as ``functions/shared/manifest.ts`` (zod): schema version 1, slug
names, at least one task with ≥ 2 labels, an output per task and no output for an unknown task,
the preprocessing block its modality needs. :func:`check_onnx_matches` adds what only Python can
check cheaply: that the ONNX graph the manifest points at has exactly those inputs and outputs.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .tasks import TaskSpec
from .validated import load_validated, parse_validated

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
Datatype = Literal["UINT8", "INT64", "INT32", "FP32", "FP16", "BOOL"]


class ManifestError(ValueError):
    """A manifest that is missing, malformed, or does not match its ONNX graph."""


class _Model(BaseModel):
    # zod objects ignore unknown keys; so do we (the TypeScript side is the stricter reader).
    model_config = ConfigDict(extra="ignore", frozen=True)


class TensorSpecModel(_Model):
    name: str = Field(min_length=1)
    datatype: Datatype
    shape: list[int]
    """-1 marks a dynamic dimension."""


class OutputSpecModel(TensorSpecModel):
    task: str | None = Field(default=None, min_length=1)
    """The task whose probabilities this is (image and text models); a detector's outputs have none."""


class TaskModel(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    labels: list[str] = Field(min_length=2)

    @model_validator(mode="after")
    def _labels_nonempty(self) -> TaskModel:
        if any(not label for label in self.labels):
            raise ValueError(f"task {self.name}: labels must be non-empty strings")
        return self

    def spec(self) -> TaskSpec:
        return TaskSpec(self.name, tuple(self.labels))


ViewKind = Literal["whole", "center", "garment"]
VIEW_KIND = {"downsampled": "whole", "center": "center", "garment": "garment"}
"""The catalog's view names and the kind of cut each is."""


class ViewSpec(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    """The view's name in ``derived/`` keys and the API."""
    input: str = Field(min_length=1)
    """The model input tensor it feeds."""
    kind: ViewKind
    padding: float | None = Field(default=None, ge=0, le=1)
    """garment: share of the box's width and height added on each side before squaring."""
    minScore: float | None = Field(default=None, ge=0, le=1)
    """garment: detector score below which the view is cut from the whole image."""


class ImagePreprocessing(_Model):
    viewSize: int = Field(default=224, gt=0)
    centerCropFraction: float = Field(default=0.4, gt=0, le=1)
    background: tuple[int, int, int] = (255, 255, 255)
    views: list[ViewSpec] = Field(default_factory=lambda: [
        ViewSpec(name="downsampled", input="downsampled", kind="whole"), ViewSpec(name="center", input="center", kind="center"),
    ], min_length=1)
    """In input order. Manifests written before the garment view give ``{"downsampled": input,
    "center": input}``; that form still reads as those two views."""
    detector: str | None = None
    """Name of the detector model (``detector/manifest.json``) a ``garment`` view needs."""

    @field_validator("views", mode="before")
    @classmethod
    def _legacy_views(cls, value: object) -> object:
        if isinstance(value, dict):
            return [{"name": name, "input": value[name], "kind": VIEW_KIND[name]} for name in ("downsampled", "center") if name in value]
        return value

    @model_validator(mode="after")
    def _garment_needs_detector(self) -> ImagePreprocessing:
        names = [v.name for v in self.views]
        if len(set(names)) != len(names) or len({v.input for v in self.views}) != len(names):
            raise ValueError("view names and inputs must be unique")
        if any(v.kind == "garment" for v in self.views) and not self.detector:
            raise ValueError("a garment view needs preprocessing.image.detector")
        return self


class DetectorPreprocessing(_Model):
    view: Literal["downsampled"] = "downsampled"
    """The view the detector sees (the whole image letterboxed)."""
    box: str = "box"
    """Output with ``[x, y, w, h]`` per row, normalized, in the view's coordinates."""
    score: str = "score"
    """Output with the detector's estimate of its box's IoU, 0..1."""


class TextPreprocessing(_Model):
    tokenization: Literal["client"]
    tokenizer: str
    tokenizerConfig: str | None = None
    maxLength: int = Field(gt=0)
    fields: list[str] = Field(default_factory=lambda: ["title", "description", "brand"], min_length=1)


class Preprocessing(_Model):
    image: ImagePreprocessing | None = None
    text: TextPreprocessing | None = None
    detector: DetectorPreprocessing | None = None


class TritonInfo(_Model):
    repository: str
    modelName: str
    maxBatchSize: int = Field(gt=0)


class Manifest(_Model):
    schemaVersion: Literal[1]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str = Field(min_length=1)
    modality: Literal["image", "text", "detector"]
    tasks: list[TaskModel]
    onnx: str
    inputs: list[TensorSpecModel] = Field(min_length=1)
    outputs: list[OutputSpecModel] = Field(min_length=1)
    preprocessing: Preprocessing
    triton: TritonInfo

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        problems: list[str] = []
        names = {t.name for t in self.tasks}
        if len(names) != len(self.tasks):
            problems.append("task names must be unique")
        if self.modality == "detector":
            return self._detector_consistent(problems)
        if not self.tasks:
            problems.append("tasks: an image or text model needs at least one task")
        for out in self.outputs:
            if out.task is None:
                problems.append(f"output {out.name} names no task")
            elif out.task not in names:
                problems.append(f"output {out.name} names unknown task {out.task}")
        for task in self.tasks:
            if not any(o.task == task.name for o in self.outputs):
                problems.append(f"task {task.name} has no output")
        if self.modality == "image" and self.preprocessing.image is None:
            problems.append("image model needs preprocessing.image")
        if self.modality == "text" and self.preprocessing.text is None:
            problems.append("text model needs preprocessing.text")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _detector_consistent(self, problems: list[str]) -> Manifest:
        if self.tasks:
            problems.append("a detector has no tasks")
        det = self.preprocessing.detector
        if det is None:
            problems.append("detector model needs preprocessing.detector")
        else:
            outputs = {o.name for o in self.outputs}
            problems += [f"preprocessing.detector.{k} names no output ({name})" for k, name in (("box", det.box), ("score", det.score))
                         if name not in outputs]
            if len(self.inputs) != 1:
                problems.append("a detector has exactly one input (the downsampled view)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def task_specs(self) -> list[TaskSpec]:
        return [t.spec() for t in self.tasks]

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)


def parse_manifest(data: object, source: str = "<manifest>") -> Manifest:
    return parse_validated(Manifest, data, "model manifest", source, ManifestError)


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    return load_validated(Manifest, path, "model manifest", ManifestError)


def write_manifest(manifest: Manifest, path: str | os.PathLike[str]) -> Path:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
    return file


def _outputs(tasks: Sequence[TaskSpec]) -> list[OutputSpecModel]:
    return [
        OutputSpecModel(name=t.name, task=t.name, datatype="FP32", shape=[-1, t.num_classes]) for t in tasks
    ]


def _triton(name: str, max_batch_size: int) -> TritonInfo:
    return TritonInfo(repository="triton", modelName=name, maxBatchSize=max_batch_size)


def onnx_relpath(name: str) -> str:
    """Where the graph lives relative to the manifest: inside the Triton repository, the only copy."""
    return f"triton/{name}/1/model.onnx"


def image_manifest(
    name: str,
    version: str,
    tasks: Sequence[TaskSpec],
    view_size: int = 224,
    center_crop_fraction: float = 0.4,
    background: tuple[int, int, int] = (255, 255, 255),
    max_batch_size: int = 32,
    views: Sequence[str] = ("downsampled", "center"),
    detector: str | None = None,
    garment_padding: float = 0.1,
    garment_min_score: float = 0.3,
) -> Manifest:
    """``views``: catalog view names (downsampled, center, garment) the graph takes, in input order."""
    specs = [ViewSpec(name=v, input=v, kind=VIEW_KIND[v],  # type: ignore[arg-type]
                      **({"padding": garment_padding, "minScore": garment_min_score} if v == "garment" else {})) for v in views]
    return Manifest(
        schemaVersion=SCHEMA_VERSION,
        name=name,
        version=version,
        modality="image",
        tasks=[TaskModel(name=t.name, labels=list(t.labels)) for t in tasks],
        onnx=onnx_relpath(name),
        inputs=[TensorSpecModel(name=v.input, datatype="UINT8", shape=[-1, view_size, view_size, 3]) for v in specs],
        outputs=_outputs(tasks),
        preprocessing=Preprocessing(
            image=ImagePreprocessing(
                viewSize=view_size, centerCropFraction=center_crop_fraction, background=background, views=specs, detector=detector
            )
        ),
        triton=_triton(name, max_batch_size),
    )


def text_manifest(
    name: str,
    version: str,
    tasks: Sequence[TaskSpec],
    max_length: int,
    tokenizer: str = "tokenizer/tokenizer.json",
    tokenizer_config: str | None = "tokenizer/tokenizer_config.json",
    fields: Sequence[str] = ("title", "description", "brand"),
    max_batch_size: int = 32,
) -> Manifest:
    return Manifest(
        schemaVersion=SCHEMA_VERSION,
        name=name,
        version=version,
        modality="text",
        tasks=[TaskModel(name=t.name, labels=list(t.labels)) for t in tasks],
        onnx=onnx_relpath(name),
        inputs=[
            TensorSpecModel(name="input_ids", datatype="INT64", shape=[-1, max_length]),
            TensorSpecModel(name="attention_mask", datatype="INT64", shape=[-1, max_length]),
        ],
        outputs=_outputs(tasks),
        preprocessing=Preprocessing(
            text=TextPreprocessing(
                tokenization="client",
                tokenizer=tokenizer,
                tokenizerConfig=tokenizer_config,
                maxLength=max_length,
                fields=list(fields),
            )
        ),
        triton=_triton(name, max_batch_size),
    )


def detector_manifest(name: str, version: str, view_size: int = 224, max_batch_size: int = 32) -> Manifest:
    return Manifest(
        schemaVersion=SCHEMA_VERSION,
        name=name,
        version=version,
        modality="detector",
        tasks=[],
        onnx=onnx_relpath(name),
        inputs=[TensorSpecModel(name="downsampled", datatype="UINT8", shape=[-1, view_size, view_size, 3])],
        outputs=[OutputSpecModel(name="box", datatype="FP32", shape=[-1, 4]), OutputSpecModel(name="score", datatype="FP32", shape=[-1])],
        preprocessing=Preprocessing(detector=DetectorPreprocessing()),
        triton=_triton(name, max_batch_size),
    )


_ONNX_TYPES = {"UINT8": 2, "INT32": 6, "INT64": 7, "FP32": 1, "FP16": 10, "BOOL": 9}
"""Manifest datatype → onnx.TensorProto element type."""


def check_onnx_matches(manifest: Manifest, manifest_dir: str | os.PathLike[str]) -> Path:
    """Raise :class:`ManifestError` naming every way the ONNX graph differs from the manifest.

    Checks the graph exists and that its inputs and outputs have the manifest's names, element
    types and (static) dimensions — an output per task with one value per label.
    """
    import onnx  # local: importing onnx is slow and most callers only read manifests

    path = (Path(manifest_dir) / manifest.onnx).resolve()
    if not path.exists():
        raise ManifestError(f"manifest {manifest.name}: ONNX file {path} not found")
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as error:  # onnx raises DecodeError and friends
        raise ManifestError(f"manifest {manifest.name}: {path} is not a readable ONNX model: {error}") from None
    problems = _compare("input", manifest.inputs, graph.input) + _compare("output", manifest.outputs, graph.output)
    labels = {t.name: len(t.labels) for t in manifest.tasks}
    for out in manifest.outputs:
        if out.task is not None and out.shape and out.shape[-1] not in (-1, labels[out.task]):
            problems.append(f"output {out.name} has {out.shape[-1]} values but task {out.task} has {labels[out.task]} labels")
    if problems:
        raise ManifestError(f"manifest {manifest.name} does not match {path}: " + "; ".join(problems))
    return path


def _compare(kind: str, specs: Sequence[TensorSpecModel], values: Sequence[object]) -> list[str]:
    problems: list[str] = []
    graph = {v.name: v for v in values}  # type: ignore[attr-defined]
    for name in sorted(set(graph) - {s.name for s in specs}):
        problems.append(f"graph {kind} {name!r} is not in the manifest")
    for spec in specs:
        value = graph.get(spec.name)
        if value is None:
            problems.append(f"manifest {kind} {spec.name!r} is not in the graph (graph has {sorted(graph)})")
            continue
        tensor = value.type.tensor_type  # type: ignore[attr-defined]
        if tensor.elem_type != _ONNX_TYPES[spec.datatype]:
            problems.append(f"{kind} {spec.name!r}: graph element type {tensor.elem_type}, manifest {spec.datatype}")
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
        if len(dims) != len(spec.shape):
            problems.append(f"{kind} {spec.name!r}: graph rank {len(dims)} {dims}, manifest {spec.shape}")
            continue
        for axis, (got, want) in enumerate(zip(dims, spec.shape)):
            if want == -1 or got == -1:
                if axis == 0 and got != -1:
                    problems.append(f"{kind} {spec.name!r}: batch dimension is fixed at {got} in the graph")
                continue
            if got != want:
                problems.append(f"{kind} {spec.name!r}: dimension {axis} is {got} in the graph, {want} in the manifest")
    return problems
