"""The ``evaluate`` stage: predictions → ensemble fit (validation) → test metrics → report.

Image and text predictions come from the exported ONNX graphs in ``artifacts/`` (what the
pipeline serves, int8 text included); the rules source is the vendor's color name through
``weft color``. The baselines (PyTorch checkpoints) are evaluated on the same test garments.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..data.catalog import CatalogItem, load_catalog, load_views
from ..data.patterns import HELDOUT_FAMILIES
from ..ensemble_fit import TaskPredictions, combine, fit_ensemble, mean_over_groups, save_predictions, write_ensemble
from ..manifest import load_manifest
from ..tasks import COLOR, DEFAULT_TASKS, TaskSpec
from .metrics import abstention, confusion, paired_difference_interval, task_metrics
from .predict import onnx_predict, rules_predictions
from .report import TARGETS, write_report

if TYPE_CHECKING:
    from ..pipeline import PipelineConfig

log = logging.getLogger(__name__)


def _rows(items: Sequence[CatalogItem], split: str) -> list[int]:
    return [i for i, item in enumerate(items) if item.split == split]


def _products(items: Sequence[CatalogItem], rows: Sequence[int]) -> tuple[list[str], np.ndarray]:
    """Product order and, per row, the index of its product (the ensemble is per product)."""
    order, index = mean_over_groups(np.zeros((len(rows), 1)), [items[r].product_id for r in rows])
    position = {p: i for i, p in enumerate(order)}
    return order, np.array([position[items[r].product_id] for r in rows])


def _per_product(probs: np.ndarray, product_of_row: np.ndarray, n_products: int) -> np.ndarray:
    """Mean over a product's rows (a product's images; its text and rules are the same on each row)."""
    sums = np.zeros((n_products, probs.shape[1]))
    counts = np.zeros(n_products)
    np.add.at(sums, product_of_row, probs)
    np.add.at(counts, product_of_row, 1)
    return sums / counts[:, None]


def image_predictions(model_dir: Path, views: np.ndarray, view_rows: np.ndarray) -> dict[str, np.ndarray]:
    """The served graph's probabilities; each manifest view is fed the catalog column of its kind."""
    from ..image.model import VIEW_NAMES
    from ..manifest import VIEW_KIND

    image = load_manifest(model_dir / "manifest.json").preprocessing.image
    assert image is not None
    by_kind = {kind: name for name, kind in VIEW_KIND.items()}
    columns = {v.input: VIEW_NAMES.index(by_kind[v.kind]) for v in image.views}
    return onnx_predict(
        model_dir, len(view_rows),
        lambda a, b: {name: np.asarray(views[view_rows[a:b], column]) for name, column in columns.items()},
    )


def text_predictions(model_dir: Path, texts: Sequence[str]) -> dict[str, np.ndarray]:
    from ..text.tokenizer import encode, load_tokenizer

    manifest = load_manifest(model_dir / "manifest.json")
    assert manifest.preprocessing.text is not None
    tokenizer = load_tokenizer(model_dir / manifest.preprocessing.text.tokenizer)
    return onnx_predict(model_dir, len(texts), lambda a, b: {k: v.numpy() for k, v in encode(tokenizer, texts[a:b]).items()})


def split_predictions(
    config: PipelineConfig, items: Sequence[CatalogItem], views: np.ndarray, texts: Sequence[str], split: str, tasks: Sequence[TaskSpec],
) -> tuple[dict[str, TaskPredictions], dict[str, Any]]:
    rows = _rows(items, split)
    order, product_of_row = _products(items, rows)
    image = image_predictions(config.out("image"), views, np.array([items[r].view_index for r in rows]))
    text = text_predictions(config.out("text"), [texts[r] for r in rows])
    rules, rules_present = rules_predictions([items[r].vendor_color for r in rows], COLOR)
    first_row = np.zeros(len(order), dtype=int)
    first_row[product_of_row[::-1]] = np.arange(len(rows))[::-1]
    preds: dict[str, TaskPredictions] = {}
    for task in tasks:
        labels = np.array([task.index(items[rows[i]].labels[task.name]) if task.name in items[rows[i]].labels else -100 for i in first_row])
        probs = {
            "image": _per_product(image[task.name], product_of_row, len(order)),
            "text": text[task.name][first_row],
        }
        present = {"image": np.ones(len(order), bool), "text": np.ones(len(order), bool)}
        if task.name == COLOR.name:
            probs["rules"], present["rules"] = rules[first_row], rules_present[first_row]
        preds[task.name] = TaskPredictions(labels, probs, present)
    meta = {"rows": rows, "first_row": first_row, "products": order}
    return preds, meta


