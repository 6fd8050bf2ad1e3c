"""The queue's rules, decided by the database: order, pause, drain, team limits, reaper, fencing, ETA."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from experiments import queue, selectors
from experiments.errors import Refused
from experiments.models import Experiment, Membership, QueueState, Run, Team, Worker
from tests.helpers import tiny_config
from tests.queue.conftest import launch, reload


@pytest.fixture
def runs(experiment):
    return [launch(experiment, tiny_config(seed=i), name=f"r{i}") for i in range(4)]


def claim(name="w1"):
    return queue.run_claim_next(worker_name=name)


def test_it_claims_by_priority_then_submit_time(runs):
    queue.run_set_priority(run=runs[2], priority=5)
    assert [claim().name for _ in range(4)] == ["r2", "r0", "r1", "r3"]
    assert claim() is None


def test_moving_a_run_to_the_top_or_up_changes_what_starts_next(runs):
    queue.run_move_to_top(run=runs[3])
    assert list(queue.queued_runs().values_list("name", flat=True)) == ["r3", "r0", "r1", "r2"]
    queue.run_move_up(run=runs[2])
    assert list(queue.queued_runs().values_list("name", flat=True)) == ["r3", "r0", "r2", "r1"]
    queue.run_raise_priority(run=runs[1], by=1)
    queue.run_move_to_top(run=runs[0])  # joins the highest priority present, ahead of it
    assert list(queue.queued_runs().values_list("name", flat=True)) == ["r0", "r1", "r3", "r2"]
    assert claim().name == "r0"
    with pytest.raises(Refused, match="running, not queued"):
        queue.run_move_to_top(run=runs[0])


def test_a_paused_queue_or_a_draining_worker_starts_nothing(runs):
    queue.queue_pause()
    assert claim() is None and queue.queue_tickets_needed() == 0
    queue.queue_resume()
    worker = Worker.objects.get(name="w1")  # registered by its first claim
    queue.worker_drain(worker=worker)
    assert claim("w1") is None
    assert claim("w2").name == "r0"
    queue.worker_undrain(worker=worker)
    assert claim("w1").name == "r1"


def test_a_team_at_its_limit_waits_while_other_teams_run(runs, alice):
    team = runs[0].experiment.team
    audio = Team.objects.create(name="Audio")
    Membership.objects.create(team=audio, user=alice)
    other = Experiment.objects.create(team=audio, name="Speech", created_by=alice)
    launch(other, tiny_config(), name="theirs")
    queue.team_set_run_limit(team=team, limit=1)
    assert claim("w1").name == "r0"
    assert queue.queue_tickets_needed() == 1  # only "theirs" could start now
    assert claim("w2").name == "theirs"
    assert claim("w3") is None
    queue.run_finish(run_id=runs[0].pk, attempt=1, status=Run.Status.SUCCEEDED)
    assert claim("w3").name == "r1"
    queue.team_set_run_limit(team=team, limit=None)
    assert claim("w4").name == "r2"
    with pytest.raises(Refused, match="0 or more"):
        queue.team_set_run_limit(team=team, limit=-1)


def expire(run):
    Run.objects.filter(pk=run.pk).update(lease_until=timezone.now() - timedelta(seconds=1))


def test_the_reaper_requeues_a_lost_run_and_fences_out_its_old_worker(runs):
    run = claim("w1")
    expire(run)
    assert queue.reap_lost_runs() == [run.pk]
    assert reload(run).status == "queued" and run.losses == 1 and Worker.objects.get(name="w1").current_run is None
    with pytest.raises(queue.LeaseLost):
        queue.run_heartbeat(run_id=run.pk, attempt=1)
    with pytest.raises(queue.LeaseLost):
        queue.run_record_metrics(run_id=run.pk, attempt=1, points=[(1, "train_loss", 1.0, 0.0)])
    again = claim("w2")
    assert again.pk == run.pk and again.attempt == 2
    assert not queue.run_finish(run_id=run.pk, attempt=1, status=Run.Status.SUCCEEDED)  # the dead attempt


def test_a_run_whose_worker_keeps_dying_fails_after_max_attempts(runs, settings):
    settings.MAX_ATTEMPTS = 2
    run = runs[0]
    for expected in ("queued", "failed"):
        assert claim().pk == run.pk
        expire(run)
        queue.reap_lost_runs()
        assert reload(run).status == expected
    assert "died 2 times" in run.error and "Requeue" in run.error
    assert queue.run_requeue(run=run).status == "queued"
    assert reload(run).losses == 0 and run.error == ""
    assert list(queue.queued_runs().values_list("name", flat=True))[-1] == run.name  # at the back


def test_a_warm_hand_back_is_not_counted_as_a_death(runs):
    run = claim()
    assert queue.run_requeue_warm(run_id=run.pk, attempt=1)
    assert reload(run).status == "queued" and run.losses == 0 and run.lease_until is None


def test_a_lost_run_with_a_cancel_request_ends_cancelled(runs):
    from experiments.services import run_cancel

    run = claim()
    run_cancel(run=run)
    expire(run)
    queue.reap_lost_runs()
    assert reload(run).status == "cancelled"


def test_only_failed_or_cancelled_runs_can_be_requeued(runs):
    with pytest.raises(Refused, match="only failed or cancelled"):
        queue.run_requeue(run=runs[0])


def finished_run(experiment, *, epochs: int, seconds: float) -> Run:
    run = launch(experiment, tiny_config(epochs=epochs))
    end = timezone.now()
    Run.objects.filter(pk=run.pk).update(
        status="succeeded", epoch=epochs, started_at=end - timedelta(seconds=seconds), finished_at=end
    )
    return run


def test_queued_runs_get_a_rough_start_time_from_recent_runs_and_free_workers(experiment):
    finished_run(experiment, epochs=10, seconds=100)  # 10 s per epoch
    queued = [launch(experiment, tiny_config(epochs=6)) for _ in range(3)]
    assert selectors.queue_start_etas() == {}  # no worker online yet
    now = timezone.now()
    Worker.objects.create(name="idle", last_heartbeat=now)
    Worker.objects.create(name="gone", last_heartbeat=now - timedelta(hours=1))
    Worker.objects.create(name="drained", last_heartbeat=now, draining=True)
    etas = selectors.queue_start_etas()
    assert [round(etas[r.pk]) for r in queued] == [0, 60, 120]
    busy = Worker.objects.create(name="busy", last_heartbeat=now)
    running = launch(experiment, tiny_config(epochs=4))
    Run.objects.filter(pk=running.pk).update(status="running", epoch=2, started_at=now - timedelta(seconds=30))
    Worker.objects.filter(pk=busy.pk).update(current_run=running)
    etas = selectors.queue_start_etas()  # busy frees up in ~30 s
    assert [round(etas[r.pk]) for r in queued] == [0, 30, 60]
    queue.queue_pause()
    assert selectors.queue_start_etas() == {}


def test_the_run_page_and_api_show_place_and_start_time(alice_client, experiment):
    finished_run(experiment, epochs=1, seconds=600)
    Worker.objects.create(name="w", last_heartbeat=timezone.now())
    launch(experiment, tiny_config(epochs=1))
    second = launch(experiment, tiny_config(epochs=1))
    page = alice_client.get(f"/runs/{second.pk}/").content.decode()
    assert "#2 in queue · starts in ~10 min" in page
    assert "#1 in queue · starting" in alice_client.get(f"/experiments/{experiment.pk}/").content.decode()
    data = alice_client.get(f"/api/runs/{second.pk}").json()
    assert data["queue_position"] == 2 and round(data["starts_in_seconds"]) == 600
    assert QueueState.get().paused is False
