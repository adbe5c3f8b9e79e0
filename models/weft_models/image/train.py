"""Train the image model on the catalog: ``python -m weft_models.image.train``.

Uses the generic multi-task trainer (``weft_models.training``): seeded, resumable, validation
every epoch, best checkpoint kept. Catalog items are grouped by the tasks they are labeled for,
one dataset per group, mixed by the multi-dataset loader. A model with a frozen trunk (the
pretrained demo) trains on cached trunk outputs (``image/features.py``); a model that trains
end to end reads the views. Also trains the baselines the evaluation compares against: the
downsample-only model and one single-task model per task.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import from_dict
from ..data.catalog import CatalogItem, load_catalog, load_views
from ..datasets import Chained, ExtraDataset, mixed_weights
from ..multidata import MultiDatasetLoader, Sampling, eval_loader
from ..tasks import DEFAULT_TASKS, TaskSpec, tasks_by_name
from ..training import BEST, Trainer, TrainConfig, TrainResult, seed_everything
from .data import ViewsDataset, grouped_datasets, label_groups, label_matrix
from .features import VARIANTS, CachedFeatures, compute_cache
from .model import VIEW_NAMES, HeadInput, ImageModel, ImageModelConfig, load_image_model

log = logging.getLogger(__name__)

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "build" / "catalog"
DEFAULT_RUN = Path(__file__).resolve().parents[2] / "build" / "image"


def demo_model_config() -> ImageModelConfig:
    """The CPU demo: ImageNet-pretrained EfficientNet-Lite0, its last block fine-tuned, a color branch."""
    return ImageModelConfig.pretrained_demo()


def scratch_model_config() -> ImageModelConfig:
    """A small ResNet from scratch with an early-downsampling patch stem (no pretrained weights)."""
    return ImageModelConfig(
        stem="patch", stem_stride=4, embedding_size=32, hidden_sizes=[48, 96, 192], depths=[1, 1, 1],
        layer_type="basic", downsample_in_first_stage=True, dense=[256], dropout=0.2,
    )


@dataclass
class ImageTrainSettings:
    """Everything a run needs; :meth:`from_dict` rejects unknown keys before any work starts."""

    model: ImageModelConfig = field(default_factory=demo_model_config)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=8, lr=1e-3, head_lr=2e-3, weight_decay=0.02, warmup_fraction=0.05, grad_clip=2.0,
                                            threads=2)
    )
    batch_size: int = 64
    sampling: Sampling = "proportional"
    """The catalog's groups differ only in which labels they carry, so sizes are the honest mix."""
    flip: bool = True
    """End-to-end training: mirror both views of a sample together half of the time."""
    augment: list[str] = field(default_factory=lambda: ["plain", "reframe"])
    """Cached training: the trunk-input variants cached per training photo (``features.VARIANTS``)."""
    max_train: int | None = None
    max_val: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageTrainSettings:
        settings = from_dict(
            cls, data, what="image training", nested={"model": ImageModelConfig.from_dict, "train": TrainConfig.from_dict}
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        self.model.validate()
        self.train.validate()
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be ≥ 2 (batch norm), got {self.batch_size}")
        unknown = [v for v in self.augment if v not in VARIANTS]
        if not self.augment or unknown:
            raise ValueError(f"augment must name variants among {list(VARIANTS)}, got {self.augment}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "train": dataclasses.asdict(self.train),
            "batch_size": self.batch_size,
            "sampling": self.sampling if isinstance(self.sampling, str) else dict(self.sampling),
            "flip": self.flip,
            "augment": list(self.augment),
            "max_train": self.max_train,
            "max_val": self.max_val,
        }


def load_settings(path: str | os.PathLike[str] | None) -> ImageTrainSettings:
    if path is None:
        return ImageTrainSettings()
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"image training config not found: {file}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"image training config {file} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"image training config {file} must be a JSON object")
    return ImageTrainSettings.from_dict(data)


def split_items(items: Sequence[CatalogItem], split: str, limit: int | None = None) -> list[CatalogItem]:
    chosen = [item for item in items if item.split == split]
    if not chosen:
        raise ValueError(f"the catalog has no {split!r} items")
    return chosen[:limit] if limit else chosen


