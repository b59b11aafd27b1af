"""End to end on a 2-step StyleGAN2 run trained through the CLI: generate --truncation (in W),
evaluate, interpolate and arithmetic (in W by default), neighbours, style-mix, project and export."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.api import load_generator
from ganforge.export import load_safetensors_generator
from ganforge.models.stylegan2 import StyleGAN2Generator
from gf_helpers import one_line, tiny_stylegan_run
from toolstest_util import check_evaluate, export_onnx


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-step stylegan2 run (16 px, 8 channels, w_dim 16) on 24 grey blobs."""
    return tiny_stylegan_run(tmp_path_factory.mktemp("stylegan-run"), steps=2)


@pytest.fixture(scope="module")
def G(run):
    G = load_generator(run)
    assert isinstance(G, StyleGAN2Generator) and G.num_ws == 6 and G.w_avg.abs().sum() > 0
    return G


def test_generate_truncation_zero_gives_one_image_the_w_avg_image(cli, run, G, tmp_path):
    code, _, err = cli("generate", run, "-n", 5, "--seed", 3, "--truncation", 0, "--noise-mode", "const",
                       "--out", tmp_path / "t0.npy")
    assert code == 0, err
    images = np.load(tmp_path / "t0.npy")
    assert images.shape == (5, 16, 16, 1) and all((im == images[0]).all() for im in images)
    with torch.no_grad():
        want = ((G.synthesis(G.w_avg[None], "const").clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    assert np.array_equal(images[0, :, :, 0], want[0, 0].numpy())
    code, _, err = cli("generate", run, "-n", 5, "--seed", 3, "--out", tmp_path / "t1.npy")
    assert code == 0, err
    assert len({np.load(tmp_path / "t1.npy")[i].tobytes() for i in range(5)}) == 5


def test_evaluate(cli, run):
    check_evaluate(cli, run)


def test_interpolate_walks_in_w_by_default(cli, run, tmp_path):
    code, out, err = cli("interpolate", run, "--seeds", "1,2", "--steps", 4, "--out-dir", tmp_path)
    assert code == 0, err
    assert "lerp in W" in out and (tmp_path / "interpolation-1-2-lerp-w.png").is_file()
    assert Image.open(tmp_path / "interpolation-1-2-lerp-w.gif").n_frames == 6
    code, out, err = cli("interpolate", run, "--seeds", "1,2", "--steps", 4, "--space", "z", "--truncation", 0.5,
                         "--out-dir", tmp_path)
    assert code == 0, err
    assert (tmp_path / "interpolation-1-2-slerp.png").is_file() and "in W" not in out


def test_arithmetic_in_w(cli, run, tmp_path):
    code, out, err = cli("arithmetic", run, "[1,2] - [3] + [4]", "--results", 3, "--out", tmp_path / "a.png", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["space"] == "w" and d["results"] == 3 and (tmp_path / "a.png").is_file()
    code, out, err = cli("arithmetic", run, "[1,2] - [3] + [4]", "--space", "z", "--out", tmp_path / "z.png", "--json")
    assert code == 0, err
    assert json.loads(out)["space"] == "z"


def test_neighbours(cli, run, tmp_path):
    code, out, err = cli("neighbours", run, "-n", 2, "-k", 3, "--truncation", 0.7, "--out", tmp_path / "nn.png",
                         "--json")
    assert code == 0, err
    d = json.loads(out)
    assert np.array(d["pixel"]["indices"]).shape == (2, 3) and d["train_images"] == 24


def test_style_mix(cli, run, tmp_path):
    code, out, err = cli("style-mix", run, "--rows", "1,2", "--cols", "3,4,5", "--layers", "coarse",
                         "--out", tmp_path / "mix.png")
    assert code == 0, err
    assert "2 rows x 3 columns; ws 0-3 of 6" in out
    w, h = Image.open(tmp_path / "mix.png").size
    assert w > 4 * 64 and h > 3 * 64
    code, out, err = cli("style-mix", run, "--rows", "1", "--cols", "3", "--layers", "4-5", "--truncation", 0.7,
                         "--out", tmp_path / "mix.png")
    assert code == 2 and "already exists" in err and one_line(err)


def test_project_then_style_mix_with_the_projection(cli, run, G, tmp_path):
    rgb = np.zeros((24, 32, 3), np.uint8)
    rgb[6:18, 10:22] = (250, 200, 30)
    Image.fromarray(rgb).save(tmp_path / "picture.png")
    code, out, err = cli("project", run, tmp_path / "picture.png", "--steps", 12, "--out", tmp_path / "proj",
                         "--no-progress")
    assert code == 0, err
    blob = torch.load(tmp_path / "proj/projected.pt", weights_only=True)
    assert blob["ws"].shape == (1, 6, 16) and blob["loss"].shape == (12,) and blob["loss"][-1] < blob["loss"][0]
    assert blob["checkpoint"] == G.checkpoint_path
    assert Image.open(tmp_path / "proj/compare.png").size[0] > Image.open(tmp_path / "proj/reconstruction.png").size[0]
    code, out, err = cli("style-mix", run, "--rows", f"{tmp_path / 'proj/projected.pt'},1", "--cols", "2",
                         "--layers", "fine", "--out", tmp_path / "pmix.png")
    assert code == 0, err
    assert (tmp_path / "pmix.png").is_file()
    code, _, err = cli("project", run, tmp_path / "picture.png", "--steps", 2, "--out", tmp_path / "proj")
    assert code == 2 and "already exists" in err and one_line(err)


def _picture(path):
    rgb = np.zeros((24, 32, 3), np.uint8)
    rgb[6:18, 10:22] = (250, 200, 30)
    Image.fromarray(rgb).save(path)
    return path


def test_a_projection_that_diverges_to_nan_is_refused_and_nothing_is_written(cli, run, tmp_path, monkeypatch):
    # G's conv clamp keeps its images finite at any style, so a G whose images turn NaN stands in
    # for a projection gone astray (an overflow in a G without the clamp)
    synthesis = StyleGAN2Generator.synthesis
    monkeypatch.setattr(StyleGAN2Generator, "synthesis", lambda self, ws, *a, **k: synthesis(self, ws, *a, **k) / 0 * 0)
    code, out, err = cli("project", run, _picture(tmp_path / "picture.png"), "--steps", 20, "--lr", "0.1",
                         "--feature-weight", 0, "--out", tmp_path / "proj", "--no-progress")
    assert code == 2 and one_line(err), err
    assert "the projection diverged" in err and "nothing was written" in err and "--lr" in err
    assert not (tmp_path / "proj").exists() and "wrote" not in out


def test_a_projection_whose_loss_rose_is_written_with_a_warning(cli, run, tmp_path):
    code, out, err = cli("project", run, _picture(tmp_path / "picture.png"), "--steps", 20, "--lr", "1000",
                         "--feature-weight", 0, "--out", tmp_path / "proj", "--no-progress")
    assert code == 0, err
    assert one_line(err) and err.startswith("warning: the loss rose from ") and "smaller --lr" in err
    blob = torch.load(tmp_path / "proj" / "projected.pt", weights_only=True)
    assert blob["loss"][-1] > blob["loss"][0] and torch.isfinite(blob["ws"]).all()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_style_mix_refuses_a_projection_that_is_not_finite(cli, run, tmp_path, bad):
    code, _, err = cli("project", run, _picture(tmp_path / "picture.png"), "--steps", 2, "--feature-weight", 0,
                       "--out", tmp_path / "proj", "--no-progress")
    assert code == 0, err
    path = tmp_path / "proj" / "projected.pt"
    blob = torch.load(path, weights_only=True)
    blob["ws"][0, 2, 3] = bad  # as a projection file written before non-finite styles were refused
    torch.save(blob, path)
    code, out, err = cli("style-mix", run, "--rows", f"{path},1", "--cols", "2", "--out", tmp_path / "mix.png")
    assert code == 2 and one_line(err) and "its styles are not finite numbers" in err and str(path) in err, err
    assert not (tmp_path / "mix.png").exists()


def test_project_takes_the_seed_check_of_every_command(cli, run, tmp_path):
    code, _, err = cli("project", run, _picture(tmp_path / "picture.png"), "--seed", -1, "--out", tmp_path / "p")
    assert code == 2 and one_line(err) and "--seed -1: out of range (a seed is an integer from 0 to" in err, err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("args, msg", [
    (["style-mix", "{run}", "--rows", "1", "--cols", "2", "--layers", "0-9"], "--layers 0-9: this generator has 6"),
    (["style-mix", "{run}", "--rows", "1", "--cols", "2", "--layers", "middle"], "no middle layers"),
    (["style-mix", "{run}", "--rows", "1,x.pt", "--cols", "2"], "--rows: 'x.pt' is neither a seed"),
    (["project", "{run}", "{tmp}/missing.png", "--out", "{tmp}/p"], "missing.png: no such image file"),
    (["project", "{run}", "{tmp}/junk.png", "--out", "{tmp}/p"], "junk.png: not an image Pillow can read"),
    (["project", "{run}", "{tmp}/junk.png", "--steps", "0", "--out", "{tmp}/p"], "--steps: must be from 1"),
    (["project", "{run}", "{tmp}/junk.png", "--lr", "nan", "--out", "{tmp}/p"], "--lr: must be a positive"),
    (["project", "{run}", "{tmp}", "--out", "{tmp}/p"], "is a folder (give one image file)"),
])
def test_bad_inputs_are_one_line_errors(cli, run, tmp_path, args, msg):
    (tmp_path / "junk.png").write_bytes(b"no picture here")
    code, _, err = cli(*[a.format(run=run, tmp=tmp_path) for a in args])
    assert code == 2 and msg in err and one_line(err), err
    assert not (tmp_path / "p").exists()  # refused before any work


def test_export_safetensors_carries_w_avg(cli, run, G, tmp_path):
    code, out, err = cli("export", run, "--format", "safetensors", "--out", tmp_path / "g.safetensors")
    assert code == 0, err
    G2 = load_safetensors_generator(tmp_path / "g.safetensors")
    assert torch.equal(G2.w_avg, G.w_avg)
    z = torch.randn(3, 16)
    with torch.no_grad():
        assert torch.equal(G2(z, noise_mode="const"), G(z, noise_mode="const"))


def test_export_onnx_takes_z_through_the_mapping_network(cli, run, G, tmp_path):
    export_onnx(cli, run, tmp_path / "g.onnx")
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnxruntime is not installed: the file is written but not run")
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.shape[1] == G.z_dim  # the graph starts at z: the mapping network is inside
    z = torch.randn(4, G.z_dim)
    (got,) = sess.run(None, {inp.name: z.numpy()})
    with torch.no_grad():
        want = G.synthesis(G.mapping(z), "const")  # an exported graph draws the stored noise maps
    np.testing.assert_allclose(got, want.numpy(), atol=1e-4)
    meta = json.loads((tmp_path / "g.onnx.json").read_text())
    assert "noise mode const" in meta["noise"]
    assert [i["name"] for i in meta["inputs"]] == ["z"]
    assert meta["w_space"]["num_ws"] == 6 and meta["w_space"]["w_avg"] == pytest.approx(G.w_avg.tolist())


def test_export_the_synthesis_network_alone_takes_ws(cli, run, G, tmp_path):
    code, out, err = cli("export", run, "--format", "torchscript", "--synthesis", "--out", tmp_path / "s.pt")
    assert code == 0, err
    assert "ws (N, 6, 16) -> images" in out
    ws = torch.randn(3, 6, 16)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(tmp_path / "s.pt"))(ws), G.synthesis(ws, "const"))
    meta = json.loads((tmp_path / "s.pt.json").read_text())
    assert meta["inputs"][0]["name"] == "ws" and meta["inputs"][0]["shape"] == ["N", 6, 16]
    code, _, err = cli("export", run, "--format", "safetensors", "--synthesis", "--out", tmp_path / "s.safetensors")
    assert code == 2 and "use --format onnx or torchscript" in err and one_line(err)
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnx or onnxruntime is not installed (pip install ganforge[onnx])")
    code, out, err = cli("export", run, "--format", "onnx", "--synthesis", "--out", tmp_path / "s.onnx")
    assert code == 0, err
    assert "ran with onnxruntime" in out
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "s.onnx"), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"ws": ws.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got, G.synthesis(ws, "const").numpy(), atol=1e-4)


