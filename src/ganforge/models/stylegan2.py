"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), as
NVIDIA's stylegan2-ada-pytorch builds it, at any size from 8 to 1024 px.

Layer for layer the official network (its ``training/networks.py``: the 'skip' generator and
the 'resnet' or 'orig' discriminator), so that its parameter counts are the official ones and a
network trained with the official code computes the same images here (:mod:`ganforge.tools.official`
imports its pickles):

* **Widths**: the channels at resolution r are ``min(channel_base // r, channel_max)``
  (``--channel-base``, ``--channel-max``; the official configurations use 32768 or 16384 and
  512).
* **Mapping network**: z normalised to unit second moment (a class embedding beside it for a
  conditional G), then ``mapping_layers`` fully connected layers with leaky ReLU at 0.01 times
  the learning rate; ``w_avg`` follows w while training (the truncation trick's centre).
* **Synthesis network**: a learned 4x4 constant; per resolution a 3x3 modulated convolution
  that upsamples (transposed conv + [1, 3, 3, 1] FIR filter, :mod:`.resample`), a second one,
  and a toRGB layer whose output is added to the FIR-upsampled image of the blocks before.
  Modulation and demodulation (section 2.2): a style ``s = A(w)`` scales the input channels; each
  output channel's weights are divided by their norm. Noise with a learned strength after each
  conv: ``random`` (fresh per image), ``const`` (a stored map per layer: fixed grids) or ``none``.
* **Discriminator**: fromRGB, per resolution two 3x3 convs (the second FIR-filters, then strides
  by 2) beside a 1x1 skip without bias (FIR, stride 2), the sum scaled by sqrt(1/2) ('resnet'; the
  'orig' architecture has no skip); then the epilogue: mini-batch standard deviation over groups
  of ``mbstd_group`` images, a 3x3 conv, two fully connected layers; a conditional D projects the
  output onto a mapped class embedding.
* **Precision**: under the trainer's low-precision autocast, only the ``num_lowp_res`` highest
  resolutions run in low precision; the mapping network, the styles, the demodulation and the
  low resolutions stay in float32 (as the reference runs fp16). Every conv's activations are
  clamped to +-``conv_clamp`` (256 in the official configurations; None: no clamp). Every layer has an equalised learning rate (weights N(0, 1), scaled at
  run time by 1/sqrt(fan-in)).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Discriminator, Generator
from .layers import MinibatchStdDev
from .resample import conv2d_down, setup_filter, upsample2d
from .stylegan2_layers import (ACT_GAIN, MODCONV_DEFAULT, MODCONV_IMPLS, FullyConnected, bias_act, channels_at,  # noqa: F401 (re-exported)
                               lowp_dtype, modulated_conv2d, no_autocast, normalize_2nd_moment)

SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)
NOISE_MODES = ("random", "const", "none")


def resolutions(img_size: int) -> list[int]:
    """[4, 8, ..., img_size] for a power-of-two ``img_size`` in :data:`SIZES`."""
    if img_size not in SIZES:
        raise ValueError(f"StyleGAN2 makes sizes {SIZES}, not {img_size}")
    return [4 << i for i in range(int(math.log2(img_size)) - 1)]


# --------------------------------------------------------------------------- the generator
class MappingNetwork(nn.Module):
    """z (N, z_dim) [and a one-hot class c (N, c_dim)] -> w (N, w_dim)."""

    def __init__(self, z_dim: int, w_dim: int, num_layers: int, c_dim: int = 0, lr_mul: float = 0.01):
        super().__init__()
        self.z_dim, self.c_dim, self.num_layers = z_dim, c_dim, num_layers
        embed = w_dim if c_dim else 0
        if c_dim:
            self.embed = FullyConnected(c_dim, embed)
        dims = [z_dim + embed] + [w_dim] * num_layers
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnected(dims[i], dims[i + 1], act=True, lr_mul=lr_mul))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None) -> torch.Tensor:
        parts = [normalize_2nd_moment(z.float())] if self.z_dim else []
        if self.c_dim:
            parts.append(normalize_2nd_moment(self.embed(c.float())))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class SynthesisLayer(nn.Module):
    """A modulated 3x3 convolution (upsampling when ``up``), noise, bias and leaky ReLU.
    (N, C_in, R/up, R/up) -> (N, C_out, R, R)."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, res: int, up: bool = False,
                 conv_clamp: float | None = None):
        super().__init__()
        self.res, self.up, self.conv_clamp = res, up, conv_clamp
        self.affine = FullyConnected(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, 3, 3))
        self.register_buffer("noise_const", torch.randn(res, res))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.impl = MODCONV_DEFAULT

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: "NoiseSource", f1: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # (N, C_in) float32
        x = modulated_conv2d(x, self.weight, styles, up=self.up, f1=f1, impl=self.impl)
        n = noise.draw(self, x)
        if n is not None:
            x = x + (n * self.noise_strength).to(x.dtype)
        return bias_act(x, self.bias, True, 1.0, self.conv_clamp)


class ToRGB(nn.Module):
    """A modulated 1x1 convolution without demodulation, then a bias. (N, C, R, R) -> (N, img_channels, R, R)."""

    def __init__(self, c_in: int, img_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, c_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1.0 / math.sqrt(c_in)
        self.impl = MODCONV_DEFAULT

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, impl=self.impl)
        return bias_act(x, self.bias, False, 1.0, self.conv_clamp)


class NoiseSource:
    """The noise a synthesis pass adds: ``random`` (fresh per image; from one generator per image
    when ``seeds`` are given, so an image's noise does not depend on its batch), ``const`` (each
    layer's stored map) or ``none``."""

    def __init__(self, mode: str, seeds: torch.Tensor | None = None):
        if mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {NOISE_MODES}, not {mode!r}")
        self.mode = mode
        self.gens = None
        if mode == "random" and seeds is not None:
            self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds.reshape(-1).tolist()]

    def draw(self, layer: SynthesisLayer, x: torch.Tensor) -> torch.Tensor | None:
        if self.mode == "none":
            return None
        if self.mode == "const":
            return layer.noise_const.float()
        if self.gens is None:  # drawn in NCHW order, so a channels-last run draws the same noise
            return torch.randn(x.shape[0], 1, layer.res, layer.res, device=x.device)
        if len(self.gens) != x.shape[0]:
            raise ValueError(f"{len(self.gens)} noise seeds for a batch of {x.shape[0]} images")
        return torch.stack([torch.randn(1, layer.res, layer.res, generator=g) for g in self.gens]).to(x.device)


