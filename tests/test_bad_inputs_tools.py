"""Hostile input to the generator tools, evaluate and the data loaders: every mistake is one line
naming the flag or file (exit 2), nothing is left half-written, nothing is silently replaced, and
outputs no one could use are refused before any work is done."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import images as gf_images
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data import download, load_data
from ganforge.errors import ConfigError, DataError, GanforgeError
from ganforge.export import export_generator
from ganforge.generator import load_generator
from gf_helpers import FINAL_ONLY, TINY_NETS, make_images, one_line, train_once

NO_CUDA = "--device: cuda asked for, but this machine has no CUDA device (use --device cpu)"
REAL_DOWNLOAD = download.download_file  # as imported: other tests' fixtures may replace it for a session


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-step dcgan run (8 channels) on 24 grey 28x28 images."""
    root = tmp_path_factory.mktemp("bad-inputs-run")
    np.savez(root / "blobs.npz", images=make_images(24))
    train_once(root / "run", root / "blobs.npz", "--steps", "2", *FINAL_ONLY, *TINY_NETS)
    return root / "run"


def temp_files(folder) -> list:
    return [p for p in folder.rglob("*") if ".tmp-" in p.name or p.name.endswith(".part")]


# --------------------------------------------------------------------------- --device cuda without CUDA

@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", [
    ["generate", "{run}", "-n", "2"],
    ["interpolate", "{run}", "--seeds", "1,2"],
    ["arithmetic", "{run}", "[1] - [2]"],
    ["neighbours", "{run}", "--no-features"],
    ["evaluate", "{run}", "-n", "10"],
    ["evaluate", "--images", "{npz}", "--against", "{npz}"],
    ["style-mix", "{run}", "--rows", "1", "--cols", "2"],
    ["project", "{run}", "{npz}"],
])
def test_device_cuda_without_cuda_is_one_line(cli, run, tmp_path, command):
    args = [a.format(run=run, npz=run.parent / "blobs.npz") for a in command]
    code, _, err = cli(*args, "--device", "cuda")
    assert code == 2 and NO_CUDA in err and one_line(err), err
    assert "deserialize" not in err and "not a ganforge checkpoint" not in err


def test_a_device_that_is_not_one_names_the_flag(cli, run):
    code, _, err = cli("interpolate", run, "--seeds", "1,2", "--device", "gpu")
    assert code == 2 and "--device: 'gpu' is not a device" in err and one_line(err)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_checkpoints_load_to_the_cpu_first_and_cuda_is_checked_before_reading(run):
    with pytest.raises(ConfigError, match="no CUDA device"):
        load_checkpoint(run, map_location="cuda")
    with pytest.raises(ConfigError, match="no CUDA device"):
        load_generator(run, device="cuda")
    assert next(load_generator(run, device="auto").parameters()).device.type == "cpu"


# --------------------------------------------------------------------------- tracebacks that became one line

def test_export_out_naming_a_folder_is_one_line_and_leaves_no_temp_file(cli, run, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    for fmt in ("safetensors", "torchscript"):
        code, _, err = cli("export", run, "--format", fmt, "--out", folder)
        assert code == 2 and f"--out {folder}: is a folder" in err and one_line(err), err
    assert not list(folder.iterdir()) and not temp_files(run)
    with pytest.raises(GanforgeError, match="is a folder"):
        export_generator(load_generator(run), folder, "safetensors", config={})
    assert not list(folder.iterdir())


def test_a_failed_export_write_leaves_no_temp_file(run, tmp_path, monkeypatch):
    def broken_save(module, f, *a, **k):
        f.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch.jit, "save", broken_save)
    with pytest.raises(GanforgeError, match="the disk is full"):
        export_generator(load_generator(run), tmp_path / "g.pt", "torchscript")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("value", ["0", "-3"])
@pytest.mark.parametrize("command", [
    ["generate", "{run}", "-n", "2", "--out", "{tmp}/g.png"],
    ["interpolate", "{run}", "--seeds", "1,2", "--out", "{tmp}/walk"],
    ["arithmetic", "{run}", "[1] - [2]", "--out", "{tmp}/a.png"],
    ["neighbours", "{run}", "--no-features", "--out", "{tmp}/nn.png"],
])
def test_batch_size_zero_or_negative_is_one_line(cli, run, tmp_path, command, value):
    args = [a.format(run=run, tmp=tmp_path) for a in command]
    code, _, err = cli(*args, "--batch-size", value)
    assert code == 2 and "--batch-size: must be a positive number" in err and one_line(err), err
    assert not list(tmp_path.glob("*.png"))


