"""The dataset store shared by the workers: standard sets fetched (or copied by hand) once, checked, read offline.

Layout under the store directory (LOSSLAB_DATA_DIR, default VAR_DIR/datasets):
``<name>/<file>`` with exactly the files of the set's official distribution
(the names and MD5 checksums torchvision and torchtext use). A set directory
only ever appears by an atomic rename of a fully written and verified temp
directory, so a directory that exists is complete; nothing half-written stays.

torchvision's own dataset classes are not used: its wheel for torch 2.13.0
fails to import beside the CPU torch wheel ("operator torchvision::nms does
not exist"). The formats are small (gzipped IDX, pickled CIFAR batches, AG
News CSV) and read here, through one code path for real and test files.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import pathlib
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Optional

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


@dataclass(frozen=True)
class StandardSet:
    """One standard dataset: its files (relative path → MD5) and where `fetch` finds them."""

    name: str
    title: str
    files: dict[str, str]
    url: str  # base URL of the files, or of the archive when `archive` is set
    archive: Optional[tuple[str, str]] = None  # (file name, MD5) of a .tar.gz holding the files
    classes: tuple[str, ...] = ()


SETS: dict[str, StandardSet] = {
    "mnist": StandardSet(
        "mnist",
        "MNIST handwritten digits, 60,000 + 10,000 images 1×28×28",
        dict(
            zip(
                MNIST_FILES,
                (
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
            )
        ),
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        classes=tuple(str(i) for i in range(10)),
    ),
    "fashion_mnist": StandardSet(
        "fashion_mnist",
        "Fashion-MNIST clothing, 60,000 + 10,000 images 1×28×28",
        dict(
            zip(
                MNIST_FILES,
                (
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
            )
        ),
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
    "cifar10": StandardSet(
        "cifar10",
        "CIFAR-10 objects, 50,000 + 10,000 images 3×32×32",
        {
            f"{CIFAR_DIR}/{k}": v
            for k, v in {
                "data_batch_1": "c99cafc152244af753f735de768cd75f",
                "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
                "data_batch_4": "634d18415352ddfa80567beed471001a",
                "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
                "test_batch": "40351d587109b95175f43aff81a1287e",
                "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
            }.items()
        },
        "https://www.cs.toronto.edu/~kriz/",
        archive=("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
    ),
    "ag_news": StandardSet(
        "ag_news",
        "AG News headlines + descriptions, 120,000 + 7,600 texts, 4 topics",
        {"train.csv": "b1a00f826fdfbd249f79597b59e1dc12", "test.csv": "d52ea96a97a2d943681189a97654912d"},
        "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/",
        classes=("World", "Sports", "Business", "Sci/Tech"),
    ),
}


class DatasetError(ValueError):
    """A refusal that names the set and the file entry at fault."""


def default_data_dir() -> pathlib.Path:
    """LOSSLAB_DATA_DIR, else VAR_DIR/datasets: the same rule as webapp.settings.DATA_DIR (no Django here)."""
    if os.environ.get("LOSSLAB_DATA_DIR"):
        return pathlib.Path(os.environ["LOSSLAB_DATA_DIR"])
    return pathlib.Path(os.environ.get("LOSSLAB_VAR_DIR", ROOT / "var")) / "datasets"


def spec(name: str) -> StandardSet:
    if name not in SETS:
        raise DatasetError(f"dataset: unknown standard set '{name}' (known: {', '.join(SETS)})")
    return SETS[name]


def md5(path: pathlib.Path) -> str:
    """MD5 of a file: the checksum the official lists publish (integrity, not security)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def datasets_present(data_dir: pathlib.Path) -> list[str]:
    """Names of the standard sets installed in `data_dir` (what a worker can train on), sorted.

    Cheap enough for every heartbeat: it checks the files exist, because a set
    directory only appears once its checksums were verified.
    """
    data_dir = pathlib.Path(data_dir)
    return sorted(n for n, s in SETS.items() if all((data_dir / n / f).is_file() for f in s.files))


# ---- installing -----------------------------------------------------------------------------


def _find(source: pathlib.Path, relpath: str) -> Optional[pathlib.Path]:
    """The file `relpath` in a hand-copied tree: at its place, at the top, or anywhere below (first found)."""
    for candidate in (source / relpath, source / pathlib.Path(relpath).name):
        if candidate.is_file():
            return candidate
    return next((p for p in sorted(source.rglob(pathlib.Path(relpath).name)) if p.is_file()), None)


