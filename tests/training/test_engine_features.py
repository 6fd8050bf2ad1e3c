"""Engine features: early stopping, gradient health, precision, checkpoints on disk, every loss end to end."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from tests.training.conftest import make_config
from workers.training import checkpoint
from workers.training.config import RunConfig
from workers.training.engine import OutOfMemory, _Run, train
from workers.training.health import classify
from workers.training.reporter import NullReporter


def test_early_stopping_restores_the_best_weights():
    config = make_config(
        dataset={"name": "iris"},
        epochs=40,
        batch_size=8,
        optimizer={"lr": 0.05},
        model={"hidden": [64], "dropout": 0.0},
        regularization={"early_stopping_patience": 3},
    )
    reporter = NullReporter()
    result = train(config, reporter)
    assert result.epochs_run < 40 and result.best_epoch == result.epochs_run - 3
    assert "early stopping" in result.message
    assert result.best_val_loss == min(reporter.series("val_loss"))
    # The returned model holds the best epoch's weights, not the last epoch's.
    run = _Run(config, NullReporter(), None)
    run.model.load_state_dict(result.model.state_dict())
    assert run.evaluate()["val_loss"] == pytest.approx(result.best_val_loss, rel=1e-6)
    assert result.final["val_loss"] != pytest.approx(result.best_val_loss)


def test_without_early_stopping_every_epoch_runs_and_the_best_is_recorded(reporter):
    result = train(make_config(epochs=3), reporter)
    val = reporter.series("val_loss")
    assert result.epochs_run == 3 and result.best_val_loss == min(val)
    assert result.best_epoch == val.index(min(val)) + 1 and result.best["val_loss"] == min(val)


def test_vanishing_gradients_are_flagged_in_a_deep_sigmoid_net(reporter):
    config = make_config(
        epochs=1, model={"hidden": [32] * 8, "dropout": 0.0, "batchnorm": False, "activation": "sigmoid"}
    )
    result = train(config, reporter)
    assert result.grad_health == "vanishing" and reporter.series("grad_vanishing") == [1.0]
    assert result.final["grad_norm/blocks.0"] < 1e-4 * result.final["grad_norm/head"]


def test_a_healthy_run_is_ok(reporter):
    result = train(make_config(epochs=1), reporter)
    assert result.grad_health == "ok" and reporter.series("grad_exploding") == [0.0]


@pytest.mark.parametrize(
    "norms,verdict",
    [
        ([1.0, 0.5], "ok"),
        ([1e-6, 1.0], "vanishing"),
        ([1e-9, 1e-9], "vanishing"),
        ([5e3, 1.0], "exploding"),
        ([float("nan"), 1.0], "exploding"),
    ],
)
def test_gradient_health_thresholds(norms, verdict):
    assert classify(norms) == verdict


def test_mixed_precision_is_ignored_on_the_cpu():
    fp32, bf16 = NullReporter(), NullReporter()
    train(make_config(epochs=1), fp32)
    train(make_config(epochs=1, precision="bf16"), bf16)
    assert fp32.series("val_loss") == bf16.series("val_loss")


def test_the_checkpoint_loads_safely_and_carries_the_run_state(tmp_path, reporter):
    config = make_config(epochs=2, regularization={"early_stopping_patience": 5})
    train(config, reporter, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / checkpoint.FILENAME, weights_only=True)
    assert RunConfig.model_validate(json.loads(state["config"])) == config
    assert state["loop"]["epoch"] == 2 and state["loop"]["step"] == reporter.checkpoints[-1][1]
    assert {"model", "optimizer", "schedule", "rng", "best_weights"} <= set(state)
    assert {"torch", "numpy", "python"} <= set(state["rng"])
    assert not list(tmp_path.glob("*.tmp"))  # the temp file was renamed into place


def test_a_finished_run_resumed_does_not_train_again(tmp_path):
    config = make_config(epochs=2)
    first = train(config, NullReporter(), checkpoint_dir=tmp_path)
    again_reporter = NullReporter()
    again = train(config, again_reporter, checkpoint_dir=tmp_path)
    assert again.status == "completed" and again.steps == first.steps
    assert again.final == first.final and not again_reporter.points


@pytest.mark.parametrize(
    "dataset,loss,metric,floor",
    [
        ("breast_cancer", {"name": "bce"}, "val_accuracy", 0.85),
        ("wine", {"name": "focal", "focal_gamma": 2.0}, "val_accuracy", 0.8),
        ("wine", {"name": "cross_entropy", "label_smoothing": 0.1}, "val_accuracy", 0.8),
        ("synthetic_regression", {"name": "huber"}, "val_r2", 0.3),
        ("synthetic_regression", {"name": "mae"}, "val_r2", 0.3),
    ],
)
def test_each_loss_trains_its_task(dataset, loss, metric, floor):
    config = make_config(
        dataset={"name": dataset, "n_samples": 400},
        loss=loss,
        epochs=5,
        batch_size=16,
        model={"hidden": [32], "dropout": 0.0},
    )
    result = train(config, NullReporter())
    assert result.final[metric] > floor, result.final


def test_regression_runs_report_rmse_mae_and_r2(reporter):
    config = make_config(dataset={"name": "diabetes"}, loss={"name": "mse"}, epochs=1)
    result = train(config, reporter)
    assert {"val_rmse", "val_mae", "val_r2"} <= set(result.final) and "val_accuracy" not in result.final
    assert result.final["baseline_val_loss"] == pytest.approx(1.0, abs=0.3)  # the mean predicts with MSE ≈ var = 1


def test_a_checkpoint_of_another_config_is_refused(tmp_path):
    train(make_config(epochs=1), NullReporter(), checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="different run config"):
        train(make_config(epochs=1, seed=3), NullReporter(), checkpoint_dir=tmp_path)


def test_the_result_serialises_without_the_model(reporter):
    result = train(make_config(epochs=1), reporter)
    record = dataclasses.asdict(result)
    assert "model" not in record and json.dumps(record)
    assert isinstance(result.model, torch.nn.Module)


def test_running_out_of_memory_says_what_to_change(monkeypatch):
    from workers.training import models

    def exhausted(self, x):
        raise torch.OutOfMemoryError("CUDA out of memory")  # no GPU here: the error is raised by hand

    monkeypatch.setattr(models.MLP, "forward", exhausted)
    with pytest.raises(OutOfMemory, match="out of memory.*lower the batch size") as caught:
        train(make_config(epochs=1), NullReporter())
    assert isinstance(caught.value, torch.OutOfMemoryError)  # callers catching torch's error still do
