"""The [1,3,3,1] FIR resampling of StyleGAN2 (models/resample.py): equal to a direct convolution
with the padded 2-D filter, and to the official conv2d_resample semantics written out in
official_format.py, on random inputs; differentiable twice (R1 and path length need it)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganforge.models.resample import conv2d_down, conv2d_up, downsample2d, setup_filter, upfirdn2d, upsample2d
from official_format import conv2d_resample, official_filter

torch.manual_seed(0)


def direct(x: torch.Tensor, up: int, down: int, pad: tuple[int, int, int, int], gain: float) -> torch.Tensor:
    """Zeros between pixels, padding, one depthwise convolution with the whole 4x4 filter (flipped:
    a convolution), every ``down``-th pixel: upfirdn2d without any shortcut."""
    n, c, h, w = x.shape
    z = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
    z[:, :, ::up, ::up] = x
    f = (official_filter().to(x.dtype) * gain).flip([0, 1])
    out = F.conv2d(F.pad(z, list(pad)), f[None, None].repeat(c, 1, 1, 1), groups=c)
    return out[:, :, ::down, ::down]


def test_the_filter_is_the_normalised_binomial():
    f1 = setup_filter()
    assert torch.allclose(torch.outer(f1, f1), official_filter()) and float(torch.outer(f1, f1).sum()) == 1.0


@pytest.mark.parametrize("size", [4, 7, 16])
def test_upsampling_is_the_direct_convolution(size):
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    got = upsample2d(x, setup_filter().double())
    assert got.shape == (2, 3, 2 * size, 2 * size)
    torch.testing.assert_close(got, direct(x, 2, 1, (2, 1, 2, 1), 4.0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("size", [4, 8, 16])
def test_downsampling_is_the_direct_convolution(size):
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    got = downsample2d(x, setup_filter().double())
    assert got.shape == (2, 3, size // 2, size // 2)
    torch.testing.assert_close(got, direct(x, 1, 2, (1, 1, 1, 1), 1.0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("pad", [(0, 0, 0, 0), (3, 1, 2, 0), (2, 2, 1, 1)])
def test_upfirdn2d_is_the_direct_convolution_at_any_padding(pad):
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64)
    for up, down, gain in ((1, 1, 1.0), (2, 1, 4.0), (1, 2, 1.0), (2, 2, 2.0)):
        torch.testing.assert_close(upfirdn2d(x, setup_filter().double(), up, down, pad, gain),
                                   direct(x, up, down, pad, gain), rtol=0, atol=1e-12)


@pytest.mark.parametrize("groups", [1, 3])
def test_the_upsampling_conv_is_the_official_transposed_conv_then_filter(groups):
    x = torch.randn(3, 4 * groups, 5, 5, dtype=torch.float64)
    w = torch.randn(6 * groups, 4, 3, 3, dtype=torch.float64)
    f = official_filter().double()
    want = conv2d_resample(x, w, f, up=2, padding=1, groups=groups, flip_weight=False)  # as SynthesisLayer calls it
    got = conv2d_up(x, w, setup_filter().double(), groups=groups)
    assert got.shape == (3, 6 * groups, 10, 10)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("k", [1, 3])
def test_the_downsampling_conv_is_filter_then_stride_2(k):
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    w = torch.randn(5, 4, k, k, dtype=torch.float64)
    want = conv2d_resample(x, w, official_filter().double(), down=2, padding=k // 2)
    torch.testing.assert_close(conv2d_down(x, w, setup_filter().double()), want, rtol=0, atol=1e-10)


def test_resampling_is_differentiable_twice():
    f = setup_filter().double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    w_up = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    w_down = torch.randn(2, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda a, u, d: conv2d_down(conv2d_up(a, u, f), d, f), (x, w_up, w_down))
