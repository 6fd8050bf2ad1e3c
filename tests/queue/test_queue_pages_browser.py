"""Real Chromium: the admin's queue and worker pages, and a queued run's place and start time for its user."""

from __future__ import annotations

import pytest
from django.utils import timezone

from experiments import queue
from experiments.models import Run, Worker
from tests.browser.test_launch_flow import ARTIFACTS, page  # noqa: F401  (the Chromium page fixture)
from tests.helpers import tiny_config
from tests.queue.conftest import launch

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def login(page, url, user, password):  # noqa: F811
    page.goto(url + "/login/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_the_admin_sees_and_runs_the_queue(page, live_server, experiment, django_user_model):  # noqa: F811
    django_user_model.objects.create_user("root", password="admin-pass-123", is_staff=True, is_superuser=True)
    done = launch(experiment, tiny_config(epochs=10), name="finished earlier")
    Run.objects.filter(pk=done.pk).update(
        status="succeeded",
        epoch=10,
        started_at=timezone.now() - timezone.timedelta(seconds=300),
        finished_at=timezone.now(),
    )
    gpu = Worker.objects.create(
        name="gpu0@box",
        hostname="box",
        device="NVIDIA H100 80GB HBM3",
        memory_total_mb=81559,
        memory_used_mb=20480,
        utilization=97.0,
        last_heartbeat=timezone.now(),
    )
    Worker.objects.create(
        name="gpu1@box",
        hostname="box",
        device="NVIDIA H100 80GB HBM3",
        memory_total_mb=81559,
        memory_used_mb=0,
        last_heartbeat=timezone.now(),
        draining=True,
    )
    runs = [launch(experiment, tiny_config(epochs=20, seed=i), name=f"adam lr 1e-3 · seed {i}") for i in range(4)]
    queue.run_claim_next(worker_name=gpu.name)
    login(page, live_server.url, "root", "admin-pass-123")
    page.goto(live_server.url + "/admin/experiments/queuedrun/")
    page.select_option("select[name=action]", "move_to_top")
    page.check(f"input[name=_selected_action][value='{runs[3].pk}']")
    page.click("button[name=index]")
    page.wait_for_selector("text=Moved to the top: 1.")
    assert queue.queued_runs().first().pk == runs[3].pk
    page.click("text=Pause the queue")
    page.wait_for_selector("text=The queue is paused")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin_queue.png"), full_page=True)
    page.goto(live_server.url + "/admin/experiments/worker/")
    page.wait_for_selector("text=20480 / 81559")
    page.screenshot(path=str(ARTIFACTS / "admin_workers.png"), full_page=True)
    queue.queue_resume()
    login(page, live_server.url, "alice", "wonderland-pass")
    page.goto(live_server.url + f"/runs/{runs[2].pk}/")
    page.wait_for_selector("text=#3 in queue · starts in ~")
    page.screenshot(path=str(ARTIFACTS / "queued_run_page.png"), full_page=False)
