"""The worker's DbReporter: writes by time, not by epoch, and never lets a checkpoint get ahead of the
stored points (a resumed run re-records only what comes after its checkpoint)."""

from __future__ import annotations

from experiments import queue
from experiments.metric_store import read_series
from tests.helpers import tiny_config
from tests.queue.conftest import launch, reload
from workers.runner import DbReporter
from workers.training.config import RunConfig
from workers.training.engine import train


class Watched(DbReporter):
    """Counts writes, and checks the database at each checkpoint the engine writes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.writes = 0
        self.stored_at_checkpoint: list[tuple[int, list[int]]] = []

    def flush(self) -> None:
        self.writes += 1
        super().flush()

    def on_checkpoint(self, *, epoch: int, step: int) -> None:
        super().on_checkpoint(epoch=epoch, step=step)
        epochs = read_series([self.run_id]).get(self.run_id, {}).get("epoch")
        self.stored_at_checkpoint.append((epoch, [] if epochs is None else epochs.values.astype(int).tolist()))


def claimed(experiment, config):
    launch(experiment, config)
    run = queue.run_claim_next(worker_name="w1")
    return run, RunConfig.model_validate(run.config)


def test_every_point_up_to_a_checkpoint_is_stored_before_the_checkpoint_exists(experiment, settings, tmp_path):
    settings.METRIC_FLUSH_S = 3600  # no write by time: only the ones a checkpoint forces
    run, config = claimed(experiment, tiny_config(epochs=4))
    reporter = Watched(run.pk, run.attempt, config.task)
    result = train(config, reporter, checkpoint_dir=tmp_path, checkpoint_every_s=0)
    assert reporter.stored_at_checkpoint == [(1, [1]), (2, [1, 2]), (3, [1, 2, 3]), (4, [1, 2, 3, 4])]
    # The first point is written at once (the page shows the run started), then one write per checkpoint.
    assert reporter.writes == 1 + 4
    assert reload(run).epoch == 4 and reload(run).checkpoint_step == result.steps == 4 * result.steps_per_epoch


def test_short_epochs_share_one_write_instead_of_one_each(experiment, settings):
    settings.METRIC_FLUSH_S = 3600
    run, config = claimed(experiment, tiny_config(epochs=10))
    reporter = Watched(run.pk, run.attempt, config.task)
    train(config, reporter)  # no checkpoint directory: nothing forces a write
    assert reporter.writes == 1, "each epoch paid for its own transaction"
    reporter.flush()  # what the worker does when the run ends
    series = read_series([run.pk])[run.pk]
    assert series["epoch"].values.tolist() == list(range(1, 11))
    assert reload(run).summary["best_epoch"] in range(1, 11)
