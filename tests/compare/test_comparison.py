"""The compare selectors and `GET /api/experiments/{id}/compare`: series, downsampling, loss-awareness, bad input."""

import numpy as np
import pytest

from experiments import metric_store
from experiments.errors import Refused
from experiments.selectors import comparison
from tests.compare.factories import make_run


def api(client, experiment, **params):
    return client.get(f"/api/experiments/{experiment.pk}/compare", params)


def test_it_parses_run_ids_and_names_the_field_when_they_are_bad():
    assert comparison.parse_run_ids(["3,5", "5", " 8 "]) == [3, 5, 8]
    with pytest.raises(Refused) as exc:
        comparison.parse_run_ids("3,abc")
    assert exc.value.field == "runs"
    with pytest.raises(Refused):
        comparison.parse_run_ids(",".join(str(i) for i in range(comparison.MAX_RUNS + 1)))


def test_it_overlays_two_runs_by_step_and_by_epoch(alice_client, experiment):
    a = make_run(experiment, epochs=4, steps_per_epoch=10)
    b = make_run(experiment, epochs=3, steps_per_epoch=10, optimizer={"lr": 0.1})
    r = api(alice_client, experiment, runs=f"{a.pk},{b.pk}", keys="val_loss,train_loss_step", x="step")
    assert r.status_code == 200, r.content
    data = r.json()
    assert [run["id"] for run in data["runs"]] == [a.pk, b.pk]
    assert data["series"][str(a.pk)]["val_loss"]["x"] == [10, 20, 30, 40]
    assert len(data["series"][str(b.pk)]["train_loss_step"]["x"]) == 30
    by_epoch = api(alice_client, experiment, runs=f"{a.pk}", keys="val_loss,train_loss_step", x="epoch").json()
    assert by_epoch["series"][str(a.pk)]["val_loss"]["x"] == [1, 2, 3, 4]
    steps = by_epoch["series"][str(a.pk)]["train_loss_step"]["x"]
    assert steps[0] == pytest.approx(0.1) and steps[14] == pytest.approx(1.5) and steps[-1] == pytest.approx(4)
    by_time = api(alice_client, experiment, runs=f"{a.pk}", keys="val_loss", x="time").json()
    assert by_time["series"][str(a.pk)]["val_loss"]["x"][0] == 0


def test_it_downsamples_long_series_keeping_the_spike(experiment):
    run = make_run(experiment, history=False)
    steps = np.arange(1, 10_001)
    values = np.exp(-steps / 3000.0)
    values[7777] = 50.0  # one spike
    values[2222] = float("nan")  # a non-finite marker
    metric_store.write_points(
        run.pk, [(int(s), "train_loss_step", float(v), 1000.0 + s) for s, v in zip(steps, values)]
    )
    out = comparison.compare_series([run.pk], keys=["train_loss_step"], x="step", max_points=300)[run.pk][
        "train_loss_step"
    ]
    assert len(out["x"]) <= 300
    assert 50.0 in out["y"] and 7778 in out["x"]
    assert np.isnan(out["y"]).sum() == 1  # the NaN marker is kept (and sent as null)
    assert b"null" in comparison.encode(out)
    assert out["x"][0] == 1 and out["x"][-1] == 10_000


def test_round_sig_keeps_six_significant_digits():
    rounded = comparison.round_sig(np.array([0.123456789, 12345.6789, -0.000123456789, 0.0, np.inf]))
    assert comparison.encode(rounded) == b"[0.123457,12345.7,-0.000123457,0.0,null]"


def test_different_losses_default_to_the_shared_metric(alice_client, experiment):
    a = make_run(experiment, loss={"name": "cross_entropy"})
    b = make_run(experiment, loss={"name": "focal"})
    data = api(alice_client, experiment, runs=f"{a.pk},{b.pk}").json()
    assert data["mixed_losses"] is True
    assert data["keys"] == ["val_accuracy"] and data["shared_metrics"] == ["val_accuracy", "val_nll"]
    assert set(data["series"][str(a.pk)]) == {"val_accuracy"}
    page = alice_client.get(f"/experiments/{experiment.pk}/compare/?runs={a.pk},{b.pk}").content.decode()
    assert "trained with different losses" in page and "val_accuracy" in page


def test_label_smoothing_is_a_different_scale_too(experiment):
    a = make_run(experiment)
    b = make_run(experiment, loss={"name": "cross_entropy", "label_smoothing": 0.1})
    assert comparison.loss_awareness([a, b])["mixed_losses"] is True
    assert comparison.loss_awareness([a, make_run(experiment, seed=1)])["mixed_losses"] is False