def _edited(run, tmp_path, edit):
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    entry = "G_ema" if isinstance(ckpt.get("G_ema"), dict) else "G"
    name = edit(ckpt, entry)
    path = save_checkpoint({k: v for k, v in ckpt.items() if k not in ("format", "version")},
                           tmp_path / "edited.pt")
    return path, entry, name


def test_a_hand_edited_checkpoint_with_a_weight_missing_names_it(cli, run, tmp_path):
    def drop(ckpt, entry):
        name = next(iter(ckpt[entry]))
        del ckpt[entry][name]
        return name

    path, entry, name = _edited(run, tmp_path, drop)
    code, _, err = cli("generate", path, "-n", 1, "--out", tmp_path / "g.png")
    assert code == 2 and one_line(err), err
    assert str(path) in err and f"'{entry}' has no weight '{name}'" in err


def test_a_hand_edited_checkpoint_with_a_misshaped_weight_names_both_shapes(cli, run, tmp_path):
    def reshape(ckpt, entry):
        name = next(k for k, v in ckpt[entry].items() if v.dim() >= 2)
        ckpt["was"] = list(ckpt[entry][name].shape)
        ckpt[entry][name] = torch.zeros(3, 5)
        return name

    path, entry, name = _edited(run, tmp_path, reshape)
    want = tuple(torch.load(path, weights_only=True)["was"])
    code, _, err = cli("interpolate", path, "--seeds", "1,2", "--out", tmp_path / "w")
    assert code == 2 and one_line(err), err
    assert str(path) in err and f"{entry}['{name}'] has shape (3, 5)" in err and f"expects {want}" in err


@pytest.mark.parametrize("key", ["config", "G", "img_size"])
def test_a_checkpoint_with_an_entry_missing_is_one_line(cli, run, tmp_path, key):
    def drop(ckpt, entry):
        ckpt.pop(key)
        if key == "G":
            ckpt.pop("G_ema", None)
        return key

    path, _, _ = _edited(run, tmp_path, drop)
    code, _, err = cli("generate", path, "-n", 1, "--out", tmp_path / "g.png")
    assert code == 2 and one_line(err) and str(path) in err and "damaged checkpoint" in err, err
    assert f"'{key}'" in err


# --------------------------------------------------------------------------- evaluate --images speaks of --images

def test_evaluate_images_errors_name_images_and_against(cli, run, tmp_path):
    npz = run.parent / "blobs.npz"
    code, _, err = cli("evaluate", "--images", tmp_path / "nope", "--against", npz)
    assert code == 2 and f"--images {tmp_path / 'nope'}: no such file or folder" in err and one_line(err), err
    assert "--data " not in err
    code, _, err = cli("evaluate", "--images", npz, "--against", tmp_path / "gone")
    assert code == 2 and f"--against {tmp_path / 'gone'}: no such file or folder" in err and "--data " not in err
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    code, _, err = cli("evaluate", "--images", text, "--against", npz)
    assert code == 2 and f"--images {text}: is a file but not .npy or .npz" in err and "--data " not in err, err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("evaluate", "--images", empty, "--against", npz)
    assert code == 2 and f"--images {empty}" in err and "--data " not in err and one_line(err), err


# --------------------------------------------------------------------------- class folders with a stray image

def _class_folder(root, stray: bool):
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(make_images(1, 8, seed=i)[0]).save(root / cls / f"{i}.png")
    if stray:
        Image.fromarray(make_images(1, 8)[0]).save(root / "stray.png")
    return root


