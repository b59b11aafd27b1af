"""Helpers shared by the data tests (a module, not conftest, so tests can import them)."""
from __future__ import annotations

import numpy as np
from PIL import Image

CIFAR_RGB = (200, 100, 50)  # the flat R, G, B planes of the test CIFAR images


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


def make_split(n: int, h: int = 28, w: int = 28, offset: int = 0):
    """n images whose pixel (0, 0) is the image's index + offset (so order is checkable) on a
    flat background of 100, and labels i % 10."""
    images = np.full((n, h, w), 100, np.uint8)
    images[:, 0, 0] = (np.arange(n) + offset) % 256
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def transparent_images(root):
    """8x8 images whose left half is visible and whose right half is hidden (alpha 0, or the
    transparent palette entry or colour key) but holds a bright colour, one file per way of
    being transparent. Returns {name: (channels, visible left-half pixel)}."""
    root.mkdir(parents=True, exist_ok=True)
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :4] = (0, 0, 255, 255)
    rgba[:, 4:] = (255, 0, 0, 0)  # red, hidden
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    la = np.zeros((8, 8, 2), np.uint8)
    la[:, :4] = (60, 255)
    la[:, 4:] = (200, 0)
    Image.fromarray(la, "LA").save(root / "la.png")
    pal = Image.fromarray(np.where(np.arange(8)[None, :] < 4, 1, 0).repeat(8, 0).astype(np.uint8), "P")
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # entry 0 red (hidden), entry 1 blue
    pal.save(root / "palette.png", transparency=0)
    key = np.zeros((8, 8, 3), np.uint8)
    key[:, :4] = (0, 0, 255)
    key[:, 4:] = (255, 0, 0)
    Image.fromarray(key, "RGB").save(root / "colour-key.png", transparency=(255, 0, 0))
    return {"rgba.png": (3, [0, 0, 255]), "la.png": (1, [60]), "palette.png": (3, [0, 0, 255]),
            "colour-key.png": (3, [0, 0, 255])}
