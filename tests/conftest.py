"""Shared fixtures: tiny datasets written on the fly, and a way to run the CLI in-process."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.cli import main

torch.set_num_threads(2)


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


@pytest.fixture
def npz_data(tmp_path):
    """A 48-image grey 28x28 dataset with labels in an .npz file."""
    path = tmp_path / "tiny.npz"
    np.savez(path, images=make_images(48), labels=np.arange(48) % 4)
    return path


@pytest.fixture
def cli(capsys):
    """Run ``ganforge ARGS`` in this process; returns (exit code, stdout, stderr)."""

    def run(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def fast():
    """CLI flags for quick runs: no progress bar, small batches, write everything every step."""
    return list(FAST)


FAST = ["--no-progress", "--batch-size", "4", "--n-fixed", "4", "--sample-every", "1",
        "--checkpoint-every", "1", "--log-every", "1", "--precision", "fp32"]
