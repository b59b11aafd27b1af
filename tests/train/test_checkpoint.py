"""Checkpoints are written atomically and never run code when read."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from ganforge.errors import CheckpointError
from ganforge.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from gf_helpers import Payload


def test_round_trip_and_marker(tmp_path):
    p = save_checkpoint({"step": 3, "w": torch.arange(4.0)}, tmp_path / "c.pt")
    ck = load_checkpoint(p)
    assert ck["step"] == 3 and torch.equal(ck["w"], torch.arange(4.0))
    assert not list(tmp_path.glob(".*tmp*")), "temp file left behind"


def test_a_pickle_that_would_run_code_is_refused(tmp_path, capsys):
    p = tmp_path / "evil.pt"
    torch.save({"format": "ganforge-checkpoint", "x": Payload()}, p)
    with pytest.raises(CheckpointError, match="not a ganforge checkpoint"):
        load_checkpoint(p)
    assert "must never run" not in capsys.readouterr().out


def test_other_torch_files_are_refused(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="marker"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no checkpoint.pt"):
        load_checkpoint(tmp_path)


def test_rng_state_restores_every_generator():
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    s = rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(s)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]
