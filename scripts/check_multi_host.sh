#!/usr/bin/env bash
# Check multi-host data parallelism on one machine: two processes (one CPU device each) joined by
# JAX's distributed runtime must train exactly as one process with two (simulated) devices does.
#   scripts/check_multi_host.sh DATA_DIR WORK_DIR [extra edge-all train options]
# docs/training.md ("Several hosts") has the result and the two-host commands this stands in for.
set -euo pipefail
data=$1 work=$2
shift 2
mkdir -p "$work"
train=(edge-all train --data "$data" --backbone tiny --weights none --epochs 2 --augment d4
       --batch-size 16 --image-size 32 --quiet --distribute "$@")
export KERAS_BACKEND=jax
XLA_FLAGS=--xla_force_host_platform_device_count=2 "${train[@]}" --out "$work/one-host" --force
export KERAS_DISTRIBUTION_JOB_ADDRESSES=localhost:${PORT:-12421} KERAS_DISTRIBUTION_NUM_PROCESSES=2
for id in 0 1; do
    KERAS_DISTRIBUTION_PROCESS_ID=$id "${train[@]}" --out "$work/host-$id" --force > "$work/host-$id.log" 2>&1 &
done
wait
python3 - "$work" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
runs = {name: json.loads((work / name / "history.json").read_text()) for name in ("one-host", "host-0", "host-1")}
for name, history in runs.items():
    devices = json.loads((work / name / "config.json").read_text())["distribution"]
    print(f"{name:8} {devices}  loss {history['loss']}  val_loss {history['val_loss']}")
same = all(runs[n][k] == runs["one-host"][k] for n in ("host-0", "host-1") for k in ("loss", "val_loss", "data_fingerprint"))
print("identical: two hosts trained exactly as one host with two devices" if same else "DIFFERENT")
sys.exit(0 if same else 1)
PY
