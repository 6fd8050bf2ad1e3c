"""Ranking configurations across seeds, honestly.

Pure numpy/scipy, no Django: selectors turn runs into ``{group key: [score
per seed]}`` and call these functions.

Choices (after Agarwal et al. 2021, "rliable", and Bouthillier et al. 2021):

* Groups are **ranked by their mean** over seeds, the quantity their
  confidence interval describes. The interquartile mean (IQM, 25 % trimmed
  mean) is reported beside it: with many seeds it is the more robust summary,
  but with the 3-5 seeds a sweep usually has it trims away little or nothing.
* The interval is a percentile bootstrap of the mean (``scipy.stats.bootstrap``).
* Two groups are only called different when their intervals do not overlap
  and both have at least 3 seeds; anything less is flagged, with the reason.
* ``p_rank1`` is the fraction of bootstrap replicates (each group's seeds
  resampled independently) in which the group comes first.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class _LazyStats:
    """scipy.stats, imported on first use: it costs about a second, and every web process
    imports this module at start (through the URLconf) while few requests rank anything."""

    def __getattr__(self, name):
        from scipy import stats as module  # late: see the class docstring

        return getattr(module, name)


stats = _LazyStats()

MIN_SEEDS = 3


@dataclass
class GroupScore:
    key: str
    label: str
    n: int
    mean: float
    iqm: float
    ci_low: float
    ci_high: float
    scores: list[float]
    rank: int
    clearly_different: bool
    reason: str
    p_beats_baseline: float | None
    p_rank1: float | None


def prob_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """P(X > Y) for one draw from each sample, ties counting ½.

    This is the Mann-Whitney U statistic of ``x`` divided by ``len(x) * len(y)``.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not len(x) or not len(y):
        raise ValueError("prob_greater needs at least one value in each sample")
    u = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic").statistic
    return float(u) / (len(x) * len(y))


