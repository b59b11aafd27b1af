"""Style mixing (Karras et al. 2019, figure 3): a style-based G's layers each read their own copy
of w, so an image can take some layers' styles from one source and the rest from another.

The figure: the column sources' images along the top, the row sources' images down the left,
and in each cell the row source's styles with the chosen layers taken from the column source.
Coarse layers (4-8 px) carry pose and shape, the middle ones smaller features, the fine ones
colour and texture. A source is a seed (its w, optionally truncated toward ``G.w_avg``) or a
file ``ganforge project`` wrote (the W+ styles that reconstruct a picture, used as they are).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import torch
from PIL import Image
from torch import nn

from ..errors import ConfigError
from ..generator import check_noise_mode, check_seed, has_w_space, noise_seeds, render_ws
from ..images import MAX_GRID_IMAGES, save_image
from .figures import Cell, Row, draw_figure
from .projection import load_projection
from .spaces import latent_space

Source = Union[int, Path]  # a seed, or a file written by ganforge project
LAYER_GROUPS = ("coarse", "middle", "fine")


def require_w_space(G: nn.Module, command: str) -> None:
    """ConfigError unless G is style-based (has a mapping network, synthesis and w_avg)."""
    if not has_w_space(G):
        raise ConfigError(f"{command} needs a style-based generator (a run trained with --arch stylegan2, e.g. "
                          f"--preset stylegan2); this run's generator is a {type(G).__name__}")


def parse_sources(text: str, flag: str) -> list[Source]:
    """``"1,2,proj/projected.pt"`` -> [1, 2, Path("proj/projected.pt")]: digits are seeds, anything
    else a file that must exist. ConfigError naming ``flag`` otherwise."""
    items = [s.strip() for s in str(text).split(",")]
    if not any(items):
        raise ConfigError(f"{flag}: give seeds or projected.pt files, comma-separated (e.g. {flag} 1,2,3)")
    out: list[Source] = []
    for s in items:
        if not s:
            raise ConfigError(f"{flag} {text}: an empty entry (write e.g. 1,2,3)")
        if re.fullmatch(r"\d+", s):
            out.append(check_seed(int(s), flag))
            continue
        p = Path(s).expanduser()
        if not p.is_file():
            raise ConfigError(f"{flag}: {s!r} is neither a seed (a non-negative integer) nor a file "
                              f"({'a folder' if p.is_dir() else 'no such file'}; give DIR/projected.pt from "
                              f"ganforge project)")
        out.append(p)
    return out


def parse_layers(spec: str, G: nn.Module, flag: str = "--layers") -> tuple[int, int]:
    """``coarse``, ``middle``, ``fine`` (see ``G.layer_groups()``), ``A-B`` (ws indices, inclusive)
    or one index ``A`` -> the ws index range ``[start, stop)``. ConfigError naming ``flag``."""
    num_ws = int(G.num_ws)
    groups = G.layer_groups()
    text = str(spec).strip().lower()
    named = ", ".join(f"{g} {a}-{b - 1}" if b > a else f"{g} (none)" for g, (a, b) in groups.items())
    if text in LAYER_GROUPS:
        a, b = groups[text]
        if b <= a:
            raise ConfigError(f"{flag} {text}: this {G.img_size}-px generator has no {text} layers ({named}); "
                              f"give a range of ws indices A-B")
        return a, b
    m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", text)
    if not m:
        raise ConfigError(f"{flag} {spec}: give coarse, middle, fine or ws indices A-B (inclusive, 0-{num_ws - 1}; "
                          f"here {named})")
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) is not None else a
    if a > b:
        raise ConfigError(f"{flag} {spec}: the first index is above the last (write {b}-{a})")
    if b >= num_ws:
        raise ConfigError(f"{flag} {spec}: this generator has {num_ws} style inputs, ws indices 0-{num_ws - 1}")
    return a, b + 1


def source_label(src: Source) -> str:
    return f"seed {src}" if isinstance(src, int) else src.parent.name or src.name


def sources_ws(G: nn.Module, sources: Sequence[Source], truncation: float | None = None,
               batch_size: int = 256, y: int | None = None) -> torch.Tensor:
    """Styles (len(sources), num_ws, w_dim) on the CPU: a seed's w (truncated toward ``G.w_avg`` by
    ``truncation``; mapped with class ``y`` for a conditional G) broadcast to every layer, or a
    projection file's ws as they are."""
    sp = latent_space(G, "w", batch_size, y=y)
    out = torch.empty(len(sources), int(G.num_ws), int(G.w_dim))
    seeds = [i for i, s in enumerate(sources) if isinstance(s, int)]
    if seeds:
        w = sp.truncate(sp.of_seeds([sources[i] for i in seeds]), truncation)
        out[seeds] = w[:, None].expand(-1, out.shape[1], -1)
    for i, s in enumerate(sources):
        if not isinstance(s, int):
            out[i] = load_projection(s, G)["ws"][0]
    return out


