"""The world's split schemes: v3's train, validation and test are disjoint by problem
content (type + numeric parameters), not only by draw seed; v2 stays as it was."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from xling.errors import XlingError
from xling.study.config import SyntheticSpec
from xling.testing.cli import one_line_error, run_xling
from xling.world import SPLIT_SCHEMES, SyntheticError, build_benchmark, generate_problems
from xling.world.problems import canonical_key, split_of

SEEDS = (0, 1, 2)


def _keys(split: str, scheme: str, n: int = 300) -> set[str]:
    """Content keys of n problems of `split` for each of several seeds (a validation set
    drawn with another seed is exactly what used to overlap the test set)."""
    return {
        canonical_key(p.type, p.params)
        for seed in SEEDS
        for p in generate_problems(n, seed=seed, split=split, scheme=scheme)
    }


def test_v3_train_validation_and_test_share_no_problem_content() -> None:
    train, validation, test = (_keys(s, "v3") for s in ("train", "validation", "test"))
    assert min(len(train), len(validation), len(test)) > 500  # enough to collide if they could
    assert not train & validation
    assert not train & test
    assert not validation & test
    # Each key belongs to the split the hash line puts it in.
    for split, keys in (("train", train), ("validation", validation), ("test", test)):
        assert {split_of(k, "v3") for k in keys} == {split}


def test_v2_validation_by_seed_overlapped_its_test_set_and_v3_cannot() -> None:
    # The old practice: a "validation" set = the test split drawn with another seed.
    v2_test_seed0 = {
        canonical_key(p.type, p.params) for p in generate_problems(250, seed=0, split="test")
    }
    v2_test_seed1 = {
        canonical_key(p.type, p.params) for p in generate_problems(250, seed=1, split="test")
    }
    assert v2_test_seed0 & v2_test_seed1  # the leak the v3 scheme removes
    v3_val = {
        canonical_key(p.type, p.params)
        for p in generate_problems(250, seed=1, split="validation", scheme="v3")
    }
    v3_test = {
        canonical_key(p.type, p.params)
        for p in generate_problems(250, seed=0, split="test", scheme="v3")
    }
    assert not v3_val & v3_test


def test_train_is_the_same_region_in_both_schemes_and_v2_is_unchanged() -> None:
    # An organism pretrained on v2's train split has seen no v3 validation or test problem.
    keys = _keys("test", "v2", 200) | _keys("train", "v2", 200) | _keys("validation", "v3", 200)
    for key in keys:
        assert (split_of(key, "v2") == "train") == (split_of(key, "v3") == "train")
        if split_of(key, "v3") in ("validation", "test"):
            assert split_of(key, "v2") == "test"
    # v2's streams and ids are the historical ones (a v2 benchmark rebuilds byte for byte).
    first = generate_problems(3, seed=0, split="test")
    assert [p.id for p in first] == ["test-0-00000", "test-0-00001", "test-0-00002"]
    assert generate_problems(3, seed=0, split="test", scheme="v2") == first
    # v3 draws its own streams: its ids say so, and its test set is not v2's half.
    v3 = generate_problems(50, seed=0, split="test", scheme="v3")
    assert all(p.id.startswith("test-v3-0-") for p in v3)
    v2_in_v3_half = [
        p
        for p in generate_problems(200, seed=0, split="test")
        if split_of(canonical_key(p.type, p.params), "v3") == "test"
    ][:50]
    assert [p.params for p in v3] != [p.params for p in v2_in_v3_half]


def test_schemes_partition_the_hash_line() -> None:
    for scheme, splits in SPLIT_SCHEMES.items():
        bounds = sorted(splits.values())
        assert bounds[0][0] == 0.0 and bounds[-1][1] == 1.0, scheme
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds)), scheme


def test_unknown_splits_and_schemes_are_refused() -> None:
    with pytest.raises(SyntheticError, match="unknown split 'validation' in scheme v2"):
        generate_problems(1, seed=0, split="validation")
    with pytest.raises(SyntheticError, match="unknown split scheme 'v9'"):
        generate_problems(1, seed=0, split="test", scheme="v9")


def test_benchmark_writes_a_validation_folder_only_under_v3(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    build_benchmark(out, n_train=4, n_test=3, n_validation=2, seed=0, langs="en,sw", scheme="v3")
    rows = {
        split: [
            json.loads(line)
            for line in (out / split / "synth_sw.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        for split in ("train", "validation", "test")
    }
    assert [len(rows[s]) for s in ("train", "validation", "test")] == [4, 2, 3]
    ids = [r["id"] for split in rows.values() for r in split]
    assert len(set(ids)) == len(ids)
    assert all(r["id"].startswith("validation-v3-") for r in rows["validation"])
    with pytest.raises(SyntheticError, match="needs the v3 split scheme"):
        build_benchmark(tmp_path / "v2", n_train=1, n_test=1, n_validation=1, seed=0)


def test_study_spec_and_cli_check_the_scheme(tmp_path: Path) -> None:
    assert SyntheticSpec(splits="v3", n_validation=10).n_validation == 10
    with pytest.raises(XlingError, match="splits 'v4'"):
        SyntheticSpec(splits="v4")
    with pytest.raises(XlingError, match="needs splits = 'v3'"):
        SyntheticSpec(n_validation=5)
    out = tmp_path / "cli"
    proc = run_xling(
        "organism", "build-bench", "--out", out, "--n-train", "2", "--n-test", "2",
        "--n-validation", "2", "--splits", "v3", "--langs", "en",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "validation" / "synth_en.jsonl").is_file()
    bad = run_xling(
        "organism", "build-bench", "--out", tmp_path / "bad", "--n-validation", "2"
    )  # fmt: skip
    one_line_error(bad, "v3")


def test_a_study_builds_its_benchmark_in_the_world_it_names(tmp_path: Path) -> None:
    from xling.study.config import StudyConfig
    from xling.study.pipeline import Study

    synthetic = {
        "n_train": 3,
        "n_test": 2,
        "splits": "v3",
        "n_validation": 2,
        "arithmetic": "localized",
        "native_digits": True,
    }
    cfg = StudyConfig(name="v3", base_model="organism", out=str(tmp_path), synthetic=synthetic)
    Study(cfg)._bench()
    rows = {
        split: [json.loads(x) for x in (tmp_path / "bench" / split / "synth_bn.jsonl").open()]
        for split in ("train", "validation", "test")
    }
    assert [len(rows[s]) for s in ("train", "validation", "test")] == [3, 2, 2]
    assert all(r["id"].startswith("validation-v3-") for r in rows["validation"])
    # Worded steps and Bengali digits, as the organism's world would write them.
    assert all(" সমান " in r["solution"] for r in rows["test"])
    assert all(set("০১২৩৪৫৬৭৮৯") & set(r["question"]) for r in rows["test"])
