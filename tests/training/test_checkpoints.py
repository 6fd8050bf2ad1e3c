"""Checkpoints are bound to their run, attempt and config; a stop mid-epoch resumes at that very step."""

from __future__ import annotations

import shutil

import pytest

from tests.training.conftest import StopAfter, make_config
from workers.training import checkpoint
from workers.training.engine import train
from workers.training.reporter import NullReporter


def curves(reporter: NullReporter) -> list[tuple]:
    """Every logged point except wall-clock times, which never repeat."""
    return [p for p in reporter.points if p[1] != "epoch_time"]


def owner(attempt: int, run: str = "run-a", config=None) -> checkpoint.Owner:
    config = config or make_config(epochs=3)
    return {"run": run, "attempt": attempt, "config_hash": checkpoint.config_hash(config.canonical_json())}


# Dropout and batch norm: a resumed epoch must replay the same masks and running statistics.
CONFIG = make_config(epochs=3, batch_size=32, model={"hidden": [32], "dropout": 0.3, "batchnorm": True})


def test_a_stop_mid_epoch_resumes_at_that_step_and_ends_identical_to_an_uninterrupted_run(tmp_path):
    whole = NullReporter()
    train(CONFIG, whole)
    steps = train(make_config(epochs=1, batch_size=32), NullReporter()).steps_per_epoch

    split = StopAfter(batches=steps + 7)  # seven batches into epoch 2, between the epoch checkpoints
    first = train(CONFIG, split, checkpoint_dir=tmp_path, owner=owner(1, config=CONFIG))
    assert first.status == "stopped" and first.steps == steps + 7
    assert split.checkpoints[-1] == (1, steps + 7)
    paused = checkpoint.load(tmp_path)["loop"]["in_epoch"]  # the data order and position travel with it
    assert paused["epoch"] == 2 and paused["position"] == 7 and len(paused["losses"]) == 7
    assert sorted(paused["order"].tolist()) == list(range(len(paused["order"])))

    split.batches = 10**9
    result = train(CONFIG, split, checkpoint_dir=tmp_path, owner=owner(2, config=CONFIG))
    assert split.resumed_from == (1, steps + 7)  # no step redone
    assert result.status == "completed" and result.steps == 3 * steps
    assert curves(split) == curves(whole)  # train_loss, train_accuracy, grad norms of epoch 2 included
    assert {k for _, k, _, e in split.points if e == 2} >= {"train_loss", "train_accuracy", "val_loss"}


def test_an_attempt_resumes_only_its_own_run_s_checkpoint_from_an_older_attempt(tmp_path):
    config, other_config = make_config(epochs=3), make_config(epochs=3, seed=1)
    stopper = StopAfter(batches=30)
    train(config, stopper, checkpoint_dir=tmp_path / "old", owner=owner(1))
    assert stopper.checkpoints

    cases = [
        (config, owner(1)),  # the same attempt (a zombie's late file): not older
        (config, owner(2, run="run-b")),  # a run id reused after a database reset: another uid
        (other_config, owner(2, config=other_config)),  # same folder, another config: started clean, not failed
        (config, owner(2)),  # the next attempt of the same run and config: resumed
    ]
    resumed = []
    for i, (cfg, who) in enumerate(cases):
        folder = tmp_path / f"case{i}"
        shutil.copytree(tmp_path / "old", folder)
        reporter = NullReporter()
        assert train(cfg, reporter, checkpoint_dir=folder, owner=who).status == "completed"
        resumed.append(reporter.resumed_from)
    assert resumed == [None, None, None, (stopper.checkpoints[-1])]


@pytest.mark.parametrize(
    "stored, reason",
    [
        (None, "records no owner"),
        ({"run": "other", "attempt": 1, "config_hash": "h"}, "belongs to run other"),
        ({"run": "r", "attempt": 1, "config_hash": "x"}, "different config"),
        ({"run": "r", "attempt": 3, "config_hash": "h"}, "attempt 3, not older than attempt 3"),
    ],
)
def test_the_refusal_names_why_a_checkpoint_is_not_resumed(stored, reason):
    assert reason in checkpoint.refusal(stored, {"run": "r", "attempt": 3, "config_hash": "h"})
    assert (
        checkpoint.refusal(
            {"run": "r", "attempt": 2, "config_hash": "h"}, {"run": "r", "attempt": 3, "config_hash": "h"}
        )
        is None
    )
