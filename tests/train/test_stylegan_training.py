"""StyleGAN2 in training: when the path-length and lazy R1 penalties act and what they move,
the lazy-regularisation corrections of the optimizers (kept, not redone, on resume), a resume
that is bit-for-bit the run that never stopped, end-to-end runs (augmentation, ADA, bf16), the
flags' validation and their --help group."""
from __future__ import annotations

import json
import re

import pytest
import torch

from ganforge.checkpoint import load_checkpoint
from ganforge.data import to_model_range
from ganforge.errors import ConfigError
from ganforge.presets import get_preset
from ganforge.train.checks import check_run
from ganforge.train.loop import seed_everything
from ganforge.train.state import GBatch
from ganforge.train.builder import lazy_factor
from ganforge.train.families.stylegan2 import PathLengthReg
from ganforge.train.builder import build_trainer
from ganforge.train.trainer import GANTrainer
from gf_helpers import TINY_STYLEGAN2 as TINY
from gf_helpers import PATH_LENGTH_ON, resumed_equals_straight

# TINY: a stylegan2 of 32 px (Fashion-MNIST-like 28 px data is resized), 4 images a step.
LR = 2.5e-3  # the preset's Adam: lr 0.0025, betas (0, 0.99); lazy R1 every 16 (path length every 4 when on)


def _trainer(channels: int = 1, **over) -> GANTrainer:
    cfg = get_preset("stylegan2")
    for k, v in {**PATH_LENGTH_ON, "data.size": 32, "model.z_dim": 16,
                 "model.w_dim": 16, "model.mapping_layers": 2, "model.channel_base": 256, "model.channel_max": 8,
                 "train.batch_size": 4, "train.precision": "fp32", "train.device": "cpu", **over}.items():
        section, name = k.split(".")
        setattr(getattr(cfg, section), name, v)
    check_run(cfg)
    seed_everything(0)
    return build_trainer(cfg, channels, 32)


def _images(n: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 1, 32, 32), dtype=torch.uint8, generator=g)


def _betas(opt) -> tuple[float, float]:
    (b,) = {tuple(group["betas"]) for group in opt.param_groups}
    return b


# --------------------------------------------------------------------------- regularisers' schedule
def test_path_length_and_lazy_r1_act_at_their_intervals():
    tr = _trainer()
    pl = tr.family.path_length
    assert isinstance(pl, PathLengthReg) and pl in tr.regularisers and pl.net == "G"
    assert (pl.weight, pl.interval, pl.decay, pl.batch_shrink) == (2.0, 4, 0.01, 2)
    (r1,) = [r for r in tr.regularisers if r.name == "r1"]
    assert r1.interval == 16 and r1.gamma == 1.0  # the preset's gamma (docs/stylegan2.md: the CPU set-up)
    assert tr.family.mixing_prob == 0.9 and pl.mixing_prob == 0.9
    pl_calls, r1_calls, moves = [], [], []
    pl_term, pl_lengths, r1_term = pl.term, pl.lengths, r1.term

    def lengths(t, n):
        out = pl_lengths(t, n)
        moves.append((float(t.G.pl_mean), float(out.detach().mean()), n))
        return out

    def watch_pl(t, batch):
        pl_calls.append(t.step)
        out = pl_term(t, batch)
        before, measured, _ = moves[-1]
        # the running mean moves toward the measured mean length by `decay`
        assert float(t.G.pl_mean) == pytest.approx(before + pl.decay * (measured - before), rel=1e-6)
        assert out.dim() == 0 and torch.isfinite(out) and out.requires_grad
        return out

    def watch_r1(t, batch):
        r1_calls.append(t.d_steps)
        return r1_term(t, batch)

    pl.term, pl.lengths, r1.term = watch_pl, lengths, watch_r1
    images = _images()
    for _ in range(17):
        tr.train_step(images)
    assert pl_calls == [0, 4, 8, 12, 16]  # after G updates 0, pl_every, 2 * pl_every, ...
    assert r1_calls == [1, 17]  # after D updates 0 and r1_every (which d_steps then counts)
    assert [n for *_, n in moves] == [2] * 5  # batch 4 / pl_batch_shrink 2
    assert moves[0][0] == 0.0 and float(tr.G.pl_mean) > 0  # pl_mean starts at 0 and follows the lengths
    assert float(tr.G_ema.pl_mean) == float(tr.G.pl_mean)  # G_ema copies G's buffers
    assert torch.equal(tr.G_ema.w_avg, tr.G.w_avg) and float(tr.G.w_avg.abs().sum()) > 0


