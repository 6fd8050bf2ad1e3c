"""The team dashboard's data: one JSON-ready dict, read in a handful of queries whatever the run count.

Served by the home page (embedded) and by GET /api/dashboard (polled every few seconds).
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse

from experiments.models import Run, SavedComparison, Team
from experiments.selectors.queue import queue_positions

MAX_EXPERIMENTS = 50
MAX_LIVE = 50
MAX_RECENT = 15
# Which summary value makes a run its experiment's leader, in order of preference, and which way is better.
LEADER_METRICS = [("val_accuracy", max), ("val_r2", max), ("val_rmse", min), ("val_loss", min)]


def _verdict(run: Run) -> str:
    diagnosis = (run.summary or {}).get("diagnosis") or {}
    return run.verdict or (diagnosis.get("verdict", "") if isinstance(diagnosis, dict) else "")


def _best_metric(summary: dict) -> dict | None:
    best = (summary or {}).get("best") or {}
    for key, _ in LEADER_METRICS:
        if isinstance(best.get(key), (int, float)):
            return {"key": key, "value": best[key]}
    return None


def _leaders(experiment_ids: list[int]) -> dict[int, dict]:
    """Per experiment, its best finished run by the best val metric (the real leaderboard lives on the ranking page)."""
    rows = Run.objects.filter(experiment_id__in=experiment_ids, status=Run.Status.SUCCEEDED).values_list(
        "experiment_id", "id", "name", *[f"summary__best__{k}" for k, _ in LEADER_METRICS]
    )
    by_exp: dict[int, list] = {}
    for row in rows:
        by_exp.setdefault(row[0], []).append(row)
    leaders = {}
    for exp_id, runs in by_exp.items():
        for i, (key, better) in enumerate(LEADER_METRICS):
            scored = [(r[3 + i], r) for r in runs if isinstance(r[3 + i], (int, float))]
            if scored:
                value, row = better(scored, key=lambda s: s[0])
                leaders[exp_id] = {
                    "run": row[1],
                    "name": row[2],
                    "key": key,
                    "value": value,
                    "url": reverse("run_detail", args=[row[1]]),
                }
                break
    return leaders


def _experiments(team: Team) -> list[dict]:
    live = Q(runs__status__in=[Run.Status.RUNNING])
    waiting = Q(runs__status__in=[Run.Status.QUEUED, Run.Status.LOST])
    exps = list(
        team.experiments.annotate(
            run_count=Count("runs"), running=Count("runs", filter=live), queued=Count("runs", filter=waiting)
        ).order_by("-created")[:MAX_EXPERIMENTS]
    )
    leaders = _leaders([e.pk for e in exps])
    return [
        {
            "id": e.pk,
            "name": e.name,
            "url": reverse("experiment_detail", args=[e.pk]),
            "runs": e.run_count,
            "running": e.running,
            "queued": e.queued,
            "leader": leaders.get(e.pk),
        }
        for e in exps
    ]


def _run_row(run: Run, positions: dict[int, int]) -> dict:
    return {
        "id": run.pk,
        "name": run.name or f"run {run.pk}",
        "url": reverse("run_detail", args=[run.pk]),
        "experiment": run.experiment.name,
        "experiment_url": reverse("experiment_detail", args=[run.experiment_id]),
        "status": run.status,
        "epoch": run.epoch,
        "epochs": run.epochs,
        "progress": run.progress,
        "queue_position": positions.get(run.pk),
        "verdict": _verdict(run),
        "best": _best_metric(run.summary),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def _saved_comparisons(team: Team) -> list[dict]:
    """The team's saved comparison views, newest first."""
    views = SavedComparison.objects.filter(team=team).select_related("experiment").order_by("-pk")[:20]
    return [{"id": v.pk, "name": v.name, "experiment": v.experiment.name, "url": v.get_absolute_url()} for v in views]


# What a run's row shows: the rest (the config above all) would only weigh on the sorts below.
ROW_FIELDS = ["id", "name", "experiment__name", "status", "epoch", "epochs", "summary", "verdict", "finished_at"]


def dashboard_data(*, team: Team) -> dict:
    """Everything the dashboard shows for one team."""
    runs = Run.objects.filter(experiment__team=team).select_related("experiment").only(*ROW_FIELDS)
    positions = queue_positions()
    running = list(runs.filter(status=Run.Status.RUNNING).order_by("started_at")[:MAX_LIVE])
    waiting = runs.filter(status__in=[Run.Status.QUEUED, Run.Status.LOST]).order_by("queued_at")
    live = running + list(waiting[: MAX_LIVE - len(running)])
    recent = runs.filter(status__in=Run.FINISHED).order_by("-finished_at", "-pk")[:MAX_RECENT]
    return {
        "team": {"id": team.pk, "name": team.name},
        "experiments": _experiments(team),
        "live": [_run_row(r, positions) for r in live],
        "recent": [_run_row(r, positions) for r in recent],
        "saved_comparisons": _saved_comparisons(team),
    }
