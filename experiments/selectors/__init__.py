"""Reads, always scoped to the user's teams (another team's object is not found, never forbidden).

- `access`: one get-for-user per entity, and the user's teams, experiments, runs.
- `queue`: places in the queue, start estimates, live workers.
- `comparison`, `leaderboard`, `dashboard`, `export`: what the analysis pages and the API show.
- `diagnosis`: what a run's diagnosis needs from its experiment (the best training loss on the same data).
May import queue, metric_store, models, errors and analysis; never services, pages, the API or workers.
"""

from experiments.selectors.access import (
    experiment_get,
    experiments_for_user,
    membership_get,
    membership_role,
    run_get,
    runs_for_user,
    runs_tagged,
    saved_comparison_get,
    saved_comparisons_for,
    team_current,
    team_members,
    teams_for_user,
    tokens_for_user,
    upload_get,
    uploads_for_team,
)
from experiments.selectors.diagnosis import experiment_best_train_loss
from experiments.selectors.queue import (
    datasets_held,
    live_workers,
    queue_positions,
    queue_start_etas,
    run_eta_seconds,
    run_waiting_for,
    seconds_per_epoch,
)

__all__ = [
    "experiment_best_train_loss",
    "experiment_get",
    "experiments_for_user",
    "membership_get",
    "membership_role",
    "run_get",
    "runs_for_user",
    "runs_tagged",
    "saved_comparison_get",
    "saved_comparisons_for",
    "team_current",
    "team_members",
    "teams_for_user",
    "tokens_for_user",
    "upload_get",
    "uploads_for_team",
    "datasets_held",
    "live_workers",
    "queue_positions",
    "queue_start_etas",
    "run_eta_seconds",
    "run_waiting_for",
    "seconds_per_epoch",
]
