"""Test data for the compare/rank pages: runs with synthetic metric histories in the real metric store."""

from __future__ import annotations

from experiments import metric_store
from experiments.models import Run
from experiments.services import run_launch
from tests.helpers import tiny_config

CLASSIFY = {"dataset": {"name": "iris"}}


def make_run(
    experiment,
    *,
    status: str = "succeeded",
    epochs: int = 5,
    steps_per_epoch: int = 10,
    score: float | None = 0.9,
    verdict: str = "",
    history: bool = True,
    name: str = "",
    val_curve=None,
    **config,
) -> Run:
    """A run of `tiny_config(**config)` with `epochs` of history written through `metric_store.write_points`."""
    cfg = tiny_config(epochs=epochs, **config)
    run = run_launch(experiment=experiment, user=experiment.created_by, config=cfg, name=name)
    points = []
    if history:
        points = epoch_points(epochs, steps_per_epoch, val_curve=val_curve, accuracy=score)
        metric_store.write_points(run.pk, points)
    best = {"val_loss": 0.5, "val_accuracy": score, "val_nll": 0.5} if score is not None else {"val_loss": 0.5}
    summary = {"best": best, "final": dict(best), "best_epoch": epochs}
    Run.objects.filter(pk=run.pk).update(
        status=status, summary=summary, verdict=verdict, epoch=epochs, step=epochs * steps_per_epoch
    )
    run.refresh_from_db()
    return run


def epoch_points(epochs: int, steps_per_epoch: int, *, val_curve=None, accuracy: float | None = 0.9, t0=1000.0):
    """Per-step train_loss_step and per-epoch keys logged at the epoch's last step, with an `epoch` key."""
    points = []
    for e in range(1, epochs + 1):
        for i in range(1, steps_per_epoch + 1):
            step = (e - 1) * steps_per_epoch + i
            points.append((step, "train_loss_step", 1.0 / step, t0 + step))
        step = e * steps_per_epoch
        val = val_curve(e) if val_curve else 1.0 / e + 0.1
        points += [
            (step, "epoch", float(e), t0 + step),
            (step, "train_loss", 1.0 / e, t0 + step),
            (step, "val_loss", val, t0 + step),
            (step, "val_nll", val, t0 + step),
        ]
        if accuracy is not None:
            points.append((step, "val_accuracy", min(accuracy, 0.5 + 0.1 * e), t0 + step))
    return points
