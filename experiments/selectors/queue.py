"""Reads behind the queue: places, rough start times and ETAs, live workers."""

from __future__ import annotations

import heapq
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from experiments.models import QueueState, Run, Worker
from experiments.queue import queued_runs
from experiments.queue.order import STORED_DATASETS, datasets_held

RECENT_RUNS = 20  # how many finished runs the queue's time estimates average over


def queue_positions() -> dict[int, int]:
    """1-based place in the queue of every queued run, in one query."""
    ids = queued_runs().values_list("id", flat=True)
    return {run_id: i for i, run_id in enumerate(ids, start=1)}


def run_eta_seconds(run: Run) -> float | None:
    """Rough time left for a running run, from its pace so far."""
    if run.status != Run.Status.RUNNING or not run.started_at or not run.epoch or not run.epochs:
        return None
    elapsed = (timezone.now() - run.started_at).total_seconds()
    return elapsed / run.epoch * (run.epochs - run.epoch)


def live_workers() -> QuerySet[Worker]:
    """Workers that beat recently and take runs (not draining)."""
    fresh = timezone.now() - timedelta(seconds=settings.WORKER_STALE_S)
    return Worker.objects.filter(last_heartbeat__gte=fresh, draining=False)


def dataset_wait_text(name: str) -> str:
    return f"waiting for a worker that holds {name} (python manage.py datasets fetch {name}, or import)"


def run_waiting_for(run: Run, held: set[str] | None = None) -> str:
    """Why a queued run cannot start: the standard set no live worker holds, with the command that installs it.

    Empty when the run is not queued or some live worker could take it. `held`: datasets_held(), when known.
    """
    config = run.config if isinstance(run.config, dict) else {}  # a stored config may no longer parse
    dataset = config.get("dataset")
    name = dataset.get("name") if isinstance(dataset, dict) else None
    if run.status != Run.Status.QUEUED or name not in STORED_DATASETS:
        return ""
    held = datasets_held() if held is None else held
    return "" if name in held else dataset_wait_text(name)


def seconds_per_epoch() -> float | None:
    """Average wall time of an epoch over recently finished runs (None before the first one)."""
    recent = (
        Run.objects.filter(status=Run.Status.SUCCEEDED, started_at__isnull=False, epoch__gt=0)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at", "epoch")[:RECENT_RUNS]
    )
    per_epoch = [(end - start).total_seconds() / epochs for start, end, epochs in recent]
    return sum(per_epoch) / len(per_epoch) if per_epoch else None


def queue_start_etas() -> dict[int, float]:
    """Rough seconds until each queued run starts, in a handful of queries.

    Simulates the queue: each live worker is free now or when its run's ETA
    ends; queued runs take the earliest free worker in queue order and hold it
    for their epochs x the recent seconds-per-epoch. Rough on purpose: it
    ignores team limits and how fast each config really is; a run on a standard
    set that no live worker holds gets no estimate. Empty when the
    queue is paused, no worker is live, or nothing has finished yet.
    """
    per_epoch = seconds_per_epoch()
    workers = list(live_workers().select_related("current_run"))
    if per_epoch is None or not workers or QueueState.get().paused:
        return {}
    free_at = []
    for w in workers:
        run = w.current_run
        busy = run is not None and run.status == Run.Status.RUNNING
        free_at.append((run_eta_seconds(run) or per_epoch * max(1, run.epochs - run.epoch)) if busy else 0.0)
    heapq.heapify(free_at)
    held = {name for w in workers for name in (w.datasets or [])}
    etas = {}
    for run_id, epochs, dataset in queued_runs().values_list("id", "epochs", "config__dataset__name"):
        if dataset in STORED_DATASETS and dataset not in held:
            continue  # no live worker can take it: no start time to promise (the page says why it waits)
        start = heapq.heappop(free_at)
        etas[run_id] = start
        heapq.heappush(free_at, start + per_epoch * max(1, epochs))
    return etas
