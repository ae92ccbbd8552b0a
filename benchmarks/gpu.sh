#!/usr/bin/env bash
# The encoding and training rows of the benchmark on CUDA (issue 10): rows 1, 2 and 5 with both
# sides on the GPU, in under 8 minutes. Writes benchmarks/results/gpu.json and gpu.md; never
# touches latest.json or docs/benchmarks.md. Fails at once, saying why, on a machine without CUDA.
#
#     benchmarks/gpu.sh            # from the repository root, after `make setup`
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 CI=1

if ! "$PY" - <<'PY'
import sys

import torch

if not torch.cuda.is_available():
    sys.exit(f"benchmarks/gpu.sh: no CUDA device (torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
             "run it on a machine with an NVIDIA GPU")
print(f"device: {torch.cuda.get_device_name(0)} (torch {torch.__version__}, CUDA {torch.version.cuda})")
PY
then
    exit 1
fi

# Sizes: a GPU encodes thousands of texts and hundreds of images a second, and a 10^5-node epoch
# takes milliseconds, so larger inputs than the CPU run keep the timings above the noise.
# timeout: the whole script must stay under 8 minutes.
exec timeout 450 "$PY" benchmarks/run.py --device cuda --only encoding train_epoch \
    --out benchmarks/results/gpu.json --against benchmarks/results/gpu.json \
    --sizes encoding="--texts 8000 --images 1024 --repeats 3" train_epoch="--nodes 100000 --epochs 20 --rounds 3"
