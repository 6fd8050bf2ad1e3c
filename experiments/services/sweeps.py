"""Sweeps: one launch of a grid of configurations x seeds, as runs of one experiment. All or nothing."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from pydantic import ValidationError as PydanticValidationError

from experiments.errors import Refused, error_location
from experiments.models import Experiment, Run, Sweep
from experiments.services.runs import config_validate, experiment_set_reference, run_launch

MAX_SWEEP_RUNS = 200
MAX_SEEDS = 20
# form field -> dotted config path: the strategy and loss choices a sweep can vary
FACTORS: dict[str, str] = {
    "optimizer": "optimizer.name",
    "lr": "optimizer.lr",
    "schedule": "schedule.name",
    "batch_size": "batch_size",
    "l1": "regularization.l1",
    "l2": "regularization.l2",
    "dropout": "model.dropout",
    "arch": "model.arch",
    "hidden": "model.hidden",
    "loss": "loss.name",
}


def sweep_size(grid: dict[str, list], seeds: int) -> int:
    size = seeds
    for values in grid.values():
        size *= max(len(values), 1)
    return size


def _set(config: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = config
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value


def sweep_expand(*, base: dict, grid: dict[str, list], seeds: int) -> list[tuple[dict, dict]]:
    """Every (config, its grid choices) of the grid x seeds 0..seeds-1, in a stable order."""
    factors = [(f, vs) for f, vs in grid.items() if vs]
    out = []
    for combo in itertools.product(*(vs for _, vs in factors)):
        for seed in range(seeds):
            config = copy.deepcopy(base)
            choice = {}
            for (factor, _), value in zip(factors, combo):
                _set(config, FACTORS[factor], value)
                choice[factor] = value
            config["seed"] = seed
            out.append((config, choice))
    return out


def _describe(choice: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in choice.items()) or "the base config"


def _validate_all(combos: list[tuple[dict, dict]]):
    """Validate every config before creating any run; the first bad one is named, with the factor at fault."""
    configs = []
    for config, choice in combos:
        try:
            configs.append(config_validate(config))
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            parts, msg = error_location(err["loc"], err["msg"])
            path = ".".join(parts)
            field = next((f for f, p in FACTORS.items() if p == path and f in choice), None)
            raise Refused(f"{_describe(choice)}: {path}: {msg}", field=field) from None
    return configs


def _reference(base: dict, configs: list) -> dict:
    """The base config, which the runs are named against; the first run's if the base alone is not valid."""
    try:
        return config_validate(base).model_dump(mode="json")
    except PydanticValidationError:
        return configs[0].model_dump(mode="json")


def sweep_launch(
    *,
    experiment: Experiment,
    user: AbstractBaseUser,
    base: dict,
    grid: dict[str, list],
    seeds: int,
    max_runs: int = MAX_SWEEP_RUNS,
    preset: str = "",
) -> list[Run]:
    """Queue the grid `grid` (factor -> values) x `seeds` seeds over `base`, or nothing if any config is invalid.

    In an experiment without runs, `base` becomes the reference the runs are named against ("sgd lr 0.1 · seed 0").
    """
    unknown = set(grid) - set(FACTORS)
    if unknown:
        raise Refused(f"Unknown sweep factor {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    if not 1 <= seeds <= MAX_SEEDS:
        raise Refused(f"Seeds must be between 1 and {MAX_SEEDS}.", field="seeds")
    total = sweep_size(grid, seeds)
    if total > max_runs:
        raise Refused(
            f"This sweep would launch {total} runs; the limit is {max_runs}. Choose fewer values or seeds.",
            field="seeds",
        )
    configs = _validate_all(sweep_expand(base=base, grid=grid, seeds=seeds))
    with transaction.atomic():
        # The grid by config path: the effects table reads each run's value of each factor from its config.
        paths = {FACTORS[f]: values for f, values in grid.items() if values}
        sweep = Sweep.objects.create(experiment=experiment, created_by=user, grid=paths, seeds=seeds)
        experiment_set_reference(experiment=experiment, config=_reference(base, configs), preset=preset)
        return [run_launch(experiment=experiment, user=user, config=cfg, sweep=sweep, preset=preset) for cfg in configs]