def train_image(
    catalog: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    settings: ImageTrainSettings | None = None,
    tasks: Sequence[TaskSpec] = DEFAULT_TASKS,
    resume: bool = True,
    extra: Sequence[ExtraDataset] = (),
    catalog_weight: float = 1.0,
) -> tuple[ImageModel, TrainResult]:
    """Train on the catalog's ``train`` items, validate on ``val``; returns the best model (CPU, eval).

    ``extra`` data sets (each labeled for some of ``tasks`` only) join training as more datasets
    of the multi-dataset loader, the catalog drawn with ``catalog_weight`` and each of them with
    its own ``weight``; their ``val`` items join validation. Without them nothing changes."""
    settings = settings or ImageTrainSettings()
    settings.validate()
    tasks_by_name(tasks)  # duplicate names fail here
    items = load_catalog(catalog)
    views = load_views(catalog)
    train = split_items(items, "train", settings.max_train)
    val = split_items(items, "val", settings.max_val)
    seed_everything(settings.train.seed, settings.train.threads)
    model = ImageModel(settings.model, tasks)
    names = [t.name for t in tasks]
    if model.backbone.frozen:
        # The cache covers whole splits, so a run on a subset (the comparison models) reuses it.
        sets, val_set = cached_datasets(model, catalog, views, split_items(items, "train"), split_items(items, "val"),
                                        len(train), len(val), tasks, settings)
    else:
        columns = catalog_columns(views, settings.model.views)[1]
        sets = grouped_datasets(views, train, tasks, flip=settings.flip, names=columns)
        val_set = ViewsDataset(views, [i.view_index for i in val], label_matrix(val, tasks), names=columns)
    sampling: Sampling = settings.sampling
    val_batches: Any = eval_loader(val_set, names, 128)
    if extra:
        groups = {"catalog": {k: len(v) for k, v in sets.items()}}
        val_parts = [val_batches]
        for source in extra:
            if source.name in groups:
                raise ValueError(f"data set name {source.name!r} given twice")
            extra_sets, extra_val = extra_datasets(model, source, tasks, settings)
            named = {f"{source.name}:{k}": v for k, v in extra_sets.items()}
            sets.update(named)
            groups[source.name] = {k: len(v) for k, v in named.items()}
            if extra_val is not None:
                val_parts.append(eval_loader(extra_val, names, 128))
        sampling = mixed_weights(groups, {"catalog": catalog_weight, **{d.name: d.weight for d in extra}})
        val_batches = Chained(val_parts)
        log.info("multi-data sampling weights: %s", {k: round(v, 4) for k, v in sampling.items()})
    log.info("image datasets: %s; validation %d items", {k: len(v) for k, v in sets.items()}, len(val))
    loader = MultiDatasetLoader(sets, names, settings.batch_size, sampling, seed=settings.train.seed)
    checkpoint_extra = {**model.checkpoint_extra(), "settings": settings.to_dict()}
    if extra:
        checkpoint_extra["datasets"] = {"catalog_weight": catalog_weight, "extra": [dataclasses.asdict(d) for d in extra]}
    trainer = Trainer(model, loader, val_batches, settings.train, Path(out_dir) / "checkpoints", extra=checkpoint_extra)
    started = time.monotonic()
    result = trainer.fit(resume=resume)
    log.info("image model: best validation score %.4f at epoch %d (%.0fs)", result.best_score, result.best_epoch, time.monotonic() - started)
    _write_history(Path(out_dir), result, time.monotonic() - started)
    return load_image_model(result.best_checkpoint), result


def cached_datasets(
    model: ImageModel, catalog: str | os.PathLike[str], views: np.ndarray, train: Sequence[CatalogItem], val: Sequence[CatalogItem],
    n_train: int, n_val: int, tasks: Sequence[TaskSpec], settings: ImageTrainSettings,
) -> tuple[dict[str, CachedFeatures], CachedFeatures]:
    """Training groups (the first ``n_train`` of ``train``) and the validation set (the first
    ``n_val`` of ``val``) over cached trunk outputs of the whole splits (computed on first use,
    under ``<catalog>/features/``, and shared by every model with the same trunk)."""
    root = Path(catalog) / "features"
    threads = settings.train.threads or 1
    train_cache = compute_cache(model, views, [i.view_index for i in train], root / "train", settings.augment, threads=threads,
                                seed=settings.train.seed)
    val_cache = compute_cache(model, views, [i.view_index for i in val], root / "val", ("plain",), threads=threads)
    columns = catalog_columns(views, model.config.views)[0]
    train, val = train[:n_train], val[:n_val]
    labels, groups = label_groups(train, tasks)
    sets = {
        "+".join(key): CachedFeatures(train_cache, members, {t: labels[t][members] for t in key}, columns)
        for key, members in groups.items()
    }
    return sets, CachedFeatures(val_cache, range(len(val)), label_matrix(val, tasks), columns)


