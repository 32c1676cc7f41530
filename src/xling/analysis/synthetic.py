"""Synthetic runs and studies with known true accuracies (tests, benchmarks, demo reports).

Correctness is drawn from a Gaussian copula: problem i has a latent difficulty z_i shared by
every language, run and sample, so outcomes are correlated the way real parallel problems
are, while the probability of a correct answer in a cell is exactly the requested accuracy:

    correct = [√ρ·z_i + √(1−ρ)·e < Φ⁻¹(acc)],   z_i, e ~ N(0, 1)

Nothing here is used by the analysis itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.stats import norm

from xling.analysis.rundata import Run
from xling.jsonl import write_json_atomic
from xling.languages import get_language
from xling.metrics import aggregate

PIVOT = "en"  # the language every training set starts from
PARALLEL_ORDER = ("es", "ru", "de", "fr", "bn", "th", "zh")  # the paper's parallel languages
# Base-model off-target rates by the registry's resource level (low-resource prompts are
# answered in English more often).
BASE_OFF_BY_RESOURCE = {"high": 0.12, "mid": 0.15, "low": 0.30}
EVAL_LANGS = ("en", "es", "ru", "de", "fr", "bn", "th", "zh", "sw", "te", "ja")


def draw_correct(
    acc: np.ndarray, z: np.ndarray, rng: np.random.Generator, rho: float = 0.5, n_samples: int = 1
) -> np.ndarray:
    """Bernoulli(acc) outcomes sharing the per-problem latent z. acc: (..., n) or scalar.

    Returns bool array of shape (..., n, n_samples).
    """
    acc = np.clip(np.asarray(acc, dtype=float), 1e-9, 1 - 1e-9)
    thr = norm.ppf(acc)
    shape = (*np.broadcast_shapes(np.shape(thr), z.shape), n_samples)
    e = rng.standard_normal(shape)
    latent = np.sqrt(rho) * z[..., None] + np.sqrt(1 - rho) * e
    return latent < np.asarray(thr)[..., None]


def run_records(
    acc: Mapping[str, float],
    off: Mapping[str, float] | float = 0.05,
    *,
    n_problems: int = 100,
    n_samples: int = 1,
    benchmark: str = "synth",
    z: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    rho: float = 0.5,
    id_offset: int = 0,
):
    """Score records (run-format `Score` dicts) for one benchmark with the given accuracies."""
    rng = rng or np.random.default_rng(0)
    if z is None:
        z = rng.standard_normal(n_problems)
    for lang, a in acc.items():
        c = draw_correct(np.full(n_problems, a), z, rng, rho, n_samples)
        o_rate = off if isinstance(off, float | int) else off.get(lang, 0.0)
        o = rng.random((n_problems, n_samples)) < o_rate
        for i in range(n_problems):
            for s in range(n_samples):
                ok = bool(c[i, s])
                yield {
                    "benchmark": benchmark,
                    "lang": lang,
                    "id": str(i + id_offset),
                    "sample": s,
                    "gold": "1",
                    "pred": "1" if ok else "0",
                    "correct": ok,
                    "status": "ok",
                    "boxed": True,
                    "think_ok": None,
                    "format_ok": True,
                    "detected_lang": lang,
                    "lang_confidence": 0.99,
                    "off_target": bool(o[i, s]),
                    "detail": "boxed",
                    "pred_strict": "1" if ok else "0",  # every answer boxed: strict = flexible
                    "correct_strict": ok,
                }


def write_run(
    path: str | Path, records, *, model: str = "synthetic", train_langs: Sequence[str] | None = None
) -> Path:
    """Write scores.jsonl, metrics.json (via xling.metrics) and optionally train.json."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    records = list(records)
    with (path / "scores.jsonl").open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    metrics = aggregate(records)
    metrics = {"model": model, **metrics}
    write_json_atomic(path / "metrics.json", metrics)
    if train_langs is not None:
        write_json_atomic(
            path / "train.json",
            {
                "train_langs": list(train_langs),
                "num_parallel_langs": len(train_langs) - 1,
            },
        )
    return path


def memory_run(
    name: str,
    correct: Mapping[str, np.ndarray],
    benchmark: str = "synth",
    off: Mapping[str, np.ndarray] | None = None,
    train_langs: Sequence[str] | None = None,
) -> Run:
    """A Run held in memory: correct[lang] is a (n_problems, n_samples) bool array."""
    run = Run(path=Path(name), name=name, train_langs=tuple(train_langs) if train_langs else None)
    for lang, c in correct.items():
        c = np.asarray(c)
        if c.ndim == 1:
            c = c[:, None]
        o = np.zeros_like(c) if off is None else np.asarray(off[lang]).reshape(c.shape)
        cell = {}
        for i in range(c.shape[0]):
            k = c.shape[1]
            cell[str(i)] = [
                float(c[i].sum()),
                float(k),
                float(o[i].sum()),
                float(k),
                float(k),
                float(k - c[i].sum()),
                float((c[i].astype(bool) & o[i].astype(bool)).sum()),
            ]
        run.cells[(benchmark, lang)] = cell
    return run


