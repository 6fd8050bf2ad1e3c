"""The dataset store: install (import) verifies and renames atomically, list says what is present, readers read
the official formats. Fixture files only; the fetch test downloads from a file:// URL on this machine."""

from __future__ import annotations

import pathlib
import pickle
import tarfile

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from tests.training.standard_fixtures import official_sums_replaced, write_ag_news, write_cifar, write_mnist
from workers.training import datasets


def entries(path: pathlib.Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


def test_it_lists_nothing_in_an_empty_store(tmp_path):
    assert datasets.datasets_present(tmp_path) == []
    assert [present for _, present, _ in datasets.describe(tmp_path)] == [False] * len(datasets.SETS)


def test_it_installs_hand_copied_mnist_and_reads_it_back(tmp_path):
    source = write_mnist(tmp_path / "usb" / "MNIST" / "raw")  # torchvision's layout, found below the path given
    with official_sums_replaced("mnist", source):
        datasets.install("mnist", tmp_path / "usb", tmp_path / "store")
    assert datasets.datasets_present(tmp_path / "store") == ["mnist"]
    assert entries(tmp_path / "store") == ["mnist"]  # no temp directory left behind
    data = datasets.load_standard("mnist", tmp_path / "store")
    assert data.train.shape == (240, 1, 28, 28) and data.train.dtype == np.uint8
    assert data.test.shape == (120, 1, 28, 28) and set(np.unique(data.y_train)) <= set(range(10))
    assert datasets.read_idx(source / datasets.MNIST_FILES[0]).tolist() == data.train[:, 0].tolist()


def test_it_installs_cifar_from_its_official_archive(tmp_path):
    write_cifar(tmp_path / "files")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "files" / datasets.CIFAR_DIR, arcname=datasets.CIFAR_DIR)
    with official_sums_replaced("cifar10", tmp_path / "files"):
        datasets.install("cifar10", archive, tmp_path / "store")
    data = datasets.load_standard("cifar10", tmp_path / "store")
    assert data.train.shape == (200, 3, 32, 32) and data.test.shape == (100, 3, 32, 32)
    assert data.classes[0] == "airplane" and len(data.classes) == 10
    assert entries(tmp_path / "store") == ["cifar10"]


def test_it_reads_ag_news_texts_and_zero_based_labels(tmp_path):
    source = write_ag_news(tmp_path / "ag")
    with official_sums_replaced("ag_news", source):
        datasets.install("ag_news", source, tmp_path / "store")
    data = datasets.load_standard("ag_news", tmp_path / "store")
    assert len(data.train) == 400 and set(np.unique(data.y_train)) == {0, 1, 2, 3}
    assert data.classes == ("World", "Sports", "Business", "Sci/Tech")


def test_a_wrong_checksum_is_refused_by_file_name_and_nothing_stays(tmp_path):
    source = write_mnist(tmp_path / "usb")  # the fixture's sums are not the official ones
    with pytest.raises(datasets.DatasetError, match="train-images-idx3-ubyte.gz has MD5 .* expected f68b3c2d"):
        datasets.install("mnist", source, tmp_path / "store")
    assert entries(tmp_path / "store") == []


def test_a_failed_reinstall_keeps_the_installed_copy(tmp_path):
    source = write_mnist(tmp_path / "usb")
    with official_sums_replaced("mnist", source):
        datasets.install("mnist", source, tmp_path / "store")
        (source / datasets.MNIST_FILES[1]).write_bytes(b"corrupt")
        with pytest.raises(datasets.DatasetError, match="train-labels-idx1-ubyte.gz has MD5"):
            datasets.install("mnist", source, tmp_path / "store")
    assert entries(tmp_path / "store") == ["mnist"]
    assert len(datasets.load_standard("mnist", tmp_path / "store").y_train) == 240


def test_a_file_with_the_expected_sum_but_a_bad_format_is_refused(tmp_path):
    source = write_mnist(tmp_path / "usb")
    (source / datasets.MNIST_FILES[0]).write_bytes(b"not gzip at all")
    with official_sums_replaced("mnist", source), pytest.raises(datasets.DatasetError):
        datasets.install("mnist", source, tmp_path / "store")
    assert entries(tmp_path / "store") == []


def test_a_missing_file_is_named(tmp_path):
    source = write_mnist(tmp_path / "usb")
    (source / datasets.MNIST_FILES[3]).unlink()
    with pytest.raises(datasets.DatasetError, match="missing file.*t10k-labels-idx1-ubyte.gz"):
        datasets.install("mnist", source, tmp_path / "store")


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": Evil()}, protocol=2))
    with pytest.raises(datasets.DatasetError, match="data_batch_1: not a CIFAR batch .*print is not allowed"):
        datasets.read_cifar_batch(path)


def test_it_fetches_and_verifies_from_the_sets_url(tmp_path, monkeypatch):
    source = write_ag_news(tmp_path / "mirror")
    with official_sums_replaced("ag_news", source):
        s = datasets.SETS["ag_news"]
        monkeypatch.setitem(
            datasets.SETS,
            "ag_news",
            datasets.StandardSet(s.name, s.title, s.files, source.as_uri() + "/", None, s.classes),
        )
        datasets.fetch("ag_news", tmp_path / "store")
    assert datasets.datasets_present(tmp_path / "store") == ["ag_news"]
    assert entries(tmp_path / "store") == ["ag_news"]


def test_a_failed_download_says_how_to_import_and_leaves_nothing(tmp_path, monkeypatch):
    s = datasets.SETS["mnist"]
    monkeypatch.setitem(
        datasets.SETS,
        "mnist",
        datasets.StandardSet(s.name, s.title, s.files, (tmp_path / "nowhere").as_uri() + "/", None, s.classes),
    )
    with pytest.raises(datasets.DatasetError, match="train-images-idx3-ubyte.gz: cannot download .*datasets import"):
        datasets.fetch("mnist", tmp_path / "store")
    assert entries(tmp_path / "store") == []


def test_the_command_imports_lists_and_refuses(tmp_path, settings, capsys):
    settings.DATA_DIR = tmp_path / "store"
    source = write_mnist(tmp_path / "usb")
    with official_sums_replaced("fashion_mnist", source):
        call_command("datasets", "import", "fashion_mnist", str(source))
    call_command("datasets", "list")
    out = capsys.readouterr().out
    assert "fashion_mnist: verified and installed" in out
    assert any(line.split()[:2] == ["fashion_mnist", "present"] for line in out.splitlines())
    assert any(line.split()[:2] == ["cifar10", "missing"] for line in out.splitlines())
    with pytest.raises(CommandError, match="has MD5"):
        call_command("datasets", "import", "mnist", str(source))  # fixture sums are not MNIST's
    assert entries(tmp_path / "store") == ["fashion_mnist"]


def test_settings_and_the_engine_agree_on_the_default_store(settings, monkeypatch):
    monkeypatch.delenv("LOSSLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("LOSSLAB_VAR_DIR", str(settings.VAR_DIR))
    assert datasets.default_data_dir() == settings.VAR_DIR / "datasets"
