"""The walkthrough with variations, trained by a real worker: one group per configuration, accuracy
intervals inside [0, 1], missing seeds queued from the leaderboard, and an effects table per sweep."""

from __future__ import annotations

import json

import pytest

from experiments import services
from experiments.models import Run
from tests.experiments.test_launch import form_data
from tests.helpers import tiny_config, wait_for

pytestmark = pytest.mark.integration


def all_finished() -> bool:
    return not Run.objects.exclude(status__in=Run.FINISHED).exists()


def test_form_api_and_a_2x3_sweep_give_one_group_per_configuration(client, alice, experiment, start_worker):
    start_worker("w1")
    client.force_login(alice)
    intent = tiny_config(epochs=3)
    # The form, with what a user leaves behind: a step size from trying "step", then back to "constant".
    r = client.post(f"/experiments/{experiment.pk}/runs/new/", form_data(intent, schedule__step_size="4"))
    assert r.status_code == 302
    body = {"experiment": experiment.pk, "config": {**intent, "seed": 1}}
    assert client.post("/api/runs", json.dumps(body), content_type="application/json").status_code == 201
    base = {**intent, "optimizer": {"name": "adam", "lr": 0.01}}
    sweep = services.sweep_launch(
        experiment=experiment, user=alice, base=base, grid={"optimizer": ["adam", "sgd"]}, seeds=3
    )
    body = {"experiment": experiment.pk, "config": {**intent, "optimizer": {"name": "rmsprop", "lr": 0.01}}}
    assert client.post("/api/runs", json.dumps(body), content_type="application/json").status_code == 201
    wait_for(all_finished, timeout=240, message="every run to finish")
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}

    board = client.get(f"/api/experiments/{experiment.pk}/ranking").json()
    by_opt = {Run.objects.get(pk=g["run_ids"][0]).config["optimizer"]["name"]: g for g in board["groups"]}
    assert sorted(by_opt) == ["adam", "rmsprop", "sgd"]  # form, API and sweep's adam: one group
    assert by_opt["adam"]["n"] == 5 and by_opt["sgd"]["n"] == 3
    for g in (by_opt["adam"], by_opt["sgd"]):
        assert 0.0 <= g["ci_low"] <= g["mean"] <= g["ci_high"] <= 1.0
    rmsprop = by_opt["rmsprop"]
    assert rmsprop["ci_low"] is None and rmsprop["p_rank1"] is None and rmsprop["seeds_missing"] == 2
    leader = board["groups"][0]
    assert leader["verdict"] in ("clearly_ahead", "not_clearly_ahead")

    # The sweep's effects: its own 2 x 3 runs, not the form's or the API's.
    assert board["sweep"] == sweep[0].sweep_id
    (adam_or_sgd,) = [board["effects"]["optimizer.name"]]
    assert {e["value"] for e in adam_or_sgd} == {"adam", "sgd"}
    assert all(e["n_seeds"] == 3 and 0.0 <= e["ci_low"] <= e["ci_high"] <= 1.0 for e in adam_or_sgd)

    # One button queues rmsprop's missing seeds; once trained, it has an interval.
    r = client.post(f"/experiments/{experiment.pk}/leaderboard/seeds/", {"group": rmsprop["key"]})
    assert r.status_code == 302
    wait_for(all_finished, timeout=120, message="the missing seeds to finish")
    board = client.get(f"/api/experiments/{experiment.pk}/ranking").json()
    rmsprop = next(g for g in board["groups"] if g["key"] == rmsprop["key"])
    assert rmsprop["n"] == 3 and 0.0 <= rmsprop["ci_low"] <= rmsprop["ci_high"] <= 1.0
    assert rmsprop["seeds_missing"] == 0
