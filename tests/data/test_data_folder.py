"""Folders of image files in mixed sizes, modes and formats."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import DataConfig
from ganforge.data import data_name, load_data
from datatest_util import transparent_images
from ganforge.errors import DataError


def _img(path, mode, size, color):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


@pytest.fixture
def mixed(tmp_path):
    root = tmp_path / "My Pics"
    _img(root / "a.png", "RGB", (40, 30), (255, 0, 0))
    _img(root / "b.JPG", "L", (64, 64), 128)
    _img(root / "c.png", "RGBA", (20, 50), (0, 0, 255, 10))
    (root / "deeper").mkdir()
    Image.new("RGB", (33, 33), (0, 255, 0)).convert("P").save(root / "deeper" / "d.gif")
    (root / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (root / "notes.txt").write_text("not an image")
    return root


def test_mixed_folder_skips_corrupt(mixed, capsys):
    data = load_data(DataConfig(source=str(mixed), size=16), progress=False)
    assert data.images.shape == (4, 3, 16, 16) and data.images.dtype == torch.uint8
    assert data.images.is_contiguous()
    err = capsys.readouterr().err
    assert f"skipped 1 unreadable image(s) in {mixed}, e.g. bad.png:" in err
    # sorted order: a.png, b.JPG, c.png, deeper/d.gif; colours survive conversion
    assert data.images[0, :, 8, 8].tolist() == [255, 0, 0]
    assert data.images[1, :, 8, 8].tolist() == [128, 128, 128]  # grey JPEG replicated into RGB
    assert data.images[2, :, 8, 8].tolist() == [245, 245, 255]  # RGBA: blue at alpha 10 of 255, on white
    assert data.images[3, :, 8, 8].tolist() == [0, 255, 0]  # palette GIF
    assert data.labels is None  # images at the top level: no class folders
    assert data.name == "My-Pics" == data_name(DataConfig(source=str(mixed)))


def test_channels_option_and_default_size_note(mixed, capsys):
    data = load_data(DataConfig(source=str(mixed), channels=1), progress=False)
    notes = [ln for ln in capsys.readouterr().err.splitlines() if "no --size given" in ln]
    # one plain line of ganforge's own, not a Python warning with a source line
    assert len(notes) == 1 and notes[0].startswith("note: ") and "64x64" in notes[0]
    assert data.images.shape == (4, 1, 64, 64)
    assert data.images[0, 0, 30, 30].item() == round(0.299 * 255)  # red through BT.601 luma


def test_grey_only_folder_gives_one_channel(tmp_path):
    for i, side in enumerate((28, 40, 17)):
        _img(tmp_path / "g" / f"{i}.png", "L", (side, side + i), 50 * i)
    data = load_data(DataConfig(source=str(tmp_path / "g")), default_size=32, progress=False)
    assert data.images.shape == (3, 1, 32, 32)
    assert data.images[:, 0, 16, 16].tolist() == [0, 50, 100]


def test_class_subfolders(tmp_path):
    root = tmp_path / "pets"
    for cls, n, v in (("cat", 3, 10), ("dog", 2, 200)):
        for i in range(n):
            _img(root / cls / f"{i}.png", "RGB", (8, 8), (v, v, v))
    data = load_data(DataConfig(source=str(root), size=8), progress=False)
    assert data.class_names == ["cat", "dog"] and data.labels.tolist() == [0, 0, 0, 1, 1]
    dogs = load_data(DataConfig(source=str(root), size=8, class_name="DOG"), progress=False)
    assert dogs.labels.tolist() == [1, 1] and dogs.images[:, 0, 0, 0].tolist() == [200, 200]
    one = load_data(DataConfig(source=str(root), size=8, class_name="1", limit=1), progress=False)
    assert one.labels.tolist() == [1]
    with pytest.raises(DataError, match=r"--class bird: no such class .*known: cat, dog"):
        load_data(DataConfig(source=str(root), size=8, class_name="bird"), progress=False)


def test_class_without_labels(mixed):
    with pytest.raises(DataError, match="has no labels"):
        load_data(DataConfig(source=str(mixed), size=8, class_name="cat"), progress=False)


def test_limit_stops_early_and_counts_good_images(tmp_path):
    root = tmp_path / "lim"
    (root).mkdir()
    (root / "0.png").write_bytes(b"junk")
    for i in range(1, 6):
        _img(root / f"{i}.png", "L", (8, 8), i)
    data = load_data(DataConfig(source=str(root), size=8, limit=3), progress=False)
    assert data.images[:, 0, 0, 0].tolist() == [1, 2, 3]


def test_only_corrupt_images(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "x.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (root / "y.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"broken: none of the 2 image file\(s\) could be read, e.g. x.jpg"):
        load_data(DataConfig(source=str(root), size=8), progress=False)


def test_empty_folder_and_no_images(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no image files \(png, jpg.*\(it is empty\)"):
        load_data(DataConfig(source=str(tmp_path / "empty"), size=8))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.md").write_text("hi")
    with pytest.raises(DataError, match="holds 1 other file.*readme.md"):
        load_data(DataConfig(source=str(tmp_path / "docs"), size=8))


def test_folder_has_no_test_split(mixed):
    with pytest.raises(DataError, match="--split test: .* one split only"):
        load_data(DataConfig(source=str(mixed), size=8, split="test"))


def test_non_square_photo_is_centre_cropped(tmp_path):
    a = np.zeros((20, 60, 3), np.uint8)
    a[:, 20:40] = 255  # white centre third, black sides
    Image.fromarray(a).save(tmp_path / "wide.png")
    data = load_data(DataConfig(source=str(tmp_path), size=10), progress=False)
    assert data.images.shape == (1, 3, 10, 10)
    # only the white centre third is kept; resampling softens the outermost columns a little
    assert data.images[..., 1:-1].min().item() >= 250
    assert data.images.min().item() >= 200


# --------------------------------------------------------------------------- transparency
@pytest.mark.parametrize("name", ["rgba.png", "la.png", "palette.png", "colour-key.png"])
def test_transparent_pixels_are_composited_on_white_not_shown(tmp_path, name):
    channels, visible = transparent_images(tmp_path / "all")[name]
    one = tmp_path / "one"
    one.mkdir()
    (tmp_path / "all" / name).rename(one / name)
    for want_channels in (channels, 3):  # as stored, and converted to RGB
        data = load_data(DataConfig(source=str(one), size=8, channels=want_channels), progress=False)
        im = data.images[0]
        left = visible if want_channels == channels else visible * 3
        assert im[:, 3, 1].tolist() == left  # the visible half as it is
        assert im[:, :, 4:].eq(255).all(), im[:, 0, 4:].tolist()  # the hidden half: white, not red


def test_half_transparent_pixels_are_blended_with_white(tmp_path):
    Image.new("RGBA", (8, 8), (0, 100, 200, 64)).save(tmp_path / "a.png")
    data = load_data(DataConfig(source=str(tmp_path), size=8, channels=3), progress=False)
    want = [round(c * 64 / 255 + 255 * (1 - 64 / 255)) for c in (0, 100, 200)]
    assert all(abs(a - b) <= 1 for a, b in zip(data.images[0, :, 2, 2].tolist(), want))
