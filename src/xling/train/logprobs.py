"""Per-token log-probabilities of GRPO rollouts with each prompt computed once.

TRL scores a batch of rollouts as [rollouts, prompt + completion] rows through the HF model:
each of a prompt's num_generations rollouts recomputes that prompt, forward and backward;
every row is padded to the longest prompt and the longest completion; and off Triton its
fused head projects every position onto the vocabulary, prompt positions included. On a
CPU that is most of a GRPO step: in the organism demo's recipe, 21,120 positions are
computed through the model and the head to score about 4,000 completion tokens.

`shared_prompt_logprobs` computes the same function of the same parameters:
- each distinct prompt runs once; its keys and values, graph included, are indexed out to
  its rollouts, whose completion tokens attend to them. Backward through that indexing sums
  the rollouts' gradients into the one prompt computation, which is what the repeated
  prompts' gradients add up to. It is `index_select`, whose backward adds in a fixed order:
  on a CPU, advanced indexing's backward (an accumulating `index_put_`) adds repeated rows
  in whatever order its threads finish, so two runs drifted apart after a few steps;
- completions are bucketed by length, each bucket padded only to its own longest;
- only the scored positions reach the head, 1,024 at a time: plain autograd where their
  logits fit PLAIN_HEAD_BYTES, else TRL's own chunked log-prob function (which recomputes
  each tile rather than keep it).

Positions start at 0 for every prompt where TRL's left padding shifts them; rotary
attention depends only on the distance between positions, so the scores are the same up
to rounding (tests/test_logprobs.py holds them, and the gradients, to TRL's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from xling.engine.model import Decoder, LayerWeights, unsupported_reason

# Completion positions (rows x padded width) per bucket at most: a bound on activations.
BUCKET_TOKENS = 4096
# A bucket's fixed cost (some 40 operations per layer, forward and backward), in positions
# of work: it stops the grouping from splitting rows into buckets of a few each.
BUCKET_OVERHEAD = 64
# Positions per call of the head: its tiles are [positions, vocabulary] floats, a dozen of
# them alive at once. TRL's own tile of 4,096 positions made each a 67 MB block on the
# organism, which the allocator handed back to the kernel and faulted in again each step
# (a third of the step's time); 1,024 keeps them small and reused.
HEAD_TOKENS = 1024
# Logits (and their softmax) of every scored position that autograd may keep.
PLAIN_HEAD_BYTES = 512 << 20


def chunked_logprob_function() -> Any:
    """TRL's chunked log-prob autograd function, or None where this TRL lacks it."""
    try:
        from trl.kernels.chunked_logprob import ChunkedLogProbFunction
    except ImportError:
        return None
    return ChunkedLogProbFunction


def unavailable_reason(model: Any) -> str | None:
    """Why `shared_prompt_logprobs` cannot score `model`, or None."""
    if chunked_logprob_function() is None:
        return "this TRL has no trl.kernels.chunked_logprob"
    return unsupported_reason(model)


@dataclass(frozen=True)
class _Prompts:
    ids: torch.Tensor  # [G, Tp] distinct prompts, right-padded
    lengths: torch.Tensor  # [G]
    of_row: torch.Tensor  # [B] each rollout's prompt