@pytest.mark.parametrize("step", ["alternating", "joint"])
def test_the_phases_are_separate_optimizer_steps_at_their_intervals(step):
    """D main, then D reg (R1) after D updates 0 and 16; G main, then G reg (path length) after G
    updates 0, 4, 8, ...: each its own optimizer step (Karras et al. 2020, appendix B). (The
    alternating step runs D's phases before G's; the joint step takes both main updates first.)"""
    tr = _trainer(**{"train.step": step})
    seen: list[str] = []
    pl, (r1,) = tr.family.path_length, [r for r in tr.regularisers if r.name == "r1"]
    for name, opt in (("D", tr.opt_d), ("G", tr.opt_g)):
        orig = opt.step

        def spy(*a, _name=name, _orig=orig, **k):
            seen.append(_name)
            return _orig(*a, **k)

        opt.step = spy
    for reg, name in ((pl, "G reg"), (r1, "D reg")):
        term = reg.term
        reg.term = lambda t, b, _term=term, _name=name: (seen.append(_name), _term(t, b))[1]
    per_step = []
    for _ in range(17):
        seen.clear()
        tr.train_step(_images())
        per_step.append(" ".join(seen).replace("D reg D", "Dreg").replace("G reg G", "Greg"))
    # "Dreg": the R1 term, then its own D step; "Greg": the path-length term, then its own G step
    want = {"alternating": ("D G", "D G Greg", "D Dreg G Greg"), "joint": ("G D", "G D Greg", "G D Dreg Greg")}[step]
    plain, g_reg, both = want
    assert per_step == [both if i % 16 == 0 else g_reg if i % 4 == 0 else plain for i in range(17)]
    # a reg phase is an optimizer step of its own: 17 main steps of each, then 2 of D reg and 5 of G reg
    assert adam_steps(tr.opt_d) == 17 + 2 and adam_steps(tr.opt_g) == 17 + 5


def adam_steps(opt) -> int:
    return max((int(st["step"]) for st in opt.state.values()), default=0)


def test_path_length_penalty_is_the_spread_of_the_lengths_scaled_by_the_interval():
    tr = _trainer(**{"style.pl_every": 3, "style.pl_weight": 5.0, "style.mixing_prob": 0.0})
    pl = tr.family.path_length
    tr.G.pl_mean.fill_(0.5)
    measured = []
    pl_lengths = pl.lengths

    def lengths(t, n):
        out = pl_lengths(t, n)
        measured.append(out.detach().clone())
        return out

    pl.lengths = lengths
    fake = torch.zeros(6, 1, 32, 32)
    term = pl.term(tr, GBatch(fake, None, torch.zeros(6)))
    (lens,) = measured
    assert lens.shape == (3,) and bool((lens > 0).all())
    mean = 0.5 + 0.01 * (float(lens.mean()) - 0.5)
    assert float(tr.G.pl_mean) == pytest.approx(mean, rel=1e-6)
    assert float(term.detach()) == pytest.approx(5.0 * 3 * float(((lens - mean) ** 2).mean()), rel=1e-5)
    # the lengths are |J^T y| with J the Jacobian of the synthesis at ws: the gradient reaches G
    G_params = [p for p in tr.G.parameters()]
    grads = torch.autograd.grad(term, G_params, allow_unused=True)
    assert any(g is not None and float(g.abs().sum()) > 0 for g in grads)


