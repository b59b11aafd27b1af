"""Resampling with a low-pass FIR filter, as StyleGAN2 does it (Karras et al. 2020; the
``upfirdn2d`` and ``conv2d_resample`` operations of NVIDIA's stylegan2-ada-pytorch, whose
semantics - padding, gain, filter orientation - these functions follow so that its trained
networks compute the same images here).

``upfirdn2d`` is: insert ``up - 1`` zeros between pixels, pad, convolve with a 2-D FIR filter,
keep every ``down``-th pixel. The filter is the binomial [1, 3, 3, 1] as an outer product,
normalised to sum 1 (:func:`setup_filter`); upsampling by 2 multiplies it by 4 so the mean is
kept. Every function here is plain PyTorch (depthwise convolutions), differentiable to any
order, on any device. The 4x4 filter is separable, so it runs as a 4x1 and a 1x4 depthwise
convolution (8 multiply-adds a pixel instead of 16; the same function).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

FIR_TAPS = (1.0, 3.0, 3.0, 1.0)


def setup_filter(taps=FIR_TAPS) -> torch.Tensor:
    """The separable filter's 1-D taps, normalised so that the 2-D outer product sums to 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    return f / f.sum()


def _fir(x: torch.Tensor, f1: torch.Tensor, gain: float) -> torch.Tensor:
    """Depthwise valid convolution of (N, C, H, W) with the outer product of ``f1`` (flipped, as a
    convolution, not a correlation: the same for this symmetric filter) times ``gain``."""
    c = x.shape[1]
    f = (f1.flip(0) * gain ** 0.5).to(device=x.device, dtype=x.dtype)
    x = F.conv2d(x, f.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(x, f.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


def upfirdn2d(x: torch.Tensor, f1: torch.Tensor, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample by zeros, pad (x0, x1, y0, y1, non-negative), filter, downsample. x: (N, C, H, W)."""
    n, c, h, w = x.shape
    if up > 1:  # layout: (N, C, H, 1, W, 1) padded to (N, C, H, up, W, up): zeros between pixels
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, list(padding))
    x = _fir(x, f1, gain)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: torch.Tensor, f1: torch.Tensor) -> torch.Tensor:
    """2x upsampling, (N, C, H, W) -> (N, C, 2H, 2W), centred (the toRGB skip path of G)."""
    k = f1.numel()
    return upfirdn2d(x, f1, up=2, padding=((k + 1) // 2, (k - 2) // 2, (k + 1) // 2, (k - 2) // 2), gain=4.0)


def downsample2d(x: torch.Tensor, f1: torch.Tensor) -> torch.Tensor:
    """2x downsampling, (N, C, H, W) -> (N, C, H/2, W/2), centred."""
    k = f1.numel()
    return upfirdn2d(x, f1, down=2, padding=((k - 1) // 2, (k - 2) // 2, (k - 1) // 2, (k - 2) // 2))


def conv2d_up(x: torch.Tensor, weight: torch.Tensor, f1: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """A 'same' k x k convolution at twice the resolution: a stride-2 transposed convolution, then
    the FIR filter (gain 4). x: (N, G*C_in, H, W); weight: (G*C_out, C_in, k, k), used as a
    convolution (not flipped: the orientation of the reference's upsampling layers). Returns
    (N, G*C_out, 2H, 2W)."""
    out_ch, in_ch, k, _ = weight.shape
    if groups == 1:
        wt = weight.transpose(0, 1)
    else:  # per group: (C_out, C_in) -> (C_in, C_out)
        wt = weight.reshape(groups, out_ch // groups, in_ch, k, k).transpose(1, 2).reshape(groups * in_ch,
                                                                                          out_ch // groups, k, k)
    x = F.conv_transpose2d(x, wt, stride=2, groups=groups)  # (.., 2H + k - 2, 2W + k - 2)
    taps = f1.numel()
    p0 = (taps + 1) // 2 + k // 2 - (k - 1)
    p1 = (taps - 2) // 2 + k // 2 - (k - 2)
    return upfirdn2d(x, f1, padding=(p0, p1, p0, p1), gain=4.0)


def conv2d_down(x: torch.Tensor, weight: torch.Tensor, f1: torch.Tensor) -> torch.Tensor:
    """A k x k convolution to half the resolution: the FIR filter first, then the stride-2
    convolution (a 1x1 one: filter and keep every second pixel, then the 1x1 convolution).
    x: (N, C_in, H, W); weight: (C_out, C_in, k, k). Returns (N, C_out, H/2, W/2)."""
    k = weight.shape[-1]
    taps = f1.numel()
    if k == 1:
        return F.conv2d(downsample2d(x, f1), weight)
    p0 = (taps - 1) // 2 + k // 2
    p1 = (taps - 2) // 2 + k // 2
    return F.conv2d(upfirdn2d(x, f1, padding=(p0, p1, p0, p1)), weight, stride=2)
