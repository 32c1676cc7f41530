"""`xling parscale study`: the parallel scaling law on the organism's world, or on real code.

A grid of model sizes N × streams P, every cell trained from scratch on exactly the same
batches of the organism's synthetic corpus (same tokens seen, same order, same backbone
initialisation for every P of a size), then scored on held-out batches (one set drawn like
the training mixture, one set per language). With `code_corpus` (a folder written by
`xling parscale corpus`) the batches are instead windows of its train and held-out token
files, the tokenizer is the corpus's, and there are no per-language sets. The law
L = (A/(N·(k·ln P + 1)))^α + E is fitted to the held-out losses, with CIs from a bootstrap
over held-out batches (the same draw for every cell), a leave-one-out comparison against a
power law in P and a law without P, and a report (`report.py`).

Layout of <out>/ (every stage is skipped when its file exists, so a rerun continues):

    study.json            the resolved settings (a rerun must agree on what is learned)
    tokenizer/            the organism tokenizer (`build_tokenizer` of the corpus preset)
    data/train.pt         the training batches, shared by every cell
    data/heldout.pt       held-out batches drawn like the training mixture
    data/heldout-<lang>.pt  held-out batches of one language
                          (none of tokenizer/ and data/ with a code corpus: its folder has
                          the tokenizer, and its windows are cut from memmaps in seconds)
    cells/<cell>/result.json  one per (size, P): parameters, timings, held-out NLL per batch
    report/               report.md, report.html, figures/, tables/, summary.json
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from xling.jsonl import write_json_atomic
from xling.languages import ALL_CODES
from xling.parscale.settings import (
    GRID_AXES,
    CellResult,
    ModelShape,
    StudyError,
    StudySettings,
)

# Sizing model for `estimate_seconds` (see docs/parscale/README.md): an effective bf16
# throughput calibrated on the organism's pretraining run (7.3M parameters, 128 × ~150
# tokens per step at 17.8 steps/s on an H100 ≈ 16 TFLOP/s) and a floor per optimizer step
# for kernel launches of small models. Forward-only evaluation counts a third of a step.
GPU_FLOPS = 16e12
GPU_STEP_FLOOR_S = 0.008
CPU_FLOPS = 2.5e10  # two shared cores, float32, measured on the demo shapes
CPU_STEP_FLOOR_S = 0.03


def estimate_seconds(
    cfg: StudySettings, device: str, mean_tokens: float = 230.0, vocab: int = 4096
) -> float:
    """Rough wall time of the grid's training and evaluation (see the constants above):
    FLOPs = 6 · tokens · (P·(N + attention) + lm_head) per training step, a third of that
    per evaluation batch, at an effective throughput with a per-step floor. `mean_tokens`
    and `vocab` describe the organism's corpus; a code corpus's windows are always full."""
    return sum(cell_seconds(cfg, s, p, device, mean_tokens, vocab) for s, p in cfg.cells())


def cell_seconds(
    cfg: StudySettings,
    shape: ModelShape,
    streams: int,
    device: str,
    mean_tokens: float = 230.0,
    vocab: int = 4096,
) -> float:
    """`estimate_seconds` of one cell."""
    flops_rate, floor = (
        (GPU_FLOPS, GPU_STEP_FLOOR_S)
        if device.startswith("cuda")
        else (CPU_FLOPS, CPU_STEP_FLOOR_S)
    )
    lang_batches = cfg.lang_eval_batches * len(ALL_CODES)
    if cfg.code_corpus is not None:
        mean_tokens, lang_batches = cfg.train.seq_len, 0
    context = min(mean_tokens, cfg.train.seq_len) / 2 + (cfg.prefix_tokens if streams > 1 else 0)
    attention = 2 * shape.layers * shape.hidden * context
    per_token = 6 * (
        streams * (shape.non_embedding_params() + attention)
        + shape.hidden * vocab
        + shape.parscale_params(streams, cfg.prefix_tokens)
    )
    train_tokens = cfg.train.batch_size * min(mean_tokens, cfg.train.seq_len)
    step = max(floor, per_token * train_tokens / flops_rate)
    eval_batches = cfg.eval_batches + lang_batches
    eval_tokens = cfg.eval_batch_size * min(mean_tokens, cfg.train.seq_len)
    evaluation = eval_batches * max(floor / 3, per_token * eval_tokens / 3 / flops_rate)
    return cfg.train.steps * step + evaluation


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
        """Train the missing cells and write the report; None when `report` is off or
        `max_minutes` stopped the grid before its end (a rerun continues it)."""
        from xling.parscale.training import resolve_device

        started = time.perf_counter()
        device = resolve_device(self.cfg.device)
        if device == "cpu" and self.cfg.cpu_threads > 0:
            import torch

            torch.set_num_threads(self.cfg.cpu_threads)
        self._check_out()
        tokenizer = self._tokenizer()
        estimate = estimate_seconds(self.cfg, device, vocab=len(tokenizer))
        source = (
            f"code corpus {self.cfg.code_corpus}"
            if self.cfg.code_corpus is not None
            else f"organism corpus '{self.cfg.corpus}'"
        )
        self.console.print(
            f"ParScale study [bold]{self.cfg.name}[/] → {self.out}: {len(self.cfg.sizes)} sizes × "
            f"P ∈ {list(self.cfg.p_values)}, {self.cfg.train.steps} steps of "
            f"{self.cfg.train.batch_size} from the {source} on {device} (estimated "
            f"{estimate / 60:.1f} min of training and evaluation)"
        )
        data = self._data(tokenizer)
        remaining = self._cells(tokenizer, data, device, started)
        if remaining:
            self.console.print(
                f"[yellow]stopped after max_minutes = {self.cfg.max_minutes:g}:[/] "
                f"{remaining} of {len(self.cfg.cells())} cells remain; rerun the same command "
                "to continue (the report is written when the grid is complete)"
            )
            return None
        if not report:
            return None
        problem = self.cfg.fit_problem()
        if problem is not None:
            self.console.print(
                f"[yellow]all {len(self.cfg.cells())} cells done; no report:[/] {problem}"
            )
            return None
        return self.write_report()

    def write_report(self) -> Path:
        """The report on the finished cells (report/ under the study's folder)."""
        from xling.parscale.report import write_study_report

        problem = self.cfg.fit_problem()
        if problem is not None:
            raise StudyError(f"{self.out}: no report: {problem}")
        return write_study_report(self.cfg, self.done_cells(), self.out / "report", self.console)

    def _check_out(self) -> None:
        marker = self.out / "study.json"
        ours = {"identity": self.cfg.identity(), "settings": dataclasses.asdict(self.cfg)}
        if marker.exists():
            theirs = json.loads(marker.read_text(encoding="utf-8")).get("identity") or {}
            for axis in GRID_AXES:  # study.json files from before grids could grow
                theirs.pop(axis, None)
            if theirs != json.loads(json.dumps(ours["identity"])):
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

        if self.cfg.code_corpus is not None:
            return _code_tokenizer(self.cfg.code_corpus)
        path = self.out / "tokenizer"
        if not (path / "tokenizer.json").exists():
            build_tokenizer(self._corpus()).save_pretrained(path)
        return AutoTokenizer.from_pretrained(path)

    def _data(self, tokenizer: Any) -> dict[str, Any]:
        from xling.parscale.training import TokenBatches, heldout_corpus, make_batches

        if self.cfg.code_corpus is not None:
            return self._code_data()
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

    def _code_data(self) -> dict[str, Any]:
        from xling.parscale.corpus import token_batches

        cfg, train = self.cfg, self.cfg.train
        assert cfg.code_corpus is not None
        t0 = time.perf_counter()
        data = {
            "train": token_batches(
                cfg.code_corpus,
                "train",
                seq_len=train.seq_len,
                batch_size=train.batch_size,
                n_batches=train.steps,
                seed=cfg.seed,
            ),
            "heldout": token_batches(
                cfg.code_corpus,
                "heldout",
                seq_len=train.seq_len,
                batch_size=cfg.eval_batch_size,
                n_batches=cfg.eval_batches,
                seed=cfg.seed,
            ),
        }
        self.console.print(
            f"data: {train.steps} training batches, {data['train'].n_tokens:,} tokens; "
            f"{cfg.eval_batches} held-out batches, {data['heldout'].n_tokens:,} tokens "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        return data

    def _cells(self, tokenizer: Any, data: dict[str, Any], device: str, started: float) -> int:
        """Train the missing cells; returns how many remain (> 0 only when max_minutes
        stopped the grid)."""
        from xling.progress import make_progress

        todo = [(s, p) for s, p in self.cfg.cells() if not self.cell_path(s, p).exists()]
        if not todo:
            return 0
        steps = self.cfg.train.steps
        budget = None if self.cfg.max_minutes is None else 60 * self.cfg.max_minutes

        def estimate(shape: ModelShape, streams: int) -> float:
            return cell_seconds(self.cfg, shape, streams, device, vocab=len(tokenizer))

        # A cell is started only if it should end inside the budget: its estimate times the
        # measured/estimated ratio of the latest (largest: the grid grows) cell trained on
        # this device, since the estimate's constants are rough (the gpu preset ran ~2×
        # slower than estimated) and the ratio drifts with the model's size.
        here = _device_name(device)
        measured = [
            ((c.train_s + c.eval_s) / estimate(c.shape, c.streams), estimate(c.shape, c.streams))
            for c in self.done_cells()
            if c.device == here
        ]
        ratio = max(measured, key=lambda m: m[1])[0] if measured else 1.0
        with make_progress(self.console) as progress:
            grid = progress.add_task(
                "cells", total=len(self.cfg.cells()), completed=len(self.cfg.cells()) - len(todo)
            )
            for i, (shape, streams) in enumerate(todo):
                if budget is not None:
                    left = budget - (time.perf_counter() - started)
                    needs = ratio * estimate(shape, streams)
                    if needs > left:
                        progress.console.print(
                            f"max_minutes: {self.cell_name(shape, streams)} would take ~"
                            f"{needs / 60:.1f} min, {max(left, 0) / 60:.1f} min are left"
                        )
                        return len(todo) - i
                task = progress.add_task(self.cell_name(shape, streams), total=steps)

                def on_step(done: int, loss: float, task: Any = task) -> None:
                    progress.update(task, completed=done, description=f"  loss {loss:.3f}")

                result = self._train_cell(shape, streams, tokenizer, data, device, on_step)
                ratio = (result.train_s + result.eval_s) / estimate(shape, streams)
                progress.remove_task(task)
                progress.advance(grid)
                progress.console.print(
                    f"{result.name}: N = {result.params['law_n']:,}, held-out loss "
                    f"{result.loss:.4f} ({result.train_s:.0f} s)"
                )
        return 0

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

        from xling.models.parscale import ParScaleForCausalLM, parameter_counts
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
            if f"heldout-{lang}" in data  # a code corpus has no languages
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


def _code_tokenizer(folder: str) -> Any:
    from transformers import AutoTokenizer

    from xling.chat import ENDOFTEXT, IM_END
    from xling.parscale.settings import code_corpus_manifest

    code_corpus_manifest(folder)  # a one-line error for a missing or unfinished corpus
    tokenizer = AutoTokenizer.from_pretrained(folder)
    # `ModelShape.text_config` takes bos/pad and eos from these; an unknown token would map
    # to None or the unk id and the model would train with wrong special ids.
    for token in (ENDOFTEXT, IM_END):
        if token not in tokenizer.get_vocab():
            raise StudyError(f"code_corpus {folder}: its tokenizer has no {token} token")
    return tokenizer


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"
