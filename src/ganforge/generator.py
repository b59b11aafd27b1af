"""A trained generator: the one way to load it from a run, and the one way to sample it.

Everything that turns latents into images goes through :func:`render` - the training loop's
fixed-noise grids and evaluations, ``ganforge generate``, ``evaluate``, the latent tools and
export checks - so they all agree on the output range, the class labels and inference mode.
Truncation toward the run's mean latent is here too: :func:`generate` applies it, and the
latent tools (:mod:`ganforge.latent`, which re-exports it) share the same stored mean. A
style-based G (StyleGAN2) is also sampled in W: :func:`map_latents` (z -> w), :func:`truncate_w`
(toward ``G.w_avg``) and :func:`render_ws` (styles -> images).
"""
from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoint import load_checkpoint, resolve_checkpoint
from .config import RunConfig, validate
from .data import from_model_range
from .device import resolve_device
from .errors import CheckpointError, ConfigError, GanforgeError, OlderRunError
from .models import build_models
from .truncation import (LATENT_MEAN_SAMPLES, LATENT_MEAN_SEED, check_truncation, compute_latent_mean,  # noqa: F401
                         latent_mean_for, latent_mean_path, load_latent_mean, truncate)  # (re-exported)


def load_run_config(path: str | Path) -> RunConfig:
    """The resolved config stored in a run's checkpoint (file or run folder)."""
    ckpt = load_checkpoint(path)
    return _stored_config(ckpt, resolve_checkpoint(path))


def _stored_config(ckpt: dict, where: Path) -> RunConfig:
    if not isinstance(ckpt.get("config"), dict):
        raise CheckpointError(f"{where}: damaged checkpoint: no 'config' entry (it was edited or cut; use "
                              f"another checkpoint of the run)")
    try:
        return validate(RunConfig.from_stored(ckpt["config"]))
    except OlderRunError as e:
        raise OlderRunError(f"{where}: {e}") from None
    except (GanforgeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{where}: damaged checkpoint: its stored config does not read "
                              f"({' '.join(str(e).split())[:200]})") from None


def load_weights(G: nn.Module, state: Any, where: str, entry: str = "G", what: str = "checkpoint") -> None:
    """``G.load_state_dict(state)``, checked first: a missing, extra or mis-shaped weight raises
    CheckpointError on one line naming ``where`` (the file), the ``entry`` and the weight.

    what: the kind of file, for the message ("checkpoint", "generator export").
    """
    expected = G.state_dict()
    bad = f"{where}: damaged {what}:"
    if not isinstance(state, dict):
        raise CheckpointError(f"{bad} {entry!r} holds a {type(state).__name__}, "
                              f"not a dict of weights")
    missing = [k for k in expected if k not in state]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise CheckpointError(f"{bad} {entry!r} has no weight {missing[0]!r}{more} "
                              f"(the file was edited or is from another model; use another {what})")
    extra = [k for k in state if k not in expected]
    if extra:
        more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
        raise CheckpointError(f"{bad} {entry!r} has a weight {extra[0]!r}{more} that the "
                              f"model built from its config does not have (use another {what})")
    for k, want in expected.items():
        got = state[k]
        if not torch.is_tensor(got):
            raise CheckpointError(f"{bad} {entry}[{k!r}] is a {type(got).__name__}, "
                                  f"not a tensor")
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(f"{bad} {entry}[{k!r}] has shape {tuple(got.shape)} but "
                                  f"the model built from its config expects {tuple(want.shape)} (use another "
                                  f"{what})")
    try:
        G.load_state_dict(state)
    except RuntimeError as e:  # e.g. a dtype that cannot be copied
        raise CheckpointError(f"{bad} {entry!r} does not load "
                              f"({' '.join(str(e).split())[:200]})") from None


