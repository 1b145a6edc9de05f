#!/usr/bin/env bash
# One GPU session: the plain-PyTorch reference and freezekit verify, side by side on the same card.
#
# Before the call, on the development machine (the reference is shared, never committed):
#   mkdir -p local && cp ../shared/reference/gpu_freeze_baseline.py local/
# then run this script on the GPU machine with `local` carried along. Results land in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench-results}"
mkdir -p "$OUT"
# The GPU machine has no network: run from the source tree instead of installing.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="$(command -v python3 || command -v python)"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
OUT="$OUT" "$PY" local/gpu_freeze_baseline.py | tee "$OUT/baseline.log"
"$PY" benchmarks/verify_savings.py --device cuda --dtypes float32,bfloat16 \
    --baseline "$OUT/gpu_freeze_baseline.json" --json "$OUT/verify_savings.json" | tee "$OUT/verify_savings.md"
# The memory plan's forecast (model states + activations) against max_memory_allocated over a real step.
"$PY" benchmarks/activations_gpu.py --json "$OUT/activations_gpu.json" | tee "$OUT/activations_gpu.md"
