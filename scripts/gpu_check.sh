#!/usr/bin/env bash
# GPU check: on a machine with CUDA, trains the default sentiment recipe a few hundred steps with
# cuDNN in fp32, bf16 and fp16 autocast, prints tokens/s next to the CPU's, and checks that the model predicts
# the same on the GPU and on the CPU. A minute or two; exit status 0 when every check passes.
#   bash scripts/gpu_check.sh                                   # embedded:zh-reviews
#   bash scripts/gpu_check.sh --data tsv:PATH --text-column sentence
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} exec "$PYTHON" scripts/gpu_check.py "$@"