def load_generator(path: str | Path, device: str | torch.device = "cpu", ema: bool = True) -> nn.Module:
    """Rebuild G from a checkpoint (file or run folder) using only its stored config; eval mode.

    device: where G goes ("cpu", "cuda", "cuda:N" or "auto"); checked before the file is read,
        which is always read onto the CPU first.
    ema: use the exponential moving average of G's weights (G_ema) when the run kept one
        (``--ema-kimg``); ``G.is_ema`` says which was loaded.
    The module also carries ``checkpoint_path``, ``class_names`` (a labelled run's, else None)
    and ``step`` (the training step it was saved at). A damaged or hand-edited checkpoint raises
    CheckpointError naming the file and what is wrong.
    """
    dev = resolve_device(device)
    where = resolve_checkpoint(path)
    ckpt = load_checkpoint(where, map_location="cpu")
    cfg = _stored_config(ckpt, where)
    try:
        channels, size = int(ckpt["img_channels"]), int(ckpt["img_size"])
    except KeyError as e:
        raise CheckpointError(f"{where}: damaged checkpoint: no {e.args[0]!r} entry (use another checkpoint "
                              f"of the run)") from None
    except (TypeError, ValueError):
        raise CheckpointError(f"{where}: damaged checkpoint: img_channels/img_size are not numbers") from None
    try:
        G, _ = build_models(cfg.model, channels, size)
    except (GanforgeError, RuntimeError, ValueError, TypeError, MemoryError) as e:  # e.g. absurd sizes
        raise CheckpointError(f"{where}: damaged checkpoint: its stored model does not build "
                              f"({' '.join(str(e).split())[:160]})") from None
    G.is_ema = bool(ema and isinstance(ckpt.get("G_ema"), dict))
    entry = "G_ema" if G.is_ema else "G"
    if entry not in ckpt:
        raise CheckpointError(f"{where}: damaged checkpoint: no 'G' entry (the generator's weights; use another "
                              f"checkpoint of the run)")
    load_weights(G, ckpt[entry], str(where), entry)
    names, step = ckpt.get("class_names"), ckpt.get("step", 0)
    if names is not None and not (isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)):
        raise CheckpointError(f"{where}: damaged checkpoint: 'class_names' is {names!r:.60}, not a list of names")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{where}: damaged checkpoint: 'step' is {step!r:.60}, not a step number")
    G.checkpoint_path = str(where)
    G.class_names = list(names or []) or None
    G.step = step
    fp = ckpt.get("data_fingerprint")
    G.data_fingerprint = fp if isinstance(fp, dict) else None  # to recognise the run's data after a move
    return G.to(dev).eval()


def num_classes(G: nn.Module) -> int:
    """Classes of a conditional G; 0 for an unconditional one."""
    return int(getattr(G, "num_classes", 0) or 0)


NOISE_MODES = ("random", "const", "none")


def has_noise(G: nn.Module) -> bool:
    """Whether G adds noise to its layers (a StyleGAN2), so that a noise mode applies."""
    return callable(getattr(G, "synthesis", None)) and hasattr(G, "num_ws")


def check_noise_mode(mode: str, flag: str = "--noise-mode") -> str:
    """random, const or none, else ConfigError naming ``flag``."""
    if mode not in NOISE_MODES:
        raise ConfigError(f"{flag}: must be random, const or none (got {mode!r})")
    return mode


def noise_seeds(seed: int, n: int, start: int = 0) -> torch.Tensor:
    """The random-noise seeds of images ``start .. start + n - 1`` of ``seed`` (int64 (n,)): image
    i's noise depends on (seed, i) alone, as its latent does, so ``generate -n 1 --seed s`` draws
    what the first image of any ``generate --seed s`` draws."""
    def one(i: int) -> int:
        return int.from_bytes(hashlib.sha256(f"ganforge-noise:{seed}:{i}".encode()).digest()[:7], "little")

    return torch.tensor([one(i) for i in range(start, start + n)], dtype=torch.int64)