@pytest.mark.parametrize("channels", [1, 3])
def test_project_reads_a_transparent_picture_composited_on_white(tmp_path, channels):
    from types import SimpleNamespace

    from ganforge.tools import read_target

    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[:, :8] = (0, 0, 0, 255)  # black, visible
    rgba[:, 8:] = (255, 0, 0, 0)  # red, hidden
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut-out.png")
    target = read_target(tmp_path / "cut-out.png", SimpleNamespace(img_size=16, img_channels=channels))
    assert target.shape == (1, channels, 16, 16)
    assert target[..., :8].eq(0).all() and target[..., 8:].eq(255).all()


def _close(a, b) -> bool:
    """Equal but for a level here and there: a batch of 5 may round apart from a batch of 1."""
    return np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int)).max() <= 1


def test_interpolate_along_a_direction_moves_each_seed_as_directions_edit_does(cli, run, tmp_path):
    code, out, err = cli("interpolate", run, "--seeds", "3,5", "--direction", 1, "--span", 2, "--steps", 5,
                         "--out", tmp_path / "walk")
    assert code == 0, err
    assert "2 seed(s) x 5 steps along direction 1" in out and (tmp_path / "walk.gif").is_file()
    G = load_generator(run)
    from ganforge.tools.directions import find_directions, walk_direction

    walk = walk_direction(G, [3, 5], 1, steps=5, span=2.0)
    assert walk.frames.shape[:2] == (2, 5) and walk.amounts == [-2.0, -1.0, 0.0, 1.0, 2.0]
    # the middle column (amount 0) is each seed's generate image; the others are its --edit images
    code, _, err = cli("generate", run, "-n", 1, "--seed", 5, "--out", tmp_path / "g.npy")
    assert code == 0, err
    assert _close(walk.frames[1, 2].permute(1, 2, 0).numpy(), np.load(tmp_path / "g.npy")[0])
    from ganforge.tools.directions import apply_edits, draw_points, seed_points

    edit = draw_points(G, apply_edits(find_directions(G), seed_points(G, [5]), {1: -1.0}), noise_seed=5)
    assert _close(edit[0], walk.frames[1, 1])  # what 'directions --seed 5 --edit 1=-1' draws
    assert not torch.equal(walk.frames[1, 0], walk.frames[1, 4])  # the direction changes the image
    assert len(find_directions(G).vectors) > 1
    code, _, err = cli("interpolate", run, "--seeds", "3", "--direction", 99, "--out", tmp_path / "bad")
    assert code == 2 and "--direction 99=...: this generator has directions 0-" in err


