"""The step as phases: regularisers at their intervals, update hooks, losses that declare their needs,
the run context, and state that survives a resume."""
from __future__ import annotations

import json

import pytest
import torch

from ganforge import api
from ganforge.checkpoint import load_checkpoint
from ganforge.config import set_field
from ganforge.losses import LOSSES
from ganforge.context import RunContext
from ganforge.train.hooks import WeightClip
from ganforge.train.penalties import GradientPenaltyReg, R1Reg, Regulariser
from ganforge.train.strategies import AlternatingStep, JointStep
from ganforge.train.builder import build_trainer
from test_loop import small_cfg

QUIET = {"progress": False, "log": lambda *_: None}


class OutputEnergy(Regulariser):
    """A stand-in lazy G regulariser (as path length is): the mean square of G's output on latents
    of its own (a lazy term runs its own forward pass: the main step's graph is gone)."""

    net, name = "G", "output-energy"

    def __init__(self, interval: int, weight: float = 10.0):
        self.interval, self.weight, self.calls = interval, weight, []

    def energy(self, G, call: int) -> torch.Tensor:
        z = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(call))
        return self.weight * self.interval * G(z).float().pow(2).mean()

    def term(self, tr, batch):
        self.calls.append(tr.step)
        return self.energy(tr.G, len(self.calls) - 1)


