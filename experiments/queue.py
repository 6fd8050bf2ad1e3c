"""The GPU queue, decided by the database.

Celery messages are only tickets that wake a worker: the worker then claims
the best queued run *at that moment* (priority, then submit time; queue pause,
worker drain and team limits respected). So an admin's change to a queued run
takes effect at once, a duplicate ticket is harmless, and a flushed Redis
loses nothing: the scheduler re-sends tickets for what the DB says is queued.

Every write a worker makes for a run is fenced by the run's `attempt`: a worker
whose lease was taken away cannot write over its successor.

The admin's services (pause, reorder, requeue, drain, team limits) live here
too; each one that could let a run start sends tickets once it commits.
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


class QueueError(Exception):
    """An admin action that does not apply to this run or worker; the message says why."""


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.LEASE_S)


def queued_runs():
    """Queued runs in the order they will start."""
    return Run.objects.filter(status=Run.Status.QUEUED).order_by("-priority", "queued_at", "id")


def teams_at_limit() -> list[int]:
    limited = Team.objects.filter(max_concurrent_runs__isnull=False).annotate(
        running=Count("experiments__runs", filter=Q(experiments__runs__status=Run.Status.RUNNING))
    )
    return [t.pk for t in limited if t.running >= t.max_concurrent_runs]


def claimable_runs():
    return queued_runs().exclude(experiment__team__in=teams_at_limit())


def _send_tickets_on_commit() -> None:
    from workers.scheduler import tickets_top_up  # workers import this module; keep the cycle lazy

    transaction.on_commit(tickets_top_up)


# ---- worker side: claim, lease, metrics, finish ---------------------------------------------


def run_claim_next(*, worker_name: str) -> Run | None:
    """Atomically take the next run for this worker, or None (paused, draining, nothing claimable)."""
    with transaction.atomic():
        # One claim at a time: the QueueState row is the lock, so team limits hold on PostgreSQL too.
        state = QueueState.objects.select_for_update().get_or_create(pk=1)[0]
        worker, _ = Worker.objects.get_or_create(name=worker_name)
        if worker.draining or state.paused:
            return None
        run = claimable_runs().select_for_update(skip_locked=True, of=("self",)).first()
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


def run_resume_from(*, run_id: int, attempt: int, step: int, epoch: int | None = None) -> None:
    """An attempt re-records everything after its checkpoint (step 0: no checkpoint): drop those points."""
    fields = {"step": step} if epoch is None else {"step": step, "epoch": epoch}
    with transaction.atomic():
        if not _owned(run_id, attempt).update(**fields):
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
        if done:
            _send_tickets_on_commit()  # a team slot or a requeued run may now be claimable
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
                run.error = (f"The worker running this run died {run.losses} times (last heartbeat "
                             f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC); gave up. Requeue it from the admin to retry.")
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


def queue_tickets_needed() -> int:
    """How many runs could start now: what the broker should hold tickets for."""
    if QueueState.get().paused:
        return 0
    return claimable_runs().count()


# ---- admin side: pause, order, requeue, drain, limits ---------------------------------------


def queue_pause() -> QueueState:
    """Stop starting runs; running ones go on."""
    return _queue_set_paused(paused=True)


def queue_resume() -> QueueState:
    return _queue_set_paused(paused=False)


def _queue_set_paused(*, paused: bool) -> QueueState:
    with transaction.atomic():
        state = QueueState.objects.select_for_update().get_or_create(pk=1)[0]
        state.paused = paused
        state.save(update_fields=["paused", "changed"])
        if not paused:
            _send_tickets_on_commit()  # tickets consumed while paused were dropped
    return state


def _queued(run: Run) -> Run:
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.status != Run.Status.QUEUED:
        raise QueueError(f"Run {run.pk} is {run.status}, not queued.")
    return run


def run_move_to_top(*, run: Run) -> Run:
    """Put a queued run first: it joins the highest priority present, ahead of everything there."""
    with transaction.atomic():
        run = _queued(run)
        top = queued_runs().first()
        if top.pk != run.pk:
            run.priority = max(run.priority, top.priority)
            run.queued_at = min(run.queued_at, top.queued_at - timedelta(milliseconds=1))
            run.save(update_fields=["priority", "queued_at"])
    return run


def run_move_up(*, run: Run) -> Run:
    """Swap places with the run just ahead of it."""
    with transaction.atomic():
        run = _queued(run)
        ids = list(queued_runs().values_list("id", flat=True))
        i = ids.index(run.pk)
        if i > 0:
            ahead = Run.objects.get(pk=ids[i - 1])
            run.priority = ahead.priority
            run.queued_at = ahead.queued_at - timedelta(microseconds=1)
            run.save(update_fields=["priority", "queued_at"])
    return run


def run_set_priority(*, run: Run, priority: int) -> Run:
    """Higher runs first; among equal priorities, first submitted first."""
    with transaction.atomic():
        run = _queued(run)
        run.priority = priority
        run.save(update_fields=["priority"])
    return run


def run_raise_priority(*, run: Run, by: int = 1) -> Run:
    return run_set_priority(run=run, priority=Run.objects.get(pk=run.pk).priority + by)


def run_requeue(*, run: Run) -> Run:
    """Queue a failed or cancelled run again, at the back; it resumes from its last checkpoint if it has one."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status not in (Run.Status.FAILED, Run.Status.CANCELLED, Run.Status.LOST):
            raise QueueError(f"Run {run.pk} is {run.status}: only failed or cancelled runs can be requeued.")
        run.status, run.error, run.finished_at, run.cancel_requested = Run.Status.QUEUED, "", None, False
        run.losses, run.queued_at = 0, timezone.now()
        run.save(update_fields=["status", "error", "finished_at", "cancel_requested", "losses", "queued_at"])
        _send_tickets_on_commit()
    return run


def worker_drain(*, worker: Worker) -> Worker:
    """The worker finishes its current run and takes no new one."""
    return _worker_set_draining(worker=worker, draining=True)


def worker_undrain(*, worker: Worker) -> Worker:
    return _worker_set_draining(worker=worker, draining=False)


def _worker_set_draining(*, worker: Worker, draining: bool) -> Worker:
    from workers.tasks import worker_consume  # lazy: workers import this module

    with transaction.atomic():
        Worker.objects.filter(pk=worker.pk).update(draining=draining)
        name = worker.name
        # A draining worker stops listening for tickets, so it cannot swallow one another worker needs.
        transaction.on_commit(lambda: worker_consume(name, consume=not draining))
        if not draining:
            _send_tickets_on_commit()
    worker.refresh_from_db()
    return worker


def team_set_run_limit(*, team: Team, limit: int | None) -> Team:
    """Most runs the team may have running at once (None: no limit). Raising it lets queued runs start now."""
    if limit is not None and limit < 0:
        raise QueueError("The limit must be 0 or more (empty for no limit).")
    with transaction.atomic():
        Team.objects.filter(pk=team.pk).update(max_concurrent_runs=limit)
        _send_tickets_on_commit()
    team.refresh_from_db()
    return team
