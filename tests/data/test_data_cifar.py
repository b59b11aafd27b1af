"""CIFAR-10 from its python-pickle batch folder."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import torch

from datatest_util import CIFAR_RGB
from ganforge.config import DataConfig
from ganforge.data import download, load_data
from ganforge.errors import DataError


def test_train_split_folder_or_parent(write_cifar):
    folder = write_cifar()
    for d in (folder, folder.parent):
        data = load_data(DataConfig(source="cifar10", data_dir=str(d)))
        assert data.images.shape == (15, 3, 32, 32) and data.images.dtype == torch.uint8
        assert data.images.is_contiguous()
        assert data.images[:, 0, 0, 0].tolist() == list(range(15))  # batches 1..5, in order
        # planes are R, G, B: a plane or row/column mixup would break this
        assert data.images[:, :, 5, 7].tolist() == [list(CIFAR_RGB)] * 15
        assert data.class_names[6] == "frog" and data.name == "cifar10"
        assert data.source_path == str(folder)


def test_test_split_class_and_limit(write_cifar):
    d = str(write_cifar())
    test = load_data(DataConfig(source="cifar10", data_dir=d, split="test"))
    assert test.images[:, 0, 0, 0].tolist() == [15, 16, 17, 18]
    frogs = load_data(DataConfig(source="CIFAR-10", data_dir=d, class_name="Frog"))
    assert frogs.labels.tolist() == [6] and frogs.images[:, 0, 0, 0].tolist() == [6]
    assert len(load_data(DataConfig(source="cifar10", data_dir=d, limit=4))) == 4


def test_rgb_to_grey_uses_bt601_luma(write_cifar):
    d = str(write_cifar())
    grey = load_data(DataConfig(source="cifar10", data_dir=d, channels=1))
    assert grey.images.shape == (15, 1, 32, 32)
    r, g, b = CIFAR_RGB
    assert grey.images[0, 0, 5, 5].item() == round(0.299 * r + 0.587 * g + 0.114 * b)  # 124


def test_without_meta_uses_standard_names(write_cifar):
    data = load_data(DataConfig(source="cifar10", data_dir=str(write_cifar(meta=False))))
    assert data.class_names[0] == "airplane" and data.class_names[9] == "truck"


def test_missing_batch_file(write_cifar):
    folder = write_cifar()
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="missing data_batch_3 for --split train"):
        load_data(DataConfig(source="cifar10", data_dir=str(folder)))


def test_pickle_with_code_is_refused(write_cifar):
    folder = write_cifar()
    # a pickle that would call os.system when loaded by plain pickle.load
    (folder / "data_batch_1").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(DataError, match="data_batch_1: not a CIFAR-10 python batch .refusing to load os.system"):
        load_data(DataConfig(source="cifar10", data_dir=str(folder)))


def test_download_is_extracted_safely(tmp_path, monkeypatch):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))

    def fake_download(url, dest, progress=True):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(archive.read_bytes())
        return dest

    monkeypatch.setattr(download, "download_file", fake_download)
    with pytest.raises(DataError, match="unsafe archive member '../../escaped.txt'"):
        load_data(DataConfig(source="cifar10"), progress=False)
    assert not list(tmp_path.rglob("escaped.txt"))


def test_download_extracts_into_cache(tmp_path, monkeypatch, write_cifar):
    folder = write_cifar(parent=tmp_path / "src")
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")

    def fake_download(url, dest, progress=True):
        assert url == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(archive.read_bytes())
        return dest

    monkeypatch.setattr(download, "download_file", fake_download)
    data = load_data(DataConfig(source="cifar10"), progress=False)
    assert len(data) == 15
    assert data.source_path == str(tmp_path / "cache" / "cifar10" / "cifar-10-batches-py")
    assert not (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").exists()


def test_missing_cifar_without_network(tmp_path):
    with pytest.raises(DataError, match=r"cifar10: cifar-10-batches-py not found in .*download failed .*--data-dir"):
        load_data(DataConfig(source="cifar10", data_dir=str(tmp_path)), progress=False)
