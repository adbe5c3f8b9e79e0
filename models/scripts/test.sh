#!/usr/bin/env bash
# `npm run test:py`: make sure the venv is current, then run the Python tests.
set -euo pipefail
MODELS_DIR="$(cd "$(dirname "$0")/.." && pwd)"
bash "$MODELS_DIR/scripts/venv.sh"
cd "$MODELS_DIR"
status=0
"$MODELS_DIR/.venv/bin/python" -m pytest tests "$@" || status=$?
# pytest exits 5 when nothing was collected (e.g. a -k filter matching nothing); that is not a failure
# of the code under test, but say so loudly rather than passing silently.
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 0
fi
exit "$status"
