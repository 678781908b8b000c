#!/usr/bin/env bash
# The main job end to end on an embedded default: synthetic data -> train -> evaluate.
set -euo pipefail
out=${DEMO_DIR:-demo}
rm -rf "$out"
python -m training.demo_data "$out/data" 40
edge-all train --data "$out/data" --out "$out/run" --backbone tiny --weights none --epochs 15 --image-size 64
edge-all evaluate "$out/run"
