"""Do sampled outputs stay the same when the batch size changes? (issue 24)

    .venv/bin/python bench/seeds.py [--model organism] [--prompts 32] [--n 4] \\
        [--tokens 64] [--batch-sizes 7,32,128] [--dtypes float32,bfloat16] [--json-out F]

Samples `--prompts` synthetic problems × `--n` samples of `--tokens` new tokens at
temperature 1 through the hf backend, once per batch size, dtype and generation path
(xling's engine, transformers `generate`), each sample seeded by its problem and index as
`xling eval` seeds it; prints, per dtype and path, the share of samples identical to those
at the largest batch size, and the share on which the two paths agree. The engine runs
only where it can (CUDA, or any device with --engine-on-cpu).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

from xling.backends.base import GenerationParams, Request
from xling.backends.hf import HFBackend
from xling.evaluate import seed_key
from xling.prompts import build_request
from xling.world import build_benchmark


def requests(count: int, folder: Path) -> list[Request]:
    from xling.benchmarks import BenchmarkSpec, FieldMap, load_benchmark

    build_benchmark(folder, n_train=0, n_test=count, seed=0, langs=("en", "es"))
    spec = BenchmarkSpec("jsonl", str(folder / "test"), name="synth", fields=FieldMap(id="id"))
    problems = load_benchmark([spec], ["en", "es"])[:count]
    out = []
    for p in problems:
        request = build_request(p)
        out.append(Request(messages=request.messages, seed_key=seed_key(p)))
    return out


def sample(model: str, dtype: str, engine: str, batch: int, reqs: list[Request], args: Any) -> list:
    backend = HFBackend(model, dtype=dtype, batch_size=batch, engine=engine)
    try:
        params = GenerationParams(
            temperature=1.0, top_p=1.0, max_new_tokens=args.tokens, n=args.n, seed=0
        )
        return [[o.text for o in outs] for outs in backend.generate(reqs, params)]
    finally:
        backend.close()


def share_equal(a: list, b: list) -> float:
    pairs = [(x, y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True)]
    return sum(x == y for x, y in pairs) / len(pairs)


def main() -> None:
    import tempfile

    import torch

    from xling.models import resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="organism")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--batch-sizes", default="7,32,128")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--engine-on-cpu", action="store_true")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    model = resolve_model(args.model)
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    cuda = torch.cuda.is_available()
    paths = ["off"] + (["on"] if cuda or args.engine_on_cpu else [])
    device = torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        reqs = requests(args.prompts, Path(tmp) / "bench")
        for dtype in args.dtypes.split(","):
            by_path = {}
            for engine in paths:
                outs = {b: sample(model, dtype, engine, b, reqs, args) for b in sizes}
                ref = outs[max(sizes)]
                same = {b: share_equal(outs[b], ref) for b in sizes if b != max(sizes)}
                by_path[engine] = ref
                rows.append(
                    {
                        "dtype": dtype,
                        "path": "engine" if engine == "on" else "generate",
                        "identical_to_batch_" + str(max(sizes)): same,
                    }
                )
            if len(by_path) == 2:
                rows.append(
                    {
                        "dtype": dtype,
                        "path": "engine vs generate",
                        "identical": share_equal(by_path["on"], by_path["off"]),
                    }
                )
    result = {
        "model": args.model,
        "device": device,
        "prompts": args.prompts,
        "n": args.n,
        "tokens": args.tokens,
        "rows": rows,
    }
    for row in rows:
        print(json.dumps(row))
    print(f"device: {device}; {args.prompts} prompts x {args.n} samples x {args.tokens} tokens")
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
