"""Template context for every page: the user's teams and the one this session works in (top bar),
and the finished run statuses, which base.html hands to the page scripts (LossLab.FINISHED)."""

from experiments import selectors
from experiments.models import Run
from webapp.pages.teams import current_team


def teams(request):
    finished = {"run_finished_statuses": list(Run.FINISHED)}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return finished
    return {**finished, "user_teams": list(selectors.teams_for_user(user)), "current_team": current_team(request)}
