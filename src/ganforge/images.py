"""Image grids and files: PNG grids, animated GIFs, folders of PNGs, .npy arrays."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 0) -> np.ndarray:
    """Tile uint8 images (N, C, H, W) into one (H', W', C) uint8 array, ``nrow`` images per row.

    nrow: images per row; default is the smallest square that holds them all.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"make_grid expects uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    ncol_rows = math.ceil(n / nrow)
    grid = np.full((padding + ncol_rows * (h + padding), padding + nrow * (w + padding), c), pad_value, np.uint8)
    arr = images.permute(0, 2, 3, 1).cpu().numpy()  # NHWC for PIL
    for i in range(n):
        r, k = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[y:y + h, x:x + w] = arr[i]
    return grid


def to_pil(grid: np.ndarray, min_side: int = 0) -> Image.Image:
    """HWC uint8 array -> PIL image; upscaled by an integer factor (nearest) to at least ``min_side`` px."""
    img = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    if min_side and min(img.size) < min_side:
        f = math.ceil(min_side / min(img.size))
        img = img.resize((img.width * f, img.height * f), Image.NEAREST)
    return img


def save_image(img: Image.Image, path: str | Path, **kw) -> Path:
    """Write a PIL image atomically (temp file + rename): a reader never sees half a file.
    The format follows the suffix unless ``format=`` says otherwise; ``kw`` goes to PIL."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fmt = kw.pop("format", None) or path.suffix[1:].upper().replace("JPG", "JPEG") or "PNG"
    img.save(tmp, format=fmt, **kw)
    os.replace(tmp, path)
    return path


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, min_side: int = 256) -> Path:
    """Save uint8 images (N, C, H, W) as one PNG grid, upscaled so small images stay visible."""
    return save_image(to_pil(make_grid(images, nrow), min_side), path)


def save_gif(frames: Sequence[Path | Image.Image], path: str | Path, ms_per_frame: int = 120,
             hold_last_ms: int = 1500, durations: Sequence[int] | None = None) -> Path:
    """Write frames (PNG paths or PIL images) as a looping animated GIF; the last frame is held
    longer, unless ``durations`` gives each frame's milliseconds."""
    imgs = [f if isinstance(f, Image.Image) else Image.open(f).convert("RGB") for f in frames]
    if not imgs:
        raise ValueError("save_gif needs at least one frame")
    if durations is None:
        durations = [ms_per_frame] * len(imgs)
        durations[-1] = max(ms_per_frame, hold_last_ms)
    return save_image(imgs[0], path, format="GIF", save_all=True, append_images=imgs[1:],
                      duration=list(durations), loop=0)


def save_folder(images: torch.Tensor, folder: str | Path, prefix: str = "") -> list[Path]:
    """Save each uint8 image (N, C, H, W) as its own PNG: ``folder/{prefix}000000.png``..."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arr = images.permute(0, 2, 3, 1).cpu().numpy()
    paths = []
    for i, a in enumerate(arr):
        p = folder / f"{prefix}{i:06d}.png"
        Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).save(p)
        paths.append(p)
    return paths


def save_npy(images: torch.Tensor, path: str | Path) -> Path:
    """Save uint8 images as an .npy array (N, H, W, C), the layout most tools read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, images.permute(0, 2, 3, 1).cpu().numpy())
    return path
