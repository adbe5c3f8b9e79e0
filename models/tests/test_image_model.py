"""The two-view image model: shapes, shared backbone, heads, save/load, config errors, export."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from weft_models.export import ExportError, check_parity, export_model, triton_config
from weft_models.image.model import ImageModel, ImageModelConfig, load_image_model
from weft_models.manifest import ManifestError, check_onnx_matches, image_manifest, load_manifest, parse_manifest, write_manifest
from weft_models.tasks import COLOR, DEFAULT_TASKS, TaskSpec

TINY = ImageModelConfig(stem="patch", stem_stride=4, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], dense=[16], dropout=0.0)
SIZE = 32
FIT = TaskSpec("fit", ("slim", "regular", "oversized"))


def views(n: int, seed: int = 0, size: int = SIZE) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {name: torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=g) for name in ("downsampled", "center")}


def tiny_model(tasks=DEFAULT_TASKS, config: ImageModelConfig = TINY, seed: int = 0) -> ImageModel:
    torch.manual_seed(seed)
    model = ImageModel(config, tasks)
    model.train()
    with torch.no_grad():  # give batch norms real statistics
        model(**views(8, seed=seed + 1))
    return model.eval()


def test_forward_gives_logits_per_task() -> None:
    out = tiny_model()(**views(3))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"category": (3, 10), "color": (3, 12), "pattern": (3, 4)}


def test_both_views_go_through_one_backbone() -> None:
    model = tiny_model()
    assert sum(isinstance(m, type(model.backbone)) for m in model.modules()) == 1
    batch = views(2)
    base = model(**batch)["color"]
    changed = model(downsampled=batch["downsampled"], center=torch.zeros_like(batch["center"]))["color"]
    assert not torch.allclose(base, changed), "the center view must influence the output"


def test_downsample_only_baseline_ignores_center() -> None:
    model = tiny_model(config=dataclasses.replace(TINY, views="downsampled"))
    batch = views(2)
    a = model(**batch)["pattern"]
    b = model(downsampled=batch["downsampled"], center=torch.zeros_like(batch["center"]))["pattern"]
    assert torch.equal(a, b)


def test_adding_a_head_leaves_existing_heads_unchanged() -> None:
    model = tiny_model()
    batch = views(4)
    before = {k: v.detach().clone() for k, v in model(**batch).items()}
    model.add_head(FIT)
    model.freeze_except(["fit"])
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    target = torch.tensor([0, 1, 2, 1])
    first = None
    model.train()
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(**batch)["fit"], target)
        first = first if first is not None else float(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    after = model(**batch)
    assert float(torch.nn.functional.cross_entropy(after["fit"], target)) < first
    for task, value in before.items():
        assert torch.equal(after[task], value), f"head {task} changed"
    assert [t.name for t in model.specs()] == ["category", "color", "pattern", "fit"]


def test_add_head_rejects_duplicates_and_bad_counts() -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match="already has a head"):
        model.add_head(COLOR)
    with pytest.raises(ValueError, match="labels, not 5"):
        model.add_head(FIT, 5)


def test_save_load_round_trip_on_cpu(tmp_path: Path) -> None:
    model = tiny_model()
    model.add_head(FIT)
    path = model.save(tmp_path / "model.pt")
    loaded = load_image_model(path)
    batch = views(3)
    for task, value in model(**batch).items():
        assert torch.equal(loaded(**batch)[task], value)
    assert loaded.specs() == model.specs()
    assert next(loaded.parameters()).device.type == "cpu"


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_image_model(tmp_path / "nothing.pt")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hidden_size": [8]}, "unknown image model config keys"),
        ({"hidden_sizes": [8, 16], "depths": [1]}, "equal length"),
        ({"stem": "giant"}, "stem must be"),
        ({"views": "three"}, "views must be"),
        ({"dropout": 1.5}, "dropouts"),
        ({"pretrained": "microsoft/resnet-50", "stem": "patch"}, "keeps its own stem"),
    ],
)
def test_malformed_config_is_rejected(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImageModelConfig.from_dict(data)


def test_production_config_is_resnet50() -> None:
    config = ImageModelConfig.production()
    assert config.pretrained == "microsoft/resnet-50" and config.stem == "resnet"


def test_rejects_views_of_wrong_shape() -> None:
    with pytest.raises(ValueError, match="expected a"):
        tiny_model()(downsampled=torch.zeros(2, 3, SIZE, SIZE, dtype=torch.uint8), center=torch.zeros(2, 3, SIZE, SIZE, dtype=torch.uint8))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImageModel, Path]:
    """One export shared by the export tests (exporting is the slow part)."""
    out = tmp_path_factory.mktemp("export")
    model = tiny_model()
    manifest = image_manifest("weft-image", "test", DEFAULT_TASKS, view_size=SIZE, max_batch_size=16)
    path = export_model(model, manifest, out, example=views(2, seed=3), parity_batch=views(5, seed=4))
    assert path == out / "manifest.json"
    return model, out


def test_export_parity_and_triton_repository(exported: tuple[ImageModel, Path]) -> None:
    model, out = exported
    written = load_manifest(out / "manifest.json")
    onnx_files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.onnx"))
    assert onnx_files == ["triton/weft-image/1/model.onnx"] == [written.onnx]
    # dynamic batch: parity holds at a batch size the export never saw
    assert check_parity(model, written, out / written.onnx, views(7, seed=5)) <= 1e-4
    config = (out / "triton" / "weft-image" / "config.pbtxt").read_text()
    assert 'name: "weft-image"' in config and "max_batch_size: 16" in config
    assert "KIND_GPU" in config and "dynamic_batching" in config and "TYPE_UINT8" in config
    assert re.search(r'name: "pattern"\s+data_type: TYPE_FP32\s+dims: \[ 4 \]', config)


def test_parity_failure_is_reported(exported: tuple[ImageModel, Path]) -> None:
    model, out = exported
    drifted = tiny_model()
    drifted.load_state_dict(model.state_dict())
    with torch.no_grad():
        drifted.heads["color"][-1].bias[0] += 3.0  # the PyTorch model drifts from the exported graph
    manifest = load_manifest(out / "manifest.json")
    with pytest.raises(ExportError, match="parity failed"):
        check_parity(drifted, manifest, out / manifest.onnx, views(3))


def test_manifest_that_does_not_match_its_onnx_is_rejected(exported: tuple[ImageModel, Path], tmp_path: Path) -> None:
    _, out = exported
    doc = load_manifest(out / "manifest.json").to_json()
    doc["inputs"][1]["name"] = "centre"
    doc["tasks"][2]["labels"].append("paisley")
    doc["outputs"][2]["shape"] = [-1, 5]
    bad = load_manifest(write_manifest(parse_manifest(doc), tmp_path / "bad.json"))
    with pytest.raises(ManifestError) as error:
        check_onnx_matches(bad, out)
    text = str(error.value)
    assert "'centre' is not in the graph" in text
    assert "graph input 'center' is not in the manifest" in text
    assert "dimension 1 is 4 in the graph, 5 in the manifest" in text
    missing = image_manifest("weft-other", "test", DEFAULT_TASKS)
    with pytest.raises(ManifestError, match="ONNX file .* not found"):
        check_onnx_matches(missing, out)


def test_probabilities_sum_to_one_in_onnxruntime(exported: tuple[ImageModel, Path]) -> None:
    from weft_models.export import onnx_session

    _, out = exported
    manifest = load_manifest(out / "manifest.json")
    outputs = onnx_session(out / manifest.onnx).run(None, {k: v.numpy() for k, v in views(3).items()})
    for value in outputs:
        assert np.allclose(value.sum(axis=1), 1.0, atol=1e-5)


def test_export_refuses_a_manifest_without_a_head(tmp_path: Path) -> None:
    model = tiny_model(tasks=[COLOR])
    manifest = image_manifest("weft-image", "test", DEFAULT_TASKS, view_size=SIZE)
    with pytest.raises(ManifestError, match="has no head"):
        export_model(model, manifest, tmp_path, example=views(2))
    assert not (tmp_path / "manifest.json").exists()


def test_triton_config_lists_every_input() -> None:
    text = triton_config(image_manifest("weft-image", "v", DEFAULT_TASKS, max_batch_size=8))
    assert text.count("TYPE_UINT8") == 2 and "dims: [ 224, 224, 3 ]" in text and "preferred_batch_size: [ 2, 4, 8 ]" in text


def test_batch_norm_sees_the_same_statistics_in_training_and_inference() -> None:
    """Both views share the backbone's batch norms; their running statistics must describe the
    batches they normalize in training, or inference sees different features than training did."""
    model = tiny_model()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # running stats = cumulative average of the batches seen
    batch = views(64, seed=9)
    batch["center"] = (batch["center"] // 4).to(torch.uint8)  # the two views differ in distribution
    model.train()
    with torch.no_grad():
        trained = model(**batch)
    model.eval()
    with torch.no_grad():
        inferred = model(**batch)
    for task, value in trained.items():
        assert torch.allclose(value, inferred[task], atol=0.05, rtol=0.05), task
