"""Which queued run starts next: the order every claim, ticket count and queue page agrees on."""

from __future__ import annotations

from django.db.models import Count, Q

from experiments.models import QueueState, Run, Team
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
            runs = runs.exclude(config__dataset__name__in=missing)
    return runs


def queue_tickets_needed() -> int:
    """How many runs could start now: what the broker should hold tickets for."""
    if QueueState.get().paused:
        return 0
    return claimable_runs().count()