@torch.no_grad()
def torch_image_predictions(checkpoint: Path, views: np.ndarray, view_rows: np.ndarray, batch_size: int = 64,
                            cache_root: Path | None = None) -> dict[str, np.ndarray]:
    """A checkpoint's probabilities on ``view_rows``; a frozen-trunk model reads the trunk cache
    under ``cache_root`` (computed once, shared by every comparison model) instead of the views."""
    from ..image.features import compute_cache
    from ..image.model import VIEW_NAMES, load_image_model

    torch.set_num_threads(1)
    model = load_image_model(checkpoint)
    batches: list[dict[str, torch.Tensor]] = []
    if model.backbone.frozen and cache_root is not None:
        cache = compute_cache(model, views, view_rows, cache_root, ("plain",), threads=2)
        columns = [VIEW_NAMES.index(v) for v in model.config.views]
        for start in range(0, len(view_rows), batch_size):
            batches.append({
                "maps": torch.from_numpy(np.asarray(cache.maps[start : start + batch_size, 0][:, columns], dtype=np.float32)),
                "pixels": torch.from_numpy(np.asarray(cache.pixels[start : start + batch_size, 0][:, columns], dtype=np.float32)),
            })
    else:
        for start in range(0, len(view_rows), batch_size):
            pair = torch.from_numpy(np.asarray(views[view_rows[start : start + batch_size]]))
            batches.append({name: pair[:, i] for i, name in enumerate(VIEW_NAMES[: pair.shape[1]])})
    parts: dict[str, list[np.ndarray]] = {}
    for batch in batches:
        for task, logits in model(**batch).items():
            parts.setdefault(task, []).append(torch.softmax(logits, -1).numpy())
    return {t: np.concatenate(p) for t, p in parts.items()}


