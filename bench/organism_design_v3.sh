#!/usr/bin/env bash
# Organism v3 design table (issue 21, docs/gpu/organism-v3/PLAN.md) on one GPU, resumable:
# every step skips what is already finished, so the table can be built over several calls.
#
#   bash bench/organism_design_v3.sh OUT pretrain   # organisms + benchmarks + base evaluations
#   bash bench/organism_design_v3.sh OUT train      # instruct stages, X = 0 GRPO, evaluations
#   bash bench/organism_design_v3.sh OUT table      # design.csv / design.md (CPU is enough)
#   bash bench/organism_design_v3.sh OUT all
#
# Rows (pretraining seed 0): the v2 `full` organism, each v3 knob alone over it, all knobs
# (preset v3), and the instruct stage over `full` and over v3. Everything is measured on the
# v3 *validation* split, never on test. Each organism is evaluated on a benchmark rendered
# the way it was pretrained (worded steps, native digits).
set -uo pipefail
OUT=${1:?usage: organism_design_v3.sh OUT pretrain|train|table|all}
STAGE=${2:-all}
X="python3 -m xling.cli"
# Sizes (smaller values make a CPU smoke run of the script itself):
N_VAL=${N_VAL:-250} N_TRAIN=${N_TRAIN:-4000} N_ROWS=${N_ROWS:-1024} ROLLOUTS=${ROLLOUTS:-1024}
PRETRAIN_SET=${PRETRAIN_SET:-}  # extra --set options for every pretraining (smoke: steps=...)
WORKERS=${WORKERS:-3}           # data workers per pretraining (5 run at once)
GRPO_EXTRA=${GRPO_EXTRA:-} SFT_EXTRA=${SFT_EXTRA:-} EVAL_BATCH=${EVAL_BATCH:-512}
mkdir -p "$OUT"
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 COLUMNS=${COLUMNS:-150}
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/summary.txt"; }

# row -> "preset|--set options|benchmark rendering"
declare -A ORGANISM=(
  [full]="full||shared"
  [worded]="full|arithmetic=\"localized\"|localized"
  [digits]="full|native_digits=true|digits"
  [coverage]="full|type_coverage={default = 1.0, bn = 0.6, sw = 0.6, te = 0.6}|shared"
  [v3]="v3||localized-digits"
)
ORGANISMS="full worded digits coverage v3"
INSTRUCT="full v3"  # rows full-instruct and v3-instruct
declare -A BENCH_FLAGS=(
  [shared]="--arithmetic shared --no-native-digits"
  [localized]="--arithmetic localized --no-native-digits"
  [digits]="--arithmetic shared --native-digits"
  [localized-digits]="--arithmetic localized --native-digits"
)
bench_of() { IFS='|' read -r _ _ b <<<"${ORGANISM[${1%-instruct}]}"; echo "$OUT/bench-$b"; }
EVAL_OPTS="--bench jsonl --bench-name synth --id-field id --max-new-tokens 192 --score-workers 2"
evaluate() {  # model dir, run dir, benchmark dir
  [ -f "$2/metrics.json" ] && return 0
  [ -f "$1/config.json" ] || { echo "skip $2: no model in $1"; return 0; }
  $X eval --model "$1" --data "$3/validation" $EVAL_OPTS --batch-size "$EVAL_BATCH" --out "$2" \
    >"$2.log" 2>&1 || echo "eval $2 failed: $(tail -1 "$2.log")"
}

pretrain_stage() {
  log "benchmarks (v3 splits: validation [0, 0.1), test [0.1, 0.2) of the content hash)"
  for b in "${!BENCH_FLAGS[@]}"; do
    [ -d "$OUT/bench-$b/validation" ] || $X organism build-bench --out "$OUT/bench-$b" \
      --splits v3 --n-validation "$N_VAL" --n-test "$N_VAL" --n-train "$N_TRAIN" \
      ${BENCH_FLAGS[$b]} >"$OUT/bench-$b.log" 2>&1 &
  done
  wait
  log "pretraining: $ORGANISMS"
  for row in $ORGANISMS; do
    [ -f "$OUT/org-$row/organism.json" ] && continue
    IFS='|' read -r preset sets _ <<<"${ORGANISM[$row]}"
    args=(--preset "$preset" --out "$OUT/org-$row" --set "data_workers=$WORKERS")
    [ -f "$OUT/org-$row/checkpoint/state.pt" ] && args+=(--resume)
    [ -n "$sets" ] && args+=(--set "$sets")
    for s in $PRETRAIN_SET; do args+=(--set "$s"); done
    $X organism pretrain "${args[@]}" >>"$OUT/pretrain-$row.log" 2>&1 &
  done
  wait
  for row in $ORGANISMS; do tail -1 "$OUT/pretrain-$row.log" | tee -a "$OUT/summary.txt"; done
  log "base evaluations (validation)"
  for row in $ORGANISMS; do evaluate "$OUT/org-$row" "$OUT/eval-$row-base" "$(bench_of "$row")" & done
  wait
}

