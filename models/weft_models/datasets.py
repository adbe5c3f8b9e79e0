"""More labeled data sets beside the catalog: each labeled for some tasks only, each with its own
share of the training batches.

An :class:`ExtraDataset` is a folder in the catalog's format (``items.jsonl`` + ``views.u8``; see
``data/catalog.py``) whose items carry labels for some tasks: the material data set
(``data/material.py``, only ``material``) or the human corrections (``corrections.py``, only the
corrected tasks). Training mixes them with the catalog through the multi-dataset loader: every
batch comes from one data set and adds loss only for the tasks it has labels for, and ``weight`` is
that data set's share of the batches against the catalog's ``catalog_weight``.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import from_dict


@dataclass(frozen=True)
class ExtraDataset:
    name: str
    """A slug naming its batches (``material``, ``corrections``)."""
    root: str
    """Folder in the catalog's format."""
    weight: float = 1.0
    """Share of the training batches, relative to the catalog's ``catalog_weight``."""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "_").replace("_", "a").isalnum():
            raise ValueError(f"an extra data set needs a slug name, got {self.name!r}")
        if not (self.weight > 0 and math.isfinite(self.weight)):
            raise ValueError(f"data set {self.name!r}: weight must be positive and finite, got {self.weight}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExtraDataset:
        return from_dict(cls, data, what="extra data set")


def mixed_weights(groups: Mapping[str, Mapping[str, int]], weights: Mapping[str, float]) -> dict[str, float]:
    """Sampling weights for the multi-dataset loader: each source (``catalog``, ``material``, …)
    gets ``weights[source]``, split among its label groups by their sizes."""
    out: dict[str, float] = {}
    for source, sizes in groups.items():
        total = sum(sizes.values())
        for name, size in sizes.items():
            out[name] = weights[source] * size / total
    return out


class Chained:
    """Several re-iterable batch sources read one after another (validation over several data sets)."""

    def __init__(self, parts: Sequence[Iterable[Any]]) -> None:
        self.parts = list(parts)

    def __iter__(self) -> Iterator[Any]:
        for part in self.parts:
            yield from part