class SynthesisBlock(nn.Module):
    """One resolution of the 'skip' generator: (x, img) at R/2 -> (x, img) at R. The first block
    (4x4) starts from the learned constant and has one conv."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, res: int, img_channels: int, lowp: bool,
                 conv_clamp: float | None):
        super().__init__()
        self.res, self.lowp = res, lowp
        if c_in == 0:
            self.const = nn.Parameter(torch.randn(c_out, res, res))
        else:
            self.conv0 = SynthesisLayer(c_in, c_out, w_dim, res, up=True, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(c_out, c_out, w_dim, res, conv_clamp=conv_clamp)
        self.torgb = ToRGB(c_out, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if c_in == 0 else 2

    def forward(self, x, img, ws: torch.Tensor, noise: NoiseSource, f1: torch.Tensor, dtype: torch.dtype):
        if self.num_conv == 1:
            x = self.const.to(dtype)[None].expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0], noise, f1)
        else:
            x = self.conv0(x.to(dtype), ws[:, 0], noise, f1)
            x = self.conv1(x, ws[:, 1], noise, f1)
        if img is not None:
            img = upsample2d(img, f1)
        y = self.torgb(x, ws[:, self.num_conv]).float()  # (N, C, R, R); the image sum stays in float32
        return x, (img + y if img is not None else y)


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images (N, img_channels, img_size, img_size), linear output.

    Block b (resolution 4 * 2^b) reads ws ``[2b - 1, 2b]`` for its convs (block 0: ``[0]``) and
    ``2b + 1`` for its toRGB, which the next block's first conv reads too: ``num_ws = 2 * blocks``.
    """

    def __init__(self, w_dim: int, img_channels: int, img_size: int, channel_base: int, channel_max: int,
                 num_lowp_res: int = 4, conv_clamp: float | None = 256.0):
        super().__init__()
        self.resolutions = resolutions(img_size)
        ch = {r: channels_at(r, channel_base, channel_max) for r in self.resolutions}
        lowp_from = max(img_size * 2 >> num_lowp_res, 8) if num_lowp_res else img_size * 2
        self.register_buffer("f1", setup_filter(), persistent=False)
        for r in self.resolutions:
            setattr(self, f"b{r}", SynthesisBlock(ch[r // 2] if r > 4 else 0, ch[r], w_dim, r, img_channels,
                                                  lowp=r >= lowp_from, conv_clamp=conv_clamp))
        self.num_ws = 2 * len(self.resolutions)

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{r}") for r in self.resolutions]

    def forward(self, ws: torch.Tensor, noise: NoiseSource) -> torch.Tensor:
        lowp = lowp_dtype(ws.device)
        x = img = None
        with no_autocast(ws.device):
            ws = ws.float()
            i = 0
            for block in self.blocks():
                dtype = lowp if lowp is not None and block.lowp else torch.float32
                x, img = block(x, img, ws[:, i:i + block.num_conv + 1], noise, self.f1, dtype)
                i += block.num_conv
        return img


class StyleGAN2Generator(Generator):
    """z (N, z_dim) [and class labels y (N,)] -> images (N, C, img_size, img_size), linear output.

    w_dim: size of w; mapping_layers: depth of the mapping network; channel_base, channel_max:
    the widths (:func:`channels_at`); num_lowp_res, conv_clamp: the precision policy (module
    docstring); num_classes: a class-conditional G when > 0; w_avg_beta: decay of w's running
    mean.

    For the latent tools: :meth:`mapping` (z -> w), :meth:`synthesis` (ws or w -> images),
    :meth:`truncate` (toward ``w_avg``), :attr:`num_ws`, :meth:`layer_groups` and
    :meth:`style_layers`.
    """

    def __init__(self, z_dim: int, img_channels: int, img_size: int, w_dim: int = 512, mapping_layers: int = 8,
                 channel_base: int = 32768, channel_max: int = 512, num_classes: int = 0, num_lowp_res: int = 4,
                 conv_clamp: float | None = 256.0, w_avg_beta: float = 0.995):
        super().__init__(z_dim, img_channels, img_size, output="linear")
        self.num_classes = num_classes  # (the base's embedding is not used: the mapping network embeds)
        self.w_dim, self.w_avg_beta = w_dim, w_avg_beta
        self.syn = SynthesisNetwork(w_dim, img_channels, img_size, channel_base, channel_max, num_lowp_res,
                                    conv_clamp)
        self.map = MappingNetwork(z_dim, w_dim, mapping_layers, c_dim=num_classes)
        self.num_ws = self.syn.num_ws
        self.register_buffer("w_avg", torch.zeros(w_dim))
        # the path-length regulariser's running mean of |J^T y| (kept here so checkpoints carry it)
        self.register_buffer("pl_mean", torch.zeros([]))

    def _c(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor | None:
        if not self.num_classes:
            if y is not None:
                raise ValueError(f"{type(self).__name__} is unconditional: call it without class labels")
            return None
        if y is None or y.shape != (z.shape[0],):
            raise ValueError(f"{type(self).__name__} is class-conditional: give labels y of shape ({z.shape[0]},)")
        return F.one_hot(y.long(), self.num_classes).float()

    def mapping(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (N, z_dim) [and labels y (N,)] -> w (N, w_dim), float32."""
        if z.dim() != 2 or z.shape[1] != self.z_dim or not z.is_floating_point():
            raise ValueError(f"{type(self).__name__} expects float noise of shape (N, {self.z_dim}), "
                             f"got {z.dtype} {tuple(z.shape)}")
        c = self._c(z, y)
        with no_autocast(z.device):
            return self.map(z, c)

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """w (N, w_dim) -> ws (N, num_ws, w_dim); ws are returned as they are."""
        return w[:, None].expand(-1, self.num_ws, -1) if w.dim() == 2 else w

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "random",
                  noise_seeds: torch.Tensor | None = None) -> torch.Tensor:
        """Images of ``ws`` (N, num_ws, w_dim), or of one ``w`` (N, w_dim) for every layer.
        noise_mode: random, const or none; noise_seeds: one per image, for random noise that
        does not depend on the batch (see :class:`NoiseSource`)."""
        ws = self.broadcast(ws)
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"{type(self).__name__}.synthesis expects ws of shape (N, {self.num_ws}, {self.w_dim}) "
                             f"or (N, {self.w_dim}), got {tuple(ws.shape)}")
        return self.syn(ws, NoiseSource(noise_mode, noise_seeds))

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

    def style_layers(self) -> list[tuple[int, nn.Module]]:
        """``(ws index, layer)`` of every layer with a style affine (``layer.affine``), in ws order:
        the convs, then each block's toRGB at the index it reads."""
        out, i = [], 0
        for block in self.syn.blocks():
            convs = [block.conv1] if block.num_conv == 1 else [block.conv0, block.conv1]
            out += [(i + k, conv) for k, conv in enumerate(convs)]
            out.append((i + block.num_conv, block.torgb))
            i += block.num_conv
        return sorted(out, key=lambda t: t[0])

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, mixing_prob: float = 0.0,
                noise_mode: str = "random", noise_seeds: torch.Tensor | None = None) -> torch.Tensor:
        """Images of latents ``z``; in train mode w's running mean moves toward this batch's.
        mixing_prob: the style-mixing regularisation's probability (training asks for it)."""
        w = self.mapping(z, y)
        if self.training:
            self.track_w_avg(w)
        ws = self.broadcast(w)
        if mixing_prob > 0 and self.num_ws > 1:
            ws = self.mix_styles(z, ws, mixing_prob, y)
        return self.synthesis(ws, noise_mode, noise_seeds)  # (N, C, img_size, img_size)

    @torch.no_grad()
    def track_w_avg(self, w: torch.Tensor) -> None:
        """Move w's running mean (where truncation pulls toward) toward this batch's mean."""
        self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))

    def mix_styles(self, z: torch.Tensor, ws: torch.Tensor, prob: float, y: torch.Tensor | None = None) -> torch.Tensor:
        """Style-mixing regularisation: with probability ``prob`` the batch takes a second
        latent's w from a random layer on (one crossover for the whole batch). The crossover,
        the coin and the second latent are drawn every time, in that order, mixed or not."""
        cutoff = int(torch.randint(1, self.num_ws, ()))
        if float(torch.rand(())) >= prob:
            cutoff = self.num_ws
        w2 = self.mapping(torch.randn_like(z), y)
        if cutoff == self.num_ws:
            return ws
        layer = torch.arange(self.num_ws, device=ws.device)[None, :, None]
        return torch.where(layer < cutoff, ws, self.broadcast(w2))

    def set_modconv(self, impl: str) -> None:
        """Run every modulated conv as ``impl`` (see :func:`modulated_conv2d`)."""
        if impl not in MODCONV_IMPLS:
            raise ValueError(f"modconv impl must be one of {MODCONV_IMPLS}, not {impl!r}")
        for m in self.modules():
            if isinstance(m, (SynthesisLayer, ToRGB)):
                m.impl = impl


