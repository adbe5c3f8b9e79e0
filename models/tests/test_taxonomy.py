"""Taxonomy mapping: the same rules as functions/shared/taxonomy/mapping.ts, and every label of the
committed manifests mapped or explicitly unmapped with a reason."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from weft_models.taxonomy import (
    TaxonomyError,
    check_mapping,
    check_models_dir,
    load_mapping,
    main,
    parse_mapping,
    resolve_mapping_file,
    task_catalog,
)
from weft_models.manifest import load_manifest
from weft_models.tasks import DEFAULT_TASKS, MATERIAL

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
MAPPING_FILE = ARTIFACTS / "taxonomy.json"


def doc() -> dict:
    return json.loads(MAPPING_FILE.read_text(encoding="utf-8"))


def entry(d: dict, task: str, label: str) -> dict:
    return next(e for e in d["entries"] if e["task"] == task and e["label"] == label)


@pytest.mark.parametrize("models_dir", [ARTIFACTS, ARTIFACTS / "fixtures"])
def test_every_label_of_the_committed_manifests_is_mapped_or_explained(models_dir: Path) -> None:
    mapping, report = check_models_dir(models_dir)
    assert report.errors() == []
    assert report.mapped + len(report.unmapped) == sum(len(labels) for labels in task_catalog(
        load_manifest(models_dir / m / "manifest.json") for m in ("image", "text")
    ).values())
    assert all(len(reason) >= 8 for _, _, reason in report.unmapped)
    assert mapping.release.version == "2026-08"


def test_fixtures_share_the_artifacts_mapping() -> None:
    assert resolve_mapping_file(ARTIFACTS / "fixtures") == MAPPING_FILE.resolve()


def test_a_label_without_an_entry_is_reported_not_dropped() -> None:
    mapping = load_mapping(MAPPING_FILE)
    catalog = {"category": ["dress", "kimono"], "fit": ["slim", "loose"]}
    report = check_mapping(mapping, catalog)
    assert ("category", "kimono") in report.missing
    assert report.missing_tasks == ["fit"]
    assert ("category", "trouser") in report.stale
    assert any("category/kimono has no taxonomy entry" in e for e in report.errors())


def test_an_unmapped_label_is_reported_with_its_reason() -> None:
    d = doc()
    e = entry(d, "category", "bag")
    d["entries"][d["entries"].index(e)] = {"task": "category", "label": "bag", "unmapped": "no bag category fits the class"}
    catalog = task_catalog(load_manifest(ARTIFACTS / m / "manifest.json") for m in ("image", "text"))
    before = check_mapping(load_mapping(MAPPING_FILE), catalog)
    report = check_mapping(parse_mapping(d), catalog)
    assert report.unmapped == [("category", "bag", "no bag category fits the class"), *before.unmapped]
    assert report.errors() == []
    assert report.mapped == sum(len(labels) for labels in catalog.values()) - len(report.unmapped)


def test_the_mapping_covers_every_task_spelled_out_in_tasks_py() -> None:
    """The default tasks and the one added from its own data set, from their definitions rather
    than from whichever manifests are committed: each label mapped or unmapped with a reason."""
    catalog = {task.name: list(task.labels) for task in (*DEFAULT_TASKS, MATERIAL)}
    report = check_mapping(load_mapping(MAPPING_FILE), catalog)
    assert report.errors() == []
    assert report.mapped + len(report.unmapped) == sum(len(labels) for labels in catalog.values())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schemaVersion=2), "schemaVersion"),
        (lambda d: d["release"].update(version="August"), "release.version"),
        (lambda d: d["entries"].append(copy.deepcopy(d["entries"][0])), "duplicate entry for category/tshirt_top"),
        (lambda d: entry(d, "color", "red")["shopify"].update(handle="pattern__red"), "is not a value of attribute color"),
        (lambda d: entry(d, "color", "red").update(google={"id": "1", "path": "x"}), "only categories carry a Google product category"),
        (lambda d: entry(d, "category", "dress")["shopify"].update(id="gid://shopify/TaxonomyValue/1"), "entries"),
        (lambda d: entry(d, "pattern", "solid").update(task="fabric"), 'entry names task "fabric"'),
        (lambda d: d["entries"].append({"task": "color", "label": "teal", "unmapped": "no"}), "unmapped"),
        (lambda d: entry(d, "color", "red").update(colour="red"), "colour"),
    ],
)
def test_invalid_mappings_are_rejected_with_a_named_field(mutate, message: str) -> None:
    d = doc()
    mutate(d)
    with pytest.raises(TaxonomyError, match="invalid taxonomy mapping") as error:
        parse_mapping(d, "test")
    assert message in str(error.value)


def test_committed_mapping_round_trips() -> None:
    mapping = load_mapping(MAPPING_FILE)
    assert parse_mapping(mapping.model_dump(mode="json", exclude_none=True)) == mapping


def test_cli_reports_counts_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    _, report = check_models_dir(ARTIFACTS)
    assert main([str(ARTIFACTS)]) == 0
    out = capsys.readouterr().out
    assert f"Shopify taxonomy 2026-08: {report.mapped} labels mapped, {len(report.unmapped)} unmapped" in out
    for task, label, reason in report.unmapped:
        assert f"unmapped {task}/{label}: {reason}" in out