def _distinct_prompts(prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> _Prompts:
    """The distinct left-padded prompts of a batch, right-padded, and each row's index."""
    keyed = torch.where(prompt_mask.bool(), prompt_ids, torch.full_like(prompt_ids, -1))
    distinct, of_row = torch.unique(keyed, dim=0, return_inverse=True)
    lengths = (distinct >= 0).sum(dim=1)
    width = max(int(lengths.max()), 1)
    ids = torch.zeros((distinct.shape[0], width), dtype=prompt_ids.dtype, device=prompt_ids.device)
    for g, row in enumerate(distinct):
        tokens = row[row >= 0]
        ids[g, : tokens.numel()] = tokens
    return _Prompts(ids, lengths, of_row)


def _is_prefix_mask(mask: torch.Tensor) -> bool:
    """Ones then zeros along each row."""
    return bool((mask[:, 1:] <= mask[:, :-1]).all())


def _buckets(lengths: list[int], budget: int, overhead: int = BUCKET_OVERHEAD) -> list[list[int]]:
    """Row indices grouped by completion length so as to compute the fewest positions:
    each group is padded to its longest, costs `overhead` positions more (the fixed cost of
    a pass), and holds at most `budget` positions (or one row)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    sizes = [max(lengths[i], 1) for i in order]
    # best[j]: the cheapest grouping of the j shortest rows; a group ends at its longest.
    best = [0] + [0] * len(order)
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        best[end] = -1
        for start in range(end - 1, -1, -1):
            if start < end - 1 and (end - start) * sizes[end - 1] > budget:
                break
            cost = best[start] + (end - start) * sizes[end - 1] + overhead
            if best[end] < 0 or cost < best[end]:
                best[end], cut[end] = cost, start
    groups: list[list[int]] = []
    end = len(order)
    while end > 0:
        groups.append(order[cut[end] : end])
        end = cut[end]
    return groups[::-1]


def _window_mask(
    query_pos: torch.Tensor, key_pos: torch.Tensor, window: int | None
) -> torch.Tensor:
    allowed = key_pos <= query_pos
    if window is not None:
        allowed = allowed & (key_pos > query_pos - window)
    return allowed


class _PromptPass:
    """The distinct prompts through every layer: keys/values per layer (with their graph)
    and the final hidden state at each prompt's last token."""

    def __init__(self, decoder: Decoder, prompts: _Prompts, cos: torch.Tensor, sin: torch.Tensor):
        n, width = prompts.ids.shape
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        pos = torch.arange(width, device=prompts.ids.device)
        masks: dict[int | None, torch.Tensor] = {}

        def attend(
            index: int, layer: LayerWeights, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
        ) -> torch.Tensor:
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            self.keys.append(k)
            self.values.append(v)
            # Right padding sits after each prompt, so causal attention never reaches it.
            if layer.window not in masks:
                masks[layer.window] = _window_mask(pos[:, None], pos[None, :], layer.window)
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=masks[layer.window],
                enable_gqa=decoder.n_heads != decoder.n_kv_heads,
            )
            return out.transpose(1, 2).reshape(n, width, -1)

        x = F.embedding(prompts.ids, decoder.embed)
        hidden = decoder.run_layers(
            decoder.kernels, x, cos[:width, None, :], sin[:width, None, :], attend
        )
        self.last_hidden = hidden[torch.arange(n, device=hidden.device), prompts.lengths - 1]


