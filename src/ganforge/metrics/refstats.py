"""Reference statistics of real images: computed once per (data, feature network, count), cached.

Features of the real split are the expensive half of every evaluation, and they never change
while the data and the feature network do not. :func:`reference_stats` computes them once and
stores, in ``<cache>/refstats/<key>.pt``:

* ``mu``, ``sigma``: the Gaussian fit over all ``n`` images (float64), for FD;
* ``features`` and ``probs``: up to ``MAX_ROWS`` rows in a seeded random order (float32, or
  float16 when large), for KID, precision/recall, the real-vs-real floor and memorisation;
* ``class_counts``: the classifier's predicted-class histogram over all ``n``, for coverage;
* lazily, as they are first needed: k-NN radii for precision/recall, nearest-neighbour radii
  for the memorisation check, and real-vs-real floors.

The key holds the dataset name, split, class filter and limit, a SHA-256 digest of the image
bytes, the image shape and resize rule, the feature network's name and weights hash, and the
sample count. Any change gives another file name; a file whose stored key differs from the one
asked for (or that cannot be read) is recomputed, never reused.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..images import atomic_write
from .functional import class_histogram, feature_statistics, knn_radii
from .networks import FeatureExtractor

REFSTATS_FORMAT = "ganforge-refstats"
REFSTATS_VERSION = 1
MAX_ROWS = 60_000  # feature rows kept per reference: all of a 60k train split at 128-d
PR_ROWS = 10_000  # precision/recall compare at most this many rows per side (cost is quadratic)
PR_K = 3
_FLOAT32_BYTES = 64 << 20  # rows are stored as float16 above this size


def data_digest(images: torch.Tensor) -> str:
    """First 12 hex digits of SHA-256 over the shape and bytes of uint8 images (N, C, H, W)."""
    h = hashlib.sha256(str(tuple(images.shape)).encode())
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in s).strip("-") or "data"


@dataclass
class ReferenceStats:
    """Cached statistics of one set of real images in one feature space (see the module doc)."""

    key: dict[str, Any]
    n: int  # images the Gaussian fit and class counts are over
    mu: np.ndarray  # float64 (D,)
    sigma: np.ndarray  # float64 (D, D)
    features: torch.Tensor  # (m, D) rows in a seeded random order, m <= MAX_ROWS
    probs: torch.Tensor | None  # (m, K) class probabilities of the same rows
    class_counts: np.ndarray | None  # (K,) predicted-class counts over all n
    extra: dict[str, Any] = field(default_factory=dict)  # lazily computed radii and floors
    path: Path | None = None

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])

    def label(self) -> str:
        """Short description for protocols, e.g. ``fashion-mnist test (10000)``."""
        k = self.key
        what = k["data"] + (f" class {k['class']}" if k.get("class") is not None else "")
        return f"{what} {k['split']} ({self.n})"

    def pr_reference(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``n`` rows and their k-NN radii (k = PR_K), computed once per n and cached."""
        n = min(n, self.rows)
        name = f"pr_radii_k{PR_K}_n{n}"
        if name not in self.extra:
            self.extra[name] = knn_radii(self.features[:n].float(), PR_K)
            self.save()
        return self.features[:n].float(), self.extra[name]

    def nn_radii(self) -> torch.Tensor:
        """Each stored row's distance to its nearest other stored row (for memorisation)."""
        if "nn_radii" not in self.extra:
            self.extra["nn_radii"] = knn_radii(self.features.float(), 1)
            self.save()
        return self.extra["nn_radii"]

    def save(self) -> None:
        """Write (or rewrite, after new lazy entries) the cache file atomically; no-op if uncached."""
        if self.path is None:
            return
        with atomic_write(self.path) as tmp, open(tmp, "wb") as f:
            torch.save({"format": REFSTATS_FORMAT, "version": REFSTATS_VERSION, "key": self.key, "n": self.n,
                        "mu": torch.from_numpy(self.mu), "sigma": torch.from_numpy(self.sigma),
                        "features": self.features, "probs": self.probs,
                        "class_counts": None if self.class_counts is None else torch.from_numpy(self.class_counts),
                        "extra": self.extra}, f)


