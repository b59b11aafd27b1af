"""What the page shows, with no HTTP in it: a loaded run, the query parameters each view takes
(checked strictly: nothing from a request reaches the filesystem), and the work each view hands
the render queue.

Every image comes from the functions the commands use (:mod:`ganforge.tools.directions`,
``style_mix``, ``interpolate``), so the command shown beside a view makes the same picture.
"""
from __future__ import annotations

import io
import math
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import torch
from PIL import Image

from ..errors import ConfigError
from ..generator import has_noise, has_w_space, load_generator, num_classes
from ..images import make_grid, to_pil
from ..tools import run_class_names
from ..tools.directions import (MAX_AMOUNT, Directions, apply_edits, directions_figure, draw_points,
                                find_directions, parse_direction_layers, seed_points)
from . import commands
from .commands import Source

GRID = 16  # samples per page of the seed grid
MAX_SEED = 2 ** 32 - 1
SLIDERS = 8  # direction sliders on the page
INTERP_STEPS = (2, 16)
FILE_MIN_SIDE = 256  # "save PNG" of one image: as `generate -n 1` writes it (ganforge.images.save_grid)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def image_png(image: torch.Tensor) -> bytes:
    """One uint8 (C, H, W) image at its own size, as the page shows it (scaled by the browser)."""
    arr = image.permute(1, 2, 0).numpy()
    return png_bytes(Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr))


def file_png(images: torch.Tensor, nrow: int | None = None) -> bytes:
    """Images as ``generate`` writes them: one image (C, H, W) as a one-image grid (a 2-px
    border), or several (N, C, H, W) tiled ``nrow`` a row, upscaled to at least 256 px."""
    return png_bytes(to_pil(make_grid(images if images.dim() == 4 else images[None], nrow), FILE_MIN_SIDE))


# --------------------------------------------------------------------------- query parameters

def q_text(q: Mapping[str, list[str]], name: str) -> str | None:
    v = q.get(name)
    return v[-1] if v else None


def q_int(q, name: str, default: int | None, lo: int, hi: int) -> int:
    text = q_text(q, name)
    if text is None or text == "":
        if default is None:
            raise ConfigError(f"{name}: missing")
        return default
    if not re.fullmatch(r"-?\d{1,20}", text.strip()):
        raise ConfigError(f"{name}: expected a whole number, got {text[:20]!r}")
    v = int(text)
    if not lo <= v <= hi:
        raise ConfigError(f"{name}: must be from {lo} to {hi} (got {v})")
    return v


