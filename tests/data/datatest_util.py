"""Helpers shared by the data tests (a module, not conftest, so tests can import them)."""
from __future__ import annotations

import numpy as np

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
