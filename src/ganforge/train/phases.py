"""A training step as phases: D main, D regularisers, G main, G regularisers, then update hooks.

Each piece is a small object with one job, so a new model family or trick adds an object instead
of a branch in the trainer:

* a **step strategy** orders the phases - :class:`AlternatingStep` (seeds 001/004: D phase, then
  a G phase through a frozen D) or :class:`JointStep` (seeds 002/003: one G forward, both
  updates from the same D outputs);
* a **regulariser** adds a penalty to one network's loss every ``interval`` of that network's
  updates, scaled by the interval (lazy regularisation, Karras et al. 2020): the gradient
  penalty and R1 on D today, path length on G next;
* an **update hook** acts around each optimizer step and after the whole step: gradient-value
  clipping, WGAN weight clipping, ADA's statistic, the G_ema update (and, with many processes,
  the gradient all-reduce).

What a loss needs (clipping, a penalty, targets) is declared by its :class:`~ganforge.losses.LossSpec`;
:func:`build_regularisers` and :func:`build_hooks` read those declarations and the config.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch

from ..config import RunConfig
from ..losses import LossSpec
from ..regularisers import clip_weights_, gradient_penalty, r1_penalty
from .tricks import ema_beta, update_ema

if TYPE_CHECKING:  # the trainer imports this module; phases only call back into it
    from .trainer import GANTrainer, StepStats


@dataclass
class DBatch:
    """What one D phase saw: its inputs (after augmentation and noise), labels and logits."""

    real_in: torch.Tensor  # (N, C, H, W) real images as D saw them
    fake_in: torch.Tensor  # (N, C, H, W) fakes as D saw them (detached in the alternating step)
    y_real: torch.Tensor | None
    y_fake: torch.Tensor | None
    real_logits: torch.Tensor  # (N,)
    fake_logits: torch.Tensor  # (N,)


@dataclass
class GBatch:
    """What one G phase saw: G's output (with its graph), its labels and D's logits on it."""

    fake: torch.Tensor  # (N, C, H, W)
    y: torch.Tensor | None
    logits: torch.Tensor  # (N,)


# --------------------------------------------------------------------------- regularisers
class Regulariser:
    """A penalty on one network's loss. ``net`` is "D" or "G"; the term is added every
    ``interval`` updates of that network (counted from 0), already scaled by the interval, and
    goes into the same backward pass as the main loss."""

    net: str = "D"
    interval: int = 1
    name: str = "regulariser"

    def due(self, updates: int) -> bool:
        return self.interval > 0 and updates % self.interval == 0

    def term(self, tr: "GANTrainer", batch: DBatch | GBatch) -> torch.Tensor:
        raise NotImplementedError


class GradientPenaltyReg(Regulariser):
    """WGAN-GP (Gulrajani et al. 2017): ``weight * E[(||grad D(x_hat)|| - 1)^2]`` every D update."""

    name = "gradient-penalty"

    def __init__(self, weight: float):
        self.weight = weight

    def term(self, tr, batch: DBatch) -> torch.Tensor:
        # A conditional D scores the interpolates under the real images' labels.
        with tr.autocast():
            return self.weight * gradient_penalty(lambda x: tr.plain_D(x, batch.y_real), batch.real_in.detach(),
                                                  batch.fake_in.detach().to(batch.real_in.dtype))


class R1Reg(Regulariser):
    """R1 (Mescheder et al. 2018): ``gamma / 2 * E[||grad D(real)||^2]``, lazily every ``interval``
    D updates and then multiplied by the interval, so its average strength is unchanged."""

    name = "r1"

    def __init__(self, gamma: float, interval: int):
        self.gamma, self.interval = gamma, interval

    def term(self, tr, batch: DBatch) -> torch.Tensor:
        with tr.autocast():
            r1 = r1_penalty(lambda x: tr.plain_D(x, batch.y_real), batch.real_in.detach())
        return (self.gamma / 2) * self.interval * r1


class DriftReg(Regulariser):
    """ProGAN's drift term (Karras et al. 2018, appendix A.1): ``epsilon_drift * E[D(real)^2]``
    every D update, so a critic's scores cannot wander off from 0 (the WGAN loss only sees
    their differences)."""

    name = "drift"

    def __init__(self, epsilon: float):
        self.epsilon = epsilon

    def term(self, tr, batch: DBatch) -> torch.Tensor:
        return self.epsilon * batch.real_logits.float().pow(2).mean()


def build_regularisers(cfg: RunConfig, spec: LossSpec) -> list[Regulariser]:
    """The penalties the run's loss declares and the config turns on, in the order they are added."""
    lo = cfg.loss
    regs: list[Regulariser] = []
    if spec.gradient_penalty and lo.gp_weight > 0:
        regs.append(GradientPenaltyReg(lo.gp_weight))
    if lo.r1_gamma > 0:
        regs.append(R1Reg(lo.r1_gamma, lo.r1_every))
    if lo.drift > 0:
        regs.append(DriftReg(lo.drift))
    return regs


def add_regularisers(tr: "GANTrainer", net: str, loss: torch.Tensor, batch: DBatch | GBatch) -> torch.Tensor:
    """``loss`` plus every regulariser of ``net`` that is due at this update."""
    updates = tr.d_steps if net == "D" else tr.step
    for reg in tr.regularisers:
        if reg.net == net and reg.due(updates):
            loss = loss + reg.term(tr, batch)
    return loss


