#!/usr/bin/env bash
# A study at a real model's shape, end to end in one call (issue 26): make a random-weight
# model of the shape, run docs/gpu/scale/study-1.5b.toml on it (evaluation before and
# after, GRPO at X = 0 and 1, reports), and pack the study's results without weights.
#
#     bash bench/scale_study.sh OUT_DIR      # one GPU: the Qwen2.5-1.5B shape, ~6 min on an H200
#     SCALE_SHAPE=tiny PYTHON=.venv/bin/python bash bench/scale_study.sh OUT_DIR
#                                            # CPU smoke: tiny shape, every size shrunk, ~2 min
#
# OUT_DIR gets scale-study.log (everything printed), scale-study-times.txt (seconds per
# stage and per study step), model.json (what was made), report.md (the grpo arm's report) and
# scale-study.tar.gz (the study folder less weights, checkpoints and tokenizer files).
# Environment: SCALE_SHAPE (qwen2.5-1.5b | qwen2.5-7b | tiny), PYTHON (python3), SCALE_WORK
# (where the model and the study go; a fresh temporary folder by default), SCALE_STUDY_TIMEOUT
# (seconds the study may run, 510 by default: a study cut short is still packed and its log
# kept, inside a 10-minute device call).
set -uo pipefail
out=${1:?usage: bash bench/scale_study.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
shape=${SCALE_SHAPE:-qwen2.5-1.5b}
work=${SCALE_WORK:-$(mktemp -d /tmp/xling-scale-study.XXXXXX)}
study=docs/gpu/scale/study-1.5b.toml
log="$out/scale-study.log"
times="$out/scale-study-times.txt"
: >"$log"
: >"$times"

sets=(--set "base_model=\"$work/model\"")
if [ "$shape" = tiny ]; then
    # The same steps at CPU sizes: 2 test problems a language, 4 training rows, G = 2,
    # 16-token completions, float32 (bf16 matrix products are slow on most CPUs).
    sets+=(
        --set synthetic.n_train=8 --set synthetic.n_test=2 --set train_data.n=4
        --set grpo.num_generations=2 --set grpo.per_device_batch_size=4
        --set grpo.gradient_accumulation_steps=1 --set grpo.max_completion_length=16
        --set 'grpo.precision="fp32"' --set 'grpo.model_dtype="float32"'
        --set grpo.gradient_checkpointing=false --set grpo.score_workers=1
        --set eval.max_new_tokens=16 --set eval.batch_size=32 --set eval.score_workers=1
        --set report.n_boot=50
    )
fi

stage() {  # stage NAME COMMAND...: run it, log its output, record its seconds
    local name=$1 started=$SECONDS status
    shift
    echo "== $name: $*" | tee -a "$log"
    "$@" 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
    echo "$name $((SECONDS - started)) s (status $status)" | tee -a "$times"
    return "$status"
}

stage model "$python" bench/random_model.py --shape "$shape" --out "$work/model" || exit 1
cp "$work/model/random_model.json" "$out/model.json"
stage study timeout "${SCALE_STUDY_TIMEOUT:-510}" \
    "$python" -m xling.cli study run "$study" --out "$work/study" "${sets[@]}"
status=$?
# Each finished step's seconds, from the study's own step markers.
"$python" - "$work/study/steps" <<'PY' | tee -a "$times"
import json, sys
from pathlib import Path

for marker in sorted(Path(sys.argv[1]).glob("*.json"), key=lambda p: p.stat().st_mtime):
    step = json.loads(marker.read_text())
    print(f"  {step.get('step', marker.stem)} {step.get('seconds', '?')} s")
PY
# Weights, checkpoints and the 4 MB tokenizer of each model folder stay behind.
stage pack tar -czf "$out/scale-study.tar.gz" -C "$work" \
    --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' --exclude='*.pth' \
    --exclude='checkpoint-*' --exclude='tokenizer.json' study
[ -f "$work/study/report/grpo/report.md" ] && cp "$work/study/report/grpo/report.md" "$out/report.md"
echo "total $SECONDS s" | tee -a "$times"
ls -la "$out"
exit "$status"