def g_grads_per_step(step: str, reg: Regulariser | None, steps: int = 3) -> list[list[torch.Tensor]]:
    """G's gradients at each of its optimizer steps over ``steps`` training steps (captured just
    before the step): the main steps, and a lazy regulariser's own steps after them."""
    torch.manual_seed(0)
    tr = build_trainer(small_cfg("unused.npz", **{"train.step": step}), 1, 28)
    if reg is not None:
        tr.regularisers.append(reg)
    grads = []
    orig = tr.opt_g.step

    def capture(*a, **k):
        grads.append([p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in tr.G.parameters()])
        return orig(*a, **k)

    tr.opt_g.step = capture
    images = torch.randint(0, 256, (steps * 4, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    for i in range(steps):
        tr.train_step(images[4 * i:4 * i + 4])
    return grads


@pytest.mark.parametrize("step", ["alternating", "joint"])
def test_a_lazy_g_regulariser_is_an_optimizer_step_of_its_own_at_its_interval(step):
    reg = OutputEnergy(interval=2)
    plain, regularised = g_grads_per_step(step, None), g_grads_per_step(step, reg)
    assert reg.calls == [0, 2]  # G updates 0 and 2, not 1
    # G main 0, G reg 0, G main 1, G main 2, G reg 2: five optimizer steps where plain has three
    assert len(plain) == 3 and len(regularised) == 5
    # the main step of update 0 is the plain one (the term is not folded into it) ...
    assert all(torch.equal(a, b) for a, b in zip(plain[0], regularised[0]))
    # ... and the reg step's gradient is the term's alone, at G's weights after that main step
    G = _g_after_first_step(step)
    G.zero_grad(set_to_none=True)
    OutputEnergy(interval=2).energy(G, 0).backward()
    for p, g in zip(G.parameters(), regularised[1]):
        torch.testing.assert_close(g, p.grad if p.grad is not None else torch.zeros_like(p))


def _g_after_first_step(step: str) -> torch.nn.Module:
    """G after training step 0 without a regulariser (its main update only)."""
    torch.manual_seed(0)
    tr = build_trainer(small_cfg("unused.npz", **{"train.step": step}), 1, 28)
    tr.train_step(torch.randint(0, 256, (12, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))[:4])
    return tr.G


def test_regulariser_due_counts_updates_from_zero():
    reg = R1Reg(gamma=1.0, interval=4)
    assert [n for n in range(10) if reg.due(n)] == [0, 4, 8]


def test_losses_declare_clipping_and_penalties_and_the_trainer_follows():
    assert LOSSES["wgan"].weight_clip and not LOSSES["wgan"].gradient_penalty
    assert LOSSES["wgan-gp"].gradient_penalty and not LOSSES["wgan-gp"].weight_clip
    tr = build_trainer(small_cfg("unused.npz", **{"loss.loss": "wgan"}), 1, 28)
    assert any(isinstance(h, WeightClip) for h in tr.hooks) and not tr.regularisers
    tr = build_trainer(small_cfg("unused.npz", **{"loss.loss": "wgan-gp", "loss.r1_gamma": 1.0}), 1, 28)
    assert [type(r) for r in tr.regularisers] == [GradientPenaltyReg, R1Reg]
    assert not any(isinstance(h, WeightClip) for h in tr.hooks)
    tr = build_trainer(small_cfg("unused.npz", **{"loss.loss": "hinge"}), 1, 28)
    assert not tr.regularisers and not any(isinstance(h, WeightClip) for h in tr.hooks)


def test_the_step_strategy_follows_the_config():
    assert isinstance(build_trainer(small_cfg("unused.npz"), 1, 28).strategy, AlternatingStep)
    assert isinstance(build_trainer(small_cfg("unused.npz", **{"train.step": "joint"}), 1, 28).strategy, JointStep)


# --------------------------------------------------------------------------- run context
def test_a_process_that_is_not_main_writes_no_files(tmp_path, npz_data):
    ctx = RunContext(device=torch.device("cpu"), rank=1, world_size=2, any_fn=lambda flag: flag)
    res = api.fit(small_cfg(npz_data, **{"train.steps": 2, "train.sample_every": 1, "train.checkpoint_every": 1}),
                  tmp_path / "r1", ctx=ctx, **QUIET)
    assert res.steps == 2 and res.samples is None and res.gif is None
    assert not (tmp_path / "r1").exists()


def test_a_stop_on_another_process_stops_this_one(tmp_path, npz_data):
    """The context's agreement decides: once any process wants to stop, all stop together."""
    calls = []

    def other_rank_stops_at_call_3(flag: bool) -> bool:
        calls.append(flag)
        return flag or len(calls) >= 3

    ctx = RunContext(device=torch.device("cpu"), any_fn=other_rank_stops_at_call_3)
    res = api.fit(small_cfg(npz_data, **{"train.steps": 50}), tmp_path / "r", ctx=ctx, **QUIET)
    assert res.interrupted and res.steps < 50
    assert load_checkpoint(tmp_path / "r")["step"] == res.steps  # saved on the way out


def test_run_context_checks_its_rank():
    with pytest.raises(ValueError, match="rank 2"):
        RunContext(rank=2, world_size=2)


# --------------------------------------------------------------------------- state across resume
def test_a_resumed_run_diagnoses_as_an_unbroken_one(tmp_path, npz_data):
    """The diagnostics' window is in the checkpoint: after a resume it holds the same records."""
    fields = {"train.log_every": 1}
    api.train(small_cfg(npz_data, **{"train.steps": 6, **fields}), tmp_path / "full", **QUIET)
    api.train(small_cfg(npz_data, **{"train.steps": 3, **fields}), tmp_path / "half", **QUIET)
    cfg = api.load_run_config(tmp_path / "half")
    set_field(cfg, "train.steps", 6)
    api.train(cfg, tmp_path / "half", resume=True, **QUIET)
    full, half = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "half")
    assert len(full["diagnostics"]["history"]) == 6
    assert half["diagnostics"] == full["diagnostics"]


def test_config_json_holds_the_config_and_the_training_state(tmp_path, npz_data):
    cfg = small_cfg(npz_data, **{"train.steps": 2})
    api.train(cfg, tmp_path / "r", **QUIET)
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["optim"]["lr_g"] == cfg.optim.lr_g and saved["training_state"]["lr_g"] == cfg.optim.lr_g
    # A run's config.json is a valid --config file: the training state is not a setting.
    from ganforge.cli import main
    assert main(["train", "--config", str(tmp_path / "r" / "config.json"), "--dry-run"]) == 0
