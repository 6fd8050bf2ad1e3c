"""Saved comparisons: a named view of chosen runs, shareable by URL within the team."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from experiments.errors import Refused
from experiments.models import Experiment, SavedComparison
from experiments.selectors.comparison import X_AXES


def saved_comparison_create(
    *, experiment: Experiment, user: AbstractBaseUser, name: str, run_ids: list[int], options: dict | None = None
):
    """Save a comparison for the experiment's team; anyone in the team can open it by its URL."""
    name = name.strip()
    if not name:
        raise Refused("Give the comparison a name.", field="name")
    if not run_ids:
        raise Refused("Choose at least one run to compare.", field="runs")
    found = set(experiment.runs.filter(pk__in=run_ids).values_list("pk", flat=True))
    missing = [i for i in run_ids if i not in found]
    if missing:
        raise Refused(f"No run {', '.join(map(str, missing))} in this experiment.", field="runs")
    options = dict(options or {})
    if options.get("x", "step") not in X_AXES:
        raise Refused(f"x must be one of {', '.join(X_AXES)}.", field="x")
    try:
        smoothing = float(options.get("smoothing", 0))
    except (TypeError, ValueError):
        raise Refused("Smoothing is a number from 0 to 0.99.", field="smoothing") from None
    if not 0 <= smoothing <= 0.99:
        raise Refused("Smoothing is a number from 0 to 0.99.", field="smoothing")
    clean = {
        "x": options.get("x", "step"),
        "smoothing": smoothing,
        "log": bool(options.get("log")),
        "keys": [str(k)[:100] for k in options.get("keys") or []][:20],
    }
    return SavedComparison.objects.create(
        experiment=experiment, team=experiment.team, name=name[:200], run_ids=run_ids, options=clean, created_by=user
    )
