"""The admin's queue actions: pause, reorder, requeue, drain, team limits.

Each action that could let a run start sends tickets once it commits. An
action that does not apply (moving a running run, requeuing a finished one)
is refused with `Refused(code=CONFLICT)`.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from experiments.errors import ErrorCode, Refused
from experiments.models import QueueState, Run, Team, Worker
from experiments.queue import tickets
from experiments.queue.order import queued_runs


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
            tickets.send_tickets_on_commit()  # tickets consumed while paused were dropped
    return state


def _queued(run: Run) -> Run:
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.status != Run.Status.QUEUED:
        raise Refused(f"Run {run.pk} is {run.status}, not queued.", field="status", code=ErrorCode.CONFLICT)
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
            raise Refused(
                f"Run {run.pk} is {run.status}: only failed or cancelled runs can be requeued.",
                field="status",
                code=ErrorCode.CONFLICT,
            )
        run.status, run.error, run.finished_at, run.cancel_requested = Run.Status.QUEUED, "", None, False
        run.losses, run.queued_at = 0, timezone.now()
        run.save(update_fields=["status", "error", "finished_at", "cancel_requested", "losses", "queued_at"])
        tickets.send_tickets_on_commit()
    return run


def worker_drain(*, worker: Worker) -> Worker:
    """The worker finishes its current run and takes no new one."""
    return _worker_set_draining(worker=worker, draining=True)


def worker_undrain(*, worker: Worker) -> Worker:
    return _worker_set_draining(worker=worker, draining=False)


def _worker_set_draining(*, worker: Worker, draining: bool) -> Worker:
    with transaction.atomic():
        Worker.objects.filter(pk=worker.pk).update(draining=draining)
        name = worker.name
        # A draining worker stops listening for tickets, so it cannot swallow one another worker needs.
        transaction.on_commit(lambda: tickets.worker_consume(name, consume=not draining))
        if not draining:
            tickets.send_tickets_on_commit()
    worker.refresh_from_db()
    return worker


def team_set_run_limit(*, team: Team, limit: int | None) -> Team:
    """Most runs the team may have running at once (None: no limit). Raising it lets queued runs start now."""
    if limit is not None and limit < 0:
        raise Refused("The limit must be 0 or more (empty for no limit).", field="max_concurrent_runs")
    with transaction.atomic():
        Team.objects.filter(pk=team.pk).update(max_concurrent_runs=limit)
        tickets.send_tickets_on_commit()
    team.refresh_from_db()
    return team