def test_a_stray_image_in_a_class_folder_is_named(tmp_path, capsys):
    root = _class_folder(tmp_path / "pets", stray=True)
    with pytest.raises(DataError) as e:
        load_data(DataConfig(source=str(root), size=8, class_name="cats"), progress=False)
    msg = str(e.value)
    assert "stray.png" in msg and "2 class sub-folders" in msg and "has no labels" in msg
    assert "move them into a class sub-folder" in msg and "\n" not in msg
    # without --class the folder still loads, unlabelled, with a note naming the stray file
    data = load_data(DataConfig(source=str(root), size=8), progress=False)
    assert data.labels is None and len(data) == 7
    err = capsys.readouterr().err
    assert "note:" in err and "stray.png" in err
    # and once the stray is gone, the sub-folders are classes
    (root / "stray.png").unlink()
    data = load_data(DataConfig(source=str(root), size=8, class_name="dogs"), progress=False)
    assert data.class_names == ["cats", "dogs"] and data.labels.tolist() == [1, 1, 1]


# --------------------------------------------------------------------------- leftovers

def test_a_failed_download_leaves_no_cache_folder(tmp_path, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(download.urllib.request, "urlopen", offline)
    monkeypatch.setattr(download, "download_file", REAL_DOWNLOAD)
    cache = tmp_path / "cache"
    assert not cache.exists()
    with pytest.raises(download.DownloadError, match="network is unreachable"):
        download.download_file("https://example.invalid/x.gz", cache / "mnist" / "x.gz", progress=False)
    assert not cache.exists()
    with pytest.raises(DataError, match="download failed"):
        load_data(DataConfig(source="mnist"), progress=False)
    assert not cache.exists()


@pytest.mark.parametrize("command,outputs", [
    (["interpolate", "{run}", "--seeds", "1,2", "--steps", "3", "--out", "{tmp}/walk"], ["walk.png", "walk.gif"]),
    (["arithmetic", "{run}", "[1] - [2]", "--results", "2", "--out", "{tmp}/a.png"], ["a.png"]),
    (["neighbours", "{run}", "-n", "1", "-k", "1", "--no-features", "--out", "{tmp}/nn.png"], ["nn.png"]),
    (["export", "{run}", "--format", "safetensors", "--no-check", "--out", "{tmp}/g.safetensors"],
     ["g.safetensors", "g.safetensors.json"]),
])
def test_existing_outputs_are_kept_unless_overwrite(cli, run, tmp_path, command, outputs):
    args = [a.format(run=run, tmp=tmp_path) for a in command]
    for name in outputs:
        (tmp_path / name).write_bytes(b"precious")
        code, _, err = cli(*args)
        assert code == 2 and f"{tmp_path / name}: already exists" in err and "--overwrite" in err, err
        assert one_line(err) and (tmp_path / name).read_bytes() == b"precious"
        (tmp_path / name).unlink()
    (tmp_path / outputs[-1]).write_bytes(b"old")
    code, _, err = cli(*args, "--overwrite")
    assert code == 0, err
    assert all((tmp_path / n).read_bytes() != b"old" for n in outputs)


def test_interpolate_default_names_are_not_overwritten_either(cli, run, tmp_path):
    args = ["interpolate", run, "--seeds", "4,5", "--steps", "2", "--out-dir", tmp_path]
    assert cli(*args)[0] == 0
    code, _, err = cli(*args)
    assert code == 2 and "interpolation-4-5-slerp.png: already exists" in err


@pytest.mark.parametrize("command,words", [
    (["interpolate", "{run}", "--seeds", "1,2", "--space", "w", "--out", "{tmp}/w"],
     "--space w: this run's generator (DCGANGenerator) has no W space"),
    (["arithmetic", "{run}", "[1] - [2]", "--space", "w", "--out", "{tmp}/a.png"], "--space w: this run's"),
    (["style-mix", "{run}", "--rows", "1", "--cols", "2", "--out", "{tmp}/m.png"],
     "style-mix needs a style-based generator"),
    (["project", "{run}", "{tmp}/in.png", "--out", "{tmp}/p"], "project needs a style-based generator"),
    (["export", "{run}", "--format", "torchscript", "--synthesis", "--out", "{tmp}/s.pt"],
     "--synthesis: only a style-based generator"),
])
def test_stylegan_tools_on_another_family_are_one_line(cli, run, tmp_path, command, words):
    Image.new("L", (8, 8)).save(tmp_path / "in.png")
    code, _, err = cli(*[a.format(run=run, tmp=tmp_path) for a in command])
    assert code == 2 and words in err and one_line(err), err
    assert [p.name for p in tmp_path.iterdir()] == ["in.png"]


# --------------------------------------------------------------------------- absurd outputs

def test_absurd_interpolations_are_refused_before_rendering(cli, run, tmp_path, monkeypatch):
    import ganforge.api

    monkeypatch.setattr(ganforge.api, "load_generator", lambda *a, **k: pytest.fail("G was loaded"))
    code, _, err = cli("interpolate", run, "--seeds", "1,2", "--steps", 100_000, "--out", tmp_path / "w")
    assert code == 2 and "--steps 100000: too many steps" in err and "at most 1,000" in err and one_line(err)
    seeds = ",".join(map(str, range(2000)))
    code, _, err = cli("interpolate", run, "--seeds", seeds, "--out", tmp_path / "w")
    assert code == 2 and "16,000 images" in err and "fewer seeds" in err and one_line(err), err


def test_absurd_figures_are_refused(cli, run, tmp_path):
    code, _, err = cli("neighbours", run, "-n", 100_000, "--no-features", "--out", tmp_path / "nn.png")
    assert code == 2 and "lower -n or -k" in err and one_line(err), err
    code, _, err = cli("arithmetic", run, "[1] - [2]", "--results", 100_000, "--out", tmp_path / "a.png")
    assert code == 2 and "--results" in err and "at most 10,000" in err and one_line(err), err
    assert not list(tmp_path.iterdir())


def test_absurd_grids_and_gifs_are_refused_by_the_writers(tmp_path):
    with pytest.raises(GanforgeError, match=r"g.png: 10,001 images are too many .*\.npy file or a folder of PNGs"):
        gf_images.save_grid(torch.zeros(10_001, 1, 2, 2, dtype=torch.uint8), tmp_path / "g.png")
    # before making any image, for a known count and size (what generate -n N --out grid.png can call)
    with pytest.raises(GanforgeError, match=r"-n 100000: too many images .*lower -n"):
        gf_images.check_grid(100_000)
    with pytest.raises(GanforgeError, match="megapixels"):
        gf_images.check_grid(5000, size=256)
    gf_images.check_grid(64, size=256)
    frame = Image.new("RGB", (2, 2))
    with pytest.raises(GanforgeError, match="too many for a GIF"):
        gf_images.save_gif([frame] * 100_000, tmp_path / "a.gif")
    assert not list(tmp_path.iterdir())


def test_the_limits_stated_in_help_are_the_ones_enforced(capsys):
    from ganforge.cli import tools as cli_tools
    from ganforge.tools.interpolation import MAX_STEPS

    assert (cli_tools.MAX_STEPS, cli_tools.MAX_GRID_IMAGES, cli_tools.MAX_GIF_FRAMES) == (
        MAX_STEPS, gf_images.MAX_GRID_IMAGES, gf_images.MAX_GIF_FRAMES)
    with pytest.raises(SystemExit):
        main(["interpolate", "--help"])
    out = capsys.readouterr().out
    assert "1,000 steps" in out and "10,000 images" in out and "5,000 GIF frames" in out


def test_help_of_the_cli_does_not_import_torch():
    code = "import sys, ganforge.cli; ganforge.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- more values no one means

@pytest.mark.parametrize("command", [
    ["generate", "{run}", "-n", "2", "--out", "{tmp}/g.npy", "--seed", str(2 ** 64)],
    ["interpolate", "{run}", "--seeds", f"{10 ** 23},1", "--out", "{tmp}/w"],
    ["arithmetic", "{run}", f"[{10 ** 23}] - [1]", "--out", "{tmp}/a.png"],
    ["arithmetic", "{run}", "[1] - [2]", "--seed", str(2 ** 64), "--out", "{tmp}/a.png"],
    ["evaluate", "{run}", "-n", "10", "--seed", "-1"],
    ["evaluate", "{run}", "-n", str(10 ** 12)],
    ["generate", "{run}", "-n", "4", "--nrow", str(10 ** 9), "--out", "{tmp}/g.png"],
    ["generate", "{run}", "-n", "4", "--nrow", "-1", "--out", "{tmp}/g.png"],
])
def test_out_of_range_seeds_counts_and_rows_are_one_line(cli, run, tmp_path, command):
    code, _, err = cli(*[a.format(run=run, tmp=tmp_path) for a in command])
    assert code == 2 and one_line(err), err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", [
    ["generate", "{run}", "-n", "2", "--out", "{tmp}/g.npy", "--seed", "-1"],
    ["interpolate", "{run}", "--seeds", "1,-1", "--out", "{tmp}/w"],
    ["neighbours", "{run}", "-n", "2", "-k", "1", "--no-features", "--seed", "-1", "--out", "{tmp}/n.png"],
    ["arithmetic", "{run}", "[1] - [2]", "--seed", "-1", "--out", "{tmp}/a.png"],
    ["evaluate", "{run}", "-n", "10", "--seed", "-1"],
])
def test_a_negative_seed_gets_the_same_one_line_from_every_command_before_g_is_loaded(cli, run, tmp_path,
                                                                                         monkeypatch, command):
    import ganforge.api

    def never(*a, **k):
        raise AssertionError("the generator was loaded before the seed was checked")

    monkeypatch.setattr(ganforge.api, "load_generator", never)
    code, _, err = cli(*[a.format(run=run, tmp=tmp_path) for a in command])
    flag = "--seeds" if command[0] == "interpolate" else "--seed"
    assert code == 2 and one_line(err), err
    assert f"error: {flag} -1: out of range (a seed is an integer from 0 to {2 ** 64 - 1})" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("fmt,name", [("torchscript", "g.onnx"), ("onnx", "g.pt"), ("safetensors", "g.onnx"),
                                      ("onnx", "g.SAFETENSORS"), ("safetensors", "g.pth")])
