"""Fine-tune the text model on catalog products: ``python -m weft_models.text.train``.

Input text is the product's ``title``, ``description`` and ``brand`` (the manifest's ``fields``),
each cleaned by the pipeline's own cleaner (``weft clean-text``) and joined by a newline — the
tokenizer treats any whitespace alike, so only the words matter. Products are grouped by the
tasks they carry labels for; each group is one dataset of the multi-dataset loader.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import from_dict
from ..datasets import mixed_weights
from ..multidata import IGNORE, MultiDatasetLoader, Sampling, TensorTaskDataset, eval_loader
from ..tasks import TaskSpec, task_classes
from ..training import Trainer, TrainConfig, TrainResult, load_weights, read_checkpoint_extra, seed_everything
from .model import TextModelConfig, TextMultiTaskModel, build_text_model, checkpoint_extra, model_from_checkpoint_extra
from .tokenizer import encode, export_tokenizer, load_tokenizer
from .weft_cli import clean_texts, strip_boilerplate

log = logging.getLogger(__name__)

TEXT_FIELDS = ("title", "description", "brand")
MAX_MODEL_TEXT_CHARS = 4_000
"""text-ingest's cap on each cleaned field and on the joined text (``MAX_MODEL_TEXT_CHARS``)."""


@dataclass(frozen=True)
class TextExample:
    """One product's raw text fields and its labels (task → label slug; absent tasks unlabeled)."""

    product_id: str
    fields: Mapping[str, object]
    labels: Mapping[str, str]
    vendor: str = "vendor"
    text: str | None = None
    """The model text when already built (:func:`model_texts` over the whole catalog at once, so
    per-vendor boilerplate statistics see every product as they would in the pipeline)."""
    source: str = "catalog"
    """The data set the example comes from (``catalog``, ``material``, ``corrections``): with
    ``source_weights``, each one is its own share of the training batches."""


