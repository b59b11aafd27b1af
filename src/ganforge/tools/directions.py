"""Semantic directions: the few latent directions along which a trained G changes its images the
most, found in closed form, and images moved along them.

* **StyleGAN2: SeFa** (Shen & Zhou 2021, "Closed-Form Factorization of Latent Semantics in
  GANs"). Every synthesis layer turns w into its styles with an affine map ``s = A w + b``. A
  direction ``d`` in W moves a layer's styles by ``A d``, so the directions that move the chosen
  layers' styles the most are the top eigenvectors of ``AᵀA``, with A the chosen layers' affine
  weights stacked (one row per style channel, each row scaled to unit length as in the paper, so
  every channel has the same say whatever its layer's weight scale). No sampling, no training.
  An edit adds the direction to the ws of those layers only.
* **Other generators (DCGAN and the rest): PCA of what the latents produce**, as GANSpace
  (Härkönen et al. 2020) does for generators without a W space. z is isotropic, so PCA of z
  itself finds nothing; PCA of G's *images* over many latents finds the directions in which the
  pictures vary most, and a least-squares regression of z on the principal-component scores
  brings each one back to a direction in Z. The features are the output pixels rather than an
  inner layer: they exist for every family without knowing its layers, and they are what the user
  sees. A conditional run's latents are drawn with the classes in turn, so the directions are
  shared by all classes (the class itself is the page's class control, not a direction).

Slider units: an amount ``a`` moves a point by ``a`` standard deviations of the latents along the
direction (``sigma``): in Z that is exactly 1 (z ~ N(0, I), d a unit vector); in W it is measured
on :data:`SIGMA_SAMPLES` latents, since W is not isotropic. ``ganforge directions`` and ``ganforge
explore`` use the same functions, so an image on the page is the image the command writes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import torch
from PIL import Image
from torch import nn

from ..errors import ConfigError
from ..generator import (class_labels, has_w_space, latents, map_latents, noise_seeds, render, render_ws,
                         spread_labels, truncate_w)
from ..images import MAX_GRID_IMAGES, make_grid, save_image
from ..latent import latent_mean_for, seed_latents, truncate
from .figures import Cell, Row, draw_figure, save_animation

PCA_SAMPLES = 2_000  # latents whose images the PCA reads (a few seconds on a CPU for 32-px images)
PCA_SEED = 0  # the same sample every time, so the directions of a run never change
SIGMA_SAMPLES = 2_000  # latents whose w measure the spread of W along each direction
MAX_DIRECTIONS = 64
MAX_AMOUNT = 10.0  # standard deviations; beyond this a G draws noise


@dataclass
class Directions:
    """A generator's principal semantic directions, strongest first.

    vectors: (K, dim) unit rows in W (``space`` "w") or Z ("z"); strength: (K,) the eigenvalues
    of AᵀA (SeFa) or the variance of the images along each component (PCA); sigma: (K,) the
    latents' standard deviation along each direction, the unit of an amount; layers: the ws
    range ``[start, stop)`` an edit changes (W), None in Z.
    """

    space: str
    method: str  # "sefa" or "pca"
    vectors: torch.Tensor
    strength: torch.Tensor
    sigma: torch.Tensor
    layers: tuple[int, int] | None = None
    layer_spec: str = "all"

    @property
    def share(self) -> torch.Tensor:
        """(K,) each direction's strength as a fraction of all the strength found."""
        total = float(self.strength.sum())
        return self.strength / total if total > 0 else torch.zeros_like(self.strength)


def _fix_sign(vectors: torch.Tensor) -> torch.Tensor:
    """Eigenvectors have no sign of their own: make each row's largest entry positive, so the
    same run always gives the same +/- (and a figure's left and right never swap)."""
    idx = vectors.abs().argmax(dim=1)
    sign = torch.sign(vectors.gather(1, idx[:, None]))
    return vectors * torch.where(sign == 0, torch.ones_like(sign), sign)


def parse_direction_layers(spec: str, G: nn.Module, flag: str = "--layers") -> tuple[int, int]:
    """``all``, ``coarse``, ``middle``, ``fine`` or ws indices ``A-B`` -> ``[start, stop)``."""
    from .style_mixing import parse_layers

    if str(spec).strip().lower() == "all":
        return 0, int(G.num_ws)
    return parse_layers(spec, G, flag)


