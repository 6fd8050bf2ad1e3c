"""Datasets and preprocessing: arrays in, training/validation tensors out.

Everything is bundled with scikit-learn or generated; nothing is downloaded.
Cleaning, imputation, normalisation (and the regression target's scaling) are
fitted on the training split only, so validation numbers never see it.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

from .batches import Dataset
from .config import IMAGE_DATASETS, SEQUENCE_ARCHS, TEXT_DATASETS, RunConfig, Task
from .csvdata import read_csv_table
from .mediadata import image_dataset, text_dataset

# The synthetic sequence task: SEQ_LEN steps of SEQ_FEATURES features.
SEQ_LEN, SEQ_FEATURES = 12, 3


@dataclass
class RawData:
    """A flat table before splitting: X (rows × features, may hold NaN) and y."""

    X: np.ndarray
    y: np.ndarray
    task: Task
    # One sample's natural shape when it is an image or a sequence.
    image_shape: Optional[tuple[int, ...]] = None
    sequence_shape: Optional[tuple[int, int]] = None


def _sequence_task(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Label: did feature 0 sum higher over the first half of the sequence than the second?

    The answer depends on where in the sequence values occur, so a model must
    use the order of the steps.
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, SEQ_LEN, SEQ_FEATURES)).astype(np.float32)
    half = SEQ_LEN // 2
    y = (x[:, :half, 0].sum(1) > x[:, half:, 0].sum(1)).astype(np.int64)
    return x.reshape(n, -1), y


def _bundled(name: str, n: int, n_features: int) -> RawData:
    if name == "digits":
        X, y = skd.load_digits(return_X_y=True)
        return RawData(X, y, "classification", image_shape=(1, 8, 8), sequence_shape=(8, 8))
    if name in ("iris", "wine", "breast_cancer"):
        X, y = getattr(skd, f"load_{name}")(return_X_y=True)
        return RawData(X, y, "classification")
    if name == "diabetes":
        X, y = skd.load_diabetes(return_X_y=True)
        return RawData(X, y, "regression")
    if name == "synthetic_classification":
        X, y = skd.make_classification(
            n, n_features=n_features, n_informative=min(10, n_features), n_redundant=0, n_classes=3, random_state=0
        )
        return RawData(X, y, "classification")
    if name == "synthetic_regression":
        X, y = skd.make_regression(
            n, n_features=n_features, n_informative=min(10, n_features), noise=10.0, random_state=0
        )
        return RawData(X, y, "regression")
    if name == "moons":
        X, y = skd.make_moons(n, noise=0.2, random_state=0)
        return RawData(X, y, "classification")
    if name == "sequence":
        X, y = _sequence_task(n)
        return RawData(X, y, "classification", sequence_shape=(SEQ_LEN, SEQ_FEATURES))
    raise ValueError(f"dataset: unknown dataset '{name}'")


def raw_data(config: RunConfig, data_dir: Optional[pathlib.Path] = None) -> RawData:
    """The dataset named in the config as one flat table (no split, no scaling yet)."""
    ds = config.dataset
    if ds.name != "csv":
        return _bundled(ds.name, ds.n_samples, ds.n_features)
    if data_dir is None:
        raise ValueError("dataset: an uploaded CSV needs the upload directory (data_dir)")
    X, y, task = read_csv_table(
        pathlib.Path(data_dir) / f"{ds.upload}.csv", ds.target, ds.task, one_hot=ds.preprocessing.one_hot
    )
    return RawData(X, y, task)


def clean(raw: RawData, *, impute: str, drop_duplicates: bool) -> RawData:
    """Row-level cleaning done before the split: duplicates and (if asked) rows with gaps."""
    X, y = raw.X, raw.y
    if drop_duplicates:
        # Row keys with NaN as None: np.unique treats NaN rows as distinct, so duplicates with gaps would stay.
        seen, keep = set(), []
        for i, row in enumerate(np.column_stack([X, y]).tolist()):
            key = tuple(None if v != v else v for v in row)
            if key not in seen:
                seen.add(key)
                keep.append(i)
        X, y = X[keep], y[keep]
    if impute == "drop":
        keep = ~np.isnan(X).any(axis=1)
        X, y = X[keep], y[keep]
    if len(X) < 4:
        raise ValueError("dataset: fewer than 4 rows left after cleaning")
    return RawData(X, y, raw.task, raw.image_shape, raw.sequence_shape)


def fit_imputer(X_train: np.ndarray, how: str) -> Callable[[np.ndarray], np.ndarray]:
    """Fill NaN with the training split's column mean/median ('none'/'drop' fill with 0 if any remain)."""
    with np.errstate(all="ignore"):
        if how == "median":
            fill = np.nanmedian(X_train, axis=0)
        elif how == "mean":
            fill = np.nanmean(X_train, axis=0)
        else:
            fill = np.zeros(X_train.shape[1])
    fill = np.where(np.isnan(fill), 0.0, fill)  # an all-missing column becomes 0

    def apply(X: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(X), fill, X)

    return apply


