"""Rebuild everything from scratch: ``python -m weft_models.pipeline all``.

Stages (each also runs alone: ``python -m weft_models.pipeline text``):

``data``       the vendor catalog (photos, messy texts, views from ``weft preprocess-batch``)
``detector``   the garment detector, exported to ``artifacts/detector``; recuts the evaluation
               splits' garment views around the detected boxes, as serving does
``image``      the image model over its views (downsampled, center, garment), exported to
               ``artifacts/image``
``text``       the text model, exported (int8) to ``artifacts/text``
``baselines``  single-task, two-view and downsample-only image models for the report (reduced budget)
``compare``    the material task's other training route (a joint multi-data run of both models at the
               full budget), for the report's comparison of the two routes
``evaluate``   predictions of the served ONNX graphs + rules, ensemble fit on validation
               (``artifacts/ensemble.json``), test metrics and ``artifacts/report/``

Training stages resume from their checkpoints; ``--fresh`` deletes the work folder first (the
from-scratch timing). Stage durations go to ``<work>/timings.json`` and into the report.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import from_dict

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parents[1]
STAGES = ("data", "detector", "image", "text", "baselines", "compare", "evaluate")
DEFAULT_MATERIAL: dict[str, Any] = {"route": "add_head", "head": {"input": "views", "hidden": 128}, "compare": True}
"""The served models' fourth task: material, from its own data set, added as a head to the
three-task models (their outputs stay bit-identical); the joint run is trained for the report."""


@dataclass
class PipelineConfig:
    """Where things go and how big they are; :meth:`from_dict` rejects unknown keys."""

    catalog: str = str(MODELS_DIR / "build" / "catalog")
    work: str = str(MODELS_DIR / "build")
    artifacts: str = str(MODELS_DIR / "artifacts")
    version: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    """``BuildConfig`` fields (train/val/test sizes, seed, workers)."""
    detector: dict[str, Any] = field(default_factory=dict)
    """``DetectorConfig`` fields (empty: the demo defaults)."""
    image: dict[str, Any] = field(default_factory=dict)
    """``ImageTrainSettings`` fields (empty: the demo defaults)."""
    text: dict[str, Any] = field(default_factory=dict)
    """``TextTrainSettings`` fields (empty: the demo defaults)."""
    baselines: dict[str, Any] | None = field(default_factory=lambda: {"max_train": 2000, "epochs": 3})
    """Budget of the comparison models (all trained alike, including a multi-task two-view
    reference); ``null`` skips them."""
    quantize_text: bool = True
    material: dict[str, Any] | None = field(default_factory=lambda: dict(DEFAULT_MATERIAL))
    """The fourth task, from its own data set (``null``: the three default tasks only): ``data``
    (``MaterialConfig`` fields), ``out`` (default ``<work>/material``), ``weight`` (the material
    data set's share of the batches against the catalog's ``catalog_weight``, both default 1),
    ``route``: ``joint`` (one multi-data run over both data sets) or ``add_head`` (the three-task
    models as always, then a material head trained with everything else frozen), ``head`` (what
    the added image head reads, ``HeadInput`` fields; default a linear head on the dense stack)
    and ``compare`` (the ``compare`` stage trains the other route too, for the report)."""
    corrections: dict[str, Any] | None = None
    """Human corrections as one more training data set (``null``: none): ``file`` (the JSON of
    ``GET /corrections``, ``weft corrections export`` or ``weft corrections --all``), ``images``
    (a folder holding the bucket's objects by key, or ``s3://bucket[/prefix]``, read with boto3 at
    the endpoint of ``AWS_ENDPOINT_URL`` when set),
    ``weight`` (share of the batches, default 1), ``out`` (default ``<work>/corrections``),
    ``detector`` (the ``detector.pt`` its garment views are cut with, default
    ``<work>/detector/detector.pt``; the whole image when it does not exist)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineConfig:
        return from_dict(cls, data, what="pipeline config")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PipelineConfig:
        file = Path(path)
        if not file.exists():
            raise FileNotFoundError(f"pipeline config not found: {file}")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"pipeline config {file} is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise ValueError(f"pipeline config {file} must be a JSON object")
        return cls.from_dict(data)

    # -- derived ---------------------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        return Path(self.work).joinpath(*parts)

    def out(self, *parts: str) -> Path:
        return Path(self.artifacts).joinpath(*parts)

    def model_version(self) -> str:
        if self.version:
            return self.version
        from .image.export import default_version

        return default_version()

    def build_config(self) -> Any:
        from .data.build import BuildConfig

        config = BuildConfig(**self.data)
        config.validate()
        return config

    def detector_config(self) -> Any:
        from .image.detect import DetectorConfig

        return DetectorConfig.from_dict(self.detector) if self.detector else DetectorConfig()

    def image_settings(self) -> Any:
        from .image.train import ImageTrainSettings

        return ImageTrainSettings.from_dict(self.image) if self.image else ImageTrainSettings()

    def text_settings(self) -> Any:
        from .text.train import TextTrainSettings

        return TextTrainSettings.from_dict(self.text) if self.text else TextTrainSettings()

    def baseline_image_settings(self) -> Any:
        assert self.baselines is not None
        unknown = set(self.baselines) - {"max_train", "epochs"}
        if unknown:
            raise ValueError(f"unknown baselines keys {sorted(unknown)} (max_train, epochs)")
        settings = self.image_settings()
        settings.max_train = self.baselines.get("max_train", settings.max_train)
        settings.train = dataclasses.replace(settings.train, epochs=self.baselines.get("epochs", settings.train.epochs))
        return settings

    def material_settings(self) -> dict[str, Any] | None:
        """The ``material`` block with its defaults filled in (``None`` when it is off)."""
        if self.material is None:
            return None
        known = {"data", "out", "weight", "catalog_weight", "route", "head", "compare"}
        unknown = set(self.material) - known
        if unknown:
            raise ValueError(f"unknown material keys {sorted(unknown)}; known: {sorted(known)}")
        from .data.material import MaterialConfig

        settings = {"data": {}, "out": str(self.path("material")), "weight": 1.0, "catalog_weight": 1.0, "route": "joint",
                    "head": {}, "compare": False, **self.material}
        MaterialConfig(**settings["data"]).validate()
        from .image.model import HeadInput

        HeadInput.from_dict(settings["head"])
        if settings["route"] not in ("joint", "add_head"):
            raise ValueError(f"material route must be 'joint' or 'add_head', got {settings['route']!r}")
        return settings

    def corrections_settings(self) -> dict[str, Any] | None:
        if self.corrections is None:
            return None
        known = {"file", "images", "weight", "out", "detector"}
        unknown = set(self.corrections) - known
        if unknown:
            raise ValueError(f"unknown corrections keys {sorted(unknown)}; known: {sorted(known)}")
        missing = {"file", "images"} - set(self.corrections)
        if missing:
            raise ValueError(f"corrections needs {sorted(missing)}")
        return {"weight": 1.0, "out": str(self.path("corrections")), "detector": str(self.path("detector", "detector.pt")),
                **self.corrections}

    def tasks(self) -> list[Any]:
        """The tasks the trained models have: the three defaults, and material when configured."""
        from .tasks import DEFAULT_TASKS, MATERIAL

        return [*DEFAULT_TASKS, MATERIAL] if self.material is not None else list(DEFAULT_TASKS)

    def validate(self) -> None:
        """Every sub-config parsed up front: a typo fails before an hour of work, not after."""
        self.material_settings()
        self.corrections_settings()
        self.build_config()
        self.detector_config()
        self.image_settings()
        self.text_settings()
        if self.baselines is not None:
            self.baseline_image_settings()