def _completion_hidden(
    decoder: Decoder,
    prompt_pass: _PromptPass,
    prompts: _Prompts,
    rows: torch.Tensor,
    completion_ids: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
) -> torch.Tensor:
    """The hidden state that predicts each completion token of `rows` [n]: [n, T, D], the
    prompt's last state for token 0 and the completion's own states after it."""
    n, width = completion_ids.shape
    group = prompts.of_row[rows]
    prompt_len = prompts.lengths[group]
    prompt_width = prompts.ids.shape[1]
    steps = torch.arange(width, device=completion_ids.device)
    positions = prompt_len[:, None] + steps[None, :]  # [n, T]
    prompt_pos = torch.arange(prompt_width, device=completion_ids.device)
    masks: dict[int | None, torch.Tensor] = {}

    def mask_for(window: int | None) -> torch.Tensor:
        if window not in masks:
            to_prompt = _window_mask(positions[:, :, None], prompt_pos[None, None, :], window)
            to_prompt = to_prompt & (prompt_pos[None, None, :] < prompt_len[:, None, None])
            to_self = _window_mask(positions[:, :, None], positions[:, None, :], window)
            masks[window] = torch.cat((to_prompt, to_self), dim=2)[:, None]  # [n, 1, T, Tp+T]
        return masks[window]

    def attend(
        index: int, layer: LayerWeights, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        keys = torch.cat((prompt_pass.keys[index].index_select(0, group), k), dim=2)
        values = torch.cat((prompt_pass.values[index].index_select(0, group), v), dim=2)
        out = F.scaled_dot_product_attention(
            q,
            keys,
            values,
            attn_mask=mask_for(layer.window),
            enable_gqa=decoder.n_heads != decoder.n_kv_heads,
        )
        return out.transpose(1, 2).reshape(n, width, -1)

    x = F.embedding(completion_ids, decoder.embed)
    hidden = decoder.run_layers(
        decoder.kernels, x, cos[positions][:, :, None, :], sin[positions][:, :, None, :], attend
    )
    first = prompt_pass.last_hidden.index_select(0, group)[:, None, :]
    return torch.cat((first, hidden[:, :-1]), dim=1)


def shared_prompt_logprobs(
    model: Any,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    *,
    temperature: float,
    compute_entropy: bool,
    bucket_tokens: int = BUCKET_TOKENS,
    head_tokens: int = HEAD_TOKENS,
) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """(log-probs, entropies) [B, T] of each completion token at `temperature`, zero where
    `completion_mask` is 0; None when the masks are not TRL's shapes (left-padded prompts,
    completions cut after their end), for the caller to score the usual way."""
    if not (_is_prefix_mask(completion_mask) and _is_prefix_mask(prompt_mask.flip(1))):
        return None
    decoder = Decoder(model)
    prompts = _distinct_prompts(prompt_ids, prompt_mask)
    lengths = completion_mask.sum(dim=1).tolist()
    total = int(prompts.lengths.max()) + completion_ids.shape[1]
    cos, sin = decoder.rope_tables(total)
    prompt_pass = _PromptPass(decoder, prompts, cos, sin)
    scored: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    flat: list[torch.Tensor] = []
    batch, width = completion_ids.shape
    for bucket in _buckets(lengths, bucket_tokens):
        longest = max(lengths[i] for i in bucket)
        if longest == 0:
            continue
        rows = torch.tensor(bucket, device=completion_ids.device)
        ids = completion_ids[rows, :longest]
        mask = completion_mask[rows, :longest].bool()
        hidden = _completion_hidden(decoder, prompt_pass, prompts, rows, ids, cos, sin)
        scored.append(hidden[mask])
        targets.append(ids[mask])
        cols = torch.arange(longest, device=rows.device)
        flat.append((rows[:, None] * width + cols[None, :])[mask])
    log_probs = completion_ids.new_zeros((batch * width,), dtype=torch.float32)
    entropies = torch.zeros_like(log_probs) if compute_entropy else None
    if scored:
        index = torch.cat(flat)
        per_token = _head(
            model.get_output_embeddings(),
            torch.cat(scored),
            torch.cat(targets),
            temperature,
            compute_entropy=compute_entropy,
            chunk=head_tokens,
        )
        log_probs = log_probs.index_copy(0, index, per_token[0])
        if entropies is not None and per_token[1] is not None:
            entropies = entropies.index_copy(0, index, per_token[1])
    log_probs = log_probs.view(batch, width)
    return log_probs, None if entropies is None else entropies.view(batch, width)


def _head(
    head: Any,
    hidden: torch.Tensor,
    targets: torch.Tensor,
    temperature: float,
    *,
    compute_entropy: bool,
    chunk: int,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probabilities (and entropies) of `targets` under `head(hidden) / temperature`,
    `chunk` positions at a time. Where the logits of all positions fit in
    PLAIN_HEAD_BYTES, autograd keeps them: half the time of TRL's kernel, which recomputes
    each tile in the backward pass so as to hold none, as a large vocabulary needs."""
    plain = hidden.shape[0] * head.weight.shape[0] * 8 <= PLAIN_HEAD_BYTES
    log_probs: list[torch.Tensor] = []
    entropies: list[torch.Tensor] = []
    for start in range(0, hidden.shape[0], chunk):
        h, t = hidden[start : start + chunk], targets[start : start + chunk]
        if plain:
            logp = (F.linear(h, head.weight, head.bias).float() / temperature).log_softmax(-1)
            log_probs.append(logp.gather(-1, t[:, None]).squeeze(-1))
            if compute_entropy:
                entropies.append(-(logp.exp() * logp).sum(-1))
            continue
        outputs = ("log_probs", "entropy") if compute_entropy else ("log_probs",)
        piece = chunked_logprob_function().apply(
            h,
            head.weight,
            head.bias,
            t,
            temperature,
            _vocabulary_chunk(),
            None,  # no final-logit soft-capping in the supported families
            1.0,  # nor a logit scale
            outputs,
        )
        log_probs.append(piece[0])
        if compute_entropy:
            entropies.append(piece[1])
    return torch.cat(log_probs), torch.cat(entropies) if entropies else None


def _vocabulary_chunk() -> int:
    """The vocabulary width TRL's own fused head uses per tile."""
    try:
        from trl.trainer.utils import _CHUNKED_LOGPROB_CHUNK_SIZE
    except ImportError:
        return 32768
    return int(_CHUNKED_LOGPROB_CHUNK_SIZE)