def test_path_lengths_are_the_rms_over_layers_of_the_jacobian_product():
    # |J^T y| per image: the gradient of sum(img * y) with respect to ws, its squared norm over
    # w_dim summed, averaged over the num_ws layers, square-rooted (Karras et al. 2020, eq. 4)
    tr = _trainer(**{"style.mixing_prob": 0.0})
    G, n = tr.G, 3
    torch.manual_seed(7)
    lengths = tr.family.path_length.lengths(tr, n)
    torch.manual_seed(7)  # the same draws: z, the layers' noise, y
    ws = G.broadcast(G.mapping(tr.sample_z(n))).detach().clone().requires_grad_(True)
    img = G.synthesis(ws)
    y = torch.randn_like(img) / 32.0  # / sqrt(H W)
    (grad,) = torch.autograd.grad((img * y).sum(), ws)
    expected = torch.stack([(grad[i] ** 2).sum(dim=1).mean().sqrt() for i in range(n)])
    assert lengths.shape == (n,)
    torch.testing.assert_close(lengths.detach(), expected, rtol=1e-5, atol=1e-7)


def test_pl_weight_0_adds_no_regulariser():
    tr = _trainer(**{"style.pl_weight": 0.0})
    assert tr.family.path_length is None and all(r.net != "G" for r in tr.regularisers)
    for _ in range(5):
        tr.train_step(_images())
    assert float(tr.G.pl_mean) == 0.0
    # and G, never regularised lazily, keeps its lr and betas
    assert tr.state.lr_g == LR and _betas(tr.opt_g) == (0.0, 0.99)


def test_other_families_get_no_path_length_but_the_same_lazy_r1():
    cfg = get_preset("progan")
    cfg.data.size, cfg.model.channel_base, cfg.model.channel_max, cfg.model.z_dim = 16, 256, 8, 16
    cfg.loss.r1_gamma, cfg.loss.r1_every = 1.0, 16
    tr = build_trainer(cfg, 1, 16)
    assert not any(r.net == "G" for r in tr.regularisers) and tr.state.lr_g == cfg.optim.lr_g
    # lazy R1 is a step of its own in any family, and corrected for as in StyleGAN2
    assert tr.state.lr_d == pytest.approx(cfg.optim.lr_d * 16 / 17, rel=1e-12)
    assert _betas(tr.opt_d) == pytest.approx((cfg.optim.beta1 ** (16 / 17), cfg.optim.beta2 ** (16 / 17)))


# --------------------------------------------------------------------------- lazy corrections
def test_lazy_corrections_scale_lr_and_betas():
    assert lazy_factor(16) == 16 / 17 and lazy_factor(4) == 4 / 5 and lazy_factor(1) == 1.0
    tr = _trainer()
    assert tr.state.lr_d == pytest.approx(LR * 16 / 17, rel=1e-12)
    assert tr.state.lr_g == pytest.approx(LR * 4 / 5, rel=1e-12)
    assert _betas(tr.opt_d) == pytest.approx((0.0, 0.99 ** (16 / 17)), rel=1e-12)
    assert _betas(tr.opt_g) == pytest.approx((0.0, 0.99 ** (4 / 5)), rel=1e-12)
    tr.train_step(_images())  # the optimizers step at the corrected rates
    assert {g["lr"] for g in tr.opt_d.param_groups} == {tr.state.lr_d}
    assert {g["lr"] for g in tr.opt_g.param_groups} == {tr.state.lr_g}
    # beta1 > 0 is raised to the power too; the config is never changed
    tr = _trainer(**{"optim.beta1": 0.5, "style.pl_every": 8, "loss.r1_every": 2})
    assert _betas(tr.opt_g) == pytest.approx((0.5 ** (8 / 9), 0.99 ** (8 / 9)), rel=1e-12)
    assert _betas(tr.opt_d) == pytest.approx((0.5 ** (2 / 3), 0.99 ** (2 / 3)), rel=1e-12)
    assert (tr.cfg.optim.lr_g, tr.cfg.optim.beta1, tr.cfg.optim.beta2) == (LR, 0.5, 0.99)


def test_lazy_corrections_scale_rmsprops_lr_too():
    tr = _trainer(**{"optim.optimizer": "rmsprop"})
    assert tr.state.lr_d == pytest.approx(LR * 16 / 17, rel=1e-12) and tr.state.lr_g == pytest.approx(LR * 0.8)
    assert all("betas" not in g and g["alpha"] == tr.cfg.optim.rho for g in tr.opt_d.param_groups)
    tr.train_step(_images())
    assert {g["lr"] for g in tr.opt_g.param_groups} == {tr.state.lr_g}


