"""--resume: what may be given again and what is refused; data paths stored absolute and checked
by content on resume; errors name the flag, the config file or the field where a value came from."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from ganforge.checkpoint import load_checkpoint
from ganforge.config import DataConfig
from ganforge.data import absolute_data_paths
from gf_helpers import TINY_DCGAN as TINY
from gf_helpers import make_images, one_line_error


@pytest.fixture
def run(cli, tmp_path, npz_data):
    """A 2-step run on 40 of the 48 images of npz_data."""
    out = tmp_path / "run"
    code, _, err = cli("train", "--data", npz_data, "--limit", 40, "--steps", 2, "--out", out, *TINY)
    assert code == 0, err
    return out


# --------------------------------------------------------------------------- flags on resume
def test_a_flag_equal_to_the_stored_value_is_accepted(cli, run, npz_data):
    code, out, err = cli("train", "--resume", run, "--limit", 40, "--lr-d", "2e-4", "--batch-size", 4,
                         "--steps", 3, "--no-progress")
    assert code == 0, err
    assert "finished at step 3" in out


def test_a_changed_flag_is_refused_with_both_values(cli, run):
    code, _, err = cli("train", "--resume", run, "--limit", 30, "--steps", 3, "--no-progress")
    one_line_error(code, err, "--limit", "cannot change on resume", "the run has 40, given 30")
    code, _, err = cli("train", "--resume", run, "--set", "optim.lr_d=1e-3", "--steps", 3, "--no-progress")
    one_line_error(code, err, "--set optim.lr_d", "0.0002", "0.001")
    assert load_checkpoint(run)["step"] == 2


@pytest.mark.parametrize("flag", [["--preset", "dcgan"], ["--config", "CONFIG"], ["--out", "ELSEWHERE"],
                                  ["--overwrite"]])
def test_flags_a_resume_cannot_use_are_refused_not_ignored(cli, run, tmp_path, flag):
    flag = [{"CONFIG": str(run / "config.json"), "ELSEWHERE": str(tmp_path / "elsewhere")}.get(f, f) for f in flag]
    code, _, err = cli("train", "--resume", run, *flag, "--steps", 3, "--no-progress")
    one_line_error(code, err, f"{flag[0]}: cannot be used with --resume")
    assert load_checkpoint(run)["step"] == 2 and not (tmp_path / "elsewhere").exists()


# --------------------------------------------------------------------------- where the data is
def test_data_paths_are_stored_absolute_and_resume_works_from_elsewhere(cli, tmp_path, monkeypatch):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir(), elsewhere.mkdir()
    np.savez(home / "tiny.npz", images=make_images(24))
    monkeypatch.chdir(home)
    code, _, err = cli("train", "--data", "tiny.npz", "--steps", 1, "--out", "run", *TINY)
    assert code == 0, err
    stored = json.loads((home / "run" / "config.json").read_text())["data"]["source"]
    assert stored == str(home / "tiny.npz")
    assert load_checkpoint(home / "run")["config"]["data"]["source"] == stored
    monkeypatch.chdir(elsewhere)
    code, out, err = cli("train", "--resume", home / "run", "--steps", 2, "--no-progress")
    assert code == 0, err
    # ...and giving the same data again, by another relative path, is not a change
    code, out, err = cli("train", "--resume", home / "run", "--data", "../home/tiny.npz", "--steps", 3,
                         "--no-progress")
    assert code == 0, err


def test_an_image_folder_is_stored_absolute(cli, tmp_path, monkeypatch):
    imgs = tmp_path / "emoji_imgs"
    imgs.mkdir()
    for i, a in enumerate(make_images(8, size=28)):
        Image.fromarray(a).save(imgs / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("train", "--data", "emoji_imgs", "--size", 28, "--steps", 1, "--out", "run", *TINY)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["source"] == str(imgs)


def test_data_dir_and_named_sources():
    cfg = absolute_data_paths(DataConfig(source="mnist", data_dir="data/mnist"))
    assert cfg.source == "mnist" and cfg.data_dir.startswith("/") and cfg.data_dir.endswith("data/mnist")
    assert absolute_data_paths(DataConfig(source="./mnist")).source.startswith("/")


def test_moved_data_is_found_again_with_data(cli, run, npz_data, tmp_path):
    moved = tmp_path / "moved" / "tiny.npz"
    moved.parent.mkdir()
    shutil.move(npz_data, moved)
    code, _, err = cli("train", "--resume", run, "--steps", 3, "--no-progress")
    one_line_error(code, err, str(npz_data), "--data NEW_PLACE")
    code, out, err = cli("train", "--resume", run, "--data", moved, "--steps", 3, "--no-progress")
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["data"]["source"] == str(moved)
    fp = json.loads((run / "config.json").read_text())["data_fingerprint"]
    assert fp == load_checkpoint(run)["data_fingerprint"] and fp["n"] == 40 and fp["shape"] == [1, 28, 28]


@pytest.mark.parametrize("other,what", [
    (dict(images=make_images(48, seed=1)), "other images"),  # same count and shape
    (dict(images=make_images(30)), "40 images of 1x28x28, this is 30 images"),
])
def test_other_data_is_refused_on_resume_saying_what_differs(cli, run, tmp_path, other, what):
    np.savez(tmp_path / "other.npz", **other)
    code, _, err = cli("train", "--resume", run, "--data", tmp_path / "other.npz", "--steps", 3, "--no-progress")
    one_line_error(code, err, "--data", "not the data this run was trained on", what)
    assert load_checkpoint(run)["step"] == 2


def test_another_named_dataset_is_refused_without_loading_it(cli, run):
    code, _, err = cli("train", "--resume", run, "--data", "cifar10", "--steps", 3, "--no-progress")
    one_line_error(code, err, "--data", "cannot change on resume")


# --------------------------------------------------------------------------- where a bad value came from
@pytest.mark.parametrize("settings,field", [
    ({"optim": {"lr_d": -1}}, "optim.lr_d"),
    ({"optim": {"lr_d": "fast"}}, "optim.lr_d"),
    ({"optim": {"nope": 1}}, "optim.nope"),
    ({"data": {"split": "valid"}}, "data.split"),
    ({"loss": {"loss": "wasserstein"}}, "loss.loss"),
])
def test_a_bad_config_file_value_names_the_file_and_field(cli, tmp_path, settings, field):
    path = tmp_path / "my.json"
    path.write_text(json.dumps(settings))
    code, _, err = cli("train", "--config", path, "--steps", 1, "--dry-run")
    one_line_error(code, err, f"--config {path}: {field}")
    assert "--set" not in err and "--lr-d" not in err and "--split" not in err


@pytest.mark.parametrize("args", [["--set", "data.split=test"], ["--set", "model.num_classes=-1"]])
def test_hidden_fields_are_never_named_by_a_flag_train_lacks(cli, npz_data, args):
    code, _, err = cli("train", "--data", npz_data, *args, "--steps", 1, "--dry-run")
    one_line_error(code, err, args[1].split("=")[0])
    assert "--split" not in err and "--num-classes" not in err


def test_hidden_fields_on_resume_are_named_by_where_they_were_set(cli, run):
    code, _, err = cli("train", "--resume", run, "--set", "data.split=test", "--steps", 3, "--no-progress")
    one_line_error(code, err, "--set data.split", "cannot change on resume")
    assert "--split" not in err


# --------------------------------------------------------------------------- the tools, after the data moved
def test_neighbours_finds_moved_data_again_and_refuses_other_data(cli, run, npz_data, tmp_path):
    moved = tmp_path / "elsewhere" / "moved.npz"
    moved.parent.mkdir()
    shutil.move(str(npz_data), moved)
    code, _, err = cli("neighbours", run, "-n", 2, "-k", 1, "--no-features", "--out", tmp_path / "a.png")
    assert code == 2 and "Traceback" not in err  # the stored path is gone
    code, out, err = cli("neighbours", run, "--data", moved, "-n", 2, "-k", 1, "--no-features",
                         "--out", tmp_path / "b.png")
    assert code == 0, err
    assert "vs 40 training images" in out and (tmp_path / "b.png").exists()
    other = tmp_path / "other.npz"
    np.savez(other, images=make_images(40, seed=5))
    code, _, err = cli("neighbours", run, "--data", other, "-n", 2, "-k", 1, "--no-features",
                       "--out", tmp_path / "c.png")
    one_line_error(code, err, "--data", "not the data this run was trained on", "other images")
    assert not (tmp_path / "c.png").exists()


def test_evaluate_refuses_other_data_for_a_run_before_any_metric(cli, run, tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, images=make_images(30, seed=5))
    code, _, err = cli("evaluate", run, "--data", other, "-n", 8, "--no-progress")
    one_line_error(code, err, "--data", "not the data this run was trained on", "30 images")
    code, _, err = cli("evaluate", "--images", other, "--against", other, "--data", other)
    one_line_error(code, err, "--data", "goes with a run")
