"""A worker resumes only its own run's checkpoint; a run's data and model files are its own too.

Real worker processes, real Redis, real database, real (tiny) training.
"""

from __future__ import annotations

import shutil
import uuid

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile

from experiments import metric_store
from experiments.services import upload_create
from tests.helpers import tiny_config, wait_for
from tests.queue.conftest import assert_history_exactly_once, launch, reload
from tests.teams.conftest import IRIS_CSV
from tests.training.conftest import StopAfter
from workers.training import checkpoint
from workers.training.config import RunConfig
from workers.training.engine import train

pytestmark = pytest.mark.integration
CONFIG = tiny_config(dataset={"name": "digits"}, batch_size=64, epochs=6, device="cpu")


def foreign_checkpoint(folder, config: dict) -> None:
    """A checkpoint of the same config, four epochs in, written by another run (an old database's run)."""
    torch.set_num_threads(1)
    cfg = RunConfig.model_validate(config)
    steps = train(RunConfig.model_validate({**config, "epochs": 1}), StopAfter(10**9)).steps_per_epoch
    owner = {"run": str(uuid.uuid4()), "attempt": 1, "config_hash": checkpoint.config_hash(cfg.canonical_json())}
    train(cfg, StopAfter(4 * steps), checkpoint_dir=folder, owner=owner)


def test_a_new_run_never_resumes_a_checkpoint_it_does_not_own(queue_worker, experiment, tmp_path):
    run = launch(experiment, CONFIG)
    # After a database reset the ids start again: the old run's folder (by id, as before) is still there, and
    # a restored backup put a foreign file where this run's uid folder is.
    foreign_checkpoint(tmp_path / "foreign", CONFIG)
    for name in (str(run.pk), str(run.uid)):
        shutil.copytree(tmp_path / "foreign", tmp_path / "checkpoints" / name)

    w = queue_worker("w1")
    wait_for(lambda: reload(run).is_finished, timeout=90, message="the run to finish")
    assert run.status == "succeeded" and run.attempt == 1, run.error
    assert_history_exactly_once(run, CONFIG["epochs"])  # every epoch trained here, from 1
    assert "ignoring the checkpoint" in w.output() and "belongs to run" in w.output()
    # Its final weights are its own model file, named by its uid.
    weights = torch.load(tmp_path / "models" / f"{run.uid}.pt", weights_only=True)
    assert weights and all(isinstance(v, torch.Tensor) for v in weights.values())
    print(f"\nforeign checkpoint ignored; run {run.pk} trained epochs 1-{CONFIG['epochs']} itself")


def test_an_uploaded_csv_under_its_random_name_trains_on_a_worker(queue_worker, experiment, tmp_path, settings):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    upload = upload_create(
        team=experiment.team, user=experiment.created_by, file=SimpleUploadedFile("iris.csv", IRIS_CSV)
    )
    assert upload.path.name != f"{upload.pk}.csv"
    run = launch(experiment, tiny_config(dataset={"name": "csv", "upload": upload.pk, "target": "species"}))
    queue_worker("w1", LOSSLAB_UPLOAD_DIR=str(settings.UPLOAD_DIR))
    wait_for(lambda: reload(run).is_finished, timeout=90, message="the run to finish")
    assert run.status == "succeeded", run.error
    assert len(metric_store.read_series([run.pk])[run.pk]["val_loss"].values) == 3
