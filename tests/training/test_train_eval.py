"""The training split measured like val: eval mode, no_grad, the same fixed sample of rows every epoch."""

from __future__ import annotations

import torch

from tests.training.conftest import StopAfter, make_config
from workers.training import checkpoint, engine
from workers.training.engine import train
from workers.training.reporter import NullReporter


def epoch_values(reporter: NullReporter, key: str) -> list[float]:
    return [v for _, k, v, epoch in reporter.points if k == key and epoch is not None]


def test_every_epoch_reports_the_eval_mode_loss_and_metrics_of_a_training_sample(reporter):
    result = train(make_config(epochs=2), reporter)
    for key in ("train_eval_loss", "train_eval_accuracy", "train_eval_nll", "train_loss", "val_loss"):
        assert len(epoch_values(reporter, key)) == 2, key
    assert 0.0 <= result.final["train_eval_accuracy"] <= 1.0
    assert result.best["train_eval_loss"] == epoch_values(reporter, "train_eval_loss")[result.best_epoch - 1]


def test_regression_runs_report_the_training_sample_in_target_units(reporter):
    config = make_config(dataset={"name": "diabetes"}, loss={"name": "mse"}, epochs=2)
    result = train(config, reporter)
    assert {"train_eval_loss", "train_eval_rmse", "train_eval_mae", "train_eval_r2"} <= set(result.final)
    assert result.final["train_eval_rmse"] > 1.0  # in the target's units (tens), not the standardised ones


def test_with_dropout_the_running_train_loss_is_above_the_eval_mode_one(reporter):
    # Dropout 0.5 handicaps the training-mode forward passes the running loss is the mean of; measured like
    # val, on the same weights without dropout, the training rows fit better.
    config = make_config(model={"hidden": [128], "dropout": 0.5, "batchnorm": True}, epochs=4, optimizer={"lr": 0.003})
    train(config, reporter)
    running, measured = epoch_values(reporter, "train_loss"), epoch_values(reporter, "train_eval_loss")
    assert len(measured) == len(running) == 4
    assert all(r > m * 1.5 for r, m in zip(running, measured)), (running, measured)


def test_the_sample_is_the_same_rows_every_epoch(reporter):
    # Weights that cannot move (a learning rate far below float32's resolution), no batch norm statistics:
    # the model is the same every epoch, so only a change of rows could change the sample's loss.
    config = make_config(
        model={"hidden": [32], "dropout": 0.5, "batchnorm": False}, epochs=3, optimizer={"name": "sgd", "lr": 1e-12}
    )
    train(config, reporter)
    measured, running = epoch_values(reporter, "train_eval_loss"), epoch_values(reporter, "train_loss")
    assert measured[0] == measured[1] == measured[2]
    assert len(set(running)) == 3  # dropout masks and shuffles still differ from epoch to epoch


def test_the_rows_depend_on_the_seed_only_and_their_number_is_capped():
    a, b = engine.train_eval_rows(1437, 360, seed=0), engine.train_eval_rows(1437, 360, seed=1)
    assert torch.equal(a, engine.train_eval_rows(1437, 360, seed=0)) and not torch.equal(a, b)
    assert len(a) == engine.TRAIN_EVAL_MIN and len(set(a.tolist())) == len(a) and int(a.max()) < 1437
    assert len(engine.train_eval_rows(48_000, 12_000, seed=0)) == 48_000 // engine.TRAIN_EVAL_SHARE
    assert len(engine.train_eval_rows(120, 30, seed=0)) == 30  # never more than val has


def test_choosing_the_rows_draws_nothing_from_the_training_random_streams():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    engine.train_eval_rows(1437, 360, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_a_resumed_run_keeps_the_rows_it_started_with(tmp_path, monkeypatch):
    config = make_config(epochs=3, model={"hidden": [32], "dropout": 0.3})
    whole = NullReporter()
    train(config, whole, checkpoint_dir=tmp_path / "whole")

    steps = train(make_config(epochs=1), NullReporter()).steps_per_epoch
    interrupted = StopAfter(batches=steps + 2)  # stops in epoch 2, after the checkpoint of epoch 1
    assert train(config, interrupted, checkpoint_dir=tmp_path / "split").status == "stopped"
    saved = checkpoint.load(tmp_path / "split")["train_eval_rows"]
    assert torch.equal(saved, engine.train_eval_rows(1437, 360, seed=config.seed))

    # Even if the rule that picks the rows changed meanwhile (an upgraded worker), the run goes on with its own.
    monkeypatch.setattr(engine, "train_eval_rows", lambda n_train, n_val, seed: torch.arange(7))
    interrupted.batches = 10**9
    train(config, interrupted, checkpoint_dir=tmp_path / "split")
    assert interrupted.resumed_from == (1, steps + 2)  # the stop checkpointed at its exact step
    assert epoch_values(interrupted, "train_eval_loss") == epoch_values(whole, "train_eval_loss")
