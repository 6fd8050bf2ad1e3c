"""The GPU queue, decided by the database.

Celery messages are only tickets that wake a worker: the worker then claims
the best queued run *at that moment* (priority, then submit time; queue pause,
worker drain and team limits respected). So an admin's change to a queued run
takes effect at once, a duplicate ticket is harmless, and a flushed Redis
loses nothing: `queue_reconcile` re-sends tickets for what the DB says is queued.

Every write a worker makes for a run is fenced by the run's `attempt`: a worker
whose lease was taken away cannot write over its successor.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from experiments import metric_store
from experiments.models import QueueState, Run, Team, Worker


class LeaseLost(Exception):
    """This worker no longer owns the run (reaped, cancelled by an admin, or claimed by another attempt)."""


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.LEASE_S)


def queued_runs():
    """Queued runs in the order they will start."""
    return Run.objects.filter(status=Run.Status.QUEUED).order_by("-priority", "queued_at", "id")


def _teams_at_limit() -> list[int]:
    limited = Team.objects.filter(max_concurrent_runs__isnull=False).annotate(
        running=Count("experiments__runs", filter=Q(experiments__runs__status=Run.Status.RUNNING))
    )
    return [t.pk for t in limited if t.running >= t.max_concurrent_runs]


def run_claim_next(*, worker_name: str) -> Run | None:
    """Atomically take the next run for this worker, or None (paused, draining, nothing queued)."""
    with transaction.atomic():
        worker, _ = Worker.objects.get_or_create(name=worker_name)
        if worker.draining or QueueState.get().paused:
            return None
        candidates = queued_runs().exclude(experiment__team__in=_teams_at_limit())
        run = candidates.select_for_update(skip_locked=True).first()
        if run is None:
            return None
        now = timezone.now()
        claimed = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
            status=Run.Status.RUNNING,
            attempt=F("attempt") + 1,
            worker=worker,
            lease_until=_lease_end(),
            heartbeat_at=now,
            started_at=run.started_at or now,
        )
        if not claimed:
            return None
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
    *, run_id: int, attempt: int, points: list, epoch: int | None = None, step: int | None = None,
    summary: dict | None = None, verdict: str | None = None,
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


def run_resume_from(*, run_id: int, attempt: int, step: int) -> None:
    """A resumed attempt re-records everything after its checkpoint: drop the stale points."""
    with transaction.atomic():
        if not _owned(run_id, attempt).update(step=step):
            raise LeaseLost(f"run {run_id} attempt {attempt} lost its lease")
        metric_store.truncate_after(run_id, step)


def run_finish(
    *, run_id: int, attempt: int, status: str, error: str = "", diverged_step: int | None = None,
    summary: dict | None = None, verdict: str | None = None,
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
    return bool(done)


def run_requeue_warm(*, run_id: int, attempt: int) -> bool:
    """A worker shutting down hands its run back; another worker resumes it from its checkpoint."""
    return run_finish(run_id=run_id, attempt=attempt, status=Run.Status.QUEUED)


def reap_lost_runs() -> list[int]:
    """Runs whose worker stopped beating: requeue them (resume) or fail them after MAX_ATTEMPTS."""
    reaped = []
    now = timezone.now()
    with transaction.atomic():
        lost = Run.objects.select_for_update(skip_locked=True).filter(
            status=Run.Status.RUNNING, lease_until__lt=now
        )
        for run in lost:
            if run.attempt >= settings.MAX_ATTEMPTS:
                run.status = Run.Status.FAILED
                run.finished_at = now
                run.error = f"Worker lost {run.attempt} times (last heartbeat {run.heartbeat_at:%H:%M:%S}); gave up."
            elif run.cancel_requested:
                run.status = Run.Status.CANCELLED
                run.finished_at = now
            else:
                run.status = Run.Status.QUEUED
            run.lease_until = None
            run.save(update_fields=["status", "finished_at", "error", "lease_until"])
            Worker.objects.filter(current_run=run).update(current_run=None)
            reaped.append(run.pk)
    return reaped


def worker_heartbeat(*, name: str, **info) -> Worker:
    worker, _ = Worker.objects.update_or_create(name=name, defaults={**info, "last_heartbeat": timezone.now()})
    return worker


def queue_set_paused(*, paused: bool) -> QueueState:
    state = QueueState.get()
    state.paused = paused
    state.save(update_fields=["paused", "changed"])
    return state


def queue_tickets_needed() -> int:
    """How many runs could start now: what the broker should hold tickets for."""
    if QueueState.get().paused:
        return 0
    return queued_runs().count()
