"""The image data path: uint8 images kept whole, normalised per batch, on the device or streamed from the host.

A training split that fits under the device data limit is moved to the
device once as uint8 (a quarter of float32) and each batch is gathered,
converted and normalised there. A larger one stays in (pinned) host memory;
a background thread gathers the next batches of the epoch while the device
trains on the current one. Both paths apply the same ops in the same order
to the same rows, so they give identical batches for the same seed.

The limit is LOSSLAB_DEVICE_DATA_LIMIT_MB (the worker's environment; unset:
half the GPU's memory, and no limit on the CPU, where there is nothing to stream to).
"""

from __future__ import annotations

import os
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .augment import Augmenter
from .config import Task

PREFETCH = 3  # batches gathered ahead when streaming


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-channel mean and std of uint8 images N×C×H×W from one 256-bin histogram per channel.

    Never builds a float copy of the split (50,000 CIFAR images would need 600 MB).
    """
    levels = np.arange(256, dtype=np.float64)
    mean, std = [], []
    for c in range(x.shape[1]):
        counts = np.bincount(np.ascontiguousarray(x[:, c]).ravel(), minlength=256).astype(np.float64)
        m = (counts * levels).sum() / counts.sum()
        mean.append(m)
        std.append(np.sqrt((counts * (levels - m) ** 2).sum() / counts.sum()))
    return np.asarray(mean), np.maximum(np.asarray(std), 1e-3)


def device_limit_bytes(device: torch.device) -> Optional[int]:
    """How many bytes of images may live on `device` (None: no limit)."""
    env = os.environ.get("LOSSLAB_DEVICE_DATA_LIMIT_MB", "").strip()
    if env:
        try:
            mb = float(env)
        except ValueError:
            raise ValueError(f"LOSSLAB_DEVICE_DATA_LIMIT_MB: '{env}' is not a number of megabytes") from None
        if mb < 0:
            raise ValueError("LOSSLAB_DEVICE_DATA_LIMIT_MB: must be ≥ 0")
        return int(mb * 1024 * 1024)
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory // 2
    return None


class Images:
    """uint8 images N×C×H×W and the training split's per-channel (mean, std), indexable like a tensor.

    `images[idx]` returns the float32 normalised rows on `device`; `images.to(device)` places the uint8
    data on the device, or keeps it on the host for streaming when it exceeds the device data limit.
    """

    def __init__(self, u8: torch.Tensor, mean, std, device: Optional[torch.device] = None, stream: bool = False):
        self.u8 = u8
        self.device = device or u8.device
        self.stream = stream
        self.stats = (mean, std)  # as given, so that every copy normalises with exactly the same numbers
        self.mean = torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1).to(self.device)
        self.scale = (1.0 / torch.as_tensor(std, dtype=torch.float32)).view(1, -1, 1, 1).to(self.device)

    def __len__(self) -> int:
        return len(self.u8)

    @property
    def shape(self) -> torch.Size:
        return self.u8.shape

    def to(self, device: str | torch.device) -> Images:
        device = torch.device(device)
        limit = device_limit_bytes(device)
        if limit is None or self.u8.numel() <= limit:
            return Images(self.u8.to(device), *self.stats, device)
        host = self.u8.cpu()
        if device.type == "cuda":
            host = host.pin_memory()  # lets the copy to the GPU run without blocking the host
        return Images(host, *self.stats, device, stream=True)

    def gather(self, idx) -> torch.Tensor:
        """The raw uint8 rows `idx` on the host (streaming) or the device, not yet normalised."""
        if self.stream and isinstance(idx, torch.Tensor):
            idx = idx.cpu()
        rows = self.u8[idx]
        if self.stream and self.device.type == "cuda":
            rows = rows.pin_memory()
        return rows

    def normalise(self, rows: torch.Tensor) -> torch.Tensor:
        """uint8 rows → float32 on the device, minus the mean, over the std (the same ops on both paths)."""
        rows = rows.to(self.device, non_blocking=True)
        return (rows.float() - self.mean) * self.scale

    def __getitem__(self, idx) -> torch.Tensor:
        return self.normalise(self.gather(idx))


class TrainBatches:
    """Draws the training batch `step` of an epoch's permutation, augmented; `batches(perm, step, bs, epoch)`.

    Plain tensors are indexed on the device. Images on the device are gathered and normalised there;
    streamed images are gathered PREFETCH batches ahead by one background thread.
    """

    def __init__(self, X, augment: Augmenter):
        self.X, self.augment = X, augment
        self.streaming = isinstance(X, Images) and X.stream
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="prefetch") if self.streaming else None
        if self.pool is not None:
            # A worker process trains run after run: the prefetch thread ends with the run that made it.
            weakref.finalize(self, self.pool.shutdown, wait=False, cancel_futures=True)
        self.ahead: dict[int, Future] = {}
        self.perm: Optional[torch.Tensor] = None

    def __call__(self, perm: torch.Tensor, step: int, bs: int, epoch: int) -> torch.Tensor:
        if not self.streaming:
            xb = self.X[perm[step * bs : (step + 1) * bs]]
        else:
            xb = self.X.normalise(self.prefetched(perm, step, bs))
        return self.augment(xb, epoch, step)

    def prefetched(self, perm: torch.Tensor, step: int, bs: int) -> torch.Tensor:
        """The host rows of batch `step`, queued ahead in the background; a new permutation restarts the queue."""
        if perm is not self.perm:
            for f in self.ahead.values():
                f.cancel()
            self.perm, self.perm_cpu, self.ahead = perm, perm.cpu(), {}
        n_batches = -(-len(self.perm_cpu) // bs)
        for s in range(step, min(step + PREFETCH + 1, n_batches)):
            if s not in self.ahead:
                self.ahead[s] = self.pool.submit(self.X.gather, self.perm_cpu[s * bs : (s + 1) * bs])
        future = self.ahead.pop(step)
        for stale in [s for s in self.ahead if s < step]:
            self.ahead.pop(stale).cancel()
        return future.result()


@dataclass
class Dataset:
    """Training and validation tensors (on the CPU) ready for a model.

    `input_shape` is one sample's shape as the model sees it: (features,) for
    an MLP, (1, 8, 8) for a CNN, (steps, features) for a sequence model,
    (tokens,) for text (then `vocab_size` is set). Images of the stored and
    uploaded sets are `batches.Images` (uint8, normalised per batch), not tensors.
    Regression targets are standardised when normalisation is on; `y_scale`
    converts errors back to the target's own units.
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    task: Task
    n_classes: Optional[int]
    input_shape: tuple[int, ...]
    y_scale: float = 1.0
    vocab_size: Optional[int] = None
