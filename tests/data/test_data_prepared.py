"""Prepared sets: an image folder converted once (ganforge prepare-data), then memory-mapped or streamed."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from datatest_util import transparent_images
from ganforge.config import DataConfig
from ganforge.data import load_data
from ganforge.data.prepared import IN_MEMORY_BYTES, BatchReader, prepare_folder
from ganforge.errors import DataError


def image_folder(root, n_per_class=6, sizes=((40, 30), (20, 50), (64, 64))):
    """Two class sub-folders of RGB images in several sizes, and one corrupt file."""
    rng = np.random.default_rng(0)
    for k, cls in enumerate(("cats", "dogs")):
        (root / cls).mkdir(parents=True)
        for i in range(n_per_class):
            w, h = sizes[i % len(sizes)]
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / cls / f"{i:03d}.png")
    (root / "dogs" / "broken.png").write_bytes(b"not a png at all")
    return root


def test_a_folder_becomes_one_memory_mappable_array_with_labels_and_a_header(tmp_path, capsys):
    src = image_folder(tmp_path / "imgs")
    header = prepare_folder(src, 16, tmp_path / "prep", progress=False)
    assert header["n"] == 12 and header["channels"] == 3 and header["size"] == 16
    assert header["class_names"] == ["cats", "dogs"]
    assert [s["file"] for s in header["skipped"]] == ["dogs/broken.png"]
    assert "skipped 1 unreadable image(s)" in capsys.readouterr().err
    arr = np.load(tmp_path / "prep" / "images.npy", mmap_mode="r")
    assert arr.shape == (12, 3, 16, 16) and arr.dtype == np.uint8
    assert np.load(tmp_path / "prep" / "labels.npy").tolist() == [0] * 6 + [1] * 6
    assert json.loads((tmp_path / "prep" / "prepared.json").read_text()) == header
    # the same pixels the in-memory folder loader makes
    direct = load_data(DataConfig(source=str(src), size=16, channels=3), progress=False)
    assert torch.equal(torch.from_numpy(np.array(arr)), direct.images)


def test_prepare_data_composites_transparent_images_on_white(tmp_path):
    transparent_images(tmp_path / "imgs")
    prepare_folder(tmp_path / "imgs", 8, tmp_path / "prep", channels=3, progress=False)
    arr = np.load(tmp_path / "prep" / "images.npy")
    assert arr.shape == (4, 3, 8, 8) and (arr[:, :, :, 4:] == 255).all()  # no hidden colour left
    assert (arr[:, :, :, :4] < 255).any(axis=(1, 2, 3)).all()  # the visible halves are not white


def test_training_data_from_a_prepared_set_in_memory_or_streamed(tmp_path):
    prepare_folder(image_folder(tmp_path / "imgs"), 16, tmp_path / "prep", progress=False)
    small = load_data(DataConfig(source=str(tmp_path / "prep")), progress=False)
    assert not small.streamed and small.images.shape == (12, 3, 16, 16)  # far below the threshold
    assert small.class_names == ["cats", "dogs"] and small.labels.tolist() == [0] * 6 + [1] * 6
    streamed = load_data(DataConfig(source=str(tmp_path / "prep"), load="stream"), progress=False)
    assert streamed.streamed and torch.equal(streamed.images, small.images)
    reader = BatchReader(tmp_path / "prep", labelled=True)
    images, labels = reader[torch.tensor([11, 0, 5])]
    assert torch.equal(images, small.images[[11, 0, 5]]) and labels.tolist() == [1, 0, 0]
    assert IN_MEMORY_BYTES == 2 * 1024**3


def test_a_prepared_set_refuses_another_size_and_a_class(tmp_path):
    prepare_folder(image_folder(tmp_path / "imgs"), 16, tmp_path / "prep", progress=False)
    with pytest.raises(DataError, match="prepared at 16x16"):
        load_data(DataConfig(source=str(tmp_path / "prep"), size=32), progress=False)
    with pytest.raises(DataError, match="--class cats: a prepared set is used whole"):
        load_data(DataConfig(source=str(tmp_path / "prep"), class_name="cats"), progress=False)
    with pytest.raises(DataError, match="only those can be streamed"):
        load_data(DataConfig(source=str(tmp_path / "imgs"), size=16, load="stream"), progress=False)
    with pytest.raises(DataError, match="already holds files"):
        prepare_folder(tmp_path / "imgs", 16, tmp_path / "prep", progress=False)


def test_prepare_data_command_and_a_streamed_run_that_trains_like_the_in_memory_one(tmp_path, cli):
    src = image_folder(tmp_path / "imgs", n_per_class=16, sizes=((20, 20),))
    code, out, err = cli("prepare-data", src, "--size", 28, "--channels", 1, "--out", tmp_path / "prep",
                         "--no-progress")
    assert code == 0, err
    assert "32 images of 1x28x28, 2 classes; 1 unreadable file(s) skipped" in out
    runs = {}
    for how in ("memory", "stream"):
        code, out, err = cli("train", "--data", tmp_path / "prep", "--data-load", how, "--data-workers", 1,
                             "--steps", 3, "--batch-size", 8, "--g-channels", 8, "--d-channels", 8,
                             "--precision", "fp32", "--n-fixed", 4, "--no-progress", "--out", tmp_path / how)
        assert code == 0, err
        runs[how] = torch.load(tmp_path / how / "checkpoint.pt", weights_only=True)
    for name, w in runs["memory"]["G"].items():
        assert torch.equal(w, runs["stream"]["G"][name]), name
    assert runs["stream"]["epoch"] == 0 and runs["stream"]["pos"] == 3
