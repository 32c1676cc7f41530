from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from xling.chat import IM_END
from xling.errors import XlingError
from xling.languages import ALL_CODES
from xling.organism import (
    CHECKPOINT_DIR,
    CHECKPOINT_FILE,
    LOG_FILE,
    META_FILE,
    OrganismConfig,
    build_tokenizer,
    chat_example,
    encode_examples,
    load_organism_config,
    preset_names,
    pretrain,
    step_examples,
)

# A few dozen steps of a ~40k-parameter model: seconds on a laptop CPU.
MICRO: dict[str, Any] = {
    "seed": 0,
    "lang_weights": {"en": 0.6, "es": 0.2, "bn": 0.1, "te": 0.1},
    "translation_fraction": 0.2,
    "vocab_size": 600,
    "tokenizer_problems": 40,
    "hidden_size": 32,
    "num_layers": 2,
    "num_heads": 2,
    "num_kv_heads": 1,
    "intermediate_size": 64,
    "seq_len": 384,
    "steps": 30,
    "batch_size": 8,
    "lr": 1e-2,
    "warmup_steps": 3,
    "log_every": 5,
    "ckpt_every": 10,
    "device": "cpu",
}


def micro(**changes: Any) -> OrganismConfig:
    return OrganismConfig(**{**MICRO, **changes})


