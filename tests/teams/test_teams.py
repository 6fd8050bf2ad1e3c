"""Members, the current team, the dashboard, API tokens, passwords, and login throttling."""

from __future__ import annotations

import pytest
from django.utils import timezone

from experiments import services
from experiments.models import ApiToken, Membership, Run


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="builder-pass-123")


def test_a_team_admin_adds_an_existing_user_by_username(alice_client, team_and_user, bob):
    team = team_and_user[0]
    r = alice_client.post("/team/", {"username": "bob", "role": "member"}, follow=True)
    assert "Added bob to Vision as member." in r.content.decode()
    assert Membership.objects.filter(team=team, user=bob, role="member").exists()


@pytest.mark.parametrize(
    "username, message",
    [
        ("nobody", "There is no user named 'nobody'. Ask a LossLab admin to create the account first."),
        ("alice", "alice is already in Vision."),
    ],
)
def test_adding_a_member_says_clearly_what_went_wrong(alice_client, team_and_user, username, message):
    r = alice_client.post("/team/", {"username": username, "role": "member"})
    assert r.status_code == 400
    assert r.context["form"].errors["username"] == [message]


def test_a_plain_member_cannot_add_or_remove(client, team_and_user, bob, django_user_model):
    team, alice, _ = team_and_user
    Membership.objects.create(team=team, user=bob)
    carol = django_user_model.objects.create_user("carol", password="x-pass-12345")
    client.force_login(bob)
    r = client.post("/team/", {"username": "carol", "role": "admin"})
    assert r.status_code == 400 and "Only a team admin" in r.content.decode()
    alice_membership = Membership.objects.get(team=team, user=alice)
    r = client.post(f"/team/members/{alice_membership.pk}/remove/", follow=True)
    assert "Only a team admin" in r.content.decode()
    assert Membership.objects.filter(team=team).count() == 2 and not carol.memberships.exists()


def test_an_admin_removes_a_member_but_never_the_last_admin(alice_client, team_and_user, bob):
    team, alice, _ = team_and_user
    m = Membership.objects.create(team=team, user=bob)
    r = alice_client.post(f"/team/members/{m.pk}/remove/", follow=True)
    assert "Removed bob from Vision." in r.content.decode()
    mine = Membership.objects.get(team=team, user=alice)
    r = alice_client.post(f"/team/members/{mine.pk}/remove/", follow=True)
    assert "at least one admin" in r.content.decode()
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_a_user_in_two_teams_switches_and_the_top_bar_shows_it(alice_client, team_and_user):
    team, alice, _ = team_and_user
    other = services.team_create(name="Audio", owner=alice)
    services.experiment_create(team=other, user=alice, name="Speech")
    page = alice_client.get("/").content.decode()
    assert 'id="team-switch-select"' in page
    assert alice_client.get("/api/dashboard").json()["team"]["name"] == "Audio"  # first by name
    r = alice_client.post("/team/switch/", {"team": team.pk, "next": "/uploads/"})
    assert r.status_code == 302 and r["Location"] == "/uploads/"
    data = alice_client.get("/api/dashboard").json()
    assert data["team"]["name"] == "Vision" and [e["name"] for e in data["experiments"]] == ["Digits"]
    assert f'<option value="{team.pk}" selected>Vision</option>' in alice_client.get("/").content.decode()


def test_switching_refuses_an_outside_redirect_and_junk(alice_client, team_and_user):
    team = team_and_user[0]
    r = alice_client.post("/team/switch/", {"team": team.pk, "next": "https://evil.example/"})
    assert r["Location"] == "/"
    assert alice_client.post("/team/switch/", {"team": "x"}).status_code == 404
    assert alice_client.post("/team/switch/", {"team": str(2**70)}).status_code == 404


