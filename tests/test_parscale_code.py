"""The ParScale study on a real-code corpus (`--code-corpus`, issue 25) and its time limit
(`--max-minutes`), at toy sizes on CPU through the CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from xling.cli import app  # noqa: E402
from xling.errors import XlingError  # noqa: E402
from xling.parscale.corpus import CorpusSettings, build_corpus  # noqa: E402
from xling.parscale.settings import ModelShape, StudyError, load_study_settings  # noqa: E402

SIZES = (
    "sizes=[{hidden=16,layers=1,heads=2,kv_heads=1,intermediate=32},"
    "{hidden=24,layers=1,heads=2,kv_heads=1,intermediate=48},"
    "{hidden=32,layers=1,heads=2,kv_heads=1,intermediate=64}]"
)
TINY = [
    SIZES,
    "p_values=[1,2]",
    "prefix_tokens=2",
    "eval_batches=3",
    "eval_batch_size=2",
    "n_boot=8",
    "train.steps=3",
    "train.batch_size=2",
    "train.seq_len=32",
    "train.warmup_steps=1",
    "cpu_threads=1",
]


# Tiny models on a shared 2-core runner: one torch thread (conftest's fixture).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _module(i: int) -> str:
    return (
        f'"""Module {i}."""\n\nimport math\n\n\n'
        f"class Shape{i}:\n"
        f"    def __init__(self, size: int = {i}) -> None:\n"
        "        self.size = size\n\n"
        f"    def area(self) -> float:\n"
        f"        return math.pi * self.size ** 2 + {i * 3}\n\n\n"
        f"def build_{i}(n):\n"
        f"    return [Shape{i}(k) for k in range(n) if k % {i + 2}]\n"
    )


def _corpus(root: Path, n_files: int) -> Path:
    src = root / "src"
    src.mkdir(parents=True)
    for i in range(n_files):
        (src / f"mod{i}.py").write_text(_module(i), encoding="utf-8")
    out = root / "corpus"
    build_corpus(CorpusSettings(sources=(str(src),), vocab_size=300, heldout_fraction=0.3), out)
    return out


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two corpora that differ by one file (so by their hash)."""
    root = tmp_path_factory.mktemp("code")
    return _corpus(root / "a", 24), _corpus(root / "b", 25)


def _study(out: Path, corpus: Path, *extra: str) -> tuple[int, str, BaseException | None]:
    args = ["parscale", "study", "--preset", "demo", "--out", str(out), "--device", "cpu"]
    args += ["--code-corpus", str(corpus)]
    for item in TINY:
        args += ["--set", item]
    result = CliRunner().invoke(app, args + list(extra))
    return result.exit_code, result.output, result.exception


def _manifest(corpus: Path) -> dict:
    return json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))


