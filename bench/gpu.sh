#!/usr/bin/env bash
# The engine's GPU tests and the generation bench, on one GPU, unattended (< 8 minutes on an
# H200):
#     bash bench/gpu.sh OUT_DIR
# OUT_DIR gets engine-tests.txt (pytest's CUDA tests of the engine, when pytest is there),
# generate.log and generate-<gpu>.json (bench/generate.py, which runs the same checks itself
# and writes its JSON after every section, so a run cut short keeps what it measured).
set -uo pipefail
out=${1:?usage: bash bench/gpu.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
python=${PYTHON:-python3}
if "$python" -c "import pytest" 2>/dev/null; then
    timeout 90 "$python" -m pytest -q -p no:cacheprovider tests/test_engine.py -k cuda \
        2>&1 | tee "$out/engine-tests.txt"
else
    echo "pytest is not installed: bench/generate.py runs the engine's checks" \
        | tee "$out/engine-tests.txt"
fi
timeout 380 "$python" bench/generate.py --out "$out" 2>&1 | tee "$out/generate.log"
