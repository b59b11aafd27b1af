"""Projection: the W+ styles ``ws`` (1, num_ws, w_dim) with which a style-based G draws a given
picture, found by optimisation (Karras et al. 2020, section 5, simplified).

Adam moves ``ws``, starting from ``G.w_avg`` on every layer, to lower the pixel mean squared error
in G's range plus ``feature_weight`` times a feature distance. The features are the penultimate
layer of ganforge's own evaluator classifier (the Fashion-MNIST one that ships with the package,
see :mod:`ganforge.metrics.networks`): it reads 28x28 grey images, so both pictures are turned to
grey (BT.601 luma) and resized to 28 px for that term only. G draws with its stored noise maps
(noise mode const; the official projector fits the noise maps too, here they stay as stored), so
only the styles explain the picture and ``ws`` alone carries it to the other tools. As in the paper, noise added to ``ws``
early on (ramped down to none at 3/4 of the steps) helps leave the average face, and the learning
rate ramps up over the first steps and down over the last quarter.

The result file ``projected.pt`` is a plain dict of tensors and values (read with
``torch.load(weights_only=True)``); ``ganforge style-mix --rows DIR/projected.pt`` takes it.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data import to_model_range
from ..errors import ConfigError, GanforgeError
from ..generator import SEED_RANGE, check_seed, has_w_space, map_latents, render_ws, spread_labels
from ..images import atomic_write, make_folder, save_image
from ..latent import seed_latents
from ..progress import progress_bar
from .figures import Cell, Row, draw_figure

PROJECTION_FORMAT = "ganforge-projection"
PROJECTION_VERSION = 1
PROJECTION_NAME = "projected.pt"
FEATURE_EVALUATOR = "fashion-mnist"
LUMA = (0.299, 0.587, 0.114)
MAX_STEPS = 100_000
W_STD_SAMPLES = 2_000  # latents whose w give the typical spread of W (the size of the early noise)
MAX_LR = 1e3  # ws move by about lr per step and W's spread is about 1: far beyond any useful rate


def read_target(path: str | Path, G: nn.Module) -> torch.Tensor:
    """The picture at ``path`` as uint8 (1, C, H, W) at G's channels and size: read with Pillow,
    converted to grey or RGB, the shorter side scaled to G's size (Lanczos) and the centre square
    kept - as ganforge reads an image folder. ConfigError for a missing or unreadable file."""
    from ..data.folder import decode

    p = Path(path).expanduser()
    if p.is_dir():
        raise ConfigError(f"{p}: is a folder (give one image file)")
    if not p.is_file():
        raise ConfigError(f"{p}: no such image file")
    try:
        arr = decode(p, int(G.img_size), "L" if G.img_channels == 1 else "RGB")
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError... for files it cannot read
        raise ConfigError(f"{p}: not an image Pillow can read ({' '.join(str(e).split())[:120]})") from None
    t = torch.from_numpy(arr)
    return (t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]).contiguous()


def feature_network(device: torch.device):
    """A differentiable ``features(x)`` for images x (N, C, H, W) in [-1, 1] (grey to 28 px, as the
    evaluator reads them) from the Fashion-MNIST evaluator, and its name."""
    from ..metrics import load_evaluator

    ex = load_evaluator(FEATURE_EVALUATOR)
    net = ex.net.to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    mean, std, size = float(ex.meta["mean"]), float(ex.meta["std"]), int(ex.size)

    def features(x: torch.Tensor) -> torch.Tensor:
        x = (x + 1) / 2  # [-1, 1] -> [0, 1], as the evaluator's uint8 / 255
        if x.shape[1] == 3:
            x = (x * torch.tensor(LUMA, device=x.device, dtype=x.dtype)[None, :, None, None]).sum(1, keepdim=True)
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return net.features((x - mean) / std)

    return features, f"{ex.name} ({ex.hash})"


def check_settings(steps: int, lr: float, feature_weight: float, noise: float, seed: int) -> None:
    """ConfigError naming the flag of a setting :func:`project` cannot use."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ConfigError(f"--steps: must be from 1 to {MAX_STEPS:,} (got {steps})")
    for flag, v in (("--lr", lr), ("--feature-weight", feature_weight), ("--noise", noise)):
        if not math.isfinite(v) or v < 0 or (flag == "--lr" and v == 0):
            raise ConfigError(f"{flag}: must be a {'positive' if flag == '--lr' else 'non-negative'} number (got {v})")
    if lr > MAX_LR:
        raise ConfigError(f"--lr {lr:g}: at most {MAX_LR:.3g} (typical: 0.01 to 0.1)")
    check_seed(seed)
    if seed + W_STD_SAMPLES > SEED_RANGE[1]:
        raise ConfigError(f"--seed {seed}: at most {SEED_RANGE[1] - W_STD_SAMPLES} (the {W_STD_SAMPLES:,} latents "
                          f"that measure W's spread take the seeds from --seed on)")


