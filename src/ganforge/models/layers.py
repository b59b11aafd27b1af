"""Building blocks shared by the architectures.

The seed models are Keras models; to reproduce them in PyTorch three things need care:

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

Also here: the :class:`Generator`/:class:`Discriminator` base classes that check inputs at the
boundary, :class:`Reshape`, and :func:`layer_param_counts` for Keras-style parameter tables.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

KERAS_LEAKY_SLOPE = 0.3  # keras.layers.LeakyReLU() default alpha (Keras 2)
KERAS_BN_MOMENTUM = 0.01  # Keras momentum=0.99 keeps 99% of the old statistic; PyTorch counts the new part
KERAS_BN_EPS = 1e-3  # Keras BatchNormalization epsilon default
HE_NORMAL_TRUNC_CORRECTION = 0.87962566103423978  # std of a unit normal truncated at +-2

OUTPUTS = ("tanh", "sigmoid", "linear")


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


class Reshape(nn.Module):
    """Reshape ``(N, ...)`` to ``(N, *shape)``.

    ``reshape`` is a free view whenever the input is contiguous (the case after a Linear or
    BatchNorm1d) and only copies when it has to, e.g. for a channels-last input.
    """

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


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
    """
    frames = 0
    for seq in module.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        run: list[nn.Module] = []
        for child in [*seq.children(), None]:
            if isinstance(child, (SameConv2d, SameConvTranspose2d)) and (
                    not isinstance(child, SameConvTranspose2d) or not any(child.output_padding)):
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


# --------------------------------------------------------------------------- G / D base classes


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


# --------------------------------------------------------------------------- batch-aware D layers (against mode collapse)


def largest_divisor_at_most(n: int, k: int) -> int:
    """The largest divisor of ``n`` that is at most ``k`` (1 when ``n`` is prime and > k)."""
    for g in range(min(n, k), 0, -1):
        if n % g == 0:
            return g
    return 1


class MinibatchStdDev(nn.Module):
    """Mini-batch standard deviation (Karras et al. 2018, ProGAN, section 3): append one feature
    map holding how much the images of a small group differ.

    The batch is split into groups of ``group_size`` images (the largest divisor of the batch
    not above it, so any batch size works; a batch of 1 gives ~0). For each group: the standard
    deviation of every feature over the group's images, averaged over features and positions,
    is one number, broadcast as an extra channel to each image of the group. A collapsed G
    makes near-identical images, so D sees that number near 0 for fakes and can reject them.

    Input ``(N, C, H, W)`` -> ``(N, C + 1, H, W)``; also ``(N, F)`` -> ``(N, F + 1)``.
    Statistics are taken in float32; the output keeps the input's dtype.
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        if group_size < 1:
            raise ValueError(f"MinibatchStdDev: group_size must be >= 1, got {group_size}")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = largest_divisor_at_most(n, self.group_size)
        # Sample n = i * (n // g) + m belongs to group m: members are spread across the batch.
        y = x.float().reshape(g, n // g, *x.shape[1:])
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (n // g, C, H, W)
        stat = std.reshape(n // g, -1).mean(dim=1)  # (n // g,)
        stat = stat.repeat(g).reshape(n, *([1] * (x.dim() - 1)))
        feature = stat.expand(n, 1, *x.shape[2:]).to(x.dtype)
        return torch.cat([x, feature], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class MinibatchDiscrimination(nn.Module):
    """Mini-batch discrimination (Salimans et al. 2016, section 3.2): features that tell D how
    close each image is to the others in its batch.

    ``M_i = x_i T`` is read as ``num_kernels`` rows ``M_i,b`` of ``kernel_dim`` values; for each
    kernel ``b``, ``o(x_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_1)``. Identical images give
    ``o = N - 1`` in every kernel; well-spread ones give values near 0.

    Input ``(N, in_features)`` -> ``(N, in_features + num_kernels)`` (the input, then ``o``).
    ``T`` is a plain parameter (no bias), drawn N(0, 0.01 / in_features) - small, so the
    kernels start in their sensitive range - and left alone by :func:`init_weights`.
    """

    def __init__(self, in_features: int, num_kernels: int, kernel_dim: int = 16):
        super().__init__()
        self.in_features, self.num_kernels, self.kernel_dim = in_features, num_kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) * (0.1 / math.sqrt(in_features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"MinibatchDiscrimination expects (N, {self.in_features}), got {tuple(x.shape)}")
        n = x.shape[0]
        m = (x.float() @ self.T.float()).reshape(n, self.num_kernels, self.kernel_dim)
        # The explicit (N, N, B, C) difference, not torch.cdist: cdist has no double backward,
        # which a gradient penalty through D needs. N=256, B=64, C=16 is 64 M values.
        dist = (m[:, None] - m[None, :]).abs().sum(dim=3)  # (N, N, B) L1 distances
        o = torch.exp(-dist).sum(dim=1) - 1.0  # drop the self term exp(0) = 1
        return torch.cat([x, o.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_kernels={self.num_kernels}, kernel_dim={self.kernel_dim}"


def batch_dependent(module: nn.Module) -> bool:
    """Whether one image's output depends on the rest of its batch (BatchNorm in training,
    :class:`MinibatchStdDev`, :class:`MinibatchDiscrimination`). Such a D must see real and
    fake images in separate passes: in one mixed batch its batch statistics compare fakes with
    reals, which the G phase (fakes only) never reproduces."""
    return any(isinstance(m, (nn.modules.batchnorm._BatchNorm, MinibatchStdDev, MinibatchDiscrimination))
               for m in module.modules())


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


# --------------------------------------------------------------------------- parameter tables


def layer_param_counts(module: nn.Module) -> list[tuple[str, int]]:
    """``(qualified name, trainable parameters)`` of each layer holding parameters, in forward order.

    This is the ``Param #`` column of a Keras ``model.summary()`` without the parameter-free
    rows. BatchNorm running statistics are buffers, so they count as Keras' non-trainable ones.
    """
    rows = []
    for name, m in module.named_modules():
        n = sum(p.numel() for p in m.parameters(recurse=False) if p.requires_grad)
        if n:
            rows.append((name, n))
    return rows