def test_export_refuses_an_out_whose_ending_names_another_format(cli, run, tmp_path, fmt, name):
    code, _, err = cli("export", run, "--format", fmt, "--out", tmp_path / name)
    assert code == 2 and one_line(err), err
    assert f"--out {tmp_path / name}: the {Path(name).suffix.lower()} ending says" in err and f"not {fmt}" in err
    assert not list(tmp_path.iterdir())
    with pytest.raises(GanforgeError, match="ending says"):
        export_generator(load_generator(run), tmp_path / name, fmt, config={})


@pytest.mark.parametrize("entry,value,words", [("step", "x", "'step' is 'x'"),
                                               ("class_names", 5, "'class_names' is 5"),
                                               ("config", {"model": {"z_dim": -1}}, "stored config does not read")])
def test_a_checkpoint_with_an_entry_of_the_wrong_kind_is_one_line(cli, run, tmp_path, entry, value, words):
    def spoil(ckpt, _):
        if entry == "config":
            ckpt["config"]["model"].update(value["model"])
        else:
            ckpt[entry] = value
        return entry

    path, _, _ = _edited(run, tmp_path, spoil)
    code, _, err = cli("generate", path, "-n", 1, "--out", tmp_path / "g.png")
    assert code == 2 and one_line(err) and str(path) in err and words in err, err