@dataclass
class Projection:
    """The result of :func:`project`: ``ws`` (1, num_ws, w_dim) and the loss at each step."""

    ws: torch.Tensor
    loss: torch.Tensor  # (steps,) the total loss at each step
    pixel_loss: torch.Tensor  # (steps,)
    feature_loss: torch.Tensor  # (steps,)
    target: torch.Tensor  # uint8 (1, C, H, W): the picture as G's size and channels
    reconstruction: torch.Tensor  # uint8 (1, C, H, W): G's image of ws
    feature_network: str = ""
    settings: dict = field(default_factory=dict)


def project(G: nn.Module, target: torch.Tensor, steps: int = 300, lr: float = 0.05, feature_weight: float = 0.5,
            noise: float = 0.05, seed: int = 0, progress: bool = True) -> Projection:
    """Find the W+ styles with which G draws ``target`` (uint8 (1, C, H, W) at G's size).

    steps: Adam steps; lr: the peak learning rate (ramped up over the first 5% of the steps and
    down, as a half cosine, over the last 25%); feature_weight: weight of the feature term (0:
    pixels only); noise: size of the noise added to ws early on, as a fraction of the spread of
    W (0: none); seed: seeds that noise and the latents that measure the spread.
    """
    if not has_w_space(G):
        raise ConfigError(f"project needs a style-based generator (a run trained with --arch stylegan2); this "
                          f"run's generator is a {type(G).__name__}")
    check_settings(steps, lr, feature_weight, noise, seed)
    shape = (1, G.img_channels, G.img_size, G.img_size)
    if target.dtype != torch.uint8 or tuple(target.shape) != shape:
        raise ValueError(f"project: target must be uint8 {shape}, got {target.dtype} {tuple(target.shape)}")
    device = next(G.parameters()).device
    features, fname = feature_network(device) if feature_weight > 0 else (None, "")
    w_avg = G.w_avg.detach().float().to(device)
    z = seed_latents(range(seed, seed + W_STD_SAMPLES), G.z_dim)
    w_std = float(((map_latents(G, z, y=spread_labels(G, W_STD_SAMPLES)).to(device) - w_avg)
                   .square().sum(1).mean().sqrt()))
    x_target = to_model_range(target.to(device), G.output)
    f_target = features(x_target) if features else None
    ws = w_avg[None, None].repeat(1, G.num_ws, 1).requires_grad_(True)  # (1, num_ws, w_dim)
    opt = torch.optim.Adam([ws], lr=lr, betas=(0.9, 0.999))
    gen = torch.Generator().manual_seed(seed)
    losses = torch.zeros(3, steps)
    was_training, grads = G.training, [p.requires_grad for p in G.parameters()]
    G.eval()
    for p in G.parameters():
        p.requires_grad_(False)
    try:
        with progress_bar(total=steps, desc="projecting", unit="step", disable=not progress, file=sys.stderr) as bar:
            for i in range(steps):
                t = i / steps
                ramp = min(1.0, (1.0 - t) / 0.25)
                warm = min(1.0, (i + 1) / (0.05 * steps))
                opt.param_groups[0]["lr"] = lr * (0.5 - 0.5 * math.cos(math.pi * ramp)) * warm
                scale = w_std * noise * max(0.0, 1.0 - t / 0.75) ** 2
                w_in = ws + torch.randn(ws.shape, generator=gen).to(device) * scale if scale > 0 else ws
                x = G.synthesis(w_in, "const")
                pix = F.mse_loss(x, x_target)
                feat = ((features(x) - f_target).square().sum(1) / f_target.square().sum(1).clamp_min(1e-8)).mean() \
                    if features else torch.zeros((), device=device)
                loss = pix + feature_weight * feat
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses[:, i] = torch.stack([loss.detach(), pix.detach(), feat.detach()]).cpu()
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
    finally:
        for p, g in zip(G.parameters(), grads):
            p.requires_grad_(g)
        G.train(was_training)
    ws = ws.detach().cpu()
    settings = {"steps": steps, "lr": lr, "feature_weight": feature_weight, "noise": noise, "seed": seed}
    check_finite(ws, losses[0], settings)
    image = render_ws(G, ws, noise_mode="const")
    return Projection(ws, losses[0], losses[1], losses[2], target.cpu(), image, fname, settings)


