#!/usr/bin/env bash
# The GPU path, measured in one command on a machine with a CUDA GPU (under 8 minutes):
#   benchmarks/gpu_check.sh [--json PATH]
# prints packed 1D throughput at GPU fractions 1, 0.5 and 0.1 against the CPU, float64 cuda vs
# cpu equivalence, one ResNet-50 smoke trial on a whole GPU and the paper preset's predicted time
# on that GPU (benchmarks/gpu_check.py). Without a CUDA GPU it stops at once with one line.
# PYTHON selects the interpreter (default: python).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "gpu_check: $PYTHON cannot import torch (set PYTHON to the project's interpreter)" >&2
    exit 2
fi
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA GPU on this machine (torch.cuda.is_available() is False); nothing measured" >&2
    exit 2
fi
exec "$PYTHON" benchmarks/gpu_check.py "$@"
