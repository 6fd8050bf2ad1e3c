"""The loop's core promises: it learns, it is reproducible, it stops, diverges and resumes correctly."""

from __future__ import annotations

import math
import time

import pytest

from tests.training.conftest import StopAfter, make_config
from workers.training.engine import train
from workers.training.reporter import NullReporter

EPOCH_KEYS = {"epoch", "train_loss", "val_loss", "val_accuracy", "val_nll", "train_accuracy", "lr", "epoch_time"}


def curves(reporter: NullReporter) -> list[tuple]:
    """Every logged point except wall-clock times, which never repeat."""
    return [p for p in reporter.points if p[1] != "epoch_time"]


def test_it_lowers_the_training_loss_on_digits(reporter):
    result = train(make_config(), reporter)
    losses = reporter.series("train_loss")
    assert result.status == "completed" and result.epochs_run == 2
    assert losses[1] < losses[0]
    assert result.final["val_accuracy"] > 0.8
    assert result.final["baseline_val_loss"] == pytest.approx(2.30, abs=0.01)  # ln 10: ten balanced classes


def test_it_logs_the_epoch_metrics_and_sampled_steps(reporter):
    result = train(make_config(), reporter)
    epoch_points = [p for p in reporter.points if p[3] == 1]
    keys = {k for _, k, _, _ in epoch_points}
    assert keys >= EPOCH_KEYS
    assert {"grad_norm/blocks.0", "grad_norm/head", "baseline_val_loss"} <= keys
    assert {p[0] for p in epoch_points} == {result.steps_per_epoch}
    step_points = [p for p in reporter.points if p[1] == "train_loss_step"]
    assert len(step_points) == 2 * result.steps_per_epoch  # 23 steps per epoch: each is sampled
    assert result.steps == 2 * result.steps_per_epoch


def test_long_epochs_report_every_nth_step_and_the_last(reporter):
    # 1,437 training rows at batch 7: 206 steps (the trailing 2 rows make the last), 50 samples → every 4th.
    result = train(make_config(batch_size=7, epochs=1, model={"dropout": 0.0}), reporter)
    assert result.steps_per_epoch == 206
    step_points = [p for p in reporter.points if p[1] == "train_loss_step"]
    assert [p[0] for p in step_points] == [*range(4, 205, 4), 206]
    assert all(math.isfinite(p[2]) and p[2] > 0 for p in step_points)
    # Step losses are read back in bulk, but each reported value is its own step's, not the bulk's last one.
    assert len({p[2] for p in step_points}) == len(step_points)


def test_it_reproduces_the_same_curves_for_the_same_seed():
    first, second, other = NullReporter(), NullReporter(), NullReporter()
    train(make_config(), first)
    train(make_config(), second)
    train(make_config(seed=1), other)
    assert curves(first) == curves(second)
    assert curves(first) != curves(other)


def test_it_ends_as_diverged_with_the_step_when_the_loss_blows_up(reporter):
    config = make_config(
        dataset={"name": "diabetes"},
        loss={"name": "mse"},
        optimizer={"name": "sgd", "lr": 10.0},
        model={"hidden": [64], "batchnorm": False, "dropout": 0.0},
        batch_size=16,
        epochs=5,
    )
    result = train(config, reporter)
    assert result.status == "diverged"
    assert result.diverged_step is not None and result.diverged_step >= 1
    assert f"at step {result.diverged_step}" in result.message
    # Step losses are read back in bulk; every finite one before the blow-up is still reported (fewer than
    # 50 steps an epoch: each is), and the reported step is the first non-finite one.
    steps = [p[0] for p in reporter.points if p[1] == "train_loss_step"]
    assert steps == list(range(1, result.diverged_step))


def test_it_stops_within_one_batch_when_asked():
    reporter = StopAfter(batches=5)
    result = train(make_config(), reporter)
    assert result.status == "stopped"
    assert result.steps == 5
    assert reporter.calls == 6
    assert [p[0] for p in reporter.points if p[1] == "train_loss_step"] == [1, 2, 3, 4, 5]  # read back at the stop


def test_a_resumed_run_reproduces_the_uninterrupted_curves(tmp_path):
    config = make_config(epochs=4, model={"hidden": [32], "dropout": 0.3})
    whole = NullReporter()
    train(config, whole, checkpoint_dir=tmp_path / "whole")

    steps = None
    interrupted = StopAfter(batches=10**9)
    probe = train(make_config(epochs=1), NullReporter())
    steps = probe.steps_per_epoch
    interrupted.batches = 2 * steps + 3  # stop three batches into epoch 3
    first = train(config, interrupted, checkpoint_dir=tmp_path / "split")
    assert first.status == "stopped" and first.epochs_run == 2
    # The stop itself checkpoints at its exact step, three batches into epoch 3.
    assert interrupted.checkpoints == [(1, steps), (2, 2 * steps), (2, 2 * steps + 3)]

    interrupted.batches = 10**9
    result = train(config, interrupted, checkpoint_dir=tmp_path / "split")
    assert interrupted.resumed_from == (2, 2 * steps + 3)
    assert result.status == "completed" and result.epochs_run == 4
    assert curves(interrupted) == curves(whole)


def test_a_diverged_run_flags_exploding_gradients(reporter):
    config = make_config(
        dataset={"name": "diabetes"},
        loss={"name": "mse"},
        optimizer={"name": "sgd", "lr": 10.0},
        model={"hidden": [64], "batchnorm": False, "dropout": 0.0},
        batch_size=16,
        epochs=5,
    )
    result = train(config, reporter)
    assert result.status == "diverged" and result.grad_health == "exploding"


class EpochClock:
    """A clock that moves one second per finished epoch, standing in for `time` inside the engine."""

    perf_counter = staticmethod(time.perf_counter)

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now


def test_checkpoints_are_spaced_by_time_not_written_after_every_tiny_epoch(tmp_path, monkeypatch):
    from workers.training import checkpoint

    clock = EpochClock()
    monkeypatch.setattr(checkpoint, "time", clock)

    class Ticking(NullReporter):
        def log_metrics(self, step, metrics, *, epoch=None):
            super().log_metrics(step, metrics, epoch=epoch)
            if epoch is not None:
                clock.now += 1.0

    config = make_config(epochs=5, model={"hidden": [16]})
    every_two = Ticking()
    train(config, every_two, checkpoint_dir=tmp_path / "a", checkpoint_every_s=2.0)
    assert [epoch for epoch, _ in every_two.checkpoints] == [2, 4]
    every_epoch = Ticking()
    train(config, every_epoch, checkpoint_dir=tmp_path / "b")
    assert [epoch for epoch, _ in every_epoch.checkpoints] == [1, 2, 3, 4, 5]
