"""Checkpoints are written in the background: training goes on meanwhile, and nothing is claimed too early."""

from __future__ import annotations

import threading

import pytest

from tests.training.conftest import make_config
from workers.training import checkpoint
from workers.training.engine import train
from workers.training.reporter import NullReporter


class Journal(NullReporter):
    """Records, in order, every epoch's end and every checkpoint the reporter is told is on disk."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, int]] = []

    def log_metrics(self, step, metrics, *, epoch=None):
        super().log_metrics(step, metrics, epoch=epoch)
        if epoch is not None:
            self.events.append(("epoch", epoch))

    def before_checkpoint(self, *, epoch, step):
        self.events.append(("flush", epoch))

    def on_checkpoint(self, *, epoch, step):
        super().on_checkpoint(epoch=epoch, step=step)
        self.events.append(("on disk", epoch))


def test_training_goes_on_while_a_checkpoint_is_written(tmp_path, monkeypatch):
    # The first write is held back until epoch 2 has ended: with the write in the training thread, epoch 2
    # could not start, and the test fails on the timeout below rather than hang.
    release, write = threading.Event(), checkpoint.write
    writes: list[int] = []

    def slow_write(checkpoint_dir, data):
        if not writes:
            assert release.wait(timeout=10), "training waited for the disk"
        writes.append(len(data))
        return write(checkpoint_dir, data)

    class Releasing(Journal):
        def log_metrics(self, step, metrics, *, epoch=None):
            super().log_metrics(step, metrics, epoch=epoch)
            if epoch == 2:
                release.set()

    monkeypatch.setattr(checkpoint, "write", slow_write)
    reporter = Releasing()
    train(make_config(epochs=4, model={"hidden": [16]}), reporter, checkpoint_dir=tmp_path, checkpoint_every_s=0)
    assert reporter.events.index(("epoch", 2)) < reporter.events.index(("on disk", 1))
    assert [epoch for epoch, _ in reporter.checkpoints] == [1, 2, 3, 4]  # each said once, in order
    assert checkpoint.load(tmp_path)["loop"]["epoch"] == 4  # the last one is on disk when train() returns


def test_a_checkpoint_is_announced_only_once_it_is_on_disk(tmp_path):
    reporter = Journal()
    train(make_config(epochs=3, model={"hidden": [16]}), reporter, checkpoint_dir=tmp_path, checkpoint_every_s=0)
    announced = [epoch for kind, epoch in reporter.events if kind == "on disk"]
    assert announced == [1, 2, 3]
    for kind, epoch in reporter.events:  # never before its own epoch has ended
        if kind == "on disk":
            assert ("epoch", epoch) in reporter.events[: reporter.events.index((kind, epoch))]
    # ... and before the next checkpoint's points are flushed, so that what the reporter has stored when it
    # hears of a checkpoint ends where that checkpoint does.
    checkpoint_events = [e for e in reporter.events if e[0] != "epoch"]
    assert checkpoint_events == [
        ("flush", 1),
        ("on disk", 1),
        ("flush", 2),
        ("on disk", 2),
        ("flush", 3),
        ("on disk", 3),
    ]


def test_a_failed_write_fails_the_run(tmp_path, monkeypatch):
    def full_disk(checkpoint_dir, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        train(
            make_config(epochs=3, model={"hidden": [16]}), NullReporter(), checkpoint_dir=tmp_path, checkpoint_every_s=0
        )
