"""The two model views, made by the pipeline's own preprocessing (``weft preprocess-batch``).

Training must see exactly the pixels serving sees, so views are never computed in Python: the
TypeScript module the image-ingest handler uses is run as a batch command over the catalog.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]


class PreprocessError(RuntimeError):
    """The preprocessing command is unavailable or failed on some images."""


def _command() -> list[str]:
    npx = shutil.which("npx")
    if npx is None:
        raise PreprocessError("npx not found: the views come from the TypeScript preprocessing (Node 20 and npm ci needed)")
    return [npx, "--no-install", "weft", "preprocess-batch"]


def check_preprocess_available(repo_root: Path = REPO_ROOT) -> None:
    """Fail before any rendering when ``weft preprocess-batch`` cannot run."""
    try:
        result = subprocess.run([*_command(), "--help"], cwd=repo_root, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PreprocessError(f"cannot run weft preprocess-batch: {error}") from None
    if result.returncode != 0:
        raise PreprocessError(
            f"weft preprocess-batch is not available (exit {result.returncode}): {(result.stderr or result.stdout).strip()[-500:]}"
        )


def preprocess_batch(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    view_size: int = 224,
    center_fraction: float = 0.4,
    concurrency: int = 2,
    repo_root: Path = REPO_ROOT,
) -> dict[str, object]:
    """Write ``out`` (N×2×S×S×3 uint8) and ``out.json``; raise if any image failed."""
    out_path = Path(out).resolve()
    list_path = out_path.with_suffix(".paths.txt")
    list_path.write_text("".join(f"{Path(p).resolve()}\n" for p in paths), encoding="utf-8")
    command = [
        *_command(), "--list", str(list_path), "--out", str(out_path),
        "--view-size", str(view_size), "--center-fraction", str(center_fraction), "--concurrency", str(concurrency),
    ]
    log.info("views: %s", " ".join(command[1:]))
    result = subprocess.run(command, cwd=repo_root, stdout=subprocess.PIPE, stderr=None, text=True)
    if result.returncode != 0:
        raise PreprocessError(f"weft preprocess-batch failed (exit {result.returncode}): {result.stdout.strip()[-500:]}")
    meta_path = Path(str(out_path) + ".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if int(meta["count"]) != len(paths):
        raise PreprocessError(f"weft preprocess-batch wrote {meta['count']} rows for {len(paths)} images")
    errors = meta.get("errors") or []
    if errors:
        first = errors[0]
        raise PreprocessError(f"{len(errors)} images failed preprocessing, e.g. {first.get('path')}: {first.get('error')}")
    return meta
