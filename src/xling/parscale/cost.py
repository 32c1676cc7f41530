"""Inference cost of P streams against the parameter scaling of equal predicted loss.

The paper's claim (batch 1): reaching the same gain with P streams instead of more
parameters costs up to 22× less *increase* of memory and 6× less *increase* of latency (its
figures come from a roofline model, llm-analysis, of models up to 4.4B). Here: a 0.5B-class
random-weight Qwen2 (Qwen2.5-0.5B's shape, built by hand: hidden 896, 24 layers, 14 heads,
2 KV heads, intermediate 4864, vocabulary 151,936) with P ∈ {2, 4, 8} streams, against dense
Qwen2 models whose non-embedding parameters are N·(k·ln P + 1) — equal loss under the law —
widened in hidden size and MLP width at the same depth. For batch 1..8: prefill a random
prompt, decode greedily with a KV cache, and report per generated token

- peak GPU memory (weights + KV cache + activations, `max_memory_allocated`);
- wall latency of a decode step (eager PyTorch: at this size it is dominated by kernel
  launches, which hide most of the difference);
- GPU kernel time of a decode step (torch.profiler: the latency once launches are hidden,
  e.g. with CUDA graphs);
- a roofline estimate max(bytes / HBM bandwidth, FLOPs / peak), the paper's kind of model.

Increases are relative to the P = 1 base at the same batch size.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.models.shapes import QWEN2_5_0_5B_SHAPE

PAPER_CLAIM = {"memory_increase_ratio": 22.0, "latency_increase_ratio": 6.0, "batch": 1}
# H200 SXM: 4.8 TB/s HBM3e, 989 TFLOP/s dense bf16.
HBM_BYTES_PER_S = 4.8e12
PEAK_FLOPS = 989e12
QWEN2_05B = QWEN2_5_0_5B_SHAPE
TINY = {  # a CPU-sized shape with the same structure, for tests and smoke runs
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 192,
    "vocab_size": 512,
}
SHAPES = {"qwen2-0.5b": QWEN2_05B, "tiny": TINY}
# k of the law fitted to the paper's Stack-V2-Python points (docs/parscale/README.md): the
# equal-loss parameter multiplier of P streams is k·ln P + 1.
DEFAULT_K = 0.3935


@dataclass(frozen=True)
class CostSettings:
    shape: str = "qwen2-0.5b"  # a SHAPES name, or a label when `custom` gives the shape
    streams: tuple[int, ...] = (2, 4, 8)
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8)
    prompt_tokens: int = 64  # the paper's cost analysis: 64 in, 64 out
    new_tokens: int = 64
    prefix_tokens: int = 48
    k: float = DEFAULT_K
    device: str = "auto"
    profile_steps: int = 8
    custom: dict[str, int] | None = None  # a Qwen2 shape (SHAPES' keys), e.g. a study's size
    k_ci: tuple[float, float] | None = None  # where k was fitted: its interval, reported

    def __post_init__(self) -> None:
        if self.custom is None and self.shape not in SHAPES:
            raise XlingError(f"unknown shape {self.shape!r}; known: {', '.join(SHAPES)}")
        if not self.streams or min(self.streams) < 2 or min(self.batch_sizes, default=0) < 1:
            raise XlingError("streams must be >= 2 and batch sizes >= 1")
        if self.new_tokens < 2 or self.prompt_tokens < 1:
            raise XlingError("need prompt_tokens >= 1 and new_tokens >= 2")

    @property
    def base_shape(self) -> dict[str, int]:
        return self.custom if self.custom is not None else SHAPES[self.shape]


def study_cost_inputs(folder: str | Path, size: str | None = None) -> dict[str, Any]:
    """What `xling parscale cost --study` measures: the Qwen2 shape of one of a finished
    study's sizes (the largest by default; its vocabulary read off the cells' embedding
    counts), the study's prefix length, and the k (with CI) of its fitted law."""
    import json

    from xling.parscale.budget import study_cells

    folder = Path(folder)
    settings, cells = study_cells(folder)
    summary_path = folder / "report" / "summary.json"
    if not summary_path.is_file():
        raise XlingError(f"{folder}: no report/summary.json; finish the study (its fit) first")
    try:
        prefix_tokens = int(settings["prefix_tokens"])
        law = json.loads(summary_path.read_text(encoding="utf-8"))["law"]
        k = float(law["k"])
        # No interval when the study ran without a bootstrap (n_boot = 0: [null, null]).
        ci = (law.get("ci") or {}).get("k") or [None, None]
        k_ci = None if None in ci else (float(ci[0]), float(ci[1]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise XlingError(f"{folder}: no fitted k or prefix length to read ({exc})") from None
    base = {c.shape.name: c for c in cells if c.streams == 1}
    if not base:
        raise XlingError(f"{folder}: no finished P = 1 cell")
    if size is None:
        size = max(base, key=lambda name: base[name].params["backbone_non_embedding"])
    if size not in base:
        raise XlingError(
            f"--size {size}: not a finished P = 1 size of {folder} ({', '.join(base)})"
        )
    cell = base[size]
    return {
        "label": f"{folder.name}:{size}",
        "shape": cell.shape.qwen2_sizes(cell.params["embedding"] // cell.shape.hidden),
        "prefix_tokens": prefix_tokens,
        "k": k,
        "k_ci": k_ci,
    }


def qwen2_config(shape: dict[str, int]) -> Any:
    from transformers import Qwen2Config

    return Qwen2Config(
        **shape, tie_word_embeddings=True, max_position_embeddings=4096, use_sliding_window=False
    )


def non_embedding_params(hidden: int, layers: int, heads: int, kv_heads: int, inter: int) -> int:
    head_dim = hidden // heads
    kv = kv_heads * head_dim
    attention = 2 * hidden * hidden + 2 * hidden * kv + hidden + 2 * kv
    return layers * (attention + 3 * hidden * inter + 2 * hidden) + hidden


def scaled_shape(shape: dict[str, int], multiplier: float) -> dict[str, int]:
    """The same depth, head size and KV heads, wider: non-embedding parameters ≈ multiplier ×
    the base's (hidden in steps of head_dim·kv_heads, MLP width solved for the rest)."""
    hidden, layers = shape["hidden_size"], shape["num_hidden_layers"]
    head_dim = hidden // shape["num_attention_heads"]
    kv_heads = shape["num_key_value_heads"]
    target = multiplier * non_embedding_params(
        hidden, layers, shape["num_attention_heads"], kv_heads, shape["intermediate_size"]
    )
    step = head_dim * kv_heads
    new_hidden = max(step, round(hidden * math.sqrt(multiplier) / step) * step)
    heads = new_hidden // head_dim
    attention = 2 * new_hidden**2 + 2 * new_hidden * kv_heads * head_dim + new_hidden
    per_layer = (target - new_hidden) / layers - attention - 2 * kv_heads * head_dim
    inter = max(64, round((per_layer - 2 * new_hidden) / (3 * new_hidden) / 64) * 64)
    return {
        **shape,
        "hidden_size": new_hidden,
        "num_attention_heads": heads,
        "intermediate_size": inter,
    }


@dataclass
class Row:
    model: str
    kind: str  # base | parscale | dense
    streams: int
    batch: int
    params_non_embedding: int
    params_total: int
    weights_gb: float
    peak_gb: float | None
    latency_ms: float
    kernel_ms: float | None
    roofline_ms: float
    roofline_memory_gb: float


def _roofline(
    shape: dict[str, int],
    non_embedding: int,
    total: int,
    streams: int,
    batch: int,
    context: int,
    bytes_per: int = 2,
) -> tuple[float, float]:
    """(seconds per decode step, memory in GB at `context`) from bytes moved and FLOPs."""
    layers, kv_heads = shape["num_hidden_layers"], shape["num_key_value_heads"]
    head_dim = shape["hidden_size"] // shape["num_attention_heads"]
    rows = batch * streams
    kv_bytes = 2 * layers * kv_heads * head_dim * bytes_per * context * rows
    moved = total * bytes_per + kv_bytes
    flops = (
        2 * non_embedding * rows
        + 2 * shape["vocab_size"] * shape["hidden_size"] * batch
        + 4 * layers * shape["num_attention_heads"] * head_dim * context * rows
    )
    return max(moved / HBM_BYTES_PER_S, flops / PEAK_FLOPS), (total * bytes_per + kv_bytes) / 1e9


def _build(config: Any, streams: int, prefix_tokens: int, device: str, dtype: Any) -> Any:
    import torch
    from transformers import Qwen2ForCausalLM

    from xling.models.parscale import ParScaleConfig, ParScaleForCausalLM

    with torch.device(device):
        if streams == 1:
            model = Qwen2ForCausalLM(config)
        else:
            model = ParScaleForCausalLM(
                ParScaleConfig(
                    text_config=config.to_dict(),
                    parscale_n=streams,
                    parscale_prefix_tokens=prefix_tokens,
                )
            )
    return model.to(dtype).eval()


def _decode(
    model: Any, prompt: Any, new_tokens: int, profile_steps: int
) -> tuple[float, float | None]:
    """Median wall ms of a decode step, and profiled GPU kernel ms per step (None on CPU)."""
    import torch
    from transformers import DynamicCache

    from xling.models.parscale import cache_argument

    arg = cache_argument(model.forward)
    text_config = getattr(model.config, "text_config", model.config)
    cuda = prompt.device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def run(steps: int, timings: list[float] | None) -> None:
        cache = DynamicCache(config=text_config)
        out = model(input_ids=prompt, use_cache=True, logits_to_keep=1, **{arg: cache})
        token = out.logits[:, -1:].argmax(-1)
        for _ in range(steps):
            sync()
            start = time.perf_counter()
            out = model(input_ids=token, use_cache=True, logits_to_keep=1, **{arg: cache})
            token = out.logits[:, -1:].argmax(-1)
            sync()
            if timings is not None:
                timings.append(time.perf_counter() - start)

    timings: list[float] = []
    with torch.inference_mode():
        run(4, None)  # warm-up: allocator, kernels, autotuning
        run(new_tokens - 1, timings)
        kernel_ms = None
        if cuda and profile_steps > 0:
            kernel_ms = _kernel_ms(lambda steps: run(steps, None), profile_steps)
    return 1e3 * statistics.median(timings), kernel_ms


def _kernel_ms(run: Any, steps: int) -> float | None:
    """GPU kernel time per decode step from torch.profiler: a run of `steps` decode steps
    minus a run of none (the prefill), divided by `steps`."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    def kernel_us(callable_: Any) -> float:
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            callable_()
            torch.cuda.synchronize()
        total = 0.0
        for event in prof.key_averages():
            total += getattr(event, "self_device_time_total", None) or getattr(
                event, "self_cuda_time_total", 0.0
            )
        return total

    try:
        decode_us = kernel_us(lambda: run(steps)) - kernel_us(lambda: run(0))
        return decode_us / steps / 1e3
    except Exception:
        return None


def run_cost_bench(cfg: CostSettings, console: Any = None) -> dict[str, Any]:
    import torch

    from xling.models.parscale import parameter_counts
    from xling.parscale.training import resolve_device

    device = resolve_device(cfg.device)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    base_shape = cfg.base_shape
    models: list[tuple[str, str, int, dict[str, int], float]] = [
        ("base P=1", "base", 1, base_shape, 1.0)
    ]
    for p in cfg.streams:
        models.append((f"ParScale P={p}", "parscale", p, base_shape, 1.0))
    for p in cfg.streams:
        mult = cfg.k * math.log(p) + 1.0
        models.append(
            (f"dense ×{mult:.2f} (≈ P={p})", "dense", 1, scaled_shape(base_shape, mult), mult)
        )
    rows: list[Row] = []
    generator = torch.Generator().manual_seed(0)
    for name, kind, streams, shape, _ in models:
        t0 = time.perf_counter()
        config = qwen2_config(shape)
        torch.manual_seed(0)
        model = _build(config, streams, cfg.prefix_tokens, device, dtype)
        counts = parameter_counts(model)
        weights_gb = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e9
        for batch in cfg.batch_sizes:
            prompt = torch.randint(
                0, shape["vocab_size"], (batch, cfg.prompt_tokens), generator=generator
            ).to(device)
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            latency, kernel = _decode(model, prompt, cfg.new_tokens, cfg.profile_steps)
            peak = torch.cuda.max_memory_allocated() / 1e9 if device.startswith("cuda") else None
            context = (
                cfg.prompt_tokens + cfg.new_tokens // 2 + (cfg.prefix_tokens if streams > 1 else 0)
            )
            roof_s, _ = _roofline(shape, counts["law_n"], counts["total"], streams, batch, context)
            _, roof_mem = _roofline(
                shape,
                counts["law_n"],
                counts["total"],
                streams,
                batch,
                context + cfg.new_tokens // 2,
            )
            rows.append(
                Row(
                    name,
                    kind,
                    streams,
                    batch,
                    counts["law_n"],
                    counts["total"],
                    round(weights_gb, 4),
                    None if peak is None else round(peak, 4),
                    round(latency, 4),
                    None if kernel is None else round(kernel, 4),
                    1e3 * roof_s,
                    roof_mem,
                )
            )
        if console is not None:
            console.print(
                f"{name}: {counts['total'] / 1e6:.0f}M parameters "
                f"({time.perf_counter() - t0:.1f} s)"
            )
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return {
        "device": torch.cuda.get_device_name()
        if device.startswith("cuda")
        else f"cpu ({platform.processor() or platform.machine()})",
        "torch": torch.__version__,
        "settings": asdict(cfg),
        "rows": [asdict(r) for r in rows],
        "ratios": _ratios(rows, cfg),
        "paper": PAPER_CLAIM,
    }


def _ratios(rows: list[Row], cfg: CostSettings) -> list[dict[str, Any]]:
    """Per P and batch: increase over the base for ParScale and for the equal-loss dense
    model, and dense increase / ParScale increase (the paper's '×  less increase')."""
    base = {r.batch: r for r in rows if r.kind == "base"}
    out = []
    for p in cfg.streams:
        par = {r.batch: r for r in rows if r.kind == "parscale" and r.streams == p}
        dense_name = next(r.model for r in rows if r.kind == "dense" and f"P={p})" in r.model)
        dense = {r.batch: r for r in rows if r.model == dense_name}
        for batch in cfg.batch_sizes:
            entry: dict[str, Any] = {"P": p, "batch": batch, "dense_model": dense_name}
            for metric in (
                "peak_gb",
                "latency_ms",
                "kernel_ms",
                "roofline_ms",
                "roofline_memory_gb",
            ):
                b, q, d = (getattr(x[batch], metric) for x in (base, par, dense))
                if None in (b, q, d):
                    continue
                inc_par, inc_dense = q - b, d - b
                entry[f"{metric}_increase_parscale"] = inc_par
                entry[f"{metric}_increase_dense"] = inc_dense
                # A dense increase <= 0 (k <= 0: the equal-loss dense model is no larger
                # than the base) is kept as it is: P streams then buy nothing for their cost.
                entry[f"{metric}_ratio"] = inc_dense / inc_par if inc_par > 0 else None
            out.append(entry)
    return out


def print_cost(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(
        title=f"Decode cost per generated token — {result['device']}", title_justify="left"
    )
    for col in ("model", "batch", "peak GB", "wall ms", "kernel ms", "roofline ms"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for r in result["rows"]:
        table.add_row(
            r["model"],
            str(r["batch"]),
            "n/a" if r["peak_gb"] is None else f"{r['peak_gb']:.3f}",
            f"{r['latency_ms']:.2f}",
            "n/a" if r["kernel_ms"] is None else f"{r['kernel_ms']:.3f}",
            f"{r['roofline_ms']:.4f}",
        )
    console.print(table)
    settings = result["settings"]
    k_ci = settings.get("k_ci")
    ratios = Table(
        title="Dense increase ÷ ParScale increase over the base (paper, batch 1: "
        f"memory 22×, latency 6×); k = {settings['k']:.4g}"
        + (f" [{k_ci[0]:.4g}, {k_ci[1]:.4g}]" if k_ci else "")
        + " (≤ 0×: the equal-loss dense model is no larger than the base)",
        title_justify="left",
    )
    for col in (
        "P",
        "batch",
        "memory",
        "wall latency",
        "kernel latency",
        "roofline latency",
        "roofline memory",
    ):
        ratios.add_column(col, justify="right")

    def fmt(entry: dict[str, Any], key: str) -> str:
        value = entry.get(f"{key}_ratio")
        return "n/a" if value is None else f"{value:.1f}×"

    for e in result["ratios"]:
        ratios.add_row(
            str(e["P"]),
            str(e["batch"]),
            fmt(e, "peak_gb"),
            fmt(e, "latency_ms"),
            fmt(e, "kernel_ms"),
            fmt(e, "roofline_ms"),
            fmt(e, "roofline_memory_gb"),
        )
    console.print(ratios)
