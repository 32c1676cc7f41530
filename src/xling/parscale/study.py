"""`xling parscale study`: the parallel scaling law on the organism's world.

A grid of model sizes N × streams P, every cell trained from scratch on exactly the same
batches of the organism's synthetic corpus (same tokens seen, same order, same backbone
initialisation for every P of a size), then scored on held-out batches (one set drawn like
the training mixture, one set per language). The law L = (A/(N·(k·ln P + 1)))^α + E is fitted
to the held-out losses, with CIs from a bootstrap over held-out batches (the same draw for
every cell), a leave-one-out comparison against a power law in P and a law without P, and a
report (`report.py`).

Layout of <out>/ (every stage is skipped when its file exists, so a rerun continues):

    study.json            the resolved settings (a rerun must agree on what is learned)
    tokenizer/            the organism tokenizer (`build_tokenizer` of the corpus preset)
    data/train.pt         the training batches, shared by every cell
    data/heldout.pt       held-out batches drawn like the training mixture
    data/heldout-<lang>.pt  held-out batches of one language
    cells/<cell>/result.json  one per (size, P): parameters, timings, held-out NLL per batch
    report/               report.md, report.html, figures/, tables/, summary.json
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from xling.config import read_toml, reject_unknown
from xling.errors import XlingError
from xling.jsonl import write_json_atomic
from xling.languages import ALL_CODES

PRESET_DIR = Path(__file__).resolve().parents[1] / "data" / "parscale"

# Sizing model for `estimate_seconds` (see docs/parscale/README.md): an effective bf16
# throughput calibrated on the organism's pretraining run (7.3M parameters, 128 × ~150
# tokens per step at 17.8 steps/s on an H100 ≈ 16 TFLOP/s) and a floor per optimizer step
# for kernel launches of small models. Forward-only evaluation counts a third of a step.
GPU_FLOPS = 16e12
GPU_STEP_FLOOR_S = 0.008
CPU_FLOPS = 2.5e10  # two shared cores, float32, measured on the demo shapes
CPU_STEP_FLOOR_S = 0.03


N_DEFINITIONS = {"backbone": "backbone_non_embedding", "with_parscale": "law_n"}


class StudyError(XlingError):
    pass


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

    def text_config(self, tokenizer: Any, max_positions: int) -> dict[str, Any]:
        from xling.tinymodel import ENDOFTEXT, IM_END

        eot = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
        return {
            "model_type": "qwen2",
            "vocab_size": len(tokenizer),
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "max_position_embeddings": max(max_positions, 2048),
            "tie_word_embeddings": True,
            "bos_token_id": eot,
            "eos_token_id": tokenizer.convert_tokens_to_ids(IM_END),
            "pad_token_id": eot,
        }


@dataclass(frozen=True)
class StudySettings:
    """A study (presets: src/xling/data/parscale/<name>.toml; `--set key=value` overrides)."""

    name: str = "parscale"
    out: str = "runs/parscale-study"
    corpus: str = "full"  # organism preset: data mixture and tokenizer
    sizes: tuple[ModelShape, ...] = ()
    p_values: tuple[int, ...] = (1, 2, 4, 8)
    prefix_tokens: int = 16
    smoothing: float = 0.01
    # N of the fitted law: "backbone" (non-embedding backbone parameters; the prefixes and
    # the aggregator count as part of what P costs) or "with_parscale" (the paper's N, which
    # includes them). At the paper's sizes the two differ by ~2% at P = 8; at toy sizes the
    # aggregator (P·H² parameters) can rival a shallow backbone, so "with_parscale" makes P
    # look like it buys fewer parameters than it does. The report shows both fits.
    n_definition: str = "backbone"
    train: Any = None  # TrainSettings (the [train] table)
    eval_batches: int = 32  # held-out batches drawn like the training mixture
    eval_batch_size: int = 16
    lang_eval_batches: int = 4  # held-out batches per language
    n_boot: int = 500  # bootstrap resamples of held-out batches for the law's CIs
    lang_k: bool = True  # fit each language's own k (11 more fits)
    lang_boot: int = 100  # bootstrap resamples for each language's own k
    seed: int = 0
    # --- how to run (these do not change what is learned)
    device: str = "auto"
    data_workers: int = 4
    # CPU threads for torch (0 = torch's default). Tiny models gain nothing from a second
    # thread, and on a shared machine two spinning OpenMP threads can be many times slower.
    cpu_threads: int = 0

    def __post_init__(self) -> None:
        from xling.parscale.training import TrainSettings

        train = self.train
        if train is None:
            train = TrainSettings()
        elif isinstance(train, dict):
            reject_unknown(train, TrainSettings, Path("[train]"), noun="key")
            train = TrainSettings(**train)
        object.__setattr__(self, "train", train)
        shapes = []
        for i, shape in enumerate(self.sizes):
            if isinstance(shape, dict):
                reject_unknown(shape, ModelShape, Path(f"sizes[{i}]"), noun="key")
                shape = ModelShape(**shape)
            shapes.append(shape)
        object.__setattr__(self, "sizes", tuple(shapes))
        object.__setattr__(self, "p_values", tuple(int(p) for p in self.p_values))
        problems = []
        if len(self.sizes) < 2:
            problems.append("give at least two model sizes ([[sizes]] tables)")
        if len({s.name for s in self.sizes}) != len(self.sizes):
            problems.append("two sizes share hidden and layers")
        if not self.p_values or min(self.p_values) < 1 or len(set(self.p_values)) < 2:
            problems.append("p_values needs at least two distinct values >= 1")
        if self.n_definition not in N_DEFINITIONS:
            problems.append(f"n_definition must be one of {', '.join(N_DEFINITIONS)}")
        if self.prefix_tokens < 1 or not 0 <= self.smoothing < 1:
            problems.append("need prefix_tokens >= 1 and smoothing in [0, 1)")
        if min(self.eval_batches, self.eval_batch_size) < 2 or self.lang_eval_batches < 1:
            problems.append("need eval_batches >= 2, eval_batch_size >= 2, lang_eval_batches >= 1")
        if len(self.sizes) * len(self.p_values) < 5:
            problems.append("the law has 4 constants: the grid needs at least 5 cells")
        if problems:
            raise StudyError("invalid ParScale study: " + "; ".join(problems))

    def identity(self) -> dict[str, Any]:
        """What determines the cells' results: a rerun into the same folder must agree."""
        data = dataclasses.asdict(self)
        run_only = (
            "name",
            "out",
            "n_boot",
            "lang_k",
            "lang_boot",
            "device",
            "data_workers",
            "cpu_threads",
        )
        for key in run_only:
            data.pop(key)
        return data

    def cells(self) -> list[tuple[ModelShape, int]]:
        return [(shape, p) for shape in self.sizes for p in self.p_values]


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_study_settings(
    preset: str | None = "demo",
    config: Path | None = None,
    settings: tuple[str, ...] | list[str] = (),
    **overrides: Any,
) -> StudySettings:
    """Preset TOML < `config` TOML < `--set key=value` < non-None overrides."""
    from xling.study import parse_settings

    data: dict[str, Any] = {}
    if preset:
        path = PRESET_DIR / f"{preset}.toml"
        if not path.is_file():
            raise StudyError(f"unknown preset {preset!r}; presets: {', '.join(preset_names())}")
        data.update(read_toml(path, "study preset"))
    if config is not None:
        for key, value in read_toml(Path(config), "study file").items():
            if key == "train" and isinstance(value, dict):
                data["train"] = {**data.get("train", {}), **value}
            else:
                data[key] = value
    for key, value in parse_settings(settings).items():
        if key == "train" and isinstance(value, dict):
            data["train"] = {**data.get("train", {}), **value}
        else:
            data[key] = value
    data.update({k: v for k, v in overrides.items() if v is not None})
    reject_unknown(data, StudySettings, Path(config or f"preset {preset}"), noun="key")
    for key in ("sizes", "p_values"):
        if key in data:
            data[key] = tuple(data[key])
    return StudySettings(**data)


