"""run_launch's rules for every entry point: launch limits (429), team-owned CSV uploads, and visible GPU bounds."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from experiments.models import Run
from tests.experiments.test_launch import form_data
from tests.helpers import tiny_config
from tests.teams.conftest import IRIS_CSV, csv_file
from webapp.pages.forms import RunLaunchForm


def api_launch(client, experiment, config=None, **body):
    payload = {"experiment": experiment.pk, "config": config or tiny_config(), **body}
    return client.post("/api/runs", json.dumps(payload), content_type="application/json")


def test_launches_per_minute_are_limited_on_the_api_and_the_form(alice_client, experiment, settings):
    settings.RUNS_PER_MINUTE = 2
    assert api_launch(alice_client, experiment).status_code == 201
    assert api_launch(alice_client, experiment).status_code == 201
    r = api_launch(alice_client, experiment)
    assert r.status_code == 429
    assert r.json()["errors"][0]["field"] == "runs_per_minute"
    assert "at most 2 runs per minute" in r.json()["detail"]
    r = alice_client.post(f"/experiments/{experiment.pk}/runs/new/", form_data())
    assert r.status_code == 429 and "at most 2 runs per minute" in r.content.decode()
    assert Run.objects.count() == 2


def test_queued_runs_per_user_are_limited(alice_client, experiment, settings):
    settings.MAX_QUEUED_PER_USER = 1
    assert api_launch(alice_client, experiment).status_code == 201
    r = api_launch(alice_client, experiment)
    assert r.status_code == 429 and r.json()["errors"][0]["field"] == "queued_runs"
    Run.objects.update(status="succeeded")
    assert api_launch(alice_client, experiment).status_code == 201


@pytest.fixture
def team_upload(alice_client, upload_dir):
    alice_client.post("/uploads/", {"file": csv_file(IRIS_CSV, "iris.csv")})
    from experiments.models import Upload

    return Upload.objects.get()


def csv_config(upload_id, target="species"):
    return tiny_config(dataset={"name": "csv", "upload": upload_id, "target": target}, loss={"name": "cross_entropy"})


def test_the_form_launches_on_a_team_upload_with_a_target_column(alice_client, experiment, team_upload):
    page = alice_client.get(f"/experiments/{experiment.pk}/runs/new/").content.decode()
    assert f'<option value="{team_upload.pk}">iris.csv (table CSV, 30 rows)</option>' in page
    assert 'list="target-columns"' in page and '"species"' in page  # columns offered to the script
    data = form_data(csv_config(team_upload.pk))
    r = alice_client.post(f"/experiments/{experiment.pk}/runs/new/", data)
    assert r.status_code == 302, r.content.decode()[:3000]
    run = Run.objects.get()
    assert run.config["dataset"]["upload"] == team_upload.pk and run.config["dataset"]["target"] == "species"


def test_the_api_refuses_another_teams_upload_as_not_found(client, worlds):
    a, b = worlds
    client.force_login(b.user)
    r = api_launch(client, b.experiment, csv_config(a.upload.pk, target="alpha_col"))
    assert r.status_code == 404
    assert r.json()["errors"] == [{"field": "config.dataset.upload", "message": "No such upload in this team."}]
    missing = api_launch(client, b.experiment, csv_config(10**9, target="alpha_col"))
    assert missing.status_code == 404 and missing.json() == r.json()  # same answer as an upload that does not exist
    assert not Run.objects.filter(experiment=b.experiment, config__dataset__name="csv").exists()


def test_the_form_names_the_upload_field_for_a_foreign_upload(client, worlds):
    a, b = worlds
    client.force_login(b.user)
    # a forged POST: the select only offers B's uploads, so the form itself refuses A's id
    r = client.post(
        f"/experiments/{b.experiment.pk}/runs/new/",
        form_data(csv_config(b.upload.pk, "bravo_col"), dataset__upload=str(a.upload.pk)),
    )
    assert r.status_code == 400 and r.context["form"].errors["dataset__upload"]


def test_a_target_that_is_not_a_column_is_named(alice_client, experiment, team_upload):
    r = api_launch(alice_client, experiment, csv_config(team_upload.pk, target="petal_width"))
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["field"] == "config.dataset.target" and "choose one of: sepal, petal, species" in err["message"]


def test_a_regression_task_on_a_text_target_is_refused_with_its_field(alice_client, experiment, team_upload):
    config = csv_config(team_upload.pk)
    config["dataset"]["task"] = "regression"
    config["loss"] = {"name": "mse"}
    r = api_launch(alice_client, experiment, config)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "config.dataset.target"


def test_every_gpu_bound_is_in_the_form_help_text():
    form = RunLaunchForm()
    helps = {name: str(f.help_text) for name, f in form.fields.items()}
    assert "500" in helps["epochs"] and "65536" in helps["batch_size"]
    assert "4096" in helps["model__hidden"] and "at most 8 values" in helps["model__hidden"]
    assert "200000" in helps["dataset__n_samples"]
    for name, field in form.fields.items():
        top = getattr(field, "max_value", None)
        if top is not None:
            assert str(top) in helps[name].replace(",", "") or f"{top:g}" in helps[name], name


def test_the_json_api_needs_csrf_with_a_session_but_not_with_a_token(experiment, alice):
    from experiments import services

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    r = api_launch(browser, experiment)
    assert r.status_code in (401, 403) and not Run.objects.exists()
    r = browser.post("/team/switch/", {"team": experiment.team_id})
    assert r.status_code == 403
    _, secret = services.token_create(user=alice, name="script")
    script = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api_launch(script, experiment).status_code == 201


def test_every_state_changing_page_needs_a_csrf_token(worlds):
    """Enumerated like the isolation test: a POST without the token changes nothing, whoever sends it."""
    from tests.teams.test_isolation import fill, patterns, snapshot

    a, _ = worlds
    before = snapshot(a)
    browser = Client(enforce_csrf_checks=True)
    for pattern in patterns():
        if pattern.is_admin or pattern.name in ("login",):
            continue
        browser.force_login(a.user)
        path = fill(pattern, a)
        r = browser.post(path, data="{}", content_type="application/json") if pattern.is_api else browser.post(path)
        assert r.status_code in (401, 403, 405), f"POST {path} ({pattern.name}) answered {r.status_code} without CSRF"
    assert snapshot(a) == before
