"""Property: for every verdict, the reason, the evidence numbers and the suggestions agree.

Curves are drawn as a decay towards a floor, plus an optional late rise, zig-zag,
spike, collapse to chance, blow-up or non-finite epoch; the train curve measured
in eval mode, the experiment's best training loss and the run config are drawn
too. Whatever the verdict, its own evidence must not contradict it.
"""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.analysis.diagnosis import (
    GL_ALPHA,
    GL_OVERFIT,
    LARGE_GAP,
    MEMORISED,
    NOISE_AMPLITUDE,
    NOISE_SIGN_CHANGES,
    SETTLED,
    UNDERFIT_RATIO,
    VERDICTS,
    diagnose,
)

BASE = math.log(10)


@st.composite
def curves(draw):
    n = draw(st.integers(1, 60))
    t = np.arange(n, dtype=float)
    floor = draw(st.floats(0.001, 1.3)) * BASE
    start = draw(st.floats(0.6, 1.6)) * BASE
    tau = draw(st.floats(0.5, 30))
    train = floor + (start - floor) * np.exp(-t / tau)
    gap = draw(st.floats(-0.05, 0.8)) * BASE
    val = train + gap * (1 - np.exp(-t / tau))
    if draw(st.booleans()):  # val rises after some epoch: overfitting-like
        at = draw(st.integers(0, max(0, n - 1)))
        val = val + draw(st.floats(0.0, 0.05)) * BASE * np.clip(t - at, 0, None)
    if draw(st.booleans()):  # zig-zag
        amp = draw(st.floats(0.0, 0.5)) * BASE
        val = val + amp * (t % 2)
        train = train + draw(st.floats(0.0, 1.0)) * amp * ((t + 1) % 2)
    kind = draw(st.sampled_from(["none", "spike", "collapse", "blowup", "nan"]))
    at = draw(st.integers(0, max(0, n - 1)))
    if kind == "spike":
        val[at] *= draw(st.floats(1, 20))
    elif kind == "collapse":
        train[at:] = val[at:] = BASE * draw(st.floats(0.95, 1.3))
    elif kind == "blowup":
        growth = np.exp(draw(st.floats(0.1, 1.5)) * np.clip(t - at, 0, None))
        train, val = train * growth, val * growth
    train_l: list = list(train)
    val_l: list = list(val)
    if kind == "nan":
        train_l[at] = draw(st.sampled_from([None, math.nan, math.inf]))
    measured = None
    if draw(st.booleans()):
        measured = list(train * draw(st.floats(0.3, 1.2)))
    return train_l, val_l, measured


configs = st.fixed_dictionaries(
    {
        "dataset": st.fixed_dictionaries(
            {"preprocessing": st.fixed_dictionaries({"normalize": st.sampled_from(["none", "standard", "minmax"])})}
        ),
        "model": st.fixed_dictionaries(
            {
                "arch": st.sampled_from(["mlp", "cnn", "lstm"]),
                "hidden": st.lists(st.integers(1, 512), min_size=1, max_size=3),
                "dropout": st.sampled_from([0.0, 0.1, 0.5]),
                "batchnorm": st.booleans(),
                "activation": st.sampled_from(["relu", "tanh", "sigmoid"]),
            }
        ),
        "optimizer": st.fixed_dictionaries(
            {"name": st.sampled_from(["sgd", "adam", "gd"]), "lr": st.floats(1e-5, 10), "weight_decay": st.just(0.0)}
        ),
        "schedule": st.fixed_dictionaries({"name": st.sampled_from(["constant", "cosine", "warmup_cosine"])}),
        "regularization": st.fixed_dictionaries(
            {
                "l2": st.sampled_from([0.0, 1e-4, 0.1]),
                "early_stopping_patience": st.sampled_from([None, 5]),
                "grad_clip_norm": st.sampled_from([None, 0.5, 1.0, 10.0]),
            }
        ),
        "batch_size": st.integers(1, 512),
        "epochs": st.integers(1, 500),
    }
)


def check_evidence(verdict: str, ev: dict, nonfinite: bool) -> None:
    """The verdict's own numbers back it (epochs 1-based, rounded as stored)."""
    if verdict == "diverged":
        assert ev["diverged_epoch"] is not None
        assert nonfinite or (ev.get("growth") or 0) >= 3, ev
        assert ("non-finite" in ev["reason"]) == (ev.get("growth") is None)
        return
    assert not nonfinite, "a non-finite loss is always diverged"
    if verdict == "still_improving":
        gl = ev["generalization_loss"]
        assert gl is None or gl <= GL_ALPHA, f"still improving, but val loss {gl} % above its best"
    if verdict == "good_fit":
        assert ev["train_loss_level"] <= ev["underfitting_line"] + 1e-3, ev
        assert ev["train_relative_to_baseline"] < UNDERFIT_RATIO
    if verdict == "underfitting":
        above_line = ev["train_loss_level"] >= ev["underfitting_line"] - 1e-3
        assert above_line or ev["train_relative_to_baseline"] >= UNDERFIT_RATIO - 1e-3, ev
    if verdict == "overfitting":
        gl, gap, level = ev["smoothed_generalization_loss"], ev["smoothed_train_val_gap"], ev["train_loss_level"]
        memorised = level <= MEMORISED * ev["baseline_loss"] + 1e-4 and gap > 0
        assert (gl is not None and gl > GL_OVERFIT) or gap >= LARGE_GAP * ev["baseline_loss"] - 1e-3 or memorised, ev
    if verdict == "unstable":
        zigzag = ev["noise"] >= NOISE_AMPLITUDE and ev["noise_sign_changes"] >= NOISE_SIGN_CHANGES
        zigzag = zigzag and ev["noise_at_end"] > SETTLED
        went_up = ev["generalization_loss"] is not None and ev["generalization_loss"] > GL_ALPHA
        assert ev["collapsed_to_chance"] or zigzag or went_up, ev
        assert ("collapsed to chance" in ev["reason"]) == ev["collapsed_to_chance"]
    else:
        assert ev["collapsed_to_chance"] is False


