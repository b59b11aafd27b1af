"""Keras-compatible layers: the seeds are Keras models, and reproducing them in PyTorch needs care.

* **Padding.** Keras ``padding='same'`` with a stride of 2 pads asymmetrically (the extra
  row/column goes at the bottom/right). PyTorch's ``padding=`` is always symmetric, and its
  ``padding='same'`` refuses strides above 1. :class:`SameConv2d` and
  :class:`SameConvTranspose2d` reproduce TensorFlow's alignment exactly.
* **Initialisation.** Keras draws kernels from glorot-uniform (or a named initializer) and
  zeroes biases; PyTorch uses kaiming-uniform with non-zero biases. :func:`init_weights`
  applies the scheme chosen by ``--init``, drawing only from torch's global RNG so
  ``torch.manual_seed`` makes it reproducible.
* **BatchNorm/LeakyReLU defaults.** Keras BN keeps 99% of the running statistics per step
  (PyTorch ``momentum=0.01``) with ``eps=1e-3``; Keras 2's ``LeakyReLU()`` slope is 0.3.

The 'same' convs can also run in a mirrored frame, a CPU speed-up set up by
:func:`ganforge.models.layers_fast.use_mirrored_padding`; each conv carries its
:class:`~ganforge.models.layers_fast.MirrorRole` and knows how to run in one.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers_fast import MirrorRole

KERAS_LEAKY_SLOPE = 0.3  # keras.layers.LeakyReLU() default alpha (Keras 2)
KERAS_BN_MOMENTUM = 0.01  # Keras momentum=0.99 keeps 99% of the old statistic; PyTorch counts the new part
KERAS_BN_EPS = 1e-3  # Keras BatchNormalization epsilon default
HE_NORMAL_TRUNC_CORRECTION = 0.87962566103423978  # std of a unit normal truncated at +-2


# --------------------------------------------------------------------------- Keras-flavoured layers


def keras_leaky_relu(slope: float = KERAS_LEAKY_SLOPE) -> nn.LeakyReLU:
    """``keras.layers.LeakyReLU(slope)``; the default slope is Keras 2's 0.3, not PyTorch's 0.01."""
    return nn.LeakyReLU(slope)


def keras_bn1d(n: int) -> nn.BatchNorm1d:
    """BatchNormalization over dense features with Keras' momentum and epsilon."""
    return nn.BatchNorm1d(n, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM)


def keras_bn2d(n: int) -> nn.BatchNorm2d:
    """BatchNormalization over conv channels with Keras' momentum and epsilon."""
    return nn.BatchNorm2d(n, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM)


