"""The team dashboard's data and the team's CSV uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from ninja import Field, Query, Router, Schema

from experiments import selectors
from experiments.api.runs import DB_MAX_ID
from experiments.errors import not_found
from experiments.models import Upload
from experiments.selectors.dashboard import dashboard_data

router = Router(tags=["teams"])


class DashboardQuery(Schema):
    team: Optional[int] = Field(
        None, ge=1, le=DB_MAX_ID, description="Team id; defaults to the session's current team."
    )


@router.get("/dashboard", tags=["teams"])
def dashboard(request, q: Query[DashboardQuery]):
    """The team dashboard's data: experiments with their leader, live runs, recent results, saved views."""
    if q.team is not None:
        team = selectors.teams_for_user(request.user).filter(pk=q.team).first()
    else:
        team = selectors.team_current(user=request.user, team_id=request.session.get("team_id"))
    if team is None:
        raise not_found("team")
    return dashboard_data(team=team)


class UploadOut(Schema):
    id: int
    team_id: int
    original_name: str
    size_bytes: int
    rows: int
    columns: list[dict[str, Any]]
    created: datetime


@router.get("/uploads", response=list[UploadOut], tags=["teams"])
def list_uploads(request):
    """CSV uploads of all your teams (use an id as config.dataset.upload with dataset 'csv')."""
    return list(Upload.objects.filter(team__in=selectors.teams_for_user(request.user)))
