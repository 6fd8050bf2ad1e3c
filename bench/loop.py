"""The training loop both sides of the logging benchmark run: torch and scikit-learn only.

LossLab's interpreter and MLflow's (bench/.venv-mlflow) import this same file,
so "overhead" always means: this loop with per-step reporting, divided by this
loop without it, measured interleaved in the same process.

The model and data are those of the anchors (docs/benchmarks.md): an MLP
256-128 with batch norm and dropout, Adam 1e-3, on standardized digits,
batches taken by index slicing of a random permutation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Optional

import torch
from torch import nn

# log(step, {"train_loss": value}) every step; log_epoch(step, epoch, {"val_loss": ...}) at each epoch's end.
StepLog = Optional[Callable[[int, dict], None]]
EpochLog = Optional[Callable[[int, int, dict], None]]


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / (X.std(0) + 1e-8)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.long)


def mlp(n_in: int, n_out: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_in, 256),
        nn.ReLU(),
        nn.BatchNorm1d(256),
        nn.Dropout(0.5),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.BatchNorm1d(128),
        nn.Dropout(0.5),
        nn.Linear(128, n_out),
    )


class Loop:
    """A model, optimizer and data; `epochs(n, log=...)` trains n epochs and returns the steps taken."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0):
        torch.manual_seed(seed)
        self.X, self.y, self.bs = X, y, batch_size
        self.model = mlp(X.shape[1], int(y.max()) + 1)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = nn.CrossEntropyLoss()
        self.step = 0
        self.epoch = 0

    def epochs(self, n: int, log: StepLog = None, log_epoch: EpochLog = None) -> int:
        start = self.step
        for _ in range(n):
            self.model.train()
            perm = torch.randperm(len(self.X))
            for i in range(0, len(self.X) - 1, self.bs):
                idx = perm[i : i + self.bs]
                loss = self.loss_fn(self.model(self.X[idx]), self.y[idx])
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                self.step += 1
                if log is not None:
                    log(self.step, {"train_loss": loss.item()})
            self.epoch += 1
            if log_epoch is not None:
                log_epoch(self.step, self.epoch, {"train_loss_epoch": float(loss.detach())})
        return self.step - start


def overhead(modes: dict[str, Callable[[], int]], repeats: int) -> dict[str, dict]:
    """Time each mode `repeats` times, round-robin after one warm-up each.

    Returns per mode: mean, median and best wall seconds per unit, best CPU seconds, steps per unit.
    Round-robin means a burst of load on the machine hits every mode alike. The mean is the figure to
    compare: a reporter that writes every few seconds pays in some units and not in others.
    """
    for fn in modes.values():
        fn()
    times: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    steps: dict[str, int] = {}
    for _ in range(repeats):
        for name, fn in modes.items():
            w, c = time.perf_counter(), time.process_time()
            steps[name] = fn()
            times[name].append((time.perf_counter() - w, time.process_time() - c))
    out = {}
    for name, ts in times.items():
        walls = sorted(t[0] for t in ts)
        out[name] = {
            "mean_s": sum(walls) / len(walls),
            "median_s": walls[len(walls) // 2],
            "best_s": walls[0],
            "cpu_s": min(t[1] for t in ts),
            "steps": steps[name],
        }
    return out
