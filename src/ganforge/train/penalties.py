"""Regularisers: penalties added to one network's loss at a given interval of its updates.

Each is a small object (the penalty's formula lives in :mod:`ganforge.regularisers`; here is
when it is due, on which network and how it is scaled): the gradient penalty, R1 and ProGAN's
drift term on D, and - from a model family - path length on G. A loss declares what it needs
(:class:`~ganforge.losses.LossSpec`); :func:`build_regularisers` reads those declarations and the
config.
"""
from __future__ import annotations

import torch

from ..config import RunConfig
from ..losses import LossSpec
from ..regularisers import gradient_penalty, r1_penalty
from .state import DBatch, GBatch, Trainer


class Regulariser:
    """A penalty on one network's loss. ``net`` is "D" or "G"; the term is added every
    ``interval`` updates of that network (counted from 0), already scaled by the interval, and
    goes into the same backward pass as the main loss."""

    net: str = "D"
    interval: int = 1
    name: str = "regulariser"
    double_backward: bool = False  # its term differentiates a gradient (what train.probe guards)

    def due(self, updates: int) -> bool:
        return self.interval > 0 and updates % self.interval == 0

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
    D updates and then multiplied by the interval, so its average strength is unchanged."""

    name = "r1"
    double_backward = True

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


def add_regularisers(tr: Trainer, net: str, loss: torch.Tensor, batch: DBatch | GBatch) -> torch.Tensor:
    """``loss`` plus every regulariser of ``net`` that is due at this update."""
    updates = tr.d_steps if net == "D" else tr.step
    for reg in tr.regularisers:
        if reg.net == net and reg.due(updates):
            loss = loss + reg.term(tr, batch)
    return loss
