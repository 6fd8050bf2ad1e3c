"""Reads, always scoped to the user's teams: another team's object is simply not found."""

from __future__ import annotations

import heapq
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from experiments.models import ApiToken, Experiment, Membership, QueueState, Run, Team, Upload, Worker
from experiments.queue import queued_runs

RECENT_RUNS = 20  # how many finished runs the queue's time estimates average over


def teams_for_user(user: AbstractBaseUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).order_by("name")


def experiments_for_user(user: AbstractBaseUser) -> QuerySet[Experiment]:
    if not user.is_authenticated:
        return Experiment.objects.none()
    return (
        Experiment.objects.filter(team__memberships__user=user)
        .select_related("team")
        .annotate(run_count=Count("runs"))
    )


def runs_for_user(user: AbstractBaseUser) -> QuerySet[Run]:
    if not user.is_authenticated:
        return Run.objects.none()
    return Run.objects.filter(experiment__team__memberships__user=user).select_related("experiment", "worker")


def experiment_get(*, user: AbstractBaseUser, experiment_id: int) -> Experiment:
    try:
        return Experiment.objects.select_related("team").get(pk=experiment_id, team__memberships__user=user)
    except (Experiment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such experiment") from None


def run_get(*, user: AbstractBaseUser, run_id: int) -> Run:
    try:
        return runs_for_user(user).get(pk=run_id)
    except (Run.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such run") from None


def queue_positions() -> dict[int, int]:
    """1-based place in the queue of every queued run, in one query."""
    ids = queued_runs().values_list("id", flat=True)
    return {run_id: i for i, run_id in enumerate(ids, start=1)}


def run_eta_seconds(run: Run) -> float | None:
    """Rough time left for a running run, from its pace so far."""
    if run.status != Run.Status.RUNNING or not run.started_at or not run.epoch or not run.epochs:
        return None
    from django.utils import timezone

    elapsed = (timezone.now() - run.started_at).total_seconds()
    return elapsed / run.epoch * (run.epochs - run.epoch)


def saved_comparison_get(*, user: AbstractBaseUser, comparison_id: int):
    """A saved comparison of one of the user's teams; anyone else's is simply not found."""
    from experiments.models import SavedComparison

    try:
        return SavedComparison.objects.select_related("experiment", "team").get(
            pk=comparison_id, team__memberships__user=user
        )
    except (SavedComparison.DoesNotExist, ValueError, TypeError):
        raise Http404("No such comparison") from None


def saved_comparisons_for(*, experiment: Experiment):
    return experiment.comparisons.select_related("created_by").order_by("-created")[:50]


def team_current(*, user: AbstractBaseUser, team_id: int | None) -> Team | None:
    """The team the user chose in this session if they are still in it, else their first team."""
    teams = teams_for_user(user)
    chosen = teams.filter(pk=team_id).first() if isinstance(team_id, int) else None
    return chosen or teams.first()


def membership_role(*, user: AbstractBaseUser, team: Team) -> str | None:
    return Membership.objects.filter(user=user, team=team).values_list("role", flat=True).first()


def team_members(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("user__username")


def uploads_for_team(*, team: Team | None) -> QuerySet[Upload]:
    return Upload.objects.filter(team=team).select_related("uploaded_by") if team else Upload.objects.none()


def upload_get(*, user: AbstractBaseUser, upload_id: int) -> Upload:
    try:
        return Upload.objects.select_related("team").get(pk=upload_id, team__memberships__user=user)
    except (Upload.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such upload") from None


def tokens_for_user(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created")


def membership_get(*, user: AbstractBaseUser, membership_id: int) -> Membership:
    """A membership in one of the user's teams (so a team admin can act on it)."""
    try:
        return Membership.objects.select_related("team", "user").get(
            pk=membership_id, team__memberships__user=user
        )
    except (Membership.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such member") from None


def live_workers() -> QuerySet[Worker]:
    """Workers that beat recently and take runs (not draining)."""
    fresh = timezone.now() - timedelta(seconds=settings.WORKER_STALE_S)
    return Worker.objects.filter(last_heartbeat__gte=fresh, draining=False)


def seconds_per_epoch() -> float | None:
    """Average wall time of an epoch over recently finished runs (None before the first one)."""
    recent = (Run.objects.filter(status=Run.Status.SUCCEEDED, started_at__isnull=False, epoch__gt=0)
              .order_by("-finished_at").values_list("started_at", "finished_at", "epoch")[:RECENT_RUNS])
    per_epoch = [(end - start).total_seconds() / epochs for start, end, epochs in recent]
    return sum(per_epoch) / len(per_epoch) if per_epoch else None


def queue_start_etas() -> dict[int, float]:
    """Rough seconds until each queued run starts, in a handful of queries.

    Simulates the queue: each live worker is free now or when its run's ETA
    ends; queued runs take the earliest free worker in queue order and hold it
    for their epochs x the recent seconds-per-epoch. Rough on purpose: it
    ignores team limits and how fast each config really is. Empty when the
    queue is paused, no worker is live, or nothing has finished yet.
    """
    per_epoch = seconds_per_epoch()
    workers = list(live_workers().select_related("current_run"))
    if per_epoch is None or not workers or QueueState.get().paused:
        return {}
    free_at = []
    for w in workers:
        run = w.current_run
        busy = run is not None and run.status == Run.Status.RUNNING
        free_at.append((run_eta_seconds(run) or per_epoch * max(1, run.epochs - run.epoch)) if busy else 0.0)
    heapq.heapify(free_at)
    etas = {}
    for run_id, epochs in queued_runs().values_list("id", "epochs"):
        start = heapq.heappop(free_at)
        etas[run_id] = start
        heapq.heappush(free_at, start + per_epoch * max(1, epochs))
    return etas
