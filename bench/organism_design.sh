#!/usr/bin/env bash
# Organism v2 design check on one GPU, in one run (~6 min on an H200):
#   1. pretrain the presets given (default: full full-plain small) side by side on the GPU;
#   2. evaluate each base model: greedy on 250 synthetic test problems in all 11 languages,
#      and 8 samples at temperature 1.0 on the English ones (pass@8 vs pass@1);
#   3. GRPO at X = 0 (English only, the paper's protocol: 1,000 problems, G = 16,
#      0.8/0.1/0.1) from each base, and for `full` also at two more learning rates;
#   4. evaluate every trained model greedily and compare it with its base (paired bootstrap).
# Everything lands under $1 (default /tmp/design); `summary.txt` holds the tables.
#
#   bash bench/organism_design.sh /tmp/design [preset ...]
set -uo pipefail
OUT=${1:-/tmp/design}; shift || true
PRESETS=${*:-full full-plain small}
X="python3 -m xling.cli"
# Sizes (override for a CPU smoke run of the script itself):
N_TEST=${N_TEST:-250} N_TRAIN_ROWS=${N_TRAIN_ROWS:-1000} ROLLOUTS=${ROLLOUTS:-1024}
GRPO_EXTRA=${GRPO_EXTRA:-}
mkdir -p "$OUT"
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 COLUMNS=${COLUMNS:-150}
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/summary.txt"; }

log "pretraining: $PRESETS"
for p in $PRESETS; do
  $X organism pretrain --preset "$p" --out "$OUT/org-$p" >"$OUT/pretrain-$p.log" 2>&1 &
done
wait
for p in $PRESETS; do tail -2 "$OUT/pretrain-$p.log" | tee -a "$OUT/summary.txt"; done

log "synthetic benchmark"
$X organism build-bench --out "$OUT/bench" --n-train 4000 --n-test "$N_TEST" >/dev/null
EVAL="--bench jsonl --data $OUT/bench/test --bench-name synth --id-field id --max-new-tokens 192"

log "base evaluations"
for p in $PRESETS; do
  ( $X eval --model "$OUT/org-$p" $EVAL --batch-size 512 --score-workers 4 \
      --out "$OUT/eval-$p-base" >"$OUT/eval-$p-base.log" 2>&1
    $X eval --model "$OUT/org-$p" $EVAL --langs en --n 8 --temperature 1.0 --batch-size 512 \
      --score-workers 4 --out "$OUT/eval-$p-base-t1" >"$OUT/eval-$p-base-t1.log" 2>&1 ) &
done
wait

log "GRPO, X = 0"
$X data parallel --bench jsonl --data "$OUT/bench/train" --bench-name synth --id-field id \
  --x 0 --n "$N_TRAIN_ROWS" --out "$OUT/x0.jsonl" >/dev/null
RUNS=()
for p in $PRESETS; do
  lrs="1e-4"; [ "$p" = full ] && lrs="3e-5 1e-4 3e-4"
  for lr in $lrs; do
    name="$p-lr$lr"; RUNS+=("$name")
    $X train grpo --model "$OUT/org-$p" --data "$OUT/x0.jsonl" --out "$OUT/grpo-$name" \
      --num-generations 16 --per-device-batch-size "$ROLLOUTS" $GRPO_EXTRA --gradient-accumulation-steps 1 \
      --max-completion-length 192 --learning-rate "$lr" --beta 0 --precision fp32 \
      --score-workers 3 --save-steps 100 --report-to none >"$OUT/grpo-$name.log" 2>&1 &
  done
done
wait

log "trained evaluations"
for name in "${RUNS[@]}"; do
  $X eval --model "$OUT/grpo-$name/final" $EVAL --batch-size 512 --score-workers 3 \
    --out "$OUT/eval-$name" >"$OUT/eval-$name.log" 2>&1 &
done
wait

for p in $PRESETS; do
  log "== $p: base behaviours (greedy) and English pass@k at T=1"
  $X organism behaviours "$OUT/eval-$p-base" 2>&1 | tee -a "$OUT/summary.txt"
  python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print({k: v for k, v in m['benchmarks']['synth']['langs']['en'].items() if 'pass' in k or k == 'accuracy'})" \
    "$OUT/eval-$p-base-t1/metrics.json" 2>&1 | tee -a "$OUT/summary.txt"
done
for name in "${RUNS[@]}"; do
  p=${name%-lr*}
  log "== GRPO $name vs base"
  tail -3 "$OUT/grpo-$name.log" >>"$OUT/summary.txt"
  $X organism behaviours "$OUT/eval-$name" 2>&1 | tee -a "$OUT/summary.txt"
  $X compare "$OUT/eval-$p-base" "$OUT/eval-$name" --train-langs en --n-boot 2000 \
    --json "$OUT/compare-$name.json" 2>&1 | tail -25 | tee -a "$OUT/summary.txt"
done
log "done"
