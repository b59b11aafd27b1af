"""Every loss, regulariser and trick runs inside real training steps; NaN rolls back; remedies apply."""
from __future__ import annotations

import json

import pytest
import torch

from ganforge import api
from ganforge.config import set_field
from ganforge.losses import LOSSES
from ganforge.train import loop as loop_mod
from ganforge.checkpoint import load_checkpoint
from ganforge.train.diagnostics import Finding
from ganforge.runs.monitor import read_log
from ganforge.train.builder import build_trainer
from ganforge.train.trainer import GANTrainer
from test_loop import small_cfg

QUIET = {"progress": False, "log": lambda *_: None}


def trainer_for(**fields) -> GANTrainer:
    torch.manual_seed(0)
    cfg = small_cfg("unused.npz", **fields)
    return build_trainer(cfg, 1, 28, torch.device("cpu"))


def batch(n=8):
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("step", ["alternating", "joint"])
def test_every_loss_trains(loss, step):
    tr = trainer_for(**{"loss.loss": loss, "train.step": step, "loss.r1_gamma": 1.0, "loss.r1_every": 1})
    before = [p.clone() for p in tr.D.parameters()]
    for _ in range(2):
        st = tr.train_step(batch(4))
    assert torch.isfinite(st.d_loss) and torch.isfinite(st.g_loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.D.parameters()))
    if loss == "wgan":
        assert max(p.abs().max().item() for p in tr.D.parameters()) <= 0.01 + 1e-7


def test_n_critic_gives_k_d_updates_per_g_update():
    tr = trainer_for(**{"tricks.n_critic": 3})
    tr.train_step(batch(12))  # 3 sub-batches of 4
    assert tr.step == 1 and tr.d_steps == 3


def test_tricks_together_run_and_keep_their_state():
    tr = trainer_for(**{"tricks.replay_size": 16, "tricks.ema_kimg": 0.01, "tricks.augment": "translation,cutout",
                        "tricks.ada_target": 0.6, "tricks.instance_noise": 0.1, "model.spectral_norm": True,
                        "model.minibatch_stddev": True})
    for _ in range(3):
        tr.train_step(batch(4))
    assert len(tr.replay) == 12
    assert any(not torch.equal(a, b) for a, b in zip(tr.G.parameters(), tr.G_ema.parameters()))
    s = tr.state_dict()
    assert {"G_ema", "replay", "ada"} <= set(s)


def test_resume_is_exact_with_tricks(tmp_path, npz_data):
    extra = {"tricks.replay_size": 8, "tricks.ema_kimg": 0.01, "tricks.ema_rampup": 0.5,
             "tricks.augment": "translation,color",
             "tricks.ada_target": 0.6, "loss.loss": "hinge", "tricks.n_critic": 2}
    full, half = tmp_path / "full", tmp_path / "half"
    api.train(small_cfg(npz_data, **{"train.steps": 4, **extra}), full, **QUIET)
    api.train(small_cfg(npz_data, **{"train.steps": 2, **extra}), half, **QUIET)
    cfg = api.load_run_config(half)
    set_field(cfg, "train.steps", 4)
    api.train(cfg, half, resume=True, **QUIET)
    a, b = load_checkpoint(full), load_checkpoint(half)
    for key in ("G", "D", "G_ema"):
        for k in a[key]:
            assert torch.equal(a[key][k], b[key][k]), f"{key}.{k}"
    assert torch.equal(a["replay"]["images"], b["replay"]["images"]) and a["replay"]["pos"] == b["replay"]["pos"]
    assert a["ada"] == b["ada"]
    G = api.load_generator(full)
    assert G.is_ema


def test_nan_in_a_4_step_run_rolls_back_and_finishes(tmp_path, npz_data, monkeypatch):
    orig = GANTrainer.train_step
    poisoned = []

    def poison_once(self, real, labels=None):
        if self.step == 2 and not poisoned:  # the weights blow up during step 3
            poisoned.append(True)
            with torch.no_grad():
                next(self.G.parameters()).fill_(float("nan"))
        return orig(self, real, labels)

    monkeypatch.setattr(GANTrainer, "train_step", poison_once)
    res = api.train(small_cfg(npz_data, **{"train.steps": 4, "train.checkpoint_every": 2}), tmp_path / "r", **QUIET)
    assert res.steps == 4
    events = [r for r in read_log(tmp_path / "r") if r.get("event") == "diagnostic"]
    assert [e["kind"] for e in events] == ["nan"]
    assert "rolled back to step 2" in events[0]["applied"][0]
    ck = load_checkpoint(tmp_path / "r")
    assert all(torch.isfinite(v).all() for v in ck["G"].values() if v.is_floating_point())
    # The halved rates are training state; the config stays what was asked for.
    assert ck["train_state"]["lr_g"] == pytest.approx(2e-4 / 2) and ck["config"]["optim"]["lr_g"] == pytest.approx(2e-4)
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["optim"]["lr_g"] == pytest.approx(2e-4) and saved["training_state"]["lr_g"] == pytest.approx(1e-4)


