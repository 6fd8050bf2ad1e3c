"""The scheduler: the periodic step that keeps Redis in line with the database.

It runs as its own small process (`manage.py scheduler`), not as a Celery
task, so that it never waits in a queue behind a training run.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from experiments.queue import reconcile
from experiments.storage import prune_files

log = logging.getLogger(__name__)


def run_forever(interval: float) -> None:
    pruned = -float("inf")
    while True:
        try:
            reconcile()
        except Exception:  # a DB or Redis blip must not kill the scheduler
            log.exception("reconcile failed; retrying")
        if time.monotonic() - pruned >= settings.PRUNE_EVERY_S:
            pruned = time.monotonic()
            try:
                prune_files()  # finished runs' checkpoints after their retention period
            except Exception:
                log.exception("retention pass failed; retrying later")
        time.sleep(interval)
