"""Time the paired bootstrap: 10 000 resamples × 11 languages × 500 problems, base vs trained,
computing every per-language gain, relative gain, off-target change and MTI with CIs.

    python bench/bootstrap.py [--n-boot 10000] [--problems 500] [--samples 1] [--repeat 3]

Prints the wall-clock seconds of the resampling + statistics (data generation excluded).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np

from xling.analysis.bootstrap import compute_cube
from xling.analysis.synthetic import DEMO_BASE, aligned_from_arrays, draw_correct
from xling.analysis.transfer import compare_from_cube


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=10_000)
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--samples", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    langs = list(DEMO_BASE)  # 11 languages
    rng = np.random.default_rng(0)
    base = np.array([DEMO_BASE[lang] for lang in langs])
    trained = np.minimum(base * 1.3, 0.98)
    acc = np.stack([base, trained])[..., None]  # (2 runs, 11 langs, 1)
    z = rng.standard_normal(args.problems)
    correct = draw_correct(
        np.broadcast_to(acc, (2, len(langs), args.problems)), z, rng, n_samples=args.samples
    )  # (2, 11, n, samples)
    off = rng.random(correct.shape) < 0.1
    aligned = aligned_from_arrays(correct, langs, ["base", "trained"], off=off)

    times = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        cube = compute_cube(aligned, n_boot=args.n_boot, seed=i)
        res = compare_from_cube(cube, 0, 1, ["en"])
        times.append(time.perf_counter() - t0)
    print(
        f"paired bootstrap: {args.n_boot} resamples × {len(langs)} languages × "
        f"{args.problems} problems × {args.samples} sample(s), base vs trained "
        f"(gains, relative gains, off-target change, MTI + CIs); "
        f"{os.cpu_count()} CPU(s) visible"
    )
    print(
        f"seconds: best {min(times):.3f}, median {float(np.median(times)):.3f} "
        f"over {args.repeat} run(s)"
    )
    print(f"MTI = {res.mti.fmt(3)}")


if __name__ == "__main__":
    main()
