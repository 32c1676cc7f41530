"""The one configuration system (xling.config, xling.cli.flags): layers, typed nested specs,
and a misspelled key failing in one line that names the closest key, for every loader."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xling.config import ConfigError, build, layers, load, parse_sets
from xling.errors import XlingError


@dataclass(frozen=True)
class Inner:
    steps: int = 1
    rate: float = 0.5


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)
    shapes: tuple[Inner, ...] = ()
    flag: bool = False
    extra: dict[str, int] = field(default_factory=dict)


def test_build_makes_nested_specs_and_tuples_and_checks_types() -> None:
    cfg = build(Outer, {"inner": {"steps": 3, "rate": 1}, "shapes": [{"steps": 2}]}, "t")
    assert cfg.inner == Inner(steps=3, rate=1.0) and isinstance(cfg.inner.rate, float)
    assert cfg.shapes == (Inner(steps=2),)
    with pytest.raises(ConfigError, match=r"^t: inner: unknown key 'step'; did you mean 'steps'"):
        build(Outer, {"inner": {"step": 3}}, "t")
    with pytest.raises(ConfigError, match=r"shapes\[0\]: unknown key 'rat'; did you mean 'rate'"):
        build(Outer, {"shapes": [{"rat": 1.0}]}, "t")
    with pytest.raises(ConfigError, match="expected an integer"):
        build(Outer, {"inner": {"steps": "3"}}, "t")
    with pytest.raises(ConfigError, match="expected true or false"):
        build(Outer, {"flag": 1}, "t")
    with pytest.raises(ConfigError, match="unknown key 'nmae'; did you mean 'name'"):
        build(Outer, {"nmae": "y"}, "t")


def test_layers_file_then_set_then_flags(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('name = "file"\n[inner]\nsteps = 5\nrate = 0.1\n')
    assert parse_sets(["inner.steps=7", "name=plain text"]) == {
        "inner": {"steps": 7},
        "name": "plain text",
    }
    cfg = load(Outer, toml, ["inner.steps=7"], {"name": "flag", "flag": None})
    # The flag wins over the file; --set merges into the file's table, keeping its rate.
    assert (cfg.name, cfg.inner, cfg.flag) == ("flag", Inner(steps=7, rate=0.1), False)
    assert layers(None, (), {"name": None}) == {}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_sets(["novalue"])
    with pytest.raises(ConfigError, match="'inner' is not a table"):
        parse_sets(["inner=1", "inner.steps=2"])


def test_eval_config_rejects_misspelled_keys(tmp_path: Path) -> None:
    from xling.evaluate import EvalConfig, eval_config

    toml = tmp_path / "eval.toml"
    toml.write_text('model = "m"\nmax_new_token = 64\n')
    with pytest.raises(XlingError, match=r"eval\.toml: unknown key 'max_new_token'; did you mean "):
        eval_config(toml)
    with pytest.raises(XlingError, match="unknown key 'temprature'; did you mean 'temperature'"):
        eval_config(None, ["temprature=0.7"])
    # A preset's defaults sit under the file, --set and flags.
    cfg = eval_config(None, ["max_new_tokens=64"], {"bench": "aime24", "model": "m"})
    assert (cfg.n, cfg.max_new_tokens) == (8, 64)
    assert dataclasses.fields(EvalConfig)[0].metadata["help"]  # every field documents itself


def test_study_files_reject_misspelled_keys_at_every_level(tmp_path: Path) -> None:
    from xling.study import load_study_config, shipped_study

    demo = shipped_study("demo")
    for setting, message in (
        ("train_data.shufle_ids=true", r"train_data: unknown key 'shufle_ids'; did you mean "),
        ("synthetic.n_trian=5", r"synthetic: unknown key 'n_trian'; did you mean 'n_train'"),
        ("grpo.num_generation=8", r"\[grpo\]: unknown key 'num_generation'; did you mean "),
        ("eval.max_new_token=8", r"\[eval\]: unknown key 'max_new_token'; did you mean "),
        ("report.nboot=5", r"report: unknown key 'nboot'; did you mean 'n_boot'"),
        ("seed=[0]", r"unknown key 'seed'; did you mean 'seeds'"),
    ):
        with pytest.raises(XlingError, match=message):
            load_study_config(demo, [setting])
    bad_arm = tmp_path / "s.toml"
    bad_arm.write_text('[[arms]]\nname = "a"\ntrain_data = { budgte = "fixed" }\n')
    with pytest.raises(XlingError, match="unknown key 'budgte'; did you mean 'budget'"):
        load_study_config(bad_arm)


def test_parscale_settings_reject_misspelled_keys(tmp_path: Path) -> None:
    from xling.parscale.settings import load_study_settings

    cfg = load_study_settings("demo", settings=["train.steps=3"])
    assert cfg.train.steps == 3 and cfg.train.lr == load_study_settings("demo").train.lr
    with pytest.raises(XlingError, match="train: unknown key 'stesp'; did you mean 'steps'"):
        load_study_settings("demo", settings=["train.stesp=3"])
    toml = tmp_path / "p.toml"
    toml.write_text("prefix_token = 4\n")
    with pytest.raises(XlingError, match=r"p\.toml: unknown key 'prefix_token'; did you mean "):
        load_study_settings("demo", toml)


def test_eval_and_parscale_flags_come_from_their_config_classes() -> None:
    from xling.cli import app
    from xling.evaluate import EvalConfig
    from xling.parscale.settings import StudySettings

    runner = CliRunner()
    for command, cls, skipped in (
        (["eval", "--help"], EvalConfig, {"vllm_options"}),
        (["parscale", "study", "--help"], StudySettings, {"sizes", "p_values", "train"}),
    ):
        result = runner.invoke(app, command, env={"COLUMNS": "300"})
        assert result.exit_code == 0, result.output
        for f in dataclasses.fields(cls):
            flag = "--" + f.name.replace("_", "-")
            assert (flag in result.output) == (f.name not in skipped), flag
        assert "--set" in result.output and "--config" in result.output
