"""The decoder of the Qwen2, Qwen3, Llama and Mistral families, computed from an HF model's
own parameter tensors.

Nothing is copied: every weight is the tensor behind the HF module's `nn.Parameter`, so an
optimizer step on the HF model (in place, as torch optimizers update) is what the next
generation sees, and a CUDA graph captured over these tensors stays valid. The arithmetic
mirrors transformers' modules op for op (RMSNorm in float32, rotary tables from the model's
own `inv_freq`, residual adds in the same order), so greedy decoding in float32 reproduces
`generate` token for token.

Two entry points, both writing the new keys/values into a cache (cache.py's dense
`KVCache` or paged.py's `PagedKVCache`):
- `prefill`: right-padded prompts of a few new sequences, causal attention over their own
  fresh keys/values, logits of each prompt's last token only;
- `decode`: one token for each of the first `b` cache slots, attending through the cache
  (static shapes for a CUDA graph), logits of every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from xling.engine.cache import Cache
from xling.errors import XlingError

SUPPORTED_MODEL_TYPES = ("qwen2", "qwen3", "llama", "mistral")
# Rotary types whose frequencies do not depend on the sequence length: the model's own
# `inv_freq` and `attention_scaling` are all we need. "dynamic" and "longrope" rescale with
# the length and are refused.
STATIC_ROPE_TYPES = ("default", "linear", "llama3", "yarn")


class UnsupportedModelError(XlingError):
    pass


def is_lora_linear(module: Any) -> bool:
    """A PEFT LoRA wrapper around a plain nn.Linear: its `.weight` is the base layer's."""
    base = getattr(module, "base_layer", None)
    return type(base) is torch.nn.Linear and type(module).__module__.startswith("peft.tuners.lora")


def unsupported_reason(model: Any, *, merged_adapters: bool = False) -> str | None:
    """Why the engine cannot run `model` (an HF causal LM), or None when it can.

    `merged_adapters`: LoRA-wrapped projections are accepted, because the caller merges
    the adapters into the base weights (which the engine reads) around every generation,
    as TRL does before it syncs a PEFT policy into vLLM."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        return f"model type {model_type!r} is not one of {', '.join(SUPPORTED_MODEL_TYPES)}"
    if getattr(model, "hf_quantizer", None) is not None or getattr(
        config, "quantization_config", None
    ):
        return "quantized weights are not supported"
    if getattr(config, "hidden_act", "silu") != "silu":
        return f"activation {config.hidden_act!r} is not silu"
    inner = getattr(model, "model", None)
    if not all(
        hasattr(obj, name)
        for obj, name in (
            (model, "lm_head"),
            (inner, "embed_tokens"),
            (inner, "layers"),
            (inner, "norm"),
            (inner, "rotary_emb"),
        )
    ):
        return "unexpected module layout (no model.layers / model.rotary_emb / lm_head)"
    for layer in inner.layers:
        projections = [getattr(layer.self_attn, f"{n}_proj", None) for n in "qkvo"]
        projections += [getattr(layer.mlp, f"{n}_proj", None) for n in ("gate", "up", "down")]
        # An adapter (LoRA) or quantized wrapper would be silently skipped by reading .weight.
        if not all(
            type(m) is torch.nn.Linear or (merged_adapters and is_lora_linear(m))
            for m in projections
        ):
            return "projections are not plain nn.Linear modules (adapters, quantization)"
    rope_type = getattr(inner.rotary_emb, "rope_type", "default")
    if rope_type not in STATIC_ROPE_TYPES:
        return (
            f"rope scaling type {rope_type!r} is not implemented "
            f"(supported: {', '.join(STATIC_ROPE_TYPES)})"
        )
    for name in getattr(config, "layer_types", None) or ():
        if name not in ("full_attention", "sliding_attention"):
            return f"layer type {name!r} is not implemented"
    params = list(model.parameters())
    if any(p.device.type == "meta" or p.numel() == 0 for p in params):
        return "parameters are partitioned or not materialized (DeepSpeed ZeRO-3, FSDP)"
    if len({p.device for p in params}) != 1:
        return "parameters are spread over several devices"
    return None


def sliding_windows(config: Any, n_layers: int) -> tuple[int | None, ...]:
    """Each layer's attention window (None: the whole context), as transformers applies it."""
    window = getattr(config, "sliding_window", None)
    types = getattr(config, "layer_types", None)
    if types:
        return tuple(window if t == "sliding_attention" else None for t in types[:n_layers])
    if config.model_type == "mistral":
        return (window,) * n_layers
    return (None,) * n_layers


