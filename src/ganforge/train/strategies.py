"""The two step strategies: the order of a training step's phases.

* :class:`AlternatingStep` (seeds 001/004): D phase, then a G phase through a frozen D;
* :class:`JointStep` (seeds 002/003): one G forward, both updates from the same D outputs.
"""
from __future__ import annotations

from typing import Callable

import torch

from .penalties import add_regularisers, lazy_phase
from .state import DBatch, GBatch, StepStats, Trainer


def d_phase(tr: Trainer, real: torch.Tensor, y_real: torch.Tensor | None, keep_fake: bool = False):
    """Phase 1: D on real (target 1) and fake (target 0). D's loss sees the fakes detached,
    so it cannot reach G's weights; G runs without a graph unless ``keep_fake``, which returns
    the fakes with G's graph for the G phase to reuse. Returns (d_loss, DBatch, (fake, labels) or None)."""
    n = real.shape[0]
    y_fake = tr.sample_y(n)
    with torch.set_grad_enabled(keep_fake), tr.autocast():
        fresh = tr.run_G(tr.sample_z(n), y_fake)
    fake = fresh.detach()
    if tr.replay is not None:  # seed 004: D also sees older fakes, so it cannot overfit the latest G
        fresh_f32 = fake.float()
        fake = tr.replay.mix(fresh_f32, tr.state.replay_ratio)
        tr.replay.add(fresh_f32)
    with tr.autocast():
        real_in, fake_in = tr.d_input(real), tr.d_input(fake)
        real_logits, fake_logits = tr.d_real_fake(real_in, fake_in, y_real, y_fake)
    batch = DBatch(real, real_in, fake_in, y_real, y_fake, real_logits, fake_logits)
    d_loss = tr.d_objective(batch)
    tr.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    updates = tr.d_steps
    tr.update("D", batch)
    lazy_phase(tr, "D", batch, updates)  # D reg: lazy R1 as its own step
    return d_loss, batch, ((fresh, y_fake) if keep_fake else None)


class AlternatingStep:
    """Seeds 001/004: phase 1 trains D on real and fake (``n_critic`` times, one sub-batch each);
    phase 2 trains G through a frozen D, on fresh noise - or, with ``reuse_fake``, on the last
    D phase's fakes (one G forward per step instead of two, as many PyTorch DCGAN loops do)."""

    def __call__(self, tr: Trainer, real: torch.Tensor, y_real: torch.Tensor | None) -> StepStats:
        k = tr.cfg.tricks.n_critic
        parts = real.chunk(k)
        y_parts = y_real.chunk(k) if y_real is not None else [None] * k
        reuse = tr.cfg.train.reuse_fake
        kept, batch, d_loss = None, None, None
        for i in range(k):
            d_loss, batch, kept = d_phase(tr, parts[i], y_parts[i], keep_fake=reuse and i == k - 1)
        part, y_part = parts[-1], y_parts[-1]

        # Phase 2: fakes labelled "real"; D frozen so no gradient reaches its parameters.
        tr.D.requires_grad_(False)
        try:
            with tr.autocast():
                if kept is not None:
                    fake, y_g = kept
                else:
                    y_g = tr.sample_y(part.shape[0])
                    fake = tr.run_G(tr.sample_z(part.shape[0]), y_g)
                g_logits = tr.run_D(tr.d_input(fake), y_g)
                g_real = tr.run_D(tr.d_input(part), y_part) if tr.loss.g_needs_real else None
            g_loss = tr.loss.g_loss(g_logits, g_real)
            g_batch = GBatch(fake, y_g, g_logits)
            g_loss = add_regularisers(tr, "G", g_loss, g_batch)
            tr.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
        finally:
            tr.D.requires_grad_(True)
        tr.update("G")
        lazy_phase(tr, "G", g_batch, tr.step)  # G reg: path length as its own step
        return tr.stats(d_loss, g_loss, batch)


class JointStep:
    """Seeds 002/003: one G forward, both losses from the same D outputs, both updates
    (TensorFlow's two gradient tapes). Each loss's gradient goes to its own network only.

    D runs on the real and the fake half separately (as the seeds do): G's gradient then
    flows back through the fake half only, where one pass over both halves would compute
    D's input gradients for the real images too and throw them away."""

    def __call__(self, tr: Trainer, real: torch.Tensor, y_real: torch.Tensor | None) -> StepStats:
        n = real.shape[0]
        y_fake = tr.sample_y(n)
        with tr.autocast():
            fake = tr.run_G(tr.sample_z(n), y_fake)
            real_in, fake_in = tr.d_input(real), tr.d_input(fake)
            real_logits, fake_logits = tr.run_D(real_in, y_real), tr.run_D(fake_in, y_fake)
        batch = DBatch(real, real_in, fake_in, y_real, y_fake, real_logits, fake_logits)
        d_loss = tr.d_objective(batch)
        g_batch = GBatch(fake, y_fake, fake_logits)
        g_loss = add_regularisers(tr, "G", tr.loss.g_loss(fake_logits, real_logits), g_batch)
        g_params = [p for p in tr.G.parameters() if p.requires_grad]
        d_params = [p for p in tr.D.parameters() if p.requires_grad]
        # allow_unused: a growing model's later blocks are not in the graph yet; their gradient
        # stays None, as after a backward, and the optimizer leaves them alone
        g_grads = torch.autograd.grad(g_loss, g_params, retain_graph=True, allow_unused=True)
        d_grads = torch.autograd.grad(d_loss, d_params, allow_unused=True)
        for p, g in zip(g_params, g_grads):
            p.grad = g
        for p, g in zip(d_params, d_grads):
            p.grad = g
        d_updates = tr.d_steps
        tr.update("G")
        tr.update("D", batch)
        lazy_phase(tr, "D", batch, d_updates)  # the lazy regularisers as steps of their own
        lazy_phase(tr, "G", g_batch, tr.step)
        return tr.stats(d_loss, g_loss, batch)


STEP_STRATEGIES: dict[str, Callable[[], object]] = {"alternating": AlternatingStep, "joint": JointStep}