# -- stages ------------------------------------------------------------------------------------------
def stage_data(config: PipelineConfig) -> None:
    from .data.build import build

    stamp = Path(config.catalog) / "build.json"
    before = stamp.read_text(encoding="utf-8") if stamp.exists() else None
    build(config.build_config(), config.catalog)
    after = stamp.read_text(encoding="utf-8") if stamp.exists() else None
    if before is not None and before == after:
        # An up-to-date catalog was reused: report what building it took when it was built.
        seconds = json.loads(after).get("seconds", {}).get("total")
        if seconds is not None:
            _record(config, "data: reused catalog, measured when it was built", float(seconds))
    material = config.material_settings()
    if material is not None:
        from .data.material import MaterialConfig, build_material

        build_material(MaterialConfig(**material["data"]), material["out"])


def stage_detector(config: PipelineConfig) -> None:
    from .image.detect import detect_catalog, export_detector

    work = config.path("detector")
    work.mkdir(parents=True, exist_ok=True)
    model, summary = detect_catalog(config.catalog, config.detector_config(), work)
    export_detector(model, config.out("detector"), config.model_version())
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    material = config.material_settings()
    if material is not None:
        from .image.detect import recut_with_detector

        # As for the catalog: evaluation views are cut where the served detector finds the garment.
        recut_with_detector(material["out"], work / "detector.pt", ["val", "test"])


