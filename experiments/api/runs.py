"""Experiments and runs: list, create, launch, cancel, and a run's metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from experiments import metric_store, selectors, services
from experiments.errors import Refused
from experiments.models import Run, Team
from experiments.selectors.configs import config_read
from workers.training.config import RunConfig

router = Router(tags=["runs"])

# A larger id cannot exist, and would overflow the database's integer on lookup.
DB_MAX_ID = 2**63 - 1

# --- experiments


class ExperimentOut(Schema):
    id: int
    name: str
    description: str
    team: str
    team_id: int
    created: datetime
    run_count: int = 0


class ExperimentIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    team: Optional[int] = Field(None, ge=1, le=DB_MAX_ID, description="Team id; defaults to your only team.")


def _experiment_out(e) -> dict:
    return {
        "id": e.pk,
        "name": e.name,
        "description": e.description,
        "team": e.team.name,
        "team_id": e.team_id,
        "created": e.created,
        "run_count": getattr(e, "run_count", 0),
    }


@router.get("/experiments", response=list[ExperimentOut], tags=["experiments"])
def list_experiments(request):
    return [_experiment_out(e) for e in selectors.experiments_for_user(request.user)]


@router.post("/experiments", response={201: ExperimentOut}, tags=["experiments"])
def create_experiment(request, payload: ExperimentIn):
    team = _team_for(request, payload.team)
    exp = services.experiment_create(team=team, user=request.user, name=payload.name, description=payload.description)
    return Status(201, _experiment_out(exp))


def _team_for(request, team_id: int | None) -> Team:
    teams = selectors.teams_for_user(request.user)
    if team_id is None:
        if teams.count() != 1:
            raise Refused("Say which team: you belong to several (or none).", field="team")
        return teams.get()
    team = teams.filter(pk=team_id).first()
    if team is None:
        raise Refused("No such team.", field="team")
    return team


# --- runs


class RunOut(Schema):
    id: int
    experiment: int
    name: str
    tags: list[str]
    status: str
    config: dict[str, Any]
    config_error: Optional[str] = Field(None, description="Set when the stored config no longer parses.")
    config_hash: str
    seed: int
    priority: int
    attempt: int
    epoch: int
    epochs: int
    step: int
    progress: float
    queue_position: Optional[int] = None
    eta_seconds: Optional[float] = None
    starts_in_seconds: Optional[float] = Field(None, description="Queued runs: rough seconds until a worker takes it.")
    waiting_for: str = Field(
        "", description="Queued runs on a standard set no live worker holds: what it waits for and how to install it."
    )
    worker: Optional[str] = None
    summary: dict[str, Any]
    verdict: str
    error: str
    diverged_step: Optional[int] = None
    cancel_requested: bool
    created: datetime
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None


class RunIn(Schema):
    experiment: int = Field(..., ge=1, le=DB_MAX_ID)
    config: RunConfig
    name: str = Field("", max_length=200)


class RunPatch(Schema):
    name: Optional[str] = Field(None, max_length=200, description="An empty name goes back to the one made at launch.")
    tags: Optional[list[str]] = Field(
        None, max_length=50, description="Replaces the tags: at most 10, 32 characters each."
    )


def run_out(
    run: Run,
    positions: dict[int, int] | None = None,
    starts: dict[int, float] | None = None,
    held: set[str] | None = None,
) -> dict:
    positions = positions if positions is not None else {}
    starts = starts if starts is not None else {}
    return {
        "id": run.pk,
        "experiment": run.experiment_id,
        "name": run.name,
        "tags": run.tags or [],
        "status": run.status,
        "config": run.config if isinstance(run.config, dict) else {},
        "config_error": config_read(run.config).problem or None,
        "config_hash": run.config_hash,
        "seed": run.seed,
        "priority": run.priority,
        "attempt": run.attempt,
        "epoch": run.epoch,
        "epochs": run.epochs,
        "step": run.step,
        "progress": run.progress,
        "queue_position": positions.get(run.pk),
        "eta_seconds": selectors.run_eta_seconds(run),
        "starts_in_seconds": starts.get(run.pk),
        "waiting_for": selectors.run_waiting_for(run, held),
        "worker": run.worker.name if run.worker_id else None,
        "summary": run.summary,
        "verdict": run.verdict,
        "error": run.error,
        "diverged_step": run.diverged_step,
        "cancel_requested": run.cancel_requested,
        "created": run.created,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


class RunFilter(Schema):
    experiment: Optional[int] = Field(None, ge=1, le=DB_MAX_ID)
    status: Optional[Run.Status] = None
    tag: Optional[str] = Field(None, max_length=32, description="Only runs with this tag.")
    limit: int = Field(100, ge=1, le=1000)
    ids: Optional[str] = Field(
        None,
        max_length=20000,
        pattern=r"^[0-9]{1,18}(,[0-9]{1,18})*$",
        description="Comma-separated run ids: only these (a page polls just its unfinished runs).",
    )


@router.get("/runs", response=list[RunOut], tags=["runs"])
def list_runs(request, filters: Query[RunFilter]):
    runs = selectors.runs_for_user(request.user)
    if filters.ids is not None:
        runs = runs.filter(pk__in=[int(i) for i in filters.ids.split(",")])
    if filters.experiment is not None:
        runs = runs.filter(experiment_id=filters.experiment)
    if filters.status is not None:
        runs = runs.filter(status=filters.status)
    if filters.tag is not None:
        runs = selectors.runs_tagged(runs, tag=filters.tag)
    positions, starts = selectors.queue_positions(), selectors.queue_start_etas()
    held = selectors.datasets_held()
    return [run_out(r, positions, starts, held) for r in runs[: filters.limit]]


@router.post("/runs", response={201: RunOut}, tags=["runs"])
def launch_run(request, payload: RunIn):
    try:
        experiment = selectors.experiment_get(user=request.user, experiment_id=payload.experiment)
    except Refused:
        raise Refused("No such experiment.", field="experiment") from None
    try:
        run = services.run_launch(experiment=experiment, user=request.user, config=payload.config, name=payload.name)
    except Refused as exc:
        # The service names config fields as the form does ("dataset.upload"); the API body nests them in "config".
        if exc.field and exc.field.split(".")[0] in RunConfig.model_fields:
            exc.field = f"config.{exc.field}"
        raise
    return Status(201, run_out(run, selectors.queue_positions(), selectors.queue_start_etas()))


@router.get("/runs/{run_id}", response=RunOut, tags=["runs"])
def get_run(request, run_id: int):
    run = selectors.run_get(user=request.user, run_id=run_id)
    return run_out(run, selectors.queue_positions(), selectors.queue_start_etas())


@router.patch("/runs/{run_id}", response=RunOut, tags=["runs"])
def patch_run(request, run_id: int, payload: RunPatch):
    """Rename a run and/or replace its tags."""
    run = selectors.run_get(user=request.user, run_id=run_id)
    run = services.run_rename(run=run, name=payload.name, tags=payload.tags)
    return run_out(run, selectors.queue_positions(), selectors.queue_start_etas())


@router.post("/runs/{run_id}/cancel", response=RunOut, tags=["runs"])
def cancel_run(request, run_id: int):
    run = services.run_cancel(run=selectors.run_get(user=request.user, run_id=run_id))
    return run_out(run)


class MetricsQuery(Schema):
    since_step: Optional[int] = Field(None, ge=-1, description="Only points after this step (incremental polling).")
    keys: Optional[str] = Field(None, max_length=2000, description="Comma-separated metric keys; all by default.")


@router.get("/runs/{run_id}/metrics", tags=["runs"])
def run_metrics(request, run_id: int, q: Query[MetricsQuery]):
    """Every metric series of a run: `{series: {key: {step, value, time}}, last_step, status}`."""
    run = selectors.run_get(user=request.user, run_id=run_id)
    keys = [k for k in q.keys.split(",") if k] if q.keys else None
    series = metric_store.read_series([run.pk], keys=keys, since_step=q.since_step).get(run.pk, {})
    last_step = max((int(s.steps[-1]) for s in series.values() if len(s)), default=q.since_step)
    return {
        "run": run.pk,
        "status": run.status,
        "epoch": run.epoch,
        "epochs": run.epochs,
        "last_step": last_step,
        "series": {k: s.as_dict() for k, s in series.items()},
    }
