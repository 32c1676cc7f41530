"""Generation speed: transformers `generate` vs xling's engine (and vLLM where installed).

    python bench/generate.py --out docs/perf          # one GPU, about 5 minutes on an H200
    python bench/generate.py --out /tmp/p --device cpu --shape tiny --batches 1,8 \\
        --static-batches 8 --new-tokens 32 --organism-n 4 --organism-batch 16 \\
        --grpo-steps 1 --grpo-batch 8 --grpo-generations 4 --grpo-tokens 32 --grpo-workers 1
        # a CPU smoke run of every section

One run, one device, a few repeats only (one warm-up and one timed run per figure), so
figures move by a few percent between runs. Sections (`--sections`):

- `checks`: the engine against `generate` on this device: greedy outputs token-identical
  in float32 on the organism and on random Qwen2/Qwen3/Llama/Mistral models (through CUDA
  graphs on a GPU); graphs that keep up with in-place optimizer steps (fused AdamW);
  sampled outputs reproducible for a seed. Each check reports ok or what failed.
- `shape`: a random-weight model of Qwen2.5-0.5B's shape (hidden 896, 24 layers, 14 heads,
  2 key/value heads, intermediate 4864, vocabulary 151936, tied embeddings; built from the
  config, no download), bf16, 128-token prompts, 256 new tokens, sampling (temperature 1),
  at each batch size: `generate`, `generate` with a static cache (transformers compiles it;
  its compile time is reported apart), the engine, and vLLM where installed. Tokens/s are
  generated tokens over wall time, prefill included. The roofline is the weights-only
  bandwidth bound: batch x device copy bandwidth (measured here, or `--bandwidth-gbs`) /
  weight bytes.
- `organism`: greedy evaluation of the bundled organism through the `hf` backend
  (`--organism-batch` sequences at once), 11 languages x `--organism-n` synthetic test
  problems, at most `--organism-tokens` (192) new tokens: `generate` vs the engine, and
  the share of the outputs that are identical; in the dtype `xling eval` uses on the
  device (`--organism-dtype auto`: bf16 on CUDA), then in float32 (`organism_float32_*`).
- `grpo`: seconds per 1,000 GRPO rollouts on the organism (bench/train_step.py, by default
  the settings of docs/gpu: 8 prompts x 16 rollouts per step, 160 completion tokens, 8
  scoring workers, 4 timed steps after 1 warm-up step; float32 as the organism study
  trains), rollouts from the engine and from TRL's `generate`.

Writes `<out>/generate-<device>.json` and prints a table last.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import gc
import importlib.util
import json
import platform
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from xling.models.shapes import QWEN2_5_0_5B_SHAPE

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/train_step.py

ORGANISM = Path(__file__).resolve().parents[1] / "src" / "xling" / "data" / "organism"
SHAPES: dict[str, dict[str, Any]] = {
    "qwen2.5-0.5b": QWEN2_5_0_5B_SHAPE,
    # For smoke runs on a CPU (head size 32: vLLM's CPU attention has no kernel for 16).
    "tiny": {
        "hidden_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 128,
        "vocab_size": 1024,
    },
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], Any]) -> tuple[Any, float]:
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return result, time.perf_counter() - start


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextlib.contextmanager
def section(name: str, results: dict[str, Any]) -> Iterator[None]:
    """Run a section; a failure is recorded in the results, and the next section runs."""
    print(f"== {name}", flush=True)
    start = time.perf_counter()
    try:
        yield
    except Exception as exc:  # a bench keeps every figure it could measure
        traceback.print_exc()
        results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
    finally:
        results.setdefault("section_seconds", {})[name] = round(time.perf_counter() - start, 1)
        free_memory()


def copy_bandwidth(device: torch.device) -> float:
    """Device memory bandwidth in bytes/s, from copying a large buffer (read + write)."""
    size = (1 << 30) if device.type == "cuda" else (1 << 27)
    src = torch.empty(size, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    _, seconds = timed(device, lambda: [dst.copy_(src) for _ in range(10)])
    return 2 * size * 10 / seconds


def weight_bytes(model: Any) -> int:
    seen: set[int] = set()
    total = 0
    for p in model.parameters():  # tied embeddings count once
        if p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            total += p.numel() * p.element_size()
    return total


# ------------------------------------------------------------------ checks


def run_checks(device: torch.device) -> dict[str, str]:
    from transformers import AutoModelForCausalLM

    from xling.engine import Engine, EngineConfig, SamplingParams
    from xling.testing.tinymodel import (
        TINY_FAMILIES,
        greedy_continuation,
        random_prompts,
        tiny_causal_lm,
    )

    def greedy_reference(model: Any, prompts: list[list[int]], new: int, eos: list[int]) -> Any:
        return [greedy_continuation(model, p, new, eos) for p in prompts]

    results: dict[str, str] = {}

    def check(name: str, fn: Callable[[], str | None]) -> None:
        try:
            problem = fn()
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        results[name] = "ok" if problem is None else problem
        print(f"  {name}: {results[name]}", flush=True)

    config = EngineConfig(max_batch_size=4)
    # The tiny models are below the size the engine compiles for by default: on a GPU they
    # are also checked compiled, the path larger models take.
    variants = {"": config}
    if device.type == "cuda":
        variants["_compiled"] = dataclasses.replace(config, compile=True)
    for family in TINY_FAMILIES:
        for suffix, variant in variants.items():

            def family_check(family: str = family, variant: EngineConfig = variant) -> str | None:
                model = tiny_causal_lm(family).to(device)
                prompts = random_prompts(9, model.config.vocab_size)
                engine = Engine(model, eos_token_ids=[1], config=variant)
                done = engine.generate(prompts, SamplingParams(max_new_tokens=24))
                want = greedy_reference(model, prompts, 24, [1])
                same = sum(c.tokens == w for c, w in zip(done, want, strict=True))
                return None if same == len(want) else f"{same}/{len(want)} identical"

            check(f"greedy_fp32_{family}{suffix}", family_check)

    def organism_check() -> str | None:
        from transformers import AutoTokenizer

        from xling.backends.hf import encode_prompt
        from xling.prompts import build_request
        from xling.records import Problem
        from xling.world import iter_records

        tokenizer = AutoTokenizer.from_pretrained(ORGANISM)
        model = AutoModelForCausalLM.from_pretrained(ORGANISM, dtype=torch.float32).to(device)
        records = iter_records("test", 2, seed=0)
        prompts = [
            encode_prompt(
                tokenizer,
                build_request(
                    Problem("synth", r["id"], r["lang"], r["question"], r["answer"])
                ).messages,
            )
            for r in records
        ]
        engine = Engine(model, eos_token_ids=[2, 0], config=EngineConfig(max_batch_size=8))
        got = [c.tokens for c in engine.generate(prompts, SamplingParams(max_new_tokens=96))]
        want = greedy_reference(model, prompts, 96, [2, 0])
        same = sum(a == b for a, b in zip(got, want, strict=True))
        return None if same == len(want) else f"{same}/{len(want)} identical"

    check("greedy_fp32_organism_22_prompts", organism_check)

    def in_place_check(variant: EngineConfig) -> str | None:
        model = tiny_causal_lm("qwen2").to(device)
        prompts = random_prompts(4, model.config.vocab_size)
        engine = Engine(model, eos_token_ids=[1], config=variant)
        before = engine.generate(prompts, SamplingParams(max_new_tokens=16))
        captures = engine.graphs.captures
        fused = {"fused": True} if device.type == "cuda" else {}
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.05, **fused)
        ids = torch.tensor([prompts[0]], device=device)
        model(ids, labels=ids).loss.backward()
        optimizer.step()
        after = engine.generate(prompts, SamplingParams(max_new_tokens=16))
        if engine.graphs.captures != captures:
            return "graphs were re-captured after the optimizer step"
        if after == before:
            return "outputs did not change after the optimizer step"
        want = greedy_reference(model, prompts, 16, [1])
        same = sum(c.tokens == w for c, w in zip(after, want, strict=True))
        return None if same == len(want) else f"{same}/{len(want)} identical after the update"

    for suffix, variant in variants.items():
        check(
            f"graphs_follow_in_place_updates{suffix}",
            functools.partial(in_place_check, variant),
        )

    def sampling_check() -> str | None:
        model = tiny_causal_lm("qwen3").to(device)
        prompts = random_prompts(6, model.config.vocab_size)
        params = [
            SamplingParams(temperature=0.8, top_p=0.9, max_new_tokens=16, seed=i) for i in range(6)
        ]
        first = Engine(model, eos_token_ids=[1]).generate(prompts, params)
        again = Engine(model, eos_token_ids=[1], config=config).generate(
            prompts[::-1], params[::-1]
        )
        return None if again[::-1] == first else "samples changed with batch order and size"

    check("sampling_reproducible", sampling_check)

    if device.type == "cuda":

        def compiled_sampling_check() -> str | None:
            model = tiny_causal_lm("qwen2").to(device)
            prompts = random_prompts(6, model.config.vocab_size)
            params = [
                SamplingParams(temperature=1.0, top_p=(0.9, 1.0)[i % 2], max_new_tokens=16, seed=i)
                for i in range(6)
            ]
            eager = Engine(
                model, eos_token_ids=[1], config=dataclasses.replace(config, compile=False)
            )
            compiled = Engine(model, eos_token_ids=[1], config=variants["_compiled"])
            same = eager.generate(prompts, params) == compiled.generate(prompts, params)
            return None if same else "compiled sampling drew other tokens than eager sampling"

        check("sampling_compiled_matches_eager", compiled_sampling_check)
    return results


# ------------------------------------------------------------------ the 0.5B shape


def build_shape_model(shape: str, device: torch.device) -> Any:
    return random_qwen2({"tie_word_embeddings": True, **SHAPES[shape]}, device)


def random_qwen2(shape: dict[str, Any], device: torch.device) -> Any:
    """A random-weight bf16 Qwen2 of `shape` (config sizes), built on `device`."""
    from transformers import AutoModelForCausalLM

    from xling.models.random_init import qwen2_config

    config = qwen2_config(shape, bos_token_id=None, eos_token_id=None, pad_token_id=0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    return model.eval()


def sampled_generate(
    model: Any, ids: torch.Tensor, max_new: int, device: torch.device, *, static: bool = False
) -> int:
    """transformers `generate` sampling at temperature 1 with no end-of-sequence token (a
    random-weight model would stop at random), `static`: its compiled static cache; returns
    the tokens generated."""
    from transformers import GenerationConfig

    config = GenerationConfig(
        do_sample=True,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        max_new_tokens=max_new,
        eos_token_id=None,
        pad_token_id=0,
        **({"cache_implementation": "static"} if static else {}),
    )
    ids = ids.to(device)
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
    return (out.shape[1] - ids.shape[1]) * ids.shape[0]


def bench_shape(
    args: argparse.Namespace,
    device: torch.device,
    bandwidth: float,
    results: dict[str, Any],
    paths: tuple[str, ...],
) -> None:
    """`paths` of plain | engine | static | vllm on the shape at every batch size."""

    from xling.engine import Engine, EngineConfig, SamplingParams

    model = build_shape_model(args.shape, device)
    weights = weight_bytes(model)
    results["shape"] = {"name": args.shape, "weight_bytes": weights, "dtype": "bfloat16"}
    new = args.new_tokens

    def prompts(batch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(batch)  # the same prompts for every path
        return torch.randint(0, model.config.vocab_size, (batch, args.prompt_tokens), generator=g)

    def hf_generate(ids: torch.Tensor, static: bool, max_new: int) -> int:
        return sampled_generate(model, ids, max_new, device, static=static)

    for batch in args.batches:
        ids = prompts(batch)
        results[f"roofline_bs{batch}_tok_s"] = round(bandwidth / weights * batch)
        if "plain" in paths:
            with section(f"plain_bs{batch}", results):
                hf_generate(ids, False, 8)
                tokens, seconds = timed(device, lambda ids=ids: hf_generate(ids, False, new))
                results[f"plain_bs{batch}_tok_s"] = round(tokens / seconds, 1)
        if "engine" in paths:
            with section(f"engine_bs{batch}", results):
                engine = Engine(model, config=EngineConfig(max_batch_size=batch))
                params = [
                    SamplingParams(temperature=1.0, max_new_tokens=new, seed=i)
                    for i in range(batch)
                ]
                run = functools.partial(engine.generate, ids.tolist(), params)
                _, first_s = timed(device, run)  # captures the CUDA graphs
                done, seconds = timed(device, run)
                tokens = sum(len(c.tokens) for c in done)
                results[f"engine_bs{batch}_tok_s"] = round(tokens / seconds, 1)
                results[f"engine_bs{batch}_first_run_s"] = round(first_s, 2)
        if "static" in paths and batch in args.static_batches:
            with section(f"static_bs{batch}", results):
                # The warm-up compiles; it must have the timed run's cache length.
                _, compile_s = timed(device, lambda ids=ids: hf_generate(ids, True, new))
                tokens, seconds = timed(device, lambda ids=ids: hf_generate(ids, True, new))
                results[f"static_bs{batch}_tok_s"] = round(tokens / seconds, 1)
                results[f"static_bs{batch}_warmup_s"] = round(compile_s, 1)
    if "vllm" in paths:
        if importlib.util.find_spec("vllm") is None:
            results["vllm"] = "not installed"
        else:
            with section("vllm", results):
                bench_vllm(args, model, device, results)


def bench_vllm(
    args: argparse.Namespace, model: Any, device: torch.device, results: dict[str, Any]
) -> None:
    import vllm

    with tempfile.TemporaryDirectory(prefix="xling-bench-vllm-") as folder:
        model.save_pretrained(folder)
        llm = vllm.LLM(
            model=folder,
            dtype="bfloat16",
            skip_tokenizer_init=True,
            seed=0,
            max_model_len=args.prompt_tokens + args.new_tokens + 16,
            gpu_memory_utilization=0.5 if device.type == "cuda" else 0.3,
        )
        g = torch.Generator().manual_seed(0)
        for batch in args.batches:
            rows = torch.randint(
                0, model.config.vocab_size, (batch, args.prompt_tokens), generator=g
            )
            prompts = [{"prompt_token_ids": r} for r in rows.tolist()]
            sampling = vllm.SamplingParams(
                temperature=1.0, max_tokens=args.new_tokens, ignore_eos=True, seed=0
            )
            llm.generate(prompts, sampling, use_tqdm=False)
            start = time.perf_counter()
            out = llm.generate(prompts, sampling, use_tqdm=False)
            seconds = time.perf_counter() - start
            tokens = sum(len(o.outputs[0].token_ids) for o in out)
            results[f"vllm_bs{batch}_tok_s"] = round(tokens / seconds, 1)
        del llm


# ------------------------------------------------------------------ the organism


def bench_organism(args: argparse.Namespace, device: torch.device, results: dict[str, Any]) -> None:
    from xling.backends.base import GenerationParams
    from xling.backends.hf import HFBackend, resolve_dtype
    from xling.prompts import build_request
    from xling.records import Problem
    from xling.world import iter_records

    records = list(iter_records("test", args.organism_n, seed=0))
    requests = [
        build_request(Problem("synth", r["id"], r["lang"], r["question"], r["answer"]))
        for r in records
    ]
    params = GenerationParams(temperature=0.0, max_new_tokens=args.organism_tokens)
    # The headline in the dtype `xling eval` uses on this device (what the study runs), then
    # float32, the dtype in which outputs must be identical.
    headline = str(resolve_dtype(args.organism_dtype, str(device))).removeprefix("torch.")
    for dtype in dict.fromkeys([headline, "float32"]):
        prefix = "organism" if dtype == headline else f"organism_{dtype}"
        outputs: dict[str, list[Any]] = {}
        # (run, the backend's engine mode, result key)
        runs = [("off", "off", f"{prefix}_plain_tok_s"), ("on", "on", f"{prefix}_engine_tok_s")]
        if device.type == "cuda" and dtype != "float32":
            # Diagnosis of `generate` in half precision: its attention, left-padded with a
            # mask, may go to cuDNN, which plans anew for every cache length.
            runs.append(("no-cudnn", "off", f"{prefix}_plain_no_cudnn_attention_tok_s"))
        for run, engine, key in runs:
            backend = HFBackend(
                str(ORGANISM),
                device=str(device),
                dtype=dtype,
                batch_size=args.organism_batch,
                engine=engine,
            )
            backends = contextlib.nullcontext()
            if run == "no-cudnn":
                from torch.nn.attention import SDPBackend, sdpa_kernel

                backends = sdpa_kernel(
                    [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
                )
            try:
                with backends:
                    # Warm-up: the engine's once over everything (it captures a CUDA graph
                    # per batch and length bucket it meets), generate's on a slice.
                    backend.generate(requests if engine == "on" else requests[:64], params)
                    outs, seconds = timed(device, lambda b=backend: b.generate(requests, params))
            finally:
                backend.close()
            tokens = sum(o[0].n_tokens or 0 for o in outs)
            results[key] = round(tokens / seconds, 1)
            results[key.replace("_tok_s", "_s")] = round(seconds, 3)
            outputs[run] = outs
        same = sum(a == b for a, b in zip(outputs["off"], outputs["on"], strict=True))
        results[prefix] = {
            "problems": len(requests),
            "languages": 11,
            "dtype": dtype,
            "batch_size": args.organism_batch,
            "max_new_tokens": args.organism_tokens,
            "identical_outputs_share": round(same / len(requests), 4),
        }


def bench_grpo(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from train_step import measure

    settings = {
        "model": str(ORGANISM),
        "steps": args.grpo_steps,
        "warmup": 1,
        "num_generations": args.grpo_generations,
        "per_device_batch_size": args.grpo_batch,
        "max_completion_length": args.grpo_tokens,
        "score_workers": args.grpo_workers,
        "precision": args.grpo_precision,
    }
    for mode, key in (("on", "grpo_s_per_1k_rollouts"), ("off", "grpo_plain_s_per_1k_rollouts")):
        with section(f"grpo_{mode}", results):
            figures = measure(**settings, rollout_engine=mode)
            assert figures is not None
            results[key] = figures["seconds_per_1k_rollouts"]
            results[key.replace("s_per_1k_rollouts", "figures")] = figures


# ------------------------------------------------------------------ main


def device_slug(device: torch.device) -> str:
    if device.type != "cuda":
        return "cpu"
    name = torch.cuda.get_device_name(device).lower()
    found = re.search(r"\b([a-z]\d{2,4}[a-z]?)\b", name)
    return found.group(1) if found else re.sub(r"[^a-z0-9]+", "-", name).strip("-")


def ratio(results: dict[str, Any], a: str, b: str, digits: int = 2) -> float | None:
    if a in results and b in results and results[b]:
        return round(results[a] / results[b], digits)
    return None


def summarize(results: dict[str, Any], batches: list[int]) -> None:
    for batch in batches:
        results[f"engine_vs_plain_bs{batch}"] = ratio(
            results, f"engine_bs{batch}_tok_s", f"plain_bs{batch}_tok_s"
        )
        for path in ("plain", "static", "engine", "vllm"):
            share = ratio(results, f"{path}_bs{batch}_tok_s", f"roofline_bs{batch}_tok_s", 4)
            if share is not None:
                results[f"{path}_bs{batch}_roofline_share"] = share
    results["organism_engine_vs_plain"] = ratio(
        results, "organism_engine_tok_s", "organism_plain_tok_s"
    )
    if "organism_plain_no_cudnn_attention_tok_s" in results:
        results["organism_engine_vs_plain_no_cudnn_attention"] = ratio(
            results, "organism_engine_tok_s", "organism_plain_no_cudnn_attention_tok_s"
        )
    if "organism_float32_engine_tok_s" in results:
        results["organism_float32_engine_vs_plain"] = ratio(
            results, "organism_float32_engine_tok_s", "organism_float32_plain_tok_s"
        )
    results["grpo_plain_vs_engine"] = ratio(
        results, "grpo_plain_s_per_1k_rollouts", "grpo_s_per_1k_rollouts"
    )
    speed = results.get("engine_vs_plain_bs256")
    organism = results["organism_engine_vs_plain"]
    grpo = results.get("grpo_s_per_1k_rollouts")
    results["targets"] = {
        "engine_20x_plain_bs256": None if speed is None else speed >= 20,
        "organism_engine_10x_plain": None if organism is None else organism >= 10,
        "grpo_at_most_3.4s_per_1k": None if grpo is None else grpo <= 3.4,
        "checks_all_ok": (
            all(v == "ok" for v in results["checks"].values()) if "checks" in results else None
        ),
    }


def print_table(results: dict[str, Any], batches: list[int]) -> None:
    print(f"\n{results['device']} | copy bandwidth {results['bandwidth_gbs']} GB/s")
    paths = ("plain", "static", "engine", "vllm", "roofline")
    print(f"{'batch':>6} " + " ".join(f"{p + ' tok/s':>16}" for p in paths))
    for batch in batches:
        cells = []
        for path in paths:
            value = results.get(f"{path}_bs{batch}_tok_s")
            share = results.get(f"{path}_bs{batch}_roofline_share")
            text = "-" if value is None else f"{value:,.0f}"
            if share is not None and path != "roofline":
                text += f" ({100 * share:.1f}%)"
            cells.append(f"{text:>16}")
        print(f"{batch:>6} " + " ".join(cells))
    for key in (
        "organism_plain_tok_s",
        "organism_engine_tok_s",
        "organism_engine_vs_plain",
        "organism_engine_vs_plain_no_cudnn_attention",
        "organism_float32_engine_vs_plain",
        "grpo_plain_s_per_1k_rollouts",
        "grpo_s_per_1k_rollouts",
    ):
        print(f"{key:<32} {results.get(key, '-')}")
    for name, verdict in results.get("checks", {}).items():
        print(f"check {name:<36} {verdict}")
    print(f"targets: {results.get('targets')}")
    if results.get("errors"):
        print(f"errors: {results['errors']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON")
    parser.add_argument("--device", default=None, help="cuda | cpu [default: cuda if present]")
    parser.add_argument(
        "--sections", default="checks,shape,organism,grpo", help="comma-separated sections"
    )
    parser.add_argument("--shape", default="qwen2.5-0.5b", choices=sorted(SHAPES))
    parser.add_argument("--batches", default="1,64,256")
    parser.add_argument(
        "--static-batches", default="1,64,256", help="batches for static cache + compile"
    )
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--bandwidth-gbs", type=float, help="skip measuring copy bandwidth")
    parser.add_argument("--organism-n", type=int, default=50, help="test problems per language")
    parser.add_argument(
        "--organism-dtype",
        default="auto",
        help="auto (what xling eval uses: bf16 on CUDA, float32 on CPU) | bfloat16 | float32; "
        "float32 is measured too",
    )
    parser.add_argument("--organism-batch", type=int, default=256)
    parser.add_argument("--organism-tokens", type=int, default=192, help="max new tokens")
    parser.add_argument(
        "--cpu-threads", type=int, default=1, help="torch threads on a CPU (1: no spin-waits)"
    )
    parser.add_argument("--grpo-steps", type=int, default=4, help="timed GRPO steps")
    parser.add_argument("--grpo-precision", default="fp32", help="auto | bf16 | fp32")
    parser.add_argument("--grpo-batch", type=int, default=128, help="rollouts per step")
    parser.add_argument("--grpo-generations", type=int, default=16, help="rollouts per prompt")
    parser.add_argument("--grpo-tokens", type=int, default=160, help="max completion tokens")
    parser.add_argument("--grpo-workers", type=int, default=8, help="reward scoring workers")
    args = parser.parse_args()
    args.batches = [int(b) for b in args.batches.split(",") if b]
    args.static_batches = {int(b) for b in args.static_batches.split(",") if b}
    sections = set(args.sections.split(","))
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        if device.index is None:  # set_device needs an index: "cuda" means the current one
            device = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(args.cpu_threads)

    import transformers

    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "settings": {
            "batches": args.batches,
            "prompt_tokens": args.prompt_tokens,
            "new_tokens": args.new_tokens,
            "repeats": "one warm-up and one timed run per figure",
        },
    }
    bandwidth = args.bandwidth_gbs * 1e9 if args.bandwidth_gbs else copy_bandwidth(device)
    results["bandwidth_gbs"] = round(bandwidth / 1e9, 1)
    results["bandwidth_source"] = "flag" if args.bandwidth_gbs else "measured device copy"
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"generate-{device_slug(device)}.json"

    def save() -> None:  # after every section: a run cut short keeps what it measured
        summarize(results, args.batches)
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    # Most telling first, slowest last (static+compile spends most of its time compiling).
    if "checks" in sections:
        with section("checks", results):
            results["checks"] = run_checks(device)
        save()
    if "shape" in sections:
        with section("shape", results):
            bench_shape(args, device, bandwidth, results, ("plain", "engine"))
        save()
    if "organism" in sections:
        with section("organism", results):
            bench_organism(args, device, results)
        save()
    if "grpo" in sections:
        bench_grpo(args, results)
        save()
    if "shape" in sections:
        with section("shape_static_vllm", results):
            bench_shape(args, device, bandwidth, results, ("static", "vllm"))
        save()
    print_table(results, args.batches)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