@dataclass
class TextTrainSettings:
    """Defaults: the CPU demo. Top two MiniLM layers fine-tuned (lower four fixed and cached),
    one thread (on two shared cores one thread trains ~5× faster than two), 3000 products."""

    model: TextModelConfig = field(default_factory=lambda: TextModelConfig(max_length=96, trainable_layers=2, pooling="mean"))
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=3, lr=5e-4, head_lr=3e-3, warmup_fraction=0.05, threads=1)
    )
    batch_size: int = 32
    sampling: Sampling = "balanced"
    max_train: int | None = 3000
    max_val: int | None = None
    cache_fixed_layers: bool = True
    """Compute the fixed lower layers once per text (fp16) instead of every epoch — same model,
    training costs only the layers being trained."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextTrainSettings:
        return from_dict(
            cls, data, what="text training", nested={"model": TextModelConfig.from_dict, "train": TrainConfig.from_dict}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "train": dataclasses.asdict(self.train),
            "batch_size": self.batch_size,
            "sampling": self.sampling if isinstance(self.sampling, str) else dict(self.sampling),
            "max_train": self.max_train,
            "max_val": self.max_val,
            "cache_fixed_layers": self.cache_fixed_layers,
        }


def _field_text(value: object) -> str:
    # As text-ingest's fieldText: strings as they are, numbers and booleans spelled out, else nothing.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return ""


def model_texts(examples: Sequence[TextExample], cache: Path | None = None, boilerplate: bool = True) -> list[str]:
    """The text the model sees, built as text-ingest builds it (``buildModelText``).

    Each field cleaned by ``weft clean-text`` (capped at 4000 characters), the non-empty ones
    joined by a newline in manifest order, then — as the deployed handler does — per-vendor
    boilerplate removed. Cached by content hash in ``cache``.
    """
    raw = [[_field_text(ex.fields.get(name)) for name in TEXT_FIELDS] for ex in examples]
    key = hashlib.sha256(json.dumps([raw, [ex.vendor for ex in examples], boilerplate]).encode()).hexdigest()[:16]
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            return list(stored["texts"])
    flat = clean_texts([value for fields in raw for value in fields], max_chars=MAX_MODEL_TEXT_CHARS)
    width = len(TEXT_FIELDS)
    texts = ["\n".join(v for v in flat[i * width : (i + 1) * width] if v)[:MAX_MODEL_TEXT_CHARS] for i in range(len(raw))]
    if boilerplate:
        texts = strip_boilerplate([(t, ex.vendor, ex.product_id) for t, ex in zip(texts, examples)])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "texts": texts}), encoding="utf-8")
    return texts


def label_tensors(examples: Sequence[TextExample], tasks: Sequence[TaskSpec]) -> dict[str, torch.Tensor]:
    return {
        t.name: torch.tensor([t.index(ex.labels[t.name]) if t.name in ex.labels else IGNORE for ex in examples], dtype=torch.long)
        for t in tasks
    }


def task_datasets(inputs: Mapping[str, torch.Tensor], labels: Mapping[str, torch.Tensor]) -> dict[str, TensorTaskDataset]:
    """Group rows by the set of tasks they are labeled for: one dataset per group."""
    names = list(labels)
    keys = torch.stack([labels[t] != IGNORE for t in names], dim=1)
    groups: dict[tuple[bool, ...], list[int]] = {}
    for i, row in enumerate(keys.tolist()):
        groups.setdefault(tuple(row), []).append(i)
    sets: dict[str, TensorTaskDataset] = {}
    for key, rows in sorted(groups.items()):
        labeled = [t for t, has in zip(names, key) if has]
        if not labeled:
            continue
        index = torch.tensor(rows)
        sets["+".join(labeled)] = TensorTaskDataset(
            {k: v[index] for k, v in inputs.items()}, {t: labels[t][index] for t in labeled}
        )
    if not sets:
        raise ValueError("no training example carries a label for any task")
    return sets


def train_text(
    train: Sequence[TextExample],
    val: Sequence[TextExample],
    tasks: Sequence[TaskSpec],
    settings: TextTrainSettings,
    out_dir: str | os.PathLike[str],
    resume: bool = True,
    source_weights: Mapping[str, float] | None = None,
) -> TrainResult:
    """Train and keep ``out_dir/best.pt``; the tokenizer used is written to ``out_dir/tokenizer``.

    With ``source_weights`` (data set → share of the batches), examples are grouped by their
    ``source`` first and by the tasks they are labeled for second, and ``max_train`` / ``max_val``
    cap the catalog's examples only; without it, everything is as it always was."""
    out = Path(out_dir)
    if source_weights is None:
        train, val = list(train)[: settings.max_train], list(val)[: settings.max_val]
    else:
        unknown = {ex.source for ex in [*train, *val]} - set(source_weights)
        if unknown:
            raise ValueError(f"examples from data sets without a sampling weight: {sorted(unknown)}")
        train = [*[ex for ex in train if ex.source == "catalog"][: settings.max_train], *[ex for ex in train if ex.source != "catalog"]]
        val = [*[ex for ex in val if ex.source == "catalog"][: settings.max_val], *[ex for ex in val if ex.source != "catalog"]]
    if not train or not val:
        raise ValueError(f"text training needs training and validation examples (got {len(train)} and {len(val)})")
    seed_everything(settings.train.seed, settings.train.threads)
    source = settings.model.source_dir() or TextModelConfig().source_dir()
    assert source is not None
    tokenizer = load_tokenizer(export_tokenizer(source, out / "tokenizer", settings.model.max_length))
    examples = [*train, *val]
    if all(ex.text is not None for ex in examples):
        texts = [str(ex.text) for ex in examples]
    else:
        log.info("cleaning %d texts with weft clean-text", len(examples))
        texts = model_texts(examples, out / "texts.json")
    enc = encode(tokenizer, texts)
    lengths = enc["attention_mask"].sum(1).float()
    log.info("tokens per text: mean %.0f, max %d, truncated %.1f%%", float(lengths.mean()), int(lengths.max()),
             100 * float((lengths >= settings.model.max_length).float().mean()))
    longest = int(lengths.max())
    enc = {k: v[:, :longest] for k, v in enc.items()}  # trailing padding of every text: exact to drop
    model = build_text_model(settings.model, task_classes(tasks), vocab_size=tokenizer.get_vocab_size())
    if settings.cache_fixed_layers and model.fixed_layers > 0:
        enc["lower_hidden"] = cache_lower_states(model, enc)
    n = len(train)
    labels = label_tensors([*train, *val], tasks)
    sampling: Sampling = settings.sampling
    if source_weights is None:
        sets = task_datasets({k: v[:n] for k, v in enc.items()}, {k: v[:n] for k, v in labels.items()})
    else:
        sets, groups = {}, {}
        for source in dict.fromkeys(ex.source for ex in train):
            index = torch.tensor([i for i, ex in enumerate(train) if ex.source == source])
            part = {f"{source}:{name}": ds for name, ds in task_datasets({k: v[index] for k, v in enc.items()},
                                                                        {k: v[index] for k, v in labels.items()}).items()}
            sets.update(part)
            groups[source] = {name: len(ds) for name, ds in part.items()}
        sampling = mixed_weights(groups, {s: source_weights[s] for s in groups})
        log.info("multi-data sampling weights: %s", {k: round(v, 4) for k, v in sampling.items()})
    log.info("text datasets: %s", {name: len(ds) for name, ds in sets.items()})
    names = [t.name for t in tasks]
    loader = MultiDatasetLoader(sets, names, settings.batch_size, sampling, seed=settings.train.seed)
    val_set = TensorTaskDataset({k: v[n:] for k, v in enc.items()}, {k: v[n:] for k, v in labels.items()})
    val_batches = list(eval_loader(val_set, names, 64))
    extra = {**checkpoint_extra(model), "labels": {t.name: list(t.labels) for t in tasks}, "settings": settings.to_dict()}
    if source_weights is not None:
        extra["datasets"] = dict(source_weights)
    trainer = Trainer(model, loader, val_batches, settings.train, out / "checkpoints", extra=extra)
    started = time.monotonic()
    resumed = resume and (out / "checkpoints" / "last.pt").exists()
    result = trainer.fit(resume=resume)
    seconds = time.monotonic() - started
    log.info("text model: best validation score %.4f at epoch %d (%.0fs)", result.best_score, result.best_epoch, seconds)
    history = out / "history.json"
    if not history.exists() or result.history[-1]["epoch"] > json.loads(history.read_text())["history"][-1]["epoch"]:
        history.write_text(json.dumps({"best_score": result.best_score, "best_epoch": result.best_epoch,
                                       "seconds": round(seconds, 1), "resumed": resumed,
                                       "history": result.history}, indent=2) + "\n", encoding="utf-8")
    return result


