"""The layers StyleGAN2's networks are built from (:mod:`.stylegan2`), as the official
stylegan2-ada-pytorch defines them: the width rule, the precision policy's helpers, bias +
activation + clamp (its ``bias_act`` on the reference path), the equalised fully connected layer
and the modulated convolution in three equivalent forms."""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .resample import conv2d_up

ACT_GAIN = math.sqrt(2.0)  # leaky ReLU 0.2 followed by sqrt(2): unit second moment in, unit out
MODCONV_IMPLS = ("grouped", "scaled", "bmm")
MODCONV_DEFAULT = "scaled"  # the fastest here: benchmarks/stylegan_speed.py (docs/stylegan2.md)


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at resolution ``res``: the official rule ``min(channel_base // res, channel_max)``."""
    return max(1, min(channel_base // res, channel_max))


def lowp_dtype(device: torch.device) -> torch.dtype | None:
    """The low-precision dtype the caller's autocast asks for on ``device`` (None without one)."""
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return None


@contextmanager
def no_autocast(device: torch.device) -> Iterator[None]:
    """The network decides each layer's precision itself (see the module docstring)."""
    with torch.autocast(device.type, enabled=False):
        yield


def bias_act(x: torch.Tensor, bias: torch.Tensor, act: bool, gain: float, clamp: float | None) -> torch.Tensor:
    """``x + bias``, leaky ReLU 0.2 times sqrt(2) (``act``), times ``gain``, clamped to +-clamp."""
    x = x + bias.to(x.dtype).reshape(1, -1, *([1] * (x.dim() - 2)))
    if act:
        x = F.leaky_relu(x, 0.2)
        gain = gain * ACT_GAIN
    if gain != 1:
        x = x * gain
    return F.hardtanh(x, -clamp, clamp) if clamp is not None else x  # (a clamp whose backward is one kernel)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class FullyConnected(nn.Module):
    """``x @ (W * lr_mul / sqrt(in)).T + b * lr_mul``, then leaky ReLU (``act``). W ~ N(0, 1/lr_mul^2)
    and b = ``bias_init`` as stored, so Adam, being scale-free, moves the layer lr_mul times as
    fast. (N, in) -> (N, out)."""

    def __init__(self, in_features: int, out_features: int, act: bool = False, lr_mul: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.act = act
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain, self.bias_gain = lr_mul / math.sqrt(in_features), lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight.to(x.dtype) * self.weight_gain)
        return bias_act(x, self.bias * self.bias_gain, self.act, 1.0, None)


# --------------------------------------------------------------------------- the modulated convolution
def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     impl: str = MODCONV_DEFAULT, up: bool = False, f1: torch.Tensor | None = None) -> torch.Tensor:
    """A 'same' convolution whose weights are scaled per sample by ``styles``.

    x: (N, C_in, H, W) in the precision it should run in; weight: (C_out, C_in, k, k) as stored;
    styles: (N, C_in) float32. With ``demodulate`` each sample's output channel is divided by
    ``sqrt(sum_{i,k} (s_i w_{o,i,k})^2 + 1e-8)``, computed in float32. ``up``: at twice the
    resolution (FIR filter ``f1``). Returns (N, C_out, H or 2H, W or 2W).

    impl: three forms of the same function -
      * "grouped": the N per-sample weights in one grouped convolution (groups=N);
      * "scaled": the input channels scaled by the styles, the shared convolution, the output
        channels scaled by the demodulation coefficients (no per-sample weights at all);
      * "bmm": per-sample weights times the unfolded input (im2col), one batched matmul
        (stride 1 only; an upsampling layer runs "scaled").
    """
    n, c_in, h, w_ = x.shape
    c_out, _, k, _ = weight.shape
    d = None
    if demodulate:  # sum_{i,k} s_i^2 w_{o,i,k}^2 = (s^2) @ (sum_k w^2).T, in float32
        d = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)  # (N, C_out)
    if impl == "scaled" or (impl == "bmm" and up):
        x = x * styles.to(x.dtype)[:, :, None, None]
        wt = weight.to(x.dtype)
        x = conv2d_up(x, wt, f1) if up else F.conv2d(x, wt, padding=k // 2)
        return x * d.to(x.dtype)[:, :, None, None] if d is not None else x
    wt = weight[None] * styles[:, None, :, None, None]  # (N, C_out, C_in, k, k)
    if d is not None:
        wt = wt * d[:, :, None, None, None]
    wt = wt.to(x.dtype)
    if impl == "grouped":
        xg = x.reshape(1, n * c_in, h, w_)
        wg = wt.reshape(n * c_out, c_in, k, k)
        out = conv2d_up(xg, wg, f1, groups=n) if up else F.conv2d(xg, wg, padding=k // 2, groups=n)
        return out.reshape(n, c_out, *out.shape[2:])
    if impl == "bmm":
        cols = F.unfold(x, k, padding=k // 2) if k > 1 else x.reshape(n, c_in, h * w_)  # (N, C_in*k*k, H*W)
        return torch.bmm(wt.reshape(n, c_out, c_in * k * k), cols).reshape(n, c_out, h, w_)
    raise ValueError(f"modulated_conv2d: impl must be one of {MODCONV_IMPLS}, not {impl!r}")