def _noise_kwargs(G: nn.Module, noise_mode: str, seeds: torch.Tensor | None) -> dict[str, Any]:
    if not has_noise(G):
        return {}
    return {"noise_mode": check_noise_mode(noise_mode), "noise_seeds": seeds}


def run_G(G: nn.Module, z: torch.Tensor, y: int | torch.Tensor | None = None, *, noise_mode: str = "random",
          noise_seeds: torch.Tensor | None = None) -> torch.Tensor:
    """``G(z)`` or ``G(z, y)`` on G's device; ``y`` may be one class id for the whole batch.
    noise_mode, noise_seeds: for a G with noise layers (see :func:`has_noise`); others ignore them.

    Returns images in G's output range, on G's device.
    """
    device = next(G.parameters()).device
    z = z.to(device)
    kw = _noise_kwargs(G, noise_mode, noise_seeds)
    y = _labels(G, z.shape[0], y, device)
    return G(z, **kw) if y is None else G(z, y, **kw)


def _labels(G: nn.Module, n: int, y: int | torch.Tensor | None, device) -> torch.Tensor | None:
    """int64 labels (n,) on ``device`` for a conditional G (None for an unconditional one)."""
    k = num_classes(G)
    if k == 0:
        if y is not None:
            raise GanforgeError("this generator is unconditional: it takes no class (drop --class)")
        return None
    if y is None:
        raise GanforgeError(f"this generator is conditional ({k} classes): give a class (--class)")
    if not torch.is_tensor(y):
        y = torch.full((n,), int(y), dtype=torch.int64)
    y = y.to(device=device, dtype=torch.int64)
    if y.shape != (n,):
        raise ValueError(f"run_G: y must have shape ({n},), got {tuple(y.shape)}")
    return y


def check_batch_size(batch_size: int, flag: str = "--batch-size") -> int:
    """A positive number of images per forward pass, else ConfigError naming ``flag``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ConfigError(f"{flag}: must be a positive number of images per forward pass (got {batch_size})")
    return batch_size


def _autocast(G: nn.Module, precision: str):
    if precision == "bf16":
        return torch.autocast(next(G.parameters()).device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _batched(G: nn.Module, n: int, fn, batch_size: int, precision: str, empty: torch.Tensor) -> torch.Tensor:
    """``torch.cat`` of ``fn(i, j)`` (rows i:j, moved to the CPU) over batches of ``n`` rows, with G
    in inference mode (its mode restored after) under the precision's autocast; ``empty`` if n = 0."""
    check_batch_size(batch_size)
    was_training = G.training
    G.eval()
    out = []
    try:
        with torch.no_grad(), _autocast(G, precision):
            for i in range(0, n, batch_size):
                out.append(fn(i, i + batch_size).cpu())
    finally:
        G.train(was_training)
    return torch.cat(out) if out else empty


def render(G: nn.Module, z: torch.Tensor, y: int | torch.Tensor | None = None,
           batch_size: int = 256, *, precision: str = "fp32", noise_mode: str = "random",
           noise_seeds: torch.Tensor | None = None) -> torch.Tensor:
    """Images of latents ``z`` (N, z_dim) as uint8 (N, C, H, W) on the CPU, in batches.

    G runs in inference mode (its train/eval mode is restored after). y: class ids (N,) or one
    id, for a conditional G. precision: "fp32", or "bf16" for autocast (as the run trains).
    noise_mode: random, const or none, for a G with noise layers; noise_seeds: (N,), one per
    image (see :func:`noise_seeds`; without them random noise comes from torch's global RNG).
    """
    def draw(i: int, j: int) -> torch.Tensor:
        seeds = noise_seeds[i:j] if noise_seeds is not None else None
        return from_model_range(run_G(G, z[i:j], y[i:j] if torch.is_tensor(y) else y, noise_mode=noise_mode,
                                      noise_seeds=seeds).float(), G.output)

    empty = torch.empty(0, G.img_channels, G.img_size, G.img_size, dtype=torch.uint8)
    return _batched(G, z.shape[0], draw, batch_size, precision, empty)


