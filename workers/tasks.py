"""Celery tasks: the only glue between the queue (DB) and the training engine.

`execute_next` is a ticket: whichever run the DB says is next gets trained.
Tasks take ids, never ORM objects; a ticket that finds nothing to claim (a
duplicate or redelivered message) returns without side effects.
"""

from __future__ import annotations

import logging
import os
import socket

from celery import shared_task
from celery.signals import celeryd_init, worker_process_init

log = logging.getLogger(__name__)
QUEUE = "runs"


@celeryd_init.connect
def _name_worker(sender=None, **_):
    # Runs in the main process with the node name (-n); the pool's children inherit it.
    os.environ.setdefault("LOSSLAB_WORKER_NAME", str(sender))


@worker_process_init.connect
def _start_worker_heartbeat(**_):
    from workers.runner import start_worker_heartbeat

    start_worker_heartbeat(worker_name())


def worker_name() -> str:
    return os.environ.get("LOSSLAB_WORKER_NAME") or f"worker@{socket.gethostname()}"


def notify_workers(run_id: int | None = None) -> None:
    """Send one ticket. Called after the launching transaction commits."""
    try:
        execute_next.apply_async(kwargs={"hint_run_id": run_id}, queue=QUEUE)
    except Exception:  # Redis down: the run stays queued in the DB and reconcile re-sends.
        log.warning("could not send a ticket for run %s; reconcile will", run_id, exc_info=True)


@shared_task(name="workers.tasks.execute_next", acks_late=True)
def execute_next(hint_run_id: int | None = None) -> int | None:
    """Claim the next queued run and train it to the end. Returns the run id trained, if any."""
    from experiments.queue import run_claim_next
    from workers.runner import execute_run

    run = run_claim_next(worker_name=worker_name())
    if run is None:
        return None
    execute_run(run.pk, run.attempt)
    return run.pk