def mean_ci(
    scores: Sequence[float], *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean; one value, or identical values, give (v, v)."""
    return mean_cis({None: scores}, confidence=confidence, n_resamples=n_resamples, seed=seed)[None]


def mean_cis(
    groups: dict, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> dict[object, tuple[float, float]]:
    """`mean_ci` of each group, with one bootstrap call per group size rather than per group.

    Groups of n scores are the rows of one (groups x n) sample, resampled along its rows:
    ``scipy.stats.bootstrap`` draws one set of indices for all the rows, exactly the draws that a
    call per group with the same seed makes, so each interval is the one `mean_ci` would give.
    """
    out: dict[object, tuple[float, float]] = {}
    by_size: dict[int, list] = {}
    for key, scores in groups.items():
        values = np.asarray(scores, dtype=float)
        if len(values) < 2 or np.ptp(values) == 0:
            # The bootstrap has nothing to resample; the flag on the group says so.
            out[key] = float(values.mean()), float(values.mean())
        else:
            by_size.setdefault(len(values), []).append(key)
    for keys in by_size.values():
        sample = np.array([np.asarray(groups[k], dtype=float) for k in keys])
        res = stats.bootstrap(
            (sample,),
            _mean_per_group,
            axis=-1,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
        for key, low, high in zip(keys, res.confidence_interval.low, res.confidence_interval.high):
            out[key] = float(low), float(high)
    return {key: out[key] for key in groups}


def _mean_per_group(resamples: np.ndarray, axis: int = -1) -> np.ndarray:
    """The mean of each resample, one group at a time: numpy sums a 3-D array's rows in another
    order than a 2-D one's, and the last bits of the interval would differ from `mean_ci`'s."""
    if resamples.ndim < 3:
        return np.mean(resamples, axis=axis)
    return np.stack([np.mean(group, axis=axis) for group in resamples])


def rank_groups(
    groups: dict[str, list[float]],
    *,
    higher_is_better: bool,
    baseline: str | None = None,
    labels: dict[str, str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> list[GroupScore]:
    """Rank groups of per-seed scores by mean, best first, flagging unclear differences.

    ``baseline`` names a group to compare every group against with
    ``p_beats_baseline`` = P(this group's seed scores better than the
    baseline's). Empty groups and non-finite scores are ignored. Deterministic
    for a given ``seed``.
    """
    if baseline is not None and baseline not in groups:
        raise ValueError(f"baseline {baseline!r} is not one of the groups")
    clean = {k: [float(v) for v in vs if v is not None and math.isfinite(v)] for k, vs in groups.items()}
    clean = {k: vs for k, vs in clean.items() if vs}
    sign = 1.0 if higher_is_better else -1.0
    order = sorted(clean, key=lambda k: (-sign * np.mean(clean[k]), k))
    p_rank1 = _p_rank1({k: clean[k] for k in order}, sign, n_resamples, seed)
    cis = mean_cis(clean, confidence=confidence, n_resamples=n_resamples, seed=seed)
    out = []
    for rank, key in enumerate(order, start=1):
        values = clean[key]
        low, high = cis[key]
        out.append(
            GroupScore(
                key=key,
                label=(labels or {}).get(key, key),
                n=len(values),
                mean=float(np.mean(values)),
                iqm=_iqm(values),
                ci_low=low,
                ci_high=high,
                scores=values,
                rank=rank,
                clearly_different=False,
                reason="",
                p_beats_baseline=_p_beats(values, clean.get(baseline), sign) if baseline else None,
                p_rank1=p_rank1.get(key),
            )
        )
    _flag(out)
    return out


def _iqm(scores: list[float]) -> float:
    """The interquartile (25 % trimmed) mean, exactly as ``scipy.stats.trim_mean(scores, 0.25)`` computes it
    (same partition, same slice, same mean), without its ~0.2 ms of argument checks per group."""
    values = np.asarray(scores, dtype=float)
    cut = int(0.25 * len(values))
    return float(np.partition(values, (cut, len(values) - cut - 1))[cut : len(values) - cut].mean())


def _p_beats(values: list[float], base: list[float] | None, sign: float) -> float | None:
    if not base:
        return None
    return prob_greater(sign * np.asarray(values), sign * np.asarray(base))


def _flag(scores: list[GroupScore]) -> None:
    """Mark which groups are clearly different from the leader (the leader: from the runner-up)."""
    for i, g in enumerate(scores):
        other = None if len(scores) == 1 else scores[1] if i == 0 else scores[0]
        if g.n < MIN_SEEDS:
            g.reason = f"fewer than {MIN_SEEDS} seeds"
        elif other is None:
            g.reason = "only one group"
        elif other.n < MIN_SEEDS:
            g.reason = f"fewer than {MIN_SEEDS} seeds in {other.label}"
        elif g.ci_low <= other.ci_high and other.ci_low <= g.ci_high:
            g.reason = "interval overlaps the runner-up's" if i == 0 else "interval overlaps the leader's"
        else:
            g.clearly_different = True
            g.reason = "clearly ahead of the runner-up" if i == 0 else "clearly behind the leader"


def _p_rank1(groups: dict[str, list[float]], sign: float, n_resamples: int, seed: int) -> dict[str, float]:
    """Fraction of bootstrap replicates in which each group has the best mean.

    Each group's seeds are resampled with replacement, independently,
    ``n_resamples`` times; ties for first share the replicate.
    """
    if not groups:
        return {}
    rng = np.random.default_rng(seed)
    means = np.empty((n_resamples, len(groups)))
    for j, values in enumerate(groups.values()):
        v = sign * np.asarray(values)
        means[:, j] = v[rng.integers(0, len(v), size=(n_resamples, len(v)))].mean(axis=1)
    best = means == means.max(axis=1, keepdims=True)
    share = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    return {k: float(p) for k, p in zip(groups, share)}


def effects(
    rows: list[tuple[dict[str, object], float]], *, confidence: float = 0.95, seed_key: str = "seed"
) -> dict[str, list[dict]]:
    """The effect of each factor of a sweep on a metric, averaged over the others.

    ``rows`` holds one ``(config factors, metric)`` pair per run, with flat
    configs (e.g. ``{"optimizer.name": "adam", "loss.name": "mse", "seed": 0}``).
    Factors are the keys whose values vary across rows (a key missing from a
    row counts as the value ``None``), except ``seed_key``: seeds are
    replicates, never a factor. For each factor and each of its values the result
    gives ``mean`` (a marginal mean: the metric is first averaged over seeds in
    each cell of the other factors, and then over those cells, so an
    unbalanced sweep does not let one cell weigh more than another), a
    t-interval over those cells (``ci_low``/``ci_high``; equal to the mean
    when there is one cell), ``n`` runs and ``n_cells``. Values are sorted by
    mean, ascending. Non-finite metrics are skipped.
    """
    return config_effects([(cfg, [m]) for cfg, m in rows], confidence=confidence, seed_key=seed_key)


def config_effects(
    configs: list[tuple[dict[str, object], list[float]]], *, confidence: float = 0.95, seed_key: str = "seed"
) -> dict[str, list[dict]]:
    """`effects` with the runs of each configuration given together: ``(config factors, [metric per run])``.

    The same result as one row per run, in the same order; a caller that already holds runs grouped by
    configuration (a 10,000-run sweep has ~2,000 of them) saves building a key per run.
    """
    by_config: dict[tuple, list[float]] = {}
    keys = sorted({k for cfg, _ in configs for k in cfg})
    for cfg, metrics in configs:
        finite = [float(m) for m in metrics if m is not None and math.isfinite(m)]
        if finite:
            key = tuple([_hashable(cfg.get(k)) for k in keys])
            by_config[key] = by_config[key] + finite if key in by_config else finite
    factors = [i for i, k in enumerate(keys) if k != seed_key and len({c[i] for c in by_config}) > 1]
    return {keys[i]: _factor_effect(by_config, i, [j for j in factors if j != i], confidence) for i in factors}


def _factor_effect(
    by_config: dict[tuple, list[float]], factor: int, others: list[int], confidence: float
) -> list[dict]:
    cells: dict[object, dict[object, list[float]]] = {}
    cell_of = operator.itemgetter(*others) if others else lambda config: ()  # the values of the other factors
    for config, metrics in by_config.items():
        by_cell, cell = cells.setdefault(config[factor], {}), cell_of(config)
        # Most cells hold one configuration: its list is used as it is, never extended in place.
        by_cell[cell] = by_cell[cell] + metrics if cell in by_cell else metrics
    out = []
    for value, by_cell in cells.items():
        cell_means = np.array([sum(v) / len(v) for v in by_cell.values()])  # np.mean per tiny list: 10x slower
        low, high = _t_interval(cell_means, confidence)
        out.append(
            {
                "value": value,
                "mean": float(cell_means.mean()),
                "ci_low": low,
                "ci_high": high,
                "n": sum(len(v) for v in by_cell.values()),
                "n_cells": len(cell_means),
            }
        )
    return sorted(out, key=lambda e: (e["mean"], str(e["value"])))


def _t_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean
    # scipy.stats.sem's own formula: its call costs ~1 ms of argument checks, once per factor value.
    sem = values.std(ddof=1) / len(values) ** 0.5
    half = _t_quantile(0.5 + confidence / 2, len(values) - 1) * sem
    return mean - float(half), mean + float(half)


@functools.lru_cache(maxsize=1024)
def _t_quantile(q: float, df: int) -> float:
    """Student's t quantile; a sweep's factor values share a few cell counts, so a few calls to scipy."""
    return stats.t.ppf(q, df)


def _hashable(value: object) -> object:
    """Config values may be lists (hidden sizes) or dicts; make them usable as keys."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
