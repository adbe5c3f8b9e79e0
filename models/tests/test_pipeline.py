"""The one-command rebuild on a tiny catalog: every stage runs, the artifacts are consistent."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from weft_models.data.fmnist import DatasetMissingError, check_dataset
from weft_models.ensemble_fit import validate_ensemble_config
from weft_models.manifest import check_onnx_matches, load_manifest
from weft_models.pipeline import DEFAULT_MATERIAL, PipelineConfig, run

TINY_IMAGE = {
    # 8/16 channels crash oneDNN's AVX-512 1x1 convolution backward (torch 2.13 CPU); 16/32 do not.
    "model": {"stem": "patch", "embedding_size": 16, "hidden_sizes": [16, 32], "depths": [1, 1], "dense": [16],
              "views": ["downsampled", "center", "garment"]},
    "train": {"epochs": 1, "lr": 0.003, "threads": 1},
    "batch_size": 8,
}
TINY_TEXT = {
    "model": {"pretrained": None, "encoder": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                                             "intermediate_size": 64}, "max_length": 48, "trainable_layers": 1},
    "train": {"epochs": 1, "lr": 0.003, "threads": 1},
    "batch_size": 8,
}


TINY_MATERIAL = {"train": 24, "val": 12, "test": 12, "workers": 1}


def tiny_config(tmp_path: Path) -> PipelineConfig:
    return PipelineConfig.from_dict({
        "catalog": str(tmp_path / "catalog"), "work": str(tmp_path / "work"), "artifacts": str(tmp_path / "artifacts"),
        "version": "test", "data": {"train": 40, "val": 20, "test": 20, "heldout": 20, "workers": 1},
        "detector": {"blocks": 4, "pretrained": None, "channels": 8, "hidden": 16, "epochs": 2, "batch_size": 8, "threads": 1},
        "image": TINY_IMAGE, "text": TINY_TEXT, "baselines": {"max_train": 20, "epochs": 1},
        "material": {**DEFAULT_MATERIAL, "data": TINY_MATERIAL, "head": {"input": "views", "hidden": 8}},
    })


@pytest.mark.slow
def test_pipeline_all_on_a_tiny_catalog(tmp_path: Path) -> None:
    try:
        check_dataset()
    except DatasetMissingError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    if shutil.which("node") is None:
        pytest.skip("node is needed for weft preprocess-batch / clean-text / color")
    config = tiny_config(tmp_path)
    timings = run(config, ["data", "detector", "image", "text", "baselines", "compare", "evaluate"])
    assert {"data", "detector", "image", "text", "baselines", "compare", "evaluate", "total"} <= set(timings)

    artifacts = tmp_path / "artifacts"
    image = load_manifest(artifacts / "image" / "manifest.json").preprocessing.image
    assert image is not None and [v.name for v in image.views] == ["downsampled", "center", "garment"]
    assert image.detector == "weft-detector"
    for modality in ("image", "text", "detector"):
        manifest = load_manifest(artifacts / modality / "manifest.json")
        check_onnx_matches(manifest, artifacts / modality)
        assert manifest.version == "test"
    assert (artifacts / "text" / "tokenizer" / "tokenizer.json").exists()
    ensemble = json.loads((artifacts / "ensemble.json").read_text())
    validate_ensemble_config(ensemble)
    assert set(ensemble["tasks"]) == {"category", "color", "pattern", "material"}
    assert ensemble["models"] == {"image": "weft-image@test", "text": "weft-text@test"}

    report = (artifacts / "report" / "README.md").read_text()
    for heading in ("## Targets", "## Image, text, rules and the ensemble", "## Multi-task vs single-task",
                    "## Views: with the garment view, two views, downsample-only", "## Garment detection", "## Quantization", "## Artifact sizes", "## Rebuild timings"):
        assert heading in report
    results = json.loads((artifacts / "report" / "results.json").read_text())
    assert set(results["sources"]) == {"image", "text", "rules", "ensemble"}
    assert results["data"]["test"]["products"] == 20
    assert 0.0 <= results["detection"]["splits"]["test"]["mean_iou"] <= 1.0
    assert results["detection"]["cost"]["detector_over_image"] > 0
    assert (artifacts / "report" / "confusion_ensemble_category.png").exists()
    # Material, added as a head: existing heads bit-identical; the joint route trained beside it for the report.
    for modality in ("image", "text"):
        assert json.loads((tmp_path / "work" / f"{modality}-material" / "history.json").read_text())["existing_heads_identical"] is True
    routes = results["material"]["routes"]
    assert routes["served"] == "add_head" and set(routes["rows"]) == {
        "add_head (served) · image", "add_head (served) · text", "joint · image", "joint · text"}
    assert set(routes["differences"]["image"]) == {"category", "color", "pattern", "material"}
    assert "### Both routes" in report


def test_bad_pipeline_config_fails_before_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown pipeline config keys"):
        PipelineConfig.from_dict({"epochs": 3})
    config = tiny_config(tmp_path)
    config.text = {"model": {"layers": 3}}
    with pytest.raises(ValueError, match="unknown text model config keys"):
        run(config, ["data"])
    assert not (tmp_path / "catalog").exists()
    config = tiny_config(tmp_path)
    config.data = {"train": 45}
    with pytest.raises(ValueError, match="multiple of 10"):
        run(config, ["data"])
