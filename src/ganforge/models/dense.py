"""Géron's fully connected GAN (seed 004, "Building a Simple GAN").

Keras original, with ``codings_size = 30``::

    generator = Sequential([Dense(100, relu, he_normal), Dense(150, relu, he_normal),
                            Dense(28 * 28, sigmoid), Reshape([28, 28])])
    discriminator = Sequential([Flatten(), Dense(150, relu, he_normal),
                                Dense(100, relu, he_normal), Dense(1, sigmoid)])

The generator's sigmoid means images live in [0, 1]; the discriminator's final sigmoid is
dropped here (see :class:`~ganforge.models.base.Discriminator`).
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .base import Discriminator, Generator
from .layers import MinibatchDiscrimination, MinibatchStdDev, Reshape
from .layers_keras import he_dense, init_weights


class GeronDenseGenerator(Generator):
    """Noise -> 100 -> 150 -> 28*28*C sigmoid pixels (Géron's dense GAN generator)."""

    def __init__(self, *, z_dim: int = 30, img_channels: int = 1, img_size: int = 28, init: str = "keras"):
        super().__init__(z_dim, img_channels, img_size, output="sigmoid")
        self.net = nn.Sequential(OrderedDict(
            fc1=he_dense(z_dim, 100), act1=nn.ReLU(),
            fc2=he_dense(100, 150), act2=nn.ReLU(),
            # The seed names no initializer for the output layer: Keras' glorot-uniform.
            fc3=nn.Linear(150, img_channels * img_size * img_size), out=nn.Sigmoid(),
            reshape=Reshape(img_channels, img_size, img_size),
        ))
        init_weights(self, init)


class GeronDenseDiscriminator(Discriminator):
    """Flattened pixels -> 150 -> 100 -> one logit (Géron's dense GAN discriminator).

    The seed has no dropout; ``dropout > 0`` (``--d-dropout``) adds it after each hidden
    layer. The Dropout modules are always present (rate 0 is a no-op) so that checkpoints
    load whatever rate the run used.

    The batch-aware options work on the last hidden features, just before the output layer
    (Salimans et al. put mini-batch discrimination there; on raw pixels it would mostly
    compare backgrounds): ``minibatch_stddev`` appends one feature (the group's std-dev),
    ``minibatch_disc = B`` appends B mini-batch discrimination features.
    """

    def __init__(self, *, img_channels: int = 1, img_size: int = 28, dropout: float = 0.0, init: str = "keras",
                 minibatch_stddev: bool = False, minibatch_disc: int = 0):
        super().__init__(img_channels, img_size)
        layers = OrderedDict(
            flatten=nn.Flatten(),
            fc1=he_dense(img_channels * img_size * img_size, 150), act1=nn.ReLU(), drop1=nn.Dropout(dropout),
            fc2=he_dense(150, 100), act2=nn.ReLU(), drop2=nn.Dropout(dropout),
        )
        features = 100
        if minibatch_stddev:
            layers["mbstd"] = MinibatchStdDev()
            features += 1
        if minibatch_disc:
            layers["mbd"] = MinibatchDiscrimination(features, minibatch_disc)
            features += minibatch_disc
        layers["fc3"] = nn.Linear(features, 1)
        self.net = nn.Sequential(layers)
        init_weights(self, init)
