"""The Python API: what the CLI calls, and what a notebook or script calls directly."""
from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn as nn

from .config import RunConfig
from .data import data_name, from_model_range
from .models import build_models
from .train.checkpoint import load_checkpoint, resolve_checkpoint
from .train.loop import TrainResult, fit, prepare

RUNS_ROOT = Path("runs")


def new_run_dir(cfg: RunConfig, root: str | Path = RUNS_ROOT) -> Path:
    """The next free ``root/NNNNN-<preset>-<data>`` folder (not created)."""
    root = Path(root)
    numbers = [int(m.group(1)) for p in root.glob("*") if (m := re.match(r"(\d{5})-", p.name))]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{cfg.preset}-{data_name(cfg.data)}").strip("-")
    return root / f"{max(numbers, default=-1) + 1:05d}-{slug}"


def train(config: RunConfig, out: str | Path | None = None, *, resume: bool = False,
          progress: bool = True, log=print) -> TrainResult:
    """Train a GAN as ``config`` describes.

    out: the run folder; default the next ``runs/NNNNN-<preset>-<data>/``.
    resume: continue the run in ``out`` from its checkpoint, exactly.
    """
    if resume:
        if out is None:
            raise ValueError("resume=True needs the run folder as out")
        return fit(config, Path(out), resume=True, progress=progress, log=log)
    data, resolved = prepare(config, progress)
    run_dir = Path(out) if out is not None else new_run_dir(resolved)
    return fit(resolved, run_dir, progress=progress, data=data, log=log)


def load_run_config(path: str | Path) -> RunConfig:
    """The resolved config stored in a run's checkpoint."""
    return RunConfig.from_dict(load_checkpoint(path)["config"])


def load_generator(path: str | Path, device: str | torch.device = "cpu", ema: bool = True) -> nn.Module:
    """Rebuild G from a checkpoint (file or run folder) using only its stored config; eval mode.

    ema: use the exponential moving average of G's weights (G_ema) when the run kept one
        (``--ema-kimg``); ``G.is_ema`` says which was loaded.
    """
    ckpt = load_checkpoint(path, map_location=device)
    cfg = RunConfig.from_dict(ckpt["config"])
    G, _ = build_models(cfg.model, int(ckpt["img_channels"]), int(ckpt["img_size"]))
    G.is_ema = ema and "G_ema" in ckpt
    G.load_state_dict(ckpt["G_ema"] if G.is_ema else ckpt["G"])
    G.checkpoint_path = str(resolve_checkpoint(path))
    return G.to(device).eval()


@torch.no_grad()
def generate(G: nn.Module, n: int, seed: int = 0, batch_size: int = 256,
             classes: int | list[int] | torch.Tensor | None = None,
             truncation: float | None = None) -> torch.Tensor:
    """``n`` new images as uint8 (n, C, H, W) on the CPU.

    seed: the latents come from ``torch.Generator().manual_seed(seed)`` on the CPU, so the same
        seed gives the same images on any device.
    classes: for a class-conditional G, one class id for all images or one per image; default
        cycles through the classes (0, 1, ..., K-1, 0, ...). Unconditional G: must be None.
    truncation: psi of the truncation trick, ``z' = mean + psi (z - mean)`` toward the run's
        mean latent (see :func:`ganforge.latent.truncate`); None (default) or 1: no truncation.
    """
    if n <= 0:
        raise ValueError("n must be positive")
    device = next(G.parameters()).device
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    if truncation is not None:
        from .latent import latent_mean_for, truncate

        z = truncate(z, latent_mean_for(G), truncation)
    y = class_labels(G, n, classes)
    out = []
    for i in range(0, n, batch_size):
        zb = z[i:i + batch_size].to(device)
        x = G(zb) if y is None else G(zb, y[i:i + batch_size].to(device))
        out.append(from_model_range(x.float(), G.output).cpu())
    return torch.cat(out)


def class_labels(G: nn.Module, n: int, classes: int | list[int] | torch.Tensor | None) -> torch.Tensor | None:
    """int64 labels (n,) for a conditional G (see :func:`generate`), or None for an unconditional one."""
    k = getattr(G, "num_classes", 0)
    if not k:
        if classes is not None:
            raise ValueError("this generator is unconditional: it takes no classes")
        return None
    if classes is None:
        return torch.arange(n) % k
    y = torch.as_tensor(classes, dtype=torch.int64).reshape(-1)
    y = y.expand(n) if y.numel() == 1 else y
    if y.shape != (n,) or y.min() < 0 or y.max() >= k:
        raise ValueError(f"classes must be one id or {n} ids in [0, {k})")
    return y
