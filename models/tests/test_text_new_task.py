"""The text model gains a task from a data set labeled only for it: jointly (per-data-set sampling
weights) and by ``add_head`` with everything else frozen (existing logits bit-identical)."""
from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import torch

from test_text import COLOR, PATTERN, TASKS, examples, tiny_settings
from weft_models.tasks import TaskSpec
from weft_models.text.train import TextExample, add_text_head, load_text_model, train_text

FABRIC = TaskSpec("material", ("denim", "satin"))
WORDS = {"denim": ["denim", "selvedge denim", "indigo twill"], "satin": ["satin", "charmeuse", "silk satin"]}


def fabric_examples(n: int, seed: int) -> list[TextExample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        material = FABRIC.labels[i % 2]
        title = f"{rng.choice(['Women’s', 'Men’s'])} {rng.choice(WORDS[material])} dress"
        out.append(TextExample(f"m{seed}-{i}", {"title": title, "description": "Ships in 2 days", "brand": "Acme"},
                               {"material": material}, source="material"))
    return out


def test_joint_run_with_per_dataset_weights(tmp_path: Path) -> None:
    train = [*examples(120, 0), *fabric_examples(60, 2)]
    val = [*examples(32, 1), *fabric_examples(24, 3)]
    result = train_text(train, val, [*TASKS, FABRIC], tiny_settings(epochs=4), tmp_path, source_weights={"catalog": 1.0, "material": 1.0})
    last = result.history[-1]
    assert last["material/accuracy"] > 0.9 and last["color/accuracy"] > 0.6, last
    saved = torch.load(result.best_checkpoint, map_location="cpu", weights_only=True)
    assert json.loads(saved["extra"])["datasets"] == {"catalog": 1.0, "material": 1.0}


def test_add_head_keeps_existing_text_outputs_bit_identical(tmp_path: Path) -> None:
    base = train_text(examples(120, 0), examples(32, 1), TASKS, tiny_settings(epochs=2), tmp_path / "base")
    # Only a linear head over frozen features trains: a larger step and more epochs than a full run.
    settings = tiny_settings(epochs=12)
    settings.train = dataclasses.replace(settings.train, head_lr=0.05)
    result = add_text_head(base.best_checkpoint, fabric_examples(60, 2), fabric_examples(24, 3), FABRIC, settings, tmp_path / "added")
    assert result.best_score > 0.8, result.history  # chance is 0.5
    assert json.loads((tmp_path / "added" / "history.json").read_text())["existing_heads_identical"] is True
    model, tasks = load_text_model(result.best_checkpoint)
    assert [t.name for t in tasks] == [COLOR.name, PATTERN.name, "material"] and set(model.heads) == {"color", "pattern", "material"}
