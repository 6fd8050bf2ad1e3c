"""Metric series in packed chunks: idempotent per (run, key, step), truncated on resume."""

from experiments import metric_store
from experiments.services import run_launch
from tests.helpers import tiny_config


def points(steps, key="loss", offset=0.0):
    return [(s, key, float(s) + offset, 1000.0 + s) for s in steps]


def test_it_reads_back_what_was_written_in_step_order(experiment):
    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config())
    metric_store.write_points(run.pk, points([3, 4, 5]) + points([1, 2], key="acc"))
    metric_store.write_points(run.pk, points([1, 2]))
    s = metric_store.read_series([run.pk])[run.pk]
    assert s["loss"].steps.tolist() == [1, 2, 3, 4, 5]
    assert s["acc"].values.tolist() == [1.0, 2.0]


def test_resending_a_flush_does_not_duplicate_points(experiment):
    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config())
    metric_store.write_points(run.pk, points([1, 2, 3]))
    metric_store.write_points(run.pk, points([1, 2, 3], offset=0.5))
    s = metric_store.read_series([run.pk])[run.pk]["loss"]
    assert s.steps.tolist() == [1, 2, 3] and s.values.tolist() == [1.5, 2.5, 3.5]


def test_truncate_after_drops_later_points_even_inside_a_chunk(experiment):
    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config())
    metric_store.write_points(run.pk, points(range(1, 6)))
    metric_store.write_points(run.pk, points(range(6, 11)))
    metric_store.truncate_after(run.pk, 3)
    metric_store.write_points(run.pk, points(range(4, 8), offset=0.25))
    s = metric_store.read_series([run.pk])[run.pk]["loss"]
    assert s.steps.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert s.values.tolist()[3:] == [4.25, 5.25, 6.25, 7.25]


def test_since_step_returns_only_new_points(experiment):
    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config())
    metric_store.write_points(run.pk, points(range(1, 6)))
    metric_store.write_points(run.pk, points(range(6, 9)))
    s = metric_store.read_series([run.pk], since_step=6)[run.pk]["loss"]
    assert s.steps.tolist() == [7, 8]


def test_non_finite_values_are_sent_as_null(experiment):
    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config())
    metric_store.write_points(run.pk, [(1, "loss", float("nan"), 0.0), (2, "loss", 1.0, 0.0)])
    assert metric_store.read_series([run.pk])[run.pk]["loss"].as_dict()["value"] == [None, 1.0]