def test_no_lazy_correction_leaves_lr_and_betas():
    tr = _trainer(**{"optim.lazy_correction": False})
    assert (tr.state.lr_d, tr.state.lr_g) == (LR, LR)
    assert _betas(tr.opt_d) == (0.0, 0.99) and _betas(tr.opt_g) == (0.0, 0.99)
    # R1 every step (or off): nothing to correct for D
    tr = _trainer(**{"loss.r1_every": 1})
    assert tr.state.lr_d == LR and _betas(tr.opt_d) == (0.0, 0.99) and tr.state.lr_g == pytest.approx(LR * 0.8)
    tr = _trainer(**{"loss.r1_gamma": 0.0})
    assert tr.state.lr_d == LR and _betas(tr.opt_d) == (0.0, 0.99)


def test_a_resumed_trainer_keeps_the_corrections_without_redoing_them():
    tr = _trainer()
    for _ in range(2):
        tr.train_step(_images())
    again = _trainer()  # (its constructor corrects; the checkpoint's values then replace them)
    again.load_state_dict(tr.state_dict())
    assert again.state.lr_d == tr.state.lr_d == pytest.approx(LR * 16 / 17, rel=1e-12)
    assert again.state.lr_g == tr.state.lr_g == pytest.approx(LR * 4 / 5, rel=1e-12)
    assert _betas(again.opt_d) == pytest.approx((0.0, 0.99 ** (16 / 17)), rel=1e-12)
    assert _betas(again.opt_g) == pytest.approx((0.0, 0.99 ** (4 / 5)), rel=1e-12)


def test_a_resumed_run_keeps_the_corrections(cli, npz_data, tmp_path):
    out = tmp_path / "run"
    assert cli("train", "--data", npz_data, *TINY, "--steps", 2, "--out", out)[0] == 0
    code, _, err = cli("train", "--resume", out, "--steps", 3, "--no-progress")
    assert code == 0, err
    ck = load_checkpoint(out)
    assert int(ck["step"]) == 3
    assert ck["train_state"]["lr_d"] == pytest.approx(LR * 16 / 17, rel=1e-12)
    assert ck["train_state"]["lr_g"] == pytest.approx(LR * 4 / 5, rel=1e-12)
    for key, k in (("opt_d", 16), ("opt_g", 4)):
        for group in ck[key]["param_groups"]:
            assert tuple(group["betas"]) == pytest.approx((0.0, 0.99 ** (k / (k + 1))), rel=1e-12)
            assert group["lr"] == pytest.approx(LR * k / (k + 1), rel=1e-12)
    assert json.loads((out / "config.json").read_text())["optim"]["lr_d"] == LR  # the config is as given


# --------------------------------------------------------------------------- resume exactness
def test_resume_is_bitwise_exact(cli, npz_data, tmp_path):
    # path length and R1 every 2 steps: both act before and after the stop at step 3
    flags = [*TINY, "--pl-every", "2", "--r1-every", "2", "--augment", "translation"]
    a, b, _ = resumed_equals_straight(cli, npz_data, flags, steps=6, stop=3, folder=tmp_path)
    for net in ("G", "G_ema"):  # the family's state: the running means of w and of the path lengths
        assert torch.equal(a[net]["w_avg"], b[net]["w_avg"]) and float(a[net]["w_avg"].abs().sum()) > 0
        assert torch.equal(a[net]["pl_mean"], b[net]["pl_mean"]) and float(a[net]["pl_mean"]) > 0


