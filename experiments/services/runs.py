"""Experiments and runs: create, launch, cancel, and the launch limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from experiments import storage
from experiments.errors import ErrorCode, Refused
from experiments.models import Experiment, Membership, Run, Team
from experiments.queue import notify_workers
from experiments.services.uploads import upload_check_for_run
from experiments.services.validation import check_config_text, check_text
from workers.training.config import RunConfig


def config_validate(data: dict[str, Any] | RunConfig) -> RunConfig:
    """Validate a raw config through the one schema; raises pydantic's ValidationError."""
    if isinstance(data, RunConfig):
        return data
    return RunConfig.model_validate(data)


def experiment_create(*, team: Team, user: AbstractBaseUser, name: str, description: str = "") -> Experiment:
    name = name.strip()
    if not name:
        raise Refused("Name must not be empty.", field="name")
    check_text(name, "name")
    check_text(description, "description")
    if not Membership.objects.filter(team=team, user=user).exists():
        raise Refused("Not found.", field="team", code=ErrorCode.NOT_FOUND)
    return Experiment.objects.create(team=team, created_by=user, name=name[:200], description=description)


def run_launch(
    *, experiment: Experiment, user: AbstractBaseUser, config: dict | RunConfig, name: str = "", priority: int = 0
) -> Run:
    """Queue a run of `config` in `experiment`; a worker is told once the row is committed.

    Refuses (Refused) a user who is not in the experiment's team (404), an upload
    of another team (404-style, on dataset.upload), a CSV that cannot train for the
    target, and a user over the launch limits (429).
    """
    cfg = config_validate(config)
    if not Membership.objects.filter(team_id=experiment.team_id, user=user).exists():
        raise Refused("No such experiment.", field="experiment", code=ErrorCode.NOT_FOUND)
    check_config_text(cfg.model_dump(mode="json"), "")
    check_text(name, "name")
    run_launch_allowed(user=user)
    if cfg.dataset.name == "csv":
        upload_check_for_run(
            team_id=experiment.team_id, upload_id=cfg.dataset.upload, target=cfg.dataset.target, task=cfg.dataset.task
        )
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
            raise Refused(f"Run is already {run.status}.", field="status", code=ErrorCode.CONFLICT)
    return run


def run_launch_allowed(*, user: AbstractBaseUser, count: int = 1) -> None:
    """Refuse with 429 when launching `count` more runs would pass the user's per-minute or queued limit.

    Counted from the DB (runs created by the user), so every web and API process agrees.
    A sweep should call this once with its grid size before launching its runs.
    """
    recent = Run.objects.filter(created_by=user, created__gte=timezone.now() - timedelta(minutes=1)).count()
    if recent + count > settings.RUNS_PER_MINUTE:
        raise Refused(
            f"Too many launches: at most {settings.RUNS_PER_MINUTE} runs per minute per user. "
            "Wait a minute and try again.",
            field="runs_per_minute",
            code=ErrorCode.RATE_LIMITED,
        )
    queued = Run.objects.filter(created_by=user, status__in=[Run.Status.QUEUED, Run.Status.LOST]).count()
    if queued + count > settings.MAX_QUEUED_PER_USER:
        raise Refused(
            f"You already have {queued} runs waiting; at most {settings.MAX_QUEUED_PER_USER} may be queued per user. "
            "Wait for some to start, or cancel some.",
            field="queued_runs",
            code=ErrorCode.RATE_LIMITED,
        )


def run_keep_model(*, run: Run) -> Run:
    """Keep a finished run's final weights past the checkpoint retention period."""
    if not storage.model_path(run).exists():
        raise Refused("This run has no model file (it did not succeed, or it was deleted).", field="model")
    Run.objects.filter(pk=run.pk).update(keep_model=True)
    run.keep_model = True
    return run
