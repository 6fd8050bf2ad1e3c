"""The launch form and the run API: what they accept, and field-named errors for what they refuse."""

import json

import pytest

from experiments.models import Run
from tests.helpers import tiny_config
from webapp.pages.forms import flatten
from workers.training.config import RunConfig


def form_data(config: dict | None = None, **extra) -> dict:
    data = flatten(RunConfig.model_validate(config or tiny_config()).model_dump(mode="json"))
    data = {k: v for k, v in data.items() if v is not None}
    # Unchecked checkboxes are simply absent from a browser's POST.
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    data.update(extra)
    return data


def test_it_shows_the_tutorial_preset_in_the_form(alice_client, experiment):
    r = alice_client.get(f"/experiments/{experiment.pk}/runs/new/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'name="optimizer__lr"' in html and 'value="0.001"' in html
    assert 'name="model__hidden" value="256,128"' in html
    assert "Learning rate" in html  # help texts come from the schema


def test_it_launches_a_run_from_the_form(alice_client, experiment):
    r = alice_client.post(f"/experiments/{experiment.pk}/runs/new/", form_data(name="first"))
    assert r.status_code == 302, r.content.decode()[:2000]
    run = Run.objects.get()
    assert r["Location"] == f"/runs/{run.pk}/"
    assert run.status == "queued" and run.name == "first"
    assert run.config == RunConfig.model_validate(tiny_config()).model_dump(mode="json")
    assert run.config_hash == RunConfig.model_validate(run.config).config_hash()
    assert run.epochs == 3


@pytest.mark.parametrize(
    "field,value,fragment",
    [
        ("optimizer__lr", "-1", "optimizer__lr"),
        ("optimizer__lr", "abc", "optimizer__lr"),
        ("epochs", "100000", "epochs"),
        ("batch_size", "0", "batch_size"),
        ("optimizer__name", "lbfgs-turbo", "optimizer__name"),
        ("model__hidden", "256,abc", "model__hidden"),
        ("model__hidden", "999999", "model__hidden"),
        ("dataset__val_fraction", "0.99", "dataset__val_fraction"),
    ],
)
def test_it_rejects_bad_form_values_with_a_field_message(alice_client, experiment, field, value, fragment):
    r = alice_client.post(f"/experiments/{experiment.pk}/runs/new/", form_data(**{field: value}))
    assert r.status_code == 400
    form = r.context["form"]
    assert field in form.errors, form.errors
    assert not Run.objects.exists()


def test_it_refuses_a_loss_that_does_not_fit_the_task(alice_client, experiment):
    data = form_data(tiny_config(dataset={"name": "diabetes"}, loss={"name": "mse"}), loss__name="cross_entropy")
    r = alice_client.post(f"/experiments/{experiment.pk}/runs/new/", data)
    assert r.status_code == 400
    assert "regression" in str(r.context["form"].errors)
    assert not Run.objects.exists()


def test_it_launches_through_the_api(alice_client, experiment):
    body = {"experiment": experiment.pk, "config": tiny_config()}
    r = alice_client.post("/api/runs", json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["status"] == "queued" and data["queue_position"] == 1
    assert Run.objects.get(pk=data["id"]).experiment == experiment


@pytest.mark.parametrize(
    "config,field",
    [
        (tiny_config(optimizer={"name": "adam", "lr": 0}), "config.optimizer.lr"),
        (tiny_config(epochs=10**9), "config.epochs"),
        (tiny_config(model={"arch": "mlp", "hidden": [16], "activation": "swishy"}), "config.model.activation"),
        (tiny_config(unknown_key=1), "config.unknown_key"),
        (tiny_config(dataset={"name": "mnist-from-the-internet"}), "config.dataset.name"),
        (tiny_config(batch_size="big"), "config.batch_size"),
    ],
)
def test_the_api_names_the_bad_field(alice_client, experiment, config, field):
    body = {"experiment": experiment.pk, "config": config}
    r = alice_client.post("/api/runs", json.dumps(body), content_type="application/json")
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert not Run.objects.exists()


def test_the_api_refuses_malformed_json_and_unknown_experiments(alice_client, experiment):
    r = alice_client.post("/api/runs", "{not json", content_type="application/json")
    assert r.status_code in (400, 422)
    r = alice_client.post(
        "/api/runs", json.dumps({"experiment": 99999, "config": tiny_config()}), content_type="application/json"
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "experiment"


def test_the_api_needs_authentication(client, experiment):
    assert client.get("/api/runs").status_code == 401
    r = client.post(
        "/api/runs", json.dumps({"experiment": experiment.pk, "config": tiny_config()}), content_type="application/json"
    )
    assert r.status_code == 401


def test_a_token_authenticates_scripts(client, alice, experiment):
    from experiments.models import ApiToken

    token = ApiToken.generate()
    ApiToken.objects.create(user=alice, name="ci", digest=ApiToken.hash(token), prefix=token[:8])
    r = client.get("/api/experiments", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 200 and [e["name"] for e in r.json()] == ["Digits"]
    assert client.get("/api/experiments", HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_the_openapi_document_describes_the_run_config(client):
    doc = client.get("/api/openapi.json").json()
    assert "/api/runs" in doc["paths"] and "/api/runs/{run_id}/metrics" in doc["paths"]
    assert "RunConfig" in json.dumps(doc["components"])


def test_cancelling_a_queued_run_is_immediate(alice_client, experiment):
    from experiments.services import run_launch

    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config())
    r = alice_client.post(f"/api/runs/{run.pk}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = alice_client.post(f"/api/runs/{run.pk}/cancel")
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "status"


def test_the_experiment_page_lists_runs_with_progress(alice_client, experiment):
    from experiments.services import run_launch

    run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config(), name="visible run")
    html = alice_client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "visible run" in html and "#1 in queue" in html and "<progress" in html


def test_every_choice_of_the_form_says_what_it_does():
    from webapp.pages.forms import RunLaunchForm

    form = RunLaunchForm()
    for name in (
        "dataset__name",
        "model__arch",
        "model__activation",
        "optimizer__name",
        "schedule__name",
        "loss__name",
        "dataset__preprocessing__normalize",
        "dataset__preprocessing__impute",
    ):
        # The option text is the value (a select is narrow); what it does is written under the select.
        helps = json.loads(form.fields[name].widget.attrs["data-choice-help"])
        for value, label in form.fields[name].choices:
            assert label == value and len(helps[value]) > 8, (name, value)
