"""A real Celery worker process on real Redis and the real test database trains real runs."""

import pytest

from experiments import metric_store
from experiments.models import Run
from tests.experiments.test_launch import form_data
from tests.helpers import tiny_config, wait_for
from workers.tasks import execute_next

pytestmark = pytest.mark.integration


def reload(run):
    run.refresh_from_db()
    return run


def test_a_run_launched_from_the_form_trains_to_success(client, alice, experiment, start_worker):
    start_worker("w1")
    client.force_login(alice)
    r = client.post(f"/experiments/{experiment.pk}/runs/new/", form_data(tiny_config(epochs=4)))
    assert r.status_code == 302
    run = Run.objects.get()
    wait_for(lambda: reload(run).is_finished, timeout=90, message="the run to finish")
    assert run.status == "succeeded", run.error
    assert run.attempt == 1 and run.epoch == 4 and run.worker.name == "w1@test"
    series = metric_store.read_series([run.pk])[run.pk]
    for key in ("train_loss", "val_loss", "val_accuracy", "lr", "epoch"):
        assert len(series[key]) == 4, key  # every epoch stored exactly once
    assert series["epoch"].values.tolist() == [1, 2, 3, 4]
    assert len(set(series["train_loss_step"].steps.tolist())) == len(series["train_loss_step"])
    assert run.summary["best"]["val_accuracy"] > 0.5
    # and the page's polling endpoint serves it incrementally
    data = client.get(f"/api/runs/{run.pk}/metrics?since_step=0").json()
    assert data["series"]["val_loss"]["step"] == series["val_loss"].steps.tolist()
    last = data["last_step"]
    assert client.get(f"/api/runs/{run.pk}/metrics?since_step={last}").json()["series"] == {}


def test_cancel_stops_a_running_run_and_keeps_its_curves(alice_client, experiment, start_worker):
    from experiments.services import run_launch

    start_worker("w1")
    run = run_launch(
        experiment=experiment,
        user=experiment.created_by,
        config=tiny_config(dataset={"name": "digits"}, epochs=300, batch_size=8),
    )
    wait_for(lambda: reload(run).epoch >= 1, timeout=60, message="the first epoch")
    assert alice_client.post(f"/runs/{run.pk}/cancel/").status_code == 302
    wait_for(lambda: reload(run).is_finished, timeout=10, message="the cancel")
    assert run.status == "cancelled"
    assert 1 <= run.epoch < 300
    assert len(metric_store.read_series([run.pk])[run.pk]["val_loss"]) >= 1


def test_a_second_delivery_of_the_same_ticket_does_not_train_twice(experiment, start_worker):
    from experiments.services import run_launch

    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config(epochs=30))
    execute_next.apply_async(kwargs={"hint_run_id": run.pk}, queue="runs")  # a redelivered copy
    execute_next.apply_async(kwargs={"hint_run_id": run.pk}, queue="runs")
    start_worker("w1")
    wait_for(lambda: reload(run).is_finished, timeout=90, message="the run to finish")
    assert run.status == "succeeded" and run.attempt == 1
    assert metric_store.read_series([run.pk])[run.pk]["epoch"].values.tolist() == list(range(1, 31))


def test_a_diverging_run_ends_as_diverged_and_the_worker_takes_the_next(experiment, start_worker):
    from experiments.services import run_launch

    start_worker("w1")
    bad = run_launch(
        experiment=experiment,
        user=experiment.created_by,
        config=tiny_config(
            dataset={"name": "diabetes", "preprocessing": {"normalize": "none"}},
            loss={"name": "mse"},
            optimizer={"name": "sgd", "lr": 5.0},
            epochs=20,
        ),
    )
    good = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config())
    wait_for(lambda: reload(good).is_finished, timeout=90, message="the second run")
    reload(bad)
    assert bad.status == "diverged" and bad.diverged_step is not None, (bad.status, bad.error)
    assert "step" in bad.error
    assert good.status == "succeeded"
