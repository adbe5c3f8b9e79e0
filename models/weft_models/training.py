"""Generic multi-task trainer: seeded, resumable, validation every epoch, best checkpoint kept.

The loss of a batch is the sum, over the tasks the batch has labels for, of each task's mean
cross-entropy over its labeled samples (:data:`weft_models.multidata.IGNORE` marks the rest).

Checkpoints live in ``checkpoint_dir``: ``last.pt`` (everything needed to resume: weights,
optimizer, scheduler, RNG state, history) after every epoch and ``best.pt`` (weights and task
heads) whenever validation improves. Both are written and read on the CPU (``map_location``);
the device a model trains on is configuration, never a default.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor
from torch.nn import functional as F
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .config import from_dict
from .multidata import IGNORE, Batch, MultiDatasetLoader, SourcedBatch
from .multitask import MultiTaskModel

log = logging.getLogger(__name__)

LAST = "last.pt"
BEST = "best.pt"


@dataclass
class TrainConfig:
    """Hyper-parameters; :meth:`from_dict` rejects unknown keys so a typo fails before training."""

    epochs: int = 5
    lr: float = 1e-3
    head_lr: float | None = None
    """Learning rate of the heads (default ``lr``): fine-tuning a pretrained trunk wants a small
    ``lr`` and fresh heads a larger one."""
    weight_decay: float = 0.01
    schedule: Literal["constant", "linear", "cosine"] = "cosine"
    warmup_fraction: float = 0.0
    grad_clip: float | None = 1.0
    seed: int = 0
    patience: int | None = None
    """Stop after this many epochs without a validation improvement (``None``: never)."""
    task_weights: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    threads: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        config = from_dict(cls, data, what="training config")
        config.validate()
        return config

    def validate(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be ≥ 1, got {self.epochs}")
        if not self.lr > 0 or (self.head_lr is not None and not self.head_lr > 0):
            raise ValueError("learning rates must be positive")
        if self.schedule not in ("constant", "linear", "cosine"):
            raise ValueError(f"schedule must be constant, linear or cosine, got {self.schedule!r}")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")


@dataclass
class TrainResult:
    best_score: float
    best_epoch: int
    history: list[dict[str, Any]]
    best_checkpoint: Path


def seed_everything(seed: int, threads: int | None = None) -> None:
    """Same seed, same thread count → same numbers on the CPU."""
    random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if threads:
        torch.set_num_threads(threads)


def multitask_loss(
    logits: Mapping[str, Tensor], labels: Mapping[str, Tensor], weights: Mapping[str, float] | None = None
) -> tuple[Tensor, dict[str, float]]:
    """Sum of per-task losses over the tasks with at least one label in the batch."""
    total: Tensor | None = None
    parts: dict[str, float] = {}
    for task, target in labels.items():
        if task not in logits or not bool((target != IGNORE).any()):
            continue
        loss = F.cross_entropy(logits[task], target, ignore_index=IGNORE)
        parts[task] = float(loss.detach())
        weighted = loss * (weights or {}).get(task, 1.0)
        total = weighted if total is None else total + weighted
    if total is None:
        raise ValueError(f"batch has no labels for any of the model's tasks {sorted(logits)}")
    return total, parts


def _unpack(batch: SourcedBatch | Batch, device: torch.device) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    inputs, labels = (batch.inputs, batch.labels) if isinstance(batch, SourcedBatch) else batch
    return {k: v.to(device) for k, v in inputs.items()}, {k: v.to(device) for k, v in labels.items()}


@torch.no_grad()
def evaluate(model: MultiTaskModel, batches: Iterable[SourcedBatch | Batch], device: torch.device | str = "cpu") -> dict[str, float]:
    """Per-task loss and accuracy over the labeled samples; ``score`` = mean accuracy over tasks."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    correct: dict[str, int] = {}
    seen: dict[str, int] = {}
    loss_sum: dict[str, float] = {}
    for batch in batches:
        inputs, labels = _unpack(batch, device)
        logits = model(**inputs)
        for task, target in labels.items():
            mask = target != IGNORE
            n = int(mask.sum())
            if task not in logits or n == 0:
                continue
            out = logits[task][mask]
            correct[task] = correct.get(task, 0) + int((out.argmax(-1) == target[mask]).sum())
            seen[task] = seen.get(task, 0) + n
            loss_sum[task] = loss_sum.get(task, 0.0) + float(F.cross_entropy(out, target[mask], reduction="sum"))
    model.train(was_training)
    metrics: dict[str, float] = {}
    for task in seen:
        metrics[f"{task}/accuracy"] = correct[task] / seen[task]
        metrics[f"{task}/loss"] = loss_sum[task] / seen[task]
    accuracies = [correct[t] / seen[t] for t in seen]
    metrics["score"] = sum(accuracies) / len(accuracies) if accuracies else 0.0
    return metrics


