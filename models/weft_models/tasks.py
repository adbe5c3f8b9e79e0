"""Tasks and their ordered labels: the only place the default task set is spelled out.

The order of ``labels`` is the order of a head's logits and of the probabilities in the exported
model's outputs; the manifest carries it to the TypeScript side.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_TASK_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class TaskSpec:
    """A classification task: a slug name and its labels in logit order."""

    name: str
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _TASK_NAME.match(self.name):
            raise ValueError(f"task name {self.name!r} must match {_TASK_NAME.pattern}")
        # Accept any sequence (e.g. a list from JSON) but store an immutable tuple.
        object.__setattr__(self, "labels", tuple(self.labels))
        if len(self.labels) < 2:
            raise ValueError(f"task {self.name!r} needs at least 2 labels, got {list(self.labels)}")
        if any(not isinstance(label, str) or not label for label in self.labels):
            raise ValueError(f"task {self.name!r} has an empty or non-string label: {list(self.labels)}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"task {self.name!r} has duplicate labels: {list(self.labels)}")

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def index(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValueError(f"{label!r} is not a label of task {self.name!r} ({list(self.labels)})") from None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "labels": list(self.labels)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> TaskSpec:
        labels = data.get("labels")
        if not isinstance(labels, Sequence) or isinstance(labels, str):
            raise ValueError(f"task {data.get('name')!r}: labels must be a list")
        return cls(str(data.get("name")), tuple(str(x) for x in labels))


CATEGORY = TaskSpec(
    "category",
    ("tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"),
)
"""Fashion-MNIST's ten classes, in Fashion-MNIST's label order (so its label i is index i)."""

COLOR = TaskSpec(
    "color",
    ("black", "white", "grey", "beige", "brown", "red", "pink", "orange", "yellow", "green", "blue", "purple"),
)

PATTERN = TaskSpec("pattern", ("solid", "striped", "checked", "dotted"))

DEFAULT_TASKS: tuple[TaskSpec, ...] = (CATEGORY, COLOR, PATTERN)

MATERIAL = TaskSpec("material", ("denim", "knit", "leather", "satin", "cotton_jersey", "wool"))
"""Not a default task: it comes from its own data set (``data/material.py``), labeled for it alone,
and joins a model only when a configuration asks for it."""


def task_classes(tasks: Iterable[TaskSpec]) -> dict[str, int]:
    """Task → number of classes, the form :class:`weft_models.multitask.MultiTaskModel` takes."""
    return {task.name: task.num_classes for task in tasks}


def tasks_by_name(tasks: Iterable[TaskSpec]) -> dict[str, TaskSpec]:
    out: dict[str, TaskSpec] = {}
    for task in tasks:
        if task.name in out:
            raise ValueError(f"task {task.name!r} given twice")
        out[task.name] = task
    return out