def add_text_head(
    checkpoint: str | os.PathLike[str],
    train: Sequence[TextExample],
    val: Sequence[TextExample],
    task: TaskSpec,
    settings: TextTrainSettings,
    out_dir: str | os.PathLike[str],
    resume: bool = True,
) -> TrainResult:
    """A trained text model gets a head for ``task``, trained on examples labeled for it with
    every other parameter frozen (``MultiTaskModel.freeze_except``); the existing tasks' logits
    on the validation texts are checked to stay bit-identical (``<out>/history.json``)."""
    out = Path(out_dir)
    train = [ex for ex in train if task.name in ex.labels]
    val = [ex for ex in val if task.name in ex.labels]
    if not train or not val:
        raise ValueError(f"adding {task.name!r} needs training and validation examples labeled for it")
    seed_everything(settings.train.seed, settings.train.threads)
    base, base_tasks = load_text_model(checkpoint)
    model, _ = load_text_model(checkpoint)
    if task.name in model.heads:
        raise ValueError(f"the model already has a head for {task.name!r}")
    model.add_head(task.name, task.num_classes)
    model.freeze_except([task.name])
    tasks = [*base_tasks, task]
    source = model.config.source_dir() or TextModelConfig().source_dir()
    assert source is not None
    tokenizer = load_tokenizer(export_tokenizer(source, out / "tokenizer", model.config.max_length))
    examples = [*train, *val]
    texts = [str(ex.text) for ex in examples] if all(ex.text is not None for ex in examples) else model_texts(examples, out / "texts.json")
    enc = encode(tokenizer, texts)
    enc = {k: v[:, : int(enc["attention_mask"].sum(1).max())] for k, v in enc.items()}
    plain = dict(enc)
    if settings.cache_fixed_layers and model.fixed_layers > 0:
        enc["lower_hidden"] = cache_lower_states(model, enc)
    n = len(train)
    labels = label_tensors(examples, [task])
    names = [t.name for t in tasks]
    sets = task_datasets({k: v[:n] for k, v in enc.items()}, {k: v[:n] for k, v in labels.items()})
    loader = MultiDatasetLoader(sets, names, settings.batch_size, "proportional", seed=settings.train.seed)
    val_set = TensorTaskDataset({k: v[n:] for k, v in enc.items()}, {k: v[n:] for k, v in labels.items()})
    extra = {**checkpoint_extra(model), "labels": {t.name: list(t.labels) for t in tasks}, "settings": settings.to_dict(),
             "datasets": {"add_head": task.name, "base": str(checkpoint)}}
    trainer = Trainer(model, loader, list(eval_loader(val_set, names, 64)), settings.train, out / "checkpoints", extra=extra)
    started = time.monotonic()
    result = trainer.fit(resume=resume)
    trained, _ = load_text_model(result.best_checkpoint)
    probe = {k: v[n:][:64] for k, v in plain.items()}
    with torch.no_grad():
        before, after = base.eval()(**probe), trained.eval()(**probe)
    state = trained.state_dict()
    identical = all(torch.equal(v, state[k]) for k, v in base.state_dict().items()) and all(
        torch.equal(before[t], after[t]) for t in before)
    if not identical:
        raise RuntimeError("adding a head changed the existing tasks' outputs")
    (out / "history.json").write_text(json.dumps({"best_score": result.best_score, "best_epoch": result.best_epoch,
                                                  "seconds": round(time.monotonic() - started, 1), "existing_heads_identical": True,
                                                  "history": result.history}, indent=2) + "\n", encoding="utf-8")
    log.info("text model: added head %s, best validation accuracy %.4f; existing heads bit-identical", task.name, result.best_score)
    return result


