"""Pretraining the organism: AdamW with warmup and cosine decay, resumable checkpoints, a
JSONL log, and an HF model directory at the end (`xling eval` loads it like any checkpoint).

The result directory holds the weights, the tokenizer, `pretrain_log.jsonl` and
`organism.json` (the config, the corpus that was actually drawn, versions, timings).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xling.jsonl import write_json_atomic
from xling.organism.config import OrganismConfig, OrganismError
from xling.organism.corpus import StepBatches, shares
from xling.organism.model import build_model, build_tokenizer, count_params, load_init

LOG_FILE = "pretrain_log.jsonl"
META_FILE = "organism.json"
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "state.pt"
_FORMAT_VERSION = 2


def lr_at(cfg: OrganismConfig, step: int) -> float:
    """Linear warmup over warmup_steps, then cosine from lr down to min_lr_ratio * lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _optimizer(cfg: OrganismConfig, model: Any, device: str) -> Any:
    import torch

    # Decay matrices only: norms' gains and biases stay free (the usual GPT recipe).
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    fused = device == "cuda"
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=fused)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise OrganismError("--device cuda, but torch sees no CUDA device")
    return device


# ----------------------------------------------------------------------------- training


@dataclass
class PretrainResult:
    out: Path
    step: int  # optimizer steps completed
    complete: bool  # False when stopped early (stop_after) with a checkpoint to resume from
    final_loss: float | None
    n_params: int


def _trim_log(path: Path, upto: int) -> float:
    """Keep the log entries of steps <= upto: a resumed run rewrites what came after.
    Returns the training time logged up to there, so elapsed_s keeps counting on resume."""
    if not path.exists():
        return 0.0
    kept: list[str] = []
    elapsed = 0.0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if entry.get("step", 0) <= upto:
            kept.append(line)
            elapsed = float(entry.get("elapsed_s", elapsed))
    path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    return elapsed


def _save_checkpoint(
    ckpt_dir: Path, step: int, model: Any, optim: Any, cfg: OrganismConfig, drawn: Counter[str]
) -> None:
    import torch

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    state = {
        "step": step,
        "identity": cfg.identity(),
        "model": model.state_dict(),
        "optim": optim.state_dict(),
        "drawn": dict(drawn),
    }
    tmp = ckpt_dir / (CHECKPOINT_FILE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, ckpt_dir / CHECKPOINT_FILE)


def _prepare_out(out: Path, cfg: OrganismConfig, resume: bool) -> dict[str, Any] | None:
    """Check `out` against the request; return the checkpoint state when resuming."""
    import torch

    ckpt = out / CHECKPOINT_DIR / CHECKPOINT_FILE
    if (out / META_FILE).exists():
        raise OrganismError(
            f"{out} already holds a finished organism ({META_FILE}); use another --out "
            "or delete that directory to train again"
        )
    if not resume:
        if ckpt.exists():
            raise OrganismError(
                f"{out} holds an unfinished run; add --resume to continue it, or delete "
                "that directory to start over"
            )
        return None
    if not ckpt.exists():
        raise OrganismError(f"--resume: no checkpoint in {out} ({ckpt} not found)")
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    if state["identity"] != cfg.identity():
        theirs, ours = state["identity"], cfg.identity()
        diff = "; ".join(
            f"{k}: {theirs.get(k)!r} -> {ours.get(k)!r}"
            for k in sorted(set(theirs) | set(ours))
            if theirs.get(k) != ours.get(k)
        )
        raise OrganismError(
            f"--resume: the checkpoint in {out} was made with other settings ({diff})"
        )
    return state


