"""Adversarial losses as small pure functions on discriminator logits.

Logits, not probabilities: ``BCE(sigmoid(l), y)`` computed from ``l`` directly is the
numerically stable form the seeds use (``from_logits=True``). The training loop only decides
when to call these; targets for the discriminator come from :func:`d_targets`.

Every function computes in float32 (``logits.float()``), so bf16 autocast never reaches a loss.
:data:`LOSSES` names each ``--loss`` with its D and G functions and what the loop must know
about it; the penalties that some losses need (gradient penalty, R1, clipping) live in
:mod:`ganforge.regularisers`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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


# --------------------------------------------------------------------------- Wasserstein (critic scores)


def d_loss_wgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss: ``mean(D(fake)) - mean(D(real))`` (Arjovsky et al. 2017, eq. 3).

    Minimising it maximises the critic's estimate of the Wasserstein-1 distance. The estimate is
    only valid for a 1-Lipschitz critic: weight clipping (``--loss wgan``) or the gradient
    penalty (``--loss wgan-gp``, Gulrajani et al. 2017) enforce that; the loop adds them.
    """
    return fake_logits.float().mean() - real_logits.float().mean()


def g_loss_wgan(fake_logits: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss: ``-mean(D(G(z)))`` (Arjovsky et al. 2017, algorithm 1)."""
    return -fake_logits.float().mean()


# --------------------------------------------------------------------------- hinge


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge discriminator loss: ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``.

    Lim & Ye 2017 (Geometric GAN), as used by Miyato et al. 2018 (spectral normalisation):
    logits already beyond the margin (real > 1, fake < -1) contribute nothing.
    """
    return F.relu(1.0 - real_logits.float()).mean() + F.relu(1.0 + fake_logits.float()).mean()


def g_loss_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge generator loss: ``-mean(D(G(z)))`` (Lim & Ye 2017; Miyato et al. 2018, eq. 17)."""
    return -fake_logits.float().mean()


# --------------------------------------------------------------------------- least squares


def d_loss_lsgan(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                 real_target: torch.Tensor | float = 1.0, fake_target: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Least-squares discriminator loss (Mao et al. 2017, eq. 2 with a=0, b=1):
    ``0.5 * mean((D(real) - b)^2) + 0.5 * mean((D(fake) - a)^2)``.

    D's raw output is regressed onto the labels ``b`` (real) and ``a`` (fake); the targets may
    be per-image tensors, so label smoothing and label noise move ``a`` and ``b``.
    """
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    return 0.5 * (real_logits - real_target).pow(2).mean() + 0.5 * (fake_logits - fake_target).pow(2).mean()


def g_loss_lsgan(fake_logits: torch.Tensor) -> torch.Tensor:
    """Least-squares generator loss (Mao et al. 2017, eq. 2 with c=1): ``0.5 * mean((D(G(z)) - 1)^2)``."""
    return 0.5 * (fake_logits.float() - 1.0).pow(2).mean()


# --------------------------------------------------------------------------- relativistic average


def d_loss_ragan(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                 real_target: torch.Tensor | float = 1.0, fake_target: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Relativistic average discriminator loss, BCE form (Jolicoeur-Martineau 2018, RaSGAN):
    ``BCE(D(real) - mean D(fake), 1) + BCE(D(fake) - mean D(real), 0)``, each a batch mean.

    D estimates how much more realistic a real image is than the average fake (and the
    reverse). Targets may be per-image tensors, as for :func:`d_loss_bce`.
    """
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    return d_loss_bce(real_logits - fake_logits.mean(), fake_logits - real_logits.mean(), real_target, fake_target)


def g_loss_ragan(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic average generator loss (Jolicoeur-Martineau 2018):
    ``BCE(D(fake) - mean D(real), 1) + BCE(D(real) - mean D(fake), 0)``.

    Unlike the other generator losses it needs D's logits on a real batch; they may be
    detached (G's gradient reaches the second term through ``mean D(fake)``).
    """
    fake_logits, real_logits = fake_logits.float(), real_logits.float()
    return d_loss_bce(fake_logits - real_logits.mean(), real_logits - fake_logits.mean())


# --------------------------------------------------------------------------- the registry

DLoss = Callable[..., torch.Tensor]  # (real_logits, fake_logits, real_target=1.0, fake_target=0.0) -> scalar
GLoss = Callable[..., torch.Tensor]  # (fake_logits, real_logits=None) -> scalar


@dataclass(frozen=True)
class LossSpec:
    """One ``--loss``: its two functions, with a uniform calling convention, and what the loop
    needs to know about it.

    d_loss(real_logits, fake_logits, real_target=1.0, fake_target=0.0) -> scalar; losses that
        have no labels ignore the targets.
    g_loss(fake_logits, real_logits=None) -> scalar; ``real_logits`` is read only when
        ``g_needs_real`` (the relativistic loss), so the loop can skip D(real) otherwise.
    uses_targets: D's loss reads labels, so label smoothing and label noise mean something
        (the cross-entropy losses, and least squares whose a/b are labels).
    bounded_logits: ``sigmoid(D(x))`` is D's probability that x is real (the two BCE losses).
        False for critic scores (WGAN, hinge), LSGAN's regression outputs and the relativistic
        loss (only logit *differences* matter there, so D(x) may drift by a constant). Log
        ``d_real``/``d_fake`` as sigmoid means, and judge them against 0.5, only when True.
    cross_entropy: D's loss is a cross-entropy, so it cannot fall below the entropy of its
        targets (the diagnostics raise their "D loss fell to zero" floor by that).
    critic: D is a Wasserstein critic; its loss has no lower bound, so "D's loss fell to zero"
        means nothing for it.
    weight_clip: the critic's weights are clamped to ``[-wgan_clip, wgan_clip]`` after every D
        update (the original WGAN's Lipschitz constraint).
    gradient_penalty: D's loss gets the WGAN-GP gradient penalty (``gp_weight``) every D update.
    """

    name: str
    d_loss: DLoss
    g_loss: GLoss
    g_needs_real: bool = False
    uses_targets: bool = True
    bounded_logits: bool = True
    cross_entropy: bool = False
    critic: bool = False
    weight_clip: bool = False
    gradient_penalty: bool = False


LOSSES: dict[str, LossSpec] = {}


def register_loss(spec: LossSpec) -> LossSpec:
    """Add ``spec`` to :data:`LOSSES` under its name; a name may be registered once."""
    if spec.name in LOSSES:
        raise ValueError(f"loss {spec.name!r} is registered twice")
    LOSSES[spec.name] = spec
    return spec


def _d_ignoring_targets(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> DLoss:
    def d_loss(real_logits, fake_logits, real_target=1.0, fake_target=0.0):
        return fn(real_logits, fake_logits)

    d_loss.__doc__ = fn.__doc__
    return d_loss


def _g_ignoring_real(fn: Callable[[torch.Tensor], torch.Tensor]) -> GLoss:
    def g_loss(fake_logits, real_logits=None):
        return fn(fake_logits)

    g_loss.__doc__ = fn.__doc__
    return g_loss


register_loss(LossSpec("nonsaturating", d_loss_bce, _g_ignoring_real(g_loss_nonsaturating), cross_entropy=True))
register_loss(LossSpec("minimax", d_loss_bce, _g_ignoring_real(g_loss_minimax), cross_entropy=True))
# wgan and wgan-gp are the same game with two ways to keep the critic 1-Lipschitz.
register_loss(LossSpec("wgan", _d_ignoring_targets(d_loss_wgan), _g_ignoring_real(g_loss_wgan),
                       uses_targets=False, bounded_logits=False, critic=True, weight_clip=True))
register_loss(LossSpec("wgan-gp", _d_ignoring_targets(d_loss_wgan), _g_ignoring_real(g_loss_wgan),
                       uses_targets=False, bounded_logits=False, critic=True, gradient_penalty=True))
register_loss(LossSpec("hinge", _d_ignoring_targets(d_loss_hinge), _g_ignoring_real(g_loss_hinge),
                       uses_targets=False, bounded_logits=False))
register_loss(LossSpec("lsgan", d_loss_lsgan, _g_ignoring_real(g_loss_lsgan), bounded_logits=False))
register_loss(LossSpec("ragan", d_loss_ragan, g_loss_ragan, g_needs_real=True, bounded_logits=False,
                       cross_entropy=True))
