"""Diagnosis on hand-made curves: each verdict, live runs, edge cases."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from experiments.analysis.diagnosis import VERDICTS, Diagnosis, diagnose

BASE = math.log(10)  # cross-entropy of the uniform prior over 10 classes
t = np.arange(40, dtype=float)


def decay(start: float, end: float, tau: float, n: int = 40) -> list[float]:
    return list(end + (start - end) * np.exp(-np.arange(n) / tau))


def test_it_calls_a_converged_run_with_a_small_gap_a_good_fit():
    d = diagnose(decay(2.0, 0.10, 4), decay(2.0, 0.14, 4), baseline_loss=BASE)
    assert d.verdict == "good_fit"
    assert d.evidence["relative_to_baseline"] == pytest.approx(0.14 / BASE, abs=1e-3)
    assert d.evidence["train_val_gap"] == pytest.approx(0.04, abs=1e-3)


def test_it_calls_a_curve_still_falling_at_the_end_still_improving():
    d = diagnose(decay(2.2, 0.1, 30, 20), decay(2.2, 0.15, 30, 20), baseline_loss=BASE)
    assert d.verdict == "still_improving"
    assert d.evidence["best_epoch"] == 20
    assert any("train longer (epochs" in s for s in d.suggestions)


def test_it_calls_a_rising_val_loss_with_falling_train_loss_overfitting():
    train = decay(2.0, 0.001, 5)
    val = [v + 0.03 * max(0, i - 10) for i, v in enumerate(decay(2.0, 0.3, 3))]
    d = diagnose(train, val, baseline_loss=BASE)
    assert d.verdict == "overfitting"
    ev = d.evidence
    assert 9 <= ev["best_epoch"] <= 12
    assert ev["generalization_loss"] == pytest.approx(100 * (val[-1] / min(val) - 1), abs=0.01)
    assert ev["max_generalization_loss"] >= ev["generalization_loss"]
    assert ev["best_epoch"] < ev["overfit_onset_epoch"] < 40
    # The reason's figure is the smoothed one, and says so: the evidence's GL is the last epoch's, which differs.
    assert f"smoothed validation loss is {ev['smoothed_generalization_loss']:.0f} % above" in ev["reason"]
    assert any(f"best epoch was {ev['best_epoch']}" in s for s in d.suggestions)
    assert any("model.dropout" in s for s in d.suggestions)


def test_a_large_gap_without_a_rise_is_overfitting_too():
    d = diagnose(decay(2.0, 0.02, 3), decay(2.0, 0.9, 3), baseline_loss=BASE)
    assert d.verdict == "overfitting"


def test_it_calls_a_loss_stuck_near_the_trivial_loss_underfitting():
    train = [BASE - 0.0005 * i for i in range(40)]
    d = diagnose(train, [v + 0.01 for v in train], baseline_loss=BASE)
    assert d.verdict == "underfitting"
    assert d.evidence["train_relative_to_baseline"] > 0.9
    assert any("larger model (model.hidden)" in s for s in d.suggestions)


def test_a_high_plateau_with_no_gap_is_underfitting():
    d = diagnose(decay(2.2, 1.6, 3), decay(2.2, 1.65, 3), baseline_loss=BASE)
    assert d.verdict == "underfitting"


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_loss_is_diverged_from_that_epoch(bad):
    train = decay(2.0, 0.5, 5, 10)
    train[6] = bad
    d = diagnose(train, decay(2.0, 0.6, 5, 10), baseline_loss=BASE)
    assert d.verdict == "diverged"
    assert d.evidence["diverged_epoch"] == 7
    assert any("optimizer.lr ×0.1" in s for s in d.suggestions)
    assert any("grad_clip_norm" in s for s in d.suggestions)


def test_a_finite_loss_that_grows_without_bound_is_diverged():
    train = [2.0, 1.5, 1.2, 3.0, 6.0, 12.0, 25.0, 50.0, 90.0, 160.0]
    d = diagnose(train, [v + 0.01 for v in train], baseline_loss=BASE)
    assert d.verdict == "diverged"
    assert d.evidence["diverged_epoch"] == 4
    assert d.evidence["growth"] == pytest.approx(160.0 / BASE, abs=0.01)
    assert "still rising" in d.evidence["reason"]


def test_an_explosion_that_settles_at_chance_level_is_unstable_and_says_it_collapsed():
    train = [2.0, 1.5, 1.2, 40.0, 9.0, 2.6, 2.5, 2.45, 2.5, 2.48, 2.5, 2.49]
    d = diagnose(train, [v + 0.01 for v in train], baseline_loss=BASE)
    assert d.verdict == "unstable"
    assert d.evidence["collapsed_to_chance"] is True
    assert "collapsed to chance" in d.evidence["reason"]


@pytest.mark.parametrize(
    ("floor", "tau", "epochs", "verdict"),
    [(1.1, 4, 25, "underfitting"), (0.5, 15, 20, "still_improving")],
    ids=["levelled-off", "still-falling"],
)
def test_a_high_first_epoch_walked_down_from_is_not_an_explosion(floor, tau, epochs, verdict):
    # Issue 13: a regression model starting at 2.19x the mean predictor's MSE (its initialisation),
    # then 1.95, 1.76, ... falling every epoch and ending above 0.9x, was called "collapsed to chance".
    train = [v + 0.01 * (i % 2) for i, v in enumerate(decay(2.19, floor, tau, epochs))]  # a little wobble
    d = diagnose(train, [v + 0.03 for v in train], task="regression", baseline_loss=1.0)
    assert d.verdict == verdict, d.evidence
    assert d.evidence["collapsed_to_chance"] is False


def test_a_first_epoch_that_blew_up_and_fell_at_once_to_chance_is_still_unstable():
    # Too high a learning rate: the first epoch's mean is huge, the next one is already the trivial loss.
    train = [9.0 * BASE] + [BASE * (1.0 + 0.001 * (i % 2)) for i in range(29)]
    d = diagnose(train, [v + 0.01 for v in train], baseline_loss=BASE)
    assert d.verdict == "unstable" and d.evidence["collapsed_to_chance"] is True


@pytest.mark.parametrize("finished", [False, True], ids=["live", "finished"])
def test_one_finite_epoch_far_above_the_trivial_loss_is_too_young_to_be_called_collapsed(finished):
    # Issue 13, live: a regression MLP's first epoch at 2.19x the mean predictor's MSE (its initialisation)
    # was shown as unstable, "collapsed to chance". One epoch has nothing to compare with: no explosion, no
    # collapse. The young-run rule answers: still improving while it trains; a run that stopped there, still
    # above the trivial loss, is underfitting (as a one-epoch run at the trivial loss is).
    d = diagnose([2.19], [2.22], task="regression", baseline_loss=1.0, finished=finished)
    assert d.verdict == ("underfitting" if finished else "still_improving"), d.evidence
    assert d.evidence["collapsed_to_chance"] is False
    assert "collapsed to chance" not in d.evidence["reason"]


def test_the_issue_curve_is_never_called_unstable_while_it_trains():
    train = [v + 0.01 * (i % 2) for i, v in enumerate(decay(2.19, 1.1, 4, 25))]
    val = [v + 0.03 for v in train]
    for n in range(1, len(train) + 1):
        d = diagnose(train[:n], val[:n], task="regression", baseline_loss=1.0, finished=False)
        assert d.verdict != "unstable", (n, d.evidence)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf")])
def test_one_non_finite_epoch_is_diverged_at_once(bad):
    d = diagnose([bad], [2.2], task="regression", baseline_loss=1.0, finished=False)
    assert d.verdict == "diverged" and d.evidence["diverged_epoch"] == 1


@pytest.mark.parametrize("epochs", [2, 3, 5])
def test_a_first_epoch_blow_up_is_unstable_as_soon_as_a_second_epoch_shows_it(epochs):
    # Two epochs are a comparison: a first epoch 9x the second, which sits at chance, blew up (FIRST_EPOCH_BLOWUP).
    train = [9.0 * BASE] + [BASE * (1.0 + 0.001 * (i % 2)) for i in range(epochs - 1)]
    d = diagnose(train, [v + 0.01 for v in train], baseline_loss=BASE, finished=False)
    assert d.verdict == "unstable" and d.evidence["collapsed_to_chance"] is True, d.evidence


def test_a_collapse_back_to_the_trivial_loss_is_unstable_not_diverged():
    train = decay(2.0, 0.4, 3, 20) + [BASE] * 10
    d = diagnose(train, [v + 0.02 for v in train], baseline_loss=BASE)
    assert d.verdict == "unstable" and d.evidence["collapsed_to_chance"] is True


def test_a_zig_zagging_val_loss_is_unstable():
    rng = np.random.default_rng(0)
    train = [0.5 + 0.1 * rng.random() for _ in range(40)]
    val = [0.55 + (0.15 if i % 2 else -0.05) + 0.03 * rng.random() for i in range(40)]
    d = diagnose(train, val, baseline_loss=BASE)
    assert d.verdict == "unstable"
    assert d.evidence["noise"] > 0.12 and d.evidence["noise_sign_changes"] > 0.5
    assert "increase batch_size" in d.suggestions


def test_a_finite_loss_thrashing_above_the_trivial_loss_is_unstable_not_diverged():
    train = [BASE * (1.1 + (0.3 if i % 2 else 0.0)) for i in range(30)]
    d = diagnose(train, [v + 0.01 for v in train], baseline_loss=BASE)
    assert d.verdict == "unstable" and d.evidence["collapsed_to_chance"] is True


def test_a_loss_thrashing_far_above_its_start_whose_last_epoch_is_a_new_high_is_unstable_not_diverged():
    # A GRU at momentum lr 0.3 on batches of 4 (the engine curve unstable/gru-sequence/s0): 3-9x the
    # trivial loss for 20 epochs, the last three all above 3x its start and the last step up.
    train = [1.37, 3.55, 3.81, 3.93, 4.75, 6.29, 3.7, 3.24, 4.14, 5.19, 2.34, 3.49, 2.8, 4.23, 3.11, 2.94]
    train += [5.79, 4.64, 4.99, 5.31, 3.34, 3.25, 5.06, 6.7, 5.07, 7.0]
    d = diagnose(train, [v * 1.1 for v in train], baseline_loss=0.69)
    assert d.verdict == "unstable" and d.evidence["collapsed_to_chance"] is True


def test_a_loss_jumping_around_chance_level_is_unstable_and_one_holding_still_there_is_underfitting():
    # A CNN at momentum lr 0.3 on batches of 4 (the engine curve unstable/cnn-digits/s1): its training loss
    # never leaves 1.07x the trivial loss and its val loss jumps by ~10 % around it.
    base = 2.3025
    train = [2.503, 2.474, 2.465, 2.481, 2.483, 2.497, 2.47, 2.484, 2.493, 2.489, 2.466, 2.5, 2.479, 2.47, 2.466]
    train += [2.464, 2.499, 2.468, 2.459, 2.478, 2.47, 2.458, 2.475, 2.483, 2.486]
    val = [2.51, 2.339, 2.674, 2.358, 2.675, 2.467, 2.456, 2.454, 2.391, 2.383, 2.378, 2.413, 2.41, 2.454, 2.495]
    val += [2.516, 2.4, 2.43, 2.645, 2.499, 2.517, 2.491, 2.451, 2.6, 2.458]
    d = diagnose(train, val, baseline_loss=base)
    assert d.verdict == "unstable" and d.evidence["collapsed_to_chance"] is True
    # The same training loss with a val loss that holds still at chance (a model too weak to learn): stuck.
    still = [base * (1.0 + 0.002 * (i % 2)) for i in range(len(train))]
    assert diagnose(train, still, baseline_loss=base).verdict == "underfitting"


# An LSTM (64 units, Adam 3e-3, cosine schedule, 30 epochs) on 4,000 sequences: the engine curve
# good_fit/lstm-sequence/s0. Its val loss bumps while it falls (0.095 -> 0.107, 0.079 -> 0.095), then the
# annealed learning rate lets it settle at 0.057-0.06 for the last 8 epochs.
SETTLED_TRAIN = [0.254, 0.301, 0.303, 0.348, 0.226, 0.222, 0.213, 0.246, 0.177, 0.163, 0.121, 0.068, 0.057, 0.049]
SETTLED_TRAIN += [0.056, 0.054, 0.047, 0.042, 0.036, 0.027, 0.025, 0.028, 0.02, 0.02, 0.02, 0.016, 0.016, 0.017]
SETTLED_TRAIN += [0.016, 0.016]
SETTLED_VAL = [0.26, 0.281, 0.283, 0.331, 0.271, 0.245, 0.274, 0.26, 0.221, 0.213, 0.161, 0.123, 0.095, 0.107, 0.091]
SETTLED_VAL += [0.093, 0.083, 0.079, 0.095, 0.069, 0.065, 0.068, 0.061, 0.063, 0.06, 0.058, 0.058, 0.059, 0.057, 0.057]


def test_a_val_loss_that_bumped_on_its_way_down_and_then_settled_is_a_good_fit_not_unstable():
    d = diagnose(SETTLED_TRAIN, SETTLED_VAL, baseline_loss=0.693, experiment_best_train_loss=0.016)
    assert d.verdict == "good_fit", d.evidence
    # The same bumps going on into the last epochs: it never settled.
    unsettled = SETTLED_VAL[:-6] + [0.07, 0.058, 0.072, 0.057, 0.071, 0.057]
    assert diagnose(SETTLED_TRAIN, unsettled, baseline_loss=0.693).verdict == "unstable"


def test_a_val_loss_creeping_down_by_a_sliver_of_the_trivial_loss_each_epoch_has_converged():
    # A GRU on the same task (good_fit/gru-sequence/s1): its val loss went from 0.066 to 0.059 over the last
    # 8 epochs, 0.15 % of the trivial loss per epoch; ten more epochs would gain 1.5 % of it: converged.
    train = [0.332, 0.334, 0.272, 0.335, 0.288, 0.319, 0.281, 0.287, 0.324, 0.229, 0.207, 0.234, 0.151, 0.153, 0.072]
    train += [0.075, 0.051, 0.05, 0.063, 0.054, 0.056, 0.03, 0.029, 0.026, 0.022, 0.021, 0.02, 0.019, 0.02, 0.02]
    val = [0.3, 0.283, 0.267, 0.288, 0.261, 0.27, 0.266, 0.29, 0.27, 0.218, 0.201, 0.201, 0.16, 0.142, 0.121]
    val += [0.107, 0.09, 0.089, 0.082, 0.074, 0.078, 0.062, 0.066, 0.066, 0.061, 0.061, 0.059, 0.061, 0.059, 0.059]
    d = diagnose(train, val, baseline_loss=0.693, experiment_best_train_loss=0.016)
    assert d.verdict == "good_fit", d.evidence
    # Falling five times as fast at the end (0.8 % of the trivial loss per epoch): still improving.
    faster = val[:-8] + [0.062 - 0.0055 * i for i in range(1, 9)]
    assert diagnose(train, faster, baseline_loss=0.693).verdict == "still_improving"


def test_a_val_loss_rising_past_prechelts_gl5_as_a_trend_is_overfitting():
    # Best near epoch 19, then 0.5 % more per epoch: 9 % above the best at the end (GL_5 fires; GL_10 did not).
    train = decay(2.0, 0.02, 4)
    val = [v * (1 + 0.005 * max(0, i - 15)) for i, v in enumerate(decay(2.0, 0.3, 3))]
    d = diagnose(train, val, baseline_loss=BASE)
    assert d.verdict == "overfitting", d.evidence
    # Half that rise (4 %) is within GL_5: converged.
    val = [v * (1 + 0.0025 * max(0, i - 15)) for i, v in enumerate(decay(2.0, 0.3, 3))]
    assert diagnose(train, val, baseline_loss=BASE).verdict == "good_fit"


def test_a_val_loss_rising_while_it_zig_zags_is_overfitting_not_unstable():
    # An LSTM of 128 units on 200 sequences, no regularisation (the engine curve overfitting/lstm-sequence/s3):
    # its val loss zig-zags by a third of its level, one spike to 1.15, but its floor rises from 0.35 to 0.52
    # while the eval-mode training loss falls to 0.04. The rise clears the zig-zag (its residuals' range
    # without the extremes), so it is a trend, not noise.
    train = [0.68, 0.67, 0.547, 0.345, 0.327, 0.244, 0.305, 0.328, 0.248, 0.282, 0.203, 0.201, 0.213, 0.222, 0.149]
    train += [0.122, 0.13, 0.135, 0.129, 0.118, 0.124, 0.103, 0.192, 0.185, 0.156, 0.114, 0.092, 0.068, 0.059]
    train += [0.056, 0.064, 0.067, 0.139, 0.129, 0.093, 0.059, 0.08, 0.078, 0.043, 0.048]
    fit = [0.657, 0.595, 0.393, 0.31, 0.267, 0.216, 0.224, 0.223, 0.213, 0.226, 0.215, 0.172, 0.163, 0.161, 0.133]
    fit += [0.128, 0.127, 0.124, 0.105, 0.104, 0.086, 0.082, 0.137, 0.127, 0.095, 0.081, 0.077, 0.07, 0.057, 0.052]
    fit += [0.044, 0.056, 0.057, 0.061, 0.072, 0.107, 0.057, 0.046, 0.054, 0.041]
    val = [0.67, 0.613, 0.463, 0.418, 0.396, 0.383, 0.395, 0.354, 0.548, 0.364, 0.514, 0.448, 0.466, 0.461, 0.501]
    val += [0.629, 0.418, 0.572, 0.467, 0.469, 0.614, 0.725, 0.474, 0.409, 0.484, 0.39, 0.625, 0.641, 0.641, 0.641]
    val += [0.727, 0.687, 0.788, 0.518, 0.63, 1.149, 0.521, 0.55, 0.844, 0.732]
    d = diagnose(train, val, baseline_loss=0.69, train_eval_loss=fit)
    assert d.verdict == "overfitting", d.evidence


def test_a_slow_descent_that_sets_a_new_best_every_epoch_is_still_improving():
    # 0.8 % of its level per epoch, under 0.04 % of the trivial loss: small in absolute terms, but every
    # epoch a new best, as on a CNN or a regression MLP that was stopped a little early.
    val = list(0.1 * 1.008 ** (59 - np.arange(60)) + 2.0 * np.exp(-np.arange(60) / 3))
    d = diagnose([v * 0.8 for v in val], val, baseline_loss=BASE)
    assert d.verdict == "still_improving", d.evidence
    assert d.evidence["best_epoch"] == 60


def test_a_plateau_that_zig_zags_slightly_lower_has_converged():
    # A GRU on 2,000 sequences at Adam 3e-4 for 15 epochs (the engine curve still_improving/gru-sequence/s2):
    # its val loss fell to 0.28 by epoch 10, then went 0.282, 0.284, 0.275, 0.272, 0.273: up as often as down.
    # Both blind readers called it converged; the smoothed slope alone (0.9 % of the level per epoch) did not.
    train = [0.682, 0.67, 0.658, 0.642, 0.618, 0.546, 0.375, 0.31, 0.29, 0.282, 0.276, 0.278, 0.272, 0.268, 0.267]
    fit = [0.683, 0.678, 0.672, 0.668, 0.651, 0.54, 0.423, 0.379, 0.354, 0.352, 0.344, 0.362, 0.327, 0.33, 0.328]
    val = [0.676, 0.664, 0.65, 0.631, 0.595, 0.441, 0.317, 0.296, 0.288, 0.281, 0.282, 0.284, 0.275, 0.272, 0.273]
    d = diagnose(train, val, baseline_loss=0.69, train_eval_loss=fit, experiment_best_train_loss=0.27)
    assert d.verdict == "good_fit", d.evidence


def test_a_val_loss_that_settled_within_a_few_percent_of_the_trivial_loss_is_a_good_fit():
    # An LSTM (64 units, cosine schedule) on 5,000 sequences (the engine curve good_fit/lstm-sequence/s5): its
    # last epochs go 0.072-0.082, a zig-zag of 1.4 % of the trivial loss (0.693), after bigger bumps on the
    # way down. Both blind readers: settled, a good fit.
    train = [0.386, 0.278, 0.266, 0.268, 0.258, 0.264, 0.253, 0.247, 0.233, 0.212, 0.189, 0.181, 0.167, 0.14, 0.115]
    train += [0.106, 0.086, 0.085, 0.064, 0.069, 0.05, 0.046, 0.044, 0.038, 0.036, 0.034, 0.032, 0.03, 0.028, 0.028]
    fit = [0.232, 0.263, 0.226, 0.235, 0.226, 0.265, 0.179, 0.181, 0.171, 0.161, 0.152, 0.149, 0.136, 0.115, 0.094]
    fit += [0.089, 0.092, 0.078, 0.08, 0.058, 0.05, 0.061, 0.039, 0.042, 0.041, 0.036, 0.038, 0.03, 0.031, 0.031]
    val = [0.266, 0.284, 0.255, 0.31, 0.254, 0.262, 0.248, 0.253, 0.217, 0.193, 0.179, 0.185, 0.159, 0.141, 0.115]
    val += [0.109, 0.127, 0.115, 0.091, 0.078, 0.091, 0.075, 0.073, 0.081, 0.072, 0.082, 0.073, 0.078, 0.074, 0.074]
    d = diagnose(train, val, baseline_loss=0.693, train_eval_loss=fit, experiment_best_train_loss=0.02)
    assert d.verdict == "good_fit", d.evidence


def test_a_val_loss_thrashing_above_chance_while_training_learns_nothing_is_unstable():
    # An LSTM at momentum lr 0.3 on batches of 4 (the engine curve unstable/lstm-sequence/s4): its training loss
    # stays around chance (0.69), the eval-mode one jumps 0.41-1.12, and its val loss zig-zags up to 1.7.
    train = [0.723, 0.754, 0.726, 0.744, 0.703, 0.771, 0.81, 0.711, 0.72, 0.811, 0.757, 0.654, 0.723, 0.624, 0.645]
    train += [0.682, 0.732, 0.59, 0.793, 0.641, 0.672, 0.633, 0.599, 0.669, 0.578]
    fit = [0.612, 0.643, 0.648, 0.619, 0.588, 0.908, 0.766, 0.519, 0.874, 1.123, 0.523, 0.71, 0.467, 0.571, 0.482]
    fit += [0.422, 0.479, 0.697, 0.687, 0.468, 0.575, 0.6, 0.412, 0.712, 1.024]
    val = [0.688, 0.664, 0.713, 0.685, 0.692, 0.939, 0.87, 0.692, 0.914, 1.204, 0.853, 0.984, 0.951, 0.81, 0.874]
    val += [1.015, 0.841, 0.962, 1.232, 0.972, 1.16, 1.107, 1.103, 1.271, 1.686]
    d = diagnose(train, val, baseline_loss=0.691, train_eval_loss=fit)
    assert d.verdict == "unstable" and d.evidence["collapsed_to_chance"] is True, d.evidence
    # A model that learnt its training split by heart while its val loss climbs far above chance overfits.
    learnt = [0.5 * 0.8**i for i in range(len(val))]
    assert diagnose(learnt, [0.7 + 0.04 * i for i in range(len(val))], baseline_loss=0.691).verdict == "overfitting"


def test_small_wiggles_on_a_near_zero_loss_are_not_instability():
    val = decay(2.0, 0.05, 3)
    val = [v + (0.02 if i % 2 and i > 15 else 0.0) for i, v in enumerate(val)]  # 40 % of the level
    assert diagnose(decay(2.0, 0.04, 3), val, baseline_loss=BASE).verdict == "good_fit"


def test_one_spike_in_a_converged_run_is_not_instability():
    val = decay(2.0, 0.14, 4)
    val[30] = 0.6
    d = diagnose(decay(2.0, 0.10, 4), val, baseline_loss=BASE)
    assert d.verdict == "good_fit"


class TestLive:
    def test_a_young_curve_that_is_still_dropping_is_still_improving(self):
        d = diagnose([2.25, 2.1, 1.9], [2.27, 2.12, 1.95], baseline_loss=BASE, finished=False)
        assert d.verdict == "still_improving"
        assert d.evidence["finished"] is False
        assert any("let it run" in s for s in d.suggestions)

    def test_overfitting_is_flagged_before_the_run_ends(self):
        train = decay(2.0, 0.001, 5, 25)
        val = [v + 0.04 * max(0, i - 8) for i, v in enumerate(decay(2.0, 0.3, 3, 25))]
        assert diagnose(train, val, baseline_loss=BASE, finished=False).verdict == "overfitting"

    def test_divergence_is_flagged_at_once(self):
        d = diagnose([2.2, 1.8, None], [2.2, 1.9, None], baseline_loss=BASE, finished=False)
        assert d.verdict == "diverged" and d.evidence["diverged_epoch"] == 3

    def test_a_high_plateau_is_flagged_once_it_lasts_a_strip(self):
        train = decay(2.2, 1.6, 1.5, 14)
        val = [v + 0.05 for v in train]
        assert diagnose(train[:4], val[:4], baseline_loss=BASE, finished=False).verdict == "still_improving"
        assert diagnose(train, val, baseline_loss=BASE, finished=False).verdict == "underfitting"


class TestEdgeCases:
    def test_empty_curves_are_refused(self):
        with pytest.raises(ValueError, match="empty"):
            diagnose([], [])

    def test_mismatched_lengths_name_both_curves(self):
        with pytest.raises(ValueError, match="train_loss.*val_loss"):
            diagnose([1.0, 0.9], [1.0])

    def test_non_numbers_are_refused_by_name(self):
        with pytest.raises(ValueError, match="val_loss"):
            diagnose([1.0], ["a lot"])

    def test_one_epoch(self):
        assert diagnose([1.2], [1.3], baseline_loss=BASE, finished=False).verdict == "still_improving"
        assert diagnose([2.3], [2.3], baseline_loss=BASE, finished=True).verdict == "underfitting"
        d = diagnose([1.2], [1.3], baseline_loss=BASE)
        assert d.evidence["best_epoch"] == 1 and d.evidence["epochs"] == 1

    def test_all_none_is_diverged_from_the_first_epoch(self):
        d = diagnose([None, None], [None, None])
        assert d.verdict == "diverged"
        assert d.evidence["diverged_epoch"] == 1 and d.evidence["best_epoch"] is None

    def test_without_a_baseline_the_first_epoch_stands_in(self):
        d = diagnose(decay(2.0, 0.10, 4), decay(2.0, 0.14, 4))
        assert d.verdict == "good_fit"
        assert d.evidence["baseline_source"] == "first_epoch_train_loss"
        assert d.evidence["baseline_loss"] == pytest.approx(2.0)

    def test_a_regression_run_with_a_large_first_loss_is_not_an_explosion(self):
        # Unscaled targets: epoch 1 sits far above the mean predictor's MSE, then learns.
        train = decay(30.0, 0.3, 3)
        d = diagnose(train, [v + 0.05 for v in train], task="regression", baseline_loss=5.0)
        assert d.verdict == "good_fit"


def test_as_dict_is_json_serialisable_for_every_verdict():
    cases = [
        diagnose(decay(2.0, 0.10, 4), decay(2.0, 0.14, 4), baseline_loss=BASE),
        diagnose([2.0, float("nan")], [2.0, float("inf")], baseline_loss=BASE, grad_health="exploding"),
        diagnose([None], [None]),
    ]
    for d in cases:
        data = d.as_dict()
        assert set(data) == {"verdict", "evidence", "suggestions"}
        assert data["verdict"] in VERDICTS
        json.dumps(data, allow_nan=False)
        assert isinstance(data["evidence"]["reason"], str) or data["evidence"].get("best_epoch") is None
    assert any("clip" in s for s in cases[1].suggestions)


def test_grad_health_sharpens_the_suggestions():
    d = diagnose([BASE] * 20, [BASE] * 20, baseline_loss=BASE, grad_health="vanishing")
    assert d.verdict == "underfitting"
    assert any("model.batchnorm" in s for s in d.suggestions)


def test_diagnosis_is_a_plain_dataclass():
    d = Diagnosis("good_fit", {"epochs": 1}, ["keep it"])
    assert d.as_dict() == {"verdict": "good_fit", "evidence": {"epochs": 1}, "suggestions": ["keep it"]}


def test_a_reason_is_written_even_when_evidence_is_missing():
    # Found by the API fuzz: a curve of two epochs whose second is non-finite.
    d = diagnose([0.0, None], [0.0, None], task="classification")
    assert d.verdict == "diverged" and d.evidence["reason"]


def test_a_validation_loss_of_exactly_zero_gives_no_generalization_loss_and_no_numpy_warning():
    val = [1.0, 0.5, 0.0, 0.0, 0.1, 0.2]  # a perfect fit on validation, then a little worse
    with np.errstate(all="raise"):  # a 0/0 anywhere in the diagnosis would raise here
        d = diagnose([1.0, 0.4, 0.1, 0.05, 0.02, 0.01], val)
    evidence = d.as_dict()["evidence"]
    assert evidence["generalization_loss"] is None and evidence["smoothed_generalization_loss"] is None
    json.dumps(d.as_dict(), allow_nan=False)


def test_a_loss_near_the_float_maximum_is_diverged_without_a_numpy_warning():
    # The API accepts any finite number; means and ratios of 1.7e308 overflow.
    train = [2.0, 1.5, 1.7e308, 1.7e308, 1.7e308, 1.7e308]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warnings would raise here
        d = diagnose(train, train, baseline_loss=2.3)
    assert d.verdict == "diverged" and d.evidence["diverged_epoch"] == 3
    json.dumps(d.as_dict(), allow_nan=False)
    # Ratios over a loss near zero overflow to inf: huge, reported as None, no warning either.
    tiny = [1.0, 0.1, 1e-320, 1e-320, 1e-320, 1e-320]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = diagnose(tiny, [0.5] * 6, baseline_loss=1e-300)
    json.dumps(d.as_dict(), allow_nan=False)


def test_a_training_set_learnt_by_heart_with_a_far_higher_val_loss_is_overfitting():
    # A wide CNN without regularisation: train loss ~0, val loss flat at 40x that, no rise to speak of.
    d = diagnose(decay(2.0, 0.0002, 2), decay(2.0, 0.08, 2), baseline_loss=BASE)
    assert d.verdict == "overfitting"
    assert "by heart" in d.evidence["reason"]


def test_above_the_underfitting_line_a_run_that_is_still_learning_is_still_improving():
    val = [1.4 * (1 - 0.0045 * i) for i in range(15)]  # slow but steady, train and val together
    d = diagnose([v - 0.01 for v in val], val, baseline_loss=BASE, experiment_best_train_loss=0.1)
    assert d.verdict == "still_improving", d.evidence
    assert d.evidence["train_loss_level"] > d.evidence["underfitting_line"]


def test_a_slow_run_near_the_trivial_loss_whose_train_loss_still_falls_is_not_called_stuck():
    # A CNN at a low learning rate: 15 epochs in, train still falls 0.5 %/epoch, val 0.4 %/epoch.
    train = [BASE * (1 - 0.005 * i) for i in range(15)]
    val = [BASE * (1 - 0.004 * i) for i in range(15)]
    d = diagnose(train, val, baseline_loss=BASE)
    assert d.verdict == "still_improving", d.evidence
    assert "stopped falling" not in d.evidence["reason"]
