"""Images in .npy / .npz files, and how bad sources are reported."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.config import DataConfig
from ganforge.data import data_name, load_data
from ganforge.errors import DataError


def _images(n=6, h=12, w=12, c=None):
    """uint8 images; pixel (0, 0) of every channel is the image index, channel k is flat 10*(k+1)."""
    shape = (n, h, w) if c is None else (n, c, h, w)
    a = np.zeros(shape, np.uint8)
    if c is None:
        a[:] = 10
        a[:, 0, 0] = np.arange(n)
    else:
        for k in range(c):
            a[:, k] = 10 * (k + 1)
        a[:, :, 0, 0] = np.arange(n)[:, None]
    return a


@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW"])
def test_npy_layouts(tmp_path, layout):
    nchw = _images(c=1 if layout == "NHW" else 3)
    arr = {"NHW": nchw[:, 0], "NHWC": nchw.transpose(0, 2, 3, 1), "NCHW": nchw}[layout]
    path = tmp_path / f"faces_{layout}.npy"
    np.save(path, arr)
    data = load_data(DataConfig(source=str(path)))
    assert data.images.shape == nchw.shape and data.images.dtype == torch.uint8
    assert data.images.is_contiguous()
    assert np.array_equal(data.images.numpy(), nchw)  # channels found where they are
    assert data.labels is None and data.name == f"faces_{layout}"


def test_npz_with_labels_class_and_limit(tmp_path):
    path = tmp_path / "set.npz"
    np.savez(path, x_train=_images(c=3), y_train=np.array([0, 1, 2, 0, 1, 2]))
    data = load_data(DataConfig(source=str(path)))
    assert data.images.shape == (6, 3, 12, 12) and data.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert data.labels.dtype == torch.int64 and data.class_names is None
    two = load_data(DataConfig(source=str(path), class_name="2", limit=1))
    assert two.images[:, 0, 0, 0].tolist() == [2]
    with pytest.raises(DataError, match=r"--class cat: .* has labels but no class names; give one of its label ids \(0, 1, 2\)"):
        load_data(DataConfig(source=str(path), class_name="cat"))


def test_npz_class_names(tmp_path):
    path = tmp_path / "named.npz"
    np.savez(path, images=_images(), labels=np.arange(6) % 2, class_names=np.array(["cat", "dog"]))
    data = load_data(DataConfig(source=str(path), class_name="dog"))
    assert data.class_names == ["cat", "dog"] and data.labels.tolist() == [1, 1, 1]


def test_float_arrays(tmp_path):
    a = _images().astype(np.float32)
    np.save(tmp_path / "unit.npy", a / 255.0)
    np.save(tmp_path / "bytes.npy", a)
    for name in ("unit.npy", "bytes.npy"):
        data = load_data(DataConfig(source=str(tmp_path / name)))
        assert np.array_equal(data.images.numpy()[:, 0], _images()), name
    np.save(tmp_path / "tanh.npy", a / 127.5 - 1)
    with pytest.raises(DataError, match=r"tanh.npy: float images range -1\.\.-0\.92\d*; expected values in \[0, 1\] or \[0, 255\]"):
        load_data(DataConfig(source=str(tmp_path / "tanh.npy")))


@pytest.mark.parametrize("arr, message", [
    (np.zeros((4, 8, 8), np.complex64), "images have dtype complex64"),
    (np.zeros((4, 8, 8, 4), np.uint8), r"have 4 channels; channels must be 1 or 3"),
    (np.zeros((8, 8), np.uint8), r"images have shape \(8, 8\); expected \(N, H, W\)"),
    (np.zeros((0, 8, 8), np.uint8), "holds no images"),
    (np.full((2, 8, 8), 300, np.int32), "int32 images range 300..300"),
])
def test_bad_arrays(tmp_path, arr, message):
    np.save(tmp_path / "bad.npy", arr)
    with pytest.raises(DataError, match=message) as e:
        load_data(DataConfig(source=str(tmp_path / "bad.npy")))
    assert str(tmp_path / "bad.npy") in str(e.value)


def test_object_arrays_are_not_unpickled(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="obj.npy: holds Python objects"):
        load_data(DataConfig(source=str(tmp_path / "obj.npy")))


def test_npz_labels_wrong_length_and_ambiguous_keys(tmp_path):
    np.savez(tmp_path / "a.npz", images=_images(), labels=np.arange(5))
    with pytest.raises(DataError, match=r"labels have shape \(5,\) but there are 6 images"):
        load_data(DataConfig(source=str(tmp_path / "a.npz")))
    np.savez(tmp_path / "b.npz", foo=_images(), bar=_images())
    with pytest.raises(DataError, match="cannot tell which array holds the images .arrays: foo, bar"):
        load_data(DataConfig(source=str(tmp_path / "b.npz")))


def test_resize_and_grey_conversion(tmp_path):
    np.save(tmp_path / "rgb.npy", _images(n=2, h=28, w=28, c=3))
    data = load_data(DataConfig(source=str(tmp_path / "rgb.npy"), channels=1, size=32))
    assert data.images.shape == (2, 1, 32, 32) and data.images.dtype == torch.uint8
    assert data.images[0, 0, 16, 16].item() == round(0.299 * 10 + 0.587 * 20 + 0.114 * 30)


def test_non_square_array_is_cropped_to_its_short_side(tmp_path):
    np.save(tmp_path / "wide.npy", np.zeros((3, 10, 16), np.uint8))
    assert load_data(DataConfig(source=str(tmp_path / "wide.npy"))).images.shape == (3, 1, 10, 10)


def test_missing_path_and_unknown_names(tmp_path):
    with pytest.raises(DataError, match=r"--data .*nope: no such file or folder, and not a dataset name "
                                        r"\(known: fashion-mnist, mnist, cifar10, emoji\)"):
        load_data(DataConfig(source=str(tmp_path / "nope")))
    with pytest.raises(DataError, match="not a dataset name"):
        load_data(DataConfig(source="imagenet"))
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(DataError, match="is a file but not .npy or .npz"):
        load_data(DataConfig(source=str(tmp_path / "x.csv")))
    np.save(tmp_path / "a.npy", _images())
    with pytest.raises(DataError, match="--split test: .*an array file"):
        load_data(DataConfig(source=str(tmp_path / "a.npy"), split="test"))


def test_data_name_loads_nothing(tmp_path):
    assert data_name(DataConfig()) == "fashion-mnist"
    assert data_name(DataConfig(source="Fashion_MNIST")) == "fashion-mnist"
    assert data_name(DataConfig(source="cifar-10")) == "cifar10"
    assert data_name(DataConfig(source=str(tmp_path / "missing" / "my data.npz"))) == "my-data"