def fit_scaler(X_train: np.ndarray, how: str) -> Callable[[np.ndarray], np.ndarray]:
    """Standard or min-max scaling with statistics of the training split only."""
    if how == "standard":
        shift, scale = X_train.mean(0), X_train.std(0)
    elif how == "minmax":
        shift, scale = X_train.min(0), X_train.max(0) - X_train.min(0)
    else:
        shift, scale = np.zeros(X_train.shape[1]), np.ones(X_train.shape[1])
    scale = np.where(scale > 1e-12, scale, 1.0)  # constant columns stay finite

    def apply(X: np.ndarray) -> np.ndarray:
        return (X - shift) / scale

    return apply


def input_shape(raw: RawData, arch: str, dataset: str) -> tuple[int, ...]:
    """How one row is shaped for the architecture; refuses pairs that cannot work."""
    if arch == "cnn":
        if raw.image_shape is None:
            raise ValueError(f"model.arch: cnn needs image data (digits), not dataset '{dataset}'")
        return raw.image_shape
    if arch in SEQUENCE_ARCHS:
        if raw.sequence_shape is None:
            raise ValueError(f"model.arch: {arch} needs sequence data (sequence or digits), not dataset '{dataset}'")
        return raw.sequence_shape
    return (raw.X.shape[1],)


def load_dataset(config: RunConfig, data_dir: Optional[pathlib.Path] = None) -> Dataset:
    """Load, clean, split, impute and scale the configured dataset; return CPU tensors.

    The split is stratified for classification and depends on the config's seed.
    Image and text sets (standard or uploaded) are built in `mediadata`.
    """
    if config.dataset.name in TEXT_DATASETS:
        return text_dataset(config, data_dir)
    if config.dataset.name in IMAGE_DATASETS - {"digits"}:
        return image_dataset(config, data_dir)
    pre = config.dataset.preprocessing
    raw = clean(raw_data(config, data_dir), impute=pre.impute, drop_duplicates=pre.drop_duplicates)
    raw.X = raw.X.astype(np.float64)
    shape = input_shape(raw, config.model.arch, config.dataset.name)
    classification = raw.task == "classification"
    stratify = raw.y if classification and np.unique(raw.y, return_counts=True)[1].min() >= 2 else None
    X_tr, X_va, y_tr, y_va = train_test_split(
        raw.X, raw.y, test_size=config.dataset.val_fraction, random_state=config.seed, stratify=stratify
    )
    impute = fit_imputer(X_tr, pre.impute)
    X_tr, X_va = impute(X_tr), impute(X_va)
    scale = fit_scaler(X_tr, pre.normalize)
    X_tr, X_va = scale(X_tr), scale(X_va)
    y_scale = 1.0
    if classification:
        yt, yv = torch.as_tensor(y_tr, dtype=torch.long), torch.as_tensor(y_va, dtype=torch.long)
        n_classes = int(max(raw.y.max() + 1, 2))
    else:
        # Scaled targets let one learning rate suit every regression set; errors are reported in target units.
        mu, sd = (y_tr.mean(), y_tr.std() or 1.0) if pre.normalize != "none" else (0.0, 1.0)
        y_scale = float(sd)
        yt = torch.as_tensor((y_tr - mu) / sd, dtype=torch.float32)
        yv = torch.as_tensor((y_va - mu) / sd, dtype=torch.float32)
        n_classes = None

    def tensor(X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(X, dtype=torch.float32).reshape(len(X), *shape)

    return Dataset(tensor(X_tr), yt, tensor(X_va), yv, raw.task, n_classes, shape, y_scale)


def baseline_loss(loss_fn: Callable, y_train: torch.Tensor, y_val: torch.Tensor, n_outputs: int, task: Task) -> float:
    """Loss of the trivial model on the validation split, under the run's own loss function.

    Classification: constant logits equal to the training class prior (log p),
    so cross-entropy gives the prior's entropy on val. Regression: always
    predicting the training mean. A model that cannot beat this learned nothing.
    """
    n = len(y_val)
    if task == "classification":
        counts = torch.bincount(y_train, minlength=max(n_outputs, 2)).double() + 1e-3
        prior = counts / counts.sum()
        if n_outputs == 1:  # a single binary logit: log-odds of class 1
            logits = torch.full((n, 1), float(torch.log(prior[1] / prior[0])))
        else:
            logits = torch.log(prior).float().expand(n, n_outputs)
    else:
        logits = torch.full((n, 1), float(y_train.mean()))
    with torch.no_grad():
        return float(loss_fn(logits.float(), y_val))
