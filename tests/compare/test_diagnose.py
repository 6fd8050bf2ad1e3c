"""Diagnosis wired in: `POST /api/diagnose`, the worker's summary (live and final), and a real run's verdict."""

import math

import numpy as np
import pytest

from experiments.analysis.diagnosis import VERDICTS
from workers.runner import summarize

BASE = math.log(10)


def decay(start, end, tau, n=30):
    return list(end + (start - end) * np.exp(-np.arange(n) / tau))


def overfit_curves():
    train = decay(2.0, 0.001, 5)
    val = [v + 0.03 * max(0, i - 10) for i, v in enumerate(decay(2.0, 0.3, 3))]
    return train, val


def post(client, body):
    return client.post("/api/diagnose", body, content_type="application/json")


def test_it_diagnoses_overfitting_with_evidence_and_suggestions(alice_client):
    train, val = overfit_curves()
    r = post(alice_client, {"train_loss": train, "val_loss": val, "task": "classification", "baseline_loss": BASE})
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"verdict", "evidence", "suggestions"}
    assert body["verdict"] == "overfitting"
    assert body["evidence"]["best_epoch"] < 30 and body["evidence"]["overfit_onset_epoch"] is not None
    assert body["suggestions"]


def test_null_values_are_non_finite_and_mean_diverged(alice_client):
    r = post(alice_client, {"train_loss": [2.0, 1.5, None], "val_loss": [2.1, 1.6, None], "task": "regression"})
    assert r.status_code == 200, r.content
    assert r.json()["verdict"] == "diverged"


def test_every_verdict_string_is_one_of_the_contract(alice_client):
    r = post(alice_client, {"train_loss": decay(2.0, 0.1, 4), "val_loss": decay(2.0, 0.14, 4)})
    assert r.json()["verdict"] in VERDICTS