@dataclass
class LayerWeights:
    attn_norm: torch.Tensor
    attn_eps: float
    q: torch.Tensor
    q_bias: torch.Tensor | None
    k: torch.Tensor
    k_bias: torch.Tensor | None
    v: torch.Tensor
    v_bias: torch.Tensor | None
    o: torch.Tensor
    o_bias: torch.Tensor | None
    q_norm: torch.Tensor | None  # Qwen3: RMSNorm over each head of q and k
    q_norm_eps: float
    k_norm: torch.Tensor | None
    k_norm_eps: float
    mlp_norm: torch.Tensor
    mlp_eps: float
    gate: torch.Tensor
    gate_bias: torch.Tensor | None
    up: torch.Tensor
    up_bias: torch.Tensor | None
    down: torch.Tensor
    down_bias: torch.Tensor | None
    window: int | None
    # Copies of q|k|v and gate|up stacked into one matrix each (`Decoder(fuse=True)`).
    qkv: torch.Tensor | None = None
    qkv_bias: torch.Tensor | None = None
    gate_up: torch.Tensor | None = None
    gate_up_bias: torch.Tensor | None = None

    def tensors(self) -> list[torch.Tensor]:
        return [t for t in vars(self).values() if isinstance(t, torch.Tensor)]


def _eps(norm: Any) -> float:
    return float(getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6)))


def _bind_layer(layer: Any, window: int | None) -> LayerWeights:
    attn, mlp = layer.self_attn, layer.mlp
    q_norm, k_norm = getattr(attn, "q_norm", None), getattr(attn, "k_norm", None)
    return LayerWeights(
        attn_norm=layer.input_layernorm.weight,
        attn_eps=_eps(layer.input_layernorm),
        q=attn.q_proj.weight,
        q_bias=attn.q_proj.bias,
        k=attn.k_proj.weight,
        k_bias=attn.k_proj.bias,
        v=attn.v_proj.weight,
        v_bias=attn.v_proj.bias,
        o=attn.o_proj.weight,
        o_bias=attn.o_proj.bias,
        q_norm=None if q_norm is None else q_norm.weight,
        q_norm_eps=_eps(q_norm) if q_norm is not None else 0.0,
        k_norm=None if k_norm is None else k_norm.weight,
        k_norm_eps=_eps(k_norm) if k_norm is not None else 0.0,
        mlp_norm=layer.post_attention_layernorm.weight,
        mlp_eps=_eps(layer.post_attention_layernorm),
        gate=mlp.gate_proj.weight,
        gate_bias=mlp.gate_proj.bias,
        up=mlp.up_proj.weight,
        up_bias=mlp.up_proj.bias,
        down=mlp.down_proj.weight,
        down_bias=mlp.down_proj.bias,
        window=window,
    )


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' RMSNorm, op for op (float32 statistics, weight applied in x's dtype)."""
    dtype = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(dtype)


def add_rms_norm(
    x: torch.Tensor, delta: torch.Tensor, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The residual add and the next norm: (x + delta, rms_norm(x + delta))."""
    x = x + delta
    return x, rms_norm(x, weight, eps)


