"""``ganforge import``: official stylegan2-ada-pytorch network pickles (made here in the official
format, see official_format.py) become runs that compute the official images and that every
tool takes; pickles that would run code are refused, and nothing of them runs."""
from __future__ import annotations

import importlib.util
import json
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganforge.api import load_generator
from ganforge.checkpoint import load_checkpoint
from ganforge.metrics.networks import evaluator_path, random_evaluator, save_evaluator
from ganforge.models import build_models
from gf_helpers import make_images, one_line
from official_format import RAN, official_D, official_G, official_uint8, write_official_pickle

SMALL = dict(res=16, img_channels=1, z_dim=8, w_dim=8, base=64, cmax=8, mapping_layers=2)
COND = dict(res=32, img_channels=3, z_dim=8, w_dim=8, c_dim=4, base=128, cmax=16, mapping_layers=3,
            architecture="orig", augment_p=0.25)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """An unconditional 16-px grey network imported through the CLI, with the pickle's official tensors."""
    from ganforge.cli import main

    root = tmp_path_factory.mktemp("official")
    info = write_official_pickle(root / "net.pkl", marker=root / "ran.txt", **SMALL)
    assert main(["import", str(root / "net.pkl"), "--out", str(root / "run")]) == 0
    np.savez(root / "blobs.npz", images=make_images(64, size=16))
    return {"root": root, "run": root / "run", "info": info}


def _latents(n: int, z_dim: int = 8) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, z_dim)).astype(np.float32)


def test_the_imported_network_draws_the_official_images(cli, imported, tmp_path):
    z = _latents(6)
    np.save(tmp_path / "z.npy", z)
    for psi in (None, 0.7):
        flags = ["--truncation", psi] if psi is not None else []
        code, out, err = cli("generate", imported["run"], "--latents", tmp_path / "z.npy", "--noise-mode", "const",
                             *flags, "--out", tmp_path / "g.npy", "--overwrite")
        assert code == 0, err
        assert "6 images" in out or "(6," in out
        ours = torch.from_numpy(np.load(tmp_path / "g.npy")).permute(0, 3, 1, 2)
        ref = official_uint8(official_G(imported["info"]["flat"]["G_ema"], torch.from_numpy(z), psi=psi or 1.0,
                                        mapping_layers=2, res=16, conv_clamp=256))
        assert (ours.int() - ref.int()).abs().max() <= 1, psi  # the official scripts truncate, ganforge rounds


def test_the_import_ran_nothing_of_the_pickle(imported):
    assert RAN == [] and not (imported["root"] / "ran.txt").exists()


def test_a_conditional_rgb_network_with_the_orig_d(cli, tmp_path):
    info = write_official_pickle(tmp_path / "cond.pkl", **COND)
    code, out, err = cli("import", tmp_path / "cond.pkl", "--out", tmp_path / "run")
    assert code == 0, err
    assert "imported G_ema, G, D" in out and "32x32x3, 4 classes" in out and "ADA at p = 0.250" in out
    z = _latents(4)
    np.save(tmp_path / "z.npy", z)
    code, _, err = cli("generate", tmp_path / "run", "--latents", tmp_path / "z.npy", "--class", 2, "--noise-mode",
                       "const", "--out", tmp_path / "g.npy")
    assert code == 0, err
    ours = torch.from_numpy(np.load(tmp_path / "g.npy")).permute(0, 3, 1, 2)
    c = F.one_hot(torch.full((4,), 2), 4).float()
    ref = official_uint8(official_G(info["flat"]["G_ema"], torch.from_numpy(z), c, mapping_layers=3, res=32,
                                    conv_clamp=256))
    assert (ours.int() - ref.int()).abs().max() <= 1
    # D too: the checkpoint's D gives the official logits
    ck = load_checkpoint(tmp_path / "run")
    cfg = ck["config"]["model"]
    from ganforge.config import RunConfig

    _, D = build_models(RunConfig.from_stored(ck["config"]).model, 3, 32)
    D.load_state_dict(ck["D"])
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        want = official_D(info["flat"]["D"], x, F.one_hot(y, 4).float(), res=32, conv_clamp=256, architecture="orig",
                          mbstd=4, mapping_layers=3).flatten()
        torch.testing.assert_close(D.eval()(x, y), want, rtol=1e-4, atol=1e-5)
    assert cfg["d_architecture"] == "orig" and cfg["num_classes"] == 4 and ck["class_names"] == ["0", "1", "2", "3"]


def test_every_tool_takes_the_run(cli, imported, tmp_path):
    run, data = imported["run"], imported["root"] / "blobs.npz"
    for args in (["generate", run, "-n", 4, "--out", tmp_path / "g.png"],
                 ["interpolate", run, "--seeds", "1,2", "--steps", 3, "--out-dir", tmp_path],
                 ["arithmetic", run, "[1,2] - [3] + [4]", "--out", tmp_path / "a.png"],
                 ["style-mix", run, "--rows", "1", "--cols", "2", "--layers", "coarse", "--out", tmp_path / "m.png"],
                 ["directions", run, "--seed", 1, "--out", tmp_path / "d.png"],
                 ["neighbours", run, "-n", 2, "-k", 2, "--data", data, "--no-features", "--out", tmp_path / "n.png"],
                 ["export", run, "--format", "safetensors", "--out", tmp_path / "g.safetensors"]):
        code, out, err = cli(*args)
        assert code == 0, (args[0], err)
    Image = pytest.importorskip("PIL.Image")
    Image.fromarray(make_images(1, size=16)[0, 0]).save(tmp_path / "pic.png")
    code, _, err = cli("project", run, tmp_path / "pic.png", "--steps", 3, "--feature-weight", 0, "--no-progress",
                       "--out", tmp_path / "proj")
    assert code == 0, err
    net, meta = random_evaluator("fashion-mnist")  # (the plumbing only: random features)
    save_evaluator(net, meta, evaluator_path("fashion-mnist"))
    code, out, err = cli("evaluate", run, "--data", data, "-n", 16, "--json", "--no-progress")
    assert code == 0, err
    assert json.loads(out)["metrics"]["fd"] >= 0


