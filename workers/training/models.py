"""Architectures: mlp, cnn, resnet, rnn/lstm/gru and a transformer encoder, sized by `config.model.hidden`.

Every model keeps its layers in a `blocks` ModuleList plus a `head`, so the
layer groups used for gradient norms are simply `blocks.<i>` and `head`.
Sequence models read either numeric steps (steps × features) or token ids
(a 1-d input shape and a vocabulary size): then a word embedding comes first
and padding (id 0) is masked out of attention and pooling.
"""

from __future__ import annotations

import math
from typing import Optional

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
    """Per width: `depth` × (3×3 conv → (BatchNorm) → activation), 2×2 max-pool while the image is ≥ 4 px,
    (Dropout); then a linear head on the flattened features."""

    def __init__(self, in_shape: tuple[int, ...], n_out: int, cfg: ModelConfig):
        super().__init__()
        channels, size = in_shape[0], in_shape[1]
        layers = []
        for c in cfg.hidden:
            block = []
            for _ in range(cfg.depth):
                block.append(nn.Conv2d(channels, c, 3, padding=1))
                if cfg.batchnorm:
                    block.append(nn.BatchNorm2d(c))
                block.append(ACTIVATIONS[cfg.activation]())
                channels = c
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


class BasicBlock(nn.Module):
    """Two 3×3 conv–BN layers with a shortcut (a 1×1 conv–BN projection when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int, act: type[nn.Module]):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            act(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """He et al. (2016)'s CIFAR ResNet: a 3×3 stem, one stage per width in `hidden` (each after the first
    halves the image), `depth` basic blocks per stage, global average pooling, linear head.
    hidden [16, 32, 64] with depth 3 is ResNet-20 (with projection shortcuts instead of zero-padding)."""

    def __init__(self, in_shape: tuple[int, ...], n_out: int, cfg: ModelConfig):
        super().__init__()
        act = ACTIVATIONS[cfg.activation]
        width = cfg.hidden[0]
        stem = nn.Sequential(nn.Conv2d(in_shape[0], width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), act())
        stages = []
        for i, w in enumerate(cfg.hidden):
            blocks = [BasicBlock(width if j == 0 else w, w, 2 if i and j == 0 else 1, act) for j in range(cfg.depth)]
            stages.append(nn.Sequential(*blocks))
            width = w
        self.blocks = nn.ModuleList([stem, *stages])
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(self.drop(x.mean((2, 3))))


def pool(x: torch.Tensor, mask: Optional[torch.Tensor], how: str) -> torch.Tensor:
    """N×L×D → N×D: the last real step, or the mean/max over real steps (mask: True where not padding)."""
    if how == "last":
        if mask is None:
            return x[:, -1]
        return x[torch.arange(len(x), device=x.device), mask.sum(1).clamp(min=1) - 1]
    if mask is None:
        return x.mean(1) if how == "mean" else x.amax(1)
    m = mask.unsqueeze(-1)
    if how == "mean":
        return (x * m).sum(1) / m.sum(1).clamp(min=1)
    return x.masked_fill(~m, float("-inf")).amax(1)


class Recurrent(nn.Module):
    """(Word embedding →) stacked single-layer RNN/LSTM/GRU (one per hidden width) → pooling → head."""

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(
        self, kind: str, in_shape: tuple[int, ...], n_out: int, cfg: ModelConfig, vocab_size: Optional[int] = None
    ):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, cfg.embed_dim, padding_idx=0) if vocab_size else None
        width = cfg.embed_dim if vocab_size else in_shape[1]
        self.pooling = cfg.pooling
        self.blocks = nn.ModuleList()
        for w in cfg.hidden:
            self.blocks.append(self.CELLS[kind](width, w, batch_first=True))
            width = w
        # Dropout between recurrent layers (not inside the recurrence), as nn.LSTM's own dropout does.
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = None
        if self.embed is not None:
            mask, x = x != 0, self.embed(x)
        for block in self.blocks:
            x, _ = block(x)
            x = self.drop(x)
        return self.head(pool(x, mask, self.pooling))


class Transformer(nn.Module):
    """Linear (or word) embedding + learned positions, len(hidden) encoder layers of width hidden[0],
    mean- (or max-) pooled over the real steps."""

    def __init__(self, in_shape: tuple[int, ...], n_out: int, cfg: ModelConfig, vocab_size: Optional[int] = None):
        super().__init__()
        steps = in_shape[0]
        d = cfg.hidden[0]
        self.tokens = bool(vocab_size)
        self.embed = nn.Embedding(vocab_size, d, padding_idx=0) if vocab_size else nn.Linear(in_shape[1], d)
        self.pooling = "max" if cfg.pooling == "max" else "mean"
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
        mask = x != 0 if self.tokens else None
        x = self.embed(x) + self.pos
        for block in self.blocks:
            x = block(x, src_key_padding_mask=None if mask is None else ~mask)
        return self.head(pool(self.norm(x), mask, self.pooling))


def build_model(cfg: ModelConfig, in_shape: tuple[int, ...], n_out: int, vocab_size: Optional[int] = None) -> nn.Module:
    """The configured architecture for inputs of `in_shape` (one sample) and `n_out` outputs.

    `vocab_size` (text): inputs are token ids and sequence models start with a word embedding.
    """
    if cfg.arch == "mlp":
        return MLP(math.prod(in_shape), n_out, cfg)
    if cfg.arch == "cnn":
        return CNN(in_shape, n_out, cfg)
    if cfg.arch == "resnet":
        return ResNet(in_shape, n_out, cfg)
    if cfg.arch in Recurrent.CELLS:
        return Recurrent(cfg.arch, in_shape, n_out, cfg, vocab_size)
    return Transformer(in_shape, n_out, cfg, vocab_size)


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
