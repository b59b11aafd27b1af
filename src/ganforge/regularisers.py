"""Regularisers of the discriminator: gradient penalties, weight clipping, spectral normalisation.

The penalties are plain functions of ``D`` (any callable: ``D(x)``, or ``D(x, y)`` when class
labels ``y`` are given) and images ``(N, C, H, W)``; they return a float32 scalar with a graph
through D's parameters (``create_graph=True``), so adding them to D's loss trains D on them.
Weights and schedules (``gp_weight``, ``r1_gamma / 2``, the lazy interval) are the caller's.

Note: a gradient penalty differentiates D twice. ``torch.compile``'d modules do not support
that, so pass the plain module; and with BatchNorm in D a per-image gradient mixes the batch,
which the penalties' derivations do not assume (Gulrajani et al. recommend no BatchNorm in D).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm
from torch.nn.utils.parametrize import is_parametrized

DFn = Callable[..., torch.Tensor]  # D(x) or D(x, y) -> logits (N,)


def _call(D: DFn, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    return D(x) if y is None else D(x, y)


def _input_grad(D: DFn, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """d(sum of D's logits)/dx for a leaf ``x``, kept differentiable; flattened to (N, C*H*W) float32.

    Summing the logits gives every image's own gradient at once, because image i's logit
    depends only on image i (true without BatchNorm in D).
    """
    logits = _call(D, x, y)
    (grad,) = torch.autograd.grad(logits.float().sum(), x, create_graph=True)
    return grad.float().reshape(x.shape[0], -1)


def gradient_penalty(D: DFn, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, eq. 3): ``mean_i (||grad_x D(x_hat_i)||_2 - 1)^2``.

    ``x_hat_i = eps_i * real_i + (1 - eps_i) * fake_i`` with ``eps_i ~ U[0, 1)`` per image, drawn
    from torch's global RNG on the images' device. real, fake: images (N, C, H, W) of the same
    shape (neither needs a graph; both are detached). y: labels passed to D for a conditional
    critic (those of ``real`` - interpolating between classes is not defined). The caller
    multiplies by ``gp_weight`` (lambda = 10 in the paper).
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    n = real.shape[0]
    eps = torch.rand(n, *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = torch.lerp(fake.detach().to(real.dtype), real.detach(), eps).requires_grad_(True)
    grad = _input_grad(D, x_hat, y)
    # The 1e-12 keeps the norm's gradient finite where a gradient is exactly zero.
    norm = (grad.pow(2).sum(dim=1) + 1e-12).sqrt()
    return (norm - 1.0).pow(2).mean()


def r1_penalty(D: DFn, real: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """R1 penalty (Mescheder et al. 2018, eq. 9): ``mean_i ||grad_x D(real_i)||_2^2``.

    real: images (N, C, H, W) (detached here). y: labels for a conditional D. The paper's
    regulariser is ``gamma / 2`` times this; with lazy regularisation every k D steps
    (Karras et al. 2020, StyleGAN2) the caller multiplies by k as well.
    """
    x = real.detach().requires_grad_(True)
    return _input_grad(D, x, y).pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> nn.Module:
    """Clamp every parameter of ``module`` to ``[-c, c]`` in place (WGAN, Arjovsky et al. 2017,
    algorithm 1: after each critic update, c = 0.01). Returns the module."""
    if c <= 0:
        raise ValueError(f"clip_weights_: the bound must be positive, got {c}")
    for p in module.parameters():
        p.clamp_(-c, c)
    return module


SPECTRAL_NORM_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                        nn.ConvTranspose3d)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectrally normalise every Linear/Conv/ConvTranspose weight in ``module`` (Miyato et al. 2018).

    Each weight is divided by an estimate of its largest singular value (the kernel reshaped
    to a matrix, outputs by inputs), refined by ``n_power_iterations`` power-iteration steps per
    forward pass in train mode. Embeddings (a conditional D's projection) are left alone, as
    are weights already parametrized. Parameter counts do not change; the state dict gains
    ``parametrizations.weight.original`` and the power-iteration vectors. Returns the module.
    """
    for m in list(module.modules()):
        if isinstance(m, SPECTRAL_NORM_LAYERS) and not is_parametrized(m, "weight"):
            spectral_norm(m, "weight", n_power_iterations=n_power_iterations)
    return module
