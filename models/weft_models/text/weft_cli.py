"""The pipeline's own text cleaner and color normalizer, called through the ``weft`` CLI.

Training and evaluation must see text exactly as the pipeline does, so there is no Python copy
of either: one ``npx weft clean-text --jsonl`` (or ``npx weft color``) process handles a whole batch.
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


class WeftCliError(RuntimeError):
    """The ``weft`` command is missing or failed."""


def _weft_command(repo_root: Path) -> list[str]:
    shim = repo_root / "cli" / "weft.mjs"
    if shim.exists() and shutil.which("node"):
        return ["node", str(shim)]
    if shutil.which("npx"):
        return ["npx", "--no-install", "weft"]
    raise WeftCliError(f"cannot run the weft CLI: neither node with {shim} nor npx is available")


def run_weft(args: Sequence[str], stdin: str, repo_root: Path = REPO_ROOT) -> str:
    command = [*_weft_command(repo_root), *args]
    try:
        result = subprocess.run(
            command, input=stdin.encode("utf-8"), capture_output=True, cwd=repo_root, check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except OSError as error:
        raise WeftCliError(f"cannot start {' '.join(command)}: {error}") from error
    if result.returncode != 0:
        raise WeftCliError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.decode(errors='replace')[-2000:]}")
    return result.stdout.decode("utf-8")


def clean_texts(texts: Sequence[str], max_chars: int | None = None, repo_root: Path = REPO_ROOT) -> list[str]:
    """``weft clean-text --jsonl`` over all ``texts`` in one process, order kept."""
    if not texts:
        return []
    args = ["clean-text", "--jsonl", *(["--max-chars", str(max_chars)] if max_chars else [])]
    return _parse_lines(run_weft(args, "".join(json.dumps(t) + "\n" for t in texts), repo_root), len(texts))


def strip_boilerplate(rows: Sequence[tuple[str, str, str]], repo_root: Path = REPO_ROOT) -> list[str]:
    """``weft clean-text --jsonl --strip-boilerplate`` over ``(text, vendor, product_id)`` rows.

    The per-vendor boilerplate statistics are learned from all rows given, as text-ingest learns
    them from a vendor's products.
    """
    if not rows:
        return []
    lines = "".join(json.dumps({"text": t, "vendor": v, "productId": p}) + "\n" for t, v, p in rows)
    return _parse_lines(run_weft(["clean-text", "--jsonl", "--strip-boilerplate"], lines, repo_root), len(rows))


def _parse_lines(out: str, expected: int) -> list[str]:
    lines = out.splitlines()
    if len(lines) != expected:
        raise WeftCliError(f"weft clean-text returned {len(lines)} lines for {expected} texts")
    cleaned = [json.loads(line) for line in lines]
    bad = [i for i, c in enumerate(cleaned) if not isinstance(c, str)]
    if bad:
        raise WeftCliError(f"weft clean-text rejected {len(bad)} texts (first index {bad[0]})")
    return cleaned


def normalize_colors(names: Sequence[str], repo_root: Path = REPO_ROOT) -> dict[str, str]:
    """Vendor color name → base color slug (``unknown``/``multicolor`` when there is none), via ``weft color``."""
    unique = sorted({n.strip() for n in names if n and n.strip() and "\n" not in n})
    if not unique:
        return {}
    out = run_weft(["color"], "".join(n + "\n" for n in unique), repo_root)
    mapping: dict[str, str] = {}
    for line in out.splitlines():
        raw, sep, base = line.rpartition("\t")
        if sep:
            mapping[raw] = base.strip()
    missing = [n for n in unique if n not in mapping]
    if missing:
        raise WeftCliError(f"weft color gave no answer for {len(missing)} names, e.g. {missing[:3]}")
    return mapping