# --------------------------------------------------------------------------- end to end
def test_train_writes_a_run_folder(cli, npz_data, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli("train", "--data", npz_data, *TINY, "--steps", 3, "--sample-every", 3, "--out", out)
    assert code == 0, err
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["arch"] == "stylegan2" and cfg["data"]["size"] == 32 and cfg["style"]["pl_every"] == 4
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(torch.isfinite(torch.tensor([r["d_loss"], r["g_loss"]])).all() for r in records)
    assert (out / "checkpoint.pt").is_file() and (out / "samples" / "step-0000003.png").is_file()
    ck = load_checkpoint(out)
    assert ck["G"]["w_avg"].shape == (16,) and "pl_mean" in ck["G_ema"]


def _d_sees(tr: GANTrainer, images: torch.Tensor) -> list[torch.Tensor]:
    """What D is given, call by call, during one training step on ``images`` (a forward pre-hook):
    the D phase's reals first, then its fakes, R1's reals, the G phase's fakes."""
    seen: list[torch.Tensor] = []
    handle = tr.D.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    try:
        tr.train_step(images)
    finally:
        handle.remove()
    return seen


@pytest.mark.parametrize("over", [{"tricks.augment": "translation,cutout"}, {"tricks.ada_target": 0.6}])
def test_augmentation_changes_what_d_sees(over):
    images = _images()
    batch = to_model_range(images, "tanh")  # the reals as D sees them without augmentation
    plain = _d_sees(_trainer(), images)
    assert torch.equal(plain[0], batch)  # the control: no augmentation, D sees the batch itself
    tr = _trainer(**over)
    if tr.ada is not None:  # ADA starts at p = 0: nothing is augmented until the controller raises p
        assert torch.equal(_d_sees(tr, images)[0], batch)
        tr.ada.load_state_dict({**tr.ada.state_dict(), "p": 1.0})
    seen = _d_sees(tr, images)
    assert seen[0].shape == batch.shape and not torch.equal(seen[0], batch)
    changed = (seen[0] != batch).flatten(1).any(1)
    assert changed.all(), f"only {int(changed.sum())} of {len(changed)} real images were augmented at p = 1"


@pytest.mark.parametrize("extra", [["--augment", "translation,cutout"], ["--ada-target", "0.6"]])
def test_trains_with_augmentation_and_ada(cli, npz_data, tmp_path, extra, monkeypatch):
    augmented = []
    d_input = GANTrainer.d_input

    def note(self, x):  # whether what D is given differs from the images it was given for
        out = d_input(self, x)
        augmented.append(not torch.equal(out, x))
        return out

    monkeypatch.setattr(GANTrainer, "d_input", note)
    out = tmp_path / "run"
    code, _, err = cli("train", "--data", npz_data, *TINY, *extra, "--steps", 2, "--out", out)
    assert code == 0, err
    ck = load_checkpoint(out)
    assert int(ck["step"]) == 2 and ("ada" in ck) == ("--ada-target" in extra)
    for net in ("G", "D"):
        assert all(torch.isfinite(t).all() for t in ck[net].values() if t.is_floating_point())
    if "--ada-target" in extra:  # p starts at 0 and moves every 4 D steps: 2 steps augment nothing yet,
        assert not any(augmented) and ck["ada"]["count"] == 2 * 4  # but the controller counted D's 2 x 4 reals
    else:
        assert augmented and all(augmented)


def test_a_bf16_autocast_step_runs_on_the_cpu():
    tr = _trainer(**{"train.precision": "bf16", "style.pl_every": 1})
    assert tr.precision == "bf16"
    before = float(tr.G.pl_mean)
    stats = [tr.train_step(_images()) for _ in range(2)]
    for s in stats:
        assert torch.isfinite(s.d_loss) and torch.isfinite(s.g_loss)
    assert float(tr.G.pl_mean) != before and torch.isfinite(tr.G.pl_mean)
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32 for p in tr.G.parameters())


