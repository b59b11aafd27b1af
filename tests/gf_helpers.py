"""Helpers shared by tests in several folders (imported by name; tests/ is on sys.path)."""
from __future__ import annotations

import numpy as np
import pytest


def real_fashion_mnist_missing() -> str | None:
    """Why a test of the real Fashion-MNIST cannot run here (None when it can): the data is
    neither in Debian's package folder nor in the cache, and tests never download. `make test`
    fetches it as `make demo` does; CI's second pass hides it (GANFORGE_SYSTEM_DATA=0 and an
    empty cache), so a test that needs it must skip through this."""
    from ganforge.data.idx import find_local

    if find_local("fashion-mnist") is None:
        return ("the real Fashion-MNIST is not on this machine (`make data` fetches it; "
                "GANFORGE_SYSTEM_DATA=0 hides Debian's copy)")
    return None


needs_real_fashion_mnist = pytest.mark.skipif(real_fashion_mnist_missing() is not None,
                                              reason=real_fashion_mnist_missing() or "")


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
