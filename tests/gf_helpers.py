"""Helpers shared by tests in several folders (imported by name; tests/ is on sys.path)."""
from __future__ import annotations

import numpy as np


def make_images(n: int = 48, size: int = 28, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Blobs at random places: uint8 (N, H, W) or (N, H, W, C), with some structure to learn."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((n, size, size, channels), np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(size * 0.3, size * 0.7, 2).tolist() + [rng.uniform(size * 0.15, size * 0.3)]
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.float32)
        for c in range(channels):
            out[i, :, :, c] = (blob * rng.uniform(120, 255)).astype(np.uint8)
    return out[..., 0] if channels == 1 else out
