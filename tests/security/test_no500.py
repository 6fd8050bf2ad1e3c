"""Requests that once answered 500 (or an HTML page) now answer 4xx in JSON, naming what is wrong.

Each test sends what the issue reported: a number too large for a float, a multipart body without a
usable boundary (anonymous and with a session, CSRF enforced as in production), other content types,
bodies nested past the parser's depth.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from experiments.models import Run
from tests.helpers import tiny_config
from tests.security.fuzz import assert_clean

POST_ROUTES = ["/api/runs", "/api/experiments", "/api/diagnose", "/api/runs/1/cancel"]
HUGE = "9" * 400


def browser_like(user=None) -> Client:
    """A client as a browser is: CSRF enforced, with a CSRF cookie (else CSRF refuses before reading the body)."""
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    else:
        client.cookies["sessionid"] = "not-a-session"
    client.cookies["csrftoken"] = "a" * 32
    return client


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "session"])
@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\x00", "multipart/mixed"],
)
def test_it_refuses_a_multipart_body_in_json_before_csrf_reads_it(alice, logged_in, content_type):
    client = browser_like(alice if logged_in else None)
    for path in POST_ROUTES:
        r = client.generic("POST", path, b"--x\r\nfoo", content_type=content_type)
        # no usable boundary: unreadable (400); multipart/mixed: not a type the API reads (415)
        assert r.status_code == (415 if "mixed" in content_type else 400), (path, r.status_code, r.content[:200])
        assert_clean(r, f"{content_type} {path}")
        assert r.json()["errors"][0]["field"] == "Content-Type"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "application/json; charset=latin-1"],
)
def test_it_answers_415_to_a_body_that_is_not_json(alice_client, experiment, content_type):
    body = json.dumps({"experiment": experiment.pk, "config": tiny_config()})
    r = alice_client.generic("POST", "/api/runs", body, content_type=content_type)
    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]
    assert not Run.objects.exists()


def test_a_well_formed_multipart_form_is_415(alice_client, experiment):
    r = alice_client.post("/api/runs", {"experiment": experiment.pk, "config": "{}"})  # the client's multipart
    assert r.status_code == 415
    assert not Run.objects.exists()


def test_an_empty_multipart_body_without_boundary_is_refused_too(alice_client):
    # (the test client sets no Content-Type on an empty body unless told to)
    r = alice_client.generic("POST", "/api/runs/1/cancel", b"", CONTENT_TYPE="multipart/form-data")
    assert r.status_code == 400
    assert_clean(r, "empty multipart")


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
    ids=["truncated", "not-utf8", "deep"],
)
def test_a_malformed_body_is_a_400_before_authentication(client, body, message):
    # anonymous: the body is refused for what it is, not with a 401 after auth
    r = client.generic("POST", "/api/runs", body, content_type="application/json")
    assert r.status_code == 400
    assert message in r.json()["detail"]
    assert_clean(r, "malformed")


def test_a_valid_json_launch_still_passes_the_gate_with_csrf(alice, experiment):
    client = browser_like(alice)
    body = json.dumps({"experiment": experiment.pk, "config": tiny_config()})
    r = client.post("/api/runs", body, content_type="application/json; charset=utf-8", HTTP_X_CSRFTOKEN="a" * 32)
    assert r.status_code == 201, r.content
    # an empty cancel, as `curl -X POST` sends it (no Content-Type at all), is not refused by the gate
    r = client.generic("POST", f"/api/runs/{r.json()['id']}/cancel", b"", HTTP_X_CSRFTOKEN="a" * 32)
    assert r.status_code == 200, r.content


def test_a_body_over_the_size_limit_is_a_413_in_json(alice_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    r = alice_client.generic("POST", "/api/diagnose", b'{"x": "' + b"a" * 2000 + b'"}', content_type="application/json")
    assert r.status_code == 413
    assert_clean(r, "too large")


@pytest.mark.parametrize(
    "field, raw",
    [
        ("config.optimizer.lr", '{"optimizer": {"lr": 1e999}}'),
        ("config.optimizer.lr", '{"optimizer": {"lr": -1e999}}'),
        ("config.optimizer.lr", '{"optimizer": {"lr": NaN}}'),
        ("config.optimizer.lr", '{"optimizer": {"lr": HUGE}}'.replace("HUGE", HUGE)),
        ("config.regularization.grad_clip_norm", '{"regularization": {"grad_clip_norm": Infinity}}'),
        ("config.epochs", '{"epochs": HUGE}'.replace("HUGE", HUGE)),
        ("config.model.hidden", f'{{"model": {{"hidden": [{10**12}]}}}}'),
        ("config.dataset.upload", f'{{"dataset": {{"name": "csv", "upload": {10**30}, "target": "y"}}}}'),
        ("config.seed", f'{{"seed": {2**64}}}'),
    ],
)
def test_out_of_range_and_non_finite_numbers_are_refused_by_field(alice_client, experiment, field, raw):
    body = f'{{"experiment": {experiment.pk}, "config": {raw}}}'
    r = alice_client.generic("POST", "/api/runs", body, content_type="application/json")
    assert r.status_code == 422, r.content
    assert_clean(r, raw)
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        (f'{{"train_loss": [1, 2], "val_loss": [1, 2], "baseline_loss": {HUGE}}}', "baseline_loss"),
        (f'{{"train_loss": [{HUGE}, 2], "val_loss": [1, 2]}}', "train_loss"),
        ('{"train_loss": [1e999, 2], "val_loss": [1, 2]}', "train_loss"),
        ('{"train_loss": [1, 2], "val_loss": [1, NaN]}', "val_loss"),
        ('{"train_loss": [1, 2], "val_loss": [1, 2], "baseline_loss": 1e999}', "baseline_loss"),
        (
            f'{{"train_loss": [1, 2], "val_loss": [1, 2], "experiment_best_train_loss": {HUGE}}}',
            "experiment_best_train_loss",
        ),
        (f'{{"train_loss": [1, 2], "val_loss": [1, 2], "train_eval_loss": [{HUGE}, 1]}}', "train_eval_loss"),
    ],
)
def test_diagnose_refuses_numbers_a_float_cannot_hold(alice_client, body, field):
    r = alice_client.generic("POST", "/api/diagnose", body, content_type="application/json")
    assert r.status_code == 422, r.content
    assert_clean(r, body)
    assert r.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("team", [HUGE, "1e999", "-1e999", str(2**63)])
def test_experiment_team_id_out_of_range_is_refused(alice_client, team):
    r = alice_client.generic("POST", "/api/experiments", f'{{"name": "x", "team": {team}}}', "application/json")
    assert r.status_code == 422, r.content
    assert r.json()["errors"][0]["field"] == "team"
