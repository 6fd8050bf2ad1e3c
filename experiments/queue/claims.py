"""The GPU queue, decided by the database.

Celery messages are only tickets that wake a worker: the worker then claims
the best queued run *at that moment* (priority, then submit time; queue pause,
worker drain and team limits respected). So an admin's change to a queued run
takes effect at once, a duplicate ticket is harmless, and a flushed Redis
loses nothing: the scheduler re-sends tickets for what the DB says is queued.

Every write a worker makes for a run is fenced by the run's `attempt`: a worker
whose lease was taken away cannot write over its successor.

The admin's actions live in `control`, the broker in `tickets`; `reconcile`
here is the scheduler's periodic step.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from experiments import metric_store
from experiments.models import QueueState, Run, Worker
from experiments.queue.order import claimable_runs
from experiments.queue.tickets import notify_worker, send_tickets_on_commit, tickets_top_up

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This worker no longer owns the run (reaped, cancelled by an admin, or claimed by another attempt)."""


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.LEASE_S)


# ---- worker side: claim, lease, metrics, finish ---------------------------------------------


def run_claim_next(*, worker_name: str) -> Run | None:
    """Atomically take the next run for this worker, or None (paused, draining, nothing claimable)."""
    with transaction.atomic():
        # One claim at a time: the QueueState row is the lock, so team limits hold on PostgreSQL too.
        state = QueueState.objects.select_for_update().get_or_create(pk=1)[0]
        worker, _ = Worker.objects.get_or_create(name=worker_name)
        if worker.draining or state.paused:
            return None
        # A run on a standard set waits for a worker that holds it (its heartbeat says which it holds).
        run = claimable_runs(datasets=worker.datasets or []).select_for_update(skip_locked=True, of=("self",)).first()
        if run is None:
            return None
        now = timezone.now()
        Run.objects.filter(pk=run.pk).update(
            status=Run.Status.RUNNING,
            attempt=F("attempt") + 1,
            worker=worker,
            lease_until=_lease_end(),
            heartbeat_at=now,
            started_at=run.started_at or now,
        )
        Worker.objects.filter(pk=worker.pk).update(current_run=run, last_heartbeat=now)
        return Run.objects.get(pk=run.pk)


def _owned(run_id: int, attempt: int):
    return Run.objects.filter(pk=run_id, attempt=attempt, status=Run.Status.RUNNING)


def run_heartbeat(*, run_id: int, attempt: int) -> bool:
    """Extend the lease; returns True when a cancel was requested. Raises LeaseLost if not ours any more."""
    now = timezone.now()
    if not _owned(run_id, attempt).update(lease_until=_lease_end(), heartbeat_at=now):
        raise LeaseLost(f"run {run_id} attempt {attempt} lost its lease")
    return Run.objects.filter(pk=run_id).values_list("cancel_requested", flat=True).first() or False


def run_record_metrics(
    *,
    run_id: int,
    attempt: int,
    points: list,
    epoch: int | None = None,
    step: int | None = None,
    summary: dict | None = None,
    verdict: str | None = None,
) -> None:
    """Store a batch of points and the run's progress in one transaction."""
    with transaction.atomic():
        fields: dict = {}
        if epoch is not None:
            fields["epoch"] = epoch
        if step is not None:
            fields["step"] = step
        if summary is not None:
            fields["summary"] = summary
        if verdict is not None:
            fields["verdict"] = verdict
        if not _owned(run_id, attempt).update(**fields, heartbeat_at=timezone.now()):
            raise LeaseLost(f"run {run_id} attempt {attempt} lost its lease")
        metric_store.write_points(run_id, points)


def run_mark_checkpoint(*, run_id: int, attempt: int, step: int) -> None:
    if not _owned(run_id, attempt).update(checkpoint_step=step):
        raise LeaseLost(f"run {run_id} attempt {attempt} lost its lease")