grpo() {  # base model dir, row name
  local run="$OUT/grpo-$2"
  [ -d "$run/final" ] && return 0
  [ -f "$1/config.json" ] || { echo "skip $run: no model in $1"; return 0; }
  $X train grpo --model "$1" --data "$(bench_of "$2")-x0.jsonl" --out "$run" \
    --num-generations 16 --per-device-batch-size "$ROLLOUTS" --gradient-accumulation-steps 1 \
    --max-completion-length 192 --learning-rate 1e-4 --beta 0 --precision fp32 \
    --score-workers 2 --save-steps 16 --report-to none $GRPO_EXTRA --resume >>"$run.log" 2>&1
}

train_stage() {
  log "X = 0 training rows and instruct-stage targets"
  for b in "${!BENCH_FLAGS[@]}"; do
    [ -f "$OUT/bench-$b-x0.jsonl" ] || $X data parallel --bench jsonl --data "$OUT/bench-$b/train" \
      --bench-name synth --id-field id --x 0 --n "$N_ROWS" --out "$OUT/bench-$b-x0.jsonl" >/dev/null
    # The instruct stage's English problems: a draw of its own (seed 1), twice the size.
    [ -f "$OUT/bench-$b-instruct.jsonl" ] || $X data parallel --bench jsonl \
      --data "$OUT/bench-$b/train" --bench-name synth --id-field id --x 0 --n $((2 * N_ROWS)) \
      --seed 1 --out "$OUT/bench-$b-instruct.jsonl" >/dev/null
  done
  log "instruct stage (self-distillation into the step-by-step format) + GRPO from the bases"
  for row in $INSTRUCT; do
    (
      run="$OUT/org-$row-instruct"
      if [ ! -d "$run/final" ] && [ -f "$OUT/org-$row/organism.json" ]; then
        $X train sft --model "$OUT/org-$row" --data "$(bench_of "$row")-instruct.jsonl" \
          --out "$run" --source rejection --no-rejection-require-correct --rejection-format think \
          --rejection-samples 4 --rejection-temperature 0.7 --rejection-max-new-tokens 192 \
          --rejection-batch-size 256 --learning-rate 1e-4 --num-train-epochs 1 \
          --per-device-batch-size 64 --max-length 384 --precision fp32 --save-steps 1000 \
          --report-to none --score-workers 2 $SFT_EXTRA >>"$run.log" 2>&1 \
          || echo "instruct $row failed: $(tail -1 "$run.log")"
      fi
      evaluate "$run/final" "$OUT/eval-$row-instruct-base" "$(bench_of "$row")"
      grpo "$run/final" "$row-instruct"
    ) &
  done
  for row in $ORGANISMS; do grpo "$OUT/org-$row" "$row" & done
  wait
  log "trained evaluations (validation)"
  for row in $ORGANISMS $(for r in $INSTRUCT; do echo "$r-instruct"; done); do
    [ -d "$OUT/grpo-$row/final" ] && evaluate "$OUT/grpo-$row/final" "$OUT/eval-$row-x0" \
      "$(bench_of "$row")" &
  done
  wait
}

table_stage() {
  for row in $ORGANISMS $(for r in $INSTRUCT; do echo "$r-instruct"; done); do
    [ -f "$OUT/eval-$row-x0/metrics.json" ] && [ ! -f "$OUT/compare-$row.json" ] && \
      $X compare "$OUT/eval-$row-base" "$OUT/eval-$row-x0" --train-langs en --n-boot 2000 \
        --json "$OUT/compare-$row.json" >/dev/null 2>&1
  done
  python3 "$(dirname "$0")/organism_design_v3_table.py" "$OUT" | tee -a "$OUT/summary.txt"
}

case $STAGE in
  pretrain) pretrain_stage ;;
  train) train_stage ;;
  table) table_stage ;;
  all) pretrain_stage; train_stage; table_stage ;;
  *) echo "unknown stage $STAGE" >&2; exit 2 ;;
esac
log "stage $STAGE done"