class Trainer:
    """Trains a :class:`MultiTaskModel` on a :class:`MultiDatasetLoader`."""

    def __init__(
        self,
        model: MultiTaskModel,
        train_loader: MultiDatasetLoader,
        val_batches: Iterable[SourcedBatch | Batch],
        config: TrainConfig,
        checkpoint_dir: str | os.PathLike[str],
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        config.validate()
        self.config = config
        self.device = torch.device(config.device)
        self.model = model.to(self.device)
        self.train_loader = train_loader
        self.val_batches = val_batches
        self.checkpoint_dir = Path(checkpoint_dir)
        self.extra = dict(extra or {})
        """Saved into ``best.pt`` beside the weights (e.g. the model's construction config)."""
        self.optimizer = self._make_optimizer()
        total = max(1, config.epochs * len(train_loader))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _schedule(config, total))
        self.epoch = 0
        self.best_score = -math.inf
        self.best_epoch = 0
        self.history: list[dict[str, Any]] = []

    def _make_optimizer(self) -> torch.optim.Optimizer:
        slow_ids = {id(p) for p in self.model.slow_parameters()}
        trunk = [p for p in self.model.parameters() if p.requires_grad and id(p) in slow_ids]
        fresh = [p for p in self.model.parameters() if p.requires_grad and id(p) not in slow_ids]
        groups = [{"params": trunk, "lr": self.config.lr}] if trunk else []
        groups.append({"params": fresh, "lr": self.config.head_lr or self.config.lr})
        return torch.optim.AdamW(groups, weight_decay=self.config.weight_decay)

    # -- training -------------------------------------------------------------------------------
    def train_step(self, batch: SourcedBatch | Batch) -> dict[str, float]:
        self.model.train()
        inputs, labels = _unpack(batch, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        loss, parts = multitask_loss(self.model(**inputs), labels, self.config.task_weights)
        loss.backward()
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return parts

    def fit(self, resume: bool = True, stop_after_epoch: int | None = None) -> TrainResult:
        """Train to ``config.epochs`` (or stop early after ``stop_after_epoch``, as an interruption would)."""
        seed_everything(self.config.seed, self.config.threads)
        if resume and (self.checkpoint_dir / LAST).exists():
            self.load_checkpoint(self.checkpoint_dir / LAST)
            log.info("resumed from %s after epoch %d", self.checkpoint_dir / LAST, self.epoch)
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        stale = 0
        with logging_redirect_tqdm():
            while self.epoch < self.config.epochs:
                epoch = self.epoch + 1
                self.train_loader.set_epoch(epoch)
                running: dict[str, list[float]] = {}
                bar = tqdm(self.train_loader, desc=f"epoch {epoch}/{self.config.epochs}", unit="batch", leave=False, disable=None)
                for batch in bar:
                    for task, value in self.train_step(batch).items():
                        running.setdefault(task, []).append(value)
                    bar.set_postfix({t: f"{v[-1]:.3f}" for t, v in running.items()})
                metrics = evaluate(self.model, self.val_batches, self.device)
                record = {"epoch": epoch, **{f"train/{t}/loss": sum(v) / len(v) for t, v in running.items()}, **metrics}
                self.history.append(record)
                self.epoch = epoch
                improved = metrics["score"] > self.best_score
                if improved:
                    self.best_score, self.best_epoch, stale = metrics["score"], epoch, 0
                    self.save_best(self.checkpoint_dir / BEST)
                else:
                    stale += 1
                log.info(
                    "epoch %d: %s%s",
                    epoch,
                    ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k.endswith("accuracy") or k == "score"),
                    " (best)" if improved else "",
                )
                self.save_checkpoint(self.checkpoint_dir / LAST)
                if self.config.patience is not None and stale >= self.config.patience:
                    log.info("no improvement for %d epochs; stopping", stale)
                    break
                if stop_after_epoch is not None and epoch >= stop_after_epoch:
                    break
        return TrainResult(self.best_score, self.best_epoch, self.history, self.checkpoint_dir / BEST)

    # -- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, path: Path) -> None:
        _atomic_save(
            {
                "model": self.model.state_dict(),
                "tasks": self.model.tasks,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "epoch": self.epoch,
                "best_score": self.best_score,
                "best_epoch": self.best_epoch,
                "history": json.dumps(self.history),
                "torch_rng": torch.get_rng_state(),
                "config": json.dumps(dataclasses.asdict(self.config)),
                "extra": json.dumps(self.extra),
            },
            path,
        )

    def load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        _check_tasks(self.model, state["tasks"], path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.best_score = float(state["best_score"])
        self.best_epoch = int(state["best_epoch"])
        self.history = json.loads(state["history"])
        torch.set_rng_state(state["torch_rng"])

    def save_best(self, path: Path) -> None:
        _atomic_save(
            {"model": self.model.state_dict(), "tasks": self.model.tasks, "epoch": self.epoch,
             "score": self.best_score, "extra": json.dumps(self.extra)},
            path,
        )


def load_weights(model: MultiTaskModel, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load ``best.pt`` (or ``last.pt``) weights into ``model`` on the CPU; returns the checkpoint's ``extra``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    _check_tasks(model, state["tasks"], path)
    model.load_state_dict(state["model"])
    return json.loads(state.get("extra", "{}"))


def read_checkpoint_extra(path: str | os.PathLike[str]) -> dict[str, Any]:
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    return {"tasks": dict(state["tasks"]), **json.loads(state.get("extra", "{}"))}


def _check_tasks(model: MultiTaskModel, saved: Mapping[str, int], path: Path) -> None:
    if dict(saved) != model.tasks:
        raise ValueError(f"checkpoint {path} has heads {dict(saved)}, model has {model.tasks}")


def _atomic_save(obj: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _schedule(config: TrainConfig, total: int) -> Callable[[int], float]:
    warmup = int(config.warmup_fraction * total)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        if config.schedule == "linear":
            return max(0.0, 1.0 - progress)
        if config.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return 1.0

    return factor