def quiet() -> Console:
    return Console(quiet=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def log_entries(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Any:
    # Models this small gain nothing from intra-op threads, and on a busy 2-core machine
    # OpenMP threads spinning against each other make each step ~20x slower.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("organism") / "micro"
    result = pretrain(micro(), out, console=quiet())
    assert result.complete and result.step == MICRO["steps"]
    return out


def test_writes_a_loadable_hf_model_dir(micro_run: Path) -> None:
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(micro_run)
    model = AutoModelForCausalLM.from_pretrained(micro_run)
    assert model.config.model_type == "qwen2"
    assert model.config.vocab_size == len(tok)
    assert tok.eos_token == IM_END
    with safe_open(micro_run / "model.safetensors", "pt") as fh:  # saved in bf16
        assert {fh.get_tensor(k).dtype for k in fh.keys()} == {torch.bfloat16}  # noqa: SIM118
    assert not (micro_run / CHECKPOINT_DIR).exists()  # the resume state is removed at the end

    text = tok.apply_chat_template(
        [{"role": "user", "content": "2+2?"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"

    meta = json.loads((micro_run / META_FILE).read_text())
    assert meta["seed"] == 0 and meta["steps"] == MICRO["steps"]
    assert meta["mixture"]["lang_weights"]["en"] == pytest.approx(0.6)
    assert meta["mixture"]["translation_fraction"] == 0.2
    assert meta["final_loss"] == log_entries(micro_run)[-1]["loss"]
    assert meta["n_params"] == sum(p.numel() for p in model.parameters())

    # It generates through xling's own backend and prompt path.
    from xling.backends.base import GenerationParams, Request
    from xling.backends.hf import HFBackend

    backend = HFBackend(str(micro_run), device="cpu", batch_size=2)
    outs = backend.generate(
        [Request(({"role": "user", "content": "1 + 1?"},))],
        GenerationParams(max_new_tokens=8),
    )
    backend.close()
    assert len(outs) == 1 and outs[0][0].n_tokens


def test_log_records_steps_and_loss_decreases(micro_run: Path) -> None:
    entries = log_entries(micro_run)
    assert [e["step"] for e in entries] == list(range(5, MICRO["steps"] + 1, 5))
    assert {"loss", "lr", "tokens_per_s", "grad_norm"} <= set(entries[0])
    assert all(e["tokens_per_s"] > 0 for e in entries)
    assert entries[-1]["loss"] < entries[0]["loss"] - 1.0
    # Warmup then cosine decay down to min_lr_ratio * lr.
    assert entries[-1]["lr"] < entries[1]["lr"] <= MICRO["lr"]


def test_same_seed_same_weights_other_seed_other_weights(micro_run: Path, tmp_path: Path) -> None:
    again = pretrain(micro(), tmp_path / "again", console=quiet()).out
    other = pretrain(micro(seed=1, steps=5), tmp_path / "other", console=quiet()).out
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert digest(again / name) == digest(micro_run / name)
    assert digest(other / "model.safetensors") != digest(micro_run / "model.safetensors")


def test_resume_continues_from_the_checkpoint(micro_run: Path, tmp_path: Path) -> None:
    import torch

    out = tmp_path / "killed"
    cfg = micro()
    first = pretrain(cfg, out, stop_after=17, console=quiet())  # as if killed after step 17
    assert not first.complete and first.step == 17
    state = torch.load(out / CHECKPOINT_DIR / CHECKPOINT_FILE, weights_only=True)
    assert state["step"] == 10  # the last checkpoint before the "kill"
    assert not (out / META_FILE).exists()

    with pytest.raises(XlingError, match="--resume"):
        pretrain(cfg, out, console=quiet())
    with pytest.raises(XlingError, match="other settings"):
        pretrain(micro(lr=5e-3), out, resume=True, console=quiet())

    done = pretrain(cfg, out, resume=True, console=quiet())
    assert done.complete and done.step == MICRO["steps"]
    # Steps 11-17 are redone from the checkpoint: the log holds each step once, in order.
    assert [e["step"] for e in log_entries(out)] == list(range(5, MICRO["steps"] + 1, 5))
    # Batches depend on (seed, step) only, so the result equals an uninterrupted run.
    assert digest(out / "model.safetensors") == digest(micro_run / "model.safetensors")
    with pytest.raises(XlingError, match="finished organism"):
        pretrain(cfg, out, resume=True, console=quiet())


def test_training_examples_round_trip_and_match_the_eval_prompt() -> None:
    from xling.backends.hf import render_prompt
    from xling.prompts import build_request
    from xling.records import Problem
    from xling.world import iter_records

    cfg = micro(lang_weights={code: 1.0 for code in ALL_CODES}, translation_fraction=0.3)
    tok = build_tokenizer(cfg)
    examples = [e for step in range(12) for e in step_examples(cfg, step)]
    assert {e.lang for e in examples} == set(ALL_CODES)
    assert {e.kind for e in examples} == {"chat", "translate"}
    for ex in examples:
        for text in (ex.user, ex.assistant):
            assert tok.decode(tok.encode(text, add_special_tokens=False)) == text

    # A chat example's tokens are exactly the eval prompt, then the solution and <|im_end|>.
    for rec in iter_records("test", 1, seed=0, langs=ALL_CODES):
        problem = Problem("synth", rec["id"], rec["lang"], rec["question"], rec["answer"])
        ex = chat_example(rec["question"], rec["solution"], rec["lang"])
        batch = encode_examples(tok, [ex], seq_len=1000, loss_on="assistant")
        ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
        prompt = render_prompt(tok, build_request(problem).messages)[0]
        n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
        assert tok.decode(ids[:n_prompt]) == prompt
        assert tok.decode(ids[n_prompt:]) == rec["solution"] + IM_END
        assert rec["solution"].endswith(f"\\boxed{{{rec['answer']}}}")
        assert labels[:n_prompt] == [-100] * n_prompt and labels[n_prompt:] == ids[n_prompt:]
        everything = encode_examples(tok, [ex], seq_len=1000, loss_on="all")["labels"][0]
        assert everything.tolist() == ids


def test_batches_are_seeded_and_follow_the_mixture() -> None:
    cfg = micro(batch_size=64, translation_fraction=0.1)
    assert step_examples(cfg, 3) == step_examples(cfg, 3)
    assert step_examples(cfg, 3) != step_examples(cfg, 4)
    assert step_examples(cfg, 3) != step_examples(micro(batch_size=64, seed=1), 3)
    counts = Counter(e.lang for s in range(10) for e in step_examples(cfg, s) if e.kind == "chat")
    assert set(counts) == {"en", "es", "bn", "te"}
    assert counts["en"] > counts["es"] > max(counts["bn"], counts["te"])
    kinds = Counter(e.kind for s in range(10) for e in step_examples(cfg, s))
    assert 0.04 < kinds["translate"] / 640 < 0.2
    # English is the source of translations, never a target.
    assert all(e.lang != "en" for s in range(10) for e in step_examples(cfg, s) if e.kind != "chat")


def test_presets_and_config_errors(tmp_path: Path) -> None:
    assert {"cpu-small", "full", "tiny", "instruct"} <= set(preset_names())
    study_presets = ("cpu-small", "full", "full-7m", "full-7m-plain", "v1", "v3")
    for name in preset_names():
        cfg = load_organism_config(name)  # every shipped preset is valid
        if name not in study_presets:
            continue
        weights = cfg.lang_weights
        assert set(weights) == set(ALL_CODES)
        assert max(weights, key=weights.__getitem__) == "en"
        assert max(weights[c] for c in ("bn", "sw", "te")) <= min(
            weights[c] for c in ("es", "de", "fr", "ru", "zh", "ja")
        )
    full = load_organism_config("full")
    # v3 is v2's full organism with the v3 knobs on, and nothing else changed.
    v3 = load_organism_config("v3")
    knobs = {"arithmetic", "native_digits", "type_coverage"}
    assert {k: v for k, v in v3.identity().items() if k not in knobs} == full.identity()
    assert v3.arithmetic == "localized" and v3.native_digits
    assert {c for c in ALL_CODES if v3.covered_types(c) != full.covered_types(c)} == {
        "bn",
        "sw",
        "te",
    }
    # The full preset's bf16 checkpoint must stay under 20 MB.
    assert 2 * _param_count(full) < 20e6
    assert load_organism_config("instruct").lang_weights == {"en": 1.0}

    override = tmp_path / "o.toml"
    override.write_text("steps = 7\ntranslation_fraction = 0.0\n[lang_weights]\nen = 1.0\n")
    cfg = load_organism_config("cpu-small", override, seed=3)
    assert (cfg.steps, cfg.seed, cfg.lang_weights) == (7, 3, {"en": 1.0})
    assert cfg.hidden_size == load_organism_config("cpu-small").hidden_size  # from the preset
    override.write_text("[lang_weights]\nen = 1.0\n")  # leaves nothing to translate into
    with pytest.raises(XlingError, match="translation_fraction > 0"):
        load_organism_config("cpu-small", override)

    override.write_text("stepz = 7\n")
    with pytest.raises(XlingError, match=r"o\.toml: unknown key 'stepz'; did you mean 'steps'"):
        load_organism_config("cpu-small", override)
    with pytest.raises(XlingError, match="unknown organism preset"):
        load_organism_config("nope")
    with pytest.raises(XlingError, match="unknown language"):
        micro(lang_weights={"xx": 1.0})
    with pytest.raises(XlingError, match="positive sum"):
        micro(lang_weights={"en": 0.0})
    with pytest.raises(XlingError, match="translation_fraction > 0"):
        micro(lang_weights={"en": 1.0}, translation_fraction=0.1)


def _param_count(cfg: OrganismConfig) -> int:
    """Parameters of cfg's model, from its shape alone (no tokenizer needed)."""
    h, inter, kv = cfg.hidden_size, cfg.intermediate_size, cfg.num_kv_heads
    head = h // cfg.num_heads
    attn = h * h + h + 2 * (h * kv * head + kv * head) + h * h
    layer = attn + 3 * h * inter + 2 * h
    embed = cfg.vocab_size * h * (1 if cfg.tie_word_embeddings else 2)
    return cfg.num_layers * layer + embed + h


def test_cli_build_bench_and_pretrain(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from xling.cli import app

    runner = CliRunner()
    bench = tmp_path / "bench"
    result = runner.invoke(
        app, ["organism", "build-bench", "--out", str(bench), "--n-train", "3", "--n-test", "2"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (bench / "test").iterdir()) == sorted(
        f"synth_{c}.jsonl" for c in ALL_CODES
    )

    config = tmp_path / "micro.toml"
    lines = [f"{k} = {json.dumps(v)}" for k, v in MICRO.items() if not isinstance(v, dict)]
    lines += ["[lang_weights]", *(f"{k} = {v}" for k, v in MICRO["lang_weights"].items())]
    config.write_text("\n".join(lines) + "\n")
    out = tmp_path / "cli-run"
    args = ["organism", "pretrain", "--config", str(config), "--out", str(out), "--steps", "6"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / META_FILE).read_text())
    assert meta["steps"] == 6 and meta["config"]["hidden_size"] == MICRO["hidden_size"]


def test_pretrain_flags_come_from_organism_config() -> None:
    import dataclasses
    import typing

    from typer.testing import CliRunner

    from xling.cli import app

    result = CliRunner().invoke(app, ["organism", "pretrain", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    hints = typing.get_type_hints(OrganismConfig)
    for f in dataclasses.fields(OrganismConfig):
        flag = "--" + f.name.replace("_", "-")
        is_table = typing.get_origin(hints[f.name]) is dict
        assert (flag in result.output) != is_table, flag
    for flag in ("--config", "--set", "--preset", "--out", "--resume", "--eval-n"):
        assert flag in result.output
    assert "--max-steps" not in result.output  # the old spelling works but is hidden


def test_pretrain_set_names_the_closest_key(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from xling.cli import app

    out = tmp_path / "never"
    args = ["organism", "pretrain", "--preset", "tiny", "--out", str(out), "--set", "stepz=2"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code != 0
    assert isinstance(result.exception, XlingError)  # `xling` prints it as one error line
    assert "--set: unknown key 'stepz'; did you mean 'steps'?" in str(result.exception)
    assert not out.exists()


def test_pretrain_resolver_layers_and_the_max_steps_alias() -> None:
    from xling.cli.organism import _resolve_pretrain

    def resolve(sets: list[str], **flags: Any) -> OrganismConfig:
        options = {"preset": "tiny", "max_steps": flags.pop("max_steps", None)}
        return _resolve_pretrain(OrganismConfig, None, sets, flags, **options)

    preset = load_organism_config("tiny")
    assert resolve([]) == preset
    assert resolve(["steps=5"]).steps == 5
    assert resolve(["steps=5"], steps=7).steps == 7  # a flag beats --set
    assert resolve([], max_steps=9).steps == 9  # the old --max-steps spelling
    assert resolve([], steps=7, max_steps=9).steps == 7
    tables = resolve(["careful_share={default = 1.0, bn = 0.5}"])
    assert tables.careful("bn") == 0.5 and tables.careful("en") == 1.0
    assert tables.lang_weights == preset.lang_weights
