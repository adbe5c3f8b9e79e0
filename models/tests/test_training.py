"""The generic trainer and multi-task model: loss falls per task, add-head freezing, resume, CPU load."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from weft_models.multidata import MultiDatasetLoader, TensorTaskDataset, eval_loader
from weft_models.multitask import MultiTaskModel
from weft_models.training import Trainer, TrainConfig, evaluate, load_weights, multitask_loss, seed_everything


class TinyModel(MultiTaskModel):
    def __init__(self, tasks: dict[str, int]) -> None:
        super().__init__(feature_dim=16, tasks=tasks, head_dropout=0.1)
        self.trunk = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1))

    def features(self, **inputs: Tensor) -> Tensor:
        return self.trunk(inputs["x"])


def make_data(n: int, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    color = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    pattern = (x[:, 2] + x[:, 3] > 0).long()
    size = (x[:, 1] > 0).long()
    return x, color, pattern, size


def loaders(seed: int = 0) -> tuple[MultiDatasetLoader, list]:
    x, color, pattern, _ = make_data(240, seed)
    sets = {
        "color_only": TensorTaskDataset({"x": x[:120]}, {"color": color[:120]}),
        "pattern_only": TensorTaskDataset({"x": x[120:200]}, {"pattern": pattern[120:200]}),
        "full": TensorTaskDataset({"x": x[200:]}, {"color": color[200:], "pattern": pattern[200:]}),
    }
    vx, vc, vp, _ = make_data(64, seed + 100)
    val = list(eval_loader(TensorTaskDataset({"x": vx}, {"color": vc, "pattern": vp}), ("color", "pattern"), 32))
    return MultiDatasetLoader(sets, ("color", "pattern"), batch_size=16, seed=seed), val


def test_a_training_step_lowers_the_loss_of_every_labeled_task() -> None:
    seed_everything(0)
    model = TinyModel({"color": 3, "pattern": 2})
    train, _ = loaders()
    trainer = Trainer(model, train, [], TrainConfig(lr=0.05, schedule="constant", grad_clip=None), "/nonexistent")
    x, color, pattern, _ = make_data(32, 5)
    batch = ({"x": x}, {"color": color, "pattern": pattern})

    def losses() -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            return multitask_loss(model(x=x), batch[1])[1]

    before = losses()
    for _ in range(3):
        trainer.train_step(batch)
    after = losses()
    assert set(before) == {"color", "pattern"}
    assert all(after[t] < before[t] for t in before), (before, after)


def test_loss_counts_only_labeled_tasks() -> None:
    logits = {"color": torch.randn(4, 3, requires_grad=True), "pattern": torch.randn(4, 2, requires_grad=True)}
    labels = {"color": torch.tensor([0, 1, 2, 1]), "pattern": torch.full((4,), -100)}
    loss, parts = multitask_loss(logits, labels)
    loss.backward()
    assert set(parts) == {"color"}
    assert logits["pattern"].grad is None or float(logits["pattern"].grad.abs().sum()) == 0.0


def test_fit_keeps_best_checkpoint_and_learns(tmp_path: Path) -> None:
    train, val = loaders()
    model = TinyModel({"color": 3, "pattern": 2})
    result = Trainer(model, train, val, TrainConfig(epochs=6, lr=0.03), tmp_path).fit()
    assert (tmp_path / "best.pt").exists() and (tmp_path / "last.pt").exists()
    assert result.best_score == max(h["score"] for h in result.history)
    assert result.best_score > 0.7
    fresh = TinyModel({"color": 3, "pattern": 2})
    load_weights(fresh, result.best_checkpoint)
    assert evaluate(fresh, val)["score"] == pytest.approx(result.best_score)


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path: Path) -> None:
    config = TrainConfig(epochs=4, lr=0.02, seed=7)

    def trainer(directory: Path) -> Trainer:
        seed_everything(7)
        train, val = loaders(seed=1)
        return Trainer(TinyModel({"color": 3, "pattern": 2}), train, val, config, directory)

    straight = trainer(tmp_path / "a")
    straight.fit()
    interrupted = trainer(tmp_path / "b")
    interrupted.fit(stop_after_epoch=2)
    resumed = trainer(tmp_path / "b")
    result = resumed.fit()
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_added_head_trains_while_existing_heads_stay_unchanged(tmp_path: Path) -> None:
    train, val = loaders()
    model = TinyModel({"color": 3, "pattern": 2})
    Trainer(model, train, val, TrainConfig(epochs=2, lr=0.03), tmp_path / "base").fit()
    x, _, _, size = make_data(200, 9)
    model.eval()
    with torch.no_grad():
        before = model(x=x)

    model.add_head("size", 2)
    model.freeze_except(["size"])
    size_train = MultiDatasetLoader({"size": TensorTaskDataset({"x": x}, {"size": size})}, model.tasks, batch_size=16)
    size_val = list(eval_loader(TensorTaskDataset({"x": x[:64]}, {"size": size[:64]}), model.tasks, 32))
    untrained = evaluate(model, size_val)["size/accuracy"]
    Trainer(model, size_train, size_val, TrainConfig(epochs=4, lr=0.05), tmp_path / "size").fit()

    model.eval()
    with torch.no_grad():
        after = model(x=x)
    assert torch.equal(before["color"], after["color"]) and torch.equal(before["pattern"], after["pattern"])
    assert evaluate(model, size_val)["size/accuracy"] > max(untrained, 0.7)


def test_checkpoint_with_other_heads_is_refused(tmp_path: Path) -> None:
    train, val = loaders()
    result = Trainer(TinyModel({"color": 3, "pattern": 2}), train, val, TrainConfig(epochs=1), tmp_path).fit()
    with pytest.raises(ValueError, match="heads"):
        load_weights(TinyModel({"color": 3}), result.best_checkpoint)


def test_malformed_config_is_named() -> None:
    with pytest.raises(ValueError, match="unknown training config keys.*'epoch'"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig.from_dict({"epochs": 0})
