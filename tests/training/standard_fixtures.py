"""Small standard-set files in each set's exact on-disk format, with classes a model can learn.

Nothing is downloaded: these are written by the tests and read through the
same readers as the real files. Their checksums differ from the official ones,
so `official_sums_replaced` swaps the expected MD5s for the fixtures' own.
"""

from __future__ import annotations

import contextlib
import csv
import pathlib
import pickle

import numpy as np

from workers.training import datasets

WORDS = [
    ["goal", "match", "team", "coach"],
    ["stock", "market", "bank", "profit"],
    ["rocket", "software", "chip", "robot"],
    ["election", "treaty", "minister", "war"],
]
FILLER = ["the", "a", "of", "today", "new", "report", "said", "on", "in", "after"]


def patterned_images(n: int, channels: int, size: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 N×C×H×W noise with a bright 3-row bar whose position depends on the class; in colour, the
    noise is also tinted by class, so the class survives random crops and flips."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.integers(0, 60, (n, channels, size, size)).astype(np.uint8)
    if channels == 3:
        tint = np.random.default_rng(99).integers(0, 120, (classes, 3, 1, 1)).astype(np.uint8)
        x += tint[y]
    rows = 2 + (y * (size - 6)) // max(classes - 1, 1)
    for dr in range(3):
        x[np.arange(n), :, rows + dr, 4 : size - 4] = 200
    return x, y.astype(np.int64)


def write_mnist(folder: pathlib.Path, n_train: int = 240, n_test: int = 120) -> pathlib.Path:
    """The 4 gzipped IDX files of MNIST/Fashion-MNIST, as torchvision's raw/ folder holds them."""
    folder.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr = patterned_images(n_train, 1, 28, 10, 1)
    x_te, y_te = patterned_images(n_test, 1, 28, 10, 2)
    for name, array in zip(
        datasets.MNIST_FILES, (x_tr[:, 0], y_tr.astype(np.uint8), x_te[:, 0], y_te.astype(np.uint8))
    ):
        datasets.write_idx(folder / name, array)
    return folder


def write_cifar(folder: pathlib.Path, per_batch: int = 40, n_test: int = 100) -> pathlib.Path:
    """cifar-10-batches-py/ with data_batch_1..5, test_batch and batches.meta, pickled as the real ones are."""
    root = folder / datasets.CIFAR_DIR
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate([*datasets.CIFAR_TRAIN, "test_batch"]):
        x, y = patterned_images(n_test if name == "test_batch" else per_batch, 3, 32, 10, 10 + i)
        batch = {
            "batch_label": f"batch {i}",
            "labels": y.tolist(),
            "data": x.reshape(len(x), -1),
            "filenames": [f"img{j}.png" for j in range(len(x))],
        }
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {
        "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        "num_cases_per_batch": per_batch,
        "num_vis": 3072,
    }
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def topic_texts(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Short texts whose topic (0..3) shows in a few keywords among filler words."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    texts = []
    for label in y:
        words = list(rng.choice(FILLER, 6)) + list(rng.choice(WORDS[label], 3))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
    return texts, y


def write_ag_news(folder: pathlib.Path, n_train: int = 400, n_test: int = 120) -> pathlib.Path:
    """train.csv and test.csv as the AG News distribution has them: "class","title","description", no header."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, seed in (("train.csv", n_train, 3), ("test.csv", n_test, 4)):
        texts, y = topic_texts(n, seed)
        with open(folder / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, quoting=csv.QUOTE_ALL)
            for text, label in zip(texts, y):
                title, _, body = text.partition(" ")
                writer.writerow([int(label) + 1, title, body])
    return folder


WRITERS = {"mnist": write_mnist, "fashion_mnist": write_mnist, "cifar10": write_cifar, "ag_news": write_ag_news}


@contextlib.contextmanager
def official_sums_replaced(name: str, folder: pathlib.Path):
    """Expect the fixture files' own MD5s for `name` while the block runs (the real lists stay as they are)."""
    original = datasets.SETS[name]
    sums = {rel: datasets.md5(datasets._find(folder, rel)) for rel in original.files}
    datasets.SETS[name] = datasets.StandardSet(
        original.name, original.title, sums, original.url, original.archive, original.classes
    )
    try:
        yield
    finally:
        datasets.SETS[name] = original
