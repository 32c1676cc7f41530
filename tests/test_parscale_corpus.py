"""The real-code corpus for the ParScale grid (`xling parscale corpus`): split by file,
reproducible, stable under added files, skip counts, a lossless tokenizer, batches."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from email.message import Message
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from xling.cli import app
from xling.errors import XlingError
from xling.parscale.corpus import (
    CodeCorpus,
    CorpusError,
    CorpusSettings,
    build_corpus,
    iter_batches,
    licence_of,
    split_of,
    token_batches,
)

VOCAB = 300
FRACTION = 0.3


def _module(i: int) -> str:
    return (
        f'"""Module {i}: helpers for widget number {i}."""\n\n'
        "import math\n\n\n"
        f"class Widget{i}:\n"
        f"    def __init__(self, size: int = {i}) -> None:\n"
        "        self.size = size\n\n"
        f"    def area_{i}(self) -> float:\n"
        f"        return math.pi * self.size ** 2 + {i * 7}\n\n\n"
        f"def make_{i}(n):\n"
        f"    return [Widget{i}(k) for k in range(n) if k % {i + 2} != 0]\n"
        # Code that names a special token: text in the corpus, not a file separator.
        + ('\nEND = "<|endoftext|>"\n' if i % 5 == 0 else "")
    )


def _write_tree(root: Path, n_unique: int = 16) -> Path:
    """n_unique distinct modules, 2 duplicates, 1 Latin-1 file, 1 empty and 1 blank file,
    1 oversized file (for max_bytes=4000), and files that are not Python."""
    for i in range(n_unique):
        sub = root / f"pkg{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"mod{i}.py").write_text(_module(i), encoding="utf-8")
    (root / "copies").mkdir()
    shutil.copy(root / "pkg0" / "mod0.py", root / "copies" / "mod0_copy.py")
    shutil.copy(root / "pkg1" / "mod1.py", root / "copies" / "again.py")
    (root / "latin1.py").write_bytes("# café = 'crème'\nx = 1\n".encode("latin-1"))
    (root / "empty.py").write_bytes(b"")
    (root / "blank.py").write_text("\n   \n", encoding="utf-8")
    (root / "huge.py").write_text("x = 1\n" * 1000, encoding="utf-8")
    (root / "README.md").write_text("not python\n", encoding="utf-8")
    (root / "pkg0" / "__pycache__").mkdir()
    (root / "pkg0" / "__pycache__" / "cached.py").write_text("y = 2\n", encoding="utf-8")
    return root


def _settings(*sources: Path, **kw) -> CorpusSettings:
    kw.setdefault("vocab_size", VOCAB)
    kw.setdefault("heldout_fraction", FRACTION)
    kw.setdefault("max_bytes", 4000)
    return CorpusSettings(sources=tuple(str(s) for s in sources), **kw)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_tree(tmp_path_factory.mktemp("code"))


@pytest.fixture(scope="module")
def built(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(_settings(tree), out)
    return out


def _files(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "files.jsonl").read_text().splitlines()]


def test_skip_counts_and_file_counts(built: Path) -> None:
    manifest = json.loads((built / "manifest.json").read_text())
    # __pycache__ and README.md are never candidates; 16 + 2 + latin1 + empty + blank + huge
    assert manifest["files"]["candidates"] == 22
    assert manifest["skipped"] == {
        "empty": 2,
        "not_utf8": 1,
        "too_large": 1,
        "duplicate": 2,
        "unreadable": 0,
    }
    assert manifest["files"]["kept"] == 16
    assert manifest["files"]["train"] + manifest["files"]["heldout"] == 16
    assert manifest["files"]["train"] > 0 and manifest["files"]["heldout"] > 0
    skipped = [json.loads(line) for line in (built / "skipped.jsonl").read_text().splitlines()]
    by_reason = {r["reason"]: Path(r["source"]).name for r in skipped if r["reason"] != "empty"}
    assert by_reason["not_utf8"] == "latin1.py" and by_reason["too_large"] == "huge.py"
    # The first in sorted order is kept, its later copies skipped.
    dups = sorted(Path(r["source"]).name for r in skipped if r["reason"] == "duplicate")
    assert dups == ["mod0.py", "mod1.py"]  # copies/ sorts before pkg0/, pkg1/
    assert manifest["packages"] == [] and manifest["unpackaged_files"] == 16


def test_split_is_by_file_and_files_jsonl_matches_the_token_files(built: Path) -> None:
    corpus = CodeCorpus.load(built)
    manifest = corpus.manifest
    files = _files(built)
    splits: dict[str, set[str]] = {"train": set(), "heldout": set()}
    for f in files:
        splits[f["split"]].add(f["sha256"])
        assert f["split"] == split_of(f["sha256"], 0, FRACTION)
    assert not splits["train"] & splits["heldout"]
    tok = corpus.tokenizer()
    eof = manifest["tokenizer"]["eof_id"]
    assert eof == tok.convert_tokens_to_ids("<|endoftext|>")
    for split in ("train", "heldout"):
        tokens = corpus.tokens(split)
        rows = [f for f in files if f["split"] == split]
        assert sum(f["tokens"] for f in rows) == manifest["tokens"][split]
        assert len(tokens) == sum(f["tokens"] + 1 for f in rows)
        assert int((np.asarray(tokens) == eof).sum()) == len(rows)
        for f in rows:
            start, n = f["offset"], f["tokens"]
            assert tokens[start + n] == eof
            text = Path(f["source"]).read_text(encoding="utf-8")
            assert tok.decode(tokens[start : start + n].tolist()) == text


def test_two_builds_are_identical(tree: Path, built: Path, tmp_path: Path) -> None:
    again = build_corpus(_settings(tree), tmp_path / "again")
    first = json.loads((built / "manifest.json").read_text())
    assert again["corpus_hash"] == first["corpus_hash"]
    for name in ("train.bin", "heldout.bin", "tokenizer.json", "files.jsonl"):
        assert (tmp_path / "again" / name).read_bytes() == (built / name).read_bytes(), name


def test_the_hash_ignores_where_the_tree_lives_but_not_its_contents(
    tree: Path, built: Path, tmp_path: Path
) -> None:
    moved = shutil.copytree(tree, tmp_path / "elsewhere")
    first = json.loads((built / "manifest.json").read_text())["corpus_hash"]
    assert build_corpus(_settings(moved), tmp_path / "a")["corpus_hash"] == first
    (moved / "pkg2" / "mod2.py").write_text(_module(2) + "\n# edited\n", encoding="utf-8")
    assert build_corpus(_settings(moved), tmp_path / "b")["corpus_hash"] != first


def test_adding_files_moves_no_existing_file_between_splits(
    tree: Path, built: Path, tmp_path: Path
) -> None:
    grown = shutil.copytree(tree, tmp_path / "grown")
    for i in range(100, 130):
        (grown / f"new{i}.py").write_text(_module(i), encoding="utf-8")
    build_corpus(_settings(grown), tmp_path / "out")
    before = {f["sha256"]: f["split"] for f in _files(built)}
    after = {f["sha256"]: f["split"] for f in _files(tmp_path / "out")}
    assert len(after) == len(before) + 30
    assert {sha: after[sha] for sha in before} == before
    assert "heldout" in {after[sha] for sha in after.keys() - before.keys()}


def test_rerun_is_idempotent_and_another_corpus_is_refused(tree: Path, tmp_path: Path) -> None:
    tree = shutil.copytree(tree, tmp_path / "tree")
    out = tmp_path / "c"
    first = build_corpus(_settings(tree), out)
    stamp = (out / "train.bin").stat().st_mtime_ns
    again = build_corpus(_settings(tree), out)
    assert again["corpus_hash"] == first["corpus_hash"]
    assert (out / "train.bin").stat().st_mtime_ns == stamp  # up to date: nothing rewritten
    with pytest.raises(CorpusError, match="other sources or settings"):
        build_corpus(_settings(tree, seed=1), out)
    replaced = build_corpus(_settings(tree, seed=1), out, force=True)
    assert replaced["settings"]["seed"] == 1
    # Files changed under a finished corpus: another corpus, refused without --force.
    (tree / "pkg0" / "mod3.py").write_text(_module(3) + "# changed\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="sources now give"):
        build_corpus(_settings(tree, seed=1), out)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n")
    with pytest.raises(CorpusError, match="not empty and holds no corpus"):
        build_corpus(_settings(tree), foreign)


def test_an_interrupted_build_resumes_with_its_tokenizer(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "c"
    build_corpus(_settings(tree), out)
    reference = {n: (out / n).read_bytes() for n in ("train.bin", "heldout.bin")}
    # As if killed while tokenizing: the tokenizer is kept, the token files are rewritten.
    for name in ("manifest.json", "train.bin", "files.jsonl"):
        (out / name).unlink()
    tokenizer_stamp = (out / "tokenizer.json").stat().st_mtime_ns
    build_corpus(_settings(tree), out)
    assert (out / "tokenizer.json").stat().st_mtime_ns == tokenizer_stamp
    assert {n: (out / n).read_bytes() for n in reference} == reference


def test_tokenizer_loads_with_transformers_and_round_trips_code(built: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(built)
    assert len(tok) == json.loads((built / "manifest.json").read_text())["tokenizer"]["vocab_size"]
    assert tok.eos_token == "<|endoftext|>" and tok.pad_token == "<|endoftext|>"
    source = Path(_files(built)[0]["source"]).read_text(encoding="utf-8")
    tricky = source + "\tx  =  f( a ,b )  # ünïcode ✓ 名前\n\n\n    \n"
    for text in (source, tricky):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
    # Learned merges: far fewer tokens than bytes on the training code.
    assert len(tok(source)["input_ids"]) < 0.7 * len(source.encode())


def test_batches_have_the_requested_shape_and_feed_training_code(built: Path) -> None:
    import torch

    from xling.parscale.training import IGNORE, TokenBatches, heldout_nll

    corpus = CodeCorpus.load(built)
    tokens = corpus.tokens("train")
    seq_len, batch = 16, 4
    batches = list(iter_batches(tokens, seq_len=seq_len, batch_size=batch, seed=3))
    assert len(batches) == (len(tokens) // seq_len) // batch
    rows: Counter = Counter()
    for ids, labels in batches:
        assert ids.shape == labels.shape == (batch, seq_len) and ids.dtype == torch.int64
        assert torch.equal(ids, labels)
        rows.update(tuple(row) for row in ids.tolist())
    # Every row is an aligned window of the token file, each window used at most once
    # (as multisets: the toy modules repeat some windows' contents).
    aligned = Counter(
        tuple(np.asarray(tokens[i : i + seq_len]).tolist())
        for i in range(0, len(tokens) - seq_len + 1, seq_len)
    )
    assert not rows - aligned and rows.total() == len(batches) * batch
    again = list(iter_batches(tokens, seq_len=seq_len, batch_size=batch, seed=3))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again, strict=True))

    held = token_batches(built, "heldout", seq_len=seq_len, batch_size=2, n_batches=3)
    assert isinstance(held, TokenBatches) and len(held) == 3
    assert held.input_ids[0].dtype == torch.int32 and held.n_tokens == 3 * 2 * seq_len
    assert all((lab != IGNORE).all() for lab in held.labels)
    with pytest.raises(CorpusError, match="available"):
        token_batches(built, "heldout", seq_len=seq_len, batch_size=2, n_batches=10**6)

    from transformers import AutoConfig, AutoModelForCausalLM

    from xling.parscale.settings import ModelShape

    shape = ModelShape(hidden=16, layers=1, heads=2, kv_heads=1, intermediate=32)
    text = shape.text_config(corpus.tokenizer(), seq_len)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(text.pop("model_type"), **text))
    rows = heldout_nll(model, held, device="cpu")
    assert rows.shape == (3, 2) and rows[:, 1].tolist() == [2 * (seq_len - 1)] * 3
    # A random model over the vocabulary: about ln(vocab) nats a token.
    assert abs(float(rows[:, 0].sum() / rows[:, 1].sum()) - np.log(len(corpus.tokenizer()))) < 1


def test_licence_from_metadata_fields() -> None:
    def meta(**fields: str | list[str]) -> Message:
        m = Message()
        for key, value in fields.items():
            for v in value if isinstance(value, list) else [value]:
                m[key.replace("_", "-")] = v
        return m

    assert licence_of(meta(License_Expression="MIT", License="BSD")) == (
        "MIT",
        "License-Expression",
    )
    assert licence_of(meta(License="BSD-3-Clause")) == ("BSD-3-Clause", "License")
    classified = meta(
        License="UNKNOWN", Classifier=["License :: OSI Approved :: Apache Software License"]
    )
    assert licence_of(classified) == ("Apache Software License", "classifier")
    assert licence_of(meta(License="Copyright (c) 2020 X\n\nPermission is hereby granted")) == (
        "Copyright (c) 2020 X",
        "License (first line)",
    )
    assert licence_of(meta(Name="x")) == (None, None)


def test_site_packages_files_map_to_their_distributions(tmp_path: Path) -> None:
    out = tmp_path / "sp"
    result = CliRunner().invoke(
        app,
        [
            "parscale",
            "corpus",
            "--from",
            "site-packages",
            "--out",
            str(out),
            "--max-files",
            "40",
            "--vocab-size",
            str(VOCAB),
            "--heldout-fraction",
            "0.1",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"]["candidates"] == 40
    assert manifest["sources"][0]["spec"] == "site-packages"
    packages = manifest["packages"]
    assert packages and any(p["license"] for p in packages)
    names = {p["name"] for p in packages}
    mapped = [f for f in _files(out) if f["package"]]
    assert mapped and {f["package"] for f in mapped} <= names
    assert sum(p["files"] for p in packages) == len(mapped)
    from importlib.metadata import distribution

    for f in mapped[:5]:
        # The distribution the manifest names lists this very file in its RECORD.
        assert f["path"] in {str(p) for p in distribution(f["package"]).files}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "/nonexistent/folder"], "not a folder"),
        (["--heldout-fraction", "1.5"], "--heldout-fraction must be in"),
        (["--vocab-size", "100"], "--vocab-size must be in"),
    ],
)
def test_bad_input_is_one_clear_error(
    tree: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    base = ["parscale", "corpus", "--out", str(tmp_path / "o")]
    if "--from" not in args:
        base += ["--from", str(tree)]
    result = CliRunner().invoke(app, base + args)
    assert isinstance(result.exception, XlingError), result.output
    assert message in str(result.exception) and "\n" not in str(result.exception)


def test_a_folder_without_python_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("text\n")
    with pytest.raises(CorpusError, match="no Python files"):
        build_corpus(_settings(tmp_path / "docs"), tmp_path / "out")
