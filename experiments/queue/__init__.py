"""The GPU queue, decided by the database, and the only code that talks to the broker.

- `order`: which queued run starts next (priority, then submit time; team limits).
- `claims`: the worker side: claim, heartbeat, record metrics, finish, reap, reconcile.
- `control`: the admin side: pause, reorder, requeue, drain, team limits.
- `tickets`: wake-up messages sent by task name; worker consume on/off (drain).

May import `experiments.models`, `experiments.metric_store`, `experiments.errors` and
`webapp.celery`; never the worker runtime (it imports this package, not the reverse);
`workers.training.datasets` (pure) names the standard sets a worker must hold.
"""

from experiments.queue.claims import (
    LeaseLost,
    reap_lost_runs,
    reconcile,
    run_claim_next,
    run_finish,
    run_heartbeat,
    run_mark_checkpoint,
    run_record_metrics,
    run_requeue_warm,
    run_resume_from,
    worker_heartbeat,
    worker_wake_for_held_datasets,
)
from experiments.queue.control import (
    queue_pause,
    queue_resume,
    run_move_to_top,
    run_move_up,
    run_raise_priority,
    run_requeue,
    run_set_priority,
    team_set_run_limit,
    worker_drain,
    worker_undrain,
)
from experiments.queue.order import claimable_runs, queue_tickets_needed, queued_runs, teams_at_limit
from experiments.queue.tickets import QUEUE, notify_workers, tickets_top_up, worker_consume

__all__ = [
    "LeaseLost",
    "reap_lost_runs",
    "reconcile",
    "run_claim_next",
    "run_finish",
    "run_heartbeat",
    "run_mark_checkpoint",
    "run_record_metrics",
    "run_requeue_warm",
    "run_resume_from",
    "worker_heartbeat",
    "worker_wake_for_held_datasets",
    "queue_pause",
    "queue_resume",
    "run_move_to_top",
    "run_move_up",
    "run_raise_priority",
    "run_requeue",
    "run_set_priority",
    "team_set_run_limit",
    "worker_drain",
    "worker_undrain",
    "claimable_runs",
    "queue_tickets_needed",
    "queued_runs",
    "teams_at_limit",
    "QUEUE",
    "notify_workers",
    "tickets_top_up",
    "worker_consume",
]