def estimate_seconds(cfg: StudySettings, device: str, mean_tokens: float = 230.0) -> float:
    """Rough wall time of the grid's training and evaluation (see the constants above):
    FLOPs = 6 · tokens · (P·(N + attention) + lm_head) per training step, a third of that
    per evaluation batch, at an effective throughput with a per-step floor."""
    flops_rate, floor = (
        (GPU_FLOPS, GPU_STEP_FLOOR_S)
        if device.startswith("cuda")
        else (CPU_FLOPS, CPU_STEP_FLOOR_S)
    )
    vocab = 4096
    total = 0.0
    for shape, streams in cfg.cells():
        context = min(mean_tokens, cfg.train.seq_len) / 2 + (
            cfg.prefix_tokens if streams > 1 else 0
        )
        attention = 2 * shape.layers * shape.hidden * context
        per_token = 6 * (
            streams * (shape.non_embedding_params() + attention)
            + shape.hidden * vocab
            + shape.parscale_params(streams, cfg.prefix_tokens)
        )
        train_tokens = cfg.train.batch_size * min(mean_tokens, cfg.train.seq_len)
        step = max(floor, per_token * train_tokens / flops_rate)
        eval_batches = cfg.eval_batches + cfg.lang_eval_batches * len(ALL_CODES)
        eval_tokens = cfg.eval_batch_size * min(mean_tokens, cfg.train.seq_len)
        evaluation = eval_batches * max(floor / 3, per_token * eval_tokens / 3 / flops_rate)
        total += cfg.train.steps * step + evaluation
    return total


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