def test_auto_remedy_applies_the_suggested_fix(tmp_path, npz_data, monkeypatch):
    def fake_observe(self, record):
        if record["step"] == 2:
            return [Finding("d_too_strong", 2, "D wins.", "lower lr_d", {"lr_d_factor": 0.5, "d_dropout_add": 0.1})]
        return []

    monkeypatch.setattr(loop_mod.Diagnostics, "observe", fake_observe)
    cfg = small_cfg(npz_data, **{"train.steps": 3, "train.auto_remedy": True})
    api.train(cfg, tmp_path / "r", **QUIET)
    ck = load_checkpoint(tmp_path / "r")
    state = ck["train_state"]
    assert state["lr_d"] == pytest.approx(1e-4) and state["lr_g"] == pytest.approx(2e-4)
    assert ck["config"]["optim"]["lr_d"] == pytest.approx(2e-4) and ck["config"]["model"]["d_dropout"] is None
    assert state["d_dropout"] and max(state["d_dropout"]) == pytest.approx(0.1)
    # ...and a resumed run keeps the raised dropout, though its config never had it.
    cfg = api.load_run_config(tmp_path / "r")
    set_field(cfg, "train.steps", 4)
    seen = []
    orig = GANTrainer.train_step

    def watch(self, real, labels=None):
        seen.append(max(m.p for m in self.D.modules() if isinstance(m, torch.nn.Dropout)))
        return orig(self, real, labels)

    monkeypatch.setattr(GANTrainer, "train_step", watch)
    api.train(cfg, tmp_path / "r", resume=True, **QUIET)
    assert seen == [pytest.approx(0.1)]
    event = [r for r in read_log(tmp_path / "r") if r.get("event")][0]
    assert event["kind"] == "d_too_strong" and event["applied"]


def test_without_auto_remedy_it_only_warns(tmp_path, npz_data, monkeypatch, capsys):
    monkeypatch.setattr(loop_mod.Diagnostics, "observe", lambda self, r: [
        Finding("d_too_strong", r["step"], "D wins.", "lower lr_d", {"lr_d_factor": 0.5})] if r["step"] == 1 else [])
    api.train(small_cfg(npz_data, **{"train.steps": 2}), tmp_path / "r", **QUIET)
    assert load_checkpoint(tmp_path / "r")["train_state"]["lr_d"] == pytest.approx(2e-4)
    assert "D wins. Try: lower lr_d" in capsys.readouterr().err


def test_rollback_to_a_checkpoint_from_before_a_remedy_turned_replay_on(tmp_path, npz_data, monkeypatch):
    """--auto-remedy switches replay on at step 3; a NaN at step 4 rolls back to the step-2
    checkpoint, written before the buffer existed: the buffer goes, training goes on."""
    def observe(self, record):
        if record["step"] == 3 and not poisoned:
            return [Finding("mode_collapse", 3, "alike.", "replay", {"replay_size": 16, "replay_ratio": 0.5})]
        if record["step"] == 4 and not poisoned:
            poisoned.append(True)
            return [Finding("nan", 4, "nan.", "roll back", {"lr_factor": 0.5, "rollback": True})]
        return []

    poisoned: list[bool] = []
    monkeypatch.setattr(loop_mod.Diagnostics, "observe", observe)
    cfg = small_cfg(npz_data, **{"train.steps": 5, "train.checkpoint_every": 2, "train.auto_remedy": True})
    res = api.train(cfg, tmp_path / "r", **QUIET)
    assert res.steps == 5
    # The rollback trims the log back to step 2, so the replay event of step 3 goes with the rest.
    applied = [e["applied"] for e in read_log(tmp_path / "r") if e.get("event") == "diagnostic"]
    assert len(applied) == 1 and applied[0][0] == "rolled back to step 2"
    assert [r["step"] for r in read_log(tmp_path / "r") if "event" not in r] == [1, 2, 3, 4, 5]
    ck = load_checkpoint(tmp_path / "r")
    assert ck["train_state"]["replay_size"] == 0 and "replay" not in ck
    assert ck["config"]["tricks"]["replay_size"] == 0


def test_a_remedy_turning_replay_on_survives_resume(tmp_path, npz_data, monkeypatch):
    monkeypatch.setattr(loop_mod.Diagnostics, "observe", lambda self, r: [
        Finding("mode_collapse", 1, "alike.", "replay", {"replay_size": 16})] if r["step"] == 1 else [])
    api.train(small_cfg(npz_data, **{"train.steps": 2, "train.auto_remedy": True}), tmp_path / "r", **QUIET)
    cfg = api.load_run_config(tmp_path / "r")
    assert cfg.tricks.replay_size == 0
    set_field(cfg, "train.steps", 3)
    api.train(cfg, tmp_path / "r", resume=True, **QUIET)
    ck = load_checkpoint(tmp_path / "r")
    # on from step 2: 4 fakes a step in steps 2 (before the resume) and 3 (after it)
    assert ck["train_state"]["replay_size"] == 16 and ck["replay"]["size"] == 8


def test_ema_rampup_makes_g_ema_follow_g_early():
    # With the ramp, the first step's half-life is 0 images: G_ema becomes G exactly; later steps
    # average over a short window, so G_ema stays close to G instead of its initial weights.
    tr = trainer_for(**{"tricks.ema_kimg": 10.0, "tricks.ema_rampup": 0.05})
    init = [p.detach().clone() for p in tr.G_ema.parameters()]
    tr.train_step(batch(8))
    assert all(torch.equal(a, b) for a, b in zip(tr.G.parameters(), tr.G_ema.parameters()))
    for _ in range(3):
        tr.train_step(batch(8))
    far_from_init = sum((e - i).norm() for e, i in zip(tr.G_ema.parameters(), init))
    near_g = sum((e - g).norm() for e, g in zip(tr.G_ema.parameters(), tr.G.parameters()))
    assert near_g < far_from_init
    # without the ramp, 10 kimg of half-life keeps G_ema at its initial weights after 4 steps
    plain = trainer_for(**{"tricks.ema_kimg": 10.0})
    init = [p.detach().clone() for p in plain.G_ema.parameters()]
    for _ in range(4):
        plain.train_step(batch(8))
    still_init = sum((e - i).norm() for e, i in zip(plain.G_ema.parameters(), init))
    moved = sum((g - i).norm() for g, i in zip(plain.G.parameters(), init))
    assert still_init < 0.05 * moved
