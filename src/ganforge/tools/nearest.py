"""Nearest neighbours: are generated images copies of training images? By pixels and by features."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from torch import nn

from ..errors import GanforgeError
from ..generator import generate
from ..images import MAX_GRID_IMAGES, save_image
from .classifier import Features
from .figures import Cell, Row, draw_figure


def knn(query: torch.Tensor, ref: torch.Tensor | Callable[[slice], torch.Tensor], n_ref: int, k: int,
        chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest rows of a reference set to each query row, by Euclidean distance.

    query: (Nq, D). ref: (N, D) rows, or a function returning rows ``ref(slice)`` so the
    reference never has to exist as one float array. Distances are computed in float64, in
    chunks of ``chunk`` reference rows, keeping a running top k. Returns (distances (Nq, k),
    indices (Nq, k) int64), nearest first.
    """
    if k > n_ref:
        raise GanforgeError(f"-k {k}: the training data has only {n_ref} images")
    q = query.double().reshape(query.shape[0], -1)
    q_sq = (q * q).sum(1, keepdim=True)
    best_d = torch.full((q.shape[0], 0), float("inf"), dtype=torch.float64)
    best_i = torch.empty((q.shape[0], 0), dtype=torch.int64)
    for start in range(0, n_ref, chunk):
        s = slice(start, min(n_ref, start + chunk))
        r = (ref(s) if callable(ref) else ref[s]).double().reshape(s.stop - s.start, -1)
        d2 = (q_sq + (r * r).sum(1)[None] - 2 * q @ r.T).clamp_min_(0)
        idx = torch.arange(s.start, s.stop).expand(q.shape[0], -1)
        best_d, pos = torch.cat([best_d, d2], 1).topk(min(k, best_d.shape[1] + d2.shape[1]), 1, largest=False)
        best_i = torch.cat([best_i, idx], 1).gather(1, pos)
    return best_d.sqrt(), best_i


def _scale(value: float, digits: int) -> float | None:
    """A scale for JSON: None for a set of one image, which has none."""
    return None if math.isnan(value) else round(value, digits)


@dataclass
class Neighbours:
    """Generated images with their nearest training images."""

    fakes: torch.Tensor  # uint8 (n, C, H, W)
    seed: int
    pixel_dist: torch.Tensor  # (n, k) L2 distance on uint8 pixel values
    pixel_idx: torch.Tensor  # (n, k) training-set indices
    feature_dist: torch.Tensor | None = None
    feature_idx: torch.Tensor | None = None
    feature_name: str = ""
    skipped: str = ""  # why feature space was skipped
    # the scale to read distances by: the median distance from a training image to its nearest
    # other training image (over a seeded sample of at most SCALE_SAMPLE of them)
    pixel_scale: float = float("nan")
    feature_scale: float | None = None

    def to_dict(self) -> dict:
        d = {"seed": self.seed, "n": int(self.fakes.shape[0]), "k": int(self.pixel_idx.shape[1]),
             "pixel": {"indices": self.pixel_idx.tolist(),
                       "distances": [[round(v, 3) for v in r] for r in self.pixel_dist.tolist()],
                       "train_to_train_median": _scale(self.pixel_scale, 3)}}
        if self.feature_idx is not None:
            d["feature"] = {"network": self.feature_name, "indices": self.feature_idx.tolist(),
                            "distances": [[round(v, 4) for v in r] for r in self.feature_dist.tolist()],
                            "train_to_train_median": _scale(self.feature_scale, 4)}
        else:
            d["feature"] = None
            d["feature_skipped"] = self.skipped
        return d


SCALE_SAMPLE = 256  # training images whose nearest other training image sets the scale


def train_to_train(ref: torch.Tensor | Callable[[slice], torch.Tensor], n_ref: int,
                   sample: int = SCALE_SAMPLE, seed: int = 0) -> float:
    """The median distance from a training image to its nearest other training image, over a
    seeded sample of ``sample`` of them: the distance below which a generated image is closer to
    the set than the set's own images are to each other. (Exact duplicates in the set count: a
    set full of them has a small scale.)"""
    if n_ref < 2:
        return float("nan")
    rows = ref if callable(ref) else (lambda s: ref[s])
    pick = torch.randperm(n_ref, generator=torch.Generator().manual_seed(seed))[:min(sample, n_ref)]
    query = torch.cat([rows(slice(i, i + 1)) for i in pick.tolist()])
    d, idx = knn(query.float(), rows, n_ref, 2)
    # each image finds itself at distance 0; its nearest other is the other of the two
    other = torch.where(idx[:, 0] == pick, d[:, 1], d[:, 0])
    return float(other.median())


