"""The admin's queue (staff only): reorder, re-prioritise, cancel, requeue, pause, drain, team limits."""

from __future__ import annotations

from django.utils import timezone

from experiments import queue
from experiments.models import QueueState, Run, Worker
from tests.helpers import tiny_config
from tests.queue.conftest import admin_action, launch, reload


def order():
    return list(queue.queued_runs().values_list("name", flat=True))


def test_the_queue_pages_are_for_staff_only(alice_client):
    for url in ("/admin/experiments/queuedrun/", "/admin/experiments/worker/", "/admin/experiments/team/"):
        r = alice_client.get(url)
        assert r.status_code == 302 and "/admin/login/" in r["Location"]
    assert alice_client.post("/admin/experiments/queuedrun/switch/", {"paused": "1"}).status_code == 302
    assert QueueState.get().paused is False


def test_the_queue_view_lists_queued_runs_in_start_order_with_the_switch(staff_client, experiment):
    a, b = launch(experiment, tiny_config(), name="alpha"), launch(experiment, tiny_config(), name="beta")
    queue.run_set_priority(run=b, priority=2)
    page = staff_client.get("/admin/experiments/queuedrun/").content.decode()
    assert page.index("beta") < page.index("alpha")
    assert page.count("just now</time>") == 2  # queued: the site's one date wording
    assert "The queue is running" in page and "Pause the queue" in page
    assert staff_client.get("/admin/experiments/queuedrun/switch/").status_code == 405  # POST only
    r = staff_client.post("/admin/experiments/queuedrun/switch/", {"paused": "1"}, follow=True)
    assert QueueState.get().paused and "The queue is paused" in r.content.decode()
    staff_client.post("/admin/experiments/queuedrun/switch/", {"paused": "0"})
    assert not QueueState.get().paused
    assert a.pk


def test_queue_actions_reorder_reprioritise_and_cancel(staff_client, experiment):
    runs = [launch(experiment, tiny_config(), name=f"r{i}") for i in range(4)]
    admin_action(staff_client, "queuedrun", "move_to_top", [runs[2].pk, runs[3].pk])
    assert order() == ["r2", "r3", "r0", "r1"]
    admin_action(staff_client, "queuedrun", "move_up", [runs[1].pk])
    assert order() == ["r2", "r3", "r1", "r0"]
    admin_action(staff_client, "queuedrun", "raise_priority", [runs[0].pk])
    assert order()[0] == "r0" and reload(runs[0]).priority == 1
    admin_action(staff_client, "queuedrun", "lower_priority", [runs[0].pk])
    assert reload(runs[0]).priority == 0
    admin_action(staff_client, "queuedrun", "cancel_runs", [runs[3].pk])
    assert reload(runs[3]).status == "cancelled" and "r3" not in order()


def test_requeue_from_the_run_list_and_a_clear_refusal(staff_client, experiment):
    done, failed = launch(experiment, tiny_config()), launch(experiment, tiny_config())
    Run.objects.filter(pk=done.pk).update(status="succeeded")
    Run.objects.filter(pk=failed.pk).update(status="failed", error="worker died")
    r = admin_action(staff_client, "run", "requeue_runs", [done.pk, failed.pk])
    page = staff_client.get(r["Location"]).content.decode()
    assert reload(failed).status == "queued" and reload(done).status == "succeeded"
    assert "only failed or cancelled runs can be requeued" in page and "Requeued: 1." in page


def test_the_worker_view_shows_heartbeat_and_current_run_and_drains(staff_client, experiment):
    run = launch(experiment, tiny_config(), name="training-now")
    w = Worker.objects.create(
        name="gpu0@box",
        hostname="box",
        device="NVIDIA H100",
        memory_total_mb=81559,
        memory_used_mb=1024,
        last_heartbeat=timezone.now(),
    )
    queue.run_claim_next(worker_name=w.name)
    page = staff_client.get("/admin/experiments/worker/").content.decode()
    assert "NVIDIA H100" in page and "1024 / 81559" in page and "training-now" in page and "just now</time>" in page
    admin_action(staff_client, "worker", "drain_workers", [w.pk])
    assert reload(w).draining
    admin_action(staff_client, "worker", "undrain_workers", [w.pk])
    assert not reload(w).draining
    assert run.pk


def test_a_team_limit_set_in_the_admin_goes_through_its_service(staff_client, team_and_user):
    team = team_and_user[0]
    data = {
        "form-TOTAL_FORMS": 1,
        "form-INITIAL_FORMS": 1,
        "form-0-id": team.pk,
        "form-0-max_concurrent_runs": 2,
        "_save": "Save",
    }
    assert staff_client.post("/admin/experiments/team/", data).status_code == 302
    assert reload(team).max_concurrent_runs == 2
    data["form-0-max_concurrent_runs"] = -1
    r = staff_client.post("/admin/experiments/team/", data)
    assert r.status_code == 200 and "greater than or equal to 0" in r.content.decode()
    assert reload(team).max_concurrent_runs == 2
