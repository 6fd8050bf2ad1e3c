"""Standard datasets and real workers: a worker claims only runs whose dataset it holds, and says so.

Real Celery workers on real Redis and the test database; MNIST, Fashion-MNIST, CIFAR-10 and AG News
in their exact on-disk formats (small fixture files), installed with `manage.py datasets import` into
a temp LOSSLAB_DATA_DIR, each preset launched from the form.
"""

import pytest
from django.core.management import call_command

from experiments import metric_store, selectors
from experiments.models import Run, Worker
from experiments.queue import run_claim_next, worker_heartbeat
from experiments.queue.order import queue_tickets_needed
from tests.experiments.test_launch import form_data
from tests.helpers import wait_for
from tests.queue.conftest import launch, reload
from tests.training.standard_fixtures import WRITERS, official_sums_replaced, write_mnist
from workers.training.presets import PRESETS

pytestmark = pytest.mark.integration

WAITING = "waiting for a worker that holds mnist (python manage.py datasets fetch mnist, or import)"


@pytest.fixture
def mnist_store(settings, tmp_path):
    """A LOSSLAB_DATA_DIR holding MNIST, installed as an operator does on an offline host."""
    settings.DATA_DIR = tmp_path / "store"
    files = write_mnist(tmp_path / "copied-by-hand")
    with official_sums_replaced("mnist", files):
        call_command("datasets", "import", "mnist", str(files))
    return settings.DATA_DIR


def small_preset(preset: str = "mnist_cnn", epochs: int = 2) -> dict:
    config = PRESETS[preset][1].model_dump(mode="json")
    config["epochs"] = epochs
    return config


def small_mnist(epochs: int = 2) -> dict:
    return small_preset("mnist_cnn", epochs)


@pytest.mark.parametrize(
    "preset, dataset, arch",
    [
        ("mnist_cnn", "mnist", "cnn"),
        ("fashion_mnist_cnn", "fashion_mnist", "cnn"),
        ("cifar10_resnet20", "cifar10", "resnet"),
        ("ag_news_lstm", "ag_news", "lstm"),
    ],
)
def test_a_preset_launched_from_the_form_trains_on_a_worker_that_holds_its_dataset(
    alice_client, experiment, queue_worker, settings, tmp_path, preset, dataset, arch
):
    settings.DATA_DIR = tmp_path / "store"
    files = WRITERS[dataset](tmp_path / "copied-by-hand")
    with official_sums_replaced(dataset, files):
        call_command("datasets", "import", dataset, str(files))
    queue_worker("w1", LOSSLAB_DATA_DIR=str(settings.DATA_DIR))
    assert Worker.objects.get(name="w1@test").datasets == [dataset]  # its first beat comes before it is ready
    page = alice_client.get(f"/experiments/{experiment.pk}/runs/new/?preset={preset}").content.decode()
    assert f'<option value="{dataset}" selected>' in page  # offered, not disabled: a live worker holds it
    r = alice_client.post(f"/experiments/{experiment.pk}/runs/new/?preset={preset}", form_data(small_preset(preset)))
    assert r.status_code == 302, r.content.decode()[-2000:]
    run = Run.objects.get()
    wait_for(lambda: reload(run).is_finished, timeout=150, message=f"the {dataset} run to finish")
    assert run.status == "succeeded", run.error
    assert run.config["dataset"]["name"] == dataset and run.config["model"]["arch"] == arch
    series = metric_store.read_series([run.pk])[run.pk]
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert len(series[key]) == 2, key
    assert run.summary["best"]["val_accuracy"] > 0.3  # the fixtures' classes are learnable; chance is 0.1 or 0.25
    # and the run page draws them from the API it polls
    assert alice_client.get(f"/api/runs/{run.pk}/metrics?since_step=0").json()["series"]["val_loss"]["value"]


def test_a_worker_without_the_dataset_leaves_the_run_queued_and_the_pages_say_why(
    alice_client, experiment, queue_worker, mnist_store, tmp_path
):
    queue_worker("bare", LOSSLAB_DATA_DIR=str(tmp_path / "empty-store"))
    assert Worker.objects.get(name="bare@test").datasets == []
    form = alice_client.get(f"/experiments/{experiment.pk}/runs/new/?preset=mnist_cnn").content.decode()
    assert '<option value="mnist" disabled selected>' in form or '<option value="mnist" selected disabled>' in form
    assert "python manage.py datasets fetch NAME" in form and "Not on any live worker yet: mnist" in form

    mnist = launch(experiment, small_mnist())  # queueing is allowed: a worker that holds it may come
    digits = launch(experiment, {"epochs": 1, "model": {"hidden": [16]}})
    wait_for(lambda: reload(digits).is_finished, timeout=60, message="the digits run to finish on the bare worker")
    assert digits.status == "succeeded", digits.error
    assert reload(mnist).status == "queued" and mnist.attempt == 0  # never claimed by the worker without it
    assert WAITING in alice_client.get(f"/runs/{mnist.pk}/").content.decode()
    assert WAITING in alice_client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert alice_client.get(f"/api/runs/{mnist.pk}").json()["waiting_for"] == WAITING

    # No scheduler runs here and the run's one ticket was spent on the bare worker: the new worker's own
    # heartbeat wakes it for the run it can take, while the bare worker is idle beside it.
    queue_worker("holder", LOSSLAB_DATA_DIR=str(mnist_store))
    wait_for(lambda: reload(mnist).is_finished, timeout=120, message="the mnist run to finish on the holder")
    assert mnist.status == "succeeded", mnist.error
    assert mnist.worker.name == "holder@test"


@pytest.mark.django_db
def test_the_claim_skips_runs_on_sets_the_worker_lacks_and_the_queue_says_why(experiment):
    worker_heartbeat(name="bare", datasets=[])
    mnist = launch(experiment, small_mnist())
    digits = launch(experiment, {"epochs": 1})
    assert reload(mnist).queued_at < reload(digits).queued_at  # mnist is first in the queue
    assert queue_tickets_needed() == 1  # no ticket for the run no live worker can take
    assert run_claim_next(worker_name="bare").pk == digits.pk
    assert run_claim_next(worker_name="bare") is None and reload(mnist).status == "queued"
    assert selectors.run_waiting_for(mnist) == WAITING
    assert selectors.queue_start_etas().get(mnist.pk) is None  # no start time promised

    worker_heartbeat(name="holder", datasets=["mnist"])
    assert selectors.run_waiting_for(mnist) == "" and queue_tickets_needed() == 1
    assert run_claim_next(worker_name="holder").pk == mnist.pk
