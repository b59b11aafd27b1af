"""Layers shared by the architectures that are neither Keras emulation (:mod:`.layers_keras`)
nor CPU speed-ups (:mod:`.layers_fast`): :class:`Reshape`, the batch-aware discriminator
layers against mode collapse, and :func:`layer_param_counts` for Keras-style parameter tables.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn


class Reshape(nn.Module):
    """Reshape ``(N, ...)`` to ``(N, *shape)``.

    ``reshape`` is a free view whenever the input is contiguous (the case after a Linear or
    BatchNorm1d) and only copies when it has to, e.g. for a channels-last input.
    """

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


# --------------------------------------------------------------------------- batch-aware D layers (against mode collapse)


def largest_divisor_at_most(n: int, k: int) -> int:
    """The largest divisor of ``n`` that is at most ``k`` (1 when ``n`` is prime and > k)."""
    for g in range(min(n, k), 0, -1):
        if n % g == 0:
            return g
    return 1


class MinibatchStdDev(nn.Module):
    """Mini-batch standard deviation (Karras et al. 2018, ProGAN, section 3): append one feature
    map holding how much the images of a small group differ.

    The batch is split into groups of ``group_size`` images (the largest divisor of the batch
    not above it, so any batch size works; a batch of 1 gives ~0). For each group: the standard
    deviation of every feature over the group's images, averaged over features and positions,
    is one number, broadcast as an extra channel to each image of the group. A collapsed G
    makes near-identical images, so D sees that number near 0 for fakes and can reject them.

    Input ``(N, C, H, W)`` -> ``(N, C + 1, H, W)``; also ``(N, F)`` -> ``(N, F + 1)``.
    Statistics are taken in float32; the output keeps the input's dtype.
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        if group_size < 1:
            raise ValueError(f"MinibatchStdDev: group_size must be >= 1, got {group_size}")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = largest_divisor_at_most(n, self.group_size)
        # Sample n = i * (n // g) + m belongs to group m: members are spread across the batch.
        y = x.float().reshape(g, n // g, *x.shape[1:])
        std = ((y - y.mean(dim=0)).square().mean(dim=0) + 1e-8).sqrt()  # (n // g, C, H, W); faster than var here
        stat = std.reshape(n // g, -1).mean(dim=1)  # (n // g,)
        stat = stat.repeat(g).reshape(n, *([1] * (x.dim() - 1)))
        feature = stat.expand(n, 1, *x.shape[2:]).to(x.dtype)
        return torch.cat([x, feature], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class MinibatchDiscrimination(nn.Module):
    """Mini-batch discrimination (Salimans et al. 2016, section 3.2): features that tell D how
    close each image is to the others in its batch.

    ``M_i = x_i T`` is read as ``num_kernels`` rows ``M_i,b`` of ``kernel_dim`` values; for each
    kernel ``b``, ``o(x_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_1)``. Identical images give
    ``o = N - 1`` in every kernel; well-spread ones give values near 0.

    Input ``(N, in_features)`` -> ``(N, in_features + num_kernels)`` (the input, then ``o``).
    ``T`` is a plain parameter (no bias), drawn N(0, 0.01 / in_features) - small, so the
    kernels start in their sensitive range - and left alone by :func:`init_weights`.
    """

    def __init__(self, in_features: int, num_kernels: int, kernel_dim: int = 16):
        super().__init__()
        self.in_features, self.num_kernels, self.kernel_dim = in_features, num_kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) * (0.1 / math.sqrt(in_features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"MinibatchDiscrimination expects (N, {self.in_features}), got {tuple(x.shape)}")
        n = x.shape[0]
        m = (x.float() @ self.T.float()).reshape(n, self.num_kernels, self.kernel_dim)
        # The explicit (N, N, B, C) difference, not torch.cdist: cdist has no double backward,
        # which a gradient penalty through D needs. N=256, B=64, C=16 is 64 M values.
        dist = (m[:, None] - m[None, :]).abs().sum(dim=3)  # (N, N, B) L1 distances
        o = torch.exp(-dist).sum(dim=1) - 1.0  # drop the self term exp(0) = 1
        return torch.cat([x, o.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_kernels={self.num_kernels}, kernel_dim={self.kernel_dim}"


def batch_dependent(module: nn.Module) -> bool:
    """Whether one image's output depends on the rest of its batch (BatchNorm in training,
    :class:`MinibatchStdDev`, :class:`MinibatchDiscrimination`). Such a D must see real and
    fake images in separate passes: in one mixed batch its batch statistics compare fakes with
    reals, which the G phase (fakes only) never reproduces."""
    return any(isinstance(m, (nn.modules.batchnorm._BatchNorm, MinibatchStdDev, MinibatchDiscrimination))
               for m in module.modules())


# --------------------------------------------------------------------------- parameter tables


def layer_param_counts(module: nn.Module) -> list[tuple[str, int]]:
    """``(qualified name, trainable parameters)`` of each layer holding parameters, in forward order.

    This is the ``Param #`` column of a Keras ``model.summary()`` without the parameter-free
    rows. BatchNorm running statistics are buffers, so they count as Keras' non-trainable ones.
    """
    rows = []
    for name, m in module.named_modules():
        n = sum(p.numel() for p in m.parameters(recurse=False) if p.requires_grad)
        if n:
            rows.append((name, n))
    return rows


def dense_head(layers: "OrderedDict[str, nn.Module]", channels: int, side: int, *, minibatch_stddev: bool,
                minibatch_disc: int, dropout: nn.Module | None = None) -> None:
    """Append a D's Flatten -> Dense(1) head to ``layers``, with the optional batch-aware layers:
    a mini-batch std-dev map before Flatten (one more channel) and mini-batch discrimination
    right after it (``minibatch_disc`` more features). ``dropout``, if given, follows Flatten
    (Chollet's order). With both options off this is exactly the seeds' Flatten -> Dense."""
    if minibatch_stddev:
        layers["mbstd"] = MinibatchStdDev()
        channels += 1
    # Flatten (not a view): a channels-last activation is not contiguous in NCHW order.
    layers["flatten"] = nn.Flatten()
    features = channels * side * side
    if minibatch_disc:
        layers["mbd"] = MinibatchDiscrimination(features, minibatch_disc)
        features += minibatch_disc
    if dropout is not None:
        layers["drop"] = dropout
    layers["fc"] = nn.Linear(features, 1)
