"""Stabilising tricks that hook into the training step, each a small piece the loop calls.

* :class:`ReplayBuffer` - experience replay (seed 004): D also sees older fakes.
* :func:`instance_noise_std` / :func:`add_instance_noise` - Gaussian noise on D's inputs,
  annealed to zero (Sønderby et al. 2016; Arjovsky & Bottou 2017).
* :func:`update_ema` / :func:`ema_beta` - an exponential moving average of G's weights.
* :func:`diff_augment` - differentiable augmentation of everything D sees (Zhao et al. 2020).
* :class:`AdaController` - adaptive augmentation probability (Karras et al. 2020, ADA).

All random draws come from torch's global RNG (of the tensors' device), so the checkpoint's
RNG state makes a resumed run repeat them.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------- experience replay


class ReplayBuffer:
    """A ring buffer of past fakes for D (Géron, seed 004: "storing the images produced by the
    generator at each iteration in a replay buffer (gradually dropping older generated images)").

    capacity: images kept; when full, each new image replaces the oldest one.
    shape: one image's shape ``(C, H, W)``.
    device: where the images live (the training device: mixing is then free of copies).
    dtype: storage type. Fakes are stored as floats in the model's range, detached - exactly
        what D saw, with no uint8 rounding or clipping of a linear-output G. float32 costs
        ``4*C*H*W`` bytes an image (12 KiB at 3x32x32; 10,000 images ~ 123 MiB); pass
        ``torch.bfloat16`` to halve that.

    Use per D step: ``fake_for_D = buf.mix(fake, ratio)``, then ``buf.add(fake)``.
    """

    def __init__(self, capacity: int, shape: tuple[int, ...], device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        if capacity <= 0:
            raise ValueError(f"ReplayBuffer: capacity must be positive, got {capacity}")
        self.capacity, self.shape = int(capacity), tuple(shape)
        self.images = torch.zeros((self.capacity, *self.shape), dtype=dtype, device=device)
        self.size = 0  # images held
        self.pos = 0  # next slot to write; once full, also the oldest image

    def __len__(self) -> int:
        return self.size

    def _check(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"ReplayBuffer holds images of shape {self.shape}, got a batch {tuple(x.shape)}")

    @torch.no_grad()
    def add(self, fakes: torch.Tensor) -> None:
        """Store a batch ``(N, *shape)``, dropping the oldest images once full."""
        self._check(fakes)
        n = fakes.shape[0]
        if n > self.capacity:  # only the newest `capacity` would survive anyway
            fakes, n = fakes[n - self.capacity:], self.capacity
        slots = (self.pos + torch.arange(n, device=self.images.device)) % self.capacity
        self.images[slots] = fakes.detach().to(self.images.dtype)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    @torch.no_grad()
    def mix(self, fakes: torch.Tensor, ratio: float) -> torch.Tensor:
        """A batch like ``fakes`` whose first ``round(ratio * N)`` rows are replaced by distinct
        images drawn uniformly from the buffer; the rest are the fresh fakes.

        Until the buffer holds at least N images the fresh batch is returned as it is, so an
        early batch is never dominated by a handful of repeated images. The result is detached
        (D's loss does not reach G through it) and keeps the input's dtype and memory format.
        """
        self._check(fakes)
        n = fakes.shape[0]
        k = int(round(ratio * n))
        if k <= 0 or self.size < n:
            return fakes.detach()
        idx = torch.randperm(self.size, device=self.images.device)[:k]
        out = fakes.detach().clone()
        out[:k] = self.images[idx].to(out.dtype)
        return out

    def state_dict(self) -> dict[str, Any]:
        # Only the filled slots (a copy: torch.save would write a view's whole storage); the
        # write position matters too, so a resumed run drops the same images next.
        images = self.images if self.size == self.capacity else self.images[: self.size].clone()
        return {"images": images, "size": self.size, "pos": self.pos, "capacity": self.capacity}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["capacity"]) != self.capacity or tuple(state["images"].shape[1:]) != self.shape:
            raise ValueError(f"ReplayBuffer: saved buffer holds {int(state['capacity'])} images of shape "
                             f"{tuple(state['images'].shape[1:])}, this one {self.capacity} of {self.shape}")
        self.size, self.pos = int(state["size"]), int(state["pos"])
        self.images[: self.size] = state["images"].to(self.images.device, self.images.dtype)


# --------------------------------------------------------------------------- instance noise


def instance_noise_std(step: int, std0: float, steps: int) -> float:
    """Noise std at ``step``: ``std0`` falling linearly to 0 at ``steps``, and 0 after."""
    if steps <= 0:
        return 0.0
    return std0 * max(0.0, 1.0 - step / steps)


def _layout(x: torch.Tensor) -> torch.memory_format:
    """The memory format to give back a batch of images in: channels-last where ``x`` is (and
    is not also plain contiguous, as a one-channel or 1x1 batch is), else NCHW."""
    cl = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if cl else torch.contiguous_format


def add_instance_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    """``x + std * N(0, 1)`` (same shape, dtype and layout); ``x`` itself when ``std`` is 0. The
    noise is drawn in NCHW order whatever ``x``'s layout, so channels-last draws the same noise.

    Applied to D's real and fake inputs alike, it makes their distributions overlap, so D's
    optimum stays smooth early in training (Sønderby et al. 2016, Arjovsky & Bottou 2017).
    """
    if std <= 0:
        return x
    noise = torch.randn(x.shape, dtype=x.dtype, device=x.device)
    return (x + std * noise).contiguous(memory_format=_layout(x))


# --------------------------------------------------------------------------- generator EMA


def ema_beta(batch_size: int, ema_kimg: float, images_seen: int = 0, rampup: float = 0.0) -> float:
    """Per-step decay for a G_ema whose half-life is ``ema_kimg`` thousand images
    (StyleGAN2-ADA's convention): ``0.5 ** (batch_size / half_life)``.

    rampup > 0 caps the half-life at ``rampup * images_seen`` (the images seen before this
    step), so early in training G_ema follows G closely instead of staying near its random
    initial weights; the full half-life applies once ``images_seen >= ema_kimg * 1000 / rampup``.
    """
    if ema_kimg <= 0:
        raise ValueError(f"ema_beta: the half-life must be positive, got ema_kimg={ema_kimg}")
    half_life = ema_kimg * 1000.0
    if rampup > 0:
        half_life = min(half_life, rampup * images_seen)
        if half_life <= 0:
            return 0.0  # nothing seen yet: G_ema takes G's weights
    return 0.5 ** (batch_size / half_life)


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """``G_ema <- beta * G_ema + (1 - beta) * G`` for every parameter; buffers (BatchNorm
    statistics) are copied, since averaging running averages has no use.

    G_ema must be a copy of G's architecture (e.g. ``copy.deepcopy(G)``).
    """
    p_ema = list(G_ema.parameters())
    p = list(G.parameters())
    if len(p_ema) != len(p):
        raise ValueError("update_ema: G_ema and G have different parameter lists")
    if p:
        torch._foreach_lerp_(p_ema, [q.detach() for q in p], 1.0 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


# --------------------------------------------------------------------------- DiffAugment

TRANSLATION_RATIO = 1 / 8  # largest shift, as a fraction of the side (Zhao et al. 2020)
CUTOUT_RATIO = 1 / 2  # side of the erased square, as a fraction of the image side


def _chance(x: torch.Tensor, p: float) -> torch.Tensor:
    """One bool per image: apply the op to it? Shape (N, 1, 1, 1)."""
    return (torch.rand(x.shape[0], 1, 1, 1, device=x.device) < p)


def _rand(x: torch.Tensor) -> torch.Tensor:
    """U[0, 1) per image, shape (N, 1, 1, 1), in x's dtype."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device).to(x.dtype)


def _brightness(x: torch.Tensor, p: float) -> torch.Tensor:
    return torch.where(_chance(x, p), x + (_rand(x) - 0.5), x)  # add U[-0.5, 0.5)


def _saturation(x: torch.Tensor, p: float) -> torch.Tensor:
    if x.shape[1] == 1:  # grey images have no saturation
        return x
    grey = x.mean(dim=1, keepdim=True)
    return torch.where(_chance(x, p), (x - grey) * (2 * _rand(x)) + grey, x)  # scale chroma by U[0, 2)


def _contrast(x: torch.Tensor, p: float) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return torch.where(_chance(x, p), (x - mean) * (_rand(x) + 0.5) + mean, x)  # scale by U[0.5, 1.5)


def _translation(x: torch.Tensor, p: float) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    apply = _chance(x, p).reshape(n, 1)
    dy = torch.randint(-sh, sh + 1, (n, 1), device=x.device) * apply
    dx = torch.randint(-sw, sw + 1, (n, 1), device=x.device) * apply
    # out[i, j] = x[i - dy, j - dx], read from a zero-padded copy so that shifted-in pixels are 0.
    padded = F.pad(x, (sw, sw, sh, sh))
    rows = (torch.arange(h, device=x.device) + sh - dy)[:, :, None]  # (N, H, 1)
    cols = (torch.arange(w, device=x.device) + sw - dx)[:, None, :]  # (N, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indices on dims 0, 2, 3 around a slice: the result is (N, H, W, C).
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, p: float) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    # The square's centre is uniform over the image, so it may hang over an edge.
    cy = torch.randint(0, h + 1, (n, 1), device=x.device)
    cx = torch.randint(0, w + 1, (n, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :] - (cy - ch // 2)  # (N, H): row offset into the square
    xs = torch.arange(w, device=x.device)[None, :] - (cx - cw // 2)
    inside = ((ys >= 0) & (ys < ch))[:, :, None] & ((xs >= 0) & (xs < cw))[:, None, :]  # (N, H, W)
    keep = ~(inside[:, None] & _chance(x, p))
    return x * keep.to(x.dtype)


_OPS = {
    "color": (_brightness, _saturation, _contrast),
    "translation": (_translation,),
    "cutout": (_cutout,),
}


def diff_augment(x: torch.Tensor, ops: list[str] | tuple[str, ...], p: float = 1.0) -> torch.Tensor:
    """Differentiable augmentation (Zhao et al. 2020, DiffAugment) of images ``x`` (N, C, H, W).

    ops: any of "color" (brightness +U[-0.5, 0.5), saturation x U[0, 2) - RGB only -, contrast
        x U[0.5, 1.5)), "translation" (shift by up to 1/8 of the side, zeros shifted in),
        "cutout" (zero a square of half the side at a random place), applied in the order given.
    p: probability with which each transform (each of the three colour ones separately) is
        applied to each image, independently; images it skips are passed through exactly. A float,
        or a 0-dim tensor on x's device (then every op draws its randomness, even at p = 0).

    Apply it to *every* image D sees - real and fake, in both the D and the G phase - so that
    G is not pushed to make augmented-looking images. Gradients flow to ``x``; dtype (fp32 or
    bf16) and a channels-last layout are kept. Magnitudes assume images in [-1, 1].
    """
    unknown = [op for op in ops if op not in _OPS]
    if unknown:
        raise ValueError(f"diff_augment: unknown ops {unknown} (known: {', '.join(_OPS)})")
    if x.dim() != 4:
        raise ValueError(f"diff_augment expects images (N, C, H, W), got shape {tuple(x.shape)}")
    if not ops or (not torch.is_tensor(p) and p <= 0):  # (a tensor p, ADA's on a GPU, is never read back)
        return x
    layout = _layout(x)
    for op in ops:
        for fn in _OPS[op]:
            x = fn(x, p)
    return x.contiguous(memory_format=layout)


# --------------------------------------------------------------------------- adaptive augmentation


class AdaController:
    """Adaptive discriminator augmentation's probability controller (Karras et al. 2020, sec. 3).

    The overfitting heuristic ``r_t = E[sign(D(real))]`` is 0 when D cannot tell training images
    from the rest and approaches 1 as it memorises them. Every ``interval`` D steps the
    augmentation probability moves by ``sign(r_t - target) * batch_size * interval /
    (speed_kimg * 1000)``, clamped to [0, 1]: so ``p`` can go from 0 to 1 in ``speed_kimg``
    thousand images at the fastest.

    target: the r_t to hold (the paper uses 0.6).
    batch_size: real images per D step.
    speed_kimg: thousands of images for a full 0 -> 1 sweep. The paper's 500 suits runs of
        ~25 M images; ganforge's runs are ~0.1-5 M images on small datasets, where D starts to
        memorise after a few tens of thousands, so the default is 20 (about 310 steps of 64
        images) - still slow against the interval's noise (one move is 1/78 of the range).
    interval: D steps between adjustments (the paper's 4); r_t is averaged over them.
    p: the starting probability.
    device: where the logits live. On CUDA, ``p`` and ``r_t`` are float64 tensors on the device and
        the adjustment is computed there (the same float64 arithmetic as on the host), so no step
        waits for the GPU; they are read back only when logged or saved. Elsewhere ``accumulate``
        reads one number every ``interval`` steps and ``p`` is a Python float.
    """

    def __init__(self, *, target: float, batch_size: int, speed_kimg: float = 20.0, interval: int = 4,
                 p: float = 0.0, device: torch.device | str | None = None):
        if not 0 < target < 1:
            raise ValueError(f"AdaController: target must be in (0, 1), got {target}")
        if speed_kimg <= 0 or interval < 1 or batch_size < 1:
            raise ValueError("AdaController: speed_kimg, interval and batch_size must be positive")
        self.target, self.batch_size, self.speed_kimg, self.interval = target, batch_size, speed_kimg, interval
        self.on_device = device is not None and torch.device(device).type == "cuda"
        self.device = torch.device(device) if self.on_device else None
        self.p: float | torch.Tensor = self._as_p(p)
        self.r_t: float | torch.Tensor | None = None  # the last estimate, for logging
        self._sign_sum: torch.Tensor | float = 0.0
        self._count = 0  # logits summed since the last adjustment
        self._steps = 0  # D steps since the last adjustment
        # with many processes: sums a (sign sum, count) tensor over all of them, so every process
        # estimates r_t from the global batch and moves p the same way
        self.reduce: Callable[[torch.Tensor], torch.Tensor] | None = None

    def _as_p(self, p: float) -> float | torch.Tensor:
        return torch.tensor(float(p), dtype=torch.float64, device=self.device) if self.on_device else float(p)

    @property
    def adjust_size(self) -> float:
        """How far one adjustment moves ``p``."""
        return self.batch_size * self.interval / (self.speed_kimg * 1000.0)

    @torch.no_grad()
    def accumulate(self, real_logits: torch.Tensor) -> float:
        """Count one D step's logits on real images (N,); adjust ``p`` when an interval is full.
        Returns the probability to use next."""
        self._sign_sum = self._sign_sum + torch.sign(real_logits.detach().float()).sum()
        self._count += real_logits.numel()
        self._steps += 1
        if self._steps >= self.interval and self.on_device:  # the host rule below, in float64 on the device
            total = self._sign_sum.double()
            if self.reduce is not None:  # (sign sum, count) over all processes, on the device
                total, count = self.reduce(torch.stack([total, torch.full_like(total, float(self._count))]))
                r_t = total / count.clamp(min=1)
            else:
                r_t = total / max(self._count, 1)
            step = torch.sign(r_t - self.target) * self.adjust_size  # copysign, and 0 at the target
            self.p, self.r_t = (self.p + step).clamp(0.0, 1.0), r_t
            self._sign_sum, self._count, self._steps = 0.0, 0, 0
        elif self._steps >= self.interval:
            total = self._sign_sum.item() if torch.is_tensor(self._sign_sum) else float(self._sign_sum)
            count = self._count
            if self.reduce is not None:
                total, count = self.reduce(torch.tensor([total, float(count)], dtype=torch.float64)).tolist()
            self.r_t = total / max(count, 1)
            step = math.copysign(self.adjust_size, self.r_t - self.target) if self.r_t != self.target else 0.0
            self.p = min(max(self.p + step, 0.0), 1.0)
            self._sign_sum, self._count, self._steps = 0.0, 0, 0
        return self.p

    def state_dict(self) -> dict[str, Any]:
        total = self._sign_sum.item() if torch.is_tensor(self._sign_sum) else float(self._sign_sum)
        r_t = None if self.r_t is None else float(self.r_t)
        return {"p": float(self.p), "r_t": r_t, "sign_sum": total, "count": self._count, "steps": self._steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = self._as_p(state["p"])
        self.r_t = None if state["r_t"] is None else float(state["r_t"])
        self._sign_sum, self._count, self._steps = float(state["sign_sum"]), int(state["count"]), int(state["steps"])
