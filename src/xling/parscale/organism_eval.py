"""ParScale heads on the bundled organism, evaluated by `xling eval` in the 11 languages.

The organism (a 3.4M Qwen2 pretrained English-centric on the synthetic world) is frozen;
for each P a ParScale head (prefixes + aggregator) is post-trained on the organism's own
training mixture (fresh batches), then every model — the organism itself (P = 1) and each
head — is evaluated greedily on the same synthetic test problems in every language, and the
per-language accuracy gains over P = 1 are compared with paired bootstrap CIs: does parallel
computation help low-resource languages more than English?

Layout of <out>/ (every stage is skipped or resumed when its files exist):

    bench/test/synth_<lang>.jsonl    the synthetic test problems
    heads/p<P>/                      HF checkpoints (+ parscale.json: training log, losses)
    evals/p<P>/                      `xling eval` run directories (p1 = the organism)
    comparison.json, comparison.md, comparison.csv
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from xling.errors import XlingError
from xling.jsonl import write_json_atomic, write_text_atomic
from xling.languages import ALL_CODES, get_language
from xling.parscale.training import TrainSettings
from xling.tables import write_csv

LOW_RESOURCE = tuple(c for c in ALL_CODES if get_language(c).resource == "low")


def _default_head_training() -> TrainSettings:
    # The organism's own objective (loss on completions, its sequence length); only ~0.5M
    # head parameters learn, so a larger learning rate and no weight decay.
    return TrainSettings(
        steps=150,
        batch_size=64,
        seq_len=384,
        loss_on="assistant",
        lr=5e-3,
        warmup_steps=15,
        weight_decay=0.0,
    )


@dataclass(frozen=True)
class HeadsSettings:
    streams: tuple[int, ...] = (2, 4, 8)
    # The paper uses 48 prefix positions; the organism's prompts and answers are ~150 tokens,
    # and near-zero prefixes dilute attention until trained: at initialisation (P = 2) the
    # held-out loss is 0.084 (the organism), 0.094 with 16 positions, 0.131 with 48.
    prefix_tokens: int = 16
    train: TrainSettings = field(default_factory=_default_head_training)
    n_test: int = 100  # test problems per language
    bench_seed: int = 0
    max_new_tokens: int = 320
    eval_batch_size: int = 128
    score_workers: int = 4
    heldout_batches: int = 8
    n_boot: int = 2000
    device: str = "auto"
    data_workers: int = 4

    def __post_init__(self) -> None:
        if not self.streams or min(self.streams) < 2:
            raise XlingError("--streams: give P values >= 2 (P = 1 is the organism itself)")
        if self.n_test < 1 or self.prefix_tokens < 1:
            raise XlingError("n_test and prefix_tokens must be positive")


def organism_corpus(base: Path) -> Any:
    """The base organism's own training mixture (organism.json), else the `full` preset."""
    from xling.organism import OrganismConfig, load_organism_config

    meta = base / "organism.json"
    if meta.exists():
        try:
            return OrganismConfig(**json.loads(meta.read_text(encoding="utf-8"))["config"])
        except (KeyError, TypeError, ValueError):
            pass  # an organism.json of another format: fall back to the preset
    return load_organism_config("full")


def run_heads_comparison(
    base: Path, out: Path, cfg: HeadsSettings, console: Console | None = None
) -> dict[str, Any]:
    from xling.parscale.training import resolve_device

    console = console or Console()
    device = resolve_device(cfg.device)
    out.mkdir(parents=True, exist_ok=True)
    bench = out / "bench"
    if not (bench / "test" / f"synth_{ALL_CODES[-1]}.jsonl").exists():
        from xling.world import build_benchmark

        build_benchmark(bench, n_train=0, n_test=cfg.n_test, seed=cfg.bench_seed)
    corpus = organism_corpus(base)
    heads: dict[int, Path] = {1: base, **{p: out / "heads" / f"p{p}" for p in cfg.streams}}
    todo = [p for p in cfg.streams if not (heads[p] / "parscale.json").exists()]
    base_loss_path = out / "heads" / "base.json"
    if todo or not base_loss_path.exists():
        _post_train_heads(base, heads, todo, base_loss_path, corpus, cfg, device, console)
    runs = {}
    for streams, model in heads.items():
        runs[streams] = _evaluate(
            model, bench / "test", out / "evals" / f"p{streams}", cfg, console
        )
    result = compare_heads(runs, n_boot=cfg.n_boot)
    result["base_heldout_loss"] = json.loads(base_loss_path.read_text(encoding="utf-8"))["loss"]
    result["heads"] = {
        str(p): json.loads((path / "parscale.json").read_text(encoding="utf-8"))
        for p, path in heads.items()
        if p > 1
    }
    for info in result["heads"].values():
        info.pop("train_log", None)
    write_json_atomic(out / "comparison.json", result)
    _write_tables(result, out)
    _print(result, console)
    return result


