"""The training procedure: who gets which gradient, exact resume, graceful stop."""
from __future__ import annotations

import signal

import pytest
import torch

from ganforge import api
from ganforge.config import set_field
from ganforge.presets import get_preset
from ganforge.checkpoint import load_checkpoint
from ganforge.train.builder import build_trainer
from gf_helpers import QUIET, same, signal_after_step, small_cfg


def count_grad_calls(module):
    calls = {}
    for name, p in module.named_parameters():
        calls[name] = 0
        p.register_hook(lambda g, name=name: calls.__setitem__(name, calls[name] + 1))
    return calls


@pytest.mark.parametrize("step", ["alternating", "joint"])
def test_each_network_gets_exactly_one_gradient_per_step(step):
    torch.manual_seed(0)
    cfg = get_preset("dcgan")
    set_field(cfg, "model.g_channels", 8)
    set_field(cfg, "model.d_channels", 8)
    set_field(cfg, "train.step", step)
    tr = build_trainer(cfg, 1, 28, torch.device("cpu"))
    d_calls, g_calls = count_grad_calls(tr.D), count_grad_calls(tr.G)
    tr.train_step(torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8))
    # D phase gives D one gradient; the G phase (D frozen) must give it none.
    assert set(d_calls.values()) == {1}
    assert set(g_calls.values()) == {1}


def test_g_phase_does_not_change_or_touch_D():
    torch.manual_seed(0)
    cfg = get_preset("dcgan")
    set_field(cfg, "model.g_channels", 8)
    set_field(cfg, "model.d_channels", 8)
    tr = build_trainer(cfg, 1, 28, torch.device("cpu"))
    snap = {}
    orig = tr.opt_d.step

    def step_and_snapshot(*a, **k):  # runs at the end of the D phase
        out = orig(*a, **k)
        snap.update({n: (p.detach().clone(), p.grad.clone()) for n, p in tr.D.named_parameters()})
        return out

    tr.opt_d.step = step_and_snapshot
    tr.train_step(torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8))
    for n, p in tr.D.named_parameters():
        w, g = snap[n]
        assert torch.equal(p, w), f"G phase changed D.{n}"
        assert torch.equal(p.grad, g), f"G phase put a gradient into D.{n}"
        assert p.requires_grad, "D must be trainable again after the G phase"


def _weights(path):
    ck = load_checkpoint(path)
    return ck


@pytest.mark.parametrize("preset,extra", [
    ("dcgan", {"model.d_dropout": 0.3, "loss.label_noise": 0.05}),
    ("bilinear-upsample", {}),
    ("tf-tutorial", {"train.reuse_fake": False}),  # joint step with (fast) dropout
    ("dcgan", {"train.reuse_fake": True, "model.d_dropout": 0.2}),
])
def test_resume_is_bitwise_exact(tmp_path, npz_data, preset, extra):
    full, half = tmp_path / "full", tmp_path / "half"
    api.train(small_cfg(npz_data, preset, **{"train.steps": 4, **extra}), full, progress=False, log=lambda *_: None)
    api.train(small_cfg(npz_data, preset, **{"train.steps": 2, **extra}), half, progress=False, log=lambda *_: None)
    cfg = api.load_run_config(half)
    set_field(cfg, "train.steps", 4)
    api.train(cfg, half, resume=True, progress=False, log=lambda *_: None)
    a, b = load_checkpoint(full), load_checkpoint(half)
    assert a["step"] == b["step"] == 4
    for key in ("G", "D", "opt_g", "opt_d"):
        assert same(a[key], b[key]), f"{key} differs after resume"
    # the log has each step once
    steps = [r["step"] for r in __import__("ganforge.runs.monitor", fromlist=["x"]).read_log(half)]
    assert steps == [1, 2, 3, 4]


def test_sigint_stops_after_the_step_and_saves(tmp_path, npz_data, monkeypatch):
    signal_after_step(monkeypatch, 2, signal.SIGINT)
    res = api.train(small_cfg(npz_data, **{"train.steps": 10}), tmp_path / "run", **QUIET)
    assert res.interrupted
    assert load_checkpoint(tmp_path / "run")["step"] == 2