def mix_ws(row_ws: torch.Tensor, col_ws: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """(R, num_ws, w_dim) and (K, num_ws, w_dim) -> (R, K, num_ws, w_dim): cell (r, k) is row r's
    styles with layers ``start`` to ``stop - 1`` from column k."""
    r, k = row_ws.shape[0], col_ws.shape[0]
    out = row_ws[:, None].expand(r, k, *row_ws.shape[1:]).clone()
    out[:, :, start:stop] = col_ws[None, :, start:stop].expand(r, k, -1, -1)
    return out


@dataclass
class StyleMix:
    """A style-mixing grid: ``cells[r, k]`` has row r's styles with ``layers`` from column k."""

    rows: list[Source]
    cols: list[Source]
    layers: tuple[int, int]  # ws index range [start, stop) taken from the columns
    layer_spec: str  # as given: "coarse", "2-5", ...
    truncation: float | None
    row_ws: torch.Tensor  # (R, num_ws, w_dim)
    col_ws: torch.Tensor  # (K, num_ws, w_dim)
    row_images: torch.Tensor  # uint8 (R, C, H, W)
    col_images: torch.Tensor  # uint8 (K, C, H, W)
    cells: torch.Tensor  # uint8 (R, K, C, H, W)


@torch.no_grad()
def style_mix(G: nn.Module, rows: Sequence[Source], cols: Sequence[Source], layers: str = "coarse",
              truncation: float | None = None, batch_size: int = 256, noise_mode: str = "random",
              noise_seed: int = 0, y: int | None = None) -> StyleMix:
    """The style-mixing grid of a style-based G.

    rows, cols: seeds or paths of ``ganforge project`` files (see :func:`parse_sources`).
    layers: which ws the columns give (see :func:`parse_layers`). truncation: psi toward
    ``G.w_avg`` for the seeds' w (projected styles are used as they are). noise_mode: "random"
    (one draw from ``noise_seed`` for every cell, so the cells differ by their styles alone),
    "const" or "none". y: for a conditional G, the class the seeds are mapped with.
    """
    require_w_space(G, "style-mix")
    rows, cols = list(rows), list(cols)
    if not rows or not cols:
        raise ConfigError("--rows/--cols: give at least one source for each")
    n = len(rows) * len(cols) + len(rows) + len(cols) + 1
    if n > MAX_GRID_IMAGES:
        raise ConfigError(f"--rows/--cols: the figure would hold {n:,} images (at most {MAX_GRID_IMAGES:,})")
    start, stop = parse_layers(layers, G)
    row_ws = sources_ws(G, rows, truncation, batch_size, y)
    col_ws = sources_ws(G, cols, truncation, batch_size, y)
    mixed = mix_ws(row_ws, col_ws, start, stop)
    check_noise_mode(noise_mode)

    def draw(ws: torch.Tensor) -> torch.Tensor:
        seeds = noise_seeds(noise_seed, 1).expand(ws.shape[0]) if noise_mode == "random" else None
        return render_ws(G, ws, batch_size, noise_mode=noise_mode, noise_seeds=seeds)

    cells = draw(mixed.reshape(-1, *mixed.shape[2:]))
    return StyleMix(rows, cols, (start, stop), str(layers), truncation, row_ws, col_ws, draw(row_ws), draw(col_ws),
                    cells.reshape(len(rows), len(cols), *cells.shape[1:]))


def style_mix_figure(res: StyleMix) -> Image.Image:
    """The classic figure: column sources on top, row sources on the left, the mixes between."""
    blank = torch.full_like(res.row_images[0], 255)
    a, b = res.layers
    rows = [Row("", [[Cell(blank, "")], [Cell(img, source_label(s)) for img, s in zip(res.col_images, res.cols)]])]
    for r, (img, s) in enumerate(zip(res.row_images, res.rows)):
        rows.append(Row(source_label(s), [[Cell(img, "")], [Cell(c) for c in res.cells[r]]]))
    what = f"{res.layer_spec} = ws {a}-{b - 1}" if res.layer_spec.lower() in LAYER_GROUPS else f"ws {a}-{b - 1}"
    title = (f"style mixing: each cell has its row's styles, with layers {what} from its column"
             + (f"\n(seeds truncated toward w_avg, psi={res.truncation:g})" if res.truncation is not None else ""))
    return draw_figure(rows, title)


def save_style_mix(res: StyleMix, path: str | Path) -> Path:
    """Write :func:`style_mix_figure` as a PNG."""
    return save_image(style_mix_figure(res), Path(path))
