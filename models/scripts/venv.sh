#!/usr/bin/env bash
# Creates or updates models/.venv from requirements.txt. Idempotent: skips pip entirely when the
# pinned requirements and pyproject.toml have not changed since the last successful install.
set -euo pipefail
MODELS_DIR="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$MODELS_DIR/.venv"
STAMP="$VENV/.weft-requirements.sha256"

pick_python() {
  for candidate in "${WEFT_PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && \
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "venv.sh: Python 3.11 not found (set WEFT_PYTHON to its path)" >&2
  return 1
}

want="$(cat "$MODELS_DIR/requirements.txt" "$MODELS_DIR/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  PY="$(pick_python)"
  echo "venv.sh: creating $VENV with $PY" >&2
  "$PY" -m venv "$VENV"
fi
echo "venv.sh: installing pinned requirements into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$MODELS_DIR/requirements.txt"
# Editable install so `python -m weft_models...` works from any folder; deps are already pinned above.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$MODELS_DIR"
echo "$want" > "$STAMP"
