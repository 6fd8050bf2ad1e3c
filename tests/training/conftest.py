"""Fixtures for the training-engine tests: tiny, deterministic, CPU-only runs."""

from __future__ import annotations

import io

import pytest
import torch

from workers.training.config import RunConfig
from workers.training.reporter import NullReporter

# Small models are faster on one thread, and a busy 2-core machine makes extra threads thrash.
torch.set_num_threads(1)


def make_config(**overrides) -> RunConfig:
    """A tiny CPU config; nested sections are given as dicts, e.g. model={"hidden": [16]}."""
    base = {
        "dataset": {"name": "digits"},
        "model": {"hidden": [32], "dropout": 0.1},
        "batch_size": 64,
        "epochs": 2,
        "device": "cpu",
        "optimizer": {"name": "adam", "lr": 0.01},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return RunConfig.model_validate(base)


class StopAfter(NullReporter):
    """Asks to stop once `batches` calls to should_stop have been made."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.calls, self.batches = 0, batches

    def should_stop(self) -> bool:
        self.calls += 1
        return self.calls > self.batches


@pytest.fixture
def reporter() -> NullReporter:
    return NullReporter()


@pytest.fixture
def store(tmp_path, monkeypatch, settings):
    """A dataset store holding every standard set: fixture files installed by `manage.py datasets import`."""
    from django.core.management import call_command

    from tests.training.standard_fixtures import WRITERS, official_sums_replaced

    settings.DATA_DIR = tmp_path / "store"
    for name, write in WRITERS.items():
        source = write(tmp_path / "copied-by-hand" / name)
        with official_sums_replaced(name, source):
            call_command("datasets", "import", name, str(source), stdout=io.StringIO())
    monkeypatch.setenv("LOSSLAB_DATA_DIR", str(settings.DATA_DIR))  # how the engine finds the store
    return settings.DATA_DIR
