"""The training loop: which batch each step sees, and when to log, draw samples and checkpoint.

``fit`` is the whole of ``ganforge train``: load data, build the trainer, restore a checkpoint
if resuming, then loop over steps (see :mod:`ganforge.train.trainer` for one step).
"""
from __future__ import annotations

import math
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import RunConfig, validate
from ..data import ImageData, load_data
from ..errors import ConfigError
from ..models import ARCHS
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .monitor import Monitor, truncate_log, write_loss_plot, write_progress_gif
from .trainer import GANTrainer, StepStats, bf16_supported, resolve_device, resolve_precision  # noqa: F401 (re-exported)


# --------------------------------------------------------------------------- data order
class EpochSampler:
    """Shuffled batches without replacement; epoch e's order depends only on (seed, e), so a
    resumed run picks up mid-epoch exactly where it stopped."""

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device):
        self.n, self.batch_size, self.seed, self.device = n, batch_size, seed, device
        self.steps_per_epoch = n // batch_size  # the last partial batch is dropped, as in the seeds
        self.epoch, self.pos = 0, 0
        self._perm: torch.Tensor | None = None

    def _order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=g).to(self.device)

    def next_indices(self) -> torch.Tensor:
        if self.pos >= self.steps_per_epoch:
            self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
        if self._perm is None:
            self._perm = self._order(self.epoch)
        i = self.pos * self.batch_size
        self.pos += 1
        return self._perm[i:i + self.batch_size]

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.pos / self.steps_per_epoch


# --------------------------------------------------------------------------- fit
@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    interrupted: bool
    samples: Path | None
    gif: Path | None
    plot: Path | None
    checkpoint: Path
    img_per_s: float


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def prepare(cfg: RunConfig, progress: bool = True) -> tuple[ImageData, RunConfig]:
    """Load the data for ``cfg`` and return it with a copy of the config whose size and channels
    are resolved, so the saved config alone can rebuild G."""
    validate(cfg)
    if cfg.model.arch not in ARCHS:
        raise ConfigError(f"--arch: unknown architecture {cfg.model.arch!r} (known: {', '.join(ARCHS)})")
    if cfg.model.conditional and not ARCHS[cfg.model.arch].conditional:
        can = ", ".join(n for n, s in ARCHS.items() if s.conditional)
        raise ConfigError(f"--conditional: architecture {cfg.model.arch!r} has no class-conditional form "
                          f"(use --arch {can})")
    data = load_data(cfg.data, default_size=ARCHS[cfg.model.arch].native_size, progress=progress)
    resolved = RunConfig.from_dict(cfg.to_dict())
    resolved.data.channels = int(data.images.shape[1])
    resolved.data.size = int(data.images.shape[2])
    resolved.model.num_classes = 0
    if cfg.model.conditional:
        if data.labels is None:
            raise ConfigError(f"--conditional: {data.name} has no labels (use a labelled dataset, a folder with "
                              f"one subfolder per class, or an .npz with 'labels')")
        resolved.model.num_classes = len(data.class_names) if data.class_names else int(data.labels.max()) + 1
    return data, resolved


