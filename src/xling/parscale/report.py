"""The ParScale study's analysis and report: the law fitted to the held-out losses, its CIs,
the leave-one-out comparison, the per-language view, figures, tables and documents.

    <study>/report/report.md, report.html   (the report; figures embedded in the HTML)
    <study>/report/figures/                  loss_contour, loss_vs_n, collapse, languages
    <study>/report/tables/                   cells.csv, law.csv, loo.csv, languages.csv
    <study>/report/summary.json              every number above, machine-readable
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xling import __version__
from xling.analysis.bootstrap import Estimate, resample_counts, summarize
from xling.analysis.document import Doc, write_documents
from xling.jsonl import write_json_atomic
from xling.languages import ALL_CODES, get_language
from xling.parscale.budget import FLAT_DROP, BudgetCheck, check_budget
from xling.parscale.law import LAW_FORMULA, LawFit, Points, fit_law
from xling.parscale.settings import StudyError
from xling.tables import write_csv

if TYPE_CHECKING:
    from rich.console import Console

    from xling.parscale.settings import CellResult, StudySettings

CI = 0.95
N_LABELS = {
    "backbone": "non-embedding backbone parameters",
    "with_parscale": "non-embedding parameters incl. prefixes and aggregator (the paper's N)",
}


def _other(n_definition: str) -> str:
    return "with_parscale" if n_definition == "backbone" else "backbone"


@dataclass
class LangRow:
    lang: str
    loss_p1: float  # at the largest size
    loss_pmax: float
    reduction: Estimate  # mean over sizes of 1 − L(P_max)/L(P=1)
    k: Estimate | None  # None when per-language fits are off


@dataclass
class StudyAnalysis:
    cells: list[CellResult]
    n_definition: str
    fit: LawFit
    other_fit: LawFit  # the same points with the other definition of N
    cell_loss: list[Estimate]
    lang_rows: list[LangRow]
    p_max: int
    # Per cell with P > 1: its loss minus the P = 1 loss of its size, on the same resampled
    # batches (paired, so far tighter than the two cells' own intervals).
    p_effects: list[tuple[CellResult, Estimate]] = field(default_factory=list)


def _points(cells: list[CellResult], n_definition: str, loss: np.ndarray) -> Points:
    from xling.parscale.settings import N_DEFINITIONS

    key = N_DEFINITIONS[n_definition]
    return Points(
        np.array([c.params[key] for c in cells], float),
        np.array([c.streams for c in cells], float),
        loss,
    )


def _pooled(nll: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
    """Pooled loss (total NLL / total tokens) per bootstrap row of batch counts."""
    if counts is None:
        return np.array(nll[:, 0].sum() / nll[:, 1].sum())
    return (counts @ nll[:, 0]) / (counts @ nll[:, 1])


def analyze(
    cells: list[CellResult],
    *,
    n_definition: str,
    n_boot: int,
    lang_boot: int,
    seed: int,
    lang_k: bool = True,
) -> StudyAnalysis:
    """Fit the law; bootstrap resamples held-out batches with one draw shared by all cells."""
    rng = np.random.default_rng(seed)
    nll = [np.asarray(c.heldout, float) for c in cells]
    n_batches = len(nll[0])
    counts = resample_counts(n_batches, n_boot, rng) if n_boot > 0 else None
    loss = np.array([float(_pooled(x, None)) for x in nll])
    reps = None if counts is None else np.stack([_pooled(x, counts) for x in nll], axis=1)
    fit = fit_law(_points(cells, n_definition, loss), replicates=reps, n_boot=0, ci=CI)
    other_fit = fit_law(
        _points(cells, _other(n_definition), loss), replicates=reps, n_boot=0, ci=CI, loo=False
    )
    cell_loss = [
        summarize(loss[i], None if reps is None else reps[:, i], CI) for i in range(len(cells))
    ]
    p_values = sorted({c.streams for c in cells})
    p_max = p_values[-1]
    lang_rows = [
        _lang_row(
            cells, lang, n_definition, p_values, lang_boot, rng, fit.theta if lang_k else None
        )
        for lang in _langs(cells)
    ]
    base = {c.shape.name: i for i, c in enumerate(cells) if c.streams == 1}
    p_effects = [
        (
            c,
            summarize(
                loss[i] - loss[base[c.shape.name]],
                None if reps is None else reps[:, i] - reps[:, base[c.shape.name]],
                CI,
            ),
        )
        for i, c in enumerate(cells)
        if c.streams > 1 and c.shape.name in base
    ]
    return StudyAnalysis(
        cells, n_definition, fit, other_fit, cell_loss, lang_rows, p_max, p_effects
    )


def _langs(cells: list[CellResult]) -> list[str]:
    have = set(cells[0].heldout_lang)
    return [code for code in ALL_CODES if code in have]


def _lang_row(
    cells: list[CellResult],
    lang: str,
    n_definition: str,
    p_values: list[int],
    n_boot: int,
    rng: np.random.Generator,
    start: np.ndarray | None,
) -> LangRow:
    nll = [np.asarray(c.heldout_lang[lang], float) for c in cells]
    counts = resample_counts(len(nll[0]), n_boot, rng) if n_boot > 0 else None
    loss = np.array([float(_pooled(x, None)) for x in nll])
    reps = None if counts is None else np.stack([_pooled(x, counts) for x in nll], axis=1)
    sizes = sorted({c.params["backbone_non_embedding"] for c in cells})
    index = {(c.params["backbone_non_embedding"], c.streams): i for i, c in enumerate(cells)}
    p1, pmax = p_values[0], p_values[-1]
    pairs = [
        (index[(s, p1)], index[(s, pmax)]) for s in sizes if (s, p1) in index and (s, pmax) in index
    ]

    def reduction(values: np.ndarray) -> np.ndarray:
        return np.mean([1.0 - values[..., j] / values[..., i] for i, j in pairs], axis=0)

    k = None
    if start is not None:
        k = fit_law(
            _points(cells, n_definition, loss),
            replicates=reps,
            n_boot=0,
            ci=CI,
            loo=False,
            start=start,
            grid=False,
        ).estimates["k"]
    if not pairs:  # a partial grid: no size has both P values yet
        missing = f"no size has both P = {p1} and P = {pmax}"
        return LangRow(lang, math.nan, math.nan, Estimate(None, reason=missing), k)
    largest = pairs[-1]
    return LangRow(
        lang=lang,
        loss_p1=float(loss[largest[0]]),
        loss_pmax=float(loss[largest[1]]),
        reduction=summarize(float(reduction(loss)), None if reps is None else reduction(reps), CI),
        k=k,
    )


# --------------------------------------------------------------------------- figures


def _figures(an: StudyAnalysis, out: Path) -> dict[str, dict[str, Path]]:
    import matplotlib.pyplot as plt

    from xling.analysis.plots import OKABE_ITO, SERIES_COLORS, STYLE, save

    fit, pts = an.fit, an.fit.points
    p_values = sorted({int(p) for p in pts.p})
    colors = {p: SERIES_COLORS[i % len(SERIES_COLORS)] for i, p in enumerate(p_values)}
    figs = {}
    with plt.rc_context(STYLE):
        # 1. Loss contours over (N, P), like the paper's figure: the fitted law as filled
        #    contours, the measured cells on top.
        fig, ax = plt.subplots(figsize=(8.2, 5.0))
        n_grid = np.geomspace(pts.n.min() / 1.5, pts.n.max() * 1.5, 200)
        p_grid = np.geomspace(0.85, max(p_values) * 1.15, 120)
        nn, pp = np.meshgrid(n_grid, p_grid)
        zz = fit.predict(nn.ravel(), pp.ravel()).reshape(nn.shape)
        filled = ax.contourf(nn, pp, zz, levels=14, cmap="viridis_r")
        lines = ax.contour(nn, pp, zz, levels=filled.levels[::2], colors="white", linewidths=0.7)
        ax.clabel(lines, fmt="%.3f", fontsize=8)
        ax.scatter(pts.n, pts.p, c="white", edgecolors="black", s=36, zorder=3)
        for n, p, loss in zip(pts.n, pts.p, pts.loss, strict=True):
            ax.annotate(
                f"{loss:.3f}",
                (n, p),
                textcoords="offset points",
                xytext=(5, 5),
                fontsize=8,
                color="black",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
        ax.set_xscale("log")
        ax.set_yscale("log", base=2)
        ax.set_yticks(p_values, [str(p) for p in p_values])
        ax.set_xlabel(f"parameters N ({N_LABELS[an.n_definition]})")
        ax.set_ylabel("parallel streams P")
        ax.set_title("Held-out loss: fitted law (contours) and measured cells")
        ax.grid(False)
        fig.colorbar(filled, ax=ax, label="predicted loss")
        figs["loss_contour"] = save(fig, out, "loss_contour")

        # 2. Loss against N for every P, with the law's curves.
        fig, ax = plt.subplots(figsize=(7.6, 4.8))
        curve_n = np.geomspace(pts.n.min() / 1.2, pts.n.max() * 1.2, 100)
        for p in p_values:
            idx = [i for i in range(len(pts)) if int(pts.p[i]) == p]
            est = [an.cell_loss[i] for i in idx]
            err = np.array(
                [
                    [e.value - (e.lo if e.lo is not None else e.value) for e in est],
                    [(e.hi if e.hi is not None else e.value) - e.value for e in est],
                ]
            )
            ax.errorbar(
                pts.n[idx],
                pts.loss[idx],
                yerr=err,
                fmt="o",
                color=colors[p],
                label=f"P = {p}",
                capsize=3,
            )
            ax.plot(
                curve_n,
                fit.predict(curve_n, np.full_like(curve_n, p)),
                color=colors[p],
                lw=1.4,
                alpha=0.85,
            )
        ax.set_xscale("log")
        ax.set_xlabel("parameters N")
        ax.set_ylabel("held-out loss (nats/token)")
        ax.set_title("Held-out loss by size and streams (lines: fitted law)")
        ax.legend()
        figs["loss_vs_n"] = save(fig, out, "loss_vs_n")

        # 3. If the law holds, loss depends on N·(k ln P + 1) alone: every cell on one curve.
        fig, ax = plt.subplots(figsize=(7.6, 4.8))
        k = fit.estimates["k"].value or 0.0
        eff = pts.n * (k * np.log(pts.p) + 1.0)
        for p in p_values:
            mask = pts.p == p
            ax.scatter(eff[mask], pts.loss[mask], color=colors[p], label=f"P = {p}", zorder=3)
        grid = np.geomspace(eff.min() / 1.2, eff.max() * 1.2, 100)
        ax.plot(
            grid,
            fit.predict(grid, np.ones_like(grid)),
            color=OKABE_ITO["black"],
            lw=1.2,
            label="law, P = 1",
        )
        ax.set_xscale("log")
        ax.set_xlabel(f"effective parameters N·(k·ln P + 1), k = {k:.3f}")
        ax.set_ylabel("held-out loss (nats/token)")
        ax.set_title("Collapse onto one curve under the fitted k")
        ax.legend()
        figs["collapse"] = save(fig, out, "collapse")

        # 4. Per-language gain from P = 1 to the largest P.
        if an.lang_rows:
            fig, ax = plt.subplots(figsize=(9.0, 4.4))
            rows = an.lang_rows
            x = np.arange(len(rows))
            vals = np.array([100 * (r.reduction.value or 0.0) for r in rows])
            lo = np.array(
                [
                    100
                    * (r.reduction.lo if r.reduction.lo is not None else r.reduction.value or 0.0)
                    for r in rows
                ]
            )
            hi = np.array(
                [
                    100
                    * (r.reduction.hi if r.reduction.hi is not None else r.reduction.value or 0.0)
                    for r in rows
                ]
            )
            ax.bar(x, vals, color=OKABE_ITO["blue"], width=0.6)
            ax.errorbar(x, vals, yerr=[vals - lo, hi - vals], fmt="none", color="black", capsize=3)
            ax.set_xticks(x, [get_language(r.lang).name for r in rows], rotation=30, ha="right")
            ax.axhline(0, color="black", lw=0.8)
            ax.set_ylabel(f"loss reduction P=1 → P={an.p_max} (%)")
            ax.set_title("Held-out loss reduction from parallel streams, by language")
            figs["languages"] = save(fig, out, "languages")
        plt.close("all")
    return figs


# --------------------------------------------------------------------------- documents


def _est(e: Estimate, digits: int = 3) -> str:
    return e.fmt(digits)


def _sci(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _tables(an: StudyAnalysis, out: Path) -> dict[str, Path]:
    fit = an.fit
    pred = fit.predict(fit.points.n, fit.points.p)
    cells = [
        {
            "cell": c.name,
            "hidden": c.shape.hidden,
            "layers": c.shape.layers,
            "P": c.streams,
            "N_backbone": c.params["backbone_non_embedding"],
            "N_parscale": c.params["parscale"],
            "N_law": float(fit.points.n[i]),
            "loss": e.value,
            "loss_lo": e.lo,
            "loss_hi": e.hi,
            "law": float(pred[i]),
            "train_s": c.train_s,
            "eval_s": c.eval_s,
        }
        for i, (c, e) in enumerate(zip(an.cells, an.cell_loss, strict=True))
    ]
    law = [
        {"constant": k, "value": e.value, "lo": e.lo, "hi": e.hi} for k, e in fit.estimates.items()
    ]
    law += [
        {"constant": f"multiplier_P{p}", "value": e.value, "lo": e.lo, "hi": e.hi}
        for p, e in fit.multipliers.items()
    ]
    loo = [
        {
            "model": s.model,
            "n_params": s.n_params,
            "rmse": s.rmse,
            "loo_rmse": s.loo_rmse,
            "loo_mape": s.loo_mape,
        }
        for s in fit.scores
    ]
    langs = [
        {
            "lang": r.lang,
            "loss_p1_largest": r.loss_p1,
            "loss_pmax_largest": r.loss_pmax,
            "reduction": r.reduction.value,
            "reduction_lo": r.reduction.lo,
            "reduction_hi": r.reduction.hi,
            **_k_cols(r.k),
        }
        for r in an.lang_rows
    ]
    folder = out / "tables"
    tables = {
        "cells": write_csv(cells, folder / "cells.csv"),
        "law": write_csv(law, folder / "law.csv"),
        "loo": write_csv(loo, folder / "loo.csv"),
    }
    if langs:
        tables["languages"] = write_csv(langs, folder / "languages.csv")
    return tables


def _k_cols(k: Estimate | None) -> dict[str, Any]:
    return (
        {"k": None, "k_lo": None, "k_hi": None}
        if k is None
        else {"k": k.value, "k_lo": k.lo, "k_hi": k.hi}
    )


def write_study_report(
    cfg: StudySettings, cells: list[CellResult], out: Path, console: Console
) -> Path:
    """The report on the finished `cells` of the study `cfg` (the grid may be incomplete),
    written into `out`."""
    if len(cells) < len(cfg.cells()):
        missing = len(cfg.cells()) - len(cells)
        console.print(f"[yellow]report on {len(cells)} cells ({missing} not trained yet)")
    an = analyze(
        cells,
        n_definition=cfg.n_definition,
        n_boot=cfg.n_boot,
        lang_boot=cfg.lang_boot,
        seed=cfg.seed,
        lang_k=cfg.lang_k,
    )
    out.mkdir(parents=True, exist_ok=True)
    figs = _figures(an, out / "figures")
    tables = _tables(an, out)
    fit = an.fit
    doc = Doc(out=out)
    title = f"ParScale study — {cfg.name}"
    doc.h(1, f"xling — {title}")
    devices = sorted({c.device for c in cells})
    tokens = int(np.asarray(cells[0].heldout)[:, 1].sum())
    train_s = sum(c.train_s for c in cells)
    source = _source(cfg)
    doc.p(
        f"{len(cells)} cells ({len(cfg.sizes)} sizes × P ∈ {list(cfg.p_values)}) · every cell "
        f"{cfg.train.steps} steps × {cfg.train.batch_size} {source['what']} "
        f"(the same batches) · held-out: {len(cells[0].heldout)} batches, "
        f"{tokens:,} tokens · {fit.n_boot} bootstrap resamples of held-out batches, "
        f"{round(100 * CI)}% CIs · training {train_s / 60:.1f} min on {', '.join(devices)} · "
        f"generated {_dt.datetime.now():%Y-%m-%d %H:%M} by xling {__version__}",
        cls="sub",
    )
    est = fit.estimates
    p_max = max(fit.multipliers) if fit.multipliers else an.p_max
    mult = fit.multipliers.get(p_max)
    doc.cards(
        [
            ("k", _est(est["k"]), "P streams act like N·(k ln P + 1) parameters"),
            ("α", _est(est["alpha"]), "exponent of the law"),
            ("E", _est(est["E"]), "irreducible loss (nats/token)"),
            (
                f"P = {p_max} ≈",
                f"{mult.fmt(2)}× N" if mult else "n/a",
                "equivalent parameter multiplier k·ln P + 1",
            ),
            ("best law (leave-one-out)", fit.best_model, "lowest leave-one-out RMSE"),
        ]
    )
    doc.h(2, "The law", "law")
    doc.raw(f'<div class="formula">{LAW_FORMULA}</div>', f"`{LAW_FORMULA}`")
    doc.table(
        ["constant", "value", f"{round(100 * CI)}% CI"],
        [[k, _sci(e.value), f"[{_sci(e.lo)}, {_sci(e.hi)}]"] for k, e in est.items()]
        + [["R²", f"{fit.r2:.4f}", ""], ["RMSE (nats)", f"{fit.rmse:.4f}", ""]],
        caption=f"N = {N_LABELS[an.n_definition]}; ln = natural log",
    )
    other = an.other_fit.estimates
    doc.p(
        f"N = {N_LABELS[an.n_definition]}. With N = {N_LABELS[_other(an.n_definition)]} "
        f"instead: k = {_est(other['k'])}, α = {_est(other['alpha'])}, "
        f"E = {_est(other['E'])} (R² {an.other_fit.r2:.4f})."
    )
    largest = float(fit.points.n.max())
    doc.table(
        ["P", "k·ln P + 1", f"{round(100 * CI)}% CI", "equivalent N at the largest size"],
        [
            [
                str(p),
                _sci(e.value),
                f"[{_sci(e.lo)}, {_sci(e.hi)}]",
                f"{largest * (e.value or 0):,.0f}",
            ]
            for p, e in fit.multipliers.items()
        ],
        caption="'P streams ≈ N·(k log P + 1) parameters': the parameter multiplier of P streams",
    )
    doc.h(2, "Against the alternatives", "loo")
    doc.table(
        ["law", "constants", "RMSE", "leave-one-out RMSE", "leave-one-out mean |rel. err|"],
        [
            [
                s.model,
                str(s.n_params),
                f"{s.rmse:.4f}",
                f"{s.loo_rmse:.4f}",
                f"{100 * s.loo_mape:.2f}%",
            ]
            for s in fit.scores
        ],
        caption="parscale: (A/(N(k ln P+1)))^α + E · power_p: (A/N)^α·P^(−β) + E · "
        "no_p: (A/N)^α + E; each point predicted from a fit to the others",
    )
    if an.p_effects:
        doc.h(2, "What P buys at each size", "p-effects")
        sizes = list(dict.fromkeys(c.shape.name for c, _ in an.p_effects))
        ps = sorted({c.streams for c, _ in an.p_effects})
        effect = {(c.shape.name, c.streams): e for c, e in an.p_effects}
        doc.table(
            ["size", *(f"P = {p}" for p in ps)],
            [
                [size, *(_est(effect[(size, p)], 4) if (size, p) in effect else "" for p in ps)]
                for size in sizes
            ],
            caption="held-out loss minus the P = 1 loss of the same size (nats/token; < 0: "
            f"P helps), {round(100 * CI)}% CIs from the same resampled batches for both cells. "
            "They hold the held-out sample fixed, not the training run: a second seed is the "
            "test of whether a difference is more than the luck of one run.",
        )
    doc.h(2, "Figures", "figures")
    doc.figure(figs["loss_contour"], "Fitted law (contours) over N and P, measured cells on top")
    doc.figure(figs["loss_vs_n"], "Held-out loss against N for each P, with the fitted law")
    doc.figure(figs["collapse"], "Loss against the effective parameters N·(k ln P + 1)")
    if "languages" in figs:
        doc.figure(figs["languages"], f"Relative held-out loss reduction, P=1 → P={an.p_max}")
    doc.h(2, "Cells", "cells")
    pred = fit.predict(fit.points.n, fit.points.p)
    doc.table(
        ["cell", "P", "N backbone", "N prefixes + aggregator", "held-out loss", "law", "train s"],
        [
            [
                c.name,
                str(c.streams),
                f"{c.params['backbone_non_embedding']:,}",
                f"{c.params['parscale']:,}",
                _est(e, 4),
                f"{pred[i]:.4f}",
                f"{c.train_s:.0f}",
            ]
            for i, (c, e) in enumerate(zip(an.cells, an.cell_loss, strict=True))
        ],
        caption=f"law: the fit with N = {N_LABELS[an.n_definition]}",
    )
    if not an.lang_rows:
        doc.h(2, "By language", "languages")
        doc.p(
            "No per-language view: "
            + (
                "the code corpus is one language (Python), so its held-out set is one set of "
                "held-out files."
                if cfg.code_corpus is not None
                else "the cells carry no per-language held-out losses."
            )
        )
    else:
        doc.h(2, "By language", "languages")
        doc.p(
            "Does parallel computation help low-resource languages more than English? Loss "
            f"reduction from P=1 to P={an.p_max} averaged over sizes, and each language's own k "
            "(the law refitted on that language's held-out loss; CIs from its own batches). "
            "The training mixture is the organism's, so languages differ in how much data "
            "they had."
            + (
                f" Caution: {cfg.lang_eval_batches} held-out batches per language are too few "
                "for a bootstrap; these CIs understate the uncertainty."
                if cfg.lang_eval_batches < 10
                else ""
            )
        )
        doc.table(
            ["language", "loss P=1 (largest N)", f"loss P={an.p_max}", "reduction", "k"],
            [
                [
                    f"{get_language(r.lang).name} ({r.lang})",
                    f"{r.loss_p1:.4f}",
                    f"{r.loss_pmax:.4f}",
                    r.reduction.fmt(2, 100, unit="%"),
                    "not fitted" if r.k is None else _est(r.k),
                ]
                for r in an.lang_rows
            ],
        )
    budget = _budget_check(cells)
    doc.h(2, "Is the budget enough?", "budget")
    if isinstance(budget, str):
        doc.p(f"Not judged: {budget}.")
    else:
        doc.p(
            f"**{budget.verdict()}.** Judged on the P = 1 cells alone (`xling parscale budget`): "
            "the online loss (mean training loss over the last tenth of the steps, on windows "
            "each seen once) must fall strictly with N, and the smallest model's must have "
            f"fallen by less than {100 * FLAT_DROP:g}% over the last fifth of training. A grid "
            "whose P = 1 models are limited by the budget rather than by N cannot measure "
            "what P is worth."
        )
        doc.table(
            ["P = 1 cell", "N", "online loss (last 10%)", "late drop", "held-out loss"],
            [
                [
                    c.cell,
                    f"{c.n:,}",
                    f"{c.validation:.4f}",
                    f"{100 * c.late_drop:.2f}%",
                    f"{c.heldout:.4f}",
                ]
                for c in budget.column
            ],
        )
    doc.h(2, "Method", "method")
    doc.bullets(
        [
            "Every cell is a Qwen2 model trained from scratch with P streams (ParScale: "
            f"{cfg.prefix_tokens} learned prefix key/value positions per layer and stream, "
            f"aggregation MLP with softmax and label smoothing ε = {cfg.smoothing}); all cells "
            "see the same batches in the same order, and every P of a size starts from the "
            "same backbone initialisation.",
            source["heldout"] + " Loss = summed token NLL / tokens over the held-out batches.",
            "Fit: Huber loss (δ = 1e-3) on ln L residuals, as in the paper; CIs: the law "
            "refitted on each bootstrap resample of held-out batches (one draw for all cells).",
            "Leave-one-out: each cell predicted by the law fitted to the other cells.",
        ]
        + [f"warning: {w}" for w in fit.warnings]
    )
    doc.h(2, "Files", "files")
    doc.bullets(
        [p.relative_to(out).as_posix() for p in tables.values()]
        + [f"figures/{name}.png, figures/{name}.svg" for name in figs]
    )
    write_documents(doc, title)
    summary = {
        "settings": {
            "name": cfg.name,
            "corpus": None if cfg.code_corpus is not None else cfg.corpus,
            "code_corpus": source.get("code_corpus"),
            "steps": cfg.train.steps,
            "batch_size": cfg.train.batch_size,
            "p_values": list(cfg.p_values),
            "prefix_tokens": cfg.prefix_tokens,
        },
        "law": fit.to_dict(),
        "n_definition": an.n_definition,
        "law_other_n": {"n_definition": _other(an.n_definition), **an.other_fit.to_dict()},
        "cells": [
            {
                "cell": c.name,
                "P": c.streams,
                "params": c.params,
                "loss": e.value,
                "ci": [e.lo, e.hi],
                "train_s": c.train_s,
                "device": c.device,
            }
            for c, e in zip(an.cells, an.cell_loss, strict=True)
        ],
        "p_effects": [
            {"cell": c.name, "P": c.streams, "minus_p1": e.to_dict()} for c, e in an.p_effects
        ],
        "languages": [
            {
                "lang": r.lang,
                "reduction": r.reduction.to_dict(),
                "k": None if r.k is None else r.k.to_dict(),
                "loss_p1": r.loss_p1,
                "loss_pmax": r.loss_pmax,
            }
            for r in an.lang_rows
        ],
        "train_s_total": train_s,
        "budget": budget if isinstance(budget, str) else budget.to_dict(),
    }
    write_json_atomic(out / "summary.json", _finite(summary))
    _print_summary(an, console)
    console.print(f"report: [bold]{out / 'report.md'}[/] (and report.html)")
    return out


def _source(cfg: StudySettings) -> dict[str, Any]:
    """What the cells were trained and scored on, in the report's words."""
    if cfg.code_corpus is None:
        return {
            "what": f"examples of the organism corpus '{cfg.corpus}'",
            "heldout": "Held-out batches come from other seeds of the organism's generator "
            "(fresh problems).",
        }
    from xling.parscale.settings import StudyError, code_corpus_manifest

    try:
        digest = code_corpus_manifest(cfg.code_corpus)["corpus_hash"]
    except StudyError:  # a report rewritten where the corpus folder is gone
        digest = None
    label = cfg.code_corpus if digest is None else f"{digest[:12]} ({cfg.code_corpus})"
    return {
        "what": f"windows of {cfg.train.seq_len} tokens of the code corpus {label}",
        "heldout": "Held-out batches are windows of the corpus's held-out files (split by "
        "file, so no held-out file was trained on).",
        "code_corpus": {"path": cfg.code_corpus, "corpus_hash": digest},
    }


def _finite(data: Any) -> Any:
    """JSON has no NaN: undefined numbers become null."""
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def _budget_check(cells: list[CellResult]) -> BudgetCheck | str:
    """The budget rule's check, or why it cannot be judged (cells without a training log,
    fewer than two P = 1 sizes)."""
    try:
        return check_budget(cells)
    except StudyError as exc:
        return str(exc)


def _print_summary(an: StudyAnalysis, console: Console) -> None:
    from rich.table import Table

    fit = an.fit
    table = Table(title=f"ParScale law: {LAW_FORMULA}", title_justify="left")
    for col in ("constant", "value", f"{round(100 * CI)}% CI"):
        table.add_column(col, no_wrap=col == "constant")
    for name, e in fit.estimates.items():
        table.add_row(name, _sci(e.value), f"[{_sci(e.lo)}, {_sci(e.hi)}]")
    for p, e in fit.multipliers.items():
        table.add_row(f"P={p} ≈ N×", _sci(e.value), f"[{_sci(e.lo)}, {_sci(e.hi)}]")
    for s in fit.scores:
        table.add_row(f"LOO RMSE {s.model}", f"{s.loo_rmse:.4f}", "")
    console.print(table)
