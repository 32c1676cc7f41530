"""Training ParScale models on the organism's synthetic corpus: from scratch (every parameter
learns) or post-training on a frozen backbone (only the prefixes and the aggregator learn).

Data are the organism's own batches (`xling.organism.step_examples` / `encode_examples`, the
organism tokenizer): tokenized once into a `TokenBatches` file that every model of a study
reads, so every cell of the N × P grid sees exactly the same tokens in the same order.
Held-out batches come from other seeds of the same generator (fresh problems; the synthetic
world is small, so an occasional repeat of a training problem is possible) — one set drawn
like the training mixture, and one set per language.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from xling.errors import XlingError
from xling.organism import OrganismConfig, encode_examples, step_examples
from xling.parscale.settings import TrainSettings
from xling.workers import worker_context

IGNORE = -100  # the label HF causal-LM losses skip
_HELDOUT_SEED_OFFSET = 1_000_003  # held-out batches: generator seeds no training batch uses


# ----------------------------------------------------------------------------- data


@dataclass
class TokenBatches:
    """Right-padded (input_ids, labels) batches, stored as int32 on disk."""

    input_ids: list[torch.Tensor]
    labels: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_tokens(self) -> int:
        return int(sum((lab != IGNORE).sum() for lab in self.labels))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save({"input_ids": self.input_ids, "labels": self.labels}, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> TokenBatches:
        data = torch.load(path, weights_only=True)
        return cls(data["input_ids"], data["labels"])


def _encode_step(args: tuple[OrganismConfig, int, Any, int, str]) -> tuple[torch.Tensor, ...]:
    cfg, step, tokenizer, seq_len, loss_on = args
    batch = encode_examples(tokenizer, step_examples(cfg, step), seq_len=seq_len, loss_on=loss_on)
    return batch["input_ids"].to(torch.int32), batch["labels"].to(torch.int32)


def make_batches(
    corpus: OrganismConfig,
    tokenizer: Any,
    steps: Sequence[int],
    *,
    seq_len: int,
    loss_on: str,
    workers: int = 1,
) -> TokenBatches:
    """Batch k of `steps` is `step_examples(corpus, k)`, tokenized (a function of the seed)."""
    jobs = [(corpus, step, tokenizer, seq_len, loss_on) for step in steps]
    if workers > 1 and len(jobs) > 1:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context()) as pool:
            encoded = list(pool.map(_encode_step, jobs, chunksize=max(1, len(jobs) // workers)))
    else:
        encoded = [_encode_step(job) for job in jobs]
    return TokenBatches([e[0] for e in encoded], [e[1] for e in encoded])


def heldout_corpus(corpus: OrganismConfig, batch_size: int, lang: str | None = None) -> Any:
    """The training generator with other seeds (and one language only, when `lang` is set)."""
    changes: dict[str, Any] = {"seed": corpus.seed + _HELDOUT_SEED_OFFSET, "batch_size": batch_size}
    if lang is not None:
        changes.update(lang_weights={lang: 1.0}, translation_fraction=0.0)
    return dataclasses.replace(corpus, **changes)


# ----------------------------------------------------------------------------- training


def _optimizer(model: torch.nn.Module, settings: TrainSettings, device: str) -> Any:
    # Decay weight matrices only: norms, biases and the stream prefixes (which should stay
    # free to be large, like the keys/values they imitate) are not decayed.
    decay, rest = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (decay if param.dim() >= 2 and not name.startswith("prefix_") else rest).append(param)
    if not decay and not rest:
        raise XlingError("the model has no trainable parameters")
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=settings.lr, betas=(0.9, 0.95), fused=device.startswith("cuda")
    )


def train_steps(
    model: torch.nn.Module,
    batches: TokenBatches,
    settings: TrainSettings,
    *,
    device: str,
    on_step: Callable[[int, float], None] | None = None,
    log_every: int = 10,
) -> list[dict[str, float]]:
    """Train on batches[0 .. steps-1] (cycling if there are fewer); returns the loss log."""
    if len(batches) == 0:
        raise XlingError("no training batches")
    model.to(device)
    model.train()
    optim = _optimizer(model, settings, device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda"))
    params = [p for p in model.parameters() if p.requires_grad]
    window = torch.zeros((), device=device)
    log: list[dict[str, float]] = []
    start = time.perf_counter()
    for step in range(settings.steps):
        for group in optim.param_groups:
            group["lr"] = settings.lr_at(step)
        k = step % len(batches)
        input_ids = batches.input_ids[k].to(device, dtype=torch.long, non_blocking=True)
        labels = batches.labels[k].to(device, dtype=torch.long, non_blocking=True)
        with autocast:
            loss = model(input_ids=input_ids, labels=labels, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
        optim.step()
        optim.zero_grad(set_to_none=True)
        window += loss.detach()
        done = step + 1
        if done % log_every == 0 or done == settings.steps:
            n = log_every if done % log_every == 0 else done % log_every
            mean = float(window.item()) / n
            log.append(
                {"step": done, "loss": round(mean, 5), "elapsed_s": time.perf_counter() - start}
            )
            window.zero_()
            if on_step is not None:
                on_step(done, mean)
    model.eval()
    return log


@torch.no_grad()
def heldout_nll(model: torch.nn.Module, batches: TokenBatches, *, device: str) -> torch.Tensor:
    """(n_batches, 2): summed token NLL (nats) and token count of every held-out batch, so a
    bootstrap can resample batches and recompute the pooled loss."""
    model.to(device)
    model.eval()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda"))
    rows = []
    for input_ids, labels in zip(batches.input_ids, batches.labels, strict=True):
        input_ids = input_ids.to(device, dtype=torch.long)
        labels = labels.to(device, dtype=torch.long)
        with autocast:
            logits = model(input_ids=input_ids, use_cache=False).logits
        targets = labels[:, 1:]
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.shape[-1]),
            targets.reshape(-1),
            ignore_index=IGNORE,
            reduction="sum",
        )
        rows.append(torch.stack([nll, (targets != IGNORE).sum().to(nll.dtype)]))
    return torch.stack(rows).double().cpu()


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise XlingError(f"--device {device}, but torch sees no CUDA device")
    return device


# ----------------------------------------------------------------------------- post-training

POST_TRAINING_SEED_OFFSET = 7919  # post-training batches: other seeds than pretraining's


def post_train(
    base: str | Path,
    streams: int,
    out: Path,
    *,
    corpus: OrganismConfig,
    settings: TrainSettings,
    prefix_tokens: int,
    device: str,
    heldout: TokenBatches | None = None,
    data_workers: int = 1,
    on_step: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """ParScale with P = `streams` around the frozen causal LM at `base`: train only the
    prefixes and the aggregator on `corpus` batches (seeds the base never saw), save an HF
    checkpoint directory (+ tokenizer) to `out`; returns what it writes to parscale.json."""
    from transformers import AutoTokenizer

    from xling.jsonl import write_json_atomic
    from xling.models.parscale import ParScaleForCausalLM, parameter_counts

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = ParScaleForCausalLM.from_backbone(
        str(base),
        streams=streams,
        prefix_tokens=prefix_tokens,
        seed=settings.seed,
        dtype=torch.float32,
    )
    model.freeze_backbone()
    source = dataclasses.replace(
        corpus, seed=corpus.seed + POST_TRAINING_SEED_OFFSET, batch_size=settings.batch_size
    )
    batches = make_batches(
        source,
        tokenizer,
        range(settings.steps),
        seq_len=settings.seq_len,
        loss_on=settings.loss_on,
        workers=data_workers,
    )
    info: dict[str, Any] = {"streams": streams, "prefix_tokens": prefix_tokens, "base": str(base)}
    if heldout is not None:
        info["heldout_loss_before"] = pooled_loss(heldout_nll(model, heldout, device=device))
    t0 = time.perf_counter()
    log = train_steps(model, batches, settings, device=device, on_step=on_step)
    info["train_s"] = round(time.perf_counter() - t0, 2)
    if heldout is not None:
        info["heldout_loss_after"] = pooled_loss(heldout_nll(model, heldout, device=device))
    model.to("cpu")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info.update(
        params=parameter_counts(model), settings=dataclasses.asdict(settings), train_log=log
    )
    write_json_atomic(out / "parscale.json", info)
    return info


def pooled_loss(rows: torch.Tensor) -> float:
    """Total NLL / total tokens of `heldout_nll` rows."""
    return float(rows[:, 0].sum() / rows[:, 1].sum())
