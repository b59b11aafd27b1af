"""No host-device syncs between log points.

On a GPU every ``.item()``, ``float(t)``, ``bool(t)``, ``.tolist()`` or ``.cpu()`` on a device tensor
makes the CPU wait for the GPU to drain its queue, so the next kernels are launched late and the
GPU idles. ``torch.cuda.set_sync_debug_mode`` cannot run on a CPU, so these tests count the same
calls on a tiny CPU run instead: every such call made by ganforge's own code is recorded with the
step it happened after, and only steps that are log, sample or checkpoint points may have any.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from ganforge import api
from ganforge.train import trainer as trainer_mod
from gf_helpers import small_cfg

GANFORGE_SRC = str(Path(trainer_mod.__file__).resolve().parent.parent)
SYNCING = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


@pytest.fixture
def sync_calls(monkeypatch):
    """Patches the syncing Tensor methods; returns a Counter of (where, step, method, file) -> calls
    made from ganforge's source (and this file), where ``where`` is "in step" during ``train_step`` and "after" between steps."""
    calls: Counter = Counter()
    where = {"phase": "setup", "step": 0}

    def wrap(name):
        orig = getattr(torch.Tensor, name)

        def patched(self, *a, **k):
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(GANFORGE_SRC) or caller == __file__:  # (this file: the planted sync below)
                calls[(where["phase"], where["step"], name, caller.rsplit("/", 1)[-1])] += 1
            return orig(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, patched)

    for name in SYNCING:
        wrap(name)
    orig_step = trainer_mod.GANTrainer.train_step

    def step(self, *a, **k):
        where["phase"] = "in step"
        try:
            return orig_step(self, *a, **k)
        finally:
            where["phase"], where["step"] = "after", self.step

    monkeypatch.setattr(trainer_mod.GANTrainer, "train_step", step)
    return calls


def tiny_run(preset: str, npz, tmp_path, **fields):
    cfg = small_cfg(npz, preset, **{"train.steps": 12, "train.log_every": 5, "train.sample_every": 10,
                                    "train.checkpoint_every": 6, "train.diagnose": True, **fields})
    return api.train(cfg, tmp_path / "run", progress=False)


@pytest.mark.parametrize("preset, fields", [
    ("dcgan", {}),
    ("best-fmnist", {}),  # G_ema, label smoothing, reused fakes, channels-last
    ("tf-tutorial", {}),  # joint step, dropout
    ("dcgan", {"tricks.augment": "translation,cutout,color", "loss.loss": "wgan-gp", "optim.clip_d": 1.0}),
])
def test_no_sync_between_log_points(sync_calls, npz_data, tmp_path, preset, fields):
    result = tiny_run(preset, npz_data, tmp_path, **fields)
    assert result.steps == 12
    in_step = {k: n for k, n in sync_calls.items() if k[0] == "in step"}
    assert not in_step, f"host syncs inside train_step: {in_step}"
    points = {s for s in range(13) if s % 5 == 0 or s % 10 == 0 or s % 6 == 0 or s == 12}
    between = {k: n for k, n in sync_calls.items() if k[0] == "after" and k[1] not in points}
    assert not between, f"host syncs between log points: {between}"
    # the counter does see syncs: the log points read the accumulated losses
    assert any(k[0] == "after" and k[1] == 5 for k in sync_calls)


def test_the_counter_catches_a_sync_in_the_step(sync_calls, npz_data, tmp_path, monkeypatch):
    """A step that reads a loss back every step (the usual ``loss.item()``) is caught."""
    orig = trainer_mod.GANTrainer.stats

    def stats_with_item(self, d_loss, g_loss, batch):
        d_loss.item()
        return orig(self, d_loss, g_loss, batch)

    monkeypatch.setattr(trainer_mod.GANTrainer, "stats", stats_with_item)
    tiny_run("dcgan", npz_data, tmp_path)
    assert sum(n for k, n in sync_calls.items() if k[0] == "in step" and k[2] == "item") == 12
