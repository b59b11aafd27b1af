"""The base classes every generator and discriminator derives from: they check inputs at the
boundary (shapes, dtypes, class labels) so each architecture file only builds its ``net``."""
from __future__ import annotations

import torch
from torch import nn

OUTPUTS = ("tanh", "sigmoid", "linear")

CLASS_EMBED_DIM = 32  # size of the class embedding a conditional generator appends to z


class Generator(nn.Module):
    """Base class of every generator: ``forward(z)`` with ``z`` of shape ``(N, z_dim)`` gives
    images ``(N, img_channels, img_size, img_size)`` in the range named by ``output``.

    Subclasses build ``self.net`` (an ``nn.Sequential``) that maps checked noise to images.
    A class-conditional generator (``num_classes > 0``) is called ``G(z, y)`` with int64 labels
    ``y`` of shape ``(N,)``; a learned class embedding of ``CLASS_EMBED_DIM`` values is appended
    to ``z``, so its ``net`` reads ``z_dim + CLASS_EMBED_DIM`` inputs (embedding-concat,
    Mirza & Osindero 2014).
    """

    def __init__(self, z_dim: int, img_channels: int, img_size: int, output: str, num_classes: int = 0):
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.z_dim, self.img_channels, self.img_size, self.output = z_dim, img_channels, img_size, output
        self.num_classes = num_classes
        if num_classes:
            self.embed = nn.Embedding(num_classes, CLASS_EMBED_DIM)

    @property
    def net_in(self) -> int:
        """Width of the input ``net`` reads: the noise, plus the class embedding when conditional."""
        return self.z_dim + (CLASS_EMBED_DIM if self.num_classes else 0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim or not z.is_floating_point():
            raise ValueError(f"{type(self).__name__} expects float noise of shape (N, {self.z_dim}), "
                             f"got {z.dtype} {tuple(z.shape)}")
        return self.net(self._with_class(z, y))

    def _with_class(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if not self.num_classes:
            if y is not None:
                raise ValueError(f"{type(self).__name__} is unconditional: call it without class labels")
            return z
        if y is None or y.shape != (z.shape[0],):
            raise ValueError(f"{type(self).__name__} is class-conditional: call G(z, y) with labels y of shape "
                             f"({z.shape[0]},)")
        return torch.cat([z, self.embed(y).to(z.dtype)], dim=1)


class Discriminator(nn.Module):
    """Base class of every discriminator: ``forward(x)`` with ``x`` of shape
    ``(N, img_channels, img_size, img_size)`` gives one float32 logit per image, shape ``(N,)``.

    There is never a final sigmoid, even where the Keras seed has one: the loss applies it
    inside BCE-with-logits, which is the numerically stable form of the same function.
    """

    def __init__(self, img_channels: int, img_size: int):
        super().__init__()
        self.img_channels, self.img_size = img_channels, img_size

    num_classes = 0  # > 0 for class-conditional discriminators, called D(x, y)

    def check_input(self, x: torch.Tensor) -> None:
        c, s = self.img_channels, self.img_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ValueError(f"{type(self).__name__} expects images of shape (N, {c}, {s}, {s}), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        # (N, 1) or (N, 1, 1, 1) -> (N,). float() is free in fp32 and gives the loss fp32 logits under autocast.
        return self.net(x).reshape(x.shape[0]).float()
