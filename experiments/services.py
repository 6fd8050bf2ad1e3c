"""User-facing state changes: each transition happens here and only here."""

from __future__ import annotations

import re
from typing import Any, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from experiments.models import Experiment, Membership, Run, Team
from workers.training.config import RunConfig


class ServiceError(Exception):
    """A request that cannot be carried out; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


def config_validate(data: dict[str, Any] | RunConfig) -> RunConfig:
    """Validate a raw config through the one schema; raises pydantic's ValidationError."""
    if isinstance(data, RunConfig):
        return data
    return RunConfig.model_validate(data)


_PATH_PREFIX = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): (.+)$", re.S)


def error_location(loc: Sequence, msg: str) -> tuple[list[str], str]:
    """Where a schema error points, and its message.

    Cross-field checks in the schema name their field as a prefix ("loss.name: ..."),
    since pydantic locates model-level errors at the model itself. List indexes
    are dropped: the form field is `model.hidden`, not `model.hidden.1`.
    """
    msg = msg.removeprefix("Value error, ")
    parts = [str(p) for p in loc if not isinstance(p, int)]
    match = _PATH_PREFIX.match(msg)
    if match:
        prefix = match.group(1).split(".")
        # "hidden: ..." raised inside ModelConfig already sits at ["model"]; don't repeat it.
        parts = parts + [p for p in prefix if p not in parts[-1:]] if parts else prefix
        msg = match.group(2)
    return parts, msg


def pydantic_errors(exc: PydanticValidationError, *, prefix: tuple = ()) -> list[dict[str, str]]:
    """Field-level messages: [{"field": "config.optimizer.lr", "message": "..."}]."""
    out = []
    for err in exc.errors():
        parts, msg = error_location(err["loc"], err["msg"])
        out.append({"field": ".".join([*prefix, *parts]) or "config", "message": msg})
    return out


def team_create(*, name: str, owner: AbstractBaseUser) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name)
        Membership.objects.create(user=owner, team=team, role=Membership.Role.ADMIN)
    return team


def experiment_create(*, team: Team, user: AbstractBaseUser, name: str, description: str = "") -> Experiment:
    name = name.strip()
    if not name:
        raise ServiceError("Name must not be empty.", field="name")
    if not Membership.objects.filter(team=team, user=user).exists():
        raise ServiceError("Not found.", field="team", status=404)
    return Experiment.objects.create(team=team, created_by=user, name=name[:200], description=description)


def run_launch(
    *, experiment: Experiment, user: AbstractBaseUser, config: dict | RunConfig, name: str = "", priority: int = 0
) -> Run:
    """Queue a run of `config` in `experiment`; a worker is told once the row is committed."""
    cfg = config_validate(config)
    from workers.tasks import notify_workers  # the task module imports services; keep the cycle lazy

    with transaction.atomic():
        run = Run.objects.create(
            experiment=experiment,
            created_by=user,
            name=name[:200] or _default_run_name(cfg),
            config=cfg.model_dump(mode="json"),
            config_hash=cfg.config_hash(),
            group_hash=cfg.group_hash(),
            seed=cfg.seed,
            priority=priority,
            epochs=cfg.epochs,
            queued_at=timezone.now(),
        )
        transaction.on_commit(lambda: notify_workers(run.pk))
    return run


def _default_run_name(cfg: RunConfig) -> str:
    widths = "-".join(str(w) for w in cfg.model.hidden)
    return f"{cfg.model.arch} {widths} · {cfg.optimizer.name} {cfg.optimizer.lr:g} · {cfg.loss.name} · seed {cfg.seed}"


def run_cancel(*, run: Run) -> Run:
    """A queued run is cancelled at once; a running one is flagged and its worker stops within a second or two."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status in (Run.Status.QUEUED, Run.Status.LOST):
            run.status = Run.Status.CANCELLED
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "finished_at"])
        elif run.status == Run.Status.RUNNING:
            run.cancel_requested = True
            run.save(update_fields=["cancel_requested"])
        else:
            raise ServiceError(f"Run is already {run.status}.", field="status", status=409)
    return run


def saved_comparison_create(
    *, experiment: Experiment, user: AbstractBaseUser, name: str, run_ids: list[int], options: dict | None = None
):
    """Save a comparison for the experiment's team; anyone in the team can open it by its URL."""
    from experiments.comparison import X_AXES
    from experiments.models import SavedComparison

    name = name.strip()
    if not name:
        raise ServiceError("Give the comparison a name.", field="name")
    if not run_ids:
        raise ServiceError("Choose at least one run to compare.", field="runs")
    found = set(experiment.runs.filter(pk__in=run_ids).values_list("pk", flat=True))
    missing = [i for i in run_ids if i not in found]
    if missing:
        raise ServiceError(f"No run {', '.join(map(str, missing))} in this experiment.", field="runs")
    options = dict(options or {})
    if options.get("x", "step") not in X_AXES:
        raise ServiceError(f"x must be one of {', '.join(X_AXES)}.", field="x")
    try:
        smoothing = float(options.get("smoothing", 0))
    except (TypeError, ValueError):
        raise ServiceError("Smoothing is a number from 0 to 0.99.", field="smoothing") from None
    if not 0 <= smoothing <= 0.99:
        raise ServiceError("Smoothing is a number from 0 to 0.99.", field="smoothing")
    clean = {"x": options.get("x", "step"), "smoothing": smoothing, "log": bool(options.get("log")),
             "keys": [str(k)[:100] for k in options.get("keys") or []][:20]}
    return SavedComparison.objects.create(
        experiment=experiment, team=experiment.team, name=name[:200], run_ids=run_ids, options=clean, created_by=user
    )
