"""Deny by default (pages need a login unless marked `login_not_required`), and refusals as pages."""

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import Http404
from django.shortcuts import render
from django.views.defaults import page_not_found

from experiments.errors import HTTP_STATUS, ErrorCode, Refused


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


class RefusedMiddleware:
    """The one place a page turns a domain refusal into an HTTP answer.

    A view that can show the error beside a form field catches `Refused` itself;
    anything else that escapes becomes Django's 404 page (not found: a foreign
    object is never a 403 that leaks its existence) or a short page with the
    refusal's message and status. The JSON API has its own handler (experiments.api).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, Refused):
            return None
        if exception.code == ErrorCode.NOT_FOUND:
            return page_not_found(request, Http404(exception.message))
        context = {"message": exception.message, "field": exception.field}
        return render(request, "refused.html", context, status=HTTP_STATUS[exception.code])
