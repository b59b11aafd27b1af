"""What the StyleGAN2 family adds to the trainer (``--arch stylegan2``): style mixing while
training, the path-length regulariser on G and the lazy-regularisation corrections of the
optimizers (Karras et al. 2020, sections 3.2 and appendix B). Other families get nothing.

State the family keeps - ``w_avg`` and the path-length mean ``pl_mean`` - are buffers of G, so
checkpoints carry them and a resumed run continues exactly.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from .phases import GBatch, Regulariser

if TYPE_CHECKING:
    from .trainer import GANTrainer


class PathLengthReg(Regulariser):
    """Path-length regularisation: for ``y ~ N(0, I) / sqrt(H W)`` the length
    ``|J_w^T y|`` (J: the synthesis network's Jacobian at ws) should be the same for every w;
    the penalty is ``weight * E[(|J_w^T y| - a)^2]`` where ``a`` is the lengths' running mean
    (``G.pl_mean``, moved by ``decay`` each time). Applied lazily every ``interval`` G steps,
    multiplied by the interval, on ``batch_size / batch_shrink`` fresh latents."""

    net = "G"
    name = "path-length"

    def __init__(self, weight: float, interval: int, decay: float, batch_shrink: int):
        self.weight, self.interval, self.decay, self.batch_shrink = weight, interval, decay, batch_shrink

    def lengths(self, tr: "GANTrainer", n: int) -> torch.Tensor:
        """|J^T y| for n fresh latents: (n,), with the graph for the penalty's backward."""
        G = tr.G
        z = tr.sample_z(n)
        with tr.autocast():
            ws = G.broadcast(G.mapping(z))
            if G.mixing_prob > 0:
                ws = G._mix(z, ws)
            img = G.synthesis(ws)  # (n, C, H, W)
        # drawn in NCHW order (not randn_like), so a channels-last run draws the same y
        noise = torch.randn(img.shape, dtype=torch.float32, device=img.device) / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img.float() * noise).sum(), ws, create_graph=True)
        return grad.float().square().sum(dim=2).mean(dim=1).sqrt()

    def term(self, tr: "GANTrainer", batch: GBatch) -> torch.Tensor:
        n = max(1, batch.fake.shape[0] // self.batch_shrink)
        lengths = self.lengths(tr, n)
        pl_mean = tr.G.pl_mean
        with torch.no_grad():
            pl_mean.copy_(pl_mean.lerp(lengths.mean().detach(), self.decay))
        return self.weight * self.interval * (lengths - pl_mean).square().mean()


def lazy_factor(interval: int) -> float:
    """k / (k + 1) for a regulariser applied every k steps: the fraction of the optimizer's steps
    that carry the main loss, by which its learning rate and (as a power) betas are scaled."""
    return interval / (interval + 1) if interval > 1 else 1.0


def attach_style(tr: "GANTrainer") -> PathLengthReg | None:
    """Set the trainer up for StyleGAN2 (a no-op for other families): G's style-mixing
    probability, the path-length regulariser, and the lazy corrections of both optimizers."""
    cfg = tr.cfg
    if cfg.model.arch != "stylegan2":
        return None
    s, lo = cfg.style, cfg.loss
    tr.G.mixing_prob = s.mixing_prob
    reg = None
    if s.pl_weight > 0:
        reg = PathLengthReg(s.pl_weight, s.pl_every, s.pl_decay, s.pl_batch_shrink)
        tr.regularisers.append(reg)
    if s.lazy_correction:
        for net, opt, every in (("d", tr.opt_d, lo.r1_every if lo.r1_gamma > 0 else 1),
                                ("g", tr.opt_g, s.pl_every if s.pl_weight > 0 else 1)):
            c = lazy_factor(every)
            if c != 1.0:
                tr.set_lr(net, c)  # the base rate in the training state (a resumed run loads its own)
                for group in opt.param_groups:
                    if "betas" in group:  # Adam's (RMSprop has none: its lr alone is corrected)
                        b1, b2 = group["betas"]
                        group["betas"] = (b1 ** c, b2 ** c)
    return reg
