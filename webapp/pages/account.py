"""Account pages: API tokens for scripts (password change is Django's own view)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from experiments import selectors, services
from experiments.errors import Refused
from webapp.pages.forms import TokenForm

_NEW_TOKEN = "new_api_token"


def token_list(request):
    """List the user's tokens and create one; a new token is shown once, right after it is made."""
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = services.token_create(user=request.user, name=form.cleaned_data["name"])
            # Kept in the server-side session (not a cookie) for the one page view that shows it.
            request.session[_NEW_TOKEN] = {"id": token.pk, "secret": secret}
            return redirect("token_list")
        except Refused as exc:
            form.add_error("name", exc.message)
    new_token = request.session.pop(_NEW_TOKEN, None)
    context = {"form": form, "tokens": selectors.tokens_for_user(request.user), "new_token": new_token}
    return render(request, "experiments/tokens.html", context, status=400 if form.is_bound and form.errors else 200)


@require_POST
def token_revoke(request, token_id: int):
    services.token_revoke(user=request.user, token_id=token_id)  # another user's token: not found (404)
    messages.success(request, "Token revoked: scripts using it can no longer call the API.")
    return redirect("token_list")
