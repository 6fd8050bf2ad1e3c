"""What the diagnosis of a run needs to know about its experiment."""

from __future__ import annotations

import math

from experiments.models import Run


def experiment_best_train_loss(*, run: Run) -> float | None:
    """The lowest training loss another run of the same experiment reached on the same data with the same loss.

    "Same data" is an identical `dataset` config (name, size, split, preprocessing); "same loss" an
    identical `loss` config, since losses of different kinds are not on one scale. Read from each
    run's `summary["min_train_loss"]`; None when no other run has one yet.
    """
    dataset, loss = run.config.get("dataset"), run.config.get("loss")
    best = None
    others = Run.objects.filter(experiment_id=run.experiment_id).exclude(pk=run.pk).values_list("config", "summary")
    for config, summary in others.iterator():
        value = (summary or {}).get("min_train_loss")
        if config.get("dataset") != dataset or config.get("loss") != loss:
            continue
        if isinstance(value, (int, float)) and math.isfinite(value) and (best is None or value < best):
            best = float(value)
    return best
