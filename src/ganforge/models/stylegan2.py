"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), at
the sizes a CPU trains (32 and 64 px), with the small-data set-up of the ADA paper.

The generator is two networks (seed 004): a **mapping network** turns a normalised latent
``z`` into an intermediate latent ``w`` (fully connected layers with a 0.01 learning-rate
multiplier); the **synthesis network** starts from a learned 4x4 constant and, at each
resolution, applies two *modulated* 3x3 convolutions and a toRGB layer whose outputs are
summed over the resolutions (the "skip" generator). Each of those layers reads its own copy of
``w`` - ``ws`` of shape ``(N, num_ws, w_dim)`` - which is what makes style mixing possible.

* Modulation and demodulation (section 2.2): a style ``s = A(w)`` scales the conv's input
  channels; each output channel's weights are then divided by their norm, so unit-variance
  inputs give unit-variance outputs whatever the style (:func:`modulated_conv2d`).
* Per-pixel noise with a learned strength per layer, added after each conv; random while
  training, a fixed map per layer in eval mode (so a seed always gives the same image).
* ``w_avg``: a running mean of ``w`` kept while training, the centre of the truncation trick
  in W (:meth:`StyleGAN2Generator.truncate`).
* Style-mixing regularisation: ``G(z, mixing_prob=p)`` - with probability ``p`` the batch takes
  a second latent's ``w`` from a random layer on (what training asks for; sampling never mixes).

The discriminator is the residual one, with a mini-batch standard-deviation layer before its
last block. Every layer has an equalised learning rate. Resampling is bilinear (up) and 2x2
average (down) where the paper uses a [1, 3, 3, 1] FIR filter: cheaper on a CPU, and at 32-64 px
the difference is below what a CPU budget resolves.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Discriminator, Generator
from .layers import MinibatchStdDev
from .layers_eq import EqualizedConv2d, EqualizedLinear
from .progan import channels_at

SIZES = (8, 16, 32, 64, 128, 256)
ACT_GAIN = math.sqrt(2.0)  # leaky ReLU 0.2 followed by sqrt(2): unit second moment in, unit out
MODCONV_IMPLS = ("grouped", "scaled", "bmm")
MODCONV_DEFAULT = "scaled"  # the fastest here: benchmarks/stylegan_speed.py (docs/stylegan2.md)


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * ACT_GAIN


