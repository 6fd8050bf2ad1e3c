"""Diagnosis scored against learning curves of real training runs.

Two labelled sets, stored as data and never regenerated in CI:

- ``curves/labelled_curves.json`` (``make_curves.py``): tiny PyTorch MLPs on
  scikit-learn's bundled data, each configuration pushed into one regime.
  Its "holdout" seeds were looked at once before two general fixes (wiggles
  measured against a quarter of the trivial loss; zig-zag at chance level), so
  that half is no longer untouched.
- ``curves/engine_curves.json`` (``make_engine_curves.py``): the real engine
  (``workers.training.engine.train``) on the CPU with CNN, LSTM, GRU,
  transformer and MLP regression/classification models on digits, sequence,
  diabetes, wine, breast_cancer and synthetic regression, labelled by the
  setup rule written in that script before any verdict was looked at. Seed 0
  is "tune", seed 1 "holdout"; no threshold was changed after its holdout was
  scored.

Each curve is diagnosed as the worker does: with its trivial loss, its run
config (engine set) and the lowest training loss of the other curves of its
experiment (same data). Run with ``-s`` for the tables.

Scored once on the holdout halves, after the last threshold change
(accuracy, n in brackets):

- engine set: overall 41/48 = 0.85; overfitting 0.88 (8), underfitting 0.75
  (8), good_fit 0.75 (8), diverged 1.00 (10), unstable 0.67 (6),
  still_improving 1.00 (8);
- both sets: overall 118/128 = 0.92; overfitting 0.95 (20), underfitting 0.92
  (26), good_fit 0.85 (20), diverged 1.00 (19), unstable 0.91 (23),
  still_improving 0.90 (20).

The issue's target (0.95 overall, 0.85 per verdict) is met per verdict on both
sets together, not overall and not on the engine set alone. Most engine-set
misses are runs whose setup did not produce its regime when looked at (a
"good fit" GRU whose val loss creeps up, a transformer whose val loss on 120
sequences zig-zags, a tiny L2-starved wine model still creeping down at the
end); they stay labelled by their setup. The floors below guard those numbers
from getting worse; they are not the target.

A second reading (``curves/engine_second_reading.json``, 2026-12-01): every
engine curve labelled again from its numbers alone (trivial loss, the other
runs' best training loss, status, train and val loss), against the verdicts'
definitions, without its setup, config, label or diagnosis. It agrees with the
setup labels on 75 of 96 curves (tune 36/48, holdout 39/48): the labelled set
itself is uncertain by about a fifth. Where both readings agree the diagnosis
is right on 35/36 (tune) and 35/39 (holdout); the test below keeps that.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from experiments.analysis.diagnosis import VERDICTS, diagnose

HERE = Path(__file__).parent / "curves"
MLP = json.loads((HERE / "labelled_curves.json").read_text())["curves"]
ENGINE = json.loads((HERE / "engine_curves.json").read_text())["curves"]
CURVES = MLP + ENGINE
SECOND = json.loads((HERE / "engine_second_reading.json").read_text())["labels"]
MIN_AGREED = {"tune": 0.97, "holdout": 0.89}  # on the engine curves both readings label alike
MIN_ACCURACY = {"tune": 0.8, "holdout": 0.85}  # per verdict, both sets together
MIN_OVERALL = {"tune": 0.94, "holdout": 0.92}


def experiment(curve: dict) -> str:
    """Curves on the same data: the engine set records it; for the MLP set, dataset, split and seed."""
    if "experiment" in curve:
        return curve["experiment"]
    how = curve["how"]
    return f"mlp/{how['dataset']}/{how['train_fraction']}/s{how['seed']}"


def _lowest_train(curve: dict) -> float | None:
    values = [v for v in curve.get("train_eval_loss") or curve["train_loss"] if v is not None]
    return min(values) if values else None


def reference(curve: dict) -> float | None:
    """The lowest training loss another curve of the same experiment reached (as the selector gives it)."""
    others = [
        low
        for c in CURVES
        if c is not curve and experiment(c) == experiment(curve) and (low := _lowest_train(c)) is not None
    ]
    return min(others) if others else None


def _verdict(curve: dict, n: int | None = None, *, finished: bool = True) -> str:
    measured = curve.get("train_eval_loss")
    return diagnose(
        curve["train_loss"][:n],
        curve["val_loss"][:n],
        task=curve["task"],
        baseline_loss=curve["baseline_loss"],
        finished=finished,
        train_eval_loss=measured[:n] if measured else None,
        config=curve.get("config"),
        experiment_best_train_loss=reference(curve),
    ).verdict


def _table(curves: list[dict], title: str) -> dict[str, Counter]:
    confusion: dict[str, Counter] = defaultdict(Counter)
    for c in curves:
        confusion[c["label"]][_verdict(c)] += 1
    right = sum(confusion[label][label] for label in VERDICTS)
    print(f"\n{title}: label -> verdicts; overall {right}/{len(curves)} = {right / max(len(curves), 1):.3f}")
    for label in VERDICTS:
        got = confusion[label]
        n = sum(got.values())
        print(f"  {label:16} n={n:3d}  accuracy {got[label] / max(n, 1):.2f}  {dict(got)}")
    return confusion


def test_the_sets_cover_every_verdict_and_the_engine_set_every_architecture():
    for split in ("tune", "holdout"):
        counts = Counter(c["label"] for c in CURVES if c["split"] == split)
        assert set(counts) == set(VERDICTS) and min(counts.values()) >= 8, (split, counts)
    archs = {c["config"]["model"]["arch"] for c in ENGINE}
    assert {"cnn", "lstm", "gru", "transformer", "mlp"} <= archs
    assert {"regression", "classification"} == {c["task"] for c in ENGINE}
    assert len({c["config"]["dataset"]["name"] for c in ENGINE}) >= 3


@pytest.mark.parametrize("split", ["tune", "holdout"])
def test_per_verdict_accuracy_on_real_curves(split):
    for name, curves in (("MLP set", MLP), ("engine set", ENGINE)):
        _table([c for c in curves if c["split"] == split], f"{name}, {split}")
    curves = [c for c in CURVES if c["split"] == split]
    confusion = _table(curves, f"both sets, {split}")
    right = sum(confusion[label][label] for label in VERDICTS)
    assert right / len(curves) >= MIN_OVERALL[split]
    for label in VERDICTS:
        n = sum(confusion[label].values())
        assert confusion[label][label] / n >= MIN_ACCURACY[split], (label, dict(confusion[label]))


def test_live_diagnosis_flags_overfitting_before_the_run_ends():
    # Two thirds of the way through, a run that overfits already says so.
    runs = [c for c in MLP if c["label"] == "overfitting"]
    early = [_verdict(c, 2 * len(c["val_loss"]) // 3, finished=False) for c in runs]
    assert early.count("overfitting") / len(runs) >= 0.9, Counter(early)


def test_live_diagnosis_flags_divergence_as_soon_as_it_shows():
    for c in (c for c in CURVES if c["label"] == "diverged"):
        bad = [i for i, v in enumerate(c["train_loss"]) if v is None]
        if bad:
            assert _verdict(c, bad[0] + 1, finished=False) == "diverged", c["key"]


def test_live_diagnosis_of_a_young_run_that_is_learning_is_still_improving():
    runs = [c for c in MLP if c["label"] in ("still_improving", "good_fit")]
    early = [_verdict(c, 6, finished=False) for c in runs]
    assert early.count("still_improving") / len(runs) >= 0.8, Counter(early)


@pytest.mark.parametrize("split", ["tune", "holdout"])
def test_where_two_readings_of_a_curve_agree_the_diagnosis_agrees(split):
    agreed = [c for c in ENGINE if c["split"] == split and SECOND[c["key"]]["label"] == c["label"]]
    assert len(agreed) >= 36  # most curves: the readings differ on about a fifth
    confusion = _table(agreed, f"engine set, {split}, curves both readings label alike")
    right = sum(confusion[label][label] for label in VERDICTS)
    assert right / len(agreed) >= MIN_AGREED[split]
