"""The ParScale wrapper: P parallel streams around any HF decoder LM of the Qwen2/Llama kind.

ParScale (Chen et al. 2025, arXiv 2505.10475), as described in the paper and its public
inference code (the mechanism was read there; this file is written from that description):

- **Input replication.** The input is copied P times; streams are a batch dimension,
  stream-major (row `s * B + b` is stream s of example b).
- **Per-stream prefixes.** Every stream s owns `n_prefix` learned key and value vectors in
  every layer (prefix tuning). They sit in the KV cache before the first real token, so every
  token of that stream attends to them; real tokens keep positions 0, 1, ... exactly as in the
  plain model (the prefix keys are learned directly in rotated space and carry no position).
- **Dynamic aggregation.** After the final norm, an MLP (Linear(P·H → H), SiLU, Linear(H → P))
  over the concatenated final hidden states of the P streams gives softmax weights per token,
  smoothed as w ← w·(1 − ε) + ε/P so that no stream is starved of gradient. The weighted sum
  of the streams' hidden states goes through the LM head once. The head is linear and the
  weights sum to one, so this is the weighted sum of the streams' *logits* (not a mixture of
  their probabilities).
- **P = 1** has no prefix and no aggregator: the forward is the plain model's, bit for bit.

The prefixes travel in a transformers `DynamicCache` (pre-filled before the first token), so
`generate` works unchanged: it keeps one cache of B·P rows, the streams' KV caches. The same
three pieces serve a custom inference engine (the seam for xling's fast engine):
`replicate(...)` (inputs → P·B rows), `prefix_kv(layer, batch)` (what to put in a fresh KV
cache before the prompt) and `aggregate(hidden)` (P·B final hidden rows → B mixed rows, to
which the LM head is applied).

transformers' gradient checkpointing drops the KV cache inside checkpointed layers, which
would silently drop the prefixes, so it is refused for P > 1.

**Checkpoints carry this file.** The classes are registered for transformers' auto classes
(`register_for_auto_class`), so `save_pretrained` copies this file next to the weights and
writes `auto_map` into config.json: plain transformers loads the checkpoint with
`trust_remote_code=True`, without xling. Hence this file needs only the standard library,
torch and transformers (no relative imports; xling's error base is used only if present).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    DynamicCache,
    GenerationMixin,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers import initialization as hf_init
from transformers.modeling_outputs import CausalLMOutputWithPast

try:
    # Inside xling, a ParScale error is one of xling's user errors (its CLI prints those as one
    # line). The checkpoint's copy of this file runs without xling: transformers' remote-code
    # check skips imports inside `try`, and the stand-in below keeps the class hierarchy.
    from xling.errors import XlingError
except ImportError:

    class XlingError(Exception):
        """Stand-in for xling's user-error base where xling is not installed."""


MODEL_TYPE = "xling_parscale"
DEFAULT_PREFIX_TOKENS = 48  # the paper's prefix length
DEFAULT_SMOOTHING = 0.01  # the paper's label smoothing on the aggregation weights

# transformers renamed the cache argument and output field `past_key_values` -> `cache`
# between 5.17 and 5.24 (the old name still works there, with a deprecation warning).
_OUTPUT_CACHE_FIELD = (
    "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"
)


class ParScaleError(XlingError, ValueError):
    """A ParScale setting or call that cannot work (a ValueError, as transformers' own)."""


