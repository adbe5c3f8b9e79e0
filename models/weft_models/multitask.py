"""A trunk shared by all tasks and one head per task, with heads that can be added later.

Subclasses implement :meth:`MultiTaskModel.features` (the trunk: inputs → one feature vector per
sample) and may override :meth:`MultiTaskModel.make_head`. ``forward(**inputs)`` returns
``{task: logits}`` for every head.

:meth:`MultiTaskModel.freeze_except` trains only the named heads: every other parameter stops
taking gradients *and* every other module stays in eval mode, so batch-norm statistics and dropout
of the trunk and the existing heads do not move either — existing heads give the same outputs
after a new head has been trained.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn


class MultiTaskModel(nn.Module):
    """Base class: ``heads`` is a :class:`torch.nn.ModuleDict` task → head."""

    def __init__(self, feature_dim: int, tasks: Mapping[str, int], head_dropout: float = 0.0) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.head_dropout = head_dropout
        self.heads = nn.ModuleDict()
        self._trainable: frozenset[str] | None = None
        for task, num_classes in tasks.items():
            self.add_head(task, num_classes)

    # -- to implement -------------------------------------------------------------------------
    def features(self, **inputs: Tensor) -> Tensor:
        """The shared trunk: a ``(batch, feature_dim)`` tensor."""
        raise NotImplementedError

    def make_head(self, num_classes: int) -> nn.Module:
        layers: list[nn.Module] = [nn.Dropout(self.head_dropout)] if self.head_dropout > 0 else []
        return nn.Sequential(*layers, nn.Linear(self.feature_dim, num_classes))

    # -- heads --------------------------------------------------------------------------------
    @property
    def tasks(self) -> dict[str, int]:
        """Task → number of classes, in head order."""
        return {task: _out_features(head) for task, head in self.heads.items()}

    def add_head(self, task: str, num_classes: int) -> nn.Module:
        if task in self.heads:
            raise ValueError(f"model already has a head for task {task!r}")
        if num_classes < 2:
            raise ValueError(f"task {task!r} needs at least 2 classes, got {num_classes}")
        head = self.make_head(num_classes)
        # A new head lives where the model lives (parameters of an existing head tell us where).
        existing = next(self.parameters(), None)
        if existing is not None:
            head = head.to(existing.device)
        self.heads[task] = head
        return head

    def forward(self, **inputs: Tensor) -> dict[str, Tensor]:
        feats = self.features(**inputs)
        return {task: head(feats) for task, head in self.heads.items()}

    def slow_parameters(self) -> Iterable[nn.Parameter]:
        """Parameters trained at the trainer's ``lr`` (the rest at ``head_lr``): by default the
        whole trunk; a model with a pretrained part and fresh layers beside it names the part."""
        head_ids = {id(p) for p in self.heads.parameters()}
        return [p for p in self.parameters() if id(p) not in head_ids]

    # -- freezing -----------------------------------------------------------------------------
    def freeze_except(self, tasks: Iterable[str]) -> None:
        """Train only the heads of ``tasks``; everything else is fixed (weights and statistics)."""
        keep = frozenset(tasks)
        missing = keep - set(self.heads)
        if missing:
            raise ValueError(f"no head for tasks {sorted(missing)}")
        self._trainable = keep
        for p in self.parameters():
            p.requires_grad_(False)
        for task in keep:
            for p in self.heads[task].parameters():
                p.requires_grad_(True)
        self.train(self.training)

    def unfreeze(self) -> None:
        self._trainable = None
        for p in self.parameters():
            p.requires_grad_(True)
        self.train(self.training)

    @property
    def trainable_tasks(self) -> frozenset[str] | None:
        """The heads being trained while frozen, ``None`` when nothing is frozen."""
        return self._trainable

    def train(self, mode: bool = True) -> MultiTaskModel:
        super().train(mode)
        if self._trainable is not None:
            for module in self.children():
                if module is not self.heads:
                    module.eval()
            for task, head in self.heads.items():
                head.train(mode and task in self._trainable)
        return self


def _out_features(head: nn.Module) -> int:
    last = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if not last:
        raise TypeError("a head must end in an nn.Linear layer")
    return last[-1].out_features


def probabilities(logits: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {task: torch.softmax(x, dim=-1) for task, x in logits.items()}
