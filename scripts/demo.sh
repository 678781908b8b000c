#!/usr/bin/env bash
# The main job end to end on an embedded default (synthetic data, so it runs anywhere in about a minute):
# build a small dataset -> train -> convert to int8 with the accuracy gate -> capture-and-classify a
# video made from the held-back test images -> show what the results database recorded.
set -euo pipefail
out=${DEMO_DIR:-demo}
rm -rf "$out"

echo "== 1/5 synthetic dataset (Kaggle layout, with the public set's quirks)"
python -m training.demo_data "$out/data" 40

echo "== 2/5 train (tiny backbone; the clinic models are resnet50 / mobilenetv2, see docs/results.md)"
edge-all train --data "$out/data" --out "$out/run" --backbone tiny --weights none --epochs 15 --image-size 64

echo "== 3/5 convert to int8 TFLite; the bundle is published only if it passes the accuracy gate"
edge-all convert "$out/run" --int8 --out "$out/bundle"

echo "== 4/5 capture-and-classify a video of the held-back test split"
python -m training.demo_video --split "$out/run/split.json" --part test "$out/test-split.avi"
edge-all capture-and-classify --model "$out/bundle" --camera "video:$out/test-split.avi" \
    --sample-id demo-test-split --db "$out/results.db" --save-frames "$out/frames"

echo "== 5/5 what the results database holds"
edge-all results list --db "$out/results.db"
echo
echo "The video mixes all four classes, so the screening call is 'refer' (ALL-like cells in several fields): expected."
echo "Synthetic images: these numbers say nothing about accuracy on real smears (see docs/results.md)."
