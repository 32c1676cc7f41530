#!/usr/bin/env bash
# ParScale's law on real Python code (issue 25), on one H200, in pieces of under 10 minutes:
# rerun the same command (with OUT carried over) and it continues where it stopped.
#
#   PYTHONPATH=$PWD/src bash bench/parscale_code.sh OUT [MINUTES]
#
# 1. corpus   `xling parscale corpus --from site-packages` into $CORPUS (rebuilt each fresh
#             machine: deterministic, the study checks its manifest)
# 2. recipes  the P = 1 column of the code-gpu grid once per candidate learning rate
#             (OUT/lr-<lr>), then `xling parscale budget` picks one and judges the budget by
#             the rule fixed beforehand (src/xling/parscale/budget.py) → OUT/budget.json
# 3. grid     the chosen folder grows to P ∈ {1, 2, 4, 8}; its report is the fit
# 4. cost     `xling parscale cost --study` on the grid's largest and smallest sizes,
#             batch 1 and 64 → OUT/cost-<size>.json
# Every stage skips what is done; MINUTES bounds the training stages of this piece.
# Smoke on CPU: PRESET_SETS='...' LRS='3e-3 6e-3' CORPUS=DIR-WITH-A-CORPUS (see tests).
set -euo pipefail
OUT=${1:?usage: bench/parscale_code.sh OUT [MINUTES]}
MINUTES=${2:-9}
PY=${PYTHON:-python3}
CORPUS=${CORPUS:-/tmp/code}
LRS=${LRS:-1e-3 2e-3}
PRESET_SETS=${PRESET_SETS:-}
COST_BATCH=${COST_BATCH:-1,64}
mkdir -p "$OUT"
start=$(date +%s)
left() { $PY -c "print(max(0.0, $MINUTES - ($(date +%s) - $start) / 60))"; }
xling() { $PY -m xling.cli "$@"; }
sets=(--preset code-gpu --set "code_corpus='$CORPUS'")
for s in $PRESET_SETS; do sets+=(--set "$s"); done

if [ ! -f "$CORPUS/manifest.json" ]; then
    xling parscale corpus --from site-packages --out "$CORPUS"
fi
cp "$CORPUS/manifest.json" "$OUT/manifest.json"

folders=()
for lr in $LRS; do
    xling parscale study "${sets[@]}" --set "p_values=[1]" --set "train.lr=$lr" \
        --out "$OUT/lr-$lr" --max-minutes "$(left)"
    folders+=("$OUT/lr-$lr")
done
xling parscale budget "${folders[@]}" --json "$OUT/budget.json"
chosen=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['chosen'])" "$OUT/budget.json")
lr=$($PY -c "import json, sys; d = json.load(open(sys.argv[1])); \
print(next(s['train']['lr'] for s in d['studies'] if s['folder'] == d['chosen']))" "$OUT/budget.json")

xling parscale study "${sets[@]}" --set "train.lr=$lr" --out "$chosen" --max-minutes "$(left)"
[ -f "$chosen/report/summary.json" ] || { echo "grid not finished: rerun to continue"; exit 3; }

sizes=$($PY -c "import json, sys; s = json.load(open(sys.argv[1]))['settings']['sizes']; \
print(*{f\"h{x['hidden']}-l{x['layers']}\" for x in (s[0], s[-1])})" "$chosen/study.json")
for size in $sizes; do
    [ -f "$OUT/cost-$size.json" ] || xling parscale cost --study "$chosen" --size "$size" \
        --batch "$COST_BATCH" --json "$OUT/cost-$size.json"
done
echo "done: grid $chosen, cost $OUT/cost-*.json"
