"""Ranking across seeds, checked against direct computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from experiments.analysis.ranking import config_effects, effects, mean_ci, mean_cis, prob_greater, rank_groups


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


def test_mean_and_ci_match_scipy_bootstrap_called_directly():
    scores = [0.91, 0.93, 0.90, 0.95, 0.92]
    [g] = rank_groups({"a": scores}, higher_is_better=True, n_resamples=2000, seed=7)
    direct = stats.bootstrap(
        (np.array(scores),),
        np.mean,
        confidence_level=0.95,
        n_resamples=2000,
        method="percentile",
        random_state=np.random.default_rng(7),
    )
    assert g.mean == pytest.approx(np.mean(scores))
    assert g.iqm == pytest.approx(stats.trim_mean(scores, 0.25))
    assert g.ci_low == pytest.approx(direct.confidence_interval.low)
    assert g.ci_high == pytest.approx(direct.confidence_interval.high)


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
    assert bad.reason == "clearly behind the leader"
    assert good.p_rank1 == 1.0 and bad.p_rank1 == 0.0


def test_overlapping_groups_are_flagged_with_the_reason():
    groups = {"a": [0.80, 0.90, 0.85, 0.70], "b": [0.82, 0.78, 0.88, 0.74]}
    a, b = rank_groups(groups, higher_is_better=True)
    assert not b.clearly_different and b.reason == "interval overlaps the leader's"
    assert not a.clearly_different and a.reason == "interval overlaps the runner-up's"
    assert 0 < b.p_rank1 < a.p_rank1 < 1
    assert a.p_rank1 + b.p_rank1 == pytest.approx(1.0)


def test_too_few_seeds_are_flagged_and_one_seed_has_a_point_interval():
    groups = {"many": [0.9, 0.91, 0.92], "two": [0.5, 0.51], "one": [0.3]}
    many, two, one = rank_groups(groups, higher_is_better=True)
    assert (one.ci_low, one.ci_high) == (0.3, 0.3)
    assert not one.clearly_different and one.reason == "fewer than 3 seeds"
    assert not two.clearly_different and two.reason == "fewer than 3 seeds"
    # The leader itself has enough seeds, but its runner-up does not.
    assert not many.clearly_different and "fewer than 3 seeds" in many.reason


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


def test_labels_are_used_when_given():
    [g] = rank_groups({"h1": [1.0]}, higher_is_better=True, labels={"h1": "adam, lr 1e-3"})
    assert g.label == "adam, lr 1e-3"


def test_effects_match_a_hand_computed_grid():
    # optimizer x loss x 2 seeds; metric = base by optimizer + loss shift + seed noise.
    opt_base = {"adam": 0.2, "sgd": 0.4}
    loss_shift = {"mse": 0.0, "huber": 0.1, "mae": 0.3}
    noise = {0: -0.01, 1: 0.01}
    rows = [
        ({"optimizer": o, "loss": lo, "seed": s, "epochs": 30}, opt_base[o] + loss_shift[lo] + noise[s])
        for o, lo, s in itertools.product(opt_base, loss_shift, noise)
    ]
    out = effects(rows)
    assert set(out) == {"optimizer", "loss"}  # epochs never varies; seed is a replicate
    opt = {e["value"]: e for e in out["optimizer"]}
    assert opt["adam"]["mean"] == pytest.approx(0.2 + np.mean(list(loss_shift.values())))
    assert opt["sgd"]["mean"] == pytest.approx(0.4 + np.mean(list(loss_shift.values())))
    assert opt["adam"]["n"] == 6 and opt["adam"]["n_cells"] == 3
    # t-interval over the 3 loss cells of adam, by hand.
    cells = np.array([0.2 + v for v in loss_shift.values()])
    half = stats.t.ppf(0.975, 2) * cells.std(ddof=1) / np.sqrt(3)
    assert opt["adam"]["ci_low"] == pytest.approx(cells.mean() - half)
    assert opt["adam"]["ci_high"] == pytest.approx(cells.mean() + half)
    loss = out["loss"]
    assert [e["value"] for e in loss] == ["mse", "huber", "mae"]  # sorted by mean
    assert loss[0]["mean"] == pytest.approx(0.3)  # mean over adam 0.2 and sgd 0.4


def test_effects_weigh_cells_equally_in_an_unbalanced_sweep():
    rows = [({"l2": 0.0, "bs": 32}, 1.0)] * 5 + [({"l2": 0.0, "bs": 64}, 3.0), ({"l2": 0.1, "bs": 32}, 0.0)]
    l2 = {e["value"]: e for e in effects(rows)["l2"]}
    assert l2[0.0]["mean"] == pytest.approx(2.0)  # (1 + 3) / 2, not (5*1 + 3) / 6
    assert l2[0.1]["mean"] == l2[0.1]["ci_low"] == l2[0.1]["ci_high"] == 0.0


def test_effects_handle_list_values_and_skip_non_finite_metrics():
    rows = [({"hidden": [64]}, 1.0), ({"hidden": [64, 64]}, 2.0), ({"hidden": [64]}, float("nan"))]
    hidden = effects(rows)["hidden"]
    assert [(e["value"], e["n"]) for e in hidden] == [((64,), 1), ((64, 64), 1)]


def _sweep(seed: int) -> list[tuple[dict, list[float]]]:
    """A random unbalanced sweep, per configuration its runs' metrics: lists, missing keys, non-finite metrics,
    and configurations that differ only in a key that is not a factor (seed)."""
    rng = np.random.default_rng(seed)
    configs = []
    for _ in range(int(rng.integers(20, 120))):
        cfg = {
            "optimizer.name": str(rng.choice(["adam", "sgd", "adamw"])),
            "optimizer.lr": float(rng.choice([1e-3, 1e-2])),
            "model.hidden": [64] * int(rng.integers(1, 3)),
            "seed": int(rng.integers(0, 2)),
            "epochs": 30,
        }
        if rng.random() < 0.2:
            del cfg["optimizer.lr"]
        metrics = [float(rng.normal()) if rng.random() > 0.1 else float("nan") for _ in range(int(rng.integers(1, 6)))]
        configs.append((cfg, metrics))
    return configs


@pytest.mark.parametrize("seed", range(6))
def test_effects_per_configuration_equal_effects_per_run(seed):
    configs = _sweep(seed)
    rows = [(cfg, m) for cfg, metrics in configs for m in metrics]
    assert config_effects(configs) == effects(rows)


def test_effect_intervals_are_scipys_t_intervals_exactly():
    rows = [({"opt": o, "bs": b}, float(v)) for (o, b), v in zip(itertools.product("ab", range(7)), range(14))]
    for e in effects(rows)["opt"]:
        cells = np.array([v for (cfg, v) in rows if cfg["opt"] == e["value"]], dtype=float)
        half = stats.t.ppf(0.975, len(cells) - 1) * stats.sem(cells)
        assert (e["ci_low"], e["ci_high"]) == (cells.mean() - float(half), cells.mean() + float(half))


def test_intervals_of_many_groups_are_bit_identical_to_one_bootstrap_per_group():
    rng = np.random.default_rng(11)
    groups = {f"g{i}": list(rng.normal(size=n)) for i, n in enumerate([1, 2, 3, 3, 5, 5, 5, 8, 13, 13, 40])}
    groups["flat"] = [0.5, 0.5, 0.5]
    out = mean_cis(groups, n_resamples=999, seed=3)
    for key, scores in groups.items():
        values = np.asarray(scores)
        if len(values) < 2 or np.ptp(values) == 0:
            assert out[key] == (values.mean(), values.mean())
            continue
        res = stats.bootstrap(
            (values,),
            np.mean,
            confidence_level=0.95,
            n_resamples=999,
            method="percentile",
            random_state=np.random.default_rng(3),
        )
        assert out[key] == (res.confidence_interval.low, res.confidence_interval.high), key


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 12, 17, 33])
def test_iqm_is_scipys_trimmed_mean_exactly(n):
    scores = list(np.random.default_rng(n).normal(size=n) * 1e3)
    [g] = rank_groups({"a": scores}, higher_is_better=True, n_resamples=100)
    assert g.iqm == float(stats.trim_mean(scores, 0.25))
