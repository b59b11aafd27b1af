"""Fixtures for the data tests: an isolated cache, no network, and writers for small datasets."""
from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from datatest_util import CIFAR_RGB, idx_bytes, make_split
from ganforge.data import download


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Every data test gets an empty cache and no network, unless it patches a fake download
    in; a test that would download fails at once instead of hanging on a socket."""
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))

    def no_network(url, dest, progress=True):
        raise download.DownloadError(f"{url}: network disabled in tests")

    monkeypatch.setattr(download, "download_file", no_network)


@pytest.fixture
def no_debian(tmp_path, monkeypatch):
    """Pretend the dataset-fashion-mnist package is not installed."""
    from ganforge.data import idx

    monkeypatch.setattr(idx, "DEBIAN_FASHION_MNIST", str(tmp_path / "no-debian"))


@pytest.fixture
def write_idx_dir(tmp_path):
    """Write the four Fashion-MNIST-named IDX files (20 train, 10 test images) into a folder."""

    def write(folder=None, gz=True, n_train=20, n_test=10, size=28):
        folder = folder or tmp_path / "idx"
        folder.mkdir(parents=True, exist_ok=True)
        for prefix, n, off in (("train", n_train, 0), ("t10k", n_test, 200)):
            images, labels = make_split(n, size, size, off)
            for kind, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
                data = idx_bytes(arr)
                name = f"{prefix}-{kind}"
                if gz:
                    (folder / (name + ".gz")).write_bytes(gzip.compress(data, compresslevel=1))
                else:
                    (folder / name).write_bytes(data)
        return folder

    return write


@pytest.fixture
def write_cifar(tmp_path):
    """A cifar-10-batches-py folder: 3 images per train batch, 4 in test_batch. Every image's
    R, G and B planes are flat 200, 100, 50, except pixel (0, 0) of R: the image's index."""

    def write(parent=None, meta=True):
        folder = (parent or tmp_path / "cifar") / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        count = 0
        for name, n in [(f"data_batch_{i}", 3) for i in range(1, 6)] + [("test_batch", 4)]:
            data = np.empty((n, 3072), np.uint8)
            for p, v in enumerate(CIFAR_RGB):
                data[:, p * 1024:(p + 1) * 1024] = v
            data[:, 0] = np.arange(count, count + n)
            labels = [(count + j) % 10 for j in range(n)]
            count += n
            with open(folder / name, "wb") as f:
                pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                             b"filenames": [b"x.png"] * n}, f, protocol=2)
        if meta:
            names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                     b"horse", b"ship", b"truck"]
            with open(folder / "batches.meta", "wb") as f:
                pickle.dump({b"label_names": names, b"num_cases_per_batch": 3}, f, protocol=2)
        return folder

    return write
