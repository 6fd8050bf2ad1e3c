"""Reads, always scoped to the user's teams: another team's object is simply not found."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, QuerySet
from django.http import Http404

from experiments.models import ApiToken, Experiment, Membership, Run, Team, Upload
from experiments.queue import queued_runs


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
