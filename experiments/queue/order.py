"""Which queued run starts next: the order every claim, ticket count and queue page agrees on."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils import timezone

from experiments.models import QueueState, Run, Team, Worker
from workers.training.datasets import SETS

STORED_DATASETS = tuple(SETS)  # sets a worker must hold in its LOSSLAB_DATA_DIR (the rest are bundled or uploads)


def queued_runs():
    """Queued runs in the order they will start."""
    return Run.objects.filter(status=Run.Status.QUEUED).order_by("-priority", "queued_at", "id")


def teams_at_limit() -> list[int]:
    limited = Team.objects.filter(max_concurrent_runs__isnull=False).annotate(
        running=Count("experiments__runs", filter=Q(experiments__runs__status=Run.Status.RUNNING))
    )
    return [t.pk for t in limited if t.running >= t.max_concurrent_runs]


def claimable_runs(*, datasets: list[str] | None = None):
    """Runs that may start now; given a worker's `datasets`, only those it can train (one query either way)."""
    runs = queued_runs().exclude(experiment__team__in=teams_at_limit())
    if datasets is not None:
        missing = [name for name in STORED_DATASETS if name not in datasets]
        if missing:
            # Coalesced: a config without a dataset name (one that no longer parses) stays claimable, so the
            # worker can fail it by name; a bare exclude() would drop it on NULL.
            runs = runs.annotate(
                dataset_name=Coalesce(KT("config__dataset__name"), Value(""), output_field=TextField())
            ).exclude(dataset_name__in=missing)
    return runs


def datasets_held() -> set[str]:
    """Standard sets that at least one live worker (beating recently, not draining) holds."""
    fresh = timezone.now() - timedelta(seconds=settings.WORKER_STALE_S)
    held: set[str] = set()
    for names in Worker.objects.filter(last_heartbeat__gte=fresh, draining=False).values_list("datasets", flat=True):
        held.update(names or [])
    return held


def queue_tickets_needed() -> int:
    """How many runs could start now: what the broker should hold tickets for.

    A run on a standard set no live worker holds needs none (a ticket would only wake a worker that
    cannot take it); when a worker that holds the set comes, its heartbeat wakes it for the run.
    """
    if QueueState.get().paused:
        return 0
    return claimable_runs(datasets=sorted(datasets_held())).count()
