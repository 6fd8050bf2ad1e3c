"""The only code that talks to the broker: tickets that wake workers, and the reconcile step.

Tickets are sent by the task's registered name (`app.send_task`), never by
importing the task, so the domain never imports the worker runtime (Zulip's
actions publish events by queue name the same way). A ticket carries no run:
the worker that takes it claims whatever the database says is next.
"""

from __future__ import annotations

import logging

from amqp.exceptions import ChannelError
from django.db import transaction

from experiments.queue.order import queue_tickets_needed
from webapp.celery import app

log = logging.getLogger(__name__)

QUEUE = "runs"  # the broker queue GPU workers listen on
EXECUTE_NEXT = "workers.tasks.execute_next"  # the registered name of the ticket task (workers/tasks.py)


def notify_workers(run_id: int | None = None) -> None:
    """Send one ticket. Called after the launching transaction commits."""
    try:
        app.send_task(EXECUTE_NEXT, kwargs={"hint_run_id": run_id}, queue=QUEUE)
    except Exception:  # Redis down: the run stays queued in the DB and reconcile re-sends.
        log.warning("could not send a ticket for run %s; reconcile will", run_id, exc_info=True)


def notify_worker(name: str) -> None:
    """Send one ticket to one worker's own queue (Celery's worker_direct): for a run only some workers can take."""
    try:
        app.send_task(EXECUTE_NEXT, kwargs={"hint_run_id": None}, exchange="C.dq2", routing_key=name)
    except Exception:  # Redis down: its next heartbeat tries again
        log.warning("could not send a ticket to worker %s", name, exc_info=True)


def send_tickets_on_commit() -> None:
    """Top the tickets up once the current transaction commits (a run may now be claimable)."""
    transaction.on_commit(tickets_top_up)


def broker_pending(queue: str = QUEUE) -> int:
    """Messages waiting in the broker's run queue (not counting ones a worker holds)."""
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)  # Redis down: fail now, the next reconcile retries
        try:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:  # 404: Redis drops an empty list: no queue is an empty queue
            return 0


def tickets_top_up() -> int:
    """Send tickets until the broker holds one per run that could start now. Returns how many were sent.

    Tickets are interchangeable wake-ups, so a surplus costs one empty claim;
    a shortfall would leave a free worker asleep with runs queued.
    """
    try:
        pending = broker_pending()
    except Exception:  # Redis down: send anyway (publishing retries); surplus tickets are harmless
        pending = 0
    missing = max(0, queue_tickets_needed() - pending)
    for _ in range(missing):
        notify_workers()
    return missing


def worker_consume(name: str, *, consume: bool) -> None:
    """Tell a worker to start or stop listening for tickets (drain). Best effort: the claim re-checks the DB."""
    try:
        if consume:
            app.control.add_consumer(QUEUE, destination=[name], reply=False)
        else:
            app.control.cancel_consumer(QUEUE, destination=[name], reply=False)
    except Exception:
        log.warning("could not tell %s to %s consuming", name, "start" if consume else "stop", exc_info=True)
