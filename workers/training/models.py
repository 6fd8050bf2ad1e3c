"""Architectures: mlp, cnn, rnn/lstm/gru and a transformer encoder, sized by `config.model.hidden`.

Every model keeps its layers in a `blocks` ModuleList plus a `head`, so the
layer groups used for gradient norms are simply `blocks.<i>` and `head`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ModelConfig

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU}


class MLP(nn.Module):
    """Dense → (BatchNorm) → activation → (Dropout) per hidden width, then a linear head."""

    def __init__(self, n_in: int, n_out: int, cfg: ModelConfig):
        super().__init__()
        layers, width = [], n_in
        for w in cfg.hidden:
            block = [nn.Linear(width, w)]
            if cfg.batchnorm:
                block.append(nn.BatchNorm1d(w))
            block.append(ACTIVATIONS[cfg.activation]())
            if cfg.dropout:
                block.append(nn.Dropout(cfg.dropout))
            layers.append(nn.Sequential(*block))
            width = w
        self.blocks = nn.ModuleList(layers)
        self.head = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class CNN(nn.Module):
    """3×3 conv → (BatchNorm) → activation → 2×2 max-pool while the image is ≥ 4 px → (Dropout)."""

    def __init__(self, in_shape: tuple[int, ...], n_out: int, cfg: ModelConfig):
        super().__init__()
        channels, size = in_shape[0], in_shape[1]
        layers = []
        for c in cfg.hidden:
            block = [nn.Conv2d(channels, c, 3, padding=1)]
            if cfg.batchnorm:
                block.append(nn.BatchNorm2d(c))
            block.append(ACTIVATIONS[cfg.activation]())
            if size >= 4:
                block.append(nn.MaxPool2d(2))
                size //= 2
            if cfg.dropout:
                block.append(nn.Dropout(cfg.dropout))
            layers.append(nn.Sequential(*block))
            channels = c
        self.blocks = nn.ModuleList(layers)
        self.head = nn.Linear(channels * size * size, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x.flatten(1))


class Recurrent(nn.Module):
    """Stacked single-layer RNN/LSTM/GRU (one per hidden width); the last step's state feeds the head."""

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, kind: str, in_shape: tuple[int, ...], n_out: int, cfg: ModelConfig):
        super().__init__()
        width = in_shape[1]
        self.blocks = nn.ModuleList()
        for w in cfg.hidden:
            self.blocks.append(self.CELLS[kind](width, w, batch_first=True))
            width = w
        # Dropout between recurrent layers (not inside the recurrence), as nn.LSTM's own dropout does.
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x, _ = block(x)
            x = self.drop(x)
        return self.head(x[:, -1])


class Transformer(nn.Module):
    """Linear embedding + learned positions, len(hidden) encoder layers of width hidden[0], mean-pooled."""

    def __init__(self, in_shape: tuple[int, ...], n_out: int, cfg: ModelConfig):
        super().__init__()
        steps, features = in_shape
        d = cfg.hidden[0]
        self.embed = nn.Linear(features, d)
        self.pos = nn.Parameter(torch.randn(1, steps, d) / math.sqrt(d))
        act = "gelu" if cfg.activation == "gelu" else "relu"
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d,
                cfg.heads,
                dim_feedforward=2 * d,
                dropout=cfg.dropout,
                activation=act,
                batch_first=True,
                norm_first=True,
            )
            for _ in cfg.hidden
        )
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(1))


def build_model(cfg: ModelConfig, in_shape: tuple[int, ...], n_out: int) -> nn.Module:
    """The configured architecture for inputs of `in_shape` (one sample) and `n_out` outputs."""
    if cfg.arch == "mlp":
        return MLP(math.prod(in_shape), n_out, cfg)
    if cfg.arch == "cnn":
        return CNN(in_shape, n_out, cfg)
    if cfg.arch in Recurrent.CELLS:
        return Recurrent(cfg.arch, in_shape, n_out, cfg)
    return Transformer(in_shape, n_out, cfg)


def layer_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Parameters grouped per layer: `blocks.<i>` for each block, else the top-level module name."""
    groups: dict[str, list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        key = ".".join(parts[:2]) if len(parts) > 2 and parts[1].isdigit() else parts[0]
        groups.setdefault(key, []).append(p)
    return groups


def penalized_weights(model: nn.Module) -> list[nn.Parameter]:
    """Weight matrices/kernels only: L1/L2 leave biases, norm scales and position tables alone."""
    return [p for n, p in model.named_parameters() if "weight" in n.rsplit(".", 1)[-1] and p.dim() >= 2]
