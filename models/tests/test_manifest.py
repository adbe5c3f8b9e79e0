"""Manifest schema: the same rules as functions/shared/manifest.ts, clear errors, ONNX match check."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from weft_models.manifest import ManifestError, image_manifest, load_manifest, parse_manifest, text_manifest
from weft_models.tasks import DEFAULT_TASKS, PATTERN, TaskSpec
from weft_models.fixtures import SERVED_TASKS

FIXTURES = Path(__file__).resolve().parents[1] / "artifacts" / "fixtures"


def image_doc() -> dict:
    return image_manifest("weft-image", "1", DEFAULT_TASKS).to_json()


def test_built_manifests_validate_and_round_trip() -> None:
    for manifest in (image_manifest("weft-image", "1", DEFAULT_TASKS), text_manifest("weft-text", "1", DEFAULT_TASKS, max_length=64)):
        doc = manifest.to_json()
        assert parse_manifest(json.loads(json.dumps(doc))) == manifest
        assert [o["name"] for o in doc["outputs"]] == [t.name for t in DEFAULT_TASKS]
        assert doc["onnx"] == f"triton/{doc['name']}/1/model.onnx"


def test_default_tasks_are_the_issue_labels() -> None:
    assert [t.name for t in DEFAULT_TASKS] == ["category", "color", "pattern"]
    assert DEFAULT_TASKS[0].labels == ("tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot")
    assert DEFAULT_TASKS[1].labels == ("black", "white", "grey", "beige", "brown", "red", "pink", "orange", "yellow", "green", "blue", "purple")
    assert PATTERN.labels == ("solid", "striped", "checked", "dotted")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schemaVersion=2), "schemaVersion"),
        (lambda d: d.update(name="Weft Image"), "name"),
        (lambda d: d["tasks"][0].update(labels=["only"]), "tasks.0.labels"),
        (lambda d: d["tasks"][0].update(name="Category"), "tasks.0.name"),
        (lambda d: d["outputs"].pop(), "task pattern has no output"),
        (lambda d: d["outputs"][0].update(task="size"), "output category names unknown task size"),
        (lambda d: d["inputs"][0].update(datatype="FLOAT"), "inputs.0.datatype"),
        (lambda d: d.update(preprocessing={}), "image model needs preprocessing.image"),
        (lambda d: d.update(modality="audio"), "modality"),
        (lambda d: d.pop("triton"), "triton"),
        (lambda d: d["preprocessing"]["image"].update(centerCropFraction=1.5), "centerCropFraction"),
    ],
)
def test_invalid_manifests_name_the_problem(mutate, message: str) -> None:
    doc = copy.deepcopy(image_doc())
    mutate(doc)
    with pytest.raises(ManifestError, match="invalid model manifest") as error:
        parse_manifest(doc, "test.json")
    assert message in str(error.value)


def test_unknown_keys_are_ignored_like_zod() -> None:
    doc = image_doc()
    doc["trainedOn"] = "catalog"
    assert parse_manifest(doc).name == "weft-image"


def test_load_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "missing.json")
    bad = tmp_path / "manifest.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(bad)


def test_task_spec_rules() -> None:
    with pytest.raises(ValueError, match="at least 2 labels"):
        TaskSpec("fit", ("slim",))
    with pytest.raises(ValueError, match="duplicate"):
        TaskSpec("fit", ("slim", "slim"))
    with pytest.raises(ValueError, match="must match"):
        TaskSpec("Fit", ("a", "b"))
    assert PATTERN.index("dotted") == 3
    with pytest.raises(ValueError, match="not a label"):
        PATTERN.index("paisley")


@pytest.mark.parametrize("modality", ["image", "text"])
def test_committed_fixtures_match_their_graphs(modality: str) -> None:
    from weft_models.manifest import check_onnx_matches

    manifest = load_manifest(FIXTURES / modality / "manifest.json")
    assert [t.spec() for t in manifest.tasks] == list(SERVED_TASKS)
    assert check_onnx_matches(manifest, FIXTURES / modality).name == "model.onnx"
    config = (FIXTURES / modality / "triton" / manifest.name / "config.pbtxt").read_text()
    assert "KIND_GPU" in config and "dynamic_batching" in config and f"max_batch_size: {manifest.triton.maxBatchSize}" in config
    if modality == "text":
        assert (FIXTURES / "text" / "tokenizer" / "tokenizer.json").exists()
        assert (FIXTURES / "text" / "tokenizer" / "tokenizer_config.json").exists()
