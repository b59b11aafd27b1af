"""Progressive growing in training: the schedule across stage boundaries, reals blended like G's
output, per-stage batch sizes and learning rates, the run folder showing the growth, and a
resume in the middle of a fade that is bit-for-bit the run that never stopped."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganforge.checkpoint import load_checkpoint
from ganforge.errors import ConfigError
from ganforge.presets import get_preset
from ganforge.train.loop import seed_everything
from ganforge.train.families.progan import GrowthSchedule, StagedSampler, blend_reals
from ganforge.train.builder import build_trainer
from gf_helpers import TINY_PROGAN as TINY
from gf_helpers import resumed_equals_straight

# TINY: a progan of 16 px (stages 4, 8, 16), 4 images a step: stage 4 for 2 steps, each fade 4
# steps, each stable stretch 2 steps; the batch halves at 16 px.


def test_schedule_across_stage_boundaries():
    s = GrowthSchedule([4, 8, 16, 32], fade_kimg=1.0, stage_kimg=2.0)
    assert [s.at(i) for i in (0, 1999)] == [(0, 1.0), (0, 1.0)]
    assert [s.at(i) for i in (2000, 2250, 2500, 2999, 3000, 4999)] == [
        (1, 0.0), (1, 0.25), (1, 0.5), (1, 0.999), (1, 1.0), (1, 1.0)]
    assert [s.at(i) for i in (5000, 5500, 6000)] == [(2, 0.0), (2, 0.5), (2, 1.0)]
    assert s.at(8000) == (3, 0.0) and s.at(9000) == (3, 1.0) and s.at(10 ** 9) == (3, 1.0)
    assert s.fade_start(3) == 8000 and s.images_to_final == 9000
    alphas = [s.at(i)[1] for i in range(2000, 3001, 100)]  # linear in the images shown
    assert np.allclose(np.diff(alphas), 0.1)
    assert GrowthSchedule([4], 1.0, 1.0).at(10 ** 6) == (0, 1.0)


def test_reals_are_blended_like_the_generator_output():
    x = torch.randn(2, 3, 16, 16)
    at8 = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    at4 = F.interpolate(F.avg_pool2d(x, 4), scale_factor=4, mode="nearest")
    torch.testing.assert_close(blend_reals(x, 8, 1.0), at8)
    torch.testing.assert_close(blend_reals(x, 8, 0.0), at4)
    torch.testing.assert_close(blend_reals(x, 8, 0.25), at4 + 0.25 * (at8 - at4))
    torch.testing.assert_close(blend_reals(x, 16, 1.0), x)


class _Run:
    """A stand-in for the trainer's count of real images, advanced as a step would."""

    def __init__(self, sizes):
        self.sizes, self.images = sizes, 0  # sizes: batch after (images) -> size, by thresholds

    def batch_at(self, images: int) -> int:
        return next(b for upto, b in self.sizes if images < upto)

    def step(self, sampler) -> torch.Tensor:
        idx = sampler.next_indices()
        self.images += len(idx)
        return idx


def test_staged_sampler_changes_batch_size_without_repeats():
    run = _Run([(8, 4), (14, 2), (10**9, 6)])  # 4, 4, then 2 until 14 images, then 6
    s = StagedSampler(12, run.batch_at, lambda: run.images, seed=0, device=torch.device("cpu"))
    first = [run.step(s) for _ in range(5)]  # 4 + 4 + 2 + 2 = 12, then a new epoch
    assert [len(i) for i in first] == [4, 4, 2, 2, 2]
    assert sorted(torch.cat(first[:4]).tolist()) == list(range(12)) and s.epoch == 1
    run.step(s)  # 2 + 6 = 8 of 12
    assert s.epoch == 1 and s.pos == 8
    run.step(s)  # another 6 would pass the end: a new epoch
    assert s.epoch == 2 and s.pos == 6


def test_staged_sampler_lists_the_batches_to_come_and_counts_an_epochs_steps():
    """What streaming workers read ahead is what training then takes, stage changes included;
    and steps_until counts the steps to the end of an epoch at the stages' own batch sizes."""
    run = _Run([(8, 4), (14, 2), (10**9, 6)])
    s = StagedSampler(12, run.batch_at, lambda: run.images, seed=0, device=torch.device("cpu"))
    run.step(s)
    ahead = s.ahead()
    planned = [next(ahead) for _ in range(6)]
    assert (s.epoch, s.pos) == (0, 4)  # listing them moved nothing
    # 4 | 4, 2, 2 (12: the first pass) | 2, 6 (8: a third batch of 6 would not fit: the second)
    assert s.steps_until(1.0) == 3 and s.steps_until(2.0) == 5
    for want in planned:
        assert torch.equal(run.step(s), want)


