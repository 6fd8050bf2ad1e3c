"""Ranking across seeds, checked against direct computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from experiments.analysis.ranking import mean_ci, mean_cis, prob_greater, rank_groups, sweep_effects


def brute_prob_greater(x, y):
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y) / (len(x) * len(y))


@pytest.mark.parametrize("seed", range(5))
def test_prob_greater_equals_a_double_loop(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=rng.integers(1, 9)).astype(float)  # small ints: plenty of ties
    y = rng.integers(0, 6, size=rng.integers(1, 9)).astype(float)
    assert prob_greater(x, y) == pytest.approx(brute_prob_greater(x, y))


def test_prob_greater_extremes_and_symmetry():
    assert prob_greater([3, 4], [1, 2]) == 1.0
    assert prob_greater([1, 2], [3, 4]) == 0.0
    assert prob_greater([1, 1], [1]) == 0.5
    x, y = [0.1, 0.5, 0.3], [0.2, 0.4]
    assert prob_greater(x, y) + prob_greater(y, x) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        prob_greater([], [1.0])


def _t_on_bootstrap_se(values, n_resamples=2000, seed=0, confidence=0.95):
    """The interval by hand: scipy's bootstrap standard error, rescaled by sqrt(n/(n-1)), times Student's t."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    res = stats.bootstrap(
        (values,), np.mean, n_resamples=n_resamples, method="percentile", random_state=np.random.default_rng(seed)
    )
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * res.standard_error * np.sqrt(n / (n - 1))
    return values.mean() - half, values.mean() + half


def test_mean_and_ci_are_a_t_interval_on_scipys_bootstrap_standard_error():
    scores = [0.91, 0.93, 0.90, 0.95, 0.92]
    [g] = rank_groups({"a": scores}, higher_is_better=True, n_resamples=2000, seed=7)
    low, high = _t_on_bootstrap_se(scores, seed=7)
    assert g.mean == pytest.approx(np.mean(scores))
    assert g.iqm == pytest.approx(stats.trim_mean(scores, 0.25))
    assert (g.ci_low, g.ci_high) == (pytest.approx(low), pytest.approx(high))


@pytest.mark.parametrize(
    "scores,bounds",
    [
        ([0.97, 1.0], (0.0, 1.0)),  # accuracy near its ceiling, 2 seeds: t(1) is 12.7
        ([0.01, 0.3, 0.02], (0.0, 1.0)),
        ([0.001, 0.2], (0.0, float("inf"))),  # a loss near 0
        ([0.99, 0.7], (-float("inf"), 1.0)),  # R²
    ],
)
def test_intervals_never_leave_the_metrics_range(scores, bounds):
    [g] = rank_groups({"a": scores}, higher_is_better=True, bounds=bounds)
    assert bounds[0] <= g.ci_low <= g.mean <= g.ci_high <= bounds[1]
    unclipped = _t_on_bootstrap_se(scores)
    assert unclipped[0] < bounds[0] or unclipped[1] > bounds[1]  # the case the range exists for


def test_it_ranks_by_mean_in_the_metric_direction():
    groups = {"adam": [0.2, 0.22, 0.21], "sgd": [0.5, 0.52, 0.49], "rmsprop": [0.3, 0.31, 0.32]}
    by_loss = rank_groups(groups, higher_is_better=False)
    assert [g.key for g in by_loss] == ["adam", "rmsprop", "sgd"]
    assert [g.rank for g in by_loss] == [1, 2, 3]
    by_acc = rank_groups(groups, higher_is_better=True)
    assert [g.key for g in by_acc] == ["sgd", "rmsprop", "adam"]


def test_well_separated_groups_are_clearly_different():
    groups = {"good": [0.90, 0.91, 0.92, 0.915], "bad": [0.70, 0.71, 0.72, 0.705]}
    good, bad = rank_groups(groups, higher_is_better=True)
    assert good.clearly_different and bad.clearly_different
    assert (good.verdict, bad.verdict) == ("clearly_ahead", "clearly_behind")
    assert good.p_rank1 == 1.0 and bad.p_rank1 == 0.0