def test_the_dashboard_shows_live_runs_leaders_and_verdicts(alice_client, experiment, alice):
    from tests.helpers import tiny_config

    def launch(name, **fields):
        run = services.run_launch(experiment=experiment, user=alice, config=tiny_config(), name=name)
        Run.objects.filter(pk=run.pk).update(**fields)
        return run

    launch(
        "good",
        status="succeeded",
        finished_at=timezone.now(),
        summary={"best": {"val_accuracy": 0.8}},
        verdict="good_fit",
    )
    best = launch(
        "better",
        status="succeeded",
        finished_at=timezone.now(),
        summary={"best": {"val_accuracy": 0.95}, "diagnosis": {"verdict": "overfitting"}},
    )
    launch("training", status="running", epoch=2, epochs=4, summary={"best": {"val_accuracy": 0.99}})
    launch("waiting")
    data = alice_client.get("/api/dashboard").json()
    exp = data["experiments"][0]
    assert exp["leader"]["run"] == best.pk and exp["leader"]["value"] == 0.95  # a running run is no leader yet
    assert exp["url"] == f"/experiments/{experiment.pk}/" and exp["running"] == 1 and exp["queued"] == 1
    live = {r["name"]: r for r in data["live"]}
    assert live["training"]["progress"] == 0.5 and live["waiting"]["queue_position"] == 1
    recent = {r["name"]: r for r in data["recent"]}
    assert recent["good"]["verdict"] == "good_fit" and recent["better"]["verdict"] == "overfitting"
    assert data["saved_comparisons"] == []
    from experiments.services import saved_comparison_create

    view = saved_comparison_create(
        experiment=experiment, user=experiment.created_by, name="focal vs ce", run_ids=[best.pk]
    )
    saved = alice_client.get("/api/dashboard").json()["saved_comparisons"]
    assert saved == [
        {"id": view.pk, "name": "focal vs ce", "experiment": experiment.name, "url": f"/comparisons/{view.pk}/"}
    ]
    page = alice_client.get("/").content.decode()
    assert 'id="dashboard-data"' in page and "better" in page and "js/dashboard.js" in page


def test_an_api_token_is_shown_once_and_works_until_revoked(alice_client, alice):
    r = alice_client.post("/account/tokens/", {"name": "nightly sweep"}, follow=True)
    secret = r.context["new_token"]["secret"]
    assert secret.startswith("ll_") and secret in r.content.decode()
    again = alice_client.get("/account/tokens/").content.decode()
    assert secret not in again and "nightly sweep" in again
    token = ApiToken.objects.get(user=alice)
    assert token.digest == ApiToken.hash(secret) and secret not in str(token.__dict__)
    from django.test import Client

    script = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert script.get("/api/experiments").status_code == 200
    alice_client.post(f"/account/tokens/{token.pk}/revoke/")
    assert script.get("/api/experiments").status_code == 401


def test_a_token_needs_a_name(alice_client):
    r = alice_client.post("/account/tokens/", {"name": "  "})
    assert r.status_code == 400 and r.context["form"].errors["name"]


def test_password_change(client, alice):
    client.force_login(alice)
    r = client.post(
        "/account/password/",
        {"old_password": "wrong", "new_password1": "n3w-Secret-pass", "new_password2": "n3w-Secret-pass"},
    )
    assert r.status_code == 200 and r.context["form"].errors["old_password"]
    r = client.post(
        "/account/password/",
        {"old_password": "wonderland-pass", "new_password1": "n3w-Secret-pass", "new_password2": "n3w-Secret-pass"},
    )
    assert r.status_code == 302 and r["Location"] == "/account/password/done/"
    alice.refresh_from_db()
    assert alice.check_password("n3w-Secret-pass")


def test_logins_are_throttled_with_a_lockout_page(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        r = client.post("/login/", {"username": "alice", "password": "guess"})
        assert r.status_code == 200 and "Please enter a correct username" in r.content.decode()
    r = client.post("/login/", {"username": "alice", "password": "guess"})
    assert r.status_code == 429 and "Too many failed logins" in r.content.decode()
    # even the right password is refused while locked out
    r = client.post("/login/", {"username": "alice", "password": "wonderland-pass"})
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_right_password_logs_in(client, alice):
    r = client.post("/login/", {"username": "alice", "password": "wonderland-pass"})
    assert r.status_code == 302 and r["Location"] == "/"


def test_the_admin_is_for_staff_only(alice_client, alice):
    assert alice_client.get("/admin/").status_code == 302
    alice.is_staff = True
    alice.is_superuser = True
    alice.save()
    assert alice_client.get("/admin/experiments/upload/").status_code == 200
    assert alice_client.get("/admin/").status_code == 200