def _trainer(**grow):
    cfg = get_preset("progan")
    for k, v in {"data.size": 16, "model.channel_base": 256, "model.channel_max": 8, "model.z_dim": 16,
                 "train.batch_size": 4, "train.precision": "fp32", "train.device": "cpu",
                 "grow.stage_kimg": 0.008, "grow.fade_kimg": 0.008, **grow}.items():
        section, name = k.split(".")
        setattr(getattr(cfg, section), name, v)
    seed_everything(0)
    return build_trainer(cfg, 1, 16)


def test_stage_learning_rates_and_batch_sizes_follow_the_tables():
    tr = _trainer(**{"grow.stage_lr": "4:0.5,16:2", "grow.stage_batch": "8:1.5"})
    images = torch.randint(0, 256, (8, 1, 16, 16), dtype=torch.uint8)
    seen = []
    for _ in range(7):
        seen.append((tr.G.stage_size, float(tr.G.alpha), tr.family.batch_size(), tr.state.lr_g))
        tr.train_step(images[:tr.family.batch_size()])
    assert seen[0] == (4, 1.0, 4, 5e-4)  # the first stage's factor from the start
    assert seen[2] == (8, 0.0, 6, 1e-3)  # 8 images: stage 8 begins, lr factor 1, batch 6
    assert seen[3][:3] == (8, 0.75, 6) and seen[4][:2] == (8, 1.0)
    assert seen[6][0] == 16 and seen[6][3] == pytest.approx(2e-3)
    assert int(tr.G.images_seen) == 4 + 4 + 6 * 3 + 4 + 4 and tr.G_ema.stage_size == tr.G.stage_size
    assert tr.D.stage_size == tr.G.stage_size and float(tr.D.alpha) == float(tr.G.alpha)


def test_a_remedy_lr_change_survives_a_stage_change():
    tr = _trainer()
    images = torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.uint8)
    tr.set_lr("g", 0.5)
    for _ in range(3):
        tr.train_step(images)
    assert tr.G.stage_size == 8 and tr.state.lr_g == pytest.approx(5e-4) and tr.state.lr_d == pytest.approx(1e-3)


def test_bad_stage_tables_name_the_flag(cli, npz_data, tmp_path):
    code, _, err = cli("train", "--data", npz_data, *TINY, "--stage-batch", "16:x", "--out", tmp_path / "r")
    assert code == 2 and "error: --stage-batch: expected SIZE:VALUE" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="--stage-lr"):
        _trainer(**{"grow.stage_lr": "8:-1"})


@pytest.mark.parametrize("flag", [["--minibatch-disc", "4"], ["--d-dropout", "0.3"], ["--spectral-norm"]])
def test_d_options_progan_cannot_honour_are_refused_before_a_run_folder(cli, npz_data, tmp_path, flag):
    code, _, err = cli("train", "--data", npz_data, *TINY, *flag, "--steps", 1, "--out", tmp_path / "r")
    assert code == 2 and "Traceback" not in err, err
    assert f"error: {flag[0]}: not available for --arch progan" in err
    assert not (tmp_path / "r").exists()


def test_resume_in_the_middle_of_a_fade_is_exact(cli, npz_data, tmp_path):
    a, _, mid = resumed_equals_straight(cli, npz_data, TINY, steps=9, stop=4, folder=tmp_path)
    assert int(mid["G"]["stage"]) == 1 and 0 < float(mid["G"]["alpha"]) < 1  # stopped mid-fade (8x8)
    assert int(a["G"]["stage"]) == 2 and 0 < float(a["G"]["alpha"]) < 1  # both ended in the 16x16 fade


