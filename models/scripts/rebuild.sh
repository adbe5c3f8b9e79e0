#!/usr/bin/env bash
# Rebuild the committed demo models from scratch: data → detector → image → text → baselines → compare → evaluation
# (ensemble.json + report) into models/artifacts. Extra arguments go to the pipeline, e.g.
#   models/scripts/rebuild.sh --config my-pipeline.json     (sizes, budgets, output folders)
#   models/scripts/rebuild.sh --skip baselines              (leave out the comparison models)
# Without --fresh it resumes: finished training stages are reused from models/build.
set -euo pipefail
MODELS_DIR="$(cd "$(dirname "$0")/.." && pwd)"
bash "$MODELS_DIR/scripts/venv.sh"
cd "$MODELS_DIR"
export HF_HUB_OFFLINE=1 TQDM_DISABLE="${TQDM_DISABLE:-}"
exec "$MODELS_DIR/.venv/bin/python" -m weft_models.pipeline all "$@"
