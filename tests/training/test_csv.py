"""Uploaded CSVs: conversion (one-hot, label encoding), cleaning, inference of the task and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.conftest import make_config
from workers.training import csvdata
from workers.training.csvdata import inspect_csv, read_csv_table, validate_csv
from workers.training.data import load_dataset
from workers.training.engine import train
from workers.training.reporter import NullReporter

ROWS = [
    ("1.0", "red", "3", "yes", "10.5"),
    ("2.0", "blue", "", "no", "11.0"),
    ("", "green", "5", "yes", "12.5"),
    ("4.0", "red", "6", "no", "9.0"),
    ("5.0", "blue", "7", "yes", "14.0"),
    ("6.0", "green", "8", "no", "8.5"),
    ("7.0", "red", "9", "yes", "13.0"),
    ("8.0", "blue", "NA", "no", "7.0"),
]


def write_csv(path, rows=ROWS, header=("size", "color", "count", "label", "price")):
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


@pytest.fixture
def upload(tmp_path):
    return write_csv(tmp_path / "7.csv")


def test_it_one_hot_encodes_text_columns_and_label_encodes_the_target(upload):
    X, y, task = read_csv_table(upload, "label", None)
    assert task == "classification"
    assert X.shape == (8, 1 + 3 + 1 + 1)  # size, color one-hot (blue, green, red), count, price
    np.testing.assert_array_equal(X[0, 1:4], [0, 0, 1])  # red
    np.testing.assert_array_equal(y, [1, 0, 1, 0, 1, 0, 1, 0])  # no → 0, yes → 1 (sorted)
    assert np.isnan(X[2, 0]) and np.isnan(X[1, 4]) and np.isnan(X[7, 4])  # gaps left for the imputer


def test_it_infers_the_task_from_the_target(upload):
    info = inspect_csv(upload)
    tasks = {c["name"]: c["task"] for c in info["columns"]}
    assert info["rows"] == 8
    assert tasks == {
        "size": "classification",
        "color": "classification",
        "count": "classification",
        "label": "classification",
        "price": "regression",
    }
    assert {c["name"]: c["kind"] for c in info["columns"]}["color"] == "categorical"
    assert {c["name"]: c["missing"] for c in info["columns"]}["count"] == 2


def test_a_chosen_task_overrides_the_inferred_one(upload):
    _, y, task = read_csv_table(upload, "size", "regression")
    assert task == "regression" and y.dtype == np.float64 and len(y) == 7  # the row without a size is dropped


@pytest.mark.parametrize(
    "target,task,message",
    [("nope", None, "no column named 'nope'"), ("color", "regression", "holds text")],
)
def test_it_refuses_an_unusable_target(upload, target, task, message):
    with pytest.raises(ValueError, match=message):
        validate_csv(upload, target, task)


def test_it_refuses_a_constant_target(tmp_path):
    path = write_csv(tmp_path / "c.csv", rows=[("1", "a", "1", "same", "2")] * 5)
    with pytest.raises(ValueError, match="constant"):
        validate_csv(path, "label")


def test_it_refuses_a_text_column_with_too_many_values(tmp_path, monkeypatch):
    monkeypatch.setattr(csvdata, "MAX_CATEGORIES", 2)
    with pytest.raises(ValueError, match="column 'color' has 3 distinct text values"):
        validate_csv(write_csv(tmp_path / "t.csv"), "price")


def test_it_refuses_text_columns_when_one_hot_is_off(upload):
    with pytest.raises(ValueError, match="one_hot: column 'color'"):
        read_csv_table(upload, "price", None, one_hot=False)


def test_it_refuses_files_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(csvdata, "MAX_ROWS", 5)
    with pytest.raises(ValueError, match="Too many rows: 8; at most 5"):
        validate_csv(write_csv(tmp_path / "r.csv"), "label")
    monkeypatch.setattr(csvdata, "MAX_COLUMNS", 4)
    with pytest.raises(ValueError, match="Too many columns: 5; at most 4"):
        validate_csv(write_csv(tmp_path / "r.csv"), "label")


def test_it_refuses_ragged_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match="Row 3: 1 cells, but the header has 2"):
        inspect_csv(path)


def _csv_config(**preprocessing):
    return make_config(
        dataset={
            "name": "csv",
            "upload": 7,
            "target": "price",
            "task": "regression",
            "val_fraction": 0.25,
            "preprocessing": {"normalize": "none", **preprocessing},
        },
        loss={"name": "mse"},
    )


def test_missing_values_are_imputed_with_the_training_median(upload):
    data = load_dataset(_csv_config(impute="median"), upload.parent)
    assert not torch_isnan(data.X_train) and not torch_isnan(data.X_val)
    assert len(data.X_train) + len(data.X_val) == 8


def test_rows_with_gaps_can_be_dropped(upload):
    data = load_dataset(_csv_config(impute="drop"), upload.parent)
    assert len(data.X_train) + len(data.X_val) == 5


def test_duplicate_rows_can_be_dropped(tmp_path):
    write_csv(tmp_path / "7.csv", rows=ROWS + ROWS[:3])
    with_dupes = load_dataset(_csv_config(), tmp_path)
    without = load_dataset(_csv_config(drop_duplicates=True), tmp_path)
    assert len(with_dupes.y_train) + len(with_dupes.y_val) == 11
    assert len(without.y_train) + len(without.y_val) == 8


def test_a_csv_run_trains_end_to_end(upload):
    config = make_config(dataset={"name": "csv", "upload": 7, "target": "label"}, batch_size=4, epochs=2)
    result = train(config, NullReporter(), data_dir=upload.parent)
    assert result.status == "completed" and result.task == "classification"


def torch_isnan(t) -> bool:
    return bool(t.isnan().any())
