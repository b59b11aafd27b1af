"""Fair sizes: data a few pixels smaller than the model is padded with its background, and
scoring undoes exactly what training did (a centre crop for padding; for a resize, the real
reference goes through the same round trip). The training images themselves, through the
training transform and back, must score at the real-vs-real floor."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch

from ganforge.config import DataConfig, RunConfig
from ganforge.data import load_data
from ganforge.data.transform import background, crop_centre, fit_mode, fit_square, pad_square
from ganforge.errors import DataError
from ganforge.metrics.evaluator import SizeTransform, build_evaluator
from gf_helpers import make_images


def _idx(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()


@pytest.fixture(scope="module")
def fmnist_dir(tmp_path_factory):
    """Fashion-MNIST-named IDX files of 28-px blobs on black: 600 train, 600 test images."""
    root = tmp_path_factory.mktemp("fit-idx")
    for prefix, seed in (("train", 1), ("t10k", 2)):
        images = make_images(600, 28, seed=seed)
        (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (root / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.arange(600) % 10)))
    return root


@pytest.mark.parametrize("h, size, fit, mode", [
    (28, 32, "auto", "pad"), (60, 64, "auto", "pad"), (224, 256, "auto", "pad"),
    (16, 32, "auto", "resize"), (200, 256, "auto", "resize"), (64, 32, "auto", "resize"),
    (28, 32, "resize", "resize"), (16, 32, "pad", "pad"), (32, 32, "auto", "none"), (32, 32, "pad", "none")])
def test_the_rule_pads_a_few_pixels_and_resizes_the_rest(h, size, fit, mode):
    assert fit_mode(h, h, size, fit) == mode


def test_padding_cannot_shrink_and_non_square_data_is_resized_by_default():
    with pytest.raises(DataError, match="--fit pad: the images are 40x40, larger than --size 32"):
        fit_mode(40, 40, 32, "pad")
    assert fit_mode(28, 30, 32, "auto") == "resize" and fit_mode(28, 30, 32, "pad") == "pad"


def test_padding_uses_the_background_and_the_crop_undoes_it_exactly():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 28, 28), dtype=torch.uint8, generator=g)
    colour = torch.tensor([10, 20, 30], dtype=torch.uint8).view(1, 3, 1, 1)
    images[:, :, [0, -1], :] = colour
    images[:, :, :, [0, -1]] = colour
    assert background(images) == [10, 20, 30]
    padded, said = fit_square(images, 32)
    assert padded.shape == (6, 3, 32, 32) and said == "28x28 padded to 32x32 with the background ((10, 20, 30))"
    assert torch.equal(padded[:, :, :2], torch.tensor([10, 20, 30], dtype=torch.uint8).view(1, 3, 1, 1).expand(6, 3, 2, 32))
    assert torch.equal(crop_centre(padded, 28, 28), images)
    odd = pad_square(images[:, :, :27, :25], 32, [0, 0, 0])
    assert torch.equal(crop_centre(odd, 27, 25), images[:, :, :27, :25])


def test_training_data_is_padded_by_default_and_a_stored_run_keeps_its_resize(fmnist_dir):
    cfg = DataConfig(source="fashion-mnist", data_dir=str(fmnist_dir), size=32)
    data = load_data(cfg, progress=False)
    raw = load_data(DataConfig(source="fashion-mnist", data_dir=str(fmnist_dir)), progress=False)
    assert data.images.shape[-1] == 32 and data.fit == "28x28 padded to 32x32 with the background (0)"
    assert torch.equal(data.images[:, :, 2:30, 2:30], raw.images) and data.images[:, :, :2].max() == 0
    resized = load_data(DataConfig(source="fashion-mnist", data_dir=str(fmnist_dir), size=32, fit="resize"),
                        progress=False)
    assert resized.fit == "28x28 resized to 32x32 (antialiased bilinear)"
    # a run stored before --fit existed trained on resized data, and resumes and scores so
    stored = RunConfig().to_dict()
    del stored["data"]["fit"]
    assert RunConfig.from_stored(stored).data.fit == "resize"
    assert RunConfig.from_stored(RunConfig().to_dict()).data.fit == "auto"


@pytest.mark.parametrize("fit", ["pad", "resize"])
def test_the_training_images_through_the_transform_and_back_score_at_the_floor(fmnist_dir, cache, fit):
    cfg = DataConfig(source="fashion-mnist", data_dir=str(fmnist_dir), size=32, fit=fit)
    ev = build_evaluator(cfg, 1, n=300, floor=True, progress=False, log=lambda *a: None,
                         metrics=("fd", "kid", "precision_recall"))
    assert ev.transform == SizeTransform(fit, 28, 32)
    trained_on = load_data(cfg, progress=False).images[300:]  # other images than the floor's subset
    fd, floor = ev.evaluate_images(trained_on)["fd"], ev.floor(300)["fd"]
    assert fd <= 2 * floor, (fd, floor)
    if fit == "resize":
        # scored as before: samples at 32 resized to 28 against untouched reals - the blur counts
        plain = build_evaluator(DataConfig(source="fashion-mnist", data_dir=str(fmnist_dir)), 1, n=300,
                                floor=True, progress=False, log=lambda *a: None, metrics=("fd",))
        unfair = plain.evaluate_images(trained_on)["fd"]
        assert unfair > 2 * plain.floor(300)["fd"] and unfair > 2 * fd, (unfair, fd)


def test_evaluate_prints_the_transform_and_its_floor(cli, fmnist_dir, cache, tmp_path):
    quick = ["--preset", "dcgan", "--size", "32", "--no-progress", "--batch-size", "4", "--n-fixed", "4",
             "--g-channels", "8", "--d-channels", "8", "--precision", "fp32", "--eval-minutes", "0"]
    code, out, err = cli("train", "--data", "fashion-mnist", "--data-dir", fmnist_dir, "--steps", "1",
                         "--out", tmp_path / "run", *quick)
    assert code == 0, err
    assert "data: 28x28 padded to 32x32 with the background (0) (--fit auto)" in out + err
    code, out, err = cli("evaluate", tmp_path / "run", "-n", 50, "--no-progress")
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "padded to 32x32" in lines["transform"] and "centre 28x28 is scored" in lines["transform"]
    assert lines["floor"].startswith("floor") and "real" in lines["floor"]
    assert "none (1x28x28 as is)" in lines["resize"]  # the crop, not a resize, brings samples to 28
    code, out, err = cli("evaluate", tmp_path / "run", "-n", 50, "--no-progress", "--json")
    result = json.loads(out)
    assert result["floor"]["fd"] >= 0 and "padded" in result["protocol"]["transform"]


@pytest.mark.parametrize("preset, size", [("best", 32), ("dcgan", 32), ("best-fmnist", 28), ("tf-tutorial", 28)])
def test_fashion_mnist_trains_at_32_padded_unless_the_model_or_the_preset_says_otherwise(fmnist_dir, preset, size):
    from ganforge.presets import get_preset
    from ganforge.train.loop import prepare

    cfg = get_preset(preset)
    cfg.data.data_dir = str(fmnist_dir)
    data, resolved = prepare(cfg, progress=False)
    assert resolved.data.size == size == data.images.shape[-1]
    assert data.fit == ("28x28 padded to 32x32 with the background (0)" if size == 32 else "")
    cfg.data.size = 28  # --size wins
    assert prepare(cfg, progress=False)[1].data.size == 28