def _rotate(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """transformers' `q * cos + rotate_half(q) * sin` with rotate_half's negation moved into
    `signed_sin` (sin with its first half negated): the same products, one kernel fewer."""
    return (x * cos) + (x.roll(x.shape[-1] // 2, dims=-1) * signed_sin)


def rotate_qk(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    return _rotate(q, cos, signed_sin), _rotate(k, cos, signed_sin)


def silu_mul(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return F.silu(gate) * up


def store_rows(
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    index: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
) -> None:
    """A decode step's keys and values [rows, kv_heads, head_dim] stored at `index` [rows]
    of one layer's caches [kv_heads, tokens, head_dim] (the paged cache's layout)."""
    k_cache.index_copy_(1, index, k.transpose(0, 1).to(k_cache.dtype))
    v_cache.index_copy_(1, index, v.transpose(0, 1).to(v_cache.dtype))


def rotate_store(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cos: torch.Tensor,
    signed_sin: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    index: torch.Tensor,
    queries: torch.Tensor,
) -> None:
    """`rotate_qk` of a decode step's rows, then their keys and values stored at `index`
    [rows] of one layer's caches [kv_heads, tokens, head_dim] and their queries in the
    first rows of `queries` [slots, heads, head_dim] (paged decode with
    `EngineConfig.fuse_cache_writes`, `PagedKVCache.stored_decode`).

    Why one function: compiled, the stores can ride in the rotary's own kernels, where
    apart they are two index copies and a copy of the queries a layer, each a few
    microseconds of launch however little it moves (a sixth of a 32-row step's kernels
    at Qwen2.5-1.5B's shape on an H200). Compiled on their own, they became two kernels
    more and gained nothing (session 16)."""
    q, k = rotate_qk(q, k, cos, signed_sin)
    store_rows(k_cache, v_cache, index, k, v)
    queries[: q.shape[0]].copy_(q)


# Split-K products (`Decoder(split_k=...)`) serve passes of at most this many rows: a
# product's output tiles are few only when its rows are.
SPLIT_K_MAX_ROWS = 64


def splittable(inner: int, pieces: int) -> bool:
    """Whether an inner dimension of `inner` splits into `pieces` stretches whose rows stay
    16-byte aligned (8 bf16 values), as cuBLAS's fast kernels need."""
    return inner % pieces == 0 and (inner // pieces) % 8 == 0


def split_k_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, pieces: int
) -> torch.Tensor:
    """`F.linear(x, weight, bias)` for 2-D `x` as `pieces` products over equal stretches of
    the inner dimension: one batched product of views (no copy), summed in float32 and
    rounded once, as a split-K GEMM kernel reduces its partial sums.

    Hand-written because it is a question of kernel choice: at a few rows, a product with
    a narrow output (o, down: the hidden size) gives a GEMM kernel few output tiles to
    spread over the SMs unless it splits the inner dimension itself, and cuBLAS's choice
    is not ours to make. bench/decode_matmul.py measures whether splitting pays."""
    rows, inner = x.shape
    width = inner // pieces
    xs = x.view(rows, pieces, width).transpose(0, 1)
    ws = weight.view(weight.shape[0], pieces, width).transpose(0, 1).transpose(1, 2)
    if x.is_cuda and x.dtype in (torch.float16, torch.bfloat16):
        partial = torch.bmm(xs, ws, out_dtype=torch.float32)
    else:  # float32 already, or a CPU, where torch has no half -> float32 batched product
        partial = torch.bmm(xs.float(), ws.float())
    out = partial.sum(0)
    if bias is not None:
        out = out + bias
    return out.to(x.dtype)


@dataclass(frozen=True)
class Kernels:
    """The element-wise stretches between a layer's matrix products and attention: the
    pieces torch.compile fuses (compiling.py). Eager by default. All are pure functions
    but `rotate_store`, which writes a paged decode step's keys, values and queries into
    the buffers it is given."""

    rms_norm: Callable[..., torch.Tensor] = rms_norm
    add_rms_norm: Callable[..., tuple[torch.Tensor, torch.Tensor]] = add_rms_norm
    rotate_qk: Callable[..., tuple[torch.Tensor, torch.Tensor]] = rotate_qk
    silu_mul: Callable[..., torch.Tensor] = silu_mul
    rotate_store: Callable[..., None] = rotate_store  # compiled lazily: paged stored decode only


EAGER_KERNELS = Kernels()


class Decoder:
    """Forward passes of a supported HF model over a key/value cache, reading the model's
    tensors."""

    def __init__(
        self, model: Any, *, merged_adapters: bool = False, fuse: bool = False, split_k: int = 1
    ) -> None:
        """`fuse`: run each layer's q/k/v and gate/up projections as one matrix product each,
        from stacked copies of those weights that every `bind` refreshes (see `_fuse`).
        `split_k`: in passes of at most SPLIT_K_MAX_ROWS rows, run each product whose output
        is at most twice the hidden size (q/k/v, o, down; not gate/up or the lm_head, wide
        enough to fill a GPU) as `split_k_linear` over that many stretches (1: never)."""
        reason = unsupported_reason(model, merged_adapters=merged_adapters)
        if reason is not None:
            raise UnsupportedModelError(f"the xling engine cannot run this model: {reason}")
        self.model = model
        self.kernels = EAGER_KERNELS  # the engine swaps in compiled ones (compiling.py)
        config = model.config
        self.n_layers = int(config.num_hidden_layers)
        self.n_heads = int(config.num_attention_heads)
        self.n_kv_heads = int(getattr(config, "num_key_value_heads", None) or self.n_heads)
        self.head_dim = int(
            getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        )
        self.vocab_size = int(config.vocab_size)
        self.windows = sliding_windows(config, self.n_layers)
        self.fuse = fuse
        if split_k < 1:
            raise ValueError(f"split_k must be at least 1, got {split_k}")
        self.split_k = split_k
        self.split_k_max_out = 2 * int(config.hidden_size)
        self._stacked: list[dict[str, torch.Tensor | None]] = []
        self.bind()

    def bind(self) -> None:
        """(Re)read the weight tensors from the model's modules."""
        inner = self.model.model
        self.embed = inner.embed_tokens.weight
        self.final_norm = inner.norm.weight
        self.final_eps = _eps(inner.norm)
        self.lm_head = self.model.lm_head.weight
        self.inv_freq = inner.rotary_emb.inv_freq
        self.rope_scaling = float(getattr(inner.rotary_emb, "attention_scaling", 1.0))
        layers = inner.layers[: self.n_layers]
        self.layers = [_bind_layer(layer, w) for layer, w in zip(layers, self.windows, strict=True)]
        if self.fuse:
            self._fuse()

    def _fuse(self) -> None:
        """Stack each layer's q, k, v (and gate, up) weights into one matrix, in place in the
        buffers of the last call when shapes, dtype and device still match (so a CUDA graph
        over them stays valid), and point the layers at them.

        Why copies: a decode step's small matrix products (k and v are a sixth of q at
        Qwen2.5's shapes) each cost a kernel's fixed latency, and one product over the
        stacked matrix reads the same bytes in one kernel. The copies cost memory (about
        two thirds of the weights) and a copy per `bind` (every `Engine.generate`), which
        is what keeps them equal to weights an optimizer updates in place."""
        with torch.no_grad():
            for index, layer in enumerate(self.layers):
                parts = {
                    "qkv": (layer.q, layer.k, layer.v),
                    "qkv_bias": (layer.q_bias, layer.k_bias, layer.v_bias),
                    "gate_up": (layer.gate, layer.up),
                    "gate_up_bias": (layer.gate_bias, layer.up_bias),
                }
                if index == len(self._stacked):
                    self._stacked.append({})
                stacked = self._stacked[index]
                for name, tensors in parts.items():
                    if any(t is None for t in tensors):
                        stacked[name] = None
                        continue
                    sources = [t.detach() for t in tensors if t is not None]
                    rows = sum(t.shape[0] for t in sources)
                    buffer = stacked.get(name)
                    first = sources[0]
                    if (
                        buffer is None
                        or buffer.shape[0] != rows
                        or buffer.shape[1:] != first.shape[1:]
                        or buffer.dtype != first.dtype
                        or buffer.device != first.device
                    ):
                        stacked[name] = torch.cat(sources)
                    else:
                        torch.cat(sources, out=buffer)
                    setattr(layer, name, stacked[name])

    def tensors(self) -> list[torch.Tensor]:
        found = [self.embed, self.final_norm, self.lm_head, self.inv_freq]
        for layer in self.layers:
            found.extend(layer.tensors())
        return found

    def parameter_count(self) -> int:
        """Weights the decoder reads (tied embeddings once; the rotary buffer is not one)."""
        copies = {t.data_ptr() for part in self._stacked for t in part.values() if t is not None}
        seen = {
            t.data_ptr(): t.numel()
            for t in self.tensors()
            if t is not self.inv_freq and t.data_ptr() not in copies
        }
        return sum(seen.values())

    def storage_key(self) -> tuple[tuple[int, torch.dtype, torch.device], ...]:
        """Identifies the tensors in use: changes when a weight is replaced rather than updated
        in place (`model.to(...)`, `load_state_dict(assign=True)`), which invalidates graphs."""
        self.bind()
        return tuple((t.data_ptr(), t.dtype, t.device) for t in self.tensors())

    @property
    def device(self) -> torch.device:
        return self.embed.device

    @property
    def dtype(self) -> torch.dtype:
        return self.embed.dtype

    def rope_tables(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and signed sin (see `_rotate`) for positions 0..length-1, computed as
        transformers' rotary module computes cos and sin."""
        positions = torch.arange(length, device=self.device, dtype=torch.float32)
        freqs = positions[:, None] * self.inv_freq.to(device=self.device, dtype=torch.float32)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.rope_scaling
        sin = emb.sin() * self.rope_scaling
        half = sin.shape[-1] // 2
        signed_sin = torch.cat((-sin[:, :half], sin[:, half:]), dim=-1)
        return cos.to(self.dtype), signed_sin.to(self.dtype)

    # ------------------------------------------------------------------ building blocks

    def _project(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        """`F.linear`, or its split-K form where `split_k` asks for it (see `__init__`).
        Not under autocast, whose casts `split_k_linear`'s float32 sums would bypass."""
        if (
            self.split_k > 1
            and x.dim() == 2
            and x.shape[0] <= SPLIT_K_MAX_ROWS
            and weight.shape[0] <= self.split_k_max_out
            and x.dtype == weight.dtype
            and splittable(weight.shape[1], self.split_k)
            and not torch.is_autocast_enabled(x.device.type)
        ):
            return split_k_linear(x, weight, bias, self.split_k)
        return F.linear(x, weight, bias)

    def _attention_inputs(
        self,
        ops: Kernels,
        layer: LayerWeights,
        h: torch.Tensor,
        cos: torch.Tensor,
        signed_sin: torch.Tensor,
        rotate: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v as [..., heads, head_dim] from normed `h`, q and k normed (Qwen3) and
        rotated (unless `rotate` is False: the attention rotates them)."""
        lead = h.shape[:-1]
        if layer.qkv is not None:
            q_width, kv_width = self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
            q, k, v = self._project(h, layer.qkv, layer.qkv_bias).split(
                (q_width, kv_width, kv_width), dim=-1
            )
            q = q.reshape(*lead, self.n_heads, self.head_dim)
            k = k.reshape(*lead, self.n_kv_heads, self.head_dim)
            v = v.reshape(*lead, self.n_kv_heads, self.head_dim)
        else:
            q = self._project(h, layer.q, layer.q_bias).view(*lead, self.n_heads, self.head_dim)
            k = self._project(h, layer.k, layer.k_bias).view(*lead, self.n_kv_heads, self.head_dim)
            v = self._project(h, layer.v, layer.v_bias).view(*lead, self.n_kv_heads, self.head_dim)
        if layer.q_norm is not None:
            q = ops.rms_norm(q, layer.q_norm, layer.q_norm_eps)
        if layer.k_norm is not None:
            k = ops.rms_norm(k, layer.k_norm, layer.k_norm_eps)
        if rotate:
            q, k = ops.rotate_qk(q, k, cos, signed_sin)
        return q, k, v

    def run_layers(
        self,
        ops: Kernels,
        x: torch.Tensor,
        cos: torch.Tensor,
        signed_sin: torch.Tensor,
        attend: Callable[[int, LayerWeights, torch.Tensor, torch.Tensor, torch.Tensor], Any],
        rotated: bool = True,
    ) -> torch.Tensor:
        """Every layer over embeddings `x`; `attend(index, layer, q, k, v)` stores keys and
        values and returns attention outputs [..., heads * head_dim], given q and k rotated
        unless `rotated` is False. Returns the final-normed hidden states. Each residual add
        is fused with the norm that follows it (the next layer's input norm, or the final
        norm), the same arithmetic as transformers'."""
        h = ops.rms_norm(x, self.layers[0].attn_norm, self.layers[0].attn_eps)
        following = [(nxt.attn_norm, nxt.attn_eps) for nxt in self.layers[1:]]
        following.append((self.final_norm, self.final_eps))
        for index, (layer, (norm, eps)) in enumerate(zip(self.layers, following, strict=True)):
            q, k, v = self._attention_inputs(ops, layer, h, cos, signed_sin, rotated)
            attn = attend(index, layer, q, k, v)
            x, h = ops.add_rms_norm(
                x, self._project(attn, layer.o, layer.o_bias), layer.mlp_norm, layer.mlp_eps
            )
            if layer.gate_up is not None:
                gate, up = F.linear(h, layer.gate_up, layer.gate_up_bias).chunk(2, dim=-1)
            else:
                gate = F.linear(h, layer.gate, layer.gate_bias)
                up = F.linear(h, layer.up, layer.up_bias)
            gated = ops.silu_mul(gate, up)
            x, h = ops.add_rms_norm(x, self._project(gated, layer.down, layer.down_bias), norm, eps)
        return h

    def logits(self, normed: torch.Tensor) -> torch.Tensor:
        """Next-token logits from final-normed hidden states, in the model's dtype (the
        sampler upcasts inside its own pass rather than in a copy of its own)."""
        return F.linear(normed, self.lm_head)

    # ------------------------------------------------------------------ passes

    def prefill(
        self,
        cache: Cache,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        slots: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        kernels: Kernels | None = None,
    ) -> torch.Tensor:
        """Run right-padded prompts `ids` [n, T] into cache `slots` [n]; logits [n, vocab] of
        each prompt's last token (`lengths` [n]). Padding sits after each prompt, so causal
        attention never lets a prompt token see it; the cache entries it leaves are masked
        until decoding overwrites them. `kernels`: the element-wise functions to use (by
        default the decoder's own)."""
        n, width = ids.shape
        masks: dict[int, torch.Tensor] = {}
        write = cache.prompt_writer(slots, width)

        def attend(
            index: int, layer: LayerWeights, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
        ) -> torch.Tensor:
            q, k, v = (t.view(n, width, *t.shape[1:]).transpose(1, 2) for t in (q, k, v))
            write(index, k, v)
            mask = None
            if layer.window is not None and layer.window < width:
                if layer.window not in masks:
                    pos = torch.arange(width, device=ids.device)
                    masks[layer.window] = (pos[None, :] <= pos[:, None]) & (
                        pos[None, :] > pos[:, None] - layer.window
                    )
                mask = masks[layer.window]
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                is_causal=mask is None,
                enable_gqa=self.n_heads != self.n_kv_heads,
            )
            return out.transpose(1, 2).reshape(n * width, self.n_heads * self.head_dim)

        # The prompts' tokens as one batch of rows, with a [n * T, 1, D] table: the shapes
        # of a decode step's (rows of tokens, [b, 1, D] tables), so that compiled kernels
        # serve both with one compilation each rather than one per rank.
        x = F.embedding(ids.flatten(), self.embed)
        ops = kernels or self.kernels
        rows_cos, rows_sin = (t[:width].repeat(n, 1)[:, None, :] for t in (cos, sin))
        h = self.run_layers(ops, x, rows_cos, rows_sin, attend)
        last = torch.arange(n, device=ids.device) * width + lengths - 1
        return self.logits(h[last])

    def decode(
        self,
        cache: Cache,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        kv_len: int | None,
        cos: torch.Tensor,
        sin: torch.Tensor,
    ) -> torch.Tensor:
        """One step for cache slots 0..b-1: feed `tokens` [b] at `positions` [b]; logits
        [b, vocab]. `kv_len`: the cache positions the dense cache attends to. No host
        synchronisation (graphable)."""
        x = F.embedding(tokens, self.embed)
        rows_cos, rows_sin = cos[positions][:, None, :], sin[positions][:, None, :]
        if getattr(cache, "fused_writes", False):  # a paged cache (paged.py) that asks it
            step = cache.stored_decode(positions, self.n_heads)  # type: ignore[attr-defined]

            def attend_stored(
                index: int, layer: LayerWeights, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
            ) -> torch.Tensor:
                self.kernels.rotate_store(q, k, v, rows_cos, rows_sin, *step.store_args(index))
                return step.attend(index, layer.window)

            h = self.run_layers(self.kernels, x, rows_cos, rows_sin, attend_stored, rotated=False)
            return self.logits(h)
        attention = cache.decode_attention(positions, kv_len)

        def attend(
            index: int, layer: LayerWeights, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
        ) -> torch.Tensor:
            return attention(index, layer.window, q, k, v)

        h = self.run_layers(self.kernels, x, rows_cos, rows_sin, attend)
        return self.logits(h)
