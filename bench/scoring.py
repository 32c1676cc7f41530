"""Scoring throughput on real traces: extract + verify + language ID, 2 worker processes.

    .venv/bin/python bench/scoring.py [--workers 2] [--repeat 1] [--traces PATH]

Prints traces scored per second and peak memory (this process and the largest worker).
Needs the shared s1 traces (../shared/data/s1-traces beside the checkout).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from xling.records import Generation
from xling.scoring import score_many

DEFAULT_TRACES = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "s1-traces" / "s1.1_sample.jsonl"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path, default=DEFAULT_TRACES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="score the traces N times")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    if not args.traces.exists():
        sys.exit(f"traces not found: {args.traces} (see the issue: shared/data/s1-traces)")

    rows = [json.loads(line) for line in args.traces.read_text(encoding="utf-8").splitlines()]
    gens = [
        Generation(
            benchmark="mgsm",
            lang=r["language"],
            id=f"{r['source']}-{r['mgsm_index']}",
            sample=rep,
            question=r["prompt"],
            answer=str(r["gold_answer"]),
            prompt=r["prompt"],
            output=r["output"],
        )
        for rep in range(args.repeat)
        for r in rows
    ]
    chars = sum(len(g.output) for g in gens)
    start = time.perf_counter()
    scores = list(score_many(gens, workers=args.workers, timeout_s=args.timeout))
    elapsed = time.perf_counter() - start
    correct = sum(s.correct for s in scores)
    strict = sum(bool(s.correct_strict) for s in scores)
    timeouts = sum(s.status == "timeout" for s in scores)
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"traces            {len(gens)} ({chars / 1e6:.1f} M characters)")
    print(f"workers           {args.workers}")
    print(f"wall time         {elapsed:.1f} s (worker start-up and detector load included)")
    print(f"throughput        {len(gens) / elapsed:.1f} traces/s")
    print(f"correct           {correct} ({100 * correct / len(gens):.1f}%), timeouts {timeouts}")
    print(f"correct (strict)  {strict} ({100 * strict / len(gens):.1f}%)")
    print(f"peak RSS          main {self_mb:.0f} MB, largest worker {child_mb:.0f} MB")


if __name__ == "__main__":
    main()
