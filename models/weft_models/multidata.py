"""Several partially labeled datasets, shuffled together into one stream of single-source batches.

A sample is ``(inputs, labels)``: ``inputs`` maps input names to tensors, ``labels`` maps every task
the *model* knows to a class index, with :data:`IGNORE` where the sample's dataset has no label for
it. Each batch is drawn from one dataset, so a batch adds loss only for that dataset's tasks.

How often each dataset is drawn is a choice (octopod drew in proportion to dataset size, which
lets the biggest dataset's tasks dominate): ``"balanced"`` (the default) gives every dataset the
same share of batches, ``"proportional"`` follows dataset sizes, and a mapping gives explicit
weights.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, Union

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

log = logging.getLogger(__name__)

IGNORE = -100
"""Label value of a task a sample has no label for (``torch.nn.functional.cross_entropy``'s default)."""

Inputs = dict[str, Tensor]
Labels = dict[str, int]
Sample = tuple[Inputs, Labels]
Batch = tuple[dict[str, Tensor], dict[str, Tensor]]
Sampling = Union[Literal["balanced", "proportional"], Mapping[str, float]]


class TaskDataset(Protocol):
    """A map-style dataset that declares the tasks it is labeled for."""

    tasks: tuple[str, ...]

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...


class TensorTaskDataset(Dataset[Sample]):
    """Samples held in tensors: ``inputs[name][i]`` and ``labels[task][i]`` for the labeled tasks."""

    def __init__(self, inputs: Mapping[str, Tensor], labels: Mapping[str, Tensor]) -> None:
        sizes = {len(t) for t in inputs.values()} | {len(t) for t in labels.values()}
        if not inputs:
            raise ValueError("a dataset needs at least one input tensor")
        if len(sizes) != 1:
            raise ValueError(f"inputs and labels disagree on the number of samples: {sorted(sizes)}")
        self.inputs = dict(inputs)
        self.labels = {task: t.long() for task, t in labels.items()}
        self.tasks = tuple(labels)

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def __getitem__(self, index: int) -> Sample:
        return (
            {name: t[index] for name, t in self.inputs.items()},
            {task: int(t[index]) for task, t in self.labels.items()},
        )


def collate(samples: Sequence[Sample], tasks: Sequence[str]) -> Batch:
    """Stack samples; every task in ``tasks`` gets a label tensor, :data:`IGNORE` where unlabeled."""
    inputs = {name: torch.stack([s[0][name] for s in samples]) for name in samples[0][0]}
    labels = {
        task: torch.tensor([s[1].get(task, IGNORE) for s in samples], dtype=torch.long) for task in tasks
    }
    return inputs, labels


class _Collate:
    """Picklable collate bound to the model's task list."""

    def __init__(self, tasks: Sequence[str]) -> None:
        self.tasks = tuple(tasks)

    def __call__(self, samples: Sequence[Sample]) -> Batch:
        return collate(samples, self.tasks)


def sampling_weights(sizes: Mapping[str, int], sampling: Sampling) -> dict[str, float]:
    """Normalized share of batches per dataset."""
    if sampling == "balanced":
        raw = {name: 1.0 for name in sizes}
    elif sampling == "proportional":
        raw = {name: float(n) for name, n in sizes.items()}
    elif isinstance(sampling, Mapping):
        unknown = set(sampling) - set(sizes)
        missing = set(sizes) - set(sampling)
        if unknown or missing:
            raise ValueError(f"sampling weights must name exactly the datasets {sorted(sizes)}; unknown {sorted(unknown)}, missing {sorted(missing)}")
        raw = {name: float(sampling[name]) for name in sizes}
        if any(w < 0 or not math.isfinite(w) for w in raw.values()):
            raise ValueError(f"sampling weights must be finite and non-negative: {raw}")
    else:
        raise ValueError(f"sampling must be 'balanced', 'proportional' or a mapping of weights, got {sampling!r}")
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("sampling weights sum to zero")
    return {name: w / total for name, w in raw.items()}


@dataclass(frozen=True)
class SourcedBatch:
    """One batch and the dataset it came from."""

    source: str
    inputs: dict[str, Tensor]
    labels: dict[str, Tensor]


class MultiDatasetLoader:
    """Shuffles batches of several :class:`TaskDataset` s into one epoch.

    An epoch has ``batches_per_epoch`` batches (default: as many as the datasets hold together);
    each dataset gets its share of them by ``sampling``. A dataset asked for more batches than it
    holds starts over with a new shuffle. Everything is drawn from generators seeded by
    ``seed`` and the epoch number (:meth:`set_epoch`), so an epoch is the same after a resume.
    """

    def __init__(
        self,
        datasets: Mapping[str, TaskDataset],
        tasks: Sequence[str],
        batch_size: int,
        sampling: Sampling = "balanced",
        batches_per_epoch: int | None = None,
        seed: int = 0,
    ) -> None:
        if not datasets:
            raise ValueError("MultiDatasetLoader needs at least one dataset")
        for name, ds in datasets.items():
            if len(ds) == 0:
                raise ValueError(f"dataset {name!r} is empty")
            unknown = set(ds.tasks) - set(tasks)
            if unknown:
                raise ValueError(f"dataset {name!r} is labeled for tasks the model lacks: {sorted(unknown)}")
        self.datasets = dict(datasets)
        self.tasks = tuple(tasks)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        sizes = {name: math.ceil(len(ds) / batch_size) for name, ds in self.datasets.items()}
        self.batches_per_epoch = batches_per_epoch or sum(sizes.values())
        self.weights = sampling_weights({n: len(ds) for n, ds in self.datasets.items()}, sampling)
        self.counts = _apportion(self.weights, self.batches_per_epoch)
        log.debug("batches per epoch by dataset: %s", self.counts)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[SourcedBatch]:
        base = self.seed * 1_000_003 + self.epoch
        order = [name for name, n in self.counts.items() for _ in range(n)]
        perm = torch.randperm(len(order), generator=torch.Generator().manual_seed(base))
        loaders = {
            name: DataLoader(
                ds,  # type: ignore[arg-type]
                batch_size=self.batch_size,
                shuffle=True,
                collate_fn=_Collate(self.tasks),
                generator=torch.Generator().manual_seed(base + 7919 * (i + 1)),
            )
            for i, (name, ds) in enumerate(self.datasets.items())
        }
        streams = {name: iter(loader) for name, loader in loaders.items()}
        for index in perm.tolist():
            name = order[index]
            try:
                inputs, labels = next(streams[name])
            except StopIteration:
                streams[name] = iter(loaders[name])
                inputs, labels = next(streams[name])
            yield SourcedBatch(name, inputs, labels)


def _apportion(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Split ``total`` into integer counts by ``weights`` (largest remainders; positive weights get ≥ 1)."""
    exact = {name: w * total for name, w in weights.items()}
    counts = {name: int(math.floor(x)) for name, x in exact.items()}
    for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[: total - sum(counts.values())]:
        counts[name] += 1
    for name, w in weights.items():
        if w > 0 and counts[name] == 0:
            counts[name] = 1
    return counts


def eval_loader(dataset: TaskDataset, tasks: Sequence[str], batch_size: int) -> DataLoader[Sample]:
    """Unshuffled batches of one dataset, for validation and prediction."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=_Collate(tasks))  # type: ignore[arg-type]
