"""The baseline of the overhead rows: the tutorial MLP trained by a loop written by hand, the usual way.

Plain `torch.nn` modules, scikit-learn for the data; nothing from LossLab, so that "overhead" means
what a user would see against their own script, not against LossLab's own model or loss code. The
seed article's model: Dense 256 → BN → ReLU → Dropout 0.5 → Dense 128 → BN → ReLU → Dropout 0.5 →
Dense 10, Adam 0.001, cross-entropy, digits standardised on the training split (80/20 split),
batches by indexing with a random permutation, validation loss and accuracy after every epoch.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn


def load(seed: int) -> tuple[torch.Tensor, ...]:
    """Digits split 80/20 (stratified), standardised with the training split's statistics."""
    X, y = load_digits(return_X_y=True)
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
    mean, std = X_tr.mean(0), X_tr.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    as_x = lambda a: torch.tensor((a - mean) / std, dtype=torch.float32)
    return as_x(X_tr), torch.tensor(y_tr), as_x(X_va), torch.tensor(y_va)


def model(n_in: int, n_out: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_in, 256),
        nn.BatchNorm1d(256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 128),
        nn.BatchNorm1d(128),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, n_out),
    )


def train(batch_size: int, epochs: int, seed: int = 0) -> list[tuple[float, float]]:
    """Train and return (val loss, val accuracy) per epoch."""
    torch.manual_seed(seed)
    X, y, Xv, yv = load(seed)
    net = model(X.shape[1], 10)
    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(X))
        for i in range(0, len(X), batch_size):
            idx = perm[i : i + batch_size]
            loss = loss_fn(net(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            out = net(Xv)
            history.append((loss_fn(out, yv).item(), (out.argmax(1) == yv).float().mean().item()))
    return history