def fit(cfg: RunConfig, run_dir: Path, *, resume: bool = False, progress: bool = True,
        data: ImageData | None = None, log=print) -> TrainResult:
    """Train (or continue) the run in ``run_dir`` with config ``cfg``.

    resume: load ``run_dir/checkpoint.pt`` and continue exactly where it stopped.
    data: already-loaded data (else loaded from ``cfg.data``).
    """
    run_dir = Path(run_dir)
    if data is None:
        data, cfg = prepare(cfg, progress)
    t = cfg.train
    device = resolve_device(t.device)
    n_images = data.images.shape[0]
    batch_size = t.batch_size
    if batch_size > n_images:
        log(f"note: --batch-size {batch_size} is more than the {n_images} images; using {n_images}")
        batch_size = n_images

    seed_everything(t.seed)
    trainer = GANTrainer(cfg, data.images.shape[1], data.images.shape[2], device)
    sampler = EpochSampler(n_images, batch_size, t.seed, device)
    fixed_z = torch.randn(t.n_fixed, cfg.model.z_dim, generator=torch.Generator().manual_seed(t.seed))
    # A conditional model's fixed batch cycles through the classes: grid column k shows class k.
    fixed_y = torch.arange(t.n_fixed) % trainer.num_classes if trainer.num_classes else None
    labels = data.labels.to(device) if trainer.num_classes else None
    elapsed_before = 0.0

    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / CHECKPOINT_NAME
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        trainer.load_state_dict(ckpt)
        sampler.epoch, sampler.pos = int(ckpt["epoch"]), int(ckpt["pos"])
        fixed_z = ckpt["fixed_z"]
        elapsed_before = float(ckpt.get("elapsed_s", 0.0))
        set_rng_state(ckpt["rng"])
        truncate_log(run_dir, trainer.step)
    cfg.save(run_dir / "config.json")

    # Stopping rule: the first of --steps, --epochs (both totals) and --minutes (this session).
    total = t.steps
    if t.epochs is not None:
        by_epochs = math.ceil(t.epochs * sampler.steps_per_epoch)
        total = by_epochs if total is None else min(total, by_epochs)
    start_time = time.monotonic()
    deadline = start_time + 60 * t.minutes if t.minutes is not None else None
    if total is None and deadline is None:
        raise ConfigError("give a length: --steps, --epochs or --minutes")

    images = data.images.to(device)  # the whole uint8 dataset lives on the device; batches are index views
    monitor = Monitor(run_dir, trainer.step, total, deadline, progress, nrow=trainer.num_classes or None)

    def checkpoint() -> Path:
        return save_checkpoint({
            **trainer.state_dict(), "epoch": sampler.epoch, "pos": sampler.pos, "fixed_z": fixed_z,
            "rng": rng_state(), "config": cfg.to_dict(),
            "elapsed_s": elapsed_before + time.monotonic() - start_time,
            "img_channels": int(images.shape[1]), "img_size": int(images.shape[2]),
            "class_names": list(data.class_names or []),
        }, ckpt_path)

    def done() -> bool:
        if total is not None and trainer.step >= total:
            return True
        return deadline is not None and time.monotonic() >= deadline

    if trainer.step == 0:
        monitor.save_samples(0, trainer.render(fixed_z, fixed_y))

    acc: list[StepStats] = []
    last_log_t, last_log_step = time.monotonic(), trainer.step
    img_per_s = 0.0
    with GracefulStop() as stop:
        try:
            while not done() and not stop.requested:
                idx = sampler.next_indices()
                acc.append(trainer.train_step(images[idx], None if labels is None else labels[idx]))
                monitor.step()
                s = trainer.step
                if s % t.log_every == 0 or done():
                    now = time.monotonic()
                    img_per_s = (s - last_log_step) * batch_size / max(now - last_log_t, 1e-9)
                    last_log_t, last_log_step = now, s
                    means = torch.stack([torch.stack([a.d_loss, a.g_loss, a.d_real, a.d_fake]) for a in acc]).mean(0)
                    d_loss, g_loss, d_real, d_fake = means.tolist()  # the one host-device sync per log interval
                    acc.clear()
                    monitor.log({"step": s, "epoch": round(sampler.epochs_done, 4),
                                 "time_s": round(elapsed_before + now - start_time, 3),
                                 "img_per_s": round(img_per_s, 1), "d_loss": d_loss, "g_loss": g_loss,
                                 "d_real": d_real, "d_fake": d_fake})
                if s % t.sample_every == 0:
                    monitor.save_samples(s, trainer.render(fixed_z, fixed_y))
                if s % t.checkpoint_every == 0:
                    checkpoint()
        finally:
            monitor.close()
        interrupted = stop.requested
        if interrupted:
            log(f"interrupted at step {trainer.step}: saving a checkpoint before exiting")
    final = monitor.save_samples(trainer.step, trainer.render(fixed_z, fixed_y))
    path = checkpoint()
    gif = write_progress_gif(run_dir)
    plot = write_loss_plot(run_dir)
    return TrainResult(run_dir, trainer.step, interrupted, final, gif, plot, path, img_per_s)


class GracefulStop:
    """Turns the first Ctrl-C (or SIGTERM) into a request to stop after the current step, so the
    checkpoint written on the way out is a consistent one; a second Ctrl-C stops at once."""

    def __init__(self):
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "GracefulStop":
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