def resolutions(img_size: int) -> list[int]:
    """[4, 8, ..., img_size] for a power-of-two ``img_size`` in :data:`SIZES`."""
    if img_size not in SIZES:
        raise ValueError(f"StyleGAN2 makes sizes {SIZES}, not {img_size}")
    return [4 << i for i in range(int(math.log2(img_size)) - 1)]


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     impl: str = MODCONV_DEFAULT) -> torch.Tensor:
    """A stride-1 'same' convolution whose weights are scaled per sample by ``styles``.

    x: (N, C_in, H, W); weight: (C_out, C_in, k, k), already multiplied by its runtime scale;
    styles: (N, C_in). Returns (N, C_out, H, W). With ``demodulate`` each sample's output
    channel is divided by ``sqrt(sum_{i,k} (s_i w_{o,i,k})^2 + 1e-8)``.

    impl: three forms of the same function -
      * "grouped": build the N per-sample weights and run one grouped convolution (groups=N);
      * "scaled": scale the input channels by the styles, run the shared convolution, scale the
        output channels by the demodulation coefficients (no per-sample weights at all);
      * "bmm": per-sample weights times the unfolded input (im2col), one batched matmul.
    """
    n, c_in, h, w_ = x.shape
    c_out, _, k, _ = weight.shape
    pad = k // 2
    if impl == "scaled":
        out = F.conv2d(x * styles.to(x.dtype)[:, :, None, None], weight.to(x.dtype), padding=pad)
        if demodulate:  # sum_{i,k} s_i^2 w_{o,i,k}^2 = (s^2) @ (sum_k w^2).T
            d = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)  # (N, C_out)
            out = out * d.to(out.dtype)[:, :, None, None]
        return out
    wt = weight[None] * styles[:, None, :, None, None]  # (N, C_out, C_in, k, k)
    if demodulate:
        wt = wt * torch.rsqrt(wt.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
    wt = wt.to(x.dtype)
    if impl == "grouped":
        out = F.conv2d(x.reshape(1, n * c_in, h, w_), wt.reshape(n * c_out, c_in, k, k), padding=pad, groups=n)
        return out.reshape(n, c_out, h, w_)
    if impl == "bmm":
        cols = F.unfold(x, k, padding=pad) if k > 1 else x.reshape(n, c_in, h * w_)  # (N, C_in*k*k, H*W)
        return torch.bmm(wt.reshape(n, c_out, c_in * k * k), cols).reshape(n, c_out, h, w_)
    raise ValueError(f"modulated_conv2d: impl must be one of {MODCONV_IMPLS}, not {impl!r}")


class MappingNetwork(nn.Module):
    """z (N, z_dim) -> w (N, w_dim): normalise z to unit second moment, then ``num_layers`` fully
    connected layers with leaky ReLU, every one at ``lr_mul`` times the learning rate."""

    def __init__(self, z_dim: int, w_dim: int, num_layers: int, lr_mul: float = 0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(EqualizedLinear(a, b, gain=1.0, lr_mul=lr_mul) for a, b in zip(dims, dims[1:]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for fc in self.layers:
            x = _act(fc(x))
        return x


class ModulatedLayer(nn.Module):
    """One style-modulated convolution: ``A(w)`` styles (bias initialised to 1, so styles start
    near 1), the modulated conv, then (for a 3x3 synthesis layer) noise, bias and activation;
    a toRGB layer (1x1, ``demodulate=False``) adds only its bias. (N, C_in, R, R) -> (N, C_out, R, R)."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, res: int, kernel: int = 3, demodulate: bool = True,
                 upsample: bool = False, noise: bool = True, activate: bool = True):
        super().__init__()
        self.upsample, self.demodulate, self.activate, self.res = upsample, demodulate, activate, res
        self.affine = EqualizedLinear(w_dim, c_in, gain=1.0, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.scale = 1.0 / math.sqrt(c_in * kernel * kernel)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.impl = MODCONV_DEFAULT
        if noise:
            self.noise_strength = nn.Parameter(torch.zeros([]))
            self.register_buffer("noise_const", torch.randn(res, res))
        else:
            self.noise_strength = None

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = modulated_conv2d(x, self.weight * self.scale, self.affine(w), self.demodulate, self.impl)
        if self.noise_strength is not None:
            if self.training:  # fresh noise per image and pixel while training
                noise = torch.randn(x.shape[0], 1, self.res, self.res, device=x.device, dtype=x.dtype)
            else:  # a fixed map: the same latent always gives the same image
                noise = self.noise_const.to(x.dtype)
            x = x + noise * self.noise_strength.to(x.dtype)
        x = x + self.bias.to(x.dtype)[None, :, None, None]
        return _act(x) if self.activate else x


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images (N, C, img_size, img_size), linear output.

    Block b works at resolution ``4 * 2^b``: block 0 is the learned constant and one conv;
    each later block upsamples and runs two convs. Every block's toRGB output is added to the
    upsampled image of the blocks before it. ``ws`` index: block b's first conv reads
    ``ws[2b - 1]``, its second ``ws[2b]``, its toRGB ``ws[2b + 1]`` (so ``num_ws = 2 * blocks``).
    """

    def __init__(self, w_dim: int, img_channels: int, img_size: int, base_channels: int):
        super().__init__()
        self.resolutions = resolutions(img_size)
        ch = [channels_at(base_channels, r) for r in self.resolutions]
        self.num_ws = 2 * len(ch)
        self.const = nn.Parameter(torch.randn(ch[0], 4, 4))
        self.convs = nn.ModuleList()  # in the order they read ws: index i reads ws[i]
        self.to_rgb = nn.ModuleList()
        for b, (r, c) in enumerate(zip(self.resolutions, ch)):
            if b > 0:
                self.convs.append(ModulatedLayer(ch[b - 1], c, w_dim, r, upsample=True))
            self.convs.append(ModulatedLayer(c, c, w_dim, r))
            self.to_rgb.append(ModulatedLayer(c, img_channels, w_dim, r, kernel=1, demodulate=False, noise=False,
                                              activate=False))

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        x = self.const[None].expand(ws.shape[0], -1, -1, -1).to(ws.dtype)
        x = self.convs[0](x, ws[:, 0])
        img = self.to_rgb[0](x, ws[:, 1])
        for b in range(1, len(self.resolutions)):
            x = self.convs[2 * b - 1](x, ws[:, 2 * b - 1])
            x = self.convs[2 * b](x, ws[:, 2 * b])
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
            img = img + self.to_rgb[b](x, ws[:, 2 * b + 1])
        return img


class StyleGAN2Generator(Generator):
    """z (N, z_dim) -> images (N, C, img_size, img_size), linear output (data in [-1, 1]).

    w_dim: size of w; mapping_layers: depth of the mapping network; base_channels: feature
    maps at 4x4 and 8x8 (halved at each later doubling, as in ProGAN); w_avg_beta: decay of the
    running mean of w.

    For the latent tools: :meth:`mapping` (z -> w), :meth:`synthesis` (ws or w -> images),
    :meth:`truncate` (toward ``w_avg``), :attr:`num_ws` and :meth:`layer_groups`.
    """

    def __init__(self, z_dim: int, img_channels: int, img_size: int, w_dim: int = 256, mapping_layers: int = 4,
                 base_channels: int = 128, w_avg_beta: float = 0.995):
        super().__init__(z_dim, img_channels, img_size, output="linear")
        self.w_dim, self.w_avg_beta = w_dim, w_avg_beta
        self.map = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.syn = SynthesisNetwork(w_dim, img_channels, img_size, base_channels)
        self.num_ws = self.syn.num_ws
        self.register_buffer("w_avg", torch.zeros(w_dim))
        # the path-length regulariser's running mean of |J^T y| (kept here so checkpoints carry it)
        self.register_buffer("pl_mean", torch.zeros([]))

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, z_dim) -> w (N, w_dim)."""
        if z.dim() != 2 or z.shape[1] != self.z_dim or not z.is_floating_point():
            raise ValueError(f"{type(self).__name__} expects float noise of shape (N, {self.z_dim}), "
                             f"got {z.dtype} {tuple(z.shape)}")
        return self.map(z)

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """w (N, w_dim) -> ws (N, num_ws, w_dim); ws are returned as they are."""
        return w[:, None].expand(-1, self.num_ws, -1) if w.dim() == 2 else w

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """Images of ``ws`` (N, num_ws, w_dim), or of one ``w`` (N, w_dim) for every layer."""
        ws = self.broadcast(ws)
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"{type(self).__name__}.synthesis expects ws of shape (N, {self.num_ws}, {self.w_dim}) "
                             f"or (N, {self.w_dim}), got {tuple(ws.shape)}")
        return self.syn(ws)

    def truncate(self, w: torch.Tensor, psi: float | None) -> torch.Tensor:
        """The truncation trick in W: ``w_avg + psi (w - w_avg)``; psi 1 (or None) returns w."""
        if psi is None or psi == 1:
            return w
        avg = self.w_avg.to(w.dtype)
        return avg.expand_as(w).clone() if psi == 0 else avg + psi * (w - avg)

    def layer_groups(self) -> dict[str, tuple[int, int]]:
        """The ws index ranges ``[start, stop)`` of the "coarse" (4-8 px), "middle" and "fine"
        layers (64 px and up; for a G of 32 px or less, its last resolution). The three tile
        ``[0, num_ws)`` in order; at 8 px, where 8 px is the last resolution, those layers are fine."""
        res_of = [self.syn.resolutions[i // 2] for i in range(self.num_ws)]
        top = self.img_size
        fine_from = 64 if top > 32 else top
        fine = sum(r >= fine_from for r in res_of)
        coarse = min(sum(r <= 8 for r in res_of), self.num_ws - fine)
        return {"coarse": (0, coarse), "middle": (coarse, self.num_ws - fine), "fine": (self.num_ws - fine, self.num_ws)}

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, mixing_prob: float = 0.0) -> torch.Tensor:
        """Images of latents ``z``; in train mode w's running mean moves toward this batch's.
        mixing_prob: the style-mixing regularisation's probability (training asks for it)."""
        self._with_class(z, y)  # (unconditional: refuses labels)
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():  # running mean of w: where truncation pulls toward
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        ws = self.broadcast(w)
        if mixing_prob > 0 and self.num_ws > 1:
            ws = self.mix_styles(z, ws, mixing_prob)
        return self.syn(ws)  # (N, C, img_size, img_size)

    def mix_styles(self, z: torch.Tensor, ws: torch.Tensor, prob: float) -> torch.Tensor:
        """Style-mixing regularisation: with probability ``prob`` the batch takes a second
        latent's w from a random layer on (one crossover for the whole batch). The crossover,
        the coin and the second latent are drawn every time, in that order, mixed or not."""
        cutoff = int(torch.randint(1, self.num_ws, ()))
        if float(torch.rand(())) >= prob:
            cutoff = self.num_ws
        w2 = self.mapping(torch.randn_like(z))
        if cutoff == self.num_ws:
            return ws
        layer = torch.arange(self.num_ws, device=ws.device)[None, :, None]
        return torch.where(layer < cutoff, ws, self.broadcast(w2))

    def set_modconv(self, impl: str) -> None:
        """Run every modulated conv as ``impl`` (see :func:`modulated_conv2d`)."""
        if impl not in MODCONV_IMPLS:
            raise ValueError(f"modconv impl must be one of {MODCONV_IMPLS}, not {impl!r}")
        for m in self.modules():
            if isinstance(m, ModulatedLayer):
                m.impl = impl


class _DBlock(nn.Module):
    """Residual D block: two 3x3 convs then 2x2 average down, beside a downsampled 1x1 skip;
    the sum is scaled by sqrt(1/2). (N, C_in, R, R) -> (N, C_out, R/2, R/2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv0 = EqualizedConv2d(c_in, c_in, 3, gain=1.0)
        self.conv1 = EqualizedConv2d(c_in, c_out, 3, gain=1.0)
        self.skip = EqualizedConv2d(c_in, c_out, 1, gain=1.0)  # (with a bias, zero at the start, the paper's has none)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        x = F.avg_pool2d(_act(self.conv1(_act(self.conv0(x)))), 2)
        return (skip + x) * math.sqrt(0.5)


class StyleGAN2Discriminator(Discriminator):
    """images (N, C, img_size, img_size) -> logits (N,): fromRGB, residual blocks down to 4x4,
    mini-batch std-dev, a 3x3 conv and two dense layers. base_channels as for the generator."""

    def __init__(self, img_channels: int, img_size: int, base_channels: int = 128, group_size: int = 4):
        super().__init__(img_channels, img_size)
        res = resolutions(img_size)
        ch = [channels_at(base_channels, r) for r in res]
        self.from_rgb = EqualizedConv2d(img_channels, ch[-1], 1, gain=1.0)
        self.blocks = nn.Sequential(*(_DBlock(ch[i], ch[i - 1]) for i in range(len(ch) - 1, 0, -1)))
        self.mbstd = MinibatchStdDev(group_size)
        self.conv = EqualizedConv2d(ch[0] + 1, ch[0], 3, gain=1.0)
        self.fc = EqualizedLinear(ch[0] * 16, ch[0], gain=1.0)
        self.out = EqualizedLinear(ch[0], 1, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        h = self.blocks(_act(self.from_rgb(x)))  # (N, ch[0], 4, 4)
        h = _act(self.conv(self.mbstd(h)))
        h = _act(self.fc(h.flatten(1)))
        return self.out(h).reshape(x.shape[0]).float()  # (N,)