def pretrain(
    cfg: OrganismConfig,
    out: Path | str,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    eval_n: int = 0,
    console: Any = None,
) -> PretrainResult:
    """Pretrain the organism into `out` (see the module docstring).

    `stop_after=k` stops once k steps are done without finishing the run, exactly as a kill
    after the last checkpoint would (tests use it); `resume=True` continues from there.
    `eval_n > 0` runs `quick_eval` on that many test problems per language at the end and
    records the accuracies in organism.json.
    """
    import torch
    from rich.console import Console
    from transformers import AutoTokenizer

    from xling.progress import make_progress

    console = console or Console()
    # DataLoader workers fork after the tokenizer ran here; its own threads must stay off.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out = Path(out)
    state = _prepare_out(out, cfg, resume)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    init_model = None
    if state is None:
        if cfg.init:
            tokenizer, init_model = load_init(cfg.init)
        else:
            tokenizer = build_tokenizer(cfg)
        tokenizer.save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)  # exactly what evaluation will load
    if init_model is not None:
        model = init_model
    elif cfg.init:
        model = load_init(cfg.init)[1]
    else:
        model = build_model(cfg, tokenizer)
    start = 0
    drawn: Counter[str] = Counter()
    if state is not None:
        model.load_state_dict(state["model"])
        start = int(state["step"])
        drawn.update(state.get("drawn", {}))
    model.to(device)
    model.train()
    optim = _optimizer(cfg, model, device)
    if state is not None:
        optim.load_state_dict(state["optim"])
    del state
    step_fn = torch.compile(model) if cfg.compile and device == "cuda" else model
    n_params = count_params(model)

    log_path = out / LOG_FILE
    time_offset = _trim_log(log_path, start)
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    loader = torch.utils.data.DataLoader(
        StepBatches(cfg, tokenizer),
        batch_size=None,
        sampler=range(start, end),
        num_workers=cfg.data_workers,
        pin_memory=device == "cuda",
        prefetch_factor=4 if cfg.data_workers else None,
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda")
    window_loss = torch.zeros((), device=device)
    window_steps = window_tokens = window_trunc = 0
    last_loss: float | None = None
    window_start = time.perf_counter()
    t0 = time.perf_counter()
    if start == 0:
        console.print(
            f"organism: {n_params / 1e6:.2f}M parameters, vocab {len(tokenizer)}, "
            f"{cfg.steps} steps of {cfg.batch_size} on {device}"
        )
    else:
        console.print(f"organism: resuming at step {start}/{cfg.steps}")
    with log_path.open("a", encoding="utf-8") as log, make_progress(console) as progress:
        task = progress.add_task("pretrain", total=cfg.steps, completed=start)
        step = start
        for batch in loader:
            lr = lr_at(cfg, step)
            for group in optim.param_groups:
                group["lr"] = lr
            input_ids = batch["input_ids"].to(device, non_blocking=True)
            labels = batch["labels"].to(device, non_blocking=True)
            with autocast:
                loss = step_fn(input_ids=input_ids, labels=labels).loss
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optim.step()
            optim.zero_grad(set_to_none=True)
            step += 1
            window_loss += loss.detach()
            window_steps += 1
            window_tokens += int(batch["n_tokens"])
            window_trunc += int(batch["truncated"])
            drawn.update(batch["behaviour"])
            progress.advance(task)
            if step % cfg.log_every == 0 or step == cfg.steps:
                elapsed = time.perf_counter() - window_start
                last_loss = round(float(window_loss.item()) / window_steps, 5)
                entry = {
                    "step": step,
                    "loss": last_loss,
                    "lr": lr,
                    "grad_norm": round(float(grad_norm), 4),
                    "tokens_per_s": round(window_tokens / max(elapsed, 1e-9), 1),
                    "truncated": window_trunc,
                    "elapsed_s": round(time_offset + time.perf_counter() - t0, 2),
                }
                log.write(json.dumps(entry) + "\n")
                log.flush()
                progress.update(task, description=f"pretrain loss {last_loss:.3f}")
                window_loss.zero_()
                window_steps = window_tokens = window_trunc = 0
                window_start = time.perf_counter()
            if step % cfg.ckpt_every == 0 and step < cfg.steps:
                _save_checkpoint(out / CHECKPOINT_DIR, step, model, optim, cfg, drawn)

    if step < cfg.steps:
        return PretrainResult(out, step, False, last_loss, n_params)
    if last_loss is None:  # resumed at the very end: nothing logged in this process
        last_loss = _last_logged_loss(log_path)
    _finish(
        cfg, out, model, tokenizer, n_params, last_loss, device, _logged_elapsed(log_path), drawn
    )
    console.print(f"organism written to [bold]{out}[/] (final loss {last_loss:.4f})")
    del model, optim, step_fn
    if eval_n > 0:
        from xling.organism.corpus import world_style
        from xling.organism.probe import quick_eval

        accuracy = quick_eval(out, n_per_lang=eval_n, device=device, world=world_style(cfg))
        meta = json.loads((out / META_FILE).read_text(encoding="utf-8"))
        meta["quick_eval"] = {"n_per_lang": eval_n, "split": "test", "accuracy": accuracy}
        write_json_atomic(out / META_FILE, meta)
        console.print(
            "quick eval (greedy, synthetic test): "
            + ", ".join(f"{code} {100 * acc:.1f}%" for code, acc in accuracy.items())
        )
    return PretrainResult(out, step, True, last_loss, n_params)


def _logged_elapsed(log_path: Path) -> float | None:
    lines = log_path.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[-1]).get("elapsed_s") if lines else None


