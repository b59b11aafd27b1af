"""Interpolation walks: images along a path through seed latents, as a labelled grid and a GIF."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..errors import GanforgeError
from ..images import MAX_GIF_FRAME_MS, MAX_GIF_FRAMES, MAX_GRID_IMAGES, gif_delay_ms, save_image
from ..generator import noise_seeds
from ..latent import interpolate_path
from .figures import Cell, Row, draw_figure, save_animation
from .spaces import latent_space


@dataclass
class Interpolation:
    """A walk through seed latents. ``frames[s, i]`` is step i of segment s (seed s -> s+1)."""

    seeds: list[int]
    mode: str
    truncation: float | None
    latents: torch.Tensor  # (segments, steps, z_dim), or (segments, steps, w_dim) in W
    frames: torch.Tensor  # uint8 (segments, steps, C, H, W)
    class_id: int | None = None
    space: str = "z"  # where the walk went: "z" or "w"


MAX_STEPS = 1_000  # images per segment: beyond this, neighbouring frames differ by nothing visible
MIN_FRAME_MS = 10  # a GIF stores frame times in hundredths of a second; 0 plays at each viewer's own speed


def check_frame_ms(ms: int, flag: str = "--ms-per-frame") -> int:
    """The frame time a GIF can store for ``ms``: from 10 to 655,350 ms, rounded to the nearest
    10 ms (:func:`~ganforge.images.gif_delay_ms`); anything else is refused, naming ``flag``."""
    if not MIN_FRAME_MS <= ms <= MAX_GIF_FRAME_MS:
        raise GanforgeError(f"{flag} {ms}: a GIF frame lasts {MIN_FRAME_MS} to {MAX_GIF_FRAME_MS:,} ms (its time "
                            f"is stored in hundredths of a second)")
    return gif_delay_ms(ms)



def check_walk(n_seeds: int, steps: int, loop: bool = True) -> None:
    """Refuse a walk too small to be one, or too big to draw, before any image is rendered:
    at most :data:`MAX_STEPS` steps per segment, :data:`~ganforge.images.MAX_GRID_IMAGES`
    images in the grid and :data:`~ganforge.images.MAX_GIF_FRAMES` frames in the GIF."""
    if n_seeds < 2:
        raise GanforgeError(f"--seeds: give at least 2 seeds to walk between (got {n_seeds})")
    if steps < 2:
        raise GanforgeError(f"--steps: need at least 2 (the two ends), got {steps}")
    if steps > MAX_STEPS:
        raise GanforgeError(f"--steps {steps}: too many steps per segment (at most {MAX_STEPS:,}; "
                            f"lower --steps, or use more seeds)")
    segments = n_seeds if loop else n_seeds - 1
    if segments * steps > MAX_GRID_IMAGES or segments * (steps - 1) > MAX_GIF_FRAMES:
        raise GanforgeError(f"--seeds/--steps: {segments} segments x {steps} steps is {segments * steps:,} images, "
                            f"too many for a grid and a GIF (at most {MAX_GRID_IMAGES:,} images and "
                            f"{MAX_GIF_FRAMES:,} frames; use fewer seeds or lower --steps)")


@torch.no_grad()
def interpolate(G: nn.Module, seeds: Sequence[int], steps: int = 8, mode: str | None = None,
                truncation: float | None = None, y: int | None = None, loop: bool = True,
                batch_size: int = 256, space: str | None = None, noise_mode: str = "random") -> Interpolation:
    """Images along a path through the latents of ``seeds``, in order, and back to the first.

    space: "z" walks between the seeds' latents; "w" (a style-based G, and its default) maps them
    to w first and walks in W. mode: ``slerp`` (norm-preserving, the default in Z) or ``lerp``
    (the default in W, where points are not Gaussian). truncation: psi toward the mean latent (in
    W: toward ``G.w_avg``), applied to every point of the path after interpolating, so each seed's
    frame equals ``generate(G, 1, seed, truncation=psi)``. y: the class, for a conditional G (in
    W, the class its seeds are mapped with).
    noise_mode: for a G with noise layers, "random" gives each segment its start seed's noise
    (so a seed's frame is its ``generate`` image and the noise does not flicker within a
    segment), "const" the stored maps, "none" no noise.
    Walks beyond the limits of :func:`check_walk` raise GanforgeError before rendering.
    """
    seeds = [int(s) for s in seeds]
    check_walk(len(seeds), steps, loop)
    sp = latent_space(G, space, batch_size, noise_mode=noise_mode, y=y)
    mode = mode or ("lerp" if sp.name == "w" else "slerp")
    path = interpolate_path(sp.of_seeds(seeds), steps, mode, loop)
    flat = sp.truncate(path.reshape(-1, sp.dim), truncation)
    starts = torch.cat([noise_seeds(seeds[i % len(seeds)], 1) for i in range(path.shape[0])])  # (segments,)
    images = sp.render(flat, y, seeds=starts.repeat_interleave(path.shape[1]))
    return Interpolation(seeds, mode, truncation, path, images.reshape(*path.shape[:2], *images.shape[1:]), y,
                         sp.name)


def save_interpolation(result: Interpolation, prefix: str | Path, ms_per_frame: int = 100,
                       hold_ms: int = 600, class_label: str | None = None) -> tuple[Path, Path]:
    """Write ``PREFIX.png`` (one labelled row per segment) and ``PREFIX.gif`` (the loop).

    ms_per_frame: GIF frame time; the frames showing a seed's own image stay ``hold_ms``.
    class_label: how to name ``result.class_id`` in the title (default: the id).
    """
    prefix = Path(prefix)
    segs, steps = result.frames.shape[:2]
    order = result.seeds + [result.seeds[0]]
    rows = []
    for s in range(segs):
        a, b = order[s], order[s + 1]
        cells = [Cell(result.frames[s, i], f"seed {a}" if i == 0 else f"seed {b}" if i == steps - 1 else "")
                 for i in range(steps)]
        rows.append(Row(f"{a} -> {b}", [cells]))
    how = f"{result.mode}{' in W' if result.space == 'w' else ''}, {steps} steps per segment"
    if result.truncation is not None:
        how += f", truncation psi={result.truncation:g}"
    if result.class_id is not None:
        how += f", class {class_label or result.class_id}"
    png = save_image(draw_figure(rows, f"interpolation through seeds {', '.join(map(str, result.seeds))} ({how})"),
                     prefix.with_name(prefix.name + ".png"))
    # the animation drops each segment's last frame: it is the next segment's first
    frames = result.frames[:, :-1].reshape(-1, *result.frames.shape[2:])
    durations = [hold_ms if i % (steps - 1) == 0 else ms_per_frame for i in range(frames.shape[0])]
    gif = save_animation(frames, prefix.with_name(prefix.name + ".gif"), durations=durations)
    return png, gif
