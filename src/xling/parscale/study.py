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
from pathlib import Path
from typing import Any

from rich.console import Console

from xling.jsonl import write_json_atomic
from xling.languages import ALL_CODES
from xling.parscale.settings import (
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
        return self.write_report()

    def write_report(self) -> Path:
        """The report on the finished cells (report/ under the study's folder)."""
        from xling.parscale.report import write_study_report

        return write_study_report(self.cfg, self.done_cells(), self.out / "report", self.console)

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
