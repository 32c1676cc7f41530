"""A GRPO step's time split by phase: sums over micro-batches, rollouts taken out of the
loss phase, one figure per phase per optimizer step, the fastest and slowest process's; and
the collector kept off the objects that live through a training."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from xling.train.phases import PHASES, PhaseClock, phase_key, phase_seconds


def fake_trainer(training: bool = True, ranks: int = 1) -> SimpleNamespace:
    # A stand-in for a gather over `ranks` processes, rank r taking (r + 1) times as long.
    def gather(mine: torch.Tensor) -> torch.Tensor:
        return torch.cat([mine * (r + 1) for r in range(ranks)])

    return SimpleNamespace(
        accelerator=SimpleNamespace(device=torch.device("cpu"), num_processes=ranks, gather=gather),
        model=SimpleNamespace(training=training),
        _metrics={"train": defaultdict(list)},
    )


class FakeClock:
    """`time.perf_counter` for the phase clock, moved only by `sleep`: phase sums are then
    exact, and the test asserts them without depending on how busy the machine is."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CLOCK = FakeClock()


@pytest.fixture(autouse=True)
def fake_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import xling.train.phases as phases

    monkeypatch.setattr(phases, "time", SimpleNamespace(perf_counter=CLOCK))


def sleep(seconds: float) -> float:
    CLOCK.now += seconds
    return seconds


def test_phases_sum_over_micro_batches_and_rollouts_leave_the_loss() -> None:
    trainer = fake_trainer()
    clock = PhaseClock(trainer)

    def micro_step(with_rollout: bool) -> None:
        if with_rollout:  # TRL generates once per generation batch, inside a training_step
            clock.timed("rollout", lambda: clock.timed("generation", sleep, 0.05) + sleep(0.02))
        sleep(0.03)  # forward and backward

    for _ in range(2):  # two optimizer steps, each of two accumulated micro-batches
        clock.on_step_begin(None, None, None)
        clock.timed("training_step", micro_step, True)
        clock.timed("training_step", micro_step, False)
        sleep(0.01)  # clipping and the optimizer
        clock.on_step_end(None, None, None)

    metrics = trainer._metrics["train"]
    assert {k for k in metrics} == {phase_key(p) for p in PHASES if p != "scoring"}
    for key in metrics:
        assert len(metrics[key]) == 2, key  # one figure per optimizer step
    step = phase_seconds({k: v[0] for k, v in metrics.items()})
    assert step["generation"] == pytest.approx(0.05)
    assert step["rollout"] == pytest.approx(0.07)
    assert step["loss"] == pytest.approx(0.06)  # both micro-batches, no rollout
    assert step["optimizer"] == pytest.approx(0.01)
    assert step["step"] == pytest.approx(step["rollout"] + step["loss"] + step["optimizer"])


def test_several_processes_log_the_fastest_and_the_slowest() -> None:
    trainer = fake_trainer(ranks=3)
    clock = PhaseClock(trainer)
    clock.on_step_begin(None, None, None)
    clock.timed("training_step", clock.timed, "rollout", sleep, 0.02)
    clock.on_step_end(None, None, None)
    metrics = trainer._metrics["train"]
    for phase in ("rollout", "loss", "optimizer", "step"):
        mine = metrics[phase_key(phase)][0]
        assert metrics[phase_key(phase, "min")] == [pytest.approx(mine)]
        assert metrics[phase_key(phase, "max")] == [pytest.approx(3 * mine)]
    assert phase_key("generation", "max") not in metrics  # no phase a step did not have


def test_evaluation_is_not_charged_to_a_step() -> None:
    trainer = fake_trainer(training=False)
    clock = PhaseClock(trainer)
    assert clock.timed("generation", sleep, 0.0) == 0.0
    assert not trainer._metrics["train"]


def test_training_keeps_what_lives_before_it_out_of_full_collections() -> None:
    import gc

    from xling.train.common import collector_skips_what_lives_now

    before = gc.get_freeze_count()
    with collector_skips_what_lives_now():
        assert gc.get_freeze_count() > before + 1000  # this test process's modules at least
    assert gc.get_freeze_count() == before
