"""The evaluation report: ``README.md`` with the figures, confusion matrix PNGs, ``results.json``.

Everything in the report comes from a results document (see :func:`write_report`); nothing is
typed in by hand, so a rebuild rewrites it with the new numbers, targets met or missed.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .plots import plot_confusion

log = logging.getLogger(__name__)

TARGETS = {"category": 0.96, "color": 0.995, "pattern": 0.98}
SINGLE_SOURCES = ("image", "text")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _ci(m: Mapping[str, Any]) -> str:
    lo, hi = m.get("ci95", (None, None))
    return f"{_pct(m['accuracy'])} ({_pct(lo)}–{_pct(hi)})" if lo is not None else _pct(m["accuracy"])


def _metric_table(rows: Mapping[str, Mapping[str, Mapping[str, Any]]], tasks: Sequence[str], coverage: bool = False,
                  ci: bool = False) -> list[str]:
    head = "| | " + " | ".join(f"{t} acc | {t} macro-F1" for t in tasks) + (" | coverage |" if coverage else " |")
    sep = "|---|" + "---:|---:|" * len(tasks) + ("---:|" if coverage else "")
    lines = [head, sep]
    for name, per_task in rows.items():
        cells = []
        for t in tasks:
            m = per_task.get(t)
            cells += [_ci(m) if ci else _pct(m["accuracy"]), _pct(m["macro_f1"])] if m else ["–", "–"]
        cov = ""
        if coverage:
            covs = {t: per_task[t]["coverage"] for t in tasks if t in per_task}
            cov = " | " + ", ".join(f"{t} {_pct(c)}%" for t, c in covs.items() if c < 0.9995) if covs else " | "
            cov = cov if cov.strip(" |") else " | all"
        lines.append(f"| {name} | " + " | ".join(cells) + (cov + " |" if coverage else " |"))
    return lines


def target_checks(sources: Mapping[str, Mapping[str, Mapping[str, Any]]], targets: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each target and the ensemble-beats-every-single-modality rule, with met/missed and the gap."""
    checks: list[dict[str, Any]] = []
    ensemble = sources.get("ensemble", {})
    for task, target in targets.items():
        if task in ensemble:
            acc = ensemble[task]["accuracy"]
            checks.append({"check": f"ensemble {task} accuracy ≥ {target:g}", "value": acc, "met": acc >= target})
    for task, m in ensemble.items():
        singles = {s: sources[s][task]["accuracy"] for s in SINGLE_SOURCES if s in sources and task in sources[s]}
        if singles:
            best = max(singles, key=lambda s: singles[s])
            checks.append({
                "check": f"ensemble {task} ≥ best single modality ({best} {_pct(singles[best])}%)",
                "value": m["accuracy"], "met": m["accuracy"] >= singles[best],
            })
    return checks


def _breakdown_tables(breakdowns: Mapping[str, Any], split: str) -> list[str]:
    lines: list[str] = []
    for title, table in breakdowns.items():
        cols = list(table["columns"])
        lines += [f"### {title[0].upper()}{title[1:]} ({split})", "", "| | products | " + " | ".join(cols) + " |",
                  "|---|---:|" + "---:|" * len(cols)]
        for group, accs in table["rows"].items():
            lines.append(f"| {group} | {table['n'][group]} | " + " | ".join(_pct(accs.get(c)) for c in cols) + " |")
        lines.append("")
    return lines


def _material_section(material: Mapping[str, Any]) -> list[str]:
    """How the material task was added: data sets, sampling weights, what stayed frozen, figures."""
    datasets = material.get("datasets", {})
    m = datasets.get("material", {})
    c = datasets.get("catalog", {})
    route = material.get("route")
    how = ("`add_head`: the three-task models trained on the catalog as always, then a material head added to each and "
           "trained on the material data set alone" if route == "add_head" else
           "one joint multi-data run over both data sets, each batch from one data set adding loss only for its tasks")
    lines = ["## Material: a task added from its own data set", "",
             f"Material is scored on the material data set's test split (the catalog has no material labels). Route: {how}.", "",
             "| data set | labeled for | share of batches |", "|---|---|---:|",
             f"| catalog | {', '.join(c.get('tasks', []))} | {c.get('weight') if c.get('weight') is not None else '– (not in the material run)'} |",
             f"| material | material | {m.get('weight')} |", "",
             f"Frozen: {material.get('frozen', '')}.", ""]
    for modality, h in material.get("history", {}).items():
        extra = "; existing heads bit-identical" if h.get("existing_heads_identical") else ""
        lines.append(f"- {modality}: best validation score {_pct(h.get('best_score') or 0)} at epoch {h.get('best_epoch')} "
                     f"({h.get('seconds')} s{extra})")
    lines.append("")
    by_style = material.get("by_style")
    if by_style:
        cols = by_style["columns"]
        lines += ["| photo style | n | " + " | ".join(cols) + " |", "|---|---:|" + "---:|" * len(cols)]
        for style, row in by_style["rows"].items():
            lines.append(f"| {style} | {by_style['n'][style]} | " + " | ".join(_pct(row[k]) for k in cols) + " |")
        lines.append("")
    return lines + _routes_section(material.get("routes"))