def test_npz_members_that_are_not_arrays_and_cifar_labels_that_are_not_ids(tmp_path):
    import pickle
    import zipfile

    bad = tmp_path / "x.npz"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("images.npy", b"hello")
    with pytest.raises(DataError, match="member 'images' is not a numpy array"):
        load_data(DataConfig(source=str(bad), size=28), progress=False)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    data = np.zeros((2, 3072), np.uint8)
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": ["a", "b"]}, protocol=2))
    with pytest.raises(DataError, match="b'labels' should be a list of class ids"):
        load_data(DataConfig(source="cifar10", data_dir=str(tmp_path)), progress=False)


def test_save_gif_refuses_frame_times_a_gif_cannot_hold(tmp_path):
    frames = [Image.new("RGB", (4, 4), (i * 40, 0, 0)) for i in range(3)]
    with pytest.raises(GanforgeError, match="a GIF frame lasts 0 to 655,350 ms"):
        gf_images.save_gif(frames, tmp_path / "a.gif", durations=[100, 700_000, 100])
    same = [Image.new("RGB", (4, 4), (9, 9, 9))] * 3  # identical frames are stored as one, their times added
    with pytest.raises(GanforgeError, match="identical frames in a row"):
        gf_images.save_gif(same, tmp_path / "b.gif", durations=[400_000] * 3)
    assert not list(tmp_path.iterdir())
