"""The rebuild with the opt-in fourth task and corrections: material from its own data set, human
corrections as one more data set; the models, ensemble and report carry material."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from test_pipeline import tiny_config
from weft_models.data.catalog import load_catalog
from weft_models.data.fmnist import DatasetMissingError, check_dataset
from weft_models.ensemble_fit import validate_ensemble_config
from weft_models.manifest import check_onnx_matches, load_manifest
from weft_models.pipeline import PipelineConfig, run


def test_material_is_on_by_default_and_corrections_opt_in() -> None:
    config = PipelineConfig()
    assert config.corrections is None and [t.name for t in config.tasks()] == ["category", "color", "pattern", "material"]
    settings = config.material_settings()
    assert settings is not None and settings["route"] == "add_head" and settings["compare"] is True
    assert [t.name for t in PipelineConfig.from_dict({"material": None}).tasks()] == ["category", "color", "pattern"]
    with pytest.raises(ValueError, match="head"):
        PipelineConfig.from_dict({"material": {"head": {"input": "views"}}}).validate()
    with pytest.raises(ValueError, match="unknown material keys"):
        PipelineConfig.from_dict({"material": {"wieght": 2}}).validate()
    with pytest.raises(ValueError, match="route"):
        PipelineConfig.from_dict({"material": {"route": "both"}}).validate()
    with pytest.raises(ValueError, match="corrections needs"):
        PipelineConfig.from_dict({"corrections": {"file": "x.json"}}).validate()


def _check(tmp: Path, artifacts: Path, work: Path, route: str) -> None:
    for modality in ("image", "text"):
        manifest = load_manifest(artifacts / modality / "manifest.json")
        check_onnx_matches(manifest, artifacts / modality)
        assert [t.name for t in manifest.tasks] == ["category", "color", "pattern", "material"]
    ensemble = json.loads((artifacts / "ensemble.json").read_text())
    validate_ensemble_config(ensemble)
    assert set(ensemble["tasks"]) == {"category", "color", "pattern", "material"}
    results = json.loads((artifacts / "report" / "results.json").read_text())
    assert results["material"]["route"] == route and "material" in results["sources"]["ensemble"]
    assert "## Material: a task added from its own data set" in (artifacts / "report" / "README.md").read_text()
    built = json.loads((work / "corrections" / "build.json").read_text())
    assert built["products"] == 3 and built["tasks"] == ["color"]
    assert all(v == {"fit": "task unknown to the model"} for v in built["skipped"].values())
    if route == "add_head":
        for modality in ("image", "text"):
            history = json.loads((work / f"{modality}-material" / "history.json").read_text())
            assert history["existing_heads_identical"] is True


@pytest.mark.slow
def test_pipeline_with_material_and_corrections_both_routes(tmp_path: Path) -> None:
    try:
        check_dataset()
    except DatasetMissingError:
        pytest.skip("Fashion-MNIST is not installed")
    if shutil.which("node") is None:
        pytest.skip("node is needed for weft preprocess-batch / clean-text / color")
    base = tiny_config(tmp_path)
    corrections = tmp_path / "corrections.json"
    data = {**json.loads(json.dumps(base.__dict__)), "baselines": None,
            "material": {"data": {"train": 24, "val": 12, "test": 12, "workers": 1}, "out": str(tmp_path / "material"), "route": "joint",
                         "compare": False},
            "corrections": {"file": str(corrections), "images": base.catalog, "weight": 0.5}}
    config = PipelineConfig.from_dict(data)
    run(config, ["data"])
    items = [i for i in load_catalog(config.catalog) if i.split == "test"][:3]
    corrections.write_text(json.dumps({"items": [
        {"vendor": i.vendor, "productId": i.product_id, "correctedAt": f"2026-11-28T10:0{n}:00Z",
         "labels": {"color": i.labels["color"], "fit": "slim"},
         "images": [str(Path(i.image_path).relative_to(Path(config.catalog).resolve()))], "text": i.title}
        for n, i in enumerate(items)]}))
    run(config, ["detector", "image", "text", "evaluate"])
    _check(tmp_path, tmp_path / "artifacts", tmp_path / "work", "joint")

    # The other route on the same catalog, material data set and detector: heads added to three-task models.
    other = PipelineConfig.from_dict({**data, "work": str(tmp_path / "work2"), "artifacts": str(tmp_path / "artifacts2"),
                                      "material": {**data["material"], "route": "add_head"},
                                      "corrections": {**data["corrections"], "detector": str(tmp_path / "work" / "detector" / "detector.pt")}})
    shutil.copytree(tmp_path / "artifacts" / "detector", tmp_path / "artifacts2" / "detector")
    run(other, ["image", "text", "evaluate"])
    _check(tmp_path, tmp_path / "artifacts2", tmp_path / "work2", "add_head")
