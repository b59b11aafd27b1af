"""The StyleGAN2 family (``--arch stylegan2``): style mixing while training and the path-length
regulariser on G (Karras et al. 2020, section 3.2), which runs as a lazy phase of its own every
``--pl-every`` G steps (:mod:`ganforge.train.penalties`).

State the family keeps - ``w_avg`` and the path-length mean ``pl_mean`` - are buffers of G, so
checkpoints carry them and a resumed run continues exactly.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from ...config import RunConfig
from ..family import Family, register_family
from ..penalties import Regulariser
from ..state import GBatch, Trainer


class PathLengthReg(Regulariser):
    """Path-length regularisation: for ``y ~ N(0, I) / sqrt(H W)`` the length
    ``|J_w^T y|`` (J: the synthesis network's Jacobian at ws) should be the same for every w;
    the penalty is ``weight * E[(|J_w^T y| - a)^2]`` where ``a`` is the lengths' running mean
    (``G.pl_mean``, moved by ``decay`` each time). Applied lazily every ``interval`` G steps,
    multiplied by the interval, on ``batch_size / batch_shrink`` fresh latents."""

    net = "G"
    name = "path-length"
    double_backward = True

    def __init__(self, weight: float, interval: int, decay: float, batch_shrink: int, mixing_prob: float = 0.0):
        self.weight, self.interval, self.decay, self.batch_shrink = weight, interval, decay, batch_shrink
        self.mixing_prob = mixing_prob  # the latents' styles are mixed as in G's training forward

    def lengths(self, tr: Trainer, n: int) -> torch.Tensor:
        """|J^T y| for n fresh latents: (n,), with the graph for the penalty's backward."""
        G = tr.G
        z, y = tr.sample_z(n), tr.sample_y(n)
        with tr.autocast():
            w = G.mapping(z, y)
            G.track_w_avg(w)  # (as every training pass of the mapping network does, in the reference too)
            ws = G.broadcast(w)
            if self.mixing_prob > 0:
                ws = G.mix_styles(z, ws, self.mixing_prob, y)
            img = G.synthesis(ws)  # (n, C, H, W)
        # drawn in NCHW order (not randn_like), so a channels-last run draws the same y
        noise = torch.randn(img.shape, dtype=torch.float32, device=img.device) / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img.float() * noise).sum(), ws, create_graph=True)
        return grad.float().square().sum(dim=2).mean(dim=1).sqrt()

    def term(self, tr: Trainer, batch: GBatch) -> torch.Tensor:
        n = max(1, batch.fake.shape[0] // self.batch_shrink)
        lengths = self.lengths(tr, n)
        # the moved mean, with its own graph to this batch's lengths (as the reference takes it)
        pl_mean = tr.G.pl_mean.lerp(lengths.mean(), self.decay)
        with torch.no_grad():
            tr.G.pl_mean.copy_(pl_mean.detach())
        return self.weight * self.interval * (lengths - pl_mean).square().mean()


@register_family("stylegan2")
class StyleGAN2Family(Family):
    """Style mixing in G's training forward, and path length on G."""

    def __init__(self, cfg: RunConfig):
        super().__init__(cfg)
        s = cfg.style
        self.mixing_prob = s.mixing_prob
        self.path_length = (PathLengthReg(s.pl_weight, s.pl_every, s.pl_decay, s.pl_batch_shrink, s.mixing_prob)
                            if s.pl_weight > 0 else None)

    def regularisers(self) -> list[Regulariser]:
        return [self.path_length] if self.path_length is not None else []

    def run_G(self, tr: Trainer, G: Callable, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """G's forward (which tracks w_avg while training), with style mixing at ``--style-mixing``."""
        if y is not None:
            return G(z, y, mixing_prob=self.mixing_prob)
        return G(z, mixing_prob=self.mixing_prob)