def _corrections_dataset(config: PipelineConfig) -> Any:
    """The corrections folder (built on first use), or ``None`` when corrections are off."""
    corrections = config.corrections_settings()
    if corrections is None:
        return None
    from .corrections import build_corrections

    detector = Path(corrections["detector"])
    return build_corrections(corrections["file"], corrections["images"], config.tasks(), corrections["out"],
                             detector if detector.exists() else None)


def _extra_datasets(config: PipelineConfig, with_material: bool) -> tuple[list[Any], float]:
    from .datasets import ExtraDataset

    extra: list[Any] = []
    material = config.material_settings()
    catalog_weight = 1.0
    if material is not None and with_material:
        extra.append(ExtraDataset("material", material["out"], float(material["weight"])))
        catalog_weight = float(material["catalog_weight"])
    corrections = config.corrections_settings()
    if corrections is not None:
        extra.append(ExtraDataset("corrections", str(_corrections_dataset(config)), float(corrections["weight"])))
    return extra, catalog_weight


def stage_image(config: PipelineConfig) -> None:
    from .image.export import export_image
    from .image.train import train_image

    if config.material is None and config.corrections is None:
        model, _ = train_image(config.catalog, config.path("image"), config.image_settings())
        export_image(model, config.out("image"), config.model_version(), config.catalog)
        return
    material = config.material_settings()
    model = _train_image_route(config, material["route"] if material else None, config.path("image"), config.path("image-material"))
    export_image(model, config.out("image"), config.model_version(), config.catalog)


def _train_image_route(config: PipelineConfig, route: str | None, run: Path, head_run: Path) -> Any:
    """The image model with the extra data sets; material ``joint`` in the same run, ``add_head``
    as a head added afterwards (``head_run``), ``None`` without material."""
    from .datasets import ExtraDataset
    from .image.model import HeadInput
    from .image.train import add_image_head, train_image
    from .tasks import DEFAULT_TASKS, MATERIAL

    material = config.material_settings()
    joint = route == "joint"
    extra, catalog_weight = _extra_datasets(config, with_material=joint)
    tasks = config.tasks() if joint or material is None else list(DEFAULT_TASKS)
    model, result = train_image(config.catalog, run, config.image_settings(), tasks, extra=extra, catalog_weight=catalog_weight)
    if material is not None and route == "add_head":
        model, _ = add_image_head(result.best_checkpoint, ExtraDataset("material", material["out"]), MATERIAL, head_run,
                                  config.image_settings(), head=HeadInput.from_dict(material["head"]))
    return model


def stage_text(config: PipelineConfig) -> None:
    from .data.catalog import load_catalog
    from .tasks import DEFAULT_TASKS
    from .text.catalog_text import catalog_texts, text_examples
    from .text.export import export_text
    from .text.train import load_text_model, train_text

    settings = config.text_settings()
    items = load_catalog(config.catalog)
    texts = catalog_texts(items, config.path("text", "texts.json"))
    train, val = text_examples(items, "train", texts), text_examples(items, "val", texts)
    if config.material is None and config.corrections is None:
        result = train_text(train, val, DEFAULT_TASKS, settings, config.path("text"))
    else:
        material = config.material_settings()
        result = _train_text_with_extras(config, settings, train, val, material["route"] if material else None,
                                         config.path("text"), config.path("text-material"))
    model, tasks = load_text_model(result.best_checkpoint)
    source = settings.model.source_dir() or type(settings.model)().source_dir()
    assert source is not None
    exported = export_text(model, tasks, config.out("text"), config.model_version(), source, quantize=config.quantize_text)
    config.path("text").mkdir(parents=True, exist_ok=True)
    config.path("text", "export.json").write_text(json.dumps({
        "onnx_bytes": exported.onnx_bytes, "parity_fp32": exported.parity_fp32,
        "quantized_max_diff": exported.quantized_max_diff, "fp32_onnx_bytes": _fp32_size(model),
    }, indent=2) + "\n", encoding="utf-8")


