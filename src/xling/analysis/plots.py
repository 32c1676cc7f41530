"""Publication-quality figures (matplotlib, Agg backend): PNG + SVG for every figure.

Colour-blind-safe Okabe–Ito palette; language names from the registry; training (seen)
languages are hatched; CIs are 95% paired-bootstrap intervals unless stated otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Patch

from xling.analysis.bootstrap import Estimate, fmt_num
from xling.analysis.fits import FitReport
from xling.analysis.rundata import lang_name

# Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
BASE_COLOR = "#9A9A9A"
SERIES_COLORS = [OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "purple", "sky")]
SEEN_HATCH = "///"

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#E3E3E3",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "hatch.linewidth": 0.8,
    "svg.fonttype": "path",
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.12,
}


@dataclass
class Series:
    """One bar series: a label, a value per language (Estimates), the languages it was
    trained on (hatched) and a colour."""

    label: str
    values: Sequence[Estimate]
    color: str
    seen: Sequence[str] = ()


def save(fig, out: Path, stem: str) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext, kw in (("png", {"dpi": 200}), ("svg", {})):
        p = out / f"{stem}.{ext}"
        fig.savefig(p, format=ext, **kw)
        paths[ext] = p
    plt.close(fig)
    return paths


def _errs(values: Sequence[Estimate], scale: float) -> tuple[np.ndarray, np.ndarray]:
    v = np.array([e.value * scale if e.defined else np.nan for e in values])
    lo = np.array([(e.value - e.lo) * scale if e.lo is not None else 0.0 for e in values])
    hi = np.array([(e.hi - e.value) * scale if e.hi is not None else 0.0 for e in values])
    return v, np.vstack([np.maximum(lo, 0), np.maximum(hi, 0)])


def language_bars(
    langs: Sequence[str],
    series: Sequence[Series],
    *,
    ylabel: str,
    title: str,
    scale: float = 100.0,
    ref_line: float | None = None,
    ref_label: str = "",
    note: str = "",
    ylim0: bool = True,
    undefined_label: str = "n/a",
):
    """Grouped bars per language with CI whiskers; seen languages hatched."""
    with plt.rc_context(STYLE):
        n = len(langs)
        k = len(series)
        width = min(0.8 / max(k, 1), 0.32)
        fig, ax = plt.subplots(figsize=(max(8.5, 0.95 * n + 2.5), 4.6))
        x = np.arange(n)
        any_seen = False
        ymax = 0.0
        for j, s in enumerate(series):
            v, err = _errs(s.values, scale)
            pos = x + (j - (k - 1) / 2) * width
            hatches = [SEEN_HATCH if lang in s.seen else "" for lang in langs]
            any_seen |= any(hatches)
            bars = ax.bar(
                pos,
                np.nan_to_num(v),
                width * 0.92,
                color=s.color,
                label=s.label,
                edgecolor="white",
                linewidth=0.6,
                zorder=2,
            )
            for b, h in zip(bars, hatches, strict=True):
                if h:
                    b.set_hatch(h)
                    b.set_edgecolor("white")
            ok = np.isfinite(v)
            ax.errorbar(
                pos[ok],
                v[ok],
                yerr=err[:, ok],
                fmt="none",
                ecolor="#222222",
                elinewidth=1.0,
                capsize=2.5,
                capthick=1.0,
                zorder=3,
            )
            for p, val in zip(pos, v, strict=True):
                if not np.isfinite(val):
                    ax.text(
                        p,
                        0,
                        undefined_label,
                        ha="center",
                        va="bottom",
                        fontsize=8,
                        color="#555555",
                        rotation=90,
                        zorder=4,
                    )
            if np.isfinite(v).any():
                ymax = max(ymax, float(np.nanmax(v + err[1])))
        if ref_line is not None:
            ax.axhline(
                ref_line,
                color="#333333",
                linestyle="--",
                linewidth=1.1,
                zorder=1,
                label=ref_label or None,
            )
        ax.axhline(0, color="#333333", linewidth=0.8, zorder=1)
        ax.set_xticks(x)
        ax.set_xticklabels([lang_name(c) for c in langs], rotation=30, ha="right")
        ax.set_xlabel("Evaluation language")
        ax.set_ylabel(ylabel)
        ax.set_xlim(-0.6, n - 0.4)
        if ylim0 and ymax > 0:
            lo, _ = ax.get_ylim()
            ax.set_ylim(min(lo, 0), ymax * 1.08)
        elif ylim0:
            # All bars at zero (e.g. no off-target response at all): show a 0-1% axis
            # instead of matplotlib's symmetric one around zero.
            ax.set_ylim(0, 1)
        handles, labels = ax.get_legend_handles_labels()
        if any_seen:
            handles.append(Patch(facecolor="white", edgecolor="#444444", hatch=SEEN_HATCH))
            labels.append("training (seen) language")
        ncol = min(len(handles), 4 if max(map(len, labels)) > 24 else 6)
        rows = -(-len(handles) // ncol)
        ax.legend(
            handles,
            labels,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncol=ncol,
            borderaxespad=0.3,
            handlelength=1.6,
            columnspacing=1.4,
        )
        ax.set_title(title, loc="left", pad=10 + 19 * rows)
        if note:
            fig.text(0.01, -0.02, note, fontsize=9, color="#555555", ha="left", va="top")
        fig.tight_layout()
        return fig


def scaling_plot(
    fr: FitReport, *, ylabel: str, title: str, color: str = OKABE_ITO["blue"], digits: int = 2
):
    """Values vs X with the power-law fit, its CI band, the saturating alternative, and the
    First-Parallel Leap and Monolingual Generalization Gap annotated."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.6, 4.8))
        x = np.array(fr.x)
        y = np.array(fr.y)
        lo = np.array([np.nan if v is None else v for v in fr.y_lo])
        hi = np.array([np.nan if v is None else v for v in fr.y_hi])
        band = fr.band
        gx = np.array(band["x"])
        fit_x = np.array(fr.fit_x)
        in_fit = gx >= fit_x.min() - 1e-9
        fit_curve = np.array(band["fit"])
        # y-range from what matters: points, their CIs, the fitted law and the gap prediction.
        parts = [y, lo[np.isfinite(lo)], hi[np.isfinite(hi)], fit_curve]
        if fr.gap_predicted.defined:
            parts.append(np.array([fr.gap_predicted.value]))
        vals = np.concatenate([np.ravel(p) for p in parts])
        vals = vals[np.isfinite(vals)]
        ymin, ymax = float(vals.min()), float(vals.max())
        pad = 0.12 * (ymax - ymin or abs(ymax) or 1.0)
        rising = bool(fr.beta.value is not None and fr.beta.value >= 0)
        # Room for the info box (top when rising, bottom otherwise) and the legend.
        ylim = (ymin - 2.2 * pad, ymax + 2.2 * pad)

        if "lo" in band:
            ax.fill_between(
                gx,
                band["lo"],
                band["hi"],
                color=color,
                alpha=0.16,
                linewidth=0,
                label=f"{round(100 * fr.ci)}% CI of the fit",
                zorder=1,
            )
        a, b = fr.alpha.value, fr.beta.value
        r2 = fr.r2.value
        r2_txt = f", R² = {r2:.2f}" if r2 is not None else ""
        ax.plot(
            gx[in_fit],
            fit_curve[in_fit],
            color=color,
            linewidth=2.2,
            label=f"power law ${a:.{digits}f}\\,X^{{{b:.2f}}}${r2_txt}",
            zorder=3,
        )
        if (~in_fit).any():
            ax.plot(
                gx[~in_fit | (gx == gx[in_fit][0])],
                fit_curve[~in_fit | (gx == gx[in_fit][0])],
                color=color,
                linewidth=1.6,
                linestyle=":",
                zorder=3,
            )
        if "saturating" in band:
            m = fr.models[2].params or {}
            sat = np.array(band["saturating"])
            ax.plot(
                gx[in_fit],
                np.clip(sat[in_fit], *ylim),
                color=OKABE_ITO["orange"],
                linewidth=1.5,
                linestyle="--",
                zorder=2,
                label=f"saturating $a - c\\,X^{{-b}}$ (b = {m.get('b', float('nan')):.2f})",
            )
        mono = (x == fr.mono_x) if fr.mono_x is not None else np.zeros(len(x), bool)
        has_err = np.isfinite(lo) & np.isfinite(hi)
        for sel, mk, col, lab in (
            (~mono, "o", color, "measured"),
            (
                mono,
                "D",
                OKABE_ITO["vermillion"],
                "monolingual (not in fit)" if not fr.include_mono else "monolingual",
            ),
        ):
            if not sel.any():
                continue
            e = np.vstack(
                [
                    np.where(has_err[sel], y[sel] - lo[sel], 0),
                    np.where(has_err[sel], hi[sel] - y[sel], 0),
                ]
            )
            ax.errorbar(
                x[sel],
                y[sel],
                yerr=np.maximum(e, 0),
                fmt=mk,
                color=col,
                markersize=7,
                markeredgecolor="white",
                markeredgewidth=0.8,
                elinewidth=1.1,
                capsize=3,
                zorder=5,
                label=lab,
            )
        info = []
        # First-Parallel Leap: arrow between the monolingual and one-parallel means.
        if fr.leap.defined and fr.mono_x is not None:
            x0, x1 = fr.mono_x, fr.mono_x + 1
            y0 = float(np.mean(y[x == x0]))
            y1 = float(np.mean(y[x == x1]))
            ax.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": "#333333",
                    "lw": 1.5,
                    "shrinkA": 7,
                    "shrinkB": 7,
                },
                zorder=6,
            )
            ax.text(
                (x0 + x1) / 2 + 0.08,
                (y0 + y1) / 2,
                "leap",
                fontsize=9.5,
                ha="left",
                va="top",
                color="#333333",
                zorder=7,
            )
            ratio = f", ×{fr.leap_ratio.value:.1f} avg. later step" if fr.leap_ratio.defined else ""
            ci = (
                f" [{fmt_num(fr.leap.lo, digits, True)}, {fmt_num(fr.leap.hi, digits, True)}]"
                if fr.leap.lo is not None
                else ""
            )
            info.append(f"First-Parallel Leap: {fr.leap.value:+.{digits}f}{ci}{ratio}")
        # Monolingual Generalization Gap: bracket from the prediction to the measurement.
        if fr.gap.defined and fr.mono_x is not None:
            pred, meas = fr.gap_predicted.value, fr.gap_measured.value
            xm = fr.mono_x - 0.22
            vm = OKABE_ITO["vermillion"]
            ax.plot([xm, xm], [meas, pred], color=vm, linewidth=1.6, zorder=6)
            for yy in (meas, pred):
                ax.plot([xm - 0.06, xm + 0.06], [yy, yy], color=vm, linewidth=1.6, zorder=6)
            ax.plot(
                [fr.mono_x],
                [pred],
                marker="o",
                markersize=7,
                markerfacecolor="white",
                markeredgecolor=color,
                markeredgewidth=1.6,
                zorder=6,
                linestyle="none",
                label="law at monolingual X",
            )
            ax.text(
                xm - 0.1,
                (pred + meas) / 2,
                "gap",
                fontsize=9.5,
                ha="right",
                va="center",
                color=vm,
                zorder=7,
            )
            ci = (
                f" [{fmt_num(fr.gap.lo, digits, True)}, {fmt_num(fr.gap.hi, digits, True)}]"
                if fr.gap.lo is not None
                else ""
            )
            info.append(f"Monolingual Generalization Gap: {fr.gap.value:+.{digits}f}{ci}")
        rising = bool(b is not None and b >= 0)
        if info:
            ax.text(
                0.02,
                0.98 if rising else 0.02,
                "\n".join(info),
                transform=ax.transAxes,
                fontsize=9,
                ha="left",
                va="top" if rising else "bottom",
                zorder=8,
                bbox={"boxstyle": "round,pad=0.35", "fc": "white", "ec": "#CCCCCC", "alpha": 0.92},
            )
        left = min(float(x.min()), fr.mono_x if fr.mono_x is not None else float(x.min()))
        ax.set_xlim(left - (0.75 if fr.gap.defined else 0.5), float(x.max()) + 0.5)
        ax.set_ylim(*ylim)
        ax.set_xticks(np.unique(x))
        xlabel = {
            "num-train-langs": "X = number of training languages (English + parallel)",
            "num-parallel-langs": "X = number of parallel languages added to English",
        }
        ax.set_xlabel(xlabel.get(fr.x_kind, "X"))
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        ax.legend(loc="lower right" if rising else "upper right", fontsize=8.5, ncol=1)
        fig.tight_layout()
        return fig


