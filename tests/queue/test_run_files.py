"""A run's files: named by its uid, kept for the retention period, the model downloadable, the disk shown."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import pytest
import torch
from django.test import Client
from django.utils import timezone

from experiments import storage
from experiments.models import Membership, Run, Team
from tests.helpers import tiny_config
from tests.queue.conftest import launch


@pytest.fixture
def files(settings, tmp_path):
    settings.CHECKPOINT_DIR, settings.MODEL_DIR = tmp_path / "checkpoints", tmp_path / "models"
    settings.CHECKPOINT_RETENTION_H = 24
    settings.MODEL_DIR.mkdir(parents=True)
    settings.CHECKPOINT_DIR.mkdir(parents=True)
    return settings


def finished(experiment, *, hours_ago: float, keep_model: bool = False) -> Run:
    run = launch(experiment, tiny_config())
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.SUCCEEDED, finished_at=timezone.now() - timedelta(hours=hours_ago), keep_model=keep_model
    )
    return Run.objects.get(pk=run.pk)


def with_files(run: Run) -> Run:
    storage.run_dir(run).mkdir()
    (storage.run_dir(run) / "checkpoint.pt").write_bytes(b"x" * 1000)
    torch.save({"w": torch.ones(3)}, storage.model_path(run))
    return run


def test_each_run_gets_its_own_random_uid(experiment):
    a, b = launch(experiment, tiny_config()), launch(experiment, tiny_config())
    assert isinstance(a.uid, uuid.UUID) and a.uid != b.uid
    assert storage.run_dir(a).name == str(a.uid)


def test_retention_deletes_old_finished_runs_files_keeps_live_and_kept_ones(experiment, files):
    old = with_files(finished(experiment, hours_ago=25))
    recent = with_files(finished(experiment, hours_ago=1))
    kept = with_files(finished(experiment, hours_ago=25, keep_model=True))
    running = with_files(launch(experiment, tiny_config()))
    Run.objects.filter(pk=running.pk).update(status=Run.Status.RUNNING)
    # Folders no run owns: a database reset, or the old id-named layout. Only an old one goes.
    orphan_old, orphan_new = files.CHECKPOINT_DIR / str(uuid.uuid4()), files.CHECKPOINT_DIR / "17"
    orphan_old.mkdir(), orphan_new.mkdir()
    os.utime(orphan_old, (time.time() - 30 * 3600,) * 2)

    deleted = set(storage.prune_files())

    assert deleted == {storage.run_dir(old), storage.model_path(old), storage.run_dir(kept), orphan_old}
    assert storage.model_path(kept).exists() and storage.run_dir(recent).exists()
    assert storage.run_dir(running).exists() and orphan_new.exists()


def test_the_run_page_offers_the_model_to_its_team_only_and_keeps_it_on_request(
    experiment, files, alice_client, django_user_model
):
    run = with_files(finished(experiment, hours_ago=1))
    page = alice_client.get(f"/runs/{run.pk}/").content.decode()
    assert f"/runs/{run.pk}/model.pt" in page and "Keep it" in page

    r = alice_client.get(f"/runs/{run.pk}/model.pt")
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment")
    path = files.MODEL_DIR / "downloaded.pt"
    path.write_bytes(b"".join(r.streaming_content))
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(3))

    bob = django_user_model.objects.create_user("bob", password="x")
    Membership.objects.create(user=bob, team=Team.objects.create(name="Audio"))
    other = Client()
    other.force_login(bob)
    assert other.get(f"/runs/{run.pk}/model.pt").status_code == 404
    assert other.post(f"/runs/{run.pk}/keep-model/").status_code == 404

    assert alice_client.post(f"/runs/{run.pk}/keep-model/").status_code == 302
    assert Run.objects.get(pk=run.pk).keep_model
    kept_page = alice_client.get(f"/runs/{run.pk}/").content.decode()
    assert "kept" in kept_page and "Keep it" not in kept_page

    storage.model_path(run).unlink()
    assert alice_client.get(f"/runs/{run.pk}/model.pt").status_code == 404
    assert "/model.pt" not in alice_client.get(f"/runs/{run.pk}/").content.decode()


def test_the_admin_shows_the_disk_used_by_checkpoints_models_and_uploads(experiment, files, staff_client, tmp_path):
    files.UPLOAD_DIR = tmp_path / "uploads"
    files.UPLOAD_DIR.mkdir()
    (files.UPLOAD_DIR / "a.csv").write_bytes(b"y" * 3 * 1024)
    with_files(finished(experiment, hours_ago=1))
    assert storage.disk_usage()["checkpoints"] == 1000 and storage.disk_usage()["uploads"] == 3 * 1024
    page = staff_client.get("/admin/experiments/run/").content.decode()
    assert "Disk used" in page and "checkpoints 1000\xa0bytes" in page and "uploads 3.0\xa0KB" in page
