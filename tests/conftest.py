"""Shared fixtures: tiny datasets written on the fly, and a way to run the CLI in-process."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.cli import main
from gf_helpers import FAST, make_images

torch.set_num_threads(2)


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
