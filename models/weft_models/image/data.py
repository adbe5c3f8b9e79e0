"""Image training data: the catalog's views (memory-mapped) with per-task labels."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..data.catalog import CatalogItem
from ..multidata import IGNORE, Sample
from ..tasks import TaskSpec


class ViewsDataset(Dataset[Sample]):
    """Rows of a ``(N, V, S, S, 3)`` uint8 views array → ``({view: pixels}, {task: label})`` for
    the first ``len(names)`` columns (named ``names``: the catalog's column order).

    ``labels[task][i]`` is a class index or :data:`IGNORE`; ``tasks`` are the tasks this dataset is
    labeled for (the multi-dataset loader's contract). With ``flip``, both views of a sample are
    mirrored together half of the time (torch's global generator, seeded by the trainer).
    """

    def __init__(
        self,
        views: np.ndarray,
        rows: Sequence[int],
        labels: Mapping[str, Sequence[int]],
        flip: bool = False,
        names: Sequence[str] = ("downsampled", "center"),
    ) -> None:
        if views.ndim != 5 or views.shape[1] < len(names) or views.shape[-1] != 3:
            raise ValueError(f"views must be (N, ≥{len(names)}, S, S, 3) for {list(names)}, got {views.shape}")
        self.names = tuple(names)
        self.views = views
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = {task: np.asarray(values, dtype=np.int64) for task, values in labels.items()}
        for task, values in self.labels.items():
            if len(values) != len(self.rows):
                raise ValueError(f"task {task}: {len(values)} labels for {len(self.rows)} rows")
        self.tasks = tuple(self.labels)
        self.flip = flip

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Sample:
        stack = torch.from_numpy(np.array(self.views[self.rows[index], : len(self.names)]))
        if self.flip and bool(torch.rand(()) < 0.5):
            stack = stack.flip(2)  # (V, H, W, 3): mirror along W
        labels = {task: int(values[index]) for task, values in self.labels.items() if values[index] != IGNORE}
        return {name: stack[i] for i, name in enumerate(self.names)}, labels


def label_matrix(items: Sequence[CatalogItem], tasks: Sequence[TaskSpec]) -> dict[str, np.ndarray]:
    """Task → class index per item (:data:`IGNORE` where an item has no label for it)."""
    return {
        t.name: np.array([t.index(item.labels[t.name]) if t.name in item.labels else IGNORE for item in items], dtype=np.int64)
        for t in tasks
    }


def label_groups(items: Sequence[CatalogItem], tasks: Sequence[TaskSpec]) -> tuple[dict[str, np.ndarray], dict[tuple[str, ...], list[int]]]:
    """The label matrix and the items grouped by the set of tasks they are labeled for (one
    multi-data dataset per group), in a stable order."""
    labels = label_matrix(items, tasks)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(items)):
        key = tuple(t.name for t in tasks if labels[t.name][i] != IGNORE)
        if key:
            groups.setdefault(key, []).append(i)
    if not groups:
        raise ValueError("no catalog item carries a label for any of the tasks")
    return labels, dict(sorted(groups.items()))


def grouped_datasets(
    views: np.ndarray, items: Sequence[CatalogItem], tasks: Sequence[TaskSpec], flip: bool = True,
    names: Sequence[str] = ("downsampled", "center"),
) -> dict[str, ViewsDataset]:
    """One dataset per set of labeled tasks (``category+color+pattern``, ``color``, …)."""
    labels, groups = label_groups(items, tasks)
    return {
        "+".join(key): ViewsDataset(
            views, [items[i].view_index for i in members], {t: labels[t][members] for t in key}, flip=flip, names=names
        )
        for key, members in groups.items()
    }


def stack_views(views: np.ndarray, rows: Sequence[int], names: Sequence[str] = ("downsampled", "center")) -> dict[str, Tensor]:
    """``{view: (n, S, S, 3)}`` for the first ``len(names)`` columns of ``views[rows]``."""
    batch = torch.from_numpy(np.ascontiguousarray(views[np.asarray(rows)]))
    return {name: batch[:, i] for i, name in enumerate(names)}