def _unpack(archive: pathlib.Path, into: pathlib.Path) -> pathlib.Path:
    """Extract a .tar.gz safely (tarfile's 'data' filter refuses absolute paths, '..', links out, devices)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise DatasetError(f"{archive.name}: cannot unpack the archive ({exc})") from exc
    return into


def _copy_verified(s: StandardSet, source: pathlib.Path, tmp: pathlib.Path) -> None:
    """Copy every file of the set from `source` into `tmp`, checking each copy's MD5."""
    missing = [f for f in s.files if _find(source, f) is None]
    if missing:
        raise DatasetError(f"{s.name}: missing file(s) {', '.join(missing)} under {source}")
    for relpath, expected in s.files.items():
        dest = tmp / relpath
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_find(source, relpath), dest)
        got = md5(dest)
        if got != expected:
            raise DatasetError(f"{s.name}: {relpath} has MD5 {got}, expected {expected} (corrupt or another version)")


def install(name: str, source: pathlib.Path, data_dir: pathlib.Path) -> pathlib.Path:
    """Install a standard set from a directory (or its official .tar.gz) into the store, atomically.

    Files are copied into a temp directory inside `data_dir`, verified, read
    once (a file that passes its checksum but not its parser is refused too),
    then renamed into place; on any failure the temp directory is removed and
    a previously installed copy is left untouched.
    """
    s, source, data_dir = spec(name), pathlib.Path(source), pathlib.Path(data_dir)
    if not source.exists():
        raise DatasetError(f"{name}: {source} does not exist")
    data_dir.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=f".incoming-{name}-", dir=data_dir))
    try:
        if source.is_file():
            if not s.archive:
                raise DatasetError(f"{name}: give the directory holding {', '.join(s.files)}, not a file")
            source = _unpack(source, work / "unpacked")
        _copy_verified(s, source, work / "set")
        load_standard(name, work, folder="set")
        _swap_in(work / "set", data_dir / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return data_dir / name


def _swap_in(new: pathlib.Path, final: pathlib.Path) -> None:
    """Replace `final` by `new` with renames only, so readers never see a partial set."""
    old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex}")
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _download(url: str, dest: pathlib.Path, expected: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:  # URLError and timeouts included
        raise DatasetError(
            f"{dest.name}: cannot download {url} ({exc}); on a host without internet access, "
            f"copy the files by hand and run `manage.py datasets import`"
        ) from exc
    got = md5(dest)
    if got != expected:
        raise DatasetError(f"{dest.name}: downloaded file has MD5 {got}, expected {expected}")


def fetch(name: str, data_dir: pathlib.Path) -> pathlib.Path:
    """Download a standard set from its official location (host with internet access), verify, install."""
    s, data_dir = spec(name), pathlib.Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".download-{name}-", dir=data_dir) as tmp:
        tmp = pathlib.Path(tmp)
        if s.archive:
            _download(s.url + s.archive[0], tmp / s.archive[0], s.archive[1])
            return install(name, tmp / s.archive[0], data_dir)
        for relpath, expected in s.files.items():
            _download(s.url + relpath, tmp / relpath, expected)
        return install(name, tmp, data_dir)


# ---- reading ---------------------------------------------------------------------------------


@dataclass
class StandardData:
    """A standard set's official train and test splits as arrays.

    Images: uint8 N×C×H×W. Texts: lists of strings. Labels: int64 0..k-1.
    """

    train: object
    y_train: np.ndarray
    test: object
    y_test: np.ndarray
    classes: tuple[str, ...]


def read_idx(path: pathlib.Path) -> np.ndarray:
    """A gzipped IDX file (MNIST's format): magic 0x0000 08 <ndim>, big-endian dims, then uint8 data."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path.name}: not a gzipped IDX file ({exc})") from exc
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise DatasetError(f"{path.name}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", ndim, 4).astype(int)
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DatasetError(f"{path.name}: holds {data.size} bytes, its header says {tuple(dims)}")
    return data.reshape(tuple(dims)).copy()  # writable: torch refuses to share read-only buffers


class _ArraysOnly(pickle.Unpickler):
    """CIFAR batches are pickles: allow only what a dict of numpy arrays and lists needs, never arbitrary code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def read_cifar_batch(path: pathlib.Path) -> dict:
    """One pickled CIFAR batch (a dict; Python 2 pickles are read with latin1 as torchvision does)."""
    try:
        with open(path, "rb") as f:
            return _ArraysOnly(f, encoding="latin1").load()
    except Exception as exc:
        raise DatasetError(f"{path.name}: not a CIFAR batch ({exc})") from exc


