"""Long reasoning traces at real model shapes: the engine vs `generate`, against a roofline
that counts the key/value cache each decode step reads (issue 26).

    python bench/long_generate.py --out docs/perf                  # one H200
    python bench/long_generate.py --out /tmp/p --device cpu --shapes tiny --slots 4 \\
        --max-new 24 --requests-per-slot 2 --prompt-tokens 16 --plain-max-new 8  # CPU smoke

Random bf16 weights of Qwen2.5-1.5B's and Qwen2.5-7B's shapes (their configs' sizes, built
from the config, no download), `--prompt-tokens` random prompt tokens, sampling at
temperature 1, no end-of-sequence token (random weights would stop at random). For each
shape × slots (sequences decoded at once) × `--max-new` (the longest trace):

- `uniform`: `slots` requests that all run to max-new tokens;
- `ragged`: `requests-per-slot × slots` requests whose lengths are drawn from a log-normal
  (σ = `--sigma`, median set so the mean is `--mean-share` of max-new, clipped to
  [16, max-new]): what early stopping makes of a batch of reasoning traces. More requests
  than slots, so slots are refilled as sequences finish.

Each row runs the engine once per `--attention` mode (default both): "dense", one cache
row of the longest length per slot (keys as before: `engine_*`, `peak_gb`), and "paged", a
pool of pages sized by the memory budget and the tokens in flight (`engine_paged_*`,
`paged_*`). "dense-fused" and "paged-fused" run the same with each layer's q/k/v and
gate/up as one matrix product each (`EngineConfig.fuse_projections`; keys
`engine_fused_*`, `engine_paged_fused_*`), when asked for.

With `--kv-splits 1,2,4`, each paged mode runs once per key/value split of its decoding
kernel (`EngineConfig.kv_splits`), its keys suffixed: `engine_paged_s4_*`,
`paged_peak_gb_s4` (internally the mode "paged@4").

Figures per row (tokens/s are requested new tokens over wall time, prefill included):
- `engine_tok_s`, and `engine_warmup_s` (the first call's extra time: graph capture,
  compiling) from a first and a second identical call; `engine_paged_tok_s` and
  `engine_paged_warmup_s` likewise with pages;
- the first call's warm-up by kind, per mode: `<prefix>_graph_captures`,
  `<prefix>_capture_s` (seconds capturing them, each capture's eager warm run and so the
  compilations it meets included; `<prefix>_capture_s_each`, each capture's graph key and
  seconds in order) and `<prefix>_compile_s` (seconds in torch.compile, from Dynamo's
  cumulative compile time; `<prefix>_compile_s_each`, each compiled function's name,
  seconds and whether Inductor's disk cache served it, in order); paged modes add
  `<prefix>_kv_splits`, the split the cache used (null: torch's own choice, or eager
  attention as on a CPU);
- `plain_tok_s`: `generate` on one batch of `slots` prompts for min(max-new,
  `--plain-max-new`) tokens, the second of two identical calls (`plain_first_tok_s`: the
  first; measured once per shape and slots, rows after the first naming it in
  `plain_measured_with`). Its best case, uniform lengths; its warm rate barely moves with
  length (on an H200 at the 1.5B shape and 256 rows, 15,788 tokens/s at 256 new tokens and
  15,530 at 2,048), and a full run would take hours at 7B. On ragged rows
  (`--plain-on-ragged`), `plain_work_tok_s` is what that rate gives on the row's own
  requests: `generate` takes them `slots` at a time and runs each batch to its longest
  request, having no limit per row (and a random model no end), so only the requested
  tokens count. It is derived from the measured rate, not timed, and `<prefix>_vs_plain`
  divides by it on those rows;
- `roofline_tok_s`: a schedule with the same slots and first-come refills simulated token
  by token; every step reads the weights once and, for every live sequence, the cache of
  all its tokens so far (prompt and generated), at the device's measured copy bandwidth;
- `peak_gb`, `paged_peak_gb`: the engine's peak allocated memory (the paged pool takes
  `memory_fraction` of the free memory, or less when `slots` sequences of the row's longest
  length need less); a dense cache that cannot fit is skipped with the bytes it would need
  (`skipped`);
- `paged_pool_tokens` (what its pool holds), `paged_peak_live` (sequences decoded at once,
  at most: the slots it could keep busy) and `paged_preemptions` (sequences evicted and
  generated again when the pool ran dry).

With `--profile-steps N`, each mode also gets `<prefix>_profile`: where a decode step's
device time goes, by kernel kind (matrix products, attention, the compiled element-wise
kernels and sampler, copies and indexing, the rest), in ms per step, beside the step's wall
time. The engine, warm, generates `slots` requests of N new tokens each from prompts of
prompt-tokens + the row's mean new length (so a step reads about the cache a ragged step
reads), under the torch profiler, and once more with 1 new token; the difference over N - 1
steps is one decode step at full occupancy, prefill taken out. `kernels_per_step` counts its
launches by kind, and `top_kernels` names the kernels that take most of the step.
`--profile-rows 32,256` profiles steps of those many live rows instead
(`<prefix>_profile_r32` for a count other than the row's slots): a ragged row spends many of
its steps with few rows left. `--steps-per-sync K` sets the decode steps between host reads
(`EngineConfig.steps_per_sync`), `--split-k S` the engine's split-K products for thin
passes (`EngineConfig.split_k`), `--fuse-cache-writes` a paged step's rotary and stores as
one compiled function (`EngineConfig.fuse_cache_writes`); a run's settings record them.

Writes `<out>/long-generate-<device>.json` and prints a table last.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import SHAPES as TINY_SHAPES
from generate import (
    copy_bandwidth,
    device_slug,
    free_memory,
    random_qwen2,
    sampled_generate,
    section,
    sync,
    timed,
)

from xling.engine.roofline import decode_roofline_seconds, decode_schedule
from xling.models.shapes import (
    QWEN2_5_1_5B_SHAPE,
    QWEN2_5_7B_SHAPE,
    decode_weight_bytes,
    kv_bytes_per_token,
)

SHAPES: dict[str, dict[str, Any]] = {
    "qwen2.5-1.5b": QWEN2_5_1_5B_SHAPE,
    "qwen2.5-7b": QWEN2_5_7B_SHAPE,
    "tiny": {**TINY_SHAPES["tiny"], "tie_word_embeddings": True},  # CPU smoke runs
}
MIN_LENGTH = 16


def draw_lengths(n: int, max_new: int, mean_share: float, sigma: float, seed: int) -> list[int]:
    """Log-normal lengths with mean ≈ mean_share · max_new before clipping."""
    rng = np.random.default_rng(seed)
    mu = math.log(mean_share * max_new) - sigma**2 / 2
    raw = rng.lognormal(mu, sigma, n)
    return [int(v) for v in np.clip(np.round(raw), MIN_LENGTH, max_new)]


def plain_tok_s(
    model: Any, prompts: torch.Tensor, new: int, device: torch.device
) -> tuple[float, float]:
    """`generate`'s tokens/s on the second of two identical calls, and on the first. A
    warm-up of a few tokens is not enough: on an H200 at the 1.5B shape, the first call of a
    batch shape in a process ran about a third as fast as the next (256 x 256 tokens: 5,405
    then 16,516 tokens/s; 256 x 2,048 after a 256-token call: 5,254 then 15,530)."""
    tokens, first = timed(device, lambda: sampled_generate(model, prompts, new, device))
    tokens, second = timed(device, lambda: sampled_generate(model, prompts, new, device))
    return tokens / second, tokens / first


# `generate`'s rates by (shape, slots, new tokens): (second call, first call, the row that
# measured them).
PLAIN_MEASURED: dict[tuple[str, int, int], tuple[float, float, str]] = {}


def generate_kept_share(lengths: list[int], slots: int) -> float:
    """The share of the tokens `generate` computes that a ragged row's requests keep:
    batches of `slots` requests in order, each run to its longest request."""
    batches = [lengths[i : i + slots] for i in range(0, len(lengths), slots)]
    return sum(lengths) / sum(len(b) * max(b) for b in batches)


ATTENTIONS = ("dense", "paged")
# Each attention mode also runs with each layer's q/k/v and gate/up as one product each
# (EngineConfig.fuse_projections) when asked for as "<mode>-fused"; not by default.
FUSED = "-fused"
MODES = (*ATTENTIONS, *(a + FUSED for a in ATTENTIONS))
# Row keys of each mode: (tokens/s etc. prefix, peak memory key); dense keeps the keys
# this bench had before it measured pages.
PREFIX = {
    "dense": "engine",
    "paged": "engine_paged",
    "dense-fused": "engine_fused",
    "paged-fused": "engine_paged_fused",
}
PEAK = {
    "dense": "peak_gb",
    "paged": "paged_peak_gb",
    "dense-fused": "fused_peak_gb",
    "paged-fused": "paged_fused_peak_gb",
}
# A paged mode run with a given key/value split of its decoding kernel (`--kv-splits`):
# "<mode>@<splits>", its keys suffixed "_s<splits>".
SPLIT = "@"


def mode_keys(mode: str) -> tuple[str, str]:
    """(prefix, peak memory key) of a mode's figures: "paged@4" gives
    ("engine_paged_s4", "paged_peak_gb_s4")."""
    base, _, splits = mode.partition(SPLIT)
    suffix = f"_s{splits}" if splits else ""
    return PREFIX[base] + suffix, PEAK[base] + suffix


def run_modes(attention: str, kv_splits: list[int]) -> list[str]:
    """The modes a row runs: each of `attention`'s, a paged one once per split when
    splits are given (the engine's default split otherwise)."""
    modes: list[str] = []
    for mode in attention.split(","):
        if kv_splits and mode.startswith("paged"):
            modes += [f"{mode}{SPLIT}{k}" for k in kv_splits]
        else:
            modes.append(mode)
    return modes


def positive_ints(text: str) -> list[int]:
    """`--kv-splits`, `--profile-rows`: a comma list of positive ints; empty for none."""
    values = [int(v) for v in text.split(",") if v.strip()]
    if any(k < 1 for k in values):
        raise ValueError(f"each must be at least 1, got {text!r}")
    return values


def compile_seconds() -> float | None:
    """Seconds torch.compile has spent in this process so far: Dynamo's cumulative frame
    compile time, which holds Inductor's code generation and kernel compilation (autotuning
    at a kernel's first run is not in it); None where this torch keeps no such total."""
    try:
        from torch._dynamo.utils import calculate_time_spent

        return float(calculate_time_spent()["total_wall_time"])
    except (ImportError, AttributeError, KeyError):
        return None


def compilations_since(start_us: int) -> list[list[Any]]:
    """Each frame torch.compile compiled from `start_us` on (`time.time_ns() // 1000`), in
    order: [the compiled function's name, its seconds, whether Inductor's on-disk graph
    cache served it]. A process's first compilation also pays one-off costs (importing
    Inductor, starting its worker pool), so the list says which of a cold warm-up's seconds
    are per function and which are once per process. Empty where this torch keeps no
    per-frame records (Dynamo keeps its last 64)."""
    try:
        from torch._dynamo.utils import get_compilation_metrics
    except ImportError:
        return []
    return [
        [
            metrics.co_name,
            round(metrics.entire_frame_compile_time_s or 0.0, 3),
            bool(getattr(metrics, "inductor_fx_local_cache_hit_count", None)),
        ]
        for metrics in get_compilation_metrics()
        if (getattr(metrics, "start_time_us", None) or 0) >= start_us
    ]


# Kernel kinds, first match wins: GPU kernels by their names (cuBLAS/CUTLASS products;
# Inductor names its template kernels triton_tem_*, and flex attention is the engine's only
# template, products going to cuBLAS; triton_poi/red/per_* are its fused element-wise
# kernels) and, on a CPU, aten operators.
KERNEL_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("attention", re.compile(r"^triton_tem_|flex|attention|sdpa|flash", re.I)),
    ("matmul", re.compile(r"gemm|cutlass|nvjet|xmma|cublas|aten::(mm|addmm|bmm|matmul)$", re.I)),
    ("fused", re.compile(r"^triton_|^Torch-Compiled", re.I)),
    ("copy_index", re.compile(r"copy|memcpy|memset|index|gather|scatter|cat$|pad", re.I)),
)
OTHER = "other"


