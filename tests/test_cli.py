"""End to end: every subcommand on tiny data in a temp folder, and the errors a user sees."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganforge.presets import PRESETS, get_preset

SEED_COUNTS = {  # trainable parameters of the Keras models in the seeds
    "tf-tutorial": (2_305_472, 212_865),
    "geron-dense": (136_634, 132_951),
    "geron-dcgan": (840_321, 212_865),
    "chollet-cifar10": (6_264_579, 790_913),
}


def test_presets_lists_every_preset_with_counts(cli):
    code, out, _ = cli("presets", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert set(rows) == set(PRESETS)
    for name, (g, d) in SEED_COUNTS.items():
        assert (rows[name]["g_params"], rows[name]["d_params"]) == (g, d), name
    code, out, _ = cli("presets")
    assert code == 0 and "tf-tutorial" in out and "2,305,472" in out


@pytest.mark.parametrize("preset", list(PRESETS))
def test_two_step_run_then_generate(cli, fast, tmp_path, npz_data, preset):
    run = tmp_path / "run"
    extra = ["--g-channels", "8", "--d-channels", "8"] if preset == "dcgan" else []
    if PRESETS[preset].seed == "official":  # the official configurations, narrowed to CPU scale
        extra = ["--channel-base", "256", "--channel-max", "8", "--z-dim", "16", "--w-dim", "16",
                 "--mapping-layers", "2"]
        if get_preset(preset).data.size > 256:  # config F at 1024 px: half a minute here for no new layer
            extra += ["--size", "256"]
    code, out, err = cli("train", "--preset", preset, "--data", npz_data, "--steps", 2, "--out", run, *fast, *extra)
    assert code == 0, err
    assert "finished at step 2" in out
    for name in ("config.json", "log.jsonl", "checkpoint.pt", "progress.gif", "losses.png"):
        assert (run / name).is_file(), name
    # (a growing model's grids also name its stage: step-0000002-4x4.png)
    assert len(list((run / "samples").glob("step-0000002*.png"))) == 1
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in records)
    frames = Image.open(run / "progress.gif").n_frames  # step 0, 1, 2; Pillow merges identical frames, and
    # progan's G_ema (no BatchNorm statistics to copy) hardly moves in 2 steps of 4 images
    assert frames >= 3 or (preset.startswith("progan") and len(list((run / "samples").glob("step-*.png"))) == 3)

    cfg = json.loads((run / "config.json").read_text())
    size = cfg["data"]["size"]
    code, out, err = cli("generate", run, "-n", 5, "--out", tmp_path / "g.npy")
    assert code == 0, err
    arr = np.load(tmp_path / "g.npy")
    assert arr.shape == (5, size, size, cfg["data"]["channels"]) and arr.dtype == np.uint8
    code, _, err = cli("generate", run / "checkpoint.pt", "-n", 3, "--out", tmp_path / "pngs")
    assert code == 0, err
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 3


def test_generate_is_deterministic_per_seed(cli, fast, tmp_path, npz_data):
    run = tmp_path / "run"
    assert cli("train", "--data", npz_data, "--steps", 1, "--out", run, *fast,
               "--g-channels", "8", "--d-channels", "8")[0] == 0
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert cli("generate", run, "-n", 4, "--seed", seed, "--out", tmp_path / f"{name}.npy")[0] == 0
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    code, out, _ = cli("generate", run, "-n", 16, "--out", tmp_path / "grid.png")
    assert code == 0 and Image.open(tmp_path / "grid.png").size[0] >= 256


def test_resume_via_cli_continues_to_the_total(cli, fast, tmp_path, npz_data):
    run = tmp_path / "run"
    args = ["--data", npz_data, "--out", run, *fast, "--g-channels", "8", "--d-channels", "8"]
    assert cli("train", "--steps", 2, *args)[0] == 0
    code, out, err = cli("train", "--resume", run, "--steps", 3, "--no-progress")
    assert code == 0, err
    assert "finished at step 3" in out
    code, _, err = cli("train", "--resume", run, "--lr-d", "1e-3", "--no-progress")
    assert code == 2 and "cannot change on resume" in err


def test_dry_run_prints_resolved_config(cli):
    code, out, _ = cli("train", "--preset", "tf-tutorial", "--lr-d", "3e-4", "--set", "train.seed=7", "--dry-run")
    cfg = json.loads(out)
    assert code == 0
    assert cfg["optim"]["lr_d"] == 3e-4 and cfg["train"]["seed"] == 7 and cfg["train"]["batch_size"] == 256


@pytest.mark.parametrize("args,msg", [
    (["--data", "/nonexistent/folder"], "/nonexistent/folder"),
    (["--channels", "2"], "--channels"),
    (["--preset", "nope"], "unknown preset"),
    (["--lr-d", "-1"], "--lr-d"),
    (["--batch-size", "many"], "--batch-size"),
    (["--set", "optim.nope=1"], "unknown field"),
    (["--config", "/nonexistent.json"], "--config"),
    (["--preset", "tf-tutorial", "--n-critic", "2"], "--n-critic"),
    (["--augment", "translation,zoom"], "--augment"),
    (["--loss", "wasserstein"], "--loss"),
])
def test_bad_input_gives_one_line_and_exit_2(cli, fast, args, msg):
    code, out, err = cli("train", "--steps", "1", "--no-progress", *args)
    assert code == 2
    assert msg in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_generate_refuses_a_file_that_is_not_a_checkpoint(cli, fast, tmp_path):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint at all")
    code, _, err = cli("generate", bad)
    assert code == 2 and "not a ganforge checkpoint" in err
    code, _, err = cli("generate", tmp_path / "missing-run")
    assert code == 2 and "missing-run" in err


def test_console_script_help():
    exe = [sys.executable, "-m", "ganforge.cli"]
    out = subprocess.run([*exe, "train", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--lr-d" in out and "discriminator learning rate" in out and "--resume" in out


def test_output_read_by_a_reader_that_stops_early_ends_quietly(monkeypatch, capsys):
    # `ganforge presets | head -1`: the reader has gone while ganforge still writes
    from ganforge.cli import main
    r, w = os.pipe()
    os.close(r)
    with open(w, "w", buffering=1) as out:  # line-buffered: each line is a write into the dead pipe
        monkeypatch.setattr(sys, "stdout", out)
        assert main(["presets"]) == 141
        print("after", file=out)  # stdout now points at /dev/null: later writes are silent
    assert capsys.readouterr().err == ""


def test_an_unknown_loss_is_refused_before_a_dry_run_naming_the_flag(cli):
    code, out, err = cli("train", "--loss", "nope", "--dry-run")
    assert code == 2 and "--loss" in err and "wgan-gp" in err and out == ""
