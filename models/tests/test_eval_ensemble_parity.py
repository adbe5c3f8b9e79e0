"""The Python ensemble combination gives what the pipeline's ensemble.ts gives, on the same evidence.

This is what makes the fitted ``ensemble.json`` mean the same thing on both sides.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from weft_models.ensemble_fit import combine, mean_over_groups

REPO = Path(__file__).resolve().parents[2]
LABELS = {"category": ["a", "b", "c"], "color": ["red", "green", "blue", "black"]}
CONFIG = {
    "schemaVersion": 1, "models": {"image": "weft-image@t", "text": "weft-text@t"},
    "defaults": {"weights": {"image": 0.5, "text": 0.5, "rules": 0.5}, "threshold": 0.0},
    "tasks": {
        "category": {"weights": {"image": 0.7, "text": 0.3}, "threshold": 0.45},
        "color": {"weights": {"image": 0.2, "text": 0.35, "rules": 0.45}, "threshold": 0.5},
    },
}
TS = """
const { mergeAttributes } = await import(process.argv[1] + '/functions/shared/products/ensemble.ts');
const { EnsembleConfigSchema } = await import(process.argv[1] + '/functions/shared/manifest.ts');
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { products, catalog, config } = JSON.parse(input);
const parsed = EnsembleConfigSchema.parse(config);
console.log(JSON.stringify(products.map((sources) => mergeAttributes(sources, catalog, parsed))));
"""


def random_products(n: int, seed: int) -> list[list[dict]]:
    rng = np.random.default_rng(seed)
    products = []
    for _ in range(n):
        sources = []
        for i in range(int(rng.integers(0, 4))):
            sources.append({"id": f"image:{i}.jpg", "kind": "image",
                            "predictions": {t: dict(zip(ls, rng.dirichlet(np.ones(len(ls))).tolist())) for t, ls in LABELS.items()}})
        if rng.random() < 0.8:
            sources.append({"id": "text", "kind": "text",
                            "predictions": {t: dict(zip(ls, rng.dirichlet(np.ones(len(ls))).tolist())) for t, ls in LABELS.items()}})
        if rng.random() < 0.5:
            hot = str(rng.choice(LABELS["color"]))
            sources.append({"id": "rules", "kind": "rules", "predictions": {"color": {l: float(l == hot) for l in LABELS["color"]}}})
        products.append(sources)
    return products


def python_merge(sources: list[dict], task: str) -> tuple[str | None, float] | None:
    labels = LABELS[task]
    images = [[s["predictions"][task][l] for l in labels] for s in sources if s["kind"] == "image" and task in s["predictions"]]
    probs: dict[str, np.ndarray] = {}
    if images:
        probs["image"] = mean_over_groups(np.array(images), ["p"] * len(images))[1]
    for kind in ("text", "rules"):
        for s in sources:
            if s["kind"] == kind and task in s["predictions"]:
                probs[kind] = np.array([[s["predictions"][task][l] for l in labels]])
    if not probs:
        return None
    settings = CONFIG["tasks"][task]
    p = combine(probs, {k: np.ones(1, bool) for k in probs}, {**CONFIG["defaults"]["weights"], **settings["weights"]})[0]
    top = int(p.argmax())
    return (labels[top] if p[top] >= settings["threshold"] else None), float(p[top])


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs ensemble.ts")
def test_python_combination_matches_ensemble_ts() -> None:
    products = random_products(300, 0)
    payload = json.dumps({"products": products, "catalog": LABELS, "config": CONFIG})
    result = subprocess.run(["node", "--import", "tsx/esm", "--input-type=module", "-e", TS, str(REPO)],
                            input=payload.encode(), capture_output=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    merged = json.loads(result.stdout)
    compared = 0
    for sources, attributes in zip(products, merged):
        for task in LABELS:
            expected = python_merge(sources, task)
            if expected is None:
                assert task not in attributes
                continue
            value, confidence = expected
            assert attributes[task]["value"] == value
            assert attributes[task]["confidence"] == pytest.approx(confidence, abs=2e-6)
            compared += 1
    assert compared > 400