def _mnist(folder: pathlib.Path, classes: tuple[str, ...]) -> StandardData:
    x_tr, y_tr, x_te, y_te = (read_idx(folder / f) for f in MNIST_FILES)
    for images, labels, file in ((x_tr, y_tr, MNIST_FILES[0]), (x_te, y_te, MNIST_FILES[2])):
        if images.ndim != 3 or len(images) != len(labels):
            raise DatasetError(f"{file}: expected N×28×28 images matching the labels file")
    return StandardData(x_tr[:, None], y_tr.astype(np.int64), x_te[:, None], y_te.astype(np.int64), classes)


def _cifar(folder: pathlib.Path) -> StandardData:
    def split(names):
        batches = [read_cifar_batch(folder / CIFAR_DIR / n) for n in names]
        try:
            x = np.concatenate([np.asarray(b["data"], np.uint8) for b in batches]).reshape(-1, 3, 32, 32)
            y = np.concatenate([np.asarray(b["labels"], np.int64) for b in batches])
        except (KeyError, ValueError) as exc:
            raise DatasetError(f"{CIFAR_DIR}: a batch lacks 'data'/'labels' of 3×32×32 images ({exc})") from exc
        return x, y

    x_tr, y_tr = split(CIFAR_TRAIN)
    x_te, y_te = split(["test_batch"])
    meta = read_cifar_batch(folder / CIFAR_DIR / "batches.meta")
    return StandardData(x_tr, y_tr, x_te, y_te, tuple(meta.get("label_names", [])))


def _ag_news(folder: pathlib.Path) -> StandardData:
    """AG News CSV: class index 1..4, title, description; no header. Text = title + description."""

    def split(file):
        texts, labels = [], []
        with open(folder / file, encoding="utf-8", newline="") as f:
            for n, row in enumerate(csv.reader(f), 1):
                if len(row) != 3 or not row[0].strip().isdigit():
                    raise DatasetError(f"{file}: line {n} is not 'class,title,description'")
                labels.append(int(row[0]) - 1)
                texts.append(f"{row[1]} {row[2]}".replace("\\", " "))
        return texts, np.asarray(labels, np.int64)

    (x_tr, y_tr), (x_te, y_te) = split("train.csv"), split("test.csv")
    return StandardData(x_tr, y_tr, x_te, y_te, SETS["ag_news"].classes)


def load_standard(name: str, data_dir: pathlib.Path, *, folder: Optional[str] = None) -> StandardData:
    """Read an installed standard set from the store (or from `data_dir/folder` while installing)."""
    s = spec(name)
    root = pathlib.Path(data_dir) / (folder or name)
    if not all((root / f).is_file() for f in s.files):
        raise DatasetError(
            f"dataset.name: '{name}' is not installed in {data_dir}; run `manage.py datasets fetch {name}` "
            f"(or `datasets import {name} PATH` with files copied by hand)"
        )
    if name in ("mnist", "fashion_mnist"):
        data = _mnist(root, s.classes)
    elif name == "cifar10":
        data = _cifar(root)
    else:
        data = _ag_news(root)
    if len(data.y_train) == 0 or len(data.y_test) == 0:
        raise DatasetError(f"{name}: the train or test split is empty")
    return data


def describe(data_dir: pathlib.Path) -> list[tuple[str, bool, str]]:
    """(name, present, title) for every standard set: what `manage.py datasets list` prints."""
    present = set(datasets_present(data_dir))
    return [(n, n in present, s.title) for n, s in SETS.items()]


def write_idx(path: pathlib.Path, array: np.ndarray) -> None:
    """Write a uint8 array as gzipped IDX (the inverse of read_idx): fixtures and tools use it."""
    header = b"\x00\x00\x08" + bytes([array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    buf = io.BytesIO(header + np.ascontiguousarray(array, np.uint8).tobytes())
    with gzip.open(path, "wb") as f:
        f.write(buf.getvalue())
