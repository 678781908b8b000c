#!/usr/bin/env bash
# The seed's ResNet50 trained from random initialisation on a GPU machine, then its int8 bundle.
# NOT RUN YET: no session so far had a GPU (docs/training.md, "ResNet50 on a GPU").
#
#   scripts/train_resnet50_gpu.sh [DATA_DIR] [RUN_DIR]
#
# Run it again after an interruption (preemption, a lost connection): --resume continues the run
# from its last completed epoch, and starts it when RUN_DIR holds none yet.
set -euo pipefail
data=${1:-../shared/data/ALL}
run=${2:-runs/resnet50-gpu}

export KERAS_BACKEND=jax  # --distribute is Keras's JAX distribution API
# every GPU JAX sees is used; say which before an hour is spent
python -c "import jax; print('devices:', jax.devices()); assert jax.default_backend() == 'gpu', 'no GPU'"

# --seed 0: the split of every run in docs/results.md. --head gap: ResNet50 with a pooled head
# converges from scratch, the seed's Flatten head far less so. clinic-v1: the augmentation policy
# of the robustness issue. bfloat16: the GPU's tensor cores (the saved model stays float32).
# --batch-size 64 is the global batch (16 per GPU on 4 GPUs, all 64 on one).
edge-all train --data "$data" --out "$run" --seed 0 \
    --backbone resnet50 --weights none --head gap --augment clinic-v1 \
    --epochs 80 --patience 15 --batch-size 64 --learning-rate 1e-3 \
    --precision bfloat16 --distribute --resume

# int8 bundle, gated against the float model on the test split (conversion runs on the CPU)
edge-all convert "$run" --int8 --out "$run/bundle-int8" --force
edge-all evaluate "$run" --robustness
