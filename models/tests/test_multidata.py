"""The multi-dataset loader: task mixing, balanced vs proportional sampling, determinism."""
from __future__ import annotations

from collections import Counter

import pytest
import torch

from weft_models.multidata import IGNORE, MultiDatasetLoader, TensorTaskDataset, sampling_weights

TASKS = ("color", "pattern")


def make_sets() -> dict[str, TensorTaskDataset]:
    g = torch.Generator().manual_seed(0)
    return {
        "color_only": TensorTaskDataset({"x": torch.randn(400, 3, generator=g)}, {"color": torch.randint(0, 3, (400,), generator=g)}),
        "pattern_only": TensorTaskDataset({"x": torch.randn(40, 3, generator=g)}, {"pattern": torch.randint(0, 2, (40,), generator=g)}),
        "full": TensorTaskDataset(
            {"x": torch.randn(80, 3, generator=g)},
            {"color": torch.randint(0, 3, (80,), generator=g), "pattern": torch.randint(0, 2, (80,), generator=g)},
        ),
    }


def test_each_batch_comes_from_one_dataset_and_labels_only_its_tasks() -> None:
    sets = make_sets()
    loader = MultiDatasetLoader(sets, TASKS, batch_size=8, seed=1)
    sources = set()
    for batch in loader:
        sources.add(batch.source)
        assert set(batch.labels) == set(TASKS)
        for task in TASKS:
            labeled = bool((batch.labels[task] != IGNORE).all())
            unlabeled = bool((batch.labels[task] == IGNORE).all())
            assert labeled if task in sets[batch.source].tasks else unlabeled
    assert sources == set(sets)


def test_balanced_by_default_proportional_and_explicit() -> None:
    sets = make_sets()
    balanced = Counter(b.source for b in MultiDatasetLoader(sets, TASKS, batch_size=8, batches_per_epoch=90))
    assert balanced == {"color_only": 30, "pattern_only": 30, "full": 30}

    proportional = Counter(b.source for b in MultiDatasetLoader(sets, TASKS, batch_size=8, sampling="proportional", batches_per_epoch=52))
    assert proportional == {"color_only": 40, "pattern_only": 4, "full": 8}

    explicit = MultiDatasetLoader(sets, TASKS, batch_size=8, sampling={"color_only": 1, "pattern_only": 0, "full": 3}, batches_per_epoch=40)
    assert explicit.counts == {"color_only": 10, "pattern_only": 0, "full": 30}


def test_small_dataset_cycles_with_fresh_shuffles() -> None:
    sets = make_sets()
    loader = MultiDatasetLoader({"pattern_only": sets["pattern_only"]}, TASKS, batch_size=8, batches_per_epoch=15)
    seen = torch.cat([b.inputs["x"] for b in loader])
    assert len(seen) == 120  # three passes over 40 samples
    assert not torch.equal(seen[:40], seen[40:80])


def test_same_seed_and_epoch_same_batches() -> None:
    def run(epoch: int) -> list[torch.Tensor]:
        loader = MultiDatasetLoader(make_sets(), TASKS, batch_size=8, seed=3)
        loader.set_epoch(epoch)
        return [b.inputs["x"] for b in loader]

    a, b, c = run(1), run(1), run(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_bad_configuration_is_named() -> None:
    sets = make_sets()
    with pytest.raises(ValueError, match="lacks"):
        MultiDatasetLoader(sets, ("color",), batch_size=8)
    with pytest.raises(ValueError, match="missing"):
        sampling_weights({"a": 1, "b": 2}, {"a": 1.0})
    with pytest.raises(ValueError, match="balanced"):
        sampling_weights({"a": 1}, "uniform")  # type: ignore[arg-type]