class ParScaleConfig(PretrainedConfig):
    """A backbone config (`text_config`, any decoder model type) plus the ParScale settings."""

    model_type = MODEL_TYPE
    sub_configs = {"text_config": AutoConfig}  # noqa: RUF012 (transformers' class attribute)

    text_config: Any = None
    parscale_n: int = 1
    parscale_prefix_tokens: int = DEFAULT_PREFIX_TOKENS
    parscale_smoothing: float = DEFAULT_SMOOTHING
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs: Any) -> None:
        if isinstance(self.text_config, Mapping):
            data = dict(self.text_config)
            self.text_config = AutoConfig.for_model(data.pop("model_type", "qwen2"), **data)
        elif self.text_config is None:
            self.text_config = AutoConfig.for_model("qwen2")
        problems = []
        if int(self.parscale_n) < 1:
            problems.append(f"parscale_n must be >= 1, got {self.parscale_n}")
        if int(self.parscale_n) > 1 and int(self.parscale_prefix_tokens) < 1:
            problems.append("parscale_prefix_tokens must be >= 1 when parscale_n > 1")
        if not 0.0 <= float(self.parscale_smoothing) < 1.0:
            problems.append(f"parscale_smoothing must lie in [0, 1), got {self.parscale_smoothing}")
        layer_types = getattr(self.text_config, "layer_types", None) or ()
        if int(self.parscale_n) > 1 and any(t != "full_attention" for t in layer_types):
            # A sliding window would evict the prefix from the cache once the text is long.
            problems.append("ParScale needs full attention in every layer (no sliding window)")
        if problems:
            raise ParScaleError("invalid ParScale config: " + "; ".join(problems))
        self.tie_word_embeddings = bool(getattr(self.text_config, "tie_word_embeddings", False))
        # TRL and the auto classes read `config.auto_map` for architectures transformers does
        # not ship, so every instance has one (a checkpoint saved before auto_map was written
        # has none); `save_pretrained` fills it in place, so it must be a plain dict. A saved
        # auto_map arrives in kwargs and replaces this one in super().__post_init__.
        self.auto_map: dict[str, Any] = {}
        super().__post_init__(**kwargs)


def cache_argument(forward: Any) -> str:
    """The name a model's forward takes its KV cache by (transformers renamed it)."""
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def _compute_dtype(reference: torch.Tensor) -> torch.dtype:
    """The dtype the attention's keys will have (autocast's, else the activations')."""
    device = reference.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return reference.dtype