def _routes_section(routes: Mapping[str, Any] | None) -> list[str]:
    """The two ways of adding material side by side, with the served-minus-other differences."""
    if not routes:
        return []
    rows: Mapping[str, Mapping[str, Any]] = routes["rows"]
    tasks = list(next(iter(rows.values())))
    lines = ["### Both routes", "", routes["description"], "",
             "| route · source | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for name, metrics in rows.items():
        lines.append(f"| {name} | " + " | ".join(_ci(metrics[t]) if t in metrics else "–" for t in tasks) + " |")
    for modality, diffs in routes.get("differences", {}).items():
        cells = []
        for task in tasks:
            d = diffs.get(task)
            cells.append("–" if d is None else f"{100 * d['difference']:+.1f} pt [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]")
        lines.append(f"| served − other · {modality} | " + " | ".join(cells) + " |")
    return lines + [""]


def write_report(results: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> Path:
    """Write ``README.md``, ``results.json`` and one PNG per (source, task) confusion matrix."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks: dict[str, list[str]] = dict(results["tasks"])
    names = list(tasks)
    sources: dict[str, Any] = dict(results["sources"])
    targets = dict(results.get("targets", TARGETS))

    images: dict[str, dict[str, str]] = {}
    for source, per_task in results.get("confusion", {}).items():
        for task, matrix in per_task.items():
            file = f"confusion_{source}_{task}.png"
            plot_confusion(matrix, tasks[task], f"{source} · {task} (test)", out / file)
            images.setdefault(source, {})[task] = file

    data = results.get("data", {})
    lines = [
        "# Weft demo models — evaluation report",
        "",
        f"Generated by `python -m weft_models.pipeline all` at {results.get('generated', '?')} "
        f"for model version `{results.get('version', '?')}`. All figures are on the **held-out test garments** "
        "(Fashion-MNIST's own test split: no test garment was rendered into training or validation products), "
        "unless a section says otherwise; the held-out style split has its own section. Accuracy and macro-F1 in percent.",
        "",
    ]
    if data:
        lines += ["| split | products | images |", "|---|---:|---:|"]
        for split in ("train", "val", "test", "heldout"):
            if split in data:
                lines.append(f"| {split} | {data[split].get('products', '–')} | {data[split].get('images', '–')} |")
        lines.append("")

    lines += ["## Targets", "", "| check | value | |", "|---|---:|---|"]
    checks = target_checks(sources, targets) + list(results.get("checks", []))
    for c in checks:
        lines.append(f"| {c['check']} | {_pct(c['value'])} | {'met' if c['met'] else '**missed**'} |")
    missed = [c for c in checks if not c["met"]]
    lines += ["", f"{len(checks) - len(missed)} of {len(checks)} checks met." if checks else "No checks.", ""]

    lines += ["## Image, text, rules and the ensemble", "",
              "Image: mean of the product's image predictions. Rules: the vendor's color name normalized by "
              "`weft color` (answers only where the name maps to a base color; its accuracy is over the rows it answered). "
              "Ensemble: the fitted `ensemble.json` combination, exactly as the pipeline computes it.", ""]
    lines += _metric_table(sources, names, coverage=True)
    lines.append("")

    ens = results.get("ensemble")
    if ens:
        lines += ["### Fitted ensemble (on validation predictions)", "",
                  "| task | weights | abstain below | answered on test | accuracy of answers |", "|---|---|---:|---:|---:|"]
        for task, e in ens.items():
            weights = ", ".join(f"{k} {v:.2f}" for k, v in e["weights"].items())
            lines.append(f"| {task} | {weights} | {e['threshold']:.3f} | {_pct(e.get('answered'))} | {_pct(e.get('accuracy_answered'))} |")
        lines.append("")

    lines += _breakdown_tables(results.get("breakdowns", {}), "test")

    photos = results.get("image_photos")
    if photos:
        lines += ["## Image source alone, photos that show the garment", "",
                  "The image model's own answer (no text, no rules) on every product except fabric close-ups, which show "
                  "no silhouette. Accuracy with its 95 % Wilson interval.", ""]
        lines += _metric_table({{"test": "test garments", "heldout": "held-out style split"}.get(k, k): v for k, v in photos.items()},
                               names, ci=True)
        lines.append("")

    heldout = results.get("heldout")
    if heldout:
        lines += ["## Held-out style split", "", heldout.get("description", ""), ""]
        lines += _metric_table(heldout["sources"], names, coverage=True)
        lines.append("")
        lines += _breakdown_tables(heldout.get("breakdowns", {}), "held-out style split")

    material = results.get("material")
    if material:
        lines += _material_section(material)

    detection = results.get("detection")
    if detection and detection.get("splits"):
        lines += ["## Garment detection", "",
                  "The detector's box against the garment's true box on every photo that shows a garment (close-ups are "
                  "the garment edge to edge), on the test garments and the held-out style split.", "",
                  "| split | photos | mean IoU | IoU ≥ 0.5 | IoU ≥ 0.8 | score–IoU correlation | mean IoU by style |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for split, row in detection["splits"].items():
            styles = ", ".join(f"{k} {_pct(v)}" for k, v in row["mean_iou_by_style"].items())
            lines.append(f"| {split} | {row['photos']} | {_pct(row['mean_iou'])} | {_pct(row['iou_at_least_0.5'])} | "
                         f"{_pct(row['iou_at_least_0.8'])} | {row['score_iou_correlation']:.2f} | {styles} |")
        cost = detection.get("cost", {})
        if "detector_over_image" in cost:
            lines += ["", f"Served cost on one CPU thread (onnxruntime, batches of 16): detector "
                          f"{cost['detector']['ms_per_image']:.1f} ms per image ({_mb(cost['detector']['onnx_bytes'])}), image model "
                          f"{cost['image']['ms_per_image']:.1f} ms ({_mb(cost['image']['onnx_bytes'])}): the detector call adds "
                          f"{100 * cost['detector_over_image']:.0f} % of the image model's compute."]
        training = detection.get("training", {})
        if training:
            lines += ["", f"Best validation mean IoU {_pct(training.get('best_val_mean_iou'))} after "
                          f"{len(training.get('history', []))} epochs ({training.get('train_seconds', '?')} s on cached maps)."]
        lines.append("")

    for key, title, text in (
        ("multitask", "Multi-task vs single-task", "Same architecture, data and training budget; the only difference is the heads trained."),
        ("views", "Views: with the garment view, two views, downsample-only", "The same image model seeing different views."),
        ("editorial", "Editorial photos: garment view vs center crop", "Image source alone on editorial photos."),
    ):
        section = results.get(key)
        if section:
            lines += [f"## {title}", "", section.get("description", text), ""]
            shown = [t for t in names if any(t in r for r in section["rows"].values())]
            lines += _metric_table(section["rows"], shown, ci=True)
            diffs = dict(section.get("differences", {}))
            if section.get("difference"):
                diffs["difference (first − second)"] = section["difference"]
            for label, diff in diffs.items():
                cells = []
                for t in shown:
                    d = diff.get(t)
                    cells += [f"{100 * d['difference']:+.1f} ({100 * d['ci95'][0]:+.1f} to {100 * d['ci95'][1]:+.1f})" if d else "–", ""]
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            lines.append("")

    quant = results.get("quantization")
    if quant:
        lines += ["## Quantization", "", quant.get("description", ""), "",
                  "| model | ONNX size | " + " | ".join(f"{t} acc | {t} macro-F1" for t in names) + " |",
                  "|---|---:|" + "---:|---:|" * len(names)]
        for name, row in quant["rows"].items():
            cells = []
            for t in names:
                m = row["metrics"].get(t)
                cells += [_pct(m["accuracy"]), _pct(m["macro_f1"])] if m else ["–", "–"]
            lines.append(f"| {name} | {_mb(row['bytes'])} | " + " | ".join(cells) + " |")
        lines.append("")

    if images:
        lines += ["## Confusion matrices (test)", ""]
        for source, per_task in images.items():
            lines.append(f"**{source}**: " + " · ".join(f"[{task}]({file})" for task, file in per_task.items()))
            lines.append("")
            lines += [f"![{source} {task}]({file})" for task, file in per_task.items()]
            lines.append("")

    if results.get("sizes"):
        lines += ["## Artifact sizes", "", "| artifact | size |", "|---|---:|"]
        lines += [f"| `{path}` | {_mb(n)} |" for path, n in results["sizes"].items()]
        lines.append("")
    if results.get("timings"):
        lines += ["## Rebuild timings", "", results.get("machine", ""), "", "| stage | seconds |", "|---|---:|"]
        lines += [f"| {stage} | {sec:.0f} |" for stage, sec in results["timings"].items()]
        lines.append("")
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {note}" for note in results["notes"]] + [""]

    readme = out / "README.md"
    readme.write_text("\n".join(lines), encoding="utf-8")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    log.info("report written to %s", readme)
    return readme