def style_affines(G: nn.Module) -> list[tuple[int, nn.Module]]:
    """(ws index, the affine layer A that reads it) for every style input of a StyleGAN2 G: the
    synthesis convs and toRGB layers in ws order (see
    :meth:`~ganforge.models.stylegan2.StyleGAN2Generator.style_layers`)."""
    return [(i, layer.affine) for i, layer in G.style_layers()]


def sefa(G: nn.Module, layers: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """SeFa on the affine layers reading ws ``layers`` (default all): (eigenvalues (w_dim,),
    eigenvectors (w_dim, w_dim) as rows), largest first, float32 on the CPU."""
    start, stop = layers or (0, int(G.num_ws))
    rows = [aff.weight.detach().double().cpu() * aff.weight_gain for i, aff in style_affines(G) if start <= i < stop]
    if not rows:
        raise ConfigError(f"--layers: no style layers in ws {start}-{stop - 1}")
    A = torch.cat(rows)  # (style channels, w_dim): one row per channel of every chosen layer
    A = A / A.norm(dim=1, keepdim=True).clamp_min(1e-12)
    values, vectors = torch.linalg.eigh(A.T @ A)  # ascending, columns
    order = torch.argsort(values, descending=True)
    return values[order].float(), _fix_sign(vectors[:, order].T).float()


def pca_directions(G: nn.Module, samples: int = PCA_SAMPLES, seed: int = PCA_SEED,
                   batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA of G's images of ``samples`` latents (seeded ``seed``), each component regressed back to
    Z: (variance (K,), unit directions (K, z_dim)), strongest first, K = min(samples - 1, z_dim)."""
    z = latents(samples, int(G.z_dim), seed)
    y = class_labels(G, samples, None)  # a conditional G: the classes in turn
    x = render(G, z, y, batch_size).flatten(1).double() / 255.0  # (N, C*H*W) in [0, 1]
    x = x - x.mean(0)
    k = min(samples - 1, int(G.z_dim), x.shape[1])
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    scores = u[:, :k] * s[:k]  # (N, K) principal-component scores
    # z ~ scores @ U: the scores' columns are orthogonal, so each row of U is that component's
    # own regression and does not depend on how many components are kept
    U = torch.linalg.lstsq(scores, z.double() - z.double().mean(0)).solution  # (K, z_dim)
    vectors = U / U.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (s[:k].square() / (samples - 1)).float(), _fix_sign(vectors).float()


def find_directions(G: nn.Module, layers: str = "all", batch_size: int = 256) -> Directions:
    """The semantic directions of G: SeFa on the ``layers`` of a style-based G (all, coarse,
    middle, fine or A-B), else PCA of its images (``layers`` must then be "all")."""
    if has_w_space(G):
        start, stop = parse_direction_layers(layers, G)
        strength, vectors = sefa(G, (start, stop))
        w = map_latents(G, latents(SIGMA_SAMPLES, int(G.z_dim), PCA_SEED), batch_size,
                        y=spread_labels(G, SIGMA_SAMPLES))
        sigma = ((w - w.mean(0)) @ vectors.T).std(0)
        return Directions("w", "sefa", vectors, strength, sigma, (start, stop), str(layers).strip().lower())
    if str(layers).strip().lower() != "all":
        raise ConfigError(f"--layers {layers}: only a style-based generator (StyleGAN2) has layers to choose; "
                          f"this run's {type(G).__name__} takes --layers all")
    strength, vectors = pca_directions(G, batch_size=batch_size)
    return Directions("z", "pca", vectors, strength, torch.ones(len(strength)))


# --------------------------------------------------------------------------- edits

def parse_edits(items: Sequence[str], flag: str = "--edit") -> dict[int, float]:
    """``["0=1.5", "3=-2"]`` (or one item ``"0=1.5,3=-2"``) -> {direction: amount in sigmas}."""
    out: dict[int, float] = {}
    for item in items:
        for part in str(item).split(","):
            m = re.fullmatch(r"\s*(\d+)\s*[=:]\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*", part)
            if not m:
                raise ConfigError(f"{flag} {part.strip()!r}: write DIRECTION=AMOUNT, e.g. {flag} 0=1.5 (amount in "
                                  f"standard deviations)")
            k, a = int(m.group(1)), float(m.group(2))
            if k >= MAX_DIRECTIONS or abs(a) > MAX_AMOUNT:
                raise ConfigError(f"{flag} {part.strip()}: directions 0-{MAX_DIRECTIONS - 1}, amounts from "
                                  f"-{MAX_AMOUNT:g} to {MAX_AMOUNT:g}")
            out[k] = out.get(k, 0.0) + a
    return out


def check_edits(dirs: Directions, edits: Mapping[int, float], flag: str = "--edit") -> None:
    """ConfigError when an edit names a direction that ``dirs`` does not have."""
    for k in edits:
        if not 0 <= k < len(dirs.vectors):
            raise ConfigError(f"{flag} {k}=...: this generator has directions 0-{len(dirs.vectors) - 1}")


def offset(dirs: Directions, edits: Mapping[int, float]) -> torch.Tensor:
    """The move ``sum_k a_k sigma_k d_k`` (dim,) of the edits {k: a_k}."""
    check_edits(dirs, edits)
    out = torch.zeros(dirs.vectors.shape[1])
    for k, a in sorted(edits.items()):
        if a:
            out = out + (float(a) * float(dirs.sigma[k])) * dirs.vectors[k]
    return out


def seed_points(G: nn.Module, seeds: Sequence[int], truncation: float | None = None,
                batch_size: int = 256, y: int | None = None) -> torch.Tensor:
    """The points of ``seeds`` as the generator draws them, truncated: ws (N, num_ws, w_dim) for a
    style-based G (w on every layer; mapped with class ``y`` for a conditional one), z (N, z_dim)
    otherwise. Seed s is ``generate -n 1 --seed s``."""
    z = seed_latents(list(seeds), int(G.z_dim))
    if has_w_space(G):
        w = map_latents(G, z, batch_size, y=y)
        if truncation is not None:
            w = truncate_w(G, w, truncation)
        return w[:, None].expand(-1, int(G.num_ws), -1).clone()
    return truncate(z, latent_mean_for(G), truncation) if truncation is not None else z


def apply_edits(dirs: Directions, points: torch.Tensor, edits: Mapping[int, float]) -> torch.Tensor:
    """Points moved by the edits: in W only the direction's layers move (SeFa), in Z the whole z."""
    move = offset(dirs, edits)
    out = points.clone()
    if dirs.space == "w":
        a, b = dirs.layers
        out[:, a:b] += move
    else:
        out += move
    return out


def draw_points(G: nn.Module, points: torch.Tensor, y: int | torch.Tensor | None = None,
                batch_size: int = 256, noise_mode: str = "random", noise_seed: int = 0) -> torch.Tensor:
    """uint8 images (N, C, H, W) of points from :func:`seed_points` or :func:`apply_edits`.

    The one place that draws an edited point, for the command and the page alike. noise_mode: a
    StyleGAN2's layer noise - "random" (one draw for every image, image 0's of ``noise_seed`` in
    ``generate``, so an edit of nothing from seed s is ``generate -n 1 --seed s``'s image and an
    edit changes only what the direction changes), "const" (the stored maps) or "none"."""
    if has_w_space(G):
        seeds = noise_seeds(noise_seed, 1).expand(points.shape[0]) if noise_mode == "random" else None
        return render_ws(G, points, batch_size, noise_mode=noise_mode, noise_seeds=seeds)
    return render(G, points, y, batch_size)


# --------------------------------------------------------------------------- the figure

def directions_figure(G: nn.Module, dirs: Directions, base: torch.Tensor, source: str, count: int = 5,
                      steps: int = 7, span: float = 3.0, y: int | None = None, batch_size: int = 256,
                      class_label: str | None = None, noise_mode: str = "random", noise_seed: int = 0) -> Image.Image:
    """One row per direction (the first ``count``), columns from ``-span`` to ``+span`` sigmas
    (``steps`` of them) around ``base`` (one point (1, ...) from :func:`seed_points`)."""
    count = min(count, len(dirs.vectors))
    amounts = torch.linspace(-span, span, steps).tolist()
    points = torch.cat([apply_edits(dirs, base, {k: a}) for k in range(count) for a in amounts])
    images = draw_points(G, points, y, batch_size, noise_mode, noise_seed)
    images = images.reshape(count, steps, *images.shape[1:])
    rows = []
    for k in range(count):
        cells = [Cell(images[k, i], f"{a:+.1f}" if k == 0 else "") for i, a in enumerate(amounts)]
        rows.append(Row(f"direction {k}\n{100 * float(dirs.share[k]):.1f}%", [cells]))
    what = (f"SeFa on ws {dirs.layers[0]}-{dirs.layers[1] - 1} ({dirs.layer_spec})" if dirs.method == "sefa"
            else "PCA of the images, regressed to Z")
    title = (f"semantic directions of {source}{f', class {class_label}' if class_label else ''}: {what}\n"
             f"columns from {-span:+g} to {span:+g} standard deviations; % = share of the strength")
    return draw_figure(rows, title)


def save_directions(G: nn.Module, dirs: Directions, base: torch.Tensor, path: str | Path, **kw) -> Path:
    """Write :func:`directions_figure` as a PNG."""
    return save_image(directions_figure(G, dirs, base, **kw), Path(path))


# --------------------------------------------------------------------------- walks along one direction
@dataclass
class DirectionWalk:
    """Seeds moved along direction ``direction``: ``frames[s, i]`` is seed s at ``amounts[i]``
    standard deviations (``ganforge interpolate --direction``)."""

    seeds: list[int]
    direction: int
    amounts: list[float]
    frames: torch.Tensor  # uint8 (seeds, steps, C, H, W)
    dirs: Directions
    truncation: float | None = None
    class_id: int | None = None


def walk_direction(G: nn.Module, seeds: Sequence[int], direction: int, steps: int = 9, span: float = 3.0,
                   truncation: float | None = None, y: int | None = None, layers: str = "all", batch_size: int = 256,
                   noise_mode: str = "random") -> DirectionWalk:
    """Each seed's point (:func:`seed_points`) moved from ``-span`` to ``+span`` standard deviations
    along semantic direction ``direction`` (:func:`find_directions` on ``layers``), ``steps``
    images each. With random noise every image of a seed draws that seed's own noise, so the
    amount 0 is its ``generate`` image."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("--seeds: give at least one seed to move")
    if not 2 <= steps <= 1000:
        raise ConfigError(f"--steps: from 2 to 1,000 images per seed (got {steps})")
    if not 0 < span <= MAX_AMOUNT:
        raise ConfigError(f"--span: from 0 (exclusive) to {MAX_AMOUNT:g} standard deviations (got {span})")
    if len(seeds) * steps > MAX_GRID_IMAGES:
        raise ConfigError(f"--seeds/--steps: {len(seeds)} x {steps} images, more than a figure holds "
                          f"({MAX_GRID_IMAGES:,})")
    dirs = find_directions(G, layers, batch_size)
    check_edits(dirs, {direction: span}, "--direction")
    amounts = torch.linspace(-span, span, steps).tolist()
    rows = []
    for s in seeds:
        base = seed_points(G, [s], truncation, batch_size, y if has_w_space(G) else None)
        points = torch.cat([apply_edits(dirs, base, {direction: a}) for a in amounts])
        rows.append(draw_points(G, points, y, batch_size, noise_mode, noise_seed=s))
    return DirectionWalk(seeds, direction, amounts, torch.stack(rows), dirs, truncation, y)


def save_direction_walk(walk: DirectionWalk, prefix: str | Path, ms_per_frame: int = 100,
                        class_label: str | None = None) -> tuple[Path, Path]:
    """``PREFIX.png`` (one row per seed, the amounts above) and ``PREFIX.gif`` (every seed side by
    side, going from -span to +span and back)."""
    prefix = Path(prefix)
    rows = [Row(f"seed {s}", [[Cell(walk.frames[r, i], f"{a:+.1f}" if r == 0 else "")
                               for i, a in enumerate(walk.amounts)]]) for r, s in enumerate(walk.seeds)]
    d = walk.dirs
    what = f"SeFa on ws {d.layers[0]}-{d.layers[1] - 1}" if d.method == "sefa" else "PCA of the images"
    extra = (f", truncation psi={walk.truncation:g}" if walk.truncation is not None else "") + \
        (f", class {class_label or walk.class_id}" if walk.class_id is not None else "")
    title = (f"along semantic direction {walk.direction} ({what}{extra}): columns from {walk.amounts[0]:+g} to "
             f"{walk.amounts[-1]:+g} standard deviations")
    png = save_image(draw_figure(rows, title), prefix.with_name(prefix.name + ".png"))
    order = list(range(len(walk.amounts))) + list(range(len(walk.amounts) - 2, 0, -1))  # there and back
    tiles = torch.stack([torch.from_numpy(make_grid(walk.frames[:, i], nrow=len(walk.seeds))).permute(2, 0, 1)
                         for i in order])
    gif = save_animation(tiles, prefix.with_name(prefix.name + ".gif"), ms_per_frame=ms_per_frame)
    return png, gif
