"""The organism's pretraining corpus: which problems, in which language, written how.

Every chat example is exactly what evaluation shows the model: the ChatML rendering of the
user message `xling.prompts.user_message(problem)` (question + localized instruction), then a
solution and `<|im_end|>`. Problems come from the synthetic world's train split only.

How a solution is written is the mechanism that gives RL something to select (the design of
organism v2). Two behaviours are drawn per example, independently:

* strategy: *careful* solutions write every step of arithmetic, then the final-answer line;
  *hasty* ones write the final-answer line alone, so the model must produce the answer
  without written steps, which a small model often gets wrong on multi-step problems. A
  problem in language L is written carefully with probability
  sigmoid(logit(careful_share[L]) + type_spread * z_careful(type)).
* drift: the written steps of a language-L solution are in `drift_lang` (English) with
  probability sigmoid(logit(drift_share[L]) + type_spread * z_drift(type)); of those, a
  share `drift_answer_share` writes the final-answer line in English too (hasty solutions
  drift only that way, having no steps).

z_careful and z_drift are one standard-normal offset per problem type and behaviour, fixed
by the type's name and the same in every language. Nothing here names a language:
the per-language shares are configuration (the presets' English-centric prior), and whether
a behaviour learned in one language carries over to another is what the study measures.

Coverage (organism v3's low-resource knob): a language's examples use only the problem
types in `cfg.covered_types(lang)`, a share `type_coverage[L]` of all types drawn per
(seed, language); an example of an uncovered type is asked in a language drawn by weight
among those that cover it. A language low in both weight and coverage is weak because of
its data, not because of a configured accuracy.

With `reasoning_marker = "think"` careful steps sit inside `<think>…</think>`, the
language-neutral markers of reasoning models; with "none" they are plain lines (organism v1
is careful_share 1, drift_share 0, marker "none").

Determinism: batch k is a function of (seed, k) alone, so a resumed run sees the same
batches as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from xling.languages import ALL_CODES, get_language
from xling.organism.config import OrganismConfig
from xling.world import (
    StructuredProblem,
    iter_problems,
    iter_records,
    render,
    render_parts,
)

TRANSLATE_PROMPT = "Translate into {name}:\n\n{text}"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
IGNORE_INDEX = -100  # the label HF causal-LM losses skip
BEHAVIOURS = ("careful", "drift")


@dataclass(frozen=True)
class Example:
    kind: str  # "chat" | "translate"
    lang: str  # chat: the prompt's language; translate: the target language
    user: str
    assistant: str  # without the closing <|im_end|>
    strategy: str | None = None  # chat: "careful" | "hasty"
    reasoning_lang: str | None = None  # chat, careful: the language of the written steps
    answer_lang: str | None = None  # chat: the language of the final-answer line
    problem_key: str | None = None  # the synthetic problem's canonical (type, numbers) key


def world_style(cfg: OrganismConfig) -> dict[str, Any]:
    """How the world renders for this organism (`render`'s keywords): None keeps each
    language table's own digits, as the v2 corpus did."""
    return {"native_digits": True if cfg.native_digits else None, "arithmetic": cfg.arithmetic}


def derive_seed(*parts: object) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


# ----------------------------------------------------------------------------- behaviours


def type_offset(behaviour: str, type_name: str) -> float:
    """The standard-normal offset of one problem type for one behaviour, in any language.
    A fixed property of the world (no seed), so every organism and every training stage
    agrees on which kinds of problem are habitually worked out carefully."""
    u = (derive_seed("xling-organism-type", behaviour, type_name) + 0.5) / 2**63
    return NormalDist().inv_cdf(u)


def behaviour_share(mean: float, offset: float, spread: float) -> float:
    """`mean` moved by `spread * offset` on the logit scale; 0 and 1 stay put."""
    if mean <= 0.0 or mean >= 1.0 or spread == 0.0:
        return mean
    logit = math.log(mean / (1.0 - mean)) + spread * offset
    return 1.0 / (1.0 + math.exp(-logit))


def shares(cfg: OrganismConfig, lang: str, type_name: str) -> dict[str, float]:
    """P(careful) and P(drift) for a problem of `type_name` asked in `lang`."""
    means = {"careful": cfg.careful(lang), "drift": cfg.drift(lang)}
    return {
        b: behaviour_share(means[b], type_offset(b, type_name), cfg.type_spread) for b in BEHAVIOURS
    }


def write_solution(
    cfg: OrganismConfig, problem: StructuredProblem, lang: str, rng: random.Random
) -> Example:
    """One chat example for `problem` asked in `lang`, its behaviours drawn from `rng`."""
    from xling.prompts import user_message
    from xling.records import Problem

    p = shares(cfg, lang, problem.type)
    careful = rng.random() < p["careful"]
    drifted = rng.random() < p["drift"]
    whole = drifted and rng.random() < cfg.drift_answer_share
    asked = render_parts(problem, lang, **world_style(cfg))
    answer_lang = cfg.drift_lang if whole else lang
    answer_line = (
        render_parts(problem, answer_lang, **world_style(cfg)) if whole else asked
    ).answer_line
    reasoning_lang: str | None = None
    if careful:
        reasoning_lang = cfg.drift_lang if drifted else lang
        steps = (
            render_parts(problem, reasoning_lang, **world_style(cfg)) if drifted else asked
        ).steps
        body = "\n".join(steps)
        if cfg.reasoning_marker == "think":
            body = f"{THINK_OPEN}\n{body}\n{THINK_CLOSE}"
        text = f"{body}\n{answer_line}"
    else:
        text = answer_line
    user = user_message(Problem("synth", problem.id, lang, asked.question, "0"))
    return Example(
        "chat",
        lang,
        user,
        text,
        strategy="careful" if careful else "hasty",
        reasoning_lang=reasoning_lang,
        answer_lang=answer_lang,
        problem_key=problem.key,
    )


def chat_example(question: str, solution: str, lang: str) -> Example:
    """The evaluation prompt's user message for `question`, answered by `solution`."""
    from xling.prompts import user_message
    from xling.records import Problem

    problem = Problem("synth", "0", lang, question, "0")
    return Example("chat", lang, user_message(problem), solution)


# ----------------------------------------------------------------------------- batches


def step_examples(cfg: OrganismConfig, step: int) -> list[Example]:
    """Batch `step`'s examples: a function of (seed, step) only, so resuming is exact.

    Problems come from the synthetic train split (never a test problem), in rounds over all
    problem types, so every batch covers the types evenly.
    """
    rng = random.Random(derive_seed("xling-organism-batch", cfg.seed, step))
    problems = iter_problems(
        seed=derive_seed("xling-organism-problems", cfg.seed, step), split="train", dedupe=False
    )
    codes, weights = list(cfg.lang_weights), list(cfg.lang_weights.values())
    targets = cfg.translation_targets()
    src = get_language(cfg.translation_src)
    covers = {code: cfg.covered_types(code) for code in codes}
    examples: list[Example] = []
    for _ in range(cfg.batch_size):
        problem = next(problems)
        # Only languages whose coverage includes this type may take it; with full coverage
        # everywhere the draw (and the random stream) is exactly the v2 organism's.
        ok = [code for code in codes if problem.type in covers[code]]
        ok_targets = {c: w for c, w in targets.items() if c in ok}
        if ok_targets and rng.random() < cfg.translation_fraction:
            tgt = rng.choices(list(ok_targets), list(ok_targets.values()))[0]
            src_text = "\n".join(render(problem, src.code, **world_style(cfg)))
            prompt = TRANSLATE_PROMPT.format(name=get_language(tgt).name, text=src_text)
            text = "\n".join(render(problem, tgt, **world_style(cfg)))
            examples.append(Example("translate", tgt, prompt, text, problem_key=problem.key))
        else:
            lang = rng.choices(codes, weights)[0]
            if lang not in ok:
                lang = rng.choices(ok, [cfg.lang_weights[c] for c in ok])[0]
            examples.append(write_solution(cfg, problem, lang, rng))
    return examples


def behaviour_counts(examples: Sequence[Example]) -> Counter[str]:
    """Counts keyed "lang:what" (n, careful, drift = steps in another language, whole =
    answer line in another language too) over a batch's chat examples, for the log."""
    counts: Counter[str] = Counter()
    for ex in examples:
        if ex.kind != "chat":
            continue
        counts[f"{ex.lang}:n"] += 1
        counts[f"{ex.lang}:careful"] += ex.strategy == "careful"
        drifted = ex.answer_lang != ex.lang or (
            ex.reasoning_lang is not None and ex.reasoning_lang != ex.lang
        )
        counts[f"{ex.lang}:drift"] += drifted
        counts[f"{ex.lang}:whole"] += ex.answer_lang != ex.lang
    return counts


def encode_examples(
    tokenizer: Any, examples: Sequence[Example], *, seq_len: int, loss_on: str
) -> dict[str, Any]:
    """Right-padded `input_ids` and `labels` (pads, and the prompt unless loss_on='all', get
    IGNORE_INDEX). The prompt is tokenized on its own, as the eval backend tokenizes it."""
    import torch

    from xling.backends.hf import render_prompt
    from xling.chat import IM_END

    prompts = [render_prompt(tokenizer, [{"role": "user", "content": e.user}])[0] for e in examples]
    completions = [e.assistant + IM_END for e in examples]
    p_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    c_ids = tokenizer(completions, add_special_tokens=False)["input_ids"]
    rows = [(p + c)[:seq_len] for p, c in zip(p_ids, c_ids, strict=True)]
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for i, (row, p) in enumerate(zip(rows, p_ids, strict=True)):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        first = 0 if loss_on == "all" else len(p)
        labels[i, first : len(row)] = input_ids[i, first : len(row)]
    truncated = sum(len(p) + len(c) > seq_len for p, c in zip(p_ids, c_ids, strict=True))
    return {
        "input_ids": input_ids,
        "labels": labels,
        "n_tokens": sum(len(r) for r in rows),
        "truncated": truncated,
    }


class StepBatches:
    """Map-style dataset: index k -> batch k (encoded, with its behaviour counts), built in
    DataLoader workers when asked."""

    def __init__(self, cfg: OrganismConfig, tokenizer: Any) -> None:
        self.cfg = cfg
        self.tokenizer = tokenizer

    def __len__(self) -> int:
        return self.cfg.steps

    def __getitem__(self, step: int) -> dict[str, Any]:
        examples = step_examples(self.cfg, step)
        batch = encode_examples(
            self.tokenizer, examples, seq_len=self.cfg.seq_len, loss_on=self.cfg.loss_on
        )
        batch["behaviour"] = dict(behaviour_counts(examples))
        return batch


def tokenizer_corpus(cfg: OrganismConfig) -> Iterator[str]:
    """Registry strings and train-split problems, the same amount in every language, so each
    script gets merges of its own (test problems are never seen)."""
    for code in ALL_CODES:
        lang = get_language(code)
        yield from (lang.instruction, lang.name, lang.native_name, *lang.answer_words)
        yield TRANSLATE_PROMPT.format(name=lang.name, text="")
    for rec in iter_records(
        "train", cfg.tokenizer_problems, seed=cfg.seed, langs=ALL_CODES, **world_style(cfg)
    ):
        yield rec["question"]
        yield rec["solution"]