def _train_text_with_extras(config: PipelineConfig, settings: Any, train: list[Any], val: list[Any], route: str | None,
                            run: Path, head_run: Path) -> Any:
    """The text model over the catalog plus the material data set and the corrections, each with
    its sampling weight (material ``joint``: in the same run; ``add_head``: a head added to the
    three-task model in ``head_run``)."""
    import dataclasses as dc

    from .data.catalog import load_catalog
    from .tasks import DEFAULT_TASKS, MATERIAL
    from .text.catalog_text import catalog_texts, text_examples
    from .text.train import add_text_head, train_text

    material = config.material_settings()
    weights = {"catalog": 1.0}
    material_train: list[Any] = []
    material_val: list[Any] = []
    if material is not None:
        items = load_catalog(material["out"])
        texts = catalog_texts(items, config.path("text", "material-texts.json"))
        material_train = [dc.replace(e, source="material") for e in text_examples(items, "train", texts)]
        material_val = [dc.replace(e, source="material") for e in text_examples(items, "val", texts)]
    joint = material is not None and route == "joint"
    if joint:
        assert material is not None
        weights = {"catalog": float(material["catalog_weight"]), "material": float(material["weight"])}
        train, val = [*train, *material_train], [*val, *material_val]
    corrections = config.corrections_settings()
    if corrections is not None:
        from .corrections import corrections_text_examples

        train = [*train, *corrections_text_examples(_corrections_dataset(config))]
        weights["corrections"] = float(corrections["weight"])
    tasks = config.tasks() if joint or material is None else list(DEFAULT_TASKS)
    result = train_text(train, val, tasks, settings, run, source_weights=weights)
    if material is not None and not joint:
        result = add_text_head(result.best_checkpoint, material_train, material_val, MATERIAL, settings, head_run)
    return result


def other_route(route: str) -> str:
    return "joint" if route == "add_head" else "add_head"


def stage_compare(config: PipelineConfig) -> None:
    """The material task's other route, image and text, at the served models' budget: the report
    sets its figures beside the served route's on the same test items."""
    material = config.material_settings()
    if material is None or not material["compare"]:
        log.info("compare skipped (no material task, or material.compare is false)")
        return
    from .data.catalog import load_catalog
    from .text.catalog_text import catalog_texts, text_examples

    route = other_route(material["route"])
    root = config.path("compare")
    _train_image_route(config, route, root / "image", root / "image-material")
    items = load_catalog(config.catalog)
    texts = catalog_texts(items, config.path("text", "texts.json"))
    _train_text_with_extras(config, config.text_settings(), text_examples(items, "train", texts), text_examples(items, "val", texts),
                            route, root / "text", root / "text-material")


def route_checkpoints(config: PipelineConfig, route: str, root: Path) -> dict[str, Path]:
    """The best checkpoints of one material route's image and text models under ``root``."""
    head = route == "add_head"
    return {m: root / (f"{m}-material" if head else m) / "checkpoints" / "best.pt" for m in ("image", "text")}


def _fp32_size(model: Any) -> int:
    """Bytes of the fp32 weights (what an unquantized ONNX graph stores)."""
    return int(sum(p.numel() * 4 for p in model.state_dict().values() if p.is_floating_point()))


def stage_baselines(config: PipelineConfig) -> None:
    if config.baselines is None:
        log.info("baselines skipped (config.baselines is null)")
        return
    from .image.train import baseline_settings, train_image
    from .tasks import DEFAULT_TASKS

    settings = config.baseline_image_settings()
    root = config.path("baselines")
    train_image(config.catalog, root / "multitask", settings)
    train_image(config.catalog, root / "two-views", baseline_settings(settings, "two_views"))
    train_image(config.catalog, root / "downsampled", baseline_settings(settings, "downsampled"))
    for task in DEFAULT_TASKS:
        train_image(config.catalog, root / f"single-{task.name}", settings, [task])


