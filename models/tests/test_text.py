"""Text model: tiny BERT trains through the generic trainer, export parity, tokenizer shipped."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from weft_models.export import onnx_session
from weft_models.manifest import load_manifest
from weft_models.tasks import TaskSpec, task_classes
from weft_models.text.export import export_text
from weft_models.text.model import TextModelConfig, build_text_model, minilm_path
from weft_models.text.tokenizer import encode, load_tokenizer
from weft_models.text.train import TextExample, TextTrainSettings, load_text_model, predict_texts, train_text
from weft_models.training import TrainConfig

COLOR = TaskSpec("color", ("red", "green", "blue"))
PATTERN = TaskSpec("pattern", ("solid", "striped"))
TASKS = [COLOR, PATTERN]
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
WORDS = {"red": ["ruby", "crimson", "red"], "green": ["emerald", "olive", "green"], "blue": ["navy", "cobalt", "blue"]}


def examples(n: int, seed: int) -> list[TextExample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        color = rng.choice(COLOR.labels)
        pattern = rng.choice(PATTERN.labels)
        title = f"<b>{rng.choice(WORDS[color])}</b> {'striped' if pattern == 'striped' else 'plain'} shirt"
        labels = {"color": color, "pattern": pattern}
        if i % 3 == 1:
            labels.pop("pattern")  # a color-only dataset
        out.append(TextExample(f"p{i}", {"title": title, "description": "Free shipping &amp; returns", "brand": "Acme"}, labels))
    return out


def tiny_settings(epochs: int = 4) -> TextTrainSettings:
    return TextTrainSettings(
        model=TextModelConfig(pretrained=None, encoder=TINY, max_length=24),
        train=TrainConfig(epochs=epochs, lr=3e-3, seed=0, threads=1),
        batch_size=16,
    )


def test_tiny_text_model_learns_resumes_and_reloads_on_cpu(tmp_path: Path) -> None:
    train, val = examples(160, 0), examples(48, 1)
    partial = train_text(train, val, TASKS, tiny_settings(epochs=2), tmp_path)
    assert [h["epoch"] for h in partial.history] == [1, 2]
    result = train_text(train, val, TASKS, tiny_settings(epochs=4), tmp_path)  # resumes at epoch 3
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    assert result.history[-1]["color/accuracy"] > 0.6
    texts = json.loads((tmp_path / "texts.json").read_text())["texts"]
    # Cleaned by the pipeline's cleaner (HTML and entities gone), fields joined in manifest order.
    assert texts[0].split("\n") == [train[0].fields["title"].replace("<b>", "").replace("</b>", ""), "Free shipping & returns", "Acme"]

    model, tasks = load_text_model(result.best_checkpoint)
    assert [t.name for t in tasks] == ["color", "pattern"] and tasks[0].labels == COLOR.labels
    tokenizer = load_tokenizer(tmp_path / "tokenizer")
    probs = predict_texts(model, encode(tokenizer, texts[:5]))
    assert probs["color"].shape == (5, 3)
    np.testing.assert_allclose(probs["color"].sum(1), 1.0, atol=1e-5)


def test_export_parity_fp32_and_int8_runs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_text_model(TextModelConfig(pretrained=None, encoder=TINY, max_length=32), task_classes(TASKS), vocab_size=30522)
    exported = export_text(model, TASKS, tmp_path / "text", "test", str(minilm_path()))
    assert exported.parity_fp32 <= 1e-4
    manifest = load_manifest(tmp_path / "text" / "manifest.json")
    assert [i.name for i in manifest.inputs] == ["input_ids", "attention_mask"]
    assert all(i.datatype == "INT64" and i.shape == [-1, 32] for i in manifest.inputs)
    assert manifest.preprocessing.text is not None and manifest.preprocessing.text.maxLength == 32
    tokenizer = load_tokenizer(tmp_path / "text" / manifest.preprocessing.text.tokenizer)
    assert (tmp_path / "text" / "tokenizer" / "tokenizer_config.json").exists()
    assert (tmp_path / "text" / "triton" / "weft-text" / "config.pbtxt").read_text().count("TYPE_INT64") == 2

    quantized = export_text(model, TASKS, tmp_path / "int8", "test", str(minilm_path()), quantize=True)
    assert quantized.onnx_bytes < exported.onnx_bytes
    batch = encode(tokenizer, ["ruby striped shirt", "navy plain shirt"])
    out = onnx_session(tmp_path / "int8" / manifest.onnx).run(None, {k: v.numpy() for k, v in batch.items()})
    assert [o.shape for o in out] == [(2, 3), (2, 2)]
    assert quantized.quantized_max_diff is not None and quantized.quantized_max_diff < 0.1


def test_trim_padding_is_exact() -> None:
    torch.manual_seed(0)
    model = build_text_model(TextModelConfig(pretrained=None, encoder=TINY, max_length=32), task_classes(TASKS), vocab_size=30522).eval()
    tokenizer = load_tokenizer(export_tokenizer_tmp(32))
    batch = encode(tokenizer, ["ruby", "navy striped cotton shirt"])
    with torch.no_grad():
        trimmed = model(**batch)
        model.trim_padding = False
        full = model(**batch)
    for task in trimmed:
        torch.testing.assert_close(trimmed[task], full[task], atol=1e-5, rtol=0)


def export_tokenizer_tmp(max_length: int) -> Path:
    import tempfile

    from weft_models.text.tokenizer import export_tokenizer

    return export_tokenizer(str(minilm_path()), Path(tempfile.mkdtemp()) / "tok", max_length)


def test_bad_text_config_is_named() -> None:
    with pytest.raises(ValueError, match="unknown text model config keys"):
        TextModelConfig.from_dict({"layers": 2})
    with pytest.raises(ValueError, match="unknown text training keys"):
        TextTrainSettings.from_dict({"epochs": 2})


def test_cached_fixed_layers_give_the_same_logits() -> None:
    torch.manual_seed(0)
    config = TextModelConfig(pretrained=None, encoder={**TINY, "num_hidden_layers": 3}, max_length=32, trainable_layers=1)
    model = build_text_model(config, task_classes(TASKS), vocab_size=30522).eval()
    assert model.fixed_layers == 2
    assert not any(p.requires_grad for p in model.encoder.embeddings.parameters())
    assert all(p.requires_grad for p in model.encoder.encoder.layer[2].parameters())
    batch = encode(load_tokenizer(export_tokenizer_tmp(32)), ["ruby", "navy striped cotton shirt"])
    with torch.no_grad():
        direct = model(**batch)
        cached = model(**batch, lower_hidden=model.lower_states(**batch))
    for task in direct:
        torch.testing.assert_close(direct[task], cached[task], atol=1e-5, rtol=0)


def test_training_on_cached_fixed_layers_matches_training_through_them(tmp_path: Path) -> None:
    histories = []
    for cache in (True, False):
        settings = tiny_settings(epochs=2)
        settings.model.trainable_layers = 1
        settings.cache_fixed_layers = cache
        result = train_text(examples(96, 0), examples(32, 1), TASKS, settings, tmp_path / str(cache))
        histories.append([h["color/loss"] for h in result.history])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-3)
