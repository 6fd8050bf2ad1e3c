"""Two teams, each with a full set of objects, for isolation, dashboard and upload tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.helpers import tiny_config

IRIS_CSV = (
    "sepal,petal,species\n"
    + "\n".join(f"{1 + i * 0.1:.1f},{0.5 + (i % 3):.1f},{['a', 'b', 'c'][i % 3]}" for i in range(30))
).encode()


@dataclass
class World:
    """One team's objects; names carry `marker` so a leak is easy to spot in any response."""

    marker: str
    user: object
    team: object
    membership: object
    experiment: object
    run: object
    running: object
    queued: object
    upload: object
    token: object
    secret: str
    comparison: object


def csv_file(content: bytes | str, name: str = "data.csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def make_world(marker: str, django_user_model) -> World:
    from experiments import metric_store, services
    from experiments.models import Run
    from experiments.services import uploads

    user = django_user_model.objects.create_user(f"{marker}_user", password="correct-horse-battery")
    team = services.team_create(name=f"{marker}-team", owner=user)
    experiment = services.experiment_create(
        team=team, user=user, name=f"{marker}-experiment", description=f"{marker}-description"
    )
    run = services.run_launch(experiment=experiment, user=user, config=tiny_config(), name=f"{marker}-run")
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(
        status="succeeded",
        epoch=3,
        finished_at=now,
        verdict="good_fit",
        summary={"best": {"val_loss": 0.25, "val_accuracy": 0.91}, "final": {"val_loss": 0.3}, "best_epoch": 2},
    )
    metric_store.write_points(
        run.pk, [(s, k, 1.0 / (s + 1), 0.0) for s in range(5) for k in ("train_loss", "val_loss")]
    )
    running = services.run_launch(experiment=experiment, user=user, config=tiny_config(), name=f"{marker}-running")
    Run.objects.filter(pk=running.pk).update(status="running", epoch=1, started_at=now)
    queued = services.run_launch(experiment=experiment, user=user, config=tiny_config(), name=f"{marker}-queued")
    upload = uploads.upload_create(
        team=team,
        user=user,
        file=csv_file(f"{marker}_col,x\n" + "\n".join(f"{i % 2},{i}" for i in range(10)), name=f"{marker}-data.csv"),
    )
    token, secret = services.token_create(user=user, name=f"{marker}-token")
    comparison = services.saved_comparison_create(
        experiment=experiment, user=user, name=f"{marker}-comparison", run_ids=[run.pk, running.pk]
    )
    return World(
        marker,
        user,
        team,
        team.memberships.get(user=user),
        experiment,
        run,
        running,
        queued,
        upload,
        token,
        secret,
        comparison,
    )


@pytest.fixture
def worlds(db, django_user_model, upload_dir):
    """Team A ('alpha') and team B ('bravo')."""
    return make_world("alpha", django_user_model), make_world("bravo", django_user_model)
