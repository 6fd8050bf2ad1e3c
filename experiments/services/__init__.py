"""Writes: every state change a user can cause happens in one named service here.

Keyword-only and typed (HackSoft's styleguide); a refusal is `experiments.errors.Refused`.
May import selectors, queue, metric_store, models, errors, analysis and `workers.training`'s
pure schema; never pages, the API, or the worker runtime.
"""

from experiments.services.comparisons import saved_comparison_create
from experiments.services.runs import (
    config_validate,
    experiment_create,
    run_cancel,
    run_keep_model,
    run_launch,
    run_launch_allowed,
    run_rename,
)
from experiments.services.seeds import group_seeds_launch
from experiments.services.sweeps import sweep_expand, sweep_launch, sweep_size
from experiments.services.teams import (
    membership_add,
    membership_remove,
    team_create,
    token_create,
    token_revoke,
)
from experiments.services.uploads import upload_check_for_run, upload_check_media, upload_create, upload_export
from experiments.services.validation import text_problem

__all__ = [
    "saved_comparison_create",
    "config_validate",
    "experiment_create",
    "run_cancel",
    "run_keep_model",
    "run_launch",
    "run_launch_allowed",
    "group_seeds_launch",
    "run_rename",
    "sweep_expand",
    "sweep_launch",
    "sweep_size",
    "membership_add",
    "membership_remove",
    "team_create",
    "token_create",
    "token_revoke",
    "upload_check_for_run",
    "upload_check_media",
    "upload_create",
    "upload_export",
    "text_problem",
]
