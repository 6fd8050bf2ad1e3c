"""Experiments and runs: create, launch, cancel, and the launch limits."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from experiments import storage
from experiments.analysis import names
from experiments.errors import ErrorCode, Refused
from experiments.models import Experiment, Membership, Run, Sweep, Team
from experiments.queue import notify_workers
from experiments.services.uploads import upload_check_for_run, upload_check_media
from experiments.services.validation import check_config_text, check_text
from workers.training.config import RunConfig, canonical_config
from workers.training.csvdata import read_csv_table
from workers.training.presets import PRESETS

MAX_TAGS = 10
MAX_TAG_LENGTH = 32
# Lower-case ASCII without quotes: a tag is found by its quoted text in the stored JSON list, on any database.
TAG_RE = re.compile(r"[a-z0-9][a-z0-9 _.:+=/-]*")


def config_validate(data: dict[str, Any] | RunConfig) -> RunConfig:
    """Validate a raw config through the one schema, in its canonical form; raises pydantic's ValidationError.

    Every launch (form, API, sweep, missing seeds) goes through here, so one intent is one group.
    """
    return canonical_config(data if isinstance(data, RunConfig) else RunConfig.model_validate(data))


def experiment_create(*, team: Team, user: AbstractBaseUser, name: str, description: str = "") -> Experiment:
    name = name.strip()
    if not name:
        raise Refused("Name must not be empty.", field="name")
    check_text(name, "name")
    check_text(description, "description")
    if not Membership.objects.filter(team=team, user=user).exists():
        raise Refused("Not found.", field="team", code=ErrorCode.NOT_FOUND)
    return Experiment.objects.create(team=team, created_by=user, name=name[:200], description=description)


def run_launch(
    *,
    experiment: Experiment,
    user: AbstractBaseUser,
    config: dict | RunConfig,
    name: str = "",
    priority: int = 0,
    sweep: Sweep | None = None,
    preset: str = "",
) -> Run:
    """Queue a run of `config` in `experiment`; a worker is told once the row is committed.

    Without a `name`, the run is named by how its config differs from the experiment's reference
    (`run_default_name`); `preset` is the preset the config was launched from, if any.

    Refuses (Refused) a user who is not in the experiment's team (404), an upload
    of another team (404-style, on dataset.upload), a CSV that cannot train for the
    target, and a user over the launch limits (429).
    """
    cfg = config_validate(config)
    if not Membership.objects.filter(team_id=experiment.team_id, user=user).exists():
        raise Refused("No such experiment.", field="experiment", code=ErrorCode.NOT_FOUND)
    check_config_text(cfg.model_dump(mode="json"), "")
    check_text(name, "name")
    run_launch_allowed(user=user)
    if cfg.dataset.name == "csv":
        upload = upload_check_for_run(
            team_id=experiment.team_id, upload_id=cfg.dataset.upload, target=cfg.dataset.target, task=cfg.dataset.task
        )
        cfg = _csv_task_inferred(cfg, upload.path)
    elif cfg.dataset.name in ("images", "text"):
        upload_check_media(team_id=experiment.team_id, dataset=cfg.dataset)
    if preset and preset not in PRESETS:
        raise Refused(f"No such preset {preset!r}.", field="preset")
    data = cfg.model_dump(mode="json")
    with transaction.atomic():
        run = Run.objects.create(
            experiment=experiment,
            created_by=user,
            name=name.strip()[:200] or run_default_name(experiment=experiment, config=data, preset=preset),
            config=data,
            config_hash=cfg.config_hash(),
            group_hash=cfg.group_hash(),
            seed=cfg.seed,
            sweep=sweep,
            priority=priority,
            epochs=cfg.epochs,
            queued_at=timezone.now(),
        )
        transaction.on_commit(lambda: notify_workers(run.pk))
    return run


def _csv_task_inferred(cfg: RunConfig, path) -> RunConfig:
    """A task chosen for a CSV that the data implies anyway is stored as inferred (None): one group either way."""
    if cfg.dataset.task is None:
        return cfg
    try:
        _, _, inferred = read_csv_table(path, cfg.dataset.target, None)
    except ValueError:  # the data cannot say (e.g. a target the inference rejects): the choice stays explicit
        return cfg
    if inferred != cfg.dataset.task:
        return cfg
    return cfg.model_copy(update={"dataset": cfg.dataset.model_copy(update={"task": None})})


def preset_name(preset: str) -> str:
    return preset.replace("_", " ")


def experiment_set_reference(*, experiment: Experiment, config: dict, preset: str = "") -> bool:
    """Make `config` the reference run names are differences from, unless the experiment has one already.

    The reference is named after its preset ("tutorial mlp") or its architecture ("mlp 256-128").
    An experiment with runs from before references existed takes its first run's config instead.
    Returns whether `config` became the reference. Locks the experiment row: two first launches agree on one.
    """
    exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if exp.reference_config is None:
        first = exp.runs.order_by("pk").values_list("config", flat=True).first()
        if isinstance(first, dict):
            name = names.arch_text(names.flatten_config(first)) or "reference"
            Experiment.objects.filter(pk=exp.pk).update(reference_config=first, reference_name=name)
            exp.reference_config, exp.reference_name = first, name
    if exp.reference_config is not None:
        experiment.reference_config, experiment.reference_name = exp.reference_config, exp.reference_name
        return False
    name = preset_name(preset) if preset else names.arch_text(names.flatten_config(config)) or "reference"
    Experiment.objects.filter(pk=exp.pk).update(reference_config=config, reference_name=name)
    experiment.reference_config, experiment.reference_name = config, name
    return True


def run_default_name(*, experiment: Experiment, config: dict, preset: str = "") -> str:
    """What tells this run apart within its experiment: "l2 0.1 · sgd lr 0.01 · seed 1".

    The experiment's first run sets the reference and is named after its preset or architecture
    ("tutorial mlp · seed 0", plus what it changed in the preset). A run launched from another preset
    than the reference's is named after that preset and what it changed there.
    """
    first = experiment_set_reference(experiment=experiment, config=config, preset=preset)
    if preset and (first or preset_name(preset) != experiment.reference_name):
        base = PRESETS[preset][1].model_dump(mode="json")
        return names.run_name(config, base, base=preset_name(preset), with_base=True)
    return names.run_name(config, experiment.reference_config, base=experiment.reference_name, with_base=first)


def run_rename(*, run: Run, name: str | None = None, tags: list[str] | None = None) -> Run:
    """Rename and/or re-tag a run; an empty name goes back to the name made from its differences.

    Tags are trimmed, lower-cased and de-duplicated: at most 10, each at most 32 characters of
    a-z 0-9 space _ . : + = / -.
    """
    with transaction.atomic():
        return _rename(run=run, name=name, tags=tags)


def _rename(*, run: Run, name: str | None, tags: list[str] | None) -> Run:
    fields = []
    if name is not None:
        check_text(name, "name")
        name = name.strip()
        if len(name) > 200:
            raise Refused("Name must be at most 200 characters.", field="name")
        run.name = name or run_default_name(experiment=run.experiment, config=run.config)
        fields.append("name")
    if tags is not None:
        run.tags = tags_clean(tags)
        fields.append("tags")
    if fields:
        run.save(update_fields=fields)
    return run


def tags_clean(tags: list[str]) -> list[str]:
    out: list[str] = []
    for raw in tags:
        if not isinstance(raw, str):
            raise Refused("Each tag must be a string.", field="tags")
        tag = " ".join(raw.split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise Refused(f"Tag {tag[:40]!r} is longer than {MAX_TAG_LENGTH} characters.", field="tags")
        if not TAG_RE.fullmatch(tag):
            raise Refused(
                f"Tag {tag!r} may use only letters a-z, digits, spaces and _ . : + = / - (starting with a letter or digit).",
                field="tags",
            )
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise Refused(f"At most {MAX_TAGS} tags per run.", field="tags")
    return out


def run_cancel(*, run: Run) -> Run:
    """A queued run is cancelled at once; a running one is flagged and its worker stops within a second or two."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status in (Run.Status.QUEUED, Run.Status.LOST):
            run.status = Run.Status.CANCELLED
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "finished_at"])
        elif run.status == Run.Status.RUNNING:
            run.cancel_requested = True
            run.save(update_fields=["cancel_requested"])
        else:
            raise Refused(f"Run is already {run.status}.", field="status", code=ErrorCode.CONFLICT)
    return run


