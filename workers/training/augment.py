"""Image augmentation on whole batches on the training device: random crop with zero padding, horizontal flip.

Plain tensor ops on the batch (torchvision's transforms v2 would be the
library for this, but its wheel does not import beside the CPU torch build),
never a per-sample Python loop. The random draws come from a generator seeded
by (seed, epoch, step), so a run resumed from a checkpoint replays the same
crops and flips. Validation batches are never augmented.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .config import Augment


def batch_generator(seed: int, epoch: int, step: int, device: torch.device) -> torch.Generator:
    """A generator whose draws depend only on (seed, epoch, step): replayable after a resume."""
    g = torch.Generator(device=device)
    return g.manual_seed((seed * 1_000_003 + epoch) * 1_000_033 + step)


def augment_batch(x: torch.Tensor, cfg: Augment, g: torch.Generator) -> torch.Tensor:
    """Crop and flip a float batch N×C×H×W (already normalised, so zero padding is the mean colour).

    One gather per axis does both: each image's row indices are its crop
    offset + 0..H-1, its column indices the same reversed when it is flipped.
    """
    n, c, h, w = x.shape
    p, dev = cfg.crop_padding, x.device
    if p:
        x = F.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (n,), generator=g, device=dev)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=g, device=dev)
    else:
        dy = dx = torch.zeros(n, dtype=torch.long, device=dev)
    cols = torch.arange(w, device=dev).expand(n, w)
    if cfg.flip:
        flip = torch.rand(n, generator=g, device=dev) < 0.5
        cols = torch.where(flip[:, None], cols.flip(1), cols)
    rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None].expand(n, c, h, x.shape[3])
    x = x.gather(2, rows)
    return x.gather(3, (dx[:, None] + cols)[:, None, None, :].expand(n, c, h, w))


class Augmenter:
    """The training-batch transform of one run: `augmenter(xb, epoch, step)`; identity when nothing is on."""

    def __init__(self, cfg: Optional[Augment], seed: int):
        self.cfg, self.seed = cfg, seed
        self.active = cfg is not None and cfg.active

    def __call__(self, x: torch.Tensor, epoch: int, step: int) -> torch.Tensor:
        if not self.active:
            return x
        return augment_batch(x, self.cfg, batch_generator(self.seed, epoch, step, x.device))
