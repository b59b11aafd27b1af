"""Progressive growing of GANs (Karras et al. 2018, "Progressive Growing of GANs for Improved
Quality, Stability, and Variation").

G and D start at 4x4 and grow by doubling to the final size. Every block exists from the start
(so the optimizers hold every parameter and a checkpoint always has the same keys); the
*stage* says how many of them are used, and *alpha* fades the newest one in (section 3):

* G: ``lerp(upsample(toRGB_prev(h_prev)), toRGB_new(block_new(upsample(h_prev))), alpha)``;
* D: ``lerp(fromRGB_prev(downsample(x)), block_new(fromRGB_new(x)), alpha)``.

Stage and alpha are module buffers, so checkpoints carry them and a resumed run continues the
fade exactly; :mod:`ganforge.train.families.progan` moves them as images are shown. G always
returns images of the *final* size (the stage's image upsampled, nearest neighbour) and D
always takes them (averaged down to the stage's size first), so sampling, grids, metrics and
export never need to know the stage.

Layers (section 4): equalised learning rate everywhere, pixelwise feature normalisation after
every G conv, mini-batch standard deviation before D's last block, leaky ReLU 0.2, linear
outputs (data in [-1, 1]).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Discriminator, Generator
from .layers import MinibatchStdDev
from .layers_eq import HE_GAIN, EqualizedConv2d, EqualizedLinear, PixelNorm

START_SIZE = 4
SIZES = (8, 16, 32, 64, 128, 256)  # final sizes the family builds


def resolutions(img_size: int) -> list[int]:
    """The stages' sizes from 4x4 up to ``img_size`` (a power of two >= 8): [4, 8, ..., img_size]."""
    if img_size not in SIZES:
        raise ValueError(f"progressive growing makes sizes {SIZES}, not {img_size}")
    return [START_SIZE << i for i in range(int(math.log2(img_size // START_SIZE)) + 1)]


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at resolution ``res``: ``min(channel_base // res, channel_max)``, the paper's rule
    (its official code: 512 maps up to 32x32, halving after, i.e. channel_base 16384)."""
    return max(1, min(channel_base // res, channel_max))


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def _up(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


class _Growing:
    """Stage/alpha buffers with Python copies the forward pass branches on (so tracing and
    torch.export see plain control flow); the copies follow the buffers on load."""

    def _init_growth(self) -> None:
        self.register_buffer("stage", torch.tensor(0, dtype=torch.int64))
        self.register_buffer("alpha", torch.tensor(1.0))
        self._sync_growth()
        self.register_load_state_dict_post_hook(lambda module, keys: module._sync_growth())

    def _sync_growth(self) -> None:
        self._stage = int(self.stage)
        self._fading = self._stage > 0 and float(self.alpha) < 1.0

    def set_stage(self, stage: int, alpha: float) -> None:
        """Use the blocks up to ``stage`` (0: 4x4), the newest faded in by ``alpha`` in [0, 1]."""
        if not 0 <= stage < len(self.resolutions) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"stage must be in [0, {len(self.resolutions) - 1}] and alpha in [0, 1], "
                             f"got {stage}, {alpha}")
        self.stage.fill_(stage)
        self.alpha.fill_(alpha)
        self._sync_growth()

    @property
    def stage_index(self) -> int:
        """The current stage (0: 4x4)."""
        return self._stage

    @property
    def fading(self) -> bool:
        """Whether the newest block is still fading in (alpha < 1 past the first stage)."""
        return self._fading

    @property
    def stage_size(self) -> int:
        """Side of the current stage's images (4, 8, ...)."""
        return self.resolutions[self._stage]


class ProGANGenerator(_Growing, Generator):
    """z (N, z_dim) -> images (N, C, img_size, img_size), linear output.

    channel_base, channel_max: the widths (:func:`channels_at`).
    """

    def __init__(self, z_dim: int, img_channels: int, img_size: int, channel_base: int = 16384,
                 channel_max: int = 512):
        super().__init__(z_dim, img_channels, img_size, output="linear")
        self.resolutions = resolutions(img_size)
        ch = [channels_at(r, channel_base, channel_max) for r in self.resolutions]
        self.pixel_norm = PixelNorm()
        # The official code's 4x4 dense layer uses gain sqrt(2)/4: its 16 outputs per map are one conv's worth.
        self.dense = EqualizedLinear(z_dim, ch[0] * 16, gain=HE_GAIN / 4)
        self.blocks = nn.ModuleList([self._block(ch[0], ch[0], convs=1)])
        self.blocks.extend(self._block(ch[i - 1], ch[i], convs=2) for i in range(1, len(ch)))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, img_channels, 1, gain=1.0) for c in ch)
        self._init_growth()
        # real images shown to D so far: what the growth schedule reads (kept here, so checkpoints carry it)
        self.register_buffer("images_seen", torch.tensor(0, dtype=torch.int64))

    @staticmethod
    def _block(c_in: int, c_out: int, convs: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i in range(convs):
            layers += [EqualizedConv2d(c_in if i == 0 else c_out, c_out, 3), nn.LeakyReLU(0.2), PixelNorm()]
        return nn.Sequential(*layers)

    def features(self, z: torch.Tensor, stage: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Feature maps of block ``stage`` and of the block before it (None at stage 0)."""
        x = self.pixel_norm(z)
        x = self.pixel_norm(_lrelu(self.dense(x)).reshape(z.shape[0], -1, START_SIZE, START_SIZE))
        x = self.blocks[0](x)  # (N, ch[0], 4, 4)
        prev = None
        for i in range(1, stage + 1):
            prev = x
            x = self.blocks[i](_up(prev))  # (N, ch[i], 4 * 2^i, 4 * 2^i)
        return x, prev

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim or not z.is_floating_point():
            raise ValueError(f"{type(self).__name__} expects float noise of shape (N, {self.z_dim}), "
                             f"got {z.dtype} {tuple(z.shape)}")
        stage = self._stage
        x, prev = self.features(self._with_class(z, y), stage)
        img = self.to_rgb[stage](x)
        if self._fading:  # the new block fades in over the upsampled image of the one before
            old = _up(self.to_rgb[stage - 1](prev))
            img = old + (img - old) * self.alpha.to(img.dtype)
        return _up(img, self.img_size // self.resolutions[stage])  # (N, C, img_size, img_size)


class ProGANDiscriminator(_Growing, Discriminator):
    """images (N, C, img_size, img_size) -> logits (N,); the images are averaged down to the
    current stage's size first. Widths as for the generator; group_size: images per mini-batch
    standard-deviation group."""

    def __init__(self, img_channels: int, img_size: int, channel_base: int = 16384, channel_max: int = 512,
                 group_size: int = 4):
        super().__init__(img_channels, img_size)
        self.resolutions = resolutions(img_size)
        ch = [channels_at(r, channel_base, channel_max) for r in self.resolutions]
        self.from_rgb = nn.ModuleList(EqualizedConv2d(img_channels, c, 1) for c in ch)
        # blocks[i] (i >= 1) takes res_i maps of ch[i] to res_{i-1} maps of ch[i-1]
        self.blocks = nn.ModuleList([nn.Identity()])
        self.blocks.extend(nn.Sequential(EqualizedConv2d(ch[i], ch[i], 3), nn.LeakyReLU(0.2),
                                         EqualizedConv2d(ch[i], ch[i - 1], 3), nn.LeakyReLU(0.2), nn.AvgPool2d(2))
                           for i in range(1, len(ch)))
        self.final = nn.Sequential(MinibatchStdDev(group_size), EqualizedConv2d(ch[0] + 1, ch[0], 3), nn.LeakyReLU(0.2),
                                   nn.Flatten(), EqualizedLinear(ch[0] * 16, ch[0]), nn.LeakyReLU(0.2),
                                   EqualizedLinear(ch[0], 1, gain=1.0))
        self._init_growth()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        stage = self._stage
        factor = self.img_size // self.resolutions[stage]
        xs = F.avg_pool2d(x, factor) if factor > 1 else x  # (N, C, res, res)
        h = _lrelu(self.from_rgb[stage](xs))
        if stage > 0:
            h = self.blocks[stage](h)
            if self._fading:  # the new block fades in over the downsampled image's old path
                skip = _lrelu(self.from_rgb[stage - 1](F.avg_pool2d(xs, 2)))
                h = skip + (h - skip) * self.alpha.to(h.dtype)
        for i in range(stage - 1, 0, -1):
            h = self.blocks[i](h)
        return self.final(h).reshape(x.shape[0]).float()  # (N,)
