"""The API's body gate, deny by default (pages need a login unless marked `login_not_required`), refusals as pages."""

import json

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.views.defaults import page_not_found

from experiments.errors import HTTP_STATUS, ErrorCode, Refused

API_PREFIX = "/api/"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
FORM_TYPES = {"multipart/form-data", "application/x-www-form-urlencoded"}
UNSUPPORTED = "Send the body as JSON: Content-Type: application/json (UTF-8)."


def _body_error(status: int, field: str, message: str) -> JsonResponse:
    return JsonResponse({"detail": message, "errors": [{"field": field, "message": message}]}, status=status)


class ApiBodyMiddleware:
    """Answers an API body that cannot be read with 400/413/415 in JSON, before anything else reads it.

    CSRF (for a session) reads `request.POST`, which parses any form or multipart body, and
    `multipart/form-data` without a usable boundary raised there, before authentication, as an
    HTML error. The API takes JSON only: another content type is refused here (415), and a body
    that is not JSON (or nests too deep for the parser) is a 400, whoever sends it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in UNSAFE_METHODS and request.path_info.startswith(API_PREFIX):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    @staticmethod
    def _refusal(request) -> JsonResponse | None:
        media_type = request.content_type.strip().lower()
        charset = (request.content_params.get("charset") or "utf-8").strip().lower()
        try:
            body = request.body
        except RequestDataTooBig:
            return _body_error(413, "body", "The body is too large.")
        if media_type in FORM_TYPES:
            return _form_refusal(request)
        if media_type not in ("", "application/json") or charset not in ("utf-8", "utf8"):
            return _body_error(415, "Content-Type", UNSUPPORTED) if body else None
        if not body:
            return None  # routes without a body (cancel); the others say what is missing
        try:
            json.loads(body)
        except RecursionError:
            return _body_error(400, "body", "The JSON body is nested too deeply.")
        except ValueError as exc:  # also UnicodeDecodeError: bytes that are not UTF-8
            return _body_error(400, "body", f"The body is not valid JSON: {exc}")
        return None


def _form_refusal(request) -> JsonResponse | None:
    """A form body is parsed here, where its errors can be answered; one that sends nothing passes."""
    try:
        sent = bool(request.POST) or bool(request.FILES)
    except MultiPartParserError as exc:
        return _body_error(400, "Content-Type", f"The multipart body cannot be read: {exc}")
    except SuspiciousOperation as exc:  # too many fields, a bad file name
        return _body_error(400, "body", f"The form body cannot be read: {exc}")
    # Django's test client and a bare HTML form post an empty form to an action without a body.
    return _body_error(415, "Content-Type", UNSUPPORTED) if sent else None


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
