"""Labelled figures of generated images: rows of captioned cells as one PNG, and looping GIFs.

Every tool draws with :func:`draw_figure`, so their pictures share one look: row labels on
the left, small images upscaled without smoothing so pixels stay visible, captions below.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image, ImageDraw, ImageFont

from ..errors import GanforgeError
from ..images import MAX_GIF_FRAMES, MAX_GRID_IMAGES, save_gif


def _font(size: int = 12) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


@dataclass
class Cell:
    """One picture of a figure row, with an optional caption under it."""

    image: torch.Tensor  # uint8 (C, H, W)
    caption: str = ""


@dataclass
class Row:
    """A figure row: a label on the left, then blocks of cells separated by wider gaps."""

    label: str
    blocks: list[list[Cell]]


def _to_rgb(image: torch.Tensor, scale: int) -> Image.Image:
    arr = image.permute(1, 2, 0).cpu().numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).convert("RGB")
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def draw_figure(rows: Sequence[Row], title: str = "", min_cell: int = 64) -> Image.Image:
    """Lay ``rows`` out as one RGB picture: labels left, images upscaled (nearest) to at least
    ``min_cell`` px, captions under them, ``title`` (may have several lines) on top."""
    cells = sum(len(block) for row in rows for block in row.blocks)
    if cells > MAX_GRID_IMAGES:
        raise GanforgeError(f"a figure of {cells:,} images is too big to draw (at most {MAX_GRID_IMAGES:,})")
    font = _font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_size(s: str) -> tuple[int, int]:
        if not s:
            return 0, 0
        l, t, r, b = probe.multiline_textbbox((0, 0), s, font=font, spacing=2)
        return r - min(l, 0), b - min(t, 0)

    sizes = [c.image.shape[-1] for row in rows for block in row.blocks for c in block]
    side = max(sizes) if sizes else 1
    scale = max(1, math.ceil(min_cell / side))
    cell = side * scale
    pad, gap = 4, 14
    cap_h = max((text_size(c.caption)[1] for row in rows for b in row.blocks for c in b), default=0)
    cap_h = cap_h + 3 if cap_h else 0
    # a column is as wide as its image or its widest caption, whichever is wider
    col = max([cell] + [text_size(c.caption)[0] + 4 for row in rows for b in row.blocks for c in b])
    label_w = max((text_size(r.label)[0] for r in rows), default=0) + 2 * pad
    title_h = text_size(title)[1] + 2 * pad if title else 0

    # Rows with the same number of blocks share block columns, so e.g. every "mean" lines up.
    slots: dict[tuple[int, int], int] = {}
    for row in rows:
        for b, block in enumerate(row.blocks):
            key = (len(row.blocks), b)
            slots[key] = max(slots.get(key, 0), len(block))

    def block_x(row: Row, b: int) -> int:
        return label_w + sum(slots[(len(row.blocks), i)] * (col + pad) + gap for i in range(b))

    def row_width(row: Row) -> int:
        return block_x(row, len(row.blocks)) - gap - label_w if row.blocks else 0

    row_h = cell + cap_h + 2 * pad
    width = max(label_w + max((row_width(r) for r in rows), default=0) + pad, text_size(title)[0] + 2 * pad)
    height = title_h + len(rows) * row_h + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.multiline_text((pad, pad), title, fill="black", font=font, spacing=2)
    for r, row in enumerate(rows):
        y = title_h + r * row_h + pad
        lh = text_size(row.label)[1]
        draw.multiline_text((pad, y + max(0, (cell - lh) // 2)), row.label, fill="black", font=font, spacing=2)
        for b, block in enumerate(row.blocks):
            x = block_x(row, b)
            for c in block:
                canvas.paste(_to_rgb(c.image, scale), (x + (col - cell) // 2, y))
                if c.caption:
                    cw = text_size(c.caption)[0]
                    draw.multiline_text((x + max(0, (col - cw) // 2), y + cell + 2), c.caption, fill=(60, 60, 60),
                                        font=font, spacing=2, align="center")
                x += col + pad
    return canvas


def save_animation(frames: torch.Tensor, path: str | Path, ms_per_frame: int = 100,
                   durations: Sequence[int] | None = None, min_side: int = 128) -> Path:
    """uint8 frames (T, C, H, W) -> looping animated GIF, upscaled (nearest) to ``min_side`` px."""
    if frames.shape[0] == 0:
        raise ValueError("save_animation needs at least one frame")
    if frames.shape[0] > MAX_GIF_FRAMES:
        raise GanforgeError(f"{path}: {frames.shape[0]:,} frames is too many for a GIF (at most {MAX_GIF_FRAMES:,})")
    scale = max(1, math.ceil(min_side / frames.shape[-1]))
    imgs = [_to_rgb(f, scale) for f in frames]
    return save_gif(imgs, path, durations=durations if durations is not None else [ms_per_frame] * len(imgs))
