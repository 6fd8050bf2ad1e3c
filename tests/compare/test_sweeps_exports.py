"""Sweeps (all or nothing, capped), saved comparisons, exports (formula-safe CSV) and metric compaction."""

import csv
import io
import json

import pytest

from experiments import metric_store
from experiments.models import Run, SavedComparison
from experiments.services.sweeps import MAX_SWEEP_RUNS, sweep_expand, sweep_size
from tests.compare.factories import make_run


def sweep_post(client, experiment, **fields):
    data = {"preset": "tutorial_mlp", "epochs": 2, "seeds": 2, **fields}
    return client.post(f"/experiments/{experiment.pk}/sweeps/new/", data)


def test_the_grid_is_every_combination_times_seeds():
    grid = {"optimizer": ["adam", "sgd"], "lr": [0.1, 0.01, 0.001], "loss": []}
    combos = sweep_expand(base={"optimizer": {"name": "adam"}}, grid=grid, seeds=2)
    assert len(combos) == sweep_size(grid, 2) == 12
    assert {(c["optimizer"]["name"], c["optimizer"]["lr"], c["seed"]) for c, _ in combos} == {
        (o, lr, s) for o in ("adam", "sgd") for lr in (0.1, 0.01, 0.001) for s in (0, 1)
    }


def test_it_launches_a_sweep_from_the_form(alice_client, experiment):
    r = sweep_post(
        alice_client, experiment, optimizer=["adam", "sgd"], loss=["cross_entropy", "focal"], lr="0.01, 0.001"
    )
    assert r.status_code == 302, r.content.decode()[-3000:]
    runs = Run.objects.filter(experiment=experiment)
    assert runs.count() == 2 * 2 * 2 * 2
    assert len({r.group_hash for r in runs}) == 8 and {r.seed for r in runs} == {0, 1}
    assert {r.config["loss"]["name"] for r in runs} == {"cross_entropy", "focal"}
    assert all(r.epochs == 2 and r.status == "queued" for r in runs)


def test_one_invalid_combination_launches_nothing_and_names_the_factor(alice_client, experiment):
    r = sweep_post(alice_client, experiment, loss=["cross_entropy", "mse"])  # mse on digits: refused by the schema
    assert r.status_code == 400
    assert Run.objects.count() == 0
    html = r.content.decode()
    assert "loss=mse" in html and "regression" in html


def test_a_sweep_over_the_cap_is_refused(alice_client, experiment):
    r = sweep_post(alice_client, experiment, lr=",".join(str(0.001 * i) for i in range(1, 12)), seeds=20)
    assert r.status_code == 400 and Run.objects.count() == 0
    assert f"the limit is {MAX_SWEEP_RUNS}" in r.content.decode()


@pytest.mark.parametrize(
    "fields, text",
    [
        ({"lr": "0.1, fast"}, "Enter learning-rate values"),
        ({"hidden": "64 | 32,x"}, "whole-number width"),
        ({"seeds": 0}, "greater than or equal to 1"),
        ({"preset": "nope"}, "Select a valid choice"),
        ({"optimizer": ["adam", "lion"]}, "Select a valid choice"),
    ],
)
def test_bad_sweep_input_is_refused_by_field(alice_client, experiment, fields, text):
    r = sweep_post(alice_client, experiment, **fields)
    assert r.status_code == 400 and text in r.content.decode()
    assert Run.objects.count() == 0


def test_the_sweep_form_shows_the_run_count_script(alice_client, experiment):
    html = alice_client.get(f"/experiments/{experiment.pk}/sweeps/new/").content.decode()
    assert 'id="sweep-count"' in html and "js/sweep.js" in html and f'data-max="{MAX_SWEEP_RUNS}"' in html


def test_a_saved_comparison_is_shared_with_the_team_only(alice_client, bob_client, experiment, django_user_model):
    from django.test import Client

    from experiments.models import Membership

    a, b = make_run(experiment), make_run(experiment, seed=1)
    r = alice_client.post(
        f"/experiments/{experiment.pk}/compare/save/",
        {
            "name": "adam vs adam",
            "runs": f"{a.pk},{b.pk}",
            "x": "epoch",
            "smoothing": "0.6",
            "log": "on",
            "keys": "val_loss",
        },
    )
    saved = SavedComparison.objects.get()
    assert r["Location"] == f"/comparisons/{saved.pk}/"
    assert saved.run_ids == [a.pk, b.pk] and saved.options == {
        "x": "epoch",
        "smoothing": 0.6,
        "log": True,
        "keys": ["val_loss"],
    }
    carol = django_user_model.objects.create_user("carol", password="x-pass-123456")
    Membership.objects.create(user=carol, team=experiment.team)
    teammate = Client()
    teammate.force_login(carol)
    page = teammate.get(f"/comparisons/{saved.pk}/")
    assert page.status_code == 200 and "adam vs adam" in page.content.decode()
    assert '"x": "epoch"' in page.content.decode()  # options restored into the page
    assert bob_client.get(f"/comparisons/{saved.pk}/").status_code == 404