def check_neighbours(n: int, k: int, features: bool = True) -> None:
    """Refuse ``-n``/``-k`` below 1, or a figure of more than
    :data:`~ganforge.images.MAX_GRID_IMAGES` images (``n x (1 + k)``, ``n x (1 + 2k)`` with
    feature space), before any image is drawn."""
    if n < 1 or k < 1:
        raise GanforgeError(f"-n and -k must be at least 1 (got {n}, {k})")
    cells = n * (1 + (2 if features else 1) * k)
    if cells > MAX_GRID_IMAGES:
        raise GanforgeError(f"-n {n} -k {k}: the figure would hold {cells:,} images (at most "
                            f"{MAX_GRID_IMAGES:,}; lower -n or -k)")


@torch.no_grad()
def neighbours(G: nn.Module, train_images: torch.Tensor, n: int = 8, k: int = 4, seed: int = 0,
               truncation: float | None = None, features: Features | None = None, feature_name: str = "",
               skipped: str = "", batch_size: int = 256, noise_mode: str = "random") -> Neighbours:
    """Draw ``n`` images (seeds as ``generate(G, n, seed)``) and find each one's ``k`` nearest
    training images: by L2 over uint8 pixel values, and by L2 in ``features`` space if given.

    train_images: uint8 (N, C, H, W) at G's image shape. features: uint8 images -> (N, F), called
        once on the generated and once on all training images (it batches them itself).
    skipped: why ``features`` is None, kept in the result for the report.
    """
    check_neighbours(n, k, features=features is not None)
    shape = (G.img_channels, G.img_size, G.img_size)
    if tuple(train_images.shape[1:]) != shape:
        raise GanforgeError(f"the training images are {tuple(train_images.shape[1:])} but G makes {shape}; "
                            f"was the data changed since training?")
    fakes = generate(G, n, seed=seed, batch_size=batch_size, truncation=truncation, noise_mode=noise_mode)
    n_ref = train_images.shape[0]
    pd, pi = knn(fakes.float(), lambda s: train_images[s], n_ref, k)
    res = Neighbours(fakes, seed, pd.float(), pi, skipped=skipped,
                     pixel_scale=train_to_train(train_images, n_ref))
    if features is not None:
        f_fake = torch.as_tensor(features(fakes)).float()
        f_ref = torch.as_tensor(features(train_images)).float()
        fd, fi = knn(f_fake, f_ref, n_ref, k)
        res.feature_dist, res.feature_idx, res.feature_name = fd.float(), fi, feature_name
        res.feature_scale = train_to_train(f_ref, n_ref)
    return res


def neighbours_figure(res: Neighbours, train_images: torch.Tensor) -> Image.Image:
    """One row per generated image: it, its pixel-space neighbours, then feature-space ones."""
    rows = []
    for i in range(res.fakes.shape[0]):
        blocks = [[Cell(res.fakes[i], f"sample {i}")],
                  [Cell(train_images[j], f"d={d:.0f}") for j, d in zip(res.pixel_idx[i].tolist(),
                                                                         res.pixel_dist[i].tolist())]]
        if res.feature_idx is not None:
            blocks.append([Cell(train_images[j], f"d={d:.2f}") for j, d in zip(res.feature_idx[i].tolist(),
                                                                                res.feature_dist[i].tolist())])
        rows.append(Row(f"#{i}", blocks))
    k = res.pixel_idx.shape[1]
    title = (f"generated (left), its {k} nearest training images by pixel L2 (middle, d on 0..255 values)"
             + (f",\nthen by evaluator features (right, {res.feature_name})" if res.feature_idx is not None
                else f"\nfeature space skipped: {res.skipped}")
             + f"\nfor scale, a training image's nearest other training image: median d={res.pixel_scale:.0f}"
             + (f" by pixels, {res.feature_scale:.2f} by features" if res.feature_idx is not None else ""))
    return draw_figure(rows, title)


def save_neighbours(res: Neighbours, train_images: torch.Tensor, path: str | Path) -> Path:
    """Write :func:`neighbours_figure` as a PNG."""
    return save_image(neighbours_figure(res, train_images), Path(path))
