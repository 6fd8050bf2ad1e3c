"""What the training loop talks to. The loop never knows where metrics go."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def log_metrics(self, step: int, metrics: dict[str, float], *, epoch: int | None = None) -> None:
        """Record metric values at a global optimizer step (epoch-level metrics pass `epoch`)."""

    def should_stop(self) -> bool:
        """True when the run must stop now (cancel, drain, lost lease). Called every batch: keep it cheap."""

    def before_checkpoint(self, *, epoch: int, step: int) -> None:
        """A checkpoint for the end of `epoch` (global `step`) is about to be written: make every point
        reported so far durable first, since a run resumed from it re-records only what comes after `step`."""

    def on_checkpoint(self, *, epoch: int, step: int) -> None:
        """A checkpoint for the end of `epoch` (global `step`) has been written atomically."""

    def on_resume(self, *, epoch: int, step: int) -> None:
        """Training resumes after `epoch`/`step`; anything recorded after `step` is stale."""


class NullReporter:
    """Reporter for plain scripts and tests: keeps every point in memory."""

    def __init__(self) -> None:
        self.points: list[tuple[int, str, float, int | None]] = []
        self.checkpoints: list[tuple[int, int]] = []
        self.resumed_from: tuple[int, int] | None = None
        self.stop = False

    def log_metrics(self, step: int, metrics: dict[str, float], *, epoch: int | None = None) -> None:
        self.points.extend((step, key, float(value), epoch) for key, value in metrics.items())

    def should_stop(self) -> bool:
        return self.stop

    def before_checkpoint(self, *, epoch: int, step: int) -> None:
        pass  # the points are in memory already

    def on_checkpoint(self, *, epoch: int, step: int) -> None:
        self.checkpoints.append((epoch, step))

    def on_resume(self, *, epoch: int, step: int) -> None:
        self.resumed_from = (epoch, step)
        self.points = [p for p in self.points if p[0] <= step]

    def series(self, key: str) -> list[float]:
        return [value for _, k, value, _ in self.points if k == key]