def q_float(q, name: str, default: float, lo: float, hi: float, digits: int = 2) -> float:
    """A finite number in [lo, hi], rounded as the page's sliders step (so the command shows it exactly)."""
    text = q_text(q, name)
    if text is None or text == "":
        return default
    try:
        v = float(text[:32])
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {text[:20]!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ConfigError(f"{name}: must be from {lo:g} to {hi:g} (got {text[:20]})")
    return round(v, digits)


def q_psi(q) -> float | None:
    """psi 1 is no truncation, drawn as ``generate`` draws without --truncation."""
    psi = q_float(q, "psi", 1.0, 0.0, 2.0)
    return None if psi == 1 else psi


def q_edits(q) -> dict[int, float]:
    """``edits=0:1.5,3:-2`` -> {0: 1.5, 3: -2.0}; zeros dropped."""
    text = q_text(q, "edits") or ""
    out: dict[int, float] = {}
    for part in filter(None, text.split(",")[:SLIDERS * 2]):
        m = re.fullmatch(r"(\d{1,2}):(-?\d{1,3}(?:\.\d{1,4})?)", part.strip())
        if not m:
            raise ConfigError(f"edits: expected DIRECTION:AMOUNT pairs, got {part[:20]!r}")
        k, a = int(m.group(1)), round(float(m.group(2)), 2)
        if k >= SLIDERS or abs(a) > MAX_AMOUNT:
            raise ConfigError(f"edits: directions 0-{SLIDERS - 1}, amounts within +/-{MAX_AMOUNT:g}")
        if a:
            out[k] = a
    return out


def q_layers(q, G, name: str = "layers", default: str = "all") -> str:
    text = (q_text(q, name) or default).strip().lower()
    if not re.fullmatch(r"all|coarse|middle|fine|\d{1,2}(-\d{1,2})?", text):
        raise ConfigError(f"{name}: all, coarse, middle, fine or A-B")
    if has_w_space(G):
        parse_direction_layers(text, G, name)  # checked against this G now: a one-line message, not later
    elif text != "all":
        raise ConfigError(f"{name}: only a StyleGAN2 run has layers to choose")
    return text


# --------------------------------------------------------------------------- the explorer

@dataclass
class Projected:
    """A picture the page projected: its styles (1, num_ws, w_dim) and how to make them again."""

    source: Source
    ws: torch.Tensor
    path: Path  # the projected.pt the page wrote, named as `ganforge project --out` names it


@dataclass
class Explorer:
    """One run, loaded once, and everything the page can ask of it.

    run: the run folder or checkpoint as the user wrote it (the commands repeat it); device: where
    G runs; project_steps: the page's projection length.
    """

    run: str
    device: str = "cpu"
    project_steps: int = 200
    G: torch.nn.Module = field(init=False)
    _dirs: dict = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self):
        self.G = load_generator(self.run, device=self.device)
        self.w_space = has_w_space(self.G)
        self.const_noise = has_noise(self.G)  # drawn with its stored noise maps (see commands._noise)
        self.classes = num_classes(self.G)
        self.class_names = run_class_names(self.G) or [str(i) for i in range(self.classes)]

    def info(self) -> dict:
        G = self.G
        groups = {k: [a, b - 1] for k, (a, b) in G.layer_groups().items() if b > a} if self.w_space else {}
        dirs = self.directions("all")
        return {"run": self.run, "family": type(G).__name__, "step": int(getattr(G, "step", 0)),
                "img_size": int(G.img_size), "channels": int(G.img_channels), "w_space": self.w_space,
                "num_ws": int(G.num_ws) if self.w_space else 0, "layer_groups": groups,
                "classes": self.class_names if self.classes else [], "grid": GRID, "sliders": self.slider_count(dirs),
                "directions": self.describe(dirs), "project_steps": self.project_steps,
                "interp_steps": list(INTERP_STEPS)}

    # ------------------------------------------------------------------ directions
    def directions(self, layers: str) -> Directions:
        """The run's directions for ``layers``, found once (SeFa is instant; PCA takes seconds)."""
        with self._lock:
            if layers not in self._dirs:
                self._dirs[layers] = find_directions(self.G, layers)
            return self._dirs[layers]

    @staticmethod
    def slider_count(dirs: Directions) -> int:
        return min(SLIDERS, len(dirs.vectors))

    def describe(self, dirs: Directions) -> dict:
        n = self.slider_count(dirs)
        return {"method": dirs.method, "space": dirs.space, "layers": list(dirs.layers or ()),
                "share": [round(float(s), 4) for s in dirs.share[:n]]}

    # ------------------------------------------------------------------ points
    def cls(self, q) -> int | None:
        return q_int(q, "cls", 0, 0, self.classes - 1) if self.classes else None

    def _w_class(self, cls: int | None) -> int | None:
        return cls if self.w_space else None  # (a conditional style-based G maps to W with the class)

    def base(self, src: Source, psi: float | None, projected: Projected | None, cls: int | None = None) -> torch.Tensor:
        """The unedited point (1, ...) of a source: a seed's (truncated) latent, or projected styles."""
        if projected is not None:
            return projected.ws.clone()
        return seed_points(self.G, [src.seed], psi, y=self._w_class(cls))

    def sample_points(self, src: Source, psi, layers: str, edits: Mapping[int, float],
                      projected: Projected | None, cls: int | None = None) -> torch.Tensor:
        dirs = self.directions(layers)
        if any(k >= len(dirs.vectors) for k in edits):
            raise ConfigError(f"edits: this generator has directions 0-{len(dirs.vectors) - 1}")
        return apply_edits(dirs, self.base(src, psi, projected, cls), edits)

    def grid_points(self, start: int, psi, cls: int | None = None) -> torch.Tensor:
        return seed_points(self.G, range(start, start + GRID), psi, y=self._w_class(cls))

    def draw(self, points: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The render queue's one call: a batch of points from many requests in one forward pass."""
        return draw_points(self.G, points, y if self.classes else None, noise_mode="const")

    # ------------------------------------------------------------------ figures
    def style_mix_png(self, src: Source, seed2: int, layers: str, psi, projected: Projected | None,
                      cls: int | None = None) -> bytes:
        from ..tools import style_mix, style_mix_figure

        row = projected.path if projected is not None else src.seed
        res = style_mix(self.G, [row], [seed2], layers, truncation=psi, noise_mode="const", y=self._w_class(cls))
        return png_bytes(style_mix_figure(res))

    def interpolation_png(self, a: int, b: int, steps: int, psi, cls: int | None) -> bytes:
        """The figure ``ganforge interpolate --no-loop`` writes (the tool draws it to a file, so it is
        drawn into a temporary folder of the server's own and read back)."""
        from ..tools import interpolate, save_interpolation

        res = interpolate(self.G, [a, b], steps=steps, truncation=psi, y=cls, loop=False, noise_mode="const")
        label = self.class_names[cls] if cls is not None else None
        with tempfile.TemporaryDirectory(prefix="ganforge-explore-") as tmp:
            png, _ = save_interpolation(res, Path(tmp) / "walk", class_label=label)
            return png.read_bytes()

    def directions_png(self, src: Source, psi, cls: int | None, layers: str, projected: Projected | None) -> bytes:
        dirs = self.directions(layers)
        label = src.projection_dir if projected is not None else f"seed {src.seed}"
        img = directions_figure(self.G, dirs, self.base(src, psi, projected, cls), label, count=self.slider_count(dirs),
                                y=cls, class_label=self.class_names[cls] if cls is not None else None,
                                noise_mode="const")
        return png_bytes(img)

    # ------------------------------------------------------------------ commands
    def sample_command(self, src, psi, cls, layers, edits) -> str:
        return commands.sample_command(self.run, src, psi if src.upload is None else None, cls, layers, edits,
                                       self.const_noise)

    def grid_command(self, start, psi, cls) -> str:
        return commands.grid_command(self.run, start, GRID, psi, cls, self.const_noise)