# --------------------------------------------------------------------------- W space (style-based G)


def has_w_space(G: nn.Module) -> bool:
    """Whether G is style-based: ``G.mapping`` (z -> w), ``G.synthesis`` (ws -> images), ``G.w_avg``."""
    return (callable(getattr(G, "mapping", None)) and callable(getattr(G, "synthesis", None))
            and torch.is_tensor(getattr(G, "w_avg", None)))


def map_latents(G: nn.Module, z: torch.Tensor, batch_size: int = 256, *, precision: str = "fp32",
                y: int | torch.Tensor | None = None) -> torch.Tensor:
    """``G.mapping`` of latents ``z`` (N, z_dim) [and classes y, for a conditional G]: w (N, w_dim)
    float32 on the CPU, in batches, in inference mode (as :func:`render`)."""
    device = next(G.parameters()).device

    def draw(i: int, j: int) -> torch.Tensor:
        rows = z[i:j].to(device)
        labels = _labels(G, rows.shape[0], y[i:j] if torch.is_tensor(y) else y, device)
        return (G.mapping(rows) if labels is None else G.mapping(rows, labels)).float()

    return _batched(G, z.shape[0], draw, batch_size, precision, torch.empty(0, int(G.w_dim)))


def spread_labels(G: nn.Module, n: int) -> torch.Tensor | None:
    """Classes 0, 1, ..., K-1, 0, ... for ``n`` latents of a conditional G (None otherwise): for
    statistics over all of G's W (its spread, its directions' scale), not for one class."""
    k = num_classes(G)
    return torch.arange(n) % k if k else None


def truncate_w(G: nn.Module, w: torch.Tensor, psi: float | None) -> torch.Tensor:
    """The truncation trick in W: ``w_avg + psi (w - w_avg)`` toward G's running mean of w
    (:meth:`~ganforge.models.stylegan2.StyleGAN2Generator.truncate`), for w (N, w_dim) or
    ws (N, num_ws, w_dim) on the CPU. psi 1 (or None) returns ``w`` as it is; 0 gives ``w_avg``."""
    return truncate(w, G.w_avg.detach().float().cpu(), psi)


def render_ws(G: nn.Module, ws: torch.Tensor, batch_size: int = 256, *, precision: str = "fp32",
              noise_mode: str = "random", noise_seeds: torch.Tensor | None = None) -> torch.Tensor:
    """Images of styles as uint8 (N, C, H, W) on the CPU: ``G.synthesis`` of ws (N, num_ws, w_dim),
    or of one w (N, w_dim) for every layer; batches, inference mode, precision and noise as
    :func:`render`."""
    device = next(G.parameters()).device
    check_noise_mode(noise_mode)

    def draw(i: int, j: int) -> torch.Tensor:
        seeds = noise_seeds[i:j] if noise_seeds is not None else None
        return from_model_range(G.synthesis(ws[i:j].to(device), noise_mode, seeds).float(), G.output)

    empty = torch.empty(0, G.img_channels, G.img_size, G.img_size, dtype=torch.uint8)
    return _batched(G, ws.shape[0], draw, batch_size, precision, empty)


# --------------------------------------------------------------------------- sampling


SEED_RANGE = (0, 2 ** 64)  # what every ganforge command takes (torch also takes negatives, which wrap around)
MAX_IMAGES = 10_000_000  # images one call of generate makes (in memory at once)


def check_seed(seed: int, flag: str = "--seed") -> int:
    """A seed in :data:`SEED_RANGE`, else ConfigError naming ``flag`` and the value: the one seed
    check of every command that draws latents from a seed."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_RANGE[0] <= seed < SEED_RANGE[1]:
        raise ConfigError(f"{flag} {seed}: out of range (a seed is an integer from {SEED_RANGE[0]} to "
                          f"{SEED_RANGE[1] - 1})")
    return seed


def latents(n: int, z_dim: int, seed: int) -> torch.Tensor:
    """``n`` normal latents from ``torch.Generator().manual_seed(seed)`` on the CPU: the same
    seed gives the same latents, and so the same images, on any device."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(check_seed(seed)))