def test_the_leader_of_overlapping_groups_is_not_clearly_ahead_and_never_said_to_lose():
    groups = {"a": [0.80, 0.90, 0.85, 0.70], "b": [0.82, 0.78, 0.88, 0.74]}
    a, b = rank_groups(groups, higher_is_better=True)
    assert a.verdict == "not_clearly_ahead" and a.reason == "its interval overlaps #2's"
    assert b.verdict == "not_clearly_behind" and b.reason == "its interval overlaps the leader's"
    assert 0 < b.p_rank1 < a.p_rank1 < 1
    assert a.p_rank1 + b.p_rank1 == pytest.approx(1.0)


def test_fewer_than_two_seeds_give_no_interval_and_no_probabilities_and_say_what_is_missing():
    groups = {"many": [0.9, 0.91, 0.92], "two": [0.5, 0.51], "one": [0.3]}
    many, two, one = rank_groups(groups, higher_is_better=True, baseline="many")
    assert (one.ci_low, one.ci_high, one.p_rank1, one.p_beats_baseline) == (None, None, None, None)
    assert one.seeds_missing == 2 and one.reason == "2 more seeds needed"
    assert two.ci_low is not None and two.p_rank1 is not None and two.seeds_missing == 1
    assert many.p_rank1 + two.p_rank1 == pytest.approx(1.0)  # P(best) among the groups that have one
    # The leader has enough seeds, but #2 does not: not clearly ahead, and it says why.
    assert many.verdict == "not_clearly_ahead" and "fewer than 3 seeds" in many.reason and many.seeds_missing == 0


def test_p_beats_baseline_is_prob_greater_oriented_by_the_metric():
    groups = {"base": [0.5, 0.6, 0.55], "new": [0.4, 0.58, 0.45]}
    for higher in (True, False):
        scores = {g.key: g for g in rank_groups(groups, higher_is_better=higher, baseline="base")}
        expected = brute_prob_greater(groups["new"], groups["base"])
        assert scores["new"].p_beats_baseline == pytest.approx(expected if higher else 1 - expected)
        assert scores["base"].p_beats_baseline == 0.5
    assert rank_groups(groups, higher_is_better=True)[0].p_beats_baseline is None
    with pytest.raises(ValueError, match="baseline"):
        rank_groups(groups, higher_is_better=True, baseline="nope")


def test_p_rank1_matches_a_direct_bootstrap_loop():
    groups = {"a": [0.80, 0.90, 0.85], "b": [0.82, 0.78, 0.88, 0.86], "c": [0.7, 0.95, 0.75]}
    scores = {g.key: g.p_rank1 for g in rank_groups(groups, higher_is_better=True, n_resamples=4000, seed=1)}
    # Independent check with a plain loop and a different random stream.
    rng = np.random.default_rng(123)
    wins = dict.fromkeys(groups, 0.0)
    for _ in range(4000):
        means = {k: rng.choice(v, size=len(v)).mean() for k, v in groups.items()}
        wins[max(means, key=means.get)] += 1
    for k in groups:
        assert scores[k] == pytest.approx(wins[k] / 4000, abs=0.03)
    assert sum(scores.values()) == pytest.approx(1.0)


def test_it_is_deterministic_for_a_seed_and_ignores_non_finite_scores():
    groups = {"a": [0.8, 0.9, float("nan"), 0.85], "b": [0.7, 0.75, 0.72], "empty": []}
    first = rank_groups(groups, higher_is_better=True, seed=3)
    assert first == rank_groups(groups, higher_is_better=True, seed=3)
    assert [g.key for g in first] == ["a", "b"] and first[0].n == 3
    assert rank_groups({}, higher_is_better=True) == []


def test_identical_scores_give_a_point_interval():
    assert mean_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert mean_ci([0.5]) is None


def test_labels_are_used_when_given():
    [g] = rank_groups({"h1": [1.0]}, higher_is_better=True, labels={"h1": "adam, lr 1e-3"})
    assert g.label == "adam, lr 1e-3" and g.verdict == "only_group"


def _grid_rows(opt_base, loss_shift, noise):
    return [
        ({"optimizer": o, "loss": lo}, s, opt_base[o] + loss_shift[lo] + noise[s])
        for o, lo, s in itertools.product(opt_base, loss_shift, noise)
    ]