def test_arithmetic_along_a_direction_moves_the_result(cli, run, tmp_path):
    code, out, err = cli("arithmetic", run, "[5]", "--along", "0=2", "--results", 1, "--noise-mode", "const",
                         "--out", tmp_path / "a.png", "--json")
    assert code == 0, err
    assert json.loads(out)["along"] == {"0": 2.0}
    G = load_generator(run)
    from ganforge.tools import arithmetic
    from ganforge.tools.directions import apply_edits, draw_points, find_directions, seed_points

    res = arithmetic(G, "[5]", results=1, noise_mode="const", along={0: 2.0})
    want = draw_points(G, apply_edits(find_directions(G), seed_points(G, [5]), {0: 2.0}), noise_mode="const")
    assert torch.equal(res.result_images, want)
    plain = arithmetic(G, "[5]", results=1, noise_mode="const")
    assert not torch.equal(plain.result_images, want)
    code, _, err = cli("arithmetic", run, "[5]", "--along", "0=2", "--space", "z", "--out", tmp_path / "z.png")
    assert code == 2 and "directions live in W" in err


def test_noise_modes_on_the_commands(cli, run, tmp_path, capsys):
    """random (the default: each image its own noise from its seed, so a run of generate is
    repeatable and image i does not depend on -n), const (the stored maps), none; on every command
    that samples."""
    def gen(*flags, n=3):
        code, _, err = cli("generate", run, "-n", n, "--seed", 4, *flags, "--out", tmp_path / "g.npy", "--overwrite")
        assert code == 0, err
        return np.load(tmp_path / "g.npy").astype(int)

    random_a, random_b = gen(), gen()
    assert np.array_equal(random_a, random_b)  # seeded: the same draw every time
    assert np.abs(gen(n=1)[0] - random_a[0]).max() <= 1  # image 0 is image 0, whatever -n
    const, none = gen("--noise-mode", "const"), gen("--noise-mode", "none")
    assert not np.array_equal(const, random_a) and not np.array_equal(none, const)
    assert np.array_equal(const, gen("--noise-mode", "const"))
    from ganforge.cli import build_parser

    for command in ("generate", "evaluate", "interpolate", "arithmetic", "neighbours", "style-mix", "directions"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        assert "--noise-mode" in capsys.readouterr().out, command
