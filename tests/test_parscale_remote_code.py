"""A saved ParScale checkpoint carries its own code: plain transformers loads it with
trust_remote_code=True in an interpreter where xling cannot be imported, and gives the same
logits; with xling registered it loads as before, without trust_remote_code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from transformers.dynamic_module_utils import get_imports  # noqa: E402

from xling.errors import XlingError  # noqa: E402
from xling.models.parscale import (  # noqa: E402
    ParScaleConfig,
    ParScaleError,
    ParScaleForCausalLM,
    register_auto_classes,
)

IDS = [[5, 9, 14, 3, 22, 7], [11, 4, 30, 8, 2, 17]]

# Runs in a fresh interpreter. The finder goes first on sys.meta_path, so any import of xling
# (by this code, by transformers or by the checkpoint's copied module) fails.
WITHOUT_XLING = """
import json, sys

class NoXling:
    def find_spec(self, name, path=None, target=None):
        if name == "xling" or name.startswith("xling."):
            raise ImportError(f"xling is blocked in this test ({name})")
        return None

sys.meta_path.insert(0, NoXling())
try:
    import xling
except ImportError:
    pass
else:
    raise SystemExit("xling is importable: the test would prove nothing")

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

path = sys.argv[1]
ids = torch.tensor(json.loads(sys.argv[2]))
config = AutoConfig.from_pretrained(path, trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=True).eval()
tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
with torch.no_grad():
    logits = model(input_ids=ids).logits
    generated = model.generate(
        ids, max_new_tokens=4, do_sample=False, pad_token_id=0, eos_token_id=None
    )
try:
    type(config)(parscale_n=0)
    bad_config = None
except ValueError as exc:
    bad_config = type(exc).__name__
print(json.dumps({
    "config_class": type(config).__module__ + "." + type(config).__name__,
    "model_class": type(model).__module__ + "." + type(model).__name__,
    "streams": model.config.parscale_n,
    "logits": logits.tolist(),
    "generated": generated.tolist(),
    "tokens": tokenizer("hello").input_ids,
    "bad_config": bad_config,
    "xling_loaded": any(m == "xling" or m.startswith("xling.") for m in sys.modules),
}))
"""


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def saved(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A P = 2 ParScale model with a non-uniform mixing, and the directory it was saved to."""
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = ParScaleForCausalLM.from_backbone(plain, streams=2, prefix_tokens=3, seed=1).eval()
    with torch.no_grad():  # so that a wrong aggregation would change the logits
        model.aggregator[2].weight.normal_(0, 0.5)
    out = tmp_path_factory.mktemp("parscale-ckpt") / "ckpt"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return model, out


def _run_without_xling(path: Path, tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_MODULES_CACHE": str(tmp_path / "hf-modules"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_XLING, str(path), json.dumps(IDS)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_checkpoint_carries_auto_map_and_self_contained_code(saved) -> None:
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "parscale.ParScaleConfig",
        "AutoModelForCausalLM": "parscale.ParScaleForCausalLM",
    }
    code = path / "parscale.py"
    assert code.is_file()
    # What transformers' remote-code check will demand of the loading interpreter.
    assert "xling" not in get_imports(code)
    assert set(get_imports(code)) <= {"__future__", "collections", "copy", "inspect"} | {
        "torch",
        "transformers",
        "typing",
    }


def test_plain_transformers_loads_it_without_xling(saved, tmp_path: Path) -> None:
    model, path = saved
    got = _run_without_xling(path, tmp_path)
    assert got["model_class"].startswith("transformers_modules.")
    assert got["model_class"].endswith(".parscale.ParScaleForCausalLM")
    assert got["config_class"].endswith(".parscale.ParScaleConfig")
    assert not got["xling_loaded"]
    assert got["streams"] == 2
    ids = torch.tensor(IDS)
    with torch.no_grad():
        expected = model(input_ids=ids).logits
        generated = model.generate(
            ids, max_new_tokens=4, do_sample=False, pad_token_id=0, eos_token_id=None
        )
    assert torch.allclose(torch.tensor(got["logits"]), expected, atol=1e-5)
    assert got["generated"] == generated.tolist()
    assert got["tokens"] == AutoTokenizer.from_pretrained(path)("hello").input_ids
    # The copy's errors stay ValueErrors without xling's base class.
    assert got["bad_config"] == "ParScaleError"


def test_with_xling_registered_no_remote_code_is_needed(saved) -> None:
    model, path = saved
    register_auto_classes()
    ids = torch.tensor(IDS)
    with torch.no_grad():
        expected = model(input_ids=ids).logits
    for trust in (None, True):
        # xling's registered classes win over the checkpoint's copy either way.
        loaded = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=trust).eval()
        assert type(loaded) is ParScaleForCausalLM
        with torch.no_grad():
            assert torch.equal(loaded(input_ids=ids).logits, expected)


def test_a_reloaded_checkpoint_saves_its_code_again(saved, tmp_path: Path) -> None:
    _, path = saved
    register_auto_classes()
    AutoModelForCausalLM.from_pretrained(path).save_pretrained(tmp_path / "again")
    again = json.loads((tmp_path / "again" / "config.json").read_text())
    assert again["auto_map"]["AutoModelForCausalLM"] == "parscale.ParScaleForCausalLM"
    assert (tmp_path / "again" / "parscale.py").is_file()


def test_a_checkpoint_saved_without_auto_map_still_loads_with_xling(saved, tmp_path: Path) -> None:
    model, path = saved
    old = tmp_path / "old"
    old.mkdir()
    for name in ("model.safetensors", "generation_config.json"):
        (old / name).write_bytes((path / name).read_bytes())
    config = json.loads((path / "config.json").read_text())
    del config["auto_map"]
    (old / "config.json").write_text(json.dumps(config))
    register_auto_classes()
    loaded = AutoModelForCausalLM.from_pretrained(old)
    # TRL reads config.auto_map to pick an auto class for architectures it does not know.
    assert loaded.config.auto_map == {}
    assert type(loaded) is ParScaleForCausalLM
    ids = torch.tensor(IDS)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(input_ids=ids).logits, model(input_ids=ids).logits)


def test_parscale_errors_are_xling_user_errors_and_value_errors() -> None:
    # xling's CLI prints XlingErrors as one line; plain transformers users expect ValueErrors.
    with pytest.raises(ParScaleError) as caught:
        ParScaleConfig(parscale_n=0)
    assert isinstance(caught.value, XlingError)
    assert isinstance(caught.value, ValueError)
