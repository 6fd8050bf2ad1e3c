"""Image and text datasets for the engine: the store's standard sets and a team's uploads.

Standard sets keep their official split: their test split is the validation
split, as the published accuracies next to the presets are test accuracies.
Uploads are split by the config's val_fraction and seed (stratified).
Image statistics and the text vocabulary come from the training split only.
"""

from __future__ import annotations

import pathlib
from typing import Optional

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from . import datasets as store
from .batches import Dataset, Images, channel_stats
from .config import RunConfig
from .images import load_image_set
from .text import build_vocab, encode, read_text_csv


def _split(n: int, y: np.ndarray, config: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/val row indices of an upload, a function of the seed."""
    stratify = y if np.unique(y, return_counts=True)[1].min() >= 2 else None
    return train_test_split(
        np.arange(n), test_size=config.dataset.val_fraction, random_state=config.seed, stratify=stratify
    )


def image_holders(x_tr: np.ndarray, x_va: np.ndarray, normalize: str) -> tuple[Images, Images]:
    """uint8 holders normalised per batch: per-channel standardisation (training split), /255, or raw values."""
    c = x_tr.shape[1]
    if normalize == "standard":
        mean, std = channel_stats(x_tr)
    elif normalize == "minmax":
        mean, std = np.zeros(c), np.full(c, 255.0)
    else:
        mean, std = np.zeros(c), np.ones(c)
    return (
        Images(torch.from_numpy(np.ascontiguousarray(x_tr)), mean, std),
        Images(torch.from_numpy(np.ascontiguousarray(x_va)), mean, std),
    )


def image_dataset(
    config: RunConfig, upload_dir: Optional[pathlib.Path], store_dir: Optional[pathlib.Path] = None
) -> Dataset:
    """MNIST / Fashion-MNIST / CIFAR-10 from the store, or a team's decoded image ZIP (upload_dir/<id>.npz)."""
    ds = config.dataset
    if ds.name == "images":
        if upload_dir is None:
            raise ValueError("dataset: an uploaded image set needs the upload directory (data_dir)")
        s = load_image_set(pathlib.Path(upload_dir) / f"{ds.upload}.npz")
        tr, va = _split(len(s.y), s.y, config)
        x_tr, y_tr, x_va, y_va, classes = s.x[tr], s.y[tr], s.x[va], s.y[va], s.classes
    else:
        d = store.load_standard(ds.name, store_dir or store.default_data_dir())
        x_tr, y_tr, x_va, y_va, classes = d.train, d.y_train, d.test, d.y_test, d.classes
    X_tr, X_va = image_holders(x_tr, x_va, ds.preprocessing.normalize)
    n_classes = max(len(classes), int(max(y_tr.max(), y_va.max())) + 1, 2)
    return Dataset(
        X_tr,
        torch.as_tensor(y_tr, dtype=torch.long),
        X_va,
        torch.as_tensor(y_va, dtype=torch.long),
        "classification",
        n_classes,
        tuple(x_tr.shape[1:]),
    )


def text_dataset(
    config: RunConfig, upload_dir: Optional[pathlib.Path], store_dir: Optional[pathlib.Path] = None
) -> Dataset:
    """AG News from the store, or a team's text CSV (upload_dir/<id>.csv), as token ids N×max_tokens."""
    ds = config.dataset
    if ds.name == "text":
        if upload_dir is None:
            raise ValueError("dataset: an uploaded text CSV needs the upload directory (data_dir)")
        t = read_text_csv(
            pathlib.Path(upload_dir) / f"{ds.upload}.csv", text_column=ds.text_column, label_column=ds.target
        )
        tr, va = _split(len(t.labels), t.labels, config)
        texts_tr, y_tr = [t.texts[i] for i in tr], t.labels[tr]
        texts_va, y_va, classes = [t.texts[i] for i in va], t.labels[va], t.classes
    else:
        d = store.load_standard(ds.name, store_dir or store.default_data_dir())
        texts_tr, y_tr, texts_va, y_va, classes = d.train, d.y_train, d.test, d.y_test, d.classes
    vocab = build_vocab(texts_tr, ds.vocab_size)
    X_tr = torch.from_numpy(encode(texts_tr, vocab, ds.max_tokens))
    X_va = torch.from_numpy(encode(texts_va, vocab, ds.max_tokens))
    data = Dataset(
        X_tr,
        torch.as_tensor(y_tr, dtype=torch.long),
        X_va,
        torch.as_tensor(y_va, dtype=torch.long),
        "classification",
        max(len(classes), 2),
        (ds.max_tokens,),
    )
    data.vocab_size = len(vocab) + 2
    return data
