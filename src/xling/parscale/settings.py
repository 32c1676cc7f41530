"""What a ParScale study is (`StudySettings`, presets in src/xling/data/parscale/) and what
each of its cells yields (`CellResult`): the settings the grid runs from and the records
its report reads, apart from the pipeline that produces them (`study.py`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.config import build, layers, read_toml
from xling.errors import XlingError

PRESET_DIR = Path(__file__).resolve().parents[1] / "data" / "parscale"

N_DEFINITIONS = {"backbone": "backbone_non_embedding", "with_parscale": "law_n"}


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


class StudyError(XlingError):
    pass


# Settings that only say which cells a study has (see `StudySettings.identity`).
GRID_AXES = ("sizes", "p_values")


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation of one model (AdamW, linear warm-up then cosine decay)."""

    steps: int = 200
    batch_size: int = 32
    seq_len: int = 256  # longer examples are cut
    loss_on: str = "all"  # "all" tokens (language modelling) | "assistant" (completions)
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 20
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size, self.seq_len) < 1:
            raise XlingError("steps, batch_size and seq_len must be positive")
        if self.loss_on not in ("all", "assistant"):
            raise XlingError(f"loss_on must be 'all' or 'assistant', got {self.loss_on!r}")
        if self.lr <= 0 or not 0 <= self.min_lr_ratio <= 1 or self.warmup_steps < 0:
            raise XlingError("need lr > 0, min_lr_ratio in [0, 1] and warmup_steps >= 0")

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to min_lr_ratio · lr (the organism's schedule)."""
        from xling.organism.pretrain import lr_at

        return lr_at(self, step)  # reads lr, warmup_steps, steps and min_lr_ratio


@dataclass(frozen=True)
class ModelShape:
    """A Qwen2 backbone shape (the organism's architecture, scaled)."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int

    def __post_init__(self) -> None:
        if min(self.hidden, self.layers, self.heads, self.kv_heads, self.intermediate) < 1:
            raise StudyError(f"model shape {self}: every size must be positive")
        if self.hidden % self.heads or self.heads % self.kv_heads:
            raise StudyError(
                f"model shape {self}: hidden must be a multiple of heads, heads of kv_heads"
            )

    @property
    def name(self) -> str:
        return f"h{self.hidden}-l{self.layers}"

    def non_embedding_params(self) -> int:
        """Backbone parameters without embeddings (Qwen2: q/k/v biases, two norms a layer)."""
        head_dim = self.hidden // self.heads
        kv = self.kv_heads * head_dim
        attention = self.hidden * self.hidden * 2 + self.hidden * kv * 2 + self.hidden + 2 * kv
        mlp = 3 * self.hidden * self.intermediate
        return self.layers * (attention + mlp + 2 * self.hidden) + self.hidden

    def parscale_params(self, streams: int, prefix_tokens: int) -> int:
        if streams == 1:
            return 0
        kv = self.kv_heads * (self.hidden // self.heads)
        prefix = 2 * self.layers * streams * prefix_tokens * kv
        aggregator = (
            streams * self.hidden * self.hidden + self.hidden + self.hidden * streams + streams
        )
        return prefix + aggregator

    def qwen2_sizes(self, vocab_size: int) -> dict[str, int]:
        """This shape in a Qwen2 config's terms (what the cost bench builds from)."""
        return {
            "vocab_size": vocab_size,
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
        }

    def text_config(self, tokenizer: Any, max_positions: int) -> dict[str, Any]:
        from xling.chat import ENDOFTEXT, IM_END

        eot = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
        return {
            "model_type": "qwen2",
            **self.qwen2_sizes(len(tokenizer)),
            "max_position_embeddings": max(max_positions, 2048),
            "tie_word_embeddings": True,
            "bos_token_id": eot,
            "eos_token_id": tokenizer.convert_tokens_to_ids(IM_END),
            "pad_token_id": eot,
        }


@dataclass(frozen=True)
class StudySettings:
    """A study (presets: src/xling/data/parscale/<name>.toml; `--set key=value` overrides)."""

    name: str = _f("parscale", "The study's name (report titles).")
    out: str = _f("runs/parscale-study", "Output folder (resumable).")
    corpus: str = _f(
        "full",
        "Organism preset whose data mixture and tokenizer the grid uses (unused when "
        "code_corpus is set).",
    )
    code_corpus: str | None = _f(
        None,
        "A folder written by `xling parscale corpus`: when set, the grid trains and "
        "evaluates on its train/held-out token files with its tokenizer instead of the "
        "organism's corpus (no per-language held-out sets).",
    )
    sizes: tuple[ModelShape, ...] = _f((), "Backbone shapes ([[sizes]] tables).")
    p_values: tuple[int, ...] = _f((1, 2, 4, 8), "Stream counts P of the grid.")
    prefix_tokens: int = _f(16, "ParScale prefix positions per layer and stream.")
    smoothing: float = _f(0.01, "Label smoothing of the aggregation weights.")
    # At the paper's sizes the two definitions differ by ~2% at P = 8; at toy sizes the
    # aggregator (P·H² parameters) can rival a shallow backbone, so "with_parscale" makes P
    # look like it buys fewer parameters than it does. The report shows both fits.
    n_definition: str = _f(
        "backbone",
        "N of the fitted law: backbone (non-embedding backbone parameters; prefixes and "
        "aggregator count as what P costs) | with_parscale (the paper's N, including them).",
    )
    train: TrainSettings = field(
        default_factory=TrainSettings,
        metadata={"help": "Optimisation of every cell (the [train] table; --set train.steps=40)."},
    )
    eval_batches: int = _f(32, "Held-out batches drawn like the training mixture.")
    eval_batch_size: int = _f(16, "Sequences per held-out batch.")
    lang_eval_batches: int = _f(4, "Held-out batches per language.")
    n_boot: int = _f(500, "Bootstrap resamples of held-out batches for the law's CIs.")
    lang_k: bool = _f(True, "Fit each language's own k (11 more fits).")
    lang_boot: int = _f(100, "Bootstrap resamples for each language's own k.")
    seed: int = _f(0, "Seed of the data and of every cell's initialisation.")
    # --- how to run (these do not change what is learned)
    device: str = _f("auto", "auto | cpu | cuda.")
    data_workers: int = _f(4, "Processes building batches.")
    cpu_threads: int = _f(0, "torch threads on a CPU (0: torch's default).")
    max_minutes: float | None = _f(
        None,
        "Start no cell that would not end within this many minutes of the run's start "
        "(its time: the estimate, scaled by the last cell measured on this device); the "
        "finished cells are kept and a rerun continues. For time-limited machines.",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "p_values", tuple(int(p) for p in self.p_values))
        problems = []
        if not self.sizes:
            problems.append("give at least one model size (a [[sizes]] table)")
        if len({s.name for s in self.sizes}) != len(self.sizes):
            problems.append("two sizes share hidden and layers")
        if (
            not self.p_values
            or min(self.p_values) < 1
            or len(set(self.p_values)) < len(self.p_values)
        ):
            problems.append("p_values needs distinct values >= 1")
        if self.n_definition not in N_DEFINITIONS:
            problems.append(f"n_definition must be one of {', '.join(N_DEFINITIONS)}")
        if self.prefix_tokens < 1 or not 0 <= self.smoothing < 1:
            problems.append("need prefix_tokens >= 1 and smoothing in [0, 1)")
        if min(self.eval_batches, self.eval_batch_size) < 2 or self.lang_eval_batches < 1:
            problems.append("need eval_batches >= 2, eval_batch_size >= 2, lang_eval_batches >= 1")
        if self.max_minutes is not None and not self.max_minutes >= 0:
            problems.append("max_minutes must be >= 0")
        if self.code_corpus is not None and self.train.loss_on != "all":
            # Code windows have no assistant turns: every token is a loss token.
            problems.append("a code_corpus needs train.loss_on = 'all'")
        if problems:
            raise StudyError("invalid ParScale study: " + "; ".join(problems))

    def identity(self) -> dict[str, Any]:
        """What determines the cells' results: a rerun into the same folder must agree.
        A code corpus counts by its manifest (hash of its files and split, build settings,
        token counts), not its path: the folder may move, but another corpus is refused.
        The grid's axes (`sizes`, `p_values`) are not part of it: a cell's result depends on
        its own size and P only, so a study grows in place (a P = 1 column first, the other
        P later; another size added) and keeps the cells it has."""
        data = dataclasses.asdict(self)
        run_only = (
            *GRID_AXES,
            "name",
            "out",
            "n_boot",
            "lang_k",
            "lang_boot",
            "device",
            "data_workers",
            "cpu_threads",
            "max_minutes",
        )
        for key in run_only:
            data.pop(key)
        if self.code_corpus is None:
            data.pop("code_corpus")  # organism studies from before the field still continue
        else:
            data.pop("corpus")
            data.pop("lang_eval_batches")
            data["code_corpus"] = code_corpus_identity(self.code_corpus)
        return data

    def cells(self) -> list[tuple[ModelShape, int]]:
        return [(shape, p) for shape in self.sizes for p in self.p_values]

    def fit_problem(self) -> str | None:
        """Why this grid cannot be fitted, or None. A grid too small to fit may still be
        trained: a P = 1 column alone sets the budget before the other P are trained, and
        one size per process lets several processes share a GPU on one grid."""
        if len(self.sizes) < 2:
            return "the law needs at least two model sizes (add sizes in the same --out)"
        if len(self.p_values) < 2:
            return "the law needs at least two values of P (grow p_values in the same --out)"
        if len(self.cells()) < 5:
            return "the law has 4 constants: the grid needs at least 5 cells"
        return None


def code_corpus_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a finished `xling parscale corpus` folder, or a one-line StudyError."""
    from xling.parscale.corpus import CodeCorpus, CorpusError

    try:
        manifest = CodeCorpus.load(folder).manifest
    except CorpusError as exc:
        raise StudyError(f"code_corpus {exc}") from None
    except (OSError, ValueError) as exc:  # unreadable, or not JSON
        raise StudyError(f"code_corpus {folder}: unreadable manifest.json ({exc})") from None
    needed = ("corpus_hash", "settings", "tokens", "token_files", "tokenizer")
    if not isinstance(manifest, dict) or any(key not in manifest for key in needed):
        raise StudyError(f"code_corpus {folder}: malformed manifest.json (needs {needed})")
    return manifest


def code_corpus_identity(folder: str | Path) -> dict[str, Any]:
    # The corpus hash covers the files and their split but not the tokenizer's or the file
    # order's settings, which change the token files too.
    manifest = code_corpus_manifest(folder)
    return {
        "corpus_hash": manifest["corpus_hash"],
        "settings": manifest["settings"],
        "tokens": manifest["tokens"],
    }


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_study_settings(
    preset: str | None = "demo",
    config: Path | None = None,
    settings: Sequence[str] = (),
    **overrides: Any,
) -> StudySettings:
    """Preset TOML < `config` TOML < `--set key=value` < non-None overrides. Tables merge
    key by key (a file's `[train] steps` keeps the preset's other `[train]` keys); a list
    such as `[[sizes]]` is replaced whole."""
    under: dict[str, Any] = {}
    where = f"preset {preset}"
    if preset:
        path = PRESET_DIR / f"{preset}.toml"
        if not path.is_file():
            raise StudyError(f"unknown preset {preset!r}; presets: {', '.join(preset_names())}")
        under = read_toml(path, "study preset")
    if config is not None:
        where = str(config)
    data = layers(config, settings, overrides, under=under, what="study file")
    return build(StudySettings, data, where)


@dataclass
class CellResult:
    name: str
    shape: ModelShape
    streams: int
    params: dict[str, int]
    heldout: list[list[float]]  # per batch: [summed NLL, tokens]
    heldout_lang: dict[str, list[list[float]]]
    train_log: list[dict[str, float]] = field(default_factory=list)
    train_s: float = 0.0
    eval_s: float = 0.0
    device: str = ""

    @property
    def loss(self) -> float:
        return sum(r[0] for r in self.heldout) / sum(r[1] for r in self.heldout)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["loss"] = self.loss
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellResult:
        data = dict(data)
        data.pop("loss", None)
        data["shape"] = ModelShape(**data["shape"])
        return cls(**data)
