"""Make tests/data/interop/ from the real tools (docs/interop.md): lm-evaluation-harness
runs of the organism and of four GRPO-trained copies, PolyMath's own scorer on the base
run's outputs, and lighteval's details of the same generations.

    .venv/bin/python bench/interop_fixtures.py --polymath-repo PATH/TO/PolyMath

About 14 minutes on two CPU cores once the tools' venvs exist (most of it the 4 × 5 GRPO
steps); making the venvs adds a few minutes. Without --polymath-repo (a checkout of
QwenLM/PolyMath) the PolyMath outputs are written but not scored.

Each tool lives in its own virtual environment under /tmp, made on first use next to the
CPU torch this machine already has, so pip never pulls a CUDA build. Nothing is read from a
hub: the benchmark is xling's synthetic one, written as a local MGSM-layout folder
(mgsm_<lang>.tsv) that an lm-eval task config reads with its `csv` loader, and every
command runs with HF_DATASETS_OFFLINE / HF_HUB_OFFLINE.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from xling.languages import PARALLEL_ORDER, get_language
from xling.models import resolve_model
from xling.world.benchmark import iter_records

ROOT = Path(__file__).resolve().parents[1]
LM_EVAL = "lm-eval[hf]==0.4.13"
TORCH = "torch==2.13.0"  # the CPU wheel this machine carries; a bare `torch` would be CUDA
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
TASK_PREFIX = "xling_mgsm"
MADE_VENVS: list[str] = []  # the venvs this run had to make (their time is in its total)


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=cwd, env={**os.environ, **OFFLINE, **(env or {})})


def tool_venv(path: Path, *packages: str, torch: bool = True) -> Path:
    """A venv with `packages` (next to this machine's CPU torch unless not `torch`); reused
    when it exists."""
    python = path / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(path)])
        constraint = path / "torch-constraint.txt"
        constraint.write_text(TORCH + "\n")
        wanted = [TORCH, *packages] if torch else list(packages)
        run([str(python), "-m", "pip", "install", "-q", "-c", str(constraint), *wanted])
        MADE_VENVS.append(str(path))
    return python


def version_of(python: Path, dist: str) -> str:
    out = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "not installed"


# ------------------------------------------------------------------------- benchmark


def write_benchmark(folder: Path, langs: list[str], n: int) -> None:
    """The synthetic test problems in MGSM's layout: line i is problem i in every language,
    so lm-eval's doc_id, xling's mgsm id and PolyMath's idx all name the same problem."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[str]] = {lang: [] for lang in langs}
    for rec in iter_records("test", n, seed=0, langs=langs):
        question = " ".join(rec["question"].split())  # a TSV line holds no tab or newline
        rows[rec["lang"]].append(f"{question}\t{rec['answer']}")
    for lang, lines in rows.items():
        (folder / f"mgsm_{lang}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_tasks(folder: Path, data: Path, langs: list[str], max_gen_toks: int) -> list[str]:
    """One lm-eval task per language, shaped like lm-eval's own mgsm_native_cot_<lang>
    (strict-match and flexible-extract filters, exact_match), reading the local TSV; the
    prompt is xling's (the question, then the language's step-by-step instruction), so the
    organism answers as it was trained to."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for lang in langs:
        name = f"{TASK_PREFIX}_{lang}"
        instruction = get_language(lang).instruction
        config = {
            "task": name,
            "tag": TASK_PREFIX,
            "dataset_path": "csv",
            "dataset_kwargs": {
                "data_files": {"test": str(data / f"mgsm_{lang}.tsv")},
                "delimiter": "\t",
                "column_names": ["question", "answer"],
                "quoting": 3,  # csv.QUOTE_NONE: a quote in a question is text
                "keep_default_na": False,
            },
            "output_type": "generate_until",
            "test_split": "test",
            "doc_to_text": "{{question}}\n\n" + instruction,
            "doc_to_target": "{{answer|string}}",
            "generation_kwargs": {
                "until": ["<|im_end|>"],
                "do_sample": False,
                "temperature": 0.0,
                "max_gen_toks": max_gen_toks,
            },
            "filter_list": [
                {
                    "name": "strict-match",
                    "filter": [
                        {"function": "regex", "regex_pattern": r"\\boxed\{(\-?[0-9\.\,]+)\}"},
                        {"function": "take_first"},
                    ],
                },
                {
                    "name": "flexible-extract",
                    "filter": [
                        {
                            "function": "regex",
                            "group_select": -1,
                            "regex_pattern": r"(-?[$0-9.,]{2,})|(-?[0-9]+)",
                        },
                        {"function": "take_first"},
                    ],
                },
            ],
            "metric_list": [
                {
                    "metric": "exact_match",
                    "aggregation": "mean",
                    "higher_is_better": True,
                    "ignore_case": True,
                    "ignore_punctuation": True,
                }
            ],
            "metadata": {"version": 1.0},
        }
        text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
        names.append(name)
    return names


def lm_eval_run(python: Path, model: Path, tasks: list[str], task_dir: Path, out: Path) -> Path:
    """Run lm-eval's CLI; returns the folder it wrote results_*.json and samples_*.jsonl to."""
    shutil.rmtree(out, ignore_errors=True)
    run(
        [
            str(python.parent / "lm_eval"),
            "run",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={model},dtype=float32",
            "--tasks",
            ",".join(tasks),
            "--include_path",
            str(task_dir),
            "--apply_chat_template",
            "--log_samples",
            "--output_path",
            str(out),
            "--batch_size",
            "16",
            "--device",
            "cpu",
            "--seed",
            "0",
        ]
    )
    (folder,) = {p.parent for p in out.rglob("results_*.json")}
    return folder


# ------------------------------------------------------------------------- training


def train_organism(work: Path, steps: int, x: int) -> Path:
    """A few GRPO steps of the organism on English + the first x - 1 of the paper's parallel
    languages: four of these (X = 1..4) give compare seen and unseen languages and fit the
    three parallel points its power law needs."""
    xling = [sys.executable, "-m", "xling.cli"]
    data = work / "train" / f"x{x}.jsonl"
    out = work / "train" / f"grpo-x{x}"
    shutil.rmtree(out, ignore_errors=True)
    data.parent.mkdir(parents=True, exist_ok=True)
    langs = ",".join(["en", *PARALLEL_ORDER[: x - 1]])
    run(
        [
            *xling,
            "data",
            "parallel",
            "--bench",
            "synth",
            "--langs",
            langs,
            "--n",
            "64",
            "--out",
            str(data),
        ]
    )
    run(
        [
            *xling,
            "train",
            "grpo",
            "--model",
            "organism",
            "--data",
            str(data),
            "--out",
            str(out),
            "--max-steps",
            str(steps),
            "--num-generations",
            "8",
            "--per-device-batch-size",
            "128",
            "--gradient-accumulation-steps",
            "1",
            "--max-completion-length",
            "128",
            "--learning-rate",
            "1e-4",
            "--beta",
            "0",
            "--precision",
            "fp32",
            "--rollout-engine",
            "on",
            "--report-to",
            "none",
            "--score-workers",
            "1",
            "--save-steps",
            str(steps),
            "--seed",
            "0",
        ]
    )
    return out


# ------------------------------------------------------------------------- PolyMath


def polymath_outputs(samples_dir: Path, out: Path, model: str) -> list[str]:
    """The lm-eval run's generations re-laid as PolyMath's inference output
    (output/<model>/<level>/<lang>.jsonl: idx, question, answer, thinking_pred, answer_pred),
    the format its README asks every inference engine to write; the <think> block is the
    thinking, the rest the answer, as for a reasoning model."""
    langs = []
    level = out / model / "low"
    level.mkdir(parents=True, exist_ok=True)
    for path in sorted(samples_dir.glob(f"samples_{TASK_PREFIX}_*.jsonl")):
        lang = path.name.removeprefix(f"samples_{TASK_PREFIX}_").split("_")[0]
        rows = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            s = json.loads(line)
            text = s["resps"][0][0]
            think, sep, answer = text.partition("</think>")
            rows[s["doc_id"]] = {
                "idx": s["doc_id"],
                "question": s["doc"]["question"],
                "answer": str(s["doc"]["answer"]),
                "thinking_pred": think.replace("<think>", "").strip() if sep else "",
                "answer_pred": answer.strip() if sep else text,
            }
        with (level / f"{lang}.jsonl").open("w", encoding="utf-8") as fh:
            for idx in sorted(rows):
                fh.write(json.dumps(rows[idx], ensure_ascii=False) + "\n")
        langs.append(lang)
    return langs


def polymath_score(repo: Path, venv: Path, output: Path, model: str, langs: list[str]) -> None:
    """PolyMath's own eval/run_eval.py on the outputs: it writes output/<model>/score.json.
    Its script reads ../output relative to its folder, so it runs from a copy beside them;
    its pinned sympy would break torch, so it has a venv of its own (its requirements.txt)."""
    python = tool_venv(venv, "-r", str(repo / "requirements.txt"), torch=False)
    eval_dir = output.parent / "eval"
    shutil.rmtree(eval_dir, ignore_errors=True)
    shutil.copytree(repo / "eval", eval_dir)
    # Its scripts.py imports EvaluatorMath from bundled.symeval, which the repository defines
    # in bundled/symeval/core.py with no __init__.py to export it (ImportError as shipped);
    # this one line in the copy is the only change to PolyMath's code.
    shim = eval_dir / "bundled" / "symeval" / "__init__.py"
    if not shim.exists():
        shim.write_text("from .core import EvaluatorMath  # added by xling's fixture script\n")
    for lang in langs:
        run(
            [str(python), "run_eval.py", "--model", model, "--language", lang, "--level", "low"],
            cwd=eval_dir,
        )


# ------------------------------------------------------------------------- lighteval

# Run in lighteval's venv: its own EvaluationTracker writes the details, its own
# expr_gold_metric (math-verify extractive match) scores each response.
LIGHTEVAL_WRITER = """
import json, sys
from pathlib import Path
from lighteval.logging.evaluation_tracker import EvaluationTracker
from lighteval.metrics.metrics import Metrics
from lighteval.models.model_output import ModelResponse
from lighteval.models.transformers.transformers_model import TransformersModelConfig
from lighteval.tasks.requests import Doc

samples, out, model, prefix = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
tracker = EvaluationTracker(output_dir=out, save_details=True)
tracker.general_config_logger.log_model_info(TransformersModelConfig(model_name=model))
metric = Metrics.expr_gold_metric.value
for path in sorted(samples.glob("samples_*.jsonl")):
    lang = path.name[len("samples_" + prefix + "_"):].split("_")[0]
    task = prefix + ":" + lang
    for line in path.read_text(encoding="utf-8").splitlines():
        s = json.loads(line)
        if s["filter"] != "flexible-extract":
            continue
        prompt = s["arguments"]["gen_args_0"]["arg_0"]
        doc = Doc(query=prompt, choices=[s["target"]], gold_index=0, task_name=task,
                  specific={"question": s["doc"]["question"]}, id=str(s["doc_id"]))
        response = ModelResponse(input=prompt, text=[s["resps"][0][0]])
        tracker.details_logger.log(task + "|0", doc, response,
                                   metric.compute_sample(doc=doc, model_response=response))
tracker.save()
"""


def lighteval_details(venv: Path, samples: Path, out: Path, model: Path, work: Path) -> str:
    """lighteval's details for the base run's generations, or why there are none.

    `lighteval accelerate` cannot run here: importing its task registry downloads
    tinyBenchmarks.pkl from GitHub and asks the hub about an LLM judge (mt_bench), which
    also fails with a TypeError under huggingface_hub 2.x. So lighteval's own tracker writes
    the details of the lm-eval run's generations, scored by lighteval's own metric."""
    try:
        # lighteval 0.13 hashes str with xxhash, which xxhash 3.6+ refuses.
        python = tool_venv(venv, "lighteval==0.13.0", "xxhash<3.6")
        script = work / "lighteval_details.py"
        script.write_text(LIGHTEVAL_WRITER, encoding="utf-8")
        shutil.rmtree(work / "lighteval", ignore_errors=True)
        run(
            [
                str(python),
                str(script),
                str(samples),
                str(work / "lighteval"),
                str(model),
                TASK_PREFIX,
            ]
        )
    except subprocess.CalledProcessError as exc:
        return f"could not write details ({exc})"
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((work / "lighteval" / "details").rglob("details_*.parquet")):
        if "_es|" not in path.name and ":es|" not in path.name:  # two languages are enough
            shutil.copy(path, out / path.name)
    return f"lighteval {version_of(python, 'lighteval')}"


# ------------------------------------------------------------------------- main


def copy_trimmed(src: Path, dest: Path, only_filter: str | None = None) -> None:
    """Copy a run's result and sample files; the results' environment dump (pip freeze,
    CPU flags) is cut, it is most of the file and says nothing the test reads, and with
    `only_filter` the sample lines of the other filters are left out (to stay small)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.iterdir()):
        if path.name.startswith("results_") and path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            data["pretty_env_info"] = "(trimmed by bench/interop_fixtures.py)"
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
            (dest / path.name).write_text(text, encoding="utf-8")
        elif path.name.startswith("samples_"):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            if only_filter is not None:
                lines = [ln for ln in lines if json.loads(ln)["filter"] == only_filter]
            (dest / path.name).write_text("".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "interop")
    ap.add_argument("--work", type=Path, default=Path("/tmp/xling-interop"))
    ap.add_argument("--venv", type=Path, default=Path("/tmp/xling-lmeval-venv"))
    ap.add_argument("--lighteval-venv", type=Path, default=Path("/tmp/xling-lighteval-venv"))
    ap.add_argument("--polymath-venv", type=Path, default=Path("/tmp/xling-polymath-venv"))
    ap.add_argument("--langs", default="en,es,sw")
    ap.add_argument("--n", type=int, default=6, help="problems per language")
    ap.add_argument("--max-gen-toks", type=int, default=128)
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--polymath-repo", type=Path, help="a checkout of QwenLM/PolyMath")
    ap.add_argument("--no-lighteval", action="store_true")
    args = ap.parse_args()

    started = time.monotonic()
    langs = [c.strip() for c in args.langs.split(",") if c.strip()]
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    python = tool_venv(args.venv, LM_EVAL)
    data = work / "data" / "mgsm"
    write_benchmark(data, langs, args.n)
    tasks = write_tasks(work / "tasks", data, langs, args.max_gen_toks)

    organism = Path(resolve_model("organism"))
    base = lm_eval_run(python, organism, tasks, work / "tasks", work / "lm-eval" / "base")
    trained = {}
    for x in range(1, 5):
        model = train_organism(work, args.train_steps, x)
        folder = lm_eval_run(
            python, model / "final", tasks, work / "tasks", work / "lm-eval" / f"X{x}"
        )
        trained[x] = (model, folder)

    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    copy_trimmed(base, out / "lm-eval" / "base")
    for x, (model, folder) in trained.items():
        copy_trimmed(folder, out / "lm-eval" / f"X{x}", only_filter="flexible-extract")
        shutil.copy(model / "train.json", out / "lm-eval" / f"X{x}-train.json")
    (out / "data").mkdir(parents=True)
    for path in sorted(data.iterdir()):
        shutil.copy(path, out / "data" / path.name)
    for path in sorted((work / "tasks").iterdir()):
        shutil.copy(path, out / "data" / path.name)

    polymath_note = "not run (no --polymath-repo): outputs only"
    poly_langs = polymath_outputs(base, out / "polymath" / "output", "organism")
    if args.polymath_repo:
        polymath_score(
            args.polymath_repo,
            args.polymath_venv,
            out / "polymath" / "output",
            "organism",
            poly_langs,
        )
        shutil.rmtree(out / "polymath" / "eval")
        commit = subprocess.run(
            ["git", "-C", str(args.polymath_repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        polymath_note = f"eval/run_eval.py of QwenLM/PolyMath at {commit or 'an unknown commit'}"

    lighteval = "skipped"
    if not args.no_lighteval:
        lighteval = lighteval_details(
            args.lighteval_venv, base, out / "lighteval" / "base", organism, work
        )
    seconds = time.monotonic() - started
    write_source(out, python, langs, args, seconds, polymath_note, lighteval)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({size / 1024:.0f} KiB) in {seconds:.0f} s")


def write_source(
    out: Path, python: Path, langs: list[str], args, seconds: float, polymath: str, lighteval: str
) -> None:
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    venvs = "the tools' venvs made in that time" if MADE_VENVS else "the tools' venvs already made"
    text = f"""# Where these files come from

Made by `bench/interop_fixtures.py` on {date} in {seconds:.0f} s (2 CPU cores; {venvs}), with

    .venv/bin/python bench/interop_fixtures.py --langs {",".join(langs)} --n {args.n} \\
        --train-steps {args.train_steps}{" --polymath-repo PATH" if args.polymath_repo else ""}

- lm-evaluation-harness {version_of(python, "lm_eval")} (`lm_eval run --model hf
  --apply_chat_template --log_samples`, transformers {version_of(python, "transformers")},
  torch {version_of(python, "torch")}, HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1).
- `data/`: the benchmark, {args.n} problems of xling's synthetic test split (seed 0) in
  {", ".join(langs)}, as MGSM's layout (`mgsm_<lang>.tsv`), and the lm-eval task configs that
  read it (`xling_mgsm_<lang>.yaml`, shaped like lm-eval's mgsm_native_cot_<lang>).
- `lm-eval/base/`: the bundled organism (`src/xling/data/organism`).
- `lm-eval/X1/` … `X4/`: the organism after {args.train_steps} GRPO steps on English + the
  first X − 1 of es, ru, de (`xling data parallel --bench synth --langs en,… --n 64`, `xling
  train grpo --max-steps {args.train_steps}`); `lm-eval/X<k>-train.json` is that training
  run's train.json. Their sample files keep only the flexible-extract lines (the strict-match
  lines are left out to stay small; the base run keeps both).
- `polymath/output/organism/low/<lang>.jsonl`: the base run's generations in PolyMath's
  inference-output layout (its README); scorer: {polymath}.
- `lighteval/base/`: {lighteval}: the base run's generations as lighteval's details
  (`details_<task>|0_<datetime>.parquet`; en and sw, es left out to stay small), written
  by lighteval's own EvaluationTracker and scored by its `expr_gold_metric` (math-verify
  extractive match). `lighteval accelerate`
  itself cannot run offline: importing its task registry downloads tinyBenchmarks.pkl from
  GitHub and queries the hub for an LLM judge (mt_bench; under huggingface_hub 2.x that
  query is also a TypeError). lighteval 0.13 needs xxhash < 3.6 (it hashes str).

The results files' `pretty_env_info` is trimmed; everything else is as the tools wrote it.
"""
    (out / "SOURCE.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