def _last_logged_loss(log_path: Path) -> float | None:
    losses = [json.loads(x)["loss"] for x in log_path.read_text(encoding="utf-8").splitlines()]
    return losses[-1] if losses else None


def _finish(
    cfg: OrganismConfig,
    out: Path,
    model: Any,
    tokenizer: Any,
    n_params: int,
    final_loss: float | None,
    device: str,
    train_s: float | None,
    drawn: Counter[str],
) -> None:
    import tokenizers
    import torch
    import transformers

    model.eval()
    model.to("cpu", dtype=getattr(torch, cfg.save_dtype))
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    total = sum(cfg.lang_weights.values())
    meta = {
        "format": _FORMAT_VERSION,
        "seed": cfg.seed,
        "steps": cfg.steps,
        "final_loss": final_loss,
        "n_params": n_params,
        "vocab_size": len(tokenizer),
        "mixture": {
            "lang_weights": {c: w / total for c, w in cfg.lang_weights.items()},
            "translation_fraction": cfg.translation_fraction,
            "translation_src": cfg.translation_src,
            "loss_on": cfg.loss_on,
        },
        "corpus": corpus_summary(cfg, drawn),
        "world": {"native_digits": cfg.native_digits, "arithmetic": cfg.arithmetic},
        "device": device,
        "train_s": train_s,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "config": dataclasses.asdict(cfg),
    }
    write_json_atomic(out / META_FILE, meta)
    shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)


def corpus_summary(cfg: OrganismConfig, drawn: Counter[str]) -> dict[str, Any]:
    """Per language: chat examples drawn, and the shares of careful, drifted (steps in
    another language) and wholly drifted (answer line too) solutions among them, beside the
    configured means and the per-type shares the mixture drew from."""
    from xling.world import PROBLEM_TYPES

    summary: dict[str, Any] = {
        "reasoning_marker": cfg.reasoning_marker,
        "type_spread": cfg.type_spread,
        "drift_lang": cfg.drift_lang,
        "drift_answer_share": cfg.drift_answer_share,
        "langs": {},
    }
    for lang in cfg.lang_weights:
        n = drawn.get(f"{lang}:n", 0)
        per_type = [shares(cfg, lang, t) for t in sorted(PROBLEM_TYPES)]
        summary["langs"][lang] = {
            "chat_examples": n,
            "careful_share": cfg.careful(lang),
            "drift_share": cfg.drift(lang),
            "drawn_careful": round(drawn.get(f"{lang}:careful", 0) / n, 4) if n else None,
            "drawn_drift": round(drawn.get(f"{lang}:drift", 0) / n, 4) if n else None,
            "drawn_whole_drift": round(drawn.get(f"{lang}:whole", 0) / n, 4) if n else None,
            "types_mostly_careful": sum(p["careful"] > 0.5 for p in per_type),
            "types_mostly_drifting": sum(p["drift"] > 0.5 for p in per_type),
            "n_types": len(per_type),
        }
    return summary