# --------------------------------------------------------------------------- update hooks
class UpdateHook:
    """Acts around optimizer steps. ``before_update`` runs between backward and ``opt.step()``
    (where gradients may still change), ``after_update`` right after one network's step,
    ``after_step`` once the whole training step is done (``n``: images per D update)."""

    def before_update(self, tr: "GANTrainer", net: str) -> None:
        pass

    def after_update(self, tr: "GANTrainer", net: str, batch: DBatch | None) -> None:
        pass

    def after_step(self, tr: "GANTrainer", n: int) -> None:
        pass


class GradClip(UpdateHook):
    """Clip each gradient element to [-c, c] (Keras clipvalue; seed 002's tf.clip_by_value)."""

    def __init__(self, net: str, clip: float):
        self.net, self.clip = net, clip

    def before_update(self, tr, net):
        if net == self.net:
            module = tr.D if net == "D" else tr.G
            torch.nn.utils.clip_grad_value_([p for p in module.parameters() if p.grad is not None], self.clip)


class WeightClip(UpdateHook):
    """The original WGAN's Lipschitz constraint: clamp D's weights after each D update."""

    def __init__(self, clip: float):
        self.clip = clip

    def after_update(self, tr, net, batch):
        if net == "D":
            clip_weights_(tr.D, self.clip)


class AdaStats(UpdateHook):
    """Feed D's real logits to the adaptive-augmentation controller after each D update."""

    def after_update(self, tr, net, batch):
        if net == "D" and tr.ada is not None:
            tr.ada.accumulate(batch.real_logits.detach())


class EmaUpdate(UpdateHook):
    """G_ema moves toward G after each step, with a half-life in images (``--ema-kimg``),
    capped early on by ``--ema-rampup`` times the images seen (counted from the step counter,
    so a resumed run ramps exactly as an unbroken one)."""

    def __init__(self, ema_kimg: float, rampup: float = 0.0):
        self.ema_kimg, self.rampup = ema_kimg, rampup

    def after_step(self, tr, n):
        seen = tr.state.step * n  # images before this step (the trainer counts it after its hooks)
        update_ema(tr.G_ema, tr.G, ema_beta(n, self.ema_kimg, seen, self.rampup))


def build_hooks(cfg: RunConfig, spec: LossSpec) -> list[UpdateHook]:
    o, k = cfg.optim, cfg.tricks
    hooks: list[UpdateHook] = []
    if o.clip_g is not None:
        hooks.append(GradClip("G", o.clip_g))
    if o.clip_d is not None:
        hooks.append(GradClip("D", o.clip_d))
    if spec.weight_clip:
        hooks.append(WeightClip(cfg.loss.wgan_clip))
    if k.ada_target:
        hooks.append(AdaStats())
    if k.ema_kimg > 0:
        hooks.append(EmaUpdate(k.ema_kimg, k.ema_rampup))
    return hooks


# --------------------------------------------------------------------------- the two step strategies
def d_phase(tr: "GANTrainer", real: torch.Tensor, y_real: torch.Tensor | None, keep_fake: bool = False):
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
    batch = DBatch(real_in, fake_in, y_real, y_fake, real_logits, fake_logits)
    d_loss = tr.d_objective(batch)
    tr.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    tr.update("D", batch)
    return d_loss, batch, ((fresh, y_fake) if keep_fake else None)


class AlternatingStep:
    """Seeds 001/004: phase 1 trains D on real and fake (``n_critic`` times, one sub-batch each);
    phase 2 trains G through a frozen D, on fresh noise - or, with ``reuse_fake``, on the last
    D phase's fakes (one G forward per step instead of two, as many PyTorch DCGAN loops do)."""

    def __call__(self, tr: "GANTrainer", real: torch.Tensor, y_real: torch.Tensor | None) -> "StepStats":
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
            g_loss = add_regularisers(tr, "G", g_loss, GBatch(fake, y_g, g_logits))
            tr.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
        finally:
            tr.D.requires_grad_(True)
        tr.update("G")
        return tr.stats(d_loss, g_loss, batch)


class JointStep:
    """Seeds 002/003: one G forward, both losses from the same D outputs, both updates
    (TensorFlow's two gradient tapes). Each loss's gradient goes to its own network only.

    D runs on the real and the fake half separately (as the seeds do): G's gradient then
    flows back through the fake half only, where one pass over both halves would compute
    D's input gradients for the real images too and throw them away."""

    def __call__(self, tr: "GANTrainer", real: torch.Tensor, y_real: torch.Tensor | None) -> "StepStats":
        n = real.shape[0]
        y_fake = tr.sample_y(n)
        with tr.autocast():
            fake = tr.run_G(tr.sample_z(n), y_fake)
            real_in, fake_in = tr.d_input(real), tr.d_input(fake)
            real_logits, fake_logits = tr.run_D(real_in, y_real), tr.run_D(fake_in, y_fake)
        batch = DBatch(real_in, fake_in, y_real, y_fake, real_logits, fake_logits)
        d_loss = tr.d_objective(batch)
        g_loss = tr.loss.g_loss(fake_logits, real_logits)
        g_loss = add_regularisers(tr, "G", g_loss, GBatch(fake, y_fake, fake_logits))
        g_params = [p for p in tr.G.parameters() if p.requires_grad]
        d_params = [p for p in tr.D.parameters() if p.requires_grad]
        g_grads = torch.autograd.grad(g_loss, g_params, retain_graph=True)
        d_grads = torch.autograd.grad(d_loss, d_params)
        for p, g in zip(g_params, g_grads):
            p.grad = g
        for p, g in zip(d_params, d_grads):
            p.grad = g
        tr.update("G")
        tr.update("D", batch)
        return tr.stats(d_loss, g_loss, batch)


STEP_STRATEGIES: dict[str, Callable[[], object]] = {"alternating": AlternatingStep, "joint": JointStep}
