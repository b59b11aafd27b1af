"""The seed models, layer for layer (Keras originals; trainable parameter counts match
``model.count_params()``):

* :class:`TFTutorialGenerator` / :class:`TFTutorialDiscriminator` - the TensorFlow DCGAN
  tutorial on MNIST (seed 003).
* :class:`GeronDCGANGenerator` / :class:`GeronDCGANDiscriminator` - Géron's DCGAN (seed 004).
* :class:`CholletGenerator` / :class:`CholletDiscriminator` - Chollet's CIFAR-10 DCGAN (seed 000).
* :class:`BilinearUpsampleGenerator` / :class:`BilinearUpsampleDiscriminator` - the MNIST GAN
  with bilinear upsampling and valid convolutions instead of transposed convs (seed 002).

Géron's fully connected GAN is in :mod:`.dense`, the configurable DCGAN in :mod:`.dcgan`.

Layout note: Keras is NHWC, PyTorch NCHW. Where a seed goes Dense -> Reshape((h, w, c)), our
Reshape(c, h, w) assigns dense unit ``j`` to channel ``j // (h*w)`` instead of ``j % c``; and
where it goes Flatten -> Dense, the flattened order differs the same way. Both are a fixed
permutation of the dense layer's units/rows, so the function family (and parameter count) is
the same; only the weight layout differs.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .base import Discriminator, Generator
from .layers import Reshape, dense_head
from .layers_keras import (
    KERAS_LEAKY_SLOPE,
    SameConv2d,
    SameConvTranspose2d,
    init_weights,
    keras_bn1d,
    keras_bn2d,
    keras_leaky_relu,
)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class _TwoConvDiscriminator(Discriminator):
    """Two stride-2 'same' convs with LeakyReLU and dropout, then Flatten -> Dense(1).

    The discriminator shape shared by the TF tutorial, Géron's DCGAN and the bilinear GAN;
    they differ only in kernel sizes, LeakyReLU slope and dropout rate. ``minibatch_stddev`` /
    ``minibatch_disc`` add the batch-aware layers around Flatten (see :func:`~ganforge.models.layers.dense_head`).
    """

    def __init__(self, *, img_channels: int, img_size: int, kernels: tuple[int, int], slope: float,
                 dropout: float, init: str, minibatch_stddev: bool = False, minibatch_disc: int = 0):
        super().__init__(img_channels, img_size)
        k1, k2 = kernels
        side = _ceil_div(_ceil_div(img_size, 2), 2)  # a 'same' stride-2 conv makes ceil(size / 2)
        layers = OrderedDict(
            conv1=SameConv2d(img_channels, 64, k1, stride=2), act1=nn.LeakyReLU(slope), drop1=nn.Dropout(dropout),
            conv2=SameConv2d(64, 128, k2, stride=2), act2=nn.LeakyReLU(slope), drop2=nn.Dropout(dropout),
        )
        dense_head(layers, 128, side, minibatch_stddev=minibatch_stddev, minibatch_disc=minibatch_disc)
        self.net = nn.Sequential(layers)
        init_weights(self, init)


# --------------------------------------------------------------------------- TensorFlow tutorial (seed 003)


class TFTutorialGenerator(Generator):
    """TF DCGAN tutorial generator: Dense(7*7*256) -> BN -> LeakyReLU -> three 5x5 'same'
    transposed convs (stride 1, 2, 2; no biases, since BN follows) -> tanh, 28x28 images.

    The first BatchNorm normalises the 12544 dense features one by one *before* the reshape,
    exactly as the Keras model does (a BatchNorm1d, not a per-channel BatchNorm2d).
    """

    def __init__(self, *, z_dim: int = 100, img_channels: int = 1, init: str = "keras"):
        super().__init__(z_dim, img_channels, 28, output="tanh")
        self.net = nn.Sequential(OrderedDict(
            fc=nn.Linear(z_dim, 7 * 7 * 256, bias=False), bn0=keras_bn1d(7 * 7 * 256), act0=keras_leaky_relu(),
            reshape=Reshape(256, 7, 7),
            deconv1=SameConvTranspose2d(256, 128, 5, stride=1, bias=False), bn1=keras_bn2d(128), act1=keras_leaky_relu(),
            deconv2=SameConvTranspose2d(128, 64, 5, stride=2, bias=False), bn2=keras_bn2d(64), act2=keras_leaky_relu(),
            deconv3=SameConvTranspose2d(64, img_channels, 5, stride=2, bias=False), out=nn.Tanh(),
        ))
        init_weights(self, init)


class TFTutorialDiscriminator(_TwoConvDiscriminator):
    """TF DCGAN tutorial discriminator: Conv(64, 5, s2) and Conv(128, 5, s2), each followed by
    LeakyReLU(0.3) and Dropout(0.3), then Dense(1) - the tutorial already outputs logits."""

    def __init__(self, *, img_channels: int = 1, dropout: float = 0.3, init: str = "keras",
                 minibatch_stddev: bool = False, minibatch_disc: int = 0):
        super().__init__(img_channels=img_channels, img_size=28, kernels=(5, 5), slope=KERAS_LEAKY_SLOPE,
                         dropout=dropout, init=init, minibatch_stddev=minibatch_stddev,
                         minibatch_disc=minibatch_disc)


# --------------------------------------------------------------------------- Géron's DCGAN (seed 004)


class GeronDCGANGenerator(Generator):
    """Géron's DCGAN generator: Dense(7*7*128) -> reshape -> BN -> ConvT(64, 5, s2) relu -> BN
    -> ConvT(C, 5, s2) tanh, 28x28 images.

    Unlike the TF tutorial this one keeps biases, has no activation on the dense layer, and
    normalises *after* the reshape (per channel), as in the book.
    """

    def __init__(self, *, z_dim: int = 100, img_channels: int = 1, init: str = "keras"):
        super().__init__(z_dim, img_channels, 28, output="tanh")
        self.net = nn.Sequential(OrderedDict(
            fc=nn.Linear(z_dim, 7 * 7 * 128), reshape=Reshape(128, 7, 7), bn0=keras_bn2d(128),
            deconv1=SameConvTranspose2d(128, 64, 5, stride=2), act1=nn.ReLU(), bn1=keras_bn2d(64),
            deconv2=SameConvTranspose2d(64, img_channels, 5, stride=2), out=nn.Tanh(),
        ))
        init_weights(self, init)


class GeronDCGANDiscriminator(_TwoConvDiscriminator):
    """Géron's DCGAN discriminator: as the TF tutorial's but LeakyReLU(0.2) and Dropout(0.4)."""

    def __init__(self, *, img_channels: int = 1, dropout: float = 0.4, init: str = "keras",
                 minibatch_stddev: bool = False, minibatch_disc: int = 0):
        super().__init__(img_channels=img_channels, img_size=28, kernels=(5, 5), slope=0.2,
                         dropout=dropout, init=init, minibatch_stddev=minibatch_stddev,
                         minibatch_disc=minibatch_disc)


# --------------------------------------------------------------------------- Chollet's CIFAR-10 DCGAN (seed 000)


class CholletGenerator(Generator):
    """Chollet's CIFAR-10 generator: Dense(128*16*16) -> LeakyReLU -> 16x16x128 -> Conv(256, 5)
    -> ConvT(256, 4, s2) to 32x32 (kernel divisible by stride, against checkerboards) ->
    Conv(256, 5) x2 -> Conv(C, 7) tanh. Every conv is 'same', every activation LeakyReLU(0.3).
    """

    def __init__(self, *, z_dim: int = 32, img_channels: int = 3, init: str = "keras"):
        super().__init__(z_dim, img_channels, 32, output="tanh")
        lrelu = keras_leaky_relu
        self.net = nn.Sequential(OrderedDict(
            fc=nn.Linear(z_dim, 128 * 16 * 16), act0=lrelu(), reshape=Reshape(128, 16, 16),
            conv1=SameConv2d(128, 256, 5), act1=lrelu(),
            deconv=SameConvTranspose2d(256, 256, 4, stride=2), act2=lrelu(),
            conv2=SameConv2d(256, 256, 5), act3=lrelu(),
            conv3=SameConv2d(256, 256, 5), act4=lrelu(),
            conv4=SameConv2d(256, img_channels, 7), out=nn.Tanh(),
        ))
        init_weights(self, init)


class CholletDiscriminator(Discriminator):
    """Chollet's CIFAR-10 discriminator: Conv(128, 3) then three Conv(128, 4, s2), all 'valid'
    with LeakyReLU(0.3) (32 -> 30 -> 14 -> 6 -> 2), Flatten -> Dropout(0.4) -> Dense(1).

    'valid' padding starts every window at the top-left pixel in both frameworks, so plain
    ``nn.Conv2d(padding=0)`` reproduces it exactly.
    """

    def __init__(self, *, img_channels: int = 3, dropout: float = 0.4, init: str = "keras",
                 minibatch_stddev: bool = False, minibatch_disc: int = 0):
        super().__init__(img_channels, 32)
        lrelu = keras_leaky_relu
        layers = OrderedDict(
            conv1=nn.Conv2d(img_channels, 128, 3), act1=lrelu(),
            conv2=nn.Conv2d(128, 128, 4, stride=2), act2=lrelu(),
            conv3=nn.Conv2d(128, 128, 4, stride=2), act3=lrelu(),
            conv4=nn.Conv2d(128, 128, 4, stride=2), act4=lrelu(),
        )
        dense_head(layers, 128, 2, minibatch_stddev=minibatch_stddev, minibatch_disc=minibatch_disc,
                    dropout=nn.Dropout(dropout))
        self.net = nn.Sequential(layers)
        init_weights(self, init)


# --------------------------------------------------------------------------- bilinear-upsampling GAN (seed 002)


class BilinearUpsample(nn.Module):
    """``keras.layers.UpSampling2D(interpolation='bilinear')`` (TF2).

    TF2's bilinear resize samples at half-pixel centres, which is PyTorch's
    ``align_corners=False``. (TF1's ``resize_bilinear`` without half-pixel centres differs.)
    """

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class BilinearUpsampleGenerator(Generator):
    """Seed 002's generator: Dense(12*12*100) -> BN -> LeakyReLU -> 12x12x100, then valid convs
    and bilinear x2 upsampling: 12 -conv3-> 10 -up-> 20 -conv3-> 18 -up-> 36 -conv5-> 32 -conv5-> 28.

    The seed puts no activation on the last conv, so ``output`` is "linear": pixels are
    unbounded, and training data is scaled to [-1, 1] as in the TF tutorial it follows.
    """

    def __init__(self, *, z_dim: int = 100, img_channels: int = 1, init: str = "keras"):
        super().__init__(z_dim, img_channels, 28, output="linear")
        lrelu = keras_leaky_relu
        self.net = nn.Sequential(OrderedDict(
            fc=nn.Linear(z_dim, 12 * 12 * 100), bn0=keras_bn1d(12 * 12 * 100), act0=lrelu(),
            reshape=Reshape(100, 12, 12),
            conv1=nn.Conv2d(100, 128, 3), bn1=keras_bn2d(128), act1=lrelu(),
            up1=BilinearUpsample(2),
            conv2=nn.Conv2d(128, 64, 3), bn2=keras_bn2d(64), act2=lrelu(),
            up2=BilinearUpsample(2),
            conv3=nn.Conv2d(64, 32, 5), bn3=keras_bn2d(32), act3=lrelu(),
            conv4=nn.Conv2d(32, img_channels, 5),
        ))
        init_weights(self, init)


class BilinearUpsampleDiscriminator(_TwoConvDiscriminator):
    """Seed 002's discriminator: Conv(64, 3, s2) and Conv(128, 5, s2) 'same', LeakyReLU(0.3),
    Dropout(0.3), then Dense(1) logits (the seed already trains on logits)."""

    def __init__(self, *, img_channels: int = 1, dropout: float = 0.3, init: str = "keras",
                 minibatch_stddev: bool = False, minibatch_disc: int = 0):
        super().__init__(img_channels=img_channels, img_size=28, kernels=(3, 5), slope=KERAS_LEAKY_SLOPE,
                         dropout=dropout, init=init, minibatch_stddev=minibatch_stddev,
                         minibatch_disc=minibatch_disc)


# --------------------------------------------------------------------------- configurable DCGAN (Radford et al.)
