"""Shape changes applied once at load time: class selection, channel conversion, resize.

Everything takes and returns uint8 (N, C, H, W) tensors. Float work is done in chunks so that a
60k-image dataset never needs a full float32 copy in memory at once.
"""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F

from ..errors import DataError

# Enough images per chunk to keep the vectorised ops efficient, few enough that the float32
# temporaries of a 3x256x256 chunk stay around 100 MB.
_CHUNK = 128
_CHUNK_PIXELS = 3 * 256 * 256 * _CHUNK

# ITU-R BT.601 luma weights, as used by PIL's convert("L").
LUMA = (0.299, 0.587, 0.114)


def _chunks(n: int, per_image: int):
    step = max(1, _CHUNK_PIXELS // max(1, per_image))
    for i in range(0, n, step):
        yield slice(i, min(n, i + step))


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.round_().clamp_(0, 255).to(torch.uint8)


def convert_channels(images: torch.Tensor, channels: int | None) -> torch.Tensor:
    """Grey -> RGB by replication; RGB -> grey by BT.601 luma. ``None`` keeps the data's own."""
    c = images.shape[1]
    if channels is None or channels == c:
        return images
    if c == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if c == 3 and channels == 1:
        n, _, h, w = images.shape
        out = torch.empty((n, 1, h, w), dtype=torch.uint8)
        wts = torch.tensor(LUMA, dtype=torch.float32).view(1, 3, 1, 1)
        for s in _chunks(n, 3 * h * w):
            out[s] = _to_uint8((images[s].float() * wts).sum(1, keepdim=True))
        return out
    raise DataError(f"--channels {channels}: cannot convert {c}-channel images; channels must be 1 or 3")


def _fit_dims(h: int, w: int, size: int) -> tuple[int, int]:
    """Size after scaling the shorter side to ``size``, keeping the aspect ratio."""
    if h <= w:
        return size, max(size, round(w * size / h))
    return max(size, round(h * size / w)), size


def resize_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Scale the shorter side to ``size`` (antialiased bilinear), then centre-crop to a square.

    A no-op when the images already are ``size`` x ``size``; only crops when the shorter side
    already matches, so square data at its own size is never resampled.
    """
    n, c, h, w = images.shape
    if h == size and w == size:
        return images
    nh, nw = _fit_dims(h, w, size)
    top, left = (nh - size) // 2, (nw - size) // 2
    if (nh, nw) == (h, w):
        return images[:, :, top:top + size, left:left + size].contiguous()
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    for s in _chunks(n, c * max(h * w, nh * nw)):
        x = F.interpolate(images[s].float(), size=(nh, nw), mode="bilinear",
                          align_corners=False, antialias=True)
        out[s] = _to_uint8(x[:, :, top:top + size, left:left + size])
    return out


FITS = ("auto", "pad", "resize")


def fit_mode(h: int, w: int, size: int, fit: str = "auto") -> str:
    """How ``h`` x ``w`` images become ``size`` x ``size``: ``"none"`` (already are), ``"pad"`` or
    ``"resize"`` (:func:`resize_square`).

    fit: ``"resize"`` always resizes; ``"pad"`` pads data that fits inside the square (a
    DataError otherwise); ``"auto"`` pads square data a few pixels smaller than the model - a
    margin of at most ``size // 16`` on each side, so 28 -> 32, 60 -> 64, 240 -> 256 - and
    resizes anything else. Padding is exact: the images keep every pixel, and the margin is
    cropped off again before scoring."""
    if fit not in FITS:
        raise DataError(f"--fit {fit}: must be one of {', '.join(FITS)}")
    if h == size and w == size:
        return "none"
    if fit == "resize":
        return "resize"
    fits_inside = h <= size and w <= size
    if fit == "pad":
        if not fits_inside:
            raise DataError(f"--fit pad: the images are {h}x{w}, larger than --size {size}; padding cannot shrink "
                            f"them (give --fit resize, or --size {max(h, w)} or more)")
        return "pad"
    return "pad" if fits_inside and h == w and size - h <= 2 * (size // 16) else "resize"


def background(images: torch.Tensor, limit: int = 1000) -> list[int]:
    """Each channel's background: the median of the one-pixel border of (up to ``limit`` of) the
    images. uint8 (N, C, H, W) -> C values in 0..255."""
    x = images[:limit]
    border = torch.cat([x[:, :, 0, :], x[:, :, -1, :], x[:, :, :, 0], x[:, :, :, -1]], dim=2)  # (n, C, 2H+2W)
    return [int(v) for v in border.transpose(0, 1).reshape(x.shape[1], -1).median(dim=1).values]


def pad_margins(h: int, w: int, size: int) -> tuple[int, int]:
    """(top, left) margins that centre an ``h`` x ``w`` image in a ``size`` square."""
    return (size - h) // 2, (size - w) // 2


def pad_square(images: torch.Tensor, size: int, value: list[int]) -> torch.Tensor:
    """Centre ``h`` x ``w`` images in a ``size`` square filled with ``value`` (one per channel)."""
    n, c, h, w = images.shape
    top, left = pad_margins(h, w, size)
    out = torch.tensor(value, dtype=torch.uint8).view(1, c, 1, 1).repeat(n, 1, size, size)
    out[:, :, top:top + h, left:left + w] = images
    return out


def crop_centre(images: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The centre ``h`` x ``w`` of images padded by :func:`pad_square` (its exact inverse)."""
    top, left = pad_margins(h, w, images.shape[-2])
    return images[:, :, top:top + h, left:left + w].contiguous()


def fit_square(images: torch.Tensor, size: int, fit: str = "auto") -> tuple[torch.Tensor, str]:
    """``images`` at ``size`` x ``size`` as :func:`fit_mode` says, and in words what was done
    ("" when nothing was)."""
    _, c, h, w = images.shape
    mode = fit_mode(h, w, size, fit)
    if mode == "none":
        return images, ""
    if mode == "pad":
        value = background(images)
        shown = value[0] if len(set(value)) == 1 else tuple(value)
        return pad_square(images, size, value), f"{h}x{w} padded to {size}x{size} with the background ({shown})"
    return resize_square(images, size), f"{h}x{w} resized to {size}x{size} (antialiased bilinear)"


def _norm(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", s.lower())


def class_index(query: str, class_names: list[str] | None, labels: torch.Tensor | None,
                where: str) -> int:
    """The class id that ``--class query`` names: a class name (case-insensitive, any of
    ``"ankle boot"``, ``"Ankle-Boot"``, ``"ankle_boot"``; for ``"T-shirt/top"`` also ``"t-shirt"``
    or ``"top"``) or an integer id. Names win over ids, so a folder class called ``"3"`` is
    found by name. Raises DataError listing the known classes.
    """
    q = query.strip()
    if labels is None:
        raise DataError(f"--class {q}: {where} has no labels, so no class can be picked; drop --class")
    if class_names:
        nq = _norm(q)
        for i, name in enumerate(class_names):
            if nq and (_norm(name) == nq or any(_norm(part) == nq for part in name.split("/"))):
                return i
    if re.fullmatch(r"\d+", q):
        i = int(q)
        if class_names is not None and i < len(class_names):
            return i
        if class_names is None and bool((labels == i).any()):
            return i
    if class_names:
        known = ", ".join(class_names)
        raise DataError(f"--class {q}: no such class in {where} "
                        f"(known: {known}; or an id 0-{len(class_names) - 1})")
    ids = torch.unique(labels).tolist()
    shown = ", ".join(map(str, ids[:20])) + (", ..." if len(ids) > 20 else "")
    raise DataError(f"--class {q}: {where} has labels but no class names; give one of its label ids ({shown})")


def select(images: torch.Tensor, labels: torch.Tensor | None, class_names: list[str] | None,
           class_name: str | None, limit: int | None, where: str):
    """Apply ``--class`` then ``--limit``. Labels keep their original ids."""
    if class_name is not None:
        idx = class_index(class_name, class_names, labels, where)
        keep = (labels == idx).nonzero().flatten()
        if keep.numel() == 0:
            shown = class_names[idx] if class_names else str(idx)
            raise DataError(f"--class {class_name}: {where} has no images of class {shown!r}")
        images, labels = images[keep], labels[keep]
    if limit is not None and limit < images.shape[0]:
        # clone so the dropped images' memory can be freed instead of living on in the view
        images = images[:limit].clone()
        labels = labels[:limit].clone() if labels is not None else None
    return images, labels
