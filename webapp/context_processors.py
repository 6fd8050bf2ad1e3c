"""Template context for every page: the user's teams and the one this session works in (top bar)."""

from experiments import selectors
from webapp.pages.teams import current_team


def teams(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"user_teams": list(selectors.teams_for_user(user)), "current_team": current_team(request)}