def _post_train_heads(
    base: Path,
    heads: dict[int, Path],
    todo: list[int],
    base_loss_path: Path,
    corpus: Any,
    cfg: HeadsSettings,
    device: str,
    console: Console,
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from xling.parscale.training import (
        heldout_corpus,
        heldout_nll,
        make_batches,
        pooled_loss,
        post_train,
    )
    from xling.progress import make_progress

    tokenizer = AutoTokenizer.from_pretrained(base)
    heldout = make_batches(
        heldout_corpus(corpus, 32),
        tokenizer,
        range(cfg.heldout_batches),
        seq_len=cfg.train.seq_len,
        loss_on=cfg.train.loss_on,
    )
    plain = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    base_loss = pooled_loss(heldout_nll(plain, heldout, device=device))
    del plain
    base_loss_path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(base_loss_path, {"loss": base_loss, "batches": cfg.heldout_batches})
    console.print(f"organism (P = 1): held-out completion loss {base_loss:.4f}")
    for streams in todo:
        with make_progress(console) as progress:
            task = progress.add_task(f"head P={streams}", total=cfg.train.steps)
            info = post_train(
                base,
                streams,
                heads[streams],
                corpus=corpus,
                settings=cfg.train,
                prefix_tokens=cfg.prefix_tokens,
                device=device,
                heldout=heldout,
                data_workers=cfg.data_workers,
                on_step=lambda done, loss, task=task, p=streams: progress.update(
                    task, completed=done, description=f"head P={p} loss {loss:.3f}"
                ),
            )
        console.print(
            f"head P={streams}: held-out completion loss {info['heldout_loss_before']:.4f} → "
            f"{info['heldout_loss_after']:.4f} (organism {base_loss:.4f}; "
            f"{info['train_s']:.0f} s)"
        )


def _evaluate(model: Path, data: Path, out: Path, cfg: HeadsSettings, console: Console) -> Path:
    from xling.evaluate import EvalConfig, run_eval

    if not (out / "metrics.json").exists():
        run_eval(
            EvalConfig(
                model=str(model),
                bench="jsonl",
                data=str(data),
                bench_name="synth",
                id_field="id",
                langs="all",
                limit=cfg.n_test,
                max_new_tokens=cfg.max_new_tokens,
                batch_size=cfg.eval_batch_size,
                score_workers=cfg.score_workers,
                temperature=0.0,
                out=str(out),
            ),
            console,
        )
    return out


def compare_heads(runs: dict[int, Path], *, n_boot: int, seed: int = 0) -> dict[str, Any]:
    """Per-language accuracy of every P and its gain over P = 1 (paired bootstrap over
    problems: the same draw for every model and language), plus the low-resource languages'
    mean gain minus English's."""
    from xling.analysis.bootstrap import compute_cube, summarize
    from xling.analysis.rundata import align, load_run

    order = sorted(runs)
    if order[0] != 1:
        raise XlingError("the comparison needs the P = 1 run (the base organism)")
    aligned = align([load_run(runs[p], name=f"P={p}") for p in order])
    cube = compute_cube(aligned, n_boot=n_boot, seed=seed)
    acc = cube.acc  # (1 + B, models, langs)
    langs = cube.langs
    low = [i for i, code in enumerate(langs) if code in LOW_RESOURCE]
    en = langs.index("en") if "en" in langs else None

    def est(values: np.ndarray) -> dict[str, Any]:
        return summarize(float(values[0]), values[1:]).to_dict()

    models = []
    for r, streams in enumerate(order):
        gain = acc[:, r] - acc[:, 0]
        entry: dict[str, Any] = {
            "P": streams,
            "mean_accuracy": est(np.nanmean(acc[:, r], axis=1)),
            "mean_gain": est(np.nanmean(gain, axis=1)),
            "languages": {
                code: {"accuracy": est(acc[:, r, i]), "gain": est(gain[:, i])}
                for i, code in enumerate(langs)
            },
        }
        if low and en is not None:
            entry["low_resource_minus_english_gain"] = est(
                np.nanmean(gain[:, low], axis=1) - gain[:, en]
            )
        models.append(entry)
    return {
        "langs": langs,
        "low_resource": [langs[i] for i in low],
        "n_problems": cube.n_problems,
        "n_boot": n_boot,
        "models": models,
    }


def _fmt(e: dict[str, Any], scale: float = 100.0, sign: bool = False) -> str:
    if e.get("value") is None:
        return "n/a"
    text = f"{scale * e['value']:{'+' if sign else ''}.1f}"
    if e.get("lo") is not None:
        text += f" [{scale * e['lo']:.1f}, {scale * e['hi']:.1f}]"
    return text


def _write_tables(result: dict[str, Any], out: Path) -> None:

    langs = result["langs"]
    header = ["P", *langs, "mean", "low-resource − en gain"]
    lines = [
        "# ParScale heads on the frozen organism: greedy accuracy (%) by language",
        "",
        f"{sum(result['n_problems'].values())} problems per language · gains over P = 1 with "
        f"95% paired-bootstrap CIs ({result['n_boot']} resamples) · low-resource: "
        f"{', '.join(result['low_resource'])}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" for _ in header) + "|",
    ]
    tail = [
        f"Held-out completion loss (organism's mixture): P = 1 {result['base_heldout_loss']:.4f}"
    ]
    for p, info in sorted(result["heads"].items(), key=lambda item: int(item[0])):
        tail.append(
            f"; P = {p}: {info['heldout_loss_before']:.4f} at initialisation → "
            f"{info['heldout_loss_after']:.4f} after {info['settings']['steps']} steps"
        )
    rows = []
    for m in result["models"]:
        cells = [str(m["P"])]
        for code in langs:
            lang = m["languages"][code]
            cells.append(
                _fmt(lang["accuracy"])
                if m["P"] == 1
                else f"{100 * lang['accuracy']['value']:.1f} ({_fmt(lang['gain'], sign=True)})"
            )
        cells.append(_fmt(m["mean_accuracy"]))
        cells.append(
            _fmt(m.get("low_resource_minus_english_gain", {}), sign=True) if m["P"] > 1 else ""
        )
        lines.append("| " + " | ".join(cells) + " |")
        for code in langs:
            lang = m["languages"][code]
            rows.append(
                {
                    "P": m["P"],
                    "lang": code,
                    "accuracy": lang["accuracy"]["value"],
                    "gain": lang["gain"]["value"],
                    "gain_lo": lang["gain"].get("lo"),
                    "gain_hi": lang["gain"].get("hi"),
                }
            )
    write_text_atomic(out / "comparison.md", "\n".join(lines) + "\n\n" + "".join(tail) + "\n")
    write_csv(rows, out / "comparison.csv")