# --------------------------------------------------------------------------- the discriminator
class Conv2dLayer(nn.Module):
    """A k x k convolution (to half the resolution when ``down``), bias, leaky ReLU (``act``),
    equalised learning rate. ``gain`` scales the output (the residual path's sqrt(1/2))."""

    def __init__(self, c_in: int, c_out: int, kernel: int, bias: bool = True, act: bool = True, down: bool = False,
                 conv_clamp: float | None = None):
        super().__init__()
        self.act, self.down, self.conv_clamp = act, down, conv_clamp
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(c_in * kernel * kernel)

    def forward(self, x: torch.Tensor, f1: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        x = conv2d_down(x, w, f1) if self.down else F.conv2d(x, w, padding=w.shape[-1] // 2)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        bias = self.bias if self.bias is not None else torch.zeros(x.shape[1], device=x.device)
        return bias_act(x, bias, self.act, gain, clamp)


class DiscriminatorBlock(nn.Module):
    """One resolution of D: (N, C, R, R) -> (N, C', R/2, R/2); the first block (the image's own
    resolution) reads the image through fromRGB."""

    def __init__(self, c_in: int, c_tmp: int, c_out: int, img_channels: int, architecture: str, lowp: bool,
                 conv_clamp: float | None):
        super().__init__()
        self.lowp, self.architecture = lowp, architecture
        if c_in == 0:
            self.fromrgb = Conv2dLayer(img_channels, c_tmp, 1, conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(c_tmp, c_tmp, 3, conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(c_tmp, c_out, 3, down=True, conv_clamp=conv_clamp)
        if architecture == "resnet":
            self.skip = Conv2dLayer(c_tmp, c_out, 1, bias=False, act=False, down=True)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor, f1: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if x is None:
            x = self.fromrgb(img.to(dtype), f1)
        x = x.to(dtype)
        if self.architecture == "resnet":
            y = self.skip(x, f1, gain=math.sqrt(0.5))
            return y + self.conv1(self.conv0(x, f1), f1, gain=math.sqrt(0.5))
        return self.conv1(self.conv0(x, f1), f1)


class DiscriminatorEpilogue(nn.Module):
    """4x4 features -> logits (N,): mini-batch standard deviation, a 3x3 conv, two fully
    connected layers; with ``cmap_dim``, the output's projection onto the mapped class."""

    def __init__(self, c_in: int, cmap_dim: int, mbstd_group: int, conv_clamp: float | None):
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.conv = Conv2dLayer(c_in + 1, c_in, 3, conv_clamp=conv_clamp)
        self.fc = FullyConnected(c_in * 16, c_in, act=True)
        self.out = FullyConnected(c_in, cmap_dim or 1)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None, f1: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.mbstd(x.float()), f1)
        x = self.out(self.fc(x.flatten(1)))
        if self.cmap_dim:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class StyleGAN2Discriminator(Discriminator):
    """images (N, C, img_size, img_size) [and class labels y (N,)] -> logits (N,).

    architecture: "resnet" (the residual D) or "orig" (no skip: the official 'cifar' set-up);
    mbstd_group: images per mini-batch standard-deviation group; the rest as for the generator.
    """

    def __init__(self, img_channels: int, img_size: int, channel_base: int = 32768, channel_max: int = 512,
                 num_classes: int = 0, architecture: str = "resnet", mbstd_group: int = 4, num_lowp_res: int = 4,
                 conv_clamp: float | None = 256.0, mapping_layers: int = 8):
        super().__init__(img_channels, img_size)
        if architecture not in ("resnet", "orig"):
            raise ValueError(f"architecture must be resnet or orig, not {architecture!r}")
        self.num_classes = num_classes
        self.block_res = [r for r in reversed(resolutions(img_size)) if r > 4]
        ch = {r: channels_at(r, channel_base, channel_max) for r in [*self.block_res, 4]}
        lowp_from = max(img_size * 2 >> num_lowp_res, 8) if num_lowp_res else img_size * 2
        self.register_buffer("f1", setup_filter(), persistent=False)
        for r in self.block_res:
            setattr(self, f"b{r}", DiscriminatorBlock(0 if r == img_size else ch[r], ch[r], ch[r // 2], img_channels,
                                                      architecture, lowp=r >= lowp_from, conv_clamp=conv_clamp))
        cmap_dim = ch[4] if num_classes else 0
        if num_classes:
            self.mapping = MappingNetwork(0, cmap_dim, mapping_layers, c_dim=num_classes)
        self.b4 = DiscriminatorEpilogue(ch[4], cmap_dim, mbstd_group, conv_clamp)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        lowp = lowp_dtype(x.device)
        with no_autocast(x.device):
            h = None
            for r in self.block_res:
                block = getattr(self, f"b{r}")
                h = block(h, x, self.f1, lowp if lowp is not None and block.lowp else torch.float32)
            cmap = None
            if self.num_classes:
                if y is None or y.shape != (x.shape[0],):
                    raise ValueError(f"{type(self).__name__} is class-conditional: give labels y of shape "
                                     f"({x.shape[0]},)")
                cmap = self.mapping(None, F.one_hot(y.long(), self.num_classes).float())
            elif y is not None:
                raise ValueError(f"{type(self).__name__} is unconditional: call it without class labels")
            return self.b4(h, cmap, self.f1).reshape(x.shape[0]).float()  # (N,)
