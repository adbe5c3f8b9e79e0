"""The taxonomy mapping (``artifacts/taxonomy.json``): model labels to Shopify taxonomy ids.

Validated with the same rules as ``functions/shared/taxonomy/mapping.ts`` (zod): one entry per
(task, label), each either mapped (a Shopify ``TaxonomyCategory`` for a category task, a
``TaxonomyValue`` of the task's attribute for an attribute task, and for categories the Google
product category of Shopify's published mapping) or explicitly ``unmapped`` with a reason.
:func:`check_mapping` reports labels of the manifests that have no entry, and entries no manifest
declares, so a label added to a model is never silently left out of the exports.

``python -m weft_models.taxonomy [models_dir]`` prints that report and exits non-zero on errors.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .manifest import Manifest, load_manifest
from .validated import load_validated, parse_validated

TAXONOMY_FILE_NAME = "taxonomy.json"

CATEGORY_ID = r"^gid://shopify/TaxonomyCategory/[a-z]{2}(-\d+)*$"
VALUE_ID = r"^gid://shopify/TaxonomyValue/\d+$"
ATTRIBUTE_ID = r"^gid://shopify/TaxonomyAttribute/\d+$"
TASK_NAME = r"^[a-z][a-z0-9_]*$"
PROPERTY = r"^[a-zA-Z]+$"


class TaxonomyError(ValueError):
    """A mapping that is missing, malformed, or inconsistent with itself."""


class _Strict(BaseModel):
    # zod strictObject on the TypeScript side: unknown keys are an error in both.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShopifyCategory(_Strict):
    id: str = Field(pattern=CATEGORY_ID)
    name: str = Field(min_length=1)
    fullName: str = Field(min_length=1)


class ShopifyValue(_Strict):
    id: str = Field(pattern=VALUE_ID)
    handle: str = Field(pattern=r"^[a-z0-9-]+__[a-z0-9-]+$")
    name: str = Field(min_length=1)


class GoogleCategory(_Strict):
    id: str = Field(pattern=r"^\d+$")
    path: str = Field(min_length=1)


class Release(_Strict):
    taxonomy: Literal["shopify"]
    version: str = Field(pattern=r"^\d{4}-\d{2}$")
    google: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    sources: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    license: str = Field(min_length=1)


class CategoryTask(_Strict):
    name: str = Field(pattern=TASK_NAME)
    target: Literal["category"]
    schemaOrg: str | None = Field(default=None, pattern=PROPERTY)


class AttributeRef(_Strict):
    id: str = Field(pattern=ATTRIBUTE_ID)
    handle: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str = Field(min_length=1)


class AttributeTask(_Strict):
    name: str = Field(pattern=TASK_NAME)
    target: Literal["attribute"]
    attribute: AttributeRef
    metafield: str = Field(pattern=r"^[a-z0-9_-]+\.[a-z0-9_-]+$")
    googleField: str | None = Field(default=None, pattern=r"^[a-z_]+$")
    schemaOrg: str | None = Field(default=None, pattern=PROPERTY)
    vendorColor: bool | None = None
    releaseValues: list[Annotated[str, Field(pattern=VALUE_ID)]] | None = None


TaskSpec = Annotated[Union[CategoryTask, AttributeTask], Field(discriminator="target")]


class MappedEntry(_Strict):
    task: str = Field(pattern=TASK_NAME)
    label: str = Field(min_length=1)
    # ShopifyValue first: a value carries a handle, so it is the narrower shape.
    shopify: Union[ShopifyValue, ShopifyCategory]
    google: GoogleCategory | None = None
    multicolor: bool | None = None
    note: str | None = Field(default=None, min_length=1)


class UnmappedEntry(_Strict):
    task: str = Field(pattern=TASK_NAME)
    label: str = Field(min_length=1)
    unmapped: str = Field(min_length=8)


Entry = Union[MappedEntry, UnmappedEntry]


class TaxonomyMapping(_Strict):
    schemaVersion: Literal[1]
    release: Release
    tasks: list[TaskSpec] = Field(min_length=1)
    entries: list[Entry]

    @model_validator(mode="after")
    def _consistent(self) -> TaxonomyMapping:
        problems: list[str] = []
        tasks = {t.name: t for t in self.tasks}
        if len(tasks) != len(self.tasks):
            problems.append("task names must be unique")
        seen: set[tuple[str, str]] = set()
        for entry in self.entries:
            key = (entry.task, entry.label)
            if key in seen:
                problems.append(f"duplicate entry for {entry.task}/{entry.label}")
            seen.add(key)
            task = tasks.get(entry.task)
            if task is None:
                problems.append(f'entry names task "{entry.task}" that "tasks" does not declare')
                continue
            if not isinstance(entry, MappedEntry):
                continue
            where = f"{entry.task}/{entry.label}"
            if isinstance(task, CategoryTask):
                if not isinstance(entry.shopify, ShopifyCategory):
                    problems.append(f"{where}: a category task maps to a TaxonomyCategory")
            else:
                if not isinstance(entry.shopify, ShopifyValue):
                    problems.append(f"{where}: an attribute task maps to a TaxonomyValue with a handle")
                elif not entry.shopify.handle.startswith(f"{task.attribute.handle}__"):
                    problems.append(f"{where}: value {entry.shopify.handle} is not a value of attribute {task.attribute.handle}")
                if entry.google is not None:
                    problems.append(f"{where}: only categories carry a Google product category")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def parse_mapping(data: object, source: str = "<taxonomy>") -> TaxonomyMapping:
    return parse_validated(TaxonomyMapping, data, "taxonomy mapping", source, TaxonomyError)


def load_mapping(path: str | os.PathLike[str]) -> TaxonomyMapping:
    return load_validated(TaxonomyMapping, path, "taxonomy mapping", TaxonomyError)


def resolve_mapping_file(models_dir: str | os.PathLike[str]) -> Path | None:
    """``taxonomy.json`` of a models folder, else of its parent (the fixtures share the artifacts' mapping)."""
    folder = Path(models_dir).resolve()
    for candidate in (folder / TAXONOMY_FILE_NAME, folder.parent / TAXONOMY_FILE_NAME):
        if candidate.exists():
            return candidate
    return None


@dataclass
class MappingReport:
    missing: list[tuple[str, str]] = field(default_factory=list)
    missing_tasks: list[str] = field(default_factory=list)
    stale: list[tuple[str, str]] = field(default_factory=list)
    unmapped: list[tuple[str, str, str]] = field(default_factory=list)
    mapped: int = 0

    def errors(self) -> list[str]:
        return [
            *(f"task {t} is not declared in the taxonomy mapping" for t in self.missing_tasks),
            *(f'{t}/{l} has no taxonomy entry (map it, or mark it "unmapped" with a reason)' for t, l in self.missing),
            *(f"{t}/{l} is mapped but no model manifest declares it" for t, l in self.stale),
        ]


def task_catalog(manifests: Iterable[Manifest]) -> dict[str, list[str]]:
    """Union of the manifests' tasks and labels, as ``taskCatalog`` builds it in TypeScript."""
    catalog: dict[str, list[str]] = {}
    for manifest in manifests:
        for task in manifest.tasks:
            labels = catalog.setdefault(task.name, [])
            labels.extend(label for label in task.labels if label not in labels)
    return catalog


def check_mapping(mapping: TaxonomyMapping, catalog: dict[str, list[str]]) -> MappingReport:
    entries = {(e.task, e.label): e for e in mapping.entries}
    declared = {t.name for t in mapping.tasks}
    report = MappingReport()
    for task, labels in catalog.items():
        if task not in declared:
            report.missing_tasks.append(task)
        for label in labels:
            entry = entries.get((task, label))
            if entry is None:
                report.missing.append((task, label))
            elif isinstance(entry, MappedEntry):
                report.mapped += 1
            else:
                report.unmapped.append((task, label, entry.unmapped))
    for entry in mapping.entries:
        if entry.label not in catalog.get(entry.task, []):
            report.stale.append((entry.task, entry.label))
    return report


def check_models_dir(models_dir: str | os.PathLike[str]) -> tuple[TaxonomyMapping, MappingReport]:
    folder = Path(models_dir)
    manifests = [load_manifest(folder / m / "manifest.json") for m in ("image", "text") if (folder / m / "manifest.json").exists()]
    if not manifests:
        raise TaxonomyError(f"no model manifests under {folder}")
    file = resolve_mapping_file(folder)
    if file is None:
        raise TaxonomyError(f"no {TAXONOMY_FILE_NAME} in {folder} or its parent")
    mapping = load_mapping(file)
    return mapping, check_mapping(mapping, task_catalog(manifests))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    models_dir = Path(args[0]) if args else Path(__file__).resolve().parents[1] / "artifacts"
    try:
        mapping, report = check_models_dir(models_dir)
    except TaxonomyError as error:
        print(f"weft_models.taxonomy: {error}", file=sys.stderr)
        return 2
    print(f"Shopify taxonomy {mapping.release.version}: {report.mapped} labels mapped, {len(report.unmapped)} unmapped")
    for task, label, reason in report.unmapped:
        print(f"unmapped {task}/{label}: {reason}")
    for problem in report.errors():
        print(f"error {problem}", file=sys.stderr)
    return 1 if report.errors() else 0


if __name__ == "__main__":
    sys.exit(main())
