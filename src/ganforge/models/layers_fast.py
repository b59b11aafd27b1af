"""Layers and module rewrites that make training faster on a CPU without changing the model.

* :class:`FastDropout` (:func:`use_fast_dropout`): dropout with a cheaper random mask, the same
  distribution.
* Mirrored frames (:func:`use_mirrored_padding`): TF-'same' convs with asymmetric padding run
  on spatially flipped tensors, where PyTorch's symmetric padding needs no extra copy.

Both are applied to built models by the trainer; parameter names and state dicts are untouched.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

# --------------------------------------------------------------------------- fast dropout on CPU

DROPOUT_BITS = 15  # resolution of FastDropout's keep test: p is rounded to a multiple of 2**-15


def bernoulli_keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu"
                        ) -> torch.Tensor:
    """A bool tensor whose entries are independently True with probability ``1 - p``.

    ``Tensor.bernoulli_`` draws one random number per entry and is slow on CPU (a dropout mask
    for a 512x64x14x14 activation takes ~60 ms on two cores). Here one 64-bit draw feeds four
    entries: the random words are viewed as 16-bit lanes, each lane keeps its low 15 bits (the
    top lane of a word has only 15 random bits), and an entry is kept when its lane is at least
    ``round(p * 2**15)``. Same distribution up to rounding ``p`` to 1/32768, ~4x faster.
    """
    threshold = round(p * 2 ** DROPOUT_BITS)
    if threshold >= 2 ** DROPOUT_BITS:  # p within 2**-16 of 1 (an int16 compare would wrap)
        return torch.zeros(shape, dtype=torch.bool, device=device)
    n = math.prod(shape)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_()
    lanes = words.view(torch.int16)[:n].view(shape)
    return lanes.bitwise_and_(2 ** DROPOUT_BITS - 1) >= threshold


class FastDropout(nn.Dropout):
    """:class:`torch.nn.Dropout` with the mask from :func:`bernoulli_keep_mask` (training-time
    speed only: the same distribution, a different random stream). Swapped in for
    ``nn.Dropout`` by :func:`use_fast_dropout`; ``p`` can be changed afterwards as usual."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p >= 1:
            return x * 0
        if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            n, c, h, w = x.shape  # a mask in x's own layout: mixed layouts make the multiply slow
            keep = bernoulli_keep_mask((n, h, w, c), self.p, x.device).permute(0, 3, 1, 2)
        else:
            keep = bernoulli_keep_mask(x.shape, self.p, x.device)
        # one mask in x's dtype, already scaled: autograd keeps it for the backward's single multiply
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.p))


def use_fast_dropout(module: nn.Module) -> int:
    """Replace every plain ``nn.Dropout`` inside ``module`` by a :class:`FastDropout` with the
    same rate, in place; returns how many were replaced."""
    swapped = 0
    for parent in module.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                setattr(parent, name, FastDropout(child.p))
                swapped += 1
    return swapped


# --------------------------------------------------------------------------- mirrored padding


@dataclass
class MirrorRole:
    """How a 'same' conv sits in a mirrored frame: ``active`` (input and output are flipped
    left-right and top-bottom), ``flip_in`` (it flips its input: the frame starts here),
    ``flip_out`` (it flips its output back: the frame ends here)."""

    active: bool = False
    flip_in: bool = False
    flip_out: bool = False

    def repr(self) -> str:
        return ", mirrored" if self.active else ""


# Layers that act per pixel or per channel: they give the same result on a flipped image,
# flipped (dropout: the same distribution). A mirrored frame may pass through them.
_FLIP_EQUIVARIANT = (nn.BatchNorm2d, nn.InstanceNorm2d, nn.LeakyReLU, nn.ReLU, nn.ELU, nn.GELU, nn.SiLU,
                     nn.Tanh, nn.Sigmoid, nn.Dropout, nn.Dropout2d, nn.Identity)


def use_mirrored_padding(module: nn.Module) -> int:
    """Run TF-'same' convs with asymmetric padding in a spatially mirrored frame, in place;
    returns the number of frames made.

    Flipping a conv's input and kernel flips its output, and turns TF's "odd pixel after"
    padding into "odd pixel before", which PyTorch's symmetric padding expresses for free: no
    ``F.pad`` copy before a stride-2 conv, no crop copy after a stride-2 transposed conv (on a
    2-core CPU the padded conv ran ~1.5x slower than the same conv padding itself:
    ``python benchmarks/convs.py``).
    In each ``nn.Sequential``, a frame spans from the first to the last such conv of a run of
    'same' convs and per-pixel layers (BatchNorm2d, activations, dropout): the first flips its
    input, the last flips its output back, so the module computes what it did before (up to
    the order of floating-point sums; dropout masks fall on other pixels).

    A conv takes part by carrying a :class:`MirrorRole` as ``.mirror`` and saying whether a
    frame helps it (``mirror_gain``): :class:`~ganforge.models.layers_keras.SameConv2d` and
    :class:`~ganforge.models.layers_keras.SameConvTranspose2d`, except a transposed conv with
    ``output_padding`` (k < s), whose bias-only tail would come first in a frame.
    """
    frames = 0
    for seq in module.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        run: list[nn.Module] = []
        for child in [*seq.children(), None]:
            if isinstance(getattr(child, "mirror", None), MirrorRole) and not any(child.output_padding):
                run.append(child)
            elif isinstance(child, _FLIP_EQUIVARIANT):
                continue
            else:  # the run ends: mirror it from its first to its last layer that gains
                gain = [i for i, m in enumerate(run) if m.mirror_gain]
                if gain:
                    inside = run[gain[0]:gain[-1] + 1]
                    for m in inside:
                        m.mirror.active = True
                    inside[0].mirror.flip_in = inside[-1].mirror.flip_out = True
                    frames += 1
                run = []
    return frames