def _metrics_of(preds: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    return {task: task_metrics(labels[task], p) for task, p in preds.items() if task in labels}


def _differences(reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Per task: accuracy of ``reference`` minus ``other`` with its 95 % paired bootstrap interval."""
    out: dict[str, Any] = {}
    for task in reference:
        if task in other and task in labels:
            diff, lo, hi = paired_difference_interval(labels[task], reference[task], other[task])
            out[task] = {"difference": diff, "ci95": [lo, hi]}
    return out


def baseline_results(config: PipelineConfig, views: np.ndarray, view_rows: np.ndarray, labels: Mapping[str, np.ndarray],
                     cache_root: Path | None = None, styles: Sequence[str] | None = None) -> dict[str, Any]:
    root = config.path("baselines")
    best = lambda name: root / name / "checkpoints" / "best.pt"  # noqa: E731
    out: dict[str, Any] = {}
    if not best("multitask").exists():
        return out
    budget = config.baselines or {}
    what = f"{budget.get('max_train', 'all')} training products, {budget.get('epochs', '?')} epochs each"
    predict = lambda name: torch_image_predictions(best(name), views, view_rows, cache_root=cache_root)  # noqa: E731
    multi_probs = predict("multitask")
    multi = _metrics_of(multi_probs, labels)
    single_probs: dict[str, np.ndarray] = {}
    for task in labels:
        if best(f"single-{task}").exists():
            single_probs.update({task: predict(f"single-{task}")[task]})
    if single_probs:
        out["multitask"] = {
            "description": f"Image model, same architecture and budget ({what}); one model with all heads vs one model per task. "
                           "Accuracy with its 95 % Wilson interval; the last row is multi-task minus single-task with its 95 % "
                           "paired bootstrap interval (an interval that spans 0 is no evidence either way).",
            "rows": {"multi-task (one model)": multi, "single-task (one model per task)": _metrics_of(single_probs, labels)},
            "difference": _differences(multi_probs, single_probs, labels),
        }
    view_rows_of: dict[str, Mapping[str, np.ndarray]] = {}
    for name, label in (("multitask", "with the garment view (downsampled + center + garment)"),
                        ("two-views", "two views (downsampled + center)"), ("downsampled", "downsampled only")):
        if best(name).exists():
            view_rows_of[label] = multi_probs if name == "multitask" else predict(name)
    if len(view_rows_of) > 1:
        ordered = list(view_rows_of)
        out["views"] = {
            "description": f"Image model, all heads, same budget ({what}): which views it sees. Accuracy with its 95 % Wilson "
                           "interval; each difference row is one configuration minus the next with its 95 % paired bootstrap "
                           "interval.",
            "rows": {label: _metrics_of(p, labels) for label, p in view_rows_of.items()},
            "differences": {f"{a.split(' (')[0]} − {b.split(' (')[0]}": _differences(view_rows_of[a], view_rows_of[b], labels)
                            for a, b in zip(ordered, ordered[1:])},
        }
    garment, two = "with the garment view (downsampled + center + garment)", "two views (downsampled + center)"
    if styles is not None and garment in view_rows_of and two in view_rows_of:
        keep = np.array([s == "editorial" for s in styles])
        if keep.any():
            sub = lambda probs: {t: p[keep] for t, p in probs.items()}  # noqa: E731
            sub_labels = {t: v[keep] for t, v in labels.items()}
            out["editorial"] = {
                "description": f"Editorial photos of the test garments only ({int(keep.sum())} products: the garment small, "
                               f"off-center, among props, so the center crop often misses it), image source alone, same budget "
                               f"({what}): the model with the garment view cut around the detected box vs the same model with the "
                               "center crop only.",
                "rows": {"garment view (detected box)": _metrics_of(sub(view_rows_of[garment]), sub_labels),
                         "center crop only": _metrics_of(sub(view_rows_of[two]), sub_labels)},
                "difference": _differences(sub(view_rows_of[garment]), sub(view_rows_of[two]), sub_labels),
            }
    return out


def detection_results(catalog: Path, items: Sequence[CatalogItem], artifacts: Path) -> dict[str, Any]:
    """Box IoU of the detector on the evaluation splits (from the detector stage's detections),
    by photo style, and the served graphs' cost per image next to the image model's."""
    path = catalog / "detections.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    found = doc["items"]
    out: dict[str, Any] = {"training": doc.get("summary", {}), "splits": {}}
    for split in ("test", "heldout"):
        chosen = [i for i in items if i.split == split and i.item_id in found and i.style != "closeup"]
        if not chosen:
            continue
        iou = np.array([found[i.item_id]["iou"] for i in chosen])
        score = np.array([found[i.item_id]["score"] for i in chosen])
        by_style = {style: float(np.mean([found[i.item_id]["iou"] for i in chosen if i.style == style]))
                    for style in sorted({i.style for i in chosen})}
        out["splits"][split] = {
            "photos": len(chosen), "mean_iou": float(iou.mean()), "iou_at_least_0.5": float((iou >= 0.5).mean()),
            "iou_at_least_0.8": float((iou >= 0.8).mean()), "score_iou_correlation": float(np.corrcoef(score, iou)[0, 1]),
            "mean_iou_by_style": by_style,
        }
    out["cost"] = model_costs(artifacts)
    return out


def model_costs(artifacts: Path, batch: int = 16, repeats: int = 3) -> dict[str, Any]:
    """Milliseconds per image on one CPU thread in onnxruntime, detector vs image model, measured
    side by side in one run (their ratio is what serving adds for the garment view)."""
    import time

    from ..export import onnx_session

    out: dict[str, Any] = {}
    rng = np.random.default_rng(0)
    for name in ("detector", "image"):
        manifest_path = artifacts / name / "manifest.json"
        if not manifest_path.exists():
            continue
        manifest = load_manifest(manifest_path)
        session = onnx_session(artifacts / name / manifest.onnx)
        feeds = {spec.name: rng.integers(0, 256, (batch, *spec.shape[1:]), dtype=np.uint8) for spec in manifest.inputs}
        session.run(None, feeds)
        best_ms = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            session.run(None, feeds)
            best_ms = min(best_ms, (time.perf_counter() - started) * 1000 / batch)
        out[name] = {"ms_per_image": round(best_ms, 2), "onnx_bytes": (artifacts / name / manifest.onnx).stat().st_size}
    if "detector" in out and "image" in out:
        out["detector_over_image"] = round(out["detector"]["ms_per_image"] / out["image"]["ms_per_image"], 3)
    return out


def _breakdown(groups: Sequence[str], labels: np.ndarray, sources: Mapping[str, np.ndarray]) -> dict[str, Any]:
    rows: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for group in sorted(set(groups)):
        mask = np.array([g == group for g in groups]) & (labels >= 0)
        counts[group] = int(mask.sum())
        rows[group] = {name: float((p[mask].argmax(1) == labels[mask]).mean()) for name, p in sources.items()}
    return {"columns": list(sources), "rows": rows, "n": counts}


def _mention_breakdowns(test: Mapping[str, TaskPredictions], combined: Mapping[str, np.ndarray], texts: Sequence[str]) -> dict[str, Any]:
    """Accuracy split by whether the product's model text names its true label at all (with the
    vocabulary the data builder writes). Where it does not, text can only guess: this is the
    ceiling of the text source, and where the image has to carry the ensemble."""
    import re

    from ..data.text import CATEGORY_WORDS, COLOR_WORDS, PATTERN_WORDS
    from ..tasks import CATEGORY, PATTERN

    vocab = {CATEGORY.name: (CATEGORY, CATEGORY_WORDS), COLOR.name: (COLOR, COLOR_WORDS), PATTERN.name: (PATTERN, PATTERN_WORDS)}
    out: dict[str, Any] = {}
    for task, (spec, words) in vocab.items():
        if task not in test:
            continue
        pred = test[task]
        lowered = [t.lower() for t in texts]
        named = []
        for text, label in zip(lowered, pred.labels):
            names = words.get(spec.labels[label], ()) if label >= 0 else ()
            named.append("text names it" if any(re.search(rf"\b{re.escape(w.lower())}\b", text) for w in names) else "text does not name it")
        out[f"{task} accuracy by whether the text names the true {task}"] = _breakdown(
            named, pred.labels, {"image": pred.probs["image"], "text": pred.probs["text"], "ensemble": combined[task]},
        )
    return out


def directory_sizes(root: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            sizes[str(path.relative_to(root))] = path.stat().st_size
    return sizes


def _machine_note() -> str:
    load = os.getloadavg()
    return (f"Measured on a machine with {os.cpu_count()} CPU cores "
            f"(load average at the end {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}; a load above {os.cpu_count()} means the cores were contended).")


def evaluate_all(config: PipelineConfig, timings: Mapping[str, float]) -> Path:
    from ..text.catalog_text import catalog_texts
    from ..text.tokenizer import encode, load_tokenizer
    from ..text.train import load_text_model, predict_texts

    items = load_catalog(config.catalog)
    views = load_views(config.catalog)
    image_manifest = load_manifest(config.out("image", "manifest.json"))
    text_manifest = load_manifest(config.out("text", "manifest.json"))
    tasks = list(config.tasks())
    for manifest in (image_manifest, text_manifest):
        if [t.spec() for t in manifest.tasks] != tasks:
            raise ValueError(f"{manifest.name} tasks {[t.name for t in manifest.tasks]} differ from the evaluated tasks")
    texts = catalog_texts(items, config.path("text", "texts.json"))
    eval_dir = config.path("eval")
    material_val: dict[str, TaskPredictions] = {}

    val, _ = split_predictions(config, items, views, texts, "val", list(DEFAULT_TASKS))
    test, test_meta = split_predictions(config, items, views, texts, "test", list(DEFAULT_TASKS))
    material = config.material_settings()
    if material is not None:
        # The catalog carries no material labels: material is scored on its own data set's splits.
        from ..tasks import MATERIAL

        m_items = load_catalog(material["out"])
        m_views = load_views(material["out"])
        m_texts = catalog_texts(m_items, config.path("text", "material-texts.json"))
        material_val = split_predictions(config, m_items, m_views, m_texts, "val", [MATERIAL])[0]
        material_test = split_predictions(config, m_items, m_views, m_texts, "test", [MATERIAL])[0]
        save_predictions(material_val, eval_dir / "material-val.npz")
        save_predictions(material_test, eval_dir / "material-test.npz")
    save_predictions(val, eval_dir / "val.npz")
    save_predictions(test, eval_dir / "test.npz")

    models = {"image": f"{image_manifest.name}@{image_manifest.version}", "text": f"{text_manifest.name}@{text_manifest.version}"}
    doc, fits = fit_ensemble({**val, **material_val} if material is not None else val, models)
    write_ensemble(doc, config.out("ensemble.json"))

    sources, confusions, combined = score_split(test, doc)
    ensemble_info: dict[str, Any] = {}
    for task, pred in test.items():
        settings = doc["tasks"][task]
        ensemble_info[task] = {**settings, **abstention(pred.labels, combined[task], settings["threshold"]),
                               "val_accuracy": fits[task].accuracy}
    material_section: dict[str, Any] = {}
    if material is not None:
        m_sources, m_confusions, m_combined = score_split(material_test, doc)
        for kind, per_task in m_sources.items():
            sources.setdefault(kind, {}).update(per_task)
        for kind, per_task in m_confusions.items():
            confusions.setdefault(kind, {}).update(per_task)
        settings = doc["tasks"]["material"]
        ensemble_info["material"] = {**settings, **abstention(material_test["material"].labels, m_combined["material"], settings["threshold"]),
                                     "val_accuracy": fits["material"].accuracy}
        material_section = material_results(config, material, m_items, material_test, m_combined["material"])

    rows, first_row = test_meta["rows"], test_meta["first_row"]
    test_items = [items[rows[i]] for i in first_row]
    breakdowns = {
        f"{task} accuracy by photo style": _breakdown(
            [i.style for i in test_items], test[task].labels,
            {"image": test[task].probs["image"], "text": test[task].probs["text"], "ensemble": combined[task]},
        )
        for task in ("category", "color", "pattern") if task in test
    }
    breakdowns["pattern accuracy by pattern scale"] = _breakdown(
        [i.scale for i in test_items], test["pattern"].labels,
        {"image": test["pattern"].probs["image"], "text": test["pattern"].probs["text"], "ensemble": combined["pattern"]},
    )
    image_photos = {"test": _non_closeup_image(test, test_items)}

    heldout_section: dict[str, Any] = {}
    if any(i.split == "heldout" for i in items):
        heldout, heldout_meta = split_predictions(config, items, views, texts, "heldout", list(DEFAULT_TASKS))
        save_predictions(heldout, eval_dir / "heldout.npz")
        h_sources, _, h_combined = score_split(heldout, doc)
        h_items = [items[heldout_meta["rows"][i]] for i in heldout_meta["first_row"]]
        novelty = ["held-out family" if i.family in _HELDOUT_FAMILY_NAMES else "training family" for i in h_items]
        heldout_section = {
            "description": "The held-out style split: vendors whose photo style (street: sky and pavement, strong side light, "
                           "vignetting, color casts) and, for half of the patterned products, pattern drawing families "
                           "(variegated stripes, tartan, scattered dots, slub) no training or validation photo has.",
            "sources": {k: v for k, v in h_sources.items() if v},
            "breakdowns": {
                f"{task} accuracy by pattern family": _breakdown(
                    [i.family for i in h_items], heldout[task].labels,
                    {"image": heldout[task].probs["image"], "text": heldout[task].probs["text"], "ensemble": h_combined[task]},
                ) for task in ("pattern",) if task in heldout
            } | {
                f"{task} accuracy by family novelty": _breakdown(
                    novelty, heldout[task].labels,
                    {"image": heldout[task].probs["image"], "text": heldout[task].probs["text"], "ensemble": h_combined[task]},
                ) for task in ("category", "color", "pattern") if task in heldout
            },
        }
        image_photos["heldout"] = _non_closeup_image(heldout, h_items)

    breakdowns.update(_mention_breakdowns(test, combined, [texts[rows[i]] for i in first_row]))

    # Quantization cost: the fp32 PyTorch text model on the same test texts.
    model, _ = load_text_model(config.path("text", "checkpoints", "best.pt"))
    torch.set_num_threads(1)
    tokenizer = load_tokenizer(config.out("text", "tokenizer"))
    fp32 = predict_texts(model, encode(tokenizer, [texts[r] for r in rows]))
    labels_by_task = {t: test[t].labels for t in test}
    export_info = json.loads(config.path("text", "export.json").read_text()) if config.path("text", "export.json").exists() else {}
    quantization = {
        "description": "Text model on the test products: fp32 (PyTorch, equal to the fp32 ONNX graph within 1e-4) vs the "
                       "int8 dynamically quantized ONNX graph that is committed and served.",
        "rows": {
            "fp32": {"bytes": int(export_info.get("fp32_onnx_bytes", 0)), "metrics": _metrics_of({t: p[first_row] for t, p in fp32.items()}, labels_by_task)},
            "int8 (served)": {"bytes": int(config.out("text", text_manifest.onnx).stat().st_size), "metrics": {t: sources["text"][t] for t in test}},
        },
    }

    view_rows = np.array([i.view_index for i in test_items])
    comparisons = (baseline_results(config, views, view_rows, labels_by_task, Path(config.catalog) / "features" / "test",
                                    styles=[i.style for i in test_items])
                   if config.baselines is not None else {})
    detection = detection_results(Path(config.catalog), items, Path(config.artifacts))

    counts = {split: {"products": len({i.product_id for i in items if i.split == split}), "images": sum(i.split == split for i in items)}
              for split in ("train", "val", "test", "heldout") if any(i.split == split for i in items)}
    mention = breakdowns.get("category accuracy by whether the text names the true category", {})
    results: dict[str, Any] = {
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "version": image_manifest.version,
        "tasks": {t.name: list(t.labels) for t in tasks},
        "targets": {**TARGETS, **MATERIAL_TARGETS} if material is not None else TARGETS,
        "data": counts,
        "sources": sources,
        "ensemble": ensemble_info,
        "confusion": confusions,
        "breakdowns": breakdowns,
        "image_photos": image_photos,
        "heldout": heldout_section,
        "checks": image_checks(image_photos, mention, detection) + material_section.pop("checks", []),
        "detection": detection,
        **comparisons,
        "quantization": quantization,
        "timings": timing_rows(timings),
        "machine": _machine_note(),
        "text_model": {"settings": config.text_settings().to_dict(), "export": export_info},
    }
    if material_section:
        assert material is not None
        routes = route_comparison(config, material, views, view_rows, labels_by_task, [texts[rows[i]] for i in first_row])
        if routes:
            material_section["routes"] = routes
        results["material"] = material_section
    results["notes"] = _notes(results, config)
    report_dir = config.out("report")
    write_report(results, report_dir)
    results["sizes"] = _artifact_sizes(Path(config.artifacts))
    return write_report(results, report_dir)


MATERIAL_TARGETS = {"material": 0.95}
"""Ensemble material accuracy on the material data set's test split (with ``material`` configured)."""
MATERIAL_IMAGE_TARGET = 0.90


def material_results(config: PipelineConfig, material: Mapping[str, Any], items: Sequence[CatalogItem],
                     test: Mapping[str, TaskPredictions], combined: np.ndarray) -> dict[str, Any]:
    """How the material task was added (data sets, sampling weights, what stayed frozen), its
    image-alone target and its accuracy by photo style."""
    build = json.loads((Path(material["out"]) / "build.json").read_text(encoding="utf-8"))
    pred = test["material"]
    image = task_metrics(pred.labels, pred.probs["image"])
    test_items = [i for i in items if i.split == "test"]
    product_first: dict[str, CatalogItem] = {}
    for item in test_items:
        product_first.setdefault(item.product_id, item)
    styles = [i.style for i in product_first.values()]
    route = material["route"]
    history: dict[str, Any] = {}
    for modality in ("image", "text"):
        folder = config.path(f"{modality}-material" if route == "add_head" else modality, "history.json")
        if folder.exists():
            data = json.loads(folder.read_text(encoding="utf-8"))
            history[modality] = {k: data.get(k) for k in ("best_score", "best_epoch", "seconds", "existing_heads_identical")}
    return {
        "route": route,
        "datasets": {"catalog": {"tasks": ["category", "color", "pattern"], "weight": material["catalog_weight"] if route == "joint" else None},
                     "material": {"tasks": ["material"], "weight": material["weight"], "items": build.get("labels"),
                                  "seconds": build.get("seconds")}},
        "frozen": ("everything but the material heads (image and text), existing heads bit-identical" if route == "add_head"
                   else "the image trunk (as always); one multi-data run trains everything else on both data sets"),
        "image": image,
        "by_style": _breakdown(styles, pred.labels, {"image": pred.probs["image"], "text": pred.probs["text"], "ensemble": combined}),
        "history": history,
        "checks": [{"check": f"image alone, material test split: material ≥ {MATERIAL_IMAGE_TARGET:.2f}", "value": image["accuracy"],
                    "met": image["accuracy"] >= MATERIAL_IMAGE_TARGET}],
    }


def route_comparison(config: PipelineConfig, material: Mapping[str, Any], views: np.ndarray, view_rows: np.ndarray,
                     labels: Mapping[str, np.ndarray], product_texts: Sequence[str]) -> dict[str, Any]:
    """Both ways of adding material, image alone and text alone (fp32 PyTorch checkpoints of the
    same budget): the existing tasks on the catalog's test products and material on the material
    data set's test split; empty until the ``compare`` stage has trained the other route."""
    from ..pipeline import other_route, route_checkpoints
    from ..tasks import MATERIAL
    from ..text.catalog_text import catalog_texts
    from ..text.tokenizer import encode, load_tokenizer
    from ..text.train import load_text_model, predict_texts

    served, other = material["route"], other_route(material["route"])
    runs = {served: route_checkpoints(config, served, config.path()), other: route_checkpoints(config, other, config.path("compare"))}
    if not all(path.exists() for paths in runs.values() for path in paths.values()):
        return {}
    m_items = load_catalog(material["out"])
    m_views = load_views(material["out"])
    m_texts = catalog_texts(m_items, config.path("text", "material-texts.json"))
    m_test = [(i, m_texts[n]) for n, i in enumerate(m_items) if i.split == "test"]
    m_rows = np.array([i.view_index for i, _ in m_test])
    m_labels = {MATERIAL.name: np.array([MATERIAL.index(i.labels[MATERIAL.name]) for i, _ in m_test])}
    m_text_rows = [text for _, text in m_test]
    tokenizer = load_tokenizer(config.out("text", "tokenizer"))
    cache = Path(config.catalog) / "features" / "test"
    m_cache = Path(material["out"]) / "features" / "eval-test"
    existing = [t for t in labels if t != MATERIAL.name]
    probs: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for route, paths in runs.items():
        image = torch_image_predictions(paths["image"], views, view_rows, cache_root=cache)
        m_image = torch_image_predictions(paths["image"], m_views, m_rows, cache_root=m_cache)
        model, _ = load_text_model(paths["text"])
        text = predict_texts(model, encode(tokenizer, list(product_texts)))
        m_text = predict_texts(model, encode(tokenizer, m_text_rows))
        probs[route] = {"image": {**{t: image[t] for t in existing}, MATERIAL.name: m_image[MATERIAL.name]},
                        "text": {**{t: text[t] for t in existing}, MATERIAL.name: m_text[MATERIAL.name]}}
    all_labels = {**{t: labels[t] for t in existing}, **m_labels}
    rows = {f"{route}{' (served)' if route == served else ''} · {modality}": _metrics_of(probs[route][modality], all_labels)
            for route in runs for modality in ("image", "text")}
    return {
        "description": "Both routes at the served models' budget, fp32 PyTorch checkpoints, each source alone: category, "
                       "color and pattern on the catalog's test products, material on the material data set's test split. "
                       "Accuracy with its 95 % Wilson interval; the difference rows are the served route minus the other "
                       "with the 95 % paired bootstrap interval.",
        "served": served,
        "rows": rows,
        "differences": {modality: _differences(probs[served][modality], probs[other][modality], all_labels)
                        for modality in ("image", "text")},
        "existing_loss_limit": 0.005,
    }


_HELDOUT_FAMILY_NAMES = frozenset(f for names in HELDOUT_FAMILIES.values() for f in names)
IMAGE_TARGETS = {
    "test": {"category": 0.85, "color": 0.99, "pattern": 0.97},
    "heldout": {"category": 0.80, "color": 0.95, "pattern": 0.93},
}
TEXT_SILENT_TARGET = 0.85
"""Ensemble category accuracy where the text does not name the category."""


def score_split(preds: Mapping[str, TaskPredictions], doc: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """Per-source metrics, confusion matrices and the fitted ensemble's probabilities of one split."""
    sources: dict[str, dict[str, Any]] = {"image": {}, "text": {}, "rules": {}, "ensemble": {}}
    confusions: dict[str, dict[str, Any]] = {"image": {}, "text": {}, "ensemble": {}}
    combined: dict[str, np.ndarray] = {}
    for task, pred in preds.items():
        for kind, probs in pred.probs.items():
            sources[kind][task] = task_metrics(pred.labels, probs, pred.present[kind])
            if kind in confusions:
                confusions[kind][task] = confusion(pred.labels, probs, pred.present[kind])
        combined[task] = combine(pred.probs, pred.present, doc["tasks"][task]["weights"])
        sources["ensemble"][task] = task_metrics(pred.labels, combined[task])
        confusions["ensemble"][task] = confusion(pred.labels, combined[task])
    return {k: v for k, v in sources.items() if v}, confusions, combined


def _non_closeup_image(preds: Mapping[str, TaskPredictions], products: Sequence[CatalogItem]) -> dict[str, Any]:
    """Image source alone on products whose photo shows the garment (a close-up has no silhouette)."""
    keep = np.array([p.style != "closeup" for p in products])
    return {task: task_metrics(pred.labels[keep], pred.probs["image"][keep]) for task, pred in preds.items()}


IOU_TARGET = 0.8
"""Mean box IoU of the detector on the test photos that show a garment."""


def image_checks(image_photos: Mapping[str, Mapping[str, Any]], mention: Mapping[str, Any],
                 detection: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The image-alone, text-silent and detection targets, met or missed, beside the ensemble's."""
    checks: list[dict[str, Any]] = []
    test_boxes = (detection or {}).get("splits", {}).get("test")
    if test_boxes:
        checks.append({"check": f"detector mean box IoU, test garments, non-close-up ≥ {IOU_TARGET:.2f}",
                       "value": test_boxes["mean_iou"], "met": test_boxes["mean_iou"] >= IOU_TARGET})
    names = {"test": "test garments", "heldout": "held-out style split"}
    for split, targets in IMAGE_TARGETS.items():
        for task, target in targets.items():
            m = image_photos.get(split, {}).get(task)
            if m:
                checks.append({"check": f"image alone, {names[split]}, non-close-up: {task} ≥ {target:.2f}",
                               "value": m["accuracy"], "met": m["accuracy"] >= target})
    silent = mention.get("rows", {}).get("text does not name it")
    if silent:
        checks.append({"check": f"ensemble category where the text does not name it ≥ {TEXT_SILENT_TARGET:.2f}",
                       "value": silent["ensemble"], "met": silent["ensemble"] >= TEXT_SILENT_TARGET})
    return checks


def timing_rows(timings: Mapping[str, float]) -> dict[str, float]:
    """Stage timings for the report plus their from-scratch sum.

    A reused catalog counts with the time its build took; ``evaluate`` is the last completed
    evaluation (this one is still running while the report is written).
    """
    rows: dict[str, float] = {}
    total = 0.0
    for stage in ("data", "detector", "image", "text", "baselines", "compare", "evaluate"):
        reused = f"{stage}: reused catalog, measured when it was built"
        if reused in timings:
            rows[reused] = timings[reused]
            total += timings[reused]
        elif stage in timings:
            rows[stage if stage != "evaluate" else "evaluate (last completed run)"] = timings[stage]
            total += timings[stage]
    if rows:
        rows["from scratch: sum of the stages above"] = round(total, 1)
    return rows


def _notes(results: Mapping[str, Any], config: PipelineConfig) -> list[str]:
    """Facts worth reading next to the tables, derived from the numbers (nothing typed in)."""
    notes: list[str] = []
    text = config.text_settings()
    n_train = int(results.get("data", {}).get("train", {}).get("products", 0))
    used = min(text.max_train, n_train) if text.max_train else n_train
    notes.append(
        f"Text model: {text.model.pretrained or 'from-scratch BERT'} encoder, top {text.model.trainable_layers or 'all'} "
        f"transformer layer(s) fine-tuned, {text.model.pooling} pooling, max {text.model.max_length} tokens, {used} training "
        f"products, {text.train.epochs} epochs; served as {'int8' if config.quantize_text else 'fp32'} ONNX."
    )
    for title, table in results.get("breakdowns", {}).items():
        if "ensemble" not in table["columns"]:
            continue
        worst = min(table["rows"], key=lambda g: table["rows"][g]["ensemble"])
        row = table["rows"][worst]
        parts = ", ".join(f"{c} {100 * row[c]:.1f}%" for c in table["columns"])
        notes.append(f"{title[0].upper()}{title[1:]}: weakest group '{worst}' ({table['n'][worst]} products): {parts}.")
    quant = results.get("quantization", {}).get("rows", {})
    if "fp32" in quant and "int8 (served)" in quant:
        diffs = [
            f"{t} {100 * (quant['int8 (served)']['metrics'][t]['accuracy'] - m['accuracy']):+.1f} pt"
            for t, m in quant["fp32"]["metrics"].items() if t in quant["int8 (served)"]["metrics"]
        ]
        notes.append("int8 quantization changes text accuracy by " + ", ".join(diffs) + " (test, vs fp32).")
    return notes


def _artifact_sizes(root: Path) -> dict[str, int]:
    sizes = directory_sizes(root)
    grouped: dict[str, int] = {}
    for path, n in sizes.items():
        parts = path.split("/")
        key = "/".join(parts[:2]) if parts[0] in ("image", "text", "detector", "fixtures") and len(parts) > 1 else parts[0]
        if path.endswith(".onnx"):
            key = path
        grouped[key] = grouped.get(key, 0) + n
    grouped["total (committed artifacts)"] = sum(sizes.values())
    return grouped
