"""Every command that uses a trained G works on a progressive-growing run: generate, evaluate,
interpolate, arithmetic, neighbours and export (safetensors, TorchScript, ONNX). The run is a
tiny 16-px progan stopped in the middle of the 8x8 fade, the hardest state to rebuild."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.api import load_generator
from ganforge.export import load_safetensors_generator
from ganforge.models.progan import ProGANGenerator
from gf_helpers import TINY_WIDTHS, make_images, train_once
from toolstest_util import check_evaluate, export_onnx


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 4-step progan run (16 px, 8 channels) on 24 grey blobs, ending at alpha 0.5 of 8x8."""
    root = tmp_path_factory.mktemp("progan-run")
    np.savez(root / "blobs.npz", images=make_images(24, size=16))
    train_once(root / "run", root / "blobs.npz", "--preset", "progan", "--size", "16", "--z-dim", "16", *TINY_WIDTHS,
               "--batch-size", "4", "--stage-batch", "", "--stage-kimg", "0.008", "--fade-kimg", "0.016",
               "--steps", "4", "--n-fixed", "4", "--no-progress", "--precision", "fp32", "--device", "cpu")
    return root / "run"


def test_the_loaded_generator_is_mid_fade_and_makes_final_size_images(run):
    G = load_generator(run)
    assert isinstance(G, ProGANGenerator) and G.stage_size == 8 and float(G.alpha) == 0.5 and G._fading
    assert G(torch.randn(2, 16)).shape == (2, 1, 16, 16)


def test_generate(cli, run, tmp_path):
    code, _, err = cli("generate", run, "-n", 6, "--seed", 3, "--out", tmp_path / "g.npy")
    assert code == 0, err
    images = np.load(tmp_path / "g.npy")
    assert images.shape[0] == 6 and images.dtype == np.uint8 and images.reshape(6, -1).shape[1] == 16 * 16
    code, _, err = cli("generate", run, "-n", 4, "--out", tmp_path / "grid.png")
    assert code == 0, err
    assert Image.open(tmp_path / "grid.png").size[0] >= 32


def test_evaluate(cli, run):
    check_evaluate(cli, run)


def test_interpolate(cli, run, tmp_path):
    code, _, err = cli("interpolate", run, "--seeds", "1,2", "--steps", 4, "--out", tmp_path / "i.png")
    assert code == 0, err
    assert (tmp_path / "i.png").is_file() and (tmp_path / "i.gif").is_file()


def test_arithmetic(cli, run, tmp_path):
    code, out, err = cli("arithmetic", run, "[1,2] - [3,4] + [5,6]", "--results", 3, "--out", tmp_path / "a.png",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["results"] == 3 and (tmp_path / "a.png").is_file()


def test_neighbours(cli, run, tmp_path):
    code, out, err = cli("neighbours", run, "-n", 2, "-k", 3, "--out", tmp_path / "nn.png", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert np.array(d["pixel"]["indices"]).shape == (2, 3) and d["train_images"] == 24


def test_export_safetensors_and_torchscript(cli, run, tmp_path):
    code, out, err = cli("export", run, "--format", "safetensors", "--out", tmp_path / "g.safetensors")
    assert code == 0, err
    G, G2 = load_generator(run), load_safetensors_generator(tmp_path / "g.safetensors")
    assert G2.stage_size == 8 and float(G2.alpha) == 0.5  # the stage travels with the weights
    z = torch.randn(3, 16)
    with torch.no_grad():
        assert torch.equal(G(z), G2(z))
    code, out, err = cli("export", run, "--format", "torchscript", "--out", tmp_path / "g.pt")
    assert code == 0, err
    assert "reloaded with torch.jit.load" in out
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(tmp_path / "g.pt"))(z), G(z))


def test_export_onnx(cli, run, tmp_path):
    export_onnx(cli, run, tmp_path / "g.onnx")
