"""Optimizers and schedules: the right algorithm, the LR each epoch actually used, gd's single step."""

from __future__ import annotations

import math

import pytest
import torch

from tests.training.conftest import make_config
from workers.training.config import ModelConfig, OptimizerConfig, ScheduleConfig
from workers.training.engine import _Run, train
from workers.training.models import build_model, layer_groups
from workers.training.optim import GroupNorms, Schedule, build_optimizer, lr_factor
from workers.training.reporter import NullReporter

IRIS = {"dataset": {"name": "iris"}, "batch_size": 16, "model": {"hidden": [16], "dropout": 0.0}}


def lrs(schedule: dict, epochs: int, lr: float = 0.1) -> list[float]:
    reporter = NullReporter()
    train(make_config(**IRIS, epochs=epochs, schedule=schedule, optimizer={"name": "sgd", "lr": lr}), reporter)
    return reporter.series("lr")


def test_exponential_decay_uses_lr_gamma_to_the_e():
    assert lrs({"name": "exponential", "gamma": 0.5}, 4) == pytest.approx([0.1 * 0.5**e for e in range(4)])


def test_step_decay_cuts_every_step_size_epochs():
    assert lrs({"name": "step", "gamma": 0.1, "step_size": 2}, 5) == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])


def test_cosine_anneals_to_zero_over_the_run():
    expected = [0.1 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert lrs({"name": "cosine"}, 4) == pytest.approx(expected)


def test_warmup_cosine_rises_linearly_then_follows_the_cosine():
    got = lrs({"name": "warmup_cosine", "warmup_epochs": 2}, 5)
    assert got[:2] == pytest.approx([0.1 / 3, 0.2 / 3])
    assert got[2:] == pytest.approx([0.1 * 0.5 * (1 + math.cos(math.pi * e / 3)) for e in range(3)])


def test_min_lr_floors_the_schedule():
    assert lrs({"name": "exponential", "gamma": 0.1, "min_lr": 0.005}, 3) == pytest.approx([0.1, 0.01, 0.005])


def test_plateau_cuts_the_lr_when_more_than_patience_epochs_did_not_improve():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = Schedule(opt, ScheduleConfig(name="plateau", factor=0.5, patience=2), 10, 1.0)
    seen = []
    for val in [1.0, 0.9, 0.9, 0.9, 0.9, 0.8]:
        seen.append(sched.lr)
        sched.step(val)
    # 0.9 three times after the best: the third non-improving epoch exceeds patience 2, so epoch 6 runs at half.
    assert seen == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5]


def test_lr_factor_of_a_constant_schedule_is_one():
    assert lr_factor(ScheduleConfig(name="constant"), 7, 10) == 1.0


@pytest.mark.parametrize(
    "name,cls,options",
    [
        ("gd", torch.optim.SGD, {"momentum": 0, "nesterov": False}),
        ("sgd", torch.optim.SGD, {"momentum": 0, "nesterov": False}),
        ("momentum", torch.optim.SGD, {"momentum": 0.9, "nesterov": False}),
        ("nesterov", torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
        ("adagrad", torch.optim.Adagrad, {}),
        ("rmsprop", torch.optim.RMSprop, {}),
        ("adam", torch.optim.Adam, {"decoupled_weight_decay": False}),
        ("adamw", torch.optim.AdamW, {"weight_decay": 0.01}),
    ],
)
def test_each_optimizer_is_the_named_algorithm(name, cls, options):
    opt = build_optimizer(
        [torch.zeros(2, requires_grad=True)], OptimizerConfig(name=name, weight_decay=0.01 if name == "adamw" else 0.0)
    )
    assert type(opt) is cls
    for key, value in options.items():
        assert opt.param_groups[0][key] == value


@pytest.mark.parametrize("name", ["gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_each_optimizer_lowers_the_loss(name):
    lr = {"gd": 0.5, "sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.1}.get(name, 0.01)
    reporter = NullReporter()
    result = train(make_config(**IRIS, epochs=4, optimizer={"name": name, "lr": lr}), reporter)
    losses = reporter.series("train_loss")
    assert result.status == "completed" and losses[-1] < losses[0]


def test_gd_takes_exactly_one_full_batch_step_per_epoch(monkeypatch):
    calls = []
    original = torch.optim.SGD.step
    monkeypatch.setattr(torch.optim.SGD, "step", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    result = train(make_config(**IRIS, epochs=3, optimizer={"name": "gd", "lr": 0.5}), NullReporter())
    assert len(calls) == 3 and result.steps == 3 and result.steps_per_epoch == 1


def test_gradient_clipping_bounds_each_update():
    clip = 1e-3
    config = make_config(
        **IRIS, epochs=1, optimizer={"name": "sgd", "lr": 1.0}, regularization={"grad_clip_norm": clip}
    )
    before = [p.detach().clone() for p in _Run(config, NullReporter(), None).model.parameters()]
    result = train(config, NullReporter())
    moved = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.detach() - b) for p, b in zip(result.model.parameters(), before)])
    )
    assert 0 < float(moved) <= result.steps * clip * 1.0001


@pytest.mark.parametrize("name,expected", [("adamw", 1 - 0.1 * 0.1), ("adam", 1 - 0.1)])
def test_adamw_decays_weights_directly_while_adam_adds_decay_to_the_gradient(name, expected):
    w = torch.ones(1, requires_grad=True)
    opt = build_optimizer([w], OptimizerConfig(name=name, lr=0.1, weight_decay=0.1))
    (0 * w).sum().backward()  # no gradient from the loss: only the decay moves w
    opt.step()
    # adamw: w − lr·wd·w. adam: the decay term wd·w is a gradient, which Adam normalises to a step of lr.
    assert float(w.detach()) == pytest.approx(expected, rel=1e-4)


def test_group_gradient_norms_are_the_mean_norm_of_each_groups_weight_matrices():
    model = build_model(ModelConfig(arch="transformer", hidden=[8], heads=2), (4, 3), 2)
    groups = layer_groups(model)
    norms = GroupNorms(groups)
    expected = {name: [] for name in groups}
    for seed in range(3):
        torch.manual_seed(seed)
        model.zero_grad()
        model(torch.randn(5, 4, 3)).square().sum().backward()
        norms.sample()
        for name, params in groups.items():
            # Matrices only (biases and norm scales left out); a group without any (the final norm) keeps all.
            chosen = [p for p in params if p.dim() >= 2] or params
            expected[name].append(torch.sqrt(sum(p.grad.square().sum() for p in chosen)).item())
    means = norms.means()
    assert set(means) == {f"grad_norm/{name}" for name in groups}
    for name, values in expected.items():
        assert means[f"grad_norm/{name}"] == pytest.approx(sum(values) / len(values), rel=1e-5)
    norms.reset()
    assert norms.means() == {}


@pytest.mark.parametrize("name", ["gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_every_optimizer_takes_the_multi_tensor_path_with_the_same_arithmetic(name):
    # On the CPU torch loops over the parameters in Python unless asked for foreach; the result must not move.
    cfg = OptimizerConfig(name=name, lr=0.01, momentum=0.5 if name == "rmsprop" else 0.0, weight_decay=0.01)
    weights = []
    for foreach in (True, False):
        torch.manual_seed(0)
        model = build_model(ModelConfig(hidden=[16], dropout=0.0), (4,), 3)
        opt = build_optimizer(model.parameters(), cfg)
        assert opt.param_groups[0]["foreach"] is True
        opt.param_groups[0]["foreach"] = foreach
        for _ in range(5):
            x = torch.randn(8, 4)
            loss = model(x).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
