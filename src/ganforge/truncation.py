"""The truncation trick on latents: a run's mean latent (computed once, stored beside its
checkpoint, so every command truncates toward the same point) and the pull toward it.
:mod:`ganforge.generator` samples with it; :mod:`ganforge.latent` re-exports it for the tools."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from torch import nn

from .errors import GanforgeError
from .images import atomic_write
from .runs.layout import LATENT_MEAN_NAME

LATENT_MEAN_SAMPLES = 10_000
LATENT_MEAN_SEED = 0


def compute_latent_mean(z_dim: int, n: int = LATENT_MEAN_SAMPLES, seed: int = LATENT_MEAN_SEED) -> torch.Tensor:
    """The mean of ``n`` latents drawn from N(0, I) with a fixed seed: (z_dim,) float32.

    For ganforge's N(0, I) latents the true mean is 0 and this estimate is within about
    ``1/sqrt(n)`` (0.01 for 10,000) of it in each coordinate; truncating toward it is, to that
    precision, shrinking toward the origin. It is computed (rather than taken as 0) so that the
    same code is right for a latent distribution that is not centred, and stored with the run so
    every command truncates toward the same point.
    """
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return z.mean(0).float()


def latent_mean_path(checkpoint: str | Path) -> Path:
    """Where a run keeps its latent mean: ``latent_mean.pt`` beside its checkpoint."""
    p = Path(checkpoint)
    return (p if p.is_dir() else p.parent) / LATENT_MEAN_NAME


def load_latent_mean(checkpoint: str | Path | None, z_dim: int, n: int = LATENT_MEAN_SAMPLES,
                     seed: int = LATENT_MEAN_SEED) -> torch.Tensor:
    """The run's mean latent (z_dim,) from ``latent_mean.pt``; computed and saved on first use.

    checkpoint: the run folder or checkpoint file; None computes the mean without storing it.
    A file for another z_dim/sample count is recomputed; a folder that cannot be written to
    only costs the recomputation next time (a warning says so).
    """
    if checkpoint is None:
        return compute_latent_mean(z_dim, n, seed)
    path = latent_mean_path(checkpoint)
    if path.is_file():
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
            if (isinstance(d, dict) and d.get("z_dim") == z_dim and d.get("n") == n and d.get("seed") == seed
                    and torch.is_tensor(d.get("mean")) and d["mean"].shape == (z_dim,)):
                return d["mean"].float()
        except Exception:  # unreadable or foreign file: recompute and overwrite it
            pass
    mean = compute_latent_mean(z_dim, n, seed)
    try:
        with atomic_write(path) as tmp, open(tmp, "wb") as f:
            torch.save({"mean": mean, "z_dim": z_dim, "n": n, "seed": seed}, f)
    except GanforgeError as e:
        print(f"note: could not store the latent mean ({e}); it is recomputed on each use", file=sys.stderr)
    return mean


def truncate(z: torch.Tensor, mean: torch.Tensor, psi: float | None) -> torch.Tensor:
    """The truncation trick: ``mean + psi * (z - mean)``, pulling latents toward the mean latent.

    psi: 1 (or None) leaves ``z`` unchanged (bit-exactly); 0 gives ``mean`` for every row; in
    between trades variety for typical-looking images. Values above 1 push away from the mean.
    """
    if psi is None or psi == 1:
        return z
    mean = mean.to(device=z.device, dtype=z.dtype)
    if psi == 0:
        return mean.expand_as(z).clone()
    return mean + psi * (z - mean)


def check_truncation(psi: float | None, flag: str = "--truncation") -> float | None:
    """Validate a truncation value; raise GanforgeError naming ``flag``."""
    if psi is not None and not (math.isfinite(psi) and 0 <= psi <= 2):
        raise GanforgeError(f"{flag}: psi must be between 0 and 2 (1 = no truncation), got {psi}")
    return psi


def latent_mean_for(G: nn.Module) -> torch.Tensor:
    """The mean latent for ``G``: stored beside its checkpoint when G came from
    :func:`load_generator`, else computed."""
    return load_latent_mean(getattr(G, "checkpoint_path", None), int(G.z_dim))
