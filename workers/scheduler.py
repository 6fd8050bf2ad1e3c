"""The scheduler: the periodic step that keeps Redis in line with the database.

It runs as its own small process (`manage.py scheduler`), not as a Celery
task, so that it never waits in a queue behind a training run.
"""

from __future__ import annotations

import logging
import time

from experiments.queue import queue_tickets_needed, reap_lost_runs
from webapp.celery import app
from workers.tasks import QUEUE, notify_workers

log = logging.getLogger(__name__)


def broker_pending(queue: str = QUEUE) -> int:
    """Messages waiting in the broker's run queue (not counting ones a worker holds)."""
    from amqp.exceptions import ChannelError

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


def reconcile() -> dict:
    """Requeue or fail lost runs, then top up tickets so that every claimable run in the DB has one."""
    reaped = reap_lost_runs()
    sent = tickets_top_up()
    if reaped or sent:
        log.info("reconcile: requeued or failed %s, sent %d tickets", reaped, sent)
    return {"reaped": reaped, "sent": sent}


def run_forever(interval: float) -> None:
    while True:
        try:
            reconcile()
        except Exception:  # a DB or Redis blip must not kill the scheduler
            log.exception("reconcile failed; retrying")
        time.sleep(interval)
