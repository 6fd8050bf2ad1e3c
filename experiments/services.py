"""User-facing state changes: each transition happens here and only here."""

from __future__ import annotations

import re
from typing import Any, Sequence

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from experiments.models import ApiToken, Experiment, Membership, Run, Team, Upload
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


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored (NUL bytes and lone surrogates break PostgreSQL and UTF-8), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "must be valid Unicode text"
    return None


def _check_text(value: str, field: str) -> None:
    problem = text_problem(value)
    if problem:
        raise ServiceError(f"{field.rsplit('.', 1)[-1].capitalize()} {problem}.", field=field)


def _check_config_text(data: Any, path: str) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            _check_config_text(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        for value in data:
            _check_config_text(value, path)
    elif isinstance(data, str):
        _check_text(data, path)


def team_create(*, name: str, owner: AbstractBaseUser) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name)
        Membership.objects.create(user=owner, team=team, role=Membership.Role.ADMIN)
    return team


def experiment_create(*, team: Team, user: AbstractBaseUser, name: str, description: str = "") -> Experiment:
    name = name.strip()
    if not name:
        raise ServiceError("Name must not be empty.", field="name")
    _check_text(name, "name")
    _check_text(description, "description")
    if not Membership.objects.filter(team=team, user=user).exists():
        raise ServiceError("Not found.", field="team", status=404)
    return Experiment.objects.create(team=team, created_by=user, name=name[:200], description=description)


def run_launch(
    *, experiment: Experiment, user: AbstractBaseUser, config: dict | RunConfig, name: str = "", priority: int = 0
) -> Run:
    """Queue a run of `config` in `experiment`; a worker is told once the row is committed.

    Refuses (ServiceError) a user who is not in the experiment's team (404), an upload
    of another team (404-style, on dataset.upload), a CSV that cannot train for the
    target, and a user over the launch limits (429).
    """
    cfg = config_validate(config)
    if not Membership.objects.filter(team_id=experiment.team_id, user=user).exists():
        raise ServiceError("No such experiment.", field="experiment", status=404)
    _check_config_text(cfg.model_dump(mode="json"), "")
    _check_text(name, "name")
    run_launch_allowed(user=user)
    if cfg.dataset.name == "csv":
        upload_check_for_run(team_id=experiment.team_id, upload_id=cfg.dataset.upload, target=cfg.dataset.target,
                             task=cfg.dataset.task)
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

def run_launch_allowed(*, user: AbstractBaseUser, count: int = 1) -> None:
    """Refuse with 429 when launching `count` more runs would pass the user's per-minute or queued limit.

    Counted from the DB (runs created by the user), so every web and API process agrees.
    A sweep should call this once with its grid size before launching its runs.
    """
    recent = Run.objects.filter(created_by=user, created__gte=timezone.now() - timedelta(minutes=1)).count()
    if recent + count > settings.RUNS_PER_MINUTE:
        raise ServiceError(
            f"Too many launches: at most {settings.RUNS_PER_MINUTE} runs per minute per user. "
            "Wait a minute and try again.", field="runs_per_minute", status=429,
        )
    queued = Run.objects.filter(created_by=user, status__in=[Run.Status.QUEUED, Run.Status.LOST]).count()
    if queued + count > settings.MAX_QUEUED_PER_USER:
        raise ServiceError(
            f"You already have {queued} runs waiting; at most {settings.MAX_QUEUED_PER_USER} may be queued per user. "
            "Wait for some to start, or cancel some.", field="queued_runs", status=429,
        )


def upload_check_for_run(*, team_id: int, upload_id: int | None, target: str | None, task: str | None) -> Upload:
    """The team's upload, checked to train for `target`; another team's upload is simply not found."""
    upload = Upload.objects.filter(pk=upload_id, team_id=team_id).first() if upload_id else None
    if upload is None or not upload.path.exists():
        raise ServiceError("No such upload in this team.", field="dataset.upload", status=404)
    if target not in upload.column_names:
        raise ServiceError(
            f"No column named '{target}' in {upload.original_name}; choose one of: {', '.join(upload.column_names)}.",
            field="dataset.target",
        )
    from workers.training.csvdata import validate_csv

    try:
        validate_csv(upload.path, target, task)
    except ValueError as exc:
        parts, msg = error_location([], str(exc))
        field = {"target": "dataset.target", "upload": "dataset.upload"}.get(".".join(parts), ".".join(parts) or "dataset.upload")
        raise ServiceError(msg, field=field) from None
    return upload


# --- team membership


def _require_team_admin(*, team: Team, actor: AbstractBaseUser) -> None:
    role = Membership.objects.filter(team=team, user=actor).values_list("role", flat=True).first()
    if role is None:
        raise ServiceError("No such team.", field="team", status=404)
    if role != Membership.Role.ADMIN:
        raise ServiceError("Only a team admin can change who is in the team.", field="team", status=403)


def membership_add(*, team: Team, actor: AbstractBaseUser, username: str, role: str = Membership.Role.MEMBER) -> Membership:
    """Add an existing user to `team`; only the team's admins may."""
    _require_team_admin(team=team, actor=actor)
    if role not in Membership.Role.values:
        raise ServiceError(f"Role must be one of: {', '.join(Membership.Role.values)}.", field="role")
    user = get_user_model().objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise ServiceError(
            f"There is no user named '{username.strip()[:150]}'. Ask a LossLab admin to create the account first.",
            field="username",
        )
    if Membership.objects.filter(team=team, user=user).exists():
        raise ServiceError(f"{user.username} is already in {team.name}.", field="username")
    return Membership.objects.create(team=team, user=user, role=role)


def membership_remove(*, team: Team, actor: AbstractBaseUser, membership_id: int) -> Membership:
    """Remove a member (an admin may also remove themself), never the team's last admin."""
    _require_team_admin(team=team, actor=actor)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(pk=membership_id, team=team).first()
        if membership is None:
            raise ServiceError("No such member.", field="membership", status=404)
        admins = Membership.objects.filter(team=team, role=Membership.Role.ADMIN).count()
        if membership.role == Membership.Role.ADMIN and admins == 1:
            raise ServiceError("A team needs at least one admin: make someone else admin first.", field="membership")
        membership.delete()
    return membership


# --- API tokens

MAX_TOKENS_PER_USER = 50


def token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new API token for `user`: (the stored row, the token itself, which is shown once and never stored)."""
    name = name.strip()
    if not name:
        raise ServiceError("Give the token a name, e.g. the script that will use it.", field="name")
    _check_text(name, "name")
    if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS_PER_USER:
        raise ServiceError(f"At most {MAX_TOKENS_PER_USER} tokens per user: revoke unused ones.", field="name")
    secret = ApiToken.generate()
    token = ApiToken.objects.create(user=user, name=name[:100], digest=ApiToken.hash(secret), prefix=secret[:8])
    return token, secret


def token_revoke(*, user: AbstractBaseUser, token_id: int) -> None:
    """Delete one of the user's own tokens; anyone else's is not found."""
    deleted, _ = ApiToken.objects.filter(pk=token_id, user=user).delete()
    if not deleted:
        raise ServiceError("No such token.", field="token", status=404)
