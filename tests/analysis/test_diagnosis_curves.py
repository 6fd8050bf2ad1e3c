"""Diagnosis scored against learning curves of real training runs.

Stored as data and never regenerated in CI:

- ``curves/labelled_curves.json`` (``make_curves.py``): tiny PyTorch MLPs on
  scikit-learn's bundled data, each configuration pushed into one regime.
  All of it has been looked at while tuning thresholds: tuning data.
- ``curves/engine_curves.json`` (``make_engine_curves.py``): the real engine
  (``workers.training.engine.train``) on the CPU with CNN, LSTM, GRU,
  transformer and MLP regression/classification models on digits, sequence,
  diabetes, wine, breast_cancer and synthetic regression, six seeds of each
  setup. Seeds 0-3 ("tune") have been looked at while adjusting setups and
  thresholds; seeds 4-5 ("holdout") were trained once the setups were frozen.
- ``curves/curve_readings.json``: the label of every curve of both sets. Each
  curve was read twice, blind and independently, from its numbers alone (see
  its ``about``); the label is the majority of its setup label and the two
  readings. Setup labels alone are not ground truth: readers and setups
  disagree on about one curve in eight, mostly where a converged val loss
  still creeps down (still improving or a good fit?) and where a noisy val
  loss rises (overfitting or unstable?).

Each curve is diagnosed as the worker does: with its trivial loss, its run
config (engine set), its eval-mode training loss where recorded and the
lowest training loss of the other curves of its experiment (same data). Run
with ``-s`` for the tables.

History. Round 1 held out engine seeds 2-3, read them blind and scored them
once: 81/96 = 0.84 against their adjudicated labels (0.93 against the setup
labels); per verdict overfitting 0.74, underfitting 1.00, good_fit 0.50,
diverged 1.00, unstable 1.00, still_improving 0.80. Below the issue's target
(0.95 overall, 0.85 per verdict). Round 2 made seeds 2-3 tuning data, had the
MLP set and seeds 0-1 read blind too (so every tuning label is adjudicated
like the held-out ones), changed the rules on that tuning set only (overfitting
at Prechelt's GL_5 on a rise that clears the zig-zag's spread; still
improving only while the val loss falls steadily), taking it from 0.90 to
0.94, then labelled fresh seeds 4-5 blind and scored them once.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from experiments.analysis.diagnosis import VERDICTS, diagnose

HERE = Path(__file__).parent / "curves"
MLP = json.loads((HERE / "labelled_curves.json").read_text())["curves"]
ENGINE = json.loads((HERE / "engine_curves.json").read_text())["curves"]
CURVES = MLP + ENGINE
READINGS = json.loads((HERE / "curve_readings.json").read_text())
TUNE = [*MLP, *(c for c in ENGINE if c["split"] == "tune")]
HOLDOUT = [c for c in ENGINE if c["split"] == "holdout"]
# Regression floors: the tune half is what the thresholds were fitted on (0.941 overall, good_fit 0.83 lowest).
MIN_TUNE = {"overall": 0.94, "verdict": 0.8}


def label(curve: dict) -> str:
    """The curve's label: the majority of its setup label and two blind readings."""
    return READINGS["engine" if "experiment" in curve else "mlp"][curve["key"]]["label"]


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
        confusion[label(c)][_verdict(c)] += 1
    right = sum(confusion[v][v] for v in VERDICTS)
    print(f"\n{title}: label -> verdicts; overall {right}/{len(curves)} = {right / max(len(curves), 1):.3f}")
    for v in VERDICTS:
        got = confusion[v]
        n = sum(got.values())
        print(f"  {v:16} n={n:3d}  accuracy {got[v] / max(n, 1):.2f}  {dict(got)}")
    return confusion


def test_the_sets_cover_every_verdict_and_the_engine_set_every_architecture():
    for curves in (TUNE, HOLDOUT):
        counts = Counter(label(c) for c in curves)
        assert set(counts) == set(VERDICTS) and min(counts.values()) >= 12, counts
    archs = {c["config"]["model"]["arch"] for c in ENGINE}
    assert {"cnn", "lstm", "gru", "transformer", "mlp"} <= archs
    assert {"regression", "classification"} == {c["task"] for c in ENGINE}
    assert len({c["config"]["dataset"]["name"] for c in ENGINE}) >= 3
    assert len(HOLDOUT) == 96
    assert all(label(c) in VERDICTS for c in CURVES)  # every curve has a majority label


def _score(curves: list[dict], title: str) -> tuple[float, dict[str, float]]:
    confusion = _table(curves, title)
    right = sum(confusion[v][v] for v in VERDICTS)
    return right / len(curves), {v: confusion[v][v] / max(sum(confusion[v].values()), 1) for v in VERDICTS}


def test_per_verdict_accuracy_on_the_tune_half():
    _table(MLP, "MLP set")
    _table([c for c in ENGINE if c["split"] == "tune"], "engine set, seeds 0-3")
    overall, per_verdict = _score(TUNE, "tune half, both sets")
    assert overall >= MIN_TUNE["overall"]
    assert min(per_verdict.values()) >= MIN_TUNE["verdict"], per_verdict


def test_live_diagnosis_flags_overfitting_before_the_run_ends():
    # Two thirds of the way through, a run that overfits already says so.
    runs = [c for c in MLP if c["label"] == "overfitting"]
    early = [_verdict(c, 2 * len(c["val_loss"]) // 3, finished=False) for c in runs]
    assert early.count("overfitting") / len(runs) >= 0.9, Counter(early)


def test_live_diagnosis_flags_divergence_as_soon_as_it_shows():
    for c in (c for c in TUNE if c["label"] == "diverged"):
        bad = [i for i, v in enumerate(c["train_loss"]) if v is None]
        if bad:
            assert _verdict(c, bad[0] + 1, finished=False) == "diverged", c["key"]


def test_live_diagnosis_of_a_young_run_that_is_learning_is_still_improving():
    runs = [c for c in MLP if c["label"] in ("still_improving", "good_fit")]
    early = [_verdict(c, 6, finished=False) for c in runs]
    assert early.count("still_improving") / len(runs) >= 0.8, Counter(early)


# Scored once, after the labels and rules were committed (8b8ea94); accuracy on the held-out half (engine seeds
# 4-5), n in brackets: overall 83/96 = 0.865 (against the setup labels alone 88/96 = 0.917); overfitting 1.00
# (12), underfitting 1.00 (16), good_fit 0.53 (19), diverged 1.00 (20), unstable 0.83 (12), still_improving
# 0.88 (17). Below the target (0.95 overall, 0.85 per verdict). Of the 13 misses, 5 are runs set up to
# overfit whose val loss went flat (within 2-4 % of its best) while the training loss reached ~0: both readers
# read them as good fits, the diagnosis (like the setup) as overfitting, learnt by heart; 4 are the
# still-improving / good-fit boundary; 2 sequence-model good fits with a late bump read as unstable; 2
# unstable LSTMs thrashing around chance read as underfitting and overfitting.
HELD_OUT_FLOOR = {"overall": 0.86, "verdict": 0.5}


def test_per_verdict_accuracy_on_the_held_out_half():
    overall, per_verdict = _score(HOLDOUT, "held-out half (engine seeds 4-5), adjudicated labels")
    assert overall >= HELD_OUT_FLOOR["overall"]
    assert min(per_verdict.values()) >= HELD_OUT_FLOOR["verdict"], per_verdict