@pytest.mark.parametrize(
    "body, field",
    [
        ({"train_loss": [], "val_loss": []}, "train_loss"),
        ({"train_loss": [1.0, 0.9], "val_loss": [1.0]}, "val_loss"),
        ({"train_loss": [1.0], "val_loss": [1.0], "task": "ranking"}, "task"),
        ({"train_loss": ["1.0"], "val_loss": [1.0]}, "train_loss"),
        ({"train_loss": [1.0], "val_loss": [True]}, "val_loss"),
        ({"train_loss": "1,2", "val_loss": [1.0]}, "train_loss"),
        ({"val_loss": [1.0]}, "train_loss"),
        ({"train_loss": [1.0], "val_loss": [1.0], "baseline_loss": -1}, "baseline_loss"),
        ({"train_loss": [1.0], "val_loss": [1.0], "baseline_loss": "big"}, "baseline_loss"),
        ({"train_loss": [1.0], "val_loss": [1.0], "train_eval_loss": [1.0, 2.0]}, "train_eval_loss"),
        ({"train_loss": [1.0], "val_loss": [1.0], "train_eval_loss": ["x"]}, "train_eval_loss"),
        ({"train_loss": [1.0], "val_loss": [1.0], "experiment_best_train_loss": -0.5}, "experiment_best_train_loss"),
        ({"train_loss": [1.0], "val_loss": [1.0], "experiment_best_train_loss": "low"}, "experiment_best_train_loss"),
        ({"train_loss": [1.0], "val_loss": [1.0], "config": "mlp"}, "config"),
        ({"train_loss": [1.0], "val_loss": [1.0], "config": {"optimizer": {"lr": -1}}}, "config.optimizer.lr"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(alice_client, body, field):
    r = post(alice_client, body)
    assert r.status_code == 422, r.content
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


def exploded():
    return [2.0, 1.5, None], [2.1, 1.6, None]


def test_suggestions_never_propose_what_the_config_already_sets(alice_client):
    train, val = exploded()
    config = {
        "dataset": {"name": "digits", "preprocessing": {"normalize": "standard"}},
        "regularization": {"grad_clip_norm": 0.5},
        "schedule": {"name": "warmup_cosine"},
    }
    body = post(alice_client, {"train_loss": train, "val_loss": val, "config": config}).json()
    assert body["verdict"] == "diverged"
    text = " ".join(body["suggestions"])
    assert "normalize" not in text and "grad_clip_norm" not in text and "warmup_cosine" not in text
    assert "optimizer.lr" in text
    # Without a config (or with raw inputs) the same run is told to normalise and clip.
    raw = {"dataset": {"name": "digits", "preprocessing": {"normalize": "none"}}}
    text = " ".join(post(alice_client, {"train_loss": train, "val_loss": val, "config": raw}).json()["suggestions"])
    assert "dataset.preprocessing.normalize standard" in text and "grad_clip_norm 1.0" in text


def test_the_experiments_best_train_loss_lowers_the_underfitting_line(alice_client):
    # A capacity-starved run: flat at half the trivial loss, no gap.
    train = decay(2.2, 0.5 * BASE, 2, 40)
    val = [v + 0.02 for v in train]
    body = {"train_loss": train, "val_loss": val, "baseline_loss": BASE}
    alone = post(alice_client, body).json()
    assert alone["verdict"] == "good_fit", alone
    known = post(alice_client, body | {"experiment_best_train_loss": 0.05 * BASE}).json()
    assert known["verdict"] == "underfitting", known
    ev = known["evidence"]
    assert ev["train_loss_level"] > ev["underfitting_line"] and ev["experiment_best_train_loss"] == pytest.approx(
        0.05 * BASE, abs=1e-3
    )
    assert any("larger model" in s for s in known["suggestions"])


def test_the_gap_is_read_from_the_eval_mode_train_loss_when_sent(alice_client):
    # Dropout makes the running train loss sit above val; measured like val, train is below it.
    val = decay(2.0, 0.20, 3)
    running = [v + 0.1 for v in val]
    measured = [v * 0.5 for v in val]
    body = post(alice_client, {"train_loss": running, "val_loss": val, "train_eval_loss": measured}).json()
    assert body["evidence"]["gap_source"] == "train_eval_loss"
    assert body["evidence"]["train_val_gap"] == pytest.approx(val[-1] - measured[-1], abs=1e-3)
    plain = post(alice_client, {"train_loss": running, "val_loss": val}).json()
    assert plain["evidence"]["gap_source"] == "train_loss" and plain["evidence"]["train_val_gap"] < 0


def test_malformed_json_is_refused_not_a_500(alice_client):
    r = alice_client.post("/api/diagnose", "{not json", content_type="application/json")
    assert r.status_code in (400, 422)


def test_diagnose_needs_a_login(client, db):
    assert post(client, {"train_loss": [1.0], "val_loss": [1.0]}).status_code == 401


def history_of(train, val, baseline=BASE):
    hist = {e + 1: {"train_loss": t, "val_loss": v} for e, (t, v) in enumerate(zip(train, val))}
    hist[1]["baseline_val_loss"] = baseline
    return hist


def test_summarize_flags_a_run_going_bad_while_it_trains():
    train, val = overfit_curves()
    summary, verdict = summarize(history_of(train, val), task="classification", finished=False)
    assert verdict == "overfitting" and summary["diagnosis"]["verdict"] == "overfitting"
    assert summary["best_epoch"] == summary["diagnosis"]["evidence"]["best_epoch"]


def test_summarize_passes_gradient_health_and_divergence():
    train, val = decay(2.0, 0.5, 4, 6), decay(2.0, 0.6, 4, 6)
    hist = history_of(train, val)
    hist[6]["grad_exploding"] = 1.0
    summary, verdict = summarize(hist, task="classification", finished=True, diverged=True)
    assert verdict == "diverged"
    assert summary["diagnosis"]["evidence"]  # JSON-safe: no NaN left in it
    assert "NaN" not in __import__("json").dumps(summary["diagnosis"])
    assert summarize({}, task="classification", finished=False) == ({}, "")


def test_summarize_reads_the_eval_mode_train_loss_and_the_config_and_records_the_minimum():
    val = decay(2.0, 0.20, 3)
    hist = history_of([v + 0.1 for v in val], val)
    for epoch, value in enumerate(val, start=1):
        hist[epoch]["train_eval_loss"] = 0.5 * value
    summary, _ = summarize(hist, task="classification", finished=True, config={"model": {"dropout": 0.5}})
    assert summary["diagnosis"]["evidence"]["gap_source"] == "train_eval_loss"
    assert summary["min_train_loss"] == pytest.approx(0.5 * min(val))


def test_summarize_passes_the_experiments_reference_to_the_diagnosis():
    train = decay(2.2, 0.5 * BASE, 2, 40)
    hist = history_of(train, [v + 0.02 for v in train])
    assert summarize(hist, task="classification", finished=True)[1] == "good_fit"
    _, verdict = summarize(hist, task="classification", finished=True, experiment_best_train_loss=0.1)
    assert verdict == "underfitting"


def test_the_experiments_best_train_loss_comes_from_other_runs_on_the_same_data(experiment):
    from experiments.models import Run
    from experiments.selectors import experiment_best_train_loss
    from experiments.services import run_launch
    from tests.helpers import tiny_config

    def launch(min_train, **overrides):
        run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config(**overrides))
        Run.objects.filter(pk=run.pk).update(summary={"min_train_loss": min_train} if min_train else {})
        return Run.objects.get(pk=run.pk)

    me = launch(0.9)
    assert experiment_best_train_loss(run=me) is None
    launch(0.30, model={"hidden": [64]})
    launch(0.05, dataset={"name": "wine"})  # other data: not comparable
    launch(0.01, loss={"name": "focal"})  # another loss: not on one scale
    launch(None, seed=3)  # no summary yet
    assert experiment_best_train_loss(run=me) == pytest.approx(0.30)


@pytest.mark.integration
def test_a_real_run_ends_with_a_verdict_and_its_page_shows_it(start_worker, alice_client, experiment):
    from experiments.models import Run
    from experiments.services import run_launch
    from tests.helpers import tiny_config, wait_for

    start_worker("w1")
    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config(epochs=4))
    run = wait_for(lambda: (r := Run.objects.get(pk=run.pk)).is_finished and r, timeout=90, message="the run to end")
    assert run.status == "succeeded", run.error
    assert run.verdict in VERDICTS
    diag = run.summary["diagnosis"]
    assert diag["verdict"] == run.verdict and "best_epoch" in diag["evidence"]
    assert run.summary["best"]["val_accuracy"] is not None
    # compacted right after the run is recorded as finished: one chunk per key
    wait_for(
        lambda: run.chunks.count() == len(set(run.chunks.values_list("key", flat=True))),
        timeout=10,
        message="the metric chunks to be compacted",
    )
    api = alice_client.get(f"/api/runs/{run.pk}").json()
    assert api["verdict"] == run.verdict
    page = alice_client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert f"verdict-{run.verdict}" in page


@pytest.mark.integration
def test_a_real_run_is_diagnosed_against_the_experiments_earlier_run_and_its_config(start_worker, experiment):
    from experiments.models import Run
    from experiments.services import run_launch
    from tests.helpers import tiny_config, wait_for

    start_worker("w1")

    def finished_run(**overrides):
        run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config(epochs=4, **overrides))
        return wait_for(lambda: (r := Run.objects.get(pk=run.pk)).is_finished and r, timeout=90, message="the run")

    first = finished_run()
    assert first.summary["min_train_loss"] > 0
    assert first.summary["diagnosis"]["evidence"]["experiment_best_train_loss"] is None
    second = finished_run(seed=1, regularization={"early_stopping_patience": 3})
    evidence = second.summary["diagnosis"]["evidence"]
    assert evidence["experiment_best_train_loss"] == pytest.approx(first.summary["min_train_loss"], abs=1e-4)
    assert not any("early_stopping_patience" in s for s in second.summary["diagnosis"]["suggestions"])
