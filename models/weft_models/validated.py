"""Reading JSON contract files (manifests, the taxonomy mapping) into pydantic models, with errors
that name the file and every problem, the way the TypeScript readers word them."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def parse_validated(model: type[M], data: object, what: str, source: str, error: type[Exception]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as problem:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in problem.errors()
        )
        raise error(f"invalid {what} {source}: {problems}") from None


def load_validated(model: type[M], path: str | os.PathLike[str], what: str, error: type[Exception]) -> M:
    file = Path(path).resolve()
    if not file.exists():
        raise error(f"{what} not found: {file}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as problem:
        raise error(f"{what} {file} is not valid JSON: {problem}") from None
    return parse_validated(model, data, what, str(file), error)
