"""The JSON API under /api/ (django-ninja): session auth with CSRF, or `Authorization: Bearer <token>`.

The OpenAPI document is served at /api/openapi.json. Invalid input is answered
422 (schema) or 400 (business rule) with `errors: [{field, message}]`. One router
per area (`runs`, `analysis`, `teams`); the handlers below are the one place where a
domain refusal (`experiments.errors.Refused`) becomes an HTTP status.

May import services, selectors, metric_store, models, errors and analysis; never pages or workers.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, django_auth

from experiments.api import analysis, runs, teams
from experiments.errors import HTTP_STATUS, Refused, error_location
from experiments.models import ApiToken


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        try:
            api_token = ApiToken.objects.select_related("user").get(digest=ApiToken.hash(token))
        except ApiToken.DoesNotExist:
            return None
        if not api_token.user.is_active:
            return None
        ApiToken.objects.filter(pk=api_token.pk).update(last_used=timezone.now())
        request.user = api_token.user
        return api_token.user


api = NinjaAPI(
    title="LossLab API",
    version="1.0",
    auth=[TokenAuth(), django_auth],
    openapi_url="/openapi.json",
    docs_url="/docs",
    urls_namespace="api",
)


def _api_error(e: dict) -> dict:
    loc = [p for p in e.get("loc", []) if p not in ("body", "payload", "query", "path", "q", "filters")]
    parts, msg = error_location(loc, str(e.get("msg", "invalid")))
    return {"field": ".".join(parts) or "body", "message": msg}


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    errors = [_api_error(e) for e in exc.errors]
    return api.create_response(request, {"detail": "Invalid input.", "errors": errors}, status=422)


@api.exception_handler(Refused)
def on_refused(request, exc: Refused):
    body = {"detail": exc.message, "errors": [{"field": exc.field or "body", "message": exc.message}]}
    if exc.code == "not_found" and exc.field is None:
        body = {"detail": "Not found."}  # the shape a missing object has always had
    return api.create_response(request, body, status=HTTP_STATUS[exc.code])


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return api.create_response(request, {"detail": "Authentication required."}, status=401)


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    # e.g. a body that is not JSON: still name what is wrong, in the same shape as other errors.
    body = {"detail": str(exc), "errors": [{"field": "body", "message": str(exc)}]}
    return api.create_response(request, body, status=exc.status_code)


api.add_router("", runs.router)
api.add_router("", analysis.router)
api.add_router("", teams.router)
