#!/usr/bin/env bash
# Issue 19's GPU runs on one H200, side by side: the demo recipe sweep (bench/demo_sweep.sh,
# validation draw) and the reference the demo prints beside its own figures, the GPU study's
# English-only GRPO (studies/full.toml, arm grpo, X = 0) over three training seeds. Both are
# resumable studies: run it again with the same OUT to finish what a time limit cut off.
#
#   bash bench/demo_gpu.sh OUT [SETTINGS...]
#
# Writes OUT/sweep (the sweep), OUT/reference (the study) and OUT/results.tar.gz (their
# tables, summaries and logs).
set -uo pipefail
OUT=${1:?usage: bench/demo_gpu.sh OUT [name:rows:prompts_per_step:lr ...]}; shift
SETTINGS=${*:-s256:256:32:1e-4 s512a:512:64:1e-4 s512b:512:32:1e-4 s512c:512:64:2e-4 \
s768:768:64:1e-4 s1024:1024:64:1e-4}
mkdir -p "$OUT"
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 COLUMNS=150
pack() {
  (cd "$OUT" && tar czf results.tar.gz --ignore-failed-read reference.log sweep.log \
    sweep/summary.txt sweep/sweep.csv sweep/*.log sweep/*/report/grpo/tables \
    sweep/*/report/grpo/report.md sweep/*/steps.csv reference/report/grpo/tables \
    reference/report/grpo/report.md reference/steps.csv 2>/dev/null)
  echo "results: $OUT/results.tar.gz"
}
# A time limit's TERM still leaves the tables finished so far.
trap 'pack; exit 143' TERM
python3 -m xling.cli study run src/xling/data/studies/full.toml --arms grpo \
  --set "out=\"$OUT/reference\"" --set 'x_values=[0]' --set 'seeds=[0,1,2]' \
  >"$OUT/reference.log" 2>&1 &
bash bench/demo_sweep.sh "$OUT/sweep" $SETTINGS >"$OUT/sweep.log" 2>&1 &
wait
pack
