"""Feeds a run's epoch history to the pure `diagnosis.diagnose`, live and at the end.

The worker calls this at every flush (finished=False: a run going bad is
flagged while it trains) and once more when the run ends; the result is
stored as `summary["diagnosis"]` and `Run.verdict`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from experiments.analysis.diagnosis import diagnose

log = logging.getLogger(__name__)
NAN = float("nan")


def json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON (PostgreSQL's jsonb refuses them): store and send them as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return json_safe(value.item())
    return value


def live_grad_health(history: dict[int, dict[str, float]]) -> str:
    """The worst gradient state flagged so far (the engine's per-epoch grad_exploding / grad_vanishing)."""
    rows = history.values()
    if any(r.get("grad_exploding") for r in rows):
        return "exploding"
    if any(r.get("grad_vanishing") for r in rows):
        return "vanishing"
    return "ok"


def baseline_from(history: dict[int, dict[str, float]]) -> float | None:
    """The engine logs the trivial predictor's val loss (class prior / mean) at epoch 1."""
    for epoch in sorted(history):
        value = history[epoch].get("baseline_val_loss")
        if value is not None and math.isfinite(value) and value > 0:
            return value
    return None


def fit_key(history: dict[int, dict[str, float]]) -> str:
    """The training loss measured like the val loss (eval mode) when the run logs it, else the running one."""
    return "train_eval_loss" if any("train_eval_loss" in row for row in history.values()) else "train_loss"


def min_train_loss(history: dict[int, dict[str, float]]) -> float | None:
    """The lowest training loss of the run (the series the diagnosis reads): the experiment's reference."""
    key = fit_key(history)
    values = [row[key] for row in history.values() if key in row and math.isfinite(row[key])]
    return min(values) if values else None


def diagnose_history(
    history: dict[int, dict[str, float]],
    *,
    task: str,
    finished: bool,
    grad_health: str | None = None,
    diverged: bool = False,
    config: dict | None = None,
    experiment_best_train_loss: float | None = None,
) -> dict[str, Any] | None:
    """`Diagnosis.as_dict()` of the run so far (JSON-safe), or None when there is nothing to judge yet.

    A diverged run's last epoch never reached evaluation; it is sent as a
    non-finite value so the verdict says what happened. ``train_eval_loss``
    is passed when the run logs it (the gap is read from it). Never raises: a
    diagnosis bug must not fail a training run.
    """
    epochs = sorted(history)
    train = [history[e].get("train_loss", NAN) for e in epochs]
    val = [history[e].get("val_loss", NAN) for e in epochs]
    measured = None
    if fit_key(history) == "train_eval_loss":
        measured = [history[e].get("train_eval_loss", NAN) for e in epochs]
    if diverged:
        train, val = train + [NAN], val + [NAN]
        measured = None if measured is None else measured + [NAN]
    if not train:
        return None
    try:
        diag = diagnose(
            train,
            val,
            task=task,
            baseline_loss=baseline_from(history),
            finished=finished,
            grad_health=grad_health or live_grad_health(history),
            train_eval_loss=measured,
            config=config,
            experiment_best_train_loss=experiment_best_train_loss,
        )
        return json_safe(diag.as_dict())
    except Exception:
        log.exception("diagnosis failed; the run goes on without a verdict")
        return None
