"""End to end: interpolate, arithmetic, neighbours, export and generate --truncation on a 2-step
run trained through the CLI, in a temp folder."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import tools
from ganforge.api import load_generator
from ganforge.cli import main
from ganforge.export import load_safetensors_generator
from ganforge.tools import ToolClassifier, interpolate
from gf_helpers import FINAL_ONLY, TINY_NETS, make_images, one_line, train_once
from toolstest_util import BRIGHTNESS_CLASSES, brightness_probs, export_onnx



@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-step dcgan run (8 channels) on 24 grey 28x28 images, trained once for this module."""
    root = tmp_path_factory.mktemp("tools-run")
    np.savez(root / "blobs.npz", images=make_images(24), labels=np.arange(24) % 3)
    train_once(root / "run", root / "blobs.npz", "--steps", "2", *FINAL_ONLY, *TINY_NETS)
    return root / "run"


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    """A 2-step class-conditional dcgan run on 12 labelled images with class names."""
    root = tmp_path_factory.mktemp("tools-cond-run")
    images = np.random.default_rng(1).integers(0, 256, (12, 28, 28)).astype(np.uint8)
    np.savez(root / "named.npz", images=images, labels=np.arange(12) % 3, class_names=np.array(BRIGHTNESS_CLASSES))
    train_once(root / "run", root / "named.npz", "--conditional", "--steps", "2", *FINAL_ONLY, *TINY_NETS)
    return root / "run"


@pytest.fixture
def fake_evaluator(monkeypatch):
    """Replace the evaluator lookup with a fake classifier (brightness classes), for any dataset."""
    ev = ToolClassifier(class_names=list(BRIGHTNESS_CLASSES), classify=brightness_probs,
                        features=lambda x: x.float().reshape(x.shape[0], -1)[:, ::7],
                        name="fake-brightness")
    monkeypatch.setattr(tools, "find_evaluator", lambda dataset, device="cpu": (ev, ""))
    return ev


def test_interpolate_writes_a_grid_and_a_looping_gif(cli, run, tmp_path):
    code, out, err = cli("interpolate", run, "--seeds", "1,7,42", "--steps", 4, "--out-dir", tmp_path / "figs")
    assert code == 0, err
    png, gif = tmp_path / "figs/interpolation-1-7-42-slerp.png", tmp_path / "figs/interpolation-1-7-42-slerp.gif"
    assert str(png) in out and str(gif) in out
    assert Image.open(png).size[0] > 4 * 64
    assert Image.open(gif).n_frames == 3 * 3  # 3 segments (back to seed 1), 3 new frames each

    code, out, err = cli("interpolate", run, "--seeds", "3, 9", "--mode", "lerp", "--truncation", 0.7, "--no-loop",
                         "--out", tmp_path / "walk.png")
    assert code == 0, err
    assert (tmp_path / "walk.png").is_file() and Image.open(tmp_path / "walk.gif").n_frames == 7

    # seed s in a walk is the image `generate -n 1 --seed s` makes
    assert cli("generate", run, "-n", 1, "--seed", 7, "--out", tmp_path / "s7.npy")[0] == 0
    frames = interpolate(load_generator(run), [7, 1], steps=2).frames
    assert np.array_equal(np.load(tmp_path / "s7.npy")[0], frames[0, 0].permute(1, 2, 0).numpy())


@pytest.mark.parametrize("args,msg", [
    (["--seeds", "1"], "at least 2"),
    (["--seeds", "1,x"], "--seeds"),
    (["--seeds", "1,2", "--class", "bag"], "unconditional"),
    (["--seeds", "1,2", "--truncation", "5"], "--truncation"),
    (["--seeds", "1,2", "--steps", "1"], "--steps"),
])
def test_interpolate_bad_input_is_one_line_and_exit_2(cli, run, tmp_path, args, msg):
    code, _, err = cli("interpolate", run, *args, "--out", tmp_path / "x")
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("ms", [0, 5, 9, 655_360, 99_999_999, 2 ** 70])
def test_interpolate_refuses_a_frame_time_a_gif_cannot_hold(cli, run, tmp_path, ms):
    code, out, err = cli("interpolate", run, "--seeds", "1,2", "--steps", 3, "--ms-per-frame", ms,
                         "--out", tmp_path / "w")
    assert code == 2 and one_line(err), err
    assert f"--ms-per-frame {ms}: a GIF frame lasts 10 to 655,350 ms" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("ms,stored,said", [(10, 10, False), (105, 110, True), (655_350, 655_350, False)])
