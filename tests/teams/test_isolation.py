"""Deny by default, proven over the whole URL conf.

Every URL pattern (pages, exports, downloads, cancel actions and every API
route) is requested with team A's object ids, as a member of team B (session
and bearer token, GET and POST) and anonymously. A's objects must answer
exactly like objects that do not exist (404, never 403 or their data), no
response may carry any of A's names, and nothing of A's may change.

A new pattern with a path parameter this test does not know how to fill fails
the test: add the parameter to `fill()` so the new endpoint is covered too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from experiments.api import api
from experiments.models import ApiToken, Membership, Run, Upload

MISSING_ID = 987654321
# Reachable without logging in; they show nothing of any team.
PUBLIC = {"login", "logout", "admin:login", "api:openapi-json", "api:openapi-view", "api:api-root", "favicon"}


@dataclass
class Pattern:
    route: str
    name: str
    params: list[str]
    namespaces: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.namespaces

    @property
    def is_api(self) -> bool:
        return "api" in self.namespaces


def patterns(resolver=None, prefix: str = "", namespaces: tuple = ()) -> list[Pattern]:
    out = []
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            ns = namespaces + ((p.namespace,) if p.namespace else ())
            out += patterns(p, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = ":".join(namespaces + (p.name or "?",))
            out.append(Pattern(prefix + str(p.pattern), name, list(p.pattern.regex.groupindex), namespaces))
    return out


def fill(pattern: Pattern, world, missing: bool = False) -> str:
    """The pattern's path with each parameter set to one of the world's object ids (or an id that does not exist)."""
    if pattern.is_admin:
        # Staff-only Django admin; B is not staff. Any valid-looking value will do.
        ids = {
            "object_id": world.run.pk,
            "content_type_id": 1,
            "id": world.user.pk,
            "app_label": "experiments",
            "url": f"experiments/run/{world.run.pk}/change/",
        }
    else:
        ids = {
            "experiment_id": world.experiment.pk,
            "run_id": world.run.pk,
            "upload_id": world.upload.pk,
            "token_id": world.token.pk,
            "membership_id": world.membership.pk,
            "comparison_id": world.comparison.pk,
            "group_hash": world.run.group_hash,
            "fmt": "csv",
        }
    path = pattern.route
    for param in pattern.params:
        if param not in ids:
            pytest.fail(
                f"{pattern.name} ({pattern.route}): the isolation test does not know how to fill "
                f"'{param}'; add it to fill() with team A's object of that kind"
            )
        is_id = param.endswith("_id")
        value = str(MISSING_ID if missing and is_id and not pattern.is_admin else ids[param])
        path = re.sub(r"<(?:\w+:)?" + param + ">", value, path)
        path = re.sub(r"\(\?P<" + param + r">[^)]*\)", value, path)
    return "/" + path.replace("^", "").replace("$", "")


def leaks(response, marker: str) -> list[str]:
    body = response.content.decode(errors="replace")
    return [m for m in (f"{marker}-", f"{marker}_") if m in body]


def snapshot(world) -> dict:
    return {
        "runs": list(
            Run.objects.filter(experiment=world.experiment)
            .order_by("pk")
            .values_list("pk", "status", "cancel_requested", "name")
        ),
        "experiment": world.experiment.__class__.objects.filter(pk=world.experiment.pk).values_list("name").first(),
        "members": list(Membership.objects.filter(team=world.team).values_list("pk", "user_id", "role")),
        "tokens": list(ApiToken.objects.filter(user=world.user).values_list("pk")),
        "uploads": list(Upload.objects.filter(team=world.team).values_list("pk", "original_name")),
        "upload_file": world.upload.path.read_bytes(),
        "comparisons": list(world.team.comparisons.values_list("pk", "name", "run_ids")),
    }


def request(client, method: str, path: str, pattern: Pattern, **extra):
    if method == "GET":
        return client.get(path, **extra)
    if pattern.is_api:
        return client.post(path, data="{}", content_type="application/json", **extra)
    return client.post(path, data={}, **extra)


def test_it_knows_every_api_route():
    """Every ninja operation is among the URL patterns enumerated here, so none escapes the checks."""
    names = {p.name for p in patterns()}
    for _, router in api._routers:
        for path_view in router.path_operations.values():
            for op in path_view.operations:
                assert f"api:{op.view_func.__name__}" in names


@pytest.mark.parametrize("auth", ["session", "token"])
def test_another_teams_objects_are_not_found(client, worlds, auth):
    a, b = worlds
    before = snapshot(a)
    extra = {} if auth == "session" else {"HTTP_AUTHORIZATION": f"Bearer {b.secret}"}
    checked = 0
    for pattern in patterns():
        if auth == "token" and not pattern.is_api:
            continue
        for method in ("GET", "POST"):
            if auth == "session":
                client.force_login(b.user)  # POST /logout/ is among the patterns
            r = request(client, method, fill(pattern, a), pattern, **extra)
            where = f"{method} {fill(pattern, a)} ({pattern.name})"
            assert r.status_code != 500, where
            assert not leaks(r, a.marker), f"{where} leaks team A's data: {r.content[:300]!r}"
            if pattern.is_admin:
                # not staff: every admin page sends B to the admin's login (or its index, which does)
                if pattern.name != "admin:login":
                    assert r.status_code in (302, 405), where
                    assert r.status_code == 405 or r["Location"].startswith("/admin/"), where
            elif pattern.params:
                missing = request(client, method, fill(pattern, a, missing=True), pattern, **extra)
                assert r.status_code in (404, 405), f"{where} answered {r.status_code}"
                assert r.status_code == missing.status_code, f"{where} answers unlike a missing object"
            checked += 1
    assert checked > 20
    assert snapshot(a) == before, "a request from team B changed team A's objects"


def test_anonymous_requests_need_a_login(client, worlds):
    a, _ = worlds
    before = snapshot(a)
    for pattern in patterns():
        for method in ("GET", "POST"):
            path = fill(pattern, a)
            r = request(client, method, path, pattern)
            where = f"anonymous {method} {path} ({pattern.name})"
            assert r.status_code != 500, where
            assert not leaks(r, a.marker), where
            if pattern.name in PUBLIC:
                continue
            if pattern.is_api:
                assert r.status_code in (401, 405), f"{where} answered {r.status_code}"
            else:
                assert r.status_code == 302 and "login/" in r["Location"], f"{where} answered {r.status_code}"
    assert snapshot(a) == before


def test_each_team_still_sees_its_own_objects(client, worlds):
    """The other half of isolation: the checks above must not pass merely because everything is a 404."""
    a, b = worlds
    client.force_login(a.user)
    for path in (
        f"/experiments/{a.experiment.pk}/",
        f"/runs/{a.run.pk}/",
        f"/api/runs/{a.run.pk}",
        f"/api/runs/{a.run.pk}/metrics",
        f"/uploads/{a.upload.pk}/download/",
        "/api/dashboard",
        "/",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert leaks(r, a.marker) or r.json()["series"]["val_loss"]["value"], path
        assert not leaks(r, b.marker), path


def test_dashboard_and_lists_of_team_b_show_only_team_b(client, worlds):
    a, b = worlds
    client.force_login(b.user)
    for path in (
        "/",
        "/api/dashboard",
        "/experiments/",
        "/uploads/",
        "/api/runs",
        "/api/experiments",
        "/api/uploads",
        "/team/",
        "/account/tokens/",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert not leaks(r, a.marker), path
    assert client.get(f"/api/dashboard?team={a.team.pk}").status_code == 404


def test_a_session_cannot_switch_into_another_team(client, worlds):
    a, b = worlds
    client.force_login(b.user)
    assert client.post("/team/switch/", {"team": a.team.pk}).status_code == 404
    # a forged session value falls back to the user's own team
    session = client.session
    session["team_id"] = a.team.pk
    session.save()
    r = client.get("/api/dashboard")
    assert r.json()["team"]["name"] == "bravo-team"
