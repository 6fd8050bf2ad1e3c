"""The presets for real data train through `train(config, reporter)` on fixture-format files from the store."""

from __future__ import annotations

import pytest

from workers.training.engine import train
from workers.training.presets import PRESETS, REFERENCES
from workers.training.reporter import NullReporter

# Tiny versions of each preset: the recipe as published, with fewer epochs and a narrower model.
TINY = {
    "mnist_cnn": {"epochs": 3, "batch_size": 32},
    "fashion_mnist_cnn": {"epochs": 3, "batch_size": 32},
    "cifar10_resnet20": {"epochs": 3, "batch_size": 32, "optimizer": {"lr": 0.05}},
    "ag_news_lstm": {"epochs": 4, "batch_size": 32, "optimizer": {"lr": 0.01}},
}
SHRINK = {"cifar10_resnet20": {"depth": 1, "hidden": [8, 16, 16]}, "ag_news_lstm": {"hidden": [32], "embed_dim": 16}}


def tiny(name: str):
    config = PRESETS[name][1].model_dump()
    for key, value in TINY[name].items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    config["model"].update(SHRINK.get(name, {}))
    config["device"] = "cpu"
    return type(PRESETS[name][1]).model_validate(config)


@pytest.mark.parametrize("name", sorted(TINY))
def test_it_trains_each_real_data_preset_above_chance(store, name):
    result = train(tiny(name), NullReporter())
    assert result.status == "completed", result.message
    chance = 1 / (4 if name == "ag_news_lstm" else 10)
    assert result.best["val_accuracy"] > chance + 0.3, result.best


def test_every_real_data_preset_names_its_published_accuracy():
    assert set(REFERENCES) == set(TINY)
    for name, ref in REFERENCES.items():
        assert name in PRESETS and 0.5 < ref.test_accuracy < 1 and ref.source and ref.url.startswith("https://")
        assert f"{ref.test_accuracy:.2%}" in ref.label()