def he_dense(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    """``Dense(..., kernel_initializer="he_normal")``: a Linear tagged so the keras init uses HeNormal."""
    layer = nn.Linear(in_features, out_features, bias=bias)
    layer.keras_initializer = "he_normal"
    return layer


# --------------------------------------------------------------------------- TensorFlow 'same' padding


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding TensorFlow's 'same' conv applies along one axis of length ``size``.

    TF makes ``ceil(size / stride)`` outputs and pads just enough for the last window; when the
    total is odd the extra pixel goes after (bottom/right).
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """``keras.layers.Conv2D(padding='same')`` with TensorFlow's exact alignment, any stride.

    The padding depends on the input size, so it is worked out per call (a few integer ops).
    When the split is symmetric the conv pads by itself (no extra tensor); only an asymmetric
    split (e.g. kernel 5, stride 2 on an even size) needs an explicit ``F.pad`` - unless the
    layer runs in a mirrored frame (:func:`use_mirrored_padding`), where the larger pad comes
    first and the conv's own symmetric padding gives the same windows.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)
        self.mirror = MirrorRole()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        top, bottom = tf_same_pads(x.shape[-2], kh, sh)
        left, right = tf_same_pads(x.shape[-1], kw, sw)
        if self.mirror.active:
            return self._mirrored(x, (top, bottom), (left, right))
        if top == bottom and left == right:
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left))
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, self.bias, self.stride)

    def _mirrored(self, x: torch.Tensor, pads_h: tuple[int, int], pads_w: tuple[int, int]) -> torch.Tensor:
        """The same conv on a spatially flipped input (flipped kernel, pads swapped). TF puts
        the odd pixel after, so here it goes *before*: pad both sides by the larger amount;
        the extra trailing zeros are never read except, for stride 1, by one surplus window,
        which is cropped."""
        if self.mirror.flip_in:
            x = x.flip(-2, -1)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        out_h, out_w = -(-x.shape[-2] // sh), -(-x.shape[-1] // sw)
        # unused input: when the windows stop short of the end (k < s), TF leaves a tail
        # unread, which in this frame is a head to skip
        skip_h = max(x.shape[-2] - (out_h - 1) * sh - kh, 0)
        skip_w = max(x.shape[-1] - (out_w - 1) * sw - kw, 0)
        if skip_h or skip_w:
            x = x[..., skip_h:, skip_w:]
        y = F.conv2d(x, self.weight.flip(-2, -1), self.bias, self.stride, (max(pads_h), max(pads_w)))
        if y.shape[-2] != out_h or y.shape[-1] != out_w:
            y = y[..., :out_h, :out_w]
        return y.flip(-2, -1) if self.mirror.flip_out else y

    @property
    def mirror_gain(self) -> bool:
        """Whether a mirrored frame saves a pad copy: TF pads asymmetrically when ``k - s`` is
        odd (for sizes divisible by the stride)."""
        return any((k - s) % 2 for k, s in zip(self.kernel_size, self.stride))

    def extra_repr(self) -> str:
        return super().extra_repr() + ", tf_padding='same'" + self.mirror.repr()


class SameConvTranspose2d(nn.ConvTranspose2d):
    """``keras.layers.Conv2DTranspose(padding='same')``: output ``size * stride`` with TF's alignment.

    TF defines this op as the gradient of a 'same' :class:`SameConv2d` whose input has the
    output's size. That conv pads ``total = max(k - s, 0)`` split as ``(total // 2, rest)``, so
    its gradient is the full transposed conv (length ``(n - 1) * s + k``) cropped to
    ``[before, before + n * s)``. PyTorch's ``padding=p`` crops ``p`` from *both* ends, so we ask
    for ``p = before`` and, when ``after = before + 1``, drop the one surplus last row/column.
    For ``k < s`` nothing is cropped and ``output_padding`` supplies the missing tail (zeros
    in the gradient, bias only here).

    In a mirrored frame (:func:`use_mirrored_padding`) the kept range is ``[after, L - before)``:
    for stride 2 and up, ``padding=after`` with ``output_padding=after - before`` keeps exactly
    that, no crop.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, bias: bool = True):
        total = max(kernel_size - stride, 0)
        before = total // 2
        out_pad = max(stride - kernel_size, 0)
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=before,
                         output_padding=out_pad, bias=bias)
        self.trim = total - 2 * before  # 1 when the split is asymmetric, else 0
        self.mirror = MirrorRole()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mirror.active:
            if any(self.output_padding):  # k < s: the bias-only tail would come first; plain route
                y = self._plain(x if self.mirror.flip_in else x.flip(-2, -1))
                return y if self.mirror.flip_out else y.flip(-2, -1)
            if self.mirror.flip_in:
                x = x.flip(-2, -1)
            w = self.weight.flip(-2, -1)
            if self.trim and min(self.stride) > 1:
                # padding=after crops after from both ends; output_padding=trim gives the end back
                pad = tuple(p + self.trim for p in self.padding)
                y = F.conv_transpose2d(x, w, self.bias, self.stride, pad, (self.trim,) * 2)
            else:  # symmetric, or stride 1 (output_padding must stay below it): crop the start
                y = F.conv_transpose2d(x, w, self.bias, self.stride, self.padding, self.output_padding)
                y = y[..., self.trim:, self.trim:]
            return y.flip(-2, -1) if self.mirror.flip_out else y
        return self._plain(x)

    def _plain(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding)
        if self.trim:
            y = y[..., : y.shape[-2] - self.trim, : y.shape[-1] - self.trim]
        return y

    @property
    def mirror_gain(self) -> bool:
        """Whether a mirrored frame saves the crop: an asymmetric split that ``output_padding``
        can express (it must stay below the stride), and no ``k < s`` tail."""
        return self.trim == 1 and min(self.stride) > 1 and not any(self.output_padding)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", tf_padding='same'" + self.mirror.repr()


# --------------------------------------------------------------------------- initialisation


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras counts them.

    Linear (out, in): in, out. Conv (out, in, kh, kw): in*kh*kw, out*kh*kw. ConvTranspose
    (in, out, kh, kw): Keras stores that kernel as (kh, kw, out, in) and so gets
    out*kh*kw, in*kh*kw - the same formula on PyTorch's layout, and glorot only uses the sum.
    """
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@torch.no_grad()
def glorot_uniform_(weight: torch.Tensor) -> torch.Tensor:
    """Keras GlorotUniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(weight)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return weight.uniform_(-limit, limit)


@torch.no_grad()
def he_normal_(weight: torch.Tensor) -> torch.Tensor:
    """Keras HeNormal: normal truncated at 2 std, widened so the result has std sqrt(2 / fan_in)."""
    fan_in, _ = _fans(weight)
    std = math.sqrt(2.0 / fan_in) / HE_NORMAL_TRUNC_CORRECTION
    return nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)


INIT_SCHEMES = ("keras", "dcgan", "torch")
_WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


@torch.no_grad()
def init_weights(module: nn.Module, scheme: str) -> nn.Module:
    """Initialise every Linear/Conv/BatchNorm in ``module`` in place and return it.

    * ``keras``: glorot-uniform kernels (or the layer's own ``keras_initializer``, as set by
      :func:`he_dense`), zero biases, BN gamma 1 / beta 0 - what the Keras seeds get.
    * ``dcgan``: N(0, 0.02) weights, zero biases, BN gamma N(1, 0.02) / beta 0 (Radford et al.).
    * ``torch``: leave PyTorch's defaults.

    Draws come only from torch's global RNG, in module order, so ``torch.manual_seed`` fixes them.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r} (known: {', '.join(INIT_SCHEMES)})")
    if scheme == "torch":
        return module
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            if scheme == "dcgan":
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif getattr(m, "keras_initializer", "glorot_uniform") == "he_normal":
                he_normal_(m.weight)
            else:
                glorot_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            if scheme == "dcgan":
                nn.init.normal_(m.weight, 1.0, 0.02)
            else:
                nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module
