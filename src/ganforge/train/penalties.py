"""Regularisers: penalties on one network at a given interval of its updates.

Each is a small object (the penalty's formula lives in :mod:`ganforge.regularisers`; here is
when it is due, on which network and how it is scaled): the gradient penalty, R1 and ProGAN's
drift term on D, and - from a model family - path length on G. A loss declares what it needs
(:class:`~ganforge.losses.LossSpec`); :func:`build_regularisers` reads those declarations and the
config.

A penalty due at every update goes into the same backward pass as the main loss. A *lazy* one
(``interval`` k > 1: lazy R1, path length; Karras et al. 2020, section 3.1) is a phase of its own,
as the reference runs it: after the network's main update, its own forward and backward, times
k, and its own optimizer step (:func:`lazy_phase`); the builder corrects that network's lr and
Adam betas for the extra steps (``--lazy-correction``).
"""
from __future__ import annotations

import torch

from ..config import RunConfig
from ..losses import LossSpec
from ..regularisers import gradient_penalty, r1_penalty
from .state import DBatch, GBatch, Trainer


class Regulariser:
    """A penalty on one network. ``net`` is "D" or "G"; the term is due every ``interval`` main
    updates of that network (counted from 0), already scaled by the interval; with an interval
    above 1 it is lazy, a phase of its own (module docstring)."""

    net: str = "D"
    interval: int = 1
    name: str = "regulariser"
    double_backward: bool = False  # its term differentiates a gradient (what train.probe guards)

    def due(self, updates: int) -> bool:
        return self.interval > 0 and updates % self.interval == 0

    @property
    def lazy(self) -> bool:
        """Whether it runs as its own optimizer step (every ``interval`` > 1 updates)."""
        return self.interval > 1

    def term(self, tr: Trainer, batch: DBatch | GBatch) -> torch.Tensor:
        raise NotImplementedError


class GradientPenaltyReg(Regulariser):
    """WGAN-GP (Gulrajani et al. 2017): ``weight * E[(||grad D(x_hat)|| - 1)^2]`` every D update."""

    name = "gradient-penalty"
    double_backward = True

    def __init__(self, weight: float):
        self.weight = weight

    def term(self, tr, batch: DBatch) -> torch.Tensor:
        # A conditional D scores the interpolates under the real images' labels.
        with tr.autocast():
            return self.weight * gradient_penalty(lambda x: tr.plain_D(x, batch.y_real), batch.real_in.detach(),
                                                  batch.fake_in.detach().to(batch.real_in.dtype))


class R1Reg(Regulariser):
    """R1 (Mescheder et al. 2018): ``gamma / 2 * E[||grad D(real)||^2]``, lazily every ``interval``
    D updates and then multiplied by the interval, so its average strength is unchanged. The
    gradient is taken with respect to the real images before augmentation, which D sees through
    a fresh draw of it (as the reference does: what is kept smooth is D on the data)."""

    name = "r1"
    double_backward = True

    def __init__(self, gamma: float, interval: int):
        self.gamma, self.interval = gamma, interval

    def term(self, tr, batch: DBatch) -> torch.Tensor:
        with tr.autocast():
            r1 = r1_penalty(lambda x: tr.plain_D(tr.d_input(x), batch.y_real), batch.real.detach())
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


def add_regularisers(tr: Trainer, net: str, loss: torch.Tensor, batch: DBatch | GBatch) -> torch.Tensor:
    """``loss`` plus every regulariser of ``net`` due at this update that is not lazy."""
    updates = tr.d_steps if net == "D" else tr.step
    for reg in tr.regularisers:
        if reg.net == net and not reg.lazy and reg.due(updates):
            loss = loss + reg.term(tr, batch)
    return loss


def lazy_phase(tr: Trainer, net: str, batch: DBatch | GBatch, updates: int) -> bool:
    """The lazy regularisers of ``net`` due at main update number ``updates``, as one optimizer
    step of their own: their terms' backward, then ``tr.update(net, regularising=True)``.
    Returns whether any ran."""
    due = [reg for reg in tr.regularisers if reg.net == net and reg.lazy and reg.due(updates)]
    if not due:
        return False
    opt = tr.opt_d if net == "D" else tr.opt_g
    opt.zero_grad(set_to_none=True)
    total = sum(reg.term(tr, batch) for reg in due)
    if net == "D":
        total.backward()
    else:
        tr.D.requires_grad_(False)  # (path length reaches no D; nothing of D must move either way)
        try:
            total.backward()
        finally:
            tr.D.requires_grad_(True)
    tr.update(net, regularising=True)
    return True
