"""A trained generator: the one way to load it from a run, and the one way to sample it.

Everything that turns latents into images goes through :func:`render` - the training loop's
fixed-noise grids and evaluations, ``ganforge generate``, ``evaluate``, the latent tools and
export checks - so they all agree on the output range, the class labels and inference mode.
Truncation toward the run's mean latent is here too: :func:`generate` applies it, and the
latent tools (:mod:`ganforge.latent`, which re-exports it) share the same stored mean.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from pathlib import Path

import torch
from torch import nn

from .checkpoint import load_checkpoint, resolve_checkpoint
from .config import RunConfig
from .data import from_model_range
from .errors import GanforgeError
from .models import build_models


def load_run_config(path: str | Path) -> RunConfig:
    """The resolved config stored in a run's checkpoint (file or run folder)."""
    return RunConfig.from_dict(load_checkpoint(path)["config"])


def load_generator(path: str | Path, device: str | torch.device = "cpu", ema: bool = True) -> nn.Module:
    """Rebuild G from a checkpoint (file or run folder) using only its stored config; eval mode.

    ema: use the exponential moving average of G's weights (G_ema) when the run kept one
        (``--ema-kimg``); ``G.is_ema`` says which was loaded.
    The module also carries ``checkpoint_path``, ``class_names`` (a labelled run's, else None)
    and ``step`` (the training step it was saved at).
    """
    ckpt = load_checkpoint(path, map_location="cpu")
    cfg = RunConfig.from_dict(ckpt["config"])
    G, _ = build_models(cfg.model, int(ckpt["img_channels"]), int(ckpt["img_size"]))
    G.is_ema = bool(ema and isinstance(ckpt.get("G_ema"), dict))
    G.load_state_dict(ckpt["G_ema"] if G.is_ema else ckpt["G"])
    G.checkpoint_path = str(resolve_checkpoint(path))
    G.class_names = list(ckpt.get("class_names") or []) or None
    G.step = int(ckpt.get("step", 0))
    return G.to(device).eval()


def num_classes(G: nn.Module) -> int:
    """Classes of a conditional G; 0 for an unconditional one."""
    return int(getattr(G, "num_classes", 0) or 0)


def run_G(G: nn.Module, z: torch.Tensor, y: int | torch.Tensor | None = None) -> torch.Tensor:
    """``G(z)`` or ``G(z, y)`` on G's device; ``y`` may be one class id for the whole batch.

    Returns images in G's output range, on G's device.
    """
    device = next(G.parameters()).device
    z = z.to(device)
    k = num_classes(G)
    if k == 0:
        if y is not None:
            raise GanforgeError("this generator is unconditional: it takes no class (drop --class)")
        return G(z)
    if y is None:
        raise GanforgeError(f"this generator is conditional ({k} classes): give a class (--class)")
    if not torch.is_tensor(y):
        y = torch.full((z.shape[0],), int(y), dtype=torch.int64)
    y = y.to(device=device, dtype=torch.int64)
    if y.shape != (z.shape[0],):
        raise ValueError(f"run_G: y must have shape ({z.shape[0]},), got {tuple(y.shape)}")
    return G(z, y)


def _autocast(G: nn.Module, precision: str):
    if precision == "bf16":
        return torch.autocast(next(G.parameters()).device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def render(G: nn.Module, z: torch.Tensor, y: int | torch.Tensor | None = None,
           batch_size: int = 256, *, precision: str = "fp32") -> torch.Tensor:
    """Images of latents ``z`` (N, z_dim) as uint8 (N, C, H, W) on the CPU, in batches.

    G runs in inference mode (its train/eval mode is restored after). y: class ids (N,) or one
    id, for a conditional G. precision: "fp32", or "bf16" for autocast (as the run trains).
    """
    was_training = G.training
    G.eval()
    out = []
    try:
        with _autocast(G, precision):
            for i in range(0, z.shape[0], batch_size):
                yi = y[i:i + batch_size] if torch.is_tensor(y) else y
                out.append(from_model_range(run_G(G, z[i:i + batch_size], yi).float(), G.output).cpu())
    finally:
        G.train(was_training)
    if not out:
        return torch.empty(0, G.img_channels, G.img_size, G.img_size, dtype=torch.uint8)
    return torch.cat(out)


# --------------------------------------------------------------------------- truncation

LATENT_MEAN_NAME = "latent_mean.pt"
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
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save({"mean": mean, "z_dim": z_dim, "n": n, "seed": seed}, tmp)
        tmp.replace(path)
    except OSError as e:
        warnings.warn(f"could not store the latent mean in {path} ({e}); it is recomputed on each use",
                      stacklevel=2)
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


# --------------------------------------------------------------------------- sampling


def latents(n: int, z_dim: int, seed: int) -> torch.Tensor:
    """``n`` normal latents from ``torch.Generator().manual_seed(seed)`` on the CPU: the same
    seed gives the same latents, and so the same images, on any device."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


def generate(G: nn.Module, n: int, seed: int = 0, batch_size: int = 256,
             classes: int | list[int] | torch.Tensor | None = None,
             truncation: float | None = None, precision: str = "fp32") -> torch.Tensor:
    """``n`` new images as uint8 (n, C, H, W) on the CPU.

    seed: the latents come from :func:`latents`, so the same seed gives the same images on any
        device.
    classes: for a class-conditional G, one class id for all images or one per image; default
        cycles through the classes (0, 1, ..., K-1, 0, ...). Unconditional G: must be None.
    truncation: psi of the truncation trick, ``z' = mean + psi (z - mean)`` toward the run's
        mean latent (see :func:`truncate`); None (default) or 1: no truncation.
    precision: "fp32", or "bf16" autocast.
    """
    if n <= 0:
        raise ValueError("n must be positive")
    z = latents(n, G.z_dim, seed)
    if truncation is not None:
        z = truncate(z, latent_mean_for(G), truncation)
    return render(G, z, class_labels(G, n, classes), batch_size=batch_size, precision=precision)


def class_labels(G: nn.Module, n: int, classes: int | list[int] | torch.Tensor | None) -> torch.Tensor | None:
    """int64 labels (n,) for a conditional G (see :func:`generate`), or None for an unconditional one."""
    k = num_classes(G)
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