def test_interpolate_frame_times_are_stored_to_10_ms_and_rounding_is_said(cli, run, tmp_path, ms, stored, said):
    code, out, err = cli("interpolate", run, "--seeds", "1,2", "--steps", 3, "--ms-per-frame", ms,
                         "--out", tmp_path / "w")
    assert code == 0, err
    assert (f"{stored} ms each (GIF frame times are in steps of 10 ms)" in out) == said
    gif = Image.open(tmp_path / "w.gif")
    times = []
    for i in range(gif.n_frames):
        gif.seek(i)
        times.append(gif.info["duration"])
    assert times == [600, stored, 600, stored]  # each seed's own image is held 600 ms


def test_generate_truncation(cli, run, tmp_path):
    assert cli("generate", run, "-n", 4, "--seed", 2, "--truncation", 0, "--out", tmp_path / "t0.npy")[0] == 0
    t0 = np.load(tmp_path / "t0.npy")
    assert all(np.array_equal(t0[0], img) for img in t0)  # every seed -> the mean latent's image
    stored = torch.load(run / "latent_mean.pt", weights_only=True)
    assert stored["mean"].shape == (100,) and stored["mean"].abs().max() < 0.05
    assert cli("generate", run, "-n", 4, "--seed", 2, "--truncation", 1, "--out", tmp_path / "t1.npy")[0] == 0
    assert cli("generate", run, "-n", 4, "--seed", 2, "--out", tmp_path / "none.npy")[0] == 0
    assert np.array_equal(np.load(tmp_path / "t1.npy"), np.load(tmp_path / "none.npy"))