def cache_lower_states(model: TextMultiTaskModel, enc: Mapping[str, torch.Tensor], batch_size: int = 64) -> torch.Tensor:
    """``(N, L, hidden)`` fp16 outputs of the fixed layers for every text."""
    from tqdm.auto import tqdm

    ids, mask = enc["input_ids"], enc["attention_mask"]
    out = torch.zeros((len(ids), ids.shape[1], model.feature_dim), dtype=torch.float16)
    model.eval()
    for start in tqdm(range(0, len(ids), batch_size), desc="fixed layers", unit="batch", leave=False, disable=None):
        stop = start + batch_size
        length = max(1, int(mask[start:stop].sum(1).max()))
        out[start:stop, :length] = model.lower_states(ids[start:stop, :length], mask[start:stop, :length]).half()
    log.info("cached the %d fixed encoder layers for %d texts (%.0f MB)", model.fixed_layers, len(ids), out.numel() * 2 / 1e6)
    return out


def load_text_model(checkpoint: str | os.PathLike[str]) -> tuple[TextMultiTaskModel, list[TaskSpec]]:
    """The trained model (CPU, eval mode) and its tasks, from ``best.pt`` alone (no hub)."""
    extra = read_checkpoint_extra(checkpoint)
    tasks = [TaskSpec(name, tuple(labels)) for name, labels in extra["labels"].items()]
    model = model_from_checkpoint_extra(extra, task_classes(tasks))
    load_weights(model, checkpoint)
    return model.eval(), tasks


@torch.no_grad()
def predict_texts(model: TextMultiTaskModel, inputs: Mapping[str, torch.Tensor], batch_size: int = 64) -> dict[str, np.ndarray]:
    """Softmax probabilities per task, ``(N, classes)``."""
    model.eval()
    n = len(inputs["input_ids"])
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, n, batch_size):
        logits = model(**{k: v[start : start + batch_size] for k, v in inputs.items()})
        for task, x in logits.items():
            parts.setdefault(task, []).append(torch.softmax(x, -1).numpy())
    return {task: np.concatenate(p) for task, p in parts.items()}


def main(argv: Sequence[str] | None = None) -> None:
    from ..data.catalog import load_catalog
    from .catalog_text import catalog_texts, text_examples

    parser = argparse.ArgumentParser(prog="python -m weft_models.text.train", description="fine-tune the multi-task text model")
    parser.add_argument("--data", required=True, help="catalog folder written by the data builder")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, tokenizer, cleaned texts)")
    parser.add_argument("--config", help="JSON with TextTrainSettings fields (model, train, batch_size, sampling, ...)")
    parser.add_argument("--no-resume", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = TextTrainSettings.from_dict(json.loads(Path(args.config).read_text())) if args.config else TextTrainSettings()
    from ..tasks import DEFAULT_TASKS

    catalog = load_catalog(args.data)
    texts = catalog_texts(catalog, Path(args.out) / "texts.json")
    train = text_examples(catalog, "train", texts)
    val = text_examples(catalog, "val", texts)
    train_text(train, val, DEFAULT_TASKS, settings, args.out, resume=not args.no_resume)


if __name__ == "__main__":
    main()