def study_accuracies(
    base: Mapping[str, float],
    train_langs: Sequence[str],
    mti: float,
    mean_acc: float | None = None,
    seen_gain: float = 0.20,
) -> dict[str, float]:
    """Trained accuracies whose relative gains give the requested MTI exactly.

    Seen languages gain s relative, unseen ones mti·s, where s is `seen_gain` or, when
    `mean_acc` is given, solved so that the mean accuracy over languages equals it.
    """
    if mean_acc is not None:
        b_seen = sum(a for lang, a in base.items() if lang in train_langs)
        b_unseen = sum(a for lang, a in base.items() if lang not in train_langs)
        seen_gain = (len(base) * mean_acc - b_seen - b_unseen) / (b_seen + mti * b_unseen)
    out = {}
    for lang, a in base.items():
        g = seen_gain if lang in train_langs else mti * seen_gain
        out[lang] = float(min(0.98, a * (1 + g)))
    return out


DEMO_BASE = {
    "en": 0.66,
    "es": 0.50,
    "ru": 0.47,
    "de": 0.48,
    "fr": 0.50,
    "bn": 0.28,
    "th": 0.33,
    "zh": 0.52,
    "sw": 0.16,
    "te": 0.18,
    "ja": 0.42,
}


def make_study(
    path: str | Path,
    *,
    xs: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8),
    n_problems: int = 500,
    seed: int = 0,
    base: Mapping[str, float] | None = None,
    mti_law=(2.00, 0.29),
    mono_mti: float = 1.16,
    acc_law=(0.5698, 0.02),
    mono_acc: float = 0.5424,
    n_samples: int = 1,
    rho: float = 0.5,
) -> Path:
    """A study folder (docs/study-format.md): base/ plus X<k>/ runs with train.json.

    Run X<k> trains on English plus the first k−1 parallel languages (X = number of training
    languages). Its true MTI is mti_law α·k^β for k ≥ 2 and `mono_mti` at k = 1, and its true
    mean accuracy over languages acc_law α·k^β for k ≥ 2 and `mono_acc` at k = 1 (defaults:
    the paper's reported laws and monolingual values).
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    base = dict(base or DEMO_BASE)
    z = rng.standard_normal(n_problems)
    off_base = {
        lang: 0.02 if lang == PIVOT else BASE_OFF_BY_RESOURCE[get_language(lang).resource]
        for lang in base
    }
    write_run(
        path / "base",
        run_records(
            base, off_base, n_problems=n_problems, z=z, rng=rng, n_samples=n_samples, rho=rho
        ),
        model="synthetic-base",
    )
    for k in xs:
        train = (PIVOT, *PARALLEL_ORDER[: k - 1])
        mti = mono_mti if k == 1 else mti_law[0] * k ** mti_law[1]
        mean = mono_acc if k == 1 else acc_law[0] * k ** acc_law[1]
        acc = study_accuracies(base, train, mti, mean_acc=mean)
        off = {
            lang: (0.01 if lang in train else off_base[lang] * (0.8 if k == 1 else 0.4 / k))
            for lang in base
        }
        write_run(
            path / f"X{k}",
            run_records(
                acc, off, n_problems=n_problems, z=z, rng=rng, n_samples=n_samples, rho=rho
            ),
            model=f"synthetic-X{k}",
            train_langs=train,
        )
    return path


def aligned_from_arrays(
    correct: np.ndarray,
    langs: Sequence[str],
    names: Sequence[str] | None = None,
    benchmark: str = "synth",
    off: np.ndarray | None = None,
):
    """An `Aligned` set straight from arrays (no files, no dicts): correct (R, L, n[, k]).

    For benchmarks and simulations; `off` has the same shape (default: never off-target).
    """
    from xling.analysis.rundata import _FIELDS, Aligned, BenchArrays

    c = np.asarray(correct, dtype=float)
    if c.ndim == 3:
        c = c[..., None]
    R, L, n, k = c.shape
    o = np.zeros_like(c) if off is None else np.asarray(off, dtype=float).reshape(c.shape)
    sums = np.empty((len(_FIELDS), R, L, n))
    sums[0] = c.sum(-1)  # correct
    sums[1] = k  # n samples
    sums[2] = o.sum(-1)  # off-target
    sums[3] = k  # identifiable samples
    sums[4] = k  # format ok
    sums[5] = k - sums[0]  # no answer
    sums[6] = (c * o).sum(-1)  # correct and off-target
    names = list(names or [f"run{i}" for i in range(R)])
    runs = [Run(path=Path(nm), name=nm) for nm in names]
    arr = BenchArrays(ids=[str(i) for i in range(n)], langs=list(langs), sums=sums)
    return Aligned(runs=runs, benches={benchmark: arr})
