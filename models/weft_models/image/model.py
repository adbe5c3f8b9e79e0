"""Two views through ONE shared backbone, features concatenated, a shared dense stack, a head per task.

The model takes the serving tensors as they are: ``downsampled`` and ``center`` as uint8 NHWC RGB
(exactly what the pipeline's preprocessing writes). Conversion to float, the NCHW transpose and
ImageNet normalization are the first layers of the model, so training, evaluation and the exported
ONNX graph share them and nothing outside the graph can get them wrong.

Backbones are transformers' ``ResNetModel``: the production configuration loads ImageNet weights
(``microsoft/resnet-50``) with ``from_pretrained``; the CPU demo is a small ResNet trained from
scratch. Checkpoints store the backbone's ``ResNetConfig`` so loading never needs the hub.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from transformers import ResNetConfig, ResNetModel

from ..config import from_dict
from ..multitask import MultiTaskModel
from ..tasks import TaskSpec, task_classes

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VIEW_NAMES = ("downsampled", "center")


@dataclass
class ImageModelConfig:
    """Architecture. :meth:`from_dict` rejects unknown keys so a typo fails before any work."""

    pretrained: str | None = None
    """Checkpoint for ``ResNetModel.from_pretrained`` (production: ``microsoft/resnet-50``); when set,
    the ``embedding_size``/``hidden_sizes``/``depths``/``layer_type`` fields are ignored."""
    embedding_size: int = 24
    hidden_sizes: list[int] = field(default_factory=lambda: [32, 64, 128, 192])
    depths: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    layer_type: Literal["basic", "bottleneck"] = "basic"
    downsample_in_first_stage: bool = False
    dense: list[int] = field(default_factory=lambda: [256])
    dropout: float = 0.2
    head_dropout: float = 0.0
    stem: Literal["resnet", "patch"] = "resnet"
    """``resnet``: the standard 7×7/2 convolution + max-pool (what pretrained checkpoints expect);
    ``patch``: a non-overlapping ``stem_stride``×``stem_stride`` convolution — early downsampling
    that keeps the CPU demo fast while each patch still sees full-resolution detail (fine stripes
    and dots) that pooling would average away."""
    stem_stride: int = 4
    views: Literal["both", "downsampled"] = "both"
    """``downsampled``: the single-view baseline (the center input is accepted and ignored)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageModelConfig:
        config = from_dict(cls, data, what="image model config")
        config.validate()
        return config

    @classmethod
    def production(cls) -> ImageModelConfig:
        return cls(pretrained="microsoft/resnet-50", dense=[1024], dropout=0.2)

    def validate(self) -> None:
        if self.pretrained is None:
            if len(self.hidden_sizes) != len(self.depths) or not self.depths:
                raise ValueError(f"hidden_sizes {self.hidden_sizes} and depths {self.depths} must be non-empty and of equal length")
            if min(self.hidden_sizes + self.depths + [self.embedding_size]) < 1:
                raise ValueError("image model sizes and depths must be positive")
        if self.layer_type not in ("basic", "bottleneck"):
            raise ValueError(f"layer_type must be basic or bottleneck, got {self.layer_type!r}")
        if self.stem not in ("resnet", "patch"):
            raise ValueError(f"stem must be resnet or patch, got {self.stem!r}")
        if self.stem == "patch" and self.pretrained:
            raise ValueError("a pretrained backbone keeps its own stem (stem='resnet')")
        if self.stem_stride < 1:
            raise ValueError(f"stem_stride must be positive, got {self.stem_stride}")
        if self.views not in ("both", "downsampled"):
            raise ValueError(f"views must be 'both' or 'downsampled', got {self.views!r}")
        if any(d < 1 for d in self.dense) or not 0 <= self.dropout < 1 or not 0 <= self.head_dropout < 1:
            raise ValueError("dense sizes must be positive and dropouts in [0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def resnet_config(self) -> ResNetConfig:
        return ResNetConfig(
            num_channels=3,
            embedding_size=self.embedding_size,
            hidden_sizes=list(self.hidden_sizes),
            depths=list(self.depths),
            layer_type=self.layer_type,
            hidden_act="relu",
            downsample_in_first_stage=self.downsample_in_first_stage,
        )


class PatchStem(nn.Sequential):
    """Non-overlapping patch convolution + batch norm + ReLU: one cheap step from pixels to a 1/s grid."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=stride, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def build_backbone(config: ImageModelConfig, resnet_config: Mapping[str, Any] | None = None) -> ResNetModel:
    """A saved ``resnet_config`` wins (loading a checkpoint); else pretrained weights; else from scratch."""
    if resnet_config is not None:
        backbone = ResNetModel(ResNetConfig.from_dict(dict(resnet_config)))
    elif config.pretrained:
        log.info("loading pretrained backbone %s", config.pretrained)
        backbone = ResNetModel.from_pretrained(config.pretrained)
    else:
        backbone = ResNetModel(config.resnet_config())
    if config.stem == "patch":
        # ResNetEmbeddings runs embedder then pooler; the patch stem replaces both.
        embeddings = backbone.embedder
        embeddings.embedder = PatchStem(3, backbone.config.embedding_size, config.stem_stride)
        embeddings.pooler = nn.Identity()
    return backbone


class ImageModel(MultiTaskModel):
    """``forward(downsampled=uint8 NHWC, center=uint8 NHWC) -> {task: logits}``."""

    def __init__(
        self,
        config: ImageModelConfig,
        tasks: Sequence[TaskSpec],
        resnet_config: Mapping[str, Any] | None = None,
    ) -> None:
        config.validate()
        backbone = build_backbone(config, resnet_config)
        backbone_dim = int(backbone.config.hidden_sizes[-1])
        n_views = 2 if config.views == "both" else 1
        feature_dim = config.dense[-1] if config.dense else backbone_dim * n_views
        self.task_specs: dict[str, TaskSpec] = {}
        super().__init__(feature_dim, {}, head_dropout=config.head_dropout)
        self.config = config
        self.backbone = backbone
        layers: list[nn.Module] = []
        width = backbone_dim * n_views
        for size in config.dense:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(inplace=True), nn.Dropout(config.dropout)]
            width = size
        self.dense = nn.Sequential(*layers)
        # Stored as 0..255-scale constants so the graph does one fused affine on the uint8 input.
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).mul(255).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).mul(255).view(1, 3, 1, 1), persistent=False)
        for task in tasks:
            self.add_head(task)

    # -- heads ------------------------------------------------------------------------------------
    def add_head(self, task: TaskSpec | str, num_classes: int | None = None) -> nn.Module:  # type: ignore[override]
        """Add a head for a :class:`TaskSpec` (or, as the base class, a task name and class count)."""
        if isinstance(task, TaskSpec):
            if num_classes is not None and num_classes != task.num_classes:
                raise ValueError(f"task {task.name!r} has {task.num_classes} labels, not {num_classes}")
            head = super().add_head(task.name, task.num_classes)
            self.task_specs[task.name] = task
            return head
        if num_classes is None:
            raise ValueError("add_head needs a TaskSpec or a task name and num_classes")
        return super().add_head(task, num_classes)

    def specs(self) -> list[TaskSpec]:
        """TaskSpecs of the heads, in head order (heads added by name only have no labels)."""
        missing = [t for t in self.heads if t not in self.task_specs]
        if missing:
            raise ValueError(f"heads {missing} were added without labels; add them with a TaskSpec")
        return [self.task_specs[t] for t in self.heads]

    # -- trunk ------------------------------------------------------------------------------------
    def normalize(self, view: Tensor) -> Tensor:
        """uint8 NHWC RGB → normalized float NCHW."""
        if view.dim() != 4 or view.shape[-1] != 3:
            raise ValueError(f"expected a (batch, height, width, 3) view, got shape {tuple(view.shape)}")
        x = view.permute(0, 3, 1, 2).float()
        return (x - self.pixel_mean) / self.pixel_std

    def _embed(self, view: Tensor) -> Tensor:
        return self.backbone(self.normalize(view)).pooler_output.flatten(1)

    def features(self, downsampled: Tensor, center: Tensor | None = None, **_: Tensor) -> Tensor:  # type: ignore[override]
        if self.config.views == "downsampled":
            pooled = self._embed(downsampled)
        else:
            if center is None:
                raise ValueError("the two-view model needs both 'downsampled' and 'center'")
            # One backbone pass over both views stacked on the batch axis: the same weights see
            # both, and batch norm's batch statistics cover both views exactly as its running
            # statistics (used at inference) do. Two separate passes would normalize each view
            # by its own statistics in training but by their mixture at inference.
            n = downsampled.shape[0]
            both = self.backbone(torch.cat([self.normalize(downsampled), self.normalize(center)], dim=0)).pooler_output.flatten(1)
            # Slicing, not chunk(): chunk's size arithmetic would pin the batch size in torch.export.
            pooled = torch.cat([both[:n], both[n:]], dim=1)
        return self.dense(pooled)

    # -- persistence ------------------------------------------------------------------------------
    def checkpoint_extra(self) -> dict[str, Any]:
        """What a checkpoint needs to rebuild this model offline (the trainer's ``extra``)."""
        return {
            "kind": "image",
            "image_config": self.config.to_dict(),
            "resnet_config": self.backbone.config.to_dict(),
            "task_specs": [t.to_json() for t in self.specs()],
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        torch.save({"model": self.state_dict(), "tasks": self.tasks, "extra": _json(self.checkpoint_extra())}, tmp)
        os.replace(tmp, out)
        return out


def _json(data: Mapping[str, Any]) -> str:
    import json

    return json.dumps(data)


def model_from_extra(extra: Mapping[str, Any]) -> ImageModel:
    """An untrained model with the architecture and heads a checkpoint's ``extra`` describes."""
    if extra.get("kind") != "image":
        raise ValueError(f"not an image model checkpoint (kind={extra.get('kind')!r})")
    config = ImageModelConfig.from_dict(extra["image_config"])
    specs = [TaskSpec.from_json(t) for t in extra["task_specs"]]
    # The stored ResNetConfig rebuilds the backbone without the hub, pretrained or not.
    return ImageModel(dataclasses.replace(config, pretrained=None), specs, resnet_config=extra["resnet_config"])


def load_image_model(path: str | os.PathLike[str]) -> ImageModel:
    """Load a checkpoint written by :meth:`ImageModel.save` or the trainer's ``best.pt``, on the CPU."""
    import json

    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"image model checkpoint not found: {file}")
    state = torch.load(file, map_location="cpu", weights_only=True)
    extra = json.loads(state.get("extra", "{}"))
    model = model_from_extra(extra)
    if dict(state["tasks"]) != model.tasks:
        raise ValueError(f"checkpoint {file}: heads {dict(state['tasks'])} do not match its task specs {model.tasks}")
    model.load_state_dict(state["model"])
    return model.eval()


def default_image_model(tasks: Sequence[TaskSpec], config: ImageModelConfig | None = None) -> ImageModel:
    return ImageModel(config or ImageModelConfig(), tasks)


__all__ = ["ImageModel", "ImageModelConfig", "build_backbone", "load_image_model", "model_from_extra",
           "default_image_model", "task_classes", "VIEW_NAMES"]
