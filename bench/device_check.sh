#!/usr/bin/env bash
# GPU validation on a lent device machine (see docs/benchmarks.md, "GPU checks"): the CUDA-only
# tests and the whole platform (`visionyard up --demo`) with a GPU agent. The device image has
# Python 3.12 + PyTorch but not the web/database stack: carry it as wheels in .whl/ (see
# /work/.library/device/README.md) and run from the repo root with $OUT set.
#
#   bash bench/device_check.sh             # the checks below (at most ~7 min)
#   bash bench/device_check.sh gpu-bench   # bench/gpu.py alone (~6 min; .whl/ must hold timm)
#
# Two separate calls: together they would not fit one device command's 10 minutes.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD/src:$PWD" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi -L | tee "$OUT/nvidia-smi.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a "$OUT/nvidia-smi.txt"
if [ "${1:-checks}" = "gpu-bench" ]; then
  # inside the command's limit; after a timeout gpu.json holds every variant measured so far
  timeout 560 python3 bench/gpu.py --json "$OUT/gpu.json" 2>&1 | tee "$OUT/gpu.log"
  exit "${PIPESTATUS[0]}"
fi
# The agent test first and alone: a CUDA context in the pytest process would count as a foreign
# process on the GPU (the agent refuses to claim while one exists).
timeout 150 python3 -m pytest tests/agent/test_gpu_agent.py -q -rs -o addopts="" \
  -p no:cacheprovider -W ignore::DeprecationWarning --timeout 140 2>&1 | tee "$OUT/gpu_agent.log"
timeout 120 python3 -m pytest -m gpu tests/training tests/agent -q -rs -o addopts="" \
  --ignore=tests/agent/test_gpu_agent.py -p no:cacheprovider -W ignore::DeprecationWarning \
  --timeout 100 2>&1 | tee "$OUT/gpu_tests.log"
VISIONYARD_DATA_DIR=/tmp/vy timeout 150 python3 -m visionyard.cli up --demo --exit-after-demo \
  --port 8799 2>&1 | tee "$OUT/up_demo.log"
