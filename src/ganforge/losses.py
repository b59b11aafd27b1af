"""Adversarial losses as small pure functions on discriminator logits.

Logits, not probabilities: ``BCE(sigmoid(l), y)`` computed from ``l`` directly is the
numerically stable form the seeds use (``from_logits=True``). The training loop only decides
when to call these; targets for the discriminator come from :func:`d_targets`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_targets(n: int, real: bool, *, smoothing: float = 0.0, noise: float = 0.0,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """Discriminator targets for ``n`` images.

    real: True for real images (target 1), False for fakes (target 0).
    smoothing: one-sided label smoothing; real targets become ``1 - smoothing``.
    noise: label noise (seed 000's trick); each target moves toward the other class by
        ``noise * U[0, 1)``, drawn from torch's global RNG.
    """
    base = (1.0 - smoothing) if real else 0.0
    t = torch.full((n,), base, device=device)
    if noise > 0:
        u = torch.rand(n, device=device) * noise
        t = t - u if real else t + u
    return t


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor,
               real_target: torch.Tensor | float = 1.0, fake_target: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Discriminator cross-entropy: BCE(real, target 1) + BCE(fake, target 0), each a batch mean.

    The sum of the two means is the form of seeds 002 and 003; with Adam or RMSprop its scale
    hardly matters, with gradient clipping it does, so it is kept as the seeds have it.
    """
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    if not torch.is_tensor(real_target):
        real_target = torch.full_like(real_logits, real_target)
    if not torch.is_tensor(fake_target):
        fake_target = torch.full_like(fake_logits, fake_target)
    return (F.binary_cross_entropy_with_logits(real_logits, real_target)
            + F.binary_cross_entropy_with_logits(fake_logits, fake_target))


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: BCE(D(G(z)), target 'real') = mean softplus(-l).

    Goodfellow et al. 2014, section 3: maximise log D(G(z)) instead of minimising
    log(1 - D(G(z))), which has strong gradients while D rejects the fakes easily.
    """
    return F.softplus(-fake_logits.float()).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """Minimax generator loss: minimise mean log(1 - D(G(z))) = -mean softplus(l).

    The game's own objective (Goodfellow et al. 2014, eq. 1) and seed 002's generator loss,
    written there as the negative cross-entropy against 'fake' labels.
    """
    return -F.softplus(fake_logits.float()).mean()


G_LOSSES = {"nonsaturating": g_loss_nonsaturating, "minimax": g_loss_minimax}
