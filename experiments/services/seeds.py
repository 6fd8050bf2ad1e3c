"""Missing seeds: queue the seeds a configuration needs before its interval and verdict mean anything."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from pydantic import ValidationError as PydanticValidationError

from experiments.analysis.ranking import MIN_SEEDS
from experiments.errors import ErrorCode, Refused
from experiments.models import Experiment, Membership, Run
from experiments.services.runs import config_validate, run_launch, run_launch_allowed

# Runs that count towards a configuration's seeds: finished with a score, or on their way.
COUNTED = (Run.Status.SUCCEEDED, Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.LOST)


def group_seeds_launch(
    *, experiment: Experiment, user: AbstractBaseUser, group_hash: str, target: int = MIN_SEEDS
) -> list[Run]:
    """Queue the seeds configuration `group_hash` misses to reach `target` seeds: all of them, or none.

    New seeds are the smallest not yet used by any of its runs (a failed seed is not retried: it would
    fail the same way). Runs of one sweep stay in that sweep. Refuses a configuration that is not in
    the experiment (404), one that has enough seeds (409), and a launch past the user's limits (429).
    """
    if not Membership.objects.filter(team_id=experiment.team_id, user=user).exists():
        raise Refused("No such experiment.", field="experiment", code=ErrorCode.NOT_FOUND)
    runs = list(experiment.runs.filter(group_hash=group_hash).order_by("pk").only("pk", "seed", "status", "sweep_id"))
    if not runs:
        raise Refused("No such configuration in this experiment.", field="group", code=ErrorCode.NOT_FOUND)
    counted = sum(r.status in COUNTED for r in runs)
    missing = target - counted
    if missing <= 0:
        raise Refused(
            f"This configuration already has {counted} seeds finished or on their way.",
            field="group",
            code=ErrorCode.CONFLICT,
        )
    run_launch_allowed(user=user, count=missing)
    try:
        config = config_validate(Run.objects.get(pk=runs[0].pk).config)
    except PydanticValidationError:
        raise Refused("This configuration's stored config is no longer valid.", field="config") from None
    used = {r.seed for r in runs}
    seeds = [s for s in range(len(used) + missing) if s not in used][:missing]
    sweeps = {r.sweep_id for r in runs}
    sweep = runs[0].sweep if len(sweeps) == 1 and None not in sweeps else None
    with transaction.atomic():
        return [
            run_launch(experiment=experiment, user=user, config=config.model_copy(update={"seed": s}), sweep=sweep)
            for s in seeds
        ]
