#!/usr/bin/env bash
# Every ParScale GPU figure in one go, on one H200 (~6–7 min estimated, see
# docs/parscale/README.md): the N × P study (gpu preset), the cost bench, and ParScale heads
# on the frozen organism evaluated in the 11 languages. Resumable: rerun to continue.
#
#   PYTHONPATH=$PWD/src bash bench/parscale_gpu.sh OUT
#
# OUT/study/report/   report.md/html, figures, tables, summary.json (the law's k, α, E, A)
# OUT/cost.json       memory/latency per token, P streams vs the equal-loss dense model
# OUT/heads/          comparison.md/json/csv (accuracy by language, gains over P = 1)
# OUT/*.log, OUT/times.txt
set -euo pipefail
OUT=${1:?usage: bench/parscale_gpu.sh OUT}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
start=$(date +%s)
stage() { echo "$1 $(( $(date +%s) - start ))" | tee -a "$OUT/times.txt"; }
stage study-start
$PY -m xling.cli parscale study --preset gpu --out "$OUT/study" 2>&1 | tee "$OUT/study.log"
stage cost-start
$PY -m xling.cli parscale cost --json "$OUT/cost.json" 2>&1 | tee "$OUT/cost.log"
stage heads-start
$PY -m xling.cli parscale organism-heads --out "$OUT/heads" --n-test 100 \
    --eval-batch-size 256 --score-workers 8 2>&1 | tee "$OUT/heads.log"
stage done
$PY - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
law = json.loads((out / "study/report/summary.json").read_text())["law"]
def ci(name):
    lo, hi = law["ci"][name]
    return f"{law[name]:.4g} [{lo:.4g}, {hi:.4g}]"
print("study law:", ", ".join(f"{n}={ci(n)}" for n in ("k", "alpha", "E", "A")),
      f"R2={law['r2']:.4f}, best by leave-one-out: {law['best_by_loo']}")
cost = json.loads((out / "cost.json").read_text())
for r in cost["ratios"]:
    if r["batch"] == 1:
        print(f"cost P={r['P']} batch 1: memory {r.get('peak_gb_ratio')}, kernel latency "
              f"{r.get('kernel_ms_ratio')}, roofline latency {r.get('roofline_ms_ratio')} "
              "(dense increase / ParScale increase; paper 22x / 6x)")
heads = json.loads((out / "heads/comparison.json").read_text())
for m in heads["models"]:
    low = m.get("low_resource_minus_english_gain", {})
    print(f"heads P={m['P']}: mean accuracy {100 * m['mean_accuracy']['value']:.1f}%"
          + (f", low-resource − English gain {100 * low['value']:+.1f} pp "
             f"[{100 * low['lo']:.1f}, {100 * low['hi']:.1f}]" if low.get("lo") is not None else ""))
PYEOF
