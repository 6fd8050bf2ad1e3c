"""Diagnosis scored against learning curves of real training runs.

Stored as data and never regenerated in CI:

- ``curves/labelled_curves.json`` (``make_curves.py``): tiny PyTorch MLPs on
  scikit-learn's bundled data, each configuration pushed into one regime.
  All of it has been looked at while tuning thresholds: tuning data.
- ``curves/engine_curves.json`` (``make_engine_curves.py``): the real engine
  (``workers.training.engine.train``) on the CPU with CNN, LSTM, GRU,
  transformer and MLP regression/classification models on digits, sequence,
  diabetes, wine, breast_cancer and synthetic regression, ten seeds of each
  setup. Seeds 0-5 ("tune") have been looked at while adjusting setups and
  thresholds; seeds 6-9 ("holdout") were trained once the setups were frozen.
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

History. Each round tuned on what had been looked at, labelled fresh seeds
blind, then scored them once; the scored seeds became tuning data after.

- Round 1 held out engine seeds 2-3: 81/96 = 0.84 against their adjudicated
  labels (0.93 against the setup labels); per verdict overfitting 0.74,
  underfitting 1.00, good_fit 0.50, diverged 1.00, unstable 1.00,
  still_improving 0.80.
- Round 2 had the MLP set and seeds 0-1 read blind too (every tuning label is
  adjudicated like the held-out ones), changed the rules on that set only
  (overfitting at Prechelt's GL_5 on a rise that clears the zig-zag's spread;
  still improving only while the val loss falls steadily; tune 0.90 -> 0.94)
  and held out seeds 4-5: 83/96 = 0.865 (0.917 against setup labels);
  overfitting 1.00, underfitting 1.00, good_fit 0.53, diverged 1.00, unstable
  0.83, still_improving 0.88. Five of its 13 misses were runs that learnt
  their training split by heart (training loss ~0) with a flat val loss many
  times higher: the product calls that overfitting, and so did round 1's
  readers, but round 2's readers were given a definition of overfitting that
  left that clause out, and read them as good fits.
- Round 3 tuned on seeds 0-5 and the MLP set: a val loss zig-zagging above
  the trivial loss while the training split is not learnt either is unstable
  (the product's definition: a finite loss that oscillates, even around the
  trivial level); a tail that zig-zags by under 6 % of its level has settled.
  Seeds 6-7 were read with the product's definitions (``curve_readings.json``
  keeps them), held out and scored once: 89/93 = 0.957 (3 curves without a
  majority left out); good_fit 0.80 of 10, still_improving 0.88, every other
  verdict 1.00. With about 10 curves a verdict one curve moves a verdict by
  0.1, so seeds 8-9 were then added to the held-out half, read the same way,
  with the rules left as they were; the held-out figure is seeds 6-9 pooled.
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
# The held-out curves with a majority label (setup and both readings all differ on 3 of 192).
HOLDOUT = [c for c in ENGINE if c["split"] == "holdout" and READINGS["engine"][c["key"]]["label"]]
# Regression floors: the tune half is what the thresholds were fitted on (0.933 overall, good_fit 0.78 lowest).
MIN_TUNE = {"overall": 0.93, "verdict": 0.75}


def label(curve: dict) -> str | None:
    """The curve's label: the majority of its setup label and two blind readings (None: no majority)."""
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
    for curves, least in ((TUNE, 40), (HOLDOUT, 10)):
        counts = Counter(label(c) for c in curves)
        assert set(counts) == set(VERDICTS) and min(counts.values()) >= least, counts
    archs = {c["config"]["model"]["arch"] for c in ENGINE}
    assert {"cnn", "lstm", "gru", "transformer", "mlp"} <= archs
    assert {"regression", "classification"} == {c["task"] for c in ENGINE}
    assert len({c["config"]["dataset"]["name"] for c in ENGINE}) >= 3
    assert len(HOLDOUT) == 189
    assert all(label(c) in VERDICTS for c in TUNE)  # every tuning curve has a majority label


def _score(curves: list[dict], title: str) -> tuple[float, dict[str, float]]:
    confusion = _table(curves, title)
    right = sum(confusion[v][v] for v in VERDICTS)
    return right / len(curves), {v: confusion[v][v] / max(sum(confusion[v].values()), 1) for v in VERDICTS}


def test_per_verdict_accuracy_on_the_tune_half():
    _table(MLP, "MLP set")
    _table([c for c in ENGINE if c["split"] == "tune"], "engine set, seeds 0-5")
    overall, per_verdict = _score(TUNE, "tune half, both sets")
    assert overall >= MIN_TUNE["overall"]
    assert min(per_verdict.values()) >= MIN_TUNE["verdict"], per_verdict


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


# Scored once, after the labels and rules were committed (04088dc; rules as of 5fcb3e8); accuracy on the
# held-out half (engine seeds 6-9, the 189 curves with a majority label), n in brackets: overall 180/189 =
# 0.952; overfitting 0.95 (37), underfitting 1.00 (32), good_fit 0.85 (27), diverged 1.00 (40), unstable 1.00
# (23), still_improving 0.90 (30). Seeds 8-9 alone: 91/96 = 0.948. The misses: the still-improving / good-fit
# boundary both ways (six: CNN val losses still setting small records, sequence models' last flat epochs), two
# noisy LSTMs (overfitting or unstable) and a transformer good fit with a late bump read as unstable.
HELD_OUT_FLOOR = {"overall": 0.95, "verdict": 0.85}


def test_per_verdict_accuracy_on_the_held_out_half():
    _table([c for c in HOLDOUT if c["config"]["seed"] in (6, 7)], "held out in round 3 (engine seeds 6-7)")
    _table([c for c in HOLDOUT if c["config"]["seed"] in (8, 9)], "added after it (engine seeds 8-9)")
    overall, per_verdict = _score(HOLDOUT, "held-out half (engine seeds 6-9), adjudicated labels")
    assert overall >= HELD_OUT_FLOOR["overall"]
    assert min(per_verdict.values()) >= HELD_OUT_FLOOR["verdict"], per_verdict
