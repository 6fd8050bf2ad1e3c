"""Reads, always scoped to the user's teams: another team's object is simply not found.

`_get_for_user` is the one get-or-not-found (healthchecks' `_get_check_for_user`):
any id a URL or a body can carry (text, huge, negative) ends as `Refused(NOT_FOUND)`.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, QuerySet, TextField
from django.db.models.functions import Cast

from experiments.errors import not_found
from experiments.models import ApiToken, Experiment, Membership, Run, SavedComparison, Team, Upload


def teams_for_user(user: AbstractBaseUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).order_by("name")


def experiments_for_user(user: AbstractBaseUser) -> QuerySet[Experiment]:
    if not user.is_authenticated:
        return Experiment.objects.none()
    return (
        Experiment.objects.filter(team__memberships__user=user).select_related("team").annotate(run_count=Count("runs"))
    )


def runs_for_user(user: AbstractBaseUser) -> QuerySet[Run]:
    if not user.is_authenticated:
        return Run.objects.none()
    return Run.objects.filter(experiment__team__memberships__user=user).select_related("experiment", "worker")


def runs_tagged(runs: QuerySet[Run], *, tag: str) -> QuerySet[Run]:
    """The runs of `runs` that carry `tag` (matched as services store tags: trimmed, lower-case).

    Found by the tag's quoted text in the stored JSON list: SQLite has no JSON containment lookup,
    and tags hold no quotes or backslashes, so `"tag"` occurs only as a whole element.
    """
    tag = " ".join(tag.split()).lower()
    if not tag or '"' in tag or "\\" in tag:
        return runs.none()
    return runs.annotate(tags_text=Cast("tags", TextField())).filter(tags_text__contains=f'"{tag}"')


def _get_for_user(queryset: QuerySet, pk, what: str):
    """`queryset.get(pk=pk)`, or Refused(NOT_FOUND) naming `what` for a missing, foreign or malformed id."""
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found(what) from None


def experiment_get(*, user: AbstractBaseUser, experiment_id: int) -> Experiment:
    return _get_for_user(
        Experiment.objects.select_related("team").filter(team__memberships__user=user), experiment_id, "experiment"
    )


def run_get(*, user: AbstractBaseUser, run_id: int) -> Run:
    return _get_for_user(runs_for_user(user), run_id, "run")


def saved_comparison_get(*, user: AbstractBaseUser, comparison_id: int) -> SavedComparison:
    """A saved comparison of one of the user's teams; anyone else's is simply not found."""
    return _get_for_user(
        SavedComparison.objects.select_related("experiment", "team").filter(team__memberships__user=user),
        comparison_id,
        "comparison",
    )


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
    return _get_for_user(
        Upload.objects.select_related("team").filter(team__memberships__user=user), upload_id, "upload"
    )


def tokens_for_user(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created")


def membership_get(*, user: AbstractBaseUser, membership_id: int) -> Membership:
    """A membership in one of the user's teams (so a team admin can act on it)."""
    return _get_for_user(
        Membership.objects.select_related("team", "user").filter(team__memberships__user=user),
        membership_id,
        "member",
    )
