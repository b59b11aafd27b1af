"""The configurable DCGAN (Radford et al. 2016): all-convolutional, BatchNorm, ReLU in G and
LeakyReLU(0.2) in D, at 28, 32 or 64 px, grey or RGB, optionally class-conditional. The seed
models it grew from are in :mod:`.seeds` and :mod:`.dense`.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .base import Discriminator, Generator
from .layers import MinibatchStdDev, Reshape, dense_head
from .layers_keras import init_weights


def _dcgan_plan(img_size: int) -> tuple[int, int]:
    """(start side, number of stride-2 doublings) for a supported size: 7 -> 14 -> 28, 4 -> ... -> 2^n."""
    if img_size == 28:
        return 7, 2
    if img_size >= 8 and img_size & (img_size - 1) == 0:  # a power of two
        return 4, img_size.bit_length() - 3
    raise ValueError(f"DCGAN makes 28x28 or power-of-two images of at least 8 pixels, not {img_size}")


class DCGANGenerator(Generator):
    """Radford et al.'s all-convolutional generator, sized by ``img_size`` and ``base_channels``.

    ``z`` is read as a 1x1 map and a transposed conv with a full-size kernel lifts it to the
    start resolution (7x7 for 28, 4x4 otherwise). Each stride-2 ConvT(k=4, p=1) then doubles the
    side and halves the channels, ending at ``base_channels`` before the last one maps to the
    image (kernel 4 divisible by stride 2, against checkerboard artifacts). BatchNorm + ReLU on
    every hidden layer, tanh out; no biases where BatchNorm follows (its beta is the bias).
    For 64x64 this is the classic 100 -> 512x4x4 -> 256x8x8 -> 128x16x16 -> 64x32x32 -> Cx64x64.
    """

    def __init__(self, *, z_dim: int = 100, img_channels: int = 1, img_size: int = 64, base_channels: int = 64,
                 init: str = "dcgan", num_classes: int = 0):
        super().__init__(z_dim, img_channels, img_size, output="tanh", num_classes=num_classes)
        start, n_up = _dcgan_plan(img_size)
        ch = base_channels * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            Reshape(self.net_in, 1, 1),
            nn.ConvTranspose2d(self.net_in, ch, start, bias=False), nn.BatchNorm2d(ch), nn.ReLU(),
        ]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, img_channels, 4, stride=2, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self, init)


class DCGANDiscriminator(Discriminator):
    """The mirror of :class:`DCGANGenerator`: stride-2 Conv(k=4, p=1) halvings doubling the
    channels from ``base_channels``, LeakyReLU(0.2), BatchNorm on all but the first, then
    dropout (``dropout``, default none) and a conv whose kernel covers the whole final map
    (7x7 for 28, else 4x4), giving one logit per image.

    For even sides a k=4, s=2, p=1 conv is exactly TF's 'same' (pad 1 each side), so no
    asymmetric padding is needed here.

    Class-conditional (``num_classes > 0``, called ``D(x, y)``): a projection discriminator
    (Miyato & Koyama 2018): the logit gains ``<embed(y), sum over space of the last features>``.

    Against mode collapse: ``minibatch_stddev`` appends a :class:`MinibatchStdDev` map to the
    last features (the head conv reads one more channel); ``minibatch_disc = B > 0`` replaces
    the head conv by Flatten -> :class:`MinibatchDiscrimination` (B kernels) -> Linear(1).
    """

    def __init__(self, *, img_channels: int = 1, img_size: int = 64, base_channels: int = 64, dropout: float = 0.0,
                 init: str = "dcgan", num_classes: int = 0, minibatch_stddev: bool = False,
                 minibatch_disc: int = 0):
        super().__init__(img_channels, img_size)
        self.num_classes = num_classes
        end, n_down = _dcgan_plan(img_size)
        ch = base_channels
        layers: list[nn.Module] = [nn.Conv2d(img_channels, ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2)]
            ch *= 2
        layers += [nn.Dropout(dropout)]
        self.features = nn.Sequential(*layers)
        # Parameter-free, so it adds nothing to the state dict; Identity keeps forward() plain.
        self.mbstd = MinibatchStdDev() if minibatch_stddev else nn.Identity()
        head_ch = ch + int(minibatch_stddev)
        if minibatch_disc:
            head: "OrderedDict[str, nn.Module]" = OrderedDict()
            dense_head(head, head_ch, end, minibatch_stddev=False, minibatch_disc=minibatch_disc)
            self.head = nn.Sequential(head)
        else:
            self.head = nn.Conv2d(head_ch, 1, end)
        init_weights(self, init)
        if num_classes:
            self.embed = nn.Embedding(num_classes, ch)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        h = self.features(x)
        logits = self.head(self.mbstd(h)).reshape(x.shape[0])
        if self.num_classes:
            if y is None or y.shape != (x.shape[0],):
                raise ValueError(f"conditional {type(self).__name__} needs labels y of shape ({x.shape[0]},)")
            logits = logits + (self.embed(y).to(h.dtype) * h.sum(dim=(2, 3))).sum(dim=1)
        elif y is not None:
            raise ValueError(f"{type(self).__name__} is unconditional: call it without class labels")
        return logits.float()