def extra_datasets(
    model: ImageModel, source: ExtraDataset, tasks: Sequence[TaskSpec], settings: ImageTrainSettings,
) -> tuple[dict[str, Any], Any]:
    """An extra data set's ``train`` items grouped by their labeled tasks, and its ``val`` items
    (``None`` when it has none: the corrections), as cached trunk outputs or raw views."""
    items = load_catalog(source.root)
    views = load_views(source.root)
    train = [i for i in items if i.split == "train"]
    val = [i for i in items if i.split == "val"]
    if not train:
        raise ValueError(f"data set {source.name!r} at {source.root} has no 'train' items")
    if not model.backbone.frozen:
        columns_e2e = catalog_columns(views, settings.model.views)[1]
        sets_e2e = grouped_datasets(views, train, tasks, flip=settings.flip, names=columns_e2e)
        val_e2e = ViewsDataset(views, [i.view_index for i in val], label_matrix(val, tasks), names=columns_e2e) if val else None
        return dict(sets_e2e), val_e2e
    root = Path(source.root) / "features"
    threads = settings.train.threads or 1
    train_cache = compute_cache(model, views, [i.view_index for i in train], root / "train", settings.augment, threads=threads,
                                seed=settings.train.seed)
    columns = catalog_columns(views, model.config.views)[0]
    labels, groups = label_groups(train, tasks)
    sets: dict[str, Any] = {
        "+".join(key): CachedFeatures(train_cache, members, {t: labels[t][members] for t in key}, columns)
        for key, members in groups.items()
    }
    val_set = None
    if val:
        val_cache = compute_cache(model, views, [i.view_index for i in val], root / "val", ("plain",), threads=threads)
        val_set = CachedFeatures(val_cache, range(len(val)), label_matrix(val, tasks), columns)
    return sets, val_set


def add_image_head(
    checkpoint: str | os.PathLike[str],
    source: ExtraDataset,
    task: TaskSpec,
    out_dir: str | os.PathLike[str],
    settings: ImageTrainSettings | None = None,
    resume: bool = True,
    head: HeadInput | None = None,
) -> tuple[ImageModel, TrainResult]:
    """The other way to add a task: a trained model gets a head for ``task``, trained on
    ``source`` alone with everything else frozen (``MultiTaskModel.freeze_except``: weights,
    batch-norm statistics and dropout), so the existing tasks' outputs stay bit-identical
    (checked here on the data set's first views; the result lands in ``<out>/history.json``).

    ``head`` says what the new head reads (default: a linear head on the dense stack, like the
    others). The dense stack was trained for the existing tasks only and keeps little of what they
    do not need, so a task unlike them (material: fabric texture) learns better from the views'
    features before it (``HeadInput("views", hidden)``)."""
    settings = settings or ImageTrainSettings()
    settings.validate()
    base = load_image_model(checkpoint)
    model = load_image_model(checkpoint)
    model.add_head(task, source=head)
    model.freeze_except([task.name])
    tasks = model.specs()
    names = [t.name for t in tasks]
    seed_everything(settings.train.seed, settings.train.threads)
    sets, val_set = extra_datasets(model, source, [task], settings)
    loader = MultiDatasetLoader({f"{source.name}:{k}": v for k, v in sets.items()}, names, settings.batch_size, "proportional",
                                seed=settings.train.seed)
    if val_set is None:
        raise ValueError(f"data set {source.name!r} needs 'val' items to choose the new head's best epoch")
    checkpoint_extra = {**model.checkpoint_extra(), "settings": settings.to_dict(),
                        "datasets": {"add_head": task.name, "base": str(checkpoint), "extra": [dataclasses.asdict(source)],
                                     "head": dataclasses.asdict(head or HeadInput())}}
    trainer = Trainer(model, loader, eval_loader(val_set, names, 128), settings.train, Path(out_dir) / "checkpoints",
                      extra=checkpoint_extra)
    started = time.monotonic()
    result = trainer.fit(resume=resume)
    trained = load_image_model(result.best_checkpoint)
    identical = existing_heads_identical(base, trained, source)
    if not identical:
        raise RuntimeError("adding a head changed the existing tasks' outputs")
    _write_history(Path(out_dir), result, time.monotonic() - started)
    history = Path(out_dir) / "history.json"
    data = json.loads(history.read_text(encoding="utf-8"))
    data["existing_heads_identical"] = identical
    history.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    log.info("added head %s: best validation accuracy %.4f at epoch %d; existing heads bit-identical", task.name,
             result.best_score, result.best_epoch)
    return trained, result


