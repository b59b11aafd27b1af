"""Class-conditional training: labels reach G and D, and the classes change what G draws."""
from __future__ import annotations

import json

import numpy as np
import torch

from gf_helpers import make_images
from ganforge import api
from ganforge.config import ModelConfig
from ganforge.models import build_models


def test_conditional_dcgan_uses_the_label():
    torch.manual_seed(0)
    G, D = build_models(ModelConfig(arch="dcgan", g_channels=8, d_channels=8, num_classes=4, init="dcgan"), 1, 28)
    G.eval()
    z = torch.randn(1, 100).expand(4, 100)
    x = G(z, torch.arange(4))
    assert x.shape == (4, 1, 28, 28)
    assert not torch.allclose(x[0], x[1]), "same z, different class must give different images"
    logits = D(x, torch.arange(4))
    assert logits.shape == (4,)
    # the projection term: the same image scored as another class gets another logit
    assert not torch.allclose(D(x[:1], torch.tensor([0])), D(x[:1], torch.tensor([3])))


def test_two_step_conditional_run_and_generate(cli, fast, tmp_path):
    data = tmp_path / "labelled.npz"
    np.savez(data, images=make_images(40), labels=np.arange(40) % 4)
    run = tmp_path / "run"
    code, out, err = cli("train", "--data", data, "--conditional", "--steps", 2, "--out", run, *fast,
                         "--g-channels", "8", "--d-channels", "8")
    assert code == 0, err
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["conditional"] and cfg["model"]["num_classes"] == 4
    G = api.load_generator(run)
    assert G.num_classes == 4
    imgs = api.generate(G, 8, seed=0, classes=2)
    assert imgs.shape == (8, 1, 28, 28) and imgs.dtype == torch.uint8
    # same seed, other class: other images
    assert not torch.equal(imgs, api.generate(G, 8, seed=0, classes=3))
    # the CLI takes class names (the .npz has none, so ids) and refuses unknown ones
    code, out, err = cli("generate", run, "-n", 4, "--class", "2", "--out", tmp_path / "c2.npy")
    assert code == 0, err
    assert (np.load(tmp_path / "c2.npy") == api.generate(G, 4, seed=0, classes=2).permute(0, 2, 3, 1).numpy()).all()
    code, _, err = cli("generate", run, "-n", 4, "--class", "sneaker")
    assert code == 2 and "sneaker" in err


def test_conditional_needs_labels_and_a_conditional_arch(cli, fast, tmp_path):
    data = tmp_path / "unlabelled.npy"
    np.save(data, make_images(16))
    code, _, err = cli("train", "--data", data, "--conditional", "--steps", 1, *fast)
    assert code == 2 and "--conditional" in err and "no labels" in err
    code, _, err = cli("train", "--preset", "tf-tutorial", "--data", data, "--conditional", "--steps", 1, *fast)
    assert code == 2 and "--conditional" in err and "dcgan" in err
