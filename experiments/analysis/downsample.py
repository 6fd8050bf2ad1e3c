"""Shrinking long curves for plotting without hiding what matters.

Pure numpy, no Django: the comparison view calls this on each series before
sending it to the browser, so a page of 100 runs x 10,000 steps stays small.
"""

from __future__ import annotations

import numpy as np


def minmax_downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's min and max so spikes and minima survive downsampling.

    The first and last points are always kept, so the curve starts and ends
    where it really does. The points between are cut into buckets of nearly
    equal length and each bucket contributes its minimum and its maximum, in
    x order; so the global min and max always survive and the output never has
    more than ``max_points`` points. ``x`` is assumed sorted (steps, epochs,
    wall time).

    Non-finite values (NaN, ±inf: a diverged run) are markers worth seeing.
    When there are any (and ``max_points >= 5``), buckets get three slots
    instead of two: finite min, finite max, and the bucket's first non-finite
    point; a NaN never takes the place of a real extreme. A series of at most ``max_points`` points is
    returned unchanged.
    """
    x = np.asarray(x)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of the same length, got shapes {x.shape} and {y.shape}")
    if len(y) <= max_points:
        return x, y
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4 to keep the ends and one min/max pair, got {max_points}")
    finite = np.isfinite(y)
    slots = 3 if not finite.all() and max_points >= 5 else 2
    n_buckets = (max_points - 2) // slots
    inner = np.flatnonzero(_bucket_extremes(y[1:-1], finite[1:-1], n_buckets, markers=slots == 3)) + 1
    idx = np.concatenate([[0], inner, [len(y) - 1]])
    return x[idx], y[idx]


def _bucket_extremes(y: np.ndarray, finite: np.ndarray, n_buckets: int, *, markers: bool) -> np.ndarray:
    """Boolean mask of each bucket's first argmin and argmax (and first non-finite point)."""
    n = len(y)
    starts = np.linspace(0, n, n_buckets + 1).astype(np.int64)[:-1]
    bucket_of = np.repeat(np.arange(n_buckets), np.diff(np.append(starts, n)))
    # Non-finite values are masked out of the comparisons, not allowed to win them.
    lo = np.where(finite, y, np.inf)
    hi = np.where(finite, y, -np.inf)
    is_min = finite & (lo == np.minimum.reduceat(lo, starts)[bucket_of])
    is_max = finite & (hi == np.maximum.reduceat(hi, starts)[bucket_of])
    keep = np.zeros(n, dtype=bool)
    for mask in (is_min, is_max) + ((~finite,) if markers else ()):
        first = _first_true_per_bucket(mask, starts, n)
        keep[first[first < n]] = True
    return keep


def _first_true_per_bucket(mask: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Index of the first True in each bucket, or ``n`` where there is none."""
    return np.minimum.reduceat(np.where(mask, np.arange(n), n), starts)
