"""Small untrained models of the real contract, for the pipeline's tests: ``python -m weft_models.fixtures``.

Writes ``artifacts/fixtures/{image,detector,text}/`` (manifest, Triton repository with the only
ONNX copy, tokenizer for text), ``artifacts/fixtures/ensemble.json``, and
``artifacts/fixtures/image-two-views/``: an image model with the two views and the manifest form
written before the garment view existed, for the tests that keep such models working. The models are untrained but real:
the same tasks and labels, inputs, outputs and preprocessing as the demo models, seeded so a
rebuild writes the same weights, and small (the text encoder is a one-layer BERT over the real
MiniLM WordPiece vocabulary).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .ensemble_fit import write_ensemble
from .export import export_model
from .image.detect import Detector, DetectorConfig, export_detector
from .image.model import TWO_VIEWS, VIEW_NAMES, ImageModel, ImageModelConfig
from .manifest import check_onnx_matches, image_manifest, load_manifest
from .tasks import DEFAULT_TASKS, MATERIAL, TaskSpec, task_classes

SERVED_TASKS: tuple[TaskSpec, ...] = (*DEFAULT_TASKS, MATERIAL)
"""The tasks of the served demo models (the three catalog tasks and material), so the fixtures have them too."""

log = logging.getLogger(__name__)

FIXTURE_VERSION = "fixture"
IMAGE_NAME = "weft-image"
TEXT_NAME = "weft-text"
TEXT_MAX_LENGTH = 64
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "artifacts" / "fixtures"

TINY_IMAGE = ImageModelConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], dense=[16], dropout=0.0, views=list(VIEW_NAMES))
TINY_DETECTOR = DetectorConfig(blocks=4, pretrained=None, channels=8, hidden=16, dropout=0.0)
DETECTOR_NAME = "weft-detector"
TINY_TEXT_ENCODER = {
    "hidden_size": 8,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 16,
    "max_position_embeddings": TEXT_MAX_LENGTH,
}


def _uint8_views(generator: torch.Generator, batch: int, size: int, names: Sequence[str] = VIEW_NAMES) -> dict[str, torch.Tensor]:
    def view() -> torch.Tensor:
        return torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8, generator=generator)

    return {name: view() for name in names}


def build_image_fixture(out_dir: Path, tasks: Sequence[TaskSpec] = DEFAULT_TASKS, seed: int = 0,
                        views: Sequence[str] = VIEW_NAMES) -> Path:
    torch.manual_seed(seed)
    model = ImageModel(dataclasses.replace(TINY_IMAGE, views=list(views)), tasks)
    generator = torch.Generator().manual_seed(seed)
    # A few train-mode passes give the batch norms real statistics, so outputs vary with the input
    # instead of saturating; still untrained (no gradient step).
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(**_uint8_views(generator, 8, 224, views))
    model.eval()
    manifest = image_manifest(IMAGE_NAME, FIXTURE_VERSION, tasks, max_batch_size=8, views=views,
                              detector=DETECTOR_NAME if "garment" in views else None)
    return export_model(
        model,
        manifest,
        out_dir,
        example=_uint8_views(generator, 2, 224, views),
        parity_batch=_uint8_views(generator, 5, 224, views),
    )


def build_two_view_fixture(out_dir: Path, tasks: Sequence[TaskSpec] = DEFAULT_TASKS, seed: int = 0) -> Path:
    """A two-view image model whose manifest names its views the way manifests did before the
    garment view (``{"downsampled": …, "center": …}``)."""
    path = build_image_fixture(out_dir, tasks, seed, views=TWO_VIEWS)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["preprocessing"]["image"]["views"] = {v["name"]: v["input"] for v in doc["preprocessing"]["image"]["views"]}
    doc["preprocessing"]["image"].pop("detector", None)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    load_manifest(path)
    return path


def build_detector_fixture(out_dir: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = Detector(TINY_DETECTOR)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():  # batch-norm statistics, as for the image fixture
        for _ in range(3):
            model.head(model.trunk(torch.randint(0, 256, (8, 224, 224, 3), dtype=torch.uint8, generator=generator)))
    return export_detector(model.eval(), out_dir, FIXTURE_VERSION, DETECTOR_NAME, max_batch_size=8,
                           parity_batch=torch.randint(0, 256, (5, 224, 224, 3), dtype=torch.uint8, generator=generator))


def build_text_fixture(out_dir: Path, tasks: Sequence[TaskSpec] = DEFAULT_TASKS, seed: int = 0) -> Path:
    from .text.export import export_text
    from .text.model import TextModelConfig, build_text_model, minilm_path
    from .text.tokenizer import load_tokenizer

    source = str(minilm_path())
    vocab_size = load_tokenizer_vocab_size(source)
    torch.manual_seed(seed)
    config = TextModelConfig(pretrained=None, encoder=dict(TINY_TEXT_ENCODER), max_length=TEXT_MAX_LENGTH, head_dropout=0.0)
    model = build_text_model(config, task_classes(tasks), vocab_size=vocab_size).eval()
    export_text(model, tasks, out_dir, version=FIXTURE_VERSION, tokenizer_source=source, max_batch_size=8)
    load_tokenizer(out_dir / "tokenizer")  # fails unless written with fixed padding and truncation
    return out_dir / "manifest.json"


def load_tokenizer_vocab_size(source: str) -> int:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(Path(source) / "tokenizer.json")).get_vocab_size()


def ensemble_fixture(tasks: Sequence[TaskSpec] = DEFAULT_TASKS) -> dict[str, object]:
    """Plausible hand-set weights (not fitted): images decide color and pattern, text the category."""
    weights = {
        "category": {"image": 0.4, "text": 0.5, "rules": 0.1},
        "color": {"image": 0.5, "text": 0.2, "rules": 0.3},
        "pattern": {"image": 0.7, "text": 0.2, "rules": 0.1},
    }
    return {
        "schemaVersion": 1,
        "models": {"image": f"{IMAGE_NAME}@{FIXTURE_VERSION}", "text": f"{TEXT_NAME}@{FIXTURE_VERSION}"},
        "defaults": {"weights": {"image": 0.5, "text": 0.5, "rules": 0.5}, "threshold": 0.0},
        "tasks": {t.name: {"weights": weights.get(t.name, {"image": 0.5, "text": 0.5, "rules": 0.0}), "threshold": 0.2} for t in tasks},
    }


def verify_fixtures(out_dir: Path) -> None:
    """Reload each manifest, check it against its graph and run the graph once in onnxruntime."""
    from .export import onnx_session

    for modality in ("image", "image-two-views", "detector", "text"):
        manifest = load_manifest(out_dir / modality / "manifest.json")
        onnx_path = check_onnx_matches(manifest, out_dir / modality)
        session = onnx_session(onnx_path)
        feeds = {}
        for spec in manifest.inputs:
            shape = [3 if d == -1 else d for d in spec.shape]
            dtype = np.uint8 if spec.datatype == "UINT8" else np.int64
            feeds[spec.name] = np.ones(shape, dtype=dtype)
        outputs = session.run([o.name for o in manifest.outputs], feeds)
        for spec, value in zip(manifest.outputs, outputs):
            if spec.task is None:  # a detector's box and score: normalized, within [0, 1]
                if not (np.all(value >= 0) and np.all(value <= 1)):
                    raise RuntimeError(f"{modality} fixture output {spec.name} leaves [0, 1]")
                continue
            if not np.allclose(value.sum(axis=-1), 1.0, atol=1e-5):
                raise RuntimeError(f"{modality} fixture output {spec.name} does not sum to 1")
        log.info("%s fixture OK: %s, outputs %s", modality, onnx_path.name, [o.shape for o in outputs])


def build_fixtures(out_dir: str | os.PathLike[str] = DEFAULT_OUT, seed: int = 0) -> Path:
    out = Path(out_dir)
    build_image_fixture(out / "image", SERVED_TASKS, seed=seed)
    build_two_view_fixture(out / "image-two-views", SERVED_TASKS, seed=seed)
    build_detector_fixture(out / "detector", seed=seed)
    build_text_fixture(out / "text", SERVED_TASKS, seed=seed)
    write_ensemble(ensemble_fixture(SERVED_TASKS), out / "ensemble.json")
    verify_fixtures(out)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    log.info("fixtures written to %s (%.1f MB)", out, total / 1e6)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weft_models.fixtures", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fixtures folder (default: models/artifacts/fixtures)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    build_fixtures(args.out, args.seed)


if __name__ == "__main__":
    main()
