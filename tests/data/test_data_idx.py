"""Fashion-MNIST / MNIST from IDX files, the cache and (mocked) downloads."""
from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest
import torch

from datatest_util import idx_bytes, make_split
from gf_helpers import needs_real_fashion_mnist
from ganforge.config import DataConfig
from ganforge.data import data_name, download, idx, load_data
from ganforge.errors import DataError


def test_fashion_mnist_from_data_dir_both_splits(write_idx_dir, no_debian):
    d = write_idx_dir()
    train = load_data(DataConfig(data_dir=str(d)))
    assert train.images.shape == (20, 1, 28, 28)
    assert train.images.dtype == torch.uint8 and train.images.is_contiguous()
    assert train.images[:, 0, 0, 0].tolist() == list(range(20))  # file order kept
    assert train.labels.dtype == torch.int64 and train.labels.tolist() == [i % 10 for i in range(20)]
    assert train.class_names[0] == "T-shirt/top" and train.class_names[9] == "Ankle boot"
    assert train.name == "fashion-mnist" and train.source_path == str(d)

    test = load_data(DataConfig(data_dir=str(d), split="test"))
    assert test.images.shape == (10, 1, 28, 28)
    assert test.images[0, 0, 0, 0] == 200  # the t10k files, not the train ones


def test_mnist_uncompressed_files(write_idx_dir):
    d = write_idx_dir(gz=False)
    data = load_data(DataConfig(source="mnist", data_dir=str(d)))
    assert data.images.shape == (20, 1, 28, 28)
    assert data.class_names == [str(i) for i in range(10)]
    assert data.name == "mnist" == data_name(DataConfig(source="MNIST"))


def test_class_by_name_id_and_unknown(write_idx_dir, no_debian):
    d = str(write_idx_dir())
    for query in ("sneaker", "Sneaker", "7"):
        got = load_data(DataConfig(data_dir=d, class_name=query))
        assert got.labels.tolist() == [7, 7], query
        assert got.images[:, 0, 0, 0].tolist() == [7, 17]
    for query in ("ankle boot", "Ankle-Boot", "ankle_boot"):
        assert load_data(DataConfig(data_dir=d, class_name=query)).labels.tolist() == [9, 9]
    assert load_data(DataConfig(data_dir=d, class_name="t-shirt")).labels.tolist() == [0, 0]
    with pytest.raises(DataError, match=r"--class boot: no such class .*known: T-shirt/top, Trouser.*Ankle boot"):
        load_data(DataConfig(data_dir=d, class_name="boot"))
    with pytest.raises(DataError, match="--class 10"):
        load_data(DataConfig(data_dir=d, class_name="10"))


def test_limit_after_class_filter(write_idx_dir, no_debian):
    d = str(write_idx_dir())
    got = load_data(DataConfig(data_dir=d, limit=5))
    assert got.images[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 4] and len(got.labels) == 5
    got = load_data(DataConfig(data_dir=d, class_name="3", limit=1))
    assert got.images[:, 0, 0, 0].tolist() == [3]


def test_resize_28_to_32_and_grey_to_rgb(write_idx_dir, no_debian):
    d = str(write_idx_dir())
    got = load_data(DataConfig(data_dir=d, channels=3), default_size=32)
    assert got.images.shape == (20, 3, 32, 32) and got.images.dtype == torch.uint8
    assert torch.equal(got.images[:, 0], got.images[:, 2])  # replicated grey
    assert got.images[:, :, 16, 16].unique().tolist() == [100]  # flat background survives resampling
    # cfg.size beats the model's default size
    assert load_data(DataConfig(data_dir=d, size=16), default_size=32).images.shape[-1] == 16


def test_truncated_idx(write_idx_dir, no_debian):
    d = write_idx_dir()
    f = d / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(f.read_bytes())
    f.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: truncated IDX file: header says 20 images"):
        load_data(DataConfig(data_dir=str(d)))


