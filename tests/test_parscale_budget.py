"""The budget and recipe rules read off a grid's P = 1 column (`xling parscale budget`), a
study grown in place (a P = 1 column first, the other P later), and the cost bench of a
study's own model (`xling parscale cost --study`)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from rich.console import Console  # noqa: E402

from xling.errors import XlingError  # noqa: E402
from xling.parscale.budget import (  # noqa: E402
    FLAT_DROP,
    TIE,
    check_budget,
    choose_recipe,
    online_loss,
    study_cells,
)
from xling.parscale.cost import (  # noqa: E402
    CostSettings,
    print_cost,
    run_cost_bench,
    study_cost_inputs,
)
from xling.parscale.settings import (  # noqa: E402
    CellResult,
    ModelShape,
    StudyError,
    StudySettings,
    load_study_settings,
)
from xling.parscale.study import ParScaleStudy  # noqa: E402
from xling.testing.cli import one_line_error, run_xling  # noqa: E402
from xling.testing.parscale import TINY_STUDY_SETS  # noqa: E402

# Tiny models on a shared 2-core runner: one torch thread (conftest's fixture).
pytestmark = pytest.mark.usefixtures("one_torch_thread")

VOCAB = 64
Curve = Callable[[int], float]


def _flat(final: float) -> Curve:
    """A loss that has all but stopped falling: 0.1% above `final` at step 0, `final` at 100."""
    return lambda step: final + 0.004 * (100 - step) / 100


def _linear(at_100: float, slope: float) -> Curve:
    return lambda step: at_100 + slope * (100 - step)


def _cell(
    hidden: int,
    curve: Curve | None,
    streams: int = 1,
    steps: int = 100,
    every: int = 10,
    heldout: float = 3.0,
) -> CellResult:
    """A finished cell whose training log follows `curve` every `every` steps (None: no
    log), with a hand-made held-out loss."""
    shape = ModelShape(hidden=hidden, layers=1, heads=2, kv_heads=1, intermediate=2 * hidden)
    n = shape.non_embedding_params()
    extra = shape.parscale_params(streams, 2)
    log = (
        []
        if curve is None
        else [{"step": s, "loss": curve(s), "elapsed_s": 0} for s in range(every, steps + 1, every)]
    )
    return CellResult(
        name=f"{shape.name}-p{streams}",
        shape=shape,
        streams=streams,
        params={
            "backbone_non_embedding": n,
            "embedding": VOCAB * hidden,
            "parscale": extra,
            "total": n + extra + VOCAB * hidden,
            "law_n": n + extra,
        },
        heldout=[[heldout * 100, 100.0]] * 3,
        heldout_lang={},
        train_log=log,
    )


def _column(finals: tuple[float, ...], hiddens: tuple[int, ...] = (16, 32, 64)) -> list:
    return [_cell(h, _flat(f)) for h, f in zip(hiddens, finals, strict=True)]


# --------------------------------------------------------------------------- the budget rule


def test_budget_enough_when_loss_falls_with_n_and_the_smallest_is_flat() -> None:
    cells = _column((4.0, 3.5, 3.0))
    # Given in no particular order, with P > 1 cells whose logs would break every rule (the
    # P = 2 loss rises with N and still falls fast; one has no log at all): ignored.
    noise = [
        _cell(16, _linear(2.0, 0.05), streams=2),
        _cell(32, _linear(5.0, 0.05), streams=2),
        _cell(64, None, streams=2),
    ]
    check = check_budget([cells[1], noise[0], cells[2], noise[2], cells[0], noise[1]])
    assert [c.cell for c in check.column] == ["h16-l1-p1", "h32-l1-p1", "h64-l1-p1"]
    assert [c.validation for c in check.column] == pytest.approx([4.0, 3.5, 3.0], abs=1e-3)
    assert [c.heldout for c in check.column] == pytest.approx([3.0] * 3)
    assert check.falls_with_n and check.smallest_flat and check.enough
    assert check.verdict() == "budget enough"
    assert check.mean_validation == pytest.approx(3.5, abs=1e-3)
    data = json.loads(json.dumps(check.to_dict()))
    assert data["enough"] is True and data["verdict"] == "budget enough"
    assert [c["cell"] for c in data["column"]] == ["h16-l1-p1", "h32-l1-p1", "h64-l1-p1"]
    assert data["rule"]["flat_drop"] == FLAT_DROP


def test_budget_too_small_when_a_bigger_model_has_a_higher_online_loss() -> None:
    check = check_budget(_column((4.0, 4.2, 3.0)))
    assert not check.falls_with_n and check.smallest_flat and not check.enough
    verdict = check.verdict()
    assert verdict.startswith("budget too small")
    assert "does not fall strictly with N" in verdict and "still fell" not in verdict
    # Equal figures do not fall strictly either.
    assert not check_budget(_column((4.0, 4.0, 3.0))).falls_with_n
    # The held-out loss is shown, never judged: a higher online loss alone decides.
    lower_heldout = [_cell(16, _flat(4.0), heldout=3.0), _cell(32, _flat(4.2), heldout=2.0)]
    assert not check_budget(lower_heldout).falls_with_n


def test_budget_too_small_when_the_smallest_model_still_falls() -> None:
    # Linear: 0.006 nats a step; (70, 80]·100 holds step 80 (4.12), (90, 100] step 100 (4.0).
    smallest = _cell(16, _linear(4.0, 0.006))
    check = check_budget([smallest, _cell(32, _flat(3.5)), _cell(64, _flat(3.0))])
    late = check.column[0].late_drop
    assert late == pytest.approx(1 - 4.0 / 4.12)
    assert late > FLAT_DROP
    assert check.falls_with_n and not check.smallest_flat and not check.enough
    verdict = check.verdict()
    assert f"{100 * late:.1f}%" in verdict and "fall strictly" not in verdict
    # Only the smallest model must be flat: a still-falling larger one passes.
    ok = check_budget([_cell(16, _flat(4.0)), _cell(32, _linear(3.5, 0.006))])
    assert ok.enough and ok.column[1].late_drop > FLAT_DROP


@pytest.mark.parametrize(("steps", "every"), [(100, 10), (100, 2), (700, 10), (90, 1)])
def test_late_drop_and_validation_are_window_means(steps: int, every: int) -> None:
    curve = _linear(3.0, 0.01 * 100 / steps)
    cell = _cell(16, curve, steps=steps, every=every)
    logged = range(every, steps + 1, every)

    def mean(lo: float, hi: float) -> float:  # steps in (lo·S, hi·S], in exact integers
        window = [curve(s) for s in logged if lo * steps < s * 10 <= hi * steps]
        return sum(window) / len(window)

    early, late = mean(7, 8), mean(9, 10)
    assert online_loss(cell, 0.7, 0.8) == pytest.approx(early, rel=1e-12)
    assert online_loss(cell, 0.9, 1.0) == pytest.approx(late, rel=1e-12)
    check = check_budget([cell, _cell(32, _flat(2.0))])
    assert check.column[0].validation == pytest.approx(late, rel=1e-12)
    assert check.column[0].late_drop == pytest.approx(1 - late / early, rel=1e-9)


def test_budget_refuses_cells_it_cannot_judge() -> None:
    with pytest.raises(StudyError, match="no training log"):
        check_budget([_cell(16, None), _cell(32, _flat(3.0))])
    with pytest.raises(StudyError, match="no entry in steps"):  # one entry: no (0.7, 0.8]
        check_budget([_cell(16, _flat(3.0), steps=3, every=3), _cell(32, _flat(2.0))])
    with pytest.raises(StudyError, match="at least two sizes"):
        check_budget([_cell(16, _flat(3.0)), _cell(32, _flat(2.0), streams=2)])


# --------------------------------------------------------------------------- the recipe rule


def test_choose_recipe_lowest_mean_and_ties_to_the_earlier() -> None:
    worse = check_budget(_column((4.0, 3.5, 3.0)))
    better = check_budget(_column((3.9, 3.4, 2.9)))
    assert choose_recipe([worse, better]) == 1
    assert choose_recipe([better, worse]) == 0
    assert choose_recipe([worse, worse, better]) == 2
    # Within TIE of the best, the candidate listed first wins; beyond it, the best.
    tied = check_budget(_column(tuple(f - 0.8 * TIE for f in (4.0, 3.5, 3.0))))
    assert tied.mean_validation < worse.mean_validation
    assert choose_recipe([worse, tied]) == 0
    clear = check_budget(_column(tuple(f - 1.5 * TIE for f in (4.0, 3.5, 3.0))))
    assert choose_recipe([worse, clear]) == 1
    # A recipe whose budget is judged too small can still be the lowest: the rule is the mean.
    assert choose_recipe([better]) == 0


def test_choose_recipe_refuses_other_sizes_and_no_candidates() -> None:
    three = check_budget(_column((4.0, 3.5, 3.0)))
    two = check_budget(_column((3.0, 2.0), hiddens=(16, 32)))
    with pytest.raises(StudyError, match="same P = 1 sizes"):
        choose_recipe([three, two])
    with pytest.raises(StudyError, match="no candidate"):
        choose_recipe([])


# --------------------------------------------------------------------------- study folders

TRAIN = {"steps": 100, "batch_size": 8, "seq_len": 32, "lr": 0.003}


def _study_folder(
    folder: Path, cells: list[CellResult], law: dict | None = None, prefix_tokens: int = 2
) -> Path:
    """A finished study as `xling parscale study` leaves it: study.json, cells/*/result.json
    and, with `law`, report/summary.json."""
    folder.mkdir(parents=True)
    settings = {"prefix_tokens": prefix_tokens, "train": TRAIN}
    (folder / "study.json").write_text(json.dumps({"identity": {}, "settings": settings}))
    for cell in cells:
        path = folder / "cells" / cell.name / "result.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(cell.to_dict()))
    if law is not None:
        (folder / "report").mkdir()
        (folder / "report" / "summary.json").write_text(json.dumps({"law": law}))
    return folder


def test_study_cells_reads_a_folder_and_refuses_others(tmp_path: Path) -> None:
    cells = [_cell(16, _flat(4.0)), _cell(32, _flat(3.5)), _cell(32, _flat(3.4), streams=2)]
    folder = _study_folder(tmp_path / "s", cells)
    settings, found = study_cells(folder)
    assert settings["train"] == TRAIN
    assert sorted(c.name for c in found) == sorted(c.name for c in cells)
    assert found[0].train_log == next(c for c in cells if c.name == found[0].name).train_log
    with pytest.raises(StudyError, match=r"no study\.json"):
        study_cells(tmp_path)
    (folder / "cells" / "h16-l1-p1" / "result.json").write_text("{not json")
    with pytest.raises(StudyError, match="unreadable study"):
        study_cells(folder)


def test_study_cost_inputs_and_a_cost_bench_of_the_study_shape(tmp_path: Path) -> None:
    cells = [
        _cell(16, _flat(4.0)),
        _cell(32, _flat(3.5)),
        _cell(32, _flat(3.4), streams=2),
        _cell(64, _flat(3.0), streams=2),  # larger, but no P = 1 cell: never the base
    ]
    law = {"k": 0.3, "ci": {"k": [0.1, 0.5]}}
    folder = _study_folder(tmp_path / "study", cells, law=law)
    found = study_cost_inputs(folder)
    shape = {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "intermediate_size": 64,
        "vocab_size": VOCAB,
    }
    assert found == {
        "label": "study:h32-l1",
        "shape": shape,
        "prefix_tokens": 2,
        "k": 0.3,
        "k_ci": (0.1, 0.5),
    }
    small = study_cost_inputs(str(folder), size="h16-l1")
    assert small["shape"]["hidden_size"] == 16 and small["label"] == "study:h16-l1"
    with pytest.raises(XlingError, match="--size h64-l1"):
        study_cost_inputs(folder, size="h64-l1")
    with pytest.raises(XlingError, match=r"summary\.json"):
        study_cost_inputs(_study_folder(tmp_path / "unfitted", cells))
    with pytest.raises(XlingError, match=r"study\.json"):
        study_cost_inputs(tmp_path / "nowhere")
    # A study fitted without a bootstrap has k but no interval.
    no_ci = _study_folder(tmp_path / "no-ci", cells, law={"k": 0.3, "ci": {"k": [None, None]}})
    assert study_cost_inputs(no_ci)["k_ci"] is None
    # A law whose fit failed (k written as null) is refused in one line.
    failed = _study_folder(tmp_path / "failed", cells, law={"k": None, "ci": {"k": [None, None]}})
    with pytest.raises(XlingError, match="no fitted k"):
        study_cost_inputs(failed)

    result = run_cost_bench(
        CostSettings(
            shape=found["label"],
            custom=found["shape"],
            k=found["k"],
            k_ci=found["k_ci"],
            streams=(2,),
            batch_sizes=(1,),
            new_tokens=3,
            prefix_tokens=found["prefix_tokens"],
            device="cpu",
        )
    )
    assert result["settings"]["custom"] == shape
    assert tuple(result["settings"]["k_ci"]) == (0.1, 0.5)
    assert result["settings"]["shape"] == "study:h32-l1"
    kinds = [(r["kind"], r["streams"]) for r in result["rows"]]
    assert kinds == [("base", 1), ("parscale", 2), ("dense", 1)]
    # The base measured is the study's own model: its N is the cell's.
    assert result["rows"][0]["params_non_embedding"] == cells[1].params["backbone_non_embedding"]
    assert result["rows"][0]["params_total"] == cells[1].params["total"]
    out = io.StringIO()
    print_cost(result, Console(file=out, width=300))
    assert "k = 0.3 [0.1, 0.5]" in out.getvalue()


# --------------------------------------------------------------------------- CLI


def test_budget_cli_refuses_a_folder_that_is_not_a_study(tmp_path: Path) -> None:
    proc = run_xling("parscale", "budget", tmp_path)
    one_line_error(proc, str(tmp_path), "study.json")


def test_budget_cli_picks_the_lower_recipe_and_writes_json(tmp_path: Path) -> None:
    first = _study_folder(tmp_path / "lr-3e-3", _column((4.0, 3.5, 3.0)))
    second = _study_folder(
        tmp_path / "lr-1e-3", [_cell(16, _linear(3.9, 0.006)), *_column((3.4, 2.9), (32, 64))]
    )
    out = tmp_path / "budget.json"
    proc = run_xling("parscale", "budget", first, second, "--json", out)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["chosen"] == str(second)
    assert [s["folder"] for s in data["studies"]] == [str(first), str(second)]
    assert [s["enough"] for s in data["studies"]] == [True, False]
    assert data["studies"][1]["smallest_flat"] is False
    assert data["studies"][0]["train"] == TRAIN
    assert "budget enough" in proc.stdout and "budget too small" in proc.stdout
    assert "recipe:" in proc.stdout


def test_budget_cli_refuses_an_unfinished_p1_column(tmp_path: Path) -> None:
    # study.json asks for three sizes; the h64 P = 1 cell has not been trained yet (a
    # --max-minutes stop): a verdict on two sizes would judge another column.
    folder = _study_folder(tmp_path / "partial", _column((4.0, 3.5), (16, 32)))
    marker = folder / "study.json"
    data = json.loads(marker.read_text(encoding="utf-8"))
    data["settings"]["sizes"] = [
        {"hidden": h, "layers": 1, "heads": 2, "kv_heads": 1, "intermediate": 2 * h}
        for h in (16, 32, 64)
    ]
    marker.write_text(json.dumps(data), encoding="utf-8")
    proc = run_xling("parscale", "budget", folder)
    one_line_error(proc, "not finished", "h64-l1")


# --------------------------------------------------------------------------- growing in place

SETS = TINY_STUDY_SETS


@pytest.mark.slow
def test_a_p1_column_first_then_the_grid_grows_in_place(tmp_path: Path) -> None:
    out = str(tmp_path / "study")

    def settings(*extra: str) -> StudySettings:
        return load_study_settings("demo", settings=[*SETS, *extra], out=out, device="cpu")

    # 1. The P = 1 column alone: trained, not fitted.
    column = settings("p_values=[1]")
    printed = io.StringIO()
    study = ParScaleStudy(column, Console(file=printed, width=300))
    assert study.run() is None
    assert "no report" in printed.getvalue() and "two values of P" in printed.getvalue()
    p1 = {shape.name: study.cell_path(shape, 1) for shape in column.sizes}
    assert all(path.is_file() for path in p1.values())
    assert sorted(p.parent.name for p in (tmp_path / "study" / "cells").glob("*/result.json")) == [
        "h16-l1-p1",
        "h32-l1-p1",
    ]
    assert not (tmp_path / "study" / "report").exists()
    with pytest.raises(StudyError, match="no report"):
        study.write_report()
    stamps = {name: path.stat().st_mtime_ns for name, path in p1.items()}

    # 2. The other P in the same folder: the P = 1 cells are kept, the report is written.
    grid = settings("p_values=[1,2,3]")
    report = ParScaleStudy(grid, Console(file=io.StringIO())).run()
    assert report == tmp_path / "study" / "report"
    assert {name: path.stat().st_mtime_ns for name, path in p1.items()} == stamps
    assert len(list((tmp_path / "study" / "cells").glob("*/result.json"))) == 6
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert len(summary["cells"]) == 6
    # Three steps log once, at step 3: too few entries to judge the budget by, and the
    # report says why instead of failing.
    assert isinstance(summary["budget"], str) and "training log" in summary["budget"]
    assert "Is the budget enough?" in (report / "report.md").read_text(encoding="utf-8")
    identity = json.loads((tmp_path / "study" / "study.json").read_text())["identity"]
    assert "sizes" not in identity and "p_values" not in identity

    # 3. Settings that change what is learned are still refused.
    with pytest.raises(StudyError, match="other settings"):
        ParScaleStudy(settings("p_values=[1,2,3]", "train.lr=0.01")).run()

    # 4. A study.json from before grids could grow (its identity names the grid) continues.
    marker = tmp_path / "study" / "study.json"
    old = json.loads(marker.read_text(encoding="utf-8"))
    old["identity"]["sizes"] = old["settings"]["sizes"]
    old["identity"]["p_values"] = [1, 2, 3]
    marker.write_text(json.dumps(old), encoding="utf-8")
    cell = study.cell_path(grid.sizes[1], 3)
    stamp = cell.stat().st_mtime_ns
    assert ParScaleStudy(grid, Console(file=io.StringIO())).run(report=False) is None
    assert cell.stat().st_mtime_ns == stamp
    assert "sizes" not in json.loads(marker.read_text(encoding="utf-8"))["identity"]

    # 5. The cost bench's inputs from the grown study: its largest P = 1 model.
    found = study_cost_inputs(tmp_path / "study")
    largest = json.loads(p1["h32-l1"].read_text(encoding="utf-8"))
    assert found["label"] == "study:h32-l1" and found["prefix_tokens"] == 2
    assert found["shape"]["hidden_size"] == 32
    assert found["shape"]["vocab_size"] * 32 == largest["params"]["embedding"]
    assert found["k"] == pytest.approx(summary["law"]["k"])