def run_resume_from(*, run_id: int, attempt: int, step: int, epoch: int | None = None) -> None:
    """An attempt re-records everything after its checkpoint (step 0: no checkpoint): drop those points."""
    fields = {"step": step} if epoch is None else {"step": step, "epoch": epoch}
    with transaction.atomic():
        if not _owned(run_id, attempt).update(**fields):
            raise LeaseLost(f"run {run_id} attempt {attempt} lost its lease")
        metric_store.truncate_after(run_id, step)


def run_finish(
    *,
    run_id: int,
    attempt: int,
    status: str,
    error: str = "",
    diverged_step: int | None = None,
    summary: dict | None = None,
    verdict: str | None = None,
) -> bool:
    """End a running attempt. Returns False when the run was not ours any more."""
    assert status in Run.FINISHED or status == Run.Status.QUEUED, status
    fields = {"status": status, "error": error[:10000], "diverged_step": diverged_step, "lease_until": None}
    if status != Run.Status.QUEUED:
        fields["finished_at"] = timezone.now()
    if summary is not None:
        fields["summary"] = summary
    if verdict is not None:
        fields["verdict"] = verdict
    with transaction.atomic():
        done = _owned(run_id, attempt).update(**fields)
        Worker.objects.filter(current_run_id=run_id).update(current_run=None)
        if done:
            send_tickets_on_commit()  # a team slot or a requeued run may now be claimable
    return bool(done)


def run_requeue_warm(*, run_id: int, attempt: int) -> bool:
    """A worker shutting down hands its run back; another worker resumes it from its checkpoint."""
    return run_finish(run_id=run_id, attempt=attempt, status=Run.Status.QUEUED)


def reap_lost_runs() -> list[int]:
    """Runs whose worker stopped beating: requeue them (resume), or fail them after MAX_ATTEMPTS deaths."""
    reaped = []
    now = timezone.now()
    with transaction.atomic():
        lost = Run.objects.select_for_update(skip_locked=True).filter(status=Run.Status.RUNNING, lease_until__lt=now)
        for run in lost:
            run.losses += 1
            if run.cancel_requested:
                run.status, run.finished_at = Run.Status.CANCELLED, now
            elif run.losses >= settings.MAX_ATTEMPTS:
                run.status, run.finished_at = Run.Status.FAILED, now
                run.error = (
                    f"The worker running this run died {run.losses} times (last heartbeat "
                    f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC); gave up. Requeue it from the admin to retry."
                )
            else:
                run.status = Run.Status.QUEUED
            run.lease_until = None
            run.save(update_fields=["status", "finished_at", "error", "lease_until", "losses"])
            Worker.objects.filter(current_run=run).update(current_run=None)
            reaped.append(run.pk)
    return reaped


def worker_heartbeat(*, name: str, **info) -> Worker:
    worker, _ = Worker.objects.update_or_create(name=name, defaults={**info, "last_heartbeat": timezone.now()})
    return worker


def worker_wake_for_held_datasets(*, name: str) -> bool:
    """An idle worker that holds a standard set sends itself a ticket when a run on that set is claimable.

    A ticket on the shared queue wakes whichever worker is idle, and one without the set claims nothing:
    without this, a run that only some workers can train would wait for a lucky ticket. Returns True if sent.
    """
    worker = Worker.objects.filter(name=name, current_run__isnull=True, draining=False).first()
    held = worker.datasets if worker else []
    if not held or QueueState.get().paused:
        return False
    if not claimable_runs(datasets=held).filter(config__dataset__name__in=held).exists():
        return False
    notify_worker(name)
    return True


def reconcile() -> dict:
    """Requeue or fail lost runs, then top up tickets so that every claimable run in the DB has one."""
    reaped = reap_lost_runs()
    sent = tickets_top_up()
    if reaped or sent:
        log.info("reconcile: requeued or failed %s, sent %d tickets", reaped, sent)
    return {"reaped": reaped, "sent": sent}
