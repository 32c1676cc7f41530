"""The hostile corpus through the real scorer: hangs, crashes and timeouts by family (issue 22).

    .venv/bin/python bench/hostile.py [--n 10000] [--seed 0] [--max-bytes 1048576] \\
        [--workers 2] [--timeout 5] [--json-out docs/perf/hostile.json]

Scores `xling.testing.hostile` items with `xling.scoring.score_many` as evaluation runs it
(worker processes, each item under the hard timeout) and reports: items, hangs (no score
for timeout x --hang-factor + --hang-margin seconds: the run is aborted), crashes (an
exception out of score_many, a score out of order, a score with status "error", listed by
family), timeouts by family, no-answer count, benign controls scored wrong, items/s and
peak RSS. Injections write to a fresh canary path; the bench fails if it exists afterwards.
Exit status 1 on any hang, crash, wrong benign control or canary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xling.records import Generation, Key
from xling.scoring import DEFAULT_TIMEOUT_S, score_many
from xling.testing.hostile import (
    DEFAULT_MAX_BYTES,
    FAMILIES,
    ScoringHang,
    family_of,
    iter_hostile,
    variant_of,
    watched,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_PER_FAMILY = 3


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _recorded(gens: Iterator[Generation], keys: deque[Key]) -> Iterator[Generation]:
    """`gens`, each key noted as it goes to the scorer, so scores can be checked in order."""
    for gen in gens:
        keys.append(gen.key)
        yield gen


def run(args: argparse.Namespace) -> dict[str, Any]:
    canary = Path(tempfile.mkdtemp(prefix="xling-hostile-")) / "pwned"
    hang_after = args.timeout * args.hang_factor + args.hang_margin
    keys: deque[Key] = deque()
    gens = _recorded(iter_hostile(args.n, args.seed, args.max_bytes, canary=canary), keys)
    status_by_family: dict[str, Counter[str]] = {f: Counter() for f in FAMILIES}
    timeouts_by_variant: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    benign_wrong: list[str] = []
    out_of_order: list[str] = []
    aborted = ""
    hangs = exceptions = items = 0
    max_gap = 0.0
    start = last = time.perf_counter()
    try:
        scores = score_many(gens, workers=args.workers, timeout_s=args.timeout)
        for score in watched(scores, hang_after_s=hang_after):
            now = time.perf_counter()
            max_gap, last = max(max_gap, now - last), now
            items += 1
            expected = keys.popleft()
            if score.key != expected:
                out_of_order.append(f"{expected[2]} got {score.key[2]}")
                continue
            family = family_of(score)
            status_by_family[family][score.status] += 1
            if score.status == "timeout":
                timeouts_by_variant[f"{family}/{variant_of(score)}"] += 1
            if score.status == "error" and len(examples[family]) < EXAMPLES_PER_FAMILY:
                examples[family].append(f"{score.id} ({score.lang}): {score.detail}")
            if family == "benign" and not score.correct:
                benign_wrong.append(f"{score.id} ({score.lang}) pred={score.pred!r}"[:200])
            if items % 1000 == 0:
                print(
                    f"  {items} items, {now - start:.0f} s, "
                    f"{sum(c['timeout'] for c in status_by_family.values())} timeouts",
                    file=sys.stderr,
                    flush=True,
                )
    except ScoringHang as exc:
        hangs, aborted = 1, f"hang: {exc} (limit {hang_after:g} s)"
    except Exception as exc:  # the scorer must not raise on any output: a crash
        exceptions, aborted = 1, f"score_many raised {type(exc).__name__}: {exc}"[:500]
    elapsed = time.perf_counter() - start

    def by_family(status: str) -> dict[str, int]:
        return {f: c[status] for f, c in status_by_family.items() if c[status]}

    errors = by_family("error")
    crashes = exceptions + len(out_of_order) + sum(errors.values())
    return {
        "command": "python bench/hostile.py " + " ".join(sys.argv[1:]),
        "n": args.n,
        "seed": args.seed,
        "max_bytes": args.max_bytes,
        "workers": args.workers,
        "timeout_s": args.timeout,
        "hang_after_s": hang_after,
        "items": items,
        "hangs": hangs,
        "crashes": crashes,
        "aborted": aborted,
        "out_of_order": out_of_order[:10],
        "errors_by_family": errors,
        "error_examples": dict(examples),
        "timeouts": sum(by_family("timeout").values()),
        "timeouts_by_family": by_family("timeout"),
        "timeouts_by_variant": dict(timeouts_by_variant.most_common()),
        "no_answer": sum(by_family("no_answer").values()),
        "benign": sum(status_by_family["benign"].values()),
        "benign_wrong": benign_wrong[:20],
        "benign_wrong_count": len(benign_wrong),
        "canary_created": canary.exists(),
        "wall_s": round(elapsed, 1),
        "items_per_s": round(items / elapsed, 2) if elapsed else 0.0,
        "longest_wait_s": round(max_gap, 1),
        "peak_rss_main_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_rss_worker_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "machine": {
            "cpus": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)),
            "cpu": _cpu_model(),
            "python": platform.python_version(),
        },
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def report(r: dict[str, Any]) -> None:
    def table(counts: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"

    print(
        f"items             {r['items']} of {r['n']} (seed {r['seed']}, ≤ {r['max_bytes']} bytes)"
    )
    print(f"hangs             {r['hangs']}{'  ' + r['aborted'] if r['hangs'] else ''}")
    print(f"crashes           {r['crashes']}")
    if r["aborted"] and not r["hangs"]:
        print(f"  {r['aborted']}")
    if r["out_of_order"]:
        print(f"  out of order: {r['out_of_order']}")
    print(f"  errors by family: {table(r['errors_by_family'])}")
    for family, lines in r["error_examples"].items():
        for line in lines:
            print(f"    {family}: {line}")
    print(f"timeouts          {r['timeouts']} ({r['timeout_s']:g} s each)")
    print(f"  by family: {table(r['timeouts_by_family'])}")
    print(f"no answer         {r['no_answer']}")
    print(f"benign wrong      {r['benign_wrong_count']} of {r['benign']}")
    for line in r["benign_wrong"][:5]:
        print(f"    {line}")
    print(f"canary created    {'YES: injected code ran' if r['canary_created'] else 'no'}")
    print(f"wall time         {r['wall_s']} s with {r['workers']} workers")
    print(f"throughput        {r['items_per_s']} items/s (longest wait {r['longest_wait_s']} s)")
    print(f"peak RSS          main {r['peak_rss_main_mb']} MB, largest worker ", end="")
    print(f"{r['peak_rss_worker_mb']} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="items (default 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="per item, s")
    parser.add_argument("--hang-factor", type=float, default=4.0)
    parser.add_argument("--hang-margin", type=float, default=60.0, help="seconds")
    parser.add_argument("--json-out", type=Path, help="also write the figures here")
    args = parser.parse_args()
    result = run(args)
    report(result)
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    failed = (
        result["hangs"]
        or result["crashes"]
        or result["canary_created"]
        or result["benign_wrong_count"]
        or result["items"] != args.n
    )
    if result["hangs"]:
        # Hung workers were terminated, but pebble may have started new ones for the
        # remaining items: leave without waiting on them.
        sys.stdout.flush()
        os._exit(1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
