"""Celery tasks: the only glue between the queue (DB) and the training engine.

`execute_next` is a ticket: whichever run the DB says is next gets trained.
Tasks take ids, never ORM objects; a ticket that finds nothing to claim (a
duplicate or redelivered message) returns without side effects.

One worker process per GPU: `CUDA_VISIBLE_DEVICES=i celery -A webapp worker
-Q runs -c 1 --prefetch-multiplier 1 -n gpu<i>@%h` (see `manage.py
gpuworkers`). CUDA is touched only in the pool child, never in the parent,
or the forked child fails with "Cannot re-initialize CUDA".
"""

from __future__ import annotations

import logging
import os
import signal
import socket

from celery import shared_task
from celery.signals import celeryd_init, worker_process_init, worker_ready, worker_shutting_down
from django.conf import settings
from django.db import connections

from experiments.models import Worker
from experiments.queue import QUEUE, run_claim_next
from workers.device import warm_up
from workers.runner import SHUTDOWN, execute_run, start_worker_heartbeat

log = logging.getLogger(__name__)
_pool = None  # main process: the pool, so that a warm shutdown reaches the child training a run


@celeryd_init.connect
def _name_worker(sender=None, **_):
    # Runs in the main process with the node name (-n); the pool's children inherit it.
    os.environ.setdefault("LOSSLAB_WORKER_NAME", str(sender))


@worker_process_init.connect
def _init_pool_process(**_):
    start_worker_heartbeat(worker_name())
    if settings.WORKER_WARM_UP:
        warm_up()  # not in a thread: two threads importing torch's lazy modules at once can deadlock


@worker_ready.connect
def _on_ready(sender=None, **_):
    """Main process: remember the pool; a worker the DB says is draining does not listen for tickets."""
    global _pool
    _pool = getattr(sender, "pool", None)
    try:
        draining = Worker.objects.filter(name=worker_name(), draining=True).exists()
    except Exception:  # no DB yet: the claim still refuses work for a draining worker
        log.warning("could not read this worker's drain flag", exc_info=True)
        draining = False
    finally:
        connections.close_all()
    if draining:
        log.info("%s is draining: not consuming %r", worker_name(), QUEUE)
        sender.cancel_task_queue(QUEUE)


@worker_shutting_down.connect
def _forward_shutdown(how=None, **_):
    """`docker stop` signals only the main process: pass it on, so the child checkpoints and hands its run back."""
    if _pool is None:
        return
    try:
        for pid in _pool.info.get("processes", []):
            os.kill(pid, signal.SIGTERM)
    except Exception:  # a signal handler must not raise; the lease expiry is the fallback
        pass


def worker_name() -> str:
    return os.environ.get("LOSSLAB_WORKER_NAME") or f"worker@{socket.gethostname()}"


@shared_task(name="workers.tasks.execute_next", acks_late=True)
def execute_next(hint_run_id: int | None = None) -> int | None:
    """Claim the next queued run and train it to the end. Returns the run id trained, if any."""
    # A SIGTERM seen by an earlier run has been handled (that run was handed back). During a warm
    # shutdown the main process delivers no new ticket, so one arriving here means: keep working.
    SHUTDOWN.clear()
    run = run_claim_next(worker_name=worker_name())
    if run is None:
        log.info("ticket (hint run %s): nothing to claim", hint_run_id)
        return None
    log.info("claimed run %s attempt %s", run.pk, run.attempt)
    execute_run(run.pk, run.attempt)
    return run.pk