def generate(G: nn.Module, n: int, seed: int = 0, batch_size: int = 256,
             classes: int | list[int] | torch.Tensor | None = None,
             truncation: float | None = None, precision: str = "fp32", noise_mode: str = "random",
             z: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` new images as uint8 (n, C, H, W) on the CPU.

    seed: the latents come from :func:`latents`, so the same seed gives the same images on any
        device.
    classes: for a class-conditional G, one class id for all images or one per image; default
        cycles through the classes (0, 1, ..., K-1, 0, ...). Unconditional G: must be None.
    truncation: psi of the truncation trick, ``z' = mean + psi (z - mean)`` toward the run's
        mean latent (see :func:`truncate`); for a style-based G (:func:`has_w_space`) it applies
        in W instead: ``w' = w_avg + psi (w - w_avg)`` (:func:`truncate_w`). None (default) or 1:
        no truncation.
    precision: "fp32", or "bf16" autocast.
    noise_mode: for a G with noise layers: "random" (each image's own noise, from (seed, i):
        see :func:`noise_seeds`), "const" (the stored maps) or "none".
    z: latents (n, z_dim) to draw instead of the seed's (:func:`read_latents`); the seed then
        gives only the random noise.
    """
    if z is not None:
        if z.dim() != 2 or z.shape[1] != G.z_dim:
            raise ConfigError(f"latents: this generator takes (N, {G.z_dim}), not {tuple(z.shape)}")
        n = int(z.shape[0])
    if n <= 0:
        raise ConfigError(f"-n: must be positive (got {n})")
    if n > MAX_IMAGES:
        raise ConfigError(f"-n {n}: at most {MAX_IMAGES:,} images at a time (make several batches with "
                          f"other --seed values)")
    check_seed(seed)
    check_batch_size(batch_size)
    check_noise_mode(noise_mode)
    z = latents(n, G.z_dim, seed) if z is None else z.float()
    y = class_labels(G, n, classes)
    seeds = noise_seeds(seed, n) if has_noise(G) and noise_mode == "random" else None
    if truncation is not None and has_w_space(G):  # style-based G: truncate w, not z
        w = truncate_w(G, map_latents(G, z, batch_size, precision=precision, y=y), truncation)
        return render_ws(G, w, batch_size, precision=precision, noise_mode=noise_mode, noise_seeds=seeds)
    if truncation is not None:
        z = truncate(z, latent_mean_for(G), truncation)
    return render(G, z, y, batch_size=batch_size, precision=precision, noise_mode=noise_mode, noise_seeds=seeds)


def read_latents(path: str | Path, z_dim: int, flag: str = "--latents") -> torch.Tensor:
    """Latents from a ``.npy`` file: a float array (N, z_dim), or one latent (z_dim,); finite, at
    most :data:`MAX_IMAGES` rows. Anything else raises ConfigError naming ``flag``."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise ConfigError(f"{flag} {path}: give a .npy file of float latents (N, {z_dim})")
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ConfigError(f"{flag} {path}: no such file") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"{flag} {path}: not a readable .npy array ({' '.join(str(e).split())[:120]})") from None
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != z_dim or arr.dtype.kind not in "fiu" or not 0 < arr.shape[0] <= MAX_IMAGES:
        raise ConfigError(f"{flag} {path}: holds a {arr.dtype} array {arr.shape}; this generator takes float latents "
                          f"(N, {z_dim}) with 1 <= N <= {MAX_IMAGES:,}")
    z = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if not torch.isfinite(z).all():
        raise ConfigError(f"{flag} {path}: holds NaN or infinite values")
    return z


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