class ParScaleForCausalLM(PreTrainedModel, GenerationMixin):
    """A causal LM with P parallel streams (see the module docstring); P = 1 is the backbone."""

    config_class = ParScaleConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True
    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}  # noqa: RUF012

    def __init__(self, config: ParScaleConfig) -> None:
        super().__init__(config)
        text = config.text_config
        self.model = AutoModel.from_config(text)
        self.lm_head = nn.Linear(text.hidden_size, text.vocab_size, bias=False)
        self._no_split_modules = getattr(self.model, "_no_split_modules", None)
        self._cache_arg = cache_argument(self.model.forward)
        streams, n_prefix = int(config.parscale_n), int(config.parscale_prefix_tokens)
        if streams > 1:
            head_dim = (
                getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
            )
            shape = (text.num_hidden_layers, streams, text.num_key_value_heads, n_prefix, head_dim)
            self.prefix_keys = nn.Parameter(torch.empty(shape))
            self.prefix_values = nn.Parameter(torch.empty(shape))
            hidden = text.hidden_size
            self.aggregator = nn.Sequential(
                nn.Linear(streams * hidden, hidden), nn.SiLU(), nn.Linear(hidden, streams)
            )
        self.post_init()

    # ------------------------------------------------------------------ properties

    @property
    def streams(self) -> int:
        return int(self.config.parscale_n)

    @property
    def n_prefix(self) -> int:
        return int(self.config.parscale_prefix_tokens) if self.streams > 1 else 0

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.lm_head = value

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if module is self and self.streams > 1:
            std = getattr(self.config.text_config, "initializer_range", 0.02)
            hf_init.normal_(self.prefix_keys, mean=0.0, std=std)
            hf_init.normal_(self.prefix_values, mean=0.0, std=std)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("generation_config") or self.generation_config
        beams = kwargs.get("num_beams") or getattr(config, "num_beams", 1) or 1
        if self.streams > 1 and beams > 1:
            # Beam search reorders the cache by beam rows; ours has P rows per beam.
            raise ParScaleError("beam search is not supported with P > 1; use greedy or sampling")
        return super().generate(*args, **kwargs)

    def gradient_checkpointing_enable(self, *args: Any, **kwargs: Any) -> None:
        if self.streams > 1:
            raise ParScaleError(
                "gradient checkpointing is not supported with P > 1: transformers drops the KV "
                "cache inside checkpointed layers, and the stream prefixes live there "
                "(xling train: pass --no-gradient-checkpointing)"
            )
        super().gradient_checkpointing_enable(*args, **kwargs)

    # ------------------------------------------------------------------ engine seam

    def replicate(self, rows: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> (P·B, ...), stream-major: row s·B + b is stream s of example b."""
        return rows.repeat(self.streams, *([1] * (rows.dim() - 1)))

    def prefix_kv(
        self, layer: int, batch: int, dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (P·B, kv_heads, n_prefix, head_dim) to place in layer `layer`'s
        cache before the first token, in the stream-major row order of `replicate`."""
        keys, values = self.prefix_keys[layer], self.prefix_values[layer]
        if dtype is not None:
            keys, values = keys.to(dtype), values.to(dtype)
        return keys.repeat_interleave(batch, dim=0), values.repeat_interleave(batch, dim=0)

    def stream_weights(self, hidden: torch.Tensor) -> torch.Tensor:
        """(P, B, T, H) final hidden states -> (B, T, P) smoothed aggregation weights (fp32)."""
        streams, batch, length, size = hidden.shape
        stacked = hidden.permute(1, 2, 0, 3).reshape(batch, length, streams * size)
        weights = torch.softmax(self.aggregator(stacked).float(), dim=-1)
        eps = float(self.config.parscale_smoothing)
        return weights * (1.0 - eps) + eps / streams if eps else weights

    def aggregate(self, hidden: torch.Tensor) -> torch.Tensor:
        """(P·B, T, H) final hidden rows -> (B, T, H), the per-token weighted sum of streams."""
        streams = self.streams
        per_stream = hidden.view(streams, hidden.shape[0] // streams, *hidden.shape[1:])
        weights = self.stream_weights(per_stream)
        mixed = torch.einsum("btp,pbth->bth", weights, per_stream.float())
        return mixed.to(hidden.dtype)

    def fill_prefix(self, cache: Any, batch: int, dtype: torch.dtype) -> None:
        for layer in range(self.config.text_config.num_hidden_layers):
            cache.update(*self.prefix_kv(layer, batch, dtype), layer)

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Any = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        cache: Any = None,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        cache = cache if cache is not None else past_key_values
        if self.streams == 1:
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                inputs_embeds=inputs_embeds,
                use_cache=use_cache,
                **{self._cache_arg: cache},
                **kwargs,
            )
            hidden = out.last_hidden_state[:, _keep(logits_to_keep)]
            cache = getattr(out, _OUTPUT_CACHE_FIELD, None)
        else:
            hidden, cache = self._streams_forward(
                input_ids,
                attention_mask,
                position_ids,
                cache,
                inputs_embeds,
                use_cache,
                kwargs,
                logits_to_keep,
            )
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits=logits,
                labels=labels,
                vocab_size=self.config.text_config.vocab_size,
                **kwargs,
            )
        return CausalLMOutputWithPast(loss=loss, logits=logits, **{_OUTPUT_CACHE_FIELD: cache})

    def _streams_forward(
        self,
        input_ids: torch.LongTensor | None,
        attention_mask: torch.Tensor | None,
        position_ids: torch.LongTensor | None,
        cache: Any,
        inputs_embeds: torch.Tensor | None,
        use_cache: bool | None,
        kwargs: dict[str, Any],
        logits_to_keep: int | torch.Tensor,
    ) -> tuple[torch.Tensor, Any]:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        batch, length = inputs_embeds.shape[:2]
        n_prefix = self.n_prefix
        # The prefix must reach attention even without caching, so there is always a cache.
        if cache is None:
            cache = DynamicCache(config=self.config.text_config)
        cached = cache.get_seq_length()
        if cached and cached < n_prefix:
            raise ParScaleError(f"a ParScale cache holds at least {n_prefix} prefix positions")
        past = cached - n_prefix if cached else 0
        if position_ids is None:
            position_ids = torch.arange(past, past + length, device=inputs_embeds.device)[None]
        if not cached:
            self.fill_prefix(cache, batch, _compute_dtype(inputs_embeds))
        if attention_mask is not None:
            if attention_mask.dim() != 2:
                raise ParScaleError("ParScale takes a 2D attention mask (batch, past + new tokens)")
            visible = attention_mask.new_ones(batch, n_prefix)
            attention_mask = self.replicate(torch.cat([visible, attention_mask], dim=1))
        out = self.model(
            inputs_embeds=self.replicate(inputs_embeds),
            attention_mask=attention_mask,
            position_ids=self.replicate(position_ids.expand(batch, -1)),
            use_cache=use_cache,
            **{self._cache_arg: cache},
            **kwargs,
        )
        hidden = self.aggregate(out.last_hidden_state[:, _keep(logits_to_keep)])
        keep_cache = use_cache if use_cache is not None else self.config.text_config.use_cache
        return hidden, (cache if keep_cache else None)

    # ------------------------------------------------------------------ building

    @classmethod
    def from_backbone(
        cls,
        backbone: PreTrainedModel | str,
        *,
        streams: int,
        prefix_tokens: int = DEFAULT_PREFIX_TOKENS,
        smoothing: float = DEFAULT_SMOOTHING,
        seed: int = 0,
        **load_kwargs: Any,
    ) -> ParScaleForCausalLM:
        """A ParScale model around the weights of a plain causal LM (a model or a path).

        The prefixes start near zero (normal, std = initializer_range; seeded by `seed`):
        tried on the bundled organism, this disturbs a trained backbone least — with 48
        positions at P = 2 its held-out loss goes 0.084 → 0.131, where prefixes set to the
        backbone's own keys and values of random tokens made it 0.345."""
        if isinstance(backbone, str):
            backbone = AutoModelForCausalLM.from_pretrained(backbone, **load_kwargs)
        if isinstance(backbone, ParScaleForCausalLM):
            raise ParScaleError("the backbone is already a ParScale model")
        text_config = copy.deepcopy(backbone.config)
        config = ParScaleConfig(
            text_config=text_config.to_dict(),
            parscale_n=streams,
            parscale_prefix_tokens=prefix_tokens,
            parscale_smoothing=smoothing,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = cls(config)
        model.to(dtype=backbone.dtype)
        missing, unexpected = model.load_state_dict(backbone.state_dict(), strict=False)
        new = {"prefix_keys", "prefix_values"}
        stray = [k for k in missing if k not in new and not k.startswith("aggregator.")]
        if stray or unexpected:
            raise ParScaleError(
                f"backbone weights do not fit the wrapper (missing {stray[:5]}, "
                f"unexpected {list(unexpected)[:5]}): only decoder LMs with a `model` and an "
                "`lm_head` (the Qwen2/Llama layout) are supported"
            )
        model.generation_config = copy.deepcopy(backbone.generation_config)
        return model

    def freeze_backbone(self) -> None:
        """Post-training mode: only the prefixes and the aggregator learn."""
        if self.streams == 1:
            raise ParScaleError("P = 1 has no prefix or aggregator: nothing would be trained")
        for name, param in self.named_parameters():
            param.requires_grad_(name.startswith(("prefix_", "aggregator.")))


def _keep(logits_to_keep: int | torch.Tensor) -> slice | torch.Tensor:
    if isinstance(logits_to_keep, int):
        return slice(-logits_to_keep, None) if logits_to_keep else slice(None)
    return logits_to_keep


def parameter_counts(model: ParScaleForCausalLM | PreTrainedModel) -> dict[str, int]:
    """Distinct parameters by role: `backbone_non_embedding` (the N of scaling laws, without
    the input and output embedding matrices), `embedding`, `parscale` (prefixes and
    aggregator) and `total`. `law_n` = backbone_non_embedding + parscale, the N of the
    paper's fits (which grows slightly with P)."""
    embedding_ids = {id(model.get_input_embeddings().weight)}
    head = model.get_output_embeddings()
    if head is not None:
        embedding_ids.add(id(head.weight))
    counts = {"backbone_non_embedding": 0, "embedding": 0, "parscale": 0}
    seen: set[int] = set()
    for name, param in model.named_parameters(remove_duplicate=False):
        if id(param) in seen:
            continue
        seen.add(id(param))
        if id(param) in embedding_ids:
            counts["embedding"] += param.numel()
        elif name.startswith(("prefix_", "aggregator.")):
            counts["parscale"] += param.numel()
        else:
            counts["backbone_non_embedding"] += param.numel()
    counts["total"] = sum(counts.values())
    counts["law_n"] = counts["backbone_non_embedding"] + counts["parscale"]
    return counts


# So that every checkpoint xling writes (any `save_pretrained`, TRL's included) carries this
# file and auto_map, whether or not `register_auto_classes` ran. Where it has run, transformers
# prefers the registered classes to the checkpoint's copy, even with trust_remote_code=True.
ParScaleConfig.register_for_auto_class("AutoConfig")
ParScaleForCausalLM.register_for_auto_class("AutoModelForCausalLM")

_registered = False


def register_auto_classes() -> None:
    """Make `AutoConfig` / `AutoModelForCausalLM.from_pretrained` load ParScale checkpoints."""
    global _registered
    if _registered:
        return
    AutoConfig.register(MODEL_TYPE, ParScaleConfig, exist_ok=True)
    AutoModelForCausalLM.register(ParScaleConfig, ParScaleForCausalLM, exist_ok=True)
    _registered = True
