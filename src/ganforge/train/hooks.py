"""Update hooks: what acts around each optimizer step and after the whole training step -
gradient-value clipping, WGAN weight clipping, ADA's statistic, the G_ema update (and, from
other modules, the cross-process gradient reduce and a family's schedule).
"""
from __future__ import annotations

import torch

from ..config import RunConfig
from ..losses import LossSpec
from ..regularisers import clip_weights_
from .state import DBatch, Trainer
from .tricks import ema_beta, update_ema


class UpdateHook:
    """Acts around optimizer steps. ``before_update`` runs between backward and ``opt.step()``
    (where gradients may still change), ``after_update`` right after one network's step (with
    ``batch`` None after a lazy regulariser's own step), ``after_step`` once the whole training
    step is done (``n``: images per D update)."""

    def before_update(self, tr: Trainer, net: str) -> None:
        pass

    def after_update(self, tr: Trainer, net: str, batch: DBatch | None) -> None:
        pass

    def after_step(self, tr: Trainer, n: int) -> None:
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
        if net == "D" and tr.ada is not None and batch is not None:  # (a regulariser's step has no batch)
            tr.ada.accumulate(batch.real_logits.detach())


class EmaUpdate(UpdateHook):
    """G_ema moves toward G after each step, with a half-life in images (``--ema-kimg``),
    capped early on by ``--ema-rampup`` times the images seen (as the family counts them,
    :meth:`~ganforge.train.family.Family.ema_images`: from the trainer's own state, so a resumed
    run ramps exactly as an unbroken one)."""

    def __init__(self, ema_kimg: float, rampup: float = 0.0):
        self.ema_kimg, self.rampup = ema_kimg, rampup

    def after_step(self, tr, n):
        seen = tr.family.ema_images(tr.state.step, n)  # images before this step (counted after its hooks)
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
