"""With a real worker: a drained worker leaves tickets alone, a paused queue starts nothing,
and the admin's reordering of queued runs decides what runs next, at once."""

from __future__ import annotations

import time

import pytest

from experiments.models import QueueState, Worker
from experiments.queue.tickets import broker_pending
from tests.helpers import tiny_config, wait_for
from tests.queue.conftest import admin_action, launch, reload

pytestmark = pytest.mark.integration


def test_drain_pause_and_reorder_take_effect_at_once(queue_worker, experiment, staff_client):
    queue_worker("w1")
    worker = wait_for(lambda: Worker.objects.filter(name="w1@test").first(), timeout=30, message="registration")
    admin_action(staff_client, "worker", "drain_workers", [worker.pk])
    time.sleep(0.5)  # the broadcast reaches the worker
    a, b, c = (launch(experiment, tiny_config(epochs=2, seed=i), name=n) for i, n in enumerate("abc"))
    time.sleep(1.5)
    assert {reload(r).status for r in (a, b, c)} == {"queued"}
    assert broker_pending() == 3  # the drained worker did not even take the tickets

    staff_client.post("/admin/experiments/queuedrun/switch/", {"paused": "1"})
    admin_action(staff_client, "worker", "undrain_workers", [worker.pk])
    wait_for(lambda: broker_pending() == 0, timeout=10, message="the worker to take (and drop) the tickets")
    time.sleep(0.5)
    assert {reload(r).status for r in (a, b, c)} == {"queued"}  # paused: nothing started

    admin_action(staff_client, "queuedrun", "move_to_top", [c.pk])
    admin_action(staff_client, "queuedrun", "raise_priority", [b.pk])  # now b, c, a
    resumed = time.monotonic()
    staff_client.post("/admin/experiments/queuedrun/switch/", {"paused": "0"})
    wait_for(lambda: reload(b).status != "queued", timeout=10, interval=0.05, message="the first run to start")
    first_start = time.monotonic() - resumed
    wait_for(lambda: all(reload(r).is_finished for r in (a, b, c)), timeout=90, message="all three runs")
    assert [r.name for r in sorted((a, b, c), key=lambda r: r.started_at)] == ["b", "c", "a"]
    assert {r.status for r in (a, b, c)} == {"succeeded"} and not QueueState.get().paused
    assert first_start < 3
    print(f"\nresume: first run running {first_start:.2f}s after the admin resumed the queue")