def test_regression_runs_get_rmse_as_shared_metric(experiment):
    a = make_run(experiment, dataset={"name": "diabetes"}, loss={"name": "mse"}, score=None)
    b = make_run(experiment, dataset={"name": "diabetes"}, loss={"name": "huber"}, score=None)
    aware = comparison.loss_awareness([a, b])
    assert aware["tasks"] == ["regression"] and aware["default_keys"] == ["val_rmse"]


def test_config_diff_hides_identical_fields_and_types_the_rest():
    rows = comparison.config_diff(
        [
            {"optimizer": {"name": "adam", "lr": 0.01}, "model": {"hidden": [16], "batchnorm": True}, "seed": 0},
            {"optimizer": {"name": "sgd", "lr": 0.01}, "model": {"hidden": [32, 16], "batchnorm": False}, "seed": 0},
        ]
    )
    assert {r["field"]: r["kind"] for r in rows} == {
        "model.batchnorm": "bool",
        "model.hidden": "list",
        "optimizer.name": "text",
    }
    assert comparison.config_diff([{"a": 1}, {"a": 1.5}])[0]["kind"] == "number"


@pytest.mark.parametrize(
    "params, field",
    [
        ({"runs": "1,x"}, "runs"),
        ({"runs": "999999"}, "runs"),
        ({"runs": "1", "x": "minutes"}, "x"),
        ({"runs": "1", "max_points": "2"}, "max_points"),
        ({"runs": "1", "max_points": "lots"}, "max_points"),
    ],
)
def test_bad_compare_queries_are_refused_naming_the_field(alice_client, experiment, params, field):
    run = make_run(experiment)
    params = {k: v.replace("1", str(run.pk), 1) if k == "runs" and v == "1" else v for k, v in params.items()}
    r = api(alice_client, experiment, **params)
    assert r.status_code == 422, r.content
    assert r.json()["errors"][0]["field"] == field


def test_without_runs_it_compares_the_newest_runs(alice_client, experiment):
    runs = [make_run(experiment) for _ in range(3)]
    r = api(alice_client, experiment)
    assert r.status_code == 200, r.content
    assert sorted(run["id"] for run in r.json()["runs"]) == sorted(run.pk for run in runs)


def test_a_run_of_another_experiment_is_refused(alice_client, experiment):
    from experiments.models import Experiment

    other = Experiment.objects.create(team=experiment.team, name="other", created_by=experiment.created_by)
    run = make_run(other)
    r = api(alice_client, experiment, runs=str(run.pk))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "runs"


def test_another_teams_experiment_is_not_found(bob_client, experiment):
    run = make_run(experiment)
    assert api(bob_client, experiment, runs=str(run.pk)).status_code == 404
    assert bob_client.get(f"/experiments/{experiment.pk}/compare/?runs={run.pk}").status_code == 404


def _field_by_field_diff(configs, ignore):
    """The plain definition: flatten every config, compare every field."""
    flat = [comparison.flatten_config(c or {}) for c in configs]
    rows = []
    for field in sorted(set().union(*flat) - set(ignore)):
        values = [f.get(field, comparison.MISSING) for f in flat]
        if any(v != values[0] for v in values[1:]):
            rows.append({"field": field, "kind": comparison._kind(values), "values": values})
    return rows


def _random_config(rng):
    config = {
        "optimizer": {"name": rng.choice(["adam", "sgd"]), "lr": rng.choice([0.1, 0.01])},
        "model": {
            "hidden": rng.choice([[16], [32, 16]]),
            "batchnorm": rng.choice([True, False]),
            "head": {"dropout": rng.choice([0.0, 0.5])},
        },
        "dataset": {"name": "iris"},
        "seed": rng.randrange(3),
        "device": rng.choice(["cpu", "auto"]),
    }
    if rng.random() < 0.2:
        del config["optimizer"]["lr"]  # missing in some configs
    if rng.random() < 0.1:
        config["model"]["head"] = None  # a value where the others hold a section
    if rng.random() < 0.1:
        config["schedule"] = {}  # an empty section
    if rng.random() < 0.1:
        config["extra"] = rng.choice([1, 1.0, "x", [1]])
    return config


@pytest.mark.parametrize("seed", range(8))
def test_config_diff_equals_the_field_by_field_diff(seed):
    import random

    rng = random.Random(seed)
    configs = [_random_config(rng) for _ in range(rng.randrange(1, 40))] + [None]
    for ignore in (("device",), ("seed", "device")):
        assert comparison.config_diff(configs, ignore=ignore) == _field_by_field_diff(configs, ignore)