def test_truncated_gzip_and_bad_magic(write_idx_dir, no_debian):
    d = write_idx_dir()
    f = d / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-30])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: truncated or corrupt gzip"):
        load_data(DataConfig(data_dir=str(d)))
    f.write_bytes(gzip.compress(b"\x50\x4b\x03\x04" + bytes(50)))
    with pytest.raises(DataError, match="not an IDX file .bad magic number 504b0304"):
        load_data(DataConfig(data_dir=str(d)))


def test_label_count_mismatch(write_idx_dir, no_debian):
    d = write_idx_dir()
    _, labels = make_split(7)
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DataError, match="7 labels for the 20 images"):
        load_data(DataConfig(data_dir=str(d)))


def test_missing_fashion_mnist_says_how_to_fix(tmp_path, no_debian):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as e:
        load_data(DataConfig(data_dir=str(empty)), progress=False)
    msg = str(e.value)
    assert "\n" not in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "--data-dir" in msg
    assert str(empty) in msg and "network disabled in tests" in msg


def test_download_into_cache(tmp_path, monkeypatch, no_debian):
    urls = []

    def fake_download(url, dest, progress=True):
        urls.append(url)
        images, labels = make_split(20 if "train" in url else 10)
        arr = images if "images" in url else labels
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(gzip.compress(idx_bytes(arr)))
        return dest

    monkeypatch.setattr(download, "download_file", fake_download)
    got = load_data(DataConfig(), progress=False)
    assert got.images.shape == (20, 1, 28, 28)
    assert urls == [idx.FASHION_MNIST_URLS[0] + "train-images-idx3-ubyte.gz",
                    idx.FASHION_MNIST_URLS[0] + "train-labels-idx1-ubyte.gz"]
    cached = tmp_path / "cache" / "fashion-mnist"
    assert got.source_path == str(cached) and (cached / "train-images-idx3-ubyte.gz").is_file()
    # second load comes from the cache, no download
    load_data(DataConfig(), progress=False)
    assert len(urls) == 2


def test_download_of_garbage_is_rejected(tmp_path, monkeypatch):
    def html_download(url, dest, progress=True):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(b"<html>Access denied</html>")
        return dest

    monkeypatch.setattr(download, "download_file", html_download)
    with pytest.raises(DataError, match="did not return a gzip IDX file"):
        load_data(DataConfig(source="mnist"), progress=False)
    assert not (tmp_path / "cache").exists()  # nothing bad left in the cache, not even an empty folder


REAL = idx.find_local("fashion-mnist")  # before this folder's fixtures empty the cache


@needs_real_fashion_mnist
def test_real_fashion_mnist():
    t = time.perf_counter()
    data = load_data(DataConfig(data_dir=str(REAL)), progress=False)
    seconds = time.perf_counter() - t
    assert data.images.shape == (60000, 1, 28, 28) and data.images.dtype == torch.uint8
    assert data.labels.bincount().tolist() == [6000] * 10
    assert len(data.class_names) == 10
    assert seconds < 4, f"loading took {seconds:.1f} s"
    print(f"real Fashion-MNIST loaded in {seconds:.2f} s", file=os.sys.stderr)


def test_system_data_folders_can_be_switched_off(tmp_path, monkeypatch, write_idx_dir):
    """GANFORGE_SYSTEM_DATA=0 hides Debian's folder (what CI's second pass relies on): the
    files there are not found, and the error lists only the folders still searched."""
    monkeypatch.delenv("GANFORGE_SYSTEM_DATA", raising=False)  # (CI's second pass sets it)
    debian = write_idx_dir(tmp_path / "debian")
    monkeypatch.setattr(idx, "DEBIAN_FASHION_MNIST", str(debian))
    assert load_data(DataConfig(), progress=False).source_path == str(debian)
    monkeypatch.setenv("GANFORGE_SYSTEM_DATA", "0")
    assert idx.find_local("fashion-mnist") is None
    with pytest.raises(DataError, match="not found in") as e:
        load_data(DataConfig(), progress=False)
    assert str(debian) not in str(e.value)
