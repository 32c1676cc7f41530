#!/usr/bin/env bash
# The two organisms of the organism v3 study (issue 21) and their instruct stages, made the
# way the design table made them (design/README.md): preset v3 pretrained with seeds 0 and
# 1 side by side on one GPU, then each one's instruct stage (self-distillation of its own
# English step-by-step rollouts on 2,048 train problems drawn with seed 1).
#
#   bash bench/organism_v3_organisms.sh [DEST]   # DEST: docs/gpu/organism-v3/organisms
#
# DEST ends up holding only what the study reads, small enough to keep in git so a study
# spread over several sittings always trains from the same organisms:
#   org-v3/, org-v3-s1/                  the pretrained organisms (bf16, as pretraining saves)
#   org-v3-instruct/, org-v3-s1-instruct/ the instruct stages, cast to bf16 like their base
# plus each one's organism.json / train.json. Work files go to DEST.work (delete after).
set -euo pipefail
DEST=${1:-docs/gpu/organism-v3/organisms}
WORK=$DEST.work
X="python3 -m xling.cli"
PRETRAIN_SET=${PRETRAIN_SET:-}  # smoke runs: "steps=4 batch_size=8"
SFT_EXTRA=${SFT_EXTRA:-}        # smoke runs: "--max-steps 1"
N_INSTRUCT=${N_INSTRUCT:-2048}
mkdir -p "$DEST" "$WORK"
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1

# The instruct stage's English problems: the v3 train split, rendered as v3 pretrains
# (steps in each language's words, native digits).
[ -d "$WORK/bench/train" ] || $X organism build-bench --out "$WORK/bench" --splits v3 \
  --n-validation 250 --n-test 250 --n-train 4000 --arithmetic localized --native-digits
[ -f "$WORK/instruct.jsonl" ] || $X data parallel --bench jsonl --data "$WORK/bench/train" \
  --bench-name synth --id-field id --x 0 --n "$N_INSTRUCT" --seed 1 --out "$WORK/instruct.jsonl"

pretrain() {  # seed name
  [ -f "$DEST/$2/organism.json" ] && return 0
  local args=(--preset v3 --seed "$1" --out "$WORK/$2" --set data_workers=6)
  for s in $PRETRAIN_SET; do args+=(--set "$s"); done
  $X organism pretrain "${args[@]}" >"$WORK/pretrain-$2.log" 2>&1
  mkdir -p "$DEST/$2"
  # The checkpoint (weights + optimizer) stays behind: the study reads only the model.
  find "$WORK/$2" -maxdepth 1 -type f -exec cp {} "$DEST/$2/" \;
}

instruct() {  # name
  [ -f "$DEST/$1-instruct/train.json" ] && return 0
  $X train sft --model "$DEST/$1" --data "$WORK/instruct.jsonl" --out "$WORK/$1-instruct" \
    --source rejection --no-rejection-require-correct --rejection-format think \
    --rejection-samples 4 --rejection-temperature 0.7 --rejection-max-new-tokens 192 \
    --rejection-batch-size 256 --learning-rate 1e-4 --num-train-epochs 1 \
    --per-device-batch-size 64 --max-length 384 --precision fp32 --save-steps 1000 \
    --report-to none --score-workers 2 $SFT_EXTRA >"$WORK/instruct-$1.log" 2>&1
  python3 - "$WORK/$1-instruct/final" "$DEST/$1-instruct" <<'PY'
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

src, dest = sys.argv[1:]
AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).to(torch.bfloat16).save_pretrained(dest)
AutoTokenizer.from_pretrained(src).save_pretrained(dest)
PY
  cp "$WORK/$1-instruct/train.json" "$DEST/$1-instruct/train.json"
}

# Side by side; `wait PID` makes either one's failure stop the script.
pretrain 0 org-v3 & first=$!
pretrain 1 org-v3-s1 & second=$!
wait $first; wait $second
instruct org-v3 & first=$!
instruct org-v3-s1 & second=$!
wait $first; wait $second
du -sh "$DEST"/*