def kernel_kind(name: str) -> str:
    for kind, pattern in KERNEL_KINDS:
        if pattern.search(name):
            return kind
    return OTHER


def device_ms_by_name(profile: Any, device: torch.device) -> dict[str, tuple[float, int]]:
    """Self time (ms) and launches per kernel name: the device's kernels on CUDA, aten
    operators (self CPU time, so nested operators count once) elsewhere."""
    found: dict[str, tuple[float, int]] = {}
    for event in profile.key_averages():
        if device.type == "cuda":
            if event.device_type != torch.autograd.DeviceType.CUDA:
                continue
            micros = event.self_device_time_total
        else:
            if not event.key.startswith("aten::"):
                continue
            micros = event.self_cpu_time_total
        ms, count = found.get(event.key, (0.0, 0))
        found[event.key] = (ms + micros / 1000, count + event.count)
    return found


def by_kind(by_name: dict[str, tuple[float, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Time and launches by kernel name summed by kernel kind."""
    totals = {kind: 0.0 for kind, _ in KERNEL_KINDS} | {OTHER: 0.0}
    counts = dict.fromkeys(totals, 0.0)
    for name, (ms, count) in by_name.items():
        kind = kernel_kind(name)
        totals[kind] += ms
        counts[kind] += count
    return totals, counts


# Kernels listed by name in a step profile (`top_kernels`), most time first.
TOP_KERNELS = 12


def profile_decode_step(
    engine: Any, vocab: int, slots: int, prompt_len: int, steps: int, device: torch.device
) -> dict[str, Any]:
    """One decode step of `slots` rows at context about `prompt_len`, by kernel kind: the
    profiled difference between `steps` new tokens and 1 (see the module docstring)."""
    from torch.profiler import ProfilerActivity, profile

    from xling.engine import SamplingParams

    g = torch.Generator().manual_seed(prompt_len)
    prompts = torch.randint(0, vocab, (slots, prompt_len), generator=g).tolist()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])

    def run(new: int) -> tuple[dict[str, tuple[float, int]], float]:
        params = [SamplingParams(temperature=1.0, max_new_tokens=new, seed=i) for i in range(slots)]
        engine.generate(prompts, params)  # untimed: graphs and pages for this shape
        with profile(activities=activities) as prof:
            _, seconds = timed(device, lambda: engine.generate(prompts, params))
        return device_ms_by_name(prof, device), seconds * 1000

    long_names, long_ms = run(steps)
    short_names, short_ms = run(1)
    # Per kernel name, per step: the long run's time and launches less the short one's.
    named = {}
    for name in long_names.keys() | short_names.keys():
        (ms, count), (ms_1, count_1) = (n.get(name, (0.0, 0)) for n in (long_names, short_names))
        named[name] = ((ms - ms_1) / (steps - 1), (count - count_1) / (steps - 1))
    kinds, counts = by_kind(named)
    per_step = {k: round(v, 4) for k, v in kinds.items()}
    # Launches per step: each costs a kernel's minimum time and a gap, whatever its work,
    # which is what a step of few rows is made of.
    launches = {k: round(v, 1) for k, v in counts.items()}
    # By name, which kernel of a kind costs what (a matrix product's name says its tiles).
    top = sorted(named.items(), key=lambda item: -item[1][0])[:TOP_KERNELS]
    return {
        "rows": slots,
        "context": prompt_len + steps // 2,
        "steps": steps,
        "ms_per_step": per_step,
        "device_ms_per_step": round(sum(per_step.values()), 4),
        "wall_ms_per_step": round((long_ms - short_ms) / (steps - 1), 4),
        "kernels_per_step": launches,
        "top_kernels": [
            {"name": name[:160], "ms": round(ms, 4), "launches": round(count, 1)}
            for name, (ms, count) in top
        ],
    }


def _engine_twice(
    model: Any,
    slots: int,
    attention: str,
    prompts: list[list[int]],
    params: list[Any],
    device: torch.device,
    warm_share: float = 1.0,
    engine_settings: dict[str, Any] | None = None,
) -> tuple[Any, list[Any], float, float, dict[str, Any]]:
    """The generation twice on a fresh engine: (engine, completions, first s, second s,
    the first call's warm-up by kind and the second's `time_split`). The first call is the
    same generation (the difference is the warm-up: graph capture, compiling) or, with
    `warm_share` < 1, the same requests cut to that share of their lengths: it visits the
    same batch sizes, so it warms the engine for less. `attention` is a mode, "paged@4"
    with a split; `engine_settings`, more EngineConfig fields (`--steps-per-sync`,
    `--split-k`, `--fuse-cache-writes`)."""
    from xling.engine import Engine, EngineConfig

    mode, _, splits = attention.partition(SPLIT)
    config = EngineConfig(
        max_batch_size=slots,
        attention=mode.removesuffix(FUSED),
        fuse_projections=mode.endswith(FUSED),
        kv_splits=int(splits) if splits else None,
        **(engine_settings or {}),
    )
    engine = Engine(model, config=config)
    warm = params
    if warm_share < 1:
        warm = [
            dataclasses.replace(
                p, max_new_tokens=max(MIN_LENGTH, round(p.max_new_tokens * warm_share))
            )
            for p in params
        ]
    graphs, compile_before = engine.graphs, compile_seconds()
    captures, capturing = graphs.captures, graphs.capture_seconds
    logged = len(graphs.capture_log)
    started_us = time.time_ns() // 1000
    _, first = timed(device, lambda: engine.generate(prompts, warm))
    compile_after = compile_seconds()
    warmup = {
        "graph_captures": graphs.captures - captures,
        "capture_s": round(graphs.capture_seconds - capturing, 2),
        "capture_s_each": [
            [str(key), round(seconds, 3)] for key, seconds in graphs.capture_log[logged:]
        ],
        "compile_s": (
            round(compile_after - compile_before, 2)
            if compile_before is not None and compile_after is not None
            else None
        ),
        "compile_s_each": compilations_since(started_us),
    }
    engine.stats["preemptions_before_timed_call"] = engine.stats["preemptions"]
    before = dict(engine.stats)
    done, second = timed(device, lambda: engine.generate(prompts, params))
    return (
        engine,
        done,
        first,
        second,
        warmup | {"time_split": time_split(before, engine.stats, second)},
    )


def time_split(before: dict[str, Any], after: dict[str, Any], wall: float) -> dict[str, Any]:
    """Where a timed call's wall time went, from the engine's counters: prefills, decode
    chunks (launch to the host's read), and the rest, host bookkeeping while the device
    idles; with the passes and the mean decode step."""
    spent = {key: after[key] - before[key] for key in ("prefill_s", "decode_s")}
    counts = {key: after[key] - before[key] for key in ("prefills", "decode_steps", "syncs")}
    return {
        "prefill_s": round(spent["prefill_s"], 3),
        "decode_s": round(spent["decode_s"], 3),
        "host_s": round(wall - spent["prefill_s"] - spent["decode_s"], 3),
        **counts,
        "decode_ms_per_step": round(1e3 * spent["decode_s"] / max(1, counts["decode_steps"]), 3),
    }


def measure_engine(
    model: Any,
    row: dict[str, Any],
    attention: str,
    prompts: list[list[int]],
    params: list[Any],
    device: torch.device,
    profile_steps: int = 0,
    vocab: int = 0,
    warm_share: float = 1.0,
    profile_rows: list[int] | None = None,
    engine_settings: dict[str, Any] | None = None,
) -> None:
    """One attention mode's figures into `row` (and, with `profile_steps`, its step profile
    at each of `profile_rows` live rows, by default the row's slots)."""
    from xling.engine.paged import PagedKVCache

    lengths = [p.max_new_tokens for p in params]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    engine, done, first, second, warmup = _engine_twice(
        model, row["slots"], attention, prompts, params, device, warm_share, engine_settings
    )
    assert [len(c.tokens) for c in done] == lengths, "the engine stopped a request early"
    prefix, peak = mode_keys(attention)
    row[f"{prefix}_tok_s"] = round(sum(lengths) / second)
    if warm_share < 1:
        row[f"{prefix}_warmed_by"] = f"an untimed first call at {warm_share:g} of the lengths"
    else:
        row[f"{prefix}_warmup_s"] = round(max(first - second, 0.0), 2)
    # The first call's graph captures and their seconds (each capture's warm run, so the
    # compilations it meets, included), and torch.compile's seconds in it.
    for name, value in warmup.items():
        if value is not None:
            row[f"{prefix}_{name}"] = value
    row[f"{prefix}_roofline_share"] = round(row[f"{prefix}_tok_s"] / row["roofline_tok_s"], 4)
    if device.type == "cuda":
        row[peak] = round(torch.cuda.max_memory_allocated(device) / 1e9, 2)
    if isinstance(engine.cache, PagedKVCache):
        # The split its decoding kernel used (None: torch's own, or eager attention).
        row[f"{prefix}_kv_splits"] = engine.cache.kv_splits
    if isinstance(engine.cache, PagedKVCache) and "paged_pool_tokens" not in row:
        row["paged_pool_tokens"] = engine.cache.pool.usable * engine.cache.page_size
        # The most sequences at once over both calls; preemptions of the timed call.
        stats = engine.stats
        row["paged_peak_live"] = stats["peak_live"]
        row["paged_preemptions"] = stats["preemptions"] - stats["preemptions_before_timed_call"]
    if profile_steps > 1:
        context = len(prompts[0]) + round(row["mean_new"])
        for rows in profile_rows or [row["slots"]]:
            # At the row's slots, `<prefix>_profile`; other row counts (a ragged tail's
            # few live rows), `<prefix>_profile_r<rows>`.
            key = f"{prefix}_profile" + ("" if rows == row["slots"] else f"_r{rows}")
            row[key] = profile_decode_step(engine, vocab, rows, context, profile_steps, device)
    del engine, done
    free_memory()


def bench_row(
    model: Any,
    shape: dict[str, Any],
    slots: int,
    max_new: int,
    kind: str,
    args: argparse.Namespace,
    device: torch.device,
    bandwidth: float,
) -> dict[str, Any]:
    from xling.engine import SamplingParams

    weights = decode_weight_bytes(shape)
    kv_token = kv_bytes_per_token(shape)
    n = slots if kind == "uniform" else slots * args.requests_per_slot
    lengths = (
        [max_new] * n
        if kind == "uniform"
        else draw_lengths(n, max_new, args.mean_share, args.sigma, seed=slots + max_new)
    )
    row: dict[str, Any] = {
        "requests": n,
        "slots": slots,
        "max_new": max_new,
        "mean_new": round(sum(lengths) / n, 1),
        "roofline_tok_s": round(
            sum(lengths)
            / decode_roofline_seconds(
                lengths, args.prompt_tokens, slots, weights, kv_token, bandwidth
            )
        ),
        # Its steps, to hold against the engine's (`<prefix>_time_split`).
        "roofline_steps": sum(1 for _ in decode_schedule(lengths, args.prompt_tokens, slots)),
    }
    g = torch.Generator().manual_seed(slots)
    prompts = torch.randint(0, shape["vocab_size"], (n, args.prompt_tokens), generator=g)
    params = [
        SamplingParams(temperature=1.0, max_new_tokens=length, seed=i)
        for i, length in enumerate(lengths)
    ]
    modes = run_modes(args.attention, args.kv_splits)
    prefixes = [mode_keys(mode)[0] for mode in modes]
    for attention in modes:
        cache_gb = kv_token * slots * (args.prompt_tokens + max_new) / 1e9
        if attention.startswith("dense") and device.type == "cuda":
            free = torch.cuda.mem_get_info(device)[0] / 1e9
            if cache_gb > 0.9 * free:
                row["skipped"] = f"dense needs a {cache_gb:.0f} GB cache, {free:.0f} GB free"
                continue
        measure_engine(
            model,
            row,
            attention,
            prompts.tolist(),
            params,
            device,
            profile_steps=args.profile_steps,
            vocab=shape["vocab_size"],
            warm_share=args.warm_share,
            profile_rows=[r for r in args.profile_rows if r <= slots],
            engine_settings={
                "steps_per_sync": args.steps_per_sync,
                "split_k": args.split_k,
                "fuse_cache_writes": args.fuse_cache_writes,
            },
        )
    if not any(f"{p}_tok_s" in row for p in prefixes):
        return row
    if kind == "uniform" or args.plain_on_ragged:
        new = min(max_new, args.plain_max_new)
        # Rows of the same slots ask `generate` the same thing (prompts are seeded by the
        # slots, the length is capped): one measurement serves them, and says where from.
        measured = (json.dumps(shape, sort_keys=True), slots, new)
        done = PLAIN_MEASURED.get(measured)
        if done is None:
            PLAIN_MEASURED[measured] = done = (
                *plain_tok_s(model, prompts[:slots], new, device),
                f"slots{slots}_new{max_new}_{kind}",
            )
        else:
            row["plain_measured_with"] = done[2]
        warm, first = done[0], done[1]
        row["plain_tok_s"], row["plain_first_tok_s"] = round(warm), round(first)
        row["plain_new_tokens"] = new
        same_work = warm
        if kind == "ragged":
            same_work = warm * generate_kept_share(lengths, slots)
            row["plain_work_tok_s"] = round(same_work)
        for prefix in prefixes:
            if f"{prefix}_tok_s" in row:
                row[f"{prefix}_vs_plain"] = round(row[f"{prefix}_tok_s"] / same_work, 2)
    return row


def merge_results(files: list[Path], out: Path) -> Path:
    """One JSON of several runs' rows (a full bench spans several device calls): rows by
    key, later files winning; each run's device, torch, bandwidth and settings under
    `runs`, with the rows it gave that no later file replaced. A file merged before brings
    its runs along, so new calls merge into the published JSON."""
    merged: dict[str, Any] = {"runs": [], "rows": {}}
    provider: dict[str, int] = {}  # row key -> index of the run it comes from

    def add_run(run: dict[str, Any], rows: dict[str, Any]) -> None:
        provider.update(dict.fromkeys(rows, len(merged["runs"])))
        merged["rows"].update(rows)
        merged["runs"].append(run)

    for file in files:
        run = json.loads(file.read_text(encoding="utf-8"))
        device = merged.setdefault("device", run["device"])
        if run["device"] != device:
            raise SystemExit(f"{file}: measured on {run['device']}, the others on {device}")
        if "runs" in run:
            for earlier in run["runs"]:
                rows = {k: run["rows"][k] for k in earlier["rows"] if k in run["rows"]}
                add_run(dict(earlier), rows)
            continue
        # `command` and `note`: what a person added to a call's JSON before merging it.
        keys = ("command", "note", "torch", "bandwidth_gbs", "settings", "errors")
        add_run({"file": file.name, **{k: run[k] for k in keys if k in run}}, run["rows"])
    for index, run in enumerate(merged["runs"]):
        run["rows"] = sorted(k for k, i in provider.items() if i == index)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"long-generate-{merged['device']}.json"
    path.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--shapes", default="qwen2.5-1.5b,qwen2.5-7b")
    parser.add_argument("--slots", default="64,256")
    parser.add_argument("--max-new", default="2048,8192")
    parser.add_argument("--kinds", default="uniform,ragged")
    parser.add_argument(
        "--attention",
        default=",".join(ATTENTIONS),
        help=f"Engine modes to measure, of {', '.join(MODES)}.",
    )
    parser.add_argument(
        "--kv-splits",
        default="",
        help="Comma list of key/value splits of the paged decoding kernel "
        "(EngineConfig.kv_splits): each paged mode runs once per split, its keys suffixed "
        "_s<splits> (engine_paged_s4_tok_s, paged_peak_gb_s4). Empty: the engine's default, "
        "unsuffixed keys.",
    )
    parser.add_argument(
        "--profile-rows",
        default="",
        help="Comma list of live rows to profile a step at (with --profile-steps; those "
        "above a row's slots are left out). Empty: the row's slots.",
    )
    parser.add_argument(
        "--steps-per-sync",
        type=int,
        help="Decode steps between host reads (EngineConfig.steps_per_sync); the engine's "
        "default when left out.",
    )
    parser.add_argument(
        "--split-k",
        type=int,
        default=1,
        help="Split-K products for thin decode passes (EngineConfig.split_k); 1: off.",
    )
    parser.add_argument(
        "--fuse-cache-writes",
        action="store_true",
        help="Paged decode: rotary and cache writes as one compiled function "
        "(EngineConfig.fuse_cache_writes).",
    )
    parser.add_argument("--prompt-tokens", type=int, default=200)
    parser.add_argument("--requests-per-slot", type=int, default=2)
    parser.add_argument("--mean-share", type=float, default=0.42)
    parser.add_argument("--sigma", type=float, default=0.8)
    parser.add_argument("--plain-max-new", type=int, default=256)
    parser.add_argument(
        "--plain-on-ragged",
        action="store_true",
        help="Also time `generate` on ragged rows (and derive its rate on their requests).",
    )
    parser.add_argument("--bandwidth-gbs", type=float, default=None)
    parser.add_argument(
        "--profile-steps",
        type=int,
        default=0,
        help="Profile a decode step by kernel kind over this many steps (0: no profile).",
    )
    parser.add_argument(
        "--warm-share",
        type=float,
        default=1.0,
        help="Warm each engine with its requests cut to this share of their lengths rather "
        "than the same call (long rows; no warm-up figure then).",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="Instead of measuring: merge these JSON files' rows (later files win) into "
        "<out>/long-generate-<device>.json, each file's settings kept under `runs`.",
    )
    args = parser.parse_args()
    if args.merge:
        path = merge_results(args.merge, args.out)
        print(f"wrote {path}")
        return
    if not 0 < args.warm_share <= 1:
        parser.error("--warm-share must be in (0, 1]")
    for attention in args.attention.split(","):
        if attention not in MODES:
            parser.error(f"--attention: {attention!r} is not one of {', '.join(MODES)}")
    try:
        args.kv_splits = positive_ints(args.kv_splits)
        args.profile_rows = positive_ints(args.profile_rows)
    except ValueError as exc:
        parser.error(f"--kv-splits / --profile-rows: {exc}")
    if args.steps_per_sync is not None and args.steps_per_sync < 1:
        parser.error(f"--steps-per-sync must be at least 1, got {args.steps_per_sync}")
    if args.split_k < 1:
        parser.error(f"--split-k must be at least 1, got {args.split_k}")
    if args.kv_splits and not any(m.startswith("paged") for m in args.attention.split(",")):
        parser.error("--kv-splits needs a paged mode in --attention")

    device = torch.device(args.device)
    PLAIN_MEASURED.clear()  # a measurement serves the rows of one run only
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    bandwidth = (
        args.bandwidth_gbs * 1e9 if args.bandwidth_gbs is not None else copy_bandwidth(device)
    )
    results: dict[str, Any] = {
        "device": device_slug(device),
        "torch": torch.__version__,
        "bandwidth_gbs": round(bandwidth / 1e9, 1),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "rows": {},
    }
    path = args.out / f"long-generate-{device_slug(device)}.json"
    for name in args.shapes.split(","):
        shape = SHAPES[name]
        with section(name, results):
            model = random_qwen2(shape, device)
            sync(device)
            for slots in (int(s) for s in args.slots.split(",")):
                for max_new in (int(m) for m in args.max_new.split(",")):
                    for kind in args.kinds.split(","):
                        key = f"{name}_slots{slots}_new{max_new}_{kind}"
                        with section(key, results):
                            row = bench_row(
                                model, shape, slots, max_new, kind, args, device, bandwidth
                            )
                            results["rows"][key] = row
                            print(key, json.dumps(row), flush=True)
                        # After every row: a call cut short keeps what it measured.
                        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
            del model
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {path}\n")
    cols = (
        "roofline_tok_s",
        "engine_tok_s",
        "engine_roofline_share",
        "engine_paged_tok_s",
        "engine_paged_roofline_share",
        "plain_tok_s",
        "peak_gb",
        "paged_peak_gb",
        "paged_peak_live",
    )
    # A split sweep's paged rates, in the order they were run.
    swept = re.compile(r"^engine_paged\w*_s\d+_tok_s$")
    cols += tuple(
        dict.fromkeys(k for row in results["rows"].values() for k in row if swept.match(k))
    )
    print(f"{'row':40s}" + "".join(f"{c:>{len(c) + 2}s}" for c in cols))
    for key, row in results["rows"].items():
        line = f"{key:40s}" + "".join(f"{row.get(c, '')!s:>{len(c) + 2}s}" for c in cols)
        print(line + (f"  skipped: {row['skipped']}" if "skipped" in row else ""))


if __name__ == "__main__":
    main()