def test_corpus_tokenizer_gives_the_model_its_special_ids(corpora: tuple[Path, Path]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(corpora[0])
    text = ModelShape(16, 1, 2, 1, 32).text_config(tokenizer, 32)
    ids = {text["bos_token_id"], text["eos_token_id"], text["pad_token_id"]}
    # <|endoftext|> (bos, pad) and <|im_end|> (eos) are real tokens, not unk or None.
    assert None not in ids and len(ids) == 2 and max(ids) < text["vocab_size"]
    assert text["bos_token_id"] == _manifest(corpora[0])["tokenizer"]["eof_id"]


@pytest.mark.slow
def test_study_on_a_code_corpus_resumes_and_is_refused_on_another(
    corpora: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = corpora
    out = tmp_path / "study"
    code, output, exc = _study(out, a)
    assert code == 0, f"{output}\n{exc!r}"
    cells = sorted((out / "cells").glob("*/result.json"))
    assert len(cells) == 6
    for path in cells:
        cell = json.loads(path.read_text(encoding="utf-8"))
        assert math.isfinite(cell["loss"]) and cell["loss"] > 0
        assert cell["heldout_lang"] == {} and len(cell["heldout"]) == 3
        assert all(tokens == 2 * 31 for _, tokens in cell["heldout"])  # full windows
    # The organism's data are never built for a code corpus.
    assert not (out / "tokenizer").exists() and not (out / "data").exists()

    report = out / "report"
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert {"A", "k", "alpha", "E"} <= set(summary["law"]) and len(summary["cells"]) == 6
    assert summary["languages"] == [] and summary["settings"]["corpus"] is None
    digest = _manifest(a)["corpus_hash"]
    assert summary["settings"]["code_corpus"]["corpus_hash"] == digest
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "No per-language view" in text and digest[:12] in text
    assert not (report / "figures" / "languages.png").exists()

    identity = json.loads((out / "study.json").read_text(encoding="utf-8"))["identity"]
    assert identity["code_corpus"]["corpus_hash"] == digest
    assert "corpus" not in identity  # the organism preset is unused

    # The identity is the corpus's content, not its path: a moved copy continues the study
    # (every cell kept); another corpus in the same folder is refused.
    stamp = cells[0].stat().st_mtime_ns
    moved = tmp_path / "moved"
    shutil.copytree(a, moved)
    code, output, exc = _study(out, moved)
    assert code == 0, f"{output}\n{exc!r}"
    assert cells[0].stat().st_mtime_ns == stamp
    code, output, exc = _study(out, b)
    assert isinstance(exc, StudyError) and "other settings" in str(exc)

    # max_minutes = 0 starts no cell: the finished ones stay, the missing ones are counted,
    # the report is left for the run that completes the grid.
    (report / "summary.json").unlink()
    for path in cells[:2]:
        path.unlink()
    kept = {path: path.stat().st_mtime_ns for path in cells[2:]}
    code, output, exc = _study(out, a, "--max-minutes", "0")
    assert code == 0, f"{output}\n{exc!r}"
    assert "2 of 6 cells remain" in output
    assert len(list((out / "cells").glob("*/result.json"))) == 4
    assert not (report / "summary.json").exists()
    assert all(path.stat().st_mtime_ns == t for path, t in kept.items())
    code, output, exc = _study(out, a)
    assert code == 0, f"{output}\n{exc!r}"
    assert len(list((out / "cells").glob("*/result.json"))) == 6
    assert (report / "summary.json").exists()


def test_max_minutes_stops_before_a_cell_that_would_not_fit(
    corpora: tuple[Path, Path], tmp_path: Path
) -> None:
    from io import StringIO

    from rich.console import Console

    from xling.parscale.study import ParScaleStudy

    buf = StringIO()
    # 0.6 s: time left after loading the data, but less than the first cell's estimate
    # (40 steps at the CPU floor of 30 ms): a limit checked only between cells would start it.
    cfg = load_study_settings(
        "demo",
        settings=[*TINY, "train.steps=40", f"code_corpus='{corpora[0]}'", "max_minutes=0.01"],
        out=str(tmp_path / "s"),
        device="cpu",
    )
    assert ParScaleStudy(cfg, Console(file=buf, width=200)).run() is None
    assert "6 of 6 cells remain" in buf.getvalue()
    assert not (tmp_path / "s" / "cells").exists()


@pytest.mark.parametrize("what", ["missing", "no_manifest", "bad_json"])
def test_a_bad_corpus_folder_is_one_line_error(tmp_path: Path, what: str) -> None:
    folder = tmp_path / "c"
    if what != "missing":
        folder.mkdir()
    if what == "bad_json":
        (folder / "manifest.json").write_text("{not json", encoding="utf-8")
    _, output, exc = _study(tmp_path / "s", folder)
    assert isinstance(exc, StudyError), f"{output}\n{exc!r}"
    assert "code_corpus" in str(exc) and "\n" not in str(exc)
    assert not (tmp_path / "s" / "cells").exists()


def test_code_corpus_settings_and_preset() -> None:
    with pytest.raises(XlingError, match="max_minutes"):
        load_study_settings("demo", settings=["max_minutes=-1"])
    with pytest.raises(StudyError, match="loss_on"):
        load_study_settings("demo", settings=["code_corpus='x'", "train.loss_on='assistant'"])
    cfg = load_study_settings("code-gpu")
    assert cfg.code_corpus is None  # given on the command line
    counts = [s.non_embedding_params() for s in cfg.sizes]
    assert len(counts) >= 4 and max(counts) >= 30 * min(counts)
    assert cfg.p_values == (1, 2, 4, 8) and cfg.train.seq_len in (256, 512)
    # max_minutes only decides when a run stops: a rerun with another limit continues.
    same = load_study_settings("code-gpu", settings=["max_minutes=9"])
    assert same.identity() == cfg.identity()
    # An organism study's identity is as before the field, so its folders still continue.
    assert "code_corpus" not in load_study_settings("demo").identity()