def test_sweep_effects_match_a_hand_computed_grid():
    opt_base = {"adam": 0.2, "sgd": 0.4}
    loss_shift = {"mse": 0.0, "huber": 0.1, "mae": 0.3}
    noise = {0: -0.01, 1: 0.01, 2: 0.03}
    out = sweep_effects(_grid_rows(opt_base, loss_shift, noise), higher_is_better=False)
    assert set(out) == {"optimizer", "loss"}
    adam, sgd = out["optimizer"]  # best first: lower is better
    assert adam["value"] == "adam" and adam["best"] and sgd["value"] == "sgd"
    per_seed = np.array([0.2 + np.mean(list(loss_shift.values())) + e for e in noise.values()])
    assert adam["mean"] == pytest.approx(per_seed.mean()) and adam["n_seeds"] == 3
    assert (adam["ci_low"], adam["ci_high"]) == tuple(pytest.approx(v) for v in _t_on_bootstrap_se(per_seed))
    # sgd - adam is 0.2 on every seed: a difference with a point interval that excludes zero.
    assert sgd["diff"] == pytest.approx(0.2) and sgd["clear"]
    assert [e["value"] for e in out["loss"]] == ["mse", "huber", "mae"]


def test_sweep_effects_use_the_balanced_grid_only():
    rows = _grid_rows({"adam": 0.2, "sgd": 0.4}, {"mse": 0.0, "mae": 0.3}, {0: 0.0, 1: 0.01, 2: 0.02})
    # sgd+mae failed on seed 2, and an extra sgd+mse seed 7 exists: neither may tilt the comparison.
    rows = [r for r in rows if not (r[0] == {"optimizer": "sgd", "loss": "mae"} and r[1] == 2)]
    rows.append(({"optimizer": "sgd", "loss": "mse"}, 7, 100.0))
    opt = {e["value"]: e for e in sweep_effects(rows, higher_is_better=False)["optimizer"]}
    assert opt["adam"]["n_seeds"] == opt["sgd"]["n_seeds"] == 2
    assert opt["sgd"]["diff"] == pytest.approx(0.2)


def test_sweep_effects_mark_only_differences_whose_interval_excludes_zero():
    rng = np.random.default_rng(5)
    rows = [({"l2": l2}, s, 0.9 + rng.normal(0, 0.02)) for l2 in (0.0, 1e-4) for s in range(5)]
    rows += [({"l2": 0.1}, s, 0.6 + rng.normal(0, 0.02)) for s in range(5)]
    l2 = {e["value"]: e for e in sweep_effects(rows, higher_is_better=True, bounds=(0, 1))["l2"]}
    assert l2[0.1]["clear"] and l2[0.1]["diff_high"] < 0
    assert not [v for v in (0.0, 1e-4) if l2[v]["clear"]]  # the best is never marked; noise is not
    assert all(0 <= e["ci_low"] <= e["ci_high"] <= 1 for e in l2.values())


def test_sweep_effects_take_list_values_and_skip_a_factor_that_does_not_vary():
    rows = [({"hidden": h, "epochs": 30}, s, float(len(h)) + s / 10) for h in ((64,), (64, 64)) for s in range(2)]
    out = sweep_effects(rows, higher_is_better=True)
    assert set(out) == {"hidden"} and [e["value"] for e in out["hidden"]] == [(64, 64), (64,)]


def test_intervals_of_many_groups_equal_one_bootstrap_per_group():
    rng = np.random.default_rng(11)
    groups = {f"g{i}": list(rng.normal(size=n)) for i, n in enumerate([1, 2, 3, 3, 5, 5, 5, 8, 13, 13, 40])}
    groups["flat"] = [0.5, 0.5, 0.5]
    out = mean_cis(groups, n_resamples=999, seed=3)
    for key, scores in groups.items():
        values = np.asarray(scores)
        if len(values) < 2:
            assert out[key] is None
        elif np.ptp(values) == 0:
            assert out[key] == (values.mean(), values.mean())
        else:
            assert out[key] == tuple(pytest.approx(v, rel=1e-9) for v in _t_on_bootstrap_se(values, 999, 3)), key


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 12, 17, 33])
def test_iqm_is_scipys_trimmed_mean_exactly(n):
    scores = list(np.random.default_rng(n).normal(size=n) * 1e3)
    [g] = rank_groups({"a": scores}, higher_is_better=True, n_resamples=100)
    assert g.iqm == float(stats.trim_mean(scores, 0.25))