def check_finite(ws: torch.Tensor, loss: torch.Tensor | None = None, settings: dict | None = None) -> None:
    """ConfigError unless the styles (and the loss at every step) are finite: a diverged
    projection is refused, never written or used. settings: the projection's, for the message."""
    if torch.isfinite(ws).all() and (loss is None or torch.isfinite(loss).all()):
        return
    bad = (~torch.isfinite(loss)).nonzero() if loss is not None else torch.empty(0)
    when = f" at step {int(bad[0]) + 1}" if len(bad) else ""
    given = ", ".join(f"--{k.replace('_', '-')} {settings[k]:g}" for k in ("lr", "noise", "feature_weight")
                      if settings and k in settings)
    raise ConfigError(f"the projection diverged: its loss or styles became NaN or infinite{when}; nothing was "
                      f"written (lower {given or '--lr, --noise or --feature-weight'})")


def loss_rose(res: Projection) -> str | None:
    """A warning when the projection ended with a higher loss than it started with (it diverged
    or the learning rate is too high for this picture), else None."""
    first, last = float(res.loss[0]), float(res.loss[-1])
    if last <= first:
        return None
    return (f"the loss rose from {first:.4g} to {last:.4g}: the projection diverged rather than converged; the "
            f"styles are likely poor (try a smaller --lr than {res.settings.get('lr', 0):g})")


def save_projection(res: Projection, out_dir: str | Path, *, checkpoint: str | None = None,
                    image: str | None = None) -> dict[str, Path]:
    """Write ``projected.pt`` (ws, the loss per step, the run's checkpoint, the image),
    ``reconstruction.png`` and ``compare.png`` (the picture beside G's reconstruction) in ``out_dir``."""
    check_finite(res.ws)
    out = make_folder(out_dir)
    paths = {"projection": out / PROJECTION_NAME, "reconstruction": out / "reconstruction.png",
             "compare": out / "compare.png"}
    blob = {"format": PROJECTION_FORMAT, "version": PROJECTION_VERSION, "ws": res.ws.float().contiguous(),
            "checkpoint": str(checkpoint or ""), "image": str(image or ""), "loss": res.loss,
            "pixel_loss": res.pixel_loss, "feature_loss": res.feature_loss, "feature_network": res.feature_network,
            "settings": dict(res.settings)}
    with atomic_write(paths["projection"]) as tmp, open(tmp, "wb") as f:
        torch.save(blob, f)
    save_image(draw_figure([Row("", [[Cell(res.reconstruction[0])]])], min_cell=128), paths["reconstruction"])
    title = (f"projection: {res.settings.get('steps')} steps, final loss {float(res.loss[-1]):.4f} "
             f"(pixel MSE {float(res.pixel_loss[-1]):.4f})")
    save_image(draw_figure([Row("", [[Cell(res.target[0], "target"), Cell(res.reconstruction[0], "reconstruction")]])],
                           title, min_cell=128), paths["compare"])
    return paths


def load_projection(path: str | Path, G: nn.Module | None = None) -> dict:
    """A ``projected.pt`` file as its dict (weights_only); ``ws`` checked against G's (num_ws, w_dim)."""
    p = Path(path)
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except Exception as e:  # not a torch file, truncated, or holding objects other than tensors
        raise ConfigError(f"{p}: not a projection file from ganforge project ({' '.join(str(e).split())[:100]})") \
            from None
    if not isinstance(blob, dict) or blob.get("format") != PROJECTION_FORMAT or not torch.is_tensor(blob.get("ws")):
        raise ConfigError(f"{p}: not a projection file from ganforge project (write one with: ganforge project RUN "
                          f"IMAGE)")
    ws = blob["ws"]
    if not torch.isfinite(ws).all():
        raise ConfigError(f"{p}: its styles are not finite numbers (NaN or infinity): the projection diverged "
                          f"(project the picture again with a smaller --lr)")
    if G is not None and (ws.dim() != 3 or tuple(ws.shape) != (1, int(G.num_ws), int(G.w_dim))):
        raise GanforgeError(f"{p}: its styles have shape {tuple(ws.shape)}, but this run's generator takes "
                            f"(1, {G.num_ws}, {G.w_dim}): it was projected with another model")
    blob["ws"] = ws.float()
    return blob