def heatmap(
    values: np.ndarray,
    rows: Sequence[str],
    langs: Sequence[str],
    seen: np.ndarray,
    *,
    title: str,
    cbar_label: str,
    center: float = 1.0,
    digits: int = 1,
):
    """Runs × languages matrix (e.g. per-language MTI), diverging around `center`.

    NaN cells (undefined) are grey with "n/a"; seen (training) cells are hatched.
    """
    with plt.rc_context({**STYLE, "axes.grid": False}):
        R, L = values.shape
        fig, ax = plt.subplots(figsize=(max(8.5, 0.85 * L + 3), 0.55 * R + 2.2))
        finite = values[np.isfinite(values)]
        # Symmetric around the centre so equal distances get equal colour strength; robust
        # to a few extreme cells.
        d = float(np.percentile(np.abs(finite - center), 97)) if finite.size else 1.0
        d = d or 1.0
        norm = Normalize(vmin=center - d, vmax=center + d)
        cmap = plt.get_cmap("PuOr").with_extremes(bad="#E0E0E0")
        im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto")
        for i in range(R):
            for j in range(L):
                v = values[i, j]
                if seen[i, j]:
                    ax.add_patch(
                        plt.Rectangle(
                            (j - 0.5, i - 0.5),
                            1,
                            1,
                            fill=False,
                            hatch="//",
                            edgecolor="#555555",
                            linewidth=0,
                        )
                    )
                txt = "n/a" if not np.isfinite(v) else f"{v:.{digits}f}"
                rgba = cmap(norm(v)) if np.isfinite(v) else (0.88, 0.88, 0.88, 1)
                lum = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
                ax.text(
                    j,
                    i,
                    txt,
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if lum < 0.5 else "#111111",
                    fontweight="bold" if seen[i, j] else "normal",
                )
        ax.set_xticks(range(L))
        ax.set_xticklabels([lang_name(c) for c in langs], rotation=30, ha="right")
        ax.set_yticks(range(R))
        ax.set_yticklabels(rows)
        ax.set_xlabel("Evaluation language (hatched, bold: training languages of the run)")
        ax.set_ylabel("Trained run")
        ax.set_title(title, loc="left")
        cb = fig.colorbar(im, ax=ax, fraction=0.035, pad=0.02, extend="both")
        cb.set_label(cbar_label)
        fig.tight_layout()
        return fig