def test_arithmetic_with_seed_lists(cli, run, tmp_path):
    fig = tmp_path / "arith.png"
    code, out, err = cli("arithmetic", run, "[3,9,12] - [4,5,6] + [7,8,10]", "--results", 4, "--out", fig, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert [(t["letter"], t["sign"], t["seeds"]) for t in d["terms"]] == [
        ("A", "+", [3, 9, 12]), ("B", "-", [4, 5, 6]), ("C", "+", [7, 8, 10])]
    assert d["results"] == 4 and d["readout"] is None and "'blobs'" in d["readout_skipped"]
    assert Image.open(fig).size[1] > 4 * 64
    code, _, err = cli("arithmetic", run, "-[1] + [2]", "--out", fig)
    assert code == 2 and f"{fig}: already exists (add --overwrite" in err  # never replaced silently
    code, out, _ = cli("arithmetic", run, "-[1] + [2]", "--out", fig, "--overwrite")
    assert code == 0 and "no class read-out" in out and str(fig) in out


def test_arithmetic_errors(cli, run, tmp_path):
    code, _, err = cli("arithmetic", run, "[1,2] - - [3]", "--out", tmp_path / "a.png")
    assert code == 2 and "position 9" in err
    code, _, err = cli("arithmetic", run, "sneaker - [3]", "--out", tmp_path / "a.png")
    assert code == 2 and "evaluator" in err and len(err.strip().splitlines()) == 1


def test_arithmetic_with_class_names_on_an_unconditional_run(cli, run, tmp_path, fake_evaluator):
    """The evaluator classifier is faked (fake_evaluator: classes by brightness) so that class
    concepts of this unconditional run can be tested without training the real one."""
    fig = tmp_path / "a.png"
    code, out, err = cli("arithmetic", run, "ankle boot - dark + [3]", "--pool", 40, "--results", 4,
                         "--out", fig, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["terms"][0]["description"] == "class 'Ankle boot'" and len(d["terms"][0]["seeds"]) == 3
    assert all(0 <= s < 40 for s in d["terms"][0]["seeds"]) and len(d["terms"][0]["confidences"]) == 3
    assert sum(d["readout"].values()) == 4 and d["evaluator"] == "fake-brightness"
    code, out, _ = cli("arithmetic", run, "mid grey - dark", "--pool", 30, "--results", 3, "--out", fig,
                       "--overwrite")
    assert code == 0 and "the evaluator reads the 3 results as" in out
    code, _, err = cli("arithmetic", run, "boots - dark", "--pool", 30, "--out", fig, "--overwrite")
    assert code == 2 and "Ankle boot" in err and "Mid grey" in err


def test_neighbours_pixel_space_and_skipped_features(cli, run, tmp_path):
    fig = tmp_path / "nn.png"
    code, out, err = cli("neighbours", run, "-n", 3, "-k", 2, "--out", fig, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert np.array(d["pixel"]["indices"]).shape == (3, 2) and d["train_images"] == 24
    assert d["feature"] is None and "'blobs'" in d["feature_skipped"]
    assert d["pixel"]["train_to_train_median"] > 0
    assert fig.is_file()
    code, out, _ = cli("neighbors", run, "-n", 2, "-k", 1, "--out", fig, "--overwrite")
    assert code == 0 and "feature space skipped" in out and "a training image's nearest other: median" in out
    code, _, err = cli("neighbours", run, "-k", 99, "--out", fig, "--overwrite")
    assert code == 2 and "-k 99" in err


def test_neighbours_feature_space_with_an_evaluator(cli, run, tmp_path, fake_evaluator):
    """Feature space comes from the (faked) evaluator."""
    code, out, err = cli("neighbours", run, "-n", 2, "-k", 3, "--out", tmp_path / "nn.png", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["feature"]["network"] == "fake-brightness" and np.array(d["feature"]["indices"]).shape == (2, 3)
    assert d["feature"]["train_to_train_median"] >= 0


def test_export_safetensors_and_torchscript(cli, run, tmp_path):
    code, out, err = cli("export", run, "--format", "safetensors")
    assert code == 0, err
    path = run / "generator.safetensors"
    assert str(path) in out and "0.00e+00" in out
    G, G2 = load_generator(run), load_safetensors_generator(path)
    s1, s2 = G.state_dict(), G2.state_dict()
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)
    side = json.loads((run / "generator.safetensors.json").read_text())
    assert side["z_dim"] == 100 and side["output"]["activation"] == "tanh"

    code, out, err = cli("export", run, "--format", "torchscript", "--out", tmp_path / "g.pt")
    assert code == 0, err
    assert "reloaded with torch.jit.load" in out
    assert (tmp_path / "g.pt.json").is_file()


def test_export_onnx(cli, run, tmp_path):
    export_onnx(cli, run, tmp_path / "g.onnx")


@pytest.mark.parametrize("command", ["interpolate", "arithmetic", "neighbours", "export"])
def test_help_has_examples(capsys, command):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "examples:" in capsys.readouterr().out


def test_conditional_run_interpolate_arithmetic_export(cli, cond_run, tmp_path):
    """The conditional paths end to end: --class, class concepts drawn with y fixed, a (z, y) export.
    (TorchScript and ONNX exports of a (z, y) generator are tested in test_tools_export.py.)"""
    code, out, err = cli("interpolate", cond_run, "--seeds", "1,2", "--steps", 3, "--class", "ankle-boot",
                         "--out", tmp_path / "walk")
    assert code == 0, err
    assert "class Ankle boot" in out and Image.open(tmp_path / "walk.gif").n_frames == 4
    code, out, err = cli("arithmetic", cond_run, "ankle boot - dark + [3]", "--exemplars", 2, "--results", 3,
                         "--out", tmp_path / "a.png", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["result_class"] == "Ankle boot" and d["terms"][1]["seeds"] == [2000, 2001]
    code, out, _ = cli("arithmetic", cond_run, "[1] - [2]", "--class", "mid grey", "--out", tmp_path / "b.png",
                       "--json")
    assert code == 0 and json.loads(out)["result_class"] == "Mid grey"
    code, _, err = cli("arithmetic", cond_run, "shoe - dark", "--out", tmp_path / "c.png")
    assert code == 2 and "Ankle boot" in err
    code, out, err = cli("export", cond_run, "--format", "safetensors", "--out", tmp_path / "g.safetensors")
    assert code == 0, err
    assert "y (N,) int64" in out and "0.00e+00" in out
    side = json.loads((tmp_path / "g.safetensors.json").read_text())
    assert side["class_names"] == BRIGHTNESS_CLASSES and side["inputs"][1]["name"] == "y"
    G = load_safetensors_generator(tmp_path / "g.safetensors")
    assert G.num_classes == 3 and G.class_names == BRIGHTNESS_CLASSES


def test_find_evaluator_loads_a_cached_metrics_evaluator(tmp_path):
    """find_evaluator reads the file `ganforge evaluator train` writes (here: untrained weights)."""
    from ganforge.metrics.networks import ClassifierNet, evaluator_path, save_evaluator

    from ganforge.metrics.shipped import SHIPPED

    assert tools.find_evaluator("mnist")[0] is None  # the cache is empty in these tests
    assert "evaluator train --data mnist" in tools.find_evaluator("mnist")[1]
    shipped, why = tools.find_evaluator("fashion-mnist")  # the one in the package
    assert why == "" and SHIPPED["fashion-mnist"] in shipped.name
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    torch.manual_seed(0)
    net = ClassifierNet(in_channels=1, num_classes=10, widths=(4, 4, 8)).eval()
    save_evaluator(net, {"dataset": "fashion-mnist", "channels": 1, "size": 28, "num_classes": 10,
                         "class_names": names, "widths": [4, 4, 8], "mean": 0.3, "std": 0.3},
                   evaluator_path("fashion-mnist"))
    ev, why = tools.find_evaluator("fashion-mnist")
    assert why == "" and ev.class_names == names
    x = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    probs, feats = ev.classify(x), ev.features(x)
    assert probs.shape == (5, 10) and torch.allclose(probs.sum(1), torch.ones(5)) and feats.shape == (5, 8)
    assert tools.find_evaluator("blobs")[0] is None