def check_suggestions(suggestions: list[str], config: dict) -> None:
    """Nothing already set is proposed, and nothing twice."""
    assert suggestions and len(suggestions) == len(set(suggestions))
    text = " ".join(suggestions)
    if config["dataset"]["preprocessing"]["normalize"] != "none":
        assert "normalize" not in text
    if config["model"]["batchnorm"]:
        assert "model.batchnorm" not in text
    if config["model"]["activation"] == "relu":
        assert "model.activation" not in text
    if config["model"]["dropout"] >= 0.3:
        assert "add dropout" not in text
    if config["regularization"]["early_stopping_patience"]:
        assert "early_stopping_patience" not in text
    clip = config["regularization"]["grad_clip_norm"]
    if clip is not None and clip <= 1.0:
        assert "grad_clip_norm" not in text
    if config["schedule"]["name"] == "warmup_cosine":
        assert "warmup_cosine" not in text
    if config["schedule"]["name"] != "constant":
        assert "use a schedule" not in text
    if config["optimizer"]["name"] == "adam":
        assert "switch to adam" not in text
    if config["regularization"]["l2"]:
        assert "add an L2" not in text
    else:
        assert "regularization.l2 " not in text.replace("add an L2 penalty (regularization.l2 1e-4)", "")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    curves(),
    configs,
    st.one_of(st.none(), st.floats(0.0, 1.5).map(lambda r: r * BASE)),
    st.booleans(),
    st.sampled_from([None, "ok", "vanishing", "exploding"]),
)
def test_every_verdict_agrees_with_its_evidence_and_its_suggestions_with_the_config(
    drawn, config, reference, finished, grad
):
    train, val, measured = drawn
    d = diagnose(
        train,
        val,
        baseline_loss=BASE,
        finished=finished,
        grad_health=grad,
        train_eval_loss=measured,
        config=config,
        experiment_best_train_loss=reference,
    )
    assert d.verdict in VERDICTS
    json.dumps(d.as_dict(), allow_nan=False)
    nonfinite = any(v is None or not math.isfinite(v) for v in [*train, *val])
    check_evidence(d.verdict, d.evidence, nonfinite)
    check_suggestions(d.suggestions, config)


def test_the_tutorial_run_is_not_still_improving_when_its_val_loss_is_back_above_its_best():
    # Real curves of the tutorial MLP (digits, 256-128, BN, dropout 0.5, Adam 1e-3, 30 epochs, seed 0):
    # 98 % val accuracy, best epoch 27, flat since epoch 15. It was called still_improving.
    train = [1.613, 0.823, 0.538, 0.401, 0.311, 0.274, 0.237, 0.208, 0.187, 0.186, 0.158, 0.152, 0.132, 0.127, 0.121]
    train += [0.122, 0.111, 0.097, 0.093, 0.09, 0.092, 0.084, 0.08, 0.075, 0.083, 0.064, 0.07, 0.072, 0.068, 0.077]
    val = [0.907, 0.498, 0.321, 0.23, 0.192, 0.166, 0.148, 0.133, 0.116, 0.104, 0.122, 0.11, 0.121, 0.128, 0.112]
    val += [0.108, 0.097, 0.112, 0.106, 0.106, 0.102, 0.096, 0.103, 0.103, 0.072, 0.072, 0.067, 0.072, 0.078, 0.081]
    config = {
        "dataset": {"name": "digits", "preprocessing": {"normalize": "standard"}},
        "model": {"arch": "mlp", "hidden": [256, 128], "dropout": 0.5, "batchnorm": True, "activation": "relu"},
        "optimizer": {"name": "adam", "lr": 0.001},
        "schedule": {"name": "constant"},
        "regularization": {"l2": 0.0, "early_stopping_patience": None, "grad_clip_norm": None},
        "epochs": 30,
    }
    d = diagnose(train, val, baseline_loss=BASE, config=config)
    assert d.verdict == "good_fit", d.evidence
    assert d.evidence["best_epoch"] == 27
    assert not any("train longer" in s for s in d.suggestions)