def _print(result: dict[str, Any], console: Console) -> None:
    from rich.table import Table

    models = result["models"]
    table = Table(
        title="ParScale heads on the organism: accuracy % (gain over P = 1, pp)",
        title_justify="left",
    )
    table.add_column("language")
    for m in models:
        table.add_column(f"P={m['P']}", justify="right")
    for code in result["langs"]:
        cells = []
        for m in models:
            lang = m["languages"][code]
            value = 100 * lang["accuracy"]["value"]
            cells.append(
                f"{value:.1f}"
                if m["P"] == 1
                else f"{value:.1f} ({100 * lang['gain']['value']:+.1f})"
            )
        table.add_row(code, *cells)
    table.add_row("mean", *(_fmt(m["mean_accuracy"]) for m in models))
    table.add_row(
        "low − en gain",
        "",
        *(_fmt(m.get("low_resource_minus_english_gain", {}), sign=True) for m in models[1:]),
    )
    console.print(table)


def settings_with(**changes: Any) -> HeadsSettings:
    """HeadsSettings with CLI overrides (None = keep); `train_*` keys change the training."""
    train = {k[len("train_") :]: v for k, v in changes.items() if k.startswith("train_")}
    rest = {k: v for k, v in changes.items() if not k.startswith("train_") and v is not None}
    base = HeadsSettings()
    new_train = dataclasses.replace(base.train, **{k: v for k, v in train.items() if v is not None})
    return dataclasses.replace(base, train=new_train, **rest)
