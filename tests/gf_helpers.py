"""Helpers shared by tests in several folders (imported by name; tests/ is on sys.path)."""
from __future__ import annotations

import os
import signal

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


# --------------------------------------------------------------------------- tiny runs
TINY_NETS = ["--g-channels", "8", "--d-channels", "8"]  # the smallest DCGAN G and D a test trains
# ProGAN's and StyleGAN2's: 8 channels at every resolution up to 32 px (min(256 // r, 8))
TINY_WIDTHS = ["--channel-base", "256", "--channel-max", "8"]
# quick runs that write everything every step (the `fast` fixture of tests/conftest.py)
FAST = ["--no-progress", "--batch-size", "4", "--n-fixed", "4", "--sample-every", "1",
        "--checkpoint-every", "1", "--log-every", "1", "--precision", "fp32"]
# runs that exist for their final checkpoint: samples and logs only at the end
FINAL_ONLY = ["--no-progress", "--batch-size", "4", "--n-fixed", "4", "--sample-every", "100",
              "--checkpoint-every", "100", "--log-every", "100", "--precision", "fp32"]
TINY_DCGAN = ["--preset", "dcgan", *TINY_NETS, *FAST]
# a 16-px ProGAN: 4x4 for 2 steps, the 8x8 fade over 4, 8x8 for 2, then the 16x16 fade
TINY_PROGAN = ["--preset", "progan", "--size", "16", "--z-dim", "16", *TINY_WIDTHS, "--batch-size", "4",
               "--stage-batch", "16:0.5", "--stage-kimg", "0.008", "--fade-kimg", "0.016", "--n-fixed", "4",
               "--sample-every", "100", "--checkpoint-every", "100", "--log-every", "1", "--precision", "fp32",
               "--no-progress", "--device", "cpu", "--minutes", "60"]
# StyleGAN2's path length and style mixing switched on, at stylegan2-64's settings (the stylegan2
# preset's small-data set-up has neither), for the tests of that machinery: config fields and flags
PATH_LENGTH_ON = {"style.pl_weight": 2.0, "style.mixing_prob": 0.9}
PATH_LENGTH_FLAGS = ["--pl-weight", "2", "--style-mixing", "0.9"]
# with PATH_LENGTH_FLAGS, so the tools and resume see that state
TINY_STYLEGAN2 = ["--preset", "stylegan2", "--z-dim", "16", "--w-dim", "16", "--mapping-layers", "2", *TINY_WIDTHS,
                  *PATH_LENGTH_FLAGS,
                  "--batch-size", "4", "--n-fixed", "4", "--sample-every", "100", "--checkpoint-every", "100",
                  "--log-every", "1", "--precision", "fp32", "--no-progress", "--device", "cpu", "--minutes", "60",
                  "--eval-minutes", "0"]
QUIET = dict(progress=False, log=lambda *_: None)  # api.train without a bar or messages


def train_once(out, data, *flags) -> None:
    """``ganforge train --data DATA --out OUT FLAGS`` in this process, its output swallowed (for
    module- and session-scoped runs, which cannot use the ``cli`` fixture); it must succeed."""
    import contextlib
    import io

    from ganforge.cli import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["train", "--data", str(data), "--out", str(out), *map(str, flags)])
    assert code == 0 and (out / "checkpoint.pt").is_file(), err.getvalue()


def tiny_stylegan_run(root, steps: int = 2):
    """``root/run``: a StyleGAN2 run of ``steps`` steps (16 px, 8 channels, w_dim 16) on 24 grey blobs."""
    np.savez(root / "blobs.npz", images=make_images(24, size=16))
    train_once(root / "run", root / "blobs.npz", *TINY_STYLEGAN2, "--size", "16", "--steps", str(steps))
    return root / "run"


def small_cfg(npz, preset: str = "dcgan", **fields):
    """A tiny run of ``preset`` on ``npz`` for api.train, with ``fields`` (dotted) set on top."""
    from ganforge.config import set_field
    from ganforge.presets import get_preset

    cfg = get_preset(preset)
    narrow = {"dcgan": {"model.g_channels": 8, "model.d_channels": 8},  # seed models have their own widths
              "progan": {"model.channel_base": 256, "model.channel_max": 8},
              "stylegan2": {"model.channel_base": 256, "model.channel_max": 8}}.get(cfg.model.arch, {})
    base = {"data.source": str(npz), **narrow, "train.batch_size": 4, "train.precision": "fp32", "train.n_fixed": 4,
            "train.sample_every": 1000, "train.checkpoint_every": 1000, "train.log_every": 1}
    for k, v in {**base, **fields}.items():
        set_field(cfg, k, v)
    return cfg


# --------------------------------------------------------------------------- resume and stops
RESUME_KEYS = ("G", "D", "G_ema", "opt_g", "opt_d", "train_state", "epoch", "pos", "rng", "step")


def same(a, b) -> bool:
    """Equal to the bit: tensors (and their dtype), dicts, lists and plain values, nested."""
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def resumed_equals_straight(cli, data, flags, *, steps: int, stop: int, folder) -> tuple[dict, dict, dict]:
    """Train ``steps`` steps in one go, and ``stop`` steps then ``--resume`` to ``steps``; assert
    the two final checkpoints are the same to the bit (:data:`RESUME_KEYS`). Returns the straight
    run's final checkpoint, the resumed run's, and the one it resumed from."""
    from ganforge.checkpoint import load_checkpoint

    straight, split = folder / "straight", folder / "split"
    assert cli("train", "--data", data, *flags, "--steps", steps, "--out", straight)[0] == 0
    assert cli("train", "--data", data, *flags, "--steps", stop, "--out", split)[0] == 0
    at_stop = load_checkpoint(split)
    code, _, err = cli("train", "--resume", split, "--steps", steps, "--no-progress")
    assert code == 0, err
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert int(a["step"]) == int(b["step"]) == steps
    for key in RESUME_KEYS:
        assert same(a[key], b[key]), key
    return a, b, at_stop


def signal_after_step(monkeypatch, step: int, sig: int = signal.SIGINT) -> None:
    """Make training send ``sig`` to this process right after step ``step`` (as Ctrl-C or a
    scheduler's SIGTERM would arrive mid-run)."""
    from ganforge.train.trainer import GANTrainer

    orig = GANTrainer.train_step

    def step_then_signal(self, real, labels=None):
        out = orig(self, real, labels)
        if self.step == step:
            os.kill(os.getpid(), sig)
        return out

    monkeypatch.setattr(GANTrainer, "train_step", step_then_signal)


# --------------------------------------------------------------------------- what a user sees
def one_line(err: str) -> bool:
    """stderr is one line and no traceback."""
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


def one_line_error(code: int, err: str, *parts: str) -> None:
    """Exit 2 with one error line holding every one of ``parts``."""
    assert code == 2, err
    assert one_line(err), err
    for p in parts:
        assert p in err, (p, err)


class Payload:
    """Pickled, it would run code on load (print): what a checkpoint must never be able to do."""

    def __reduce__(self):
        return (print, ("this must never run",))
