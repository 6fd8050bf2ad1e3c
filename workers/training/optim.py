"""Optimizers and per-epoch learning-rate schedules.

Schedules step once per epoch. The closed-form ones use LambdaLR with the
formula below, so the LR of epoch e never depends on float drift from
earlier epochs (CosineAnnealingLR's recursive form does) and its state is a
few numbers that `torch.load(weights_only=True)` accepts.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import DEFAULT_MOMENTUM, OptimizerConfig, ScheduleConfig

# "momentum"/"nesterov" with momentum left at 0 would be plain SGD: they use DEFAULT_MOMENTUM (0.9) instead.


def build_optimizer(params, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """The configured optimizer. gd is plain SGD; the engine feeds it the full batch.

    Always the multi-tensor ("foreach") implementation, which torch picks by itself only on CUDA: on the
    CPU its default loops over the parameters in Python, about ten ops each per step (~0.1 ms a step for
    the tutorial MLP, 7 % of it). The foreach updates are the same arithmetic, bit for bit (tested).
    """
    mom = cfg.momentum
    name, common = cfg.name, {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "foreach": True}
    if name in ("gd", "sgd"):
        return torch.optim.SGD(params, **common)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, momentum=mom or DEFAULT_MOMENTUM, nesterov=name == "nesterov", **common)
    if name == "adagrad":
        return torch.optim.Adagrad(params, **common)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, momentum=mom, **common)
    if name == "adam":
        return torch.optim.Adam(params, **common)
    return torch.optim.AdamW(params, **common)


def lr_factor(cfg: ScheduleConfig, epoch: int, epochs: int) -> float:
    """Multiplier of the base LR for 0-based `epoch` of `epochs` (closed-form schedules).

    exponential: γ^e; step: γ^⌊e/step_size⌋; cosine: (1 + cos(π·e/E))/2;
    warmup_cosine: (e+1)/(W+1) for the first W epochs, then cosine over the rest.
    """
    name = cfg.name
    if name == "exponential":
        return cfg.gamma**epoch
    if name == "step":
        return cfg.gamma ** (epoch // cfg.step_size)
    if name == "cosine":
        return 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    if name == "warmup_cosine":
        warm = cfg.warmup_epochs
        if epoch < warm:
            return (epoch + 1) / (warm + 1)
        return 0.5 * (1 + math.cos(math.pi * (epoch - warm) / max(1, epochs - warm)))
    return 1.0


class Schedule:
    """Sets each epoch's LR on the optimizer; `step(val_loss)` after every epoch.

    plateau uses ReduceLROnPlateau on the validation loss; the others LambdaLR.
    `min_lr` floors every schedule.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, epochs: int, base_lr: float):
        self.plateau = cfg.name == "plateau"
        if self.plateau:
            self.sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=cfg.factor, patience=cfg.patience, min_lr=cfg.min_lr
            )
        else:
            floor = cfg.min_lr / base_lr
            self.sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: max(lr_factor(cfg, e, epochs), floor))
        self.optimizer = optimizer

    @property
    def lr(self) -> float:
        """The LR the next epoch trains with."""
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self, val_loss: float) -> None:
        if self.plateau:
            self.sched.step(val_loss)
        else:
            self.sched.step()

    def state_dict(self) -> dict:
        return self.sched.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.sched.load_state_dict(state)


class GroupNorms:
    """Per-layer-group gradient norms, sampled in two kernels each and reduced once per epoch (no sync).

    A group's norm is that of its weight matrices' gradients, which dominate it (all its parameters'
    where it has none, as a norm layer): on the CPU each tensor costs a kernel, and biases and batch-norm
    scales would triple the count. A sample is one fused norm over those gradients; `means()` sums the
    squares per group with a 0/1 matrix: far cheaper than a norm call per group on small models.
    """

    def __init__(self, groups: dict[str, list[nn.Parameter]]):
        self.names = list(groups)
        groups = {name: [p for p in ps if p.dim() >= 2] or ps for name, ps in groups.items()}
        self.params = [p for ps in groups.values() for p in ps]
        device = self.params[0].device
        self.assign = torch.zeros(len(self.names), len(self.params), device=device)
        col = 0
        for row, params in enumerate(groups.values()):
            self.assign[row, col : col + len(params)] = 1.0
            col += len(params)
        self.reset()

    def reset(self) -> None:
        self.samples: list[torch.Tensor] = []

    def sample(self) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros((), device=p.device) for p in self.params]
        self.samples.append(torch.stack(torch._foreach_norm(grads)))

    def means(self) -> dict[str, float]:
        """Mean norm per group over the samples since the last reset, keyed `grad_norm/<group>`."""
        if not self.samples:
            return {}
        squares = torch.stack(self.samples).float().square()  # samples × params
        values = (squares @ self.assign.T).sqrt().mean(0).tolist()
        return {f"grad_norm/{name}": v for name, v in zip(self.names, values)}