def test_the_run_folder_shows_the_growth(cli, npz_data, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli("train", "--data", npz_data, *TINY, "--steps", 10, "--sample-every", 2, "--out", out)
    assert code == 0, err
    names = sorted(p.name for p in (out / "samples").glob("step-*.png"))
    # every 2 steps and when each stage ends (after steps 2 and 8: once each, though they coincide);
    # the name says what the grid shows: at alpha 0 that is still the previous stage
    assert names == ["step-0000000-4x4.png", "step-0000002-4x4.png", "step-0000004-8x8-fade50.png",
                     "step-0000006-8x8.png", "step-0000008-8x8.png", "step-0000010-16x16-fade25.png"]
    from PIL import Image
    assert Image.open(out / "samples" / names[0]).size == Image.open(out / "samples" / names[-1]).size
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [(r["step"], r["stage"], r["alpha"]) for r in records[:4]] == [
        (1, 4, 1.0), (2, 8, 0.0), (3, 8, 0.25), (4, 8, 0.5)]
    assert records[-1]["stage"] == 16 and records[-1]["kimg"] == pytest.approx(0.036)
    assert (out / "progress.gif").is_file() and (out / "losses.png").is_file()
    assert Image.open(out / "progress.gif").n_frames > 1  # (Pillow merges frames that did not change)


# --------------------------------------------------------------------------- every setting checked before the run folder
@pytest.mark.parametrize("flags, says", [
    (["--stage-batch", "61:0.5"], "--stage-batch: 61 is not a stage of this run (its stages: 4, 8, 16)"),
    (["--stage-batch", "32:0.5"], "--stage-batch: 32 is not a stage of this run"),
    (["--stage-lr", "64:2"], "--stage-lr: 64 is not a stage of this run"),
    (["--stage-batch", "4:1e308"], "--stage-batch: the factor of stage 4 gives a batch beyond"),
    (["--stage-batch", "8:100"], "--stage-batch: stage 8 takes batches of 400 images, but the data has only 48"),
    (["--g-channels", "16"], "--g-channels: applies to --arch dcgan only, and this run is --arch progan"),
])
def test_stage_tables_and_widths_are_checked_before_a_run_folder_exists(cli, npz_data, tmp_path, flags, says):
    code, _, err = cli("train", "--data", npz_data, *TINY, *flags, "--steps", 1, "--out", tmp_path / "r")
    assert code == 2 and says in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()


def test_an_epoch_is_a_pass_over_the_data_whatever_the_stage_batch(cli, npz_data, tmp_path):
    """48 images, a base batch of 4 and stages at a quarter of it: --epochs 2 is 96 images
    seen, not 24 steps of the base batch; the log counts the same passes."""
    out = tmp_path / "run"
    code, _, err = cli("train", "--data", npz_data, *TINY, "--stage-batch", "8:0.5,16:0.25", "--epochs", 2,
                       "--log-every", 1, "--out", out)
    assert code == 0, err
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"d_loss"' in line]
    assert records[-1]["epoch"] == pytest.approx(2.0)
    assert records[-1]["kimg"] == pytest.approx(0.096) and records[-1]["step"] > 24


def test_the_joint_step_trains_a_growing_model(cli, npz_data, tmp_path):
    """The joint step's gradients of blocks a stage does not use yet are None, as after backward."""
    code, _, err = cli("train", "--data", npz_data, *TINY, "--step", "joint", "--steps", 10, "--out", tmp_path / "r")
    assert code == 0, err
    ckpt = load_checkpoint(tmp_path / "r")
    assert int(ckpt["G"]["stage"]) == 2  # it grew through 8x8 into 16x16


def _adam_steps(opt) -> list[float]:
    return [float(s["step"]) for s in opt.state.values()]


@pytest.mark.parametrize("reset", [False, True])
def test_adam_is_reset_when_a_stage_begins_only_when_asked(reset):
    tr = _trainer(**{"grow.reset_adam": reset})
    images = torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.uint8)
    for _ in range(2):  # stage 4: two steps of 4 images
        tr.train_step(images)
    # the second step entered stage 8: with the reset, its moments are gone
    assert tr.G.stage_size == 8 and set(_adam_steps(tr.opt_g)) == (set() if reset else {2.0})
    tr.train_step(images)  # the first step of stage 8
    # reset: every moment starts anew; else the older layers go on (the new block's start at 1)
    assert set(_adam_steps(tr.opt_g)) == ({1.0} if reset else {1.0, 3.0})
    assert set(_adam_steps(tr.opt_d)) == ({1.0} if reset else {1.0, 3.0})


def test_g_ema_ramps_again_from_each_stage_fade_in():
    tr = _trainer(**{"tricks.ema_rampup": 0.05})
    images = torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.uint8)
    seen = []
    for _ in range(4):
        tr.train_step(images)
        seen.append(tr.family.ema_images(tr.state.step, 4))
    # stage 4 counts every image; stage 8 (from 8 images on) counts those since its fade began
    assert seen == [4, 0, 4, 8] and tr.family.schedule.fade_start(1) == 8
    assert get_preset("progan").tricks.ema_rampup == 0.05
