"""The matrix products of one decode step at real model shapes, run several ways: how close
each way comes to reading the weights at the device's copy bandwidth (issue 26).

    python bench/decode_matmul.py --out docs/perf                  # one GPU, about a minute
    python bench/decode_matmul.py --out /tmp/m --device cpu --shapes tiny --rows 2,4 \\
        --repeats 2 --bandwidth-gbs 10                             # CPU smoke

Why: at 32 live rows, a decode step of Qwen2.5-1.5B's shape spent 1.27 ms in matrix
products (fused projections; bench/long_generate.py's step profile on an H200, session 16)
where reading the 3.1 GB of weights once takes 0.65 ms, and the thin steps of a ragged
batch's tail are most of its steps. Whether another way of running the same products
closes that gap is a question for a few seconds of GPU time, not for the whole engine.

The products are the engine's own: a random bf16 model of the shape, read through the
engine's `Decoder` (with fused copies), each layer's weights distinct as in a step (one
weight over and over would be served from the L2 cache). Ways (`--variants`):

- `linear`: `F.linear` over q, k, v, o, gate, up, down, and the lm_head: the engine's
  default;
- `fused`: q|k|v and gate|up as one product each (`EngineConfig.fuse_projections`);
- `splitk<S>` (e.g. `splitk4`): fused, and each product whose output is at most
  `--split-max-out` columns wide (by default the engine's rule: twice the hidden size, so
  q|k|v, o and down) run as the engine's `split_k_linear` over S stretches of the inner
  dimension (one batched product) summed in float32. A narrow output at few rows gives a
  GEMM kernel few output tiles for a 132-SM GPU; splitting the inner dimension multiplies
  them. cuBLAS splits on its own for some shapes, and this says whether it leaves time
  unspent. (The engine, with `EngineConfig.split_k`, splits at 64 rows or fewer only; here
  every row count is split, to see where the gain ends);
- `cublaslt`: fused, with torch's preferred BLAS library set to cuBLASLt (CUDA only).

For each shape, rows and way: `step_ms`, one step's products (every layer and the
lm_head), timed as a CUDA graph replayed `--repeats` times (on a CPU, eagerly); `share`,
the weight bytes over the copy bandwidth divided by that time; per product, `us` per call
and `gbs`, timed the same way over the layers; `max_rel_err`, the largest difference of
the first layer's outputs from float32 products, relative to the largest output.

Writes `<out>/decode-matmul-<device>.json` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import copy_bandwidth, device_slug, random_qwen2, section, sync
from long_generate import SHAPES

from xling.engine.graphs import DecodeGraphs
from xling.engine.model import Decoder, split_k_linear, splittable

# A product: its name, weight [out, inner], bias or None, and the input rows it reads.
Product = tuple[str, torch.Tensor, torch.Tensor | None, torch.Tensor]
Linear = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]

VARIANT = re.compile(r"^(linear|fused|cublaslt|splitk(\d+))$")


def products(decoder: Decoder, fused: bool, inputs: dict[int, torch.Tensor]) -> list[Product]:
    """One step's products in the engine's order, each layer's own weights; `inputs` holds
    an input of each inner width."""
    found: list[Product] = []
    for layer in decoder.layers:
        if fused:
            assert layer.qkv is not None and layer.gate_up is not None
            parts = [("qkv", layer.qkv, layer.qkv_bias), ("o", layer.o, layer.o_bias)]
            parts += [("gate_up", layer.gate_up, layer.gate_up_bias)]
        else:
            parts = [(n, getattr(layer, n), getattr(layer, f"{n}_bias")) for n in "qkvo"]
            parts += [(n, getattr(layer, n), getattr(layer, f"{n}_bias")) for n in ("gate", "up")]
        parts.append(("down", layer.down, layer.down_bias))
        found += [(name, w, b, inputs[w.shape[1]]) for name, w, b in parts]
    found.append(("lm_head", decoder.lm_head, None, inputs[decoder.lm_head.shape[1]]))
    return found


def linear_for(variant: str, max_out: int) -> Linear:
    match = VARIANT.match(variant)
    assert match is not None
    pieces = int(match.group(2) or 1)
    if pieces == 1:
        return F.linear

    def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if weight.shape[0] <= max_out and splittable(weight.shape[1], pieces):
            return split_k_linear(x, weight, bias, pieces)
        return F.linear(x, weight, bias)

    return linear


def time_ms(device: torch.device, run: Callable[[], None], repeats: int) -> float:
    """Milliseconds per call of `run`: on CUDA a graph of one call (captured as the engine
    captures its steps, after an eager warm run), replayed."""
    if device.type != "cuda":
        run()
        start = time.perf_counter()
        for _ in range(repeats):
            run()
        return (time.perf_counter() - start) * 1e3 / repeats
    graphs = DecodeGraphs(enabled=True)
    graphs.run("products", run, ())  # captured, then replayed once
    graph = graphs.graphs["products"]
    for _ in range(2):
        graph.replay()
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    for _ in range(repeats):
        graph.replay()
    end.record()
    sync(device)
    return begin.elapsed_time(end) / repeats


def weight_bytes(found: list[Product]) -> int:
    return sum(
        w.numel() * w.element_size() + (0 if b is None else b.numel() * b.element_size())
        for _, w, b, _ in found
    )


def max_rel_err(found: list[Product], linear: Linear, n_layer_products: int) -> float:
    """Largest deviation of the first layer's outputs from float32 products, relative to the
    largest float32 output."""
    worst = 0.0
    for _, w, b, x in found[:n_layer_products]:
        ref = F.linear(x.float(), w.float(), None if b is None else b.float())
        got = linear(x, w, b).float()
        worst = max(worst, float((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30)))
    return worst


@torch.inference_mode()
def bench_variant(
    device: torch.device, decoder: Decoder, variant: str, rows: int, args: argparse.Namespace
) -> dict[str, Any]:
    generator = torch.Generator(device=device).manual_seed(rows)
    widths = {decoder.layers[0].o.shape[1], decoder.layers[0].down.shape[1]}
    widths.add(decoder.lm_head.shape[1])
    inputs = {
        w: torch.randn(rows, w, generator=generator, device=device, dtype=decoder.dtype)
        for w in sorted(widths)
    }
    found = products(decoder, variant != "linear", inputs)
    linear = linear_for(variant, args.split_max_out or decoder.split_k_max_out)
    per_layer = (len(found) - 1) // decoder.n_layers

    def running(chosen: list[Product]) -> Callable[[], None]:
        def run() -> None:
            for _, w, b, x in chosen:
                linear(x, w, b)

        return run

    step_ms = time_ms(device, running(found), args.repeats)
    nbytes = weight_bytes(found)
    row: dict[str, Any] = {
        "rows": rows,
        "variant": variant,
        "step_ms": round(step_ms, 4),
        "weights_gb": round(nbytes / 1e9, 3),
        "ideal_ms": round(nbytes / args.bandwidth * 1e3, 4),
        "share": round(nbytes / args.bandwidth * 1e3 / step_ms, 4),
        "max_rel_err": round(max_rel_err(found, linear, per_layer), 6),
        "products": {},
    }
    for name in dict.fromkeys(n for n, *_ in found):
        mine = [p for p in found if p[0] == name]
        ms = time_ms(device, running(mine), args.repeats) / len(mine)
        one = weight_bytes(mine[:1])
        row["products"][name] = {
            "out": mine[0][1].shape[0],
            "inner": mine[0][1].shape[1],
            "us": round(ms * 1e3, 2),
            "gbs": round(one / ms / 1e6, 1),
            "share": round(one / args.bandwidth * 1e3 / ms, 4),
        }
    return row


def parse_variants(text: str, device: torch.device) -> list[str]:
    variants = [v.strip() for v in text.split(",") if v.strip()]
    for v in variants:
        match = VARIANT.match(v)
        if match is None or (match.group(2) is not None and int(match.group(2)) < 2):
            raise SystemExit(f"unknown variant {v!r}: linear, fused, cublaslt or splitk<S>, S >= 2")
    if device.type != "cuda" and "cublaslt" in variants:
        print("cublaslt left out: it is a CUDA library", flush=True)
        variants.remove("cublaslt")
    return variants


def print_table(results: dict[str, Any]) -> None:
    print(f"\n{'row':<34} {'step ms':>9} {'ideal ms':>9} {'share':>7}  slowest product")
    for key, row in results["rows"].items():
        slowest = min(row["products"].items(), key=lambda item: item[1]["share"])
        print(
            f"{key:<34} {row['step_ms']:>9.3f} {row['ideal_ms']:>9.3f} {row['share']:>7.1%}"
            f"  {slowest[0]} ({slowest[1]['us']:.1f} us, {slowest[1]['share']:.0%})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shapes", default="qwen2.5-1.5b,qwen2.5-7b")
    parser.add_argument("--rows", default="16,32,64,128,256", help="live rows of a step")
    parser.add_argument("--variants", default="linear,fused,splitk2,splitk4,splitk8,cublaslt")
    parser.add_argument(
        "--split-max-out", type=int, default=None, help="default: twice the hidden size"
    )
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--bandwidth-gbs", type=float, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    variants = parse_variants(args.variants, device)
    rows_list = [int(r) for r in args.rows.split(",")]
    if any(r < 1 for r in rows_list):
        raise SystemExit(f"--rows must be positive, got {args.rows}")
    args.bandwidth = (
        args.bandwidth_gbs * 1e9 if args.bandwidth_gbs is not None else copy_bandwidth(device)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"decode-matmul-{device_slug(device)}.json"
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "bandwidth_gbs": round(args.bandwidth / 1e9, 1),
        "settings": {k: str(v) for k, v in vars(args).items() if k != "bandwidth"},
        "rows": {},
    }
    for shape in args.shapes.split(","):
        with section(shape, results):
            decoder = Decoder(random_qwen2(SHAPES[shape], device), fuse=True)
            for rows in rows_list:
                for variant in variants:
                    before = (
                        torch.backends.cuda.preferred_blas_library()
                        if variant == "cublaslt"
                        else None
                    )
                    if before is not None:
                        torch.backends.cuda.preferred_blas_library("cublaslt")
                    try:
                        row = bench_variant(device, decoder, variant, rows, args)
                    finally:
                        if before is not None:
                            torch.backends.cuda.preferred_blas_library(before)
                    results["rows"][f"{shape}_rows{rows}_{variant}"] = row
                    path.write_text(json.dumps(results, indent=1), encoding="utf-8")
                    print(f"{shape} rows {rows} {variant}: {row['step_ms']:.3f} ms", flush=True)
            del decoder
    path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print_table(results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