def existing_heads_identical(base: ImageModel, trained: ImageModel, source: ExtraDataset, n: int = 16) -> bool:
    """Every head of ``base`` gives exactly (``torch.equal``) the same logits in ``trained`` on the
    first ``n`` views of ``source``, and every parameter outside the new heads is unchanged."""
    import torch

    from .data import stack_views

    views = load_views(source.root)
    names = VIEW_NAMES[: views.shape[1]]
    batch = stack_views(views, list(range(min(n, len(views)))), names)
    inputs = {k: v for k, v in batch.items() if k in base.config.views}
    with torch.no_grad():
        before, after = base.eval()(**inputs), trained.eval()(**inputs)
    state = trained.state_dict()
    same_weights = all(torch.equal(value, state[key]) for key, value in base.state_dict().items())
    return same_weights and all(torch.equal(before[t], after[t]) for t in before)


def catalog_columns(views: np.ndarray, wanted: Sequence[str]) -> tuple[list[int], list[str]]:
    """Columns of the catalog's views array for the model's views, and the names of the leading
    columns a model reading raw views needs; fails clearly on a catalog built without one."""
    available = list(VIEW_NAMES[: views.shape[1]])
    missing = [v for v in wanted if v not in available]
    if missing:
        raise ValueError(f"the catalog has the views {available}, the model needs {missing} too (rebuild the catalog)")
    columns = [available.index(v) for v in wanted]
    return columns, available[: max(columns) + 1]


def _write_history(out: Path, result: TrainResult, seconds: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "history.json").write_text(
        json.dumps({"best_score": result.best_score, "best_epoch": result.best_epoch, "seconds": round(seconds, 1),
                    "history": result.history}, indent=2) + "\n",
        encoding="utf-8",
    )


# -- baselines for the evaluation --------------------------------------------------------------------
def baseline_settings(settings: ImageTrainSettings, kind: str) -> ImageTrainSettings:
    """``downsampled``: the same model seeing only the downsampled view; ``two_views``: downsampled
    and center (no garment view); ``single``: unchanged settings (the caller passes one task)."""
    if kind == "downsampled":
        return dataclasses.replace(settings, model=dataclasses.replace(settings.model, views="downsampled"))
    if kind == "two_views":
        return dataclasses.replace(settings, model=dataclasses.replace(settings.model, views=["downsampled", "center"]))
    if kind == "single":
        return settings
    raise ValueError(f"unknown baseline {kind!r} (downsampled, two_views or single)")


def train_downsample_baseline(
    catalog: str | os.PathLike[str], out_dir: str | os.PathLike[str], settings: ImageTrainSettings | None = None,
    tasks: Sequence[TaskSpec] = DEFAULT_TASKS,
) -> tuple[ImageModel, TrainResult]:
    """The two-view model's twin that sees only the downsampled view (its ``center`` input is ignored)."""
    return train_image(catalog, out_dir, baseline_settings(settings or ImageTrainSettings(), "downsampled"), tasks)


def train_single_task_baselines(
    catalog: str | os.PathLike[str], out_dir: str | os.PathLike[str], settings: ImageTrainSettings | None = None,
    tasks: Sequence[TaskSpec] = DEFAULT_TASKS,
) -> dict[str, tuple[ImageModel, TrainResult]]:
    """One model per task, same architecture and budget, in ``out_dir/<task>``."""
    settings = settings or ImageTrainSettings()
    return {t.name: train_image(catalog, Path(out_dir) / t.name, settings, [t]) for t in tasks}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weft_models.image.train", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    parser.add_argument("--out", type=Path, default=DEFAULT_RUN, help="run folder (checkpoints, history)")
    parser.add_argument("--config", type=Path, help="JSON ImageTrainSettings (model, train, batch_size, …)")
    parser.add_argument("--baseline", choices=("downsampled", "single"), help="train a baseline instead of the model")
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--max-train", type=int, help="use only the first N training items")
    parser.add_argument("--export", type=Path, help="export the best model to this folder (e.g. models/artifacts/image)")
    parser.add_argument("--version", default=None, help="model version in the manifest (default: date-based)")
    parser.add_argument("--no-resume", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(args.config)
    if args.epochs:
        settings.train = dataclasses.replace(settings.train, epochs=args.epochs)
    if args.max_train:
        settings.max_train = args.max_train
    if args.baseline == "downsampled":
        model, _ = train_downsample_baseline(args.catalog, args.out, settings)
    elif args.baseline == "single":
        train_single_task_baselines(args.catalog, args.out, settings)
        return
    else:
        model, _ = train_image(args.catalog, args.out, settings, resume=not args.no_resume)
    if args.export:
        from .export import export_image

        export_image(model, args.export, args.version, args.catalog)


if __name__ == "__main__":
    main()
