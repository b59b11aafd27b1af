"""Layers of the progressive-growing family (Karras et al. 2018, ProGAN, section 4): the
equalised learning rate and pixelwise feature normalisation.

Equalised learning rate (section 4.1): weights are stored as N(0, 1) and scaled at run time by
He's constant ``gain / sqrt(fan_in)``. Adam's update is invariant to a parameter's scale, so
every weight then learns at the same *relative* speed, whatever its layer's fan-in.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

HE_GAIN = math.sqrt(2.0)  # for layers followed by a (leaky) ReLU


class EqualizedLinear(nn.Module):
    """``y = x @ (W * scale).T + b`` with ``W ~ N(0, 1)``, ``scale = gain / sqrt(in_features)``,
    ``b = bias_init``. Input ``(N, in_features)`` -> ``(N, out_features)``.

    lr_mul: a learning-rate multiplier (StyleGAN's mapping network uses 0.01). The parameters
    are stored divided by it and multiplied back at run time, so the initial function is the
    same and Adam's steps, which are scale-free, move it ``lr_mul`` times as fast.
    """

    def __init__(self, in_features: int, out_features: int, gain: float = HE_GAIN, lr_mul: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.in_features, self.out_features, self.lr_mul = in_features, out_features, lr_mul
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul))
        self.scale = gain * lr_mul / math.sqrt(in_features)  # the runtime He constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias if self.lr_mul == 1 else self.bias * self.lr_mul
        return F.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, scale={self.scale:.4g}"


class EqualizedConv2d(nn.Module):
    """A stride-1 'same' convolution with an equalised learning rate: ``W ~ N(0, 1)`` scaled by
    ``gain / sqrt(in_channels * k * k)`` at run time; zero bias. ``(N, C_in, H, W)`` ->
    ``(N, C_out, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = HE_GAIN):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"scale={self.scale:.4g}")


class PixelNorm(nn.Module):
    """Pixelwise feature normalisation (section 4.2): each pixel's feature vector is divided by
    its root mean square over the channels, ``x / sqrt(mean_c(x^2) + eps)``, so G's signal
    magnitudes cannot escalate. Works on ``(N, C, H, W)`` and on ``(N, C)``."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)
