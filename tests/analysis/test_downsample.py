"""Min/max downsampling keeps every spike and minimum, under the point cap."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.analysis.downsample import minmax_downsample


def _buckets(n: int, max_points: int, slots: int = 2) -> list[np.ndarray]:
    """The interior buckets minmax_downsample uses, as index arrays (ends excluded)."""
    inner = np.arange(1, n - 1)
    edges = np.linspace(0, n - 2, (max_points - 2) // slots + 1).astype(int)
    return [inner[a:b] for a, b in zip(edges[:-1], edges[1:])]


def test_it_returns_short_series_unchanged():
    x, y = np.arange(10), np.random.default_rng(0).normal(size=10)
    xs, ys = minmax_downsample(x, y, 10)
    assert np.array_equal(xs, x) and np.array_equal(ys, y)


@pytest.mark.parametrize("n,max_points", [(1000, 100), (1001, 101), (50_000, 777), (13, 4), (12, 11)])
def test_it_respects_the_point_cap_and_keeps_x_order(n, max_points):
    rng = np.random.default_rng(n)
    x, y = np.arange(n) * 0.5, rng.normal(size=n).cumsum()
    xs, ys = minmax_downsample(x, y, max_points)
    assert len(xs) <= max_points
    assert np.all(np.diff(xs) > 0)
    assert np.array_equal(ys, y[(xs / 0.5).astype(int)])  # real points, not interpolations


def test_it_keeps_the_min_and_max_of_every_bucket():
    rng = np.random.default_rng(1)
    n, max_points = 10_000, 200
    y = rng.normal(size=n)
    xs, ys = minmax_downsample(np.arange(n), y, max_points)
    kept = set(xs.tolist())
    for bucket in _buckets(n, max_points):
        assert bucket[np.argmin(y[bucket])] in kept
        assert bucket[np.argmax(y[bucket])] in kept


def test_it_keeps_first_last_global_min_and_max():
    rng = np.random.default_rng(2)
    y = rng.normal(size=5000)
    xs, _ = minmax_downsample(np.arange(5000), y, 50)
    assert {0, 4999, int(np.argmin(y)), int(np.argmax(y))} <= set(xs.tolist())


def test_a_single_spike_survives():
    y = np.exp(-np.linspace(0, 5, 100_000))  # a smooth decaying loss...
    y[73_123] = 40.0  # ...with one step where the loss blew up
    xs, ys = minmax_downsample(np.arange(len(y)), y, 100)
    assert 73_123 in xs and ys.max() == 40.0


def test_non_finite_values_are_kept_as_markers_without_losing_the_bucket_extremes():
    rng = np.random.default_rng(3)
    n, max_points = 3000, 62
    y = rng.normal(size=n)
    y[[500, 501, 1700]] = [np.nan, np.inf, -np.inf]
    xs, ys = minmax_downsample(np.arange(n), y, max_points)
    assert len(xs) <= max_points
    kept = set(xs.tolist())
    assert 500 in kept and 1700 in kept  # first non-finite point of each affected bucket
    for bucket in _buckets(n, max_points, slots=3):
        finite = bucket[np.isfinite(y[bucket])]
        assert finite[np.argmin(y[finite])] in kept
        assert finite[np.argmax(y[finite])] in kept


def test_an_all_nan_series_still_downsamples():
    xs, ys = minmax_downsample(np.arange(100), np.full(100, np.nan), 10)
    assert 0 < len(xs) <= 10 and np.isnan(ys).all()


def test_it_rejects_bad_arguments():
    with pytest.raises(ValueError, match="same length"):
        minmax_downsample(np.arange(5), np.arange(6), 4)
    with pytest.raises(ValueError, match="max_points"):
        minmax_downsample(np.arange(50), np.arange(50), 3)


def test_a_million_points_go_through():
    # Speed sanity only (vectorised, no per-point Python); no timing assert.
    y = np.random.default_rng(4).normal(size=1_000_000)
    xs, ys = minmax_downsample(np.arange(1_000_000), y, 2000)
    assert len(xs) <= 2000 and ys.min() == y.min() and ys.max() == y.max()