class ParScaleStudy:
    def __init__(self, cfg: StudySettings, console: Console | None = None) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.console = console or Console()

    # ------------------------------------------------------------------ layout

    def cell_name(self, shape: ModelShape, streams: int) -> str:
        return f"{shape.name}-p{streams}"

    def cell_path(self, shape: ModelShape, streams: int) -> Path:
        return self.out / "cells" / self.cell_name(shape, streams) / "result.json"

    def done_cells(self) -> list[CellResult]:
        results = []
        for shape, streams in self.cfg.cells():
            path = self.cell_path(shape, streams)
            if path.exists():
                results.append(CellResult.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        return results

    # ------------------------------------------------------------------ stages

    def run(self, report: bool = True) -> Path | None:
        from xling.parscale.training import resolve_device

        device = resolve_device(self.cfg.device)
        if device == "cpu" and self.cfg.cpu_threads > 0:
            import torch

            torch.set_num_threads(self.cfg.cpu_threads)
        self._check_out()
        estimate = estimate_seconds(self.cfg, device)
        self.console.print(
            f"ParScale study [bold]{self.cfg.name}[/] → {self.out}: {len(self.cfg.sizes)} sizes × "
            f"P ∈ {list(self.cfg.p_values)}, {self.cfg.train.steps} steps of "
            f"{self.cfg.train.batch_size} on {device} (estimated {estimate / 60:.1f} min of "
            "training and evaluation)"
        )
        tokenizer = self._tokenizer()
        data = self._data(tokenizer)
        self._cells(tokenizer, data, device)
        if not report:
            return None
        from xling.parscale.report import write_study_report

        return write_study_report(self, self.console)

    def _check_out(self) -> None:
        marker = self.out / "study.json"
        ours = {"identity": self.cfg.identity(), "settings": dataclasses.asdict(self.cfg)}
        if marker.exists():
            theirs = json.loads(marker.read_text(encoding="utf-8"))
            if theirs.get("identity") != json.loads(json.dumps(ours["identity"])):
                raise StudyError(
                    f"{self.out} holds a study with other settings (see {marker}); use another "
                    "--out, or the same settings to continue it"
                )
        self.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(marker, ours)

    def _corpus(self) -> Any:
        from xling.organism import load_organism_config

        return load_organism_config(
            self.cfg.corpus, batch_size=self.cfg.train.batch_size, seed=self.cfg.seed
        )

    def _tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        from xling.organism import build_tokenizer

        path = self.out / "tokenizer"
        if not (path / "tokenizer.json").exists():
            build_tokenizer(self._corpus()).save_pretrained(path)
        return AutoTokenizer.from_pretrained(path)

    def _data(self, tokenizer: Any) -> dict[str, Any]:
        from xling.parscale.training import TokenBatches, heldout_corpus, make_batches

        folder = self.out / "data"
        folder.mkdir(parents=True, exist_ok=True)
        corpus, train = self._corpus(), self.cfg.train
        plans: dict[str, tuple[Any, int]] = {
            "train": (corpus, train.steps),
            "heldout": (heldout_corpus(corpus, self.cfg.eval_batch_size), self.cfg.eval_batches),
        }
        for lang in ALL_CODES:
            plans[f"heldout-{lang}"] = (
                heldout_corpus(corpus, self.cfg.eval_batch_size, lang),
                self.cfg.lang_eval_batches,
            )
        data = {}
        for name, (source, count) in plans.items():
            path = folder / f"{name}.pt"
            if not path.exists():
                t0 = time.perf_counter()
                batches = make_batches(
                    source,
                    tokenizer,
                    range(count),
                    seq_len=train.seq_len,
                    loss_on=train.loss_on,
                    workers=self.cfg.data_workers,
                )
                batches.save(path)
                if name == "train":
                    self.console.print(
                        f"data: {count} training batches, {batches.n_tokens:,} loss tokens "
                        f"({time.perf_counter() - t0:.1f} s)"
                    )
            data[name] = TokenBatches.load(path)
        return data

    def _cells(self, tokenizer: Any, data: dict[str, Any], device: str) -> None:
        from xling.progress import make_progress

        todo = [(s, p) for s, p in self.cfg.cells() if not self.cell_path(s, p).exists()]
        if not todo:
            return
        steps = self.cfg.train.steps
        with make_progress(self.console) as progress:
            grid = progress.add_task(
                "cells", total=len(self.cfg.cells()), completed=len(self.cfg.cells()) - len(todo)
            )
            for shape, streams in todo:
                task = progress.add_task(self.cell_name(shape, streams), total=steps)

                def on_step(done: int, loss: float, task: Any = task) -> None:
                    progress.update(task, completed=done, description=f"  loss {loss:.3f}")

                result = self._train_cell(shape, streams, tokenizer, data, device, on_step)
                progress.remove_task(task)
                progress.advance(grid)
                progress.console.print(
                    f"{result.name}: N = {result.params['law_n']:,}, held-out loss "
                    f"{result.loss:.4f} ({result.train_s:.0f} s)"
                )

    def _train_cell(
        self,
        shape: ModelShape,
        streams: int,
        tokenizer: Any,
        data: dict[str, Any],
        device: str,
        on_step: Any,
    ) -> CellResult:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        from xling.parscale.model import ParScaleForCausalLM, parameter_counts
        from xling.parscale.training import heldout_nll, train_steps

        text = shape.text_config(tokenizer, self.cfg.train.seq_len)
        config = AutoConfig.for_model(text.pop("model_type"), **text)
        # The same backbone initialisation for every P of a size: the P effect is not mixed
        # with the luck of the draw.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            backbone = AutoModelForCausalLM.from_config(config)
        model = ParScaleForCausalLM.from_backbone(
            backbone,
            streams=streams,
            prefix_tokens=self.cfg.prefix_tokens,
            smoothing=self.cfg.smoothing,
            seed=self.cfg.seed,
        )
        del backbone
        t0 = time.perf_counter()
        log = train_steps(model, data["train"], self.cfg.train, device=device, on_step=on_step)
        t1 = time.perf_counter()
        heldout = heldout_nll(model, data["heldout"], device=device).tolist()
        per_lang = {
            lang: heldout_nll(model, data[f"heldout-{lang}"], device=device).tolist()
            for lang in ALL_CODES
        }
        result = CellResult(
            name=self.cell_name(shape, streams),
            shape=shape,
            streams=streams,
            params=parameter_counts(model),
            heldout=heldout,
            heldout_lang=per_lang,
            train_log=log,
            train_s=round(t1 - t0, 2),
            eval_s=round(time.perf_counter() - t1, 2),
            device=_device_name(device),
        )
        if not math.isfinite(result.loss):
            raise StudyError(f"cell {result.name}: the held-out loss is not finite (diverged?)")
        path = self.cell_path(shape, streams)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, result.to_dict())
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        return result


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"
