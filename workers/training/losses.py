"""Loss functions, the weight penalties, and the shared metrics that do not depend on the loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .config import LossConfig, Task, loss_problem

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def focal_loss(logits: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
    """Mean of −(1 − p_t)^γ · log p_t (Lin et al. 2017); γ = 0 is plain cross-entropy."""
    logp_t = F.log_softmax(logits.float(), dim=1).gather(1, y[:, None]).squeeze(1)
    return (-((1 - logp_t.exp()) ** gamma) * logp_t).mean()


def n_outputs(loss: str, task: Task, n_classes: int | None) -> int:
    """Width of the model's head: one logit for bce, one value for regression, else one per class."""
    if task == "regression" or loss == "bce":
        return 1
    return int(n_classes)


def build_loss(cfg: LossConfig, task: Task, n_classes: int | None) -> LossFn:
    """The configured loss as `fn(model_output, target) -> scalar`."""
    problem = loss_problem(cfg.name, task, n_classes, "the target")
    if problem:
        raise ValueError(problem)
    name = cfg.name
    if name == "cross_entropy":
        return lambda out, y: F.cross_entropy(out.float(), y, label_smoothing=cfg.label_smoothing)
    if name == "focal":
        return lambda out, y: focal_loss(out, y, cfg.focal_gamma)
    if name == "bce":
        return lambda out, y: F.binary_cross_entropy_with_logits(out.float().squeeze(1), y.float())
    if name == "mse":
        return lambda out, y: F.mse_loss(out.float().squeeze(1), y)
    if name == "mae":
        return lambda out, y: F.l1_loss(out.float().squeeze(1), y)
    return lambda out, y: F.huber_loss(out.float().squeeze(1), y, delta=cfg.huber_delta)


def weight_penalty(weights: list[nn.Parameter], l1: float, l2: float) -> torch.Tensor | None:
    """λ1·Σ|w| + λ2·Σw² over the given weights, or None when both are off (saves the work)."""
    if not (l1 or l2) or not weights:
        return None
    total = weights[0].new_zeros(())
    if l1:
        total = total + l1 * sum(w.abs().sum() for w in weights)
    if l2:
        total = total + l2 * sum(w.pow(2).sum() for w in weights)
    return total


def predictions(out: torch.Tensor, loss: str) -> torch.Tensor:
    """Predicted class indices (classification outputs)."""
    if loss == "bce":
        return (out.squeeze(1) > 0).long()
    return out.max(1).indices  # the first maximum, as argmax, in a third of its time on the CPU


def classification_metrics(
    out: torch.Tensor, y: torch.Tensor, loss: str, nll: torch.Tensor | None = None
) -> dict[str, float]:
    """Accuracy and the NLL of the predicted probabilities, comparable across training losses.

    `nll`: that NLL when the caller has it already (its loss is plain cross-entropy).
    """
    out = out.float()
    if nll is None and loss == "bce":
        nll = F.binary_cross_entropy_with_logits(out.squeeze(1), y.float())
    elif nll is None:
        nll = F.cross_entropy(out, y)
    acc = (predictions(out, loss) == y).float().mean()
    return {"val_accuracy": float(acc), "val_nll": float(nll)}


def regression_metrics(out: torch.Tensor, y: torch.Tensor, y_scale: float) -> dict[str, float]:
    """RMSE and MAE in the target's own units, and R² (unitless)."""
    err = out.float().squeeze(1) - y
    ss_tot = float(((y - y.mean()) ** 2).sum()) or 1e-12
    return {
        "val_rmse": float(err.pow(2).mean().sqrt()) * y_scale,
        "val_mae": float(err.abs().mean()) * y_scale,
        "val_r2": 1.0 - float(err.pow(2).sum()) / ss_tot,
    }
