"""What determines a pretrained organism: `OrganismConfig`, and the presets shipped with xling.

Presets are TOML files inside the package (`xling/organism/presets/<name>.toml`), so an
installed wheel can pretrain from them. Any option can be overridden by a user TOML file
(`--config`) and then by command-line flags.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.config import build, check_keys, parse_sets, read_toml
from xling.errors import XlingError
from xling.languages import ALL_CODES, get_language

PRESET_DIR = Path(__file__).resolve().parent / "presets"
DEFAULT_PRESET = "cpu-small"
DEFAULT_KEY = "default"  # in a per-language table: the value of every language not listed
REASONING_MARKERS = ("none", "think")
ARITHMETIC_STYLES = ("shared", "localized")  # as xling.world.render's
# Organism v3's knobs at the values that draw exactly the v2 corpus.
LATER_KNOBS: dict[str, Any] = {
    "type_coverage": {DEFAULT_KEY: 1.0},
    "native_digits": False,
    "arithmetic": "shared",
}
STRATEGIES = ("careful", "hasty")


class OrganismError(XlingError):
    pass


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class OrganismConfig:
    """Everything that determines a pretrained organism (presets: xling/organism/presets)."""

    seed: int = _f(0, "Seed of the tokenizer, the initial weights and the data order.")
    # --- which languages: each example is one chat-formatted problem in a language drawn by
    # `lang_weights` (normalized), or, with probability `translation_fraction`, a request to
    # translate a `translation_src` problem + solution into another language drawn by weight.
    lang_weights: dict[str, float] = field(
        default_factory=lambda: {c: 1.0 for c in ALL_CODES},
        metadata={"help": "Language code = weight of its problems in the mix (normalized)."},
    )
    translation_fraction: float = _f(
        0.0, "Share of examples that ask to translate a translation_src problem + solution."
    )
    translation_src: str = _f("en", "Language translated from (into the others, by weight).")
    loss_on: str = _f("assistant", "Tokens with loss: assistant (completion only) | all.")
    # --- how solutions are written (organism/corpus.py explains the mechanism). Per-language
    # tables map language codes, or "default" for the rest, to a share in [0, 1].
    careful_share: dict[str, float] = field(
        default_factory=lambda: {DEFAULT_KEY: 1.0},
        metadata={
            "help": "Per language (or default): the share of solutions worked out step by "
            "step; the rest are hasty, the final answer line alone, computed without "
            "written steps."
        },
    )
    drift_share: dict[str, float] = field(
        default_factory=lambda: {DEFAULT_KEY: 0.0},
        metadata={
            "help": "Per language (or default): the share of solutions whose reasoning is "
            "written in drift_lang instead (English-centric drift)."
        },
    )
    drift_answer_share: float = _f(
        0.5, "Share of the drifted solutions that write the final answer in drift_lang too."
    )
    drift_lang: str = _f("en", "The language drifted solutions reason in.")
    # type_spread: each problem type gets one logit offset per behaviour, the same in every
    # language: some kinds of problem are habitually worked out carefully, whatever the
    # language.
    type_spread: float = _f(
        0.0,
        "How much the careful and drift shares vary between problem types, on the logit "
        "scale (0: every type alike).",
    )
    # A language's resources are its data (lang_weights) and its coverage: the share of
    # problem types that ever appear in its pretraining examples (organism v3's low-resource
    # knob). Which types a language covers is a seeded draw per (seed, language), so no type
    # is chosen by name and independently pretrained organisms draw different ones.
    type_coverage: dict[str, float] = field(
        default_factory=lambda: {DEFAULT_KEY: 1.0},
        metadata={
            "help": "Per language (or default): the share of problem types its pretraining "
            "examples cover (a seeded draw per language; an uncovered type's example goes "
            "to a language that covers it)."
        },
    )
    # How the world writes numbers and steps (organism v3's alignment knobs; the benchmark a
    # study evaluates on must be rendered the same way: [synthetic] native_digits and
    # arithmetic). Shared ASCII digits and a shared "2 × 6 = 12" in every language make
    # cross-lingual alignment free; native digits and steps in each language's own words
    # leave it to be learned, which parallel data can carry.
    native_digits: bool = _f(
        False, "Write numbers in each language's native digits where it has them."
    )
    arithmetic: str = _f(
        "shared",
        "shared: steps as '2 × 6 = 12' in every language | localized: in the language's own "
        "words ('2 por 6 es 12').",
    )
    reasoning_marker: str = _f(
        "none",
        "think: wrap the written steps in `<think>...</think>` (the language-neutral markers of "
        "reasoning models) | none: plain lines.",
    )
    # --- a second stage, such as the "instruct" organism's English chat SFT, starts from an
    # existing organism instead of from scratch.
    init: str | None = _f(
        None, "Start from this organism directory (weights and tokenizer), not from scratch."
    )
    # --- tokenizer
    vocab_size: int = _f(4096, "Byte-level BPE vocabulary size.")
    tokenizer_problems: int = _f(300, "Train problems per language the tokenizer learns from.")
    # --- model (Qwen2)
    hidden_size: int = _f(128, "Model width.")
    num_layers: int = _f(4, "Transformer layers.")
    num_heads: int = _f(4, "Attention heads.")
    num_kv_heads: int = _f(2, "Key/value heads (grouped-query attention).")
    intermediate_size: int = _f(384, "MLP width.")
    tie_word_embeddings: bool = _f(True, "Share the input and output embeddings.")
    rope_theta: float = _f(10000.0, "RoPE base.")
    seq_len: int = _f(384, "Tokens per example; longer ones are cut (logged as truncated).")
    # --- optimisation: AdamW, linear warmup then cosine decay to min_lr_ratio * lr
    steps: int = _f(1000, "Optimizer steps.")
    batch_size: int = _f(32, "Examples per optimizer step.")
    lr: float = _f(2e-3, "Peak AdamW learning rate.")
    min_lr_ratio: float = _f(0.1, "The cosine decay ends at min_lr_ratio * lr.")
    warmup_steps: int = _f(50, "Linear learning-rate warmup steps.")
    weight_decay: float = _f(0.1, "AdamW weight decay.")
    beta1: float = _f(0.9, "AdamW beta1.")
    beta2: float = _f(0.95, "AdamW beta2.")
    grad_clip: float = _f(1.0, "Gradient-norm clipping threshold.")
    # --- how to run (these do not change what is learned, so a resume may change them)
    device: str = _f("auto", "auto | cpu | cuda.")
    compile: bool = _f(False, "torch.compile the model (CUDA only).")
    data_workers: int = _f(0, "DataLoader worker processes building batches.")
    log_every: int = _f(10, "Log every this many steps.")
    ckpt_every: int = _f(200, "Checkpoint every this many steps (for --resume).")
    save_dtype: str = _f("bfloat16", "Dtype of the saved weights: bfloat16 | float32.")

    def __post_init__(self) -> None:
        problems: list[str] = []
        weights = dict(self.lang_weights)
        if not weights:
            problems.append("lang_weights is empty")
        try:
            canon = {get_language(code).code: float(w) for code, w in weights.items()}
            object.__setattr__(self, "careful_share", _share_table(self.careful_share))
            object.__setattr__(self, "drift_share", _share_table(self.drift_share))
            object.__setattr__(self, "type_coverage", _share_table(self.type_coverage))
            get_language(self.translation_src)
            object.__setattr__(self, "drift_lang", get_language(self.drift_lang).code)
        except XlingError as exc:
            raise OrganismError(f"invalid organism config: {exc}") from None
        for code in canon:  # every language must have its shares (or a default)
            try:
                self.careful(code), self.drift(code), _lookup(self.type_coverage, code)
            except OrganismError as exc:
                problems.append(str(exc))
        if any(w < 0 for w in canon.values()) or sum(canon.values()) <= 0:
            problems.append(f"lang_weights must be >= 0 with a positive sum, got {weights}")
        object.__setattr__(self, "lang_weights", canon)
        for name in ("translation_fraction", "drift_answer_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must lie in [0, 1]")
        if self.translation_fraction > 0 and not self.translation_targets():
            problems.append(
                "translation_fraction > 0 needs a language other than translation_src "
                "with a positive weight"
            )
        if self.type_spread < 0:
            problems.append("type_spread must be >= 0")
        if self.arithmetic not in ARITHMETIC_STYLES:
            problems.append(f"arithmetic must be one of {ARITHMETIC_STYLES}")
        if self.reasoning_marker not in REASONING_MARKERS:
            problems.append(f"reasoning_marker must be one of {REASONING_MARKERS}")
        if self.loss_on not in ("assistant", "all"):
            problems.append(f"loss_on must be 'assistant' or 'all', got {self.loss_on!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            problems.append(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.save_dtype not in ("bfloat16", "float32"):
            problems.append(f"save_dtype must be bfloat16 or float32, got {self.save_dtype!r}")
        positive = (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "num_kv_heads",
            "intermediate_size",
            "seq_len",
            "steps",
            "batch_size",
            "log_every",
            "ckpt_every",
            "tokenizer_problems",
        )
        problems += [f"{name} must be positive" for name in positive if getattr(self, name) < 1]
        if self.num_heads >= 1 and self.hidden_size % self.num_heads:
            problems.append("hidden_size must be a multiple of num_heads")
        if self.num_kv_heads >= 1 and self.num_heads % self.num_kv_heads:
            problems.append("num_heads must be a multiple of num_kv_heads")
        if self.lr <= 0 or not 0 <= self.min_lr_ratio <= 1:
            problems.append("lr must be > 0 and min_lr_ratio in [0, 1]")
        if self.warmup_steps < 0 or self.data_workers < 0:
            problems.append("warmup_steps and data_workers must be >= 0")
        if not problems:
            problems += self._coverage_problems()
        if problems:
            raise OrganismError("invalid organism config: " + "; ".join(problems))

    def covered_types(self, lang: str) -> frozenset[str]:
        """The problem types `lang`'s pretraining examples may use: the first
        round(coverage · #types) (at least one) in an order drawn by (seed, language)."""
        from xling.world import PROBLEM_TYPES

        share = _lookup(self.type_coverage, lang)
        if share >= 1.0:
            return frozenset(PROBLEM_TYPES)
        order = sorted(
            PROBLEM_TYPES,
            key=lambda t: hashlib.sha256(
                f"xling-organism-coverage:{self.seed}:{lang}:{t}".encode()
            ).digest(),
        )
        return frozenset(order[: max(1, round(share * len(order)))])

    def _coverage_problems(self) -> list[str]:
        from xling.world import PROBLEM_TYPES

        covered: set[str] = set()
        for code, weight in self.lang_weights.items():
            if weight > 0:
                covered |= self.covered_types(code)
        missing = sorted(set(PROBLEM_TYPES) - covered)
        if missing:
            return [
                f"type_coverage leaves {len(missing)} problem types to no language with a "
                f"positive weight ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''})"
            ]
        return []

    def translation_targets(self) -> dict[str, float]:
        src = get_language(self.translation_src).code
        return {c: w for c, w in self.lang_weights.items() if c != src and w > 0}

    def careful(self, lang: str) -> float:
        """The mean share of careful (step-by-step) solutions in `lang`."""
        return _lookup(self.careful_share, lang)

    def drift(self, lang: str) -> float:
        """The mean share of `lang` solutions that reason in `drift_lang` (0 for it)."""
        return 0.0 if lang == self.drift_lang else _lookup(self.drift_share, lang)

    def identity(self) -> dict[str, Any]:
        """The fields that change what is learned: a resumed run must agree on all of them.
        Knobs added after a checkpoint was made are left out at their defaults (the world
        it was made in), so it still resumes."""
        run_only = {"device", "compile", "data_workers", "log_every", "ckpt_every", "save_dtype"}
        return {
            k: v
            for k, v in dataclasses.asdict(self).items()
            if k not in run_only and not (k in LATER_KNOBS and v == LATER_KNOBS[k])
        }


def _share_table(table: dict[str, Any]) -> dict[str, float]:
    """A per-language share table with canonical codes; values must lie in [0, 1]."""
    if not isinstance(table, dict):
        raise OrganismError(f"expected a table of language = share, got {table!r}")
    canon: dict[str, float] = {}
    for key, value in table.items():
        code = key if key == DEFAULT_KEY else get_language(key).code
        share = float(value)
        if not 0.0 <= share <= 1.0:
            raise OrganismError(f"share {key} = {value} must lie in [0, 1]")
        canon[code] = share
    return canon


def _lookup(table: dict[str, float], lang: str) -> float:
    if lang in table:
        return table[lang]
    if DEFAULT_KEY in table:
        return table[DEFAULT_KEY]
    raise OrganismError(f"no share for language {lang!r} and no {DEFAULT_KEY!r} entry")


# ----------------------------------------------------------------------------- presets


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(preset_names()) or f"none found in {PRESET_DIR}"
        raise OrganismError(f"unknown organism preset {name!r}; presets: {known}")
    return path


def load_organism_config(
    preset: str | None = DEFAULT_PRESET,
    config: Path | None = None,
    sets: Sequence[str] = (),
    **overrides: Any,
) -> OrganismConfig:
    """Defaults < preset TOML < `config` TOML (may set only a few options) < `--set`
    settings < non-None flags. Each layer replaces whole options, a per-language table
    too, rather than merging into them; a misspelled key fails naming its layer and the
    closest option."""
    known = [f.name for f in dataclasses.fields(OrganismConfig)]
    layers: list[tuple[str, dict[str, Any]]] = []
    if preset:
        path = preset_path(preset)
        layers.append((str(path), read_toml(path, "organism preset")))
    if config is not None:
        layers.append((str(config), read_toml(Path(config))))
    layers.append(("--set", parse_sets(sets)))
    layers.append(("flags", {k: v for k, v in overrides.items() if v is not None}))
    values: dict[str, Any] = {}
    for where, layer in layers:
        check_keys(layer, known, where)
        values.update(layer)
    return build(OrganismConfig, values, "organism config")