def stage_evaluate(config: PipelineConfig) -> None:
    from .evaluation.run import evaluate_all

    evaluate_all(config, _read_timings(config))


STAGE_FUNCS: dict[str, Callable[[PipelineConfig], None]] = {
    "data": stage_data, "detector": stage_detector, "image": stage_image, "text": stage_text, "baselines": stage_baselines, "compare": stage_compare,
    "evaluate": stage_evaluate,
}


# -- timings -----------------------------------------------------------------------------------------
def _timings_path(config: PipelineConfig) -> Path:
    return config.path("timings.json")


def _read_timings(config: PipelineConfig) -> dict[str, float]:
    path = _timings_path(config)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _record(config: PipelineConfig, stage: str, seconds: float) -> None:
    timings = _read_timings(config)
    timings[stage] = round(seconds, 1)
    path = _timings_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")


def run_stage_in_child(config: PipelineConfig, stage: str) -> None:
    """One stage in its own Python process.

    Stages share nothing but files, and a child process starts clean: the data builder's worker
    pools and native libraries never meet the training threads of the next stage (in one process
    that combination crashed torch's backward pass), and each stage's memory is returned.
    """
    config.path().mkdir(parents=True, exist_ok=True)
    config_file = config.path(f"pipeline-{stage}.json")
    config_file.write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "weft_models.pipeline", stage, "--config", str(config_file), "--no-record"]
    result = subprocess.run(command, cwd=MODELS_DIR, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"stage {stage} failed (exit {result.returncode}); rerun it alone with: {' '.join(command)}")


def run(config: PipelineConfig, stages: Sequence[str], fresh: bool = False, isolate: bool | None = None) -> dict[str, float]:
    """Run ``stages`` in order; with several stages each runs in a child process (``isolate``)."""
    config.validate()
    isolate = len(stages) > 1 if isolate is None else isolate
    if fresh:
        extra = [config.path("image-material"), config.path("text-material"), config.path("compare")]
        material, corrections = config.material_settings(), config.corrections_settings()
        extra += [Path(material["out"])] if material else []
        extra += [Path(corrections["out"])] if corrections else []
        for folder in (config.path("detector"), config.path("image"), config.path("text"), config.path("baselines"), config.path("eval"), Path(config.catalog), *extra):
            if folder.exists():
                log.info("fresh run: removing %s", folder)
                shutil.rmtree(folder)
        _timings_path(config).unlink(missing_ok=True)
    started = time.monotonic()
    for stage in stages:
        log.info("== stage %s ==", stage)
        t0 = time.monotonic()
        if stage == "evaluate" and len(stages) > 1:
            _record(config, "total before evaluate", time.monotonic() - started)
        if isolate:
            run_stage_in_child(config, stage)
        else:
            STAGE_FUNCS[stage](config)
        _record(config, stage, time.monotonic() - t0)
        log.info("== stage %s done in %.0fs ==", stage, time.monotonic() - t0)
    if len(stages) > 1:
        _record(config, "total", time.monotonic() - started)
    return _read_timings(config)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weft_models.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("all", *STAGES), help="'all' runs every stage in order")
    parser.add_argument("--config", help="JSON PipelineConfig (catalog, work, artifacts, data, image, text, baselines, …)")
    parser.add_argument("--fresh", action="store_true", help="delete the catalog and work folders first (from-scratch rebuild)")
    parser.add_argument("--skip", action="append", default=[], choices=STAGES, help="leave out a stage of 'all'")
    parser.add_argument("--no-record", action="store_true", help=argparse.SUPPRESS)  # a child stage: the parent times it
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    config = PipelineConfig.load(args.config) if args.config else PipelineConfig()
    stages = [s for s in STAGES if s not in args.skip] if args.stage == "all" else [args.stage]
    if args.no_record:
        config.validate()
        STAGE_FUNCS[args.stage](config)
        return
    timings = run(config, stages, fresh=args.fresh)
    log.info("timings (s): %s", timings)


if __name__ == "__main__":
    main()
