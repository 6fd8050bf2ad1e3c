"""Fixtures for the queue tests: fast workers (short lease, quick beats, one torch thread) and run helpers."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.models import MetricChunk, Run

# One torch thread: the test machine has two cores shared by several workers; threads would thrash.
FAST = {
    "OMP_NUM_THREADS": "1",
    "LOSSLAB_LEASE_S": "2",
    "LOSSLAB_HEARTBEAT_S": "0.3",
    "LOSSLAB_WORKER_HEARTBEAT_S": "0.5",
    "LOSSLAB_METRIC_FLUSH_S": "0.5",
    # A checkpoint after every epoch: a run of a second must have one to resume from when it is killed.
    "LOSSLAB_CHECKPOINT_EVERY_S": "0",
}


@pytest.fixture
def queue_worker(start_worker):
    """start_worker with FAST settings; pass wait=False to start several at once."""

    def start(name: str = "w1", wait: bool = True, **env):
        return start_worker(name, wait=wait, **{**FAST, **env})

    return start


@pytest.fixture
def staff_client(db, django_user_model):
    """A logged-in admin, in its own client (alice_client may be used beside it)."""
    from django.test import Client

    admin = django_user_model.objects.create_user("root", password="admin-pass-123", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def launch(experiment, config: dict, **kwargs) -> Run:
    from experiments.services import run_launch

    return run_launch(experiment=experiment, user=experiment.created_by, config=config, **kwargs)


def reload(run: Run) -> Run:
    run.refresh_from_db()
    return run


def raw_steps(run: Run, key: str) -> list[int]:
    """Every stored step of a series, duplicates included (reads de-duplicate; this must not)."""
    steps: list[int] = []
    for chunk in MetricChunk.objects.filter(run=run, key=key).order_by("first_step"):
        steps.extend(np.frombuffer(bytes(chunk.steps), "<i8").tolist())
    return sorted(steps)


def assert_history_exactly_once(run: Run, epochs: int) -> None:
    """Each epoch once, each sampled step once, in every series of the run."""
    assert raw_steps(run, "epoch") == sorted(set(raw_steps(run, "epoch"))), "an epoch was stored twice"
    from experiments.metric_store import read_series

    series = read_series([run.pk])[run.pk]
    assert series["epoch"].values.tolist() == list(range(1, epochs + 1))
    for key in series:
        steps = raw_steps(run, key)
        assert len(steps) == len(set(steps)), f"{key}: duplicated steps"


def admin_action(client, model: str, action: str, ids: list[int]):
    """POST an admin changelist action, as the form does."""
    data = {"action": action, "_selected_action": ids, "index": 0, "select_across": 0}
    return client.post(f"/admin/experiments/{model}/", data)
