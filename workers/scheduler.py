"""The scheduler: the periodic step that keeps Redis in line with the database.

It runs as its own small process (`manage.py scheduler`), not as a Celery
task, so that it never waits in a queue behind a training run.
"""

from __future__ import annotations

import logging
import time

from experiments.queue import reconcile

log = logging.getLogger(__name__)


def run_forever(interval: float) -> None:
    while True:
        try:
            reconcile()
        except Exception:  # a DB or Redis blip must not kill the scheduler
            log.exception("reconcile failed; retrying")
        time.sleep(interval)
