"""Deny by default: pages need a login unless a view is marked `login_not_required`."""

from django.contrib.auth.middleware import LoginRequiredMiddleware


class LoginRequiredExceptApiMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, except for the JSON API.

    The API authenticates every operation itself (session or bearer token) and
    must answer 401 in JSON, not redirect a script to an HTML login page.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = getattr(request, "resolver_match", None)
        if match is not None and "api" in match.namespaces:
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
