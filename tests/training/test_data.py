"""Datasets and preprocessing: shapes per architecture, scaling fitted on the training split only, cleaning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tests.training.conftest import make_config
from workers.training.data import fit_imputer, load_dataset


@pytest.mark.parametrize(
    "name,task,n_classes,features",
    [
        ("digits", "classification", 10, 64),
        ("iris", "classification", 3, 4),
        ("wine", "classification", 3, 13),
        ("breast_cancer", "classification", 2, 30),
        ("diabetes", "regression", None, 10),
        ("synthetic_classification", "classification", 3, 20),
        ("synthetic_regression", "regression", None, 20),
        ("moons", "classification", 2, 2),
        ("sequence", "classification", 2, 36),
    ],
)
def test_it_loads_each_bundled_dataset(name, task, n_classes, features):
    loss = "mse" if task == "regression" else "cross_entropy"
    data = load_dataset(make_config(dataset={"name": name, "n_samples": 200}, loss={"name": loss}))
    assert data.task == task and data.n_classes == n_classes
    assert data.input_shape == (features,)
    assert data.X_train.dtype == torch.float32 and data.X_train.shape[1:] == (features,)
    assert len(data.X_val) == pytest.approx(0.2 * (len(data.X_train) + len(data.X_val)), abs=1)


@pytest.mark.parametrize(
    "name,arch,shape",
    [
        ("digits", "cnn", (1, 8, 8)),
        ("digits", "lstm", (8, 8)),
        ("digits", "transformer", (8, 8)),
        ("sequence", "gru", (12, 3)),
        ("sequence", "mlp", (36,)),
    ],
)
def test_it_shapes_rows_for_the_architecture(name, arch, shape):
    data = load_dataset(make_config(dataset={"name": name, "n_samples": 100}, model={"arch": arch, "hidden": [8]}))
    assert data.input_shape == shape and data.X_train.shape[1:] == shape


@pytest.mark.parametrize("arch,dataset", [("cnn", "iris"), ("lstm", "wine"), ("transformer", "diabetes")])
def test_it_refuses_an_architecture_that_cannot_read_the_dataset(arch, dataset):
    loss = {"name": "mse"} if dataset == "diabetes" else {}
    with pytest.raises(ValidationError, match="model.arch"):
        make_config(dataset={"name": dataset}, model={"arch": arch, "hidden": [8]}, loss=loss)


def _split_digits(seed=0):
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)


def test_standard_scaling_uses_training_statistics_only():
    data = load_dataset(make_config(dataset={"preprocessing": {"normalize": "standard"}}))
    X_tr, X_va, _, _ = _split_digits()
    mu, sd = X_tr.mean(0), X_tr.std(0)
    sd[sd < 1e-12] = 1.0
    np.testing.assert_allclose(data.X_val.numpy(), (X_va - mu) / sd, rtol=1e-5, atol=1e-5)
    live = X_tr.std(0) > 0
    np.testing.assert_allclose(data.X_train.numpy().mean(0)[live], 0, atol=1e-5)
    assert np.abs(data.X_val.numpy().mean(0)[live]).max() > 0.01  # val was not re-centred on itself


def test_minmax_scaling_maps_the_training_range_to_0_1():
    data = load_dataset(make_config(dataset={"preprocessing": {"normalize": "minmax"}}))
    X_tr, X_va, _, _ = _split_digits()
    lo, span = X_tr.min(0), X_tr.max(0) - X_tr.min(0)
    span[span == 0] = 1.0
    assert data.X_train.min() == 0 and data.X_train.max() == 1
    np.testing.assert_allclose(data.X_val.numpy(), (X_va - lo) / span, rtol=1e-5, atol=1e-6)


def test_no_normalisation_keeps_the_raw_values():
    data = load_dataset(make_config(dataset={"preprocessing": {"normalize": "none"}}))
    X_tr, _, y_tr, _ = _split_digits()
    np.testing.assert_array_equal(data.X_train.numpy(), X_tr.astype(np.float32))
    np.testing.assert_array_equal(data.y_train.numpy(), y_tr)


def test_the_split_depends_on_the_seed():
    a, b = load_dataset(make_config(seed=0)), load_dataset(make_config(seed=1))
    assert not torch.equal(a.y_val, b.y_val)


def test_regression_targets_are_scaled_by_the_training_split():
    data = load_dataset(make_config(dataset={"name": "diabetes"}, loss={"name": "mse"}))
    assert data.y_train.mean().abs() < 1e-5 and data.y_train.std(unbiased=False) == pytest.approx(1, abs=1e-4)
    assert data.y_scale == pytest.approx(77, abs=5)  # diabetes progression's std, in its own units


@pytest.mark.parametrize("how,fill", [("mean", 2.0), ("median", 1.0)])
def test_imputation_fills_gaps_with_the_training_statistic(how, fill):
    X_train = np.array([[1.0, np.nan], [1.0, 5.0], [4.0, 5.0]])
    apply = fit_imputer(X_train, how)
    np.testing.assert_array_equal(apply(np.array([[np.nan, np.nan]])), [[fill, 5.0]])