def run_launch_allowed(*, user: AbstractBaseUser, count: int = 1) -> None:
    """Refuse with 429 when launching `count` more runs would pass the user's per-minute or queued limit.

    Counted from the DB (runs created by the user), so every web and API process agrees.
    A sweep should call this once with its grid size before launching its runs.
    """
    recent = Run.objects.filter(created_by=user, created__gte=timezone.now() - timedelta(minutes=1)).count()
    if recent + count > settings.RUNS_PER_MINUTE:
        raise Refused(
            f"Too many launches: at most {settings.RUNS_PER_MINUTE} runs per minute per user. "
            "Wait a minute and try again.",
            field="runs_per_minute",
            code=ErrorCode.RATE_LIMITED,
        )
    queued = Run.objects.filter(created_by=user, status__in=[Run.Status.QUEUED, Run.Status.LOST]).count()
    if queued + count > settings.MAX_QUEUED_PER_USER:
        raise Refused(
            f"You already have {queued} runs waiting; at most {settings.MAX_QUEUED_PER_USER} may be queued per user. "
            "Wait for some to start, or cancel some.",
            field="queued_runs",
            code=ErrorCode.RATE_LIMITED,
        )


def run_keep_model(*, run: Run) -> Run:
    """Keep a finished run's final weights past the checkpoint retention period."""
    if not storage.model_path(run).exists():
        raise Refused("This run has no model file (it did not succeed, or it was deleted).", field="model")
    Run.objects.filter(pk=run.pk).update(keep_model=True)
    run.keep_model = True
    return run