@pytest.mark.parametrize(
    "data, text",
    [
        ({"name": "", "runs": "RUN"}, "Give the comparison a name"),
        ({"name": "x", "runs": ""}, "Choose at least one run"),
        ({"name": "x", "runs": "RUN,999999"}, "No run 999999"),
        ({"name": "x", "runs": "RUN", "smoothing": "lots"}, "Smoothing is a number"),
        ({"name": "x", "runs": "RUN", "x": "minutes"}, "x must be one of"),
    ],
)
def test_bad_saves_are_refused_with_a_message(alice_client, experiment, data, text):
    run = make_run(experiment)
    data = {k: v.replace("RUN", str(run.pk)) for k, v in data.items()}
    r = alice_client.post(f"/experiments/{experiment.pk}/compare/save/", data, follow=True)
    assert text in r.content.decode() and SavedComparison.objects.count() == 0


def test_experiment_csv_is_flat_and_formula_safe(alice_client, experiment):
    make_run(experiment, name='=HYPERLINK("http://evil")', verdict="overfitting")
    run = make_run(experiment, name="+plain", seed=1)
    Run.objects.filter(pk=run.pk).update(summary={"best": {"val_r2": -0.25}, "final": {}})
    r = alice_client.get(f"/experiments/{experiment.pk}/export.csv")
    assert r["Content-Disposition"].endswith('runs.csv"')
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil")' and rows[1]["name"] == "'+plain"
    assert rows[0]["verdict"] == "overfitting" and rows[0]["config.optimizer.lr"] == "0.01"
    assert rows[1]["best.val_r2"] == "-0.25"  # a number stays a number
    assert rows[0]["best.val_accuracy"] == "0.9"
    data = json.loads(alice_client.get(f"/experiments/{experiment.pk}/export.json").content)
    assert len(data["runs"]) == 2 and data["runs"][0]["config"]["optimizer"]["lr"] == 0.01


def test_run_history_exports_every_point(alice_client, bob_client, experiment):
    run = make_run(experiment, epochs=3, steps_per_epoch=4)
    body = b"".join(alice_client.get(f"/runs/{run.pk}/metrics.csv").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sum(1 for r in rows if r["key"] == "train_loss_step") == 12
    assert [float(r["value"]) for r in rows if r["key"] == "epoch"] == [1.0, 2.0, 3.0]
    data = json.loads(alice_client.get(f"/runs/{run.pk}/metrics.json").content)
    assert data["series"]["val_loss"]["step"] == [4, 8, 12]
    assert bob_client.get(f"/runs/{run.pk}/metrics.csv").status_code == 404
    assert bob_client.get(f"/experiments/{experiment.pk}/export.json").status_code == 404
    assert alice_client.get(f"/runs/{run.pk}/metrics.xlsx").status_code == 404


def test_compaction_keeps_every_point_in_one_chunk_per_key(experiment):
    run = make_run(experiment, history=False)
    for start in range(0, 100, 10):  # ten flushes, the last one re-sent
        metric_store.write_points(run.pk, [(s, "loss", float(s), 1.0 * s) for s in range(start + 1, start + 11)])
    metric_store.write_points(run.pk, [(s, "loss", -float(s), 1.0 * s) for s in range(91, 101)])
    before = metric_store.read_series([run.pk])[run.pk]["loss"]
    assert metric_store.compact(run.pk) == 9
    after = metric_store.read_series([run.pk])[run.pk]["loss"]
    assert after.steps.tolist() == before.steps.tolist() == list(range(1, 101))
    assert after.values.tolist() == before.values.tolist() and after.values[-1] == -100.0
    assert run.chunks.count() == 1 and metric_store.compact(run.pk) == 0


def test_an_unknown_export_format_is_not_found(alice_client, experiment):
    run = make_run(experiment)
    assert alice_client.get(f"/experiments/{experiment.pk}/export.xlsx").status_code == 404
    assert alice_client.get(f"/runs/{run.pk}/metrics.pickle").status_code == 404
    r = alice_client.get(f"/experiments/{experiment.pk}/export.json")
    assert r.status_code == 200 and r["Content-Disposition"].endswith('-runs.json"')