def refstats_dir() -> Path:
    from ..data.download import cache_root

    return cache_root() / "refstats"


def make_key(images: torch.Tensor, extractor: FeatureExtractor, *, data: str, split: str, n: int,
             details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full cache key for statistics of ``n`` of ``images`` in ``extractor``'s feature space."""
    c, size = int(images.shape[1]), int(images.shape[-1])
    return {"version": REFSTATS_VERSION, "data": data, "split": split, **(details or {}),
            "digest": data_digest(images), "shape": f"{c}x{images.shape[-2]}x{size}",
            "resize": extractor.resize_rule(c, size), "evaluator": extractor.name,
            "evaluator_hash": extractor.hash, "precision": "fp32", "n": n, "max_rows": MAX_ROWS}


def key_filename(key: dict[str, Any]) -> str:
    """Readable and unique: ``<data>-<split>-<H>px-<evaluator>-<hash>-n<N>-<digest of the key>.pt``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:10]
    size = key["shape"].split("x")[-1]
    return _slug(f"{key['data']}-{key['split']}-{size}px-{key['evaluator']}-{key['evaluator_hash']}"
                 f"-n{key['n']}-{digest}") + ".pt"


def _load(path: Path, key: dict[str, Any]) -> ReferenceStats | None:
    """The cached stats at ``path`` if readable and made for exactly ``key``; else None."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    if not isinstance(blob, dict) or blob.get("format") != REFSTATS_FORMAT or blob.get("key") != key:
        return None
    try:
        counts = blob["class_counts"]
        return ReferenceStats(key=key, n=int(blob["n"]), mu=blob["mu"].numpy(), sigma=blob["sigma"].numpy(),
                              features=blob["features"], probs=blob["probs"],
                              class_counts=None if counts is None else counts.numpy(),
                              extra=dict(blob.get("extra") or {}), path=path)
    except (KeyError, AttributeError, TypeError):
        return None


def reference_stats(images: torch.Tensor, extractor: FeatureExtractor, *, data: str, split: str,
                    n: int | None = None, details: dict[str, Any] | None = None, seed: int = 0,
                    cache: bool = True, progress: bool = True, batch_size: int | None = None,
                    log=None) -> ReferenceStats:
    """Statistics of real ``images`` (uint8 (N, C, H, W)) in ``extractor``'s feature space.

    data, split, details: what the images are (name, train/test, class filter, limit...), for
    the key and protocols. n: use a seeded random subset of this many images (default: all).
    cache: read/write ``<cache>/refstats/``; when False, always compute and never write.
    log: called with a line when statistics are (re)computed.
    """
    total = int(images.shape[0])
    n = total if n is None else min(int(n), total)
    if n < 2:
        raise ValueError(f"reference statistics need at least 2 images, got {n}")
    key = make_key(images, extractor, data=data, split=split, n=n, details=details)
    path = refstats_dir() / key_filename(key) if cache else None
    if path is not None and path.is_file():
        stats = _load(path, key)
        if stats is not None:
            return stats
    if log:
        log(f"computing reference statistics of {data} {split} ({n} images, {extractor.name} "
            f"{extractor.hash}); cached for next time")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n]
    feats, probs = extractor(images[order], batch_size=batch_size or extractor.batch_size, progress=progress,
                             desc=f"{data} {split}")
    mu, sigma = feature_statistics(feats)
    rows = min(n, MAX_ROWS)
    keep = feats[:rows]
    if keep.numel() * 4 > _FLOAT32_BYTES:
        keep = keep.half()
    keep_probs = None
    counts = None
    if probs is not None:
        keep_probs = probs[:rows] if probs[:rows].numel() * 4 <= _FLOAT32_BYTES else probs[:rows].half()
        counts = class_histogram(probs)
    stats = ReferenceStats(key=key, n=n, mu=mu, sigma=sigma, features=keep.contiguous(),
                           probs=None if keep_probs is None else keep_probs.contiguous(),
                           class_counts=counts, path=None)
    if path is not None:
        from ..data.download import cache_dir

        cache_dir()
        stats.path = path
        try:
            stats.save()
        except OSError as e:
            print(f"note: could not cache reference statistics in {path} ({e.strerror or e})", file=sys.stderr)
            stats.path = None
    return stats
