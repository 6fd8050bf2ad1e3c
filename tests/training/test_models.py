"""Architectures: each one trains above chance on its task; dropout and batch norm behave as named."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.training.conftest import make_config
from workers.training.config import ModelConfig
from workers.training.engine import train
from workers.training.models import build_model, layer_groups, penalized_weights
from workers.training.reporter import NullReporter

SEQ = {"name": "sequence", "n_samples": 600}


@pytest.mark.parametrize(
    "arch,dataset,model,epochs,floor",
    [
        ("mlp", {"name": "moons", "n_samples": 400}, {"hidden": [16]}, 5, 0.8),
        ("cnn", {"name": "digits"}, {"hidden": [8, 16], "dropout": 0.0}, 2, 0.6),
        ("rnn", SEQ, {"hidden": [16], "dropout": 0.0}, 6, 0.7),
        ("lstm", SEQ, {"hidden": [16], "dropout": 0.0}, 6, 0.7),
        ("gru", SEQ, {"hidden": [16], "dropout": 0.0}, 6, 0.7),
        # Attention needs more rows and smaller steps to find the half-versus-half comparison.
        ("transformer", {"name": "sequence", "n_samples": 1500}, {"hidden": [32], "dropout": 0.0}, 4, 0.7),
        ("lstm", {"name": "digits"}, {"hidden": [32], "dropout": 0.0}, 3, 0.5),
    ],
)
def test_each_architecture_trains_above_chance(arch, dataset, model, epochs, floor):
    small_steps = arch == "transformer"
    config = make_config(
        dataset=dataset,
        model={"arch": arch, **model},
        epochs=epochs,
        batch_size=16 if small_steps else 32,
        optimizer={"lr": 0.003 if small_steps else 0.01},
    )
    result = train(config, NullReporter())
    assert result.final["val_accuracy"] > floor, result.final  # chance: 0.5 (binary) or 0.1 (digits)


def test_the_mlp_fits_a_regression_target():
    config = make_config(
        dataset={"name": "diabetes"},
        loss={"name": "mse"},
        epochs=15,
        batch_size=32,
        model={"hidden": [32], "dropout": 0.0},
    )
    result = train(config, NullReporter())
    assert result.final["val_r2"] > 0.3
    # RMSE is reported in the target's units: sqrt of the (standardised) MSE times the target's std.
    assert result.final["val_rmse"] > 30


def test_hidden_sets_the_layer_widths():
    model = build_model(ModelConfig(hidden=[7, 5]), (4,), 3)
    widths = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)]
    assert widths == [7, 5, 3]
    cnn = build_model(ModelConfig(arch="cnn", hidden=[4, 6]), (1, 8, 8), 10)
    assert [m.out_channels for m in cnn.modules() if isinstance(m, nn.Conv2d)] == [4, 6]
    lstm = build_model(ModelConfig(arch="lstm", hidden=[9, 3]), (8, 8), 2)
    assert [m.hidden_size for m in lstm.modules() if isinstance(m, nn.LSTM)] == [9, 3]


@pytest.mark.parametrize("arch,shape,norm", [("mlp", (4,), nn.BatchNorm1d), ("cnn", (1, 8, 8), nn.BatchNorm2d)])
def test_batchnorm_is_there_only_when_asked(arch, shape, norm):
    def count(flag):
        model = build_model(ModelConfig(arch=arch, hidden=[8, 8], batchnorm=flag), shape, 2)
        return sum(isinstance(m, norm) for m in model.modules())

    assert count(True) == 2 and count(False) == 0


@pytest.mark.parametrize("arch,shape", [("mlp", (6,)), ("cnn", (1, 8, 8)), ("gru", (8, 8)), ("transformer", (8, 8))])
def test_dropout_is_active_in_training_and_off_in_eval(arch, shape):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, hidden=[16], dropout=0.5, heads=2), shape, 3)
    x = torch.randn(8, *shape)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_layer_groups_are_the_blocks_and_the_head():
    model = build_model(ModelConfig(arch="transformer", hidden=[8, 8], heads=2), (4, 3), 2)
    assert set(layer_groups(model)) == {"embed", "pos", "blocks.0", "blocks.1", "norm", "head"}


def test_penalties_skip_biases_norms_and_positions_in_every_architecture():
    model = build_model(ModelConfig(arch="transformer", hidden=[8], heads=2), (4, 3), 2)
    names = {n for n, p in model.named_parameters() if any(p is w for w in penalized_weights(model))}
    assert "pos" not in names and not any("norm" in n or n.endswith("bias") for n in names)
    assert {"embed.weight", "head.weight", "blocks.0.self_attn.in_proj_weight"} <= names