def test_import_then_onnx_gives_the_official_images(cli, imported, tmp_path):
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnx or onnxruntime is not installed (pip install ganforge[onnx])")
    import onnxruntime as ort

    code, out, err = cli("export", imported["run"], "--format", "onnx", "--out", tmp_path / "g.onnx")
    assert code == 0, err
    z = _latents(3)
    (got,) = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"]).run(None, {"z": z})
    want = official_G(imported["info"]["flat"]["G_ema"], torch.from_numpy(z), mapping_layers=2, res=16, conv_clamp=256)
    np.testing.assert_allclose(got, want.numpy(), atol=1e-4)


def test_resume_fine_tunes_an_imported_run(cli, imported, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(imported["run"], run)
    before = load_checkpoint(run)
    code, out, err = cli("train", "--resume", run, "--data", imported["root"] / "blobs.npz", "--steps", 2,
                         "--no-progress", "--precision", "fp32")
    assert code == 0, err
    after = load_checkpoint(run)
    assert after["step"] == 2 and after["imported"]["has_D"] and after["data_fingerprint"] is not None
    assert any(not torch.equal(before["G"][k], after["G"][k]) for k in before["G"])


def test_a_pickle_without_d_imports_but_cannot_be_trained_on(cli, tmp_path):
    write_official_pickle(tmp_path / "g.pkl", with_d=False, with_g=False, **SMALL)
    code, out, err = cli("import", tmp_path / "g.pkl", "--out", tmp_path / "run")
    assert code == 0, err
    assert "imported G_ema of" in out and "cannot be trained on" in out
    assert load_generator(tmp_path / "run").num_ws == 6
    np.savez(tmp_path / "blobs.npz", images=make_images(64, size=16))
    code, _, err = cli("train", "--resume", tmp_path / "run", "--data", tmp_path / "blobs.npz", "--steps", 2)
    assert code == 2 and one_line(err) and "without a discriminator" in err


class _RunsCode:
    def __reduce__(self):
        import os

        return os.system, ("echo pwned > /dev/null",)


@pytest.mark.parametrize("payload, says", [
    ({"G_ema": _RunsCode()}, "posix.system, which is code"),
    ({"G_ema": print}, "builtins.print, which is code"),
])
def test_a_pickle_that_would_run_code_is_refused(cli, tmp_path, payload, says):
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(payload))
    code, out, err = cli("import", tmp_path / "bad.pkl", "--out", tmp_path / "run")
    assert code == 2 and one_line(err), err
    assert "refused" in err and says in err and "ran nothing" in err
    assert not (tmp_path / "run").exists()


def test_the_stored_module_source_is_never_run(cli, tmp_path):
    marker = tmp_path / "ran.txt"
    write_official_pickle(tmp_path / "net.pkl", marker=marker, **SMALL)
    code, _, err = cli("import", tmp_path / "net.pkl", "--out", tmp_path / "run")
    assert code == 0, err
    assert RAN == [] and not marker.exists()
    # the same pickle opened with pickle.load runs the stored source: the marker shows what was avoided
    with pytest.raises(RuntimeError, match="the official unpickling hook ran"):
        pickle.loads((tmp_path / "net.pkl").read_bytes())
    assert marker.exists()
    RAN.clear()


@pytest.mark.parametrize("make, says", [
    (lambda p: torch.save({"G": torch.zeros(2)}, p), "a torch.save file"),
    (lambda p: p.write_bytes(pickle.dumps({"G": 1, "D": 2})), "not a stylegan2-ada-pytorch network pickle"),
    (lambda p: p.write_bytes(b"\x80\x04garbage"), "not a readable pickle"),
    (lambda p: None, "no such file"),
])
def test_files_that_are_not_official_pickles(cli, tmp_path, make, says):
    make(tmp_path / "x.pkl")
    code, _, err = cli("import", tmp_path / "x.pkl", "--out", tmp_path / "run")
    assert code == 2 and one_line(err) and says in err, err


def test_a_network_ganforge_does_not_build_is_refused_in_one_line(cli, tmp_path):
    write_official_pickle(tmp_path / "skip.pkl", architecture="skip", **SMALL)
    code, _, err = cli("import", tmp_path / "skip.pkl", "--out", tmp_path / "run")
    assert code == 2 and one_line(err) and "'skip' discriminator" in err, err


def test_the_summary_and_an_existing_out_folder(cli, imported, tmp_path):
    code, _, err = cli("import", imported["root"] / "net.pkl", "--out", imported["run"])
    assert code == 2 and "--overwrite" in err
    meta = json.loads((imported["run"] / "config.json").read_text())
    assert meta["preset"] == "imported" and meta["model"]["channel_base"] == 64 and meta["data"]["size"] == 16
