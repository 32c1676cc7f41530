#!/usr/bin/env bash
# Data-parallel evaluation writes what one process writes (issue 24):
#   bash bench/dp_eval.sh OUT [PROCESSES]
# evaluates the organism on the synthetic benchmark (en, es, sw; 24 problems each; 2 samples
# at temperature 1) once in one process at batch size 5 and once under torchrun with
# PROCESSES ranks (default 2) at batch size 16, then prints how many samples and scores are
# identical. On a GPU machine the ranks share the GPUs there (rank r on GPU r mod count).
set -euo pipefail
out=${1:?usage: bench/dp_eval.sh OUT [PROCESSES]}
procs=${2:-2}
mkdir -p "$out"
python -c "from xling.world import build_benchmark; build_benchmark('$out/bench', n_train=0, n_test=24, seed=0, langs=('en', 'es', 'sw'))"
common=(eval --model organism --bench jsonl --data "$out/bench/test" --bench-name synth
        --id-field id --langs en,es,sw --set n=2 --temperature 1 --max-new-tokens 96
        --score-workers 2)
start=$(date +%s)
python -m xling.cli "${common[@]}" --batch-size 5 --out "$out/one" > "$out/one.log" 2>&1
mid=$(date +%s)
torchrun --standalone --nproc_per_node "$procs" -m xling.cli "${common[@]}" --batch-size 16 \
  --out "$out/dp" > "$out/dp.log" 2>&1
end=$(date +%s)
python - "$out" "$procs" $((mid - start)) $((end - mid)) <<'PY'
import json, sys
from pathlib import Path
out, procs, t_one, t_dp = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def rows(run, name, field):
    lines = (out / run / name).read_text(encoding="utf-8").splitlines()
    return {(r["lang"], r["id"], r["sample"]): r[field] for r in map(json.loads, lines)}
for name, field in (("generations.jsonl", "output"), ("scores.jsonl", "correct")):
    one, dp = rows("one", name, field), rows("dp", name, field)
    same = sum(one[k] == dp.get(k) for k in one)
    print(f"{name}: {same}/{len(one)} identical (one process vs {procs} ranks)")
print(f"wall: one process {t_one} s, {procs} ranks {t_dp} s")
PY
