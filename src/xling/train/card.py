"""The model card in every trained model's `final/` (README.md), and `--push-to-hub`.

A card is rendered from what the training folder records (train.json, train_config.json),
so it can be written again when more is known: the study adds the held-out results of
the model it evaluated. Hub metadata (the YAML header) follows the Hugging Face model-card
fields (base_model, library_name, language, tags, pipeline_tag).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.jsonl import write_text_atomic
from xling.languages import get_language
from xling.train.common import FINAL_DIR, TRAIN_CONFIG_JSON, TRAIN_JSON

CARD = "README.md"
ADAPTER_DIR = "adapter"

CITATION = """@article{yang2025parallel,
  title   = {Parallel Scaling Law: Unveiling Reasoning Generalization through A
             Cross-Linguistic Perspective},
  author  = {Yang and Wu and Li and Zong and Zhang},
  journal = {arXiv preprint arXiv:2510.02272},
  year    = {2025}
}"""

_METHOD = {
    "grpo": "GRPO (TRL) with the composite reward",
    "sft": "supervised fine-tuning (TRL) on the same parallel data",
}


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise XlingError(f"cannot write a model card: {path} is unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise XlingError(f"cannot write a model card: {path} is not a JSON object")
    return data


def _hub_id(model: str) -> str | None:
    """A base model named by hub id (org/name), not a local path."""
    if model.count("/") == 1 and not Path(model).exists() and not model.startswith("."):
        return model
    return None


def _lang_name(code: str) -> str:
    try:
        return f"{get_language(code).name} ({code})"
    except XlingError:
        return code


def _header(info: Mapping[str, Any], config: Mapping[str, Any], langs: list[str]) -> str:
    lines = ["---", "library_name: transformers", "pipeline_tag: text-generation"]
    base = _hub_id(str(info.get("base_model") or config.get("model") or ""))
    if base:
        lines.append(f"base_model: {base}")
    if langs:
        lines += ["language:", *(f"- {code}" for code in langs)]
    tags = ["xling", "trl", str(info.get("method", "")), "multilingual", "math-reasoning"]
    if config.get("peft", "none") != "none":
        tags.append(str(config["peft"]))
    lines += ["tags:", *(f"- {t}" for t in tags if t), "---"]
    return "\n".join(lines)


def _training_rows(info: Mapping[str, Any], config: Mapping[str, Any]) -> list[tuple[str, str]]:
    method = str(info.get("method", ""))
    langs = list(info.get("train_langs") or [])
    data = "shuffled-id control (different problems per language)"
    if not info.get("shuffle_ids"):
        data = "parallel (the same problems in every training language)"
    rows = [
        ("Base model", f"`{info.get('base_model') or config.get('model')}`"),
        ("Method", _METHOD.get(method, method)),
        ("Training languages", ", ".join(_lang_name(c) for c in langs) or "unknown"),
        ("Parallel languages X", str(info.get("num_parallel_langs", "?"))),
        ("Training data", f"`{info.get('data') or config.get('data')}`: {data}"),
        (
            "Rows / problems",
            f"{info.get('n_rows', '?')} rows, {info.get('n_problems', '?')} problems, "
            f"budget {info.get('budget', '?')}",
        ),
        ("Seed", str(info.get("seed", config.get("seed", "?")))),
        ("Optimizer steps", str(info.get("global_step", "?"))),
        ("Learning rate", str(config.get("learning_rate", "?"))),
    ]
    if method == "grpo":
        rows += [
            ("Reward weights", f"`{info.get('rewards') or config.get('rewards')}`"),
            ("Group size", str(info.get("num_generations") or config.get("num_generations"))),
        ]
    if method == "sft" and info.get("sft_targets"):
        counts = info["sft_targets"]
        rows.append(
            (
                "SFT targets",
                f"{counts.get('reference', 0)} reference, {counts.get('rejection', 0)} "
                f"rejection-sampled, {counts.get('dropped', 0)} dropped",
            )
        )
    if config.get("peft", "none") != "none":
        rows.append(
            (
                "Adapters",
                f"LoRA r={config.get('lora_r')}, alpha={config.get('lora_alpha')}, "
                f"modules {config.get('lora_target_modules')}; merged into these weights, "
                f"the adapter alone in `{ADAPTER_DIR}/`",
            )
        )
    if config.get("trl"):
        rows.append(("Other TRL settings", f"`{json.dumps(config['trl'], sort_keys=True)}`"))
    return rows


def _results_section(results: Mapping[str, Any]) -> list[str]:
    """Held-out accuracy per language, beside the base model's when given."""
    trained = results.get("metrics", {}).get("benchmarks", {})
    base = (results.get("base_metrics") or {}).get("benchmarks", {})
    lines = ["## Held-out results", ""]
    if results.get("note"):
        lines += [str(results["note"]), ""]
    for bench, data in trained.items():
        base_langs = base.get(bench, {}).get("langs", {})
        lines += [
            f"**{bench}** (accuracy, %; avg over samples)",
            "",
            "| language | base | this model | change |",
            "|---|---|---|---|",
        ]
        for lang, cell in data.get("langs", {}).items():
            now = cell.get("accuracy")
            before = base_langs.get(lang, {}).get("accuracy")
            change = (
                f"{100 * (now - before):+.1f}" if now is not None and before is not None else "–"
            )
            lines.append(f"| {lang} | {_pct(before)} | {_pct(now)} | {change} |")
        lines.append("")
    return lines


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def render_card(
    info: Mapping[str, Any],
    config: Mapping[str, Any],
    results: Mapping[str, Any] | None = None,
) -> str:
    """The card's Markdown from train.json (`info`), the resolved config and, when known,
    held-out results ({"metrics": ..., "base_metrics": ..., "note": ...})."""
    langs = list(info.get("train_langs") or [])
    method = str(info.get("method", "")).upper()
    parts = [
        _header(info, config, langs),
        "",
        f"# {method} on English + {info.get('num_parallel_langs', '?')} parallel language(s)",
        "",
        "Post-trained with [xling](https://pypi.org/project/xling/) for research on "
        "cross-lingual reasoning transfer (arXiv 2510.02272): trained on math problems in "
        "the languages below, evaluated in all of them and in languages it never saw.",
        "",
        "## Training",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in _training_rows(info, config)),
        "",
    ]
    if results:
        parts += _results_section(results)
    parts += [
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        'model = AutoModelForCausalLM.from_pretrained("<this folder or repo>")',
        'tokenizer = AutoTokenizer.from_pretrained("<this folder or repo>")',
        "```",
        "",
        "or evaluate it: `xling eval --model <this folder or repo> --bench mgsm --langs all`.",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
        "The base model's licence and terms apply to these weights.",
        "",
    ]
    return "\n".join(parts)


def write_model_card(train_dir: Path, results: Mapping[str, Any] | None = None) -> Path:
    """Render `train_dir`/final/README.md from the folder's train.json and config."""
    train_dir = Path(train_dir)
    info = _read(train_dir / TRAIN_JSON)
    config = _read(train_dir / TRAIN_CONFIG_JSON).get("config", {})
    path = train_dir / FINAL_DIR / CARD
    if not path.parent.is_dir():
        raise XlingError(f"cannot write a model card: {path.parent} does not exist")
    write_text_atomic(path, render_card(info, config, results))
    return path


def push_to_hub(folder: Path, repo_id: str, *, private: bool = True, api: Any = None) -> str:
    """Upload `folder` (final/: weights, tokenizer, card) to the hub repo `repo_id`,
    creating it when missing; returns the repo URL. `api` is a `huggingface_hub.HfApi`
    (or a stand-in with the same two methods)."""
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            commit_message="xling: upload trained model",
        )
    except (OSError, ValueError) as exc:  # HTTP, auth and connection errors derive from these
        raise XlingError(f"--push-to-hub {repo_id}: upload failed ({exc})") from exc
    return str(url)