def test_channels_last_trains_what_nchw_trains():
    """The presets train channels-last for speed; the layout must change nothing else. RGB (where
    the layouts differ), path length and lazy R1 at every step: every random draw - the style
    noise, mixing, the path-length y - is the same, so the losses agree to rounding."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=g)
    losses = {}
    for cl in (False, True):
        tr = _trainer(**{"train.channels_last": cl, "style.pl_every": 1, "loss.r1_every": 1}, channels=3)
        convs = [w for w in tr.D.parameters() if w.dim() == 4 and w.shape[2] > 1]
        assert all(not w.is_contiguous() for w in convs) == cl  # the layout really is the one asked for
        losses[cl] = [(float(s.d_loss), float(s.g_loss)) for s in (tr.train_step(images) for _ in range(3))]
    for (d0, g0), (d1, g1) in zip(losses[False], losses[True]):
        assert d1 == pytest.approx(d0, rel=1e-4) and g1 == pytest.approx(g0, rel=1e-4)


# --------------------------------------------------------------------------- flags
@pytest.mark.parametrize("flag,value,msg", [
    ("--style-mixing", "1.5", "must be in [0, 1]"), ("--style-mixing", "-0.1", "must be in [0, 1]"),
    ("--style-mixing", "abc", "cannot read 'abc'"), ("--pl-every", "0", "must be >= 1"),
    ("--pl-every", "1.5", "cannot read"), ("--w-dim", "0", "must be between 1 and 4096"),
    ("--mapping-layers", "0", "must be between 1 and 16"), ("--mapping-layers", "17", "must be between 1 and 16"),
    ("--pl-weight", "-1", "must be >= 0"), ("--pl-decay", "0", "must be in (0, 1]"),
    ("--pl-batch-shrink", "0", "must be >= 1")])
def test_bad_style_values_name_the_flag(cli, npz_data, tmp_path, flag, value, msg):
    code, _, err = cli("train", "--data", npz_data, *TINY, flag, value, "--steps", 1, "--out", tmp_path / "r")
    assert code == 2 and f"error: {flag}: " in err and msg in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()


def test_config_errors_from_the_api_name_the_flag():
    for over, flag in (({"style.mixing_prob": 2.0}, "--style-mixing"), ({"style.pl_every": 0}, "--pl-every"),
                       ({"model.w_dim": 0}, "--w-dim"), ({"model.mapping_layers": 0}, "--mapping-layers")):
        with pytest.raises(ConfigError, match=f"^{flag}: "):
            _trainer(**over)


@pytest.mark.parametrize("flag", [["--minibatch-disc", "4"], ["--d-dropout", "0.3"], ["--spectral-norm"]])
def test_d_options_stylegan2_cannot_honour_are_refused_clearly(cli, npz_data, tmp_path, flag):
    code, _, err = cli("train", "--data", npz_data, *TINY, *flag, "--steps", 1, "--out", tmp_path / "r")
    assert code == 2 and "Traceback" not in err, err
    assert f"error: {flag[0]}: not available for --arch stylegan2, whose D is the paper's residual one" in err
    assert not (tmp_path / "r").exists()  # refused before a run folder is made
    with pytest.raises(ConfigError, match="^--minibatch-disc: not available for --arch stylegan2"):
        _trainer(**{"model.minibatch_disc": 4})
    _trainer(**{"model.d_dropout": 0.0})  # (no dropout is what it has)


def test_help_groups_the_style_flags(capsys):
    from ganforge.cli import main
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    groups = dict(re.findall(r"\n(\S[^\n]*):\n(.*?)(?=\n\S|\Z)", text, flags=re.S))
    style = groups["StyleGAN2 training (--arch stylegan2)"]
    for flag in ("--style-mixing X", "--pl-weight X", "--pl-every N", "--pl-decay X", "--pl-batch-shrink N"):
        assert flag in style, flag
    assert "--lazy-correction, --no-lazy-correction" in groups["optimizers"]  # any family's lazy R1
    model = groups["model (G and D)"]
    assert "--w-dim N" in model and "--mapping-layers N" in model
    assert "--style-mixing" not in model and "--w-dim" not in style


def test_a_joint_step_runs_with_both_penalties():
    tr = _trainer(**{"train.step": "joint"})
    g_before = [p.detach().clone() for p in tr.G.parameters()]
    s = tr.train_step(_images())  # step 0: path length and R1 are both due
    assert torch.isfinite(s.d_loss) and torch.isfinite(s.g_loss) and float(tr.G.pl_mean) > 0
    assert any(not torch.equal(a, b) for a, b in zip(g_before, tr.G.parameters()))


def test_the_cpu_presets_keep_their_measured_set_ups():
    """stylegan2: the official small-data set-up with R1 gamma 1, the winner of the sweep in
    docs/stylegan2.md; stylegan2-64 keeps path length, mixing and gamma 0.05 (not swept)."""
    def setup(name):
        cfg = get_preset(name)
        return cfg.loss.r1_gamma, cfg.style.pl_weight, cfg.style.mixing_prob, cfg.model.mbstd_group

    assert setup("stylegan2") == (1.0, 0.0, 0.0, 32)
    assert setup("stylegan2-64") == (0.05, 2.0, 0.9, 4)
