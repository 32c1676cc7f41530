"""Run by tests/test_vllm_cpu.py with the vLLM environment's Python: TRL's colocated weight
sync, on a CPU, after xling's `keep_vllm_cpu_weights_loadable`.

It builds vLLM on the organism, perturbs a transformers copy of the policy (only the
parameters whose name contains the `--select` substring; "" is all of them), syncs it
through TRL's own `VLLMGeneration.sync_weights` code and prints, as JSON, vLLM's greedy
tokens before and after the sync, the policy's own greedy tokens, and the largest gap
between vLLM's top log-probs and the policy's at each prompt's first step.
"""

from __future__ import annotations

import argparse
import json
import os
from types import SimpleNamespace

os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # as TRL's colocate mode sets it

import torch
import vllm
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl.generation.vllm_generation import VLLMGeneration

from xling.train.rollouts import keep_vllm_cpu_weights_loadable

PROMPTS = ["Q: 3 + 4 = ?\nA:", "Q: 12 - 5 = ?\nA:", "Q: 6 * 7 = ?\nA:"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--select", default="")
    args = parser.parse_args()
    keep_vllm_cpu_weights_loadable()
    # On a CPU vLLM's memory share is one of host memory: a small one leaves room.
    llm = vllm.LLM(
        model=args.model,
        dtype="float32",
        max_model_len=256,
        enforce_eager=True,
        seed=0,
        gpu_memory_utilization=0.2,
    )
    greedy = vllm.SamplingParams(temperature=0, max_tokens=16)

    def vllm_tokens() -> list[list[int]]:
        outputs = llm.generate(PROMPTS, greedy, use_tqdm=False)
        return [list(o.outputs[0].token_ids) for o in outputs]

    before = vllm_tokens()
    policy = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    noise = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in policy.named_parameters():
            if param.ndim == 2 and args.select in name:
                param.add_(torch.randn(param.shape, generator=noise) * param.std() * 0.5)

    def named_params():
        for name, param in policy.named_parameters():
            yield name, param.data

    # TRL's sync method itself, on a stand-in holding just what its colocate branch reads.
    trainer_side = SimpleNamespace(
        mode="colocate",
        enable_sleep_mode=False,
        accelerator=None,
        llm=llm,
        _iter_named_params=named_params,
    )
    VLLMGeneration.sync_weights(trainer_side)
    after = vllm_tokens()

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    first_step = vllm.SamplingParams(temperature=0, max_tokens=1, logprobs=5)
    policy_tokens, gaps = [], []
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            generated = policy.generate(ids, do_sample=False, max_new_tokens=16)
            reference = torch.log_softmax(policy(ids).logits[0, -1], -1)
        policy_tokens.append(generated[0, ids.shape[1] :].tolist())
        top = llm.generate([prompt], first_step, use_tqdm=False)[0].outputs[0].logprobs[0]
        gaps.append(max(abs(reference[t].item() - lp.logprob) for t, lp in top.items()))
    print(json.dumps({"before": before, "after": after, "policy": policy_tokens, "gaps": gaps}))


if __name__ == "__main__":
    main()
